package dnscheck

import (
	"context"
	"net/netip"
	"testing"

	"github.com/sluicelab/sluice/internal/cputime"
	"github.com/sluicelab/sluice/internal/event"
)

// BenchmarkFlows is what the stage costs on events that are not DNS: a
// batch of 32 flows with dns.allowed_resolvers set (port check) .
func BenchmarkFlows(b *testing.B) {
	cfg := Default()
	cfg.AllowedResolvers = []netip.Prefix{netip.MustParsePrefix("192.168.1.53/32")}
	s := newStage(b, cfg)
	bt := event.NewBatch()
	for i := range 32 {
		e := bt.Add()
		e.Kind = event.KindFlow
		e.Src.IP, e.Dst.IP = netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("203.0.113.5")
		e.Dst.Port = uint16(443 + i%2*(53-443))
		e.Flow.Protocol, e.Flow.HasProtocol = 6, true
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range bt.All() {
			bt.All()[i].Flow.UnsanctionedDNS = false
		}
		_ = s.Process(context.Background(), bt)
	}
	b.ReportMetric(float64(b.N)*32/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/32, "ns/event")
}

// BenchmarkSyslogNonDNS: syslog events with parsed fields but no
// dns.question.name (one scan of the fields).
func BenchmarkSyslogNonDNS(b *testing.B) {
	s := newStage(b, Default())
	bt := event.NewBatch()
	for range 32 {
		e := bt.Add()
		e.Kind = event.KindSyslog
		for _, k := range []string{"event.action", "rule.name", "network.transport", "observer.ingress.interface.name", "url.path", "user.name"} {
			e.AddParsed(event.Field{Key: k, Type: event.FieldString, S: "x"})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Process(context.Background(), bt)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/32, "ns/event")
}

// BenchmarkDNS is the checks on DNS events (a mix of popular, DGA-like
// and tunnel-like names from 64 clients) with every check on: a watch
// list, blocklists, windows and the seen set.
func BenchmarkDNS(b *testing.B) {
	cfg := Default()
	cfg.AllowedResolvers = []netip.Prefix{netip.MustParsePrefix("192.168.1.53/32")}
	cfg.WatchDomains = []string{"paypal.com", "microsoft.com", "google.com", "example-bank.com"}
	s := newStage(b, cfg)
	names := append(append(readPopular(b), dgaNames(100)...), tunnelNames(100)...)
	// The events are built once (16 batches of 32); each round cuts their
	// fields back to what the parser gave, so only the checks are timed.
	const n = 32
	var batches []*event.Batch
	var orig [][]int
	k := 0
	for range 16 {
		bt := event.NewBatch()
		var o []int
		for i := range n {
			d := dnsEvent{name: names[k%len(names)], qtype: "A", rcode: "NOERROR", src: "192.168.1.10", dst: "192.168.1.53", ips: []string{"203.0.113.5"}}
			e := d.add(bt)
			e.Src.IP = netip.AddrFrom4([4]byte{192, 168, 1, byte(i % 64)})
			e.Fields = append(make([]event.Field, 0, 32), e.Fields...)
			o = append(o, len(e.Fields))
			k++
		}
		batches = append(batches, bt)
		orig = append(orig, o)
	}
	j := 0
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		bt := batches[j%len(batches)]
		for i := range bt.All() {
			e := &bt.All()[i]
			e.Fields = e.Fields[:orig[j%len(batches)][i]]
		}
		j++
		_ = s.Process(context.Background(), bt)
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
	// CPU time per event: steadier than wall time on a shared machine.
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N)/n, "cpu-ns/event")
}
