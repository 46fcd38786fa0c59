package main_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Hand-built exporters: NetFlow v9 (RFC 3954), IPFIX (RFC 7011) and sFlow v5
// datagrams, written here rather than with sluice's own code so the tests do
// not share a decoder's misreadings.

// tmplField is one template field: v9 field type / IPFIX information element
// and its length on the wire.
type tmplField struct{ id, len uint16 }

// Field ids used by the templates below (same numbers in v9 and IPFIX).
const (
	fInBytes   = 1
	fInPkts    = 2
	fProto     = 4
	fTCPFlags  = 6
	fSrcPort   = 7
	fSrcV4     = 8
	fInputIf   = 10
	fDstPort   = 11
	fDstV4     = 12
	fOutputIf  = 14
	fLastSw    = 21 // v9: sysUptime ms of the last packet
	fFirstSw   = 22
	fSrcV6     = 27
	fDstV6     = 28
	fStartMs   = 152 // IPFIX flowStartMilliseconds
	fEndMs     = 153
	v9Template = 0 // v9 template flowset id
	ipfixTmpl  = 2 // IPFIX template set id
)

// v9Fields4 is a Cisco-like IPv4 template.
var v9Fields4 = []tmplField{
	{fSrcV4, 4}, {fDstV4, 4}, {fSrcPort, 2}, {fDstPort, 2}, {fProto, 1},
	{fInBytes, 4}, {fInPkts, 4}, {fFirstSw, 4}, {fLastSw, 4}, {fTCPFlags, 1}, {fInputIf, 2}, {fOutputIf, 2},
}

// ipfixFields4 is the IPFIX equivalent with 64-bit counters and absolute times.
var ipfixFields4 = []tmplField{
	{fSrcV4, 4}, {fDstV4, 4}, {fSrcPort, 2}, {fDstPort, 2}, {fProto, 1},
	{fInBytes, 8}, {fInPkts, 8}, {fStartMs, 8}, {fEndMs, 8}, {fTCPFlags, 1}, {fInputIf, 4}, {fOutputIf, 4},
}

// flowRec is one flow as the test means it; encode writes it per template.
type flowRec struct {
	Src, Dst     netip.Addr
	SPort, DPort uint16
	Proto        uint8
	Bytes, Pkts  uint64
	Start, End   time.Time
}

// exporter holds the header state of one simulated NetFlow v9 / IPFIX exporter.
type exporter struct {
	Boot     time.Time // sysUptime zero
	SourceID uint32    // v9 source ID / IPFIX observation domain
	seq      uint32    // v9: packets sent; IPFIX: data records sent
}

func put(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// encodeRecord appends f encoded as the fields fs describe.
func (e *exporter) encodeRecord(b []byte, fs []tmplField, f flowRec) []byte {
	for _, fl := range fs {
		n := int(fl.len)
		switch fl.id {
		case fSrcV4, fSrcV6:
			b = append(b, f.Src.AsSlice()...)
		case fDstV4, fDstV6:
			b = append(b, f.Dst.AsSlice()...)
		case fSrcPort:
			b = put(b, uint64(f.SPort), n)
		case fDstPort:
			b = put(b, uint64(f.DPort), n)
		case fProto:
			b = put(b, uint64(f.Proto), n)
		case fInBytes:
			b = put(b, f.Bytes, n)
		case fInPkts:
			b = put(b, f.Pkts, n)
		case fFirstSw:
			b = put(b, uint64(f.Start.Sub(e.Boot).Milliseconds()), n)
		case fLastSw:
			b = put(b, uint64(f.End.Sub(e.Boot).Milliseconds()), n)
		case fStartMs:
			b = put(b, uint64(f.Start.UnixMilli()), n)
		case fEndMs:
			b = put(b, uint64(f.End.UnixMilli()), n)
		case fTCPFlags:
			flags := uint64(0)
			if f.Proto == 6 {
				flags = 0x1b // FIN SYN PSH ACK
			}
			b = put(b, flags, n)
		case fInputIf:
			b = put(b, 3, n)
		case fOutputIf:
			b = put(b, 4, n)
		default:
			b = append(b, make([]byte, n)...)
		}
	}
	return b
}

// templateSet returns a v9 (setID 0) or IPFIX (setID 2) template set with one template.
func templateSet(setID, tmplID uint16, fs []tmplField) []byte {
	b := put(nil, uint64(setID), 2)
	b = put(b, uint64(8+4*len(fs)), 2)
	b = put(b, uint64(tmplID), 2)
	b = put(b, uint64(len(fs)), 2)
	for _, f := range fs {
		b = put(b, uint64(f.id), 2)
		b = put(b, uint64(f.len), 2)
	}
	return b
}

// dataSet returns a data set of records, padded to a multiple of 4 bytes.
func (e *exporter) dataSet(tmplID uint16, fs []tmplField, flows []flowRec) []byte {
	b := put(nil, uint64(tmplID), 2)
	b = append(b, 0, 0) // length, patched below
	for _, f := range flows {
		b = e.encodeRecord(b, fs, f)
	}
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// v9Packet wraps sets in a NetFlow v9 header exported at now. count is the
// header's record count (templates + data records).
func (e *exporter) v9Packet(now time.Time, count int, sets ...[]byte) []byte {
	b := put(nil, 9, 2)
	b = put(b, uint64(count), 2)
	b = put(b, uint64(now.Sub(e.Boot).Milliseconds()), 4)
	b = put(b, uint64(now.Unix()), 4)
	b = put(b, uint64(e.seq), 4)
	b = put(b, uint64(e.SourceID), 4)
	e.seq++
	for _, s := range sets {
		b = append(b, s...)
	}
	return b
}

// ipfixPacket wraps sets in an IPFIX message header; dataRecords advances
// the sequence number as RFC 7011 asks.
func (e *exporter) ipfixPacket(now time.Time, dataRecords int, sets ...[]byte) []byte {
	b := put(nil, 10, 2)
	b = append(b, 0, 0)
	b = put(b, uint64(now.Unix()), 4)
	b = put(b, uint64(e.seq), 4)
	b = put(b, uint64(e.SourceID), 4)
	e.seq += uint32(dataRecords)
	for _, s := range sets {
		b = append(b, s...)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// testFlows returns n distinct IPv4 flows: source 198.51.100.0/24 with the
// given third-octet tag in the destination so callers can tell batches apart.
func testFlows(n int, tag byte, end time.Time) []flowRec {
	out := make([]flowRec, n)
	for i := range out {
		proto := uint8(6)
		if i%3 == 1 {
			proto = 17
		}
		out[i] = flowRec{
			Src:   netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%250)}),
			Dst:   netip.AddrFrom4([4]byte{203, 0, tag, byte(1 + (i/250)%250)}),
			SPort: uint16(10000 + i%50000),
			DPort: 4242,
			Proto: proto,
			Bytes: uint64(1000 + i),
			Pkts:  uint64(1 + i%100),
			Start: end.Add(-10 * time.Second),
			End:   end,
		}
	}
	return out
}

// sflowFlowSample is one sFlow v5 flow sample carrying a raw packet header.
type sflowFlowSample struct {
	Rate     uint32
	FrameLen uint32
	Header   []byte // Ethernet frame prefix
	Input    uint32
	Output   uint32
}

// sflowDatagram builds an sFlow v5 datagram from agent with the flow
// samples, plus one generic interface counter sample when counters is set.
func sflowDatagram(agent netip.Addr, seq uint32, uptime time.Duration, samples []sflowFlowSample, counters bool) []byte {
	b := put(nil, 5, 4)
	b = put(b, 1, 4) // agent address type IPv4
	b = append(b, agent.AsSlice()...)
	b = put(b, 0, 4) // sub-agent id
	b = put(b, uint64(seq), 4)
	b = put(b, uint64(uptime.Milliseconds()), 4)
	n := len(samples)
	if counters {
		n++
	}
	b = put(b, uint64(n), 4)
	for i, s := range samples {
		hdr := s.Header
		pad := (4 - len(hdr)%4) % 4
		rec := put(nil, 1, 4) // header protocol: ethernet
		rec = put(rec, uint64(s.FrameLen), 4)
		rec = put(rec, 4, 4) // stripped (FCS)
		rec = put(rec, uint64(len(hdr)), 4)
		rec = append(rec, hdr...)
		rec = append(rec, make([]byte, pad)...)

		smp := put(nil, uint64(seq*10+uint32(i)), 4) // sample sequence
		smp = put(smp, uint64(s.Input), 4)           // source id: ifIndex
		smp = put(smp, uint64(s.Rate), 4)
		smp = put(smp, uint64(s.Rate)*uint64(seq+1), 4) // sample pool
		smp = put(smp, 0, 4)                            // drops
		smp = put(smp, uint64(s.Input), 4)
		smp = put(smp, uint64(s.Output), 4)
		smp = put(smp, 1, 4) // one flow record
		smp = put(smp, 1, 4) // record format: raw packet header (enterprise 0, format 1)
		smp = put(smp, uint64(len(rec)), 4)
		smp = append(smp, rec...)

		b = put(b, 1, 4) // sample format: flow sample (enterprise 0, format 1)
		b = put(b, uint64(len(smp)), 4)
		b = append(b, smp...)
	}
	if counters {
		ctr := put(nil, 1, 4)  // ifIndex
		ctr = put(ctr, 6, 4)   // ifType ethernetCsmacd
		ctr = put(ctr, 1e9, 8) // ifSpeed
		ctr = put(ctr, 1, 4)   // ifDirection full duplex
		ctr = put(ctr, 3, 4)   // ifStatus up/up
		ctr = put(ctr, 1e6, 8) // ifInOctets
		for range 6 {          // in ucast, mcast, bcast, discards, errors, unknown protos
			ctr = put(ctr, 10, 4)
		}
		ctr = put(ctr, 2e6, 8) // ifOutOctets
		for range 5 {          // out ucast, mcast, bcast, discards, errors
			ctr = put(ctr, 20, 4)
		}
		ctr = put(ctr, 0, 4) // promiscuous
		smp := put(nil, uint64(seq), 4)
		smp = put(smp, 1, 4) // source id
		smp = put(smp, 1, 4) // one record
		smp = put(smp, 1, 4) // generic interface counters
		smp = put(smp, uint64(len(ctr)), 4)
		smp = append(smp, ctr...)
		b = put(b, 2, 4) // counter sample
		b = put(b, uint64(len(smp)), 4)
		b = append(b, smp...)
	}
	return b
}

// ethFrame serializes an Ethernet/IPv4 TCP, UDP or ICMP echo request packet
// with payload bytes.
func ethFrame(t *testing.T, src, dst netip.Addr, sport, dport uint16, proto uint8, payload int) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xa}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xb}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocol(proto), SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	var l4 gopacket.SerializableLayer
	switch proto {
	case 1: // echo request; sport/dport are unused
		l4 = &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1}
	case 6:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), ACK: true, PSH: true, Window: 1024}
		tcp.SetNetworkLayerForChecksum(ip)
		l4 = tcp
	default:
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		udp.SetNetworkLayerForChecksum(ip)
		l4 = udp
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, gopacket.Payload(make([]byte, payload))); err != nil {
		t.Fatalf("SerializeLayers() = %v", err)
	}
	return buf.Bytes()
}

// icmpCounterpart maps ICMP / ICMPv6 message types that come in pairs
// (echo, timestamp, ...) to their counterpart, as the Community ID spec does.
var icmpCounterpart = map[uint8]map[uint8]uint8{
	1:  {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17},
	58: {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 144: 145, 145: 144},
}

// communityID computes Community ID v1 (seed 0), the oracle for
// network.community_id. For ICMP and ICMPv6, sport and dport are the
// message type and code.
func communityID(src, dst netip.Addr, sport, dport uint16, proto uint8) string {
	a, b := src.AsSlice(), dst.AsSlice()
	oneWay := false
	if m, ok := icmpCounterpart[proto]; ok {
		if c, ok := m[uint8(sport)]; ok {
			dport = uint16(c) // two-way: the pair is ordered like ports
		} else {
			oneWay = true // type and code, as sent
		}
	}
	if c := src.Compare(dst); !oneWay && (c > 0 || (c == 0 && sport > dport)) {
		a, b = b, a
		sport, dport = dport, sport
	}
	h := sha1.New()
	h.Write([]byte{0, 0}) // seed
	h.Write(a)
	h.Write(b)
	h.Write([]byte{proto, 0})
	h.Write([]byte{byte(sport >> 8), byte(sport), byte(dport >> 8), byte(dport)})
	return "1:" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// TestCommunityIDOracle checks the oracle against the spec's published vectors.
func TestCommunityIDOracle(t *testing.T) {
	a, b := netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8")
	a6 := netip.MustParseAddr("fe80:1:203:405:607:809:a0b:c0d")
	b6 := netip.MustParseAddr("fe80:1011:1213:1415:1617:1819:1a1b:1c1d")
	for _, tc := range []struct {
		src, dst     netip.Addr
		sport, dport uint16
		proto        uint8
		want         string
	}{
		{a, b, 1122, 3344, 6, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{b, a, 3344, 1122, 6, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{a, b, 1122, 3344, 17, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
		{b, a, 3344, 1122, 17, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
		{a, b, 8, 0, 1, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},  // echo request
		{b, a, 0, 0, 1, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},  // echo reply
		{a, b, 11, 0, 1, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="}, // time exceeded: one-way
		{a6, b6, 128, 0, 58, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
	} {
		if got := communityID(tc.src, tc.dst, tc.sport, tc.dport, tc.proto); got != tc.want {
			t.Errorf("communityID(%s:%d -> %s:%d proto %d) = %s, want %s", tc.src, tc.sport, tc.dst, tc.dport, tc.proto, got, tc.want)
		}
	}
}

// v5Packet builds a NetFlow v5 datagram exported at now with the header's
// sampling field set to interval (mode 01, deterministic) when non-zero.
func (e *exporter) v5Packet(now time.Time, interval uint16, flows []flowRec) []byte {
	b := put(nil, 5, 2)
	b = put(b, uint64(len(flows)), 2)
	b = put(b, uint64(now.Sub(e.Boot).Milliseconds()), 4)
	b = put(b, uint64(now.Unix()), 4)
	b = put(b, uint64(now.Nanosecond()), 4)
	b = put(b, uint64(e.seq), 4)
	b = append(b, 0, 0) // engine type, id
	mode := uint64(0)
	if interval > 0 {
		mode = 1
	}
	b = put(b, mode<<14|uint64(interval&0x3fff), 2)
	e.seq += uint32(len(flows))
	for _, f := range flows {
		b = append(b, f.Src.AsSlice()...)
		b = append(b, f.Dst.AsSlice()...)
		b = append(b, 0, 0, 0, 0) // next hop
		b = put(b, 3, 2)          // input
		b = put(b, 4, 2)          // output
		b = put(b, f.Pkts, 4)
		b = put(b, f.Bytes, 4)
		b = put(b, uint64(f.Start.Sub(e.Boot).Milliseconds()), 4)
		b = put(b, uint64(f.End.Sub(e.Boot).Milliseconds()), 4)
		b = put(b, uint64(f.SPort), 2)
		b = put(b, uint64(f.DPort), 2)
		b = append(b, 0, 0x1b, f.Proto, 0) // pad, tcp flags, protocol, tos
		b = append(b, 0, 0, 0, 0, 24, 24, 0, 0)
	}
	return b
}
