package alerter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func fuzzMatch(doc []byte) Match {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var m Match
	if err := dec.Decode(&m); err != nil || m == nil {
		return Match{"source": map[string]any{"ip": "10.0.0.1"}, "n": json.Number("3")}
	}
	return m
}

// FuzzRender: any alert_subject/alert_text format with any args and any
// document renders without a panic; the subject keeps its length limit, and
// a format without braces comes out unchanged.
func FuzzRender(f *testing.F) {
	f.Add("Attack from {0} rated {1}", "Type {}: {}", "source.ip", []byte(asmDoc), uint8(0))
	f.Add("{{literal}} {0:>10} {0!r} {1.x} {1[0]}", "{0:{1}}", "f5.asm", []byte(`{"a":{"b.c":[1,2]}}`), uint8(1))
	f.Add("{", "}", "", []byte(`{}`), uint8(2))
	f.Add("{99999999999999999999}", "{-1}{ }{:}", "a..b", []byte(`{"a":null}`), uint8(3))
	f.Add("攻撃 {}", "{{ x }} {% if %}", "x", []byte(`{"x":"日本"}`), uint8(4))
	f.Fuzz(func(t *testing.T, subject, text, arg string, doc []byte, mode uint8) {
		o := Options{
			"alert_subject": subject, "alert_subject_args": []any{arg, "source.ip"}, "alert_subject_max_len": int(mode%40) + 1,
			"alert_text": text, "aggregation": "x", "summary_table_fields": []any{arg},
			"top_count_keys": []any{arg}, "include": []any{arg + "*"},
		}
		switch mode % 5 {
		case 0:
			o["alert_text_args"] = []any{arg, "n"}
		case 1:
			o["alert_text_kw"] = map[string]any{arg: "a", "n": "b"}
		case 2:
			o["alert_text_type"] = "alert_text_jinja"
		case 3:
			o["alert_text_type"] = "exclude_fields"
		}
		m := fuzzMatch(doc)
		a := &Alert{Rule: "fuzz", Matches: []Match{m, m}, TopCounts: map[string]map[string]int{arg: {"v": 1}}}
		if r, err := NewRenderer(o); err == nil {
			s := r.Subject(a)
			if n := utf8.RuneCountInString(s); n > int(mode%40)+1 {
				t.Fatalf("Subject() has %d characters, over the limit %d", n, mode%40+1)
			}
			_ = r.Body(a)
			_ = r.BodyHTML(a)
		}
		if !strings.ContainsAny(subject, "{}") {
			if got := pyFormat(subject, []string{"x"}, nil); got != subject {
				t.Fatalf("pyFormat(%q) = %q, want it unchanged", subject, got)
			}
		}
		_ = percentFormat(subject, m, "-")
	})
}

// FuzzTemplate: any {{ }} template either fails to parse with an error or
// renders without a panic; text without braces renders as itself.
func FuzzTemplate(f *testing.F) {
	f.Add("{{ rule_name }}: {{ source.ip }}", []byte(asmDoc))
	f.Add("{{ x | upper }}", []byte(`{}`))
	f.Add("{% for x in y %}{{x}}{% endfor %}", []byte(`{}`))
	f.Add("{{{{a}}}}", []byte(`{"a":1}`))
	f.Add("}}{{", []byte(`{}`))
	f.Add("plain 日本語 text", []byte(`{}`))
	f.Fuzz(func(t *testing.T, s string, doc []byte) {
		tm, err := parseTemplate(s)
		if err != nil {
			return
		}
		got := tm.render("rule", fuzzMatch(doc), noEscape)
		if !strings.Contains(s, "{") && !strings.Contains(s, "}") && got != s {
			t.Fatalf("render(%q) = %q, want it unchanged", s, got)
		}
		if tree, err := compileTree(map[string]any{s: []any{s, 1}}); err == nil {
			_ = renderTree(tree, "rule", fuzzMatch(doc))
		}
	})
}
