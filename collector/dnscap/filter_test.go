package dnscap

import (
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

// TestFilterProgram runs the kernel filter in x/net/bpf's VM over frames
// it must accept and refuse.
func TestFilterProgram(t *testing.T) {
	raw, err := filterProgram([]uint16{53, 5353}, 65560, false)
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("Disassemble: not every instruction decodes")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	frag := buildFrame(frameOpts{src: client, dst: server, sport: 1, dport: 53, proto: protoUDP, payload: []byte("x")})
	frag[14+6], frag[14+7] = 0x00, 0x10 // fragment offset 16
	opts := buildFrame(frameOpts{src: client, dst: server, sport: 1, dport: 53, proto: protoUDP, payload: []byte("x")})
	// An IPv4 header with options: the ports are 4 bytes further.
	withOpts := append(append(append([]byte{}, opts[:14]...), 0x46), opts[15:34]...)
	withOpts = append(append(withOpts, 1, 1, 1, 1), opts[34:]...)
	withOpts[14+3] += 4
	for _, tc := range []struct {
		name   string
		frame  []byte
		accept bool
	}{
		{"udp4 to 53", buildFrame(frameOpts{src: client, dst: server, sport: 40000, dport: 53, proto: protoUDP, payload: []byte("x")}), true},
		{"udp4 from 53", buildFrame(frameOpts{src: server, dst: client, sport: 53, dport: 40000, proto: protoUDP, payload: []byte("x")}), true},
		{"tcp4 to 5353", buildFrame(frameOpts{src: client, dst: server, sport: 40000, dport: 5353, proto: protoTCP}), true},
		{"udp6 from 53", buildFrame(frameOpts{src: v6a, dst: v6b, sport: 53, dport: 40000, proto: protoUDP, payload: []byte("x")}), true},
		{"tcp6 to 53", buildFrame(frameOpts{src: v6a, dst: v6b, sport: 40000, dport: 53, proto: protoTCP}), true},
		{"vlan (checked in Go)", buildFrame(frameOpts{src: client, dst: server, sport: 1, dport: 2, proto: protoUDP, vlan: true}), true},
		{"ipv4 options", withOpts, true},
		{"udp4 other ports", buildFrame(frameOpts{src: client, dst: server, sport: 40000, dport: 443, proto: protoUDP}), false},
		{"tcp6 other ports", buildFrame(frameOpts{src: v6a, dst: v6b, sport: 40000, dport: 80, proto: protoTCP}), false},
		{"fragment", frag, false},
		{"arp", append(make([]byte, 12), 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1), false},
		{"icmp", append(append([]byte{}, opts[:23]...), append([]byte{1}, opts[24:]...)...), false},
	} {
		n, err := vm.Run(tc.frame)
		if err != nil {
			t.Fatalf("%s: Run: %v", tc.name, err)
		}
		if (n > 0) != tc.accept {
			t.Errorf("%s: filter returned %d, want accept=%v", tc.name, n, tc.accept)
		}
		var p packet
		parseFrame(tc.frame, &p)
		if tc.name == "ipv4 options" && (p.malformed >= 0 || p.dport != 53 || string(p.payload) != "x") {
			t.Errorf("%s: parseFrame = %+v", tc.name, p)
		}
	}
}
