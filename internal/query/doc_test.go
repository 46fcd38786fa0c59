package query

import (
	"strings"
	"testing"
)

func TestJSONDoc(t *testing.T) {
	doc := "{\"s\":\"\\u00e9\\ud83d\\ude00\\ud800x\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"b\":\"\xff\xfe ok\",\"\":{\"\":1}," +
		"\"n\":-0.5e-3,\"a\":{\"b\":[1,{\"c\":[true,null,\"x\"]}],\"e\":{}},\"a.b\":2,\"z\":[]}"
	d, err := NewJSONDoc([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"s":     "s:é😀\ufffdx\"\\/\b\f\n\r\t",
		"b":     "s:\ufffd\ufffd ok",
		".":     "n:1", // {"":{"":1}}: an empty key joins as an empty segment
		"n":     "n:-0.0005",
		"a.b":   "n:1 | n:2",
		"a.b.c": "b:true | s:x",
		"a.e":   "",
		"z":     "",
	} {
		if path == "." {
			path = ""
		}
		if got := valueKeys(d.Values(path, nil)); got != want {
			t.Errorf("Values(%q) = %q, want %q", path, got, want)
		}
	}
	if got := strings.Join(d.Paths(), ","); got != ",a.b,a.b.c,b,n,s" {
		t.Errorf("Paths() = %q", got)
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":1`, `{"a":1e999}`, `{"a":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}`, ``} {
		if _, err := NewJSONDoc([]byte(bad)); err == nil {
			t.Errorf("NewJSONDoc(%.30q) = nil error", bad)
		}
	}
}
