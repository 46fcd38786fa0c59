package grok

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadDirOverride(t *testing.T) {
	lib := baseLibrary(t)
	if err := lib.LoadDir("testdata/patterns"); err != nil {
		t.Fatalf("LoadDir(): %v", err)
	}
	if got, _ := lib.Lookup("IPV4"); got != `(?:[0-9]{1,3}\.){3}[0-9]{1,3}` {
		t.Fatalf("IPV4 = %q, want the user directory's definition", got)
	}
	p := lib.MustCompile("^%{MERAKI_FLOW} %{UFW_ACTION}$")
	var got []string
	line := []byte("flows src=999.1.1.1:5 dst=10.0.0.1 [UFW BLOCK]")
	if !p.Match(line, func(c Capture) { got = append(got, c.Name+"="+string(c.Value)) }) {
		t.Fatalf("Match(%q) = false; the overridden IPV4 accepts 999.1.1.1", line)
	}
	want := "meraki.type=flows source.ip=999.1.1.1 source.port=5 destination.ip=10.0.0.1 event.action=BLOCK"
	if strings.Join(got, " ") != want {
		t.Errorf("captures %q, want %q", strings.Join(got, " "), want)
	}
	for _, in := range p.prog.insts {
		if in.op == opIPv4 {
			t.Errorf("the overridden IPV4 still compiles to the base validator")
		}
	}
	diffEngines(t, p, line)
	if base := baseLibrary(t).MustCompile(`^%{IP:x}$`); base.Match([]byte("999.1.1.1"), func(Capture) {}) {
		t.Errorf("the base library's IP matches 999.1.1.1")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.grok")
	if err := os.WriteFile(bad, []byte("# ok\nGOOD x\nBAD-NAME x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := NewLibrary().LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), bad+":3:") || !strings.Contains(err.Error(), `"BAD-NAME"`) {
		t.Errorf("LoadDir() error = %v, want it to name %s:3 and the bad name", err, bad)
	}
	if err := os.WriteFile(bad, []byte("EMPTY\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := NewLibrary().LoadDir(dir); err == nil || !strings.Contains(err.Error(), "EMPTY has no expression") {
		t.Errorf("LoadDir() error = %v, want a missing expression", err)
	}
	if err := NewLibrary().LoadDir(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("LoadDir(missing) = nil")
	}
	fsys := fstest.MapFS{"p/a.grok": {Data: []byte("A x\r\nB\t%{A}y\n")}}
	lib := NewLibrary()
	if err := lib.LoadFS(fsys, "p/*.grok"); err != nil {
		t.Fatalf("LoadFS(): %v", err)
	}
	if b, _ := lib.Lookup("B"); b != "%{A}y" {
		t.Errorf("B = %q, want %%{A}y (tab separator, CRLF line ends)", b)
	}
	if err := lib.LoadFS(fsys, "q/*.grok"); err == nil {
		t.Errorf("LoadFS() of a glob matching nothing = nil")
	}
	if err := lib.Add("has space", "x"); err == nil {
		t.Errorf(`Add("has space") = nil`)
	}
}

func TestCompileErrors(t *testing.T) {
	lib := NewLibrary()
	for name, expr := range map[string]string{
		"LOOP1":   "%{LOOP2}",
		"LOOP2":   "a%{LOOP1}",
		"BADRE":   "(unclosed",
		"INNER":   "%{BADRE}",
		"NUM":     "[0-9]+",
		"LOOKBEH": "(?<!x)y",
	} {
		if err := lib.add(name, expr, "test.grok:1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ expr, want string }{
		{"x %{NOPE:y}", "unknown pattern NOPE at offset 2"},
		{"%{LOOP1}", "LOOP1 -> LOOP2 -> LOOP1"},
		{"a %{INNER}", "pattern BADRE (test.grok:1): unclosed ( at offset 0"},
		{"%{NUM:n} (x", "expression: unclosed ( at offset 9"},
		{"%{NUM:n} x)", "expression: unmatched ) at offset 10"},
		{"%{NUM:n} [a-", "at offset 9: error parsing regexp: missing closing ]: `[a-`"},
		{"%{NUM:n} x**", "at offset 10: error parsing regexp: invalid nested repetition operator: `**`"},
		{"%{NUM:n:bool}", `unknown type "bool"`},
		{"%{NUM:n", "%{ at offset 0 is not closed"},
		{"%{NUM:}", "empty field name"},
		{"%{NUM:a b}", `field name "a b"`},
		{"%{num-x}", `bad pattern name "num-x"`},
		{"%{NUM:n=[0-9]}", "inline definition"},
		{"(?<=a)b", "lookbehind (?<= at offset 0"},
		{"%{LOOKBEH}", "pattern LOOKBEH (test.grok:1): lookbehind (?<!"},
		{"a(?=b)", "lookahead (?= at offset 1"},
		{"(?>ab)", "atomic group"},
		{"(?<>x)", "empty field name"},
		{"(?<x.>y)", "empty part"},
		{"a++", "invalid nested repetition operator"},
	} {
		_, err := lib.Compile(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%q) error = %v, want it to contain %q", tc.expr, err, tc.want)
		}
	}
	if err := lib.Check(); err == nil || !strings.Contains(err.Error(), "BADRE") || !strings.Contains(err.Error(), "LOOP1") {
		t.Errorf("Check() = %v, want the bad patterns named", err)
	}
}
