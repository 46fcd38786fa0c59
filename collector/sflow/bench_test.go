package sflow

import (
	"testing"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// BenchmarkDecodeSFlow decodes a typical switch datagram: 8 flow samples
// (Ethernet/IPv4/TCP header + extended switch) and one counter sample.
func BenchmarkDecodeSFlow(b *testing.B) {
	const flows = 8
	d, err := New(Default(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	p := &collector.Packet{Data: mixedDatagram(flows), Src: sender, Received: received}
	batch := event.NewBatch()
	defer batch.Release()
	b.SetBytes(int64(len(p.Data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		batch.Reset()
		if err := d.Decode(p, batch); err != nil {
			b.Fatal(err)
		}
		n += batch.Len()
	}
	if n != flows*b.N {
		b.Fatalf("decoded %d events, want %d", n, flows*b.N)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "samples/s")
}
