package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the limit handler.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a bytes.Buffer safe for the concurrent test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func newLimitLogger(burst int, interval time.Duration) (*slog.Logger, *LimitHandler, *syncBuffer, *fakeClock) {
	buf := &syncBuffer{}
	h := NewLimitHandler(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}), burst, interval)
	clk := &fakeClock{t: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)}
	h.st.now = clk.now
	return slog.New(h), h, buf, clk
}

// count returns how many records have msg, and the summed
// repeats_suppressed of those that are summaries.
func count(recs []map[string]any, msg string) (lines, suppressed int) {
	for _, r := range recs {
		if r["msg"] != msg {
			continue
		}
		if n, ok := r["repeats_suppressed"].(float64); ok {
			suppressed += int(n)
			continue
		}
		lines++
	}
	return lines, suppressed
}

func TestLimitHandlerBurstThenSummary(t *testing.T) {
	l, _, buf, clk := newLimitLogger(5, 10*time.Second)
	log := l.With("component", "output/file")
	for i := 0; i < 100; i++ {
		log.Error("disk full", "i", i)
		log.Warn("other warning")
		log.Info("info is untouched")
	}
	recs := buf.records(t)
	if n, s := count(recs, "disk full"); n != 5 || s != 0 {
		t.Fatalf("within the interval: %d lines, %d summarized; want 5 and 0", n, s)
	}
	if n, _ := count(recs, "other warning"); n != 5 {
		t.Fatalf("other warning: %d lines; want 5 (keys are per message)", n)
	}
	if n, _ := count(recs, "info is untouched"); n != 100 {
		t.Fatalf("info lines: %d; want all 100", n)
	}
	// The interval ends; the next record of the key first emits the summary.
	clk.add(10 * time.Second)
	log.Error("disk full", "i", 100)
	recs = buf.records(t)
	if n, s := count(recs, "disk full"); n != 6 || s != 95 {
		t.Fatalf("after the interval: %d lines, %d summarized; want 6 and 95", n, s)
	}
	for _, r := range recs {
		if r["repeats_suppressed"] != nil && r["component"] != "output/file" {
			t.Errorf("summary record %v lacks the logger's attrs (component)", r)
		}
		if r["msg"] == "disk full" && r["repeats_suppressed"] != nil && r["level"] != "ERROR" {
			t.Errorf("summary record %v: want the level of the suppressed records", r)
		}
	}
	// Same level and message, separate keys per level.
	l.Warn("disk full")
	if n, _ := count(buf.records(t), "disk full"); n != 7 {
		t.Fatalf("WARN of the same message as an ERROR key: %d lines, want 7 (level is part of the key)", n)
	}
}

func TestLimitHandlerSummaryOnOtherRecordAndFlush(t *testing.T) {
	l, h, buf, clk := newLimitLogger(2, time.Second)
	for i := 0; i < 10; i++ {
		l.Warn("flood")
	}
	// No goroutine: the summary comes with the next record of any level
	// once the interval has ended ...
	clk.add(2 * time.Second)
	l.Debug("anything")
	if n, s := count(buf.records(t), "flood"); n != 2 || s != 8 {
		t.Fatalf("after the interval and another record: %d lines, %d summarized; want 2 and 8", n, s)
	}
	// ... or at Flush.
	for i := 0; i < 10; i++ {
		l.Warn("flood")
	}
	FlushLogger(context.Background(), l)
	if n, s := count(buf.records(t), "flood"); n != 4 || s != 16 {
		t.Fatalf("after Flush: %d lines, %d summarized; want 4 and 16", n, s)
	}
	h.Flush(context.Background()) // nothing pending: no line
	if n, s := count(buf.records(t), "flood"); n != 4 || s != 16 {
		t.Fatalf("after a second Flush: %d lines, %d summarized; want 4 and 16", n, s)
	}
	if len(h.st.entries) != 0 {
		t.Errorf("entries after Flush = %d, want 0", len(h.st.entries))
	}
}

func TestLimitHandlerBounded(t *testing.T) {
	l, h, buf, clk := newLimitLogger(1, time.Minute)
	for i := 0; i < maxLimitKeys+100; i++ {
		l.Warn(fmt.Sprint("message ", i))
	}
	if got := len(h.st.entries); got != maxLimitKeys {
		t.Fatalf("entries = %d, want the bound %d", got, maxLimitKeys)
	}
	if got := len(buf.records(t)); got != maxLimitKeys+100 {
		t.Fatalf("lines = %d, want %d: distinct messages past the bound pass", got, maxLimitKeys+100)
	}
	// Idle keys are forgotten at the sweep after their interval.
	clk.add(time.Minute)
	l.Info("tick")
	if got := len(h.st.entries); got != 0 {
		t.Fatalf("entries after the interval = %d, want 0", got)
	}
}

func TestLimitHandlerConcurrent(t *testing.T) {
	l, h, buf, _ := newLimitLogger(5, time.Hour)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			lg := l.With("worker", g)
			for i := 0; i < 1000; i++ {
				lg.Error("shared error")
				lg.WithGroup("grp").Warn("shared warning", "i", i)
			}
		})
	}
	wg.Wait()
	h.Flush(context.Background())
	recs := buf.records(t)
	if n, s := count(recs, "shared error"); n != 5 || n+s != 8000 {
		t.Fatalf("shared error: %d lines + %d summarized; want 5 + 7995", n, s)
	}
	// The summary of a grouped logger nests its attrs in the group.
	n, s := 0, 0
	for _, r := range recs {
		if r["msg"] != "shared warning" {
			continue
		}
		g, _ := r["grp"].(map[string]any)
		if v, ok := g["repeats_suppressed"].(float64); ok {
			s += int(v)
		} else {
			n++
		}
	}
	if n != 5 || n+s != 8000 {
		t.Fatalf("shared warning: %d lines + %d summarized; want 5 + 7995", n, s)
	}
}

func TestNewLoggerLimits(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		l.Error("write failed", "i", i)
	}
	FlushLogger(context.Background(), l)
	out := buf.String()
	if got := strings.Count(out, "msg=\"write failed\""); got != DefaultLogBurst+1 {
		t.Fatalf("NewLogger output has %d write failed lines, want %d and a summary:\n%s", got, DefaultLogBurst+1, out)
	}
	if !strings.Contains(out, fmt.Sprintf("repeats_suppressed=%d", 50-DefaultLogBurst)) {
		t.Fatalf("NewLogger output lacks repeats_suppressed=%d:\n%s", 50-DefaultLogBurst, out)
	}
}

// nopHandler is enabled at every level and writes nothing, so the
// benchmark measures the limit handler (slog.DiscardHandler is disabled and
// would never be called).
type nopHandler struct{}

func (nopHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (nopHandler) Handle(context.Context, slog.Record) error { return nil }
func (h nopHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h nopHandler) WithGroup(string) slog.Handler           { return h }

func BenchmarkLimitHandler(b *testing.B) {
	for _, tc := range []struct {
		name  string
		level slog.Level
	}{{"info_passes", slog.LevelInfo}, {"error_suppressed", slog.LevelError}} {
		b.Run(tc.name, func(b *testing.B) {
			h := NewLimitHandler(nopHandler{}, 5, time.Hour)
			l := slog.New(h).With("component", "bench")
			ctx := context.Background()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				l.Log(ctx, tc.level, "repeated line", "n", n)
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
	b.Run("baseline_without_limit", func(b *testing.B) {
		l := slog.New(nopHandler{}).With("component", "bench")
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			l.Error("repeated line", "n", n)
			n++
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("error_suppressed_parallel", func(b *testing.B) {
		h := NewLimitHandler(nopHandler{}, 5, time.Hour)
		l := slog.New(h)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Error("repeated line", "k", 1)
			}
		})
	})
}
