package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// flatParser flattens a JSON document that json.Valid accepted, in one
// pass and with a handful of allocations: the text is copied once into a
// string, string values without escapes are slices of it, and the leaf
// paths are built in one buffer.
type flatParser struct {
	src   string
	i     int
	cur   []byte // the path being built
	paths []byte // every leaf's path, one after another
	ents  []flatEntry
}

type flatEntry struct {
	start, end int32 // the path in paths
	v          Value
}

var errTooDeep = fmt.Errorf("document: nested deeper than %d", maxJSONDepth)

// flattenJSON fills d from its raw document.
func (d *JSONDoc) flattenJSON() error {
	if !json.Valid(d.raw) {
		var v any
		if err := json.Unmarshal(d.raw, &v); err != nil {
			return fmt.Errorf("document: %w", err)
		}
		return errors.New("document: invalid JSON")
	}
	p := &flatParser{src: string(d.raw), ents: make([]flatEntry, 0, 64)}
	p.ws()
	if p.src[p.i] != '{' {
		return ErrNotObject
	}
	if err := p.value(0, 0); err != nil {
		return err
	}
	all := string(p.paths)
	path := func(e *flatEntry) string { return all[e.start:e.end] }
	slices.SortStableFunc(p.ents, func(a, b flatEntry) int { return strings.Compare(path(&a), path(&b)) })
	vals := make([]Value, len(p.ents))
	d.fields = make(map[string][]Value, len(p.ents))
	for i := 0; i < len(p.ents); {
		j := i
		k := path(&p.ents[i])
		for j < len(p.ents) && path(&p.ents[j]) == k {
			vals[j] = p.ents[j].v
			j++
		}
		d.fields[k] = vals[i:j:j]
		d.paths = append(d.paths, k)
		i = j
	}
	return nil
}

func (p *flatParser) ws() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *flatParser) leaf(pathLen int, v Value) {
	start := len(p.paths)
	p.paths = append(p.paths, p.cur[:pathLen]...)
	p.ents = append(p.ents, flatEntry{start: int32(start), end: int32(len(p.paths)), v: v})
}

// value parses the value at the position; pathLen is its path's length
// in cur, depth how many containers hold it.
func (p *flatParser) value(pathLen, depth int) error {
	if depth > maxJSONDepth {
		return errTooDeep
	}
	switch c := p.src[p.i]; c {
	case '{':
		p.i++
		p.ws()
		if p.src[p.i] == '}' {
			p.i++
			return nil
		}
		for {
			p.ws()
			key := p.str()
			p.cur = p.cur[:pathLen]
			if pathLen > 0 {
				p.cur = append(p.cur, '.')
			}
			p.cur = append(p.cur, key...)
			p.ws()
			p.i++ // ':'
			p.ws()
			if err := p.value(len(p.cur), depth+1); err != nil {
				return err
			}
			p.ws()
			if p.src[p.i] == '}' {
				p.i++
				return nil
			}
			p.i++ // ','
		}
	case '[':
		p.i++
		p.ws()
		if p.src[p.i] == ']' {
			p.i++
			return nil
		}
		for {
			p.ws()
			if err := p.value(pathLen, depth+1); err != nil {
				return err
			}
			p.ws()
			if p.src[p.i] == ']' {
				p.i++
				return nil
			}
			p.i++ // ','
		}
	case '"':
		p.leaf(pathLen, Value{Kind: KindString, Str: p.str()})
	case 't':
		p.i += 4
		p.leaf(pathLen, Value{Kind: KindBool, Bool: true})
	case 'f':
		p.i += 5
		p.leaf(pathLen, Value{Kind: KindBool})
	case 'n':
		p.i += 4
	default:
		start := p.i
		for p.i < len(p.src) && strings.IndexByte("+-.eE0123456789", p.src[p.i]) >= 0 {
			p.i++
		}
		f, err := strconv.ParseFloat(p.src[start:p.i], 64)
		if err != nil || math.IsInf(f, 0) {
			return fmt.Errorf("document: number %s out of range", p.src[start:p.i])
		}
		p.leaf(pathLen, Value{Kind: KindNumber, Num: f})
	}
	return nil
}

// str reads the string at the position (valid JSON), decoded as
// encoding/json decodes it: invalid UTF-8 bytes and lone surrogates
// become U+FFFD.
func (p *flatParser) str() string {
	i := p.i + 1
	start := i
	ascii := true
	for {
		c := p.src[i]
		if c == '"' {
			s := p.src[start:i]
			p.i = i + 1
			if !ascii && !utf8.ValidString(s) {
				return fixUTF8(s)
			}
			return s
		}
		if c == '\\' {
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		i++
	}
	b := make([]byte, 0, i-start+16)
	b = append(b, p.src[start:i]...)
	for {
		c := p.src[i]
		switch {
		case c == '"':
			p.i = i + 1
			s := string(b)
			if !utf8.ValidString(s) {
				return fixUTF8(s)
			}
			return s
		case c == '\\':
			e := p.src[i+1]
			i += 2
			switch e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(p.src[i:])
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(p.src) && p.src[i] == '\\' && p.src[i+1] == 'u' {
						r2 = hex4(p.src[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default: // " \ /
				b = append(b, e)
			}
		default:
			b = append(b, c)
			i++
		}
	}
}

func hex4(s string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// fixUTF8 replaces each invalid byte of s by U+FFFD.
func fixUTF8(s string) string {
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}
