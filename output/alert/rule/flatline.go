package rule

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

func init() { Constructors["flatline"] = newFlatline }

// flatline is ElastAlert's "flatline": fewer than threshold documents in
// the last timeframe is a match, per query_key value (and for the whole
// rule when it has none). It is driven by Tick with the wall clock and
// counts documents by their own times.
//
// It does not fire before one timeframe has passed since the rule started
// (its first Tick; the start time is kept in its state), nor for a key
// before one timeframe since the key was first seen. A key that went quiet
// matches on every Tick (realert silences the repeats) until documents come
// back; with forget_keys it matches once and is forgotten until it is seen
// again. The match has no document; Extra holds key (the query_key value,
// "all" without one) and count.
//
// Only whether the count reached threshold matters, so a key keeps at most
// threshold timestamps (threshold is at most MaxWindowEvents, 100,000).
type flatline struct {
	threshold int
	timeframe time.Duration
	forget    bool
	perKey    bool
	start     int64 // unix nanoseconds of the first Tick; 0 before it
	keys      *keyLRU[flatKey]
}

type flatKey struct {
	first int64   // when the key was first seen
	times []int64 // the newest threshold at most, as a min-heap (see frequency)
}

// flatAll is the key of a rule without query_key, as ElastAlert names it.
const flatAll = "all"

func newFlatline(s *Spec) (Type, error) {
	if s.Threshold < 1 || s.Threshold > MaxWindowEvents {
		return nil, fmt.Errorf("threshold %d is out of range 1..%d", s.Threshold, MaxWindowEvents)
	}
	if s.Timeframe <= 0 {
		return nil, errors.New("timeframe must be positive")
	}
	return &flatline{threshold: s.Threshold, timeframe: s.Timeframe, forget: s.ForgetKeys,
		perKey: len(s.QueryKey) > 0, keys: newKeyLRU[flatKey](s.MaxKeys)}, nil
}

func (f *flatline) key(k string) string {
	if !f.perKey {
		return flatAll
	}
	return k
}

func (f *flatline) Add(ev *Event) []Match {
	t := ev.Time.UnixNano()
	k, created := f.keys.touch(f.key(ev.Key))
	if created {
		k.first = t
	}
	switch {
	case len(k.times) < f.threshold:
		k.times = heapPush(k.times, t)
	case t > k.times[0]:
		// Full: the newest threshold documents are kept, the oldest goes.
		k.times[0] = t
		heapDown(k.times, 0)
	default:
		// The window already holds threshold newer documents.
	}
	return nil
}

func (f *flatline) Tick(now time.Time) []Match {
	n := now.UnixNano()
	if f.start == 0 {
		f.start = n
	}
	if !f.perKey {
		if k, created := f.keys.touch(flatAll); created {
			k.first = n
		}
	}
	tf := f.timeframe.Nanoseconds()
	if n-f.start < tf {
		return nil
	}
	var out []Match
	f.keys.each(func(key string, k *flatKey) bool {
		for len(k.times) > 0 && n-k.times[0] >= tf {
			k.times = heapPop(k.times)
		}
		if n-k.first < tf || len(k.times) >= f.threshold {
			return false
		}
		mk := key
		if !f.perKey {
			mk = ""
		}
		out = append(out, Match{Time: now, Key: mk, Extra: map[string]any{"key": key, "count": len(k.times)}})
		if f.forget {
			return true
		}
		return false
	})
	return out
}

func (f *flatline) Evictions() uint64 { return f.keys.evictions }

type flatState struct {
	Start int64      `json:"start"`
	Keys  []timesKey `json:"keys"`
}

func (f *flatline) MarshalState() ([]byte, error) {
	st := flatState{Start: f.start, Keys: make([]timesKey, 0, f.keys.len())}
	f.keys.each(func(key string, k *flatKey) bool {
		ts := slices.Clone(k.times)
		slices.Sort(ts)
		st.Keys = append(st.Keys, timesKey{Key: key, First: k.first, Times: ts})
		return false
	})
	return json.Marshal(st)
}

func (f *flatline) UnmarshalState(data []byte) error {
	var st flatState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("flatline state: %w", err)
	}
	keys := newKeyLRU[flatKey](f.keys.max)
	for _, sk := range st.Keys {
		ts := slices.Clone(sk.Times)
		slices.Sort(ts)
		if len(ts) > f.threshold {
			ts = ts[len(ts)-f.threshold:]
		}
		k, _ := keys.touch(f.key(sk.Key))
		k.first, k.times = sk.First, ts // sorted: a valid min-heap
	}
	keys.evictions = 0
	f.start = st.Start
	f.keys = keys
	return nil
}
