package dnscap

import (
	"encoding/binary"
	"net/netip"
)

// Reasons a frame is skipped (sluice_dnscap_malformed_total and
// sluice_dnscap_ignored_total).
const (
	malformedFrame     = iota // Ethernet/VLAN/IP header cut short or inconsistent
	malformedTransport        // UDP/TCP header cut short or inconsistent
	malformedDNS              // the DNS message does not decode
	malformedTruncated        // frame longer than snaplen
	malformedTCPLength        // a TCP DNS length prefix that cannot be right
	malformedRing             // a capture ring block with a bad header (the rest of the block is skipped)
	numMalformed
)

var malformedNames = [numMalformed]string{"frame", "transport", "dns", "snaplen", "tcp_length", "ring"}

const (
	ignoredNotIP     = iota // not IPv4/IPv6 (ARP, ...)
	ignoredProtocol         // not UDP or TCP, or IPv6 extension headers
	ignoredFragment         // an IP fragment (not reassembled)
	ignoredPort             // neither port is a DNS port
	ignoredNoPayload        // a TCP segment without data (handshake, ACK)
	numIgnored
)

var ignoredNames = [numIgnored]string{"not_ip", "protocol", "fragment", "port", "no_payload"}

const (
	protoTCP = 6
	protoUDP = 17
)

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
)

// packet is what parseFrame found in one frame.
type packet struct {
	src, dst           netip.Addr
	sport, dport       uint16
	proto              uint8
	tcpFlags           uint8
	seq                uint32
	payload            []byte // UDP payload or TCP segment data, pointing into the frame
	malformed, ignored int    // -1 when none
}

// parseFrame parses an Ethernet frame (as AF_PACKET delivers it, loopback
// included) down to the UDP or TCP payload. It allocates nothing.
func parseFrame(f []byte, p *packet) {
	*p = packet{malformed: -1, ignored: -1}
	if len(f) < 14 {
		p.malformed = malformedFrame
		return
	}
	et := binary.BigEndian.Uint16(f[12:14])
	off := 14
	for i := 0; i < 2 && (et == 0x8100 || et == 0x88a8 || et == 0x9100); i++ {
		if len(f) < off+4 {
			p.malformed = malformedFrame
			return
		}
		et = binary.BigEndian.Uint16(f[off+2 : off+4])
		off += 4
	}
	var l4 []byte
	switch et {
	case 0x0800:
		ip := f[off:]
		if len(ip) < 20 || ip[0]>>4 != 4 {
			p.malformed = malformedFrame
			return
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:4]))
		if ihl < 20 || total < ihl || len(ip) < ihl {
			p.malformed = malformedFrame
			return
		}
		if total < len(ip) { // Ethernet padding
			ip = ip[:total]
		} else if total > len(ip) {
			p.malformed = malformedFrame
			return
		}
		if fo := binary.BigEndian.Uint16(ip[6:8]); fo&0x3fff != 0 { // MF or an offset
			p.ignored = ignoredFragment
			return
		}
		p.proto = ip[9]
		p.src = netip.AddrFrom4([4]byte(ip[12:16]))
		p.dst = netip.AddrFrom4([4]byte(ip[16:20]))
		l4 = ip[ihl:]
	case 0x86dd:
		ip := f[off:]
		if len(ip) < 40 || ip[0]>>4 != 6 {
			p.malformed = malformedFrame
			return
		}
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		if 40+plen > len(ip) {
			p.malformed = malformedFrame
			return
		}
		ip = ip[:40+plen]
		p.proto = ip[6]
		p.src = netip.AddrFrom16([16]byte(ip[8:24]))
		p.dst = netip.AddrFrom16([16]byte(ip[24:40]))
		l4 = ip[40:]
	default:
		p.ignored = ignoredNotIP
		return
	}
	switch p.proto {
	case protoUDP:
		if len(l4) < 8 {
			p.malformed = malformedTransport
			return
		}
		ul := int(binary.BigEndian.Uint16(l4[4:6]))
		if ul < 8 || ul > len(l4) {
			p.malformed = malformedTransport
			return
		}
		p.sport = binary.BigEndian.Uint16(l4[0:2])
		p.dport = binary.BigEndian.Uint16(l4[2:4])
		p.payload = l4[8:ul]
	case protoTCP:
		if len(l4) < 20 {
			p.malformed = malformedTransport
			return
		}
		doff := int(l4[12]>>4) * 4
		if doff < 20 || doff > len(l4) {
			p.malformed = malformedTransport
			return
		}
		p.sport = binary.BigEndian.Uint16(l4[0:2])
		p.dport = binary.BigEndian.Uint16(l4[2:4])
		p.seq = binary.BigEndian.Uint32(l4[4:8])
		p.tcpFlags = l4[13]
		p.payload = l4[doff:]
	default:
		p.ignored = ignoredProtocol
	}
}
