package sflow

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseHeader(t *testing.T) {
	tcp4 := ipv4(protoTCP, 0, 64, hostA, hostB, tcp(1000, 80, 0x02))
	tcp6 := ipv6(protoTCP, 0, 64, host6A, host6B, tcp(1000, 80, 0x02))
	// hop-by-hop options (8 bytes) then TCP
	hbh := ipv6(0, 0, 64, host6A, host6B, append([]byte{protoTCP, 0, 1, 4, 0, 0, 0, 0}, tcp(1000, 80, 0x02)...))
	// fragment header, offset 0: transport header present
	frag0 := ipv6(44, 0, 64, host6A, host6B, append([]byte{protoUDP, 0, 0, 0, 0, 0, 0, 1}, udp(1000, 53, nil)...))
	// fragment header, offset 8: no transport header
	frag1 := ipv6(44, 0, 64, host6A, host6B, append([]byte{protoUDP, 0, 0, 8, 0, 0, 0, 1}, 1, 2, 3, 4))
	laterFrag4 := ipv4(protoUDP, 0, 64, hostA, hostB, []byte{1, 2, 3, 4})
	laterFrag4[7] = 0x10 // fragment offset 16 bytes... in 8-byte units
	mpls := ethernet(macB, macA, nil, etherMPLS, append([]byte{0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40}, tcp4...))
	sctp := ipv4(protoSCTP, 0, 64, hostA, hostB, []byte{0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 0})

	base4 := packetInfo{src: hostA, dst: hostB, proto: protoTCP, hasProto: true, ttl: 64, hasTOS: true, hasTTL: true,
		srcPort: 1000, dstPort: 80, hasPorts: true, tcpFlags: 0x02, hasTCPFlags: true}
	base6 := base4
	base6.src, base6.dst = host6A, host6B
	withMAC := func(pi packetInfo) packetInfo {
		pi.srcMAC, pi.dstMAC, pi.hasMAC = macA, macB, true
		return pi
	}

	tests := []struct {
		name     string
		protocol uint32
		data     []byte
		want     packetInfo
		res      headerResult
	}{
		{"raw ipv4", headerIPv4, tcp4, base4, headerParsed},
		{"raw ipv6", headerIPv6, tcp6, base6, headerParsed},
		{"ipv6 hop-by-hop", headerIPv6, hbh, base6, headerParsed},
		{"ipv6 first fragment", headerIPv6, frag0, packetInfo{src: host6A, dst: host6B, proto: protoUDP, hasProto: true,
			ttl: 64, hasTOS: true, hasTTL: true, srcPort: 1000, dstPort: 53, hasPorts: true}, headerParsed},
		{"ipv6 later fragment", headerIPv6, frag1, packetInfo{src: host6A, dst: host6B, proto: protoUDP, hasProto: true,
			ttl: 64, hasTOS: true, hasTTL: true}, headerParsed},
		{"ipv4 later fragment", headerIPv4, laterFrag4, packetInfo{src: hostA, dst: hostB, proto: protoUDP, hasProto: true,
			ttl: 64, hasTOS: true, hasTTL: true}, headerParsed},
		{"mpls two labels", headerEthernet, mpls, withMAC(base4), headerParsed},
		{"sctp ports", headerIPv4, sctp, packetInfo{src: hostA, dst: hostB, proto: protoSCTP, hasProto: true,
			ttl: 64, hasTOS: true, hasTTL: true, srcPort: 2905, dstPort: 2906, hasPorts: true}, headerParsed},
		{"raw ipv4 protocol with ipv6 data", headerIPv4, tcp6, packetInfo{}, headerUnsupported},
		{"arp", headerEthernet, ethernet(macB, macA, nil, 0x0806, make([]byte, 28)), withMAC(packetInfo{}), headerUnsupported},
		{"five vlan tags", headerEthernet, ethernet(macB, macA, []uint32{0x81000001, 0x81000002, 0x81000003, 0x81000004, 0x81000005}, etherIPv4, tcp4),
			withMAC(packetInfo{vlan: 1, hasVLAN: true, innerVLAN: 2, hasInnerVLAN: true}), headerUnsupported},
		{"short ethernet", headerEthernet, make([]byte, 13), packetInfo{}, headerTruncated},
		{"vlan tag cut", headerEthernet, ethernet(macB, macA, nil, etherVLAN, []byte{0, 1}), withMAC(packetInfo{}), headerTruncated},
		{"ipv4 cut", headerIPv4, tcp4[:19], packetInfo{}, headerTruncated},
		{"ipv4 options cut", headerIPv4, append([]byte{0x4f}, tcp4[1:24]...), packetInfo{src: hostA, dst: hostB, proto: protoTCP,
			hasProto: true, ttl: 64, hasTOS: true, hasTTL: true}, headerTruncated},
		{"tcp flags cut", headerIPv4, tcp4[:20+10], packetInfo{src: hostA, dst: hostB, proto: protoTCP, hasProto: true,
			ttl: 64, hasTOS: true, hasTTL: true, srcPort: 1000, dstPort: 80, hasPorts: true}, headerTruncated},
		{"ipv6 extension cut", headerIPv6, hbh[:41], packetInfo{src: host6A, dst: host6B, proto: 0, hasProto: true,
			ttl: 64, hasTOS: true, hasTTL: true}, headerTruncated},
		{"mpls without bottom of stack", headerEthernet, ethernet(macB, macA, nil, etherMPLS, []byte{0, 1, 0, 64}), withMAC(packetInfo{}), headerTruncated},
		{"unknown header protocol", 5, tcp4, packetInfo{}, headerUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got packetInfo
			res := parseHeader(tc.protocol, tc.data, &got)
			if res != tc.res {
				t.Errorf("parseHeader() = %v, want %v", res, tc.res)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(packetInfo{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("parseHeader() info (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHeaderAllocs(t *testing.T) {
	frame := ethernet(macB, macA, []uint32{etherVLAN<<16 | 7}, etherIPv6, ipv6(protoTCP, 0, 64, host6A, host6B, tcp(1, 2, 0x10)))
	var pi packetInfo
	if n := testing.AllocsPerRun(100, func() { parseHeader(headerEthernet, frame, &pi) }); n != 0 {
		t.Errorf("parseHeader() allocates %v times per call, want 0", n)
	}
}
