package netflow

import (
	"bytes"

	gfnetflow "github.com/netsampler/goflow2/v2/decoders/netflow"
	"net/netip"
	"testing"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

const benchRecords = 24

func benchDecode(b *testing.B, tmplPkt, dataPkt []byte) {
	d, _ := newTestDecoder(b, Default())
	p := &collector.Packet{Data: tmplPkt, Src: netip.MustParseAddrPort(exporterA), Received: testReceived}
	batch := &event.Batch{}
	if err := d.Decode(p, batch); err != nil {
		b.Fatal(err)
	}
	p.Data = dataPkt
	b.ReportAllocs()
	b.SetBytes(int64(len(dataPkt)))
	n := 0
	for b.Loop() {
		batch.Reset()
		if err := d.Decode(p, batch); err != nil {
			b.Fatal(err)
		}
		n += batch.Len()
	}
	if n != b.N*benchRecords {
		b.Fatalf("decoded %d flows, want %d", n, b.N*benchRecords)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}

func BenchmarkDecodeV9(b *testing.B) {
	tp, dp := benchV9Packets(benchRecords)
	benchDecode(b, tp, dp)
}

func BenchmarkDecodeIPFIX(b *testing.B) {
	tp, dp := benchIPFIXPackets(benchRecords)
	benchDecode(b, tp, dp)
}

func BenchmarkDecodeV5(b *testing.B) {
	r := v5Rec{src: "10.1.1.1", dst: "10.2.2.2", nextHop: "10.0.0.254", pkts: 5, octets: 500, proto: 6,
		first: testUptimeMs - 4000, last: testUptimeMs - 2000}
	recs := make([]v5Rec, benchRecords)
	for i := range recs {
		recs[i] = r
	}
	pkt := v5Packet(benchRecords, testUptimeMs, testSecs, 0, 0, recs...)
	benchDecode(b, pkt, pkt)
}

// TestDecodeNoAllocs pins the steady-state promise: no allocation per
// record (or per packet) once the batch has grown.
func TestDecodeNoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tmpl, dp []byte
	}{
		{"v9", nil, nil}, {"ipfix", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, dp := benchV9Packets(benchRecords)
			if tc.name == "ipfix" {
				tp, dp = benchIPFIXPackets(benchRecords)
			}
			d, _ := newTestDecoder(t, Default())
			p := &collector.Packet{Data: tp, Src: netip.MustParseAddrPort(exporterA), Received: testReceived}
			batch := &event.Batch{}
			if err := d.Decode(p, batch); err != nil {
				t.Fatal(err)
			}
			p.Data = dp
			allocs := testing.AllocsPerRun(200, func() {
				batch.Reset()
				if err := d.Decode(p, batch); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Decode() allocates %.1f times per %d-record packet, want 0", allocs, benchRecords)
			}
		})
	}
}

// BenchmarkGoflow2DecodeV9 measures the decoder we replace on the same
// packet (its decode step only, without producing flow messages).
func BenchmarkGoflow2DecodeV9(b *testing.B) {
	tp, dp := benchV9Packets(benchRecords)
	ts := gfnetflow.CreateTemplateSystem()
	var p9 gfnetflow.NFv9Packet
	var px gfnetflow.IPFIXPacket
	if err := gfnetflow.DecodeMessageVersion(bytes.NewBuffer(tp), ts, &p9, &px); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p9 = gfnetflow.NFv9Packet{}
		if err := gfnetflow.DecodeMessageVersion(bytes.NewBuffer(dp), ts, &p9, &px); err != nil {
			b.Fatal(err)
		}
		n += len(p9.FlowSets[0].(gfnetflow.DataFlowSet).Records)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}

// benchFlood measures what a template flood costs once the tables are full
// at the default limits: every datagram then evicts. pkt(i) is the i-th
// flood datagram and carries perPkt templates; the first fill datagrams
// fill the tables, the next 4096 are replayed in the timed loop.
func benchFlood(b *testing.B, perPkt, fill int, pkt func(i int) []byte) {
	d, _ := newTestDecoder(b, Default())
	p := &collector.Packet{Src: netip.MustParseAddrPort("198.51.100.66:2055"), Received: testReceived}
	batch := &event.Batch{}
	for i := range fill {
		p.Data = pkt(i)
		d.Decode(p, batch)
	}
	loop := make([][]byte, 4096)
	for i := range loop {
		loop[i] = pkt(fill + i)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p.Data = loop[n/perPkt%len(loop)]
		batch.Reset()
		d.Decode(p, batch)
		n += perPkt
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "templates/s")
}

// BenchmarkFloodSourceIDs: 10 templates from a new observation domain per
// datagram (exporter and total limits evict).
func BenchmarkFloodSourceIDs(b *testing.B) {
	var recs [][]byte
	for j := range 10 {
		recs = append(recs, tmpl(uint16(256+j), benchIPFIXFields...))
	}
	body := set(2, recs...)
	// 11,000 domains: past max_exporters (10,000) and max_total (100,000).
	benchFlood(b, 10, 11000, func(i int) []byte { return ipfixPacket(ipfixHeader{secs: testSecs, domain: uint32(i)}, body) })
}

// BenchmarkFloodTemplateIDs: 100 new template IDs per datagram from one
// exporter (its per-exporter table evicts).
func BenchmarkFloodTemplateIDs(b *testing.B) {
	benchFlood(b, 100, 20, func(i int) []byte { // 2,000 IDs: past max_per_exporter (1,000)
		var recs [][]byte
		for j := range 100 {
			recs = append(recs, tmpl(uint16(256+(i*100+j)%65000), benchIPFIXFields...))
		}
		return ipfixPacket(ipfixHeader{secs: testSecs, domain: 1}, set(2, recs...))
	})
}
