// Package timecheck is the pipeline stage that keeps implausible event
// times out of the daily indices and files. An event's own time (a flow's
// end, a syslog header's or message's date) picks its daily index; a
// device with a wrong clock would create one index per wrong day. Events
// whose time lies outside [now - max_past, now + max_future] of their input
// get the receive time as @timestamp instead, keep their own time in
// sluice.original_timestamp and the tag _time_out_of_range, and are counted
// per input and direction; offending senders are kept in a bounded table
// and named in a rate-limited warning.
//
// The stage runs after every stage that may set the event time (the
// vendor parsers date syslog events from their messages) and before the
// encoder and the outputs.
package timecheck

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// Inputs and directions: indices of the counters and label values.
const (
	inNetflow = iota
	inSyslog
	inBeats
	numInputs
)

const (
	dirPast = iota
	dirFuture
	numDirs
)

var (
	inputNames = [numInputs]string{"netflow", "syslog", "beats"}
	dirNames   = [numDirs]string{"past", "future"}
	// keyNames are the config keys a warning names as the fix.
	keyNames = [numInputs][numDirs]string{{"netflow.max_past", "netflow.max_future"}, {"syslog.max_past", "syslog.max_future"}, {"beats.max_past", "beats.max_future"}}
)

// maxWarningsPerBatch bounds the warnings one batch collects; the senders
// beyond it stay muted and are named by a later batch.
const maxWarningsPerBatch = 4

// maxWarningsPerInterval bounds the warnings of all senders together per
// LogInterval, so that a flood of spoofed senders cannot flood the log.
const maxWarningsPerInterval = 64

// Stage checks event times. It is safe for concurrent use: the window is
// computed per batch from one clock read, and only events out of range
// touch the shared sender table (under its mutex).
type Stage struct {
	cfg    Config
	now    func() time.Time
	logger *slog.Logger
	counts [numInputs][numDirs]prometheus.Counter
	tab    table
}

var _ pipeline.Stage = (*Stage)(nil)

// New returns the stage. Its counter is
// sluice_pipeline_events_time_out_of_range_total{input,direction}.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Stage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	vec, err := obs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_pipeline_events_time_out_of_range_total",
		Help: "Events whose own time lay outside [now - max_past, now + max_future] of their input; they were dated with the receive time and tagged _time_out_of_range.",
	}, []string{"input", "direction"}))
	if err != nil {
		return nil, err
	}
	s := &Stage{cfg: cfg, now: cfg.Now, logger: logger.With("component", "enrich/timecheck")}
	if s.now == nil {
		s.now = time.Now
	}
	for i := range numInputs {
		for d := range numDirs {
			s.counts[i][d] = vec.WithLabelValues(inputNames[i], dirNames[d])
		}
	}
	s.tab.init(cfg.MaxSenders)
	s.logger.Info("time check on (0: no bound)", "netflow_max_past", cfg.Flows.MaxPast.String(), "netflow_max_future", cfg.Flows.MaxFuture.String(),
		"syslog_max_past", cfg.Syslog.MaxPast.String(), "syslog_max_future", cfg.Syslog.MaxFuture.String(),
		"beats_max_past", cfg.Beats.MaxPast.String(), "beats_max_future", cfg.Beats.MaxFuture.String())
	return s, nil
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return "timecheck" }

// window is the accepted range of one input at one instant. A disabled
// side has the zero time (lo) or the far future (hi) and its flag false.
type window struct {
	lo, hi           time.Time
	pastOn, futureOn bool
}

// farFuture is hi of a disabled future bound: later than any time a
// decoder or parser produces.
var farFuture = time.Date(1<<28, 1, 1, 0, 0, 0, 0, time.UTC)

func newWindow(now time.Time, b Bounds) window {
	w := window{hi: farFuture, pastOn: b.MaxPast > 0, futureOn: b.MaxFuture > 0}
	if w.pastOn {
		w.lo = now.Add(-b.MaxPast)
	}
	if w.futureOn {
		w.hi = now.Add(b.MaxFuture)
	}
	return w
}

// warning is a sender line to log once the table is unlocked.
type warning struct {
	addr       netip.Addr
	in, dir    int
	original   time.Time
	offset     time.Duration
	suppressed uint64
	total      uint64
	muted      int // warnings of other senders held back by the global budget
}

// Process implements pipeline.Stage. Events inside the window are left as
// they are. An event without any time (zero) gets the receive time and
// _time_from_receive, like the decoders do, and is not counted.
func (s *Stage) Process(_ context.Context, b *event.Batch) error {
	evs := b.All()
	if len(evs) == 0 {
		return nil
	}
	now := s.now()
	ws := [numInputs]window{newWindow(now, s.cfg.Flows), newWindow(now, s.cfg.Syslog), newWindow(now, s.cfg.Beats)}
	var counts [numInputs][numDirs]uint64
	var warns [maxWarningsPerBatch]warning
	nw := 0
	locked := false
	for i := range evs {
		e := &evs[i]
		var in int
		switch e.Kind {
		case event.KindFlow:
			in = inNetflow
		case event.KindSyslog:
			in = inSyslog
		case event.KindBeats:
			in = inBeats
		default:
			continue
		}
		w := &ws[in]
		ts := e.Timestamp
		if !ts.Before(w.lo) && !ts.After(w.hi) && !ts.IsZero() {
			continue
		}
		recv := e.Created
		if recv.IsZero() {
			recv = now
		}
		if ts.IsZero() {
			e.Timestamp = recv.UTC()
			e.Tags |= event.TagTimeFromReceive
			continue
		}
		var dir int
		switch {
		case w.pastOn && ts.Before(w.lo):
			dir = dirPast
		case w.futureOn && ts.After(w.hi):
			dir = dirFuture
		default:
			continue // only outside a disabled bound
		}
		e.OriginalTimestamp = ts
		e.Timestamp = recv.UTC()
		e.Tags |= event.TagTimeOutOfRange
		counts[in][dir]++
		if !locked {
			s.tab.mu.Lock()
			locked = true
		}
		if wr, ok := s.tab.note(e.Observer, in, dir, ts, ts.Sub(recv), now, s.cfg.LogInterval, nw < len(warns)); ok {
			warns[nw] = wr
			nw++
		}
	}
	if !locked {
		return nil
	}
	s.tab.mu.Unlock()
	for in := range numInputs {
		for d := range numDirs {
			if c := counts[in][d]; c > 0 {
				s.counts[in][d].Add(float64(c))
			}
		}
	}
	for _, w := range warns[:nw] {
		key := keyNames[w.in][w.dir]
		args := []any{"sender", w.addr.String(), "input", inputNames[w.in], "direction", dirNames[w.dir],
			"original_time", w.original.UTC().Format(time.RFC3339Nano), "offset", w.offset.String(),
			"count", w.total, "suppressed", w.suppressed,
			"fix", "check the device's clock and NTP, or raise " + key}
		if w.muted > 0 {
			args = append(args, "other_senders_suppressed", w.muted)
		}
		s.logger.Warn("event time out of range; dated with the receive time and tagged _time_out_of_range", args...)
	}
	return nil
}

// Sender is what the stage knows about one sender (and input) whose events
// were out of range.
type Sender struct {
	Addr  netip.Addr
	Input string // "netflow" or "syslog"
	// Past and Future count its events out of range on each side.
	Past, Future uint64
	// LastOriginal is the own time of its latest event out of range and
	// LastOffset how far that lay from the receive time.
	LastOriginal        time.Time
	LastOffset          time.Duration
	FirstSeen, LastSeen time.Time
}

// Senders returns the offending senders still in the table (the most
// recently seen MaxSenders), the most recently seen first.
func (s *Stage) Senders() []Sender {
	s.tab.mu.Lock()
	defer s.tab.mu.Unlock()
	out := make([]Sender, 0, len(s.tab.m))
	for e := s.tab.head; e != nil; e = e.next {
		out = append(out, e.Sender)
	}
	return out
}

// senderKey identifies a table entry: the same device may send flows and
// syslog, and the fix names a different key for each.
type senderKey struct {
	addr netip.Addr
	in   int
}

type entry struct {
	Sender
	key        senderKey
	logged     time.Time // last warning naming it; zero: none yet
	muted      uint64    // events since that warning
	prev, next *entry    // recency list, head most recent
}

// table holds the offending senders, bounded by max, least recently seen
// evicted, and the global warning budget. mu guards everything.
type table struct {
	mu   sync.Mutex
	max  int
	m    map[senderKey]*entry
	head *entry
	tail *entry

	budgetStart time.Time
	budgetUsed  int
	budgetMuted int // warnings held back by the budget since the last one logged
}

func (t *table) init(maxSenders int) {
	t.max = maxSenders
	t.m = make(map[senderKey]*entry, min(maxSenders, 1024))
}

// note records one event out of range; the caller holds mu. It returns a
// warning to log when the sender's last one is LogInterval old (or it has
// none), the global budget allows one, and canWarn.
func (t *table) note(addr netip.Addr, in, dir int, orig time.Time, off time.Duration, now time.Time, interval time.Duration, canWarn bool) (warning, bool) {
	k := senderKey{addr, in}
	e := t.m[k]
	if e == nil {
		if len(t.m) >= t.max {
			old := t.tail
			t.unlink(old)
			delete(t.m, old.key)
		}
		e = &entry{key: k, Sender: Sender{Addr: addr, Input: inputNames[in], FirstSeen: now}}
		t.m[k] = e
	} else {
		t.unlink(e)
	}
	t.pushFront(e)
	if dir == dirPast {
		e.Past++
	} else {
		e.Future++
	}
	e.LastOriginal, e.LastOffset, e.LastSeen = orig, off, now
	e.muted++

	if !e.logged.IsZero() && now.Sub(e.logged) < interval {
		return warning{}, false
	}
	if now.Sub(t.budgetStart) >= interval || now.Before(t.budgetStart) {
		t.budgetStart, t.budgetUsed = now, 0
	}
	if !canWarn || t.budgetUsed >= maxWarningsPerInterval {
		t.budgetMuted++
		return warning{}, false
	}
	t.budgetUsed++
	w := warning{addr: addr, in: in, dir: dir, original: orig, offset: off,
		suppressed: e.muted - 1, total: e.Past + e.Future, muted: t.budgetMuted}
	e.logged, e.muted, t.budgetMuted = now, 0, 0
	return w, true
}

func (t *table) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		t.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (t *table) pushFront(e *entry) {
	e.next = t.head
	if t.head != nil {
		t.head.prev = e
	}
	t.head = e
	if t.tail == nil {
		t.tail = e
	}
}
