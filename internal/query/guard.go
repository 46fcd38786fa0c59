package query

import (
	"net/netip"
	"strconv"
)

// A Guard is a necessary condition read off a filter's structure: the
// filter can only match a document whose field Path has a value with one
// of the Keys (ValueKeys). A rule engine with many rules looks up each
// guarded path once per document and evaluates only the rules whose key it
// finds, instead of every filter.
type Guard struct {
	Path string
	Keys []GuardKey
	p    Path
}

// Values appends the values of the guarded field in d.
func (g Guard) Values(d Doc, dst []Value) []Value { return g.p.Values(d, dst) }

// GuardKey is one value a term compares equal to, in one of the forms
// terms compare in: text, number or address.
type GuardKey struct {
	kind uint8
	s    string
	n    float64
	ip   netip.Addr
}

const (
	guardText uint8 = iota + 1
	guardNum
	guardIP
)

// GuardOf returns a guard of m when m is one of this package's matchers
// and every match must satisfy a term (or terms) on one keyword field: the
// filter itself, or one clause of its AND. Terms on text fields, CIDRs and
// dates give no guard (their matches are not found by equality).
func GuardOf(m Matcher) (Guard, bool) {
	for _, n := range clauses(m) {
		if g, ok := guardOfNode(n); ok {
			return g, true
		}
	}
	return Guard{}, false
}

// clauses returns the clauses every match of m must satisfy: the children
// of its AND, or its root (none for a matcher of another package).
func clauses(m Matcher) []node {
	c, ok := m.(*compiled)
	if !ok {
		return nil
	}
	if and, ok := c.root.(andNode); ok {
		return and
	}
	return []node{c.root}
}

func guardOfNode(n node) (Guard, bool) {
	switch n := n.(type) {
	case *leaf:
		return guardOfLeaf(n)
	case orNode:
		var g Guard
		for i, x := range n {
			l, ok := x.(*leaf)
			if !ok {
				return Guard{}, false
			}
			lg, ok := guardOfLeaf(l)
			if !ok || (i > 0 && lg.Path != g.Path) {
				return Guard{}, false
			}
			g.Path, g.p = lg.Path, lg.p
			g.Keys = append(g.Keys, lg.Keys...)
		}
		return g, len(n) > 0
	}
	return Guard{}, false
}

func guardOfLeaf(l *leaf) (Guard, bool) {
	if len(l.paths) != 1 || l.text[0] {
		return Guard{}, false
	}
	p, ok := l.p.(*termPred)
	if !ok || p.hasPfx || p.hasTime {
		return Guard{}, false
	}
	// termPred.test on a keyword field matches a text value equal to raw,
	// a number equal to num (also as text), an address equal to ip (also
	// as text) and a bool by "true"/"false": raw's keys cover them all.
	keys := []GuardKey{{kind: guardText, s: p.raw}}
	if p.hasNum {
		keys = append(keys, GuardKey{kind: guardNum, n: p.num})
	}
	if p.hasIP {
		keys = append(keys, GuardKey{kind: guardIP, ip: p.ip})
	}
	return Guard{Path: l.paths[0], Keys: keys, p: l.ps[0]}, true
}

// ValueKeys appends the guard keys of v: a term matches v only if one of
// its keys is among them.
func ValueKeys(v *Value, dst []GuardKey) []GuardKey {
	return ValueKeysOf(v, KeyText|KeyNum|KeyIP, dst)
}

// KeyKinds is a set of kinds of guard keys.
type KeyKinds uint8

// The kinds of guard keys.
const (
	KeyText KeyKinds = 1 << iota
	KeyNum
	KeyIP
)

// Kind returns the kind of k (0 for the zero GuardKey).
func (k GuardKey) Kind() KeyKinds {
	switch k.kind {
	case guardText:
		return KeyText
	case guardNum:
		return KeyNum
	case guardIP:
		return KeyIP
	}
	return 0
}

// ValueKeysOf is ValueKeys keeping only the keys of the kinds in ks: a
// lookup among keys of those kinds finds the same with them, and text is
// not parsed for a number or an address nobody looks for.
func ValueKeysOf(v *Value, ks KeyKinds, dst []GuardKey) []GuardKey {
	switch v.Kind {
	case KindString:
		if ks&KeyText != 0 {
			dst = append(dst, GuardKey{kind: guardText, s: v.Str})
		}
		if ks&KeyNum != 0 {
			if f, ok := parseNumberText(v.Str); ok {
				dst = append(dst, GuardKey{kind: guardNum, n: f})
			}
		}
		if ks&KeyIP != 0 {
			if a, ok := parseIPText(v.Str); ok {
				dst = append(dst, GuardKey{kind: guardIP, ip: a})
			}
		}
	case KindNumber:
		if ks&KeyNum != 0 {
			dst = append(dst, GuardKey{kind: guardNum, n: v.Num})
		}
	case KindIP:
		if ks&KeyIP != 0 {
			dst = append(dst, GuardKey{kind: guardIP, ip: v.IP.WithZone("").Unmap()})
		}
	case KindBool:
		if ks&KeyText != 0 {
			dst = append(dst, GuardKey{kind: guardText, s: strconv.FormatBool(v.Bool)})
		}
	}
	return dst
}

// Text returns the key's text, when it is a text key.
func (k GuardKey) Text() (string, bool) { return k.s, k.kind == guardText }

// Num returns the key's number, when it is a number key.
func (k GuardKey) Num() (float64, bool) { return k.n, k.kind == guardNum }

// Addr returns the key's address, when it is an address key.
func (k GuardKey) Addr() (netip.Addr, bool) { return k.ip, k.kind == guardIP }

// A RangeGuard is a numeric range one clause of a filter's AND puts on a
// keyword field: the filter can only match a document with a value of
// Path that Admits. It is cheaper to check than the filter (one memoized
// lookup and a comparison), so an engine checks it first.
type RangeGuard struct {
	Path string
	p    *rangePred
	f    Path
}

// Values appends the values of the guarded field in d.
func (g RangeGuard) Values(d Doc, dst []Value) []Value { return g.f.Values(d, dst) }

// RangeGuards returns the range guards of m: the numeric ranges on
// keyword fields among the clauses of its AND (or m itself).
func RangeGuards(m Matcher) []RangeGuard {
	var out []RangeGuard
	for _, n := range clauses(m) {
		l, ok := n.(*leaf)
		if !ok || len(l.paths) != 1 || l.text[0] {
			continue
		}
		p, ok := l.p.(*rangePred)
		if !ok || !p.numeric || (p.lo.open && p.hi.open) {
			continue
		}
		out = append(out, RangeGuard{Path: l.paths[0], p: p, f: l.ps[0]})
	}
	return out
}

// Admits reports whether one of vals could satisfy the range: a number
// (or numeric text) within it, or a value the range compares otherwise
// (text that is no number, an address, a time).
func (g RangeGuard) Admits(vals []Value) bool {
	for i := range vals {
		switch v := &vals[i]; v.Kind {
		case KindNumber:
			if g.p.cmpNum(v.Num) {
				return true
			}
		case KindString:
			f, ok := parseNumberText(v.Str)
			if !ok || g.p.cmpNum(f) {
				return true
			}
		case KindIP, KindTime:
			return true
		}
	}
	return false
}

// TermGuards returns every term guard of m: one per term (or terms) clause
// of its AND on a keyword field (GuardOf returns the first). A filter can
// only match a document that satisfies all of them.
func TermGuards(m Matcher) []Guard {
	var out []Guard
	for _, n := range clauses(m) {
		if g, ok := guardOfNode(n); ok {
			out = append(out, g)
		}
	}
	return out
}

// Admits reports whether one of vals has a key of g.
func (g Guard) Admits(vals []Value, scratch []GuardKey) (bool, []GuardKey) {
	for i := range vals {
		scratch = ValueKeys(&vals[i], scratch[:0])
		for _, k := range scratch {
			for _, gk := range g.Keys {
				if k == gk {
					return true, scratch
				}
			}
		}
	}
	return false, scratch
}
