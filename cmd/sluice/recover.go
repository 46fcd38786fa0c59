package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/sluicelab/sluice/output/elasticsearch"
	"github.com/sluicelab/sluice/output/file"
)

// respoolFileTails repairs a crash between the two outputs. The pipeline
// writes each batch to the daily files first and to the Elasticsearch
// output's spool second; a SIGKILL between the two leaves that one batch in
// the files only. After a run that did not stop cleanly, the last lines of
// the files written last are spooled again: documents Elasticsearch already
// has keep their _id and are answered 409 (done), the others are indexed.
func respoolFileTails(ctx context.Context, logger *slog.Logger, eo *elasticsearch.Output, dir string, maxBatch int) {
	// A batch goes to the files within microseconds; a second of margin
	// takes in every file the last batch touched. Twice the largest batch
	// a source makes covers the batch whatever its kinds.
	lines := max(2*maxBatch, 1024)
	tails, err := file.RecentTails(dir, time.Second, lines, 64<<20)
	if err != nil {
		logger.Warn("reading the ends of the daily files after an unclean stop", "dir", dir, "err", err)
	}
	var spooled, skipped int
	for _, t := range tails {
		n, s, err := eo.Respool(ctx, t.Index, t.Lines)
		spooled, skipped = spooled+n, skipped+s
		if err != nil {
			logger.Warn("re-spooling the end of a daily file after an unclean stop", "file", t.Path, "err", err)
		}
	}
	logger.Info("the previous run did not stop cleanly: the last documents of the daily files written last are sent to Elasticsearch again (those it has are skipped by _id)",
		"files", len(tails), "documents", spooled, "skipped", skipped)
}
