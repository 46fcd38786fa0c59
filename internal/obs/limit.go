package obs

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the safety-net limit that NewLogger installs.
const (
	DefaultLogBurst    = 5
	DefaultLogInterval = 10 * time.Second
)

// maxLimitKeys bounds the (level, message) entries a LimitHandler tracks.
// Messages are constant strings in the code, so a few hundred are plenty;
// past the bound records pass unlimited rather than grow the map.
const maxLimitKeys = 4096

// LimitHandler is a slog.Handler that lets at most Burst records of level
// WARN and above with the same (level, message) through per Interval and
// counts the rest. When the interval of a key with suppressed records ends,
// one summary record (same level and message, attribute
// repeats_suppressed=N) is emitted: at the next record of any level or at
// Flush. Records below WARN pass untouched.
//
// It is the safety net behind the per-site Limiter: a call site that logs
// per event cannot flood the log. It starts no goroutine and is safe for
// concurrent use; handlers derived by WithAttrs/WithGroup share the limit.
type LimitHandler struct {
	next slog.Handler
	st   *limitState
}

type limitKey struct {
	level slog.Level
	msg   string
}

type limitEntry struct {
	start      time.Time    // start of the current interval
	passed     int          // records let through in it
	suppressed int          // records held back in it
	h          slog.Handler // handler of the last held-back record (its attrs)
}

type limitState struct {
	burst    int
	interval time.Duration
	now      func() time.Time

	nextSweep atomic.Int64 // unix nanos; no sweep before
	mu        sync.Mutex
	entries   map[limitKey]*limitEntry
}

// NewLimitHandler wraps next. burst < 1 is taken as 1.
func NewLimitHandler(next slog.Handler, burst int, interval time.Duration) *LimitHandler {
	return &LimitHandler{next: next, st: &limitState{
		burst: max(burst, 1), interval: interval, now: time.Now,
		entries: map[limitKey]*limitEntry{},
	}}
}

// Enabled implements slog.Handler.
func (h *LimitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler.
func (h *LimitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &LimitHandler{next: h.next.WithAttrs(as), st: h.st}
}

// WithGroup implements slog.Handler.
func (h *LimitHandler) WithGroup(name string) slog.Handler {
	return &LimitHandler{next: h.next.WithGroup(name), st: h.st}
}

// summary is a pending "N records were suppressed" record.
type summary struct {
	h     slog.Handler
	level slog.Level
	msg   string
	n     int
}

// Handle implements slog.Handler.
func (h *LimitHandler) Handle(ctx context.Context, r slog.Record) error {
	st := h.st
	now := st.now()
	var sums []summary
	if now.UnixNano() >= st.nextSweep.Load() {
		sums = st.sweep(now, false)
	}
	pass := true
	if r.Level >= slog.LevelWarn {
		pass, sums = st.admit(h.next, r.Level, r.Message, now, sums)
	}
	st.emit(ctx, sums)
	if !pass {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// admit records one record of key (level, msg) and reports whether it may
// pass; a summary of the key's previous interval is appended to sums.
func (st *limitState) admit(next slog.Handler, level slog.Level, msg string, now time.Time, sums []summary) (bool, []summary) {
	k := limitKey{level, msg}
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.entries[k]
	if e == nil {
		if len(st.entries) >= maxLimitKeys {
			return true, sums // bounded: fail open rather than grow
		}
		e = &limitEntry{start: now}
		st.entries[k] = e
	} else if now.Sub(e.start) >= st.interval {
		if e.suppressed > 0 {
			sums = append(sums, summary{e.h, level, msg, e.suppressed})
		}
		*e = limitEntry{start: now}
	}
	if e.passed < st.burst {
		e.passed++
		return true, sums
	}
	e.suppressed++
	e.h = next
	return false, sums
}

// sweep collects the summaries of the intervals that ended (all of them when
// force is set) and forgets the keys that are idle, which bounds the map.
func (st *limitState) sweep(now time.Time, force bool) []summary {
	st.nextSweep.Store(now.Add(min(st.interval, time.Second)).UnixNano())
	var sums []summary
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, e := range st.entries {
		if !force && now.Sub(e.start) < st.interval {
			continue
		}
		if e.suppressed > 0 {
			sums = append(sums, summary{e.h, k.level, k.msg, e.suppressed})
		}
		delete(st.entries, k)
	}
	return sums
}

func (st *limitState) emit(ctx context.Context, sums []summary) {
	for _, s := range sums {
		r := slog.NewRecord(st.now(), s.level, s.msg, 0)
		r.AddAttrs(slog.Int("repeats_suppressed", s.n), slog.String("within", st.interval.String()))
		_ = s.h.Handle(ctx, r)
	}
}

// Flush emits the summaries of every key with suppressed records now, and
// forgets all keys. Call it before the process exits.
func (h *LimitHandler) Flush(ctx context.Context) {
	h.st.emit(ctx, h.st.sweep(h.st.now(), true))
}

// FlushLogger flushes l's handler when it is a LimitHandler (as NewLogger
// builds it); otherwise it does nothing.
func FlushLogger(ctx context.Context, l *slog.Logger) {
	if h, ok := l.Handler().(*LimitHandler); ok {
		h.Flush(ctx)
	}
}
