package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// flowKey is a unidirectional 5-tuple. Ports are zero for ICMP: exporters
// put the type/code in different places (softflowd: ICMP_TYPE in v9/IPFIX,
// destination port in v5), and that is not what the comparison is about.
type flowKey struct {
	Src, Dst     string
	SPort, DPort uint16
	Proto        uint8
}

// flowTuple is what the comparison between collectors is about.
type flowTuple struct {
	flowKey
	Bytes, Pkts uint64
}

func (f flowTuple) String() string {
	hp := func(ip string, port uint16) string { return net.JoinHostPort(ip, strconv.Itoa(int(port))) }
	return fmt.Sprintf("proto=%d %s -> %s bytes=%d packets=%d", f.Proto, hp(f.Src, f.SPort), hp(f.Dst, f.DPort), f.Bytes, f.Pkts)
}

func isICMP(proto uint8) bool { return proto == 1 || proto == 58 }

func normKey(k flowKey) flowKey {
	if isICMP(k.Proto) {
		k.SPort, k.DPort = 0, 0
	}
	// Canonical address text (IPv6 zero compression) for both sides.
	if a, err := netip.ParseAddr(k.Src); err == nil {
		k.Src = a.String()
	}
	if a, err := netip.ParseAddr(k.Dst); err == nil {
		k.Dst = a.String()
	}
	return k
}

// tupleLines renders a multiset of flows as sorted lines for go-cmp diffs.
func tupleLines(ts []flowTuple) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	sort.Strings(out)
	return out
}

// docTuple extracts the comparison tuple from a sluice document.
func docTuple(d doc) (flowTuple, error) {
	var ft flowTuple
	ft.Src, ft.Dst = d.str("source.ip"), d.str("destination.ip")
	if ft.Src == "" || ft.Dst == "" {
		return ft, fmt.Errorf("source.ip/destination.ip missing")
	}
	sp, _ := d.num("source.port")
	dp, _ := d.num("destination.port")
	ft.SPort, ft.DPort = uint16(sp), uint16(dp)
	proto, ok := d.num("network.iana_number")
	if !ok {
		return ft, fmt.Errorf("network.iana_number missing")
	}
	ft.Proto = uint8(proto)
	if ft.Bytes, ok = d.num("network.bytes"); !ok {
		return ft, fmt.Errorf("network.bytes missing")
	}
	if ft.Pkts, ok = d.num("network.packets"); !ok {
		return ft, fmt.Errorf("network.packets missing")
	}
	ft.flowKey = normKey(ft.flowKey)
	return ft, nil
}

// udpQueue sums the receive queue (bytes) and kernel drop counters of every
// UDP socket bound to port, from /proc/net/udp and udp6.
func udpQueue(port int) (rxQueue, drops int64, found bool) {
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		rx, d, ok := udpQueueFile(name, port)
		rxQueue, drops, found = rxQueue+rx, drops+d, found || ok
	}
	return rxQueue, drops, found
}

func udpQueueFile(name string, port int) (rxQueue, drops int64, found bool) {
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	suffix := fmt.Sprintf(":%04X", port)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 13 || !strings.HasSuffix(fs[1], suffix) {
			continue
		}
		q := strings.SplitN(fs[4], ":", 2)
		if len(q) != 2 {
			continue
		}
		rx, _ := strconv.ParseInt(q[1], 16, 64)
		d, _ := strconv.ParseInt(fs[len(fs)-1], 10, 64)
		rxQueue += rx
		drops += d
		found = true
	}
	return rxQueue, drops, found
}

// waitUDPDrained waits until the sockets on port have read everything queued.
func waitUDPDrained(t *testing.T, port int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rx, _, found := udpQueue(port)
		if found && rx == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("UDP port %d: receive queue not drained within %v (rx_queue=%d bytes, socket found=%v)", port, timeout, rx, found)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nfcapd is a running nfcapd, the reference collector.
type nfcapd struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string
	port int
	log  string
	done chan struct{}
	err  error
}

func startNfcapd(t *testing.T, bin string) *nfcapd {
	t.Helper()
	n := &nfcapd{t: t, dir: t.TempDir(), port: freeUDPPort(t), done: make(chan struct{})}
	n.log = filepath.Join(t.TempDir(), "nfcapd.log")
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// -t 3600: one file for the whole run; it is closed and renamed on SIGTERM.
	n.cmd = exec.Command(bin, "-b", "127.0.0.1", "-p", strconv.Itoa(n.port), "-w", n.dir, "-t", "3600", "-P", filepath.Join(t.TempDir(), "nfcapd.pid"))
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nfcapd: %v", err)
	}
	go func() { n.err = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, found := udpQueue(n.port); found {
			return n
		}
		select {
		case <-n.done:
			b, _ := os.ReadFile(n.log)
			t.Fatalf("nfcapd exited at start (%v):\n%s", n.err, b)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(n.log)
			t.Fatalf("nfcapd not listening on %d within 10s:\n%s", n.port, b)
		}
	}
}

// stop terminates nfcapd (which closes its file) and returns its flows from nfdump.
func (n *nfcapd) stop(nfdumpBin string) []flowTuple {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatalf("nfcapd SIGTERM: %v", err)
	}
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.t.Fatalf("nfcapd did not exit within 10s of SIGTERM")
	}
	files, _ := filepath.Glob(filepath.Join(n.dir, "nfcapd.2*"))
	if len(files) == 0 {
		b, _ := os.ReadFile(n.log)
		ents, _ := os.ReadDir(n.dir)
		n.t.Fatalf("nfcapd wrote no nfcapd.YYYYMMDDhhmm file in %s (%v); log:\n%s", n.dir, ents, b)
	}
	var out []flowTuple
	for _, f := range files {
		js := runCmd(n.t, "", 20*time.Second, true, nfdumpBin, "-r", f, "-o", "json")
		var raw []map[string]any
		if err := json.Unmarshal([]byte(js), &raw); err != nil {
			n.t.Fatalf("nfdump -o json: %v; output:\n%.2000s", err, js)
		}
		for _, r := range raw {
			s := func(k string) string { v, _ := r[k].(string); return v }
			u := func(k string) uint64 { v, _ := r[k].(float64); return uint64(v) }
			ft := flowTuple{flowKey: flowKey{
				Src: s("src4_addr") + s("src6_addr"), Dst: s("dst4_addr") + s("dst6_addr"),
				SPort: uint16(u("src_port")), DPort: uint16(u("dst_port")), Proto: uint8(u("proto")),
			}, Bytes: u("in_bytes"), Pkts: u("in_packets")}
			ft.flowKey = normKey(ft.flowKey)
			out = append(out, ft)
		}
	}
	return out
}

var exportedRecords = regexp.MustCompile(`Flows exported: \d+ \((\d+) records\)`)

// TestSoftflowd exports the same capture with softflowd as NetFlow v5, v9
// and IPFIX to sluice and to nfcapd at once, and checks sluice's documents
// against nfdump's reading and against the flows computed from the capture.
func TestSoftflowd(t *testing.T) {
	softflowd := requireTool(t, "softflowd", "softflowd")
	nfcapdBin := requireTool(t, "nfcapd", "nfdump")
	nfdumpBin := requireTool(t, "nfdump", "nfdump")

	dir := t.TempDir()
	pcap4, pcap6 := "v4.pcap", "v6.pcap" // in dir
	want4 := buildCapture(t, filepath.Join(dir, pcap4), false)
	want6 := buildCapture(t, filepath.Join(dir, pcap6), true)

	for _, tc := range []struct {
		name    string
		version string
		pcap    string
		want    []pcapFlow
		ipfix   bool // send to the IPFIX port instead of the NetFlow port
	}{
		{"v5", "5", pcap4, want4, false},
		{"v9", "9", pcap6, want6, false},
		{"ipfix", "10", pcap6, want6, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nfc := startNfcapd(t, nfcapdBin)
			ps := newPorts(t)
			s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{pcapTimesEnv}})
			port := ps.NetFlow
			if tc.ipfix {
				port = ps.IPFIX
			}
			// -a: flow times from the capture, not the wall clock. Two
			// destinations: softflowd sends every datagram to both. Paths
			// are relative and short: softflowd 1.1.0 truncates -r to 16
			// bytes (IFNAMSIZ) and hangs with a 16-byte -p/-c name.
			out := runCmd(t, dir, 20*time.Second, false, softflowd, "-r", tc.pcap, "-v", tc.version, "-a", "-d",
				"-n", fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", port, nfc.port),
				"-p", "sf.pid", "-c", "sf.ctl")
			m := exportedRecords.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("softflowd output has no %q line:\n%s", exportedRecords, out)
			}
			records, _ := strconv.Atoi(m[1])
			if records != len(tc.want) {
				t.Errorf("softflowd exported %d records, the capture has %d unidirectional flows; softflowd output:\n%s", records, len(tc.want), out)
			}
			waitUDPDrained(t, port, 5*time.Second)
			waitUDPDrained(t, nfc.port, 5*time.Second)
			_, kdrops, _ := udpQueue(port)
			s.stop()
			nf := nfc.stop(nfdumpBin)
			docs := readDocs(t, s.opts.OutDir)

			var got []flowTuple
			for _, d := range docs {
				ft, err := docTuple(d)
				if err != nil {
					t.Errorf("document: %v: %.400s", err, d.Raw)
					continue
				}
				got = append(got, ft)
			}
			var want []flowTuple
			for _, f := range tc.want {
				want = append(want, flowTuple{flowKey: normKey(f.Key), Bytes: f.Bytes, Pkts: f.Pkts})
			}
			if len(nf) != records {
				t.Errorf("nfcapd stored %d flows, softflowd exported %d records", len(nf), records)
			}
			if diff := cmp.Diff(tupleLines(nf), tupleLines(got)); diff != "" {
				t.Errorf("sluice flows differ from nfcapd's (%d documents, %d nfdump flows, kernel drops on sluice's port %d) (-nfdump +sluice):\n%s",
					len(got), len(nf), kdrops, diff)
			}
			if diff := cmp.Diff(tupleLines(want), tupleLines(got)); diff != "" {
				t.Errorf("sluice flows differ from the capture's (-capture +sluice):\n%s", diff)
			}
			checkDaily(t, docs)
			checkFlowDocs(t, docs, tc.want, tc.version)
		})
	}
}

// checkFlowDocs checks the per-document contract on softflowd's flows: time
// fields from the capture, ECS network fields, community ID, exporter facts.
func checkFlowDocs(t *testing.T, docs []doc, want []pcapFlow, version string) {
	t.Helper()
	byKey := map[flowKey]pcapFlow{}
	for _, f := range want {
		byKey[normKey(f.Key)] = f
	}
	const slack = 2 * time.Second // v5/v9 carry whole export seconds; softflowd rounds
	errs := 0
	fail := func(d doc, format string, args ...any) {
		t.Helper()
		errs++
		if errs <= 15 {
			t.Errorf("%s\n  document: %.600s", fmt.Sprintf(format, args...), d.Raw)
		}
	}
	for _, d := range docs {
		ft, err := docTuple(d)
		if err != nil {
			continue // reported by the caller
		}
		pf, ok := byKey[ft.flowKey]
		if !ok {
			continue // reported by the multiset diff
		}
		if got := d.str("event.kind"); got != "event" {
			fail(d, "event.kind = %q, want \"event\"", got)
		}
		if d.str("event.action") == "" {
			fail(d, "event.action missing")
		}
		ts, err1 := d.time("@timestamp")
		start, err2 := d.time("event.start")
		end, err3 := d.time("event.end")
		if _, err := d.time("event.created"); err != nil {
			fail(d, "event.created: %v", err)
		}
		if err1 != nil || err2 != nil || err3 != nil {
			fail(d, "time fields: @timestamp %v, event.start %v, event.end %v", err1, err2, err3)
		} else {
			if !ts.Equal(end) {
				fail(d, "@timestamp %s != event.end %s (flow end expected)", ts.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
			}
			if dt := start.Sub(pf.First); dt < -slack || dt > slack {
				fail(d, "event.start %s, capture's first packet %s (off by %v)", start.Format(time.RFC3339Nano), pf.First.Format(time.RFC3339Nano), dt)
			}
			if dt := end.Sub(pf.Last); dt < -slack || dt > slack {
				fail(d, "event.end %s, capture's last packet %s (off by %v)", end.Format(time.RFC3339Nano), pf.Last.Format(time.RFC3339Nano), dt)
			}
			if end.Before(start) {
				fail(d, "event.end %s before event.start %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
			}
		}
		if want := "sluice-flows-2026.03.01.ndjson"; d.File != want {
			fail(d, "document in %s, want %s", d.File, want)
		}
		transport := map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp"}[ft.Proto]
		if got := d.str("network.transport"); got != transport {
			fail(d, "network.transport = %q, want %q", got, transport)
		}
		ipType := "ipv4"
		if strings.Contains(ft.Src, ":") {
			ipType = "ipv6"
		}
		if got := d.str("network.type"); got != ipType {
			fail(d, "network.type = %q, want %q", got, ipType)
		}
		if p, ok := d.num("netflow.protocol_identifier"); !ok || uint8(p) != ft.Proto {
			fail(d, "netflow.protocol_identifier = %v, want %d", d.str("netflow.protocol_identifier"), ft.Proto)
		}
		if b, ok := d.num("netflow.in_bytes"); !ok || b != ft.Bytes {
			fail(d, "netflow.in_bytes = %q, want %d", d.str("netflow.in_bytes"), ft.Bytes)
		}
		if b, ok := d.num("netflow.in_pkts"); !ok || b != ft.Pkts {
			fail(d, "netflow.in_pkts = %q, want %d", d.str("netflow.in_pkts"), ft.Pkts)
		}
		if b, ok := d.num("source.bytes"); ok && b != ft.Bytes {
			fail(d, "source.bytes = %d, want %d (records are unidirectional)", b, ft.Bytes)
		}
		if b, ok := d.num("source.packets"); ok && b != ft.Pkts {
			fail(d, "source.packets = %d, want %d", b, ft.Pkts)
		}
		sport, dport := ft.SPort, ft.DPort
		if isICMP(ft.Proto) {
			sport, dport = uint16(pf.ICMPType), uint16(pf.ICMPCode)
		}
		wantCID := communityID(netip.MustParseAddr(ft.Src), netip.MustParseAddr(ft.Dst), sport, dport, ft.Proto)
		if got := d.str("network.community_id"); got != wantCID {
			if isICMP(ft.Proto) {
				fail(d, "network.community_id = %q, want %q (ICMP type %d code %d)", got, wantCID, pf.ICMPType, pf.ICMPCode)
			} else {
				fail(d, "network.community_id = %q, want %q", got, wantCID)
			}
		}
		if got := d.str("observer.ip"); got != "127.0.0.1" {
			fail(d, "observer.ip = %q, want 127.0.0.1", got)
		}
		if got := d.str("netflow.exporter.version"); got != version {
			fail(d, "netflow.exporter.version = %q, want %s", got, version)
		}
		if got := d.str("netflow.exporter.address"); !strings.HasPrefix(got, "127.0.0.1") {
			fail(d, "netflow.exporter.address = %q, want 127.0.0.1[:port]", got)
		}
	}
	if errs > 15 {
		t.Errorf("... %d document errors in all", errs)
	}
}
