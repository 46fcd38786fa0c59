// Package elasticsearch writes events to daily Elasticsearch indices with
// the bulk API (github.com/elastic/go-elasticsearch/v8).
//
// Every document gets a deterministic _id and is sent with op_type create, so
// a retried bulk request cannot index a document twice (409 counts as done).
// Write appends every batch to a write-ahead spool on disk before it returns
// (spool.go); bulk workers send its sealed segments and delete them once
// Elasticsearch acknowledged every item, so what Write accepted survives a
// crash of the process. Conditions of the cluster (429, 5xx, credentials,
// cluster blocks, the shard limit) are retried with backoff and never
// dead-lettered; items Elasticsearch will never accept go to a dead-letter
// file, and a request refused for its content as a whole is split until the
// bad documents are alone. Segments read back from disk are salvaged
// document by document (salvage.go). Index templates are installed before
// the first document is sent. A run marker in the spool directory tells a
// start that the previous run did not stop cleanly; the caller then hands
// Respool the last lines of the daily files (recover.go), which covers a
// kill between the file output's write and the spool's.
//
// Console (console.go) answers the web console from the same indices:
// date_histogram and terms aggregations for series and top lists, a sorted
// search paged with search_after for the events, each bounded in buckets,
// terms sizes and time (an Elasticsearch-side timeout inside the caller's
// deadline), with filters parsed by internal/query and sent in its
// canonical query-string form.
package elasticsearch

import (
	_ "github.com/elastic/go-elasticsearch/v8" // the client; see output.go
)
