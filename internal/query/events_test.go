package query

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/collector/netflow"
	"github.com/sluicelab/sluice/collector/sflow"
	"github.com/sluicelab/sluice/collector/syslog"
	"github.com/sluicelab/sluice/enrich/parsers"
	"github.com/sluicelab/sluice/internal/event"
)

// received is the receive time of every test packet.
var received = time.Date(2026, 11, 22, 8, 0, 40, 0, time.UTC)

// testEvents holds events built by the project's real decoders and
// stages from its golden test data, plus synthetic events for the
// corners (geo, MACs, odd keys), each with a name.
type namedEvent struct {
	name string
	e    *event.Event
}

func repoRoot() string { return filepath.Join("..", "..") }

// syslogEvents decodes lines through the real syslog decoder and the
// parsers stage (default config).
func syslogEvents(t testing.TB, sender string, lines []string) []*event.Event {
	t.Helper()
	cfg := parsers.Default()
	cfg.Location = time.UTC
	st, err := parsers.New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("parsers.New() = %v", err)
	}
	d := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC, KeepOriginal: true})
	b := event.NewBatch()
	for _, l := range lines {
		p := &collector.Packet{Data: []byte(l), Src: netip.AddrPortFrom(netip.MustParseAddr(sender), 51400), Received: received}
		if err := d.Decode(p, b); err != nil {
			t.Fatalf("Decode(%q) = %v", l, err)
		}
	}
	if err := st.Process(context.Background(), b); err != nil {
		t.Fatalf("Process() = %v", err)
	}
	var out []*event.Event
	for i := range b.All() {
		e := b.All()[i] // the batch is not released: the events stay valid
		out = append(out, &e)
	}
	return out
}

func goldenSyslog(t testing.TB) []namedEvent {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(), "enrich/parsers/testdata/golden/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no parser golden files: %v", err)
	}
	var out []namedEvent
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g struct{ Sender, Input string }
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, e := range syslogEvents(t, g.Sender, []string{g.Input}) {
			out = append(out, namedEvent{filepath.Base(f), e})
		}
	}
	fh, err := os.Open(filepath.Join(repoRoot(), "collector/syslog/testdata/mix_sample.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var lines []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for i, e := range syslogEvents(t, "192.0.2.10", lines) {
		out = append(out, namedEvent{"mix_sample.log:" + itoa(i+1), e})
	}
	return out
}

func itoa(i int) string { return string(appendNumber(nil, float64(i))) }

func goldenFlows(t testing.TB) []namedEvent {
	t.Helper()
	var out []namedEvent
	bins, _ := filepath.Glob(filepath.Join(repoRoot(), "collector/netflow/testdata/*.bin"))
	if len(bins) == 0 {
		t.Fatal("no netflow captures")
	}
	for _, f := range bins {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := netflow.New(netflow.Default(), nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		b := event.NewBatch()
		if err := d.Decode(&collector.Packet{Data: data, Src: netip.MustParseAddrPort("127.0.0.1:4000"), Received: received}, b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i := range b.All() {
			e := b.All()[i]
			out = append(out, namedEvent{filepath.Base(f) + "#" + itoa(i), &e})
		}
	}
	sfl, _ := filepath.Glob(filepath.Join(repoRoot(), "collector/sflow/testdata/*/input.bin"))
	if len(sfl) == 0 {
		t.Fatal("no sflow captures")
	}
	for _, f := range sfl {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := sflow.New(sflow.Default(), nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		b := event.NewBatch()
		if err := d.Decode(&collector.Packet{Data: data, Src: netip.MustParseAddrPort("192.0.2.1:6343"), Received: received}, b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i := range b.All() {
			e := b.All()[i]
			out = append(out, namedEvent{filepath.Base(filepath.Dir(f)) + "#" + itoa(i), &e})
		}
	}
	return out
}

// syntheticEvents cover what the captures lack: GeoIP answers, MACs,
// localities, tags, odd netflow keys, parsed fields that clash.
func syntheticEvents() []namedEvent {
	geo := &event.Geo{CountryISO: "NL", CountryName: "Netherlands", ContinentCode: "EU", RegionISO: "NL-NH",
		RegionName: "North Holland", CityName: "Amsterdam", Lat: 52.37, Lon: 4.89, HasLocation: true,
		ASN: 64500, ASOrg: "Example Net"}
	rendered := *geo
	rendered.Render()
	nan := &event.Geo{CountryISO: "XX", Lat: math.NaN(), Lon: 1, HasLocation: true}
	ts := time.Date(2026, 11, 22, 8, 1, 2, 345678901, time.UTC)
	flow := func() *event.Event {
		return &event.Event{
			Kind: event.KindFlow, Timestamp: ts, Created: received,
			Observer: netip.MustParseAddr("192.0.2.1"),
			Src: event.Endpoint{IP: netip.MustParseAddr("10.0.0.5"), Port: 51000, Bytes: 1200, Packets: 4,
				MAC: [6]byte{0xaa, 0xbb, 0xcc, 1, 2, 3}, HasMAC: true, Locality: event.LocalityInternal},
			Dst:       event.Endpoint{IP: netip.MustParseAddr("203.0.113.9"), Port: 443, Geo: &rendered, Locality: event.LocalityExternal},
			Direction: event.DirectionOutbound,
			Flow: event.Flow{Protocol: 6, HasProtocol: true, Bytes: 1200, Packets: 4, SamplingRate: 10,
				Start: ts.Add(-time.Second), End: ts, Version: 9, SourceID: 7, UptimeMillis: 99, HasUptime: true},
			Tags: event.TagGeoMiss | event.TagTimeOutOfRange, OriginalTimestamp: ts.AddDate(-3, 0, 0),
		}
	}
	f1 := flow()
	f1.NetFlow = []event.Field{
		{Key: "in_bytes", Type: event.FieldUint, U: 1200},
		{Key: "in_bytes", Type: event.FieldUint, U: 9}, // duplicate: skipped
		{Key: "type", Type: event.FieldString, S: "x"}, // reserved: skipped
		{Key: "exporter.address", Type: event.FieldString, S: "dotted"},
		{Key: "a.b", Type: event.FieldInt, U: uint64(1 << 63)},
		{Key: "\xffbad", Type: event.FieldString, S: "bad key"},
		{Key: "\xfebad", Type: event.FieldString, S: "same once encoded"},
		{Key: "mac", Type: event.FieldMAC, B: []byte{1, 2, 3, 4, 5, 6}},
		{Key: "hex", Type: event.FieldHex, B: []byte{0xde, 0xad}},
		{Key: "t", Type: event.FieldTime, U: uint64(ts.UnixNano())},
		{Key: "tm", Type: event.FieldTimeMillis, U: uint64(ts.UnixMilli())},
		{Key: "ok", Type: event.FieldBool, U: 1},
		{Key: "f", Type: event.FieldFloat, U: math.Float64bits(0.25)},
		{Key: "nan", Type: event.FieldFloat, U: math.Float64bits(math.NaN())},
		{Key: "ip", Type: event.FieldIP, IP: netip.MustParseAddr("fe80::1%eth0")},
		{Key: "badip", Type: event.FieldIP},
		{Key: "str", Type: event.FieldString, S: "bad \xff utf8 \"quoted\"\n"},
	}
	f2 := flow()
	f2.Src.IP = netip.MustParseAddr("2001:db8::1")
	f2.Dst = event.Endpoint{IP: netip.MustParseAddr("::ffff:198.51.100.1"), Geo: geo}
	f2.Flow.Protocol = 58
	f2.Flow.SFlow = true
	// sluice.dns.unsanctioned_resolver next to sluice.original_timestamp
	f2.Flow.UnsanctionedDNS = true
	f2.Tags = 1 << 20 // an unknown tag bit
	f2.KeysChecked = true
	f2.NetFlow = []event.Field{{Key: "in_pkts", Type: event.FieldUint, U: 3}}
	f3 := &event.Event{Kind: event.KindFlow, Dst: event.Endpoint{Geo: nan, Port: 7}}
	f4 := flow()
	f4.Flow.Protocol = 1
	f4.Flow.End = f4.Flow.Start.Add(-time.Second)
	f4.Flow.ICMPType, f4.Flow.ICMPCode, f4.Flow.HasICMP = 3, 1, true
	f4b := flow()
	f4b.Flow.Protocol = 58
	f4b.Flow.HasICMP = true // echo reply: type 0 code 0, written
	// Reported counts of 0 are written (and a 0 that was not reported is not).
	f5 := flow()
	f5.Src.Bytes, f5.Src.Packets, f5.Src.HasBytes, f5.Src.HasPackets = 0, 0, true, true
	f5.Dst.Bytes, f5.Dst.HasPackets = 0, true
	f5.Flow.Bytes, f5.Flow.Packets, f5.Flow.HasBytes, f5.Flow.HasPackets = 0, 0, true, false

	sl := func() *event.Event {
		return &event.Event{
			Kind: event.KindSyslog, Timestamp: ts, Created: received, Observer: netip.MustParseAddr("192.0.2.7"),
			Syslog: event.Syslog{Priority: 134, HasPriority: true, Hostname: "fw01", AppName: "app", ProcID: "0042",
				MsgID: "ID7", Message: "Failed password for root from 203.0.113.9", Original: "<134>...", Dataset: "x.y"},
			Src: event.Endpoint{IP: netip.MustParseAddr("203.0.113.9"), Port: 5000, Geo: geo, MAC: [6]byte{1}, HasMAC: true},
		}
	}
	s1 := sl()
	s1.Fields = []event.Field{
		{Key: "event.action", Type: event.FieldString, S: "denied"},
		{Key: "event.action", Type: event.FieldString, S: "second"},  // duplicate: first wins
		{Key: "host.hostname", Type: event.FieldString, S: "parsed"}, // own wins
		{Key: "source.mac", Type: event.FieldString, S: "parsed-mac"},
		{Key: "a", Type: event.FieldUint, U: 1}, // a leaf where an object is needed
		{Key: "a.b", Type: event.FieldUint, U: 2},
		{Key: "process.pid.x", Type: event.FieldUint, U: 3},  // drops sluice's process.pid
		{Key: "log.syslog", Type: event.FieldString, S: "x"}, // above sluice's own values
		{Key: "bad..path", Type: event.FieldString, S: "x"},
		{Key: "tags", Type: event.FieldString, S: "x"},
		{Key: "x.text", Type: event.FieldString, S: "Some Words"},
		{Key: "url.path", Type: event.FieldString, S: "/admin"},
		{Key: "ip", Type: event.FieldIP, IP: netip.MustParseAddr("10.1.2.3")},
		{Key: "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17", Type: event.FieldString, S: "deep"},
		{Key: "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16", Type: event.FieldString, S: "16 deep"},
		{Key: "bad\xffkey", Type: event.FieldString, S: "x"},
		{Key: "n", Type: event.FieldString, S: "bad\xff\xfe"},
	}
	s2 := sl()
	s2.Syslog.ProcID = "abc"
	s2.Syslog.Dataset = ""
	s2.Syslog.HasPriority = false
	s2.Src = event.Endpoint{}
	s2.Fields = []event.Field{{Key: "source.ip", Type: event.FieldIP, IP: netip.MustParseAddr("10.9.9.9")}}
	s3 := sl()
	for i := 0; i < event.MaxSyslogFields; i++ { // past the encoder's limit
		s3.Fields = append(s3.Fields, event.Field{Key: "k" + itoa(i), Type: event.FieldUint, U: uint64(i)})
	}
	s4 := sl()
	s4.Syslog.ProcID = "99999999999" // over 32 bits: procid
	s4.Syslog.Priority = 200
	// A syslog event's endpoint flags are not written: parsers write counts.
	s5 := sl()
	s5.Src.HasBytes, s5.Src.HasPackets = true, true

	// Around the encoder's limit (event.MaxSyslogFields values, sluice's
	// own included): the parsed fields past it are left out, and the fast
	// path must know exactly where. Where that is, encoding tells.
	edgeEvent := func(k int) *event.Event {
		e := sl()
		e.Dst = event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 22, Geo: geo}
		for i := 0; i < k; i++ {
			e.Fields = append(e.Fields, event.Field{Key: "edge.k" + itoa(i), Type: event.FieldUint, U: uint64(i)})
		}
		return e
	}
	var full struct {
		Edge map[string]any `json:"edge"`
	}
	if err := json.Unmarshal(edgeEvent(event.MaxSyslogFields).AppendJSON(nil), &full); err != nil || len(full.Edge) < 100 {
		panic(fmt.Sprintf("the edge event: %v, %d values written", err, len(full.Edge)))
	}
	var edge []namedEvent
	for k := len(full.Edge) - 2; k <= len(full.Edge)+2; k++ {
		edge = append(edge, namedEvent{"syslog-edge-" + itoa(k), edgeEvent(k)})
	}

	// Repeated DNS values are arrays: every element is a value of the path.
	dnsFields := func(e *event.Event) {
		e.Fields = append(e.Fields,
			event.Field{Key: "dns.question.name", Type: event.FieldString, S: "www.example.com"},
			event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: netip.MustParseAddr("192.0.2.1")},
			event.Field{Key: "dns.answers", Type: event.FieldJSON, B: []byte(`{"name":"www.example.com","data":"192.0.2.1"}`)},
			event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: netip.MustParseAddr("2001:db8::2")},
			event.Field{Key: "dns.answers", Type: event.FieldJSON, B: []byte(`{"name":"www.example.com","data":"2001:db8::2"}`)},
			event.Field{Key: "dns.header_flags", Type: event.FieldString, S: "RD"},
			event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: netip.MustParseAddr("192.0.2.3")},
			event.Field{Key: "dns.header_flags", Type: event.FieldString, S: "RA"},
		)
	}
	s6 := sl()
	dnsFields(s6)
	d1 := &event.Event{Kind: event.KindDNS, Timestamp: ts, Created: received,
		Src:  event.Endpoint{IP: netip.MustParseAddr("10.0.0.5"), Port: 40000, Bytes: 40},
		Dst:  event.Endpoint{IP: netip.MustParseAddr("10.0.0.53"), Port: 53, Bytes: 90},
		Flow: event.Flow{Protocol: 17, HasProtocol: true}, Syslog: event.Syslog{Dataset: "sluice.dns"}}
	dnsFields(d1)

	u := &event.Event{Timestamp: ts, Created: received, Observer: netip.MustParseAddr("192.0.2.9"), Tags: event.TagTruncated}
	out := []namedEvent{{"flow-geo", f1}, {"flow-v6-sflow", f2}, {"flow-nan-geo", f3}, {"flow-icmp", f4}, {"flow-icmp6-zero", f4b}, {"flow-zero-counts", f5},
		{"syslog-clash", s1}, {"syslog-zero-count-flags", s5}, {"syslog-bare", s2}, {"syslog-many", s3}, {"syslog-bigpid", s4}, {"unknown", u},
		{"syslog-dns-arrays", s6}, {"dns-arrays", d1}}
	return append(out, edge...)
}

func allTestEvents(t testing.TB) []namedEvent {
	t.Helper()
	evs := append(goldenSyslog(t), goldenFlows(t)...)
	evs = append(evs, syntheticEvents()...)
	// The syslog events as DNS and Beats documents too: laid out alike,
	// with other own values (a Beat's document has no event.kind or
	// module of sluice's).
	for _, ne := range evs {
		if ne.e.Kind != event.KindSyslog {
			continue
		}
		for _, k := range []event.Kind{event.KindDNS, event.KindBeats} {
			e := *ne.e
			e.Kind = k
			e.Fields = slices.Clone(ne.e.Fields)
			e.NetFlow = slices.Clone(ne.e.NetFlow)
			evs = append(evs, namedEvent{ne.name + "-as-" + k.String(), &e})
		}
	}
	return evs
}

// valueKey is a value as comparable text: numbers by value, everything
// else by its text (an IP or a time as the encoder writes it).
func valueKey(v Value) string {
	switch v.Kind {
	case KindNumber:
		return "n:" + string(appendNumber(nil, v.Num))
	case KindBool:
		return "b:" + v.String()
	}
	return "s:" + v.String()
}

func valueKeys(vs []Value) string {
	ks := make([]string, len(vs))
	for i, v := range vs {
		ks[i] = valueKey(v)
	}
	sort.Strings(ks)
	return strings.Join(ks, " | ")
}
