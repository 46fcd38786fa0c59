package rule

import (
	"time"
)

// maxRecent bounds the documents a rule with top_count_keys remembers for
// its counts.
const maxRecent = 10000

// defaultTopWindow is how far back top counts look for a rule without a
// timeframe: ElastAlert's default buffer_time.
const defaultTopWindow = 45 * time.Minute

// recentValues remembers, for a rule with top_count_keys, the values of
// those fields in the last maxRecent documents that passed its filter, so
// an alert can list the most common values of each within the rule's
// timeframe before the match, for the match's query_key value: what
// ElastAlert asks Elasticsearch for at alert time, counted here as the
// documents pass (no cluster needed, and no wait for the index refresh).
// Older documents than the last maxRecent are not counted.
type recentValues struct {
	fields int
	ring   []recentDoc
	next   int // where the next document goes once the ring is full
	// texts keeps one copy of each value text seen (documents' strings
	// are not theirs to keep), bounded: cleared when it reaches
	// maxRecent entries.
	texts map[string]string
}

type recentDoc struct {
	t    int64
	key  string
	vals []string // one per top_count_keys field; "" when absent
}

func newRecentValues(fields int) *recentValues {
	return &recentValues{fields: fields, texts: map[string]string{}}
}

// own returns a copy of s that outlives the document.
func (r *recentValues) own(s string) string {
	if o, ok := r.texts[s]; ok {
		return o
	}
	if len(r.texts) >= maxRecent {
		clear(r.texts)
	}
	o := string([]byte(s))
	r.texts[o] = o
	return o
}

// add records a document's values (vals[i] is the text of field i, maybe
// borrowed; ok[i] false when absent).
func (r *recentValues) add(t time.Time, key string, vals []string, ok []bool) {
	d := recentDoc{t: t.UnixNano(), key: key}
	if len(r.ring) == maxRecent {
		d.vals = r.ring[r.next].vals[:0] // reuse the oldest slot's slice
	} else {
		d.vals = make([]string, 0, r.fields)
	}
	for i, v := range vals {
		if ok[i] {
			d.vals = append(d.vals, r.own(v))
		} else {
			d.vals = append(d.vals, "")
		}
	}
	if len(r.ring) < maxRecent {
		r.ring = append(r.ring, d)
		return
	}
	r.ring[r.next] = d
	r.next = (r.next + 1) % maxRecent
}

// counts returns, per field, the count of each value among the documents
// of key (any key when the rule has no query_key: key is "" for all)
// within (end-window, end].
func (r *recentValues) counts(fields []string, key string, end time.Time, window time.Duration) map[string]map[string]int {
	out := make(map[string]map[string]int, len(fields))
	for _, f := range fields {
		out[f] = map[string]int{}
	}
	hi, lo := end.UnixNano(), end.Add(-window).UnixNano()
	for i := range r.ring {
		d := &r.ring[i]
		if d.key != key || d.t > hi || d.t <= lo {
			continue
		}
		for j, v := range d.vals {
			if v != "" && j < len(fields) {
				out[fields[j]][v]++
			}
		}
	}
	return out
}
