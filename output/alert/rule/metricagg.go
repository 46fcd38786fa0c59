package rule

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

func init() { Constructors["metric_aggregation"] = newMetricAgg }

// metricAgg is the metric_aggregation rule type: per query_key, buckets
// of buffer_time in which metric_agg_key is aggregated (min, max, avg,
// sum, cardinality or value_count); when a bucket closes, it matches if
// the value is above max_threshold or below min_threshold (both
// exclusive). A bucket without documents is not evaluated (ElastAlert's
// min_doc_count 1); min, max and avg of a bucket whose documents have no
// numeric value have no value and do not match, sum is 0 and value_count
// and cardinality count 0.
//
// Bounds: at most MaxKeys query_key values with one open bucket each; for
// cardinality at most 10,000 distinct values per bucket (the count stops
// there) and 1,000,000 over the rule (the least recently seen key is
// evicted, counted in Evictions).
type metricAgg struct {
	field    string
	kind     string // metric_agg_type
	extraKey string // metric_<metric_agg_key>_<metric_agg_type>
	max, min *float64

	b     statBucketed[metricAcc]
	total int // distinct values over all open buckets
	vals  []query.Value
	out   []Match
}

// metricAcc is the aggregation of one bucket.
type metricAcc struct {
	docs     int64
	n        int64 // values aggregated (numeric ones, except for value_count and cardinality)
	sum      float64
	min, max float64
	distinct map[uint64]struct{}
}

var metricAggTypes = []string{"min", "max", "avg", "sum", "cardinality", "value_count"}

func newMetricAgg(s *Spec) (Type, error) {
	maxKeys, err := statMaxKeys(s)
	if err != nil {
		return nil, err
	}
	bt, err := statBufferTime(s)
	if err != nil {
		return nil, err
	}
	if s.MetricAggKey == "" {
		return nil, errors.New("metric_agg_key: not set; name the field to aggregate")
	}
	known := false
	for _, k := range metricAggTypes {
		known = known || k == s.MetricAggType
	}
	if !known {
		return nil, fmt.Errorf("metric_agg_type: %q is not supported; use one of min, max, avg, sum, cardinality, value_count", s.MetricAggType)
	}
	if s.MaxThreshold == nil && s.MinThreshold == nil {
		return nil, errors.New("max_threshold, min_threshold: neither is set; set one or both")
	}
	if err := errors.Join(statThreshold("max_threshold", s.MaxThreshold), statThreshold("min_threshold", s.MinThreshold)); err != nil {
		return nil, err
	}
	m := &metricAgg{
		field: s.MetricAggKey,
		kind:  s.MetricAggType,
		// ElastAlert names the value after the key as written, dots
		// included ("metric_system.cpu.total.norm.pct_avg").
		extraKey: "metric_" + s.MetricAggKey + "_" + s.MetricAggType,
		b:        newStatBucketed[metricAcc](bt, maxKeys),
	}
	if s.MaxThreshold != nil {
		v := *s.MaxThreshold
		m.max = &v
	}
	if s.MinThreshold != nil {
		v := *s.MinThreshold
		m.min = &v
	}
	m.b.onDrop = func(a *metricAcc) { m.total -= len(a.distinct) }
	return m, nil
}

// value is the aggregated value of a; ok is false when it has none.
func (m *metricAgg) value(a *metricAcc) (float64, bool) {
	switch m.kind {
	case "min":
		return a.min, a.n > 0
	case "max":
		return a.max, a.n > 0
	case "avg":
		return a.sum / float64(a.n), a.n > 0
	case "sum":
		return a.sum, true
	case "value_count":
		return float64(a.n), true
	default: // cardinality
		return float64(len(a.distinct)), true
	}
}

func (m *metricAgg) close(key string, idx int64, a *metricAcc) {
	m.total -= len(a.distinct)
	if a.docs < 1 {
		return
	}
	v, ok := m.value(a)
	if !ok || !((m.max != nil && v > *m.max) || (m.min != nil && v < *m.min)) {
		return
	}
	m.out = append(m.out, Match{
		Time:  statTime(m.b.end(idx)),
		Key:   key,
		Extra: map[string]any{m.extraKey: v, "metric_agg_value": v},
	})
}

// Add aggregates ev into its key's bucket; a match comes when a bucket
// closes.
func (m *metricAgg) Add(ev *Event) []Match {
	m.out = nil
	a := m.b.at(ev.Key, statNanos(ev.Time), m.close)
	if a == nil {
		return m.out
	}
	a.docs++
	m.vals = ev.Doc.Values(m.field, m.vals[:0])
	for _, v := range m.vals {
		switch m.kind {
		case "value_count":
			if statPresent(v) {
				a.n++
			}
		case "cardinality":
			if !statPresent(v) || len(a.distinct) >= statDistinctPerKey {
				continue
			}
			if a.distinct == nil {
				a.distinct = make(map[uint64]struct{})
			}
			h := statHash(0, v)
			if _, ok := a.distinct[h]; !ok {
				a.distinct[h] = struct{}{}
				m.total++
			}
		default:
			f, ok := statNumber(v)
			if !ok {
				continue
			}
			if a.n == 0 || f < a.min {
				a.min = f
			}
			if a.n == 0 || f > a.max {
				a.max = f
			}
			a.sum += f
			a.n++
		}
	}
	for m.total > statDistinctPerRule && m.b.keys.len() > 1 {
		m.b.evictOldest()
	}
	return m.out
}

// Tick closes the buckets that ended at or before now.
func (m *metricAgg) Tick(now time.Time) []Match {
	m.out = nil
	m.b.tickTo(statNanos(now), m.close)
	return m.out
}

// Evictions counts the query_key values (with their open bucket) evicted
// beyond MaxKeys or the rule's 1,000,000 distinct values.
func (m *metricAgg) Evictions() uint64 { return m.b.evictions }

type metricAccState struct {
	Docs     int64    `json:"docs"`
	N        int64    `json:"n"`
	Sum      float64  `json:"sum"`
	Min      float64  `json:"min"`
	Max      float64  `json:"max"`
	Distinct []uint64 `json:"distinct,omitempty"`
}

// MarshalState writes the open buckets as JSON.
func (m *metricAgg) MarshalState() ([]byte, error) {
	return statMarshalBucketed(&m.b, func(a *metricAcc) metricAccState {
		s := metricAccState{Docs: a.docs, N: a.n, Sum: a.sum, Min: a.min, Max: a.max}
		for h := range a.distinct {
			s.Distinct = append(s.Distinct, h)
		}
		return s
	})
}

// UnmarshalState replaces the open buckets with those of data, checked as
// untrusted input.
func (m *metricAgg) UnmarshalState(data []byte) error {
	err := statUnmarshalBucketed("metric_aggregation", &m.b, data, func(s metricAccState) (metricAcc, error) {
		a := metricAcc{docs: s.Docs, n: s.N, sum: s.Sum, min: s.Min, max: s.Max}
		if s.Docs < 0 || s.N < 0 {
			return a, errors.New("negative count")
		}
		if len(s.Distinct) > statDistinctPerKey {
			return a, fmt.Errorf("%d distinct values, above %d", len(s.Distinct), statDistinctPerKey)
		}
		if m.kind != "cardinality" && len(s.Distinct) > 0 {
			return a, errors.New("distinct values for a metric_agg_type that is not cardinality")
		}
		for _, f := range []float64{s.Sum, s.Min, s.Max} {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return a, errors.New("value is not finite")
			}
		}
		if len(s.Distinct) > 0 {
			a.distinct = make(map[uint64]struct{}, len(s.Distinct))
			for _, h := range s.Distinct {
				a.distinct[h] = struct{}{}
			}
		}
		return a, nil
	})
	if err != nil {
		return err
	}
	m.total = 0
	m.b.keys.each(func(n *statNode[string, statOpen[metricAcc]]) { m.total += len(n.val.acc.distinct) })
	for m.total > statDistinctPerRule && m.b.keys.len() > 1 {
		m.b.evictOldest()
	}
	return nil
}
