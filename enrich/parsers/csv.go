package parsers

import "strings"

// csvStep splits a value into positional columns (pfSense filterlog,
// PAN-OS): a separator byte, optional quoting with doubled quotes inside,
// no copy of a field unless it holds doubled quotes.
type csvStep struct {
	source     string
	sep, quote byte // quote 0: no quoting
	columns    []string
	types      []vtype // per column: tAuto unless path:type
	rest       string  // the text after the listed columns
	minColumns int     // fewer columns fail the rule
	ifPaths    []string
	ifVals     [][]string // the step runs when every ifPaths[i] has one of ifVals[i]
	ignore     []string   // values left out like empty ones ("0.0.0.0" for no NAT)

	src, restSym int32
	colSyms      []int32 // -1 for a skipped column
	ifSyms       []int32
}

func (s *csvStep) resolve(r *rule) {
	s.src, s.restSym = r.sym(s.source), -1
	if s.rest != "" {
		s.restSym = r.sym(s.rest)
	}
	s.colSyms = s.colSyms[:0]
	for _, c := range s.columns {
		if c == "" {
			s.colSyms = append(s.colSyms, -1)
			continue
		}
		// out, not sym: a column no other step reads is committed at once.
		s.colSyms = append(s.colSyms, r.out(c))
	}
	s.ifSyms = s.ifSyms[:0]
	for _, p := range s.ifPaths {
		s.ifSyms = append(s.ifSyms, r.sym(p))
	}
}

// applies reports whether the step's if conditions hold.
func (s *csvStep) applies(st *state) bool {
	for i, sym := range s.ifSyms {
		v, ok := st.get(sym)
		if !ok || !contains(s.ifVals[i], v) {
			return false
		}
	}
	return true
}

func (s *csvStep) run(st *state) bool {
	if !s.applies(st) {
		return true
	}
	src, ok := st.get(s.src)
	if !ok || src == "" {
		return s.minColumns == 0
	}
	pos, col := 0, 0
	for ; col < len(s.columns) && pos <= len(src); col++ {
		val, next, escaped := s.field(src, pos)
		pos = next
		sym := s.colSyms[col]
		if sym < 0 || val == "" || len(s.ignore) > 0 && contains(s.ignore, val) {
			continue
		}
		if escaped {
			val = st.unquote(val, s.quote)
		}
		if r := st.r; r.directField[sym] {
			// What commitValue does for a plain field, without its dispatch.
			t := s.types[col]
			if t == tAuto {
				t = r.symAuto[sym]
			}
			if t == tString {
				st.appendString(r.symNames[sym], val)
			} else {
				st.commitField(st.e, r.symNames[sym], val, t, 0, false)
			}
			continue
		} else if r.direct[sym] {
			st.commitValue(sym, r.symNames[sym], val, s.types[col], 0, false)
			continue
		}
		st.put(sym, sfield{val: val, typ: s.types[col]})
	}
	if col < s.minColumns {
		return false
	}
	if s.restSym >= 0 && pos < len(src) {
		st.put(s.restSym, sfield{val: src[pos:]})
	}
	return true
}

// field returns the field starting at pos, the start of the next one
// (len(src)+1 after the last) and whether the value still holds doubled
// quotes. A quoted field ends at its closing quote; one whose closing
// quote is not followed by the separator (or the end) is read as it is,
// quotes and all, up to the next separator.
func (s *csvStep) field(src string, pos int) (val string, next int, escaped bool) {
	if s.quote != 0 && pos < len(src) && src[pos] == s.quote {
		for j := pos + 1; j < len(src); {
			k := strings.IndexByte(src[j:], s.quote)
			if k < 0 {
				break // unterminated: read as unquoted
			}
			end := j + k
			if end+1 < len(src) && src[end+1] == s.quote {
				escaped = true
				j = end + 2
				continue
			}
			if end+1 == len(src) {
				return src[pos+1 : end], len(src) + 1, escaped
			}
			if src[end+1] == s.sep {
				return src[pos+1 : end], end + 2, escaped
			}
			break
		}
		escaped = false
	}
	// Fields are short: a loop beats IndexByte's call and setup.
	for k := pos; k < len(src); k++ {
		if src[k] == s.sep {
			return src[pos:k], k + 1, false
		}
	}
	return src[pos:], len(src) + 1, false
}

// unquote returns v with each doubled quote q made single, in the batch
// arena.
func (st *state) unquote(v string, q byte) string {
	st.buf = st.buf[:0]
	for i := 0; i < len(v); i++ {
		st.buf = append(st.buf, v[i])
		if v[i] == q && i+1 < len(v) && v[i+1] == q {
			i++
		}
	}
	return st.keep(st.buf)
}
