package netflow

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
)

// Tests of the flow decoder gaps of issue 15, each from packets built here.

// H3C/Huawei NetStream send NetFlow v9 templates with fields of length
// 65535 and encode them as IPFIX variable-length fields (RFC 7011 §7: one
// length byte, or 255 and two length bytes); RFC 3954 does not mention them.
// Before, such a template compiled to a record of more than 64 KiB, so its
// records never fitted a datagram and were dropped without a word.
func TestV9VariableLengthFields(t *testing.T) {
	d, reg := newTestDecoder(t, Default())
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 3}
	long := strings.Repeat("x", 300)
	pkt := v9Packet(h,
		set(0, tmpl(1000, fs(8, 4), fs(96, varLen), fs(12, 4), fs(82, varLen), fs(1, 4), fs(2, 4))),
		set(1000,
			cat(ip("10.0.0.1"), u8(5), []byte("https"), ip("10.0.0.2"), u8(0), u32(1500), u32(3)),
			cat(ip("10.0.0.3"), u8(255), u16(300), []byte(long), ip("10.0.0.4"), u8(4), []byte("eth0"), u32(64), u32(1)),
		),
	)
	evs := decodeOK(t, d, exporterA, pkt)
	if len(evs) != 2 {
		t.Fatalf("Decode() = %d events, want 2", len(evs))
	}
	for i, w := range []struct {
		src, dst, app, ifname string
		bytes                 uint64
	}{
		{"10.0.0.1", "10.0.0.2", "https", "", 1500},
		{"10.0.0.3", "10.0.0.4", long, "eth0", 64},
	} {
		e := &evs[i]
		if e.Src.IP.String() != w.src || e.Dst.IP.String() != w.dst || e.Flow.Bytes != w.bytes {
			t.Errorf("event %d: src %v dst %v bytes %d, want %s %s %d", i, e.Src.IP, e.Dst.IP, e.Flow.Bytes, w.src, w.dst, w.bytes)
		}
		if f := field(t, e, "application_name"); f.S != w.app {
			t.Errorf("event %d: application_name = %q, want %q", i, f.S, w.app)
		}
		if f := field(t, e, "interface_name"); f.S != w.ifname {
			t.Errorf("event %d: interface_name = %q, want %q", i, f.S, w.ifname)
		}
	}
	if got := counter(t, reg, "sluice_netflow_records_total", "version", "9"); got != 2 {
		t.Errorf("sluice_netflow_records_total{version=9} = %v, want 2", got)
	}
	// A record whose length byte runs past the set is not invented.
	pkt = v9Packet(h, set(1000, cat(ip("10.0.0.1"), u8(200), []byte("short"))))
	if evs := decodeOK(t, d, exporterA, pkt); len(evs) != 0 {
		t.Errorf("truncated variable-length record: %d events, want 0", len(evs))
	}
}

// Fields of length 0 occupy no bytes: the record around them is decoded
// and they are not written, in v9 data and options templates and in IPFIX.
func TestZeroLengthFields(t *testing.T) {
	rec := cat(ip("10.0.0.1"), ip("10.0.0.2"), u32(700), u32(7))
	fields := []fieldSpec{fs(8, 4), fs(10, 0), fs(12, 4), fs(1, 4), fs(95, 0), fs(2, 4), fs(14, 0)}
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"v9", v9Packet(v9Header{uptimeMs: testUptimeMs, secs: testSecs}, set(0, tmpl(400, fields...)), set(400, rec, rec))},
		{"ipfix", ipfixPacket(ipfixHeader{secs: testSecs}, set(2, tmpl(400, fields...)), set(400, rec, rec))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, reg := newTestDecoder(t, Default())
			evs := decodeOK(t, d, exporterA, tc.pkt)
			if len(evs) != 2 {
				t.Fatalf("Decode() = %d events, want 2", len(evs))
			}
			for i := range evs {
				e := &evs[i]
				if e.Src.IP.String() != "10.0.0.1" || e.Dst.IP.String() != "10.0.0.2" || e.Flow.Bytes != 700 || e.Flow.Packets != 7 {
					t.Errorf("event %d: %v -> %v bytes %d packets %d", i, e.Src.IP, e.Dst.IP, e.Flow.Bytes, e.Flow.Packets)
				}
				for _, k := range []string{"ingress_interface", "application_id", "egress_interface"} {
					if _, ok := e.FieldByKey(k); ok {
						t.Errorf("event %d: zero-length field %s written", i, k)
					}
				}
				if len(e.NetFlow) != 4 {
					t.Errorf("event %d: %d netflow fields, want 4", i, len(e.NetFlow))
				}
			}
			if got := counter(t, reg, "sluice_netflow_template_changes_total", "action", "refused"); got != 0 {
				t.Errorf("refused templates = %v, want 0", got)
			}
		})
	}
	t.Run("v9 options", func(t *testing.T) {
		d, _ := newTestDecoder(t, Default())
		h := v9Header{uptimeMs: testUptimeMs, secs: testSecs}
		decodeOK(t, d, exporterA, v9Packet(h,
			set(1, v9OptTmpl(401, []fieldSpec{fs(1, 4), fs(2, 0)}, []fieldSpec{fs(48, 1), fs(84, 0), fs(34, 4)})),
			set(401, cat(u32(0), u8(5), u32(50))),
			set(0, tmpl(402, fs(8, 4), fs(1, 4), fs(48, 1)))))
		evs := decodeOK(t, d, exporterA, v9Packet(h, set(402, cat(ip("10.0.0.9"), u32(10), u8(5)))))
		if len(evs) != 1 || evs[0].Flow.SamplingRate != 50 || evs[0].Flow.Bytes != 500 {
			t.Fatalf("flow after options with zero-length fields: %+v", evs)
		}
	})
}

// A template whose records would carry nothing cannot be decoded: it is
// refused, counted and logged, never dropped silently.
func TestUndecodableTemplateCountedAndLogged(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	d, err := newDecoder(Default(), logger, reg, func() time.Time { return testReceived })
	if err != nil {
		t.Fatal(err)
	}
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs}
	evs, err := decodeAt(d, exporterA, v9Packet(h, set(0, tmpl(500, fs(8, 0), fs(12, 0))), set(0, tmpl(501, fs(8, 4)))), testReceived)
	wantReasons(t, err, "bad_template")
	if len(evs) != 0 {
		t.Errorf("Decode() = %d events, want 0", len(evs))
	}
	if got := counter(t, reg, "sluice_netflow_template_changes_total", "action", "refused"); got != 1 {
		t.Errorf("sluice_netflow_template_changes_total{action=refused} = %v, want 1", got)
	}
	if got := counter(t, reg, "sluice_netflow_template_changes_total", "action", "add"); got != 1 {
		t.Errorf("sluice_netflow_template_changes_total{action=add} = %v, want 1 (the good template after it)", got)
	}
	line := logs.String()
	if !strings.Contains(line, "template refused") || !strings.Contains(line, "template 500") || !strings.Contains(line, "exporter=192.0.2.1") {
		t.Errorf("log = %q, want a template refused line naming template 500 and its exporter", line)
	}
	// The good template of the same set works.
	evs = decodeOK(t, d, exporterA, v9Packet(h, set(501, ip("10.1.1.1"))))
	if len(evs) != 1 || evs[0].Src.IP.String() != "10.1.1.1" {
		t.Errorf("data of template 501: %+v", evs)
	}
}

// Some exporters fill every record of a dual-stack template with both
// families, the one the flow is not all zeros. The real address wins in
// source/destination whatever the field order, and the all-zero twin of a
// real address (next hop, exporter, post-NAT, ...) is not written.
func TestDualFamilyRecords(t *testing.T) {
	fields := []fieldSpec{fs(8, 4), fs(27, 16), fs(12, 4), fs(28, 16), fs(15, 4), fs(62, 16),
		fs(130, 4), fs(131, 16), fs(225, 4), fs(281, 16), fs(4, 1), fs(1, 4), fs(2, 4)}
	// The same fields, IPv6 first.
	swapped := []fieldSpec{fs(27, 16), fs(8, 4), fs(28, 16), fs(12, 4), fs(62, 16), fs(15, 4),
		fs(131, 16), fs(130, 4), fs(281, 16), fs(225, 4), fs(4, 1), fs(1, 4), fs(2, 4)}
	z4, z6 := ip("0.0.0.0"), ip("::")
	v6rec := cat(z4, ip("2001:db8::1"), z4, ip("2001:db8::2"), z4, ip("2001:db8::fe"), z4, ip("2001:db8::a"), z4, ip("2001:db8::5"), u8(6), u32(100), u32(1))
	v4rec := cat(ip("10.0.0.1"), z6, ip("10.0.0.2"), z6, ip("10.0.0.254"), z6, ip("192.0.2.1"), z6, ip("198.51.100.5"), z6, u8(6), u32(100), u32(1))
	swap := func(r []byte) []byte { // the record of swapped from one of fields
		return cat(r[4:20], r[0:4], r[24:40], r[20:24], r[44:60], r[40:44], r[64:80], r[60:64], r[84:100], r[80:84], r[100:])
	}
	type want struct {
		src, dst string
		present  []string
		absent   []string
	}
	w6 := want{"2001:db8::1", "2001:db8::2",
		[]string{"source_ipv6_address", "destination_ipv6_address", "ip_next_hop_ipv6_address", "exporter_ipv6_address", "post_nat_source_ipv6_address"},
		[]string{"source_ipv4_address", "destination_ipv4_address", "ip_next_hop_ipv4_address", "exporter_ipv4_address", "post_nat_source_ipv4_address"}}
	w4 := want{"10.0.0.1", "10.0.0.2", w6.absent, w6.present}
	for _, tc := range []struct {
		name   string
		fields []fieldSpec
		rec    []byte
		w      want
	}{
		{"v6 flow, v4 first", fields, v6rec, w6},
		{"v4 flow, v4 first", fields, v4rec, w4},
		{"v6 flow, v6 first", swapped, swap(v6rec), w6},
		{"v4 flow, v6 first", swapped, swap(v4rec), w4},
	} {
		for _, version := range []uint16{9, 10} {
			t.Run(tc.name+"/"+versionName(version), func(t *testing.T) {
				d, _ := newTestDecoder(t, Default())
				var pkt []byte
				if version == 9 {
					pkt = v9Packet(v9Header{uptimeMs: testUptimeMs, secs: testSecs}, set(0, tmpl(600, tc.fields...)), set(600, tc.rec))
				} else {
					pkt = ipfixPacket(ipfixHeader{secs: testSecs}, set(2, tmpl(600, tc.fields...)), set(600, tc.rec))
				}
				evs := decodeOK(t, d, exporterA, pkt)
				if len(evs) != 1 {
					t.Fatalf("Decode() = %d events, want 1", len(evs))
				}
				e := &evs[0]
				if e.Src.IP.String() != tc.w.src || e.Dst.IP.String() != tc.w.dst {
					t.Errorf("source %v destination %v, want %s %s", e.Src.IP, e.Dst.IP, tc.w.src, tc.w.dst)
				}
				for _, k := range tc.w.present {
					if f := field(t, e, k); f.IP.IsUnspecified() {
						t.Errorf("netflow.%s = %v, want the real address", k, f.IP)
					}
				}
				for _, k := range tc.w.absent {
					if f, ok := e.FieldByKey(k); ok {
						t.Errorf("all-zero netflow.%s = %v written next to its real twin", k, f.IP)
					}
				}
				doc := string(e.AppendJSON(nil))
				if strings.Contains(doc, `"0.0.0.0"`) || strings.Contains(doc, `"::"`) {
					t.Errorf("document has an all-zero address: %s", doc)
				}
			})
		}
	}
	// Both families zero: nothing is invented, the fields stay as sent.
	t.Run("both zero", func(t *testing.T) {
		d, _ := newTestDecoder(t, Default())
		rec := cat(z4, z6, z4, z6, z4, z6, z4, z6, z4, z6, u8(6), u32(100), u32(1))
		evs := decodeOK(t, d, exporterA, ipfixPacket(ipfixHeader{secs: testSecs}, set(2, tmpl(600, fields...)), set(600, rec)))
		if len(evs) != 1 || len(evs[0].NetFlow) != len(fields) || !evs[0].Src.IP.IsUnspecified() {
			t.Fatalf("both families zero: %+v", evs)
		}
	})
}

// PSAMP selectors (RFC 5476/5477) report their sampling as the parameters
// of their selectorAlgorithm. When a record carries parameters of several
// algorithms, those of the algorithm it names win; without one, the NetFlow
// v9 interval, then count-based, n-out-of-N and probability parameters.
func TestPSAMPSampling(t *testing.T) {
	// Options template: selectorId scope, then every parameter sluice reads.
	opt := ipfixOptTmpl(700, 1, fs(302, 4), fs(304, 2), fs(305, 4), fs(306, 4), fs(309, 4), fs(310, 4), fs(311, 8), fs(34, 4))
	data := tmpl(701, fs(8, 4), fs(302, 4), fs(1, 4), fs(2, 4))
	type params struct {
		algo             uint16
		interval, space  uint32
		size, population uint32
		probability      float64
		v9Interval       uint32
	}
	for _, tc := range []struct {
		name string
		p    params
		rate uint64
	}{
		{"count-based", params{algo: 1, interval: 1, space: 49}, 50},
		{"n-out-of-N", params{algo: 3, size: 1, population: 200}, 200},
		{"n-out-of-N, 5 of 1000", params{algo: 3, size: 5, population: 1000}, 200},
		{"probabilistic", params{algo: 4, probability: 0.001}, 1000},
		{"n-out-of-N wins over count-based parameters", params{algo: 3, interval: 1, space: 9, size: 1, population: 300}, 300},
		{"count-based wins over n-out-of-N parameters", params{algo: 1, interval: 1, space: 9, size: 1, population: 300}, 10},
		{"count-based wins over the v9 interval", params{algo: 1, interval: 2, space: 198, v9Interval: 7}, 100},
		{"time-based: only the v9 interval", params{algo: 2, interval: 1, space: 9, v9Interval: 7}, 7},
		{"time-based, nothing else: unknown", params{algo: 2, interval: 1, space: 9}, 0},
		{"no algorithm: n-out-of-N alone", params{size: 1, population: 64}, 64},
		{"no algorithm: v9 interval first", params{size: 1, population: 64, v9Interval: 8}, 8},
		{"named algorithm without its parameters: the others", params{algo: 3, interval: 1, space: 19}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t, Default())
			hx := ipfixHeader{secs: testSecs, domain: 9}
			p := tc.p
			decodeOK(t, d, exporterA, ipfixPacket(hx,
				set(3, opt),
				set(700, cat(u32(42), u16(p.algo), u32(p.interval), u32(p.space), u32(p.size), u32(p.population),
					u64(math.Float64bits(p.probability)), u32(p.v9Interval))),
				set(2, data)))
			evs := decodeOK(t, d, exporterA, ipfixPacket(hx, set(701, cat(ip("10.0.0.1"), u32(42), u32(1000), u32(10)))))
			if len(evs) != 1 {
				t.Fatalf("Decode() = %d events, want 1", len(evs))
			}
			e := &evs[0]
			scale := max(tc.rate, 1)
			if e.Flow.SamplingRate != tc.rate || e.Flow.Bytes != 1000*scale || e.Flow.Packets != 10*scale {
				t.Errorf("rate %d bytes %d packets %d, want rate %d bytes %d packets %d",
					e.Flow.SamplingRate, e.Flow.Bytes, e.Flow.Packets, tc.rate, 1000*scale, 10*scale)
			}
			if unknown := e.Tags.Has(event.TagSamplingUnknown); unknown != (tc.rate == 0) {
				t.Errorf("tag _sampling_rate_unknown = %v, want %v", unknown, tc.rate == 0)
			}
			doc := string(e.AppendJSON(nil))
			if wantRate := `"sampling_rate":` + strconv.FormatUint(tc.rate, 10); tc.rate > 1 && !strings.Contains(doc, wantRate) {
				t.Errorf("document lacks %s: %s", wantRate, doc)
			}
		})
	}
	// A data record can carry its selector's parameters itself.
	t.Run("in the data record", func(t *testing.T) {
		d, _ := newTestDecoder(t, Default())
		hx := ipfixHeader{secs: testSecs}
		evs := decodeOK(t, d, exporterA, ipfixPacket(hx,
			set(2, tmpl(702, fs(8, 4), fs(304, 1), fs(309, 2), fs(310, 2), fs(1, 4))),
			set(702, cat(ip("10.0.0.1"), u8(3), u16(1), u16(500), u32(40)))))
		if len(evs) != 1 || evs[0].Flow.SamplingRate != 500 || evs[0].Flow.Bytes != 20000 {
			t.Fatalf("record with its own n-out-of-N parameters: %+v", evs)
		}
	})
}

// Counters the record reports are written even when 0 (network.bytes: 0,
// source.packets: 0, ...); counters it does not report stay out.
func TestZeroCountersWritten(t *testing.T) {
	hv9 := v9Header{uptimeMs: testUptimeMs, secs: testSecs}
	for _, tc := range []struct {
		name    string
		pkt     []byte
		want    []string // substrings of the document
		notWant []string
	}{
		{"v5 zero octets and packets",
			v5Packet(1, testUptimeMs, testSecs, 0, 0, v5Rec{src: "10.0.0.1", dst: "10.0.0.2", nextHop: "0.0.0.0", proto: 17, sport: 53, dport: 53}),
			[]string{`"source":{"ip":"10.0.0.1","port":53,"bytes":0,"packets":0}`, `"network":{"transport":"udp","iana_number":"17","bytes":0,"packets":0,`},
			[]string{`"destination":{"ip":"10.0.0.2","port":53,"bytes"`}},
		{"v9 bidirectional, reverse direction 0",
			v9Packet(hv9, set(0, tmpl(800, fs(8, 4), fs(12, 4), fs(4, 1), fs(1, 4), fs(2, 4), fs(23, 4), fs(24, 4))),
				set(800, cat(ip("10.0.0.1"), ip("10.0.0.2"), u8(6), u32(120), u32(2), u32(0), u32(0)))),
			[]string{`"source":{"ip":"10.0.0.1","port":0,"bytes":120,"packets":2}`, `"destination":{"ip":"10.0.0.2","port":0,"bytes":0,"packets":0}`,
				`"bytes":120,"packets":2,"type":"ipv4"`, `"in_bytes":120`, `"out_bytes":0`},
			nil},
		{"v9 all zero",
			v9Packet(hv9, set(0, tmpl(801, fs(8, 4), fs(12, 4), fs(1, 4), fs(2, 4))), set(801, cat(ip("10.0.0.1"), ip("10.0.0.2"), u32(0), u32(0)))),
			[]string{`"source":{"ip":"10.0.0.1","bytes":0,"packets":0}`, `"network":{"bytes":0,"packets":0,"type":"ipv4"}`},
			[]string{`"destination":{"ip":"10.0.0.2","bytes"`}},
		{"ipfix bytes only",
			ipfixPacket(ipfixHeader{secs: testSecs}, set(2, tmpl(802, fs(8, 4), fs(12, 4), fs(1, 8))), set(802, cat(ip("10.0.0.1"), ip("10.0.0.2"), u64(0)))),
			[]string{`"source":{"ip":"10.0.0.1","bytes":0}`, `"network":{"bytes":0,"type":"ipv4"}`},
			[]string{`"packets"`}},
		{"ipfix biflow, reverse counters 0 (RFC 5103)",
			ipfixPacket(ipfixHeader{secs: testSecs}, set(2, tmpl(803, fs(8, 4), fs(12, 4), fs(1, 8), fs(2, 8),
				fieldSpec{ID: 1, Len: 8, PEN: penReverse}, fieldSpec{ID: 2, Len: 8, PEN: penReverse})),
				set(803, cat(ip("10.0.0.1"), ip("10.0.0.2"), u64(60), u64(1), u64(0), u64(0)))),
			[]string{`"destination":{"ip":"10.0.0.2","bytes":0,"packets":0}`, `"network":{"bytes":60,"packets":1,`},
			nil},
		{"no counters at all",
			ipfixPacket(ipfixHeader{secs: testSecs}, set(2, tmpl(804, fs(8, 4), fs(12, 4))), set(804, cat(ip("10.0.0.1"), ip("10.0.0.2")))),
			nil,
			[]string{`"bytes"`, `"packets"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t, Default())
			evs := decodeOK(t, d, exporterA, tc.pkt)
			if len(evs) != 1 {
				t.Fatalf("Decode() = %d events, want 1", len(evs))
			}
			doc := string(evs[0].AppendJSON(nil))
			for _, w := range tc.want {
				if !strings.Contains(doc, w) {
					t.Errorf("document lacks %s:\n%s", w, doc)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(doc, w) {
					t.Errorf("document has %s:\n%s", w, doc)
				}
			}
		})
	}
}

// ICMP type and code become icmp.type/icmp.code: from icmpTypeCodeIPv4/IPv6
// (IE 32/139) or icmpType/CodeIPv4/IPv6 (IE 176-179), else from the
// destination port where exporters pack type*256+code (v5, many v9). An
// ICMP record with neither gets no icmp fields; other protocols never do.
func TestICMPTypeCode(t *testing.T) {
	type want struct {
		has       bool
		typ, code uint8
	}
	hv9 := v9Header{uptimeMs: testUptimeMs, secs: testSecs}
	hx := ipfixHeader{secs: testSecs}
	v4 := func(rest ...[]byte) []byte { return cat(append([][]byte{ip("10.0.0.1"), ip("10.0.0.2")}, rest...)...) }
	for _, tc := range []struct {
		name string
		pkt  []byte
		w    want
	}{
		{"v5 echo request in the port", v5Packet(1, testUptimeMs, testSecs, 0, 0,
			v5Rec{src: "10.0.0.1", dst: "10.0.0.2", nextHop: "0.0.0.0", proto: 1, dport: 8 << 8, pkts: 1, octets: 84}), want{true, 8, 0}},
		{"v5 echo reply in the port", v5Packet(1, testUptimeMs, testSecs, 0, 0,
			v5Rec{src: "10.0.0.1", dst: "10.0.0.2", nextHop: "0.0.0.0", proto: 1, pkts: 1, octets: 84}), want{true, 0, 0}},
		{"v5 tcp", v5Packet(1, testUptimeMs, testSecs, 0, 0,
			v5Rec{src: "10.0.0.1", dst: "10.0.0.2", nextHop: "0.0.0.0", proto: 6, dport: 0x0301, pkts: 1, octets: 84}), want{}},
		{"v9 port unreachable in the port", v9Packet(hv9, set(0, tmpl(900, fs(8, 4), fs(12, 4), fs(4, 1), fs(7, 2), fs(11, 2))),
			set(900, v4(u8(1), u16(0), u16(0x0303)))), want{true, 3, 3}},
		{"v9 icmpTypeCodeIPv4", v9Packet(hv9, set(0, tmpl(901, fs(8, 4), fs(12, 4), fs(4, 1), fs(32, 2))),
			set(901, v4(u8(1), u16(0x0b00)))), want{true, 11, 0}},
		{"ipfix icmpTypeIPv4 and icmpCodeIPv4", ipfixPacket(hx, set(2, tmpl(902, fs(8, 4), fs(12, 4), fs(4, 1), fs(176, 1), fs(177, 1))),
			set(902, v4(u8(1), u8(3), u8(13)))), want{true, 3, 13}},
		{"ipfix icmpTypeCodeIPv6", ipfixPacket(hx, set(2, tmpl(903, fs(27, 16), fs(28, 16), fs(4, 1), fs(139, 2))),
			set(903, cat(ip("2001:db8::1"), ip("2001:db8::2"), u8(58), u16(0x8100)))), want{true, 129, 0}},
		{"ipfix icmpTypeIPv6 and icmpCodeIPv6", ipfixPacket(hx, set(2, tmpl(904, fs(27, 16), fs(28, 16), fs(4, 1), fs(178, 1), fs(179, 1))),
			set(904, cat(ip("2001:db8::1"), ip("2001:db8::2"), u8(58), u8(1), u8(4)))), want{true, 1, 4}},
		{"dual-stack template: the IPv6 IE of a v6 flow, IPv4 IE zero", ipfixPacket(hx,
			set(2, tmpl(905, fs(27, 16), fs(28, 16), fs(4, 1), fs(139, 2), fs(32, 2))),
			set(905, cat(ip("2001:db8::1"), ip("2001:db8::2"), u8(58), u16(0x8700), u16(0)))), want{true, 135, 0}},
		{"the IE wins over the port", ipfixPacket(hx, set(2, tmpl(906, fs(8, 4), fs(12, 4), fs(4, 1), fs(11, 2), fs(32, 2))),
			set(906, v4(u8(1), u16(0x0800), u16(0x0000)))), want{true, 8, 0}},
		{"the IE wins over the port, both set", ipfixPacket(hx, set(2, tmpl(907, fs(8, 4), fs(12, 4), fs(4, 1), fs(11, 2), fs(32, 2))),
			set(907, v4(u8(1), u16(0x0800), u16(0x0301)))), want{true, 3, 1}},
		{"icmp without type, code or port", ipfixPacket(hx, set(2, tmpl(908, fs(8, 4), fs(12, 4), fs(4, 1))),
			set(908, v4(u8(1)))), want{}},
		{"tcp with an icmp IE", ipfixPacket(hx, set(2, tmpl(909, fs(8, 4), fs(12, 4), fs(4, 1), fs(11, 2), fs(32, 2))),
			set(909, v4(u8(6), u16(443), u16(0)))), want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t, Default())
			evs := decodeOK(t, d, exporterA, tc.pkt)
			if len(evs) != 1 {
				t.Fatalf("Decode() = %d events, want 1", len(evs))
			}
			f := &evs[0].Flow
			if got := (want{f.HasICMP, f.ICMPType, f.ICMPCode}); got != tc.w {
				t.Errorf("icmp = %+v, want %+v", got, tc.w)
			}
			doc := string(evs[0].AppendJSON(nil))
			wantDoc := fmt.Sprintf(`"icmp":{"type":%d,"code":%d}`, tc.w.typ, tc.w.code)
			if tc.w.has != strings.Contains(doc, wantDoc) || !tc.w.has && strings.Contains(doc, `"icmp":{`) {
				t.Errorf("document (want icmp %v, %s):\n%s", tc.w.has, wantDoc, doc)
			}
		})
	}
}
