package event

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // Community ID v1 is defined on SHA-1; it is an identifier, not a security control.
	"encoding/base64"
	"net/netip"
)

// IANA protocol numbers that Community ID v1 treats specially.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// AppendCommunityID appends the Community ID v1 flow hash
// ("1:" + base64(sha1(...)), https://github.com/corelight/community-id-spec)
// of the flow to dst and returns the extended slice. It does not allocate
// beyond growing dst.
//
// For TCP, UDP and SCTP the ports are hashed; for other protocols only the
// addresses and the protocol. For ICMP and ICMPv6 the ports follow the
// NetFlow/IPFIX convention of exporters: dport holds type<<8|code and sport is
// ignored. The type and code are then mapped as the spec does (after Zeek):
// request/reply types become a two-way "port" pair (type, counter-type) that
// is ordered like any other flow; other types are one-way (type, code) and
// keep their direction.
//
// Nothing is appended when either address is invalid or the two are of
// different families (after unmapping IPv4-mapped IPv6).
func AppendCommunityID(dst []byte, seed uint16, src, dstIP netip.Addr, sport, dport uint16, proto uint8) []byte {
	src, dstIP = src.Unmap(), dstIP.Unmap()
	if !src.IsValid() || !dstIP.IsValid() || src.Is4() != dstIP.Is4() {
		return dst
	}

	hasPorts := true
	oneWay := false
	switch proto {
	case protoTCP, protoUDP, protoSCTP:
	case protoICMP:
		sport, dport, oneWay = icmpPorts(uint8(dport>>8), uint8(dport), icmp4Counter)
	case protoICMPv6:
		sport, dport, oneWay = icmpPorts(uint8(dport>>8), uint8(dport), icmp6Counter)
	default:
		hasPorts = false
		sport, dport = 0, 0
	}

	// Layout: seed(2) saddr(4|16) daddr(4|16) proto(1) pad(1) [sport(2) dport(2)].
	var in [2 + 16 + 16 + 2 + 4]byte
	in[0], in[1] = byte(seed>>8), byte(seed)
	n := 2
	var a, b []byte
	var a4, b4 [4]byte
	var a16, b16 [16]byte
	if src.Is4() {
		a4, b4 = src.As4(), dstIP.As4()
		a, b = a4[:], b4[:]
	} else {
		a16, b16 = src.As16(), dstIP.As16()
		a, b = a16[:], b16[:]
	}
	if !oneWay {
		c := bytes.Compare(a, b)
		if c > 0 || (c == 0 && hasPorts && sport > dport) {
			a, b = b, a
			sport, dport = dport, sport
		}
	}
	n += copy(in[n:], a)
	n += copy(in[n:], b)
	in[n] = proto
	in[n+1] = 0
	n += 2
	if hasPorts {
		in[n], in[n+1], in[n+2], in[n+3] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
		n += 4
	}

	sum := sha1.Sum(in[:n]) //nolint:gosec // see import
	dst = append(dst, '1', ':')
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// icmpPorts maps an ICMP type and code to the port pair Community ID hashes.
func icmpPorts(typ, code uint8, counter func(uint8) (uint8, bool)) (sport, dport uint16, oneWay bool) {
	if c, ok := counter(typ); ok {
		return uint16(typ), uint16(c), false
	}
	return uint16(typ), uint16(code), true
}

// icmp4Counter returns the counterpart of an ICMPv4 request/reply type.
func icmp4Counter(t uint8) (uint8, bool) {
	switch t {
	case 8: // echo
		return 0, true
	case 0: // echo reply
		return 8, true
	case 13: // timestamp
		return 14, true
	case 14: // timestamp reply
		return 13, true
	case 15: // information request
		return 16, true
	case 16: // information reply
		return 15, true
	case 10: // router solicitation
		return 9, true
	case 9: // router advertisement
		return 10, true
	case 17: // address mask request
		return 18, true
	case 18: // address mask reply
		return 17, true
	}
	return 0, false
}

// icmp6Counter returns the counterpart of an ICMPv6 request/reply type.
func icmp6Counter(t uint8) (uint8, bool) {
	switch t {
	case 128: // echo request
		return 129, true
	case 129: // echo reply
		return 128, true
	case 130: // multicast listener query
		return 131, true
	case 131: // multicast listener report
		return 130, true
	case 133: // router solicitation
		return 134, true
	case 134: // router advertisement
		return 133, true
	case 135: // neighbor solicitation
		return 136, true
	case 136: // neighbor advertisement
		return 135, true
	case 139: // node information query (who-are-you request)
		return 140, true
	case 140: // node information response
		return 139, true
	case 144: // home agent address discovery request
		return 145, true
	case 145: // home agent address discovery reply
		return 144, true
	}
	return 0, false
}
