package query

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestCompileDSL(t *testing.T) {
	docs := testDocs(t)
	opts := Options{Now: func() time.Time { return fixedNow }}
	for _, tc := range []struct {
		q    string
		doc  string
		want bool
	}{
		{`{"term":{"event.action":"blocked"}}`, "f5", true},
		{`{"term":{"event.action":{"value":"blocked"}}}`, "f5", true},
		{`{"term":{"event.action":{"value":"BLOCKED","case_insensitive":true}}}`, "f5", true},
		{`{"term":{"event.action":"Blocked"}}`, "f5", false},
		{`{"term":{"destination.port":443}}`, "f5", true},
		{`{"term":{"f5.asm.dest_port":443}}`, "f5", true},
		{`{"term":{"ok":true}}`, "doc", true},
		{`{"terms":{"event.action":["allowed","blocked"]}}`, "f5", true},
		{`{"terms":{"destination.port":[80,8080]}}`, "f5", false},
		{`{"terms":{"destination.port":[]}}`, "f5", false},
		{`{"match":{"message":"sqlmap nothing"}}`, "f5", true},
		{`{"match":{"message":{"query":"sqlmap nothing","operator":"and"}}}`, "f5", false},
		{`{"match":{"message":{"query":"sqlmap blocked","operator":"AND"}}}`, "f5", true},
		{`{"match":{"event.action":"blocked"}}`, "f5", true},
		{`{"match_phrase":{"message":"attack signature detected"}}`, "f5", true},
		{`{"match_phrase":{"message":"signature attack"}}`, "f5", false},
		{`{"range":{"destination.port":{"gte":400,"lt":500}}}`, "f5", true},
		{`{"range":{"destination.port":{"gt":443}}}`, "f5", false},
		{`{"range":{"destination.port":{"from":443,"to":443,"include_lower":true,"include_upper":false}}}`, "f5", false},
		{`{"range":{"destination.port":{"from":null,"to":443}}}`, "f5", true},
		{`{"range":{"@timestamp":{"gte":"now-1h","lte":"now","format":"strict_date_optional_time"}}}`, "f5", true},
		{`{"range":{"@timestamp":{"gte":"now-30m"}}}`, "f5", false},
		{`{"range":{"@timestamp":{"gte":"2026-11-22||/d","lt":"2026-11-22||+1d/d"}}}`, "f5", true},
		{`{"range":{"source.ip":{"gte":"203.0.113.0","lte":"203.0.113.255"}}}`, "f5", true},
		{`{"range":{"event.action":{"gte":"a","lte":"c"}}}`, "f5", true},
		{`{"exists":{"field":"source.ip"}}`, "f5", true},
		{`{"exists":{"field":"nope"}}`, "f5", false},
		{`{"prefix":{"host.hostname":"bigip"}}`, "f5", true},
		{`{"prefix":{"host.hostname":{"value":"dmz"}}}`, "f5", false},
		{`{"wildcard":{"host.hostname":"*dmz?"}}`, "f5", true},
		{`{"wildcard":{"host.hostname":{"value":"big*"}}}`, "f5", true},
		{`{"wildcard":{"host.hostname":{"wildcard":"x*"}}}`, "f5", false},
		{`{"regexp":{"url.path":"/prod.*"}}`, "f5", true},
		{`{"regexp":{"url.path":{"value":"prod.*"}}}`, "f5", false},
		{`{"match_all":{}}`, "f5", true},
		{`{"match_none":{}}`, "f5", false},
		{`{"type":{"value":"doc"}}`, "f5", true},
		{`{"query":{"query_string":{"query":"event.action:blocked AND destination.port:443"}}}`, "f5", true},
		{`{"query_string":{"query":"blocked","default_field":"event.type"}}`, "f5", false},
		{`{"query_string":{"query":"blocked denied","default_operator":"AND","fields":["event.action","event.type"]}}`, "f5", true},
		{`{"query_string":{"query":"blocked denied","default_operator":"AND","fields":["event.action"]}}`, "f5", false},
		{`{"bool":{"must":{"term":{"event.action":"blocked"}},"must_not":[{"term":{"source.ip":"10.0.0.0/8"}}]}}`, "f5", true},
		{`{"bool":{"filter":[{"term":{"event.action":"blocked"}}],"should":[{"term":{"x":"y"}}]}}`, "f5", true},
		{`{"bool":{"filter":[{"term":{"event.action":"blocked"}}],"should":[{"term":{"x":"y"}}],"minimum_should_match":1}}`, "f5", false},
		{`{"bool":{"should":[{"term":{"x":"y"}},{"term":{"event.action":"blocked"}}]}}`, "f5", true},
		{`{"bool":{"should":[{"term":{"x":"y"}},{"term":{"event.action":"blocked"}}],"minimum_should_match":2}}`, "f5", false},
		{`{"bool":{"should":[{"term":{"destination.port":443}},{"term":{"event.action":"blocked"}},{"term":{"x":1}}],"minimum_should_match":"2"}}`, "f5", true},
		{`{"bool":{"should":[{"term":{"destination.port":443}},{"term":{"event.action":"blocked"}},{"term":{"x":1}}],"minimum_should_match":"-1"}}`, "f5", true},
		{`{"bool":{"should":[{"term":{"destination.port":443}},{"term":{"event.action":"blocked"}},{"term":{"x":1}}],"minimum_should_match":"100%"}}`, "f5", false},
		{`{"bool":{}}`, "f5", true},
		{`{"bool":{"must_not":{"exists":{"field":"nope"}}}}`, "f5", true},
	} {
		m, err := CompileDSL(decodeJSON(t, tc.q), opts)
		if err != nil {
			t.Errorf("CompileDSL(%s) = %v", tc.q, err)
			continue
		}
		for _, d := range docs[tc.doc] {
			if got := m.Match(d); got != tc.want {
				t.Errorf("CompileDSL(%s).Match(%T) = %v, want %v", tc.q, d, got, tc.want)
			}
		}
		// The query-string form matches the same.
		s := m.(interface{ String() string }).String()
		m2, err := ParseQueryString(s, opts)
		if err != nil {
			t.Errorf("CompileDSL(%s).String() = %q does not parse: %v", tc.q, s, err)
			continue
		}
		for _, d := range docs[tc.doc] {
			if got := m2.Match(d); got != tc.want {
				t.Errorf("ParseQueryString(%q).Match(%T) = %v, want %v (from %s)", s, d, got, tc.want, tc.q)
			}
		}
	}
}

// TestCompileFiltersYAML compiles an ElastAlert rule's filter as a YAML
// library decodes it (map[string]any from yaml.v3, ints as int).
func TestCompileFiltersYAML(t *testing.T) {
	docs := testDocs(t)
	src := `
filter:
- query:
    query_string:
      query: "violation_rating:>=4 AND event.action:blocked"
- term:
    destination.port: 443
- type:
    value: doc
- range:
    "@timestamp":
      gte: now-1h
`
	var rule struct {
		Filter []any `yaml:"filter"`
	}
	if err := yaml.Unmarshal([]byte(src), &rule); err != nil {
		t.Fatal(err)
	}
	opts := Options{Now: func() time.Time { return fixedNow }, Aliases: map[string]string{"violation_rating": "f5.asm.violation_rating"}}
	m, err := CompileFilters(rule.Filter, opts)
	if err != nil {
		t.Fatalf("CompileFilters() = %v", err)
	}
	for _, d := range docs["f5"] {
		if !m.Match(d) {
			t.Errorf("CompileFilters().Match(%T) = false", d)
		}
	}
	for _, d := range docs["flow"] {
		if m.Match(d) {
			t.Errorf("CompileFilters().Match(flow %T) = true", d)
		}
	}
	if got, want := strings.Join(m.Fields(), " "), "f5.asm.violation_rating event.action destination.port @timestamp"; got != want {
		t.Errorf("Fields() = %q, want %q", got, want)
	}
	empty, err := CompileFilters(nil, Options{})
	if err != nil || !empty.Match(docs["flow"][0]) {
		t.Errorf("CompileFilters(nil) = %v, want a match-all", err)
	}
	// map[any]any, as older YAML libraries give.
	mm, err := CompileDSL(map[any]any{"term": map[any]any{"destination.port": 443}}, Options{})
	if err != nil || !mm.Match(docs["f5"][0]) {
		t.Errorf("CompileDSL(map[any]any) = %v", err)
	}
}

func TestCompileDSLErrors(t *testing.T) {
	for _, tc := range []struct {
		filters string
		want    string
	}{
		{`[{"term":{"a":1}},{"term":{"a":1}},{"geo_distance":{}}]`, `filter[2]: unknown query "geo_distance"; supported: term, terms, match`},
		{`[{"term":{"a":1}},{"bool":{"must":[{"range":{"destination.port":{"gte":{"x":1}}}}]}}]`, `filter[1].bool.must[0].range.destination.port: "gte" must be a number or a date, got an object`},
		{`[{"range":{"p":{"gte":true}}}]`, `filter[0].range.p: "gte" must be a number or a date`},
		{`[{"range":{"p":{"gte":"now-1x"}}}]`, `filter[0].range.p: "gte": date math "now-1x"`},
		{`[{"range":{"p":{"gt":1,"time_zone":"+01:00"}}}]`, `filter[0].range.p: unknown parameter "time_zone"; supported: gt, gte`},
		{`[{"ids":{"values":["1"]}}]`, "filter[0].ids: ids is not supported"},
		{`[{"term":{"a":1,"b":2}}]`, "filter[0].term: want one field, found 2 (a, b)"},
		{`[{"term":{"a":{"value":1,"foo":2}}}]`, `filter[0].term.a: unknown parameter "foo"`},
		{`[{"term":{"a":[1]}}]`, "filter[0].term.a: the value must be a string, number or boolean, got a list"},
		{`[{"terms":{"a":"x"}}]`, "filter[0].terms.a: want a list of values"},
		{`[{"bool":{"must":[{"term":{"a":1}}],"shoud":[]}}]`, `filter[0].bool: unknown parameter "shoud"`},
		{`[{"bool":{"should":[{"term":{"a":1}}],"minimum_should_match":"x"}}]`, "filter[0].bool.minimum_should_match"},
		{`[{"query_string":{"query":"a:(b"}}]`, `filter[0].query_string.query: query_string: at 3: unbalanced parenthesis`},
		{`[{"query_string":{"query":"a","default_operator":"xor"}}]`, "filter[0].query_string.default_operator"},
		{`[{"regexp":{"a":"("}}]`, "filter[0].regexp.a: regular expression"},
		{`[{"exists":{"fields":"a"}}]`, `filter[0].exists: unknown parameter "fields"`},
		{`["term"]`, "filter[0]: want a query object"},
		{`[{}]`, "filter[0]: empty query object"},
		{`[{"term":{"a":1},"match":{"a":1}}]`, "filter[0]: one query per object, found match, term"},
		{`[{"match_phrase":{"m":{"query":"a b","slop":2}}}]`, "filter[0].match_phrase.m.slop"},
		{`[{"match":{"m":{"query":"a b","operator":"xor"}}}]`, "filter[0].match.m.operator"},
	} {
		v := decodeJSON(t, tc.filters).([]any)
		_, err := CompileFilters(v, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompileFilters(%s) error = %v, want %q", tc.filters, err, tc.want)
		}
	}
	deep := strings.Repeat(`{"bool":{"must":`, 200) + `{"match_all":{}}` + strings.Repeat(`}}`, 200)
	if _, err := CompileDSL(decodeJSON(t, deep), Options{}); err == nil || !strings.Contains(err.Error(), "nested deeper than 64") {
		t.Errorf("deep bool: err = %v", err)
	}
}
