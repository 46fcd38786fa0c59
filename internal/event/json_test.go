package event

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"hash/fnv"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	t0      = time.Date(2026, 11, 24, 3, 22, 9, 123_456_789, time.UTC)
	exp4    = netip.MustParseAddr("192.0.2.1")
	srcMAC  = [6]byte{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}
	dstMAC  = [6]byte{0xf8, 0x75, 0xa4, 0x01, 0x02, 0x0f}
	macFld  = []byte{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}
	nanBits = math.Float64bits(math.NaN())
)

// typicalFlow returns a NetFlow v9 TCP flow as the decoder builds it, with
// the 15 fields a typical Cisco template carries.
func typicalFlow() *Event {
	e := &Event{
		Kind:      KindFlow,
		Timestamp: t0,
		Created:   t0.Add(1500 * time.Millisecond),
		Observer:  exp4,
		Src:       Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 51234, Bytes: 1234, Packets: 10, MAC: srcMAC, HasMAC: true},
		Dst:       Endpoint{IP: netip.MustParseAddr("93.184.216.34"), Port: 443, MAC: dstMAC, HasMAC: true},
		Flow: Flow{
			Protocol: 6, HasProtocol: true,
			Bytes: 1234, Packets: 10,
			Start: t0.Add(-30 * time.Second), End: t0,
			Version: 9, SourceID: 256, UptimeMillis: 123456789, HasUptime: true,
		},
	}
	e.AddIP("ipv4_src_addr", e.Src.IP)
	e.AddIP("ipv4_dst_addr", e.Dst.IP)
	e.AddUint("l4_src_port", 51234)
	e.AddUint("l4_dst_port", 443)
	e.AddUint("protocol", 6)
	e.AddUint("in_bytes", 1234)
	e.AddUint("in_pkts", 10)
	e.AddUint("tcp_flags", 0x1b)
	e.AddUint("src_tos", 0)
	e.AddUint("input_snmp", 3)
	e.AddUint("output_snmp", 5)
	e.AddIP("ipv4_next_hop", netip.MustParseAddr("10.1.2.254"))
	e.AddUint("src_as", 0)
	e.AddUint("dst_as", 15133)
	e.AddField(Field{Key: "first_switched", Type: FieldTime, U: uint64(t0.Add(-30 * time.Second).UnixNano())})
	return e
}

type jsonCase struct {
	name  string
	event func() *Event
	// want maps dotted paths to the decoded value; a nil value means absent.
	want map[string]any
}

func jsonCases() []jsonCase {
	return []jsonCase{
		{
			name: "tcp_v4_geo_direction",
			event: func() *Event {
				e := typicalFlow()
				e.Src.Locality = LocalityInternal
				e.Dst.Locality = LocalityExternal
				e.Dst.Geo = &Geo{CountryISO: "SE", CountryName: "Sweden", ContinentCode: "EU", RegionISO: "SE-AB", RegionName: "Stockholm",
					CityName: "Stockholm", Lat: 59.3294, Lon: 18.0686, HasLocation: true, ASN: 64500, ASOrg: "Example AB"}
				e.Src.Geo = &Geo{ASN: 64501} // only an AS
				e.Direction = DirectionOutbound
				return e
			},
			want: map[string]any{
				"source.locality":                  "internal",
				"source.as.number":                 64501.0,
				"source.geo":                       nil,
				"destination.locality":             "external",
				"destination.geo.country_iso_code": "SE",
				"destination.geo.country_name":     "Sweden",
				"destination.geo.continent_code":   "EU",
				"destination.geo.region_iso_code":  "SE-AB",
				"destination.geo.region_name":      "Stockholm",
				"destination.geo.city_name":        "Stockholm",
				"destination.geo.location":         map[string]any{"lat": 59.3294, "lon": 18.0686},
				"destination.as.number":            64500.0,
				"destination.as.organization.name": "Example AB",
				"network.direction":                "outbound",
			},
		},
		{
			name: "tcp_v4_all_fields",
			event: func() *Event {
				e := typicalFlow()
				e.AddField(Field{Key: "application_name", Type: FieldString, S: "https"})
				e.AddField(Field{Key: "in_src_mac", Type: FieldMAC, B: macFld})
				e.AddField(Field{Key: "application_id", Type: FieldHex, B: []byte{0x0d, 0x00, 0x01, 0xbb}})
				e.AddField(Field{Key: "biflow_direction", Type: FieldInt, U: uint64(1<<64 - 2)}) // -2
				e.AddField(Field{Key: "is_multicast", Type: FieldBool, U: 1})
				e.AddField(Field{Key: "nat_flag", Type: FieldBool, U: 0})
				e.AddField(Field{Key: "loss_ratio", Type: FieldFloat, U: math.Float64bits(0.25)})
				return e
			},
			want: map[string]any{
				"@timestamp":                     "2026-11-24T03:22:09.123Z",
				"event.created":                  "2026-11-24T03:22:10.623Z",
				"event.start":                    "2026-11-24T03:21:39.123Z",
				"event.end":                      "2026-11-24T03:22:09.123Z",
				"event.duration":                 30e9,
				"event.kind":                     "event",
				"event.category":                 []any{"network"},
				"event.type":                     []any{"connection"},
				"event.action":                   "network_flow",
				"event.module":                   "sluice",
				"event.dataset":                  "sluice.flow",
				"source.ip":                      "10.1.2.3",
				"source.port":                    51234.0,
				"source.bytes":                   1234.0,
				"source.packets":                 10.0,
				"source.mac":                     "00-1B-21-AA-BB-CC",
				"destination.mac":                "F8-75-A4-01-02-0F",
				"destination.bytes":              nil,
				"network.transport":              "tcp",
				"network.iana_number":            "6",
				"network.type":                   "ipv4",
				"network.bytes":                  1234.0,
				"network.community_id":           string(AppendCommunityID(nil, 0, netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("93.184.216.34"), 51234, 443, 6)),
				"observer.ip":                    "192.0.2.1",
				"netflow.type":                   "netflow_flow",
				"netflow.in_bytes":               1234.0,
				"netflow.ipv4_next_hop":          "10.1.2.254",
				"netflow.first_switched":         "2026-11-24T03:21:39.123Z",
				"netflow.in_src_mac":             "00-1B-21-AA-BB-CC",
				"netflow.application_id":         "0d0001bb",
				"netflow.biflow_direction":       -2.0,
				"netflow.is_multicast":           true,
				"netflow.nat_flag":               false,
				"netflow.loss_ratio":             0.25,
				"netflow.sampling_rate":          nil,
				"netflow.exporter.address":       "192.0.2.1",
				"netflow.exporter.source_id":     256.0,
				"netflow.exporter.version":       9.0,
				"netflow.exporter.uptime_millis": 123456789.0,
				"tags":                           nil,
				"ecs.version":                    ECSVersion,
			},
		},
		{
			name: "ipv6_udp",
			event: func() *Event {
				e := &Event{
					Kind:      KindFlow,
					Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
					Observer:  netip.MustParseAddr("2001:db8::1"),
					Src:       Endpoint{IP: netip.MustParseAddr("2001:db8:1::53"), Port: 53},
					Dst:       Endpoint{IP: netip.MustParseAddr("2001:db8:2::1%eth0"), Port: 0},
					Flow: Flow{
						Protocol: 17, HasProtocol: true, Bytes: 512, Packets: 4,
						Start: time.Date(2026, 1, 2, 3, 4, 4, 0, time.UTC), End: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
						Version: 10, SourceID: 7,
					},
				}
				e.AddIP("source_ipv6_address", e.Src.IP)
				e.AddUint("octet_delta_count", 512)
				return e
			},
			want: map[string]any{
				"@timestamp":                     "2026-01-02T03:04:05Z",
				"event.created":                  nil,
				"event.duration":                 1e9,
				"destination.ip":                 "2001:db8:2::1",
				"destination.port":               0.0,
				"source.port":                    53.0,
				"network.transport":              "udp",
				"network.iana_number":            "17",
				"network.type":                   "ipv6",
				"observer.ip":                    "2001:db8::1",
				"netflow.exporter.version":       10.0,
				"netflow.exporter.uptime_millis": nil,
				"netflow.source_ipv6_address":    "2001:db8:1::53",
			},
		},
		{
			name: "icmp_no_ports",
			event: func() *Event {
				return &Event{
					Kind:      KindFlow,
					Timestamp: t0,
					Observer:  exp4,
					Src:       Endpoint{IP: netip.MustParseAddr("192.168.0.89")},
					Dst:       Endpoint{IP: netip.MustParseAddr("192.168.0.1"), Port: 8 << 8},
					Flow:      Flow{Protocol: 1, HasProtocol: true, Bytes: 84, Packets: 1, Version: 5, HasUptime: true},
				}
			},
			want: map[string]any{
				"source.port":          nil,
				"destination.port":     nil,
				"network.transport":    "icmp",
				"network.iana_number":  "1",
				"network.community_id": "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
				"event.start":          nil,
				"event.duration":       nil,
			},
		},
		{
			name: "icmp_type_code",
			event: func() *Event {
				return &Event{
					Kind:      KindFlow,
					Timestamp: t0,
					Observer:  exp4,
					Src:       Endpoint{IP: netip.MustParseAddr("192.168.0.89")},
					Dst:       Endpoint{IP: netip.MustParseAddr("192.168.0.1"), Port: 3<<8 | 3},
					Flow: Flow{Protocol: 1, HasProtocol: true, Bytes: 84, Packets: 1, Version: 5, HasUptime: true,
						ICMPType: 3, ICMPCode: 3, HasICMP: true},
				}
			},
			want: map[string]any{
				"destination.port":  nil,
				"network.transport": "icmp",
				"icmp.type":         3.0,
				"icmp.code":         3.0,
			},
		},
		{
			name: "zero_counts",
			event: func() *Event {
				return &Event{
					Kind:      KindFlow,
					Timestamp: t0,
					Observer:  exp4,
					Src:       Endpoint{IP: netip.MustParseAddr("192.168.0.89"), HasBytes: true, HasPackets: true},
					Dst:       Endpoint{IP: netip.MustParseAddr("192.168.0.1"), HasBytes: true},
					Flow:      Flow{Protocol: 17, HasProtocol: true, Version: 9, HasBytes: true, HasPackets: true},
				}
			},
			want: map[string]any{
				"source.bytes":        0.0,
				"source.packets":      0.0,
				"destination.bytes":   0.0,
				"destination.packets": nil,
				"network.bytes":       0.0,
				"network.packets":     0.0,
			},
		},
		{
			name: "unknown_protocol",
			event: func() *Event {
				return &Event{
					Kind:      KindFlow,
					Timestamp: t0,
					Src:       Endpoint{IP: netip.MustParseAddr("10.1.12.1")},
					Dst:       Endpoint{IP: netip.MustParseAddr("10.1.12.2")},
					Flow:      Flow{Protocol: 253, HasProtocol: true, Bytes: 100, Packets: 1},
				}
			},
			want: map[string]any{
				"network.transport":        nil,
				"network.iana_number":      "253",
				"source.port":              nil,
				"observer":                 nil,
				"netflow.exporter.address": nil,
				"netflow.exporter.version": nil,
			},
		},
		{
			name: "no_protocol_no_addresses",
			event: func() *Event {
				return &Event{Kind: KindFlow, Timestamp: t0, Flow: Flow{Version: 9}}
			},
			want: map[string]any{
				"source":      nil,
				"destination": nil,
				"network":     nil,
				"flow":        nil,
				"observer":    nil,
			},
		},
		{
			name: "sampled",
			event: func() *Event {
				e := typicalFlow()
				e.Flow.SamplingRate = 1000
				e.Flow.Bytes *= 1000
				e.Flow.Packets *= 1000
				e.AddUint("sampling_interval", 1000)
				return e
			},
			want: map[string]any{
				"netflow.sampling_rate":     1000.0,
				"netflow.sampling_interval": 1000.0,
				"network.bytes":             1234000.0,
			},
		},
		{
			name: "sflow",
			event: func() *Event {
				return &Event{
					Kind:      KindFlow,
					Timestamp: t0,
					Created:   t0,
					Observer:  netip.MustParseAddr("198.51.100.7"),
					Src:       Endpoint{IP: netip.MustParseAddr("10.0.0.5"), Port: 443, MAC: srcMAC, HasMAC: true},
					Dst:       Endpoint{IP: netip.MustParseAddr("10.0.0.6"), Port: 50000, MAC: dstMAC, HasMAC: true},
					Flow: Flow{Protocol: 6, HasProtocol: true, Bytes: 1500 * 512, Packets: 512, SamplingRate: 512,
						Version: 5, SourceID: 3, UptimeMillis: 42, HasUptime: true, SFlow: true},
				}
			},
			want: map[string]any{
				"netflow.type":             "sflow_flow",
				"netflow.sampling_rate":    512.0,
				"netflow.exporter.version": 5.0,
			},
		},
		{
			name: "tags",
			event: func() *Event {
				e := typicalFlow()
				e.NetFlow = nil
				e.Tags = TagGeoMiss | TagTimeFromReceive | 1<<30 // unknown bit is ignored
				return e
			},
			want: map[string]any{
				"tags": []any{"_geoip_lookup_failure", "_time_from_receive"},
			},
		},
		{
			name: "time_out_of_range",
			event: func() *Event {
				e := typicalFlow()
				e.NetFlow = nil
				e.OriginalTimestamp = time.Date(2100, 1, 1, 0, 0, 0, 123_456_789, time.UTC)
				e.Timestamp = e.Created
				e.Tags = TagTimeOutOfRange
				return e
			},
			want: map[string]any{
				"@timestamp":                "2026-11-24T03:22:10.623Z",
				"sluice.original_timestamp": "2100-01-01T00:00:00.123Z",
				"tags":                      []any{"_time_out_of_range"},
			},
		},
		{
			name: "syslog_time_out_of_range",
			event: func() *Event {
				e := &Event{
					Kind:              KindSyslog,
					Timestamp:         time.Date(2026, 3, 29, 2, 0, 0, 1_000_000, time.UTC),
					Created:           time.Date(2026, 3, 29, 2, 0, 0, 1_000_000, time.UTC),
					OriginalTimestamp: time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
					Observer:          netip.MustParseAddr("10.9.8.7"),
					Tags:              TagTimeOutOfRange,
					Syslog:            Syslog{AppName: "app", ProcID: "42", Message: "m"},
				}
				e.Src.IP = netip.MustParseAddr("10.0.0.1")
				return e
			},
			want: map[string]any{
				"@timestamp":                "2026-03-29T02:00:00.001Z",
				"sluice.original_timestamp": "9999-12-31T23:59:59.999Z",
				"tags":                      []any{"_time_out_of_range"},
			},
		},
		{
			name: "escaping",
			event: func() *Event {
				e := typicalFlow()
				e.NetFlow = nil
				e.AddField(Field{Key: "quote", Type: FieldString, S: `say "hi" \ bye`})
				e.AddField(Field{Key: "control", Type: FieldString, S: "a\x00b\x01c\td\ne\rf\x1f\x7f"})
				e.AddField(Field{Key: "invalid_utf8", Type: FieldString, S: "ok\xff\xfe mid \xc3( end\xe2\x82"})
				e.AddField(Field{Key: "unicode", Type: FieldString, S: "Grüße \u2028 \U0001F600 </script>"})
				e.AddField(Field{Key: "ke\"y\\\x01\xff", Type: FieldString, S: "weird key"})
				e.AddField(Field{Key: "quote", Type: FieldString, S: "duplicate key, dropped"})
				e.AddField(Field{Key: "type", Type: FieldString, S: "reserved key, dropped"})
				e.AddField(Field{Key: "bad_ip", Type: FieldIP})
				e.AddField(Field{Key: "bad_type", Type: FieldType(200), U: 1})
				e.AddField(Field{Key: "", Type: FieldString, S: "empty key"})
				e.AddField(Field{Key: "later_ip", Type: FieldIP})
				e.AddField(Field{Key: "later_ip", Type: FieldIP, IP: netip.MustParseAddr("192.0.2.9")})
				return e
			},
			want: map[string]any{
				"netflow.quote":        `say "hi" \ bye`,
				"netflow.control":      "a\x00b\x01c\td\ne\rf\x1f\x7f",
				"netflow.invalid_utf8": "ok\ufffd\ufffd mid \ufffd( end\ufffd\ufffd",
				"netflow.unicode":      "Grüße \u2028 \U0001F600 </script>",
				"netflow.type":         "netflow_flow",
				"netflow.bad_ip":       nil,
				"netflow.bad_type":     nil,
				"netflow.later_ip":     "192.0.2.9",
			},
		},
		{
			name: "nan_float",
			event: func() *Event {
				e := &Event{Kind: KindFlow, Timestamp: t0}
				e.AddField(Field{Key: "nan", Type: FieldFloat, U: nanBits})
				e.AddField(Field{Key: "pos_inf", Type: FieldFloat, U: math.Float64bits(math.Inf(1))})
				e.AddField(Field{Key: "neg_inf", Type: FieldFloat, U: math.Float64bits(math.Inf(-1))})
				e.AddField(Field{Key: "tiny", Type: FieldFloat, U: math.Float64bits(1e-7)})
				e.AddField(Field{Key: "huge", Type: FieldFloat, U: math.Float64bits(-1e21)})
				e.AddField(Field{Key: "zero", Type: FieldFloat, U: 0})
				e.AddField(Field{Key: "neg_zero", Type: FieldFloat, U: math.Float64bits(math.Copysign(0, -1))})
				return e
			},
			want: map[string]any{
				"netflow.nan":     nil, // present as null; see the golden file
				"netflow.pos_inf": nil,
				"netflow.tiny":    1e-7,
				"netflow.huge":    -1e21,
				"netflow.zero":    0.0,
			},
		},
		{
			name: "syslog_minimal",
			event: func() *Event {
				return &Event{
					Kind:      KindSyslog,
					Timestamp: time.Date(2026, 3, 29, 1, 59, 59, 999_999_999, time.UTC),
					Created:   time.Date(2026, 3, 29, 2, 0, 0, 1_000_000, time.FixedZone("CEST", 2*3600)),
					Observer:  netip.MustParseAddr("10.9.8.7"),
					Tags:      TagHeaderFailure,
				}
			},
			want: map[string]any{
				"@timestamp":    "2026-03-29T01:59:59.999Z",
				"event.created": "2026-03-29T00:00:00.001Z",
				"event.kind":    "event",
				"log":           nil, // no priority
				"observer.ip":   "10.9.8.7",
				"tags":          []any{"_syslogheaderfailure"},
				"netflow":       nil,
			},
		},
		{
			name: "unknown_kind_empty",
			event: func() *Event {
				return &Event{}
			},
			want: map[string]any{
				"@timestamp":  nil,
				"event":       nil,
				"ecs.version": ECSVersion,
			},
		},
	}
}

func TestAppendJSONGolden(t *testing.T) {
	for _, tc := range jsonCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.event().AppendJSON(nil)
			if !json.Valid(got) {
				t.Fatalf("AppendJSON() is not valid JSON:\n%s", got)
			}
			if bytes.ContainsAny(got, "\n\r") {
				t.Fatalf("AppendJSON() contains a raw newline:\n%s", got)
			}
			checkDuplicateKeys(t, got)

			path := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
				t.Errorf("AppendJSON() differs from %s (-want +got):\n%s", path, diff)
			}

			var doc map[string]any
			if err := json.Unmarshal(got, &doc); err != nil {
				t.Fatalf("json.Unmarshal(AppendJSON()): %v", err)
			}
			for p, w := range tc.want {
				v, ok := lookup(doc, p)
				if w == nil {
					if ok && v != nil {
						t.Errorf("%s = %#v, want absent or null", p, v)
					}
					continue
				}
				if !ok {
					t.Errorf("%s is absent, want %#v", p, w)
					continue
				}
				if diff := cmp.Diff(w, v); diff != "" {
					t.Errorf("%s (-want +got):\n%s", p, diff)
				}
			}
		})
	}
}

// lookup returns the value at a dotted path; keys containing dots are not
// supported.
func lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// checkDuplicateKeys fails when any object in doc repeats a key, which
// Elasticsearch rejects.
func checkDuplicateKeys(t *testing.T, doc []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{obj: v == '{', keys: map[string]bool{}, expect: v == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.obj && top.expect {
				if top.keys[v] {
					t.Fatalf("duplicate key %q in %s", v, doc)
				}
				top.keys[v] = true
				top.expect = false
				continue
			}
			if top != nil && top.obj {
				top.expect = true
			}
		default:
			if top != nil && top.obj {
				top.expect = true
			}
		}
	}
}

// A rendered Geo encodes as an unrendered one, in every position.
func TestGeoRender(t *testing.T) {
	for _, g := range []Geo{
		{CountryISO: "SE", CountryName: "Sweden \"x\"", ContinentCode: "EU", RegionISO: "SE-AB", RegionName: "Stockholm",
			CityName: "Stockholm", Lat: 59.3294, Lon: -18.0686, HasLocation: true, ASN: 64500, ASOrg: "Example AB"},
		{ASN: 1},
		{CountryISO: "DE"},
		{ASOrg: "only an org"},
		{},
	} {
		for _, ep := range []Endpoint{{IP: netip.MustParseAddr("192.0.2.1")}, {}} {
			plain, rendered := g, g
			rendered.Render()
			e1, e2 := typicalFlow(), typicalFlow()
			e1.Src, e2.Src = ep, ep
			e1.Src.Geo, e2.Src.Geo = &plain, &rendered
			e1.Dst.Geo, e2.Dst.Geo = &plain, &rendered
			want, got := e1.AppendJSON(nil), e2.AppendJSON(nil)
			if !bytes.Equal(got, want) {
				t.Errorf("rendered Geo %+v:\n got %s\nwant %s", g, got, want)
			}
			if !json.Valid(got) {
				t.Errorf("invalid JSON: %s", got)
			}
		}
	}
}

func TestAppendJSONAppends(t *testing.T) {
	e := typicalFlow()
	prefix := []byte("prefix ")
	got := e.AppendJSON(prefix)
	if !bytes.HasPrefix(got, prefix) || !json.Valid(got[len(prefix):]) {
		t.Fatalf("AppendJSON(prefix) = %q, want prefix kept and JSON after it", got)
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	e := typicalFlow()
	e.Tags = TagGeoMiss
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(200, func() { buf = e.AppendJSON(buf[:0]) }); n != 0 {
		t.Fatalf("AppendJSON allocates %.1f times per event, want 0", n)
	}
}

func TestAppendTime(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 24, 3, 22, 9, 123_999_999, time.UTC), `"2026-11-24T03:22:09.123Z"`},
		{time.Date(2026, 11, 24, 3, 22, 9, 0, time.UTC), `"2026-11-24T03:22:09Z"`},
		{time.Date(2026, 11, 24, 3, 22, 9, 999_999, time.UTC), `"2026-11-24T03:22:09Z"`},
		{time.Date(2027, 1, 1, 0, 30, 0, 5_000_000, berlin), `"2026-12-31T23:30:00.005Z"`},
		{time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), `"2024-02-29T23:59:59Z"`},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), `"1970-01-01T00:00:00Z"`},
		{time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), `"1969-12-31T23:59:59.500Z"`},
		{time.Date(1600, 3, 1, 0, 0, 0, 0, time.UTC), `"1600-03-01T00:00:00Z"`},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `"9999-12-31T23:59:59.999Z"`},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), `"0000-01-01T00:00:00Z"`},
	} {
		if got := string(appendTime(nil, tc.t)); got != tc.want {
			t.Errorf("appendTime(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
	// Cross-check against time.Format over a wide range of days.
	// Day -719162 is 0001-01-01, day 2932896 is 9999-12-31.
	for d := int64(-719162); d <= 2932896; d += 97 {
		tm := time.Unix(d*86400+(d*7919)%86400+86400, 0).UTC()
		if tm.Year() > 9999 {
			break
		}
		want := `"` + tm.Format("2006-01-02T15:04:05Z") + `"`
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "\"\\/", "\x00\x1f\x7f", "\xff", "a\xc3", "€", "\xed\xa0\x80", "\u2028\u2029", "<>&"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendString(%q) = %s: %v", s, got, err)
		}
		// Each invalid byte becomes one U+FFFD, as encoding/json does.
		var want strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r)
			i += n
		}
		if back != want.String() {
			t.Errorf("appendString(%q) decodes to %q, want %q", s, back, want.String())
		}
		if std, _ := json.Marshal(s); !bytes.Equal(got, std) && !strings.ContainsAny(s, "<>&\u2028\u2029") {
			t.Errorf("appendString(%q) = %s, encoding/json writes %s", s, got, std)
		}
	}
}

func TestFNV1a128MatchesHashFNV(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("a"), []byte("foobar"), bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 30)} {
		h := fnv.New128a()
		h.Write(in)
		want := h.Sum(nil)
		got := fnv1a128(in)
		if !bytes.Equal(got[:], want) {
			t.Errorf("fnv1a128(%x) = %x, want %x", in, got, want)
		}
	}
}

func TestFlowIDStableAndDistinct(t *testing.T) {
	a := typicalFlow()
	id := string(a.appendFlowID(nil))
	if len(id) != 16 {
		t.Fatalf("flow id %q has length %d, want 16", id, len(id))
	}
	if again := string(typicalFlow().appendFlowID(nil)); again != id {
		t.Fatalf("flow id not deterministic: %q then %q", id, again)
	}
	b := typicalFlow()
	b.Flow.Start = b.Flow.Start.Add(time.Millisecond)
	c := typicalFlow()
	c.Src.Port++
	d := typicalFlow()
	d.Flow.SourceID++
	for name, e := range map[string]*Event{"start": b, "sport": c, "source id": d} {
		if other := string(e.appendFlowID(nil)); other == id {
			t.Errorf("flow id unchanged when %s changes: %q", name, id)
		}
	}
}

// benchAppendJSON measures encoding e repeatedly into one reused buffer.
func benchAppendJSON(b *testing.B, e *Event) {
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
		n++
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppendJSON(b *testing.B) {
	benchAppendJSON(b, typicalFlow())
}

func BenchmarkAppendJSONNoCommunityID(b *testing.B) {
	e := typicalFlow()
	e.Flow.HasProtocol = false
	benchAppendJSON(b, e)
}

func BenchmarkEncodingJSONMap(b *testing.B) {
	// Reference point only: the same document through a map and encoding/json.
	var doc map[string]any
	if err := json.Unmarshal(typicalFlow().AppendJSON(nil), &doc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := json.Marshal(doc); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func TestFirstSpecial(t *testing.T) {
	naive := func(s string) int {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				return i
			}
		}
		return len(s)
	}
	plainASCII8 := func(s string) int { return firstSpecial(binary.LittleEndian.Uint64([]byte(s))) }
	var b [8]byte
	// Every byte value in every position, against a plain background.
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			copy(b[:], "abcdefgh")
			b[pos] = byte(c)
			if got, want := plainASCII8(string(b[:])), naive(string(b[:])); got != want {
				t.Fatalf("firstSpecial(%q) = %v, want %v", b, got, want)
			}
		}
	}
	// Pseudo-random words.
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < 200000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for j := range b {
			b[j] = byte(x >> (8 * j))
		}
		if got, want := plainASCII8(string(b[:])), naive(string(b[:])); got != want {
			t.Fatalf("firstSpecial(%q) = %v, want %v", b, got, want)
		}
	}
}

func TestAppendJSONManyFieldsDeduplicated(t *testing.T) {
	e := &Event{Kind: KindFlow, Timestamp: t0}
	for i := 0; i < 200; i++ {
		e.AddUint("k"+strconv.Itoa(i%150), uint64(i))
	}
	e.AddField(Field{Key: "bad\xff", Type: FieldString, S: "first"})
	e.AddField(Field{Key: "bad\xfe", Type: FieldString, S: "same encoded key"})
	e.AddField(Field{Key: "bad\ufffd", Type: FieldString, S: "same encoded key too"})
	got := e.AppendJSON(nil)
	checkDuplicateKeys(t, got)
	var doc struct {
		Netflow map[string]any `json:"netflow"`
	}
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	// 150 distinct k keys, one bad key, type and exporter.
	if len(doc.Netflow) != 150+1+2 {
		t.Fatalf("netflow has %d keys, want 153", len(doc.Netflow))
	}
	if doc.Netflow["k149"] != 149.0 || doc.Netflow["k0"] != 0.0 || doc.Netflow["bad\ufffd"] != "first" {
		t.Fatalf("first occurrence must win: k149=%v k0=%v bad=%v", doc.Netflow["k149"], doc.Netflow["k0"], doc.Netflow["bad\ufffd"])
	}
}

// The KeysChecked fast path must write exactly what the checked path writes
// for events whose keys really are unique and plain.
func TestAppendJSONKeysCheckedSameOutput(t *testing.T) {
	for _, tc := range jsonCases() {
		e := tc.event()
		keys := map[string]bool{}
		plain := true
		for _, f := range e.NetFlow {
			if keys[f.Key] || f.Key == "type" || f.Key == "sampling_rate" || f.Key == "exporter" || !plainKey(f.Key) {
				plain = false
			}
			keys[f.Key] = true
		}
		if !plain || e.KeysChecked {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			slow := string(e.AppendJSON(nil))
			e.KeysChecked = true
			fast := string(e.AppendJSON(nil))
			e.KeysChecked = false
			if slow != fast {
				t.Errorf("AppendJSON with KeysChecked differs:\nchecked: %s\nfast:    %s", slow, fast)
			}
		})
	}
}

func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e || k[i] == '"' || k[i] == '\\' {
			return false
		}
	}
	return k != ""
}

// BenchmarkAppendJSONKeysChecked is the flow as the NetFlow decoder hands it
// over (keys from its static table, KeysChecked set).
func BenchmarkAppendJSONKeysChecked(b *testing.B) {
	e := typicalFlow()
	e.KeysChecked = true
	benchAppendJSON(b, e)
}

// BenchmarkAppendString escapes the messages of the syslog benchmark mix:
// plain text (Meraki, netfilter) and key="value" text with quotes (F5).
func BenchmarkAppendString(b *testing.B) {
	for _, tc := range []struct{ name, s string }{
		{"plain", "[1715634.194782] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:1b:21:aa:bb:cc:08:00 SRC=198.51.100.9 DST=192.0.2.20 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=3851 DF PROTO=TCP SPT=44308 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0"},
		{"quoted", strings.Repeat(`attack_type="Cross Site Scripting (XSS)",date_time="2026-11-22 08:01:04",dest_ip="10.1.2.3",`, 3)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.SetBytes(int64(len(tc.s)))
			for b.Loop() {
				buf = appendString(buf[:0], tc.s)
			}
		})
	}
}

// Every kind of byte that needs care, at every position of strings long
// enough for the eight- and sixteen-byte scans, decodes back to the input.
func TestAppendStringPositions(t *testing.T) {
	for _, special := range []string{`"`, `\`, "\n", "\x01", "\x1f", "\xff", "é", "\u2028", "€"} {
		for n := 0; n <= 40; n++ {
			for p := 0; p <= n; p++ {
				s := strings.Repeat("a", p) + special + strings.Repeat("b", n-p) + special
				got := appendString(nil, s)
				var back string
				if err := json.Unmarshal(got, &back); err != nil {
					t.Fatalf("appendString(%q) = %s: %v", s, got, err)
				}
				var want strings.Builder // each invalid byte is one U+FFFD
				for i := 0; i < len(s); {
					r, n := utf8.DecodeRuneInString(s[i:])
					want.WriteRune(r)
					i += n
				}
				if back != want.String() {
					t.Fatalf("appendString(%q) decodes to %q, want %q", s, back, want.String())
				}
			}
		}
	}
}
