// Package obs holds what every component shares for observability: the slog
// logger setup, a rate limit for repeated log lines, and the HTTP server for
// /metrics, /healthz and /readyz.
package obs

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NewLogger builds the process logger. format is "text" or "json"; level is
// debug, info, warn or error. Warnings and errors go through a LimitHandler
// (DefaultLogBurst per DefaultLogInterval per message); call FlushLogger
// before exiting to emit the pending "repeats_suppressed" summaries.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log.level: %q is not a level; use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(NewLimitHandler(slog.NewTextHandler(w, opts), DefaultLogBurst, DefaultLogInterval)), nil
	case "json":
		return slog.New(NewLimitHandler(slog.NewJSONHandler(w, opts), DefaultLogBurst, DefaultLogInterval)), nil
	default:
		return nil, fmt.Errorf("log.format: %q is not a format; use text or json", format)
	}
}

// Limiter lets a repeated log line through at most once per interval per key
// and reports how many were suppressed in between.
type Limiter struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	muted    map[string]int
}

// NewLimiter returns a Limiter with the given interval.
func NewLimiter(interval time.Duration) *Limiter {
	return &Limiter{interval: interval, last: map[string]time.Time{}, muted: map[string]int{}}
}

// Allow reports whether a line for key may be logged now, and how many lines
// for that key were suppressed since the last one that was allowed.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, seen := l.last[key]; seen && now.Sub(t) < l.interval {
		l.muted[key]++
		return false, 0
	}
	if len(l.last) > 1024 { // bounded: keys are reasons, but be safe
		clear(l.last)
		clear(l.muted)
	}
	l.last[key] = now
	s := l.muted[key]
	l.muted[key] = 0
	return true, s
}

// PeakRSS returns the process's peak resident set size in bytes (VmHWM), or
// 0 where /proc is not available.
func PeakRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
