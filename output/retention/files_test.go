package retention

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fileDay is the name of the flows file of the day n days before now's.
func fileDay(now time.Time, n int) string {
	return "sluice-flows-" + now.UTC().AddDate(0, 0, -n).Format("2006.01.02") + ".ndjson"
}

// writeFiles creates files in dir with distinct contents, last modified at mtime.
func writeFiles(t *testing.T, dir string, mtime time.Time, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		content := strings.Repeat(`{"file":"`+n+`"}`+"\n", 50)
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot maps each file of dir to its mode, mtime and contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Mode().String() + " " + fi.ModTime().String() + " " + string(b)
	}
	return out
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gzip.NewReader(%s): %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return string(b)
}

func newFileRunner(t *testing.T, dir string, now time.Time, reg prometheus.Registerer, policies ...PolicyConfig) *Runner {
	t.Helper()
	r, err := New(Config{Timezone: "UTC", FilesDir: dir, Policies: policies}, Deps{Now: func() time.Time { return now }}, nil, reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func TestFilesDeleteAndGzip(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * time.Hour)
	writeFiles(t, dir, old,
		fileDay(now, -1), fileDay(now, 0), fileDay(now, 1), fileDay(now, 2), fileDay(now, 3), fileDay(now, 40), fileDay(now, 45),
		"sluice-flows-bad.ndjson", "sluice-syslog-2020.01.01.ndjson", "notes.txt", ".tmp-sluice-flows-2020.01.01.ndjson")
	before := snapshot(t, dir)
	policies := []PolicyConfig{
		{Name: "del", Pattern: "sluice-flows-*", MaxAge: "30d", Action: "delete"},
		{Name: "gz", Pattern: "sluice-flows-*", MaxAge: "1d", Action: "gzip"},
	}

	// Dry run: the report says what would happen; nothing changes.
	var out bytes.Buffer
	dry := newFileRunner(t, dir, now, prometheus.NewRegistry(), policies...)
	res, err := dry.Run(context.Background(), true, &out)
	if err != nil {
		t.Fatalf("Run(dry) = %v\n%s", err, &out)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Fatalf("dry run changed the directory (-before +after):\n%s", diff)
	}
	for _, want := range []string{
		"would delete   files         " + fileDay(now, 40) + "  [del] max_age 30d",
		"would delete   files         " + fileDay(now, 45),
		"would gzip     files         " + fileDay(now, 2) + "  [gz]",
		"would gzip     files         " + fileDay(now, 3),
		"skipped        files         sluice-flows-bad.ndjson  [del] no date matching %Y.%m.%d",
		"retention: 4 would be done (dry run, nothing changed), 0 failed, 2 skipped",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry-run report lacks %q:\n%s", want, &out)
		}
	}
	// The dry run's gzip policy does not see what the delete policy would delete.
	if strings.Contains(out.String(), "would gzip     files         "+fileDay(now, 40)) {
		t.Errorf("dry run would gzip a file the delete policy would delete:\n%s", &out)
	}
	if res.Done != 4 || res.Skipped != 2 {
		t.Errorf("Run(dry) = %+v, want 4 done, 2 skipped", res)
	}
	if got := testutil.ToFloat64(dry.m.runs.WithLabelValues("ok")) + testutil.ToFloat64(dry.m.actions.WithLabelValues("files", "delete", "ok")); got != 0 {
		t.Errorf("a dry run was counted in the metrics: %v", got)
	}

	// For real.
	out.Reset()
	r := newFileRunner(t, dir, now, prometheus.NewRegistry(), policies...)
	if _, err := r.Run(context.Background(), false, &out); err != nil {
		t.Fatalf("Run = %v\n%s", err, &out)
	}
	var got []string
	for n := range snapshot(t, dir) {
		got = append(got, n)
	}
	sort.Strings(got)
	want := []string{
		".tmp-sluice-flows-2020.01.01.ndjson", "notes.txt",
		fileDay(now, 3) + ".gz", fileDay(now, 2) + ".gz", fileDay(now, 1), fileDay(now, 0), fileDay(now, -1),
		"sluice-flows-bad.ndjson", "sluice-syslog-2020.01.01.ndjson",
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("files after the run (-want +got):\n%s\nreport:\n%s", diff, &out)
	}
	for _, n := range []int{2, 3} {
		gz := filepath.Join(dir, fileDay(now, n)+".gz")
		orig := before[fileDay(now, n)]
		if content := gunzip(t, gz); !strings.HasSuffix(orig, " "+content) || content == "" {
			t.Errorf("%s holds %q, want the original file's contents", gz, content)
		}
		fi, err := os.Stat(gz)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s mode %v, want the original's 0640", gz, fi.Mode().Perm())
		}
	}
	for _, keep := range []string{fileDay(now, 1), fileDay(now, 0), "sluice-flows-bad.ndjson", "sluice-syslog-2020.01.01.ndjson"} {
		if diff := cmp.Diff(before[keep], snapshot(t, dir)[keep]); diff != "" {
			t.Errorf("%s changed:\n%s", keep, diff)
		}
	}
	m := r.m
	for _, c := range []struct {
		action string
		want   float64
	}{{"delete", 2}, {"gzip", 2}} {
		if got := testutil.ToFloat64(m.actions.WithLabelValues("files", c.action, "ok")); got != c.want {
			t.Errorf("sluice_retention_actions_total{files,%s,ok} = %v, want %v", c.action, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.skipped.WithLabelValues("files", "unparseable")); got != 2 {
		t.Errorf("sluice_retention_skipped_total{files,unparseable} = %v, want 2 (one per policy)", got)
	}
	if got := testutil.ToFloat64(m.runs.WithLabelValues("ok")); got != 1 {
		t.Errorf("sluice_retention_runs_total{ok} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.lastSuccess); got != float64(now.Unix()) {
		t.Errorf("sluice_retention_last_success_timestamp_seconds = %v, want %d", got, now.Unix())
	}

	// A second run has nothing left to do.
	out.Reset()
	res, err = newFileRunner(t, dir, now, nil, policies...).Run(context.Background(), false, &out)
	if err != nil || res.Done != 0 {
		t.Errorf("second Run = %+v, %v, want nothing done\n%s", res, err, &out)
	}
}

// A file written in the last hour is not compressed; late events written
// to a day already compressed are appended to its .gz as another member.
func TestGzipRecentAndAppend(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	name := fileDay(now, 5)
	writeFiles(t, dir, now.Add(-10*time.Minute), name)
	policy := PolicyConfig{Pattern: "sluice-flows-*", MaxAge: "2d", Action: "gzip"}
	var out bytes.Buffer
	res, err := newFileRunner(t, dir, now, nil, policy).Run(context.Background(), false, &out)
	if err != nil || res.Done != 0 || res.Skipped != 1 || !strings.Contains(out.String(), "written in the last hour") {
		t.Fatalf("Run on a fresh file = %+v, %v, want it skipped as recently written:\n%s", res, err, &out)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Fatalf("recently written file: %v", err)
	}

	old := now.Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, name))
	if _, err := newFileRunner(t, dir, now, nil, policy).Run(context.Background(), false, io.Discard); err != nil {
		t.Fatal(err)
	}
	late := `{"late":true}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(late), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if res, err := newFileRunner(t, dir, now, nil, policy).Run(context.Background(), false, &out); err != nil || res.Done != 1 {
		t.Fatalf("Run with a late file = %+v, %v\n%s", res, err, &out)
	}
	if got, want := gunzip(t, filepath.Join(dir, name+".gz")), string(first)+late; got != want {
		t.Errorf("multi-member .gz reads %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
		t.Errorf("%s still there after gzip: %v", name, err)
	}
}

// max_total_size counts the .ndjson and .ndjson.gz files; deleting goes
// oldest first and never takes today's or yesterday's file.
func TestFilesMaxTotalSize(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * time.Hour)
	writeFiles(t, dir, old, fileDay(now, 0), fileDay(now, 1), fileDay(now, 2), fileDay(now, 3), fileDay(now, 4)+".gz")
	size := int64(len(strings.Repeat(`{"file":"`+fileDay(now, 0)+`"}`+"\n", 50)))
	var out bytes.Buffer
	// Room for three files: the two oldest go.
	p := PolicyConfig{Pattern: "sluice-flows-*", MaxTotalSize: strconv.FormatInt(3*size+2, 10), Action: "delete"}
	if _, err := newFileRunner(t, dir, now, nil, p).Run(context.Background(), false, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, &out)
	}
	var got []string
	for n := range snapshot(t, dir) {
		got = append(got, n)
	}
	sort.Strings(got)
	want := []string{fileDay(now, 2), fileDay(now, 1), fileDay(now, 0)}
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files left (-want +got):\n%s\n%s", diff, &out)
	}
}

// A missing directory is a failure that names output.file.dir, not "nothing to do".
func TestFilesMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	var out bytes.Buffer
	res, err := newFileRunner(t, dir, time.Now(), nil, PolicyConfig{Pattern: "sluice-flows-*", MaxAge: "2d", Action: "delete"}).Run(context.Background(), false, &out)
	if err == nil || res.Failed != 1 || !strings.Contains(out.String(), "output.file.dir") {
		t.Errorf("Run on a missing dir = %+v, %v, want 1 failure naming output.file.dir:\n%s", res, err, &out)
	}
}

// Two runs on one directory do not work at once: the second reports a
// failure and leaves the files alone.
func TestFilesLocked(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	writeFiles(t, dir, now.Add(-2*time.Hour), fileDay(now, 5))
	before := snapshot(t, dir)
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p := PolicyConfig{Pattern: "sluice-flows-*", MaxAge: "2d", Action: "gzip"}
	res, err := newFileRunner(t, dir, now, nil, p).Run(context.Background(), false, &out)
	if err == nil || res.Failed != 1 || !strings.Contains(out.String(), "another retention run") {
		t.Errorf("Run on a locked dir = %+v, %v, want 1 failure:\n%s", res, err, &out)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("locked run changed files:\n%s", diff)
	}
	unlock()
	if res, err := newFileRunner(t, dir, now, nil, p).Run(context.Background(), false, io.Discard); err != nil || res.Done != 1 {
		t.Errorf("Run after unlock = %+v, %v, want 1 done", res, err)
	}
}
