package sflow

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

var (
	received = time.Date(2026, 8, 22, 10, 30, 0, 0, time.UTC)
	sender   = netip.MustParseAddrPort("192.0.2.200:6343")
)

var eventCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.SortSlices(func(a, b event.Field) bool { return a.Key < b.Key }),
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreUnexported(event.Event{}), // the encoder's layout, not part of what a decoder gives
}

func newTestDecoder(t testing.TB) (*Decoder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := New(Default(), nil, reg)
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	return d, reg
}

func decode(t *testing.T, d *Decoder, data []byte) ([]event.Event, error) {
	t.Helper()
	b := event.NewBatch()
	t.Cleanup(b.Release)
	err := d.Decode(&collector.Packet{Data: data, Src: sender, Received: received}, b)
	return b.All(), err
}

func u(key string, v uint64) event.Field { return event.Field{Key: key, Type: event.FieldUint, U: v} }
func ip(key string, a netip.Addr) event.Field {
	return event.Field{Key: key, Type: event.FieldIP, IP: a}
}
func mac(key string, m [6]byte) event.Field {
	return event.Field{Key: key, Type: event.FieldMAC, B: m[:]}
}

// flowEvent is the event every sample of the test datagrams shares; tests
// override what differs.
func flowEvent(observer netip.Addr, rate, frameLen uint64, fields ...event.Field) event.Event {
	return event.Event{
		Kind:      event.KindFlow,
		Timestamp: received,
		Created:   received,
		Observer:  observer,
		Src:       event.Endpoint{Bytes: frameLen * rate, Packets: rate},
		Flow: event.Flow{
			Bytes: frameLen * rate, Packets: rate, SamplingRate: rate,
			Version: 5, SFlow: true, HasUptime: true,
		},
		NetFlow: fields,
	}
}

// reasons returns the DecodeError reasons of err and checks each is one.
func reasons(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var de *collector.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Decode() error %T %v is not a *collector.DecodeError", err, err)
	}
	return collector.Reasons(err)
}

func TestDecode(t *testing.T) {
	gw := netip.MustParseAddr("192.0.2.254")
	nh := netip.MustParseAddr("192.0.2.253")

	tcpEvent := func() event.Event {
		e := flowEvent(agent4, 512, 1518,
			u(keyInBytes, 1518), u(keyInPkts, 1), u(keyProtocol, 6), u(keyClassOfService, 0x28), u(keyTTL, 63),
			ip(keySrcIPv4, hostA), ip(keyDstIPv4, hostB), u(keySrcPort, 443), u(keyDstPort, 51000),
			u(keyTCPFlags, 0x12), u(keyIngressInterface, 7), u(keyEgressInterface, 9),
			mac(keySrcMAC, macA), mac(keyDstMAC, macB), u(keySamplingInterval, 512))
		e.Src.IP, e.Src.Port, e.Src.MAC, e.Src.HasMAC = hostA, 443, macA, true
		e.Dst.IP, e.Dst.Port, e.Dst.MAC, e.Dst.HasMAC = hostB, 51000, macB, true
		e.Flow.Protocol, e.Flow.HasProtocol = 6, true
		e.Flow.SourceID, e.Flow.UptimeMillis = 3, 123456
		return e
	}

	udp6Frame := ethernet(macA, macB, nil, etherIPv6,
		ipv6(protoUDP, 0xb8, 64, host6A, host6B, udp(5353, 53, []byte("query"))))

	vlanFrame := ethernet(macB, macA, []uint32{etherVLAN<<16 | 3<<13 | 42}, etherIPv4,
		ipv4(protoUDP, 0, 64, hostA, hostB, udp(40000, 514, []byte("<13>hi"))))
	qinqFrame := ethernet(macB, macA, []uint32{etherQinQ<<16 | 100, etherVLAN<<16 | 200}, etherIPv4,
		ipv4(protoUDP, 0, 64, hostA, hostB, udp(40000, 514, []byte("<13>hi"))))
	vlanEvent := func(fields ...event.Field) event.Event {
		e := flowEvent(agent4, 1, 64, append([]event.Field{
			u(keyInBytes, 64), u(keyInPkts, 1), u(keyProtocol, 17), u(keyClassOfService, 0), u(keyTTL, 64),
			ip(keySrcIPv4, hostA), ip(keyDstIPv4, hostB), u(keySrcPort, 40000), u(keyDstPort, 514),
			u(keyIngressInterface, 1), u(keyEgressInterface, 2),
			mac(keySrcMAC, macA), mac(keyDstMAC, macB), u(keySamplingInterval, 1)}, fields...)...)
		e.Src.IP, e.Src.Port, e.Src.MAC, e.Src.HasMAC = hostA, 40000, macA, true
		e.Dst.IP, e.Dst.Port, e.Dst.MAC, e.Dst.HasMAC = hostB, 514, macB, true
		e.Flow.Protocol, e.Flow.HasProtocol = 17, true
		return e
	}

	tests := []struct {
		name    string
		data    []byte
		want    []event.Event
		reasons []string
	}{
		{
			name: "ipv4 agent, ethernet tcp",
			data: simpleDatagram(),
			want: []event.Event{tcpEvent()},
		},
		{
			name: "expanded flow sample with switch, router and gateway",
			data: sfDatagram(agent4, 3, 1, 123456,
				expandedFlowSample(10, 0, 7, 512, 5120, 0, 0, 7, 0, 9,
					rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame()),
					switchRecord(10, 0, 20, 0),
					routerRecord(nh, 24, 16),
					gatewayRecord(gw, 64500, 64496, 64497, []uint32{64510, 64511, 65000}, []uint32{64500<<16 | 1}, 100))),
			want: func() []event.Event {
				e := tcpEvent()
				e.NetFlow = append(e.NetFlow,
					u(keyVLAN, 10), u(keyPostVLAN, 20),
					ip(keyNextHopIPv4, nh), u(keySrcPrefixIPv4, 24), u(keyDstPrefixIPv4, 16),
					ip(keyBGPNextHopIPv4, gw), u(keyBGPSrcAS, 64496), u(keyBGPDstAS, 65000),
					u(keyBGPNextAdjacentAS, 64510), u(keyBGPPrevAdjacentAS, 64497))
				return []event.Event{e}
			}(),
		},
		{
			name: "gateway without path or source AS uses the router's AS",
			data: sfDatagram(agent4, 3, 1, 123456,
				compactFlowSample(10, 7, 512, 5120, 0, 7, 9,
					rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame()),
					gatewayRecord(gw, 64500, 0, 0, nil, nil, 100))),
			want: func() []event.Event {
				e := tcpEvent()
				e.NetFlow = append(e.NetFlow, ip(keyBGPNextHopIPv4, gw), u(keyBGPSrcAS, 64500), u(keyBGPDstAS, 64500))
				return []event.Event{e}
			}(),
		},
		{
			name: "ipv6 agent, ethernet ipv6 udp",
			data: sfDatagram(agent6, 0, 9, 5000,
				compactFlowSample(1, 3, 2048, 2048, 0, 3, 1<<30|5, // output discarded
					rawHeaderRecord(headerEthernet, 90, 4, udp6Frame),
					routerRecord(netip.MustParseAddr("2001:db8::1"), 48, 56))),
			want: func() []event.Event {
				e := flowEvent(agent6, 2048, 90,
					u(keyInBytes, 90), u(keyInPkts, 1), u(keyProtocol, 17), u(keyClassOfService, 0xb8), u(keyTTL, 64),
					ip(keySrcIPv6, host6A), ip(keyDstIPv6, host6B), u(keySrcPort, 5353), u(keyDstPort, 53),
					u(keyIngressInterface, 3), u(keyForwardingStatus, 0x80),
					mac(keySrcMAC, macB), mac(keyDstMAC, macA),
					ip(keyNextHopIPv6, netip.MustParseAddr("2001:db8::1")), u(keySrcPrefixIPv6, 48), u(keyDstPrefixIPv6, 56),
					u(keySamplingInterval, 2048))
				e.Src.IP, e.Src.Port, e.Src.MAC, e.Src.HasMAC = host6A, 5353, macB, true
				e.Dst.IP, e.Dst.Port, e.Dst.MAC, e.Dst.HasMAC = host6B, 53, macA, true
				e.Flow.Protocol, e.Flow.HasProtocol, e.Flow.UptimeMillis = 17, true, 5000
				return []event.Event{e}
			}(),
		},
		{
			name: "802.1Q tag",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 64, 0, vlanFrame))),
			want: []event.Event{vlanEvent(u(keyVLAN, 42))},
		},
		{
			name: "QinQ tags",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 64, 0, qinqFrame))),
			want: []event.Event{vlanEvent(u(keyVLAN, 100), u(keyCustomerVLAN, 200))},
		},
		{
			name: "extended switch VLAN wins over the frame's tag",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 64, 0, vlanFrame), switchRecord(43, 0, 44, 0))),
			want: []event.Event{vlanEvent(u(keyVLAN, 43), u(keyPostVLAN, 44))},
		},
		{
			name: "extended switch VLAN 0 leaves the frame's tag",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 64, 0, vlanFrame), switchRecord(0, 0, 0, 0))),
			want: []event.Event{vlanEvent(u(keyVLAN, 42))},
		},
		{
			name: "raw IPv4 header protocol, icmp, internal interfaces",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 10, 10, 0, ifIndexInternal, ifIndexInternal,
					rawHeaderRecord(headerIPv4, 84, 0, ipv4(protoICMP, 0, 255, hostB, hostA, []byte{3, 3, 0, 0})))),
			want: func() []event.Event {
				e := flowEvent(agent4, 10, 84,
					u(keyInBytes, 84), u(keyInPkts, 1), u(keyProtocol, 1), u(keyClassOfService, 0), u(keyTTL, 255),
					ip(keySrcIPv4, hostB), ip(keyDstIPv4, hostA), u(keyICMPv4, 3<<8|3), u(keySamplingInterval, 10))
				e.Src.IP, e.Dst.IP, e.Dst.Port = hostB, hostA, 3<<8|3
				e.Flow.ICMPType, e.Flow.ICMPCode, e.Flow.HasICMP = 3, 3, true
				e.Flow.Protocol, e.Flow.HasProtocol = 1, true
				return []event.Event{e}
			}(),
		},
		{
			name: "sampled_ipv4 record without a header",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 100, 100, 0, 1, 2,
					sampledIPv4Record(1500, protoTCP, hostA, hostB, 80, 40000, 0x18, 0x10))),
			want: func() []event.Event {
				e := flowEvent(agent4, 100, 1500,
					u(keyInBytes, 1500), u(keyInPkts, 1), u(keyProtocol, 6), u(keyClassOfService, 0x10),
					ip(keySrcIPv4, hostA), ip(keyDstIPv4, hostB), u(keySrcPort, 80), u(keyDstPort, 40000),
					u(keyTCPFlags, 0x18), u(keyIngressInterface, 1), u(keyEgressInterface, 2), u(keySamplingInterval, 100))
				e.Src.IP, e.Src.Port, e.Dst.IP, e.Dst.Port = hostA, 80, hostB, 40000
				e.Flow.Protocol, e.Flow.HasProtocol = 6, true
				return []event.Event{e}
			}(),
		},
		{
			name: "header cut inside TCP is tagged truncated",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 1514, 0, tcpFrame()[:14+20+6]))),
			want: func() []event.Event {
				e := flowEvent(agent4, 1, 1514,
					u(keyInBytes, 1514), u(keyInPkts, 1), u(keyProtocol, 6), u(keyClassOfService, 0x28), u(keyTTL, 63),
					ip(keySrcIPv4, hostA), ip(keyDstIPv4, hostB), u(keySrcPort, 443), u(keyDstPort, 51000),
					u(keyIngressInterface, 1), u(keyEgressInterface, 2),
					mac(keySrcMAC, macA), mac(keyDstMAC, macB), u(keySamplingInterval, 1))
				e.Src.IP, e.Src.Port, e.Src.MAC, e.Src.HasMAC = hostA, 443, macA, true
				e.Dst.IP, e.Dst.Port, e.Dst.MAC, e.Dst.HasMAC = hostB, 51000, macB, true
				e.Flow.Protocol, e.Flow.HasProtocol = 6, true
				e.Tags = event.TagTruncated
				return []event.Event{e}
			}(),
		},
		{
			name: "unsupported header protocol still counts the traffic",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 4, 4, 0, 1, 2, rawHeaderRecord(2 /* token bus */, 100, 0, []byte{1, 2, 3, 4}))),
			want: []event.Event{flowEvent(agent4, 4, 100,
				u(keyInBytes, 100), u(keyInPkts, 1), u(keyIngressInterface, 1), u(keyEgressInterface, 2), u(keySamplingInterval, 4))},
		},
		{
			name: "unspecified agent address falls back to the sender",
			data: sfDatagram(netip.IPv4Unspecified(), 0, 1, 0,
				compactFlowSample(1, 1, 4, 4, 0, 1, 2, rawHeaderRecord(2, 100, 0, nil))),
			want: []event.Event{flowEvent(sender.Addr(), 4, 100,
				u(keyInBytes, 100), u(keyInPkts, 1), u(keyIngressInterface, 1), u(keyEgressInterface, 2), u(keySamplingInterval, 4))},
		},
		{
			name: "sampling rate 0 counts the packet once",
			data: sfDatagram(agent4, 0, 1, 0,
				compactFlowSample(1, 1, 0, 0, 0, 1, 2, rawHeaderRecord(2, 100, 0, nil))),
			want: func() []event.Event {
				e := flowEvent(agent4, 1, 100,
					u(keyInBytes, 100), u(keyInPkts, 1), u(keyIngressInterface, 1), u(keyEgressInterface, 2), u(keySamplingInterval, 0))
				e.Flow.SamplingRate = 0
				return []event.Event{e}
			}(),
		},
		{
			name: "counter samples only",
			data: sfDatagram(agent4, 0, 1, 0, counterSample(false, 1, 7, ifCountersRecord(7, 1, 2)), counterSample(true, 2, 8, ifCountersRecord(8, 1, 2))),
		},
		{
			name: "flow, counter, flow",
			data: sfDatagram(agent4, 3, 1, 123456,
				compactFlowSample(10, 7, 512, 5120, 0, 7, 9, rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame())),
				counterSample(false, 1, 7, ifCountersRecord(7, 1, 2)),
				compactFlowSample(11, 7, 512, 5632, 0, 7, 9, rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame()))),
			want: []event.Event{tcpEvent(), tcpEvent()},
		},
		{
			name:    "datagram cut inside the second sample keeps the first",
			data:    func() []byte { d := mixedDatagram(2); return d[:len(d)-200] }(),
			want:    nil, // set below: built from the same frames
			reasons: []string{ReasonTruncated},
		},
		{
			name:    "bad record in the second sample keeps the first",
			data:    nil, // set below
			reasons: []string{ReasonDecode},
		},
		{
			name:    "empty datagram",
			data:    []byte{},
			reasons: []string{ReasonTruncated},
		},
		{
			name:    "cut inside the datagram header",
			data:    simpleDatagram()[:20],
			reasons: []string{ReasonTruncated},
		},
		{
			name:    "sFlow v4",
			data:    append(be32(nil, 4), simpleDatagram()[4:]...),
			reasons: []string{ReasonBadVersion},
		},
		{
			name:    "unknown agent address type",
			data:    be32(nil, 5, 3, 0, 0, 0, 0),
			reasons: []string{ReasonDecode},
		},
	}

	// Cases whose expectations reuse other builders.
	for i := range tests {
		switch tests[i].name {
		case "datagram cut inside the second sample keeps the first":
			e := flowEvent(agent4, 1024, 1514,
				u(keyInBytes, 1514), u(keyInPkts, 1), u(keyProtocol, 6), u(keyClassOfService, 0x28), u(keyTTL, 63),
				ip(keySrcIPv4, hostA), ip(keyDstIPv4, hostB), u(keySrcPort, 443), u(keyDstPort, 51000),
				u(keyTCPFlags, 0x12), u(keyIngressInterface, 7), u(keyEgressInterface, 9),
				mac(keySrcMAC, macA), mac(keyDstMAC, macB), u(keyVLAN, 10), u(keyPostVLAN, 20), u(keySamplingInterval, 1024))
			e.Src.IP, e.Src.Port, e.Src.MAC, e.Src.HasMAC = hostA, 443, macA, true
			e.Dst.IP, e.Dst.Port, e.Dst.MAC, e.Dst.HasMAC = hostB, 51000, macB, true
			e.Flow.Protocol, e.Flow.HasProtocol, e.Flow.UptimeMillis = 6, true, 1000
			tests[i].want = []event.Event{e}
		case "bad record in the second sample keeps the first":
			badGateway := tlv(1003, be32(xdrAddr(nil, gw), 1, 2, 3, 1, 2, 5000)) // AS path of 5000 entries
			tests[i].data = sfDatagram(agent4, 3, 1, 123456,
				compactFlowSample(10, 7, 512, 5120, 0, 7, 9, rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame())),
				compactFlowSample(11, 7, 512, 5632, 0, 7, 9, rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame()), badGateway))
			tests[i].want = []event.Event{tcpEvent()}
		}
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDecoder(t)
			got, err := decode(t, d, tc.data)
			if diff := cmp.Diff(tc.reasons, reasons(t, err), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Decode() error reasons (-got +want):\n%s\nerr: %v", diff, err)
			}
			if diff := cmp.Diff(tc.want, got, eventCmp); diff != "" {
				t.Errorf("Decode() events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeDropped(t *testing.T) {
	d, _ := newTestDecoder(t)
	full := mixedDatagram(3)                     // 3 flow samples + 1 counter sample
	_, err := decode(t, d, full[:len(full)-150]) // the counter sample (116 bytes) and the end of the last flow sample (144)
	var de *collector.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Decode() error = %v, want a *collector.DecodeError", err)
	}
	if de.Reason != ReasonTruncated || de.Dropped != 2 {
		t.Errorf("Decode() error = %q dropped %d, want %q dropped 2", de.Reason, de.Dropped, ReasonTruncated)
	}
}

func TestDecodeMissingRecords(t *testing.T) {
	// The sample declares two records but carries one: the event is kept and tagged.
	s := compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 1514, 0, tcpFrame()))
	body := s[8:]
	body[7*4+3] = 2 // flow record count
	d, _ := newTestDecoder(t)
	got, err := decode(t, d, sfDatagram(agent4, 0, 1, 0, s))
	if err != nil {
		t.Fatalf("Decode() error: %v", err)
	}
	if len(got) != 1 || !got[0].Tags.Has(event.TagTruncated) {
		t.Fatalf("Decode() = %d events, tags %v; want 1 event tagged truncated", len(got), got[0].Tags)
	}
}

func TestDecodeExpandedRecordLimit(t *testing.T) {
	// goflow2 would allocate 2^32-1 records for this sample; Decode must refuse
	// it and keep the sample before it.
	huge := expandedFlowSample(2, 0, 7, 1, 1, 0, 0, 1, 0, 2)
	binary := huge[8:]
	copy(binary[40:44], []byte{0xff, 0xff, 0xff, 0xff})
	data := sfDatagram(agent4, 0, 1, 0,
		compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 1514, 0, tcpFrame())),
		huge,
		compactFlowSample(3, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 1514, 0, tcpFrame())))
	d, _ := newTestDecoder(t)
	got, err := decode(t, d, data)
	var de *collector.DecodeError
	if !errors.As(err, &de) || de.Reason != ReasonDecode || de.Dropped != 2 {
		t.Fatalf("Decode() error = %v, want reason %q with 2 dropped", err, ReasonDecode)
	}
	if len(got) != 1 {
		t.Errorf("Decode() = %d events, want 1", len(got))
	}
}

func TestDecodePanic(t *testing.T) {
	d, _ := newTestDecoder(t)
	var logs bytes.Buffer
	d.logger = slogTo(&logs)
	d.decode = func(buf *bytes.Buffer, p *sflow.Packet) error { panic("boom") }
	b := event.NewBatch()
	defer b.Release()
	err := d.Decode(&collector.Packet{Data: simpleDatagram(), Src: sender, Received: received}, b)
	var de *collector.DecodeError
	if !errors.As(err, &de) || de.Reason != ReasonPanic {
		t.Fatalf("Decode() error = %v, want reason %q", err, ReasonPanic)
	}
	if b.Len() != 0 {
		t.Errorf("Decode() left %d events, want 0", b.Len())
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %q", logs.String())
	}
}

func TestDecodePanicMidEvent(t *testing.T) {
	// A panic while an event is half-built removes that event and keeps the
	// ones before it.
	d, _ := newTestDecoder(t)
	d.metrics.headers[headerUnsupported] = panicCounter{} // reached only by the second sample
	data := sfDatagram(agent4, 3, 1, 123456,
		compactFlowSample(10, 7, 512, 5120, 0, 7, 9, rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame())),
		compactFlowSample(11, 7, 512, 5120, 0, 7, 9, rawHeaderRecord(2, 1518, 4, nil)),
		compactFlowSample(12, 7, 512, 5120, 0, 7, 9, rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame())))
	b := event.NewBatch()
	defer b.Release()
	err := d.Decode(&collector.Packet{Data: data, Src: sender, Received: received}, b)
	var de *collector.DecodeError
	if !errors.As(err, &de) || de.Reason != ReasonPanic || de.Dropped != 2 {
		t.Fatalf("Decode() error = %v, want reason %q with 2 dropped", err, ReasonPanic)
	}
	if b.Len() != 1 || len(b.All()[0].NetFlow) == 0 {
		t.Errorf("Decode() kept %d events, want the first one", b.Len())
	}
}

// panicCounter is a prometheus.Counter that panics on use.
type panicCounter struct{ prometheus.Counter }

func (panicCounter) Inc() { panic("counter") }

func TestMetrics(t *testing.T) {
	d, reg := newTestDecoder(t)
	data := sfDatagram(agent4, 0, 1, 0,
		compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 1514, 0, tcpFrame())),
		expandedFlowSample(2, 0, 1, 1, 1, 0, 0, 1, 0, 2, rawHeaderRecord(9, 100, 0, nil)),
		expandedFlowSample(3, 0, 1, 1, 1, 0, 0, 1, 0, 2),
		counterSample(false, 1, 7, ifCountersRecord(7, 1, 2)),
		counterSample(true, 2, 7, ifCountersRecord(7, 1, 2)),
		counterSample(true, 3, 7, ifCountersRecord(7, 1, 2)))
	if _, err := decode(t, d, data); err != nil {
		t.Fatalf("Decode() error: %v", err)
	}
	want := `
# HELP sluice_sflow_counter_samples_total sFlow counter samples (standard and expanded) skipped: sluice only turns flow samples into events.
# TYPE sluice_sflow_counter_samples_total counter
sluice_sflow_counter_samples_total 3
# HELP sluice_sflow_samples_total sFlow samples decoded, by sample type.
# TYPE sluice_sflow_samples_total counter
sluice_sflow_samples_total{type="counter"} 1
sluice_sflow_samples_total{type="drop"} 0
sluice_sflow_samples_total{type="expanded_counter"} 2
sluice_sflow_samples_total{type="expanded_flow"} 2
sluice_sflow_samples_total{type="flow"} 1
# HELP sluice_sflow_sampled_headers_total Flow samples by how far their sampled packet header was parsed (parsed, truncated, unsupported, missing).
# TYPE sluice_sflow_sampled_headers_total counter
sluice_sflow_sampled_headers_total{result="missing"} 1
sluice_sflow_sampled_headers_total{result="parsed"} 1
sluice_sflow_sampled_headers_total{result="truncated"} 0
sluice_sflow_sampled_headers_total{result="unsupported"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestNewRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(Default(), nil, reg); err != nil {
		t.Fatalf("New() error: %v", err)
	}
	if _, err := New(Default(), nil, reg); err == nil {
		t.Error("New() twice on one registry: error = nil, want a duplicate registration error")
	}
	if _, err := New(Default(), nil, nil); err != nil {
		t.Errorf("New() with a nil registry: %v", err)
	}
}

func TestDecodeReusedBatch(t *testing.T) {
	// Events of a reset batch must not keep fields of an earlier datagram.
	d, _ := newTestDecoder(t)
	b := event.NewBatch()
	defer b.Release()
	p := &collector.Packet{Data: mixedDatagram(4), Src: sender, Received: received}
	if err := d.Decode(p, b); err != nil {
		t.Fatal(err)
	}
	first := make([]int, b.Len())
	for i, e := range b.All() {
		first[i] = len(e.NetFlow)
	}
	b.Reset()
	if err := d.Decode(p, b); err != nil {
		t.Fatal(err)
	}
	for i, e := range b.All() {
		if len(e.NetFlow) != first[i] {
			t.Errorf("event %d: %d fields after reuse, want %d", i, len(e.NetFlow), first[i])
		}
	}
}

func slogTo(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func TestDecodeConcurrent(t *testing.T) {
	// One Decoder serves every collector worker; run under -race.
	d, _ := newTestDecoder(t)
	data := mixedDatagram(4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			b := event.NewBatch()
			defer b.Release()
			for range 200 {
				b.Reset()
				if err := d.Decode(&collector.Packet{Data: data, Src: sender, Received: received}, b); err != nil || b.Len() != 4 {
					t.Errorf("Decode() = %d events, %v; want 4, nil", b.Len(), err)
					return
				}
			}
		})
	}
	wg.Wait()
}
