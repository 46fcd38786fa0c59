package kv

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"
)

// within reports whether s is a slice of line's bytes (or empty).
func within(s, line []byte) bool {
	if len(s) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(line)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= start && p+uintptr(len(s)) <= start+uintptr(len(line))
}

// FuzzParse checks, for any line and separators: no panic, keys and
// values are slices of the line in order, keys are non-empty and hold no
// separator, unquoted values hold no field separator (unless they start
// with a quote: a="x y"z), and Unquote handles every quoted value.
func FuzzParse(f *testing.F) {
	f.Add([]byte(iptablesLine), "", "", true)
	f.Add([]byte(f5Line), ",", "", true)
	f.Add([]byte(merakiLine), " ", "=", false)
	f.Add([]byte(`a="x \"y\" z" b='it\'s' c="ends in \\" d=1 e="open`), "", "", true)
	f.Add([]byte(`a="x y"z b=2 c=O'Brien =x`), " ,", ":=", false)
	f.Fuzz(func(t *testing.T, line []byte, fieldSplit, valueSplit string, flags bool) {
		p := &Parser{FieldSplit: fieldSplit, ValueSplit: valueSplit, AllowEmpty: flags, BareKeys: flags, TrimValue: " "}
		fs, vs := newSet(fieldSplit, " "), newSet(valueSplit, "=")
		last := uintptr(0)
		p.Parse(line, func(k, v []byte, quoted bool) {
			if len(k) == 0 || !within(k, line) || !within(v, line) {
				t.Fatalf("Parse(%q) emitted %q=%q outside the line or with an empty key", line, k, v)
			}
			kp := uintptr(unsafe.Pointer(unsafe.SliceData(k)))
			if kp < last {
				t.Fatalf("Parse(%q) emitted key %q out of order", line, k)
			}
			last = kp
			for _, c := range k {
				if fs.has(c) || vs.has(c) {
					t.Fatalf("Parse(%q): key %q holds a separator", line, k)
				}
			}
			if v == nil && !p.BareKeys || len(v) == 0 && v != nil && !p.AllowEmpty {
				t.Fatalf("Parse(%q): %q=%q should have been skipped", line, k, v)
			}
			if !quoted && (len(v) == 0 || v[0] != '"' && v[0] != '\'') {
				for _, c := range v {
					if fs.has(c) {
						t.Fatalf("Parse(%q): unquoted value %q holds a field separator", line, v)
					}
				}
			} else if u := Unquote(nil, v); len(u) > len(v) {
				t.Fatalf("Unquote(%q) = %q grew", v, u)
			}
		})
		checkReference(t, p, line)
		// The other options, with trimmed keys (the multi-byte set path).
		checkReference(t, &Parser{FieldSplit: fieldSplit, ValueSplit: valueSplit, TrimKey: " _", TrimValue: `"' `, NoQuotes: flags, AllowEmpty: !flags}, line)
	})
}

// checkReference checks that Parse and a Scanner report what refParse
// does, and that Escaped is set exactly on quoted values with a backslash.
func checkReference(t *testing.T, p *Parser, line []byte) {
	var want, got []refPair
	refParse(p, line, func(k, v []byte, quoted bool) { want = append(want, refPair{k, v, quoted}) })
	p.Parse(line, func(k, v []byte, quoted bool) { got = append(got, refPair{k, v, quoted}) })
	s := NewScanner(p)
	lists := [][]refPair{got}
	for _, size := range []int{1, 3, 64} { // resuming after a full buffer
		var scanned []refPair
		for i := 0; i >= 0; {
			var spans []Span
			spans, i = s.Scan(line, i, make([]Span, 0, size))
			if len(spans) > size || len(spans) == 0 && i >= 0 {
				t.Fatalf("Scan(%q) with room for %d returned %d pairs and next %d", line, size, len(spans), i)
			}
			for j := range spans {
				k, v, fl := spans[j].Key(line), spans[j].Value(line), spans[j].Flags
				if esc := fl&Quoted != 0 && bytes.IndexByte(v, '\\') >= 0; esc != (fl&Escaped != 0) {
					t.Fatalf("Scan(%q): %q=%q has flags %b", line, k, v, fl)
				}
				scanned = append(scanned, refPair{k, v, fl&Quoted != 0})
			}
		}
		lists = append(lists, scanned)
	}
	for _, list := range lists {
		same := len(list) == len(want)
		for i := 0; same && i < len(list); i++ {
			a, b := list[i], want[i]
			same = unsafe.SliceData(a.k) == unsafe.SliceData(b.k) && bytes.Equal(a.k, b.k) &&
				bytes.Equal(a.v, b.v) && (a.v == nil) == (b.v == nil) && a.quoted == b.quoted
		}
		if !same {
			t.Fatalf("Parse(%q) with %+v: got %d pairs %s, the reference %d %s", line, *p, len(list), fmtPairs(list), len(want), fmtPairs(want))
		}
	}
}

// FuzzRoundTrip writes arbitrary values quoted and escaped between
// generated keys and checks that Parse and Unquote give them back.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("x \"y\" z\x00it's\x00C:\\Users\x00\x00a,b=c"), ",")
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\x00\\\\\x00'"), " ")
	f.Fuzz(func(t *testing.T, data []byte, sep string) {
		if len(sep) != 1 || sep[0] == '"' || sep[0] == '\\' || sep[0] == '=' || sep[0] >= 'a' && sep[0] <= 'z' {
			return
		}
		values := bytes.Split(data, []byte{0})
		var line []byte
		for i, v := range values {
			if i > 0 {
				line = append(line, sep...)
			}
			line = append(line, 'k', byte('a'+i%26))
			line = append(line, '=', '"')
			for _, c := range v {
				switch c {
				case '"', '\\':
					line = append(line, '\\', c)
				case '\n':
					line = append(line, '\\', 'n')
				case '\r':
					line = append(line, '\\', 'r')
				case '\t':
					line = append(line, '\\', 't')
				default:
					line = append(line, c)
				}
			}
			line = append(line, '"')
		}
		p := &Parser{FieldSplit: sep, AllowEmpty: true}
		i := 0
		p.Parse(line, func(k, v []byte, quoted bool) {
			if i >= len(values) {
				t.Fatalf("Parse(%q): more pairs than the %d written", line, len(values))
			}
			if !quoted || string(k) != "k"+string(rune('a'+i%26)) {
				t.Fatalf("Parse(%q): pair %d is %q=%q (quoted %v)", line, i, k, v, quoted)
			}
			if got := Unquote(nil, v); !bytes.Equal(got, values[i]) {
				t.Fatalf("Parse(%q): value %d = %q, want %q", line, i, got, values[i])
			}
			i++
		})
		if i != len(values) {
			t.Fatalf("Parse(%q) found %d pairs, want %d", line, i, len(values))
		}
	})
}

type refPair struct {
	k, v   []byte
	quoted bool
}

func fmtPairs(list []refPair) string {
	var b []byte
	for _, p := range list {
		b = fmt.Appendf(b, "[%q=%q nil=%v quoted=%v]", p.k, p.v, p.v == nil, p.quoted)
	}
	return string(b)
}
