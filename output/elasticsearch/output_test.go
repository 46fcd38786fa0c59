package elasticsearch

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/estest"
	"github.com/sluicelab/sluice/internal/event"
)

var day = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// flowBatch returns an encoded batch of n flow events numbered from first
// (netflow.test_seq), all at ts.
func flowBatch(first, n int, ts time.Time) *event.Batch {
	b := event.NewBatch()
	for i := first; i < first+n; i++ {
		e := b.Add()
		e.Kind = event.KindFlow
		e.Timestamp = ts
		e.Created = ts.Add(time.Second)
		e.Observer = netip.MustParseAddr("127.0.0.1")
		e.Src = event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Port: uint16(1024 + i%60000), Bytes: 1500}
		e.Dst = event.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 443}
		e.Flow = event.Flow{Protocol: 6, HasProtocol: true, Bytes: uint64(100 + i), Packets: 2, Version: 10}
		e.AddUint("test_seq", uint64(i))
	}
	b.EncodeJSON()
	return b
}

type fixture struct {
	url     string
	prefix  string
	cfg     Config
	reg     *prometheus.Registry
	dataDir string
}

func newFixture(t *testing.T, url string) *fixture {
	t.Helper()
	prefix := estest.IndexName(t, "sluicetest")
	dir := t.TempDir()
	c := Default()
	c.Addresses = []string{url}
	c.FlowsIndex = prefix + "-flows-%{+yyyy.MM.dd}"
	c.SyslogIndex = prefix + "-syslog-%{+yyyy.MM.dd}"
	c.SpoolDir = filepath.Join(dir, "spool")
	c.DeadLetterPath = filepath.Join(dir, "dead-letter.ndjson")
	c.Template.RefreshInterval = "1s"
	c.FlushInterval = 50 * time.Millisecond
	c.InitialBackoff = 50 * time.Millisecond
	c.MaxBackoff = time.Second
	f := &fixture{url: url, prefix: prefix, cfg: c, dataDir: dir}
	t.Cleanup(func() {
		if url != "" {
			estest.DeleteIndex(t, url, prefix+"-*")
			estest.Do(t, http.MethodDelete, url+"/_index_template/"+prefix+"-*", "")
			estest.Do(t, http.MethodDelete, url+"/_component_template/"+prefix+"-*", "")
		}
	})
	return f
}

func (f *fixture) open(t *testing.T) *Output {
	t.Helper()
	f.reg = prometheus.NewRegistry()
	o, err := New(f.cfg, nil, f.reg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (f *fixture) index(ts time.Time) string {
	return f.prefix + "-flows-" + ts.UTC().Format("2006.01.02")
}

func write(t *testing.T, o *Output, b *event.Batch) {
	t.Helper()
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	b.Release()
}

func closeOutput(t *testing.T, o *Output) {
	t.Helper()
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// closeDelivered closes o and asserts nothing was left for a later start.
func closeDelivered(t *testing.T, o *Output) {
	t.Helper()
	closeOutput(t, o)
	if n := o.Pending(); n != 0 {
		t.Errorf("%d documents left in the spool after Close, want 0", n)
	}
}

// waitDelivered waits until the output has nothing in flight or spooled.
func waitDelivered(t *testing.T, o *Output, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if err := o.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if o.Pending() == 0 {
			return
		}
		if time.Now().After(deadline) {
			_, docs := o.spool.stats()
			buffered, inflight, st := o.cur.len(), o.inflight.Load(), o.Status()
			closeOutput(t, o)
			t.Fatalf("not delivered after %s: %d buffered, %d in flight, %d spooled; Status() = %q", timeout, buffered, inflight, docs, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// seqCheck asserts that index holds exactly the test_seq values 0..n-1,
// each once: n documents, none with a test_seq seen twice (terms on one
// shard is exact; cardinality would be approximate), all within [0, n-1].
func seqCheck(t *testing.T, url, index string, n int) {
	t.Helper()
	if got := estest.Count(t, url, index); got != n {
		t.Errorf("%s holds %d documents, want %d", index, got, n)
	}
	q := `{"size":0,"aggs":{"dups":{"terms":{"field":"netflow.test_seq","min_doc_count":2,"size":10}},` +
		`"lo":{"min":{"field":"netflow.test_seq"}},"hi":{"max":{"field":"netflow.test_seq"}}}}`
	status, body := estest.Do(t, http.MethodPost, url+"/"+index+"/_search", q)
	if status != 200 {
		t.Fatalf("search: %d %s", status, body)
	}
	var r struct {
		Aggregations struct {
			Dups struct{ Buckets []json.RawMessage } `json:"dups"`
			Lo   struct{ Value float64 }             `json:"lo"`
			Hi   struct{ Value float64 }             `json:"hi"`
		} `json:"aggregations"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	a := r.Aggregations
	if len(a.Dups.Buckets) > 0 {
		t.Errorf("documents indexed twice: %s", a.Dups.Buckets)
	}
	if int(a.Lo.Value) != 0 || int(a.Hi.Value) != n-1 {
		t.Errorf("test_seq in [%v, %v], want [0, %d]", a.Lo.Value, a.Hi.Value, n-1)
	}
}

func TestIndexesIntoDailyIndices(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	f.cfg.MaxDocs = 300
	o := f.open(t)
	write(t, o, flowBatch(0, 1000, day))
	write(t, o, flowBatch(1000, 500, day.Add(-24*time.Hour)))
	// The same batch again, as a retry after an unacknowledged write would
	// send it: same _ids, so 409s, counted as duplicates, nothing doubled.
	write(t, o, flowBatch(0, 1000, day))
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)

	seqCheck(t, url, f.index(day), 1000)
	if got := estest.Count(t, url, f.index(day.Add(-24*time.Hour))); got != 500 {
		t.Errorf("previous day's index holds %d, want 500", got)
	}
	if got := testutil.ToFloat64(o.m.indexed); got != 2500 {
		t.Errorf("sluice_output_events_total = %v, want 2500 (409s count as delivered)", got)
	}
	if got := testutil.ToFloat64(o.m.duplicates); got != 1000 {
		t.Errorf("duplicates = %v, want 1000", got)
	}
	if got := testutil.ToFloat64(o.m.requests.WithLabelValues("ok")); got < 5 {
		t.Errorf("ok bulk requests = %v, want at least 5 with bulk.max_docs 300", got)
	}
	if n := testutil.CollectAndCount(f.reg, "sluice_output_elasticsearch_bulk_duration_seconds"); n != 1 {
		t.Errorf("latency histogram not exported")
	}
	// The mapping came from sluice's template.
	status, body := estest.Do(t, http.MethodGet, url+"/"+f.index(day)+"/_mapping/field/source.ip,network.bytes,@timestamp,netflow.test_seq", "")
	if status != 200 {
		t.Fatalf("mapping: %d %s", status, body)
	}
	for _, want := range []string{`"source.ip":{"full_name":"source.ip","mapping":{"ip":{"type":"ip"`, `"network.bytes":{"full_name":"network.bytes","mapping":{"bytes":{"type":"long"`,
		`"@timestamp":{"full_name":"@timestamp","mapping":{"@timestamp":{"type":"date"`, `"netflow.test_seq":{"full_name":"netflow.test_seq","mapping":{"test_seq":{"type":"long"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("mapping lacks %s:\n%s", want, body)
		}
	}
}

// TestSecondNodeTakesOver: with one of two addresses dead, requests go to
// the live node without spooling.
func TestSecondNodeTakesOver(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	f.cfg.Addresses = []string{"http://" + closedPort(t), url}
	f.cfg.MaxDocs = 100
	o := f.open(t)
	for i := 0; i < 2000; i += 200 {
		write(t, o, flowBatch(i, 200, day))
	}
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)
	seqCheck(t, url, f.index(day), 2000)
	if got := testutil.ToFloat64(o.m.spooled); got != 0 {
		t.Errorf("%v documents spooled although a node was up", got)
	}
}

func TestTimezonePicksTheDay(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	f.cfg.Timezone = "America/New_York"
	o := f.open(t)
	// 02:00 UTC on the 24th is still the 23rd in New York.
	write(t, o, flowBatch(0, 10, time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)))
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)
	if got := estest.Count(t, url, f.prefix+"-flows-2026.11.23"); got != 10 {
		t.Errorf("New York day index holds %d, want 10", got)
	}
}

func TestMappingConflictGoesToDeadLetter(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	o := f.open(t)
	b := flowBatch(0, 50, day)
	// A field below one the template maps as ip (netflow fields have
	// ignore_malformed, so a bad value alone would just be skipped): an
	// object/leaf conflict Elasticsearch refuses.
	b.Events[17].AddField(event.Field{Key: "source_ipv4_address.part", Type: event.FieldString, S: "not-an-address"})
	b.EncodeJSON()
	write(t, o, b)
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)

	if got := estest.Count(t, url, f.index(day)); got != 49 {
		t.Errorf("index holds %d, want the 49 good documents of the batch", got)
	}
	raw, err := os.ReadFile(f.cfg.DeadLetterPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 1 {
		t.Fatalf("dead-letter file has %d lines, want 1:\n%s", len(lines), raw)
	}
	var dl struct {
		Index, ID, Error string
		Status           int
		Document         map[string]any
	}
	if err := json.Unmarshal([]byte(lines[0]), &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Status != 400 || dl.Index != f.index(day) || len(dl.ID) != idLen || !strings.Contains(dl.Error, "source_ipv4_address") {
		t.Errorf("dead letter: %+v", dl)
	}
	if nf, _ := dl.Document["netflow"].(map[string]any); nf["test_seq"] != float64(17) {
		t.Errorf("dead letter holds the wrong document: %v", dl.Document)
	}
	if got := testutil.ToFloat64(o.m.deadLetter); got != 1 {
		t.Errorf("dead letter metric = %v, want 1", got)
	}
	if got := testutil.ToFloat64(o.m.itemFailures.WithLabelValues("document_parsing_exception")); got != 1 {
		t.Errorf("item failures{document_parsing_exception} = %v, want 1", got)
	}
}

// TestSpoolSurvivesRestart: documents written while the cluster is
// unreachable are spooled, survive Close, and a new Output on the same
// spool replays them.
func TestSpoolSurvivesRestart(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	good := f.cfg
	f.cfg.Addresses = []string{"http://" + closedPort(t)}
	o := f.open(t)
	write(t, o, flowBatch(0, 3000, day))
	write(t, o, flowBatch(3000, 2000, day))
	closeOutput(t, o)
	if _, d := o.spool.stats(); d != 5000 {
		t.Fatalf("spool holds %d documents after Close, want 5000", d)
	}
	if st := o.Status(); !strings.Contains(st, "spooling, 5000 documents waiting") || !strings.Contains(st, "connection refused") {
		t.Errorf("Status() = %q while the cluster was unreachable", st)
	}
	if err := o.Ready(); err != nil {
		t.Errorf("Ready() = %v while spooling; spooling is accepting", err)
	}
	if got := testutil.ToFloat64(o.m.spooled); got != 5000 {
		t.Errorf("spooled metric = %v, want 5000", got)
	}

	f.cfg = good
	o2 := f.open(t)
	waitDelivered(t, o2, time.Minute)
	closeDelivered(t, o2)
	seqCheck(t, url, f.index(day), 5000)
	if got := testutil.ToFloat64(o2.m.replayed); got != 5000 {
		t.Errorf("replayed metric = %v, want 5000", got)
	}
	left, _ := filepath.Glob(filepath.Join(f.cfg.SpoolDir, "*"))
	if len(left) != 0 {
		t.Errorf("spool files left after replay: %v", left)
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestNodeStopsMidStream stops a private node in the middle of a sustained
// stream and starts it again: every document arrives exactly once.
func TestNodeStopsMidStream(t *testing.T) {
	node := estest.Start(t, estest.Options{})
	url := node.URL()
	// Lets the test check _id uniqueness with a terms aggregation.
	if st, body := estest.Do(t, http.MethodPut, url+"/_cluster/settings", `{"persistent":{"indices.id_field_data.enabled":true}}`); st != 200 {
		t.Fatalf("cluster settings: %d %s", st, body)
	}
	f := newFixture(t, url)
	f.cfg.MaxDocs = 500
	o := f.open(t)

	const batches, per = 200, 100 // 20,000 documents over about 10 s
	var sent atomic.Int64
	stopAt, startAt := 40, 100
	for i := range batches {
		write(t, o, flowBatch(i*per, per, day))
		sent.Add(per)
		if err := o.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		switch i {
		case stopAt:
			node.Stop(t)
		case startAt:
			node.Restart(t)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitDelivered(t, o, 2*time.Minute)
	closeDelivered(t, o)

	n := int(sent.Load())
	seqCheck(t, url, f.index(day), n)
	q := `{"size":0,"aggs":{"ids":{"terms":{"field":"_id","min_doc_count":2,"size":10}}}}`
	status, body := estest.Do(t, http.MethodPost, url+"/"+f.index(day)+"/_search", q)
	if status != 200 || !strings.Contains(string(body), `"buckets":[]`) {
		t.Errorf("terms on _id found duplicates or failed: %d %s", status, body)
	}
	if got := testutil.ToFloat64(o.m.spooled); got == 0 {
		t.Error("nothing was spooled while the node was down; the test did not exercise the outage")
	}
	t.Logf("spooled %v, replayed %v, duplicates %v, retried %v", testutil.ToFloat64(o.m.spooled), testutil.ToFloat64(o.m.replayed),
		testutil.ToFloat64(o.m.duplicates), testutil.CollectAndCount(o.m.retries))
}

// TestRealRejections429 runs a node with a one-thread write pool and a
// one-slot queue, so concurrent bulk requests get real 429s
// (es_rejected_execution_exception): they are retried until everything is
// indexed exactly once.
func TestRealRejections429(t *testing.T) {
	node := estest.Start(t, estest.Options{Settings: map[string]string{
		"thread_pool.write.size":       "1",
		"thread_pool.write.queue_size": "1",
	}})
	f := newFixture(t, node.URL())
	f.cfg.MaxDocs = 100
	f.cfg.Workers = 8
	f.cfg.SpoolAfter = time.Minute
	o := f.open(t)
	const n = 20000
	for i := 0; i < n; i += 500 {
		write(t, o, flowBatch(i, 500, day))
	}
	waitDelivered(t, o, 2*time.Minute)
	closeDelivered(t, o)
	seqCheck(t, node.URL(), f.index(day), n)
	retried := testutil.ToFloat64(o.m.retries.WithLabelValues("429"))
	if retried == 0 {
		t.Fatal("the node rejected nothing (no 429s); the test did not exercise rejections")
	}
	t.Logf("429-retried documents: %v, es_rejected_execution_exception items: %v", retried,
		testutil.ToFloat64(o.m.itemFailures.WithLabelValues("es_rejected_execution_exception")))
}
