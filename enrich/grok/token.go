package grok

import (
	"bytes"
	"strings"
)

// token is a pattern the fast matcher implements with Go code instead of
// interpreting its regexp. It is used only when the library's definition
// expands to exactly the regexp the code was written for (the base
// library's), so a user override of IPV4 silently gets the generic path.
type token uint8

const (
	tokNone token = iota
	// tokIPv4 replaces the IPV4 regexp by a validator: that regexp has at
	// most one match at a given position (four maximal digit runs of at
	// most three digits, each <= 255, separated by single dots, with word
	// boundaries at both ends), so no backtracking order is involved.
	tokIPv4
	// tokIPv6 replaces the IPV6 regexp by code that lists its match ends
	// at a position in the order a backtracking engine (and so Go's
	// regexp) tries them: alternatives in order, greedy repetitions
	// longest first. The groups before the "::" are parsed once instead of
	// once per alternative.
	tokIPv6
	// tokQuoted replaces QUOTEDSTRING: the repetition (?:\\.|[^\\"])* has
	// one way to split any text, so the only possible end is the first
	// unescaped closing quote.
	tokQuoted
	// tokMAC replaces MAC: its three alternatives have fixed lengths and
	// differ in the byte at offset 2 (hex, -, :), so at most one matches.
	tokMAC
	// tokWord replaces WORD, \b\w+\b: only the whole run of word bytes
	// ends at a word boundary.
	tokWord
)

// IPv4Expr and IPv6Expr are the definitions of IPV4 and IPV6 the fast
// matcher implements; configs/patterns/base.grok defines them this way.
const (
	IPv4Expr = `\b(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(?:\.(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)){3}\b`
	IPv6Expr = `(?:(?:[0-9A-Fa-f]{1,4}:){7}(?:[0-9A-Fa-f]{1,4}|:)|(?:[0-9A-Fa-f]{1,4}:){6}(?:%{IPV4}|:[0-9A-Fa-f]{1,4}|:)|(?:[0-9A-Fa-f]{1,4}:){5}(?::%{IPV4}|(?::[0-9A-Fa-f]{1,4}){1,2}|:)|(?:[0-9A-Fa-f]{1,4}:){4}(?:(?::[0-9A-Fa-f]{1,4})?:%{IPV4}|(?::[0-9A-Fa-f]{1,4}){1,3}|:)|(?:[0-9A-Fa-f]{1,4}:){3}(?:(?::[0-9A-Fa-f]{1,4}){0,2}:%{IPV4}|(?::[0-9A-Fa-f]{1,4}){1,4}|:)|(?:[0-9A-Fa-f]{1,4}:){2}(?:(?::[0-9A-Fa-f]{1,4}){0,3}:%{IPV4}|(?::[0-9A-Fa-f]{1,4}){1,5}|:)|[0-9A-Fa-f]{1,4}:(?:(?::[0-9A-Fa-f]{1,4}){0,4}:%{IPV4}|(?::[0-9A-Fa-f]{1,4}){1,6}|:)|:(?:(?::[0-9A-Fa-f]{1,4}){0,5}:%{IPV4}|(?::[0-9A-Fa-f]{1,4}){1,7}|:))(?:%[0-9A-Za-z]+)?`
)

// QuotedExpr is the definition of QUOTEDSTRING the fast matcher
// implements.
const QuotedExpr = `(?:"(?:\\.|[^\\"])*"|'(?:\\.|[^\\'])*'|` + "`" + `(?:\\.|[^\\` + "`])*`)"

// MACExpr and WordExpr are the definitions of MAC (with CISCOMAC,
// WINDOWSMAC and COMMONMAC expanded) and WORD the fast matcher implements.
const (
	MACExpr  = `(?:(?:(?:(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4}))|(?:(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2}))|(?:(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})))`
	WordExpr = `\b\w+\b`
)

// ipv6Plain is IPv6Expr as the expander writes it out with IPV4 = IPv4Expr.
var ipv6Plain = strings.ReplaceAll(IPv6Expr, "%{IPV4}", "(?:"+IPv4Expr+")")

// tokenFor returns the token implementing pattern name whose definition
// expands to plain, or tokNone.
func tokenFor(name, plain string) token {
	switch {
	case name == "IPV4" && plain == IPv4Expr:
		return tokIPv4
	case name == "IPV6" && plain == ipv6Plain:
		return tokIPv6
	case name == "QUOTEDSTRING" && plain == QuotedExpr:
		return tokQuoted
	case name == "MAC" && plain == MACExpr:
		return tokMAC
	case name == "WORD" && plain == WordExpr:
		return tokWord
	}
	return tokNone
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ipv4At returns the end of the IPv4Expr match starting at pos, or -1.
func ipv4At(line []byte, pos int) int {
	if pos > 0 && isWordByte(line[pos-1]) {
		return -1
	}
	p := pos
	for octet := 0; octet < 4; octet++ {
		if octet > 0 {
			if p >= len(line) || line[p] != '.' {
				return -1
			}
			p++
		}
		start, v := p, 0
		for p < len(line) && isDigit(line[p]) {
			if p-start == 3 {
				return -1 // a fourth digit: no octet alternative ends here
			}
			v = v*10 + int(line[p]-'0')
			p++
		}
		if p == start || v > 255 {
			return -1
		}
	}
	if p < len(line) && isWordByte(line[p]) {
		return -1
	}
	return p
}

// ipv6Possible reports whether an IPv6Expr match can start at pos. Every
// alternative of IPv6Expr starts with "::" or with one to four hex digits
// and a colon, and holds "::" or at least six colons before the zone, all
// within the run of [0-9A-Fa-f:.] it starts with.
func ipv6Possible(line []byte, pos int) bool {
	p := pos
	for p < len(line) && p-pos <= 4 && isHex(line[p]) {
		p++
	}
	switch {
	case p == pos:
		if p+1 >= len(line) || line[p] != ':' || line[p+1] != ':' {
			return false
		}
	case p-pos > 4 || p >= len(line) || line[p] != ':':
		return false
	}
	colons := 0
	for ; p < len(line); p++ {
		switch c := line[p]; {
		case c == ':':
			if p > pos && line[p-1] == ':' {
				return true
			}
			if colons++; colons == 6 {
				return true
			}
		case isHex(c) || c == '.':
		default:
			return false
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// hexRun returns the length of the run of hex digits at line[i:], at most
// 5 (enough to tell "too long for a group").
func hexRun(line []byte, i int) int {
	n := 0
	for i+n < len(line) && n < 5 && isHex(line[i+n]) {
		n++
	}
	return n
}

// ipv6Ends appends to dst the end of every IPv6Expr match at pos, in the
// order a backtracking engine tries them. IPv6Expr is
//
//	(?:B7|B6|B5|B4|B3|B2|B1|B0)(?:%[0-9A-Za-z]+)?
//	B7 = (?:H:){7}(?:H|:)
//	B6 = (?:H:){6}(?:IPV4|:H|:)
//	Bk = (?:H:){k}(?:(?::H){0,5-k}:IPV4|(?::H){1,7-k}|:)   for k = 5..1
//	B0 = :(?:(?::H){0,5}:IPV4|(?::H){1,7}|:)
//
// with H = [0-9A-Fa-f]{1,4} greedy (B5 writes (?::H){0} as nothing and B4
// writes {0,1} as ?). An H followed by ":" must take its whole hex run, so
// the groups before a tail are parsed once.
func ipv6Ends(line []byte, pos int, dst []int) []int {
	base := len(dst)
	var g [8]int // g[k]: position after k groups "H:"
	g[0] = pos
	nk := 0
	for nk < 7 {
		r := hexRun(line, g[nk])
		if r == 0 || r > 4 || g[nk]+r >= len(line) || line[g[nk]+r] != ':' {
			break
		}
		g[nk+1] = g[nk] + r + 1
		nk++
	}
	colon := func(i int) bool { return i < len(line) && line[i] == ':' }
	hexEnds := func(i int) { // H at i, longest first
		for l := min(hexRun(line, i), 4); l >= 1; l-- {
			dst = append(dst, i+l)
		}
	}
	var groups func(j, n, p int) // (?::H){1,n} after j iterations at p
	groups = func(j, n, p int) {
		if j < n && colon(p) {
			for l := min(hexRun(line, p+1), 4); l >= 1; l-- {
				groups(j+1, n, p+1+l)
			}
		}
		if j >= 1 {
			dst = append(dst, p)
		}
	}
	tail := func(k, t int) { // the alternatives of Bk, k <= 5, after its groups
		// (?::H){0,5-k}:IPV4: each H is followed by ":", so takes its run.
		var c [6]int
		c[0] = t
		ni := 0
		for ni < 5-k && colon(c[ni]) {
			r := hexRun(line, c[ni]+1)
			if r == 0 || r > 4 || !colon(c[ni]+1+r) {
				break
			}
			c[ni+1] = c[ni] + 1 + r
			ni++
		}
		for i := ni; i >= 0; i-- {
			if colon(c[i]) {
				if e := ipv4At(line, c[i]+1); e >= 0 {
					dst = append(dst, e)
				}
			}
		}
		groups(0, 7-k, t)
		if colon(t) {
			dst = append(dst, t+1)
		}
	}
	if nk == 7 {
		hexEnds(g[7])
		if colon(g[7]) {
			dst = append(dst, g[7]+1)
		}
	}
	if nk >= 6 {
		t := g[6]
		if e := ipv4At(line, t); e >= 0 {
			dst = append(dst, e)
		}
		if colon(t) {
			hexEnds(t + 1)
			dst = append(dst, t+1)
		}
	}
	for k := min(nk, 5); k >= 1; k-- {
		tail(k, g[k])
	}
	if colon(pos) {
		tail(0, pos+1)
	}
	// The optional zone after each end, longest first, then none.
	n := len(dst)
	for i := base; i < n; i++ {
		e := dst[i]
		if e < len(line) && line[e] == '%' {
			z := 0
			for e+1+z < len(line) && isWordByte(line[e+1+z]) && line[e+1+z] != '_' {
				z++
			}
			for l := z; l >= 1; l-- {
				dst = append(dst, e+1+l)
			}
		}
		dst = append(dst, e)
	}
	return append(dst[:base], dst[n:]...)
}

// quotedAt returns the end of the QuotedExpr match at pos, or -1.
func quotedAt(line []byte, pos int) int {
	if pos >= len(line) {
		return -1
	}
	q := line[pos]
	if q != '"' && q != '\'' && q != '`' {
		return -1
	}
	for i := pos + 1; ; {
		k := bytes.IndexByte(line[i:], q)
		if k < 0 {
			return -1
		}
		b := bytes.IndexByte(line[i:i+k], '\\')
		if b < 0 {
			return i + k + 1
		}
		// \\. takes the next rune, which is anything but a newline; the
		// bytes of a multi-byte rune are neither q nor a backslash.
		p := i + b
		if p+1 >= len(line) || line[p+1] == '\n' {
			return -1
		}
		i = p + 2
	}
}

// macAt returns the end of the MACExpr match at pos, or -1.
func macAt(line []byte, pos int) int {
	if len(line)-pos < 14 {
		return -1
	}
	var group, sep, n int
	switch line[pos+2] {
	case '-', ':':
		group, sep, n = 2, int(line[pos+2]), 6
	default:
		group, sep, n = 4, '.', 3
	}
	p := pos
	for i := 0; i < n; i++ {
		if i > 0 {
			if p >= len(line) || int(line[p]) != sep {
				return -1
			}
			p++
		}
		if len(line)-p < group {
			return -1
		}
		for j := 0; j < group; j++ {
			if !isHex(line[p+j]) {
				return -1
			}
		}
		p += group
	}
	return p
}

// wordAt returns the end of the WordExpr match at pos, or -1.
func wordAt(line []byte, pos int) int {
	if pos >= len(line) || !isWordByte(line[pos]) || pos > 0 && isWordByte(line[pos-1]) {
		return -1
	}
	p := pos + 1
	for p < len(line) && isWordByte(line[p]) {
		p++
	}
	return p
}
