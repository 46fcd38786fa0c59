package main_test

import (
	"testing"
	"time"
)

// TestSampling checks that sampled flows are scaled by their exporter's
// sampling rate: network.bytes/packets are estimates of the real traffic,
// netflow.in_bytes/in_pkts stay as exported. The rate comes from the v5
// header, a v9 options record (SAMPLING_INTERVAL) and an IPFIX options
// record (samplingPacketInterval/Space, RFC 5477: 1 out of 100).
func TestSampling(t *testing.T) {
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})
	now := time.Now().UTC()
	end := now.Add(-time.Second)

	v5 := &exporter{Boot: now.Add(-time.Hour)}
	f5 := testFlows(3, 81, end)
	v5s := newUDPSender(t)
	v5s.send(ps.NetFlow, v5.v5Packet(now, 10, f5))

	v9 := &exporter{Boot: now.Add(-time.Hour), SourceID: 82}
	f9 := testFlows(3, 82, end)
	// Options template 257: scope System (1, 4 bytes); SAMPLING_INTERVAL (34, 4), SAMPLING_ALGORITHM (35, 1).
	opt := put(nil, 1, 2)
	opt = put(opt, 24, 2)
	opt = put(opt, 257, 2)
	opt = put(opt, 4, 2)                                          // scope length in bytes
	opt = put(opt, 8, 2)                                          // option length in bytes
	opt = append(opt, 0, 1, 0, 4, 0, 34, 0, 4, 0, 35, 0, 1, 0, 0) // fields, padding
	optData := []byte{1, 1, 0, 16, 0, 0, 0, 0, 0, 0, 0, 100, 2, 0, 0, 0}
	v9s := newUDPSender(t)
	v9s.send(ps.NetFlow, v9.v9Packet(now, 2, opt, templateSet(v9Template, 256, v9Fields4)))
	v9s.send(ps.NetFlow, v9.v9Packet(now, 1, optData))
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	v9s.send(ps.NetFlow, v9.v9Packet(now, len(f9), v9.dataSet(256, v9Fields4, f9)))

	ix := &exporter{SourceID: 83}
	fx := testFlows(3, 83, end)
	// Options template 258: scope meteringProcessId (143); samplingPacketInterval (305) = 1, samplingPacketSpace (306) = 99.
	iopt := put(nil, 3, 2)
	iopt = put(iopt, 22, 2)
	iopt = put(iopt, 258, 2)
	iopt = put(iopt, 3, 2) // field count
	iopt = put(iopt, 1, 2) // scope field count
	iopt = append(iopt, 0, 143, 0, 4, 1, 0x31, 0, 4, 1, 0x32, 0, 4)
	ioptData := []byte{1, 2, 0, 16, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 99}
	ixs := newUDPSender(t)
	ixs.send(ps.IPFIX, ix.ipfixPacket(now, 1, iopt, templateSet(ipfixTmpl, 256, ipfixFields4), ioptData))
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	ixs.send(ps.IPFIX, ix.ipfixPacket(now, len(fx), ix.dataSet(256, ipfixFields4, fx)))
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	s.stop()

	docs := readDocs(t, s.opts.OutDir)
	for _, tc := range []struct {
		name  string
		tag   string
		flows []flowRec
		rate  uint64
	}{
		{"v5 header sampling interval 10", "203.0.81.", f5, 10},
		{"v9 options SAMPLING_INTERVAL 100", "203.0.82.", f9, 100},
		{"IPFIX options 1 out of 100 (RFC 5477)", "203.0.83.", fx, 100},
	} {
		var want []flowTuple
		for _, ft := range flowTuples(tc.flows) {
			ft.Bytes *= tc.rate
			ft.Pkts *= tc.rate
			want = append(want, ft)
		}
		checkTuples(t, tc.name+": network.bytes/packets scaled", docTuples(t, docs, tc.tag), want)
		for _, d := range docs {
			if dst := d.str("destination.ip"); len(dst) < len(tc.tag) || dst[:len(tc.tag)] != tc.tag {
				continue
			}
			ft, err := docTuple(d)
			if err != nil {
				continue
			}
			i := int(ft.SPort) - 10000
			if i < 0 || i >= len(tc.flows) {
				continue
			}
			if got, _ := d.num("netflow.in_bytes"); got != tc.flows[i].Bytes {
				t.Errorf("%s: netflow.in_bytes = %d, want %d as exported: %.400s", tc.name, got, tc.flows[i].Bytes, d.Raw)
			}
		}
	}
}
