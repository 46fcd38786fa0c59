package netflow

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// fuzzDecode decodes data with a fresh decoder that already knows the
// benchmark templates, twice (the second time late enough to expire held
// sets), and checks the property: no panic, no hang, only valid events.
func fuzzDecode(t *testing.T, version uint16, data []byte) {
	if len(data) >= 2 {
		data[0], data[1] = byte(version>>8), byte(version)
	}
	cfg := Default()
	cfg.PendingMaxSets = 4
	// Small tables, so that templates in the input evict (per exporter, in
	// total) and the eviction paths are fuzzed too.
	cfg.MaxTemplatesPerExporter = 3
	cfg.MaxTemplates = 4
	d, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort(exporterA)
	b := &event.Batch{}
	switch version {
	case 9:
		tp, _ := benchV9Packets(1)
		d.Decode(&collector.Packet{Data: tp, Src: src, Received: testReceived}, b)
	case 10:
		tp, _ := benchIPFIXPackets(1)
		d.Decode(&collector.Packet{Data: tp, Src: src, Received: testReceived}, b)
	}
	for i := range 2 {
		if i == 1 {
			// A second exporter sends the same datagram, so the
			// total limit evicts across exporters.
			b.Reset()
			d.Decode(&collector.Packet{Data: data, Src: netip.MustParseAddrPort("192.0.2.99:2055"), Received: testReceived}, b)
		}
		b.Reset()
		err := d.Decode(&collector.Packet{Data: data, Src: src, Received: testReceived.Add(time.Duration(i) * 20 * time.Second)}, b)
		for _, r := range collector.Reasons(err) {
			if r == "other" || r == "" || strings.ContainsAny(r, " :") {
				t.Fatalf("Decode() returned an unbounded reason %q: %v", r, err)
			}
		}
		for j, e := range b.All() {
			if e.Kind != event.KindFlow {
				t.Fatalf("event %d: kind %v", j, e.Kind)
			}
			if e.Flow.Version != version || e.Timestamp.IsZero() || e.Created.IsZero() {
				t.Fatalf("event %d: version %d timestamp %v", j, e.Flow.Version, e.Timestamp)
			}
			for _, f := range e.NetFlow {
				if f.Key == "" || f.Type == 0 {
					t.Fatalf("event %d: bad field %+v", j, f)
				}
			}
		}
	}
	d.Close()
}

func addSeeds(f *testing.F, prefix string, pkts ...[]byte) {
	for _, p := range pkts {
		f.Add(p)
	}
	entries, err := testdataFS.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			f.Add(readTestdata(f, e.Name()))
		}
	}
}

func FuzzDecodeV5(f *testing.F) {
	r := v5Rec{src: "10.1.1.1", dst: "10.2.2.2", nextHop: "10.0.0.254", pkts: 5, octets: 500, proto: 6}
	addSeeds(f, "softflowd_v5",
		v5Packet(2, testUptimeMs, testSecs, 0, 0, r, r),
		v5Packet(30, testUptimeMs, testSecs, 0, 1<<14|10, r),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, 5, data) })
}

func FuzzDecodeV9(f *testing.F) {
	tp, dp := benchV9Packets(3)
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 7}
	addSeeds(f, "softflowd_v9",
		tp, dp,
		cat(dp[:20], tp[20:], dp[20:]),
		v9Packet(h, set(1, v9OptTmpl(300, []fieldSpec{fs(1, 4)}, []fieldSpec{fs(48, 1), fs(34, 4)})),
			set(300, cat(u32(0), u8(1), u32(100))), set(0, tmpl(257, fs(1, 4), fs(48, 1))), set(257, cat(u32(10), u8(1)))),
		v9Packet(h, set(0, tmpl(258, fs(27, 16), fs(56, 6), fs(82, 8))), set(258, make([]byte, 30))),
		// H3C/Huawei variable-length fields and zero-length fields.
		v9Packet(h, set(0, tmpl(259, fs(8, 4), fs(96, varLen), fs(10, 0), fs(82, varLen))),
			set(259, cat(ip("10.0.0.1"), u8(3), []byte("abc"), u8(255), u16(2), []byte("xy")), cat(ip("10.0.0.2"), u8(0), u8(0)))),
		v9Packet(h, set(0, tmpl(260, fs(8, 0), fs(12, 0))), set(260, u32(1))),
		// ICMP: type/code IEs and the packed destination port, zero counters.
		v9Packet(h, set(0, tmpl(261, fs(8, 4), fs(12, 4), fs(4, 1), fs(11, 2), fs(32, 2), fs(139, 2), fs(1, 4), fs(2, 4))),
			set(261, cat(ip("10.0.0.1"), ip("10.0.0.2"), u8(1), u16(0x0303), u16(0), u16(0x8100), u32(0), u32(0)))),
		v9Packet(h, set(1, v9OptTmpl(301, []fieldSpec{fs(1, 0)}, []fieldSpec{fs(48, 1), fs(84, varLen), fs(34, 4)})),
			set(301, cat(u8(1), u8(2), []byte("s1"), u32(100)))),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, 9, data) })
}

func FuzzDecodeIPFIX(f *testing.F) {
	tp, dp := benchIPFIXPackets(3)
	hx := ipfixHeader{secs: testSecs, domain: 7}
	addSeeds(f, "softflowd_ipfix",
		tp, dp,
		ipfixPacket(hx, set(2, tmpl(300, fs(8, 4), fs(96, varLen), fieldSpec{ID: 5, Len: varLen, PEN: 9})),
			set(300, cat(ip("10.0.0.1"), u8(3), []byte("abc"), u8(255), u16(2), []byte("xy")))),
		ipfixPacket(hx, set(3, ipfixOptTmpl(301, 1, fs(302, 8), fs(305, 4), fs(306, 4), fs(160, 8))),
			set(301, cat(u64(1), u32(1), u32(99), u64(1)))),
		ipfixPacket(hx, set(2, tmpl(256)), set(2, tmpl(2)), set(3, tmpl(3))),
		ipfixPacket(hx, set(3, ipfixOptTmpl(305, 1, fs(302, 4), fs(304, 2), fs(305, 4), fs(306, 4), fs(309, 4), fs(310, 4), fs(311, 8))),
			set(305, cat(u32(1), u16(3), u32(1), u32(9), u32(1), u32(100), u64(0x3f50624dd2f1a9fc))),
			set(2, tmpl(306, fs(8, 4), fs(302, 4), fs(304, 1), fs(311, 4), fs(1, 4))),
			set(306, cat(ip("10.0.0.1"), u32(1), u8(4), u32(0x3c23d70a), u32(100)))),
		ipfixPacket(hx, set(2, tmpl(304, fs(8, 4), fs(27, 16), fs(12, 4), fs(28, 16), fs(15, 4), fs(62, 16), fs(130, 4), fs(131, 16))),
			set(304, cat(u32(0), ip("2001:db8::1"), ip("10.0.0.2"), make([]byte, 16), u32(0), make([]byte, 16), ip("192.0.2.1"), ip("2001:db8::9")))),
		ipfixPacket(hx, set(2, tmpl(303, fs(8, 4), fs(1, 0), fs(12, 4))), set(303, cat(ip("10.0.0.1"), ip("10.0.0.2")))),
		ipfixPacket(hx, set(2, tmpl(302, fs(154, 8), fs(157, 8), fs(158, 4), fs(161, 4), fs(311, 8), fs(276, 1))),
			set(302, make([]byte, 33))),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, 10, data) })
}
