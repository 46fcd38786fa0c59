package main_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// TestSFlow sends one sFlow v5 datagram (TCP, UDP and ICMP flow samples with
// raw packet headers, and a counter sample) and expects one document per flow sample.
func TestSFlow(t *testing.T) {
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})

	agent := netip.MustParseAddr("192.0.2.200")
	type sample struct {
		src, dst     netip.Addr
		sport, dport uint16
		proto        uint8
		payload      int
		rate         uint32
	}
	samples := []sample{
		{netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("203.0.50.20"), 49152, 443, 6, 100, 1},
		{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("203.0.50.53"), 53001, 53, 17, 40, 10},
		// ICMP echo request: the "ports" are type 8 / code 0 for the community ID.
		{netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("203.0.50.1"), 8, 0, 1, 56, 1},
	}
	var fs []sflowFlowSample
	for _, sm := range samples {
		frame := ethFrame(t, sm.src, sm.dst, sm.sport, sm.dport, sm.proto, sm.payload)
		fs = append(fs, sflowFlowSample{Rate: sm.rate, FrameLen: uint32(len(frame) + 4), Header: frame, Input: 3, Output: 4})
	}
	dg := sflowDatagram(agent, 7, time.Hour, fs, true)
	// The datagram itself is checked with gopacket's sFlow decoder, so a
	// failure below is sluice's and not the test's encoder.
	pkt := gopacket.NewPacket(dg, layers.LayerTypeSFlow, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("test datagram does not decode with gopacket: %v", el.Error())
	}
	if sf, ok := pkt.Layer(layers.LayerTypeSFlow).(*layers.SFlowDatagram); !ok || len(sf.FlowSamples) != len(samples) || len(sf.CounterSamples) != 1 {
		t.Fatalf("test datagram decodes with gopacket to %v", pkt)
	}
	before := time.Now().UTC()
	newUDPSender(t).send(ps.SFlow, dg)
	waitUDPDrained(t, ps.SFlow, 5*time.Second)
	s.stop()
	after := time.Now().UTC()

	docs := readDocs(t, s.opts.OutDir)
	var flows []doc
	for _, d := range docs {
		if d.str("netflow.type") == "sflow_flow" {
			flows = append(flows, d)
		}
	}
	if len(flows) != len(samples) {
		t.Fatalf("%d documents with netflow.type sflow_flow (of %d documents), want %d:\n%s", len(flows), len(docs), len(samples), rawLines(docs))
	}
	for i, sm := range samples {
		var d *doc
		for k := range flows {
			if flows[k].str("source.ip") == sm.src.String() {
				d = &flows[k]
			}
		}
		if d == nil {
			t.Errorf("sample %d (source %s): no document", i, sm.src)
			continue
		}
		frameLen := uint64(fs[i].FrameLen)
		sport, dport := itoa(uint64(sm.sport)), itoa(uint64(sm.dport))
		if isICMP(sm.proto) {
			sport, dport = "", "" // ICMP has no ports
		}
		checks := []struct {
			field, want string
		}{
			{"event.kind", "event"},
			{"destination.ip", sm.dst.String()},
			{"source.port", sport},
			{"destination.port", dport},
			{"network.iana_number", itoa(uint64(sm.proto))},
			{"network.transport", map[uint8]string{1: "icmp", 6: "tcp", 17: "udp"}[sm.proto]},
			{"network.type", "ipv4"},
			{"network.community_id", communityID(sm.src, sm.dst, sm.sport, sm.dport, sm.proto)},
			// Sampled counts are scaled by the sampling rate.
			{"network.packets", itoa(uint64(sm.rate))},
			{"network.bytes", itoa(frameLen * uint64(sm.rate))},
			{"observer.ip", agent.String()},
		}
		for _, c := range checks {
			if got := d.str(c.field); got != c.want {
				t.Errorf("sample %d: %s = %q, want %q\n  document: %.600s", i, c.field, got, c.want, d.Raw)
			}
		}
		ts, err := d.time("@timestamp")
		if err != nil {
			t.Errorf("sample %d: @timestamp: %v", i, err)
		} else if ts.Before(before.Add(-time.Second)) || ts.After(after) {
			t.Errorf("sample %d: @timestamp %s, want the receive time (between %s and %s)", i, ts, before, after)
		}
	}
	checkDaily(t, docs)
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// rawLines joins documents for failure messages.
func rawLines(docs []doc) string {
	var b strings.Builder
	for _, d := range docs {
		b.WriteString(d.Raw)
		b.WriteByte('\n')
	}
	return b.String()
}
