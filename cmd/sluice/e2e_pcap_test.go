package main_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// pcapStart is the first packet time of the generated capture. Fixed so that
// the daily file name of the exported flows is known in advance.
var pcapStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// pcapTimesEnv lets the replayed flows keep their fixed 2026-03-01 times
// (the time check would date them when received; TestTimeOutOfRange
// covers that).
const pcapTimesEnv = "SLUICE_NETFLOW_MAX_PAST=0"

// capture accumulates the frames of the synthetic pcap in time order.
type capture struct {
	t      *testing.T
	now    time.Time
	frames []frame
}

type frame struct {
	ts   time.Time
	data []byte
}

var (
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	serverMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
)

// step advances the capture clock.
func (c *capture) step(d time.Duration) { c.now = c.now.Add(d) }

// add serializes one frame at the current capture time and advances the
// clock by one millisecond so every frame has a distinct time.
func (c *capture) add(ls ...gopacket.SerializableLayer) {
	c.t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		c.t.Fatalf("SerializeLayers() = %v", err)
	}
	data := buf.Bytes()
	// Drop the padding gopacket adds up to Ethernet's 60-byte minimum:
	// softflowd counts the frame after the link header, not the IP length.
	ipLen := 0
	switch binary.BigEndian.Uint16(data[12:14]) {
	case uint16(layers.EthernetTypeIPv4):
		ipLen = int(binary.BigEndian.Uint16(data[16:18]))
	case uint16(layers.EthernetTypeIPv6):
		ipLen = 40 + int(binary.BigEndian.Uint16(data[18:20]))
	}
	if ipLen > 0 && 14+ipLen < len(data) {
		data = data[:14+ipLen]
	}
	c.frames = append(c.frames, frame{ts: c.now, data: append([]byte(nil), data...)})
	c.step(time.Millisecond)
}

// ip returns the network layer for a src->dst packet, IPv4 or IPv6 by address family.
func ipLayers(src, dst net.IP, proto layers.IPProtocol) (eth *layers.Ethernet, ip gopacket.SerializableLayer, nl gopacket.NetworkLayer) {
	eth = &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC}
	if src.To4() != nil {
		eth.EthernetType = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.To4(), DstIP: dst.To4()}
		return eth, v4, v4
	}
	eth.EthernetType = layers.EthernetTypeIPv6
	v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src, DstIP: dst}
	return eth, v6, v6
}

// tcpSeg adds one TCP segment with payload of n bytes.
func (c *capture) tcpSeg(src, dst net.IP, sport, dport uint16, flags string, n int) {
	c.t.Helper()
	eth, ip, nl := ipLayers(src, dst, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Window: 65535, Seq: 1000, Ack: 2000}
	for _, f := range flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'F':
			tcp.FIN = true
		case 'P':
			tcp.PSH = true
		case 'R':
			tcp.RST = true
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
		c.t.Fatalf("SetNetworkLayerForChecksum() = %v", err)
	}
	c.add(eth, ip, tcp, gopacket.Payload(make([]byte, n)))
}

// tcpConn adds a full TCP connection: handshake, reqs client segments and
// resps server segments of the given payload sizes, FIN from both sides.
func (c *capture) tcpConn(cli, srv net.IP, cport, sport uint16, req, resp []int) {
	c.tcpSeg(cli, srv, cport, sport, "S", 0)
	c.tcpSeg(srv, cli, sport, cport, "SA", 0)
	c.tcpSeg(cli, srv, cport, sport, "A", 0)
	for _, n := range req {
		c.tcpSeg(cli, srv, cport, sport, "PA", n)
	}
	for _, n := range resp {
		c.tcpSeg(srv, cli, sport, cport, "PA", n)
	}
	c.tcpSeg(cli, srv, cport, sport, "FA", 0)
	c.tcpSeg(srv, cli, sport, cport, "FA", 0)
	c.tcpSeg(cli, srv, cport, sport, "A", 0)
}

// udp adds one UDP datagram with n bytes of payload.
func (c *capture) udp(src, dst net.IP, sport, dport uint16, n int) {
	c.t.Helper()
	eth, ip, nl := ipLayers(src, dst, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := u.SetNetworkLayerForChecksum(nl); err != nil {
		c.t.Fatalf("SetNetworkLayerForChecksum() = %v", err)
	}
	c.add(eth, ip, u, gopacket.Payload(make([]byte, n)))
}

// icmpEcho adds an ICMPv4 echo request (reply=false) or reply with n bytes of data.
func (c *capture) icmpEcho(src, dst net.IP, reply bool, seq uint16, n int) {
	c.t.Helper()
	eth, ip, _ := ipLayers(src, dst, layers.IPProtocolICMPv4)
	typ := uint8(layers.ICMPv4TypeEchoRequest)
	if reply {
		typ = layers.ICMPv4TypeEchoReply
	}
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 7, Seq: seq}
	c.add(eth, ip, ic, gopacket.Payload(make([]byte, n)))
}

// icmp6Echo adds an ICMPv6 echo request (reply=false) or reply with n bytes of data.
func (c *capture) icmp6Echo(src, dst net.IP, reply bool, seq uint16, n int) {
	c.t.Helper()
	eth, ip, nl := ipLayers(src, dst, layers.IPProtocolICMPv6)
	typ := uint8(layers.ICMPv6TypeEchoRequest)
	if reply {
		typ = layers.ICMPv6TypeEchoReply
	}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	if err := ic.SetNetworkLayerForChecksum(nl); err != nil {
		c.t.Fatalf("SetNetworkLayerForChecksum() = %v", err)
	}
	c.add(eth, ip, ic, &layers.ICMPv6Echo{Identifier: 9, SeqNumber: seq}, gopacket.Payload(make([]byte, n)))
}

// buildCapture writes the deterministic mix of traffic every exporter test
// uses: IPv4 TCP connections, DNS-like UDP, ICMP echo and, with v6, IPv6 TCP,
// UDP and ICMPv6 echo. All packets fall between pcapStart and pcapStart+10s.
func buildCapture(t *testing.T, path string, v6 bool) []pcapFlow {
	t.Helper()
	c := &capture{t: t, now: pcapStart}
	cli := net.ParseIP("10.1.0.10")
	for i := range 4 {
		srv := net.ParseIP(fmt.Sprintf("192.0.2.%d", 80+i))
		req := []int{120 + i}
		resp := make([]int, 2+i) // multi-packet responses of distinct sizes
		for j := range resp {
			resp[j] = 1000 + 10*i + j
		}
		c.tcpConn(cli, srv, uint16(40000+i), 80, req, resp)
		c.step(200 * time.Millisecond)
	}
	dns := net.ParseIP("192.0.2.53")
	for i := range 3 {
		c.udp(cli, dns, uint16(53000+i), 53, 30+i)
		c.udp(dns, cli, 53, uint16(53000+i), 90+i)
		c.step(50 * time.Millisecond)
	}
	gw := net.ParseIP("192.0.2.1")
	for i := range 3 {
		c.icmpEcho(cli, gw, false, uint16(i), 56)
		c.icmpEcho(gw, cli, true, uint16(i), 56)
		c.step(time.Second)
	}
	if v6 {
		cli6 := net.ParseIP("2001:db8::10")
		srv6 := net.ParseIP("2001:db8:1::443")
		c.tcpConn(cli6, srv6, 41000, 443, []int{300, 40}, []int{1400, 1400, 700})
		dns6 := net.ParseIP("2001:db8:1::53")
		c.udp(cli6, dns6, 54000, 53, 40)
		c.udp(dns6, cli6, 53, 54000, 160)
		for i := range 2 {
			c.icmp6Echo(cli6, srv6, false, uint16(i), 32)
			c.icmp6Echo(srv6, cli6, true, uint16(i), 32)
			c.step(100 * time.Millisecond)
		}
	}

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatalf("WriteFileHeader() = %v", err)
	}
	for _, fr := range c.frames {
		ci := gopacket.CaptureInfo{Timestamp: fr.ts, CaptureLength: len(fr.data), Length: len(fr.data)}
		if err := w.WritePacket(ci, fr.data); err != nil {
			t.Fatalf("WritePacket() = %v", err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return c.flows()
}

// pcapFlow is one unidirectional flow of the capture as a NetFlow exporter
// should report it: bytes are IP lengths (header included).
type pcapFlow struct {
	Key         flowKey
	Bytes, Pkts uint64
	First, Last time.Time
	// ICMPType and ICMPCode of ICMP / ICMPv6 flows (one type per flow here).
	ICMPType, ICMPCode uint8
}

// flows aggregates the capture's frames into unidirectional 5-tuple flows,
// the reference the exported records are checked against.
func (c *capture) flows() []pcapFlow {
	c.t.Helper()
	idx := map[flowKey]int{}
	var out []pcapFlow
	for _, fr := range c.frames {
		pkt := gopacket.NewPacket(fr.data, layers.LayerTypeEthernet, gopacket.Default)
		var k flowKey
		var n uint64
		switch ip := pkt.NetworkLayer().(type) {
		case *layers.IPv4:
			k.Src, k.Dst, k.Proto, n = ip.SrcIP.String(), ip.DstIP.String(), uint8(ip.Protocol), uint64(ip.Length)
		case *layers.IPv6:
			k.Src, k.Dst, k.Proto, n = ip.SrcIP.String(), ip.DstIP.String(), uint8(ip.NextHeader), uint64(ip.Length)+40
		default:
			c.t.Fatalf("frame without IP layer: %v", pkt)
		}
		switch l4 := pkt.TransportLayer().(type) {
		case *layers.TCP:
			k.SPort, k.DPort = uint16(l4.SrcPort), uint16(l4.DstPort)
		case *layers.UDP:
			k.SPort, k.DPort = uint16(l4.SrcPort), uint16(l4.DstPort)
		}
		var typ, code uint8
		if ic, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
			typ, code = ic.TypeCode.Type(), ic.TypeCode.Code()
		}
		if ic, ok := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
			typ, code = ic.TypeCode.Type(), ic.TypeCode.Code()
		}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, pcapFlow{Key: k, First: fr.ts, ICMPType: typ, ICMPCode: code})
		}
		out[i].Bytes += n
		out[i].Pkts++
		out[i].Last = fr.ts
	}
	return out
}
