package console

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
	"github.com/sluicelab/sluice/internal/query"
)

// Tap is the pipeline stage behind the live tail: it runs after
// pipeline.Encode and hands the encoded JSON of every event that matches a
// subscriber's filter to that subscriber's bounded channel. It never
// blocks: a subscriber whose channel is full loses the document, which is
// counted (sluice_console_tail_dropped_total{reason="slow_client"}) and
// reported to that client. With no subscriber Process costs one atomic
// load.
type Tap struct {
	// subs is the current subscriber list, replaced as a whole (copy on
	// write) by Subscribe and Unsubscribe; nil when there is none.
	subs atomic.Pointer[[]*Subscriber]
	mu   sync.Mutex // serialises Subscribe/Unsubscribe

	docs sync.Pool // *query.EventDoc, one per concurrent Process

	done      chan struct{}
	closeOnce sync.Once

	dropSlow prometheus.Counter
	dropRate prometheus.Counter
	clients  prometheus.Gauge
	sent     prometheus.Counter
}

var _ pipeline.Stage = (*Tap)(nil)

// Subscriber is one live-tail client: the documents of its kind that match
// its filter arrive on C (one JSON object each, without newline). A
// document going to several subscribers is one slice shared by them: read
// it, do not modify it.
type Subscriber struct {
	C       <-chan []byte
	c       chan []byte
	kind    event.Kind // KindUnknown: flows and syslog
	dns     bool       // DNS events only (KindDNS of the console)
	m       query.Matcher
	dropped atomic.Uint64
}

// Dropped returns how many matching documents the subscriber lost because
// its channel was full, and resets the count.
func (s *Subscriber) Dropped() uint64 { return s.dropped.Swap(0) }

// NewTap builds the stage and registers its metrics with reg.
func NewTap(reg prometheus.Registerer) (*Tap, error) {
	t := &Tap{done: make(chan struct{})}
	t.docs.New = func() any { return query.NewEventDoc(nil) }
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_console_tail_dropped_total",
		Help: "Live-tail documents not sent to a client, by reason: slow_client (its queue was full), rate_limit (above 200 documents/s per client). The pipeline never waits for a tail client.",
	}, []string{"reason"})
	clients := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sluice_console_tail_clients",
		Help: "Live-tail clients connected.",
	})
	sent := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_console_tail_documents_total",
		Help: "Documents sent to live-tail clients.",
	})
	var err error
	if dropped, err = obs.Register(reg, dropped); err != nil {
		return nil, err
	}
	if clients, err = obs.Register(reg, clients); err != nil {
		return nil, err
	}
	if sent, err = obs.Register(reg, sent); err != nil {
		return nil, err
	}
	t.dropSlow = dropped.WithLabelValues("slow_client")
	t.dropRate = dropped.WithLabelValues("rate_limit")
	t.clients, t.sent = clients, sent
	return t, nil
}

// Name implements pipeline.Stage.
func (t *Tap) Name() string { return "console_tail" }

// ErrTapClosed is returned by Subscribe after Close.
var ErrTapClosed = errors.New("live tail stopped: sluice is shutting down")

// Subscribe adds a subscriber for kind (KindFlows, KindSyslog, KindDNS or
// "" for flows and syslog) whose documents match m, with a channel of size buffered
// documents. Call Unsubscribe when done.
func (t *Tap) Subscribe(kind string, m query.Matcher, size int) (*Subscriber, error) {
	select {
	case <-t.done:
		return nil, ErrTapClosed
	default:
	}
	s := &Subscriber{c: make(chan []byte, max(size, 1)), m: m}
	s.C = s.c
	switch kind {
	case KindFlows:
		s.kind = event.KindFlow
	case KindSyslog:
		s.kind = event.KindSyslog
	case KindDNS:
		s.dns = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var list []*Subscriber
	if old := t.subs.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, s)
	t.subs.Store(&list)
	t.clients.Set(float64(len(list)))
	return s, nil
}

// Unsubscribe removes s; Process sends it nothing afterwards.
func (t *Tap) Unsubscribe(s *Subscriber) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.subs.Load()
	if old == nil {
		return
	}
	list := make([]*Subscriber, 0, len(*old))
	for _, o := range *old {
		if o != s {
			list = append(list, o)
		}
	}
	if len(list) == 0 {
		t.subs.Store(nil)
	} else {
		t.subs.Store(&list)
	}
	t.clients.Set(float64(len(list)))
}

// Done is closed by Close: tail handlers end their streams.
func (t *Tap) Done() <-chan struct{} { return t.done }

// Close ends every tail stream (at shutdown). Process keeps working (and
// sends to nobody once the handlers have unsubscribed).
func (t *Tap) Close() { t.closeOnce.Do(func() { close(t.done) }) }

// countRateDrops counts documents a tail handler discarded above its rate.
func (t *Tap) countRateDrops(n int) { t.dropRate.Add(float64(n)) }

// countSent counts documents a tail handler wrote.
func (t *Tap) countSent(n int) { t.sent.Add(float64(n)) }

// Process implements pipeline.Stage. It reads the batch only.
func (t *Tap) Process(_ context.Context, b *event.Batch) error {
	subsp := t.subs.Load()
	if subsp == nil {
		return nil
	}
	subs := *subsp
	d := t.docs.Get().(*query.EventDoc)
	defer func() {
		d.Reset(nil)
		t.docs.Put(d)
	}()
	evs := b.All()
	for i := range evs {
		e := &evs[i]
		if e.Kind != event.KindFlow && e.Kind != event.KindSyslog && e.Kind != event.KindDNS && e.Kind != event.KindBeats {
			continue
		}
		d.Reset(e)
		isDNS := -1     // not known yet
		var line []byte // the copy shared by every subscriber it goes to
		for _, s := range subs {
			if s.dns {
				if isDNS < 0 {
					isDNS = 0
					if IsDNS(e) {
						isDNS = 1
					}
				}
				if isDNS == 0 {
					continue
				}
			} else if e.Kind != event.KindFlow && e.Kind != event.KindSyslog ||
				s.kind != event.KindUnknown && s.kind != e.Kind {
				continue
			}
			if s.m != nil && !s.m.Match(d) {
				continue
			}
			if line == nil {
				raw, ok := b.JSONLine(i)
				if ok {
					raw = raw[:len(raw)-1] // the newline
				} else { // not encoded (a stage changed the batch): encode here
					raw = e.AppendJSON(nil)
				}
				line = append([]byte(nil), raw...)
			}
			select {
			case s.c <- line:
			default:
				s.dropped.Add(1)
				t.dropSlow.Inc()
			}
		}
	}
	return nil
}
