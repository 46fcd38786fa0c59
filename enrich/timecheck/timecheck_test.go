package timecheck

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/event"
)

var (
	now    = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	recv   = now.Add(-1500 * time.Millisecond)
	router = netip.MustParseAddr("192.0.2.1")
	fw     = netip.MustParseAddr("2001:db8::7")
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStage(t *testing.T, mod func(*Config)) (*Stage, *prometheus.Registry, *bytes.Buffer, *clock) {
	t.Helper()
	clk := &clock{t: now}
	cfg := Default()
	cfg.Now = clk.Now
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	s, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)), reg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"time check on (0: no bound)"`) || !strings.Contains(logs.String(), `"syslog_max_future":"`+cfg.Syslog.MaxFuture.String()+`"`) {
		t.Errorf("New() did not log its bounds: %s", logs.String())
	}
	logs.Reset()
	return s, reg, &logs, clk
}

func count(s *Stage, in, dir int) float64 { return testutil.ToFloat64(s.counts[in][dir]) }

func TestProcess(t *testing.T) {
	type result struct {
		Timestamp, Original time.Time
		Tags                event.Tags
	}
	ev := func(k event.Kind, ts time.Time) event.Event {
		return event.Event{Kind: k, Timestamp: ts, Created: recv, Observer: router}
	}
	cases := []struct {
		name string
		mod  func(*Config)
		in   event.Event
		want result
		dir  int // counted direction; -1 none
	}{
		{name: "flow inside", in: ev(event.KindFlow, now.Add(-time.Hour)), want: result{Timestamp: now.Add(-time.Hour)}, dir: -1},
		{name: "flow exactly max_past", in: ev(event.KindFlow, now.Add(-DefaultMaxPast)), want: result{Timestamp: now.Add(-DefaultMaxPast)}, dir: -1},
		{name: "flow 1ns before max_past", in: ev(event.KindFlow, now.Add(-DefaultMaxPast-1)),
			want: result{Timestamp: recv, Original: now.Add(-DefaultMaxPast - 1), Tags: event.TagTimeOutOfRange}, dir: dirPast},
		{name: "flow exactly max_future", in: ev(event.KindFlow, now.Add(DefaultMaxFuture)), want: result{Timestamp: now.Add(DefaultMaxFuture)}, dir: -1},
		{name: "flow 1ns after max_future", in: ev(event.KindFlow, now.Add(DefaultMaxFuture+1)),
			want: result{Timestamp: recv, Original: now.Add(DefaultMaxFuture + 1), Tags: event.TagTimeOutOfRange}, dir: dirFuture},
		{name: "flow 1970", in: ev(event.KindFlow, time.Unix(0, 0).UTC()),
			want: result{Timestamp: recv, Original: time.Unix(0, 0).UTC(), Tags: event.TagTimeOutOfRange}, dir: dirPast},
		{name: "flow 2100", in: ev(event.KindFlow, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)),
			want: result{Timestamp: recv, Original: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Tags: event.TagTimeOutOfRange}, dir: dirFuture},
		{name: "syslog year 9999", in: ev(event.KindSyslog, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)),
			want: result{Timestamp: recv, Original: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), Tags: event.TagTimeOutOfRange}, dir: dirFuture},
		{name: "syslog year 0", in: ev(event.KindSyslog, time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)),
			want: result{Timestamp: recv, Original: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), Tags: event.TagTimeOutOfRange}, dir: dirPast},
		{name: "syslog bounds are syslog's own",
			mod:  func(c *Config) { c.Syslog = Bounds{MaxPast: time.Hour, MaxFuture: time.Minute} },
			in:   ev(event.KindSyslog, now.Add(-time.Hour-time.Second)),
			want: result{Timestamp: recv, Original: now.Add(-time.Hour - time.Second), Tags: event.TagTimeOutOfRange}, dir: dirPast},
		{name: "flow bounds do not apply to syslog",
			mod:  func(c *Config) { c.Flows = Bounds{MaxPast: time.Hour, MaxFuture: time.Minute} },
			in:   ev(event.KindSyslog, now.Add(-2*time.Hour)),
			want: result{Timestamp: now.Add(-2 * time.Hour)}, dir: -1},
		{name: "max_past 0 is no bound",
			mod:  func(c *Config) { c.Flows.MaxPast = 0 },
			in:   ev(event.KindFlow, time.Unix(0, 0).UTC()),
			want: result{Timestamp: time.Unix(0, 0).UTC()}, dir: -1},
		{name: "max_past 0 keeps year 0 too",
			mod:  func(c *Config) { c.Syslog.MaxPast = 0 },
			in:   ev(event.KindSyslog, time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)),
			want: result{Timestamp: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}, dir: -1},
		{name: "max_future 0 is no bound",
			mod:  func(c *Config) { c.Syslog.MaxFuture = 0 },
			in:   ev(event.KindSyslog, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)),
			want: result{Timestamp: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, dir: -1},
		{name: "max_future 0 leaves the past bound",
			mod:  func(c *Config) { c.Flows.MaxFuture = 0 },
			in:   ev(event.KindFlow, time.Unix(1, 0).UTC()),
			want: result{Timestamp: recv, Original: time.Unix(1, 0).UTC(), Tags: event.TagTimeOutOfRange}, dir: dirPast},
		{name: "zero time gets the receive time, not counted", in: ev(event.KindFlow, time.Time{}),
			want: result{Timestamp: recv, Tags: event.TagTimeFromReceive}, dir: -1},
		{name: "zero time and zero created get now",
			in:   event.Event{Kind: event.KindSyslog},
			want: result{Timestamp: now, Tags: event.TagTimeFromReceive}, dir: -1},
		{name: "zero created: out of range gets now",
			in:   event.Event{Kind: event.KindSyslog, Timestamp: time.Unix(0, 0)},
			want: result{Timestamp: now, Original: time.Unix(0, 0), Tags: event.TagTimeOutOfRange}, dir: dirPast},
		{name: "beats year 1970", in: ev(event.KindBeats, time.Unix(0, 0).UTC()),
			want: result{Timestamp: recv, Original: time.Unix(0, 0).UTC(), Tags: event.TagTimeOutOfRange}, dir: dirPast},
		{name: "beats bounds are beats' own",
			mod:  func(c *Config) { c.Beats = Bounds{MaxPast: time.Hour, MaxFuture: time.Minute} },
			in:   ev(event.KindBeats, now.Add(2*time.Minute)),
			want: result{Timestamp: recv, Original: now.Add(2 * time.Minute), Tags: event.TagTimeOutOfRange}, dir: dirFuture},
		{name: "syslog bounds do not apply to beats",
			mod:  func(c *Config) { c.Syslog = Bounds{MaxPast: time.Hour, MaxFuture: time.Minute} },
			in:   ev(event.KindBeats, now.Add(-2*time.Hour)),
			want: result{Timestamp: now.Add(-2 * time.Hour)}, dir: -1},
		{name: "unknown kind untouched", in: ev(event.KindUnknown, time.Unix(0, 0)), want: result{Timestamp: time.Unix(0, 0)}, dir: -1},
		{name: "other tags kept", in: func() event.Event {
			e := ev(event.KindFlow, time.Unix(0, 0).UTC())
			e.Tags = event.TagGeoMiss
			return e
		}(), want: result{Timestamp: recv, Original: time.Unix(0, 0).UTC(), Tags: event.TagGeoMiss | event.TagTimeOutOfRange}, dir: dirPast},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _, _ := newStage(t, tc.mod)
			b := event.NewBatch()
			defer b.Release()
			*b.Add() = tc.in
			if err := s.Process(context.Background(), b); err != nil {
				t.Fatalf("Process() = %v", err)
			}
			e := &b.All()[0]
			got := result{Timestamp: e.Timestamp, Original: e.OriginalTimestamp, Tags: e.Tags}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Process() (-want +got):\n%s", diff)
			}
			if tc.want.Tags != 0 && e.Timestamp.Location() != time.UTC {
				t.Errorf("Timestamp %v is not UTC", e.Timestamp)
			}
			var total float64
			for in := range numInputs {
				for d := range numDirs {
					c := count(s, in, d)
					total += c
					wantIn := inNetflow
					switch tc.in.Kind {
					case event.KindSyslog:
						wantIn = inSyslog
					case event.KindBeats:
						wantIn = inBeats
					}
					if tc.dir >= 0 && in == wantIn && d == tc.dir && c != 1 {
						t.Errorf("counter %s/%s = %v, want 1", inputNames[in], dirNames[d], c)
					}
				}
			}
			if want := map[bool]float64{true: 0, false: 1}[tc.dir < 0]; total != want {
				t.Errorf("counters total %v, want %v", total, want)
			}
			if n := len(s.Senders()); n != int(total) {
				t.Errorf("Senders() has %d entries, want %v", n, total)
			}
		})
	}
}

// The counters exist at 0 for every input and direction from the start.
func TestMetricsPrecreated(t *testing.T) {
	_, reg, _, _ := newStage(t, nil)
	want := `
# HELP sluice_pipeline_events_time_out_of_range_total Events whose own time lay outside [now - max_past, now + max_future] of their input; they were dated with the receive time and tagged _time_out_of_range.
# TYPE sluice_pipeline_events_time_out_of_range_total counter
sluice_pipeline_events_time_out_of_range_total{direction="future",input="beats"} 0
sluice_pipeline_events_time_out_of_range_total{direction="future",input="netflow"} 0
sluice_pipeline_events_time_out_of_range_total{direction="future",input="syslog"} 0
sluice_pipeline_events_time_out_of_range_total{direction="past",input="beats"} 0
sluice_pipeline_events_time_out_of_range_total{direction="past",input="netflow"} 0
sluice_pipeline_events_time_out_of_range_total{direction="past",input="syslog"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sluice_pipeline_events_time_out_of_range_total"); err != nil {
		t.Error(err)
	}
	// A second stage on the same registry shares the counters.
	if _, err := New(Default(), nil, reg); err != nil {
		t.Errorf("New() on the same registry = %v", err)
	}
}

// A batch mixing good and bad events from two senders: only the bad are
// changed and counted, per input and direction and per sender.
func TestBatchAndSenders(t *testing.T) {
	s, _, _, clk := newStage(t, nil)
	b := event.NewBatch()
	defer b.Release()
	add := func(k event.Kind, obs netip.Addr, ts time.Time) {
		e := b.Add()
		e.Kind, e.Observer, e.Timestamp, e.Created = k, obs, ts, recv
	}
	for range 3 {
		add(event.KindFlow, router, now)
		add(event.KindFlow, router, time.Unix(0, 0).UTC())
		add(event.KindFlow, router, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
		add(event.KindSyslog, fw, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC))
		add(event.KindSyslog, router, now.Add(-time.Minute))
	}
	if err := s.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for i, e := range b.All() {
		bad := e.Tags.Has(event.TagTimeOutOfRange)
		if wantBad := i%5 == 1 || i%5 == 2 || i%5 == 3; bad != wantBad {
			t.Errorf("event %d: tagged %v, want %v", i, bad, wantBad)
		}
		if bad && (!e.Timestamp.Equal(recv) || e.OriginalTimestamp.IsZero()) {
			t.Errorf("event %d: Timestamp %v Original %v", i, e.Timestamp, e.OriginalTimestamp)
		}
		if !bad && !e.OriginalTimestamp.IsZero() {
			t.Errorf("event %d: in range but Original %v", i, e.OriginalTimestamp)
		}
	}
	for _, c := range []struct {
		in, dir int
		want    float64
	}{{inNetflow, dirPast, 3}, {inNetflow, dirFuture, 3}, {inSyslog, dirPast, 3}, {inSyslog, dirFuture, 0}} {
		if got := count(s, c.in, c.dir); got != c.want {
			t.Errorf("counter %s/%s = %v, want %v", inputNames[c.in], dirNames[c.dir], got, c.want)
		}
	}
	want := []Sender{
		{Addr: fw, Input: "syslog", Past: 3, LastOriginal: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
			LastOffset: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC).Sub(recv), FirstSeen: now, LastSeen: now},
		{Addr: router, Input: "netflow", Past: 3, Future: 3, LastOriginal: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
			LastOffset: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Sub(recv), FirstSeen: now, LastSeen: now},
	}
	if diff := cmp.Diff(want, s.Senders(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Senders() (-want +got):\n%s", diff)
	}

	// The window moves with the clock: a day later, now's events are still
	// fine, and the router is the most recent sender.
	clk.Add(24 * time.Hour)
	b.Reset()
	add(event.KindFlow, router, now)
	add(event.KindFlow, router, now.Add(-8*24*time.Hour))
	if err := s.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if b.All()[0].Tags.Has(event.TagTimeOutOfRange) || !b.All()[1].Tags.Has(event.TagTimeOutOfRange) {
		t.Errorf("after a day: tags %v, %v; want only the second out of range", b.All()[0].Tags, b.All()[1].Tags)
	}
	got := s.Senders()
	if got[0].Addr != router || got[0].Past != 4 || !got[0].LastSeen.Equal(now.Add(24*time.Hour)) || !got[0].FirstSeen.Equal(now) {
		t.Errorf("Senders()[0] = %+v, want the router with 4 past, first seen %v, last seen a day later", got[0], now)
	}
}

// The table keeps MaxSenders senders and forgets the least recently seen.
func TestSenderTableBounded(t *testing.T) {
	s, _, _, _ := newStage(t, func(c *Config) { c.MaxSenders = 3 })
	send := func(last byte) {
		b := event.NewBatch()
		defer b.Release()
		e := b.Add()
		e.Kind, e.Timestamp, e.Created = event.KindFlow, time.Unix(0, 0), recv
		e.Observer = netip.AddrFrom4([4]byte{198, 51, 100, last})
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	addrs := func() (out []byte) {
		for _, x := range s.Senders() {
			out = append(out, x.Addr.As4()[3])
		}
		return out
	}
	for _, a := range []byte{1, 2, 3} {
		send(a)
	}
	send(1) // 1 is now the most recent; 2 the least
	send(4) // evicts 2
	if diff := cmp.Diff([]byte{4, 1, 3}, addrs()); diff != "" {
		t.Errorf("Senders() after 1,2,3,1,4 (-want +got):\n%s", diff)
	}
	send(2) // comes back with a fresh count, evicting 3
	if diff := cmp.Diff([]byte{2, 4, 1}, addrs()); diff != "" {
		t.Errorf("Senders() after 2 (-want +got):\n%s", diff)
	}
	for _, x := range s.Senders() {
		if want := map[byte]uint64{1: 2, 2: 1, 4: 1}[x.Addr.As4()[3]]; x.Past != want {
			t.Errorf("sender %v: Past %d, want %d", x.Addr, x.Past, want)
		}
	}
	if n := count(s, inNetflow, dirPast); n != 6 {
		t.Errorf("counter = %v, want 6 (evictions do not lose counts)", n)
	}
}

type logLine struct {
	Level, Msg, Sender, Input, Direction, Offset, Fix string
	OriginalTime                                      string `json:"original_time"`
	Count, Suppressed                                 uint64
	OtherSendersSuppressed                            int `json:"other_senders_suppressed"`
}

func readLogs(t *testing.T, buf *bytes.Buffer) []logLine {
	t.Helper()
	var out []logLine
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var ll logLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, ll)
	}
	buf.Reset()
	return out
}

// One warning per sender per LogInterval, with the events suppressed since
// the last one, the offset and the key to raise.
func TestWarningsRateLimited(t *testing.T) {
	s, _, logs, clk := newStage(t, nil)
	send := func(k event.Kind, obs netip.Addr, ts time.Time, n int) {
		b := event.NewBatch()
		defer b.Release()
		for range n {
			e := b.Add()
			e.Kind, e.Observer, e.Timestamp, e.Created = k, obs, ts, clk.Now()
		}
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Unix(0, 0).UTC()
	send(event.KindFlow, router, past, 5)
	send(event.KindFlow, router, past, 5)
	got := readLogs(t, logs)
	if len(got) != 1 {
		t.Fatalf("%d warnings for one sender in one interval, want 1: %+v", len(got), got)
	}
	w := got[0]
	if w.Level != "WARN" || w.Sender != "192.0.2.1" || w.Input != "netflow" || w.Direction != "past" || w.Count != 1 || w.Suppressed != 0 ||
		w.OriginalTime != "1970-01-01T00:00:00Z" || w.Offset != past.Sub(now).String() ||
		!strings.Contains(w.Fix, "NTP") || !strings.Contains(w.Fix, "netflow.max_past") {
		t.Errorf("first warning = %+v", w)
	}

	// Another sender and input is named at once; its fix is its own key.
	send(event.KindSyslog, fw, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	got = readLogs(t, logs)
	if len(got) != 1 || got[0].Sender != "2001:db8::7" || got[0].Input != "syslog" || got[0].Direction != "future" ||
		!strings.Contains(got[0].Fix, "syslog.max_future") || got[0].OriginalTime != "9999-01-01T00:00:00Z" {
		t.Errorf("warnings for a second sender = %+v", got)
	}

	clk.Add(59 * time.Second)
	send(event.KindFlow, router, past, 1)
	if got := readLogs(t, logs); len(got) != 0 {
		t.Errorf("warnings before the interval passed: %+v", got)
	}
	clk.Add(time.Second)
	send(event.KindFlow, router, past, 2)
	got = readLogs(t, logs)
	if len(got) != 1 || got[0].Suppressed != 10 || got[0].Count != 12 {
		t.Errorf("warning after the interval = %+v, want one with suppressed 10 (9 before + 1 in its batch), count 12", got)
	}
}

// Many senders at once: per batch and per interval the warnings are
// bounded, and what was held back is said.
func TestWarningsBudget(t *testing.T) {
	s, _, logs, clk := newStage(t, func(c *Config) { c.MaxSenders = 1000 })
	b := event.NewBatch()
	defer b.Release()
	var lines []logLine
	for round := range 50 {
		b.Reset()
		for i := range 10 {
			e := b.Add()
			e.Kind, e.Timestamp, e.Created = event.KindFlow, time.Unix(0, 0), now
			e.Observer = netip.AddrFrom4([4]byte{10, 0, byte(round), byte(i)})
		}
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		got := readLogs(t, logs)
		if len(got) > maxWarningsPerBatch {
			t.Fatalf("round %d: %d warnings from one batch, want at most %d", round, len(got), maxWarningsPerBatch)
		}
		lines = append(lines, got...)
	}
	if len(lines) != maxWarningsPerInterval {
		t.Errorf("%d warnings in one interval from 500 senders, want %d", len(lines), maxWarningsPerInterval)
	}
	// The next interval's first warning says how many were held back
	// since the last one; over all warnings, every one held back is said.
	clk.Add(time.Minute)
	b.Reset()
	e := b.Add()
	e.Kind, e.Timestamp, e.Created, e.Observer = event.KindFlow, time.Unix(0, 0), now, router
	if err := s.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	got := readLogs(t, logs)
	if len(got) != 1 || got[0].OtherSendersSuppressed == 0 {
		t.Fatalf("first warning of the next interval = %+v, want one with other_senders_suppressed", got)
	}
	held := 0
	for _, l := range append(lines, got...) {
		held += l.OtherSendersSuppressed
	}
	if held != 500-maxWarningsPerInterval {
		t.Errorf("other_senders_suppressed add up to %d, want %d", held, 500-maxWarningsPerInterval)
	}
}

// Workers call Process at once (run with -race).
func TestConcurrent(t *testing.T) {
	s, _, _, _ := newStage(t, func(c *Config) { c.MaxSenders = 8 })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			b := event.NewBatch()
			defer b.Release()
			for i := range 200 {
				b.Reset()
				for j := range 16 {
					e := b.Add()
					e.Kind, e.Created = event.KindFlow, recv
					e.Observer = netip.AddrFrom4([4]byte{10, byte(w), byte(i), byte(j % 4)})
					if j%2 == 0 {
						e.Timestamp = time.Unix(0, 0)
					} else {
						e.Timestamp = now
					}
				}
				if err := s.Process(context.Background(), b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := count(s, inNetflow, dirPast); got != 4*200*8 {
		t.Errorf("counter = %v, want %d", got, 4*200*8)
	}
	if n := len(s.Senders()); n != 8 {
		t.Errorf("Senders() has %d, want 8 (the bound)", n)
	}
}

func TestValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	c.Flows.MaxPast = 0
	c.Syslog.MaxFuture = 0
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() with 0 bounds = %v, want nil (0 is no bound)", err)
	}
	c.Flows.MaxPast = -time.Hour
	c.Syslog.MaxFuture = -time.Second
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() with negative bounds = nil")
	}
	for _, want := range []string{"netflow.max_past: -1h0m0s is negative", "syslog.max_future: -1s is negative", "or 0 for no bound"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, want)
		}
	}
	if _, err := New(c, nil, nil); err == nil {
		t.Error("New() with negative bounds = nil error")
	}
}
