package parsers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/sluicelab/sluice/enrich/grok"
	"github.com/sluicelab/sluice/internal/event"
)

// compileRule compiles one rule written in YAML (the body of a rules
// entry).
func compileRule(t testing.TB, body string) *rule {
	t.Helper()
	lib, err := grok.BaseLibrary()
	if err != nil {
		t.Fatal(err)
	}
	c := &compiler{lib: lib, loc: time.UTC, file: "test.yaml"}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	r, err := c.rule(doc.Content[0], "rules[0]")
	if err != nil {
		t.Fatalf("rule(%q) = %v", body, err)
	}
	return r
}

// runRule runs r's steps on msg and returns whether they succeeded and
// the live value of each path.
func runRule(r *rule, msg string, paths ...string) (bool, map[string]string) {
	b := event.NewBatch()
	defer b.Release()
	st := newState(1)
	st.b, st.msg, st.e = b, msg, &event.Event{}
	st.begin(r)
	ok := multiStep(r.steps).run(st)
	got := map[string]string{}
	// Columns no other step reads are already in the event; the rest
	// are in the scratch list.
	for _, f := range st.e.Fields {
		switch f.Type {
		case event.FieldString:
			got[f.Key] = strings.Clone(f.S)
		default:
			got[f.Key] = fmt.Sprint(f.U)
		}
	}
	for _, p := range paths {
		if v, found := st.get(r.syms[p]); found {
			got[p] = strings.Clone(v)
		}
	}
	return ok, got
}

func TestCSVStep(t *testing.T) {
	r := compileRule(t, `
dataset: t.csv
csv:
  - {columns: [a, "", b, c:int], rest: _rest, min_columns: 2}
  - {source: _rest, if: {b: ["4"]}, separator: ";", quote: "'", columns: [d, e], ignore_values: ["-"]}
`)
	paths := []string{"a", "b", "c", "d", "e", "_rest"}
	for _, tc := range []struct {
		name, line string
		ok         bool
		want       map[string]string
	}{
		{"plain", "x,skip,4,7", true, map[string]string{"a": "x", "b": "4", "c": "7"}},
		{"rest and second step", "x,,4,7,p;'q;''r'", true, map[string]string{"a": "x", "b": "4", "c": "7", "_rest": "p;'q;''r'", "d": "p", "e": "q;'r"}},
		{"ignored value", "x,,4,7,-;q", true, map[string]string{"a": "x", "b": "4", "c": "7", "_rest": "-;q", "e": "q"}},
		{"if does not hold: second step skipped", "x,,6,7,p;q", true, map[string]string{"a": "x", "b": "6", "c": "7", "_rest": "p;q"}},
		{"quoted with separator and doubled quotes", `"x,y","""",4,"7"`, true, map[string]string{"a": "x,y", "b": "4", "c": "7"}},
		{"empty fields are left out", ",,,", true, map[string]string{}},
		{"trailing empty rest is left out", "x,,4,7,", true, map[string]string{"a": "x", "b": "4", "c": "7"}},
		{"fewer columns than min_columns fail", "x", false, map[string]string{"a": "x"}},
		{"exactly min_columns", "x,y", true, map[string]string{"a": "x"}},
		{"unterminated quote is read as it is", `"x,y`, true, map[string]string{"a": `"x`}},
		{"text after a closing quote keeps the field raw", `"x"y,z,4`, true, map[string]string{"a": `"x"y`, "b": "4"}},
		{"quote inside an unquoted field", `x"y,,4`, true, map[string]string{"a": `x"y`, "b": "4"}},
		{"empty message", "", false, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, got := runRule(r, tc.line, paths...)
			if ok != tc.ok {
				t.Errorf("run(%q) = %v, want %v", tc.line, ok, tc.ok)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("run(%q) fields (-got +want):\n%s", tc.line, diff)
			}
		})
	}
	// A duration in seconds becomes nanoseconds; a bad one is left out.
	r = compileRule(t, `{dataset: t.csv, csv: {columns: [a:duration, b:duration, c:duration, d:duration]}}`)
	if _, got := runRule(r, "16,0.25,x,1:02:03"); got["a"] != "16000000000" || got["b"] != "250000000" || got["c"] != "" || got["d"] != "3723000000000" {
		t.Errorf("run with duration = %q, want a=16000000000, b=250000000, no c and d=3723000000000", got)
	}
	// Without quoting, quotes are plain bytes.
	r = compileRule(t, `{dataset: t.csv, csv: {quote: "", separator: "|", columns: [a, b]}}`)
	if _, got := runRule(r, `"a|b"|c`, "a", "b"); got["a"] != `"a` || got["b"] != `b"` {
		t.Errorf("run without quoting = %q, want a=\"a and b=b\"", got)
	}
}

func TestBadCSVSteps(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"csv: {columns: [a], separator: ab}", `separator: "ab"; use one character`},
		{"csv: {columns: [a], quote: ','}", "quote and separator are both"},
		{"csv: {columns: [a:long]}", `unknown type "long"`},
		{"csv: {columns: [a..b]}", `"a..b" is not a dotted field path`},
		{"csv: {source: x}", "needs columns (or rest)"},
		{"csv: {columns: a}", "want a list of paths"},
		{"csv: {columns: [a], min_columns: 2}", "min_columns 2 is more than the 1 columns"},
		{"csv: {columns: [a], min_columns: x}", "min_columns: want a whole number"},
		{"csv: {columns: [a], iff: {}}", `unknown key "iff"`},
	} {
		dir := writeDir(t, map[string]string{"bad.yaml": "name: t\nrules:\n  - dataset: t.x\n    " + tc.body + "\n"})
		_, err := New(Config{RuleDirs: []string{dir}}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml:4") {
			t.Errorf("New() with %q = %v, want an error at bad.yaml:4 mentioning %q", tc.body, err, tc.want)
		}
	}
}

// encodeCSV writes fields as a csv line: quoted when a field holds the
// separator or starts with a quote, with quotes doubled.
func encodeCSV(fields []string) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if strings.ContainsAny(f, ",") || strings.HasPrefix(f, `"`) {
			b.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`)
			continue
		}
		b.WriteString(f)
	}
	return b.String()
}

// FuzzCSV checks the csv step two ways: any line is split without a
// panic, and fields written as csv (the fuzzer's text cut at NUL bytes)
// come back as they were.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b,c", `"a,b"` + "\x00" + `""`, `x"y` + "\x00\x00z", "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,203.0.113.9,192.0.2.1,4444,22,0,S,1,,64240,,mss",
		`1,2026/11/22 08:00:00,0128,SYSTEM,general,0,2026/11/22 08:00:00,,general,,0,0,general,informational,"User admin logged in, ""via"" web",1`} {
		f.Add(s)
	}
	const n = 8
	cols := make([]string, n)
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i)
	}
	r := compileRule(f, fmt.Sprintf("{dataset: t.csv, csv: {columns: [%s], rest: rest}}", strings.Join(cols, ", ")))
	paths := append(cols, "rest")
	f.Fuzz(func(t *testing.T, s string) {
		runRule(r, s, paths...) // any input: no panic
		fields := strings.Split(s, "\x00")
		if len(fields) > n {
			return
		}
		line := encodeCSV(fields)
		ok, got := runRule(r, line, paths...)
		if !ok {
			t.Fatalf("run(%q) failed", line)
		}
		for i, want := range fields {
			if got[cols[i]] != want {
				t.Fatalf("run(%q): column %d = %q, want %q (fields %q)", line, i, got[cols[i]], want, fields)
			}
		}
		if rest, found := got["rest"]; found {
			t.Fatalf("run(%q): rest %q, want none", line, rest)
		}
	})
}
