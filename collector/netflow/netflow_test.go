package netflow

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

const exporterA = "192.0.2.1:2055"

func newTestDecoder(t testing.TB, cfg Config) (*Decoder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	// The decoder's clock (state saves and loads) agrees with the receive
	// times the tests give their packets.
	d, err := newDecoder(cfg, nil, reg, func() time.Time { return testReceived })
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return d, reg
}

// decodeAt decodes pkt as sent by src and received at recv.
func decodeAt(d *Decoder, src string, pkt []byte, recv time.Time) ([]event.Event, error) {
	b := &event.Batch{}
	err := d.Decode(&collector.Packet{Data: pkt, Src: netip.MustParseAddrPort(src), Received: recv}, b)
	return b.All(), err
}

func decodeOK(t *testing.T, d *Decoder, src string, pkt []byte) []event.Event {
	t.Helper()
	evs, err := decodeAt(d, src, pkt, testReceived)
	if err != nil {
		t.Fatalf("Decode() error = %v", err)
	}
	return evs
}

// wantReasons checks that err carries exactly the given DecodeError reasons.
func wantReasons(t *testing.T, err error, want ...string) {
	t.Helper()
	got := collector.Reasons(err)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("Decode() error reasons (-want +got):\n%s\nerr = %v", diff, err)
	}
}

func field(t *testing.T, e *event.Event, key string) event.Field {
	t.Helper()
	f, ok := e.FieldByKey(key)
	if !ok {
		keys := []string{}
		for _, f := range e.NetFlow {
			keys = append(keys, f.Key)
		}
		t.Fatalf("no netflow field %q; have %v", key, keys)
	}
	return f
}

func wantUint(t *testing.T, e *event.Event, key string, want uint64) {
	t.Helper()
	f := field(t, e, key)
	if f.Type != event.FieldUint || f.U != want {
		t.Errorf("field %s = %+v, want uint %d", key, f, want)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func TestConfigValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"templates zero", func(c *Config) { c.MaxTemplatesPerExporter = 0 }, []string{"netflow.templates.max_per_exporter: 0 must be >= 1"}},
		{"exporters zero", func(c *Config) { c.MaxExporters = 0 }, []string{"netflow.templates.max_exporters: 0 must be >= 1"}},
		{"pending negative", func(c *Config) { c.PendingMaxSets = -1 }, []string{"netflow.templates.pending_max_sets: -1"}},
		{"pending age", func(c *Config) { c.PendingMaxAge = 0 }, []string{"netflow.templates.pending_max_age: 0s must be > 0"}},
		{"several", func(c *Config) { c.MaxExporters = 0; c.MaxTemplatesPerExporter = -3 },
			[]string{"netflow.templates.max_exporters", "netflow.templates.max_per_exporter: -3"}},
		{"pending off", func(c *Config) { c.PendingMaxSets = 0; c.PendingMaxAge = 0 }, nil},
		{"max age", func(c *Config) { c.MaxAge = 30 * time.Second }, []string{"netflow.templates.max_age: 30s is below 1m"}},
		{"exporter idle", func(c *Config) { c.ExporterMaxIdle = 0 }, []string{"netflow.templates.exporter_max_idle: 0s is below 1m"}},
		{"allowed ok", func(c *Config) {
			c.AllowedExporters = []string{"192.0.2.1", "10.0.0.0/8", "2001:db8::/32", " 198.51.100.7 "}
		}, nil},
		{"allowed bad", func(c *Config) { c.AllowedExporters = []string{"10.0.0.0/33", "router1", "10.0.0.1"} },
			[]string{`netflow.allowed_exporters: "10.0.0.0/33" is not a CIDR prefix; write e.g. "192.0.2.0/24"`,
				`netflow.allowed_exporters: "router1" is not an IP address or CIDR prefix`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mod(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			if _, err := New(c, nil, nil); err == nil {
				t.Errorf("New() with invalid config: nil error")
			}
		})
	}
}

func TestFieldNames(t *testing.T) {
	tests := map[uint16]string{
		1: "in_bytes", 2: "in_pkts", 23: "out_bytes", 24: "out_pkts",
		4: "protocol_identifier", 6: "tcp_control_bits", 10: "ingress_interface", 14: "egress_interface",
		16: "bgp_source_as_number", 17: "bgp_destination_as_number", 58: "vlan_id", 8: "source_ipv4_address",
		27: "source_ipv6_address", 7: "source_transport_port", 152: "flow_start_milliseconds",
		19: "post_mcast_packet_delta_count", 225: "post_nat_source_ipv4_address", 227: "post_napt_source_transport_port",
		236: "vrf_name", 192: "ip_ttl", 147: "wlan_ssid", 207: "ipv4_ihl", 102: "layer2_packet_section_offset",
		22: "flow_start_sys_up_time", 243: "dot1q_vlan_id", 295: "ipsec_spi", 262: "message_md5_checksum",
		32: "icmp_type_code_ipv4", 160: "system_init_time_milliseconds", 302: "selector_id",
	}
	for id, want := range tests {
		if got := fieldKey(0, id); got != want {
			t.Errorf("fieldKey(0, %d) = %q, want %q", id, got, want)
		}
	}
	if got := fieldKey(0, 105); got != "ie_105" {
		t.Errorf("fieldKey(0, 105) = %q, want ie_105", got)
	}
	if got := fieldKey(9, 12235); got != "pen_9_12235" {
		t.Errorf("fieldKey(9, 12235) = %q", got)
	}
	// Keys are interned: asking twice gives the same string without allocating.
	if n := testing.AllocsPerRun(100, func() { _ = fieldKey(29305, 1) }); n != 0 {
		t.Errorf("fieldKey allocates %.1f times per call", n)
	}
	// Every table entry must have a unique name.
	seen := map[string]uint16{}
	for id := range maxIE {
		n := ieTable[id].name
		if n == "" {
			continue
		}
		if prev, ok := seen[n]; ok {
			t.Errorf("IE %d and %d share the name %q", prev, id, n)
		}
		seen[n] = uint16(id)
		if strings.ToLower(n) != n || strings.Contains(n, "__") {
			t.Errorf("IE %d name %q is not snake_case", id, n)
		}
	}
}

func TestV9Basic(t *testing.T) {
	d, reg := newTestDecoder(t, Default())
	tp, dp := benchV9Packets(3)
	pkt := cat(dp[:20], tp[20:], dp[20:]) // template and data in one packet
	evs := decodeOK(t, d, exporterA, pkt)
	if len(evs) != 3 {
		t.Fatalf("Decode() = %d events, want 3", len(evs))
	}
	e := &evs[1]
	start := testExport.Add(-5 * time.Second)
	end := testExport.Add(-1 * time.Second)
	want := event.Event{
		Kind:      event.KindFlow,
		Timestamp: end,
		Created:   testReceived,
		Observer:  netip.MustParseAddr("192.0.2.1"),
		Src:       event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 1025, Bytes: 1001, Packets: 11, HasBytes: true, HasPackets: true},
		Dst:       event.Endpoint{IP: netip.MustParseAddr("192.168.0.1"), Port: 443},
		Flow: event.Flow{Protocol: 6, HasProtocol: true, Bytes: 1001, Packets: 11, HasBytes: true, HasPackets: true, Start: start, End: end,
			Version: 9, SourceID: 7, UptimeMillis: uint64(testUptimeMs), HasUptime: true},
		KeysChecked: true,
	}
	got := *e
	got.NetFlow = nil
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmpopts.IgnoreUnexported(event.Event{})); diff != "" {
		t.Errorf("Decode() event (-want +got):\n%s", diff)
	}
	var keys []string
	for _, f := range e.NetFlow {
		keys = append(keys, f.Key)
	}
	wantKeys := []string{"source_ipv4_address", "destination_ipv4_address", "source_transport_port", "destination_transport_port",
		"protocol_identifier", "in_bytes", "in_pkts", "flow_start_sys_up_time", "flow_end_sys_up_time", "ingress_interface",
		"egress_interface", "tcp_control_bits", "bgp_source_as_number", "bgp_destination_as_number"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("netflow keys (-want +got):\n%s", diff)
	}
	wantUint(t, e, "tcp_control_bits", 0x1b)
	wantUint(t, e, "bgp_destination_as_number", 64501)
	if got := counter(t, reg, "sluice_netflow_records_total", "version", "9"); got != 3 {
		t.Errorf("records_total{version=9} = %v, want 3", got)
	}
	if got := counter(t, reg, "sluice_netflow_templates"); got != 1 {
		t.Errorf("templates = %v, want 1", got)
	}
	// Pre-created label values exist at 0.
	for _, l := range []string{"add", "update", "withdraw", "refused"} {
		counter(t, reg, "sluice_netflow_template_changes_total", "action", l)
	}
	counter(t, reg, "sluice_netflow_records_total", "version", "10")
	counter(t, reg, "sluice_netflow_pending_dropped_total", "reason", "shutdown")
}

func TestIPFIXBasic(t *testing.T) {
	d, _ := newTestDecoder(t, Default())
	tp, dp := benchIPFIXPackets(2)
	decodeOK(t, d, exporterA, tp)
	evs := decodeOK(t, d, exporterA, dp)
	if len(evs) != 2 {
		t.Fatalf("Decode() = %d events, want 2", len(evs))
	}
	e := &evs[0]
	if e.Flow.Version != 10 || e.Flow.SourceID != 7 || e.Flow.HasUptime {
		t.Errorf("flow header facts = %+v", e.Flow)
	}
	if !e.Flow.Start.Equal(testExport.Add(-5*time.Second)) || !e.Timestamp.Equal(testExport.Add(-time.Second)) {
		t.Errorf("times start=%v end=%v ts=%v", e.Flow.Start, e.Flow.End, e.Timestamp)
	}
	if e.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp not UTC: %v", e.Timestamp.Location())
	}
	f := field(t, e, "flow_start_milliseconds")
	if f.Type != event.FieldTime || f.U != uint64(testExport.Add(-5*time.Second).UnixNano()) {
		t.Errorf("flow_start_milliseconds = %+v", f)
	}
	wantUint(t, e, "ingress_interface", 3)
	if e.Src.Bytes != 1000 || e.Flow.Packets != 10 {
		t.Errorf("counters src=%+v flow=%+v", e.Src, e.Flow)
	}
}

func TestV5(t *testing.T) {
	d, reg := newTestDecoder(t, Default())
	r := v5Rec{src: "10.1.1.1", dst: "10.2.2.2", nextHop: "10.0.0.254", in: 2, out: 3, pkts: 5, octets: 500,
		first: testUptimeMs - 4000, last: testUptimeMs - 2000, sport: 1234, dport: 80, flags: 0x12, proto: 6, tos: 8,
		srcAS: 65001, dstAS: 65002, srcMask: 24, dstMask: 16}
	// sampling: mode 01 (top bits), interval 100
	pkt := v5Packet(2, testUptimeMs, testSecs, 500_000_000, 1<<14|100, r, r)
	evs := decodeOK(t, d, exporterA, pkt)
	if len(evs) != 2 {
		t.Fatalf("Decode() = %d events, want 2", len(evs))
	}
	e := &evs[0]
	export := testExport.Add(500 * time.Millisecond)
	if !e.Flow.Start.Equal(export.Add(-4*time.Second)) || !e.Flow.End.Equal(export.Add(-2*time.Second)) {
		t.Errorf("v5 times = %v .. %v", e.Flow.Start, e.Flow.End)
	}
	if e.Flow.SamplingRate != 100 || e.Flow.Bytes != 50000 || e.Flow.Packets != 500 {
		t.Errorf("v5 sampling: %+v", e.Flow)
	}
	wantUint(t, e, "in_bytes", 500) // raw stays raw
	wantUint(t, e, "bgp_source_as_number", 65001)
	wantUint(t, e, "destination_ipv4_prefix_length", 16)
	if e.Flow.Version != 5 || e.Flow.SourceID != 1<<8|2 || !e.Flow.HasUptime {
		t.Errorf("v5 header facts: %+v", e.Flow)
	}
	if got := counter(t, reg, "sluice_netflow_records_total", "version", "5"); got != 2 {
		t.Errorf("records_total{version=5} = %v", got)
	}
}

// goflow2 v2.2.6 allocates and "decodes" as many v5 records as the header
// claims; we decode only what is present.
func TestV5CountMismatch(t *testing.T) {
	d, _ := newTestDecoder(t, Default())
	r := v5Rec{src: "10.1.1.1", dst: "10.2.2.2", nextHop: "0.0.0.0", pkts: 1, octets: 60, proto: 17}
	pkt := v5Packet(30, testUptimeMs, testSecs, 0, 0, r, r)
	pkt = append(pkt, make([]byte, 20)...) // a partial third record
	evs, err := decodeAt(d, exporterA, pkt, testReceived)
	if len(evs) != 2 {
		t.Fatalf("Decode() = %d events, want 2", len(evs))
	}
	wantReasons(t, err, "v5_count_mismatch")
	var de *collector.DecodeError
	if !errors.As(err, &de) || de.Dropped != 28 {
		t.Fatalf("Decode() error = %#v, want Dropped 28", err)
	}
	// Fewer claimed than present: only the claimed ones.
	evs = decodeOK(t, d, exporterA, v5Packet(1, testUptimeMs, testSecs, 0, 0, r, r))
	if len(evs) != 1 {
		t.Errorf("count 1 with 2 records: %d events", len(evs))
	}
	_, err = decodeAt(d, exporterA, pkt[:10], testReceived)
	wantReasons(t, err, "truncated")
}

func TestBadVersionAndTruncated(t *testing.T) {
	d, _ := newTestDecoder(t, Default())
	for _, tc := range []struct {
		name   string
		pkt    []byte
		reason string
	}{
		{"empty", nil, "truncated"},
		{"one byte", []byte{0}, "truncated"},
		{"v7", cat(u16(7), make([]byte, 30)), "bad_version"},
		{"v9 short header", cat(u16(9), make([]byte, 10)), "truncated"},
		{"ipfix short header", cat(u16(10), make([]byte, 10)), "truncated"},
		{"ipfix length below header", cat(u16(10), u16(8), make([]byte, 12)), "bad_length"},
		{"ipfix length beyond packet", cat(u16(10), u16(100), make([]byte, 12)), "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := decodeAt(d, exporterA, tc.pkt, testReceived)
			if err == nil || len(evs) != 0 {
				t.Fatalf("Decode() = %d events, %v; want error %s", len(evs), err, tc.reason)
			}
			wantReasons(t, err, tc.reason)
		})
	}
}

// Templates are keyed by exporter address + source ID + version, not by the
// sender's port (goflow2 v2.2.6 keys its per-router cache by the full address).
func TestTemplateScope(t *testing.T) {
	d, _ := newTestDecoder(t, Default())
	tp, dp := benchV9Packets(1)
	decodeOK(t, d, "192.0.2.1:50000", tp)
	if evs := decodeOK(t, d, "192.0.2.1:50001", dp); len(evs) != 1 {
		t.Fatalf("same exporter, other port: %d events, want 1", len(evs))
	}
	// Another exporter address: template unknown, set held.
	if evs := decodeOK(t, d, "192.0.2.2:50000", dp); len(evs) != 0 {
		t.Fatalf("other exporter: %d events, want 0", len(evs))
	}
	// Same address, other source ID: held too.
	other := slices.Clone(dp)
	other[19] = 8
	if evs := decodeOK(t, d, "192.0.2.1:50000", other); len(evs) != 0 {
		t.Fatalf("other source ID: %d events, want 0", len(evs))
	}
	// IPv4-mapped IPv6 sender is the same exporter.
	if evs := decodeOK(t, d, "[::ffff:192.0.2.1]:50000", dp); len(evs) != 1 {
		t.Fatalf("v4-mapped sender: %d events, want 1", len(evs))
	}
	// An IPFIX template with the same ID does not serve v9 data.
	ip2 := ipfixPacket(ipfixHeader{secs: testSecs, domain: 7}, set(2, tmpl(256, fs(8, 4))))
	decodeOK(t, d, exporterA, ip2)
	if evs := decodeOK(t, d, "192.0.2.1:50000", dp); len(evs) != 1 || evs[0].Flow.Version != 9 {
		t.Fatalf("v9 after ipfix template: %d events", len(evs))
	}
}

func TestManyExporters(t *testing.T) {
	d, reg := newTestDecoder(t, Default())
	for i := range 50 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}), 2055).String()
		// Each exporter uses the same template ID for a different layout.
		fields := benchV9Fields[:1+i%len(benchV9Fields)]
		decodeOK(t, d, src, v9Packet(v9Header{secs: testSecs}, set(0, tmpl(300, fields...))))
	}
	if got := counter(t, reg, "sluice_netflow_templates"); got != 50 {
		t.Errorf("templates = %v, want 50", got)
	}
	for i := range 50 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}), 2055).String()
		n := 1 + i%len(benchV9Fields)
		rec := benchV9Record(0)
		l := 0
		for _, f := range benchV9Fields[:n] {
			l += int(f.Len)
		}
		evs := decodeOK(t, d, src, v9Packet(v9Header{secs: testSecs}, set(300, rec[:l])))
		if len(evs) != 1 || len(evs[0].NetFlow) != n {
			t.Fatalf("exporter %d: %d events", i, len(evs))
		}
	}
}

func TestWithdrawAndUpdate(t *testing.T) {
	d, reg := newTestDecoder(t, Default())
	h := ipfixHeader{secs: testSecs, domain: 1}
	data := ipfixPacket(h, set(256, cat(ip("10.0.0.1"), u16(80))))
	decodeOK(t, d, exporterA, ipfixPacket(h, set(2, tmpl(256, fs(8, 4), fs(7, 2)), tmpl(257, fs(8, 4))),
		set(3, ipfixOptTmpl(258, 1, fs(149, 4), fs(34, 4)))))
	if got := counter(t, reg, "sluice_netflow_templates"); got != 3 {
		t.Fatalf("templates = %v, want 3", got)
	}
	// Identical re-send: no change.
	decodeOK(t, d, exporterA, ipfixPacket(h, set(2, tmpl(256, fs(8, 4), fs(7, 2)))))
	if got := counter(t, reg, "sluice_netflow_template_changes_total", "action", "update"); got != 0 {
		t.Fatalf("update after identical re-send = %v", got)
	}
	// Re-definition replaces.
	decodeOK(t, d, exporterA, ipfixPacket(h, set(2, tmpl(256, fs(12, 4), fs(11, 2)))))
	if got := counter(t, reg, "sluice_netflow_template_changes_total", "action", "update"); got != 1 {
		t.Fatalf("update = %v, want 1", got)
	}
	evs := decodeOK(t, d, exporterA, data)
	if len(evs) != 1 || evs[0].Dst.Port != 80 || evs[0].Src.IP.IsValid() {
		t.Fatalf("after update: %+v", evs)
	}
	// Withdraw 256 (field count 0).
	decodeOK(t, d, exporterA, ipfixPacket(h, set(2, tmpl(256))))
	if evs := decodeOK(t, d, exporterA, data); len(evs) != 0 {
		t.Fatalf("after withdraw: %d events", len(evs))
	}
	if got := counter(t, reg, "sluice_netflow_template_changes_total", "action", "withdraw"); got != 1 {
		t.Fatalf("withdraw = %v", got)
	}
	// Withdraw all options templates (ID 3 in set 3) keeps data template 257.
	decodeOK(t, d, exporterA, ipfixPacket(h, set(3, tmpl(3))))
	if got := counter(t, reg, "sluice_netflow_templates"); got != 1 {
		t.Fatalf("templates after options withdraw-all = %v, want 1", got)
	}
	// Withdraw all data templates (ID 2 in set 2).
	decodeOK(t, d, exporterA, ipfixPacket(h, set(2, tmpl(2))))
	if got := counter(t, reg, "sluice_netflow_templates"); got != 0 {
		t.Fatalf("templates after withdraw-all = %v, want 0", got)
	}
}

func TestUnknownAndEnterpriseFields(t *testing.T) {
	d, _ := newTestDecoder(t, Default())
	h := ipfixHeader{secs: testSecs}
	pkt := ipfixPacket(h,
		set(2, tmpl(256, fs(8, 4), fs(400, 2), fieldSpec{ID: 12235, Len: 3, PEN: 9}, fs(56, 6), fs(82, 8), fs(8, 3), fs(1, 16))),
		set(256, cat(ip("10.0.0.1"), u16(0xabcd), []byte{1, 2, 3}, []byte{0, 1, 2, 3, 4, 5}, []byte("eth0\x00\x00\x00\x00"),
			[]byte{9, 9, 9}, make([]byte, 16))))
	evs := decodeOK(t, d, exporterA, pkt)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	e := &evs[0]
	for _, tc := range []struct {
		key  string
		want event.Field
	}{
		{"ie_400", event.Field{Key: "ie_400", Type: event.FieldHex, B: []byte{0xab, 0xcd}}},
		{"pen_9_12235", event.Field{Key: "pen_9_12235", Type: event.FieldHex, B: []byte{1, 2, 3}}},
		{"source_mac_address", event.Field{Key: "source_mac_address", Type: event.FieldMAC, B: []byte{0, 1, 2, 3, 4, 5}}},
		{"interface_name", event.Field{Key: "interface_name", Type: event.FieldString, S: "eth0"}},
		{"in_bytes", event.Field{Key: "in_bytes", Type: event.FieldHex, B: make([]byte, 16)}},
	} {
		if diff := cmp.Diff(tc.want, field(t, e, tc.key), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("field %s (-want +got):\n%s", tc.key, diff)
		}
	}
	if !e.Src.HasMAC || e.Src.MAC != [6]byte{0, 1, 2, 3, 4, 5} {
		t.Errorf("source MAC = %v", e.Src)
	}
	// A 3-byte IPv4 field is kept as hex and does not become source.ip.
	if e.Src.IP != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("source IP = %v", e.Src.IP)
	}
}

// A template that names one IE twice must not promise unique keys, or the
// encoder would write a duplicate JSON key that Elasticsearch rejects.
func TestTemplateDuplicateIEKeysNotChecked(t *testing.T) {
	ok, err := compile(9, 300, false, 0, []fieldSpec{{ID: 8, Len: 4}, {ID: 8, Len: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if ok.keysOK {
		t.Error("template with IE 8 twice: keysOK = true")
	}
	uniq, err := compile(9, 301, false, 0, []fieldSpec{{ID: 8, Len: 4}, {ID: 12, Len: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if !uniq.keysOK {
		t.Error("template with distinct IEs: keysOK = false")
	}
}

// ICMP type and code from their own IEs reach Dst.Port (as v5 carries them),
// so the Community ID of an echo request and its reply match.
func TestICMPTypeCodeToDstPort(t *testing.T) {
	cases := []struct {
		name   string
		fields []fieldSpec
		rec    []byte
		proto  uint8
		want   uint16
	}{
		{"v4 typecode ie32", []fieldSpec{fs(8, 4), fs(12, 4), fs(4, 1), fs(32, 2)}, cat(ip("10.0.0.1"), ip("10.0.0.2"), u8(1), u16(0x0800)), 1, 0x0800},
		{"v4 type ie176 code ie177", []fieldSpec{fs(8, 4), fs(12, 4), fs(4, 1), fs(176, 1), fs(177, 1)}, cat(ip("10.0.0.1"), ip("10.0.0.2"), u8(1), u8(3), u8(1)), 1, 0x0301},
		{"v6 typecode ie139", []fieldSpec{fs(27, 16), fs(28, 16), fs(4, 1), fs(139, 2)}, cat(ip("2001:db8::1"), ip("2001:db8::2"), u8(58), u16(0x8100)), 58, 0x8100},
		{"tcp keeps ports", []fieldSpec{fs(8, 4), fs(12, 4), fs(4, 1), fs(11, 2), fs(32, 2)}, cat(ip("10.0.0.1"), ip("10.0.0.2"), u8(6), u16(443), u16(0x0800)), 6, 443},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t, Default())
			id := uint16(300 + i)
			pkt := ipfixPacket(ipfixHeader{secs: testSecs, domain: 1}, set(2, tmpl(id, tc.fields...)), set(id, tc.rec))
			evs := decodeOK(t, d, exporterA, pkt)
			if len(evs) != 1 {
				t.Fatalf("Decode() = %d events, want 1", len(evs))
			}
			if evs[0].Flow.Protocol != tc.proto || evs[0].Dst.Port != tc.want {
				t.Errorf("proto %d Dst.Port = %#04x, want proto %d port %#04x", evs[0].Flow.Protocol, evs[0].Dst.Port, tc.proto, tc.want)
			}
		})
	}
}
