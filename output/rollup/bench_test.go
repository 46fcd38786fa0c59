package rollup

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/cputime"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

// BenchmarkStage is the rollup stage's cost per event (what the console
// adds to sluice's path): the softflowd flows and the vendor syslog mix,
// encoded as in sluice run, all in one open minute. "exact" feeds every
// event to the top-K tables (console.exact_rate 0, or a rate below it);
// "sampled" is the default exact_rate at the benchmark's rate (far above
// it), where about 2,000 events a second do. "dns" is the DNS test data
// of every source (resolver-log lines count in syslog and dns, so their
// events are folded twice); "dnscap" only its captured transactions
// (KindDNS), what the dns kind costs alone.
//
// "run" is what sluice run sees at saturation: one event in 100 feeds the
// top-K tables (150-250 k lines or 300 k flows a second against the
// default exact rate of 2000; the sampled cases above sample far fewer,
// the benchmark's own rate being millions a second), and the caches hold
// what the rest of the path left there: between two batches 4 MB are
// walked and the batch is encoded again, outside the measured CPU time
// (the thread's, around Process only).
func BenchmarkStage(b *testing.B) {
	dns := func(tb testing.TB) *event.Batch { return dnsBatch(tb, 0, 1) }
	dnscap := func(tb testing.TB) *event.Batch {
		bt := dnsBatch(tb, 0, 1)
		for i := bt.Len() - 1; i >= 0; i-- {
			if bt.Events[i].Kind != event.KindDNS {
				bt.Drop(i)
			}
		}
		return bt
	}
	for _, c := range []struct {
		name      string
		batch     func(testing.TB) *event.Batch
		exactRate int
	}{{"flows/exact", flowBatch, 0}, {"syslog/exact", syslogBatch, 0}, {"dns/exact", dns, 0}, {"dnscap/exact", dnscap, 0},
		{"flows/sampled", flowBatch, Default().ExactRate}, {"syslog/sampled", syslogBatch, Default().ExactRate},
		{"dns/sampled", dns, Default().ExactRate}, {"dnscap/sampled", dnscap, Default().ExactRate},
		{"flows/run", flowBatch, runRatio}, {"syslog/run", syslogBatch, runRatio}, {"dns/run", dns, runRatio}} {
		if c.exactRate == runRatio {
			b.Run(c.name, func(b *testing.B) { benchStageRun(b, c.batch) })
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			bt := c.batch(b)
			for i := range bt.All() {
				bt.Events[i].Timestamp = base.Add(time.Duration(i%50) * time.Second)
			}
			bt.EncodeJSON()
			bt.EncodeJSON() // the syslog layout is kept from the second sighting on
			s := newTestStore(b, b.TempDir(), base.Add(time.Minute))
			s.cfg.ExactRate = c.exactRate
			ctx := context.Background()
			st := s.Stage()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Process()
			for range b.N {
				if err := st.Process(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			// The machine is shared: CPU time says more than wall time.
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N*bt.Len()), "cpu-ns/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bt.Len()), "ns/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// runRatio marks the "run" cases of BenchmarkStage: the sampling ratio
// they fix.
const runRatio = -100

// benchStageRun is BenchmarkStage's "run" case: a fixed sampling ratio of
// 100 and cold caches (see BenchmarkStage).
func benchStageRun(b *testing.B, batch func(testing.TB) *event.Batch) {
	bt := batch(b)
	for i := range bt.All() {
		bt.Events[i].Timestamp = base.Add(time.Duration(i%50) * time.Second)
	}
	bt.EncodeJSON()
	bt.EncodeJSON()
	s := newTestStore(b, b.TempDir(), base.Add(time.Minute))
	s.cfg.ExactRate = Default().ExactRate
	s.fixedRatio = -runRatio
	ctx := context.Background()
	st := s.Stage()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	evict := make([]byte, 4<<20)
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for i := 0; i < len(evict); i += 64 {
			evict[i]++
		}
		bt.EncodeJSON()
		b.StartTimer()
		t0 := cputime.Thread()
		if err := st.Process(ctx, bt); err != nil {
			b.Fatal(err)
		}
		cpu += cputime.Thread() - t0
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*bt.Len()), "cpu-ns/event")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bt.Len()), "ns/event")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkEncodeReference is the encoder's cost per event on the same
// batches, in the same run: a yardstick for BenchmarkStage on a shared
// machine (the encoder is one part of sluice's path).
func BenchmarkEncodeReference(b *testing.B) {
	for _, c := range []struct {
		name  string
		batch func(testing.TB) *event.Batch
	}{{"flows", flowBatch}, {"syslog", syslogBatch}} {
		b.Run(c.name, func(b *testing.B) {
			bt := c.batch(b)
			b.ResetTimer()
			cpu0 := cputime.Process()
			for range b.N {
				bt.EncodeJSON()
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N*bt.Len()), "cpu-ns/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkMemoryDistinctSources is the heap the rollups hold after one
// hour with 1,000,000 distinct source addresses (and as many destination
// addresses and ports), minutes closed as they end: top-K, not all keys.
func BenchmarkMemoryDistinctSources(b *testing.B) {
	const sources = 1_000_000
	for range b.N {
		b.StopTimer()
		now := base
		cfg := Default()
		cfg.Dir = b.TempDir()
		cfg.Now = func() time.Time { return now }
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := New(cfg, nil, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		bt := event.NewBatch()
		perMinute := sources / 60
		for i := range sources {
			e := bt.Add()
			e.Kind = event.KindFlow
			e.Timestamp = base.Add(time.Duration(i/perMinute) * time.Minute)
			e.Src.IP = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			e.Dst.IP = netip.AddrFrom4([4]byte{172, byte(i >> 16), byte(i >> 8), byte(i)})
			e.Src.Port, e.Dst.Port = uint16(i), uint16(i*7)
			e.Flow.Protocol, e.Flow.HasProtocol = 6, true
			e.Flow.Bytes, e.Flow.Packets = uint64(100+i%1000), 1
			if bt.Len() == 256 {
				now = e.Timestamp
				if err := s.Stage().Process(context.Background(), bt); err != nil {
					b.Fatal(err)
				}
				bt.Reset()
				s.Tick(now, false)
			}
		}
		now = base.Add(time.Hour)
		s.Tick(now, false)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "heap-bytes")
		runtime.KeepAlive(s)
		bt.Release()
		b.StartTimer()
	}
}

// syntheticMinute is a minute block shaped like 10k flows/s from many
// hosts: five direction segments, every dimension's top-K full and
// overflowed.
func syntheticMinute(p *kindPlan, start time.Time, seed int) *block {
	bl := &block{kind: kindFlows, res: resMinute, start: start}
	for si, dir := range []string{"inbound", "outbound", "internal", "external", ""} {
		seg := segment{key: segKey{action: "network_flow", direction: dir, dataset: "sluice.flow"}}
		seg.m = [numMetrics]uint64{uint64(120_000_000 + seed), 150_000, 120_000}
		for _, dp := range p.dims {
			sm := summary{field: dp.field, overflow: true, min: 1000}
			for k := range dp.k {
				key := strconv.Itoa(k)
				vk := uint8(query.KindNumber)
				if dp.field == "source.ip" || dp.field == "destination.ip" || dp.field == "observer.ip" {
					key = netip.AddrFrom4([4]byte{10, byte(si), byte((seed + k) >> 8), byte(seed + k)}).String()
					vk = uint8(query.KindIP)
				}
				e := entry{key: key, vk: vk, m: [numMetrics]uint64{uint64(1_000_000 - k*1000), uint64(1000 - k), uint64(900 - k)}, err: 1000}
				if dp.labels[lCountry].Name != "" {
					e.labels = [numLabels]string{"DE", "3320", ""}
				}
				sm.ents = append(sm.ents, e)
			}
			seg.dims = append(seg.dims, sm)
		}
		bl.segs = append(bl.segs, seg)
	}
	return bl
}

// BenchmarkQuery24h answers Series (auto step: 5 minutes, split by
// destination address) and Top (source addresses) over 24 h of minute
// blocks like those of 10k flows/s; blocks older than 2 h are read from
// their files, as in a running sluice.
func BenchmarkQuery24h(b *testing.B) {
	end := base.Add(24 * time.Hour)
	s := newTestStore(b, b.TempDir(), end)
	p := s.plans[0]
	for m := range 24 * 60 {
		s.write(syntheticMinute(p, base.Add(time.Duration(m)*time.Minute), m))
	}
	// Closed hours have their hour blocks (Tick does this in sluice run).
	s.rollHours(end)
	s.Retain(end)
	b.ReportMetric(s.diskBytes()/1440, "bytes/minute-block")
	ctx := context.Background()
	q := console.Query{Kind: console.KindFlows, From: base, To: end}
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"series", func() error {
			r, err := s.Series(ctx, console.SeriesRequest{Query: q, Metric: console.MetricBytes, By: "destination.ip"})
			if err == nil && len(r.Total) != 288 {
				err = fmt.Errorf("%d buckets", len(r.Total))
			}
			return err
		}},
		{"series-total", func() error {
			_, err := s.Series(ctx, console.SeriesRequest{Query: q, Metric: console.MetricBytes})
			return err
		}},
		{"top", func() error {
			r, err := s.Top(ctx, console.TopRequest{Query: q, Metric: console.MetricBytes, Dim: "source.ip", Limit: 10})
			if err == nil && len(r.Rows) != 10 {
				err = fmt.Errorf("%d rows", len(r.Rows))
			}
			return err
		}},
		{"top-filtered", func() error {
			qq := q
			qq.Filter = "network.direction:inbound AND NOT destination.port:(80 OR 443)"
			_, err := s.Top(ctx, console.TopRequest{Query: qq, Metric: console.MetricBytes, Dim: "destination.port", Limit: 10})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cputime.Process()
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
			b.ReportMetric(float64((cputime.Process()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/query")
		})
	}
}
