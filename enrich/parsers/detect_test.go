package parsers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/internal/event"
)

// TestAutoDetectGoldenVendor runs every golden input through the default
// stage (auto-detection, no routes) and checks that the vendor of the file
// name (the part before the first _) is the vendor of the dataset (the
// part before the first .): no parser claims another vendor's lines.
// other_* inputs must not be claimed at all.
func TestAutoDetectGoldenVendor(t *testing.T) {
	s := newStage(t, Default())
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		vendor, _, _ := strings.Cut(filepath.Base(file), "_")
		b := decode(t, g.Sender, g.Input)
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		ds := b.All()[0].Syslog.Dataset
		b.Release()
		got, _, _ := strings.Cut(ds, ".")
		want := vendor
		if vendor == "other" {
			want = ""
		}
		if got != want {
			t.Errorf("%s: dataset %q, want one of vendor %q", file, ds, want)
		}
	}
}

// TestAppNameSource checks detection by app-name prefix ("%ASA-*") and
// steps reading the app name (source: process.name), and that writes to
// the decoder's message are ignored rather than fatal.
func TestAppNameSource(t *testing.T) {
	dir := writeDir(t, map[string]string{"x.yaml": `name: x
detect:
  - appname: ["%XYZ-*"]
rules:
  - name: a
    dataset: x.a
    cut:
      - {source: process.name, sep: "-", head: _p, tail: x.id}
      - {source: message, sep: " ", head: message, tail: x.rest}
    set: {message: replaced, process.name: replaced}
`})
	s := newStage(t, Config{Auto: true, RuleDirs: []string{dir}})
	for _, tc := range []struct {
		line string
		want map[string]string
	}{
		{"<14>Nov 22 08:00:00 h %XYZ-6-1234: hello world",
			// process.name written by a step is an ordinary field (the
			// encoder writes the decoder's).
			map[string]string{"dataset": "x.a", "x.id": "6-1234", "x.rest": "world", "process.name": "replaced"}},
		// %XY is not %XYZ-: not detected.
		{"<14>Nov 22 08:00:00 h %XY-6-1234: hello world", map[string]string{"dataset": ""}},
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
		if e.Syslog.Message != "hello world" || !strings.HasPrefix(e.Syslog.AppName, "%XY") {
			t.Errorf("Process(%q) changed the message or app name: %q, %q", tc.line, e.Syslog.Message, e.Syslog.AppName)
		}
		b.Release()
	}
	bad := writeDir(t, map[string]string{"x.yaml": "name: x\nrules:\n  - dataset: x.a\n    when: {appname: [\"%XYZ-*\"]}\n    kv: {}\n"})
	if _, err := New(Config{RuleDirs: []string{bad}}, nil, nil); err == nil || !strings.Contains(err.Error(), "x.yaml:4") || !strings.Contains(err.Error(), "detect condition") {
		t.Errorf("New() with a * in when.appname = %v, want an error naming x.yaml:4", err)
	}
}

// TestAutoDetectCiscoIOSvsASA checks, below the vendor level of
// TestAutoDetectGoldenVendor, that Cisco IOS lines go to cisco_ios and
// ASA/FTD lines to cisco_asa: both are "%FAC-SEV-ID" messages.
func TestAutoDetectCiscoIOSvsASA(t *testing.T) {
	s := newStage(t, Default())
	files, err := filepath.Glob("testdata/golden/cisco_*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Cisco golden files: %v", err)
	}
	ios := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		want := []string{"cisco.asa", "cisco.ftd"}
		if strings.HasPrefix(filepath.Base(file), "cisco_ios_") {
			want = []string{"cisco.ios"}
			ios++
		}
		b := decode(t, g.Sender, g.Input)
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		e := &b.All()[0]
		if ds := e.Syslog.Dataset; !slices.Contains(want, ds) {
			t.Errorf("%s: dataset %q, want one of %v", file, ds, want)
		}
		if e.Tags&event.TagGrokFailure != 0 {
			t.Errorf("%s: tagged _grokparsefailure", file)
		}
		b.Release()
	}
	if ios < 5 {
		t.Errorf("%d cisco_ios_* golden files, want at least 5", ios)
	}
}
