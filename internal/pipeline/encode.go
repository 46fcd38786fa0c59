package pipeline

import (
	"context"

	"github.com/sluicelab/sluice/internal/event"
)

// Encode renders each batch's ECS JSON in the stage workers (see
// event.Batch.EncodeJSON), so that encoding, the most expensive step, runs on
// every core instead of in the single output goroutine. It must be the last
// stage: a stage after it would change events whose JSON is already made.
type Encode struct{}

var _ Stage = Encode{}

// Name implements Stage.
func (Encode) Name() string { return "encode" }

// Process implements Stage.
func (Encode) Process(_ context.Context, b *event.Batch) error {
	b.EncodeJSON()
	return nil
}
