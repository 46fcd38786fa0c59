package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/collector/syslog"
	"github.com/sluicelab/sluice/internal/event"
)

// newTestService builds a service over one rule file (body) in a temp dir.
func newTestService(t *testing.T, body string, statePath string) (*Service, *prometheus.Registry) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.RulesDirs = []string{dir}
	cfg.StatePath = statePath
	reg := prometheus.NewRegistry()
	s, err := New(cfg, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, reg
}

// syslogBatch is a batch of syslog events from program prog.
func syslogBatch(prog string, n int) *event.Batch {
	b := event.NewBatch()
	now := time.Now().UTC()
	for range n {
		e := b.Add()
		e.Kind = event.KindSyslog
		e.Timestamp, e.Created = now, now
		e.Syslog.AppName = prog
		e.Syslog.Message = "hello"
	}
	return b
}

// collect runs the pipeline source until it has handed over n documents.
func collect(t *testing.T, s *Service, n int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *event.Batch, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Source().Run(ctx, out)
	}()
	defer func() {
		cancel()
		<-done
	}()
	var docs []string
	deadline := time.After(10 * time.Second)
	for len(docs) < n {
		select {
		case b := <-out:
			for i := range b.All() {
				e := &b.Events[i]
				if e.Kind != event.KindAlert || event.IndexPattern(e.Index) != "sluice-alerts-%{+yyyy.MM.dd}" {
					t.Errorf("alert document of kind %v, index %q", e.Kind, event.IndexPattern(e.Index))
				}
				docs = append(docs, string(e.AppendJSON(nil)))
			}
			b.Release()
		case <-deadline:
			t.Fatalf("%d alert documents after 10s, want %d", len(docs), n)
		}
	}
	return docs
}

// TestStageAndDocuments: the stage evaluates syslog events (not alert
// documents), the alert goes to the alerter and its document to the source.
func TestStageAndDocuments(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	s, _ := newTestService(t, "name: r\ntype: any\nrealert: {minutes: 0}\nfilter:\n- term: {process.name: app}\nalert: post\nhttp_post_url: "+srv.URL+"\n", "")
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = s.Run(ctx, nil)
	}()
	b := syslogBatch("app", 2)
	other := b.Add() // an alert document must not be evaluated
	other.Kind = event.KindAlert
	other.Syslog.AppName = "app"
	if err := s.Stage().Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	b.Release()
	docs := collect(t, s, 2)
	cancel()
	<-runDone
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Errorf("%d alerts posted, want 2", len(got))
	}
	for _, d := range docs {
		var m map[string]any
		if err := json.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("alert document is not JSON: %v\n%s", err, d)
		}
		if !strings.Contains(d, `"alert_sent":true`) || !strings.Contains(d, `"name":"r"`) {
			t.Errorf("alert document: %s", d)
		}
	}
}

// TestStateKeepsUnsentAlerts: an alert whose webhook is down when sluice
// stops is saved and sent after the next start.
func TestStateKeepsUnsentAlerts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // down for now
	state := filepath.Join(t.TempDir(), "alert-state.json")
	rule := "name: r\ntype: any\nalert_time_limit: {hours: 1}\nalert: post\nhttp_post_url: http://" + addr + "/\n"
	s, _ := newTestService(t, rule, state)
	if err := s.LoadState(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = s.Run(ctx, nil)
	}()
	b := syslogBatch("x", 1)
	if err := s.Stage().Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	b.Release()
	time.Sleep(200 * time.Millisecond) // the first attempt fails
	cancel()
	<-runDone
	data, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(data), `"unsent"`) {
		t.Fatalf("state file after stop: %v\n%s", err, data)
	}

	// Up now, at the same address.
	var mu sync.Mutex
	n := 0
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("skipping: the port of the first run was taken meanwhile: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	s2, _ := newTestService(t, rule, state)
	if err := s2.LoadState(); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	run2 := make(chan struct{})
	go func() {
		defer close(run2)
		_ = s2.Run(ctx2, nil)
	}()
	docs := collect(t, s2, 1)
	cancel2()
	<-run2
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("%d deliveries after the restart, want 1", n)
	}
	if !strings.Contains(docs[0], `"alert_sent":true`) {
		t.Errorf("alert document after the restart: %s", docs[0])
	}
}

// TestDamagedStateMovedAside: a damaged state file is moved aside and
// counted; the service starts with empty state.
func TestDamagedStateMovedAside(t *testing.T) {
	state := filepath.Join(t.TempDir(), "alert-state.json")
	for _, bad := range []string{"{not json", `{"version": 99}`, `{"version": 1, "docs": [{"json": "bm90IGFuIG9iamVjdA=="}]}`, `{"version": 1, "unsent": [{}]}`} {
		if err := os.WriteFile(state, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		s, reg := newTestService(t, "name: r\ntype: any\nalert: debug\n", state)
		if err := s.LoadState(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(state); !os.IsNotExist(err) {
			t.Errorf("%q: state file still there (%v)", bad, err)
		}
		aside, _ := filepath.Glob(state + ".damaged-*")
		if len(aside) == 0 {
			t.Errorf("%q: not moved aside", bad)
		}
		for _, a := range aside {
			os.Remove(a)
		}
		if v := testutil.ToFloat64(s.m.stateErrors); v != 1 {
			t.Errorf("%q: state errors %v, want 1", bad, v)
		}
		_ = reg
	}
}

// TestDocQueueBound: beyond maxQueuedDocs the oldest documents go, counted.
func TestDocQueueBound(t *testing.T) {
	dropped := 0
	q := newDocQueue(func(n int) { dropped += n })
	for i := range maxQueuedDocs + 5 {
		q.add(doc{JSON: []byte{'{', byte('0' + i%10), '}'}})
	}
	if q.len() != maxQueuedDocs || dropped != 5 {
		t.Errorf("queue %d, dropped %d; want %d and 5", q.len(), dropped, maxQueuedDocs)
	}
}

// FuzzRestore: the state file is sluice's own but read as untrusted input:
// any bytes give an error or a loaded state, never a panic.
func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"version":1,"saved":"2026-12-07T10:00:00Z","engine":{"version":1},"unsent":[{"rule":"r","alert":{"Rule":"r","Matches":[{"a":1}]},"subject":"s","body":"b"}],"docs":[{"time":"2026-12-07T10:00:00Z","json":"eyJhIjoxfQ=="}]}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"docs":[{"json":"e30K"}]}`))
	f.Add([]byte(`null`))
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("name: r\ntype: frequency\nnum_events: 3\ntimeframe: {minutes: 1}\nquery_key: host.hostname\nalert: debug\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	cfg := Default()
	cfg.RulesDirs = []string{dir}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.restore(data); err != nil {
			return
		}
		for _, d := range s.docs.pending() {
			if !json.Valid(d.JSON) {
				t.Fatalf("restored an invalid document %q", d.JSON)
			}
		}
		b := syslogBatch("x", 3)
		_ = s.Stage().Process(context.Background(), b)
		b.Release()
		s.engine.Tick(time.Now())
	})
}

// TestKeysOutliveTheirBatch: query_key values come from live events whose
// text lives in their batch, which is reused for the next datagrams; the
// rules must keep copies. A frequency window of host "alpha" must still
// be found after batches of other hosts reused the memory.
func TestKeysOutliveTheirBatch(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	s, _ := newTestService(t, "name: r\ntype: frequency\nnum_events: 2\ntimeframe: {minutes: 5}\nquery_key: host.hostname\nalert: post\nhttp_post_url: "+srv.URL+"\n", "")
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = s.Run(ctx, nil)
	}()
	dec := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC})
	feed := func(line string) {
		b := event.NewBatch()
		if err := dec.Decode(&collector.Packet{Data: []byte(line), Src: netip.MustParseAddrPort("192.0.2.1:514"), Received: time.Now()}, b); err != nil {
			t.Fatal(err)
		}
		if err := s.Stage().Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		b.Release()
	}
	bsd := func(host string) string {
		return fmt.Sprintf("<13>%s %s app: hello", time.Now().UTC().Format(time.Stamp), host)
	}
	feed(bsd("alpha"))
	for range 20 {
		feed(bsd("bravo")) // other hosts overwrite the batch memory
		feed(bsd("charl"))
	}
	// The second alpha event, in RFC 5424 form: its host name lies
	// elsewhere in the batch, so a key that still pointed into the batch
	// would read other bytes by now.
	feed(fmt.Sprintf("<13>1 %s alpha app - - - hello", time.Now().UTC().Format(time.RFC3339Nano)))
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, g := range got {
			if strings.Contains(g, `"alpha"`) {
				n++
			}
		}
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert for alpha's second event; alerts: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-runDone
}

// TestSourceDrainsAtStop: documents queued when the pipeline stops its
// sources are handed over, not left for the next start.
func TestSourceDrainsAtStop(t *testing.T) {
	q := newDocQueue(func(int) {})
	src := &source{q: q}
	for i := range 300 {
		q.add(doc{Time: time.Now(), JSON: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stopped before it read anything
	out := make(chan *event.Batch, 4)
	if err := src.Run(ctx, out); err != nil {
		t.Fatal(err)
	}
	n := 0
	for len(out) > 0 {
		b := <-out
		n += b.Len()
		b.Release()
	}
	if n != 300 || q.len() != 0 {
		t.Errorf("%d documents handed over at stop, %d left queued; want 300 and 0", n, q.len())
	}
}
