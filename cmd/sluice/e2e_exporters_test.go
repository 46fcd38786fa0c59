package main_test

import (
	"net"
	"testing"
	"time"
)

// senderFrom returns a UDP sender bound to the loopback address ip (any
// 127.0.0.0/8 address works as a source on Linux).
func senderFrom(t *testing.T, ip string) *udpSender {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("bind %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpSender{t: t, conn: c}
}

// sendFrom sends to 127.0.0.1:port from s's address.
func (s *udpSender) sendTo(port int, pkts ...[]byte) {
	s.t.Helper()
	for _, p := range pkts {
		s.send(port, p)
	}
}

// v9Flows returns the packets of an exporter sending flows in packets of 25,
// the first with the template when withTemplate.
func v9Flows(e *exporter, now time.Time, tmplID uint16, flows []flowRec, withTemplate bool) [][]byte {
	var out [][]byte
	for i := 0; i < len(flows); i += 25 {
		chunk := flows[i:min(i+25, len(flows))]
		if i == 0 && withTemplate {
			out = append(out, e.v9Packet(now, 1+len(chunk), templateSet(v9Template, tmplID, v9Fields4), e.dataSet(tmplID, v9Fields4, chunk)))
			continue
		}
		out = append(out, e.v9Packet(now, len(chunk), e.dataSet(tmplID, v9Fields4, chunk)))
	}
	return out
}

// TestExporterFloodAndAllowList runs the binary with
// netflow.allowed_exporters and a small netflow.templates.max_exporters (set
// through SLUICE_* env): a flood of template-only exporters from 100
// loopback addresses on the IPFIX port fills the exporter table, a sender
// outside the allow list is dropped and counted, and a new exporter still
// gets 100 of 100 flows stored, also after a restart with the saved state.
func TestExporterFloodAndAllowList(t *testing.T) {
	ps := newPorts(t)
	dataDir := t.TempDir()
	opts := sluiceOpts{Ports: ps, DataDir: dataDir, Env: []string{
		"SLUICE_NETFLOW_ALLOWED_EXPORTERS=127.0.0.0/25",
		"SLUICE_NETFLOW_TEMPLATES_MAX_EXPORTERS=20",
	}}
	flood := func(now time.Time) {
		for i := range 100 {
			s := senderFrom(t, net.IPv4(127, 0, 0, byte(10+i)).String())
			e := &exporter{SourceID: uint32(i)}
			var sets [][]byte
			for j := range 5 {
				sets = append(sets, templateSet(ipfixTmpl, uint16(300+j), ipfixFields4[:1+j]))
			}
			s.send(ps.IPFIX, e.ipfixPacket(now, 0, sets...))
		}
	}
	// waitMetric polls /metrics until the series reaches want (the socket
	// queues are empty already, but datagrams may still be in a worker's).
	waitMetric := func(p *sluiceProc, series string, want float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := p.metrics()[series]
			if got >= want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v after 10s, want %v", series, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	s1 := startSluice(t, opts)
	now := time.Now().UTC()
	end := now.Add(-time.Second)
	flood(now)
	legit, denied := senderFrom(t, "127.0.0.2"), senderFrom(t, "127.0.0.200")
	le, de := &exporter{Boot: now.Add(-time.Hour), SourceID: 42}, &exporter{Boot: now.Add(-time.Hour), SourceID: 42}
	f1, fDenied := testFlows(100, 11, end), testFlows(100, 12, end)
	legit.sendTo(ps.NetFlow, v9Flows(le, now, 260, f1, true)...)
	denied.sendTo(ps.NetFlow, v9Flows(de, now, 260, fDenied, true)...)
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	// 101 exporters allowed, room for 20.
	waitMetric(s1, `sluice_netflow_exporter_evictions_total{reason="max_exporters"}`, 81)
	waitMetric(s1, `sluice_netflow_packets_dropped_total{reason="exporter_not_allowed"}`, 4)
	m := s1.metrics()
	if got := m[`sluice_netflow_packets_dropped_total{reason="exporter_not_allowed"}`]; got != 4 {
		t.Errorf("packets dropped{exporter_not_allowed} = %v, want 4", got)
	}
	if got := m["sluice_netflow_exporters"]; got > 20 {
		t.Errorf("sluice_netflow_exporters = %v, limit 20", got)
	}
	s1.stop()
	s1.checkLog()
	docs1 := readDocs(t, s1.opts.OutDir)
	checkTuples(t, "run 1, new exporter after the flood", docTuples(t, docs1, "203.0.11."), flowTuples(f1))
	if n := len(docTuples(t, docs1, "203.0.12.")); n != 0 {
		t.Errorf("run 1 stored %d flows of the exporter not allowed", n)
	}
	if len(docs1) != 100 {
		t.Errorf("run 1 wrote %d documents, want 100", len(docs1))
	}
	if t.Failed() {
		t.FailNow()
	}

	// Restart on the saved state: the known exporter sends data only, the
	// flood resumes, a second new exporter starts with its template.
	opts.OutDir = ""
	s2 := startSluice(t, opts)
	now2 := time.Now().UTC()
	end2 := now2.Add(-time.Second)
	flood(now2)
	f2, f3 := testFlows(100, 21, end2), testFlows(100, 22, end2)
	legit.sendTo(ps.NetFlow, v9Flows(le, now2, 260, f2, false)...)
	le3 := &exporter{Boot: now2.Add(-time.Hour), SourceID: 7}
	senderFrom(t, "127.0.0.3").sendTo(ps.NetFlow, v9Flows(le3, now2, 261, f3, true)...)
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	s2.stop()
	s2.checkLog()
	docs2 := readDocs(t, s2.opts.OutDir)
	checkTuples(t, "run 2, known exporter, data only", docTuples(t, docs2, "203.0.21."), flowTuples(f2))
	checkTuples(t, "run 2, new exporter", docTuples(t, docs2, "203.0.22."), flowTuples(f3))
	if len(docs2) != 200 {
		t.Errorf("run 2 wrote %d documents, want 200", len(docs2))
	}
}
