package netflow

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// A set with an unknown template must not cost the packet's other sets, and
// it is decoded once its template arrives (goflow2 v2.2.6 drops it).
func TestPendingThenTemplate(t *testing.T) {
	d, reg := newTestDecoder(t, Default())
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 1}
	known := v9Packet(h, set(0, tmpl(300, fs(8, 4), fs(1, 4))))
	decodeOK(t, d, exporterA, known)
	// Packet: known set, unknown set (template 256), known set.
	rec := benchV9Record(5)
	pkt := v9Packet(h, set(300, cat(ip("10.0.0.9"), u32(1))), set(256, rec, rec), set(300, cat(ip("10.0.0.9"), u32(2))))
	evs := decodeOK(t, d, exporterA, pkt)
	if len(evs) != 2 || evs[1].Src.Bytes != 2 {
		t.Fatalf("Decode() = %d events, want the 2 decodable ones", len(evs))
	}
	if got := counter(t, reg, "sluice_netflow_pending_sets"); got != 1 {
		t.Fatalf("pending_sets = %v, want 1", got)
	}
	// The template arrives later, with another header (later export time):
	// the held records keep their own header context.
	h2 := h
	h2.secs += 3
	h2.uptimeMs += 3_000
	evs, err := decodeAt(d, exporterA, v9Packet(h2, set(0, tmpl(256, benchV9Fields...))), testReceived.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("Decode(template) = %d events, want the 2 held records", len(evs))
	}
	if want := testExport.Add(-time.Second); !evs[0].Timestamp.Equal(want) || !evs[0].Created.Equal(testReceived) {
		t.Errorf("held record times: ts=%v created=%v, want ts=%v created=%v", evs[0].Timestamp, evs[0].Created, want, testReceived)
	}
	if evs[0].Observer != netip.MustParseAddr("192.0.2.1") || evs[0].Src.Port != 1029 {
		t.Errorf("held record = %+v", evs[0])
	}
	if got := counter(t, reg, "sluice_netflow_pending_sets"); got != 0 {
		t.Fatalf("pending_sets = %v, want 0", got)
	}
	// Data before template in the same packet.
	pkt = v9Packet(h, set(257, cat(ip("10.0.0.7"))), set(0, tmpl(257, fs(8, 4))))
	if evs := decodeOK(t, d, exporterA, pkt); len(evs) != 1 || evs[0].Src.IP != netip.MustParseAddr("10.0.0.7") {
		t.Fatalf("data before template in one packet: %+v", evs)
	}
}

func TestPendingExpiry(t *testing.T) {
	d, reg := newTestDecoder(t, Default())
	_, dp := benchV9Packets(2)
	if evs, err := decodeAt(d, exporterA, dp, testReceived); err != nil || len(evs) != 0 {
		t.Fatalf("Decode() = %d, %v", len(evs), err)
	}
	// Before the max age: nothing dropped.
	if _, err := decodeAt(d, "192.0.2.9:1", dp[:2], testReceived.Add(5*time.Second)); len(collector.Reasons(err)) != 1 {
		t.Fatalf("early: %v", err)
	}
	// Another exporter's packet after the max age sweeps it.
	tp2, _ := benchIPFIXPackets(1)
	_, err := decodeAt(d, "192.0.2.9:1", tp2, testReceived.Add(11*time.Second))
	wantReasons(t, err, "template_unknown")
	var de *collector.DecodeError
	if !errors.As(err, &de) || de.Dropped != 1 || !errors.Is(err, ErrTemplateNotFound) {
		t.Fatalf("err = %#v", err)
	}
	if got := counter(t, reg, "sluice_netflow_pending_dropped_total", "reason", "expired"); got != 1 {
		t.Errorf("pending_dropped_total{expired} = %v", got)
	}
	if got := counter(t, reg, "sluice_netflow_pending_sets"); got != 0 {
		t.Errorf("pending_sets = %v", got)
	}
	// The template now arrives: nothing left to decode.
	tp, _ := benchV9Packets(1)
	if evs := decodeOK(t, d, exporterA, tp); len(evs) != 0 {
		t.Errorf("after expiry: %d events", len(evs))
	}
}

func TestPendingOverflowAndShutdown(t *testing.T) {
	cfg := Default()
	cfg.PendingMaxSets = 2
	d, reg := newTestDecoder(t, cfg)
	_, dp := benchV9Packets(1)
	for i := range 2 {
		if _, err := decodeAt(d, exporterA, dp, testReceived); err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
	}
	_, err := decodeAt(d, exporterA, dp, testReceived)
	wantReasons(t, err, "template_unknown")
	if got := counter(t, reg, "sluice_netflow_pending_dropped_total", "reason", "overflow"); got != 1 {
		t.Errorf("overflow = %v", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, reg, "sluice_netflow_pending_dropped_total", "reason", "shutdown"); got != 2 {
		t.Errorf("shutdown = %v", got)
	}
	if got := counter(t, reg, "sluice_netflow_pending_sets"); got != 0 {
		t.Errorf("pending_sets = %v", got)
	}

	cfg.PendingMaxSets = 0
	d0, _ := newTestDecoder(t, cfg)
	_, err = decodeAt(d0, exporterA, dp, testReceived)
	wantReasons(t, err, "template_unknown")
}

// RFC 7011 §6.2 reduced-size encoding: any integer in fewer bytes.
func TestReducedSizeEncoding(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 8} {
		d, _ := newTestDecoder(t, Default())
		v := uint64(200)
		if n >= 2 {
			v = 1<<(8*n-1) + 77
		}
		h := ipfixHeader{secs: testSecs}
		pkt := ipfixPacket(h,
			set(2, tmpl(256, fs(1, uint16(n)), fs(2, uint16(n)), fs(10, uint16(min(n, 4))), fs(7, uint16(min(n, 2))))),
			set(256, cat(un(v, n), un(3, n), un(9, min(n, 4)), un(80, min(n, 2)))))
		evs := decodeOK(t, d, exporterA, pkt)
		if len(evs) != 1 {
			t.Fatalf("n=%d: %d events", n, len(evs))
		}
		e := &evs[0]
		wantUint(t, e, "in_bytes", v)
		wantUint(t, e, "ingress_interface", 9)
		if e.Flow.Bytes != v || e.Src.Packets != 3 || e.Src.Port != 80 {
			t.Errorf("n=%d: flow %+v src %+v", n, e.Flow, e.Src)
		}
		// Options records use reduced size too: sampling interval in n bytes.
		d.Decode(&collector.Packet{Data: ipfixPacket(h, set(3, ipfixOptTmpl(400, 1, fs(149, 4), fs(34, uint16(n)))),
			set(400, cat(u32(0), un(10, n)))), Src: netip.MustParseAddrPort(exporterA), Received: testReceived}, &event.Batch{})
		evs = decodeOK(t, d, exporterA, ipfixPacket(h, set(256, cat(un(v, n), un(3, n), un(9, min(n, 4)), un(80, min(n, 2))))))
		if evs[0].Flow.SamplingRate != 10 || evs[0].Flow.Packets != 30 {
			t.Errorf("n=%d: sampled flow %+v", n, evs[0].Flow)
		}
	}
}

func TestVariableLength(t *testing.T) {
	d, _ := newTestDecoder(t, Default())
	h := ipfixHeader{secs: testSecs}
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	pkt := ipfixPacket(h,
		set(2, tmpl(256, fs(8, 4), fs(96, varLen), fs(7, 2), fs(95, varLen))),
		set(256,
			cat(ip("10.0.0.1"), u8(4), []byte("http"), u16(80), u8(0)),
			cat(ip("10.0.0.2"), u8(255), u16(300), long, u16(81), u8(2), []byte{1, 2}),
			cat(ip("10.0.0.3"), u8(255), u16(500), []byte("short")), // runs past the set: ignored
		))
	evs := decodeOK(t, d, exporterA, pkt)
	if len(evs) != 2 {
		t.Fatalf("Decode() = %d events, want 2", len(evs))
	}
	if f := field(t, &evs[0], "application_name"); f.S != "http" {
		t.Errorf("application_name = %+v", f)
	}
	if f := field(t, &evs[1], "application_name"); f.S != string(long) {
		t.Errorf("long application_name = %d bytes", len(f.S))
	}
	if evs[1].Src.Port != 81 || len(field(t, &evs[1], "application_id").B) != 2 {
		t.Errorf("fields after a long varlen field: %+v", evs[1])
	}
}

// v9 is walked by the packet length: header counts are often wrong.
func TestV9WalkByLength(t *testing.T) {
	tp, _ := benchV9Packets(1)
	rec := benchV9Record(1)
	hdr := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 7}
	for _, tc := range []struct {
		name    string
		pkt     []byte
		want    int
		reasons []string
	}{
		{"count zero", cat(u16(9), u16(0), v9Packet(hdr, set(256, rec, rec))[4:]), 2, nil},
		{"count too high", cat(u16(9), u16(100), v9Packet(hdr, set(256, rec), set(256, rec))[4:]), 2, nil},
		{"count too low", cat(u16(9), u16(1), v9Packet(hdr, set(256, rec), set(256, rec, rec))[4:]), 3, nil},
		{"padding inside set", v9Packet(hdr, set(256, rec, rec, []byte{0, 0})), 2, nil},
		{"incomplete trailing record", v9Packet(hdr, set(256, rec, rec[:20])), 1, nil},
		{"zero padding after last set", append(v9Packet(hdr, set(256, rec)), make([]byte, 7)...), 1, nil},
		{"short tail after last set", append(v9Packet(hdr, set(256, rec)), 1, 2, 3), 1, nil},
		{"garbage after announced records", append(v9Packet(v9Header{count: 1, uptimeMs: testUptimeMs, secs: testSecs, sourceID: 7},
			set(256, rec)), 0xde, 0xad, 0xbe, 0xef, 0, 1), 1, nil},
		{"bogus set length", append(v9Packet(v9Header{count: 5, uptimeMs: testUptimeMs, secs: testSecs, sourceID: 7}, set(256, rec)), 1, 0, 0, 2, 9, 9),
			1, []string{"bad_length"}},
		{"set runs past packet", v9Packet(hdr, set(256, rec, rec))[:20+4+len(rec)+10], 1, []string{"truncated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t, Default())
			decodeOK(t, d, exporterA, tp)
			evs, err := decodeAt(d, exporterA, tc.pkt, testReceived)
			if len(evs) != tc.want {
				t.Errorf("Decode() = %d events, want %d", len(evs), tc.want)
			}
			wantReasons(t, err, tc.reasons...)
		})
	}
}

// in/out counters are kept apart (goflow2 v2.2.6 keeps the last one seen).
func TestBidirectionalCounters(t *testing.T) {
	d, _ := newTestDecoder(t, Default())
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs}
	pkt := v9Packet(h, set(0, tmpl(256, fs(8, 4), fs(1, 4), fs(2, 4), fs(23, 4), fs(24, 4))),
		set(256, cat(ip("10.0.0.1"), u32(1000), u32(10), u32(5000), u32(20))))
	evs := decodeOK(t, d, exporterA, pkt)
	e := &evs[0]
	if e.Src.Bytes != 1000 || e.Src.Packets != 10 || e.Dst.Bytes != 5000 || e.Dst.Packets != 20 {
		t.Errorf("endpoints src=%+v dst=%+v", e.Src, e.Dst)
	}
	if e.Flow.Bytes != 6000 || e.Flow.Packets != 30 {
		t.Errorf("network bytes/packets = %d/%d, want 6000/30", e.Flow.Bytes, e.Flow.Packets)
	}
	wantUint(t, e, "out_bytes", 5000)
	wantUint(t, e, "out_pkts", 20)
	// ASA-style initiator/responder octets are used when in/out are absent.
	pkt = v9Packet(h, set(0, tmpl(257, fs(231, 8), fs(232, 8), fs(298, 8), fs(299, 8))),
		set(257, cat(u64(100), u64(200), u64(1), u64(2))))
	evs = decodeOK(t, d, exporterA, pkt)
	if e := &evs[0]; e.Src.Bytes != 100 || e.Dst.Bytes != 200 || e.Flow.Bytes != 300 || e.Flow.Packets != 3 {
		t.Errorf("initiator/responder: src=%+v dst=%+v flow=%+v", e.Src, e.Dst, e.Flow)
	}
}

func TestSampling(t *testing.T) {
	h9 := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 3}
	hx := ipfixHeader{secs: testSecs, domain: 3}
	dataTmpl9 := set(0, tmpl(256, fs(1, 4), fs(2, 4)), tmpl(257, fs(1, 4), fs(2, 4), fs(48, 1)), tmpl(258, fs(1, 4), fs(2, 4), fs(34, 2)))
	dataTmplX := set(2, tmpl(256, fs(1, 4), fs(2, 4)), tmpl(257, fs(1, 4), fs(2, 4), fs(302, 8)), tmpl(258, fs(1, 4), fs(2, 4), fs(48, 2)))
	type flow struct{ rate, bytes uint64 }
	for _, tc := range []struct {
		name    string
		options []byte // packet with options template + data
		data    []byte // packet with data records
		want    []flow
		unknown []bool
	}{
		{
			name: "v9 exporter-wide interval",
			options: v9Packet(h9, dataTmpl9, set(1, v9OptTmpl(300, []fieldSpec{fs(1, 4)}, []fieldSpec{fs(34, 4), fs(35, 1)})),
				set(300, cat(u32(0), u32(100), u8(2)))),
			data: v9Packet(h9, set(256, cat(u32(10), u32(1))), set(258, cat(u32(10), u32(1), u16(7)))),
			want: []flow{{100, 1000}, {7, 70}}, // a record carrying 34 uses its own
		},
		{
			name: "v9 per sampler ID",
			options: v9Packet(h9, dataTmpl9, set(1, v9OptTmpl(300, []fieldSpec{fs(1, 4)}, []fieldSpec{fs(48, 1), fs(49, 1), fs(50, 4)})),
				set(300, cat(u32(0), u8(1), u8(2), u32(64)), cat(u32(0), u8(2), u8(2), u32(1000)))),
			data:    v9Packet(h9, set(257, cat(u32(10), u32(1), u8(1)), cat(u32(10), u32(1), u8(2)), cat(u32(10), u32(1), u8(3)))),
			want:    []flow{{64, 640}, {1000, 10000}, {0, 10}},
			unknown: []bool{false, false, true},
		},
		{
			name: "v9 only sampler used for records without ID",
			options: v9Packet(h9, dataTmpl9, set(1, v9OptTmpl(300, []fieldSpec{fs(1, 4)}, []fieldSpec{fs(48, 1), fs(50, 4)})),
				set(300, cat(u32(0), u8(1), u32(32)))),
			data: v9Packet(h9, set(256, cat(u32(10), u32(1)))),
			want: []flow{{32, 320}},
		},
		{
			name: "ipfix selector with packet interval/space (RFC 5477)",
			options: ipfixPacket(hx, dataTmplX, set(3, ipfixOptTmpl(300, 1, fs(302, 8), fs(304, 1), fs(305, 4), fs(306, 4))),
				set(300, cat(u64(77), u8(1), u32(1), u32(99)))),
			data: ipfixPacket(hx, set(257, cat(u32(10), u32(1), u64(77)))),
			want: []flow{{100, 1000}},
		},
		{
			name: "ipfix selector with size/population",
			options: ipfixPacket(hx, dataTmplX, set(3, ipfixOptTmpl(300, 1, fs(302, 4), fs(309, 4), fs(310, 4))),
				set(300, cat(u32(5), u32(2), u32(2000)))),
			data: ipfixPacket(hx, set(257, cat(u32(10), u32(1), u64(5)))),
			want: []flow{{1000, 10000}},
		},
		{
			name: "ipfix sampler ID with random interval, exporter rate fallback",
			options: ipfixPacket(hx, dataTmplX, set(3, ipfixOptTmpl(300, 1, fs(48, 2), fs(50, 4)), ipfixOptTmpl(301, 1, fs(149, 4), fs(34, 4))),
				set(300, cat(u16(9), u32(512))), set(301, cat(u32(3), u32(16)))),
			data: ipfixPacket(hx, set(258, cat(u32(1), u32(1), u16(9)), cat(u32(1), u32(1), u16(10))), set(256, cat(u32(1), u32(1)))),
			want: []flow{{512, 512}, {16, 16}, {16, 16}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t, Default())
			if evs := decodeOK(t, d, exporterA, tc.options); len(evs) != 0 {
				t.Fatalf("options packet produced %d events; options records are not flows", len(evs))
			}
			evs := decodeOK(t, d, exporterA, tc.data)
			if len(evs) != len(tc.want) {
				t.Fatalf("Decode() = %d events, want %d", len(evs), len(tc.want))
			}
			for i, w := range tc.want {
				e := &evs[i]
				if e.Flow.SamplingRate != w.rate || e.Flow.Bytes != w.bytes {
					t.Errorf("record %d: rate %d bytes %d, want %d/%d", i, e.Flow.SamplingRate, e.Flow.Bytes, w.rate, w.bytes)
				}
				raw, _ := e.FieldByKey("in_bytes")
				if raw.U != w.bytes/max(w.rate, 1) {
					t.Errorf("record %d: raw in_bytes %d scaled", i, raw.U)
				}
				wantUnknown := tc.unknown != nil && tc.unknown[i]
				if e.Tags.Has(event.TagSamplingUnknown) != wantUnknown {
					t.Errorf("record %d: tags %b, want sampling-unknown %v", i, e.Tags, wantUnknown)
				}
			}
		})
	}
}

func TestTimes(t *testing.T) {
	ntp := func(tm time.Time) uint64 {
		sec := uint64(tm.Unix() + 2208988800)
		frac := uint64(tm.Nanosecond()) << 32 / 1e9
		return sec<<32 | frac
	}
	start := testExport.Add(-10 * time.Second)
	end := testExport.Add(-2 * time.Second)
	hx := ipfixHeader{secs: testSecs}
	tests := []struct {
		name       string
		pkt        []byte
		start, end time.Time
		ts         time.Time
		tag        event.Tags
	}{
		{
			name: "v9 uptime",
			pkt: v9Packet(v9Header{uptimeMs: testUptimeMs, secs: testSecs}, set(0, tmpl(256, fs(22, 4), fs(21, 4))),
				set(256, cat(u32(testUptimeMs-10000), u32(testUptimeMs-2000)))),
			start: start, end: end, ts: end,
		},
		{
			name: "v9 uptime wrapped between start and export",
			pkt: v9Packet(v9Header{uptimeMs: 5000, secs: testSecs}, set(0, tmpl(256, fs(22, 4), fs(21, 4))),
				set(256, cat(u32(0xffffffff-4999), u32(3000)))),
			start: start, end: end, ts: end,
		},
		{
			name: "v9 last switched a little after the header uptime",
			pkt: v9Packet(v9Header{uptimeMs: testUptimeMs, secs: testSecs}, set(0, tmpl(256, fs(21, 4))),
				set(256, cat(u32(testUptimeMs+500)))),
			end: testExport.Add(500 * time.Millisecond), ts: testExport.Add(500 * time.Millisecond),
		},
		{
			name: "ipfix seconds",
			pkt: ipfixPacket(hx, set(2, tmpl(256, fs(150, 4), fs(151, 4))),
				set(256, cat(u32(uint32(start.Unix())), u32(uint32(end.Unix()))))),
			start: start, end: end, ts: end,
		},
		{
			name: "ipfix microseconds (NTP)",
			pkt: ipfixPacket(hx, set(2, tmpl(256, fs(154, 8), fs(155, 8))),
				set(256, cat(u64(ntp(start.Add(250*time.Millisecond))), u64(ntp(end.Add(500*time.Millisecond)))))),
			start: start.Add(250 * time.Millisecond), end: end.Add(500 * time.Millisecond), ts: end.Add(500 * time.Millisecond),
		},
		{
			name: "ipfix nanoseconds (NTP)",
			pkt: ipfixPacket(hx, set(2, tmpl(256, fs(156, 8), fs(157, 8))),
				set(256, cat(u64(ntp(start)), u64(ntp(end))))),
			start: start, end: end, ts: end,
		},
		{
			name: "ipfix delta microseconds",
			pkt: ipfixPacket(hx, set(2, tmpl(256, fs(158, 4), fs(159, 4))),
				set(256, cat(u32(10_000_000), u32(2_000_000)))),
			start: start, end: end, ts: end,
		},
		{
			name: "ipfix sysuptime with systemInitTime from options",
			pkt: ipfixPacket(hx, set(3, ipfixOptTmpl(300, 1, fs(149, 4), fs(160, 8))),
				set(300, cat(u32(0), u64(uint64(testExport.Add(-time.Hour).UnixMilli())))),
				set(2, tmpl(256, fs(22, 4), fs(21, 4))),
				set(256, cat(u32(testUptimeMs-10000), u32(testUptimeMs-2000)))),
			start: start, end: end, ts: end,
		},
		{
			name: "ipfix start + duration ms",
			pkt: ipfixPacket(hx, set(2, tmpl(256, fs(152, 8), fs(161, 4))),
				set(256, cat(u64(uint64(start.UnixMilli())), u32(8000)))),
			start: start, end: end, ts: end,
		},
		{
			name: "ipfix end + duration us",
			pkt: ipfixPacket(hx, set(2, tmpl(256, fs(153, 8), fs(162, 4))),
				set(256, cat(u64(uint64(end.UnixMilli())), u32(8_000_000)))),
			start: start, end: end, ts: end,
		},
		{
			name: "no record time: export time",
			pkt:  ipfixPacket(hx, set(2, tmpl(256, fs(8, 4))), set(256, ip("10.0.0.1"))),
			ts:   testExport,
		},
		{
			name: "no time at all: receive time",
			pkt:  ipfixPacket(ipfixHeader{}, set(2, tmpl(256, fs(8, 4))), set(256, ip("10.0.0.1"))),
			ts:   testReceived, tag: event.TagTimeFromReceive,
		},
		{
			name: "ipfix sysuptime without systemInitTime: unknown",
			pkt:  ipfixPacket(hx, set(2, tmpl(256, fs(22, 4))), set(256, cat(u32(5)))),
			ts:   testExport,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t, Default())
			evs := decodeOK(t, d, exporterA, tc.pkt)
			if len(evs) != 1 {
				t.Fatalf("Decode() = %d events", len(evs))
			}
			e := &evs[0]
			if !e.Flow.Start.Equal(tc.start) || !e.Flow.End.Equal(tc.end) || !e.Timestamp.Equal(tc.ts) {
				t.Errorf("start=%v end=%v ts=%v; want %v %v %v", e.Flow.Start, e.Flow.End, e.Timestamp, tc.start, tc.end, tc.ts)
			}
			for _, tm := range []time.Time{e.Flow.Start, e.Flow.End, e.Timestamp, e.Created} {
				if !tm.IsZero() && tm.Location() != time.UTC {
					t.Errorf("time %v not in UTC", tm)
				}
			}
			if e.Tags != tc.tag {
				t.Errorf("tags = %b, want %b", e.Tags, tc.tag)
			}
		})
	}
}

func TestTemplateFloodsAndBadTemplates(t *testing.T) {
	// Full tables evict instead of refusing: see flood_test.go.
	hx := ipfixHeader{secs: testSecs}
	for _, tc := range []struct {
		name    string
		pkt     []byte
		reasons []string
		events  int
	}{
		{"zero-length field is skipped", ipfixPacket(hx, set(2, tmpl(256, fs(8, 4), fs(1, 0))), set(256, ip("10.0.0.1"))),
			nil, 1},
		{"only zero-length fields", ipfixPacket(hx, set(2, tmpl(256, fs(8, 0), fs(1, 0))), set(256, ip("10.0.0.1"))),
			[]string{"bad_template"}, 0},
		{"only zero-length fields then good template", ipfixPacket(hx, set(2, tmpl(256, fs(1, 0)), tmpl(257, fs(8, 4))), set(257, ip("10.0.0.1"))),
			[]string{"bad_template"}, 1},
		{"template ID below 256", v9Packet(v9Header{secs: testSecs}, set(0, tmpl(200, fs(8, 4)))), []string{"bad_template"}, 0},
		{"v9 template without fields", v9Packet(v9Header{secs: testSecs}, set(0, tmpl(256))), []string{"bad_template"}, 0},
		{"field count beyond set", ipfixPacket(hx, set(2, cat(u16(256), u16(1000), u16(8), u16(4)))), []string{"bad_template"}, 0},
		{"options scope count zero", ipfixPacket(hx, set(3, ipfixOptTmpl(256, 0, fs(8, 4)))), []string{"bad_template"}, 0},
		{"options scope count too high", ipfixPacket(hx, set(3, ipfixOptTmpl(256, 5, fs(8, 4)))), []string{"bad_template"}, 0},
		{"v9 options lengths not multiple of 4", v9Packet(v9Header{secs: testSecs}, set(1, cat(u16(256), u16(3), u16(4), u16(1), u16(4), u16(34), u16(4)))),
			[]string{"bad_template"}, 0},
		{"set length zero", ipfixPacket(hx, cat(u16(256), u16(0), u32(1))), []string{"bad_length"}, 0},
		{"set length 3", v9Packet(v9Header{secs: testSecs}, cat(u16(256), u16(3), u32(1))), []string{"bad_length"}, 0},
		{"set length beyond packet", ipfixPacket(hx, cat(u16(2), u16(400), tmpl(256, fs(8, 4)))), []string{"truncated"}, 0},
		{"enterprise field cut", ipfixPacket(hx, set(2, cat(u16(256), u16(1), u16(0x8001), u16(4), u16(0)))), []string{"bad_template"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t, Default())
			evs, err := decodeAt(d, exporterA, tc.pkt, testReceived)
			wantReasons(t, err, tc.reasons...)
			if len(evs) != tc.events {
				t.Errorf("Decode() = %d events, want %d", len(evs), tc.events)
			}
		})
	}
	// A one-byte record template with a big data set terminates.
	t.Run("tiny records", func(t *testing.T) {
		d, _ := newTestDecoder(t, Default())
		pkt := ipfixPacket(hx, set(2, tmpl(256, fs(4, 1))), set(256, make([]byte, 1000)))
		evs := decodeOK(t, d, exporterA, pkt)
		if len(evs) != 1000 {
			t.Errorf("Decode() = %d events, want 1000", len(evs))
		}
		// Variable-length only: the least a record takes is one byte.
		pkt = ipfixPacket(hx, set(2, tmpl(257, fs(96, varLen))), set(257, make([]byte, 100)))
		if evs := decodeOK(t, d, exporterA, pkt); len(evs) != 100 {
			t.Errorf("empty varlen records = %d events, want 100", len(evs))
		}
	})
}

func TestSoftflowdCaptures(t *testing.T) {
	type want struct {
		version uint16
		flows   int
		rate    uint64
	}
	for file, w := range map[string]want{
		"softflowd_v5_0.bin":          {5, 6, 0}, // v5 carries no IPv6 flow
		"softflowd_v9_0.bin":          {9, 8, 0}, // 7 flows, the TCP one in both directions
		"softflowd_v9_sampled_0.bin":  {9, 0, 10},
		"softflowd_ipfix_0.bin":       {10, 8, 0},
		"softflowd_ipfix_micro_0.bin": {10, 8, 0},
		"softflowd_ipfix_bidir_0.bin": {10, 7, 0}, // one biflow record per flow
	} {
		t.Run(file, func(t *testing.T) {
			pkt := readTestdata(t, file)
			d, _ := newTestDecoder(t, Default())
			evs := decodeOK(t, d, "127.0.0.1:4000", pkt)
			if w.flows > 0 && len(evs) != w.flows {
				t.Errorf("Decode() = %d flows, want %d", len(evs), w.flows)
			}
			if len(evs) == 0 {
				t.Fatalf("no flows")
			}
			var sawV6, sawTCP, sawReverse bool
			for i := range evs {
				e := &evs[i]
				if e.Kind != event.KindFlow || e.Flow.Version != w.version {
					t.Errorf("event %d: kind %v version %d", i, e.Kind, e.Flow.Version)
				}
				if !e.Src.IP.IsValid() || !e.Dst.IP.IsValid() || e.Flow.Packets == 0 || e.Flow.Bytes == 0 {
					t.Errorf("event %d: %+v", i, e)
				}
				if e.Flow.Start.IsZero() || e.Flow.End.IsZero() || e.Flow.End.Before(e.Flow.Start) {
					t.Errorf("event %d: start %v end %v", i, e.Flow.Start, e.Flow.End)
				}
				if e.Tags.Has(event.TagTimeFromReceive) {
					t.Errorf("event %d: time from receive", i)
				}
				if w.rate != 0 && e.Flow.SamplingRate != w.rate {
					t.Errorf("event %d: sampling rate %d, want %d", i, e.Flow.SamplingRate, w.rate)
				}
				sawV6 = sawV6 || e.Src.IP.Is6()
				sawTCP = sawTCP || e.Flow.Protocol == 6
				sawReverse = sawReverse || e.Dst.Bytes == 5200 && e.Dst.Packets == 5 && e.Flow.Bytes == 1206+5200
			}
			if strings.Contains(file, "bidir") && !sawReverse {
				t.Errorf("RFC 5103 reverse counters not used as destination bytes/packets")
			}
			if w.version != 5 && !sawV6 {
				t.Errorf("no IPv6 flow decoded")
			}
			if !sawTCP {
				t.Errorf("no TCP flow decoded")
			}
		})
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := testdataFS.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(b)
}

// Options data held for its options template is applied when it arrives.
func TestPendingOptionsData(t *testing.T) {
	d, _ := newTestDecoder(t, Default())
	hx := ipfixHeader{secs: testSecs, domain: 2}
	decodeOK(t, d, exporterA, ipfixPacket(hx, set(2, tmpl(256, fs(1, 4), fs(2, 4)))))
	decodeOK(t, d, exporterA, ipfixPacket(hx, set(300, cat(u32(0), u32(20)))))
	if evs := decodeOK(t, d, exporterA, ipfixPacket(hx, set(3, ipfixOptTmpl(300, 1, fs(149, 4), fs(34, 4))))); len(evs) != 0 {
		t.Fatalf("options records became %d events", len(evs))
	}
	evs := decodeOK(t, d, exporterA, ipfixPacket(hx, set(256, cat(u32(100), u32(1)))))
	if len(evs) != 1 || evs[0].Flow.SamplingRate != 20 || evs[0].Flow.Bytes != 2000 {
		t.Fatalf("flow after held options data: %+v", evs)
	}
}
