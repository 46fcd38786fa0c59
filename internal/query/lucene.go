package query

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting of parentheses in a query string (and of
// clauses in the DSL).
const maxDepth = 64

// SyntaxError is a query-string error at a position (1-based byte column).
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("query_string: at %d: %s", e.Pos, e.Msg) }

// ParseQueryString compiles a Lucene query string (the syntax of Kibana's
// search bar and of ElastAlert's query_string filters). See the package
// documentation for the syntax and the matching rules.
func ParseQueryString(q string, opts Options) (Matcher, error) {
	n, err := parseQueryString(q, opts)
	if err != nil {
		return nil, err
	}
	return newCompiled(n, opts), nil
}

func parseQueryString(q string, opts Options) (node, error) {
	switch op := strings.ToUpper(opts.DefaultOperator); op {
	case "", "OR", "AND":
	default:
		return nil, fmt.Errorf("query_string: default operator %q; use OR or AND", opts.DefaultOperator)
	}
	if !utf8.ValidString(q) {
		return nil, &SyntaxError{Pos: 1, Msg: "the query is not valid UTF-8"}
	}
	p := &parser{s: q, opts: opts, defAND: strings.EqualFold(opts.DefaultOperator, "AND")}
	p.skipWS()
	if p.eof() {
		return allNode{}, nil
	}
	n, err := p.clauses(false, "", 0)
	if err != nil {
		return nil, err
	}
	return n, nil
}

type parser struct {
	s      string
	pos    int
	opts   Options
	defAND bool
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func isWS(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u3000' }

func (p *parser) skipWS() {
	for p.pos < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[p.pos:])
		if !isWS(r) {
			return
		}
		p.pos += n
	}
}

const (
	conjNone = iota
	conjAND
	conjOR
)

const (
	modNone = iota
	modMust
	modNot // - or NOT/! (Lucene mode)
)

type item struct {
	conj int
	mod  int  // + or -
	not  bool // NOT or ! (an odd number of them)
	n    node
}

// clauses parses a clause list up to the end (or the closing parenthesis
// of a group).
func (p *parser) clauses(inGroup bool, field string, depth int) (node, error) {
	var items []item
	conj := conjNone
	conjPos := 0
	for {
		p.skipWS()
		if p.eof() {
			break
		}
		if p.s[p.pos] == ')' {
			if !inGroup {
				return nil, p.errf(p.pos, `unbalanced parenthesis; remove this ")" or open it with "("`)
			}
			break
		}
		start := p.pos
		if op, n := p.operator(); op != "" {
			switch op {
			case "AND", "&&", "OR", "||":
				if len(items) == 0 {
					return nil, p.errf(start, "%s needs a clause before it", op)
				}
				if conj != conjNone {
					return nil, p.errf(start, "%s follows another operator; put a clause between them", op)
				}
				conj = conjAND
				if op == "OR" || op == "||" {
					conj = conjOR
				}
				conjPos = start
				p.pos += n
				continue
			}
		}
		it := item{conj: conj}
		conj = conjNone
		// Modifiers: + - (attached), NOT and ! (any number).
		for {
			p.skipWS()
			if p.eof() {
				return nil, p.errf(start, "an operator needs a clause after it")
			}
			c := p.s[p.pos]
			if (c == '+' || c == '-') && it.mod == modNone && !it.not {
				if c == '+' {
					it.mod = modMust
				} else {
					it.mod = modNot
				}
				p.pos++
				continue
			}
			if c == '!' {
				it.not = !it.not
				p.pos++
				continue
			}
			if op, n := p.operator(); op == "NOT" {
				it.not = !it.not
				p.pos += n
				continue
			}
			break
		}
		if p.s[p.pos] == ')' {
			return nil, p.errf(p.pos, "an operator needs a clause after it")
		}
		if op, _ := p.operator(); op != "" {
			return nil, p.errf(p.pos, "%s follows another operator; put a clause between them", op)
		}
		n, err := p.clause(field, depth)
		if err != nil {
			return nil, err
		}
		it.n = n
		items = append(items, it)
	}
	if conj != conjNone {
		return nil, p.errf(conjPos, "an operator needs a clause after it")
	}
	if len(items) == 0 {
		if inGroup {
			return nil, p.errf(p.pos, "empty group; put a clause inside the parentheses")
		}
		return allNode{}, nil
	}
	return p.build(items), nil
}

// operator returns the operator word at the position (AND OR NOT && ||)
// and its length, or "".
func (p *parser) operator() (string, int) {
	rest := p.s[p.pos:]
	for _, op := range [...]string{"AND", "OR", "NOT", "&&", "||"} {
		if strings.HasPrefix(rest, op) {
			if len(rest) == len(op) {
				return op, len(op)
			}
			r, _ := utf8.DecodeRuneInString(rest[len(op):])
			if isWS(r) || r == '(' || r == ')' || r == '"' || (op[0] != 'N' && r == '!') {
				return op, len(op)
			}
			if op == "NOT" && (r == '+' || r == '-' || r == '!') {
				return op, len(op)
			}
		}
	}
	return "", 0
}

// build joins the clauses of one list. When every clause is joined by an
// explicit AND or OR and none carries + or -, the usual precedence holds
// (NOT, then AND, then OR). Otherwise Lucene's rules: +x must match, -x
// and NOT x must not, the others should (must with the AND default
// operator); an explicit AND makes both sides must; should clauses only
// count when there is no must clause.
func (p *parser) build(items []item) node {
	lucene := false
	implicit := false
	hasNot := false
	for i, it := range items {
		if it.mod != modNone {
			lucene = true
		}
		if i > 0 && it.conj == conjNone {
			implicit = true
		}
		if it.not {
			hasNot = true
		}
	}
	if implicit && hasNot {
		lucene = true
	}
	if !lucene {
		var ors []node
		var ands []node
		for i, it := range items {
			n := it.n
			if it.not {
				n = notNode{n}
			}
			orHere := it.conj == conjOR || (it.conj == conjNone && !p.defAND)
			if i > 0 && orHere {
				ors = append(ors, joinAnd(ands))
				ands = nil
			}
			ands = append(ands, n)
		}
		ors = append(ors, joinAnd(ands))
		return joinOr(ors)
	}
	const (
		should = iota
		must
		mustNot
	)
	occ := make([]int, len(items))
	for i, it := range items {
		switch {
		case it.mod == modNot || it.not:
			occ[i] = mustNot
		case it.mod == modMust:
			occ[i] = must
		case p.defAND && it.conj != conjOR:
			occ[i] = must
		default:
			occ[i] = should
		}
		if it.conj == conjAND {
			if occ[i] == should {
				occ[i] = must
			}
			if occ[i-1] == should {
				occ[i-1] = must
			}
		}
		if it.conj == conjOR && p.defAND && occ[i-1] == must && items[i-1].mod == modNone {
			occ[i-1] = should
		}
	}
	var musts, shoulds []node
	for i, it := range items {
		switch occ[i] {
		case must:
			musts = append(musts, it.n)
		case mustNot:
			musts = append(musts, notNode{it.n})
		default:
			shoulds = append(shoulds, it.n)
		}
	}
	hasMust := false
	for i := range items {
		if occ[i] == must {
			hasMust = true
		}
	}
	if !hasMust && len(shoulds) > 0 {
		musts = append(musts, joinOr(shoulds))
	}
	return joinAnd(musts)
}

func joinAnd(ns []node) node {
	if len(ns) == 1 {
		return ns[0]
	}
	return andNode(ns)
}

func joinOr(ns []node) node {
	if len(ns) == 1 {
		return ns[0]
	}
	return orNode(ns)
}

// clause parses one clause: a group, a field query or a bare term.
func (p *parser) clause(field string, depth int) (node, error) {
	start := p.pos
	c := p.s[p.pos]
	var n node
	var err error
	switch c {
	case '(':
		n, err = p.group(field, depth)
	case '"', '/', '[', '{':
		n, err = p.value(field, start, depth)
	default:
		text, wild, end, e := p.term()
		if e != nil {
			return nil, e
		}
		if end < len(p.s) && p.s[end] == ':' {
			if field != "" {
				return nil, p.errf(start, "a field inside %s:( ); write the field outside the parentheses", field)
			}
			p.pos = end + 1
			name := text
			if name == "" {
				return nil, p.errf(start, "empty field name")
			}
			if wild && name != "*" {
				return nil, p.errf(start, "field name %q has a wildcard; name the field", name)
			}
			p.skipWS()
			if p.eof() {
				return nil, p.errf(start, "%s: needs a value after the colon", name)
			}
			if name == "_exists_" {
				vs := p.pos
				f, w, end2, e := p.term()
				if e != nil {
					return nil, e
				}
				if f == "" || w {
					return nil, p.errf(vs, "_exists_: needs a field name")
				}
				p.pos = end2
				n = newExists(p.opts.field(f))
			} else {
				n, err = p.value(name, p.pos, depth)
			}
		} else {
			if c == '*' && text == "*" && field == "" {
				p.pos = end
				n = allNode{}
			} else {
				n, err = p.value(field, start, depth)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return n, p.suffix()
}

// suffix skips a boost (^2) and refuses fuzzy and proximity (~).
func (p *parser) suffix() error {
	if p.eof() {
		return nil
	}
	switch p.s[p.pos] {
	case '^':
		p.pos++
		for p.pos < len(p.s) && (p.s[p.pos] >= '0' && p.s[p.pos] <= '9' || p.s[p.pos] == '.') {
			p.pos++
		}
	case '~':
		return p.errf(p.pos, "fuzzy and proximity searches (~) are not supported; remove the ~")
	}
	return nil
}

func (p *parser) group(field string, depth int) (node, error) {
	open := p.pos
	if depth >= maxDepth {
		return nil, p.errf(open, "parentheses nested deeper than %d", maxDepth)
	}
	p.pos++
	n, err := p.clauses(true, field, depth+1)
	if err != nil {
		return nil, err
	}
	if p.eof() || p.s[p.pos] != ')' {
		return nil, p.errf(open, `unbalanced parenthesis; close it with ")"`)
	}
	p.pos++
	return n, nil
}

// paths returns the paths a clause of field searches (nil: every field).
func (p *parser) paths(field string) []string {
	switch field {
	case "*":
		return nil
	case "":
		if len(p.opts.DefaultFields) == 0 {
			return nil
		}
		out := make([]string, len(p.opts.DefaultFields))
		for i, f := range p.opts.DefaultFields {
			if f == "*" {
				return nil
			}
			out[i] = p.opts.field(f)
		}
		return out
	}
	return []string{p.opts.field(field)}
}

// value parses what follows "field:" (or a bare value when field is "").
func (p *parser) value(field string, start, depth int) (node, error) {
	c := p.s[p.pos]
	paths := p.paths(field)
	switch c {
	case '(':
		if field == "" || field == "*" {
			return p.group("", depth)
		}
		return p.group(field, depth)
	case '"':
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		return newLeaf(paths, newTermPred(s)), nil
	case '/':
		re, err := p.regex()
		if err != nil {
			return nil, err
		}
		rp, err := newRegexpPred(re)
		if err != nil {
			return nil, p.errf(start, "regular expression /%s/: %v", re, err)
		}
		return newLeaf(paths, rp), nil
	case '[', '{':
		return p.rangeQuery(paths)
	case '>', '<':
		return p.compare(paths)
	case ')':
		return nil, p.errf(p.pos, "%s: needs a value", field)
	}
	text, wild, end, err := p.term()
	if err != nil {
		return nil, err
	}
	if end == p.pos {
		r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
		return nil, p.errf(p.pos, "unexpected %q; escape it with a backslash", r)
	}
	p.pos = end
	if wild {
		if strings.Trim(text, "*") == "" {
			// field:* is exists; a bare * matches everything.
			if paths == nil {
				return allNode{}, nil
			}
			var ns []node
			for _, f := range paths {
				ns = append(ns, newExists(f))
			}
			return joinOr(ns), nil
		}
		return newLeaf(paths, newWildcardPred(text)), nil
	}
	return newLeaf(paths, newTermPred(text)), nil
}

// term lexes an unquoted term at the position without consuming it: its
// unescaped text (escaped * and ? as litStar/litQuestion when wild),
// whether it has wildcards, and where it ends.
func (p *parser) term() (string, bool, int, error) {
	var b strings.Builder
	i := p.pos
	wild := false
	for i < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[i:])
		if isWS(r) {
			break
		}
		switch r {
		case '\\':
			if i+n >= len(p.s) {
				return "", false, 0, p.errf(i, "a backslash at the end escapes nothing; remove it or write \\\\")
			}
			e, m := utf8.DecodeRuneInString(p.s[i+n:])
			switch e {
			case '*':
				b.WriteRune(litStar)
			case '?':
				b.WriteRune(litQuestion)
			default:
				b.WriteRune(e)
			}
			i += n + m
			continue
		case '*', '?':
			wild = true
			b.WriteRune(r)
			i += n
			continue
		case '/':
			// A CIDR suffix after an address (source.ip:10.0.0.0/8);
			// anywhere else a slash ends the term, as in Lucene.
			j := i + 1
			for j < len(p.s) && j-i <= 3 && p.s[j] >= '0' && p.s[j] <= '9' {
				j++
			}
			if j > i+1 && (j == len(p.s) || strings.ContainsRune(" \t\r\n)^", rune(p.s[j]))) {
				if _, ok := parseIPText(b.String()); ok {
					b.WriteString(p.s[i:j])
					i = j
					continue
				}
			}
		case '!', '(', ')', ':', '^', '[', ']', '"', '{', '}', '~':
		default:
			if (r == '+' || r == '-') && i == p.pos {
				// a modifier, not part of a term
			} else {
				b.WriteRune(r)
				i += n
				continue
			}
		}
		break
	}
	s := b.String()
	if !wild {
		s = strings.NewReplacer(string(litStar), "*", string(litQuestion), "?").Replace(s)
	}
	return s, wild, i, nil
}

// quoted reads a quoted phrase ("..." with backslash escapes).
func (p *parser) quoted() (string, error) {
	open := p.pos
	var b strings.Builder
	i := p.pos + 1
	for i < len(p.s) {
		c := p.s[i]
		switch c {
		case '\\':
			if i+1 >= len(p.s) {
				return "", p.errf(open, `unterminated quoted phrase; close it with "`)
			}
			r, m := utf8.DecodeRuneInString(p.s[i+1:])
			b.WriteRune(r)
			i += 1 + m
			continue
		case '"':
			p.pos = i + 1
			return b.String(), nil
		}
		b.WriteByte(c)
		i++
	}
	return "", p.errf(open, `unterminated quoted phrase; close it with "`)
}

// regex reads /.../: \/ is a slash, other escapes stay for the regexp.
func (p *parser) regex() (string, error) {
	open := p.pos
	var b strings.Builder
	i := p.pos + 1
	for i < len(p.s) {
		c := p.s[i]
		switch c {
		case '\\':
			if i+1 >= len(p.s) {
				return "", p.errf(open, "unterminated regular expression; close it with / (write \\/ for a slash inside)")
			}
			if p.s[i+1] == '/' {
				b.WriteByte('/')
			} else {
				b.WriteByte('\\')
				b.WriteByte(p.s[i+1])
			}
			i += 2
			continue
		case '/':
			p.pos = i + 1
			return b.String(), nil
		}
		b.WriteByte(c)
		i++
	}
	return "", p.errf(open, "unterminated regular expression; close it with / (write \\/ for a slash inside)")
}

// rangeQuery parses [a TO b], {a TO b} and the mixed forms.
func (p *parser) rangeQuery(paths []string) (node, error) {
	open := p.pos
	loIncl := p.s[p.pos] == '['
	p.pos++
	lo, err := p.rangeBound(open)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if !strings.HasPrefix(p.s[p.pos:], "TO") {
		return nil, p.errf(p.pos, "a range needs TO between its ends: [a TO b]")
	}
	p.pos += 2
	hi, err := p.rangeBound(open)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.eof() || (p.s[p.pos] != ']' && p.s[p.pos] != '}') {
		return nil, p.errf(open, `unterminated range; close it with "]" or "}"`)
	}
	hiIncl := p.s[p.pos] == ']'
	p.pos++
	return p.rangeLeaf(paths, lo, hi, loIncl, hiIncl)
}

func (p *parser) rangeLeaf(paths []string, lo, hi bound, loIncl, hiIncl bool) (node, error) {
	if lo.open && hi.open {
		if paths == nil {
			return allNode{}, nil
		}
	}
	return newLeaf(paths, newRangePred(lo, hi, loIncl, hiIncl)), nil
}

func (p *parser) rangeBound(open int) (bound, error) {
	p.skipWS()
	if p.eof() {
		return bound{}, p.errf(open, `unterminated range; close it with "]" or "}"`)
	}
	if p.s[p.pos] == '"' {
		s, err := p.quoted()
		if err != nil {
			return bound{}, err
		}
		return newBound(s, false), nil
	}
	start := p.pos
	for p.pos < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[p.pos:])
		if isWS(r) || r == ']' || r == '}' {
			break
		}
		p.pos += n
	}
	s := p.s[start:p.pos]
	if s == "" {
		return bound{}, p.errf(start, "a range end is missing; write * for an open end")
	}
	return newBound(s, s == "*"), nil
}

// compare parses >x, >=x, <x, <=x.
func (p *parser) compare(paths []string) (node, error) {
	start := p.pos
	op := string(p.s[p.pos])
	p.pos++
	if p.pos < len(p.s) && p.s[p.pos] == '=' {
		op += "="
		p.pos++
	}
	var s string
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		q, err := p.quoted()
		if err != nil {
			return nil, err
		}
		s = q
	} else {
		vs := p.pos
		for p.pos < len(p.s) {
			r, n := utf8.DecodeRuneInString(p.s[p.pos:])
			if isWS(r) || r == ')' {
				break
			}
			p.pos += n
		}
		s = p.s[vs:p.pos]
	}
	if s == "" {
		return nil, p.errf(start, "%s needs a value after it", op)
	}
	b := newBound(s, false)
	open := newBound("", true)
	switch op {
	case ">":
		return p.rangeLeaf(paths, b, open, false, true)
	case ">=":
		return p.rangeLeaf(paths, b, open, true, true)
	case "<":
		return p.rangeLeaf(paths, open, b, true, false)
	}
	return p.rangeLeaf(paths, open, b, true, true)
}
