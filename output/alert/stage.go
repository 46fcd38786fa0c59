package alert

import (
	"context"
	"sync"
	"time"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/pipeline"
	"github.com/sluicelab/sluice/internal/query"
)

// stage evaluates every event of a batch against the rules. It changes
// nothing in the batch. The rules' work per event is a filter check per
// rule (most miss); matches copy the document and leave the heavy part
// (rendering, sending) to the sender's workers.
type stage Service

var _ pipeline.Stage = (*stage)(nil)

func (st *stage) Name() string { return "alert" }

var docPool = sync.Pool{New: func() any { return new(query.EventDoc) }}

// Process implements pipeline.Stage.
func (st *stage) Process(_ context.Context, b *event.Batch) error {
	s := (*Service)(st)
	evs := b.All()
	if len(evs) == 0 {
		return nil
	}
	t0 := time.Now()
	d := docPool.Get().(*query.EventDoc)
	p := s.engine.Processor()
	n := 0
	for i := range evs {
		e := &evs[i]
		if e.Kind == event.KindAlert {
			continue // alerts on alerts would feed themselves
		}
		d.Reset(e)
		p.Process(d, s.names.Name(e, e.Timestamp))
		n++
	}
	p.Release()
	d.Reset(nil)
	docPool.Put(d)
	s.m.evaluated.Add(float64(n))
	s.m.evalSeconds.Add(time.Since(t0).Seconds())
	return nil
}
