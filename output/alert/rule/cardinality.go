package rule

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

func init() { Constructors["cardinality"] = newCardinality }

// cardinality is the cardinality rule type: per query_key, the number of
// distinct values of cardinality_field seen within the last timeframe.
// It matches on every document while that number is above
// max_cardinality, and when it is below min_cardinality once a timeframe
// has passed since the key's first document (checked on documents and on
// Tick); after a match the timeframe starts again (ElastAlert).
//
// Bounds: at most MaxKeys query_key values; per key at most 10,000
// distinct values (64-bit hashes with their last-seen time, kept in
// order of that time, so a late document's value ages out at its time;
// the least recently seen is dropped); at most 1,000,000 values over all keys of the
// rule (the least recently seen key is evicted). Dropped keys and values
// are counted in Evictions.
type cardinality struct {
	field    string
	max, min int64 // -1 when not set
	tf       int64
	maxKeys  int

	keys      statLRU[string, cardKey]
	total     int // values over all keys
	tick      int64
	evictions uint64
	vals      []query.Value
}

type cardKey struct {
	first int64                  // first document since start or the last match, ns; statUnset after a match
	vals  statLRU[uint64, int64] // value hash -> last seen, ns
}

func newCardinality(s *Spec) (Type, error) {
	maxKeys, err := statMaxKeys(s)
	if err != nil {
		return nil, err
	}
	if s.Timeframe < time.Second || s.Timeframe > statMaxTimeframe {
		return nil, fmt.Errorf("timeframe: %s is out of range for cardinality; set it between 1s and %s", s.Timeframe, statMaxTimeframe)
	}
	if s.CardinalityField == "" {
		return nil, fmt.Errorf("cardinality_field: not set; name the field whose distinct values are counted")
	}
	c := &cardinality{field: s.CardinalityField, max: -1, min: -1, tf: int64(s.Timeframe), maxKeys: maxKeys, tick: statUnset}
	if s.MaxCardinality == nil && s.MinCardinality == nil {
		return nil, fmt.Errorf("max_cardinality, min_cardinality: neither is set; set one or both")
	}
	if p := s.MaxCardinality; p != nil {
		if *p < 0 || *p >= statDistinctPerKey {
			return nil, fmt.Errorf("max_cardinality: %d is out of range; set it between 0 and %d (sluice counts up to %d distinct values per query_key)", *p, statDistinctPerKey-1, statDistinctPerKey)
		}
		c.max = int64(*p)
	}
	if p := s.MinCardinality; p != nil {
		if *p < 0 || *p > statDistinctPerKey {
			return nil, fmt.Errorf("min_cardinality: %d is out of range; set it between 0 and %d", *p, statDistinctPerKey)
		}
		c.min = int64(*p)
	}
	return c, nil
}

// prune drops k's values last seen before cut.
func (c *cardinality) prune(k *cardKey, cut int64) {
	for o := k.vals.oldest(); o != nil && o.val < cut; o = k.vals.oldest() {
		k.vals.remove(o)
		c.total--
	}
}

// evictKey drops the least recently seen query_key.
func (c *cardinality) evictKey() {
	o := c.keys.oldest()
	c.total -= o.val.vals.len()
	c.keys.remove(o)
	c.evictions++
}

// Add records ev's values of cardinality_field in its key's window and
// checks the thresholds.
func (c *cardinality) Add(ev *Event) []Match {
	t := statNanos(ev.Time)
	n := c.keys.get(ev.Key)
	if n == nil {
		if c.keys.len() >= c.maxKeys {
			c.evictKey()
		}
		n = c.keys.insert(ev.Key, cardKey{first: statUnset})
	} else {
		c.keys.touch(n)
	}
	k := &n.val
	if k.first == statUnset {
		k.first = t
	}
	c.vals = ev.Doc.Values(c.field, c.vals[:0])
	added := false
	for _, v := range c.vals {
		if !statPresent(v) {
			continue
		}
		added = true
		h := statHash(0, v)
		if e := k.vals.get(h); e != nil {
			e.val = statMaxI(e.val, t)
			statPlaceByTime(&k.vals, e)
			continue
		}
		if k.vals.len() >= statDistinctPerKey {
			k.vals.remove(k.vals.oldest())
			c.total--
			c.evictions++
		}
		statPlaceByTime(&k.vals, k.vals.insert(h, t))
		c.total++
	}
	for c.total > statDistinctPerRule && c.keys.len() > 1 {
		c.evictKey()
	}
	if !added {
		return nil // as ElastAlert: a document without the field is not checked
	}
	return c.check(n, t, ev)
}

// check prunes the window of n to now and applies the thresholds.
func (c *cardinality) check(n *statNode[string, cardKey], now int64, ev *Event) []Match {
	k := &n.val
	c.prune(k, statAddSat(now, -c.tf))
	card := int64(k.vals.len())
	above := c.max >= 0 && card > c.max
	below := c.min >= 0 && card < c.min && k.first != statUnset && statAddSat(now, -k.first) > c.tf
	if !above && !below {
		return nil
	}
	k.first = statUnset
	m := Match{Time: statTime(now), Key: n.key, Extra: map[string]any{"cardinality": card}}
	if ev != nil {
		m.Time = ev.Time
		m.Doc = ev.Doc.AppendJSON(nil)
	}
	return []Match{m}
}

// Tick ages the windows to now, checks min_cardinality of every key and
// forgets keys that hold nothing more to decide.
func (c *cardinality) Tick(now time.Time) []Match {
	t := statNanos(now)
	if t > c.tick {
		c.tick = t
	}
	var out []Match
	c.keys.each(func(n *statNode[string, cardKey]) {
		k := &n.val
		if c.min >= 0 {
			out = append(out, c.check(n, c.tick, nil)...)
		} else {
			c.prune(k, statAddSat(c.tick, -c.tf))
		}
		if k.vals.len() == 0 && (c.min < 0 || k.first == statUnset) {
			c.keys.remove(n)
		}
	})
	return out
}

// Evictions counts the query_key values evicted beyond MaxKeys or the
// rule's 1,000,000 values, and the values dropped beyond 10,000 per key.
func (c *cardinality) Evictions() uint64 { return c.evictions }

type cardState struct {
	V    int            `json:"v"`
	Tick int64          `json:"tick"`
	Keys []cardKeyState `json:"keys"` // least recently seen first
}

type cardKeyState struct {
	K     string     `json:"k"`
	First int64      `json:"first"`
	Vals  [][2]int64 `json:"vals"` // [hash as int64, last seen ns], least recently seen first
}

// MarshalState writes the windows as JSON.
func (c *cardinality) MarshalState() ([]byte, error) {
	st := cardState{V: statStateVersion, Tick: c.tick, Keys: make([]cardKeyState, 0, c.keys.len())}
	c.keys.each(func(n *statNode[string, cardKey]) {
		ks := cardKeyState{K: n.key, First: n.val.first, Vals: make([][2]int64, 0, n.val.vals.len())}
		n.val.vals.each(func(e *statNode[uint64, int64]) {
			ks.Vals = append(ks.Vals, [2]int64{int64(e.key), e.val})
		})
		st.Keys = append(st.Keys, ks)
	})
	return json.Marshal(&st)
}

// UnmarshalState replaces the windows with those of data, checked as
// untrusted input; the bounds are applied while loading.
func (c *cardinality) UnmarshalState(data []byte) error {
	var st cardState
	if err := json.Unmarshal(data, &st); err != nil {
		return statStateErr("cardinality", "%v", err)
	}
	if st.V != statStateVersion {
		return statStateErr("cardinality", "version %d, want %d", st.V, statStateVersion)
	}
	tmp := &cardinality{maxKeys: c.maxKeys}
	for _, ks := range st.Keys {
		if tmp.keys.get(ks.K) != nil {
			return statStateErr("cardinality", "key %q twice", ks.K)
		}
		if tmp.keys.len() >= tmp.maxKeys {
			tmp.evictKey()
		}
		n := tmp.keys.insert(ks.K, cardKey{first: ks.First})
		for _, e := range ks.Vals {
			h := uint64(e[0])
			if n.val.vals.get(h) != nil {
				return statStateErr("cardinality", "key %q: value %d twice", ks.K, h)
			}
			if n.val.vals.len() >= statDistinctPerKey {
				n.val.vals.remove(n.val.vals.oldest())
				tmp.total--
				tmp.evictions++
			}
			statPlaceByTime(&n.val.vals, n.val.vals.insert(h, e[1]))
			tmp.total++
		}
		for tmp.total > statDistinctPerRule && tmp.keys.len() > 1 {
			tmp.evictKey()
		}
	}
	c.keys, c.total, c.tick = tmp.keys, tmp.total, st.Tick
	c.evictions += tmp.evictions
	return nil
}
