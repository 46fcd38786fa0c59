// Command capture regenerates the real-exporter seed packets in testdata:
// it writes a small pcap of TCP, UDP, ICMP and IPv6 traffic, replays it
// through softflowd for each export version and saves the datagrams that
// softflowd sends.
//
//	go run ./collector/netflow/testdata/capture -out collector/netflow/testdata
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

func main() {
	out := flag.String("out", ".", "directory for the .bin files")
	softflowd := flag.String("softflowd", "/usr/sbin/softflowd", "softflowd binary")
	flag.Parse()
	tmp, err := os.MkdirTemp("", "capture")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	pcapPath := filepath.Join(tmp, "t.pcap")
	if err := writePcap(pcapPath); err != nil {
		log.Fatal(err)
	}
	runs := []struct {
		name string
		args []string
	}{
		{"softflowd_v5", []string{"-v", "5"}},
		{"softflowd_v9", []string{"-v", "9", "-6"}},
		{"softflowd_v9_sampled", []string{"-v", "9", "-s", "10", "-6"}},
		{"softflowd_ipfix", []string{"-v", "10", "-6"}},
		{"softflowd_ipfix_micro", []string{"-v", "10", "-A", "micro", "-6"}},
		{"softflowd_ipfix_bidir", []string{"-v", "10", "-b", "-6"}},
	}
	for _, r := range runs {
		pkts, err := replay(*softflowd, pcapPath, tmp, r.args)
		if err != nil {
			log.Fatalf("%s: %v", r.name, err)
		}
		for i, p := range pkts {
			name := filepath.Join(*out, fmt.Sprintf("%s_%d.bin", r.name, i))
			if err := os.WriteFile(name, p, 0o644); err != nil {
				log.Fatal(err)
			}
		}
		log.Printf("%s: %d datagrams", r.name, len(pkts))
	}
}

func replay(bin, pcapPath, tmp string, args []string) ([][]byte, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	// softflowd keeps the capture name in a 16-byte buffer: run it in the
	// capture's directory with a short relative name.
	full := append([]string{"-D", "-r", filepath.Base(pcapPath), "-n", fmt.Sprintf("127.0.0.1:%d", port),
		"-p", "sfd.pid", "-c", "sfd.ctl"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Dir = tmp
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("softflowd %v: %w", full, err)
	}
	// softflowd keeps running after the end of the file; SIGTERM makes it
	// flush (export) every flow and exit.
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	defer cmd.Wait()
	var pkts [][]byte
	buf := make([]byte, 65536)
	for {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		pkts = append(pkts, append([]byte(nil), buf[:n]...))
	}
	return pkts, nil
}

func writePcap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	eth := func(v6 bool) *layers.Ethernet {
		t := layers.EthernetTypeIPv4
		if v6 {
			t = layers.EthernetTypeIPv6
		}
		return &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0x11, 0x22, 0x33, 0x44, 0x55},
			DstMAC: net.HardwareAddr{0, 0x66, 0x77, 0x88, 0x99, 0xaa}, EthernetType: t}
	}
	ip4 := func(src, dst string, p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: p, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	}
	ip6 := func(src, dst string, p layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	}
	var pkts [][]gopacket.SerializableLayer
	for i := range 5 { // a TCP conversation
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: uint32(i), ACK: i > 0, SYN: i == 0, PSH: i > 1, FIN: i == 4}
		ip := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolTCP)
		tcp.SetNetworkLayerForChecksum(ip)
		pkts = append(pkts, []gopacket.SerializableLayer{eth(false), ip, tcp, gopacket.Payload(make([]byte, 100*i))})
		back := &layers.TCP{SrcPort: 443, DstPort: 40000, Seq: uint32(i), ACK: true, SYN: i == 0}
		ipb := ip4("198.51.100.20", "192.0.2.10", layers.IPProtocolTCP)
		back.SetNetworkLayerForChecksum(ipb)
		pkts = append(pkts, []gopacket.SerializableLayer{eth(false), ipb, back, gopacket.Payload(make([]byte, 1000))})
	}
	for i := range 3 { // DNS over UDP
		udp := &layers.UDP{SrcPort: layers.UDPPort(53000 + i), DstPort: 53}
		ip := ip4("192.0.2.11", "203.0.113.53", layers.IPProtocolUDP)
		udp.SetNetworkLayerForChecksum(ip)
		pkts = append(pkts, []gopacket.SerializableLayer{eth(false), ip, udp, gopacket.Payload(make([]byte, 40))})
	}
	for i := range 2 { // ping
		pkts = append(pkts, []gopacket.SerializableLayer{eth(false), ip4("192.0.2.12", "198.51.100.1", layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: uint16(i)}, gopacket.Payload(make([]byte, 56))})
	}
	for i := range 3 { // IPv6 TCP and UDP
		tcp := &layers.TCP{SrcPort: 50000, DstPort: 80, Seq: uint32(i), SYN: i == 0, ACK: i > 0}
		ip := ip6("2001:db8::10", "2001:db8:1::80", layers.IPProtocolTCP)
		tcp.SetNetworkLayerForChecksum(ip)
		pkts = append(pkts, []gopacket.SerializableLayer{eth(true), ip, tcp, gopacket.Payload(make([]byte, 200))})
		udp := &layers.UDP{SrcPort: 5353, DstPort: 5353}
		ipu := ip6("2001:db8::11", "2001:db8:1::53", layers.IPProtocolUDP)
		udp.SetNetworkLayerForChecksum(ipu)
		pkts = append(pkts, []gopacket.SerializableLayer{eth(true), ipu, udp, gopacket.Payload(make([]byte, 30))})
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for i, ls := range pkts {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
			return err
		}
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * 150 * time.Millisecond),
			CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
