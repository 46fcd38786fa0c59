package rule

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/robfig/cron/v3"
)

// build checks the decoded map and fills the Rule.
func (l *ruleLoader) build() *Rule {
	r := &Rule{File: l.file, Options: l.raw, Priority: 2}

	// Aliases first: every field name below goes through them.
	l.aliases = make(map[string]string, len(l.o.Aliases))
	for k, v := range l.o.Aliases {
		l.aliases[k] = v
	}
	if v, ok := l.raw["field_aliases"]; ok && v != nil {
		m, isMap := v.(map[string]any)
		if !isMap {
			l.fail("field_aliases", "%s is not a map; write field_aliases: {old_name: ecs.path}", show(v))
		}
		for k, t := range m {
			s, ok := t.(string)
			if !ok || s == "" || k == "" {
				l.fail("field_aliases."+k, "%s is not a field path; write %s: ecs.path", show(t), k)
				continue
			}
			l.aliases[k] = s
		}
	}
	r.Aliases = l.aliases

	l.checkKeys()

	s := &r.Spec
	s.Name = strings.TrimSpace(l.str("name"))
	if s.Name == "" && !l.has("name") {
		l.fail("name", "missing; every rule needs a unique name: name: \"Denied bursts\"")
	} else if s.Name == "" {
		l.fail("name", "empty; every rule needs a unique name: name: \"Denied bursts\"")
	}
	s.Type = l.str("type")
	typeOK := false
	switch {
	case !l.has("type"):
		l.fail("type", "missing; name the rule type: type: %s", strings.Join(supportedTypes(), " | "))
	case Constructors[s.Type] == nil:
		if slices.Contains(knownTypes, s.Type) {
			l.fail("type", "%q is not built into this sluice; supported: %s", s.Type, strings.Join(supportedTypes(), ", "))
		} else if sug := suggestKey(s.Type, supportedTypes()); sug != "" {
			l.fail("type", "unknown rule type %q; did you mean %s? supported: %s", s.Type, sug, strings.Join(supportedTypes(), ", "))
		} else {
			l.fail("type", "unknown rule type %q (custom Python rule types do not run in sluice); supported: %s", s.Type, strings.Join(supportedTypes(), ", "))
		}
	default:
		typeOK = true
	}
	if !l.alertPresent() {
		l.fail("alert", "missing; name at least one alerter: alert: [email] (or debug to only log)")
	}

	// Where the rule looks.
	for _, p := range l.strList("index") {
		for _, part := range strings.Split(p, ",") {
			if part = strings.TrimSpace(part); part != "" {
				r.Index = append(r.Index, part)
			}
		}
	}
	if l.has("use_strftime_index") && l.boolean("use_strftime_index") {
		for i, p := range r.Index {
			r.Index[i] = strftimeToWildcard(p)
		}
	}
	r.Filter = l.compile("filter", l.raw["filter"])
	r.TimestampField = DefaultTimestampField
	if l.has("timestamp_field") {
		if f := l.str("timestamp_field"); f != "" {
			r.TimestampField = l.field(f)
		} else {
			l.fail("timestamp_field", "empty; remove it to use @timestamp")
		}
	}
	if l.has("timestamp_type") {
		if t := l.str("timestamp_type"); t != "iso" {
			l.fail("timestamp_type", "%s is not supported; sluice's documents carry ISO 8601 times: remove it or write timestamp_type: iso", show(l.raw["timestamp_type"]))
		}
	}
	s.QueryKey = l.fieldList("query_key")
	s.MaxKeys = l.o.MaxKeys
	if n, ok := l.count("max_keys", 1, 10_000_000); ok {
		s.MaxKeys = n
	}
	if s.MaxKeys <= 0 {
		s.MaxKeys = DefaultMaxKeys
	}

	// Alerting.
	r.Realert = DefaultRealert
	if d, ok := l.duration("realert"); ok {
		r.Realert = d
	}
	if d, ok := l.duration("exponential_realert"); ok {
		r.ExponentialRealert = d
	}
	l.aggregation(r)
	r.AggregationKey = l.fieldList("aggregation_key")
	r.SummaryTableFields = l.fieldList("summary_table_fields")
	r.Include = l.fieldList("include")
	r.TopCountKeys = l.fieldList("top_count_keys")
	r.AlertTimeLimit = DefaultAlertTimeLimit
	if l.o.AlertTimeLimit > 0 {
		r.AlertTimeLimit = l.o.AlertTimeLimit
	}
	if d, ok := l.duration("alert_time_limit"); ok {
		r.AlertTimeLimit = d
	}
	r.Disabled = l.has("is_enabled") && !l.boolean("is_enabled")
	r.Description = l.str("description")
	r.Owner = l.str("owner")
	r.Category = l.str("category")
	if n, ok := l.count("priority", 0, math.MaxInt32); ok {
		r.Priority = n
	}

	// The rule type's keys: each is read and checked whatever the type, so
	// a bad value is reported even where it has no effect.
	l.typeKeys(s)
	if typeOK {
		l.required(s)
		l.notUsed(s.Type)
	}
	if len(l.errs) == 0 && typeOK {
		if _, err := Constructors[s.Type](s); err != nil {
			l.fail("type", "%s: %v", s.Type, err)
		}
	}
	l.aliasOptions()
	sort.Strings(l.notes)
	r.Notes = l.notes
	return r
}

// aliasOptions rewrites, in the rule's Options, the field names that the
// alerters' renderer reads from there (alert_subject_args,
// alert_text_args, the keys of alert_text_kw, include, top_count_keys,
// summary_table_fields) through the aliases, so that an old rule's
// `alert_subject_args: [ip_client]` renders the field its filter and
// query_key find. New values are made (a value may be alerting.defaults',
// shared by every rule); values of another type are left for the
// renderer to report.
func (l *ruleLoader) aliasOptions() {
	for _, key := range []string{"alert_subject_args", "alert_text_args", "include", "top_count_keys", "summary_table_fields"} {
		switch v := l.raw[key].(type) {
		case string:
			l.raw[key] = l.field(v)
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				if f, ok := e.(string); ok {
					e = l.field(f)
				}
				out[i] = e
			}
			l.raw[key] = out
		}
	}
	if kw, ok := l.raw["alert_text_kw"].(map[string]any); ok {
		out := make(map[string]any, len(kw))
		for f, name := range kw {
			out[l.field(f)] = name
		}
		l.raw["alert_text_kw"] = out
	}
}

// alertPresent reports whether the alert key names something.
func (l *ruleLoader) alertPresent() bool {
	switch v := l.raw["alert"].(type) {
	case string:
		return strings.TrimSpace(v) != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return false
}

// checkKeys reports unknown keys and notes the ignored ones.
func (l *ruleLoader) checkKeys() {
	extra := make(map[string]bool, len(l.o.ExtraKeys))
	for _, k := range l.o.ExtraKeys {
		extra[k] = true
	}
	keys := make([]string, 0, len(l.raw))
	for k := range l.raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var known []string
	for _, k := range keys {
		if _, ok := ruleKeys[k]; ok || extra[k] {
			continue
		}
		if why, ok := ignoredKeys[k]; ok {
			l.note(k, why)
			continue
		}
		if len(l.errs) >= maxLoadErrors {
			l.suppressed++ // and no edit distances for a file full of junk keys
			continue
		}
		if known == nil {
			for k := range ruleKeys {
				known = append(known, k)
			}
			for k := range ignoredKeys {
				known = append(known, k)
			}
			known = append(known, l.o.ExtraKeys...)
			sort.Strings(known)
		}
		if s := suggestKey(k, known); s != "" {
			l.fail(k, "unknown key; did you mean %s?", s)
		} else {
			l.fail(k, "unknown key: sluice does not support it and would ignore it; remove it (output/alert/README.md lists the supported keys)")
		}
	}
}

// aggregation reads aggregation: {minutes: 10} or {schedule: "cron"}.
func (l *ruleLoader) aggregation(r *Rule) {
	v, ok := l.raw["aggregation"]
	if !ok || v == nil {
		return
	}
	if m, isMap := v.(map[string]any); isMap {
		if sch, has := m["schedule"]; has {
			str, _ := sch.(string)
			if len(m) > 1 {
				l.fail("aggregation", "schedule cannot be combined with a duration; write either {schedule: \"2 4 * * mon,fri\"} or {minutes: 10}")
				return
			}
			sched, err := cron.ParseStandard(str)
			if err != nil || str == "" {
				l.fail("aggregation.schedule", "%s is not a cron schedule (%v); write minute hour day-of-month month day-of-week, e.g. \"2 4 * * mon,fri\"", show(sch), err)
				return
			}
			r.AggregationSchedule = str
			r.schedule = sched
			return
		}
	}
	d, ok := l.duration("aggregation")
	if ok {
		r.Aggregation = d
	}
}

// typeKeys reads the type-specific keys into the Spec.
func (l *ruleLoader) typeKeys(s *Spec) {
	if d, ok := l.duration("timeframe"); ok {
		s.Timeframe = d
	}
	if n, ok := l.count("num_events", 1, MaxWindowEvents); ok {
		s.NumEvents = n
	} else if !l.has("num_events") {
		s.NumEvents = 1
	}
	s.UseCountQuery = (l.has("use_count_query") && l.boolean("use_count_query")) || (l.has("use_terms_query") && l.boolean("use_terms_query"))

	s.CompareKey = l.fieldList("compare_key")
	s.Blacklist = l.entries("blacklist")
	s.Whitelist = l.entries("whitelist")
	s.IgnoreNull = l.boolean("ignore_null")

	if f := l.optFloat("spike_height", 0, math.MaxFloat64); f != nil {
		if *f == 0 {
			l.fail("spike_height", "0 cannot be a spike height; use a positive number such as 3")
		}
		s.SpikeHeight = *f
	}
	s.SpikeType = "both"
	if l.has("spike_type") {
		switch t := l.str("spike_type"); t {
		case "up", "down", "both":
			s.SpikeType = t
		default:
			l.fail("spike_type", "%s is not a spike direction; write up, down or both", show(l.raw["spike_type"]))
		}
	}
	if n, ok := l.count("threshold_ref", 0, math.MaxInt32); ok {
		s.ThresholdRef = n
	}
	if n, ok := l.count("threshold_cur", 0, math.MaxInt32); ok {
		s.ThresholdCur = n
	}
	s.AlertOnNewData = l.boolean("alert_on_new_data")
	if f := l.str("field_value"); f != "" {
		s.FieldValue = l.field(f)
	}

	if n, ok := l.count("threshold", 1, MaxWindowEvents); ok {
		s.Threshold = n
	}
	s.ForgetKeys = l.boolean("forget_keys")

	s.Fields = l.termFields()
	s.TermsWindowSize = DefaultTermsWindow
	if d, ok := l.duration("terms_window_size"); ok {
		s.TermsWindowSize = d
	}
	s.AlertOnMissingField = l.boolean("alert_on_missing_field")

	if f := l.str("cardinality_field"); f != "" {
		s.CardinalityField = l.field(f)
	}
	s.MaxCardinality = l.optCount("max_cardinality", 0, math.MaxInt32)
	s.MinCardinality = l.optCount("min_cardinality", 0, math.MaxInt32)

	if f := l.str("metric_agg_key"); f != "" {
		s.MetricAggKey = l.field(f)
	}
	if l.has("metric_agg_type") {
		switch t := l.str("metric_agg_type"); t {
		case "min", "max", "avg", "sum", "cardinality", "value_count":
			s.MetricAggType = t
		default:
			l.fail("metric_agg_type", "%s is not supported; use min, max, avg, sum, cardinality or value_count", show(l.raw["metric_agg_type"]))
		}
	}
	s.MaxThreshold = l.optFloat("max_threshold", -math.MaxFloat64, math.MaxFloat64)
	s.MinThreshold = l.optFloat("min_threshold", -math.MaxFloat64, math.MaxFloat64)
	s.BufferTime = DefaultBufferTime
	if d, ok := l.duration("buffer_time"); ok {
		if d == 0 {
			l.fail("buffer_time", "0 leaves no bucket; use a positive duration such as {minutes: 5}")
		}
		s.BufferTime = d
	}
	// ElastAlert's bucket_interval splits buffer_time into buckets; in the
	// stream the bucket is what is evaluated, so it is the bucket length.
	if d, ok := l.duration("bucket_interval"); ok {
		if d == 0 {
			l.fail("bucket_interval", "0 leaves no bucket; use a positive duration such as {minutes: 5}")
		}
		s.BufferTime = d
	}
	if l.has("match_bucket_filter") {
		s.MatchBucketFilter = l.compile("match_bucket_filter", l.raw["match_bucket_filter"])
	}
	s.MinPercentage = l.optFloat("min_percentage", 0, 100)
	s.MaxPercentage = l.optFloat("max_percentage", 0, 100)
}

// termFields reads new_term's fields: each entry a field or a list of
// fields (a composite term).
func (l *ruleLoader) termFields() [][]string {
	v, ok := l.raw["fields"]
	if !ok || v == nil {
		return nil
	}
	var out [][]string
	add := func(i int, e any) {
		switch x := e.(type) {
		case []any:
			var comp []string
			for j, f := range x {
				s, ok := f.(string)
				if !ok || s == "" {
					l.fail(fmt.Sprintf("fields[%d][%d]", i, j), "%s is not a field name", show(f))
					return
				}
				comp = append(comp, l.field(s))
			}
			if len(comp) == 0 {
				l.fail(fmt.Sprintf("fields[%d]", i), "an empty composite; list its fields")
				return
			}
			out = append(out, comp)
		default:
			s, ok := scalarText(e)
			if !ok || s == "" {
				l.fail(fmt.Sprintf("fields[%d]", i), "%s is not a field name; write fields: [source.ip] or fields: [[source.ip, user.name]] for a composite term", show(e))
				return
			}
			out = append(out, []string{l.field(s)})
		}
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			add(i, e)
		}
	default:
		add(0, x)
	}
	return out
}

// entries reads a blacklist/whitelist, expanding "!file PATH" items (one
// entry per line; blank lines and # comments skipped; relative paths from
// the rule file's folder).
func (l *ruleLoader) entries(key string) []string {
	v, ok := l.raw[key]
	if !ok || v == nil {
		return nil
	}
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	default:
		items = []any{x}
	}
	out := []string{}
	var listBytes int64
	for i, e := range items {
		s, ok := scalarText(e)
		if !ok {
			l.fail(fmt.Sprintf("%s[%d]", key, i), "%s is not a value; list values, or \"!file /path/to/list\"", show(e))
			continue
		}
		rest, isFile := strings.CutPrefix(s, "!file")
		if !isFile || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			out = append(out, s)
		} else {
			p := strings.TrimSpace(rest)
			if p == "" {
				l.fail(fmt.Sprintf("%s[%d]", key, i), "!file needs a path: \"!file /etc/sluice/bad-ips.txt\"")
				continue
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(l.dir, p)
			}
			// The bound is on all the list files of the key together: a list
			// naming one big file a thousand times is no cheaper to read.
			data, err := readBounded(p, MaxListFileBytes-listBytes, "the !file lists of "+key+" (together)")
			listBytes += int64(len(data))
			if err != nil {
				l.fail(fmt.Sprintf("%s[%d]", key, i), "cannot read the list file %s: %v; create it or fix the path (relative paths start at the rule file's folder)", p, err)
				continue
			}
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 0, 64*1024), MaxListFileBytes)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || line[0] == '#' {
					continue
				}
				out = append(out, line)
				if len(out) > MaxListEntries {
					break
				}
			}
			if err := sc.Err(); err != nil {
				l.fail(fmt.Sprintf("%s[%d]", key, i), "reading %s: %v", p, err)
			}
		}
		if len(out) > MaxListEntries {
			l.fail(key, "more than %d entries; split the rule or shorten the list", MaxListEntries)
			return nil
		}
	}
	return out
}

// required checks the keys each type needs, as ElastAlert requires them.
func (l *ruleLoader) required(s *Spec) {
	need := func(keys ...string) {
		for _, k := range keys {
			if !l.has(k) {
				l.fail(k, "missing; type %s needs %s", s.Type, strings.Join(keys, ", "))
			}
		}
	}
	oneOf := func(a, b string) {
		if !l.has(a) && !l.has(b) {
			l.fail(a, "missing; type %s needs %s or %s (or both)", s.Type, a, b)
		}
	}
	switch s.Type {
	case "frequency":
		need("num_events", "timeframe")
	case "blacklist":
		need("compare_key", "blacklist")
		l.singleCompareKey(s)
	case "whitelist":
		need("compare_key", "whitelist", "ignore_null")
		l.singleCompareKey(s)
	case "change":
		need("compare_key", "ignore_null", "query_key")
	case "flatline":
		need("threshold", "timeframe")
	case "spike":
		need("spike_height", "spike_type", "timeframe")
	case "new_term":
		if !l.has("fields") && !l.has("query_key") {
			l.fail("fields", "missing; type new_term needs fields (or query_key): fields: [source.ip]")
		}
		if len(s.Fields) == 0 && len(s.QueryKey) > 0 {
			s.Fields = [][]string{slices.Clone(s.QueryKey)}
		}
	case "cardinality":
		need("cardinality_field", "timeframe")
		oneOf("max_cardinality", "min_cardinality")
	case "metric_aggregation":
		need("metric_agg_key", "metric_agg_type")
		oneOf("max_threshold", "min_threshold")
	case "percentage_match":
		need("match_bucket_filter")
		oneOf("min_percentage", "max_percentage")
	}
	for _, k := range []string{"timeframe"} {
		if l.has(k) && s.Timeframe == 0 && slices.Contains(ruleKeys[k], s.Type) {
			l.fail(k, "0 is an empty window; use a positive duration such as {minutes: 5}")
		}
	}
}

func (l *ruleLoader) singleCompareKey(s *Spec) {
	if len(s.CompareKey) > 1 {
		l.fail("compare_key", "%s names several fields; type %s compares one field: compare_key: source.ip", show(l.raw["compare_key"]), s.Type)
	}
}

// notUsed notes type-specific keys the rule's type does not read.
func (l *ruleLoader) notUsed(typ string) {
	for k := range l.raw {
		types, ok := ruleKeys[k]
		if !ok || types == nil || slices.Contains(types, typ) {
			continue
		}
		l.note(k, fmt.Sprintf("type %s does not use it (it is read by %s)", typ, strings.Join(types, ", ")))
	}
}

var strftimeField = regexp.MustCompile(`%[a-zA-Z%]`)

// strftimeToWildcard turns logstash-%Y.%m.%d into logstash-*.*.*, which
// matches the daily index names it stood for.
func strftimeToWildcard(p string) string {
	return strftimeField.ReplaceAllStringFunc(p, func(m string) string {
		if m == "%%" {
			return "%"
		}
		return "*"
	})
}
