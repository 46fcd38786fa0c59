// Package kv splits key=value text as firewalls write it: iptables and UFW
// (IN=eth0 OUT= SRC=1.2.3.4 ... DF PROTO=TCP SYN), Meraki events
// (src=1.2.3.4:51514 agent='Mozilla/5.0 (X11)'), F5 ASM
// (key="value",key2="value2"). It reports slices of the line and does not
// allocate.
package kv

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Parser holds the splitting rules. The zero value splits pairs on spaces
// and keys from values on "=", drops empty values and bare words, and
// understands "..." and '...' quoted values. A Parser is read-only during
// Parse, so one can serve many goroutines.
type Parser struct {
	// FieldSplit is the set of bytes that separate pairs (each byte on its
	// own, as Logstash's field_split; runs of them count as one); default
	// " ". F5 ASM uses ",".
	FieldSplit string
	// ValueSplit is the set of bytes that separate a key from its value;
	// the first one after the key counts, later ones belong to the value.
	// Default "=".
	ValueSplit string
	// TrimKey and TrimValue are sets of bytes removed from both ends of
	// keys and of unquoted values.
	TrimKey, TrimValue string
	// AllowEmpty reports keys whose value is empty (iptables OUT=, F5
	// query_string=""); by default they are skipped.
	AllowEmpty bool
	// BareKeys reports a word without a value separator (iptables DF, SYN,
	// ACK) as a key with a nil value; by default such words are skipped.
	BareKeys bool
	// NoQuotes treats quote characters as ordinary bytes.
	NoQuotes bool
}

// Parse calls emit for each pair of line, in order. key and value are
// slices of line. quoted reports a value that was written in quotes: value
// is then the text between them, which may hold backslash escapes (see
// Unquote). A bare word (with BareKeys) comes with a nil value; an empty
// value (with AllowEmpty) with a non-nil empty one.
//
// A value starts with a quote only if the quote follows the value
// separator directly; quotes elsewhere are ordinary bytes. Inside quotes a
// backslash escapes the next byte. A quote that is not closed runs to the
// end of the line (a truncated UDP message keeps its last value). When text
// follows the closing quote before the next field separator (a="x"y), the
// value is taken unquoted, from the opening quote to that separator.
//
// Parse prepares the splitting tables on every call; code that parses many
// lines with the same rules should keep a Scanner.
func (p *Parser) Parse(line []byte, emit func(key, value []byte, quoted bool)) {
	var s Scanner
	s.init(p)
	var buf [16]Span
	for i := 0; i >= 0; {
		var spans []Span
		spans, i = s.Scan(line, i, buf[:0])
		for j := range spans {
			sp := &spans[j]
			emit(sp.Key(line), sp.Value(line), sp.Flags&Quoted != 0)
		}
	}
}

// Flags describe a value reported by Scanner.Scan.
type Flags uint8

const (
	// Quoted: the value was written in quotes and is the text between
	// them.
	Quoted Flags = 1 << iota
	// Escaped: the quoted value holds a backslash, so Unquote may change
	// it. A quoted value without it is final as it is.
	Escaped
	// Bare: a word without a value separator (with BareKeys); Value is
	// nil.
	Bare
)

// Scanner is a Parser prepared for many lines: the byte sets are built
// once. It is read-only, so one can serve many goroutines.
type Scanner struct {
	class [256]uint8 // cField | cValue | cTrimKey | cTrimValue per byte
	// fs and vs are the field and value separators when each is a single
	// byte (the usual case): then keys and values are found eight bytes
	// at a time. With two field separators (FortiOS's " ,"), fs and fs2
	// are them, and the search is still by words.
	fs, fs2, vs                  byte
	oneFS, twoFS, oneVS          bool
	trimKey, trimValue           bool
	allowEmpty, bareKeys, quotes bool
}

const (
	cField uint8 = 1 << iota
	cValue
	cTrimKey
	cTrimValue
)

// NewScanner prepares p's rules. Later changes of p do not affect it.
func NewScanner(p *Parser) *Scanner {
	s := new(Scanner)
	s.init(p)
	return s
}

func (s *Scanner) init(p *Parser) {
	fs, vs := p.FieldSplit, p.ValueSplit
	if fs == "" {
		fs = " "
	}
	if vs == "" {
		vs = "="
	}
	for i := 0; i < len(fs); i++ {
		s.class[fs[i]] |= cField
	}
	for i := 0; i < len(vs); i++ {
		s.class[vs[i]] |= cValue
	}
	for i := 0; i < len(p.TrimKey); i++ {
		s.class[p.TrimKey[i]] |= cTrimKey
	}
	for i := 0; i < len(p.TrimValue); i++ {
		s.class[p.TrimValue[i]] |= cTrimValue
	}
	s.oneFS = allSame(fs)
	s.oneVS = allSame(vs)
	s.fs, s.vs = fs[0], vs[0]
	if !s.oneFS {
		s.fs2, s.twoFS = twoBytes(fs)
	}
	s.trimKey, s.trimValue = p.TrimKey != "", p.TrimValue != ""
	s.allowEmpty, s.bareKeys, s.quotes = p.AllowEmpty, p.BareKeys, !p.NoQuotes
}

// twoBytes returns the second distinct byte of s and whether s holds
// exactly two distinct bytes.
func twoBytes(s string) (byte, bool) {
	var second byte
	found := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == s[0]:
		case !found:
			second, found = c, true
		case c != second:
			return 0, false
		}
	}
	return second, found
}

// allSame reports whether s holds one distinct byte (",", or ",," which
// means the same).
func allSame(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return true
}

// Span is one pair found by Scan: the key is line[K0:K1], the value
// line[V0:V1] (see Key and Value).
type Span struct {
	K0, K1, V0, V1 int
	Flags          Flags
}

// Key returns the key of sp in line.
func (sp *Span) Key(line []byte) []byte { return line[sp.K0:sp.K1:sp.K1] }

// Value returns the value of sp in line: nil for a bare word, else a
// slice of line (empty, not nil, for an empty value).
func (sp *Span) Value(line []byte) []byte {
	if sp.Flags&Bare != 0 {
		return nil
	}
	return line[sp.V0:sp.V1:sp.V1]
}

// Scan appends to out the pairs of line from index i on (see Parser.Parse
// for what a pair is), in order, until out is full (len == cap, after at
// least one pair) or the line ends, and returns out and the index to
// continue from, or -1 at the end of the line. Start with i = 0.
//
// Scan finds many pairs per call, with the searches written out inline:
// Go keeps no registers across a call, and a call per pair, key or value
// cost more than the search itself on the short fields of log lines.
func (s *Scanner) Scan(line []byte, i int, out []Span) ([]Span, int) {
	n := len(line)
	fast := s.oneFS && s.oneVS
	two := s.twoFS && s.oneVS
	mfs, mvs := lsb*uint64(s.fs), lsb*uint64(s.vs)
	for i >= 0 && i < n {
		if s.class[line[i]]&cField != 0 {
			i++
			continue
		}
		k0 := i
		if fast {
			i = words(line, i, mfs, mvs)
			for i < n && line[i] != s.fs && line[i] != s.vs {
				i++
			}
		} else if two {
			i = words3(line, i, mfs, lsb*uint64(s.fs2), mvs)
			for i < n && s.class[line[i]]&(cField|cValue) == 0 {
				i++
			}
		} else {
			for i < n && s.class[line[i]]&(cField|cValue) == 0 {
				i++
			}
		}
		k1 := i
		if s.trimKey {
			k0, k1 = s.trim(line, k0, k1, cTrimKey)
		}
		if i == n || s.class[line[i]]&cField != 0 {
			if s.bareKeys && k1 > k0 {
				out = append(out, Span{K0: k0, K1: k1, Flags: Bare})
				if len(out) == cap(out) {
					return out, i
				}
			}
			continue
		}
		i++ // the value separator
		v0, v1, fl := i, i, Flags(0)
		if s.quotes && i < n && (line[i] == '"' || line[i] == '\'') {
			// The closing quote: the first q not escaped by a backslash.
			// Reading forwards, a backslash escapes the byte after it,
			// which is the same as an odd run of backslashes before q.
			q, mq := line[i], lsb*uint64(line[i])
			end := -1
			fl = Quoted
			for j := i + 1; j < n; j += 2 {
				j = words(line, j, mq, lsb*'\\')
				for j < n && line[j] != q && line[j] != '\\' {
					j++
				}
				if j == n {
					break
				}
				if line[j] == q {
					end = j
					break
				}
				fl |= Escaped
			}
			switch {
			case end < 0: // not closed: the value runs to the end
				v0, v1, i = i+1, n, n
			case end+1 == n || s.class[line[end+1]]&cField != 0:
				v0, v1, i = i+1, end, end+1
			default:
				// Text after the closing quote: the value is taken as
				// written, up to the next field separator.
				fl = 0
				i = s.nextSep(line, end+1, mfs)
				v1 = i
			}
		} else {
			if s.oneFS {
				i = words(line, i, mfs, mfs)
				for i < n && line[i] != s.fs {
					i++
				}
			} else {
				i = s.nextSep(line, i, mfs)
			}
			v1 = i
		}
		if fl&Quoted == 0 && s.trimValue {
			v0, v1 = s.trim(line, v0, v1, cTrimValue)
		}
		if k1 == k0 || v1 == v0 && !s.allowEmpty {
			continue
		}
		out = append(out, Span{K0: k0, K1: k1, V0: v0, V1: v1, Flags: fl})
		if len(out) == cap(out) {
			return out, i
		}
	}
	return out, -1
}

// nextSep returns the index of the first field separator at or after i, or
// len(line). mfs is lsb*fs.
func (s *Scanner) nextSep(line []byte, i int, mfs uint64) int {
	if s.oneFS {
		i = words(line, i, mfs, mfs)
		for i < len(line) && line[i] != s.fs {
			i++
		}
		return i
	}
	if s.twoFS {
		i = words(line, i, mfs, lsb*uint64(s.fs2))
	}
	for i < len(line) && s.class[line[i]]&cField == 0 {
		i++
	}
	return i
}

// trim returns the bounds of line[i:j] without the bytes of class c at
// either end.
func (s *Scanner) trim(line []byte, i, j int, c uint8) (int, int) {
	for i < j && s.class[line[i]]&c != 0 {
		i++
	}
	for j > i && s.class[line[j-1]]&c != 0 {
		j--
	}
	return i, j
}

// Word-at-a-time search: x^(lsb*c) has a zero byte where x has c, and
// (y-lsb) &^ y & msb flags the lowest zero byte of y exactly (bytes above
// it may be flagged wrongly through the borrow, which does not matter as
// only the lowest flag is used).
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// words skips the whole eight-byte words from i on that hold neither byte
// a nor b (ma = lsb*a, mb = lsb*b): it returns the index of the first a
// or b, or the start of the last, short, word, which the caller searches
// byte by byte. Keys and values are short: a loop over words beats
// bytes.IndexByte's call and setup there.
func words(line []byte, i int, ma, mb uint64) int {
	for ; i+8 <= len(line); i += 8 {
		x := binary.LittleEndian.Uint64(line[i : i+8 : i+8])
		xa, xb := x^ma, x^mb
		if t := ((xa-lsb)&^xa | (xb-lsb)&^xb) & msb; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
	}
	return i
}

// words3 is words for three bytes.
func words3(line []byte, i int, ma, mb, mc uint64) int {
	for ; i+8 <= len(line); i += 8 {
		x := binary.LittleEndian.Uint64(line[i : i+8 : i+8])
		xa, xb, xc := x^ma, x^mb, x^mc
		if t := ((xa-lsb)&^xa | (xb-lsb)&^xb | (xc-lsb)&^xc) & msb; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
	}
	return i
}

// Unquote appends to dst the value of a quoted value with its escapes
// undone: \" \' \\ become the character, \n \r \t the control character.
// Any other backslash is kept with the byte after it (C:\Users stays as
// written).
func Unquote(dst, value []byte) []byte {
	for {
		i := bytes.IndexByte(value, '\\')
		if i < 0 || i == len(value)-1 {
			return append(dst, value...)
		}
		dst = append(dst, value[:i]...)
		switch c := value[i+1]; c {
		case '"', '\'', '\\':
			dst = append(dst, c)
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		default:
			dst = append(dst, '\\', c)
		}
		value = value[i+2:]
	}
}
