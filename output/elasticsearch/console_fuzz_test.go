package elasticsearch

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/console"
)

// FuzzDecodeCursor: a cursor comes from the user (the before parameter).
// Property: no panic; what decodes encodes back to a cursor that decodes
// to the same values.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{Millis: 1795485600123, Index: "sluice-flows-2026.11.24", Doc: 42}.Encode())
	f.Add(Cursor{Millis: -1, Index: "x", Doc: 0}.Encode())
	f.Add("")
	f.Add("WzEsMiwzXQ")
	f.Add("WzEsIngiLDNd")
	f.Add("W251bGwsbnVsbCxudWxsXQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			return
		}
		back, err := DecodeCursor(c.Encode())
		if err != nil || back != c {
			t.Fatalf("DecodeCursor(%q) = %+v; re-encoded it decodes to %+v, %v", s, c, back, err)
		}
	})
}

// FuzzFillSeries: the histogram of an Elasticsearch answer fills the
// series by bucket key. Property: no panic, and every slice keeps one
// value per bucket whatever the keys and values.
func FuzzFillSeries(f *testing.F) {
	f.Add([]byte(`{"h":{"buckets":[{"key":1795485600000,"doc_count":3,"m":{"value":12.5}}]},"k":{"buckets":[{"key":"10.0.0.1","doc_count":2,"h":{"buckets":[{"key":1795485600000,"doc_count":2,"m":{"value":10}}]}}]}}`), true)
	f.Add([]byte(`{"h":{"buckets":[{"key":1795485660000,"doc_count":1},{"key":-5,"doc_count":1},{"key":9223372036854775807,"doc_count":1}]}}`), false)
	f.Add([]byte(`{"h":{"buckets":[{"key":1795485600000,"doc_count":1}]},"k":{"buckets":[{"key":443,"doc_count":1,"h":{"buckets":[{"key":1795485840000,"doc_count":1}]}},{"key":"other","doc_count":7}]}}`), false)
	f.Add([]byte(`{}`), true)
	f.Fuzz(func(t *testing.T, aggs []byte, sum bool) {
		start := time.UnixMilli(1795485600000).UTC()
		s := console.Series{Start: start, Step: time.Minute, Keys: []string{"10.0.0.1", "443"},
			Values: [][]float64{make([]float64, 5), make([]float64, 5)}, Other: make([]float64, 5), Total: make([]float64, 5)}
		if fillSeries(&s, searchResponse{Aggregations: json.RawMessage(aggs)}, sum) != nil {
			return
		}
		if len(s.Total) != 5 || len(s.Other) != 5 || len(s.Values[0]) != 5 || len(s.Values[1]) != 5 {
			t.Fatalf("slices resized: %+v", s)
		}
	})
}
