package syslog

import (
	"testing"

	gosyslog "github.com/leodido/go-syslog/v4"
)

var benchKinds = []string{"meraki", "iptables", "f5asm", "rfc3164", "rfc5424", "mix"}

// benchGroups splits testdata/mix_sample.log by vendor format; "mix" is
// all of it, in file order.
func benchGroups(b *testing.B) map[string][][]byte {
	lines := sampleLines(b)
	g := map[string][][]byte{"mix": lines}
	for _, l := range lines {
		k := sampleKind(l)
		g[k] = append(g[k], l)
	}
	g["cisco_ios"] = [][]byte{
		[]byte("<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by vty0 (10.0.0.1)"),
		[]byte("<189>237: 000485: router1: *Jan  8 19:46:03.295: %LINEPROTO-5-UPDOWN: Line protocol on Interface Loopback100, changed state to up"),
		[]byte("<190>46: Jan 12 2026 10:00:00.123 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.0.0.1(1234) -> 10.0.0.2(22), 1 packet"),
	}
	return g
}

func benchLines(b *testing.B, lines [][]byte, parse func([]byte)) {
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		parse(lines[n%len(lines)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkParse is the header parse alone, per vendor format, with the
// system clock for year guessing as in production. cisco_ios is the fast
// path's Cisco IOS reading (counters, sequence numbers, zone words).
func BenchmarkParse(b *testing.B) {
	g := benchGroups(b)
	for _, k := range append(benchKinds, "cisco_ios") {
		b.Run(k, func(b *testing.B) {
			var p Parser
			var h Header
			benchLines(b, g[k], func(l []byte) { p.Parse(l, &h) })
		})
	}
}

// BenchmarkGoSyslog is go-syslog v4 alone (best effort, the machine the
// fallback would pick), for comparison: what the fast path saves. Meraki
// lines fail at the timestamp.
func BenchmarkGoSyslog(b *testing.B) {
	g := benchGroups(b)
	for _, k := range benchKinds {
		b.Run(k, func(b *testing.B) {
			benchLines(b, g[k], func(l []byte) {
				pool, _ := pickMachine(l)
				m := pool.Get().(gosyslog.Machine)
				m.Parse(l)
				pool.Put(m)
			})
		})
	}
}
