package rule

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

func init() { Constructors["new_term"] = newNewTerm }

// statTermsPerField bounds the terms one new_term field entry remembers;
// beyond it the least recently seen term is dropped (and counted in
// Evictions), so it would match again when it comes back.
const statTermsPerField = 100000

// statDefaultTermsWindow is terms_window_size when not set.
const statDefaultTermsWindow = 30 * 24 * time.Hour

// newTerm is the new_term rule type: a document whose value of one of
// fields was not seen within terms_window_size matches. Terms are kept as
// 64-bit hashes with the time each was last seen, in order of that time,
// at most 100,000 per field entry (about 100 bytes each, whatever the
// length of the value; the least recently seen is dropped); a term not
// seen for terms_window_size is forgotten.
//
// The caller seeds the history from stored documents with Seed before
// the live stream (ElastAlert queries the last terms_window_size at start).
type newTerm struct {
	fields    [][]string
	window    int64 // ns
	onMissing bool
	terms     []statLRU[uint64, int64] // per field entry: term hash -> last seen, ns
	evictions uint64
	tick      int64
	vals      []query.Value
	hashes    []uint64
}

func newNewTerm(s *Spec) (Type, error) {
	fields := s.Fields
	if len(fields) == 0 && len(s.QueryKey) > 0 {
		// ElastAlert falls back to query_key; several query_key fields
		// are one composite term here.
		fields = [][]string{s.QueryKey}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("fields: not set for new_term; list the fields whose new values match (or set query_key)")
	}
	for i, f := range fields {
		if len(f) == 0 {
			return nil, fmt.Errorf("fields: entry %d is an empty list; give a field or a list of fields", i+1)
		}
		for _, p := range f {
			if p == "" {
				return nil, fmt.Errorf("fields: entry %d has an empty field name; name the field", i+1)
			}
		}
	}
	w := s.TermsWindowSize
	if w == 0 {
		w = statDefaultTermsWindow
	}
	if w < time.Second || w > statMaxTimeframe {
		return nil, fmt.Errorf("terms_window_size: %s is out of range; set it between 1s and %s, or leave it out for 30 days", w, statMaxTimeframe)
	}
	nt := &newTerm{
		window:    int64(w),
		onMissing: s.AlertOnMissingField,
		terms:     make([]statLRU[uint64, int64], len(fields)),
		tick:      statUnset,
	}
	for _, f := range fields {
		nt.fields = append(nt.fields, slices.Clone(f))
	}
	return nt, nil
}

// termsOf sets n.hashes to the terms of field entry f in d: each value of
// a single field is a term; a composite entry is one term made of the
// first value of each of its fields. ok is false when the field (or one
// field of the composite) is missing.
func (n *newTerm) termsOf(f []string, d query.Doc) (first []query.Value, ok bool) {
	n.hashes = n.hashes[:0]
	if len(f) == 1 {
		n.vals = d.Values(f[0], n.vals[:0])
		start := len(n.vals)
		for _, v := range n.vals[:start] {
			if statPresent(v) {
				n.hashes = append(n.hashes, statHash(0, v))
				n.vals = append(n.vals, v)
			}
		}
		return n.vals[start:], len(n.hashes) > 0
	}
	var h uint64
	n.vals = n.vals[:0]
	var parts []query.Value
	for _, p := range f {
		mark := len(n.vals)
		n.vals = d.Values(p, n.vals)
		var got bool
		for _, v := range n.vals[mark:] {
			if statPresent(v) {
				h = statHash(h, v)
				parts = append(parts, v)
				got = true
				break
			}
		}
		n.vals = n.vals[:mark]
		if !got {
			return nil, false
		}
	}
	n.hashes = append(n.hashes, h)
	return parts, true
}

// see records the terms in n.hashes for field entry i at time t and
// returns the index of the first that is new (-1 when none).
func (n *newTerm) see(i int, t int64) int {
	l := &n.terms[i]
	isNew := -1
	for j, h := range n.hashes {
		e := l.get(h)
		if e == nil {
			if l.len() >= statTermsPerField {
				l.remove(l.oldest())
				n.evictions++
			}
			statPlaceByTime(l, l.insert(h, t))
			if isNew < 0 {
				isNew = j
			}
			continue
		}
		if e.val < statAddSat(t, -n.window) && isNew < 0 {
			isNew = j // last seen before the window: new again
		}
		e.val = statMaxI(e.val, t)
		statPlaceByTime(l, e)
	}
	return isNew
}

// Add returns a match per field entry whose term is new (and, with
// alert_on_missing_field, per entry missing from the document).
func (n *newTerm) Add(ev *Event) []Match {
	t := statNanos(ev.Time)
	var out []Match
	for i, f := range n.fields {
		parts, ok := n.termsOf(f, ev.Doc)
		var extra map[string]any
		if !ok {
			if !n.onMissing {
				continue
			}
			extra = map[string]any{"missing_field": n.fieldName(i)}
		} else {
			j := n.see(i, t)
			if j < 0 {
				continue
			}
			extra = map[string]any{"new_field": n.fieldName(i)}
			if len(f) == 1 {
				extra["new_value"] = statValueString(parts[j])
			} else {
				vs := make([]string, len(parts))
				for k, v := range parts {
					vs[k] = statValueString(v)
				}
				extra["new_value"] = vs
			}
		}
		out = append(out, Match{Time: ev.Time, Key: ev.Key, Doc: ev.Doc.AppendJSON(nil), Extra: extra})
	}
	return out
}

// fieldName is the new_field value of entry i: the field, or the list of
// fields of a composite entry.
func (n *newTerm) fieldName(i int) any {
	if len(n.fields[i]) == 1 {
		return n.fields[i][0]
	}
	return slices.Clone(n.fields[i])
}

// Seed records the terms of a stored document without matching; the
// caller feeds it the documents of the last terms_window_size before the
// live stream starts.
func (n *newTerm) Seed(ev *Event) {
	t := statNanos(ev.Time)
	for i, f := range n.fields {
		if _, ok := n.termsOf(f, ev.Doc); ok {
			n.see(i, t)
		}
	}
}

// Tick forgets the terms not seen within terms_window_size.
func (n *newTerm) Tick(now time.Time) []Match {
	t := statNanos(now)
	if t > n.tick {
		n.tick = t
	}
	cut := statAddSat(n.tick, -n.window)
	for i := range n.terms {
		l := &n.terms[i]
		for o := l.oldest(); o != nil && o.val < cut; o = l.oldest() {
			l.remove(o)
		}
	}
	return nil
}

// Evictions is the number of terms dropped to stay within 100,000 per
// field entry (new_term keeps no per-query_key windows).
func (n *newTerm) Evictions() uint64 { return n.evictions }

type newTermState struct {
	V      int          `json:"v"`
	Fields [][]string   `json:"fields"`
	Tick   int64        `json:"tick"`
	Terms  [][][2]int64 `json:"terms"` // per field entry: [hash as int64, last seen ns], least recently seen first
}

// MarshalState writes the terms as JSON.
func (n *newTerm) MarshalState() ([]byte, error) {
	st := newTermState{V: statStateVersion, Fields: n.fields, Tick: n.tick, Terms: make([][][2]int64, len(n.terms))}
	for i := range n.terms {
		ts := make([][2]int64, 0, n.terms[i].len())
		n.terms[i].each(func(e *statNode[uint64, int64]) {
			ts = append(ts, [2]int64{int64(e.key), e.val})
		})
		st.Terms[i] = ts
	}
	return json.Marshal(&st)
}

// UnmarshalState replaces the terms with those of data, checked as
// untrusted input. A state written for other fields is refused.
func (n *newTerm) UnmarshalState(data []byte) error {
	var st newTermState
	if err := json.Unmarshal(data, &st); err != nil {
		return statStateErr("new_term", "%v", err)
	}
	if st.V != statStateVersion {
		return statStateErr("new_term", "version %d, want %d", st.V, statStateVersion)
	}
	if !slices.EqualFunc(st.Fields, n.fields, slices.Equal[[]string]) || len(st.Terms) != len(n.fields) {
		return statStateErr("new_term", "written for fields %v, the rule has %v", st.Fields, n.fields)
	}
	terms := make([]statLRU[uint64, int64], len(n.fields))
	var evicted uint64
	for i, ts := range st.Terms {
		l := &terms[i]
		for _, e := range ts {
			h := uint64(e[0])
			if l.get(h) != nil {
				return statStateErr("new_term", "field entry %d: term %d twice", i+1, h)
			}
			if l.len() >= statTermsPerField {
				l.remove(l.oldest())
				evicted++
			}
			statPlaceByTime(l, l.insert(h, e[1]))
		}
	}
	n.terms, n.tick = terms, st.Tick
	n.evictions += evicted
	return nil
}
