package grok

import (
	"bytes"
	"regexp/syntax"
	"sort"
	"unicode/utf8"
)

// maxRequired is how many required literals a pattern checks: the longest
// ones, which tend to be the rarest.
const maxRequired = 2

func newPrefilter(re *syntax.Regexp) prefilter {
	var f prefilter
	if startsWith(re, syntax.OpBeginText) {
		f.prefix = leadingLiteral(re)
		var nullable bool
		f.first, nullable = firstSet(re)
		f.anyFirst = nullable
	} else {
		f.anyFirst = true
	}
	var lits [][]byte
	required(re, &lits)
	sort.SliceStable(lits, func(i, j int) bool { return len(lits[i]) > len(lits[j]) })
	for _, l := range lits {
		if len(f.required) == maxRequired {
			break
		}
		// bytes.Index looks for the first byte, then compares: a space or
		// = there stops it at every field. Any substring of a required
		// literal is required too, so drop such leading bytes.
		l = bytes.TrimLeft(l, " =:,;\t")
		if len(l) < 2 || bytes.Contains(f.prefix, l) {
			continue // one byte filters little; the prefix check covers it
		}
		dup := false
		for _, r := range f.required {
			if bytes.Contains(r, l) {
				dup = true
			}
		}
		if !dup {
			f.required = append(f.required, l)
		}
	}
	return f
}

// required appends literals that every match of re contains. It follows
// only what no match can avoid: concatenations, captures and repetitions
// of at least one; alternations and optional parts contribute nothing.
func required(re *syntax.Regexp, out *[][]byte) {
	switch re.Op {
	case syntax.OpLiteral:
		if b := literalBytes(re); b != nil {
			*out = append(*out, b)
		}
	case syntax.OpCapture, syntax.OpPlus:
		required(re.Sub[0], out)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			required(re.Sub[0], out)
		}
	case syntax.OpConcat:
		// Adjacent literals join into one longer literal.
		var cur []byte
		flush := func() {
			if len(cur) > 0 {
				*out = append(*out, cur)
				cur = nil
			}
		}
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral {
				if b := literalBytes(sub); b != nil {
					cur = append(cur, b...)
					continue
				}
			}
			flush()
			required(sub, out)
		}
		flush()
	}
}

// literalBytes is the UTF-8 text a literal node matches, or nil when byte
// comparison would not agree with the regexp: case folding, or U+FFFD,
// which Go's regexp also matches for each invalid byte.
func literalBytes(re *syntax.Regexp) []byte {
	if re.Flags&syntax.FoldCase != 0 {
		return nil
	}
	var b []byte
	for _, r := range re.Rune {
		if r == utf8.RuneError {
			return nil
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}
