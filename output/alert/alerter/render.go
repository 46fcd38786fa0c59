package alerter

import (
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"
)

var renderKeys = []string{
	"alert_subject", "alert_subject_args", "alert_subject_max_len",
	"alert_text", "alert_text_args", "alert_text_kw", "alert_text_type",
	"alert_missing_value", "summary_table_fields", "summary_prefix", "summary_suffix",
	"include", "top_count_keys",
}

// Separator is what ElastAlert puts between the matches of an aggregated alert.
const separator = "\n----------------------------------------\n"

// Renderer renders an alert's subject and body as ElastAlert does. It is
// immutable after NewRenderer and safe for concurrent use.
type Renderer struct {
	opts Options

	subject     string
	hasSubject  bool
	subjectArgs []string
	subjectMax  int

	text     string
	hasText  bool
	textArgs []string
	textKw   map[string]string // match field -> format name
	textType string
	textTmpl *template // alert_text_type: alert_text_jinja

	missing string

	aggregation   bool
	summaryFields []string
	summaryPrefix string
	summarySuffix string

	include      []string
	topCountKeys []string
}

var textTypes = []string{"alert_text_only", "alert_text_jinja", "exclude_fields", "aggregation_summary_only"}

// NewRenderer reads the rendering keys of a rule (alert_subject,
// alert_subject_args, alert_subject_max_len, alert_text, alert_text_args,
// alert_text_kw, alert_text_type, alert_missing_value, summary_table_fields,
// summary_prefix, summary_suffix, include, top_count_keys) and checks that
// the formats and their arguments agree.
func NewRenderer(opt Options) (*Renderer, error) {
	o := &opts{m: opt}
	r := &Renderer{opts: opt}
	r.subject = o.str("alert_subject", "")
	r.hasSubject = o.has("alert_subject")
	r.subjectArgs = o.strs("alert_subject_args")
	r.subjectMax = o.integer("alert_subject_max_len", 2048)
	if r.subjectMax <= 0 {
		o.fail("alert_subject_max_len: %d is not positive; raise it or remove it to use 2048", r.subjectMax)
	}
	r.text = o.str("alert_text", "")
	r.hasText = o.has("alert_text")
	r.textArgs = o.strs("alert_text_args")
	r.textType = o.str("alert_text_type", "")
	if r.textType != "" && r.textType != "default" && !contains(textTypes, r.textType) {
		o.fail("alert_text_type: %q is not a text type; use one of %s or remove it", r.textType, strings.Join(textTypes, ", "))
	}
	if kw := o.mapping("alert_text_kw"); kw != nil {
		r.textKw = map[string]string{}
		for field, name := range kw {
			s, ok := name.(string)
			if !ok {
				o.fail("alert_text_kw: the name for %s is %s, not a string; write alert_text_kw: {%s: name}", field, short(name), field)
				continue
			}
			r.textKw[field] = s
		}
	}
	r.missing = o.str("alert_missing_value", "<MISSING VALUE>")
	r.aggregation = o.has("aggregation")
	r.summaryFields = o.strs("summary_table_fields")
	r.summaryPrefix = o.str("summary_prefix", "")
	r.summarySuffix = o.str("summary_suffix", "")
	r.include = o.strs("include")
	r.topCountKeys = o.strs("top_count_keys")

	if r.hasSubject && o.has("alert_subject_args") {
		if err := checkFormat(r.subject, len(r.subjectArgs), nil); err != nil {
			o.fail("alert_subject: %v", err)
		}
	}
	if r.textType == "alert_text_jinja" {
		t, err := parseTemplate(r.text)
		if err != nil {
			o.fail("alert_text: %v", err)
		}
		r.textTmpl = t
	} else if o.has("alert_text_args") {
		if err := checkFormat(r.text, len(r.textArgs), nil); err != nil {
			o.fail("alert_text: %v", err)
		}
	} else if r.textKw != nil {
		names := map[string]bool{}
		for _, n := range r.textKw {
			names[n] = true
		}
		if err := checkFormat(r.text, 0, names); err != nil {
			o.fail("alert_text: %v", err)
		}
	}
	if err := o.err(); err != nil {
		return nil, err
	}
	return r, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// HasSubject reports whether the rule sets alert_subject (alerters with a
// default subject of their own, such as email, use theirs otherwise).
func (r *Renderer) HasSubject() bool { return r.hasSubject }

// args looks up format arguments in the match, then among the alert's
// counts (num_hits, num_matches) and the rule's own keys (as ElastAlert
// does), then falls back to alert_missing_value.
func (r *Renderer) args(a *Alert, m Match, names []string, esc func(string) string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		v, ok := Lookup(m, n)
		if !ok || v == nil {
			switch {
			case n == "num_hits" && a.NumHits > 0:
				v, ok = a.NumHits, true
			case n == "num_matches":
				v, ok = len(a.Matches), true
			}
		}
		if !ok || v == nil {
			if rv, rok := r.opts[n]; rok && truthy(rv) {
				v, ok = rv, true
			}
		}
		if !ok || v == nil {
			out[i] = r.missing
			continue
		}
		out[i] = esc(pyStr(v))
	}
	return out
}

// truthy is Python's truth test for the values a YAML rule holds.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case bool:
		return x
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	if f, ok := number(v); ok {
		return f != 0
	}
	return true
}

func first(a *Alert) Match {
	if len(a.Matches) == 0 {
		return Match{}
	}
	return a.Matches[0]
}

// Subject renders alert_subject with alert_subject_args from the first match,
// cut to alert_subject_max_len characters; without alert_subject it is the
// rule name.
func (r *Renderer) Subject(a *Alert) string {
	if !r.hasSubject {
		return a.Rule
	}
	s := r.subject
	if r.subjectArgs != nil {
		s = pyFormat(s, r.args(a, first(a), r.subjectArgs, noEscape), nil)
	}
	if rs := []rune(s); len(rs) > r.subjectMax {
		s = string(rs[:r.subjectMax])
	}
	return s
}

func noEscape(s string) string { return s }

// Body renders the alert's text as ElastAlert does: the aggregation summary
// table, then for each match the rule name (when there is no alert_text),
// alert_text, the top counts and the match's fields.
func (r *Renderer) Body(a *Alert) string { return r.body(a, noEscape) }

// BodyHTML is Body for an HTML e-mail: everything that comes from a document
// (values, field names, the rule name) is escaped; alert_text itself is the
// rule author's markup and is kept. Lines are kept as they are; wrap the
// result in <pre> to show them as text.
func (r *Renderer) BodyHTML(a *Alert) string { return r.body(a, html.EscapeString) }

func (r *Renderer) body(a *Alert, esc func(string) string) string {
	var sb strings.Builder
	sb.WriteString(r.summary(a, esc))
	if r.textType == "aggregation_summary_only" {
		return sb.String()
	}
	matches := a.Matches
	if len(matches) == 0 {
		matches = []Match{{}}
	}
	for _, m := range matches {
		r.matchText(&sb, a, m, esc)
		if len(matches) > 1 {
			sb.WriteString(separator)
		}
	}
	return sb.String()
}

func (r *Renderer) matchText(sb *strings.Builder, a *Alert, m Match, esc func(string) string) {
	start := sb.Len()
	if !r.hasText {
		sb.WriteString(esc(a.Rule))
		sb.WriteString("\n\n")
	}
	switch {
	case r.textTmpl != nil:
		sb.WriteString(r.textTmpl.render(a.Rule, m, esc))
	case r.textArgs != nil:
		sb.WriteString(pyFormat(r.text, r.args(a, m, r.textArgs, esc), nil))
	case r.textKw != nil:
		kw := make(map[string]string, len(r.textKw))
		for field, name := range r.textKw {
			kw[name] = r.args(a, m, []string{field}, esc)[0]
		}
		sb.WriteString(pyFormat(r.text, nil, kw))
	default:
		sb.WriteString(r.text)
	}
	ensureBlankLine(sb, start)
	if r.textType == "alert_text_only" || r.textType == "alert_text_jinja" {
		return
	}
	if len(r.topCountKeys) > 0 {
		for _, field := range r.topCountKeys {
			sb.WriteString(esc(field) + ":\n")
			counts := a.TopCounts[field]
			if counts == nil {
				// ElastAlert's form: the counts in the match itself
				if tm, ok := toMap(m["top_events_"+field]); ok {
					counts = map[string]int{}
					for k, v := range tm {
						if f, ok := number(v); ok {
							counts[k] = int(f)
						}
					}
				}
			}
			if len(counts) == 0 {
				sb.WriteString("No events found.\n")
			} else {
				terms := sortedKeys(counts)
				sort.SliceStable(terms, func(i, j int) bool { return counts[terms[i]] > counts[terms[j]] })
				for _, t := range terms {
					fmt.Fprintf(sb, "%s: %d\n", esc(t), counts[t])
				}
			}
			sb.WriteString("\n")
		}
	}
	if r.textType == "exclude_fields" {
		return
	}
	flat := map[string]any{}
	flatten("", m, flat)
	for _, k := range sortedKeys(flat) {
		if strings.HasPrefix(k, "top_events_") || !r.shown(k) {
			continue
		}
		v := flat[k]
		var s string
		switch v.(type) {
		case []any, map[string]any:
			if b, err := marshal(v, true); err == nil {
				s = string(b)
			} else {
				s = pyStr(v)
			}
		default:
			s = pyStr(v)
		}
		sb.WriteString(esc(k) + ": " + esc(s) + "\n")
	}
}

// ensureBlankLine ends the text written since start with an empty line, as
// ElastAlert's _ensure_new_line does.
func ensureBlankLine(sb *strings.Builder, start int) {
	for {
		s := sb.String()[start:]
		if strings.HasSuffix(s, "\n\n") {
			return
		}
		sb.WriteString("\n")
	}
}

// extraKeys are the keys rule types add to a match; include never hides them.
var extraKeys = map[string]bool{
	"num_hits": true, "num_matches": true, "spike_count": true, "reference_count": true,
	"key": true, "new_field": true, "new_value": true, "cardinality": true, "percentage": true,
	"denominator": true, "@timestamp": true,
}

// shown applies include: a flattened field is shown when it is named by an
// include entry (exactly, as a parent object, or by a '*' pattern), or is a
// key a rule type adds.
func (r *Renderer) shown(k string) bool {
	if len(r.include) == 0 || extraKeys[k] || strings.HasPrefix(k, "metric_") {
		return true
	}
	for _, inc := range r.include {
		if inc == k || strings.HasPrefix(k, inc+".") || (strings.Contains(inc, "*") && globMatch(inc, k)) {
			return true
		}
	}
	for _, key := range []string{"query_key", "compare_key", "timestamp_field"} {
		for _, f := range (&opts{m: r.opts}).strs(key) {
			if f == k {
				return true
			}
		}
	}
	return false
}

// globMatch matches s against a pattern where '*' stands for any text.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i := 1; i < len(parts); i++ {
		p := parts[i]
		if i == len(parts)-1 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return s == ""
}

// flatten writes m's leaves into out under dotted names; lists stay whole.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if sub, ok := toMap(v); ok && len(sub) > 0 {
			flatten(name, sub, out)
			continue
		}
		out[name] = normalize(v)
	}
}

// summary is ElastAlert's aggregation summary table (Texttable's default
// look, without its wrapping at 80 columns).
func (r *Renderer) summary(a *Alert, esc func(string) string) string {
	if !r.aggregation || len(r.summaryFields) == 0 {
		return ""
	}
	cols := append(append([]string{}, r.summaryFields...), "count")
	var sb strings.Builder
	sb.WriteString(r.summaryPrefix)
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = "'" + c + "'"
	}
	fmt.Fprintf(&sb, "Aggregation resulted in the following data for summary_table_fields ==> [%s]:\n\n", esc(strings.Join(quoted, ", ")))
	var order []string
	rows := map[string][]string{}
	counts := map[string]int{}
	for _, m := range a.Matches {
		row := make([]string, len(r.summaryFields))
		for i, f := range r.summaryFields {
			v, ok := Lookup(m, f)
			if !ok {
				v = nil
			}
			row[i] = pyStr(v)
		}
		key := strings.Join(row, "\x00")
		if _, ok := rows[key]; !ok {
			order = append(order, key)
			rows[key] = row
		}
		counts[key]++
	}
	table := [][]string{cols}
	for _, key := range order {
		table = append(table, append(append([]string{}, rows[key]...), strconv.Itoa(counts[key])))
	}
	widths := make([]int, len(cols))
	for _, row := range table {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	line := func(ch string) {
		sb.WriteString("+")
		for _, w := range widths {
			sb.WriteString(strings.Repeat(ch, w+2) + "+")
		}
		sb.WriteString("\n")
	}
	line("-")
	for i, row := range table {
		sb.WriteString("|")
		for j, c := range row {
			sb.WriteString(" " + esc(c) + strings.Repeat(" ", widths[j]-len([]rune(c))) + " |")
		}
		sb.WriteString("\n")
		if i == 0 {
			line("=")
		} else {
			line("-")
		}
	}
	sb.WriteString("\n")
	sb.WriteString(r.summarySuffix)
	return sb.String()
}

// Lookup finds a field of a match by dotted path through nested maps; a
// literal dotted key ("source.ip" as one key) is found too, at any level.
func Lookup(m map[string]any, path string) (any, bool) {
	budget := 1000 // documents with keys "a", "a.a", "a.a.a" at every level would branch exponentially
	return lookup(m, path, &budget)
}

func lookup(m map[string]any, path string, budget *int) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if *budget--; *budget < 0 {
			return nil, false
		}
		sub, ok := toMap(m[path[:i]])
		if !ok {
			continue
		}
		if v, ok := lookup(sub, path[i+1:], budget); ok {
			return v, true
		}
	}
	return nil, false
}

// fieldRef is one replacement field of a Python format string.
type fieldRef struct {
	start, end int    // the field's bytes, braces included
	index      int    // positional index, -1 for a name
	name       string // keyword name
}

// parseFormat splits a Python str.format string into its replacement
// fields. Format specs and conversions ({0:>10}, {0!r}) are accepted and
// ignored; attribute and index access ({0.x}, {0[1]}) uses the value itself.
// Malformed braces are kept as literal text.
func parseFormat(f string) []fieldRef {
	var refs []fieldRef
	auto := 0
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '{':
			if i+1 < len(f) && f[i+1] == '{' {
				i++
				continue
			}
			j := strings.IndexByte(f[i+1:], '}')
			if j < 0 {
				return refs
			}
			inner := f[i+1 : i+1+j]
			if k := strings.IndexByte(inner, '{'); k >= 0 {
				// a nested field in a spec ({0:{1}}): keep the text literal
				i += k
				continue
			}
			field := inner
			if k := strings.IndexAny(field, ":!"); k >= 0 {
				field = field[:k]
			}
			if k := strings.IndexAny(field, ".["); k >= 0 {
				field = field[:k]
			}
			ref := fieldRef{start: i, end: i + 2 + j, index: -1}
			switch {
			case field == "":
				ref.index = auto
				auto++
			case isDigits(field):
				n, err := strconv.Atoi(field)
				if err != nil {
					n = 1 << 30
				}
				ref.index = n
			default:
				ref.name = field
			}
			refs = append(refs, ref)
			i = ref.end - 1
		case '}':
			if i+1 < len(f) && f[i+1] == '}' {
				i++
			}
		}
	}
	return refs
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// checkFormat reports fields that no argument fills.
func checkFormat(f string, nargs int, names map[string]bool) error {
	for _, ref := range parseFormat(f) {
		field := f[ref.start:ref.end]
		if ref.index >= 0 && ref.index >= nargs {
			return fmt.Errorf("%s needs argument %d but the args list has %d; add it to the args or fix the field", field, ref.index, nargs)
		}
		if ref.index < 0 && !names[ref.name] {
			return fmt.Errorf("%s names no argument; map a field to %q in alert_text_kw or use {0} with alert_text_args", field, ref.name)
		}
	}
	return nil
}

// pyFormat fills the replacement fields of a Python format string; fields
// with no value are left as they are. "{{" and "}}" become "{" and "}".
func pyFormat(f string, args []string, kw map[string]string) string {
	refs := parseFormat(f)
	var sb strings.Builder
	literal := func(s string) {
		for i := 0; i < len(s); i++ {
			sb.WriteByte(s[i])
			if (s[i] == '{' || s[i] == '}') && i+1 < len(s) && s[i+1] == s[i] {
				i++
			}
		}
	}
	pos := 0
	for _, ref := range refs {
		literal(f[pos:ref.start])
		switch {
		case ref.index >= 0 && ref.index < len(args):
			sb.WriteString(args[ref.index])
		case ref.index < 0 && kw != nil && hasKey(kw, ref.name):
			sb.WriteString(kw[ref.name])
		default:
			sb.WriteString(f[ref.start:ref.end])
		}
		pos = ref.end
	}
	literal(f[pos:])
	return sb.String()
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }
