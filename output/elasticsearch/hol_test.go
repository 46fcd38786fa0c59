package elasticsearch

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/estest"
)

// faultProxy forwards to a real node, except that a bulk request whose
// body holds poison is answered 500 json_parse_exception as a whole, as
// Elasticsearch answers a body with a damaged byte (a real node cannot be
// made to receive such a body from sluice's encoder, hence the proxy), and
// every bulk request is answered 503 while down is set.
type faultProxy struct {
	poison  []byte
	down    atomic.Bool
	refused atomic.Int64
}

func (p *faultProxy) start(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			rp.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if p.down.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"type":"unavailable_shards_exception","reason":"test outage"},"status":503}`)
			return
		}
		if len(p.poison) > 0 && bytes.Contains(body, p.poison) {
			p.refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"root_cause":[{"type":"json_parse_exception","reason":"Invalid UTF-8 middle byte 0x22"}],`+
				`"type":"json_parse_exception","reason":"Invalid UTF-8 middle byte 0x22"},"status":500}`)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBadDocumentDoesNotBlock: a bulk request refused as a whole for one
// document's content is split until that document is alone; it is
// dead-lettered, every other document is indexed, and delivery goes on.
func TestBadDocumentDoesNotBlock(t *testing.T) {
	url := estest.URL(t)
	p := &faultProxy{poison: []byte(`"test_seq":777,`)}
	f := newFixture(t, url)
	f.cfg.Addresses = []string{p.start(t, url)}
	f.cfg.Compress = false // the proxy reads the body
	f.cfg.MaxDocs = 1000
	o := f.open(t)
	const n = 3000
	for i := 0; i < n; i += 500 {
		write(t, o, flowBatch(i, 500, day))
	}
	waitDelivered(t, o, time.Minute)
	// Later documents still go through.
	write(t, o, flowBatch(n, 500, day))
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)

	estest.Refresh(t, url, f.index(day))
	if got := estest.Count(t, url, f.index(day)); got != n+500-1 {
		t.Errorf("%s holds %d documents, want %d (all but the refused one)", f.index(day), got, n+500-1)
	}
	if p.refused.Load() == 0 {
		t.Fatal("the proxy refused nothing; the test did not exercise a whole-body refusal")
	}
	dl, err := os.ReadFile(f.cfg.DeadLetterPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(dl, []byte("\n"))
	if lines != 1 || !bytes.Contains(dl, []byte(`"test_seq":777,`)) || !bytes.Contains(dl, []byte("json_parse_exception")) {
		t.Errorf("dead-letter file has %d lines, want the one refused document with its reason:\n%.2000s", lines, dl)
	}
	if got := testutil.ToFloat64(o.m.deadLetter); got != 1 {
		t.Errorf("dead_letter_documents_total = %v, want 1", got)
	}
}

// TestStallIsReported: while every bulk request fails, a delivery that
// makes no progress for spool.stall_timeout makes Ready fail with the
// reason and sets the stalled gauge; once the cluster answers, the
// documents are delivered and Ready is nil again.
func TestStallIsReported(t *testing.T) {
	url := estest.URL(t)
	p := &faultProxy{}
	p.down.Store(true)
	f := newFixture(t, url)
	f.cfg.Addresses = []string{p.start(t, url)}
	f.cfg.StallTimeout = time.Second
	f.cfg.SpoolAfter = 0
	f.cfg.MaxBackoff = 200 * time.Millisecond
	var logs syncBuffer
	o, err := New(f.cfg, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, o, flowBatch(0, 100, day))
	o.commit(context.Background(), true) // seal now, as Flush does after the flush interval
	deadline := time.Now().Add(30 * time.Second)
	// The stall may be reported before the first answer came back (on a
	// loaded machine): wait for the report that has the reason.
	for err := o.Ready(); err == nil || !strings.Contains(err.Error(), "503"); err = o.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("Ready() = %v %s after the stall timeout, want a stall with the reason; Status %q", err, 30*time.Second, o.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := o.Ready(); !strings.Contains(err.Error(), "delivery stalled") || !strings.Contains(err.Error(), "100 documents waiting") ||
		!strings.Contains(err.Error(), "503") {
		t.Errorf("Ready() = %v, want the stall with the documents waiting and the reason", err)
	}
	if s, _ := o.stallState(); !s {
		t.Error("stallState() false while Ready reports a stall")
	}
	for !strings.Contains(logs.String(), "delivery stalled") {
		if time.Now().After(deadline) {
			t.Fatalf("no stall warning logged:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.down.Store(false)
	waitDelivered(t, o, time.Minute)
	if err := o.Ready(); err != nil {
		t.Errorf("Ready() = %v after delivery resumed", err)
	}
	closeDelivered(t, o)
	estest.Refresh(t, url, f.index(day))
	if got := estest.Count(t, url, f.index(day)); got != 100 {
		t.Errorf("%d documents indexed, want 100", got)
	}
	if n := strings.Count(logs.String(), "delivery stalled"); n > 3 {
		t.Errorf("the stall was logged %d times in a few seconds; it must be rate-limited:\n%s", n, logs.String())
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") && strings.Contains(sc.Text(), "spool") {
			t.Errorf("unexpected spool error: %s", sc.Text())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger used from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
