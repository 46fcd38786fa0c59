package main_test

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestFlowDecoderGaps sends, through a running sluice, what real exporters
// do and what sluice once lost: an H3C/Huawei NetStream v9 template with
// variable-length (65535) and zero-length fields, ICMP type/code packed in
// the destination port, counters of 0, an IPFIX dual-stack record with the
// other family all zeros, ICMPv6 type/code in its own IE and PSAMP random
// n-out-of-N sampling named by selectorAlgorithm. The documents in the daily
// file must carry each.
func TestFlowDecoderGaps(t *testing.T) {
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})
	now := time.Now().UTC()

	// NetFlow v9, template 400: src, dst, proto, dst port, applicationName
	// (96, variable), ingress interface (10, length 0), in/out bytes/pkts.
	v9 := &exporter{Boot: now.Add(-time.Hour), SourceID: 46}
	tmpl := templateSet(v9Template, 400, []tmplField{{fSrcV4, 4}, {fDstV4, 4}, {fProto, 1}, {fDstPort, 2}, {96, 0xffff},
		{fInputIf, 0}, {fInBytes, 4}, {fInPkts, 4}, {23, 4}, {24, 4}})
	rec := func(b []byte, dst string, proto uint8, dport uint16, app string, in, inPkts uint64) []byte {
		b = append(b, 10, 46, 0, 1)
		b = append(b, netip.MustParseAddr(dst).AsSlice()...)
		b = put(b, uint64(proto), 1)
		b = put(b, uint64(dport), 2)
		if len(app) < 255 {
			b = put(b, uint64(len(app)), 1)
		} else {
			b = put(b, 255, 1)
			b = put(b, uint64(len(app)), 2)
		}
		b = append(b, app...)
		b = put(b, in, 4)
		b = put(b, inPkts, 4)
		return put(b, 0, 8) // out bytes and packets: 0
	}
	long := strings.Repeat("h3c-", 100)
	data := put(nil, 400, 2)
	data = append(data, 0, 0)
	data = rec(data, "203.0.46.1", 1, 3<<8|1, "ping", 84, 1) // ICMP host unreachable
	data = rec(data, "203.0.46.2", 6, 443, long, 0, 0)
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	binary.BigEndian.PutUint16(data[2:], uint16(len(data)))
	v9s := newUDPSender(t)
	v9s.send(ps.NetFlow, v9.v9Packet(now, 3, tmpl, data))

	// IPFIX: options template 401 (scope selectorId 302; selectorAlgorithm
	// 304 = 3 random n-out-of-N, samplingSize 309 = 1, samplingPopulation
	// 310 = 50, and count-based parameters 305/306 saying 1 in 10, which the
	// named algorithm overrides); data template 402 with both families.
	ix := &exporter{SourceID: 47}
	opt := put(nil, 3, 2)
	opt = put(opt, 36, 2) // set length, padding included
	opt = put(opt, 401, 2)
	opt = put(opt, 6, 2) // fields
	opt = put(opt, 1, 2) // scope fields
	for _, f := range [][2]uint64{{302, 4}, {304, 1}, {309, 4}, {310, 4}, {305, 4}, {306, 4}} {
		opt = put(opt, f[0], 2)
		opt = put(opt, f[1], 2)
	}
	opt = append(opt, 0, 0) // padding
	optData := put(nil, 401, 2)
	optData = append(optData, 0, 0) // length, patched below
	optData = put(optData, 7, 4)
	optData = put(optData, 3, 1)
	optData = put(optData, 1, 4)
	optData = put(optData, 50, 4)
	optData = put(optData, 1, 4)
	optData = put(optData, 9, 4)
	optData = append(optData, 0, 0, 0) // padding
	binary.BigEndian.PutUint16(optData[2:], uint16(len(optData)))
	dual := []tmplField{{fSrcV4, 4}, {fSrcV6, 16}, {fDstV4, 4}, {fDstV6, 16}, {302, 4}, {fProto, 1}, {139, 2}, {fInBytes, 8}, {fInPkts, 8}}
	drec := put(nil, 402, 2)
	drec = append(drec, 0, 0) // length, patched below
	drec = append(drec, 0, 0, 0, 0)
	drec = append(drec, netip.MustParseAddr("2001:db8:46::1").AsSlice()...)
	drec = append(drec, 0, 0, 0, 0)
	drec = append(drec, netip.MustParseAddr("2001:db8:46::2").AsSlice()...)
	drec = put(drec, 7, 4)
	drec = put(drec, 58, 1)
	drec = put(drec, 128<<8, 2) // echo request
	drec = put(drec, 100, 8)
	drec = put(drec, 1, 8)
	binary.BigEndian.PutUint16(drec[2:], uint16(len(drec)))
	ixs := newUDPSender(t)
	ixs.send(ps.IPFIX, ix.ipfixPacket(now, 1, opt, templateSet(ipfixTmpl, 402, dual), optData))
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	ixs.send(ps.IPFIX, ix.ipfixPacket(now, 1, drec))
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	s.stop()

	byDst := map[string]doc{}
	for _, d := range readDocs(t, s.opts.OutDir) {
		byDst[d.str("destination.ip")] = d
	}
	type num struct {
		path string
		want uint64
	}
	for _, tc := range []struct {
		dst     string
		nums    []num
		strs    map[string]string
		missing []string
	}{
		{"203.0.46.1",
			[]num{{"icmp.type", 3}, {"icmp.code", 1}, {"network.bytes", 84}, {"destination.bytes", 0}, {"destination.packets", 0}},
			map[string]string{"netflow.application_name": "ping", "source.ip": "10.46.0.1"},
			[]string{"netflow.ingress_interface", "destination.port"}},
		{"203.0.46.2",
			[]num{{"network.bytes", 0}, {"network.packets", 0}, {"source.bytes", 0}, {"source.packets", 0}, {"destination.port", 443}},
			map[string]string{"netflow.application_name": long},
			[]string{"icmp.type", "netflow.ingress_interface"}},
		{"2001:db8:46::2",
			[]num{{"icmp.type", 128}, {"icmp.code", 0}, {"netflow.sampling_rate", 50}, {"network.bytes", 5000}, {"network.packets", 50}, {"netflow.in_bytes", 100}},
			map[string]string{"source.ip": "2001:db8:46::1", "netflow.source_ipv6_address": "2001:db8:46::1", "network.type": "ipv6"},
			[]string{"netflow.source_ipv4_address", "netflow.destination_ipv4_address"}},
	} {
		d, ok := byDst[tc.dst]
		if !ok {
			t.Errorf("no document for destination %s; log:\n%s", tc.dst, s.logTail(30))
			continue
		}
		for _, n := range tc.nums {
			if got, ok := d.num(n.path); !ok || got != n.want {
				t.Errorf("%s: %s = %q, want %d: %.600s", tc.dst, n.path, d.str(n.path), n.want, d.Raw)
			}
		}
		for p, want := range tc.strs {
			if got := d.str(p); got != want {
				t.Errorf("%s: %s = %.60q, want %.60q", tc.dst, p, got, want)
			}
		}
		for _, p := range tc.missing {
			if _, ok := d.get(p); ok {
				t.Errorf("%s: %s = %q written, want it left out: %.600s", tc.dst, p, d.str(p), d.Raw)
			}
		}
	}
}
