package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/sluicelab/sluice/internal/event"
)

// genSource sends n batches of size events each, then waits for ctx.
type genSource struct{ n, size int }

func (g *genSource) Name() string { return "gen" }
func (g *genSource) Run(ctx context.Context, out chan<- *event.Batch) error {
	for i := 0; i < g.n; i++ {
		b := event.NewBatch()
		for j := 0; j < g.size; j++ {
			e := b.Add()
			e.Kind = event.KindFlow
			e.Created = time.Now()
		}
		select {
		case out <- b:
		case <-ctx.Done():
			b.Release()
			return nil
		}
	}
	<-ctx.Done()
	return nil
}

type memOutput struct {
	mu      sync.Mutex
	events  int
	closed  bool
	flushes int
	delay   time.Duration
	fail    bool
	gate    chan struct{} // if non-nil, Write waits for it to close
}

func (m *memOutput) Name() string { return "mem" }
func (m *memOutput) Write(ctx context.Context, b *event.Batch) error {
	if m.gate != nil {
		<-m.gate
	}
	time.Sleep(m.delay)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk full")
	}
	m.events += b.Len()
	return nil
}
func (m *memOutput) Flush(context.Context) error { m.mu.Lock(); m.flushes++; m.mu.Unlock(); return nil }
func (m *memOutput) Close(context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

// dropOdd drops every second event, like a filter stage would.
type dropOdd struct{}

func (dropOdd) Name() string { return "dropodd" }
func (dropOdd) Process(_ context.Context, b *event.Batch) error {
	for i := b.Len() - 1; i >= 0; i-- {
		if i%2 == 1 {
			b.Drop(i)
		}
	}
	return nil
}

func TestRunnerDeliversEverythingAndDrains(t *testing.T) {
	defer goleak.VerifyNone(t)
	out := &memOutput{delay: time.Millisecond}
	cfg := Default()
	cfg.QueueSize = 2
	r := New(cfg, []Source{&genSource{n: 100, size: 10}}, []Stage{dropOdd{}}, []Output{out}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, 10*time.Second) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out.mu.Lock()
		n := out.events
		out.mu.Unlock()
		if n == 500 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if out.events != 500 || !out.closed {
		t.Errorf("output got %d events (want 500), closed=%v", out.events, out.closed)
	}
	if v := testutil.ToFloat64(r.m.events.WithLabelValues("mem")); v != 500 {
		t.Errorf("events_out metric = %v, want 500", v)
	}
}

func TestRunnerCountsOutputFailures(t *testing.T) {
	defer goleak.VerifyNone(t)
	out := &memOutput{fail: true}
	r := New(Default(), []Source{&genSource{n: 3, size: 4}}, nil, []Output{out}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, 5*time.Second) }()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(r.m.dropped.WithLabelValues("output", "write_error")) < 12 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if v := testutil.ToFloat64(r.m.dropped.WithLabelValues("output", "write_error")); v != 12 {
		t.Errorf("dropped{output,write_error} = %v, want 12", v)
	}
}

// A drain that cannot finish in time is cut off, reported, and counted.
func TestRunnerGraceTimeout(t *testing.T) {
	out := &memOutput{gate: make(chan struct{})}
	cfg := Default()
	cfg.Workers = 1
	r := New(cfg, []Source{&genSource{n: 20, size: 1}}, nil, []Output{out}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, 100*time.Millisecond) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	err := <-done
	if err == nil {
		t.Fatal("Run() = nil, want a drain timeout error")
	}
	if v := testutil.ToFloat64(r.m.dropped.WithLabelValues("shutdown", "timeout")); v == 0 {
		t.Error("dropped{shutdown,timeout} = 0 after a drain timeout with batches queued")
	}
	// Let the abandoned drain finish so later tests see no stray goroutines.
	close(out.gate)
	goleak.VerifyNone(t)
}

func TestConfigValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	c := Config{QueueSize: 0, Workers: 0, FlushInterval: time.Millisecond}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil for a zero config")
	}
	for _, k := range []string{"pipeline.queue_size", "pipeline.workers", "pipeline.flush_interval"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name %s", err, k)
		}
	}
}
