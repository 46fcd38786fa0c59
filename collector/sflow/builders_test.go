package sflow

import (
	"encoding/binary"
	"net/netip"
)

// Builders for sFlow v5 datagrams (sflow.org/sflow_version_5.txt), written
// from the spec rather than from goflow2 so the tests check the decoder
// against the wire format. Every builder returns XDR: big-endian 32-bit
// words, opaque data padded to a multiple of 4.

func be32(b []byte, vs ...uint32) []byte {
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func xdrAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		b = be32(b, 1)
		s := a.As4()
		return append(b, s[:]...)
	}
	b = be32(b, 2)
	s := a.As16()
	return append(b, s[:]...)
}

// sfDatagram builds a datagram header followed by samples.
func sfDatagram(agent netip.Addr, subAgent, seq, uptime uint32, samples ...[]byte) []byte {
	b := be32(nil, 5)
	b = xdrAddr(b, agent)
	b = be32(b, subAgent, seq, uptime, uint32(len(samples)))
	for _, s := range samples {
		b = append(b, s...)
	}
	return b
}

// tlv frames a sample or record: data format, length, body.
func tlv(format uint32, body []byte) []byte {
	body = pad4(body)
	b := be32(nil, format, uint32(len(body)))
	return append(b, body...)
}

func joinRecords(records [][]byte) []byte {
	var b []byte
	for _, r := range records {
		b = append(b, r...)
	}
	return b
}

// compactFlowSample is a flow_sample (format 1). in and out use the compact
// interface encoding (two format bits, 30 value bits).
func compactFlowSample(seq, sourceID, rate, pool, drops, in, out uint32, records ...[]byte) []byte {
	b := be32(nil, seq, sourceID, rate, pool, drops, in, out, uint32(len(records)))
	return tlv(1, append(b, joinRecords(records)...))
}

// expandedFlowSample is a flow_sample_expanded (format 3).
func expandedFlowSample(seq, srcType, srcIndex, rate, pool, drops, inFmt, inVal, outFmt, outVal uint32, records ...[]byte) []byte {
	b := be32(nil, seq, srcType, srcIndex, rate, pool, drops, inFmt, inVal, outFmt, outVal, uint32(len(records)))
	return tlv(3, append(b, joinRecords(records)...))
}

// counterSample is a counters_sample (format 2) or, expanded, format 4.
func counterSample(expanded bool, seq, sourceID uint32, records ...[]byte) []byte {
	if expanded {
		b := be32(nil, seq, sourceID>>24, sourceID&0xffffff, uint32(len(records)))
		return tlv(4, append(b, joinRecords(records)...))
	}
	b := be32(nil, seq, sourceID, uint32(len(records)))
	return tlv(2, append(b, joinRecords(records)...))
}

// rawHeaderRecord is a sampled_header flow record (format 1).
func rawHeaderRecord(protocol, frameLength, stripped uint32, header []byte) []byte {
	b := be32(nil, protocol, frameLength, stripped, uint32(len(header)))
	return tlv(1, append(b, header...))
}

// sampledIPv4Record is a sampled_ipv4 flow record (format 3).
func sampledIPv4Record(length, proto uint32, src, dst netip.Addr, sport, dport, tcpFlags, tos uint32) []byte {
	b := be32(nil, length, proto)
	s, d := src.As4(), dst.As4()
	b = append(append(b, s[:]...), d[:]...)
	return tlv(3, be32(b, sport, dport, tcpFlags, tos))
}

// switchRecord is an extended_switch flow record (format 1001).
func switchRecord(srcVLAN, srcPrio, dstVLAN, dstPrio uint32) []byte {
	return tlv(1001, be32(nil, srcVLAN, srcPrio, dstVLAN, dstPrio))
}

// routerRecord is an extended_router flow record (format 1002).
func routerRecord(nextHop netip.Addr, srcMask, dstMask uint32) []byte {
	return tlv(1002, be32(xdrAddr(nil, nextHop), srcMask, dstMask))
}

// gatewayRecord is an extended_gateway flow record (format 1003) with one
// AS_SEQUENCE path segment when path is not empty.
func gatewayRecord(nextHop netip.Addr, as, srcAS, srcPeerAS uint32, path, communities []uint32, localPref uint32) []byte {
	b := be32(xdrAddr(nil, nextHop), as, srcAS, srcPeerAS)
	if len(path) == 0 {
		b = be32(b, 0)
	} else {
		b = be32(b, 1, 2, uint32(len(path)))
		b = be32(b, path...)
	}
	b = be32(b, uint32(len(communities)))
	b = be32(b, communities...)
	return tlv(1003, be32(b, localPref))
}

// ifCountersRecord is a generic interface counters record (format 1).
func ifCountersRecord(ifIndex uint32, inOctets, outOctets uint64) []byte {
	b := be32(nil, ifIndex, 6)
	b = binary.BigEndian.AppendUint64(b, 10_000_000_000) // ifSpeed
	b = be32(b, 1, 3)                                    // full duplex, up
	b = binary.BigEndian.AppendUint64(b, inOctets)
	b = be32(b, 100, 0, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, outOctets)
	b = be32(b, 200, 0, 0, 0, 0, 0)
	return tlv(1, b)
}

// Packet builders for sampled headers.

func ethernet(dst, src [6]byte, tags []uint32, etherType uint16, payload []byte) []byte {
	b := append(append([]byte(nil), dst[:]...), src[:]...)
	for _, t := range tags { // TPID<<16 | TCI
		b = binary.BigEndian.AppendUint32(b, t)
	}
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, payload...)
}

func ipv4(proto, tos, ttl uint8, src, dst netip.Addr, payload []byte) []byte {
	b := []byte{0x45, tos}
	b = binary.BigEndian.AppendUint16(b, uint16(20+len(payload)))
	b = append(b, 0x12, 0x34, 0x40, 0x00, ttl, proto, 0, 0) // id, DF, ttl, proto, checksum (not checked)
	s, d := src.As4(), dst.As4()
	b = append(append(b, s[:]...), d[:]...)
	return append(b, payload...)
}

func ipv6(next, trafficClass, hopLimit uint8, src, dst netip.Addr, payload []byte) []byte {
	b := []byte{0x60 | trafficClass>>4, trafficClass << 4, 0x00, 0x00}
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	b = append(b, next, hopLimit)
	s, d := src.As16(), dst.As16()
	b = append(append(b, s[:]...), d[:]...)
	return append(b, payload...)
}

func tcp(sport, dport uint16, flags uint8) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = append(b, 0, 0, 0, 1, 0, 0, 0, 0) // seq, ack
	b = append(b, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0)
	return b
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	return append(b, payload...)
}

// Shared fixtures.
var (
	macA = [6]byte{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x01}
	macB = [6]byte{0x3c, 0xfd, 0xfe, 0xcc, 0xdd, 0x02}

	agent4 = netip.MustParseAddr("192.0.2.1")
	agent6 = netip.MustParseAddr("2001:db8::a")
	hostA  = netip.MustParseAddr("198.51.100.10")
	hostB  = netip.MustParseAddr("203.0.113.20")
	host6A = netip.MustParseAddr("2001:db8:1::10")
	host6B = netip.MustParseAddr("2001:db8:2::20")
)

// tcpFrame is an Ethernet frame of a TCP SYN+ACK from hostA:443 to hostB:51000.
func tcpFrame() []byte {
	return ethernet(macB, macA, nil, etherIPv4, ipv4(protoTCP, 0x28, 63, hostA, hostB, tcp(443, 51000, 0x12)))
}

// simpleDatagram is an IPv4-agent datagram with one flow sample of tcpFrame.
func simpleDatagram() []byte {
	return sfDatagram(agent4, 3, 1, 123456,
		compactFlowSample(10, 7, 512, 5120, 0, 7, 9,
			rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame())))
}

// mixedDatagram is a typical switch datagram: several flow samples and a
// counter sample, as exporters pack them into one MTU.
func mixedDatagram(flows int) []byte {
	var samples [][]byte
	for i := range flows {
		samples = append(samples, compactFlowSample(uint32(i), 7, 1024, 1024*uint32(i), 0, 7, 9,
			rawHeaderRecord(headerEthernet, 1514, 4, tcpFrame()),
			switchRecord(10, 0, 20, 0)))
	}
	samples = append(samples, counterSample(false, 99, 7, ifCountersRecord(7, 1e9, 2e9)))
	return sfDatagram(agent4, 0, 42, 1000, samples...)
}
