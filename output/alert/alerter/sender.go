package alerter

import (
	"container/heap"
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/obs"
)

// SenderConfig sizes a Sender. Zero values take the defaults.
type SenderConfig struct {
	QueueSize  int           // jobs waiting for a worker; default 1000
	Workers    int           // concurrent sends; default 2
	Backoff    time.Duration // first retry delay, doubling per attempt; default 1s
	MaxBackoff time.Duration // cap of the retry delay; default 5m
}

func (c SenderConfig) withDefaults() SenderConfig {
	if c.QueueSize <= 0 {
		c.QueueSize = 1000
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = c.Backoff
	}
	return c
}

// DefaultTimeLimit is ElastAlert's alert_time_limit default.
const DefaultTimeLimit = time.Hour

// Job is one alert to deliver through its rule's alerters.
type Job struct {
	Alert    *Alert
	Alerters []Alerter
	// Subject and Body are for the caller's records (the writeback
	// document, test-rule's output); the Sender does not use them: each
	// alerter renders the alert from its own options, which ElastAlert2's
	// per-alerter overrides may change.
	Subject, Body string
	// TimeLimit is alert_time_limit: how long after the job's first
	// attempt an alerter is retried (default 1h).
	TimeLimit time.Duration
	// Done is called once, after every alerter finished (sent or given
	// up), from a Sender worker: it should not block for long. It is not
	// called for a job that Close returns.
	Done func(results []Result)
}

// Result is the outcome of one alerter of a job.
type Result struct {
	Alerter  string // Kind()
	Err      error  // nil when sent
	Attempts int
}

// Sender delivers jobs from a bounded queue with worker goroutines; retries
// wait in a timer queue, not in a worker, so one dead webhook does not stall
// the others. Enqueue, Failing and Close are safe for concurrent use.
type Sender struct {
	cfg    SenderConfig
	logger *slog.Logger
	limit  *obs.Limiter
	m      *metrics
	now    func() time.Time

	queue  chan *Job
	work   chan *task
	wake   chan struct{}
	stop   chan struct{}
	closed atomic.Bool

	mu       sync.Mutex
	started  bool
	runDone  chan struct{}
	ready    []*task
	delayed  taskHeap
	inflight map[*task]bool
	failing  map[string]string
	pending  atomic.Int64
}

type jobState struct {
	job      *Job
	deadline time.Time
	results  []Result
	left     int
}

type task struct {
	st       *jobState
	i        int // index into job.Alerters
	attempts int
	due      time.Time
}

type taskHeap []*task

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h taskHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)        { *h = append(*h, x.(*task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// NewSender returns a Sender; call Run to start its workers and Close to
// stop it. reg may be nil.
func NewSender(cfg SenderConfig, reg prometheus.Registerer, logger *slog.Logger) *Sender {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sender{
		cfg:      cfg,
		logger:   logger.With("component", "output/alert/alerter"),
		limit:    obs.NewLimiter(time.Minute),
		now:      time.Now,
		queue:    make(chan *Job, cfg.QueueSize),
		work:     make(chan *task),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		runDone:  make(chan struct{}),
		inflight: map[*task]bool{},
		failing:  map[string]string{},
	}
	s.m = newMetrics(reg, func() float64 { return float64(len(s.queue)) }, func() float64 { return float64(s.pending.Load()) })
	return s
}

// Enqueue queues j without ever blocking. It returns false, counts the drop
// and logs it (rate-limited) when the queue is full or the Sender stopped.
func (s *Sender) Enqueue(j *Job) bool {
	if !s.closed.Load() {
		select {
		case s.queue <- j:
			return true
		default:
		}
	}
	s.m.dropped.Inc()
	rule := ""
	if j != nil && j.Alert != nil {
		rule = j.Alert.Rule
	}
	if ok, suppressed := s.limit.Allow("queue full"); ok {
		s.logger.Warn("alert queue full or stopped; alert dropped", "rule", rule,
			"queue_size", s.cfg.QueueSize, "closed", s.closed.Load(), "suppressed", suppressed)
	}
	return false
}

// Run serves the queue until ctx is done or Close is called. Sends in
// progress when it stops are canceled and their jobs are left for Close.
func (s *Sender) Run(ctx context.Context) {
	s.mu.Lock()
	if s.started || s.closed.Load() {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.mu.Unlock()
	defer close(s.runDone)

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.worker(runCtx) })
	}
	defer wg.Wait()
	defer cancel()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := s.now()
		for len(s.delayed) > 0 && !s.delayed[0].due.After(now) {
			s.ready = append(s.ready, heap.Pop(&s.delayed).(*task))
			s.pending.Add(-1)
		}
		var next *task
		if len(s.ready) > 0 {
			next = s.ready[0]
		}
		wait := time.Hour
		if len(s.delayed) > 0 {
			wait = s.delayed[0].due.Sub(now)
		}
		s.mu.Unlock()
		timer.Reset(wait)

		var out chan<- *task
		var in <-chan *Job
		if next != nil {
			out = s.work
		} else {
			in = s.queue // new jobs wait in the queue while workers are busy
		}
		select {
		case out <- next:
			// the worker marks it in flight (it may finish before this)
			s.mu.Lock()
			s.ready = s.ready[1:]
			s.mu.Unlock()
		case j := <-in:
			s.start(j)
		case <-s.wake:
		case <-timer.C:
		case <-s.stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// start turns a job into one task per alerter; the time limit counts from now.
func (s *Sender) start(j *Job) {
	if j == nil || j.Alert == nil || len(j.Alerters) == 0 {
		if j != nil && j.Done != nil {
			j.Done(nil)
		}
		return
	}
	limit := j.TimeLimit
	if limit <= 0 {
		limit = DefaultTimeLimit
	}
	st := &jobState{job: j, deadline: s.now().Add(limit), results: make([]Result, len(j.Alerters)), left: len(j.Alerters)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range j.Alerters {
		st.results[i].Alerter = a.Kind()
		s.m.precreate(j.Alert.Rule, a.Kind())
		s.ready = append(s.ready, &task{st: st, i: i})
	}
}

func (s *Sender) worker(ctx context.Context) {
	for {
		select {
		case t := <-s.work:
			s.mu.Lock()
			s.inflight[t] = true
			s.mu.Unlock()
			s.attempt(ctx, t)
		case <-ctx.Done():
			return
		}
	}
}

func (s *Sender) attempt(ctx context.Context, t *task) {
	j := t.st.job
	a := j.Alerters[t.i]
	kind := a.Kind()
	sendCtx, cancel := context.WithDeadline(ctx, t.st.deadline)
	start := time.Now()
	err := a.Send(sendCtx, j.Alert)
	cancel()
	s.m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	key := j.Alert.Rule + "/" + kind

	s.mu.Lock()
	t.attempts++
	attempts := t.attempts
	delete(s.inflight, t)
	if err != nil && ctx.Err() != nil {
		// stopping: neither sent nor failed; Close hands it back
		s.ready = append(s.ready, t)
		s.mu.Unlock()
		return
	}
	st := t.st
	if err == nil {
		delete(s.failing, key)
		s.m.sent.WithLabelValues(j.Alert.Rule, kind).Inc()
		s.mu.Unlock()
		s.finish(t, nil)
		return
	}
	s.failing[key] = err.Error()
	backoff := s.cfg.Backoff
	for i := 1; i < attempts && backoff < s.cfg.MaxBackoff; i++ {
		backoff *= 2
	}
	backoff = min(backoff, s.cfg.MaxBackoff)
	due := s.now().Add(backoff)
	if !IsPermanent(err) && due.Before(st.deadline) {
		t.due = due
		heap.Push(&s.delayed, t)
		s.pending.Add(1)
		s.m.retries.WithLabelValues(j.Alert.Rule, kind).Inc()
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if ok, suppressed := s.limit.Allow("retry " + key); ok {
			s.logger.Warn("alert send failed; will retry", "rule", j.Alert.Rule, "alerter", kind,
				"attempts", attempts, "retry_in", backoff, "err", err, "suppressed", suppressed)
		}
		return
	}
	s.m.failed.WithLabelValues(j.Alert.Rule, kind).Inc()
	s.mu.Unlock()
	if ok, suppressed := s.limit.Allow("failed " + key); ok {
		reason := "alert_time_limit passed"
		if IsPermanent(err) {
			reason = "permanent error"
		}
		s.logger.Error("alert not sent; gave up", "rule", j.Alert.Rule, "alerter", kind,
			"attempts", attempts, "reason", reason, "err", err, "suppressed", suppressed)
	}
	s.finish(t, err)
}

// finish records one alerter's outcome and calls Done after the last one.
func (s *Sender) finish(t *task, err error) {
	s.mu.Lock()
	st := t.st
	st.results[t.i].Err = err
	st.results[t.i].Attempts = t.attempts
	st.left--
	last := st.left == 0
	s.mu.Unlock()
	if last && st.job.Done != nil {
		st.job.Done(st.results)
	}
}

// Close stops the Sender (and Run) and returns the jobs not finished: each a
// copy of the job holding only its alerters that were neither sent nor given
// up, for the caller to persist. Their Done is not called. Close waits for
// sends in progress until ctx is done; a send cut short may still have been
// delivered, so a persisted job can repeat an alert.
func (s *Sender) Close(ctx context.Context) []*Job {
	s.mu.Lock()
	first := !s.closed.Swap(true)
	started := s.started
	s.mu.Unlock()
	if first {
		close(s.stop)
	}
	if started {
		select {
		case <-s.runDone:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var tasks []*task
	tasks = append(tasks, s.ready...)
	tasks = append(tasks, s.delayed...)
	for t := range s.inflight {
		tasks = append(tasks, t)
	}
	s.ready, s.delayed, s.inflight = nil, nil, map[*task]bool{}
	s.pending.Store(0)
	byJob := map[*jobState][]int{}
	var order []*jobState
	for _, t := range tasks {
		if _, ok := byJob[t.st]; !ok {
			order = append(order, t.st)
		}
		byJob[t.st] = append(byJob[t.st], t.i)
	}
	var out []*Job
	for _, st := range order {
		idx := byJob[st]
		sort.Ints(idx)
		cp := *st.job
		cp.Alerters = make([]Alerter, 0, len(idx))
		for _, i := range idx {
			cp.Alerters = append(cp.Alerters, st.job.Alerters[i])
		}
		out = append(out, &cp)
	}
	for {
		select {
		case j := <-s.queue:
			out = append(out, j)
		default:
			return out
		}
	}
}

// Failing lists "rule/alerter: last error" for the alerters whose last
// attempt failed, sorted (for /readyz).
func (s *Sender) Failing() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.failing))
	for k, v := range s.failing {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	return out
}
