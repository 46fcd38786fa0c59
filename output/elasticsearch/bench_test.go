package elasticsearch

import (
	"bytes"
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
