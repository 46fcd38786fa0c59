package sflow

import (
	"encoding/binary"
	"net/netip"
)

// Header protocols of the sampled_header flow record (SFLOW-STRUCTS5 header_protocol).
const (
	headerEthernet = 1
	headerIPv4     = 11
	headerIPv6     = 12
)

// EtherTypes and IP protocols the header parser follows.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100 // 802.1Q C-tag
	etherQinQ  = 0x88a8 // 802.1ad S-tag
	etherQinQ1 = 0x9100 // pre-standard QinQ
	etherMPLS  = 0x8847
	etherMPLSm = 0x8848

	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

// Limits that keep a hostile header from looping: real frames carry at most
// a couple of VLAN tags, a short MPLS stack and a few IPv6 extension headers.
const (
	maxVLANTags  = 4
	maxMPLSDepth = 8
	maxIPv6Ext   = 8
)

// headerResult says how far the sampled header could be parsed.
type headerResult uint8

const (
	headerParsed      headerResult = iota // every layer present was read
	headerTruncated                       // the header ended inside a layer we needed
	headerUnsupported                     // header protocol or EtherType we do not parse
	headerMissing                         // the sample had no sampled_header record
)

var headerResultNames = [...]string{"parsed", "truncated", "unsupported", "missing"}

func (r headerResult) String() string { return headerResultNames[r] }

// packetInfo is what one sampled packet header says about its flow. It lives
// on the stack: parsing allocates nothing.
type packetInfo struct {
	srcMAC, dstMAC [6]byte
	hasMAC         bool

	vlan, innerVLAN       uint16 // outer and inner 802.1Q/802.1ad tags
	hasVLAN, hasInnerVLAN bool

	src, dst       netip.Addr
	proto          uint8
	hasProto       bool
	tos, ttl       uint8
	hasTOS, hasTTL bool

	srcPort, dstPort uint16
	hasPorts         bool
	tcpFlags         uint16
	hasTCPFlags      bool
	icmpType         uint8
	icmpCode         uint8
	hasICMP          bool
}

// parseHeader decodes the layers of a sampled packet header of the given
// sFlow header protocol into pi.
func parseHeader(protocol uint32, data []byte, pi *packetInfo) headerResult {
	switch protocol {
	case headerEthernet:
		return parseEthernet(data, pi)
	case headerIPv4:
		if len(data) > 0 && data[0]>>4 != 4 {
			return headerUnsupported
		}
		return parseIPv4(data, pi)
	case headerIPv6:
		if len(data) > 0 && data[0]>>4 != 6 {
			return headerUnsupported
		}
		return parseIPv6(data, pi)
	default:
		return headerUnsupported
	}
}

func parseEthernet(data []byte, pi *packetInfo) headerResult {
	if len(data) < 14 {
		return headerTruncated
	}
	copy(pi.dstMAC[:], data[0:6])
	copy(pi.srcMAC[:], data[6:12])
	pi.hasMAC = true
	etherType := binary.BigEndian.Uint16(data[12:14])
	data = data[14:]
	for tags := 0; etherType == etherVLAN || etherType == etherQinQ || etherType == etherQinQ1; tags++ {
		if tags == maxVLANTags {
			return headerUnsupported
		}
		if len(data) < 4 {
			return headerTruncated
		}
		vid := binary.BigEndian.Uint16(data[0:2]) & 0x0fff
		switch tags {
		case 0:
			pi.vlan, pi.hasVLAN = vid, true
		case 1:
			pi.innerVLAN, pi.hasInnerVLAN = vid, true
		}
		etherType = binary.BigEndian.Uint16(data[2:4])
		data = data[4:]
	}
	return parseEtherPayload(etherType, data, pi)
}

func parseEtherPayload(etherType uint16, data []byte, pi *packetInfo) headerResult {
	switch etherType {
	case etherIPv4:
		return parseIPv4(data, pi)
	case etherIPv6:
		return parseIPv6(data, pi)
	case etherMPLS, etherMPLSm:
		return parseMPLS(data, pi)
	default:
		return headerUnsupported
	}
}

// parseMPLS skips the label stack and guesses the payload from the IP version
// nibble, as routers and collectors commonly do (there is no payload type).
func parseMPLS(data []byte, pi *packetInfo) headerResult {
	for depth := 0; ; depth++ {
		if depth == maxMPLSDepth {
			return headerUnsupported
		}
		if len(data) < 4 {
			return headerTruncated
		}
		bottom := data[2]&0x01 != 0
		data = data[4:]
		if bottom {
			break
		}
	}
	if len(data) == 0 {
		return headerTruncated
	}
	switch data[0] >> 4 {
	case 4:
		return parseIPv4(data, pi)
	case 6:
		return parseIPv6(data, pi)
	default:
		return headerUnsupported
	}
}

func parseIPv4(data []byte, pi *packetInfo) headerResult {
	if len(data) < 20 {
		return headerTruncated
	}
	ihl := int(data[0]&0x0f) * 4
	if data[0]>>4 != 4 || ihl < 20 {
		return headerUnsupported
	}
	pi.tos = data[1]
	pi.ttl = data[8]
	pi.hasTOS, pi.hasTTL = true, true
	pi.proto, pi.hasProto = data[9], true
	pi.src = netip.AddrFrom4([4]byte(data[12:16]))
	pi.dst = netip.AddrFrom4([4]byte(data[16:20]))
	if fragOffset := binary.BigEndian.Uint16(data[6:8]) & 0x1fff; fragOffset != 0 {
		return headerParsed // later fragments carry no transport header
	}
	if len(data) < ihl {
		return headerTruncated
	}
	return parseTransport(pi.proto, data[ihl:], pi)
}

func parseIPv6(data []byte, pi *packetInfo) headerResult {
	if len(data) < 40 {
		return headerTruncated
	}
	if data[0]>>4 != 6 {
		return headerUnsupported
	}
	pi.tos = data[0]<<4 | data[1]>>4 // traffic class
	pi.ttl = data[7]                 // hop limit
	pi.hasTOS, pi.hasTTL = true, true
	pi.src = netip.AddrFrom16([16]byte(data[8:24]))
	pi.dst = netip.AddrFrom16([16]byte(data[24:40]))
	next := data[6]
	data = data[40:]
	for ext := 0; ; ext++ {
		var n int
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination options, mobility, HIP, shim6
			if len(data) < 2 {
				pi.proto, pi.hasProto = next, true
				return headerTruncated
			}
			n = (int(data[1]) + 1) * 8
		case 44: // fragment
			if len(data) < 8 {
				pi.proto, pi.hasProto = next, true
				return headerTruncated
			}
			if binary.BigEndian.Uint16(data[2:4])&0xfff8 != 0 {
				pi.proto, pi.hasProto = data[0], true
				return headerParsed // not the first fragment: no transport header
			}
			n = 8
		case 51: // authentication header
			if len(data) < 2 {
				pi.proto, pi.hasProto = next, true
				return headerTruncated
			}
			n = (int(data[1]) + 2) * 4
		default:
			pi.proto, pi.hasProto = next, true
			return parseTransport(next, data, pi)
		}
		if ext == maxIPv6Ext {
			pi.proto, pi.hasProto = next, true
			return headerUnsupported
		}
		if len(data) < n {
			pi.proto, pi.hasProto = next, true
			return headerTruncated
		}
		next = data[0]
		data = data[n:]
	}
}

func parseTransport(proto uint8, data []byte, pi *packetInfo) headerResult {
	switch proto {
	case protoTCP:
		if len(data) < 4 {
			return headerTruncated
		}
		pi.srcPort = binary.BigEndian.Uint16(data[0:2])
		pi.dstPort = binary.BigEndian.Uint16(data[2:4])
		pi.hasPorts = true
		if len(data) < 14 {
			return headerTruncated
		}
		// RFC 7125: the 12 flag bits of the TCP header, data offset masked.
		pi.tcpFlags = uint16(data[12]&0x0f)<<8 | uint16(data[13])
		pi.hasTCPFlags = true
	case protoUDP, protoSCTP, protoUDPLite:
		if len(data) < 4 {
			return headerTruncated
		}
		pi.srcPort = binary.BigEndian.Uint16(data[0:2])
		pi.dstPort = binary.BigEndian.Uint16(data[2:4])
		pi.hasPorts = true
	case protoICMP, protoICMPv6:
		if len(data) < 2 {
			return headerTruncated
		}
		pi.icmpType, pi.icmpCode = data[0], data[1]
		pi.hasICMP = true
	}
	return headerParsed
}
