package retention

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/estest"
	"github.com/sluicelab/sluice/output/elasticsearch"
)

// esFixture is one test's indices (prefix-*) on a real node.
type esFixture struct {
	url, prefix string
	now         time.Time
}

func newESFixture(t *testing.T, url string) *esFixture {
	t.Helper()
	f := &esFixture{url: url, prefix: estest.IndexName(t, "sluiceret"), now: time.Now()}
	t.Cleanup(func() { estest.DeleteIndex(t, url, f.prefix+"-*") })
	return f
}

// day is prefix-<kind>-YYYY.MM.DD for n days before today (UTC).
func (f *esFixture) day(kind string, n int) string {
	return f.prefix + "-" + kind + "-" + f.now.UTC().AddDate(0, 0, -n).Format("2006.01.02")
}

func (f *esFixture) create(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		st, body := estest.Do(t, http.MethodPut, f.url+"/"+n, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
		if st != http.StatusOK {
			t.Fatalf("create %s: %d %s", n, st, body)
		}
	}
}

// docs adds n documents to index, each in a segment of its own, plus pad
// bytes of incompressible text in the first one.
func (f *esFixture) docs(t *testing.T, index string, n, pad int) {
	t.Helper()
	for i := range n {
		doc := map[string]any{"i": i}
		if i == 0 && pad > 0 {
			b := make([]byte, pad/2)
			rand.Read(b)
			doc["pad"] = hex.EncodeToString(b)
		}
		js, _ := json.Marshal(doc)
		st, body := estest.Do(t, http.MethodPost, f.url+"/"+index+"/_doc?refresh=true", string(js))
		if st != http.StatusCreated {
			t.Fatalf("index into %s: %d %s", index, st, body)
		}
	}
	if st, body := estest.Do(t, http.MethodPost, f.url+"/"+index+"/_flush", ""); st != http.StatusOK {
		t.Fatalf("flush %s: %d %s", index, st, body)
	}
}

// state returns every prefix-* index with its status (open, close).
func (f *esFixture) state(t *testing.T) map[string]string {
	t.Helper()
	st, body := estest.Do(t, http.MethodGet, f.url+"/_cat/indices/"+f.prefix+"-*?format=json&h=index,status&expand_wildcards=all", "")
	if st != http.StatusOK {
		t.Fatalf("_cat/indices: %d %s", st, body)
	}
	var rows []struct{ Index, Status string }
	if err := json.Unmarshal(body, &rows); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Index] = r.Status
	}
	return out
}

func (f *esFixture) segments(t *testing.T, index string) int {
	t.Helper()
	n, err := (&esTarget{c: esClient(t, f.url)}).maxSegments(context.Background(), index)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func esClient(t *testing.T, url string) Performer {
	t.Helper()
	cfg := elasticsearch.Default()
	cfg.Addresses = []string{url}
	c, err := elasticsearch.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *esFixture) runner(t *testing.T, now time.Time, policies ...PolicyConfig) *Runner {
	t.Helper()
	r, err := New(Config{Timezone: "UTC", Elasticsearch: true, Policies: policies},
		Deps{ES: esClient(t, f.url), Now: func() time.Time { return now }}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func (f *esFixture) run(t *testing.T, r *Runner, dry bool) (Result, string) {
	t.Helper()
	var out bytes.Buffer
	res, err := r.Run(context.Background(), dry, &out)
	if err != nil {
		t.Fatalf("Run(dry=%v) = %v\n%s", dry, err, &out)
	}
	t.Logf("Run(dry=%v):\n%s", dry, &out)
	return res, out.String()
}

// Old indices go, today's, yesterday's, tomorrow's, the excluded one,
// the one without a date and the other pattern's stay. A dry run first
// changes nothing.
func TestElasticsearchDelete(t *testing.T) {
	f := newESFixture(t, estest.URL(t))
	f.create(t, f.day("flows", -1), f.day("flows", 0), f.day("flows", 1), f.day("flows", 30), f.day("flows", 31),
		f.day("flows", 40), f.day("flows", 45), f.prefix+"-flows-latest", f.day("syslog", 40))
	before := f.state(t)
	p := PolicyConfig{Name: "flows", Pattern: f.prefix + "-flows-*", MaxAge: "30d", Action: "delete", Exclude: []string{f.day("flows", 45)}}

	res, out := f.run(t, f.runner(t, f.now, p), true)
	if diff := cmp.Diff(before, f.state(t)); diff != "" {
		t.Fatalf("dry run changed indices (-before +after):\n%s", diff)
	}
	for _, want := range []string{
		"would delete   elasticsearch " + f.day("flows", 40) + "  [flows] max_age 30d",
		"would delete   elasticsearch " + f.day("flows", 31) + "  [flows]",
		"skipped        elasticsearch " + f.prefix + "-flows-latest  [flows] no date matching %Y.%m.%d",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run report lacks %q", want)
		}
	}
	if res.Done != 2 || res.Skipped != 1 || res.Kept != 4 {
		t.Errorf("dry Run = %+v, want 2 done, 1 skipped, 4 kept", res)
	}

	r := f.runner(t, f.now, p)
	f.run(t, r, false)
	want := map[string]string{
		f.day("flows", -1): "open", f.day("flows", 0): "open", f.day("flows", 1): "open", f.day("flows", 30): "open",
		f.day("flows", 45): "open", f.prefix + "-flows-latest": "open", f.day("syslog", 40): "open",
	}
	if diff := cmp.Diff(want, f.state(t)); diff != "" {
		t.Errorf("indices after delete (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(r.m.actions.WithLabelValues("elasticsearch", "delete", "ok")); got != 2 {
		t.Errorf("sluice_retention_actions_total{elasticsearch,delete,ok} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(r.m.skipped.WithLabelValues("elasticsearch", "unparseable")); got != 1 {
		t.Errorf("sluice_retention_skipped_total{elasticsearch,unparseable} = %v, want 1", got)
	}
}

// close closes the old open indices once; a delete policy then still
// deletes closed ones.
func TestElasticsearchClose(t *testing.T) {
	f := newESFixture(t, estest.URL(t))
	f.create(t, f.day("flows", 0), f.day("flows", 10), f.day("flows", 20))
	closeP := PolicyConfig{Name: "close", Pattern: f.prefix + "-flows-*", MaxAge: "7d", Action: "close"}
	f.run(t, f.runner(t, f.now, closeP), false)
	want := map[string]string{f.day("flows", 0): "open", f.day("flows", 10): "close", f.day("flows", 20): "close"}
	if diff := cmp.Diff(want, f.state(t)); diff != "" {
		t.Fatalf("indices after close (-want +got):\n%s", diff)
	}
	res, _ := f.run(t, f.runner(t, f.now, closeP), false)
	if res.Done != 0 || res.Already != 2 {
		t.Errorf("second close Run = %+v, want 0 done, 2 needing nothing", res)
	}
	f.run(t, f.runner(t, f.now, PolicyConfig{Pattern: f.prefix + "-flows-*", MaxAge: "15d", Action: "delete"}), false)
	want = map[string]string{f.day("flows", 0): "open", f.day("flows", 10): "close"}
	if diff := cmp.Diff(want, f.state(t)); diff != "" {
		t.Errorf("indices after delete (-want +got):\n%s", diff)
	}
}

// forcemerge merges old indices to max_num_segments, leaves today's alone
// and skips what is merged already.
func TestElasticsearchForcemerge(t *testing.T) {
	f := newESFixture(t, estest.URL(t))
	old, today := f.day("flows", 10), f.day("flows", 0)
	f.create(t, old, today)
	f.docs(t, old, 3, 0)
	f.docs(t, today, 3, 0)
	if n := f.segments(t, old); n < 2 {
		t.Fatalf("%s has %d segments before the merge; the test needs several", old, n)
	}
	p := PolicyConfig{Pattern: f.prefix + "-flows-*", MaxAge: "7d", Action: "forcemerge", MaxNumSegments: 1}
	res, _ := f.run(t, f.runner(t, f.now, p), false)
	if res.Done != 1 {
		t.Errorf("forcemerge Run = %+v, want 1 done", res)
	}
	if n := f.segments(t, old); n != 1 {
		t.Errorf("%s has %d segments after forcemerge, want 1", old, n)
	}
	if n := f.segments(t, today); n < 2 {
		t.Errorf("today's %s has %d segments: it was merged", today, n)
	}
	if got := estest.Count(t, f.url, old); got != 3 {
		t.Errorf("%s holds %d documents after the merge, want 3", old, got)
	}
	res, _ = f.run(t, f.runner(t, f.now, p), false)
	if res.Done != 0 || res.Already != 1 {
		t.Errorf("second forcemerge Run = %+v, want 0 done, 1 needing nothing", res)
	}
}

// max_total_size deletes the oldest indices until the rest fit.
func TestElasticsearchMaxTotalSize(t *testing.T) {
	f := newESFixture(t, estest.URL(t))
	names := []string{f.day("flows", 0), f.day("flows", 1), f.day("flows", 2), f.day("flows", 3), f.day("flows", 4)}
	f.create(t, names...)
	for i, n := range names {
		pad := 0
		if i >= 3 {
			pad = 600 << 10 // about 300 KiB stored each for the two oldest
		}
		f.docs(t, n, 1, pad)
	}
	p := PolicyConfig{Name: "size", Pattern: f.prefix + "-flows-*", MaxTotalSize: "150KB", Action: "delete"}
	_, out := f.run(t, f.runner(t, f.now, p), false)
	want := map[string]string{names[0]: "open", names[1]: "open", names[2]: "open"}
	if diff := cmp.Diff(want, f.state(t)); diff != "" {
		t.Errorf("indices after max_total_size (-want +got):\n%s", diff)
	}
	if !strings.Contains(out, "deleted        elasticsearch "+names[4]+"  [size] max_total_size 150.0KiB") {
		t.Errorf("report does not give the size reason for %s:\n%s", names[4], out)
	}
}

// The creation_date age source. Elasticsearch 8 refuses index.creation_date
// at creation ("unknown setting"), so the indices are created now and the
// runner's clock is moved 40 days ahead instead. The newest index and the
// one whose name says "today" (of that clock) are kept.
func TestElasticsearchCreationDate(t *testing.T) {
	f := newESFixture(t, estest.URL(t))
	later := f.now.AddDate(0, 0, 40)
	todayName := f.prefix + "-c-" + later.UTC().Format("2006.01.02")
	f.create(t, todayName, f.prefix+"-c-a", f.prefix+"-c-b", f.prefix+"-c-c")
	st, body := estest.Do(t, http.MethodPut, f.url+"/"+f.prefix+"-c-x", `{"settings":{"index.creation_date":1600000000000}}`)
	if st == http.StatusOK {
		t.Logf("this node accepts index.creation_date (%s); the test still uses the clock", body)
		estest.DeleteIndex(t, f.url, f.prefix+"-c-x")
	}
	p := PolicyConfig{Pattern: f.prefix + "-c-*", MaxAge: "30d", AgeSource: "creation_date", Action: "delete"}
	res, _ := f.run(t, f.runner(t, later, p), false)
	want := map[string]string{todayName: "open", f.prefix + "-c-c": "open"}
	if diff := cmp.Diff(want, f.state(t)); diff != "" {
		t.Errorf("indices after creation_date delete (-want +got):\n%s", diff)
	}
	if res.Done != 2 {
		t.Errorf("Run = %+v, want 2 done", res)
	}
	// With the real clock nothing is 30 days old.
	f.create(t, f.prefix+"-c-d")
	if res, _ := f.run(t, f.runner(t, f.now, p), false); res.Done != 0 {
		t.Errorf("Run with the real clock = %+v, want nothing done", res)
	}
}

// On a cluster with action.destructive_requires_name=true (the default in
// Elasticsearch 8), deletes and closes still work: indices are named one
// by one, never by wildcard.
func TestElasticsearchDestructiveRequiresName(t *testing.T) {
	node := estest.Start(t, estest.Options{Settings: map[string]string{"action.destructive_requires_name": "true"}})
	f := newESFixture(t, node.URL())
	f.create(t, f.day("flows", 0), f.day("flows", 10), f.day("flows", 20), f.day("flows", 30))
	if st, _ := estest.Do(t, http.MethodDelete, f.url+"/"+f.prefix+"-flows-*", ""); st == http.StatusOK {
		t.Fatal("the node deleted by wildcard; action.destructive_requires_name is not in effect")
	}
	f.run(t, f.runner(t, f.now,
		PolicyConfig{Name: "delete", Pattern: f.prefix + "-flows-*", MaxAge: "25d", Action: "delete"},
		PolicyConfig{Name: "close", Pattern: f.prefix + "-flows-*", MaxAge: "5d", Action: "close"},
	), false)
	want := map[string]string{f.day("flows", 0): "open", f.day("flows", 10): "close", f.day("flows", 20): "close"}
	if diff := cmp.Diff(want, f.state(t)); diff != "" {
		t.Errorf("indices after the run (-want +got):\n%s", diff)
	}
	// The cleanup's wildcard delete needs the setting off again.
	estest.Do(t, http.MethodPut, f.url+"/_cluster/settings", `{"persistent":{"action.destructive_requires_name":false}}`)
}

// An unreachable cluster is a failure (exit 1 for `sluice retention`),
// reported with a FAILED line, not "nothing to do".
func TestElasticsearchUnreachable(t *testing.T) {
	cfg := elasticsearch.Default()
	cfg.Addresses = []string{"http://127.0.0.1:1"}
	client, err := elasticsearch.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Timezone: "UTC", Elasticsearch: true, Policies: []PolicyConfig{{Pattern: "sluice-flows-*", MaxAge: "30d", Action: "delete"}}},
		Deps{ES: client}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := r.Run(context.Background(), false, &out)
	if err == nil || res.Failed != 1 || !strings.Contains(out.String(), "FAILED") || !strings.Contains(out.String(), "listing indices") {
		t.Errorf("Run against a closed port = %+v, %v, want one failure reported:\n%s", res, err, &out)
	}
	if got := testutil.ToFloat64(r.m.runs.WithLabelValues("failed")); got != 1 {
		t.Errorf("sluice_retention_runs_total{failed} = %v, want 1", got)
	}
}
