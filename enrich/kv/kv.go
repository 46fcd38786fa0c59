// Package kv splits key=value text as firewalls write it: iptables and UFW
// (IN=eth0 OUT= SRC=1.2.3.4 ... DF PROTO=TCP SYN), Meraki events
// (src=1.2.3.4:51514 agent='Mozilla/5.0 (X11)'), F5 ASM
// (key="value",key2="value2"). It reports slices of the line and does not
// allocate.
package kv

import "bytes"

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
func (p *Parser) Parse(line []byte, emit func(key, value []byte, quoted bool)) {
	fs := newSet(p.FieldSplit, " ")
	vs := newSet(p.ValueSplit, "=")
	var tk, tv set
	for i := 0; i < len(p.TrimKey); i++ {
		tk.add(p.TrimKey[i])
	}
	for i := 0; i < len(p.TrimValue); i++ {
		tv.add(p.TrimValue[i])
	}
	single := -1 // the field separator when there is only one: memchr
	switch len(p.FieldSplit) {
	case 0:
		single = ' '
	case 1:
		single = int(p.FieldSplit[0])
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
		key := trim(line[ks:i], &tk)
		if i == n || fs.has(line[i]) {
			if p.BareKeys && len(key) > 0 {
				emit(key, nil, false)
			}
			continue
		}
		i++ // the value separator
		if !p.NoQuotes && i < n && (line[i] == '"' || line[i] == '\'') {
			end := closingQuote(line, i+1, line[i])
			if end < 0 {
				p.pair(key, line[i+1:], true, emit)
				return
			}
			if end+1 == n || fs.has(line[end+1]) {
				p.pair(key, line[i+1:end], true, emit)
				i = end + 1
				continue
			}
			vstart := i
			i = nextSep(line, end+1, &fs, single)
			p.pair(key, trim(line[vstart:i], &tv), false, emit)
			continue
		}
		vstart := i
		i = nextSep(line, i, &fs, single)
		p.pair(key, trim(line[vstart:i], &tv), false, emit)
	}
}

func (p *Parser) pair(key, value []byte, quoted bool, emit func(key, value []byte, quoted bool)) {
	if len(key) == 0 || len(value) == 0 && !p.AllowEmpty {
		return
	}
	emit(key, value, quoted)
}

// nextSep returns the index of the first field separator at or after i, or
// len(line).
func nextSep(line []byte, i int, fs *set, single int) int {
	if single >= 0 {
		if j := bytes.IndexByte(line[i:], byte(single)); j >= 0 {
			return i + j
		}
		return len(line)
	}
	for i < len(line) && !fs.has(line[i]) {
		i++
	}
	return i
}

// closingQuote returns the index of the first q at or after i that is not
// escaped by a backslash, or -1.
func closingQuote(line []byte, i int, q byte) int {
	start := i
	for {
		j := bytes.IndexByte(line[i:], q)
		if j < 0 {
			return -1
		}
		j += i
		// An odd run of backslashes before the quote escapes it.
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

func trim(b []byte, t *set) []byte {
	if t.empty() {
		return b
	}
	for len(b) > 0 && t.has(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && t.has(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
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
func (s *set) empty() bool     { return s[0]|s[1]|s[2]|s[3] == 0 }
