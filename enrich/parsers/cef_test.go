package parsers

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/enrich/kv"
)

func cefPairs(ext string) [][2]string {
	var out [][2]string
	b := []byte(ext)
	for _, sp := range cefExtension(b, nil) {
		v := sp.Value(b)
		if sp.Flags&kv.Escaped != 0 {
			v = cefUnescape(nil, v)
		}
		out = append(out, [2]string{string(sp.Key(b)), string(v)})
	}
	return out
}

// TestCEFExtension checks the CEF extension rules: values with spaces run
// to the next " key=", escapes are undone, stray words are skipped.
func TestCEFExtension(t *testing.T) {
	for _, tc := range []struct {
		ext  string
		want [][2]string
	}{
		{"src=1.2.3.4 spt=80", [][2]string{{"src", "1.2.3.4"}, {"spt", "80"}}},
		{"msg=Request blocked by policy cs1=/Common/shop cs1Label=policy_name",
			[][2]string{{"msg", "Request blocked by policy"}, {"cs1", "/Common/shop"}, {"cs1Label", "policy_name"}}},
		{`request=GET /a?b\=c HTTP/1.1\r\nHost: x act=blocked`, [][2]string{{"request", "GET /a?b=c HTTP/1.1\r\nHost: x"}, {"act", "blocked"}}},
		{`a=x\\ b=y`, [][2]string{{"a", `x\`}, {"b", "y"}}},
		{`a=1+1 = 2 b=`, [][2]string{{"a", "1+1 = 2"}, {"b", ""}}},
		{"  junk words a=1   b=2  ", [][2]string{{"a", "1"}, {"b", "2"}}},
		{"=x a=", [][2]string{{"a", ""}}},
		{"", nil},
	} {
		if diff := cmp.Diff(cefPairs(tc.ext), tc.want); diff != "" {
			t.Errorf("cefExtension(%q) (-got +want):\n%s", tc.ext, diff)
		}
	}
}

// TestCEFStep runs a rule with a cef kv step: header fields, labels,
// fields mapping, a line that is not CEF.
func TestCEFStep(t *testing.T) {
	dir := writeDir(t, map[string]string{"x.yaml": `name: x
detect:
  - appname: [CEF]
rules:
  - name: cef
    dataset: x.cef
    kv:
      cef: true
      cef_labels: true
      cef_header: ["", observer.vendor, observer.product, "", rule.id, rule.name, event.severity]
      prefix: x.
      fields:
        src: source.ip
        policy_name: rule.ruleset
`})
	s := newStage(t, Config{Auto: true, RuleDirs: []string{dir}})
	for _, tc := range []struct {
		line string
		want map[string]string
	}{
		{`<14>Nov 22 08:00:00 h CEF:0|Ven\|dor|Prod|1.0|42|a name with spaces|5|src=192.0.2.7 cs1=/Common/p cs1Label=policy_name cs2=v cs2Label=other x=a b\=c`,
			map[string]string{"dataset": "x.cef", "observer.vendor": "Ven|dor", "observer.product": "Prod", "rule.id": "42",
				"rule.name": "a name with spaces", "event.severity": "5", "source.ip": "192.0.2.7", "rule.ruleset": "/Common/p",
				"x.other": "v", "x.x": "a b=c"}},
		// Three header fields: no CEF, a parse failure.
		{`<14>Nov 22 08:00:00 h CEF:0|only|three|`, map[string]string{"dataset": "x.cef", "tags": "_grokparsefailure"}},
	} {
		b := decode(t, "192.0.2.1", tc.line)
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		e := &b.All()[0]
		if diff := cmp.Diff(fieldsOf(e), tc.want); diff != "" {
			t.Errorf("Process(%q) (-got +want):\n%s", tc.line, diff)
		}
		checkDocument(t, e.AppendJSON(nil))
		b.Release()
	}
}

// FuzzCEFExtension checks that any extension gives ordered spans inside
// the text, keys of key bytes followed by '=', and values that hold no
// unescaped " key=" (where the next pair would start).
func FuzzCEFExtension(f *testing.F) {
	for _, s := range []string{
		"src=1.2.3.4 spt=80", `request=GET /a?b\=c HTTP/1.1\r\n act=blocked`, `a=x\\ b=y`, "a=1 = 2 b=", "=x a=",
		"cs1=/Common/shop cs1Label=policy_name cs5=4429861082520419386 cs5Label=support_id", `\`, "a=\\", "a= =b= c=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ext string) {
		b := []byte(ext)
		spans := cefExtension(b, nil)
		if len(spans) > maxCEFPairs {
			t.Fatalf("%d pairs", len(spans))
		}
		prev := 0
		for _, sp := range spans {
			if sp.K0 < prev || sp.K0 >= sp.K1 || sp.K1 >= sp.V0 || sp.V0 > sp.V1 || sp.V1 > len(b) || b[sp.K1] != '=' {
				t.Fatalf("cefExtension(%q): bad span %+v after %d", ext, sp, prev)
			}
			for _, c := range b[sp.K0:sp.K1] {
				if !cefKeyByte(c) {
					t.Fatalf("cefExtension(%q): key %q", ext, b[sp.K0:sp.K1])
				}
			}
			v := b[sp.V0:sp.V1]
			for j := 0; j < len(v); j++ {
				if v[j] == '\\' {
					j++
					continue
				}
				if v[j] == ' ' && cefKeyAt(v, j+1) {
					t.Fatalf("cefExtension(%q): value %q holds a pair", ext, v)
				}
			}
			_ = cefUnescape(nil, v)
			prev = sp.V1
		}
	})
}

// TestStructuredDataSource checks a kv step reading the decoder's RFC
// 5424 structured data (keyed by PARAM-NAME whatever the SD-ID), a cut
// reading the MSGID, and that neither is written by the rule.
func TestStructuredDataSource(t *testing.T) {
	dir := writeDir(t, map[string]string{"x.yaml": `name: x
detect:
  - appname: [app]
rules:
  - name: sd
    dataset: x.sd
    cut:
      - {source: log.syslog.msgid, sep: " ", head: x.tag}
    kv:
      source: log.syslog.structured_data
      prefix: x.
      fields:
        src: source.ip
        port: source.port
`})
	s := newStage(t, Config{Auto: true, RuleDirs: []string{dir}})
	for _, tc := range []struct {
		line string
		want map[string]string
	}{
		{`<14>1 2026-11-22T08:00:00Z h app - TAG_1 [a@1.2.3 src="192.0.2.9" port="99"][b other="x y"]`,
			map[string]string{"dataset": "x.sd", "x.tag": "TAG_1", "source.ip": "192.0.2.9", "x.other": "x y",
				"log.syslog.structured_data.a@1.2.3.src": "192.0.2.9", "log.syslog.structured_data.a@1.2.3.port": "99",
				"log.syslog.structured_data.b.other": "x y"}},
		// No structured data: no pair, the rule fails.
		{`<14>1 2026-11-22T08:00:00Z h app - TAG_1 - text`, map[string]string{"dataset": "x.sd", "tags": "_grokparsefailure"}},
	} {
		b := decode(t, "192.0.2.1", tc.line)
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		e := &b.All()[0]
		if diff := cmp.Diff(fieldsOf(e), tc.want); diff != "" {
			t.Errorf("Process(%q) (-got +want):\n%s", tc.line, diff)
		}
		if e.Src.IP.IsValid() && e.Src.Port != 99 {
			t.Errorf("Process(%q): source.port %d, want 99", tc.line, e.Src.Port)
		}
		checkDocument(t, e.AppendJSON(nil))
		b.Release()
	}
	bad := writeDir(t, map[string]string{"x.yaml": "name: x\nrules:\n  - dataset: x.a\n    kv: {source: log.syslog.structured_data, cef: true}\n"})
	if _, err := New(Config{RuleDirs: []string{bad}}, nil, nil); err == nil || !strings.Contains(err.Error(), "x.yaml:4") || !strings.Contains(err.Error(), "no CEF") {
		t.Errorf("New() with cef on the structured data = %v, want an error naming x.yaml:4", err)
	}
}
