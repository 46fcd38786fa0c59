package query

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Options tune how a filter is compiled.
type Options struct {
	// DefaultOperator joins clauses that have no operator between them:
	// "OR" (the default) or "AND".
	DefaultOperator string
	// DefaultFields are searched by terms without a field; none (or
	// "*" among them) means every field.
	DefaultFields []string
	// Aliases renames field paths at compile time (old name -> path).
	Aliases map[string]string
	// Now is the clock of date math ("now-15m"); time.Now when nil.
	Now func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) field(f string) string {
	if a, ok := o.Aliases[f]; ok {
		return a
	}
	return f
}

// matchCtx is the working space of one Match call.
type matchCtx struct {
	vals   []Value
	text   []byte
	now    time.Time
	hasNow bool
	clock  func() time.Time
	busy   bool // in use by a Match (an EventDoc's own)
}

func (c *matchCtx) nowTime() time.Time {
	if !c.hasNow {
		if c.clock != nil {
			c.now = c.clock()
		} else {
			c.now = time.Now()
		}
		c.hasNow = true
	}
	return c.now
}

// valueText returns the text of a non-string value in c's buffer (valid
// until the next call).
func (c *matchCtx) valueText(v *Value) string {
	if v.Kind == KindString {
		return v.Str
	}
	c.text = v.AppendText(c.text[:0])
	if len(c.text) == 0 {
		return ""
	}
	return unsafe.String(&c.text[0], len(c.text))
}

var ctxPool = sync.Pool{New: func() any { return &matchCtx{vals: make([]Value, 0, 16)} }}

// node is one compiled clause.
type node interface {
	match(d Doc, c *matchCtx) bool
	fields(add func(string))
	// write appends the query-string form (see compiled.String).
	write(b *strings.Builder)
}

// compiled is the Matcher returned by the compile functions.
type compiled struct {
	root   node
	paths  []string
	clock  func() time.Time
	source string
}

func newCompiled(root node, opts Options) *compiled {
	c := &compiled{root: root, clock: opts.Now}
	seen := map[string]bool{}
	root.fields(func(p string) {
		if !seen[p] {
			seen[p] = true
			c.paths = append(c.paths, p)
		}
	})
	return c
}

// Match implements Matcher.
func (m *compiled) Match(d Doc) bool {
	// An EventDoc lends its own working space (a rule engine matches one
	// document against many filters; the pool cost as much as a term).
	if ed, ok := d.(*EventDoc); ok && !ed.mctx.busy {
		c := &ed.mctx
		c.busy, c.hasNow, c.clock = true, false, m.clock
		ok := m.root.match(d, c)
		c.busy, c.clock = false, nil
		return ok
	}
	c := ctxPool.Get().(*matchCtx)
	c.hasNow = false
	c.clock = m.clock
	ok := m.root.match(d, c)
	c.clock = nil
	ctxPool.Put(c)
	return ok
}

// Fields implements Matcher.
func (m *compiled) Fields() []string { return m.paths }

// String returns the filter in the query-string syntax, canonically:
// ParseQueryString of it (with the same Options) matches the same
// documents.
func (m *compiled) String() string {
	var b strings.Builder
	m.root.write(&b)
	return b.String()
}

// ---- boolean nodes

type allNode struct{}

func (allNode) match(Doc, *matchCtx) bool  { return true }
func (allNode) fields(func(string))        {}
func (allNode) write(b *strings.Builder)   { b.WriteString("*:*") }
func (noneNode) match(Doc, *matchCtx) bool { return false }
func (noneNode) fields(func(string))       {}
func (noneNode) write(b *strings.Builder)  { b.WriteString("(NOT *:*)") }

type noneNode struct{}

type andNode []node

func (n andNode) match(d Doc, c *matchCtx) bool {
	for _, x := range n {
		if !x.match(d, c) {
			return false
		}
	}
	return true
}

func (n andNode) fields(add func(string)) {
	for _, x := range n {
		x.fields(add)
	}
}

func (n andNode) write(b *strings.Builder) { writeList(b, n, " AND ") }

type orNode []node

func (n orNode) match(d Doc, c *matchCtx) bool {
	for _, x := range n {
		if x.match(d, c) {
			return true
		}
	}
	return false
}

func (n orNode) fields(add func(string)) {
	for _, x := range n {
		x.fields(add)
	}
}

func (n orNode) write(b *strings.Builder) { writeList(b, n, " OR ") }

func writeList(b *strings.Builder, n []node, op string) {
	b.WriteByte('(')
	for i, x := range n {
		if i > 0 {
			b.WriteString(op)
		}
		x.write(b)
	}
	b.WriteByte(')')
}

type notNode struct{ x node }

func (n notNode) match(d Doc, c *matchCtx) bool { return !n.x.match(d, c) }
func (n notNode) fields(add func(string))       { n.x.fields(add) }
func (n notNode) write(b *strings.Builder) {
	b.WriteString("(NOT ")
	n.x.write(b)
	b.WriteByte(')')
}

// atLeastNode matches when at least min of its clauses do (a bool query's
// minimum_should_match above 1).
type atLeastNode struct {
	min int
	xs  []node
}

func (n atLeastNode) match(d Doc, c *matchCtx) bool {
	k := 0
	for i, x := range n.xs {
		if x.match(d, c) {
			k++
			if k >= n.min {
				return true
			}
		}
		if k+len(n.xs)-i-1 < n.min {
			return false
		}
	}
	return false
}

func (n atLeastNode) fields(add func(string)) { orNode(n.xs).fields(add) }

// write expands the clause into an OR of ANDs of every choice of min
// clauses when that stays small; otherwise it writes a form that does
// not parse back (a query string has no minimum_should_match).
func (n atLeastNode) write(b *strings.Builder) {
	var combos [][]node
	var pick func(start int, cur []node)
	pick = func(start int, cur []node) {
		if len(combos) > 64 {
			return
		}
		if len(cur) == n.min {
			combos = append(combos, append([]node(nil), cur...))
			return
		}
		for i := start; i < len(n.xs); i++ {
			pick(i+1, append(cur, n.xs[i]))
		}
	}
	pick(0, nil)
	if len(combos) > 64 {
		b.WriteString("(at least " + strconv.Itoa(n.min) + " of ")
		writeList(b, n.xs, ", ")
		b.WriteByte(')')
		return
	}
	ors := make([]node, len(combos))
	for i, c := range combos {
		ors[i] = andNode(c)
	}
	orNode(ors).write(b)
}

// ---- leaves

// pred tests one value of a field; text says the field is analysed.
type pred interface {
	test(v *Value, text bool, c *matchCtx) bool
	write(b *strings.Builder)
}

// leaf applies a predicate to the values of its paths (nil paths: every
// field of the document).
type leaf struct {
	paths []string
	ps    []Path // paths, registered
	text  []bool
	p     pred
}

func newLeaf(paths []string, p pred) *leaf {
	l := &leaf{paths: paths, p: p}
	for _, f := range paths {
		l.text = append(l.text, IsTextField(f))
		l.ps = append(l.ps, NewPath(f))
	}
	return l
}

func (l *leaf) match(d Doc, c *matchCtx) bool {
	if l.paths == nil {
		found := false
		walkDoc(d, func(path string, vals []Value) bool {
			text := IsTextField(path)
			for i := range vals {
				if l.p.test(&vals[i], text, c) {
					found = true
					return false
				}
			}
			return true
		})
		return found
	}
	for i, f := range l.ps {
		vals := f.Values(d, c.vals[:0])
		c.vals = vals[:0]
		for j := range vals {
			if l.p.test(&vals[j], l.text[i], c) {
				return true
			}
		}
	}
	return false
}

func (l *leaf) fields(add func(string)) {
	if l.paths == nil {
		add("*")
		return
	}
	for _, f := range l.paths {
		add(f)
	}
}

func (l *leaf) write(b *strings.Builder) {
	switch {
	case l.paths == nil:
		b.WriteString("*:")
		l.p.write(b)
	case len(l.paths) == 1:
		writeField(b, l.paths[0])
		b.WriteByte(':')
		l.writePred(b, 0)
	default:
		b.WriteByte('(')
		for i, f := range l.paths {
			if i > 0 {
				b.WriteString(" OR ")
			}
			writeField(b, f)
			b.WriteByte(':')
			l.writePred(b, i)
		}
		b.WriteByte(')')
	}
}

// fieldWriter is a predicate whose query-string form depends on whether
// the field is analysed.
type fieldWriter interface {
	writeFor(b *strings.Builder, text bool)
}

func (l *leaf) writePred(b *strings.Builder, i int) {
	if fw, ok := l.p.(fieldWriter); ok {
		fw.writeFor(b, l.text[i])
		return
	}
	l.p.write(b)
}

// existsNode matches when a field has a value.
type existsNode struct {
	path string
	p    Path
}

func newExists(path string) existsNode { return existsNode{path: path, p: NewPath(path)} }

func (n existsNode) match(d Doc, c *matchCtx) bool {
	vals := n.p.Values(d, c.vals[:0])
	c.vals = vals[:0]
	return len(vals) > 0
}

func (n existsNode) fields(add func(string)) { add(n.path) }
func (n existsNode) write(b *strings.Builder) {
	b.WriteString("_exists_:")
	writeField(b, n.path)
}

// specials are the characters a query string needs escaped.
const specials = "\\+-!():^[]\"{}~*?|&/<>="

func writeField(b *strings.Builder, f string) {
	for _, r := range f {
		if strings.ContainsRune(specials, r) || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u3000' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
}

// writeQuoted writes s as a quoted phrase.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
}

// termPred matches a value equal to the term: exactly for strings, as
// numbers, addresses (or prefix membership), instants or booleans when
// the term reads as one; on text fields, the term's words consecutively.
type termPred struct {
	raw     string
	num     float64
	hasNum  bool
	ip      netip.Addr
	hasIP   bool
	prefix  netip.Prefix
	hasPfx  bool
	t, tEnd time.Time // equal unless the term is a plain date (a whole day)
	hasTime bool
	words   []string
	// anyWord: on text fields any of the words matches (a match query
	// with the "or" operator); otherwise they must appear in order.
	anyWord bool
	// allWords: on text fields every word must appear, in any order (a
	// match query with the "and" operator).
	allWords bool
}

func newTermPred(raw string) *termPred {
	p := &termPred{raw: raw}
	p.num, p.hasNum = parseNumberText(raw)
	p.ip, p.hasIP = parseIPText(raw)
	if !p.hasIP {
		if pfx, ok := parseCIDR(raw); ok {
			p.prefix, p.hasPfx = pfx, true
		}
	}
	if t, dateOnly, ok := parseTimeText(raw); ok {
		p.t, p.tEnd, p.hasTime = t, t, true
		if dateOnly {
			// As Elasticsearch's term on a date field: the whole day.
			p.tEnd = t.AddDate(0, 0, 1).Add(-time.Millisecond)
		}
	}
	p.words = words(raw)
	return p
}

func parseCIDR(s string) (netip.Prefix, bool) {
	i := strings.IndexByte(s, '/')
	if i < 0 || i+1 >= len(s) || len(s)-i > 4 {
		return netip.Prefix{}, false
	}
	a, ok := parseIPText(s[:i])
	if !ok {
		return netip.Prefix{}, false
	}
	bits, err := strconv.Atoi(s[i+1:])
	if err != nil || bits < 0 || bits > a.BitLen() {
		return netip.Prefix{}, false
	}
	pfx, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return pfx, true
}

func (p *termPred) test(v *Value, text bool, c *matchCtx) bool {
	switch v.Kind {
	case KindString:
		if text {
			switch {
			case p.anyWord:
				for _, w := range p.words {
					if containsPhrase(v.Str, []string{w}) {
						return true
					}
				}
				return false
			case p.allWords:
				for _, w := range p.words {
					if !containsPhrase(v.Str, []string{w}) {
						return false
					}
				}
				return len(p.words) > 0
			}
			return containsPhrase(v.Str, p.words)
		}
		s := v.Str
		if s == p.raw {
			return true
		}
		if p.hasNum {
			if f, ok := parseNumberText(s); ok {
				return f == p.num
			}
		}
		if p.hasIP || p.hasPfx {
			if a, ok := parseIPText(s); ok {
				return p.ipMatch(a)
			}
		}
		if p.hasTime {
			if t, _, ok := parseTimeText(s); ok {
				return p.timeMatch(t)
			}
		}
		return false
	case KindNumber:
		return p.hasNum && v.Num == p.num
	case KindIP:
		return (p.hasIP || p.hasPfx) && p.ipMatch(v.IP.WithZone("").Unmap())
	case KindTime:
		return p.hasTime && p.timeMatch(v.Time)
	case KindBool:
		return p.raw == "true" && v.Bool || p.raw == "false" && !v.Bool
	}
	return false
}

func (p *termPred) timeMatch(t time.Time) bool {
	return !t.Before(p.t) && !t.After(p.tEnd)
}

func (p *termPred) ipMatch(a netip.Addr) bool {
	if p.hasIP {
		return a == p.ip
	}
	return p.prefix.Contains(a)
}

func (p *termPred) write(b *strings.Builder) { writeQuoted(b, p.raw) }

// writeFor writes a match query's words as a group on text fields.
func (p *termPred) writeFor(b *strings.Builder, text bool) {
	if !text || !(p.anyWord || p.allWords) || len(p.words) == 0 {
		p.write(b)
		return
	}
	op := " OR "
	if p.allWords {
		op = " AND "
	}
	b.WriteByte('(')
	for i, w := range p.words {
		if i > 0 {
			b.WriteString(op)
		}
		writeQuoted(b, w)
	}
	b.WriteByte(')')
}

// wildcardPred matches a whole value (a word on text fields) against a
// pattern with '*' and '?'.
type wildcardPred struct {
	pattern string // litStar/litQuestion for escaped ones
	lower   string
}

func newWildcardPred(pattern string) *wildcardPred {
	return &wildcardPred{pattern: pattern, lower: strings.ToLower(pattern)}
}

func (p *wildcardPred) test(v *Value, text bool, c *matchCtx) bool {
	if v.Kind == KindString && text {
		return anyWord(v.Str, func(w string) bool { return wildcardMatch(p.lower, w, true) })
	}
	if v.Kind == KindBool {
		return false
	}
	return wildcardMatch(p.pattern, c.valueText(v), false)
}

func (p *wildcardPred) write(b *strings.Builder) {
	for _, r := range p.pattern {
		switch r {
		case litStar:
			b.WriteString(`\*`)
		case litQuestion:
			b.WriteString(`\?`)
		case '*', '?':
			b.WriteRune(r)
		default:
			if strings.ContainsRune(specials, r) || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u3000' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
}

// prefixPred matches values (words on text fields) that start with a
// prefix.
type prefixPred struct{ prefix, lower string }

func (p *prefixPred) test(v *Value, text bool, c *matchCtx) bool {
	if v.Kind == KindString && text {
		return anyWord(v.Str, func(w string) bool {
			return len(w) >= len(p.lower) && strings.EqualFold(w[:len(p.lower)], p.lower)
		})
	}
	if v.Kind == KindBool {
		return false
	}
	return strings.HasPrefix(c.valueText(v), p.prefix)
}

func (p *prefixPred) write(b *strings.Builder) {
	w := &wildcardPred{pattern: escapeWildcard(p.prefix) + "*"}
	w.write(b)
}

// escapeWildcard turns literal '*' and '?' into their pattern stand-ins.
func escapeWildcard(s string) string {
	return strings.NewReplacer("*", string(litStar), "?", string(litQuestion)).Replace(s)
}

// regexpPred matches a whole value (a word on text fields, lowercased)
// against a regular expression.
type regexpPred struct {
	src string
	re  *regexp.Regexp
}

func newRegexpPred(src string) (*regexpPred, error) {
	if _, err := regexp.Compile(src); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(`^(?:` + src + `)$`)
	if err != nil {
		return nil, err
	}
	return &regexpPred{src: src, re: re}, nil
}

func (p *regexpPred) test(v *Value, text bool, c *matchCtx) bool {
	if v.Kind == KindString && text {
		return anyWord(v.Str, func(w string) bool {
			c.text = append(c.text[:0], strings.ToLower(w)...)
			return p.re.Match(c.text)
		})
	}
	if v.Kind == KindBool {
		return false
	}
	return p.re.MatchString(c.valueText(v))
}

func (p *regexpPred) write(b *strings.Builder) {
	b.WriteByte('/')
	s := p.src
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			if s[i+1] == '/' {
				b.WriteString(`\/`) // a literal '/' either way
			} else {
				b.WriteByte('\\')
				b.WriteByte(s[i+1])
			}
			i++
		case s[i] == '/':
			b.WriteString(`\/`)
		default:
			b.WriteByte(s[i])
		}
	}
	b.WriteByte('/')
}
