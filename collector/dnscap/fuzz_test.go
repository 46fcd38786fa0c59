package dnscap

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sluicelab/sluice/internal/event"
)

// checkDocs encodes every event of b and fails unless each is valid JSON
// with a dns.question.name.
func checkDocs(t *testing.T, b *event.Batch) {
	t.Helper()
	for i := range b.All() {
		doc := b.All()[i].AppendJSON(nil)
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("invalid JSON %v: %q", err, doc)
		}
		if _, ok := get(m, "dns.question.name").(string); !ok {
			t.Fatalf("no dns.question.name: %s", doc)
		}
	}
}

// FuzzFrames: arbitrary frames (split from the input at 0xff 0xfe
// markers) through parsing, DNS decoding, pairing and TCP reassembly:
// no panic, every transaction a valid document, nothing left pending
// after the timeout, the tables within their bounds.
func FuzzFrames(f *testing.F) {
	qA := query(100, "www.example.com", dns.TypeA)
	qf, rf := udpPair(qA, answer(qA, "www.example.com. 300 IN A 192.0.2.1"), 40000)
	f.Add(bytes.Join([][]byte{qf, rf}, []byte{0xff, 0xfe}))
	q2 := query(7, "x.example", dns.TypeTXT)
	tq := buildFrame(frameOpts{src: client, dst: server, sport: 1, dport: 53, proto: protoTCP, seq: 9, flags: tcpSYN, payload: tcpMsg(q2)})
	tr := buildFrame(frameOpts{src: server, dst: client, sport: 53, dport: 1, proto: protoTCP, seq: 99, payload: tcpMsg(answer(q2, `x.example. 1 IN TXT "\000\255"`))})
	f.Add(bytes.Join([][]byte{tq, tr}, []byte{0xff, 0xfe}))
	f.Add(buildFrame(frameOpts{src: client, dst: server, sport: 1, dport: 53, proto: protoUDP, vlan: true, payload: pack(qA)}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, _ := testTracker(t, func(c *Config) { c.MaxPending = 16; c.MaxTCPStreams = 2 })
		b := event.NewBatch()
		defer b.Release()
		now := t0
		for i, fr := range bytes.Split(in, []byte{0xff, 0xfe}) {
			now = now.Add(time.Duration(i) * 100 * time.Millisecond)
			tr.frame(fr, now, b)
			if len(tr.pending) > 16 || len(tr.streams) > 2 {
				t.Fatalf("tables past their bounds: %d pending, %d streams", len(tr.pending), len(tr.streams))
			}
		}
		tr.expire(now.Add(time.Hour), b)
		if len(tr.pending) != 0 {
			t.Fatalf("%d queries pending after the timeout", len(tr.pending))
		}
		checkDocs(t, b)
	})
}

// FuzzTCPReassembly: one DNS query's length-prefixed bytes cut into
// segments at fuzzed points, sent with fuzzed sequence offsets (in
// order, retransmitted, overlapping or with gaps): no panic; when the
// segments are in order without gaps the query is found exactly once.
func FuzzTCPReassembly(f *testing.F) {
	f.Add([]byte{3, 10, 20}, []byte{0, 0, 0}, uint16(0))
	f.Add([]byte{1, 1, 1, 1}, []byte{0, 1, 0, 0}, uint16(1))
	f.Add([]byte{40}, []byte{5}, uint16(3))
	f.Fuzz(func(t *testing.T, cuts, back []byte, pad uint16) {
		q := query(42, "tcp.example.com", dns.TypeA)
		stream := append(tcpMsg(q), make([]byte, pad%64)...)
		tr, m := testTracker(t, nil)
		b := event.NewBatch()
		defer b.Release()
		tr.frame(buildFrame(frameOpts{src: client, dst: server, sport: 9, dport: 53, proto: protoTCP, seq: 1e9, flags: tcpSYN}), t0, b)
		// Segment i covers [start, start+n): back[i] < 128 starts it that
		// many bytes before what was sent (a retransmitted overlap),
		// back[i] >= 128 leaves a gap of back[i]-127 bytes.
		off, clean := 0, true
		for i := 0; off < len(stream); i++ {
			n := len(stream) - off
			if i < len(cuts) && int(cuts[i]) > 0 && int(cuts[i]) < n {
				n = int(cuts[i])
			}
			start := off
			if i < len(back) {
				if back[i] < 128 {
					start = max(0, off-int(back[i]))
				} else {
					start = off + int(back[i]) - 127
					clean = false
				}
			}
			end := min(max(start, off)+n, len(stream))
			if start < end {
				tr.frame(buildFrame(frameOpts{src: client, dst: server, sport: 9, dport: 53, proto: protoTCP,
					seq: uint32(1e9 + 1 + start), payload: stream[start:end]}), t0, b)
			}
			off = max(off, end)
			if start >= len(stream) {
				break
			}
		}
		tr.expire(t0.Add(time.Hour), b)
		checkDocs(t, b)
		if pad%64 != 0 {
			// A partial second message (too short, or padding bytes that
			// make a bogus length) may or may not count as malformed.
			return
		}
		if clean && b.Len() != 1 {
			t.Fatalf("in-order segments gave %d transactions, want 1 (out of order %v)", b.Len(), m.tcpDrops[tcpOutOfOrder])
		}
		if b.Len() > 1 {
			t.Fatalf("%d transactions from one query", b.Len())
		}
	})
}
