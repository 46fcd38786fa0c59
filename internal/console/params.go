package console

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

// Bounds of the API's parameters.
const (
	// MaxRange is the longest time range one request may cover.
	MaxRange = 31 * 24 * time.Hour
	// DefaultRange is the range of a request without from.
	DefaultRange = time.Hour
	// MaxFilterBytes bounds a filter's length.
	MaxFilterBytes = 4096
	// maxCursorBytes bounds the events cursor (before).
	maxCursorBytes = 1024
	// maxBuckets bounds range/step of a series.
	maxBuckets = 2000
)

// paramError is a parameter the user must fix; its message names it.
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

func badParam(format string, args ...any) error {
	return &paramError{msg: fmt.Sprintf(format, args...)}
}

// ParseTime reads a time parameter: RFC 3339 (2026-01-02T15:04:05Z, with
// an offset or fractional seconds), "now", or now minus a whole number of
// minutes, hours or days ("now-15m", "now-24h", "now-7d").
func ParseTime(name, s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "now-"); ok {
		if len(rest) < 2 || len(rest) > 8 {
			return time.Time{}, badTime(name, s)
		}
		unit := rest[len(rest)-1]
		n, err := strconv.Atoi(rest[:len(rest)-1])
		if err != nil || n < 0 || rest[0] == '+' || rest[0] == '-' {
			return time.Time{}, badTime(name, s)
		}
		var d time.Duration
		switch unit {
		case 'm':
			d = time.Minute
		case 'h':
			d = time.Hour
		case 'd':
			d = 24 * time.Hour
		default:
			return time.Time{}, badTime(name, s)
		}
		if int64(n) > int64(10*366*24*time.Hour/d) { // ten years back is plenty, and no overflow
			return time.Time{}, badParam("%s: %q reaches back more than ten years; use a nearer time", name, s)
		}
		return now.Add(-time.Duration(n) * d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badTime(name, s)
	}
	return t.UTC(), nil
}

func badTime(name, s string) error {
	return badParam("%s: %q is not a time; write RFC 3339 (2026-01-02T15:04:05Z) or now, now-15m, now-24h, now-7d (units m, h, d)", name, clip(s))
}

// clip shortens a value quoted back in a message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// params reads one request's query parameters: each at most once, none
// unknown.
type params struct {
	v    url.Values
	errs []error
}

func newParams(v url.Values, allowed ...string) *params {
	p := &params{v: v}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range v {
			if !yield(k) {
				return
			}
		}
	}) {
		if !slices.Contains(allowed, k) {
			p.errs = append(p.errs, badParam("%s: unknown parameter; this endpoint takes %s", clip(k), strings.Join(allowed, ", ")))
			continue
		}
		if len(v[k]) > 1 {
			p.errs = append(p.errs, badParam("%s: given %d times; give it once", k, len(v[k])))
		}
	}
	return p
}

func (p *params) get(k string) string { return p.v.Get(k) }

func (p *params) fail(err error) { p.errs = append(p.errs, err) }

// err returns every problem found, in one message.
func (p *params) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(p.errs))
	for i, e := range p.errs {
		msgs[i] = e.Error()
	}
	return &paramError{msg: strings.Join(msgs, "; ")}
}

// kind reads kind; required unless optional (then "" means every kind).
func (p *params) kind(optional bool) string {
	k := p.get("kind")
	switch k {
	case KindFlows, KindSyslog, KindDNS:
		return k
	case "":
		if optional {
			return ""
		}
		p.fail(badParam("kind: missing; use kind=flows, kind=syslog or kind=dns"))
	default:
		p.fail(badParam("kind: %q is not a kind; use flows, syslog or dns", clip(k)))
	}
	return ""
}

// timeRange reads from and to (default: the last hour up to now).
func (p *params) timeRange(now time.Time) (from, to time.Time) {
	to = now
	var errs int
	if s := p.get("to"); s != "" {
		t, err := ParseTime("to", s, now)
		if err != nil {
			p.fail(err)
			errs++
		} else {
			to = t
		}
	}
	from = to.Add(-DefaultRange)
	if s := p.get("from"); s != "" {
		t, err := ParseTime("from", s, now)
		if err != nil {
			p.fail(err)
			errs++
		} else {
			from = t
		}
	}
	if errs > 0 {
		return from, to
	}
	switch {
	case !from.Before(to):
		p.fail(badParam("from: %s is not before to (%s); swap them or widen the range", from.Format(time.RFC3339), to.Format(time.RFC3339)))
	case to.Sub(from) > MaxRange:
		p.fail(badParam("from: the range %s .. %s is longer than 31 days; narrow it", from.Format(time.RFC3339), to.Format(time.RFC3339)))
	}
	return from, to
}

// filter reads filter and checks that it parses.
func (p *params) filter() string {
	f := p.get("filter")
	if len(f) > MaxFilterBytes {
		p.fail(badParam("filter: %d bytes is longer than %d; shorten it", len(f), MaxFilterBytes))
		return ""
	}
	if _, err := ParseFilter(f); err != nil {
		p.fail(badParam("filter: %v", err))
		return ""
	}
	return f
}

// metrics are the metrics of each kind, the first the default.
var metrics = map[string][]string{
	KindFlows:  {MetricBytes, MetricPackets, MetricFlows},
	KindSyslog: {MetricEvents},
	KindDNS:    {MetricQueries, MetricBytes},
}

// metric reads metric for kind (default: the kind's first).
func (p *params) metric(kind string) string {
	ms := metrics[kind]
	if ms == nil {
		return "" // kind already failed
	}
	m := p.get("metric")
	if m == "" {
		return ms[0]
	}
	if !slices.Contains(ms, m) {
		p.fail(badParam("metric: %q is not a metric of %s; use one of %s", clip(m), kind, strings.Join(ms, ", ")))
		return ""
	}
	return m
}

// DimensionsOf returns the fields of the dimensions kind has.
func DimensionsOf(kind string) []string {
	var out []string
	for _, d := range Dimensions {
		if slices.Contains(d.Kinds, kind) {
			out = append(out, d.Field)
		}
	}
	return out
}

// dim reads the dimension parameter name; required or "" allowed.
func (p *params) dim(name, kind string, required bool) string {
	f := p.get(name)
	if f == "" {
		if required {
			p.fail(badParam("%s: missing; use one of %s", name, strings.Join(DimensionsOf(kind), ", ")))
		}
		return ""
	}
	if kind == "" {
		return "" // kind already failed
	}
	d, ok := DimensionOf(f)
	if !ok || !slices.Contains(d.Kinds, kind) {
		p.fail(badParam("%s: %q is not a dimension of %s; use one of %s", name, clip(f), kind, strings.Join(DimensionsOf(kind), ", ")))
		return ""
	}
	return f
}

// limit reads limit: def when absent, 1..max otherwise.
func (p *params) limit(def, maxN int) int {
	s := p.get("limit")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxN {
		p.fail(badParam("limit: %q is not a number 1..%d; give one in that range or leave it out for %d", clip(s), maxN, def))
		return def
	}
	return n
}

// step reads step: a duration (5m, 1h) or a number of seconds, a whole
// number of minutes, and at most maxBuckets buckets over the range; 0
// (absent) lets the backend choose.
func (p *params) step(from, to time.Time) time.Duration {
	s := p.get("step")
	if s == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(MaxRange/time.Second) {
			p.fail(badParam("step: %q is out of range; use a whole number of minutes up to 31 days, e.g. 60, 5m or 1h", clip(s)))
			return 0
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		p.fail(badParam("step: %q is not a duration; write seconds (300) or a duration (5m, 1h)", clip(s)))
		return 0
	}
	switch {
	case d < time.Minute || d%time.Minute != 0 || d > MaxRange:
		p.fail(badParam("step: %q is not a whole number of minutes up to 31 days; use e.g. 1m, 5m or 1h", clip(s)))
		return 0
	case to.After(from) && to.Sub(from)/d > maxBuckets:
		p.fail(badParam("step: %s gives more than %d buckets over %s; use a larger step (at least %s) or leave it out", d, maxBuckets, to.Sub(from), ((to.Sub(from)/maxBuckets)/time.Minute+1)*time.Minute))
		return 0
	}
	return d
}

// before reads the events cursor.
func (p *params) before() string {
	s := p.get("before")
	if len(s) > maxCursorBytes {
		p.fail(badParam("before: the cursor is longer than %d bytes; use the next value of the previous answer as it is", maxCursorBytes))
		return ""
	}
	return s
}

// ParseSeries reads the parameters of /api/v1/series.
func ParseSeries(v url.Values, now time.Time) (SeriesRequest, error) {
	p := newParams(v, "kind", "from", "to", "filter", "metric", "by", "limit", "step")
	var r SeriesRequest
	r.Kind = p.kind(false)
	r.From, r.To = p.timeRange(now)
	r.Filter = p.filter()
	r.Metric = p.metric(r.Kind)
	r.By = p.dim("by", r.Kind, false)
	r.Limit = p.limit(10, 50)
	r.Step = p.step(r.From, r.To)
	return r, p.err()
}

// ParseTop reads the parameters of /api/v1/top.
func ParseTop(v url.Values, now time.Time) (TopRequest, error) {
	p := newParams(v, "kind", "from", "to", "filter", "metric", "dim", "limit")
	var r TopRequest
	r.Kind = p.kind(false)
	r.From, r.To = p.timeRange(now)
	r.Filter = p.filter()
	r.Metric = p.metric(r.Kind)
	r.Dim = p.dim("dim", r.Kind, true)
	r.Limit = p.limit(10, 100)
	return r, p.err()
}

// ParseEvents reads the parameters of /api/v1/events.
func ParseEvents(v url.Values, now time.Time) (EventsRequest, error) {
	p := newParams(v, "kind", "from", "to", "filter", "limit", "before")
	var r EventsRequest
	r.Kind = p.kind(false)
	r.From, r.To = p.timeRange(now)
	r.Filter = p.filter()
	r.Limit = p.limit(50, 500)
	r.Before = p.before()
	return r, p.err()
}

// TailRequest is what /api/v1/tail follows.
type TailRequest struct {
	Kind    string // "" for flows and syslog (dns is the DNS events of both)
	Filter  string
	Matcher query.Matcher // nil: everything
}

// ParseTail reads the parameters of /api/v1/tail.
func ParseTail(v url.Values) (TailRequest, error) {
	p := newParams(v, "kind", "filter")
	var r TailRequest
	r.Kind = p.kind(true)
	r.Filter = p.filter()
	if err := p.err(); err != nil {
		return r, err
	}
	if r.Filter != "" {
		m, err := ParseFilter(r.Filter)
		if err != nil { // parsed once already
			return r, badParam("filter: %v", err)
		}
		r.Matcher = m
	}
	return r, nil
}
