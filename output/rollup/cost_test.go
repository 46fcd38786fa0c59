package rollup

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
)

// TestTopKIndex churns small tables (values of three kinds from a larger
// universe, so values are found, replaced and the probe runs wrap round)
// and checks after every add that the index finds exactly the entries
// kept and that the heap's copies of the main metric are the entries'.
func TestTopKIndex(t *testing.T) {
	for _, k := range []int{1, 3, 5, 20} {
		r := rand.New(rand.NewPCG(uint64(k), 7))
		tk := newTopK(k, mCount)
		for n := range 5000 {
			m := [numMetrics]uint64{uint64(r.IntN(100)), 1, uint64(1 + r.IntN(3))}
			v := r.IntN(4 * k)
			switch v % 3 {
			case 0:
				tk.add("v"+strconv.Itoa(v), 0, &m)
			case 1:
				tk.addNum(uint64(v), &m)
			default:
				tk.addAddr(netip.AddrFrom4([4]byte{10, 0, 0, byte(v)}), &m)
			}
			checkTopK(t, tk, k, n)
		}
	}
}

func checkTopK(t *testing.T, tk *topK, k, n int) {
	t.Helper()
	used := 0
	for _, s := range tk.slots {
		if s != 0 {
			used++
		}
	}
	if used != len(tk.ents) || len(tk.ents) > k {
		t.Fatalf("k=%d after %d adds: %d slots used, %d entries", k, n, used, len(tk.ents))
	}
	for i := range tk.ents {
		e := &tk.ents[i]
		h := tk.hashOf(e)
		mask := len(tk.slots) - 1
		found := false
		for j := int(h) & mask; tk.slots[j] != 0; j = (j + 1) & mask {
			if uint32(tk.slots[j]) == uint32(i+1) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("k=%d after %d adds: entry %d (%+v) not found from its hash", k, n, i, e)
		}
	}
	for j, h := range tk.heap {
		if h.v != tk.ents[h.i].m[tk.main] || tk.pos[h.i] != int32(j) {
			t.Fatalf("k=%d after %d adds: heap[%d] = %+v, entry main %d, pos %d", k, n, j, h, tk.ents[h.i].m[tk.main], tk.pos[h.i])
		}
		if j > 0 && tk.heap[(j-1)/2].v > h.v {
			t.Fatalf("k=%d after %d adds: heap order broken at %d", k, n, j)
		}
	}
}

// TestTake: above the exact rate each event is taken with probability
// 1/ratio (the drawn gaps are geometric), a new ratio applies at once,
// and ratio 1 takes every event.
func TestTake(t *testing.T) {
	var sh shard
	sh.rng = 12345
	count := func(ratio uint64, n int) (taken int, zeroGaps int) {
		last := -1
		for i := range n {
			if sh.take(0, ratio) {
				if i == last+1 {
					zeroGaps++
				}
				taken++
				last = i
			}
		}
		return taken, zeroGaps
	}
	for _, ratio := range []uint64{2, 10, 100, 1000} {
		const n = 2_000_000
		taken, zero := count(ratio, n)
		want := float64(n) / float64(ratio)
		sd := math.Sqrt(want)
		if math.Abs(float64(taken)-want) > 5*sd {
			t.Errorf("ratio %d: %d of %d taken, want %.0f ± %.0f", ratio, taken, n, want, 5*sd)
		}
		// P(the next event is taken too) = 1/ratio.
		wz := float64(taken) / float64(ratio)
		if math.Abs(float64(zero)-wz) > 5*math.Sqrt(wz)+2 {
			t.Errorf("ratio %d: %d of %d taken events followed one taken, want about %.0f", ratio, zero, taken, wz)
		}
	}
	// From a sparse ratio to a dense one: the dense one applies at once.
	sh.take(0, 1_000_000)
	if taken, _ := count(2, 1000); taken < 400 || taken > 600 {
		t.Errorf("ratio 2 after ratio 1e6: %d of 1000 taken", taken)
	}
	if taken, _ := count(1, 100); taken != 100 {
		t.Errorf("ratio 1: %d of 100 taken", taken)
	}
}

// TestCachesHold: after one pass over the vendor mix, every layout is in
// the shard's layout table and every segment in its minute's recent
// slots, so a second pass hashes no layout and looks no key up in the
// map (a pointer hash that aliased allocations would fail this).
func TestCachesHold(t *testing.T) {
	s := newTestStore(t, t.TempDir(), base.Add(time.Minute))
	bt := syslogBatch(t)
	for i := range bt.All() {
		bt.Events[i].Timestamp = base
	}
	bt.EncodeJSON()
	bt.EncodeJSON()
	for range 2 {
		if err := s.Stage().Process(t.Context(), bt); err != nil {
			t.Fatal(err)
		}
	}
	layouts, segs := 0, 0
	for _, sh := range s.shards {
		for i := range bt.All() {
			l := bt.Events[i].SyslogLayout()
			if l == nil || sh.gen == 0 {
				continue
			}
			slot := layoutSlot(l)
			if sh.layouts[slot].l != l && sh.layouts[slot^1].l != l {
				t.Errorf("event %d: its layout is not in the shard's table", i)
			}
			layouts++
		}
		a := sh.open[kindSyslog-1][base.Unix()]
		if a == nil {
			continue
		}
		for k, seg := range a.segs {
			slot := k.slot()
			if a.recent[slot] != seg && a.recent[slot^1] != seg {
				t.Errorf("segment %+v is not in its recent slots", k)
			}
			segs++
		}
	}
	if layouts == 0 || segs < 5 {
		t.Fatalf("checked %d layouts and %d segments", layouts, segs)
	}
}

// TestMemoNotAcrossBatches: a segment memo is keyed by where the key's
// bytes are; a later batch that has other bytes at the same address (a
// reused buffer) gets the segment of its own key.
func TestMemoNotAcrossBatches(t *testing.T) {
	s := newTestStore(t, t.TempDir(), base.Add(3*time.Minute))
	buf := []byte("allow")
	bt := event.NewBatch()
	for range 2 {
		e := bt.Add()
		e.Kind = event.KindSyslog
		e.Timestamp = base
		e.Observer = netip.MustParseAddr("192.0.2.1")
		e.Syslog.Dataset = "test.memo"
		e.AddParsed(event.Field{Key: "event.action", Type: event.FieldString, S: unsafe.String(&buf[0], len(buf))})
	}
	bt.EncodeJSON()
	bt.EncodeJSON()
	if bt.Events[0].SyslogLayout() == nil {
		t.Fatal("no layout: the fast path is not tested")
	}
	// Each batch once per shard (shards are taken in turn), so every
	// shard that saw "allow" sees "block" at the same address.
	st := s.Stage()
	n := len(s.shards)
	for range n {
		if err := st.Process(t.Context(), bt); err != nil {
			t.Fatal(err)
		}
	}
	copy(buf, "block")
	for range n {
		if err := st.Process(t.Context(), bt); err != nil {
			t.Fatal(err)
		}
	}
	s.Tick(s.now(), false)
	got, err := s.Top(t.Context(), console.TopRequest{Query: console.Query{Kind: console.KindSyslog, From: base, To: base.Add(time.Hour)},
		Metric: console.MetricEvents, Dim: "event.action", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	w := float64(2 * n)
	want := map[string]float64{"allow": w, "block": w}
	if len(got.Rows) != 2 {
		t.Fatalf("rows = %+v, want allow %v and block %v", got.Rows, w, w)
	}
	for _, r := range got.Rows {
		if want[r.Key] != r.Value {
			t.Errorf("rows = %+v, want allow %v and block %v", got.Rows, w, w)
		}
	}
	// The segments too (Series filtered by the segment field).
	for _, act := range []string{"allow", "block"} {
		sr, err := s.Series(t.Context(), console.SeriesRequest{Query: console.Query{Kind: console.KindSyslog, From: base, To: base.Add(time.Minute),
			Filter: "event.action:" + act}, Metric: console.MetricEvents, Step: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(sr.Total) != 1 || sr.Total[0] != w {
			t.Errorf("segment %s: totals %v, want [%v]", act, sr.Total, w)
		}
	}
}

// FuzzTopK: any sequence of adds (values of the three kinds, weights)
// keeps the index finding exactly the entries kept and the heap's
// copies right; at most k entries.
func FuzzTopK(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3})
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Add([]byte{20, 255, 254, 253, 252, 0, 1, 2, 128, 129, 130, 7, 7, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		k := int(data[0]%32) + 1
		tk := newTopK(k, mBytes)
		for n, b := range data[1:] {
			m := [numMetrics]uint64{uint64(b>>4) + uint64(n%3), 1, 1}
			v := b & 0x3f
			switch b >> 6 {
			case 0:
				tk.add("k"+strconv.Itoa(int(v)), 0, &m)
			case 1:
				tk.addNum(uint64(v), &m)
			case 2:
				tk.addAddr(netip.AddrFrom4([4]byte{192, 0, 2, v}), &m)
			default:
				tk.addAddr(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: v}), &m)
			}
			checkTopK(t, tk, k, n)
		}
	})
}

// TestOtherSegment: beyond max_segments keys go to the other segment,
// also when their segment is found through the per-direction slots
// (flows) or the batch memo (syslog): totals and per-value counts stay
// exact, a filtered total counts the named segment only and says approx.
func TestOtherSegment(t *testing.T) {
	s := newTestStore(t, t.TempDir(), base.Add(3*time.Minute))
	s.cfg.MaxSegments = 2
	dirs := []event.Direction{event.DirectionInbound, event.DirectionOutbound, event.DirectionInternal, event.DirectionExternal}
	actions := []string{"a0", "a1", "a2", "a3", "a4"}
	var bts []*event.Batch
	for range 3 {
		bt := event.NewBatch()
		for i := range 40 {
			e := bt.Add()
			e.Kind = event.KindFlow
			e.Timestamp = base.Add(time.Duration(i) * time.Second)
			e.Direction = dirs[i%len(dirs)]
			e.Flow.Bytes, e.Flow.HasBytes = 100, true
		}
		for i := range 50 {
			e := bt.Add()
			e.Kind = event.KindSyslog
			e.Timestamp = base.Add(time.Duration(i) * time.Second)
			e.Observer = netip.MustParseAddr("192.0.2.1")
			e.Syslog.Dataset = "test.other"
			e.AddParsed(event.Field{Key: "event.action", Type: event.FieldString, S: actions[i%len(actions)]})
		}
		bt.EncodeJSON()
		bt.EncodeJSON()
		bts = append(bts, bt)
	}
	feed(t, s, bts...)
	q := func(kind string) console.Query {
		return console.Query{Kind: kind, From: base, To: base.Add(time.Hour)}
	}
	for _, c := range []struct {
		kind, metric, dim string
		n                 int // events per value
		values            int
	}{{console.KindFlows, console.MetricFlows, "network.direction", 30, 4}, {console.KindSyslog, console.MetricEvents, "event.action", 30, 5}} {
		got, err := s.Top(t.Context(), console.TopRequest{Query: q(c.kind), Metric: c.metric, Dim: c.dim, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != float64(c.n*c.values) || len(got.Rows) != c.values {
			t.Fatalf("%s: total %v, %d rows; want %d, %d", c.kind, got.Total, len(got.Rows), c.n*c.values, c.values)
		}
		for _, r := range got.Rows {
			if r.Value != float64(c.n) {
				t.Errorf("%s: %s = %v, want %d", c.kind, r.Key, r.Value, c.n)
			}
		}
	}
	// Named segments: the first two keys seen; the rest are in other.
	for _, c := range []struct {
		kind, metric, filter string
		want                 float64
	}{{console.KindFlows, console.MetricFlows, "network.direction:inbound", 30}, {console.KindFlows, console.MetricFlows, "network.direction:internal", 0},
		{console.KindSyslog, console.MetricEvents, "event.action:a1", 30}, {console.KindSyslog, console.MetricEvents, "event.action:a3", 0}} {
		qq := q(c.kind)
		qq.Filter = c.filter
		sr, err := s.Series(t.Context(), console.SeriesRequest{Query: qq, Metric: c.metric, Step: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(sr.Total) != 1 || sr.Total[0] != c.want || !sr.Approx {
			t.Errorf("%s %q: totals %v approx %v, want [%v] approx", c.kind, c.filter, sr.Total, sr.Approx, c.want)
		}
	}
}
