package rule

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

func init() { Constructors["change"] = newChange }

// change is ElastAlert's "change": per query_key value, a document whose
// compare_key value(s) differ from the previous document's is a match
// (with timeframe: only when the previous document is at most timeframe
// older). With ignore_null a document missing a compare_key field (or with
// an empty text value) is skipped entirely, as ElastAlert returns before
// remembering it; without it, "missing" is a value like any other.
// ElastAlert also treats 0 as null there (Python's falsiness); sluice does
// not. Extra old_value and new_value are lists with one entry per
// compare_key field (nil for a missing one), as ElastAlert's.
//
// A document older than the key's last one (out of order) is not compared
// and does not replace it. A key keeps only its last values and time.
type change struct {
	compare    []string
	ignoreNull bool
	timeframe  time.Duration
	keys       *keyLRU[changeKey]
	buf        []query.Value
}

type changeKey struct {
	Values []*string `json:"v"`
	Time   int64     `json:"t"`
}

func newChange(s *Spec) (Type, error) {
	if len(s.CompareKey) == 0 {
		return nil, errors.New("compare_key must name at least one field")
	}
	if len(s.QueryKey) == 0 {
		return nil, errors.New("change needs query_key")
	}
	return &change{compare: s.CompareKey, ignoreNull: s.IgnoreNull, timeframe: s.Timeframe, keys: newKeyLRU[changeKey](s.MaxKeys)}, nil
}

func (c *change) Add(ev *Event) []Match {
	vals := make([]*string, len(c.compare))
	for i, f := range c.compare {
		c.buf = ev.Doc.Values(f, c.buf[:0])
		s, borrowed, ok := fieldText(c.buf)
		if borrowed {
			s = strings.Clone(s)
		}
		if ok {
			vals[i] = &s
		}
		if c.ignoreNull && (!ok || s == "") {
			clear(c.buf)
			return nil
		}
	}
	clear(c.buf)
	t := ev.Time.UnixNano()
	prev, created := c.keys.touch(ev.Key)
	if created {
		*prev = changeKey{Values: vals, Time: t}
		return nil
	}
	if t < prev.Time {
		return nil
	}
	changed := false
	for i := range vals {
		if i >= len(prev.Values) || !sameText(prev.Values[i], vals[i]) {
			changed = true
			break
		}
	}
	old := prev.Values
	if changed && c.timeframe > 0 && t-prev.Time > c.timeframe.Nanoseconds() {
		changed = false
	}
	*prev = changeKey{Values: vals, Time: t}
	if !changed {
		return nil
	}
	return []Match{{
		Time:  ev.Time,
		Key:   ev.Key,
		Doc:   ev.Doc.AppendJSON(nil),
		Extra: map[string]any{"old_value": textList(old), "new_value": textList(vals)},
	}}
}

func sameText(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func textList(v []*string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		if s != nil {
			out[i] = *s
		}
	}
	return out
}

func (c *change) Tick(time.Time) []Match { return nil }
func (c *change) Evictions() uint64      { return c.keys.evictions }

type changeState struct {
	Keys []struct {
		Key string `json:"k"`
		changeKey
	} `json:"keys"`
}

func (c *change) MarshalState() ([]byte, error) {
	var st changeState
	c.keys.each(func(k string, v *changeKey) bool {
		st.Keys = append(st.Keys, struct {
			Key string `json:"k"`
			changeKey
		}{k, *v})
		return false
	})
	return json.Marshal(st)
}

func (c *change) UnmarshalState(data []byte) error {
	var st changeState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("change state: %w", err)
	}
	keys := newKeyLRU[changeKey](c.keys.max)
	for _, k := range st.Keys {
		if len(k.Values) != len(c.compare) {
			return fmt.Errorf("change state: key %q has %d values for %d compare_key fields", k.Key, len(k.Values), len(c.compare))
		}
		v, _ := keys.touch(k.Key)
		*v = k.changeKey
	}
	keys.evictions = 0
	c.keys = keys
	return nil
}
