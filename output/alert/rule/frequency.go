package rule

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

func init() { Constructors["frequency"] = newFrequency }

// frequency is ElastAlert's "frequency": per query_key value, num_events
// documents within timeframe (by the documents' own times) is a match;
// then that key's window starts over, as ElastAlert clears it.
//
// Only the times matter, so a key keeps at most num_events-1 timestamps
// (num_events is at most MaxWindowEvents, 100,000), in a min-heap: adding
// one and expiring the oldest cost O(log n) whatever the order documents
// come in (flows arrive out of order by up to the exporter's active
// timeout; a sorted slice cost O(n) per document). Out-of-order documents
// are placed by their time: one older than timeframe before the key's
// newest document is not counted, as ElastAlert's EventWindow drops it at
// once. The match carries the document that completed the count (ElastAlert
// carries the newest by time: the same unless documents arrive out of
// order) and Extra num_hits, the count reached.
type frequency struct {
	numEvents int
	timeframe time.Duration
	keys      *keyLRU[freqWindow]
	// spare is the times of the last window that matched, emptied: the
	// next new key starts with it (a busy key that matches again and
	// again grew a new heap of up to num_events times each time).
	spare []int64
}

// freqWindow is one key's window: unix-nano times as a min-heap, and the
// newest time seen.
type freqWindow struct {
	heap   []int64
	newest int64
}

// heapPush adds t to the min-heap h.
func heapPush(h []int64, t int64) []int64 {
	h = append(h, t)
	heapUp(h, len(h)-1)
	return h
}

// heapPop removes the least time of the min-heap h.
func heapPop(h []int64) []int64 {
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	heapDown(h, 0)
	return h
}

func heapUp(h []int64, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func heapDown(h []int64, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r] < h[l] {
			m = r
		}
		if h[i] <= h[m] {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func newFrequency(s *Spec) (Type, error) {
	if s.NumEvents < 1 || s.NumEvents > MaxWindowEvents {
		return nil, fmt.Errorf("num_events %d is out of range 1..%d", s.NumEvents, MaxWindowEvents)
	}
	if s.Timeframe <= 0 {
		return nil, errors.New("timeframe must be positive")
	}
	return &frequency{numEvents: s.NumEvents, timeframe: s.Timeframe, keys: newKeyLRU[freqWindow](s.MaxKeys)}, nil
}

func (f *frequency) Add(ev *Event) []Match {
	t := ev.Time.UnixNano()
	w, created := f.keys.touch(ev.Key)
	if created && f.spare != nil {
		w.heap, f.spare = f.spare, nil
	}
	if created || len(w.heap) == 0 {
		w.newest = t
	}
	tf := f.timeframe.Nanoseconds()
	if w.newest-t >= tf {
		return nil // older than the window: ElastAlert drops it at once
	}
	w.newest = max(w.newest, t)
	w.heap = heapPush(w.heap, t)
	for len(w.heap) > 0 && w.newest-w.heap[0] >= tf {
		w.heap = heapPop(w.heap)
	}
	if n := len(w.heap); n >= f.numEvents {
		newest := w.newest
		if cap(w.heap) > cap(f.spare) {
			f.spare = w.heap[:0]
		}
		f.keys.remove(ev.Key)
		return []Match{{
			Time:  time.Unix(0, newest).UTC(),
			Key:   ev.Key,
			Doc:   ev.Doc.AppendJSON(nil),
			Extra: map[string]any{"num_hits": n},
		}}
	}
	return nil
}

func (f *frequency) Tick(time.Time) []Match { return nil }
func (f *frequency) Evictions() uint64      { return f.keys.evictions }

// timesState is the saved form of per-key timestamp windows, least
// recently seen key first.
type timesState struct {
	Keys []timesKey `json:"keys"`
}

type timesKey struct {
	Key   string  `json:"k"`
	First int64   `json:"first,omitempty"` // flatline: when the key was first seen
	Times []int64 `json:"t"`
}

func (f *frequency) MarshalState() ([]byte, error) {
	st := timesState{Keys: make([]timesKey, 0, f.keys.len())}
	f.keys.each(func(k string, v *freqWindow) bool {
		ts := slices.Clone(v.heap)
		slices.Sort(ts)
		st.Keys = append(st.Keys, timesKey{Key: k, Times: ts})
		return false
	})
	return json.Marshal(st)
}

func (f *frequency) UnmarshalState(data []byte) error {
	var st timesState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("frequency state: %w", err)
	}
	keys := newKeyLRU[freqWindow](f.keys.max)
	for _, k := range st.Keys {
		ts := slices.Clone(k.Times)
		slices.Sort(ts)
		// Keep what Add would have kept: the newest within timeframe, fewer
		// than num_events.
		if n := len(ts); n > 0 {
			newest := ts[n-1]
			i := 0
			for i < n && newest-ts[i] >= f.timeframe.Nanoseconds() {
				i++
			}
			ts = ts[i:]
		}
		if len(ts) >= f.numEvents {
			ts = ts[len(ts)-(f.numEvents-1):]
		}
		w, _ := keys.touch(k.Key)
		w.heap = ts // sorted: a valid min-heap
		if len(ts) > 0 {
			w.newest = ts[len(ts)-1]
		}
	}
	keys.evictions = 0
	f.keys = keys
	return nil
}
