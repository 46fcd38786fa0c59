package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/console"
)

// consoleBackend returns the store the console's API reads (per-minute
// rollups or Elasticsearch), or nil: then /api/v1/series, top and events
// answer 503 while meta, health and the live tail work.
func consoleBackend(_ *config.Config, _ *slog.Logger, _ prometheus.Registerer) (console.Backend, error) {
	return nil, nil
}
