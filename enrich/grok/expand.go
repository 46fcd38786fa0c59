package grok

import (
	"fmt"
	"strconv"
	"strings"
)

// capSpec is one named capture of an expression, in the order of its
// opening parenthesis.
type capSpec struct {
	name string
	typ  Type
}

// expander turns a grok expression into two RE2 expressions: plain (what
// regexp.Compile gets) and marked, identical except that references to the
// token patterns the fast matcher implements natively are wrapped in a
// capture named _t<k>. Named captures become (?P<_c<k>>...) in both.
type expander struct {
	lib    *Library
	caps   []capSpec
	tokens []token // tokens[k] for marker _t<k>
	stack  []string
}

type expansion struct {
	plain, marked string
}

// expand expands expr. where describes expr for errors ("expression" or
// "pattern NAME (base.grok:3)"); offsets in errors are byte offsets in expr.
func (x *expander) expand(expr, where string) (expansion, error) {
	var plain, marked strings.Builder
	w := func(s string) {
		plain.WriteString(s)
		marked.WriteString(s)
	}
	var open []int // offsets of unclosed groups, to name them in errors
	for i := 0; i < len(expr); {
		switch expr[i] {
		case '(':
			open = append(open, i)
		case ')':
			if len(open) == 0 {
				return expansion{}, fmt.Errorf("%s: unmatched ) at offset %d", where, i)
			}
			open = open[:len(open)-1]
		}
		c := expr[i]
		switch {
		case c == '\\':
			n := 2
			if i+1 >= len(expr) {
				n = 1
			}
			w(expr[i : i+n])
			i += n
		case c == '[':
			j := classEnd(expr, i)
			w(expr[i:j])
			i = j
		case c == '%' && strings.HasPrefix(expr[i:], "%{"):
			end := strings.IndexByte(expr[i:], '}')
			if end < 0 {
				return expansion{}, fmt.Errorf("%s: %%{ at offset %d is not closed", where, i)
			}
			ref := expr[i+2 : i+end]
			sub, err := x.ref(ref, where, i)
			if err != nil {
				return expansion{}, err
			}
			plain.WriteString(sub.plain)
			marked.WriteString(sub.marked)
			i += end + 1
		case c == '(' && strings.HasPrefix(expr[i:], "(?"):
			rest := expr[i+2:]
			switch {
			case strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, "<!"):
				return expansion{}, fmt.Errorf("%s: lookbehind (?%s at offset %d is not supported by RE2; use \\b or match the text", where, rest[:2], i)
			case strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "!"):
				return expansion{}, fmt.Errorf("%s: lookahead (?%s at offset %d is not supported by RE2; use \\b or match the text", where, rest[:1], i)
			case strings.HasPrefix(rest, ">"):
				return expansion{}, fmt.Errorf("%s: atomic group (?> at offset %d is not supported by RE2; use (?: instead", where, i)
			case strings.HasPrefix(rest, "<") || strings.HasPrefix(rest, "P<"):
				start := i + 3
				if rest[0] == 'P' {
					start++
				}
				end := strings.IndexByte(expr[start:], '>')
				if end < 0 {
					return expansion{}, fmt.Errorf("%s: named group at offset %d has no closing >", where, i)
				}
				name, err := fieldName(expr[start : start+end])
				if err != nil {
					return expansion{}, fmt.Errorf("%s: named group at offset %d: %w", where, i, err)
				}
				k := len(x.caps)
				x.caps = append(x.caps, capSpec{name: name})
				w("(?P<_c" + strconv.Itoa(k) + ">")
				i = start + end + 1
			default:
				w("(?")
				i += 2
			}
		default:
			w(expr[i : i+1])
			i++
		}
	}
	if len(open) > 0 {
		return expansion{}, fmt.Errorf("%s: unclosed ( at offset %d", where, open[len(open)-1])
	}
	return expansion{plain: plain.String(), marked: marked.String()}, nil
}

// ref expands one %{NAME[:field[:type]]} reference found at offset off.
func (x *expander) ref(ref, where string, off int) (expansion, error) {
	parts := strings.SplitN(ref, ":", 3)
	name := parts[0]
	if strings.ContainsRune(ref, '=') {
		return expansion{}, fmt.Errorf("%s: inline definition %%{%s} at offset %d is not supported; add the pattern to a pattern file", where, ref, off)
	}
	if !validName(name) {
		return expansion{}, fmt.Errorf("%s: bad pattern name %q in %%{%s} at offset %d", where, name, ref, off)
	}
	d, ok := x.lib.defs[name]
	if !ok {
		return expansion{}, fmt.Errorf("%s: unknown pattern %s at offset %d", where, name, off)
	}
	for i, s := range x.stack {
		if s == name {
			return expansion{}, fmt.Errorf("%s: pattern %s refers to itself (%s -> %s)", where, name, strings.Join(x.stack[i:], " -> "), name)
		}
	}
	k := -1
	if len(parts) > 1 {
		field, err := fieldName(parts[1])
		if err != nil {
			return expansion{}, fmt.Errorf("%s: %%{%s} at offset %d: %w", where, ref, off, err)
		}
		typ := String
		if len(parts) == 3 {
			switch parts[2] {
			case "int":
				typ = Int
			case "float":
				typ = Float
			case "string":
			default:
				return expansion{}, fmt.Errorf("%s: %%{%s} at offset %d: unknown type %q; use int or float", where, ref, off, parts[2])
			}
		}
		k = len(x.caps)
		x.caps = append(x.caps, capSpec{name: field, typ: typ})
	}
	x.stack = append(x.stack, name)
	sub, err := x.expand(d.expr, fmt.Sprintf("pattern %s (%s)", name, d.source))
	x.stack = x.stack[:len(x.stack)-1]
	if err != nil {
		return expansion{}, err
	}
	open := "(?:"
	if k >= 0 {
		open = "(?P<_c" + strconv.Itoa(k) + ">"
	}
	out := expansion{plain: open + sub.plain + ")", marked: open}
	if t := tokenFor(name, sub.plain); t != tokNone {
		out.marked += "(?P<_t" + strconv.Itoa(len(x.tokens)) + ">" + sub.marked + "))"
		x.tokens = append(x.tokens, t)
	} else {
		out.marked += sub.marked + ")"
	}
	return out, nil
}

// classEnd returns the offset just past the character class starting at
// expr[i] == '[', or len(expr) when it is not closed (RE2 reports that).
func classEnd(expr string, i int) int {
	j := i + 1
	if j < len(expr) && expr[j] == '^' {
		j++
	}
	if j < len(expr) && expr[j] == ']' {
		j++
	}
	for j < len(expr) {
		switch {
		case expr[j] == '\\':
			j += 2
		case strings.HasPrefix(expr[j:], "[:"):
			if k := strings.Index(expr[j+2:], ":]"); k >= 0 {
				j += k + 4
			} else {
				j++
			}
		case expr[j] == ']':
			return j + 1
		default:
			j++
		}
	}
	return len(expr)
}

// fieldName checks a capture name and turns Logstash's [a][b] form into
// the dotted a.b.
func fieldName(s string) (string, error) {
	if strings.HasPrefix(s, "[") {
		var parts []string
		rest := s
		for rest != "" {
			if rest[0] != '[' {
				return "", fmt.Errorf("bad field reference %q", s)
			}
			end := strings.IndexByte(rest, ']')
			if end < 2 {
				return "", fmt.Errorf("bad field reference %q", s)
			}
			parts = append(parts, rest[1:end])
			rest = rest[end+1:]
		}
		s = strings.Join(parts, ".")
	}
	if s == "" {
		return "", fmt.Errorf("empty field name")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '@') {
			return "", fmt.Errorf("field name %q: use letters, digits and _ . - @", s)
		}
	}
	if s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return "", fmt.Errorf("field name %q has an empty part", s)
	}
	return s, nil
}
