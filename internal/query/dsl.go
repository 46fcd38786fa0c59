package query

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// supportedQueries are the DSL clauses CompileDSL knows.
var supportedQueries = []string{"term", "terms", "match", "match_phrase", "range", "exists", "prefix",
	"wildcard", "regexp", "bool", "query_string", "match_all", "match_none", "type", "query"}

// CompileDSL compiles one clause of the Elasticsearch query DSL, as
// decoded from YAML or JSON (see the package documentation for what is
// supported). The ElastAlert wrapper {query: {...}} is accepted.
func CompileDSL(q any, opts Options) (Matcher, error) {
	c := &dslCompiler{opts: opts}
	n, err := c.clause(q, "query", 0)
	if err != nil {
		return nil, err
	}
	return newCompiled(n, opts), nil
}

// CompileFilters compiles an ElastAlert filter list: its clauses are
// ANDed, and an empty list matches everything.
func CompileFilters(filters []any, opts Options) (Matcher, error) {
	c := &dslCompiler{opts: opts}
	var ns []node
	for i, f := range filters {
		n, err := c.clause(f, fmt.Sprintf("filter[%d]", i), 0)
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		return newCompiled(allNode{}, opts), nil
	}
	return newCompiled(joinAnd(ns), opts), nil
}

type dslCompiler struct{ opts Options }

func errAt(at, format string, args ...any) error {
	return fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...))
}

// asMap returns v as a map with string keys (YAML libraries may give
// map[any]any).
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[fmt.Sprint(k)] = e
		}
		return out, true
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// kindOf names a decoded value's type for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "an object"
	}
	if _, ok := toFloat(v); ok {
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// scalar returns a term value as text.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	if f, ok := toFloat(v); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", false
		}
		return string(appendNumber(nil, f)), true
	}
	return "", false
}

func (c *dslCompiler) clause(v any, at string, depth int) (node, error) {
	if depth > maxDepth {
		return nil, errAt(at, "nested deeper than %d", maxDepth)
	}
	m, ok := asMap(v)
	if !ok {
		return nil, errAt(at, "want a query object such as {term: {field: value}}, got %s", kindOf(v))
	}
	if len(m) != 1 {
		if len(m) == 0 {
			return nil, errAt(at, "empty query object; name a query: %s", strings.Join(supportedQueries, ", "))
		}
		return nil, errAt(at, "one query per object, found %s; put several in a bool or in the filter list", strings.Join(sortedKeys(m), ", "))
	}
	var name string
	var body any
	for k, b := range m {
		name, body = k, b
	}
	at2 := at + "." + name
	switch name {
	case "query":
		return c.clause(body, at2, depth+1)
	case "term":
		return c.fieldQuery(body, at2, "value", []string{"boost", "case_insensitive"}, func(f string, val any, params map[string]any) (node, error) {
			s, ok := scalar(val)
			if !ok {
				return nil, errAt(at2+"."+f, "the value must be a string, number or boolean, got %s", kindOf(val))
			}
			if ci, _ := params["case_insensitive"].(bool); ci {
				return newLeaf(c.paths(f), newWildcardCI(s)), nil
			}
			return newLeaf(c.paths(f), newTermPred(s)), nil
		})
	case "terms":
		bm, ok := asMap(body)
		if !ok {
			return nil, errAt(at2, "want {field: [values]}, got %s", kindOf(body))
		}
		var field string
		var list []any
		for _, k := range sortedKeys(bm) {
			if k == "boost" {
				continue
			}
			if field != "" {
				return nil, errAt(at2, "one field per terms query, found %s and %s", field, k)
			}
			l, ok := bm[k].([]any)
			if !ok {
				return nil, errAt(at2+"."+k, "want a list of values, got %s", kindOf(bm[k]))
			}
			field, list = k, l
		}
		if field == "" {
			return nil, errAt(at2, "name a field: {terms: {field: [values]}}")
		}
		if len(list) == 0 {
			return noneNode{}, nil
		}
		var ors []node
		for i, e := range list {
			s, ok := scalar(e)
			if !ok {
				return nil, errAt(fmt.Sprintf("%s.%s[%d]", at2, field, i), "want a string, number or boolean, got %s", kindOf(e))
			}
			ors = append(ors, newLeaf(c.paths(field), newTermPred(s)))
		}
		return joinOr(ors), nil
	case "match", "match_phrase":
		params := []string{"boost", "operator", "lenient", "zero_terms_query"}
		if name == "match_phrase" {
			params = []string{"boost", "slop"}
		}
		return c.fieldQuery(body, at2, "query", params, func(f string, val any, pm map[string]any) (node, error) {
			s, ok := scalar(val)
			if !ok {
				return nil, errAt(at2+"."+f, "the query must be a string, number or boolean, got %s", kindOf(val))
			}
			p := newTermPred(s)
			if name == "match" {
				op, _ := pm["operator"].(string)
				switch strings.ToLower(op) {
				case "", "or":
					p.anyWord = true
				case "and":
					p.allWords = true
				default:
					return nil, errAt(at2+"."+f+".operator", "%q; use or or and", op)
				}
			} else if sl, ok := pm["slop"]; ok {
				if n, _ := toFloat(sl); n != 0 {
					return nil, errAt(at2+"."+f+".slop", "%s is not supported (only 0); remove it", f2s(n))
				}
			}
			return newLeaf(c.paths(f), p), nil
		})
	case "range":
		return c.rangeQuery(body, at2)
	case "exists":
		bm, ok := asMap(body)
		if !ok {
			return nil, errAt(at2, "want {field: name}, got %s", kindOf(body))
		}
		if err := onlyKeys(bm, at2, "field", "boost"); err != nil {
			return nil, err
		}
		f, ok := bm["field"].(string)
		if !ok || f == "" {
			return nil, errAt(at2, "want {field: name}")
		}
		return newExists(c.opts.field(f)), nil
	case "prefix":
		return c.fieldQuery(body, at2, "value", []string{"boost", "case_insensitive", "rewrite"}, func(f string, val any, _ map[string]any) (node, error) {
			s, ok := val.(string)
			if !ok {
				return nil, errAt(at2+"."+f, "the prefix must be a string, got %s", kindOf(val))
			}
			return newLeaf(c.paths(f), &prefixPred{prefix: s, lower: strings.ToLower(s)}), nil
		})
	case "wildcard":
		return c.fieldQuery(body, at2, "value", []string{"boost", "case_insensitive", "rewrite", "wildcard"}, func(f string, val any, pm map[string]any) (node, error) {
			if w, ok := pm["wildcard"]; ok && val == nil {
				val = w
			}
			s, ok := val.(string)
			if !ok {
				return nil, errAt(at2+"."+f, "the pattern must be a string, got %s", kindOf(val))
			}
			return newLeaf(c.paths(f), newWildcardPred(dslWildcard(s))), nil
		})
	case "regexp":
		return c.fieldQuery(body, at2, "value", []string{"boost", "flags", "max_determinized_states", "rewrite", "case_insensitive"}, func(f string, val any, _ map[string]any) (node, error) {
			s, ok := val.(string)
			if !ok {
				return nil, errAt(at2+"."+f, "the expression must be a string, got %s", kindOf(val))
			}
			p, err := newRegexpPred(s)
			if err != nil {
				return nil, errAt(at2+"."+f, "regular expression %q: %v", s, err)
			}
			return newLeaf(c.paths(f), p), nil
		})
	case "ids":
		return nil, errAt(at2, "ids is not supported: live events have no document id yet")
	case "bool":
		return c.boolQuery(body, at2, depth)
	case "query_string":
		return c.queryString(body, at2)
	case "match_all", "match_none":
		if body != nil {
			bm, ok := asMap(body)
			if !ok {
				return nil, errAt(at2, "want {} or {boost: n}, got %s", kindOf(body))
			}
			if err := onlyKeys(bm, at2, "boost"); err != nil {
				return nil, err
			}
		}
		if name == "match_all" {
			return allNode{}, nil
		}
		return noneNode{}, nil
	case "type":
		// Mapping types are gone since Elasticsearch 7: every document
		// has the one type, so the clause matches everything.
		return allNode{}, nil
	}
	return nil, errAt(at, "unknown query %q; supported: %s", name, strings.Join(supportedQueries, ", "))
}

func f2s(f float64) string { return string(appendNumber(nil, f)) }

// onlyKeys fails on a parameter not in allowed.
func onlyKeys(m map[string]any, at string, allowed ...string) error {
	for _, k := range sortedKeys(m) {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
			}
		}
		if !ok {
			return errAt(at, "unknown parameter %q; supported: %s", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func (c *dslCompiler) paths(f string) []string { return []string{c.opts.field(f)} }

// fieldQuery handles the {field: value} and {field: {valueKey: v, ...}}
// forms shared by term, match, prefix, wildcard and regexp.
func (c *dslCompiler) fieldQuery(body any, at, valueKey string, params []string, build func(f string, val any, params map[string]any) (node, error)) (node, error) {
	bm, ok := asMap(body)
	if !ok || len(bm) == 0 {
		return nil, errAt(at, "want {field: value}, got %s", kindOf(body))
	}
	var fields []string
	for _, k := range sortedKeys(bm) {
		if k != "boost" && k != "_name" {
			fields = append(fields, k)
		}
	}
	if len(fields) != 1 {
		return nil, errAt(at, "want one field, found %d (%s)", len(fields), strings.Join(fields, ", "))
	}
	f := fields[0]
	v := bm[f]
	if pm, ok := asMap(v); ok {
		allowed := append([]string{valueKey, "_name"}, params...)
		if err := onlyKeys(pm, at+"."+f, allowed...); err != nil {
			return nil, err
		}
		return build(f, pm[valueKey], pm)
	}
	return build(f, v, nil)
}

// dslWildcard turns a DSL wildcard pattern (backslash escapes) into the
// pattern form of wildcardPred.
func dslWildcard(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '*':
				b.WriteRune(litStar)
			case '?':
				b.WriteRune(litQuestion)
			default:
				b.WriteByte(s[i+1])
			}
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// newWildcardCI is a case-insensitive exact term (term with
// case_insensitive: true): a wildcard pattern without wildcards, folded.
func newWildcardCI(s string) pred {
	return &ciTermPred{s: s}
}

type ciTermPred struct{ s string }

func (p *ciTermPred) test(v *Value, text bool, c *matchCtx) bool {
	if v.Kind == KindBool {
		return false
	}
	return strings.EqualFold(c.valueText(v), p.s)
}

func (p *ciTermPred) write(b *strings.Builder) {
	(&regexpPred{src: "(?i)" + regexp.QuoteMeta(p.s)}).write(b)
}

func (c *dslCompiler) rangeQuery(body any, at string) (node, error) {
	bm, ok := asMap(body)
	if !ok || len(bm) != 1 {
		return nil, errAt(at, "want {field: {gte: a, lt: b}} with one field")
	}
	var f string
	for k := range bm {
		f = k
	}
	at2 := at + "." + f
	pm, ok := asMap(bm[f])
	if !ok {
		return nil, errAt(at2, "want {gt, gte, lt, lte: value}, got %s", kindOf(bm[f]))
	}
	if err := onlyKeys(pm, at2, "gt", "gte", "lt", "lte", "from", "to", "include_lower", "include_upper", "format", "boost", "relation"); err != nil {
		return nil, err
	}
	lo, hi := newBound("", true), newBound("", true)
	loIncl, hiIncl := true, true
	get := func(k string) (bound, bool, error) {
		v, ok := pm[k]
		if !ok || v == nil {
			return bound{}, false, nil
		}
		s, ok := scalar(v)
		if !ok {
			return bound{}, false, errAt(at2, "%q must be a number or a date, got %s", k, kindOf(v))
		}
		if _, isBool := v.(bool); isBool {
			return bound{}, false, errAt(at2, "%q must be a number or a date, got %s", k, kindOf(v))
		}
		if _, isStr := v.(string); isStr && strings.HasPrefix(s, "now") {
			if _, err := parseDateMath(s); err != nil {
				return bound{}, false, errAt(at2, "%q: %v", k, err)
			}
		}
		return newBound(s, false), true, nil
	}
	boolParam := func(k string) (bool, error) {
		v, ok := pm[k]
		if !ok {
			return true, nil
		}
		b, ok := v.(bool)
		if !ok {
			return false, errAt(at2, "%q must be true or false, got %s", k, kindOf(v))
		}
		return b, nil
	}
	var err error
	if loIncl, err = boolParam("include_lower"); err != nil {
		return nil, err
	}
	if hiIncl, err = boolParam("include_upper"); err != nil {
		return nil, err
	}
	if b, ok, err := get("from"); err != nil {
		return nil, err
	} else if ok {
		lo = b
	}
	if b, ok, err := get("to"); err != nil {
		return nil, err
	} else if ok {
		hi = b
	}
	for _, k := range []string{"gt", "gte"} {
		if b, ok, err := get(k); err != nil {
			return nil, err
		} else if ok {
			lo, loIncl = b, k == "gte"
		}
	}
	for _, k := range []string{"lt", "lte"} {
		if b, ok, err := get(k); err != nil {
			return nil, err
		} else if ok {
			hi, hiIncl = b, k == "lte"
		}
	}
	return newLeaf(c.paths(f), newRangePred(lo, hi, loIncl, hiIncl)), nil
}

func (c *dslCompiler) boolQuery(body any, at string, depth int) (node, error) {
	bm, ok := asMap(body)
	if !ok {
		return nil, errAt(at, "want {must: [...], should: [...], ...}, got %s", kindOf(body))
	}
	if err := onlyKeys(bm, at, "must", "filter", "should", "must_not", "minimum_should_match", "boost", "_name"); err != nil {
		return nil, err
	}
	list := func(k string) ([]node, error) {
		v, ok := bm[k]
		if !ok || v == nil {
			return nil, nil
		}
		items, isList := v.([]any)
		if !isList {
			n, err := c.clause(v, at+"."+k, depth+1)
			if err != nil {
				return nil, err
			}
			return []node{n}, nil
		}
		var out []node
		for i, e := range items {
			n, err := c.clause(e, fmt.Sprintf("%s.%s[%d]", at, k, i), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	}
	must, err := list("must")
	if err != nil {
		return nil, err
	}
	filter, err := list("filter")
	if err != nil {
		return nil, err
	}
	should, err := list("should")
	if err != nil {
		return nil, err
	}
	mustNot, err := list("must_not")
	if err != nil {
		return nil, err
	}
	msm := 0
	if len(must) == 0 && len(filter) == 0 && len(should) > 0 {
		msm = 1
	}
	if v, ok := bm["minimum_should_match"]; ok {
		msm, err = minimumShouldMatch(v, len(should), at+".minimum_should_match")
		if err != nil {
			return nil, err
		}
	}
	var all []node
	all = append(all, must...)
	all = append(all, filter...)
	for _, n := range mustNot {
		all = append(all, notNode{n})
	}
	switch {
	case msm > len(should):
		return noneNode{}, nil
	case msm == 1:
		all = append(all, joinOr(should))
	case msm > 1 && msm == len(should):
		all = append(all, should...)
	case msm > 1:
		all = append(all, atLeastNode{min: msm, xs: should})
	}
	if len(all) == 0 {
		return allNode{}, nil
	}
	return joinAnd(all), nil
}

// minimumShouldMatch reads an integer, a negative integer (all but n), or
// a percentage ("75%", "-25%") of n should clauses.
func minimumShouldMatch(v any, n int, at string) (int, error) {
	var k int
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if strings.HasSuffix(s, "%") {
			p, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
			if err != nil || p < -100 || p > 100 {
				return 0, errAt(at, "%q; write an integer or a percentage such as 75%%", x)
			}
			if p < 0 {
				k = n - (-p*n)/100
			} else {
				k = p * n / 100
			}
			return max(k, 0), nil
		}
		i, err := strconv.Atoi(s)
		if err != nil {
			return 0, errAt(at, "%q; write an integer or a percentage such as 75%%", x)
		}
		k = i
	default:
		f, ok := toFloat(v)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1e6 {
			return 0, errAt(at, "want an integer, got %s", kindOf(v))
		}
		k = int(f)
	}
	if k < 0 {
		k = n + k
	}
	return max(k, 0), nil
}

func (c *dslCompiler) queryString(body any, at string) (node, error) {
	var bm map[string]any
	if s, ok := body.(string); ok {
		bm = map[string]any{"query": s}
	} else if m, ok := asMap(body); ok {
		bm = m
	} else {
		return nil, errAt(at, "want {query: \"...\"}, got %s", kindOf(body))
	}
	if err := onlyKeys(bm, at, "query", "default_field", "default_operator", "fields", "analyze_wildcard", "boost", "lenient", "allow_leading_wildcard"); err != nil {
		return nil, err
	}
	q, ok := bm["query"].(string)
	if !ok {
		return nil, errAt(at, "want query: a string, got %s", kindOf(bm["query"]))
	}
	opts := c.opts
	if v, ok := bm["default_operator"]; ok {
		s, ok := v.(string)
		if !ok || (!strings.EqualFold(s, "and") && !strings.EqualFold(s, "or")) {
			return nil, errAt(at+".default_operator", "%v; use OR or AND", v)
		}
		opts.DefaultOperator = strings.ToUpper(s)
	}
	var fields []string
	if v, ok := bm["default_field"]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errAt(at+".default_field", "want a field name, got %s", kindOf(v))
		}
		if s != "*" {
			fields = append(fields, s)
		}
	}
	if v, ok := bm["fields"]; ok {
		l, ok := v.([]any)
		if !ok {
			return nil, errAt(at+".fields", "want a list of field names, got %s", kindOf(v))
		}
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, errAt(fmt.Sprintf("%s.fields[%d]", at, i), "want a field name, got %s", kindOf(e))
			}
			if s == "*" {
				fields = nil
				break
			}
			fields = append(fields, strings.SplitN(s, "^", 2)[0])
		}
	}
	if _, ok := bm["default_field"]; ok || bm["fields"] != nil {
		opts.DefaultFields = fields
	}
	n, err := parseQueryString(q, opts)
	if err != nil {
		return nil, errAt(at+".query", "%v", err)
	}
	return n, nil
}
