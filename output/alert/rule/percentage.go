package rule

import (
	"errors"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

func init() { Constructors["percentage_match"] = newPercentage }

// percentage is the percentage_match rule type: per query_key, buckets of
// buffer_time in which it counts the documents and those that also match
// match_bucket_filter; when a bucket closes it matches if that percentage
// is below min_percentage or above max_percentage (both exclusive). A
// bucket without documents does not match (ElastAlert: no denominator).
//
// Bounds: at most MaxKeys query_key values with one open bucket (two
// counters) each.
type percentage struct {
	filter   query.Matcher
	max, min *float64
	b        statBucketed[percentAcc]
	out      []Match
}

type percentAcc struct {
	Total int64 `json:"total"`
	Hits  int64 `json:"hits"`
}

func newPercentage(s *Spec) (Type, error) {
	maxKeys, err := statMaxKeys(s)
	if err != nil {
		return nil, err
	}
	bt, err := statBufferTime(s)
	if err != nil {
		return nil, err
	}
	if s.MatchBucketFilter == nil {
		return nil, errors.New("match_bucket_filter: not set; give the filter whose share of the documents is watched")
	}
	if s.MinPercentage == nil && s.MaxPercentage == nil {
		return nil, errors.New("min_percentage, max_percentage: neither is set; set one or both")
	}
	if err := errors.Join(statThreshold("max_percentage", s.MaxPercentage), statThreshold("min_percentage", s.MinPercentage)); err != nil {
		return nil, err
	}
	p := &percentage{filter: s.MatchBucketFilter, b: newStatBucketed[percentAcc](bt, maxKeys)}
	if s.MaxPercentage != nil {
		v := *s.MaxPercentage
		p.max = &v
	}
	if s.MinPercentage != nil {
		v := *s.MinPercentage
		p.min = &v
	}
	return p, nil
}

func (p *percentage) close(key string, idx int64, a *percentAcc) {
	if a.Total == 0 {
		return
	}
	pct := float64(a.Hits) / float64(a.Total) * 100
	if !((p.max != nil && pct > *p.max) || (p.min != nil && pct < *p.min)) {
		return
	}
	p.out = append(p.out, Match{
		Time:  statTime(p.b.end(idx)),
		Key:   key,
		Extra: map[string]any{"percentage": pct, "denominator": a.Total},
	})
}

// Add counts ev in its key's bucket; a match comes when a bucket closes.
func (p *percentage) Add(ev *Event) []Match {
	p.out = nil
	a := p.b.at(ev.Key, statNanos(ev.Time), p.close)
	if a == nil {
		return p.out
	}
	a.Total++
	if p.filter.Match(ev.Doc) {
		a.Hits++
	}
	return p.out
}

// Tick closes the buckets that ended at or before now.
func (p *percentage) Tick(now time.Time) []Match {
	p.out = nil
	p.b.tickTo(statNanos(now), p.close)
	return p.out
}

// Evictions counts the query_key values (with their open bucket) evicted
// beyond MaxKeys.
func (p *percentage) Evictions() uint64 { return p.b.evictions }

// MarshalState writes the open buckets as JSON.
func (p *percentage) MarshalState() ([]byte, error) {
	return statMarshalBucketed(&p.b, func(a *percentAcc) percentAcc { return *a })
}

// UnmarshalState replaces the open buckets with those of data, checked as
// untrusted input.
func (p *percentage) UnmarshalState(data []byte) error {
	return statUnmarshalBucketed("percentage_match", &p.b, data, func(a percentAcc) (percentAcc, error) {
		if a.Total < 0 || a.Hits < 0 || a.Hits > a.Total {
			return a, errors.New("counts out of range")
		}
		return a, nil
	})
}
