package pipeline

import (
	"context"

	"github.com/sluicelab/sluice/internal/event"
)

// Encode renders each batch's ECS JSON in the stage workers (see
// event.Batch.EncodeJSON), so that encoding, the most expensive step, runs on
// every core instead of in the single output goroutine. A stage after it
// may only read the events (the alert rules): a change would not reach
// the JSON already made.
type Encode struct{}

var _ Stage = Encode{}

// Name implements Stage.
func (Encode) Name() string { return "encode" }

// Process implements Stage.
func (Encode) Process(_ context.Context, b *event.Batch) error {
	b.EncodeJSON()
	return nil
}
