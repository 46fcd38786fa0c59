package kv

import "bytes"

// refParse is the first, byte-at-a-time version of Parser.Parse, kept as
// the reference the word-at-a-time Scanner is fuzzed against.
func refParse(p *Parser, line []byte, emit func(key, value []byte, quoted bool)) {
	fs := newSet(p.FieldSplit, " ")
	vs := newSet(p.ValueSplit, "=")
	var tk, tv set
	for i := 0; i < len(p.TrimKey); i++ {
		tk.add(p.TrimKey[i])
	}
	for i := 0; i < len(p.TrimValue); i++ {
		tv.add(p.TrimValue[i])
	}
	pair := func(key, value []byte, quoted bool) {
		if len(key) == 0 || len(value) == 0 && !p.AllowEmpty {
			return
		}
		emit(key, value, quoted)
	}
	nextSep := func(i int) int {
		for i < len(line) && !fs.has(line[i]) {
			i++
		}
		return i
	}
	n := len(line)
	for i := 0; i < n; {
		for i < n && fs.has(line[i]) {
			i++
		}
		if i == n {
			return
		}
		ks := i
		for i < n && !fs.has(line[i]) && !vs.has(line[i]) {
			i++
		}
		key := refTrim(line[ks:i], &tk)
		if i == n || fs.has(line[i]) {
			if p.BareKeys && len(key) > 0 {
				emit(key, nil, false)
			}
			continue
		}
		i++
		if !p.NoQuotes && i < n && (line[i] == '"' || line[i] == '\'') {
			end := refClosingQuote(line, i+1, line[i])
			if end < 0 {
				pair(key, line[i+1:], true)
				return
			}
			if end+1 == n || fs.has(line[end+1]) {
				pair(key, line[i+1:end], true)
				i = end + 1
				continue
			}
			vstart := i
			i = nextSep(end + 1)
			pair(key, refTrim(line[vstart:i], &tv), false)
			continue
		}
		vstart := i
		i = nextSep(i)
		pair(key, refTrim(line[vstart:i], &tv), false)
	}
}

// refClosingQuote finds the closing quote by counting the backslashes
// before each candidate.
func refClosingQuote(line []byte, i int, q byte) int {
	start := i
	for {
		j := bytes.IndexByte(line[i:], q)
		if j < 0 {
			return -1
		}
		j += i
		b := j
		for b > start && line[b-1] == '\\' {
			b--
		}
		if (j-b)%2 == 0 {
			return j
		}
		i = j + 1
	}
}

func refTrim(b []byte, t *set) []byte {
	for len(b) > 0 && t.has(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && t.has(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// set is a set of bytes.
type set [4]uint64

func newSet(s, def string) set {
	if s == "" {
		s = def
	}
	var t set
	for i := 0; i < len(s); i++ {
		t.add(s[i])
	}
	return t
}

func (s *set) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *set) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
