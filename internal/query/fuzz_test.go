package query

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// fuzzDocs are the documents the fuzz targets match against: the
// hand-written JSON document and EventDocs of the synthetic events.
func fuzzDocs(t testing.TB) []Doc {
	var out []Doc
	for _, ne := range syntheticEvents() {
		switch ne.name {
		case "flow-geo", "syslog-clash", "unknown":
			out = append(out, NewEventDoc(ne.e))
		}
	}
	jd, err := NewJSONDoc([]byte(`{"@timestamp":"2026-11-22T08:30:00.500Z","user":{"name":"Alice","roles":["admin","ops"]},
		"a.b":1,"a":{"b":2},"ok":true,"n":[1,2.5,"3"],"hosts":[{"ip":"10.1.1.1"},{"ip":"2001:db8::5"}],
		"message":"Connection reset by peer (errno 104)","url":{"path":"/admin/login"},"empty":""}`))
	if err != nil {
		t.Fatal(err)
	}
	return append(out, jd)
}

// checkFlowConstant: a filter FlowConstant calls constant matches every
// flow of docs as it matches a bare flow event.
func checkFlowConstant(t *testing.T, m Matcher, docs []Doc) {
	t.Helper()
	if !FlowConstant(m) {
		return
	}
	want := m.Match(NewEventDoc(&event.Event{Kind: event.KindFlow}))
	for i, d := range docs {
		if ed, ok := d.(*EventDoc); ok && ed.IsFlow() && m.Match(d) != want {
			t.Fatalf("doc %d: a flow-constant filter matches it: %v, a bare flow: %v", i, !want, want)
		}
	}
}

func FuzzParseQueryString(f *testing.F) {
	for _, tc := range queryStringCases {
		f.Add(tc.q)
	}
	for _, s := range []string{"(a OR b", "a:[1 TO 2}", `a:"x\"y"`, "a:/x\\/y/", "a:>=now-1d/d", "+a -b c",
		"a AND NOT b OR c", "_exists_:x", "x:*", "*:x*", "a:(b c) AND d:{* TO 5]", "a\\:b:c", "ip:10.0.0.0/8",
		"event.action:network_flow AND NOT event.kind:alert", "event.dataset:sluice.f* OR _exists_:event.module"} {
		f.Add(s)
	}
	docs := fuzzDocs(f)
	opts := Options{Now: func() time.Time { return fixedNow }}
	f.Fuzz(func(t *testing.T, q string) {
		m, err := ParseQueryString(q, opts)
		if err != nil {
			if m != nil {
				t.Fatalf("ParseQueryString(%q) returned a matcher and %v", q, err)
			}
			return
		}
		s := m.(interface{ String() string }).String()
		m2, err := ParseQueryString(s, opts)
		if err != nil {
			t.Fatalf("ParseQueryString(%q).String() = %q, which does not parse: %v", q, s, err)
		}
		for i, d := range docs {
			if a, b := m.Match(d), m2.Match(d); a != b {
				t.Fatalf("doc %d: ParseQueryString(%q).Match = %v, ParseQueryString(%q).Match = %v", i, q, a, s, b)
			}
		}
		if s2 := m2.(interface{ String() string }).String(); s2 != s {
			t.Fatalf("String() is not canonical: %q gives %q, then %q", q, s, s2)
		}
		_ = m.Fields()
		checkFlowConstant(t, m, docs)
	})
}

func FuzzCompileDSL(f *testing.F) {
	for _, s := range []string{
		`{"term":{"event.action":"blocked"}}`,
		`{"terms":{"a":[1,"b",true]}}`,
		`{"match":{"message":{"query":"a b","operator":"and"}}}`,
		`{"range":{"@timestamp":{"gte":"now-1h/h","lt":"2026-01-01||+1M"}}}`,
		`{"bool":{"must":[{"exists":{"field":"a"}}],"should":[{"prefix":{"b":"x"}},{"wildcard":{"c":"*y?"}}],"minimum_should_match":"50%"}}`,
		`{"query":{"query_string":{"query":"a:1 AND b:[1 TO 2]","fields":["x","y"]}}}`,
		`{"regexp":{"a":{"value":"a.*b"}}}`, `{"type":{"value":"doc"}}`, `{"match_none":{}}`,
	} {
		f.Add([]byte(s))
	}
	docs := fuzzDocs(f)
	opts := Options{Now: func() time.Time { return fixedNow }}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		m, err := CompileDSL(v, opts)
		if err != nil {
			return
		}
		for _, d := range docs {
			m.Match(d)
		}
		_ = m.Fields()
		_ = m.(interface{ String() string }).String()
		checkFlowConstant(t, m, docs)
		if l, ok := v.([]any); ok {
			if m, err := CompileFilters(l, opts); err == nil {
				for _, d := range docs {
					m.Match(d)
				}
			}
		}
	})
}

// FuzzJSONDoc: a document parses or fails cleanly, keeps its bytes, and
// flattens as NewMapDoc flattens the same document decoded by
// encoding/json.
func FuzzJSONDoc(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,{"c":"x"},null,true]},"a.b":2,"d":[]}`))
	f.Add([]byte(`{"@timestamp":"2026-11-22T08:01:03Z","message":"x"}`))
	f.Add([]byte(`[1]`))
	f.Add([]byte("{\"s\":\"\\u00e9\\ud83d\\ude00\\ud800x\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"b\":\"\xff\xfe ok\",\"\":{\"\":1},\"n\":-0.5e-3}"))
	f.Add([]byte(`{"a":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 71)))
	for _, ne := range syntheticEvents() {
		f.Add(ne.e.AppendJSON(nil))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewJSONDoc(data)
		if err != nil {
			return
		}
		if got := d.AppendJSON(nil); !bytes.Equal(got, data) {
			t.Fatalf("AppendJSON() = %q, want the input", got)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("NewJSONDoc accepted what encoding/json refuses: %v", err)
		}
		if hasDuplicateKeys(data) {
			return // encoding/json keeps the last value, NewJSONDoc all of them
		}
		md := NewMapDoc(m).(*JSONDoc)
		if strings.Join(md.Paths(), "\n") != strings.Join(d.Paths(), "\n") {
			t.Fatalf("paths differ: %q vs %q", d.Paths(), md.Paths())
		}
		for _, p := range d.Paths() {
			vs := d.Values(p, nil)
			if len(vs) == 0 {
				t.Fatalf("path %q listed without values", p)
			}
			if a, b := valueKeys(vs), valueKeys(md.Values(p, nil)); a != b {
				t.Fatalf("Values(%q) = %s, NewMapDoc gives %s", p, a, b)
			}
		}
	})
}

// hasDuplicateKeys reports whether an object of the (valid) document has
// a key twice.
func hasDuplicateKeys(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				if seen[k.(string)] {
					return true
				}
				seen[k.(string)] = true
				if walk() {
					return true
				}
			}
			dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			dec.Token()
		}
		return false
	}
	return walk()
}
