package grok

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// Type is the type a capture asked for with %{PATTERN:field:int|float}.
type Type uint8

const (
	String Type = iota
	Int
	Float
)

func (t Type) String() string {
	switch t {
	case Int:
		return "int"
	case Float:
		return "float"
	}
	return "string"
}

// Capture is one named capture of a match.
type Capture struct {
	// Name is the field name as written in the expression ("source.ip";
	// Logstash's "[source][ip]" is reported as "source.ip").
	Name string
	// Type is Int or Float when the expression asked for it and Value
	// converts (then Int64 or Float64 holds the number); otherwise String,
	// also for a value that does not convert, as Logstash keeps the string.
	Type Type
	// Value is a slice of the matched line; it is valid as long as the line.
	Value   []byte
	Int64   int64
	Float64 float64
	// Index is the capture's position in the pattern's Fields, so that a
	// caller can look up what it does with the name in a slice built once.
	Index int
	// Pattern is the index in its Set of the pattern that matched (Set
	// reports captures of that pattern only); 0 from Pattern.Match.
	Pattern int
}

// Field describes one named capture of a pattern.
type Field struct {
	Name string
	Type Type
}

// Pattern is a compiled grok expression. It is safe for concurrent use.
type Pattern struct {
	expr   string
	caps   []capSpec
	re     *regexp.Regexp
	reSlot []int // reSlot[k]: group number of capture k in re
	prog   *prog // nil when the fast matcher does not support the expression
	slow   string
	filter prefilter
}

// Compile compiles a grok expression: RE2 syntax plus %{NAME},
// %{NAME:field}, %{NAME:field:int|float} and (?<field>...) named groups.
// The match is searched anywhere in the line unless the expression starts
// with ^. Errors name the unknown pattern, the pattern whose definition is
// bad (with its file and line) or the offset in expr.
func (l *Library) Compile(expr string) (*Pattern, error) {
	x := &expander{lib: l}
	ex, err := x.expand(expr, "expression")
	if err != nil {
		return nil, fmt.Errorf("grok %q: %w", expr, err)
	}
	re, err := regexp.Compile(ex.plain)
	if err != nil {
		return nil, fmt.Errorf("grok %q: %w", expr, l.locate(expr, err))
	}
	p := &Pattern{expr: expr, caps: x.caps, re: re, reSlot: make([]int, len(x.caps))}
	for k := range x.caps {
		p.reSlot[k] = re.SubexpIndex("_c" + strconv.Itoa(k))
	}
	plainTree, err := syntax.Parse(ex.plain, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("grok %q: %w", expr, err)
	}
	p.filter = newPrefilter(plainTree)
	markedTree, err := syntax.Parse(ex.marked, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("grok %q: %w", expr, err)
	}
	p.prog, err = compileProg(markedTree, x.tokens, len(x.caps))
	if err != nil {
		p.slow = err.Error()
	}
	return p, nil
}

// MustCompile is Compile that panics on error, for tests and fixed
// expressions.
func (l *Library) MustCompile(expr string) *Pattern {
	p, err := l.Compile(expr)
	if err != nil {
		panic(err)
	}
	return p
}

// locate improves a regexp syntax error: it names the referenced pattern
// whose definition is at fault, or the offset of the bad text in expr.
func (l *Library) locate(expr string, err error) error {
	seen := map[string]bool{}
	var walk func(e string) error
	walk = func(e string) error {
		for i := 0; ; {
			j := strings.Index(e[i:], "%{")
			if j < 0 {
				return nil
			}
			i += j
			end := strings.IndexByte(e[i:], '}')
			if end < 0 {
				return nil
			}
			name, _, _ := strings.Cut(e[i+2:i+end], ":")
			i += end
			if seen[name] {
				continue
			}
			seen[name] = true
			d, ok := l.defs[name]
			if !ok {
				continue
			}
			if err := walk(d.expr); err != nil {
				return err
			}
			x := &expander{lib: l}
			ex, xerr := x.expand(d.expr, name)
			if xerr != nil {
				continue
			}
			if _, rerr := regexp.Compile(ex.plain); rerr != nil {
				return fmt.Errorf("pattern %s (%s): %w", name, d.source, rerr)
			}
		}
	}
	if perr := walk(expr); perr != nil {
		return perr
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		if i := strings.Index(expr, se.Expr); i >= 0 && se.Expr != "" {
			return fmt.Errorf("at offset %d: %w", i, err)
		}
	}
	return err
}

// String returns the expression the pattern was compiled from.
func (p *Pattern) String() string { return p.expr }

// Fast reports whether the pattern runs on the fast matcher. When it does
// not, every match runs Go's regexp (and allocates once).
func (p *Pattern) Fast() bool { return p.prog != nil }

// Fields returns the pattern's named captures in the order Match reports
// them.
func (p *Pattern) Fields() []Field {
	f := make([]Field, len(p.caps))
	for i, c := range p.caps {
		f[i] = Field{Name: c.name, Type: c.typ}
	}
	return f
}

// Match reports whether line matches and calls emit for each named capture
// that took part in the match and is not empty, in the order of the
// captures in the expression. A name captured twice (for example in two
// alternatives, or in a repeated group) is reported each time it matched.
func (p *Pattern) Match(line []byte, emit func(Capture)) bool {
	// An anchored pattern on the fast matcher fails as quickly at its
	// first mismatch as the substring checks would; Set checks them all.
	if p.prog != nil && p.prog.anchored {
		if !bytes.HasPrefix(line, p.filter.prefix) {
			return false
		}
	} else if !p.filter.pass(line) {
		return false
	}
	return p.match(line, emit)
}

// AppendMatch is Match that appends the captures to dst.
func (p *Pattern) AppendMatch(dst []Capture, line []byte) ([]Capture, bool) {
	ok := p.Match(line, func(c Capture) { dst = append(dst, c) })
	return dst, ok
}

// match runs the fast matcher, or Go's regexp when the fast matcher does not
// support the expression or gives up on this line (its step budget).
func (p *Pattern) match(line []byte, emit func(Capture)) bool {
	return p.matchIn(line, 0, emit)
}

// matchIn is match for the pattern with index pi in its Set (the captures'
// Pattern).
func (p *Pattern) matchIn(line []byte, pi int, emit func(Capture)) bool {
	if p.prog != nil {
		m := getMachine(p.prog, line)
		ok, done := m.exec()
		if done {
			if ok {
				for k := range p.caps {
					p.emitIn(line, pi, k, m.caps[2*k], m.caps[2*k+1], emit)
				}
			}
			putMachine(m)
			return ok
		}
		putMachine(m)
	}
	return p.matchRegexpIn(line, pi, emit)
}

func (p *Pattern) matchRegexp(line []byte, emit func(Capture)) bool {
	return p.matchRegexpIn(line, 0, emit)
}

func (p *Pattern) matchRegexpIn(line []byte, pi int, emit func(Capture)) bool {
	loc := p.re.FindSubmatchIndex(line)
	if loc == nil {
		return false
	}
	for k := range p.caps {
		g := p.reSlot[k]
		p.emitIn(line, pi, k, loc[2*g], loc[2*g+1], emit)
	}
	return true
}

func (p *Pattern) emit(line []byte, k, start, end int, emit func(Capture)) {
	p.emitIn(line, 0, k, start, end, emit)
}

func (p *Pattern) emitIn(line []byte, pi, k, start, end int, emit func(Capture)) {
	if start < 0 || end <= start {
		return
	}
	c := Capture{Name: p.caps[k].name, Value: line[start:end], Index: k, Pattern: pi}
	switch p.caps[k].typ {
	case Int:
		if v, ok := parseInt(c.Value); ok {
			c.Type, c.Int64 = Int, v
		}
	case Float:
		if v, ok := parseFloat(c.Value); ok {
			c.Type, c.Float64 = Float, v
		}
	}
	emit(c)
}

// parseInt accepts [+-]?[0-9]+ within int64.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (1<<63)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u > 1<<63 {
			return 0, false
		}
	}
	if neg {
		return -int64(u), true // -(1<<63) wraps to itself: math.MinInt64
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// parseFloat accepts decimal notation, [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?,
// with a finite value; not Inf, NaN, hex or underscores, which strconv
// would take.
func parseFloat(b []byte) (float64, bool) {
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	digits := 0
	for i < len(b) && isDigit(b[i]) {
		i, digits = i+1, digits+1
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && isDigit(b[i]) {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		exp := 0
		for i < len(b) && isDigit(b[i]) {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(b) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// prefilter holds what every match needs, checked before matching: a
// literal prefix when the expression is anchored with ^, and the longest
// literal substrings every match contains. It never rejects a line the
// pattern matches: it is derived from the regexp's syntax tree keeping only
// literals no path through the expression can avoid.
type prefilter struct {
	prefix   []byte
	required [][]byte
	// first is the set of bytes a match of an anchored pattern can start
	// with (Set dispatches on it); anyFirst when unknown or unanchored.
	first    byteSet
	anyFirst bool
}

func (f *prefilter) pass(line []byte) bool {
	if !bytes.HasPrefix(line, f.prefix) {
		return false
	}
	for _, r := range f.required {
		if bytes.Index(line, r) < 0 {
			return false
		}
	}
	return true
}
