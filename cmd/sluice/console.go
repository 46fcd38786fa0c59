package main

import (
	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/console/web"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/output/elasticsearch"
	"github.com/sluicelab/sluice/output/rollup"
)

// consoleBackend returns the store the console's API reads: Elasticsearch
// when it is an output (any range the cluster holds, any filter), else the
// per-minute rollups, else nil (then /api/v1/series, top and events answer
// 503 while meta, health and the live tail work).
func consoleBackend(cfg *config.Config, es *elasticsearch.Output, rollups *rollup.Store) (console.Backend, error) {
	if es != nil {
		return es.Console(elasticsearch.ConsoleConfig{Timeout: cfg.Console.QueryTimeout, DefaultOperator: console.FilterOptions.DefaultOperator,
			DNSIndices: []string{cfg.Output.Index.DNS, cfg.Output.Index.Beats}})
	}
	if rollups != nil {
		return rollups, nil
	}
	return nil, nil
}

// mountConsolePages serves the console's pages (embedded assets) at / on
// the HTTP server, next to the API they call.
func mountConsolePages(srv *obs.Server) error {
	pages, err := web.New()
	if err != nil {
		return err
	}
	srv.Handle("/", pages)
	return nil
}
