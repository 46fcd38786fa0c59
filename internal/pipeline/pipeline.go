// Package pipeline connects sources, stages and outputs with bounded channels.
//
//	sources (listeners + decoders) -> in chan -> stage workers -> batcher -> outputs
//
// Sources push *event.Batch into a bounded channel; a full channel blocks the
// source (a UDP source then drops and counts at its own socket queue, never
// here). Stage workers run every Stage on a batch in order. The batcher
// coalesces small batches until max events or the flush interval, then hands
// them to every output in turn. An event that entered the pipeline is written
// or counted as dropped with a reason; it is never lost silently.
package pipeline

import (
	"context"

	"github.com/sluicelab/sluice/internal/event"
)

// Source produces batches. Run blocks until ctx is done or a fatal error; it
// must not close out, and must stop sending once ctx is done. Every batch sent
// is owned by the receiver.
type Source interface {
	Name() string
	Run(ctx context.Context, out chan<- *event.Batch) error
}

// Stage transforms a batch in place. The runner calls Process from one
// goroutine per worker, so implementations must be safe for concurrent use;
// they must not keep b after returning. Per-event problems are recorded on the
// event (Tags); the error is for failures that should stop sluice.
type Stage interface {
	Name() string
	Process(ctx context.Context, b *event.Batch) error
}

// Output writes batches somewhere. Write is called from a single goroutine and
// must not keep b (or anything inside it) after returning. A nil error means
// the batch is durably handed over (written, spooled or dead-lettered and
// counted). Close flushes and releases resources; ctx bounds how long it may
// take.
type Output interface {
	Name() string
	Write(ctx context.Context, b *event.Batch) error
	Close(ctx context.Context) error
}

// Flusher is implemented by outputs that buffer and want a periodic Flush
// even when no batches arrive.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Readier is implemented by outputs that can report whether they are able to
// accept data (for /readyz).
type Readier interface {
	Ready() error
}

// Reporter is implemented by outputs with a state worth showing on /readyz
// even while they accept data (an output spooling to disk while its server
// is down). Status returns "" when there is nothing to report.
type Reporter interface {
	Status() string
}
