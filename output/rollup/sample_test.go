package rollup

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
)

// TestSampledTopK feeds flows far above console.exact_rate: the totals
// stay exact, the top values are estimated within a few percent, and the
// answers say they are approximate.
func TestSampledTopK(t *testing.T) {
	s := newTestStore(t, t.TempDir(), base.Add(3*time.Hour))
	s.cfg.ExactRate = 5000
	const n = 200_000
	want := map[string]float64{}
	var bts []*event.Batch
	bt := event.NewBatch()
	for i := range n {
		e := bt.Add()
		e.Kind = event.KindFlow
		e.Timestamp = base.Add(time.Duration(i%60) * time.Second)
		e.Src.IP = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		e.Dst.IP = netip.AddrFrom4([4]byte{192, 0, 2, 1})
		port := uint16(1024 + i%5000)
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			port = 443
		case 6, 7, 8:
			port = 53
		}
		e.Dst.Port = port
		e.Flow.Protocol, e.Flow.HasProtocol = 6, true
		e.Flow.Bytes, e.Flow.Packets, e.Flow.HasBytes, e.Flow.HasPackets = 100, 1, true, true
		switch port {
		case 443, 53:
			want[map[uint16]string{443: "443", 53: "53"}[port]]++
		}
		if bt.Len() == 500 {
			bts = append(bts, bt)
			bt = event.NewBatch()
		}
	}
	feed(t, s, bts...)
	if r := s.rate[0].ratio(s.cfg.ExactRate); r < 2 {
		t.Fatalf("ratio after %d flows in a few seconds = %d, want sampling", n, r)
	}
	got, err := s.Top(t.Context(), console.TopRequest{Query: console.Query{Kind: console.KindFlows, From: base, To: base.Add(time.Hour)}, Metric: console.MetricFlows, Dim: "destination.port", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != n {
		t.Errorf("total = %v, want %d (exact)", got.Total, n)
	}
	if !got.Approx {
		t.Error("approx = false for a sampled minute")
	}
	if len(got.Rows) < 2 {
		t.Fatalf("rows = %+v", got.Rows)
	}
	for _, r := range got.Rows[:2] {
		w, ok := want[r.Key]
		if !ok {
			t.Fatalf("top rows %+v: %q is not 443 or 53", got.Rows[:2], r.Key)
		}
		rel := math.Abs(r.Value-w) / w
		t.Logf("port %s: %v flows estimated, %v sent (%.1f%% off)", r.Key, r.Value, w, rel*100)
		if rel > 0.1 {
			t.Errorf("port %s: %v flows, want %v within 10%% (off by %.1f%%)", r.Key, r.Value, w, rel*100)
		}
	}
	if got.Other < 0 {
		t.Errorf("other = %v", got.Other)
	}
}

// TestRateMeter: the ratio follows the last whole second's count and the
// running one, and a gap of more than a second forgets the old rate.
func TestRateMeter(t *testing.T) {
	var r rateMeter
	r.add(100, 50)
	if got := r.ratio(100); got != 1 {
		t.Fatalf("50/s with limit 100: ratio %d", got)
	}
	r.add(100, 950)
	if got := r.ratio(100); got != 10 {
		t.Fatalf("1000 in the second, limit 100: ratio %d, want 10", got)
	}
	r.add(101, 1)
	if got := r.ratio(100); got != 10 {
		t.Fatalf("next second: ratio %d, want 10 (the last second's rate)", got)
	}
	r.add(105, 1)
	if got := r.ratio(100); got != 1 {
		t.Fatalf("after a quiet gap: ratio %d, want 1", got)
	}
	if got := r.ratioNow(100, 105); got != 1 {
		t.Fatalf("ratioNow in the second counted: %d, want 1 (1 event)", got)
	}
	r.add(105, 999)
	if got := r.ratioNow(100, 106); got != 10 {
		t.Fatalf("ratioNow a second later: %d, want 10", got)
	}
	if got := r.ratioNow(100, 107); got != 1 {
		t.Fatalf("ratioNow after a quiet second: %d, want 1", got)
	}
	if got := r.ratio(0); got != 1 {
		t.Fatalf("limit 0: ratio %d, want 1", got)
	}
}

// TestFastSegKey: the segment key read through a syslog event's layout is
// the one the document gives, for every event of the vendor mix.
func TestFastSegKey(t *testing.T) {
	bt := syslogBatch(t)
	bt.EncodeJSON() // a layout is kept from a key sequence's second sighting
	var sh shard
	fast := 0
	for i := range bt.All() {
		e := &bt.Events[i]
		sh.doc.Reset(e)
		slow := segKey{}
		sh.vals = pathAction.Values(&sh.doc, sh.vals[:0])
		slow.action = firstStr(sh.vals)
		sh.vals = pathDirection.Values(&sh.doc, sh.vals[:0])
		slow.direction = firstStr(sh.vals)
		sh.vals = pathDataset.Values(&sh.doc, sh.vals[:0])
		slow.dataset = firstStr(sh.vals)
		k, ok := sh.fastSegKey(e)
		if !ok {
			continue
		}
		fast++
		if k != slow {
			t.Errorf("event %d: fast key %+v, document's %+v", i, k, slow)
		}
	}
	if fast < bt.Len()/2 {
		t.Errorf("only %d of %d events took the fast path", fast, bt.Len())
	}
}

// TestClosedMinuteNotReused: after a minute is closed the stage opens a new
// one for late events of it instead of adding to the closed one.
func TestClosedMinuteNotReused(t *testing.T) {
	s := newTestStore(t, t.TempDir(), base.Add(3*time.Minute))
	one := func() *event.Batch {
		bt := event.NewBatch()
		e := bt.Add()
		e.Kind = event.KindFlow
		e.Timestamp = base.Add(10 * time.Second)
		e.Flow.Bytes, e.Flow.HasBytes = 100, true
		return bt
	}
	// One flow at a time, each followed by a close: with the shards taken
	// in turn, some shard sees its minute closed between two flows.
	n := 2*len(s.shards) + 1
	for range n {
		feed(t, s, one())
	}
	got, err := s.Top(t.Context(), console.TopRequest{Query: console.Query{Kind: console.KindFlows, From: base, To: base.Add(time.Hour)}, Metric: console.MetricFlows, Dim: "network.direction", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != float64(n) {
		t.Errorf("total = %v, want %d (flows after their minute was closed are kept too)", got.Total, n)
	}
}
