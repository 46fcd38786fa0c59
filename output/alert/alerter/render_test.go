package alerter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// decode builds a Match as the caller does: encoding/json with UseNumber.
func decode(t testing.TB, s string) Match {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m Match
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

const asmDoc = `{"@timestamp":"2026-12-07T10:00:00Z","source":{"ip":"10.0.0.1"},"f5":{"asm":{"violation_rating":4,"attack_type":"SQL-Injection"}},"num_hits":3}`

func TestRender(t *testing.T) {
	m1 := decode(t, asmDoc)
	m2 := decode(t, `{"source":{"ip":"10.0.0.1"},"user":{"name":"山田"}}`)
	m3 := decode(t, `{"source":{"ip":"10.0.0.2"},"tags":["a","b"]}`)
	m4 := decode(t, `{"source.ip":"10.9.9.9","ok":true,"ratio":0.5,"nothing":null}`)
	tests := []struct {
		name        string
		opts        Options
		matches     []Match
		top         map[string]map[string]int
		subject     string
		body        string
		bodyHasOnly bool // compare body exactly (else only subject)
	}{
		{
			name:    "default body: rule name then fields sorted and flattened",
			opts:    Options{},
			matches: []Match{m1},
			subject: "F5 ASM",
			body: "F5 ASM\n\n" +
				"@timestamp: 2026-12-07T10:00:00Z\n" +
				"f5.asm.attack_type: SQL-Injection\n" +
				"f5.asm.violation_rating: 4\n" +
				"num_hits: 3\n" +
				"source.ip: 10.0.0.1\n",
			bodyHasOnly: true,
		},
		{
			name: "subject and text args from the first match",
			opts: Options{
				"alert_subject": "Attack from {0} rated {1}", "alert_subject_args": []any{"source.ip", "f5.asm.violation_rating"},
				"alert_text": "Type {}: {}", "alert_text_args": []any{"f5.asm.attack_type", "source.ip"}, "alert_text_type": "alert_text_only",
			},
			matches:     []Match{m1},
			subject:     "Attack from 10.0.0.1 rated 4",
			body:        "Type SQL-Injection: 10.0.0.1\n\n",
			bodyHasOnly: true,
		},
		{
			name:        "missing value default and a literal dotted key",
			opts:        Options{"alert_subject": "{0} {1}", "alert_subject_args": []any{"source.ip", "user.name"}},
			matches:     []Match{m4},
			subject:     "10.9.9.9 <MISSING VALUE>",
			bodyHasOnly: false,
		},
		{
			name:    "alert_missing_value and null as missing",
			opts:    Options{"alert_subject": "{0}|{1}|{2}|{3}", "alert_subject_args": []any{"nothing", "absent", "ok", "ratio"}, "alert_missing_value": "-"},
			matches: []Match{m4},
			subject: "-|-|True|0.5",
		},
		{
			name:    "rule keys fill args the match lacks",
			opts:    Options{"alert_subject": "{} for {}", "alert_subject_args": []any{"source.ip", "owner"}, "owner": "alice"},
			matches: []Match{m1},
			subject: "10.0.0.1 for alice",
		},
		{
			name:    "Japanese subject cut to alert_subject_max_len characters",
			opts:    Options{"alert_subject": "攻撃を検知しました: {0}", "alert_subject_args": []any{"source.ip"}, "alert_subject_max_len": 5},
			matches: []Match{m1},
			subject: "攻撃を検知",
		},
		{
			name:    "escaped braces and format specs",
			opts:    Options{"alert_subject": "{{literal}} {0:>10} {0!r} {1.x}", "alert_subject_args": []any{"source.ip", "source"}},
			matches: []Match{m1},
			subject: `{literal} 10.0.0.1 10.0.0.1 {"ip":"10.0.0.1"}`,
		},
		{
			name:    "no args: the subject is literal, braces and all",
			opts:    Options{"alert_subject": "{0} {{x}}"},
			matches: []Match{m1},
			subject: "{0} {{x}}",
		},
		{
			name:        "alert_text_kw",
			opts:        Options{"alert_text": "利用者 {user} from {ip}", "alert_text_kw": map[string]any{"user.name": "user", "source.ip": "ip"}, "alert_text_type": "alert_text_only"},
			matches:     []Match{m2},
			subject:     "F5 ASM",
			body:        "利用者 山田 from 10.0.0.1\n\n",
			bodyHasOnly: true,
		},
		{
			name:        "exclude_fields keeps alert_text and drops the fields",
			opts:        Options{"alert_text": "Custom", "alert_text_type": "exclude_fields"},
			matches:     []Match{m1},
			subject:     "F5 ASM",
			body:        "Custom\n\n",
			bodyHasOnly: true,
		},
		{
			name:        "include shows the named fields and the rule's own keys",
			opts:        Options{"include": []any{"source"}},
			matches:     []Match{m1},
			subject:     "F5 ASM",
			body:        "F5 ASM\n\n@timestamp: 2026-12-07T10:00:00Z\nnum_hits: 3\nsource.ip: 10.0.0.1\n",
			bodyHasOnly: true,
		},
		{
			name:        "lists print as indented JSON",
			opts:        Options{"alert_text": "x", "include": []any{"tags"}},
			matches:     []Match{m3},
			subject:     "F5 ASM",
			body:        "x\n\ntags: [\n    \"a\",\n    \"b\"\n]\n",
			bodyHasOnly: true,
		},
		{
			name:    "top counts after the text, highest first",
			opts:    Options{"alert_text": "Top", "top_count_keys": []any{"source.ip", "user.name"}, "include": []any{"none"}},
			matches: []Match{m1},
			top:     map[string]map[string]int{"source.ip": {"10.0.0.1": 5, "10.0.0.2": 7}},
			subject: "F5 ASM",
			body: "Top\n\n" +
				"source.ip:\n10.0.0.2: 7\n10.0.0.1: 5\n\n" +
				"user.name:\nNo events found.\n\n" +
				"@timestamp: 2026-12-07T10:00:00Z\nnum_hits: 3\n",
			bodyHasOnly: true,
		},
		{
			name: "aggregation summary table only",
			opts: Options{"aggregation": map[string]any{"minutes": 5}, "summary_table_fields": []any{"source.ip"},
				"alert_text_type": "aggregation_summary_only"},
			matches: []Match{m1, m2, m3},
			subject: "F5 ASM",
			body: "Aggregation resulted in the following data for summary_table_fields ==> ['source.ip', 'count']:\n\n" +
				"+-----------+-------+\n" +
				"| source.ip | count |\n" +
				"+===========+=======+\n" +
				"| 10.0.0.1  | 2     |\n" +
				"+-----------+-------+\n" +
				"| 10.0.0.2  | 1     |\n" +
				"+-----------+-------+\n\n",
			bodyHasOnly: true,
		},
		{
			name:    "several matches are separated by dashes",
			opts:    Options{"alert_text": "Hit {0}", "alert_text_args": []any{"source.ip"}, "alert_text_type": "alert_text_only"},
			matches: []Match{m2, m3},
			subject: "F5 ASM",
			body: "Hit 10.0.0.1\n\n" + "\n----------------------------------------\n" +
				"Hit 10.0.0.2\n\n" + "\n----------------------------------------\n",
			bodyHasOnly: true,
		},
		{
			name:        "alert_text_jinja",
			opts:        Options{"alert_text": "{{ rule_name }}: {{ source.ip }} {{user.name}}", "alert_text_type": "alert_text_jinja"},
			matches:     []Match{m2},
			subject:     "F5 ASM",
			body:        "F5 ASM: 10.0.0.1 山田\n\n",
			bodyHasOnly: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRenderer(tc.opts)
			if err != nil {
				t.Fatalf("NewRenderer() error: %v", err)
			}
			a := &Alert{Rule: "F5 ASM", Matches: tc.matches, TopCounts: tc.top, Time: time.Now()}
			if got := r.Subject(a); got != tc.subject {
				t.Errorf("Subject() = %q, want %q", got, tc.subject)
			}
			if tc.bodyHasOnly {
				if diff := cmp.Diff(tc.body, r.Body(a)); diff != "" {
					t.Errorf("Body() (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestRenderHTMLEscapesDocumentValues(t *testing.T) {
	r, err := NewRenderer(Options{"alert_text": "<b>{0}</b>", "alert_text_args": []any{"msg"}})
	if err != nil {
		t.Fatal(err)
	}
	a := &Alert{Rule: "r<1>", Matches: []Match{{"msg": "<script>x</script>"}}}
	got := r.BodyHTML(a)
	want := "<b>&lt;script&gt;x&lt;/script&gt;</b>\n\nmsg: &lt;script&gt;x&lt;/script&gt;\n"
	if got != want {
		t.Errorf("BodyHTML() = %q, want %q", got, want)
	}
}

func TestNewRendererErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"subject index beyond args", Options{"alert_subject": "{0} {2}", "alert_subject_args": []any{"a", "b"}}, "alert_subject: {2} needs argument 2 but the args list has 2"},
		{"text auto numbering beyond args", Options{"alert_text": "{} {}", "alert_text_args": []any{"a"}}, "alert_text: {} needs argument 1"},
		{"unknown kw name", Options{"alert_text": "{who}", "alert_text_kw": map[string]any{"user.name": "user"}}, `map a field to "who"`},
		{"bad text type", Options{"alert_text_type": "fancy"}, `alert_text_type: "fancy" is not a text type`},
		{"args not a list", Options{"alert_subject": "{0}", "alert_subject_args": 3}, "alert_subject_args:"},
		{"max len not a number", Options{"alert_subject_max_len": "long"}, "alert_subject_max_len:"},
		{"jinja with control flow", Options{"alert_text": "{% if x %}y{% endif %}", "alert_text_type": "alert_text_jinja"}, "no control flow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRenderer(tc.opts)
			if err == nil {
				t.Fatalf("NewRenderer(%v) = nil error, want one containing %q", tc.opts, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewRenderer() error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	m := decode(t, `{"a":{"b.c":{"d":1}},"x.y":2,"x":{"y":3}}`)
	for path, want := range map[string]string{"a.b.c.d": "1", "x.y": "2", "a.b.c": `{"d":1}`} {
		v, ok := Lookup(m, path)
		if !ok || pyStr(v) != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", path, pyStr(v), ok, want)
		}
	}
	if v, ok := Lookup(m, "a.b"); ok {
		t.Errorf("Lookup(a.b) = %v, want not found", v)
	}
}

func TestTemplate(t *testing.T) {
	m := decode(t, `{"source":{"ip":"10.0.0.1"},"rule_name":"shadow"}`)
	tm, err := parseTemplate("ip={{source.ip}} rule={{ rule_name }} none={{ missing.field }}")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tm.render("r1", m, noEscape), "ip=10.0.0.1 rule=shadow none="; got != want {
		t.Errorf("render() = %q, want %q (a match field named rule_name wins, as in Jinja)", got, want)
	}
	for _, bad := range []string{"{{ x | upper }}", "{% for x in y %}", "{{ x", "a }}", "{{ x + 1 }}", "{# c #}", "{{ }}"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("parseTemplate(%q) = nil error, want one", bad)
		}
	}
}

func TestLookupBranchingIsBounded(t *testing.T) {
	// Every level holds "a" and "a.a": without a bound a miss would try
	// 2^40 ways to split the path.
	m := map[string]any{}
	cur := m
	for range 40 {
		next := map[string]any{}
		cur["a"] = next
		cur["a.a"] = next
		cur = next
	}
	path := strings.Repeat("a.", 40) + "missing"
	done := make(chan bool)
	go func() {
		_, ok := Lookup(m, path)
		done <- ok
	}()
	if <-done {
		t.Error("Lookup() found a missing field")
	}
}

func TestRenderAlertCountsAndTopEventsInMatch(t *testing.T) {
	r, err := NewRenderer(Options{"alert_subject": "{0} hits, {1} matches", "alert_subject_args": []any{"num_hits", "num_matches"},
		"alert_text": "T", "top_count_keys": []any{"source.ip"}, "include": []any{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	m := Match{"top_events_source.ip": map[string]any{"10.0.0.1": json.Number("2"), "10.0.0.3": 9.0}}
	a := &Alert{Rule: "r", NumHits: 12, Matches: []Match{m, {}}}
	if got, want := r.Subject(a), "12 hits, 2 matches"; got != want {
		t.Errorf("Subject() = %q, want %q", got, want)
	}
	if got, want := r.Body(&Alert{Rule: "r", Matches: []Match{m}}), "T\n\nsource.ip:\n10.0.0.3: 9\n10.0.0.1: 2\n\n"; got != want {
		t.Errorf("Body() = %q, want %q", got, want)
	}
}

func BenchmarkRenderBody(b *testing.B) {
	r, err := NewRenderer(Options{"alert_subject": "Attack from {0}", "alert_subject_args": []any{"source.ip"},
		"alert_text": "rated {0}", "alert_text_args": []any{"f5.asm.violation_rating"}})
	if err != nil {
		b.Fatal(err)
	}
	a := &Alert{Rule: "F5 ASM", Matches: []Match{decode(b, asmDoc)}}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Subject(a)
		_ = r.Body(a)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}
