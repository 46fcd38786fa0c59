package main_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// badDatagrams returns malformed NetFlow v5/v9/IPFIX datagrams: each names
// what it is so a hang or crash can be traced to an input.
func badDatagrams(now time.Time) []struct {
	name string
	b    []byte
} {
	type bad = struct {
		name string
		b    []byte
	}
	var out []bad
	add := func(name string, b []byte) { out = append(out, bad{name, b}) }

	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		b := make([]byte, rng.IntN(1500))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		// Half of them start with a plausible version so they get past the sniffing.
		if len(b) >= 2 && i%2 == 0 {
			binary.BigEndian.PutUint16(b, []uint16{5, 9, 10}[i%3])
		}
		add("random", b)
	}
	add("empty", nil)
	add("one byte", []byte{9})

	ex := &exporter{Boot: now.Add(-time.Hour), SourceID: 900}
	fl := testFlows(5, 99, now)
	v9 := ex.v9Packet(now, 6, templateSet(v9Template, 300, v9Fields4), ex.dataSet(300, v9Fields4, fl))
	for _, n := range []int{1, 2, 19, 20, 21, 23, 24, 27, 40, len(v9) - 1} {
		add("truncated v9", append([]byte(nil), v9[:n]...))
	}
	ix := &exporter{SourceID: 901}
	ipfix := ix.ipfixPacket(now, 5, templateSet(ipfixTmpl, 300, ipfixFields4), ix.dataSet(300, ipfixFields4, fl))
	for _, n := range []int{1, 15, 16, 17, 19, 20, 23, 30, len(ipfix) - 1} {
		add("truncated IPFIX (length field not adjusted)", append([]byte(nil), ipfix[:n]...))
	}
	for _, v := range []uint16{0, 1, 6, 7, 8, 11, 0xffff} {
		b := append([]byte(nil), v9...)
		binary.BigEndian.PutUint16(b, v)
		add("wrong version", b)
	}
	// IPFIX header length larger and smaller than the datagram.
	b := append([]byte(nil), ipfix...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)+100))
	add("IPFIX length > datagram", b)
	b = append([]byte(nil), ipfix...)
	binary.BigEndian.PutUint16(b[2:], 10)
	add("IPFIX length < header", b)

	// Zero-length set/flowset lengths: a decoder that trusts them loops forever.
	add("v9 flowset length 0", ex.v9Packet(now, 1, []byte{0, 0, 0, 0, 1, 44, 0, 1}))
	add("v9 data flowset length 0", ex.v9Packet(now, 1, []byte{1, 44, 0, 0, 1, 2, 3, 4}))
	add("IPFIX set length 0", ix.ipfixPacket(now, 0, []byte{0, 2, 0, 0, 1, 44, 0, 1}))
	add("IPFIX set length 3", ix.ipfixPacket(now, 0, []byte{0, 2, 0, 3, 1, 44, 0, 1}))
	add("v9 flowset length past the end", ex.v9Packet(now, 1, []byte{0, 0, 0xff, 0xf0, 1, 44, 0, 1}))

	// Zero-length template fields, and a data set for a template whose
	// records are zero bytes long: records must not be counted forever.
	zero := []tmplField{{fSrcV4, 0}, {fDstV4, 0}, {fInBytes, 0}}
	add("v9 template of zero-length fields", ex.v9Packet(now, 1, templateSet(v9Template, 301, zero)))
	add("v9 data for zero-length template", ex.v9Packet(now, 1, []byte{1, 45, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8}))
	add("IPFIX template of zero-length fields", ix.ipfixPacket(now, 0, templateSet(ipfixTmpl, 301, zero)))
	add("IPFIX data for zero-length template", ix.ipfixPacket(now, 1, []byte{1, 45, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8}))
	add("v9 template with no fields", ex.v9Packet(now, 1, templateSet(v9Template, 302, nil)))
	add("v9 data for template with no fields", ex.v9Packet(now, 1, []byte{1, 46, 0, 8, 1, 2, 3, 4}))
	add("IPFIX template with no fields (withdrawal)", ix.ipfixPacket(now, 0, templateSet(ipfixTmpl, 302, nil)))
	add("v9 template id below 256", ex.v9Packet(now, 1, templateSet(v9Template, 7, v9Fields4)))
	add("v9 template with 65535-byte field", ex.v9Packet(now, 1, templateSet(v9Template, 303, []tmplField{{fSrcV4, 0xffff}})))
	add("v9 data for 65535-byte field template", ex.v9Packet(now, 1, []byte{1, 47, 0, 8, 1, 2, 3, 4}))
	// IPFIX variable-length field (0xffff) whose length prefix runs past the set.
	add("IPFIX variable-length template", ix.ipfixPacket(now, 0, templateSet(ipfixTmpl, 304, []tmplField{{82, 0xffff}, {fSrcV4, 4}})))
	add("IPFIX variable-length data past the set", ix.ipfixPacket(now, 1, []byte{1, 48, 0, 12, 255, 0xff, 0xf0, 1, 2, 3, 4, 5}))
	add("IPFIX variable-length data, short prefix", ix.ipfixPacket(now, 1, []byte{1, 48, 0, 8, 200, 1, 2, 3}))
	add("v9 template count larger than the set", ex.v9Packet(now, 1, []byte{0, 0, 0, 12, 1, 49, 0x7f, 0xff, 0, 8, 0, 4}))
	add("IPFIX options template, scope count > field count", ix.ipfixPacket(now, 0, []byte{0, 3, 0, 14, 1, 50, 0, 1, 0, 5, 0, 8, 0, 4}))
	add("v9 options template, scope length odd", ex.v9Packet(now, 1, []byte{0, 1, 0, 16, 1, 51, 0, 3, 0, 4, 0, 8, 0, 4, 0, 0}))
	add("data for unknown template", ex.v9Packet(now, 5, ex.dataSet(999, v9Fields4, fl)))

	// NetFlow v5: count beyond the datagram, count 0, huge count.
	v5 := make([]byte, 24+48)
	binary.BigEndian.PutUint16(v5, 5)
	for _, c := range []uint16{0, 2, 30, 0xffff} {
		b := append([]byte(nil), v5...)
		binary.BigEndian.PutUint16(b[2:], c)
		add("v5 bad count", b)
	}
	return out
}

// badSFlow returns malformed sFlow v5 datagrams.
func badSFlow(t *testing.T) []struct {
	name string
	b    []byte
} {
	type bad = struct {
		name string
		b    []byte
	}
	agent := netip.MustParseAddr("192.0.2.250")
	frame := ethFrame(t, netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2"), 1, 2, 17, 10)
	good := sflowDatagram(agent, 1, time.Minute, []sflowFlowSample{{Rate: 1, FrameLen: 100, Header: frame, Input: 1, Output: 2}}, true)
	var out []bad
	for _, n := range []int{3, 4, 8, 27, 28, 40, len(good) / 2, len(good) - 1} {
		out = append(out, bad{"truncated sFlow", append([]byte(nil), good[:n]...)})
	}
	b := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(b[24:], 0xffffffff)
	out = append(out, bad{"sFlow num_samples 2^32-1", b})
	b = append([]byte(nil), good...)
	binary.BigEndian.PutUint32(b[32:], 0xfffffff0)
	out = append(out, bad{"sFlow sample length huge", b})
	b = append([]byte(nil), good...)
	binary.BigEndian.PutUint32(b[4:], 2) // IPv6 agent address in an IPv4-sized header
	out = append(out, bad{"sFlow agent address type 2", b})
	b = append([]byte(nil), good...)
	binary.BigEndian.PutUint32(b[4:], 7)
	out = append(out, bad{"sFlow agent address type 7", b})
	b = append([]byte(nil), good...)
	binary.BigEndian.PutUint32(b, 4)
	out = append(out, bad{"sFlow version 4", b})
	// Raw header record claiming a header longer than the record.
	b = append([]byte(nil), good...)
	binary.BigEndian.PutUint32(b[88:], 0x7fffffff) // header length of the first raw packet header record
	out = append(out, bad{"sFlow header length huge", b})
	return out
}

// TestBadInput throws malformed datagrams and a template flood at every
// port of a running sluice, then valid traffic: sluice must stay up, write
// the valid flows and count the decode errors.
func TestBadInput(t *testing.T) {
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})
	now := time.Now().UTC()

	bad := newUDPSender(t)
	n := 0
	for _, d := range badDatagrams(now) {
		bad.send(ps.NetFlow, d.b)
		bad.send(ps.IPFIX, d.b)
		bad.send(ps.SFlow, d.b)
		n += 3
	}
	for _, d := range badSFlow(t) {
		bad.send(ps.SFlow, d.b)
		bad.send(ps.NetFlow, d.b)
		n += 2
	}
	// Template flood: 50 observation domains x 200 template ids, 20
	// templates a datagram, from one exporter address.
	flood := newUDPSender(t)
	for dom := range 50 {
		v9 := &exporter{Boot: now.Add(-time.Hour), SourceID: uint32(5000 + dom)}
		ix := &exporter{SourceID: uint32(5000 + dom)}
		for id := 256; id < 456; id += 20 {
			var v9sets, ixsets [][]byte
			for k := id; k < id+20; k++ {
				fs := v9Fields4[:1+k%len(v9Fields4)]
				v9sets = append(v9sets, templateSet(v9Template, uint16(k), fs))
				ixsets = append(ixsets, templateSet(ipfixTmpl, uint16(k), fs))
			}
			flood.send(ps.NetFlow, v9.v9Packet(now, 20, v9sets...))
			flood.send(ps.IPFIX, ix.ipfixPacket(now, 0, ixsets...))
			n += 2
		}
		// Pace the flood so the kernel buffer does not overflow; the test
		// is about the decoder, not socket drops.
		waitUDPDrained(t, ps.NetFlow, 5*time.Second)
		waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	}
	for _, p := range []int{ps.NetFlow, ps.IPFIX, ps.SFlow} {
		waitUDPDrained(t, p, 10*time.Second)
	}
	t.Logf("sent %d malformed or flood datagrams", n)
	if !s.alive() {
		t.Fatalf("sluice exited after malformed input (%v); log:\n%s", s.waitErr, s.logTail(60))
	}

	// Valid traffic from fresh exporters after all that.
	end := now.Add(-time.Second)
	goodV9, goodIX, goodAuto := testFlows(10, 41, end), testFlows(10, 42, end), testFlows(10, 43, end)
	v9 := &exporter{Boot: now.Add(-time.Hour), SourceID: 77}
	v9s := newUDPSender(t)
	v9s.send(ps.NetFlow, v9.v9Packet(now, 11, templateSet(v9Template, 256, v9Fields4), v9.dataSet(256, v9Fields4, goodV9)))
	ix := &exporter{SourceID: 78}
	ixs := newUDPSender(t)
	ixs.send(ps.IPFIX, ix.ipfixPacket(now, 10, templateSet(ipfixTmpl, 256, ipfixFields4), ix.dataSet(256, ipfixFields4, goodIX)))
	ix2 := &exporter{SourceID: 79}
	ixs2 := newUDPSender(t)
	ixs2.send(ps.NetFlow, ix2.ipfixPacket(now, 10, templateSet(ipfixTmpl, 256, ipfixFields4), ix2.dataSet(256, ipfixFields4, goodAuto)))
	// The flooding exporter still works too: a template it re-announces with
	// a new layout is used for its data.
	fl := &exporter{Boot: now.Add(-time.Hour), SourceID: 5000}
	goodFlood := testFlows(10, 44, end)
	flood.send(ps.NetFlow, fl.v9Packet(now, 11, templateSet(v9Template, 300, v9Fields4), fl.dataSet(300, v9Fields4, goodFlood)))
	frame := ethFrame(t, netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.45.9"), 5555, 4242, 6, 64)
	sfs := newUDPSender(t)
	sfs.send(ps.SFlow, sflowDatagram(netip.MustParseAddr("192.0.2.251"), 1, time.Minute,
		[]sflowFlowSample{{Rate: 1, FrameLen: uint32(len(frame) + 4), Header: frame, Input: 1, Output: 2}}, false))
	for _, p := range []int{ps.NetFlow, ps.IPFIX, ps.SFlow} {
		waitUDPDrained(t, p, 5*time.Second)
	}

	// Decode errors are counted; poll, since decoding runs after the read.
	var errSum float64
	var m map[string]float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		m = s.metrics()
		var found bool
		errSum, found = metricSum(m, "sluice_collector_decode_errors_total")
		if found && errSum > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if errSum <= 0 {
		t.Errorf("sluice_collector_decode_errors_total sums to %v after %d malformed datagrams, want > 0; collector metrics:\n%s", errSum, n, metricLines(m, "sluice_collector_"))
	} else {
		t.Logf("decode errors counted:\n%s", metricLines(m, "sluice_collector_decode_errors_total"))
	}
	if !s.alive() {
		t.Fatalf("sluice exited (%v); log:\n%s", s.waitErr, s.logTail(60))
	}
	s.waitReady()
	s.stop()

	docs := readDocs(t, s.opts.OutDir)
	checkTuples(t, "valid v9 after bad input", docTuples(t, docs, "203.0.41."), flowTuples(goodV9))
	checkTuples(t, "valid IPFIX after bad input", docTuples(t, docs, "203.0.42."), flowTuples(goodIX))
	checkTuples(t, "valid IPFIX on the NetFlow port after bad input", docTuples(t, docs, "203.0.43."), flowTuples(goodAuto))
	checkTuples(t, "valid v9 from the flooding exporter", docTuples(t, docs, "203.0.44."), flowTuples(goodFlood))
	sf := docTuples(t, docs, "203.0.45.")
	if len(sf) != 1 {
		t.Errorf("valid sFlow sample after bad input: %d documents, want 1", len(sf))
	}
}
