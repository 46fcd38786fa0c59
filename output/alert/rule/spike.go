package rule

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

func init() { Constructors["spike"] = newSpike }

// statSpikeBuckets is the number of buckets per window of a spike rule:
// the current and the reference window are each timeframe/60 wide
// buckets, so a window slides in steps of timeframe/60 and a document is
// counted in the window of its bucket (precision: one bucket, 1/60 of
// timeframe, at each end of a window).
const statSpikeBuckets = 60

// statSpikeRing holds both windows.
const statSpikeRing = 2 * statSpikeBuckets

// statMaxTimeframe bounds timeframe and buffer_time so that sums of times
// stay far from overflowing.
const statMaxTimeframe = 100 * 365 * 24 * time.Hour

// spike is the spike rule type: per query_key, the number of documents in
// the last timeframe (current window) against the timeframe before it
// (reference window). With field_value, the means of that numeric field in
// the two windows are compared instead of counts, as ElastAlert does.
//
// Bounds: at most MaxKeys query_key values (least recently seen evicted
// and counted); per key a fixed ring of 120 bucket counters (uint32, and
// float64 sums with field_value), so memory per key does not grow with the
// event rate.
type spike struct {
	height         float64
	up, down       bool
	thrRef, thrCur int64
	newData        bool // alert_on_new_data with a query_key
	queryKey       bool
	field          string
	tf, twoTF      int64 // ns
	width          int64 // bucket width, ns
	maxKeys        int

	keys      statLRU[string, spikeWin]
	tick      int64 // latest Tick time, ns
	filled    bool  // some key has been watched for two timeframes (ElastAlert's ref_window_filled_once)
	evictions uint64
	vals      []query.Value
}

// spikeWin is the two windows of one query_key value.
type spikeWin struct {
	head  int64 // bucket number of the newest bucket
	last  int64 // newest document time, ns
	first int64 // start of the warm-up (first document, or the last match), ns
	skip  int64 // no match with alert_on_new_data before this time, ns
	n     [statSpikeRing]uint32
	sum   []float64 // field_value only
}

func newSpike(s *Spec) (Type, error) {
	maxKeys, err := statMaxKeys(s)
	if err != nil {
		return nil, err
	}
	if s.Timeframe < time.Second || s.Timeframe > statMaxTimeframe {
		return nil, fmt.Errorf("timeframe: %s is out of range for spike; set it between 1s and %s (the current and the reference window are each this long)", s.Timeframe, statMaxTimeframe)
	}
	if !(s.SpikeHeight > 0) || math.IsInf(s.SpikeHeight, 0) {
		return nil, fmt.Errorf("spike_height: %v is not a positive number; set the ratio of current to reference count that matches, e.g. 3", s.SpikeHeight)
	}
	sp := &spike{
		height:   s.SpikeHeight,
		thrRef:   int64(s.ThresholdRef),
		thrCur:   int64(s.ThresholdCur),
		queryKey: len(s.QueryKey) > 0,
		field:    s.FieldValue,
		tf:       int64(s.Timeframe),
		width:    int64(s.Timeframe) / statSpikeBuckets,
		maxKeys:  maxKeys,
		tick:     math.MinInt64,
	}
	sp.twoTF = 2 * sp.tf
	sp.newData = s.AlertOnNewData && sp.queryKey
	switch s.SpikeType {
	case "", "both":
		sp.up, sp.down = true, true
	case "up":
		sp.up = true
	case "down":
		sp.down = true
	default:
		return nil, fmt.Errorf("spike_type: %q is not a spike type; use up, down or both", s.SpikeType)
	}
	if s.ThresholdRef < 0 {
		return nil, fmt.Errorf("threshold_ref: %d is negative; set a count of at least 0", s.ThresholdRef)
	}
	if s.ThresholdCur < 0 {
		return nil, fmt.Errorf("threshold_cur: %d is negative; set a count of at least 0", s.ThresholdCur)
	}
	return sp, nil
}

func spikeSlot(b int64) int {
	r := b % statSpikeRing
	if r < 0 {
		r += statSpikeRing
	}
	return int(r)
}

// advance moves w's newest bucket to b, emptying the buckets that leave
// the reference window.
func (s *spike) advance(w *spikeWin, b int64) {
	if b <= w.head {
		return
	}
	if b-w.head >= statSpikeRing || b-w.head < 0 {
		w.n = [statSpikeRing]uint32{}
		clear(w.sum)
	} else {
		for i := w.head + 1; i <= b; i++ {
			j := spikeSlot(i)
			w.n[j] = 0
			if w.sum != nil {
				w.sum[j] = 0
			}
		}
	}
	w.head = b
}

// windows returns the document counts (and field sums) of the reference
// and the current window.
func (w *spikeWin) windows() (refN, curN int64, refS, curS float64) {
	for i := int64(0); i < statSpikeBuckets; i++ {
		c, r := spikeSlot(w.head-i), spikeSlot(w.head-statSpikeBuckets-i)
		curN += int64(w.n[c])
		refN += int64(w.n[r])
		if w.sum != nil {
			curS += w.sum[c]
			refS += w.sum[r]
		}
	}
	return refN, curN, refS, curS
}

// Add counts ev in its key's window and checks for a spike.
func (s *spike) Add(ev *Event) []Match {
	t := statNanos(ev.Time)
	var val float64
	if s.field != "" {
		s.vals = ev.Doc.Values(s.field, s.vals[:0])
		found := false
		for _, v := range s.vals {
			if f, ok := statNumber(v); ok {
				val, found = f, true
				break
			}
		}
		if !found {
			return nil // as ElastAlert: a document without the field is not counted
		}
	}
	n := s.keys.get(ev.Key)
	if n == nil {
		if s.keys.len() >= s.maxKeys {
			s.keys.remove(s.keys.oldest())
			s.evictions++
		}
		n = s.keys.insert(ev.Key, spikeWin{head: statFloorDiv(statMaxI(t, s.tick), s.width), last: t, first: statUnset, skip: statUnset})
		if s.field != "" {
			n.val.sum = make([]float64, statSpikeRing)
		}
	} else {
		s.keys.touch(n)
	}
	w := &n.val
	w.last = statMaxI(w.last, t)
	// The windows end at the key's newest document or the last Tick,
	// whichever is later, so a late document is counted in the bucket of
	// its time and checked against the windows as they are now.
	now := statMaxI(w.last, s.tick)
	s.advance(w, statFloorDiv(now, s.width))
	b := statFloorDiv(t, s.width)
	if b <= w.head-statSpikeRing {
		return nil // older than the reference window
	}
	j := spikeSlot(b)
	if w.n[j] < math.MaxUint32 {
		w.n[j]++
	}
	if w.sum != nil {
		w.sum[j] += val
	}
	if w.first == statUnset {
		w.first = t
	}
	return s.check(ev.Key, w, now, ev)
}

// Tick slides every window to now, drops keys whose windows are both
// empty and checks the others (a count that falls is seen without a new
// document).
func (s *spike) Tick(now time.Time) []Match {
	t := statNanos(now)
	if t > s.tick {
		s.tick = t
	}
	b := statFloorDiv(s.tick, s.width)
	var out []Match
	s.keys.each(func(n *statNode[string, spikeWin]) {
		w := &n.val
		if b <= w.head {
			return
		}
		s.advance(w, b)
		refN, curN, _, _ := w.windows()
		if refN == 0 && curN == 0 {
			if s.queryKey {
				s.keys.remove(n)
			}
			return
		}
		out = append(out, s.check(n.key, w, statMaxI(w.last, s.tick), nil)...)
	})
	return out
}

// check applies ElastAlert's spike test to w at time now; ev is the
// document that was just added (nil on Tick).
func (s *spike) check(key string, w *spikeWin, now int64, ev *Event) []Match {
	if w.first == statUnset {
		w.first = now
	}
	if statAddSat(now, -w.first) < s.twoTF {
		// No baseline yet for this key: only a key first seen after the
		// rule has had one, with alert_on_new_data, may match.
		if !s.filled || !s.newData || now < w.skip {
			return nil
		}
	} else {
		s.filled = true
	}
	refN, curN, refS, curS := w.windows()
	var ref, cur float64
	if s.field == "" {
		if curN < s.thrCur || refN < s.thrRef || (refN == 0 && curN == 0) {
			return nil
		}
		ref, cur = float64(refN), float64(curN)
	} else {
		// field_value: means; the thresholds do not apply (ElastAlert).
		if refN == 0 || curN == 0 {
			return nil
		}
		ref, cur = refS/float64(refN), curS/float64(curN)
		if ref == 0 || cur == 0 {
			return nil
		}
	}
	up := cur >= ref*s.height
	down := cur <= ref/s.height
	if !(s.up && up) && !(s.down && down) {
		return nil
	}
	m := Match{Time: statTime(now), Key: key}
	if s.field == "" {
		m.Extra = map[string]any{"spike_count": curN, "reference_count": refN}
	} else {
		m.Extra = map[string]any{"spike_count": cur, "reference_count": ref, "spike_sum": curS, "reference_sum": refS}
	}
	if ev != nil {
		m.Doc = ev.Doc.AppendJSON(nil)
	}
	// As ElastAlert: the reference window is emptied and the key needs a
	// new baseline (two timeframes) before it matches again.
	for i := int64(0); i < statSpikeBuckets; i++ {
		j := spikeSlot(w.head - statSpikeBuckets - i)
		w.n[j] = 0
		if w.sum != nil {
			w.sum[j] = 0
		}
	}
	w.first = now
	w.skip = statAddSat(now, s.twoTF)
	return []Match{m}
}

// Evictions is the number of query_key values evicted beyond MaxKeys.
func (s *spike) Evictions() uint64 { return s.evictions }

type spikeState struct {
	V       int             `json:"v"`
	Width   int64           `json:"bucket_ns"`
	Buckets int             `json:"buckets"`
	Field   bool            `json:"field_value"`
	Filled  bool            `json:"filled"`
	Tick    int64           `json:"tick"`
	Keys    []spikeKeyState `json:"keys"` // least recently seen first
}

type spikeKeyState struct {
	K      string    `json:"k"`
	Head   int64     `json:"head"`
	Last   int64     `json:"last"`
	First  int64     `json:"first"`
	Skip   int64     `json:"skip"`
	Slots  []int     `json:"i"` // non-empty ring slots
	Counts []uint32  `json:"n"`
	Sums   []float64 `json:"s,omitempty"`
}

// MarshalState writes the windows as JSON (non-empty buckets only).
func (s *spike) MarshalState() ([]byte, error) {
	st := spikeState{V: statStateVersion, Width: s.width, Buckets: statSpikeBuckets, Field: s.field != "",
		Filled: s.filled, Tick: s.tick, Keys: make([]spikeKeyState, 0, s.keys.len())}
	s.keys.each(func(n *statNode[string, spikeWin]) {
		w := &n.val
		k := spikeKeyState{K: n.key, Head: w.head, Last: w.last, First: w.first, Skip: w.skip}
		for i, c := range w.n {
			if c == 0 && (w.sum == nil || w.sum[i] == 0) {
				continue
			}
			k.Slots = append(k.Slots, i)
			k.Counts = append(k.Counts, c)
			if w.sum != nil {
				k.Sums = append(k.Sums, w.sum[i])
			}
		}
		st.Keys = append(st.Keys, k)
	})
	return json.Marshal(&st)
}

// UnmarshalState replaces the windows with those of data, which it checks
// as untrusted input; beyond MaxKeys the least recently seen are evicted.
func (s *spike) UnmarshalState(data []byte) error {
	var st spikeState
	if err := json.Unmarshal(data, &st); err != nil {
		return statStateErr("spike", "%v", err)
	}
	if st.V != statStateVersion {
		return statStateErr("spike", "version %d, want %d", st.V, statStateVersion)
	}
	if st.Width != s.width || st.Buckets != statSpikeBuckets || st.Field != (s.field != "") {
		return statStateErr("spike", "written for another timeframe or field_value (bucket %s, %d buckets, field_value %v)",
			time.Duration(st.Width), st.Buckets, st.Field)
	}
	var keys statLRU[string, spikeWin]
	var evicted uint64
	for _, k := range st.Keys {
		if keys.get(k.K) != nil {
			return statStateErr("spike", "key %q twice", k.K)
		}
		if len(k.Counts) != len(k.Slots) || (s.field != "" && len(k.Sums) != len(k.Slots)) || (s.field == "" && len(k.Sums) != 0) {
			return statStateErr("spike", "key %q: %d slots, %d counts, %d sums", k.K, len(k.Slots), len(k.Counts), len(k.Sums))
		}
		w := spikeWin{head: k.Head, last: k.Last, first: k.First, skip: k.Skip}
		if s.field != "" {
			w.sum = make([]float64, statSpikeRing)
		}
		seen := [statSpikeRing]bool{}
		for i, j := range k.Slots {
			if j < 0 || j >= statSpikeRing || seen[j] {
				return statStateErr("spike", "key %q: bad or repeated slot %d", k.K, j)
			}
			seen[j] = true
			w.n[j] = k.Counts[i]
			if s.field != "" {
				if math.IsNaN(k.Sums[i]) || math.IsInf(k.Sums[i], 0) {
					return statStateErr("spike", "key %q: sum is not finite", k.K)
				}
				w.sum[j] = k.Sums[i]
			}
		}
		if keys.len() >= s.maxKeys {
			keys.remove(keys.oldest())
			evicted++
		}
		keys.insert(k.K, w)
	}
	s.keys, s.tick, s.filled = keys, st.Tick, st.Filled
	s.evictions += evicted
	return nil
}
