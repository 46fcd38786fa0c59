package alerter

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

// TestMain checks that the Sender's workers, the alerters' commands and the
// test servers leave no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// results collects the Done callbacks of jobs.
type results struct {
	mu   sync.Mutex
	done map[string][]Result
}

func (r *results) job(name string, a *Alert, as []Alerter, limit time.Duration) *Job {
	return &Job{Alert: a, Alerters: as, TimeLimit: limit, Done: func(res []Result) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.done == nil {
			r.done = map[string][]Result{}
		}
		if _, dup := r.done[name]; dup {
			panic("Done called twice for " + name)
		}
		r.done[name] = res
	}}
}

func (r *results) get(name string) ([]Result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, ok := r.done[name]
	return res, ok
}

func startSender(t *testing.T, cfg SenderConfig) (*Sender, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := NewSender(cfg, reg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	t.Cleanup(func() {
		closeCtx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		s.Close(closeCtx)
		cancel()
		wg.Wait()
	})
	return s, reg
}

func TestSenderRetriesUntilSent(t *testing.T) {
	srv := newRecorder(t, 500, 500, 200)
	s, _ := startSender(t, SenderConfig{Backoff: 10 * time.Millisecond})
	post := newOne(t, Options{"alert": "post", "http_post_url": srv.URL}, Env{})
	var r results
	al := testAlert(t)
	if !s.Enqueue(r.job("j", al, []Alerter{post}, time.Minute)) {
		t.Fatal("Enqueue() = false on an empty queue")
	}
	waitFor(t, "the job to finish", 30*time.Second, func() bool { _, ok := r.get("j"); return ok })
	res, _ := r.get("j")
	if len(res) != 1 || res[0].Err != nil || res[0].Attempts != 3 || res[0].Alerter != "post" {
		t.Errorf("results = %+v, want post sent after 3 attempts", res)
	}
	if got := testutil.ToFloat64(s.m.sent.WithLabelValues("F5 ASM", "post")); got != 1 {
		t.Errorf("sent_total = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.m.retries.WithLabelValues("F5 ASM", "post")); got != 2 {
		t.Errorf("retries_total = %v, want 2", got)
	}
	if f := s.Failing(); len(f) != 0 {
		t.Errorf("Failing() = %v after a success, want none", f)
	}
}

func TestSenderPermanentErrorIsNotRetried(t *testing.T) {
	srv := newRecorder(t, 400)
	s, _ := startSender(t, SenderConfig{Backoff: 10 * time.Millisecond})
	post := newOne(t, Options{"alert": "post", "http_post_url": srv.URL}, Env{})
	var r results
	s.Enqueue(r.job("j", testAlert(t), []Alerter{post}, time.Minute))
	waitFor(t, "the job to finish", 30*time.Second, func() bool { _, ok := r.get("j"); return ok })
	res, _ := r.get("j")
	if len(res) != 1 || !IsPermanent(res[0].Err) || res[0].Attempts != 1 {
		t.Errorf("results = %+v, want one attempt with a permanent error", res)
	}
	if got := testutil.ToFloat64(s.m.failed.WithLabelValues("F5 ASM", "post")); got != 1 {
		t.Errorf("failed_total = %v, want 1", got)
	}
	if f := s.Failing(); len(f) != 1 || !strings.HasPrefix(f[0], "F5 ASM/post: post http://127.0.0.1") || !strings.Contains(f[0], "400") {
		t.Errorf("Failing() = %q, want the rule/alerter with its 400", f)
	}
}

func TestSenderGivesUpAtTimeLimit(t *testing.T) {
	srv := newRecorder(t)
	srv.hang = true
	s, _ := startSender(t, SenderConfig{Backoff: 10 * time.Millisecond})
	post := newOne(t, Options{"alert": "post", "http_post_url": srv.URL, "http_post_timeout": 60}, Env{})
	var r results
	start := time.Now()
	s.Enqueue(r.job("j", testAlert(t), []Alerter{post}, 2*time.Second))
	waitFor(t, "the job to give up", 30*time.Second, func() bool { _, ok := r.get("j"); return ok })
	res, _ := r.get("j")
	if len(res) != 1 || res[0].Err == nil || IsPermanent(res[0].Err) {
		t.Errorf("results = %+v, want a non-permanent error after the time limit", res)
	}
	// The give-up comes from the job's time limit, not the 60 s HTTP timeout.
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("gave up after %s, before the 2s time limit", el)
	}
	if got := testutil.ToFloat64(s.m.failed.WithLabelValues("F5 ASM", "post")); got != 1 {
		t.Errorf("failed_total = %v, want 1", got)
	}
}

func TestSenderDeadAlerterDoesNotDelayHealthyOne(t *testing.T) {
	dead := newRecorder(t)
	dead.hang = true
	healthy := newRecorder(t)
	s, _ := startSender(t, SenderConfig{Workers: 2, Backoff: 10 * time.Millisecond})
	deadPost := newOne(t, Options{"alert": "post", "http_post_url": dead.URL, "http_post_timeout": 600}, Env{})
	healthyPost := newOne(t, Options{"alert": "post", "http_post_url": healthy.URL}, Env{})
	var r results
	// One job has both: the healthy alerter of the same job must not wait
	// for its dead sibling, nor must a later job.
	s.Enqueue(r.job("both", testAlert(t), []Alerter{deadPost, healthyPost}, time.Hour))
	s.Enqueue(r.job("later", testAlert(t), []Alerter{healthyPost}, time.Hour))
	waitFor(t, "the later job", 30*time.Second, func() bool { _, ok := r.get("later"); return ok })
	waitFor(t, "both healthy posts", 30*time.Second, func() bool { return len(healthy.requests()) == 2 })
	waitFor(t, "the dead post in flight", 30*time.Second, func() bool { return len(dead.requests()) == 1 })
	if _, ok := r.get("both"); ok {
		t.Error("the job with the dead alerter finished, want it still pending")
	}
	if len(dead.requests()) != 1 {
		t.Errorf("the dead server got %d requests, want 1 in progress", len(dead.requests()))
	}
}

func TestSenderRetryWaitDoesNotHoldAWorker(t *testing.T) {
	failing := newRecorder(t, 503)
	healthy := newRecorder(t)
	// One worker and a long backoff: the healthy job must not wait for the
	// retry time of the failing one.
	s, reg := startSender(t, SenderConfig{Workers: 1, Backoff: time.Hour})
	var r results
	s.Enqueue(r.job("failing", testAlert(t), []Alerter{newOne(t, Options{"alert": "post", "http_post_url": failing.URL}, Env{})}, 2*time.Hour))
	waitFor(t, "the first attempt", 30*time.Second, func() bool { return len(failing.requests()) == 1 })
	other := testAlert(t)
	other.Rule = "other"
	s.Enqueue(r.job("healthy", other, []Alerter{newOne(t, Options{"alert": "post", "http_post_url": healthy.URL}, Env{})}, time.Hour))
	waitFor(t, "the healthy job", 30*time.Second, func() bool { _, ok := r.get("healthy"); return ok })
	if n, err := testutil.GatherAndCount(reg, "sluice_alert_retry_pending"); err != nil || n != 1 {
		t.Fatalf("sluice_alert_retry_pending series = %d, %v", n, err)
	}
	if got := s.pending.Load(); got != 1 {
		t.Errorf("retry pending = %d, want 1", got)
	}
	if f := s.Failing(); len(f) != 1 || !strings.Contains(f[0], "503") {
		t.Errorf("Failing() = %q, want the failing post", f)
	}
}

// blockAlerter blocks until its context is done (an in-process stand-in,
// used only for the queue-full test, where nothing must be sent at all).
type blockAlerter struct{}

func (blockAlerter) Kind() string { return "debug" }
func (blockAlerter) Send(ctx context.Context, _ *Alert) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestSenderQueueFullNeverBlocks(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := NewSender(SenderConfig{QueueSize: 2}, reg, nil) // not running: nothing drains the queue
	var r results
	for i, want := range []bool{true, true, false, false} {
		if got := s.Enqueue(r.job("j", testAlert(t), []Alerter{blockAlerter{}}, time.Hour)); got != want {
			t.Errorf("Enqueue() #%d = %v, want %v", i, got, want)
		}
	}
	if got := testutil.ToFloat64(s.m.dropped); got != 2 {
		t.Errorf("queue_dropped_total = %v, want 2", got)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP sluice_alert_queue_depth Alerts waiting in the alert queue for a worker.
# TYPE sluice_alert_queue_depth gauge
sluice_alert_queue_depth 2
`), "sluice_alert_queue_depth"); err != nil {
		t.Error(err)
	}
	left := s.Close(context.Background())
	if len(left) != 2 {
		t.Errorf("Close() returned %d jobs, want the 2 queued", len(left))
	}
	if s.Enqueue(r.job("after", testAlert(t), nil, time.Hour)) {
		t.Error("Enqueue() after Close = true, want false")
	}
}

func TestSenderCloseReturnsUnfinished(t *testing.T) {
	dead := newRecorder(t)
	dead.hang = true
	healthy := newRecorder(t)
	failing := newRecorder(t, 503)
	reg := prometheus.NewRegistry()
	s := NewSender(SenderConfig{Workers: 1, Backoff: time.Hour}, reg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })

	deadPost := newOne(t, Options{"alert": "post", "http_post_url": dead.URL, "http_post_timeout": 600}, Env{})
	healthyPost := newOne(t, Options{"alert": "post", "http_post_url": healthy.URL}, Env{})
	failingPost := newOne(t, Options{"alert": "post", "http_post_url": failing.URL}, Env{})
	var r results
	// "retry" fails once and waits an hour for its retry; "mixed" has a sent
	// alerter and one stuck in flight; "queued" never gets the worker.
	s.Enqueue(r.job("retry", testAlert(t), []Alerter{failingPost}, 2*time.Hour))
	waitFor(t, "the failing post", 30*time.Second, func() bool { return len(failing.requests()) == 1 })
	s.Enqueue(r.job("mixed", testAlert(t), []Alerter{healthyPost, deadPost}, 2*time.Hour))
	waitFor(t, "the dead post in flight", 30*time.Second, func() bool { return len(dead.requests()) == 1 })
	queued := r.job("queued", testAlert(t), []Alerter{healthyPost}, time.Hour)
	s.Enqueue(queued)

	closeCtx, c := context.WithTimeout(context.Background(), 10*time.Second)
	defer c()
	left := s.Close(closeCtx)
	wg.Wait()
	kinds := map[*Alert]int{}
	var gotQueued bool
	for _, j := range left {
		kinds[j.Alert] = len(j.Alerters)
		gotQueued = gotQueued || j.Done != nil && j.Alert == queued.Alert
	}
	if len(left) != 3 || !gotQueued {
		t.Fatalf("Close() returned %d jobs, want 3 (retry, mixed's dead alerter, queued)", len(left))
	}
	for _, j := range left {
		if len(j.Alerters) != 1 {
			t.Errorf("job %v returned with %d alerters, want only the unfinished one (healthy: %d, dead: %d, failing: %d requests)", j.Alert.Rule, len(j.Alerters), len(healthy.requests()), len(dead.requests()), len(failing.requests()))
		}
	}
	for _, name := range []string{"retry", "mixed", "queued"} {
		if _, ok := r.get(name); ok {
			t.Errorf("Done was called for %s, which Close returned", name)
		}
	}
	if got := testutil.ToFloat64(s.m.sent.WithLabelValues("F5 ASM", "post")); got != 1 {
		t.Errorf("sent_total = %v, want 1 (mixed's healthy post)", got)
	}
}

// countAlerter counts sends (in-process: the benchmark measures the
// Sender's own cost per job, not a destination's).
type countAlerter struct{ n atomic.Int64 }

func (c *countAlerter) Kind() string                       { return "debug" }
func (c *countAlerter) Send(context.Context, *Alert) error { c.n.Add(1); return nil }

func BenchmarkSender(b *testing.B) {
	s := NewSender(SenderConfig{QueueSize: 1 << 16}, prometheus.NewRegistry(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	defer func() {
		s.Close(context.Background())
		cancel()
		wg.Wait()
	}()
	c := &countAlerter{}
	al := &Alert{Rule: "bench", Matches: []Match{{"a": "b"}}}
	var done atomic.Int64
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for !s.Enqueue(&Job{Alert: al, Alerters: []Alerter{c}, Done: func([]Result) { done.Add(1) }}) {
			runtime.Gosched() // the queue is full: let the workers drain it
		}
		n++
	}
	for done.Load() < int64(n) {
		runtime.Gosched()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "jobs/s")
}
