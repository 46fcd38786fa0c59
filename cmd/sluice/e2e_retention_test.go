package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/internal/estest"
)

// writeConfig writes a config file into a temp dir and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dayFile is sluice-flows-YYYY.MM.DD.ndjson for n days before today (UTC).
func dayFile(n int) string {
	return "sluice-flows-" + time.Now().UTC().AddDate(0, 0, -n).Format("2006.01.02") + ".ndjson"
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func oldFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	old := time.Now().Add(-3 * time.Hour)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(`{"file":"`+n+`"}`+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// Exit codes and messages of `sluice retention` without doing anything.
func TestCLIRetentionUsage(t *testing.T) {
	out, code := runCLI(t, nil, "retention", "--help")
	if code != 0 || !strings.Contains(out, "Exit codes:") || !strings.Contains(out, "--dry-run") {
		t.Errorf("retention --help = %d %q, want 0 with the exit codes and --dry-run", code, out)
	}
	if out, code = runCLI(t, nil, "retention", "--no-such-flag"); code != 2 {
		t.Errorf("retention --no-such-flag = %d %q, want 2", code, out)
	}
	if out, code = runCLI(t, nil, "retention", "extra"); code != 2 {
		t.Errorf("retention extra = %d %q, want 2", code, out)
	}
	dir := t.TempDir()
	if out, code = runCLI(t, []string{"SLUICE_OUTPUT_FILE_DIR=" + dir}, "retention"); code != 0 || !strings.Contains(out, "no retention.policies configured") {
		t.Errorf("retention without policies = %d %q, want 0 saying so", code, out)
	}
	bad := writeConfig(t, "output:\n  file:\n    dir: "+dir+"\nretention:\n  schedule: sometimes\n  policies:\n"+
		"    - {pattern: \"*\", max_age: 30d, action: delete}\n"+
		"    - {pattern: \"sluice-flows-*\", max_age: 7d, action: close}\n")
	out, code = runCLI(t, nil, "retention", "--config", bad)
	if code != 2 {
		t.Errorf("retention with a bad config = %d, want 2:\n%s", code, out)
	}
	for _, want := range []string{"retention.schedule", "retention.policies[0].pattern", "retention.policies[1].action: close needs output.elasticsearch.addresses"} {
		if !strings.Contains(out, want) {
			t.Errorf("retention with a bad config does not name %s:\n%s", want, out)
		}
	}
	// check-config and run refuse the same file.
	if out, code = runCLI(t, nil, "check-config", bad); code == 0 || !strings.Contains(out, "retention.policies[0].pattern") {
		t.Errorf("check-config with a bad retention policy = %d %q", code, out)
	}
	// A missing directory fails (exit 1), naming output.file.dir.
	missing := writeConfig(t, "output:\n  file:\n    dir: "+filepath.Join(dir, "nope")+"\nretention:\n  policies:\n    - {pattern: \"sluice-flows-*\", max_age: 30d, action: delete}\n")
	if out, code = runCLI(t, nil, "retention", "--config", missing); code != 1 || !strings.Contains(out, "output.file.dir") {
		t.Errorf("retention on a missing dir = %d, want 1 naming output.file.dir:\n%s", code, out)
	}
}

// `sluice retention` on daily files: --dry-run reports and changes nothing,
// then the real run deletes and gzips, exits 0, and a second run finds
// nothing to do.
func TestRetentionCommandFiles(t *testing.T) {
	dir := t.TempDir()
	oldFiles(t, dir, dayFile(0), dayFile(1), dayFile(3), dayFile(40), "sluice-flows-notes.ndjson")
	before := listDir(t, dir)
	cfg := writeConfig(t, fmt.Sprintf(`output:
  file:
    dir: %s
retention:
  policies:
    - {name: flows-30d, pattern: "sluice-flows-*", max_age: 30d, action: delete}
    - {name: flows-gzip, pattern: "sluice-flows-*", max_age: 1d, action: gzip}
`, dir))
	out, code := runCLI(t, nil, "retention", "--config", cfg, "--dry-run")
	if code != 0 {
		t.Fatalf("retention --dry-run = %d:\n%s", code, out)
	}
	if diff := cmp.Diff(before, listDir(t, dir)); diff != "" {
		t.Fatalf("--dry-run changed files (-before +after):\n%s", diff)
	}
	for _, want := range []string{"would delete   files         " + dayFile(40), "would gzip     files         " + dayFile(3),
		"skipped        files         sluice-flows-notes.ndjson", "dry run, nothing changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("--dry-run output lacks %q:\n%s", want, out)
		}
	}

	out, code = runCLI(t, nil, "retention", "--config", cfg)
	if code != 0 {
		t.Fatalf("retention = %d:\n%s", code, out)
	}
	want := []string{dayFile(0), dayFile(1), dayFile(3) + ".gz", "sluice-flows-notes.ndjson"}
	sort.Strings(want)
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Errorf("files after retention (-want +got):\n%s\noutput:\n%s", diff, out)
	}
	if !strings.Contains(out, "retention: 2 done, 0 failed") {
		t.Errorf("retention output lacks the totals:\n%s", out)
	}
	if out, code = runCLI(t, nil, "retention", "--config", cfg); code != 0 || !strings.Contains(out, "retention: 0 done, 0 failed") {
		t.Errorf("second retention run = %d, want 0 with nothing done:\n%s", code, out)
	}
}

// `sluice retention` on a real node: dry run, then delete, then an
// unreachable cluster exits 1.
func TestRetentionCommandElasticsearch(t *testing.T) {
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluiceret")
	t.Cleanup(func() { estest.DeleteIndex(t, url, prefix+"-*") })
	day := func(n int) string {
		return prefix + "-flows-" + time.Now().UTC().AddDate(0, 0, -n).Format("2006.01.02")
	}
	for _, n := range []string{day(0), day(10), day(40), prefix + "-flows-keep"} {
		if st, body := estest.Do(t, http.MethodPut, url+"/"+n, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`); st != 200 {
			t.Fatalf("create %s: %d %s", n, st, body)
		}
	}
	indices := func() []string {
		st, body := estest.Do(t, http.MethodGet, url+"/_cat/indices/"+prefix+"-*?format=json&h=index&expand_wildcards=all", "")
		if st != 200 {
			t.Fatalf("_cat/indices: %d %s", st, body)
		}
		var rows []struct{ Index string }
		if err := json.Unmarshal(body, &rows); err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, r := range rows {
			out = append(out, r.Index)
		}
		sort.Strings(out)
		return out
	}
	before := indices()
	yaml := `output:
  file:
    enabled: false
  elasticsearch:
    addresses: [%s]
retention:
  policies:
    - {name: flows, pattern: "` + prefix + `-flows-*", max_age: 30d, action: delete}
`
	cfg := writeConfig(t, fmt.Sprintf(yaml, url))
	out, code := runCLI(t, nil, "retention", "--config", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "would delete   elasticsearch "+day(40)) {
		t.Fatalf("retention --dry-run = %d, want 0 and a would-delete line for %s:\n%s", code, day(40), out)
	}
	if diff := cmp.Diff(before, indices()); diff != "" {
		t.Fatalf("--dry-run changed indices (-before +after):\n%s", diff)
	}
	out, code = runCLI(t, nil, "retention", "--config", cfg)
	if code != 0 || !strings.Contains(out, "deleted        elasticsearch "+day(40)) {
		t.Fatalf("retention = %d, want 0 and a deleted line:\n%s", code, out)
	}
	want := []string{day(0), day(10), prefix + "-flows-keep"}
	sort.Strings(want)
	if diff := cmp.Diff(want, indices()); diff != "" {
		t.Errorf("indices after retention (-want +got):\n%s", diff)
	}

	down := writeConfig(t, fmt.Sprintf(yaml, "http://127.0.0.1:1"))
	if out, code = runCLI(t, nil, "retention", "--config", down); code != 1 || !strings.Contains(out, "FAILED") {
		t.Errorf("retention against a closed port = %d, want 1 with a FAILED line:\n%s", code, out)
	}
}

// retention.schedule inside `sluice run`: with an interval the first run
// starts at once and deletes an old file; today's stays; the metrics count
// it; SIGTERM still stops sluice cleanly.
func TestRetentionScheduleInRun(t *testing.T) {
	out := t.TempDir()
	oldFiles(t, out, dayFile(10), dayFile(0))
	cfg := writeConfig(t, `retention:
  schedule: 1h
  policies:
    - {name: flows, pattern: "sluice-flows-*", max_age: 2d, action: delete}
`)
	p := startSluice(t, sluiceOpts{Ports: newPorts(t), OutDir: out, Args: []string{"--config", cfg}})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(out, dayFile(10))); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not deleted within 15s; log:\n%s", dayFile(10), p.logTail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var m map[string]float64
	for {
		m = p.metrics()
		if m[`sluice_retention_runs_total{result="ok"}`] >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := m[`sluice_retention_actions_total{action="delete",result="ok",target="files"}`]; got != 1 {
		t.Errorf("sluice_retention_actions_total{files,delete,ok} = %v, want 1\n%s", got, metricLines(m, "sluice_retention"))
	}
	if m[`sluice_retention_runs_total{result="ok"}`] != 1 || m["sluice_retention_last_success_timestamp_seconds"] <= 0 {
		t.Errorf("retention run metrics:\n%s", metricLines(m, "sluice_retention"))
	}
	p.stop()
	if _, err := os.Stat(filepath.Join(out, dayFile(0))); err != nil {
		t.Errorf("today's file: %v", err)
	}
}
