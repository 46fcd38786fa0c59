package elasticsearch

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// BenchmarkBuildBulk measures what the output does per document on the
// pipeline goroutine: the _id hash, the index name and the action line.
func BenchmarkBuildBulk(b *testing.B) {
	batch := flowBatch(0, 512, day)
	defer batch.Release()
	flows, _ := event.NewIndexNamer("sluice-flows-%{+yyyy.MM.dd}", time.UTC)
	bk := &bulk{body: make([]byte, 0, 1<<20)}
	seen := map[[16]byte]uint32{}
	var id [idLen]byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bk.reset()
		clear(seen)
		for i := range batch.All() {
			line, _ := batch.JSONLine(i)
			doc := bytes.TrimSuffix(line, []byte("\n"))
			key := docID(&id, 1764000000000, doc, 0)
			seen[key] = 0
			bk.add(flows.Name(batch.Events[i].Timestamp), id[:], doc)
		}
	}
	b.ReportMetric(float64(b.N)*512/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWrite measures Write as the pipeline calls it (batches of 30
// flows, one datagram's worth): building the bulk lines, the write(2) into
// the open spool segment, and sealing (fsync per policy, rename) every
// 2000 documents. Bulk requests go to an in-process server that accepts
// everything at once, so the benchmark measures sluice, not a node.
func BenchmarkWrite(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		io.WriteString(w, `{"errors":false}`)
	}))
	defer srv.Close()
	for _, policy := range []string{FsyncNever, FsyncSegment, FsyncAlways} {
		b.Run(policy, func(b *testing.B) {
			c := Default()
			c.Addresses = []string{srv.URL}
			c.InstallTemplates = false
			c.SpoolDir = filepath.Join(b.TempDir(), "spool")
			c.DeadLetterPath = filepath.Join(b.TempDir(), "dl.ndjson")
			c.SpoolFsync = policy
			o, err := New(c, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			batch := flowBatch(0, 30, day)
			defer batch.Release()
			var size int
			for i := range batch.All() {
				line, _ := batch.JSONLine(i)
				size += len(line)
			}
			ctx := context.Background()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if err := o.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n*30)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(n*size)/b.Elapsed().Seconds()/1e6, "MB/s")
			if err := o.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
