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
// (num_events is at most MaxWindowEvents, 100,000). Out-of-order documents
// are placed by their time: one older than timeframe before the key's
// newest document is not counted, as ElastAlert's EventWindow drops it at
// once. The match carries the document that completed the count (ElastAlert
// carries the newest by time: the same unless documents arrive out of
// order) and Extra num_hits, the count reached.
type frequency struct {
	numEvents int
	timeframe time.Duration
	keys      *keyLRU[[]int64] // sorted unix-nano times
}

func newFrequency(s *Spec) (Type, error) {
	if s.NumEvents < 1 || s.NumEvents > MaxWindowEvents {
		return nil, fmt.Errorf("num_events %d is out of range 1..%d", s.NumEvents, MaxWindowEvents)
	}
	if s.Timeframe <= 0 {
		return nil, errors.New("timeframe must be positive")
	}
	return &frequency{numEvents: s.NumEvents, timeframe: s.Timeframe, keys: newKeyLRU[[]int64](s.MaxKeys)}, nil
}

func (f *frequency) Add(ev *Event) []Match {
	t := ev.Time.UnixNano()
	w, _ := f.keys.touch(ev.Key)
	ts := *w
	newest := t
	if n := len(ts); n > 0 && ts[n-1] > newest {
		newest = ts[n-1]
	}
	tf := f.timeframe.Nanoseconds()
	if newest-t >= tf {
		return nil // older than the window: ElastAlert drops it at once
	}
	i, _ := slices.BinarySearch(ts, t)
	ts = slices.Insert(ts, i, t)
	drop := 0
	for drop < len(ts) && newest-ts[drop] >= tf {
		drop++
	}
	if drop > 0 {
		ts = append(ts[:0], ts[drop:]...)
	}
	if len(ts) >= f.numEvents {
		f.keys.remove(ev.Key)
		return []Match{{
			Time:  time.Unix(0, newest).UTC(),
			Key:   ev.Key,
			Doc:   ev.Doc.AppendJSON(nil),
			Extra: map[string]any{"num_hits": len(ts)},
		}}
	}
	*w = ts
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
	f.keys.each(func(k string, v *[]int64) bool {
		st.Keys = append(st.Keys, timesKey{Key: k, Times: *v})
		return false
	})
	return json.Marshal(st)
}

func (f *frequency) UnmarshalState(data []byte) error {
	var st timesState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("frequency state: %w", err)
	}
	keys := newKeyLRU[[]int64](f.keys.max)
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
		*w = ts
	}
	keys.evictions = 0
	f.keys = keys
	return nil
}
