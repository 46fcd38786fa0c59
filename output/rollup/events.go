package rollup

import (
	"context"
	"errors"

	"github.com/sluicelab/sluice/internal/console"
)

// Events implements console.Backend.
func (s *Store) Events(ctx context.Context, r console.EventsRequest) (console.Events, error) {
	return console.Events{}, errors.New("not yet")
}
