// Package elasticsearch writes events to daily Elasticsearch indices with
// the bulk API (github.com/elastic/go-elasticsearch/v8).
//
// Every document gets a deterministic _id and is sent with op_type create, so
// a retried bulk request cannot index a document twice (409 counts as done).
// Retriable failures (429, 502, 503, 504, connection errors) are retried with
// backoff, only for the items that failed; items Elasticsearch will never
// accept go to a dead-letter file; while the cluster is unreachable, bulk
// bodies go to a bounded on-disk spool and are replayed in order when it is
// back, also after a restart. Index templates are installed before the first
// document is sent.
package elasticsearch

import (
	_ "github.com/elastic/go-elasticsearch/v8" // the client; see output.go
)
