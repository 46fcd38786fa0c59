package alert

import (
	"context"
	"sync"
	"time"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// maxQueuedDocs bounds the alert documents waiting for the pipeline; beyond
// it the oldest are dropped and counted (an alert storm while the outputs
// are stuck must not grow memory without bound).
const maxQueuedDocs = 10000

// doc is one alert document waiting to be written.
type doc struct {
	Time time.Time `json:"time"`
	JSON []byte    `json:"json"`
}

// docQueue holds alert documents until the source hands them to the
// pipeline. Adding never blocks.
type docQueue struct {
	mu      sync.Mutex
	docs    []doc
	notify  chan struct{}
	dropped func(n int)
}

func newDocQueue(dropped func(int)) *docQueue {
	return &docQueue{notify: make(chan struct{}, 1), dropped: dropped}
}

func (q *docQueue) add(d doc) {
	q.mu.Lock()
	if len(q.docs) >= maxQueuedDocs {
		n := len(q.docs) - maxQueuedDocs + 1
		q.docs = append(q.docs[:0], q.docs[n:]...)
		q.dropped(n)
	}
	q.docs = append(q.docs, d)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// take removes and returns up to max documents.
func (q *docQueue) take(max int) []doc {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, len(q.docs))
	if n == 0 {
		return nil
	}
	out := make([]doc, n)
	copy(out, q.docs)
	q.docs = append(q.docs[:0], q.docs[n:]...)
	return out
}

func (q *docQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.docs)
}

// pending returns a copy of what is still queued (for the state file).
func (q *docQueue) pending() []doc {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]doc(nil), q.docs...)
}

// source is the pipeline source of alert documents: they go through the
// stages (which leave KindAlert alone) to every output, into the alerts
// index.
type source struct {
	q     *docQueue
	index event.IndexRef
}

var _ pipeline.Source = (*source)(nil)

func (s *source) Name() string { return "alerts" }

// Run hands queued documents to the pipeline until ctx is done, and then
// what is queued at that moment (the pipeline drains its sources' last
// batches; a document that cannot be handed over within drainWait stays
// queued). What is queued later (alerts of the stage's last batches, or
// sent while sluice stops) stays queued: the service saves it with its
// state and writes it after the next start.
func (s *source) Run(ctx context.Context, out chan<- *event.Batch) error {
	for {
		select {
		case <-ctx.Done():
			s.drain(out)
			return nil
		case <-s.q.notify:
		}
		for {
			docs := s.q.take(256)
			if len(docs) == 0 {
				break
			}
			b := s.batch(docs)
			select {
			case out <- b:
			case <-ctx.Done():
				// Back in the queue, and the last hand-over.
				for _, d := range docs {
					s.q.add(d)
				}
				b.Release()
				s.drain(out)
				return nil
			}
		}
	}
}

// drainWait bounds how long the source waits to hand over its last
// documents at shutdown.
const drainWait = 2 * time.Second

func (s *source) drain(out chan<- *event.Batch) {
	timer := time.NewTimer(drainWait)
	defer timer.Stop()
	for {
		docs := s.q.take(256)
		if len(docs) == 0 {
			return
		}
		b := s.batch(docs)
		select {
		case out <- b:
		case <-timer.C:
			for _, d := range docs {
				s.q.add(d)
			}
			b.Release()
			return
		}
	}
}

// batch makes the alert events of docs.
func (s *source) batch(docs []doc) *event.Batch {
	b := event.NewBatch()
	for _, d := range docs {
		e := b.Add()
		e.Kind = event.KindAlert
		e.Timestamp = d.Time
		e.Created = d.Time
		e.Index = s.index
		e.Raw = b.Bytes(d.JSON)
	}
	return b
}
