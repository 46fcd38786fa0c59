package geo

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/geoip"
	"github.com/sluicelab/sluice/geoip/geoiptest"
	"github.com/sluicelab/sluice/internal/event"
)

// flowBatch fills a batch of n flows mixed like the bench harness's
// flowgen: 60% private <-> public, 25% public <-> public, 15% private <->
// private; public addresses from pool.
func flowBatch(n int, pool []netip.Addr, r *rand.Rand) *event.Batch {
	b := &event.Batch{}
	priv := func() netip.Addr {
		return netip.AddrFrom4([4]byte{192, 168, byte(r.IntN(256)), byte(1 + r.IntN(254))})
	}
	pub := func() netip.Addr { return pool[r.IntN(len(pool))] }
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for range n {
		e := b.Add()
		e.Kind, e.Timestamp, e.Created, e.Flow.Start, e.Flow.End = event.KindFlow, now, now, now.Add(-time.Second), now
		switch x := r.IntN(100); {
		case x < 60:
			e.Src.IP, e.Dst.IP = priv(), pub()
		case x < 85:
			e.Src.IP, e.Dst.IP = pub(), pub()
		default:
			e.Src.IP, e.Dst.IP = priv(), priv()
		}
		if r.IntN(2) == 0 {
			e.Src, e.Dst = e.Dst, e.Src
		}
		e.Src.Port, e.Dst.Port = uint16(32768+r.IntN(20000)), 443
		e.Flow.Protocol, e.Flow.HasProtocol = 6, true
		e.Flow.Bytes, e.Flow.Packets = uint64(1000+r.IntN(100000)), uint64(1+r.IntN(100))
		e.Observer = netip.MustParseAddr("192.0.2.1")
		e.AddUint("in_bytes", e.Flow.Bytes)
		e.AddUint("in_pkts", e.Flow.Packets)
		e.AddUint("protocol_identifier", 6)
		e.AddIP("source_ipv4_address", e.Src.IP)
		e.AddIP("destination_ipv4_address", e.Dst.IP)
	}
	return b
}

func benchStage(b *testing.B, cacheSize, poolSize int) (*Stage, []netip.Addr) {
	city, asn, addrs := geoiptest.Synthetic(b, b.TempDir(), 20000, 1)
	c := geoip.Default()
	c.CityDB, c.ASNDB, c.CacheSize = city, asn, cacheSize
	reg := prometheus.NewRegistry()
	db, err := geoip.New(c, nil, reg)
	if err != nil || !db.Loaded() {
		b.Fatalf("geoip.New: %v", err)
	}
	hn, _ := ParseHomeNetworks(DefaultHomeNetworks)
	s, err := New(Config{HomeNetworks: hn}, db, nil, reg)
	if err != nil {
		b.Fatal(err)
	}
	return s, addrs[:poolSize]
}

// clearEnrichment undoes what the stage set, so each round does the work.
func clearEnrichment(bt *event.Batch) {
	evs := bt.All()
	for i := range evs {
		e := &evs[i]
		e.Src.Geo, e.Dst.Geo, e.Src.Locality, e.Dst.Locality, e.Direction, e.Tags = nil, nil, 0, 0, 0, 0
	}
}

// BenchmarkStageFlows: the stage alone on 512-flow batches, addresses
// from a pool that fits the cache (the harness's 4 exporters reuse about
// 27,000 public addresses).
func BenchmarkStageFlows(b *testing.B) {
	s, pool := benchStage(b, 65536, 20000)
	bt := flowBatch(512, pool, rand.New(rand.NewPCG(1, 2)))
	ctx := context.Background()
	_ = s.Process(ctx, bt) // warm the cache
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		clearEnrichment(bt)
		_ = s.Process(ctx, bt)
		n += bt.Len()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEncodeGeo: stage + ECS encoding of the same flows with the
// geo stage off and on (cached, and with every address a cache miss), in
// one run: the cost of enrichment relative to encoding, the most expensive
// step after decoding.
func BenchmarkEncodeGeo(b *testing.B) {
	for _, tc := range []struct {
		name      string
		geo       bool
		cacheSize int
	}{{"off", false, 0}, {"on", true, 65536}, {"on_uncached", true, 0}} {
		b.Run(tc.name, func(b *testing.B) {
			s, pool := benchStage(b, tc.cacheSize, 20000)
			bt := flowBatch(512, pool, rand.New(rand.NewPCG(1, 2)))
			ctx := context.Background()
			if tc.geo {
				_ = s.Process(ctx, bt)
			}
			b.ReportAllocs()
			n, size := 0, 0
			for b.Loop() {
				clearEnrichment(bt)
				if tc.geo {
					_ = s.Process(ctx, bt)
				}
				bt.EncodeJSON()
				js, _ := bt.JSON()
				size += len(js)
				n += bt.Len()
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(size)/float64(n), "bytes/event")
		})
	}
}
