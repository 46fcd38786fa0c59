package dnscap

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sluicelab/sluice/internal/event"
)

// BenchmarkTransaction: frame parsing, DNS decoding, pairing and the
// event of one UDP transaction (an A query answered with two addresses);
// "+encode" adds encoding its document as the pipeline's Encode stage
// does. Reading the socket is not included.
func BenchmarkTransaction(b *testing.B) {
	const n = 1024 // distinct queries in flight
	var qs, rs [][]byte
	for i := range n {
		q := query(uint16(i), "www.example.com", dns.TypeA)
		qf, rf := udpPair(q, answer(q, "www.example.com. 300 IN A 192.0.2.1", "www.example.com. 300 IN A 192.0.2.2"), uint16(20000+i))
		qs, rs = append(qs, qf), append(rs, rf)
	}
	for _, encode := range []bool{false, true} {
		name := "pair"
		if encode {
			name = "pair+encode"
		}
		b.Run(name, func(b *testing.B) {
			tr, _ := testTracker(b, nil)
			batch := event.NewBatch()
			now := time.Now()
			tx := 0
			b.ReportAllocs()
			for b.Loop() {
				i := tx % n
				tr.frame(qs[i], now, batch)
				tr.frame(rs[i], now, batch)
				tx++
				if batch.Len() >= maxBatch {
					if encode {
						batch.EncodeJSON()
					}
					batch.Release()
					batch = event.NewBatch()
				}
			}
			b.ReportMetric(float64(tx)/b.Elapsed().Seconds(), "transactions/s")
		})
	}
}
