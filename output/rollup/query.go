package rollup

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/query"
)

var _ console.Backend = (*Store)(nil)

// Name implements console.Backend.
func (s *Store) Name() string { return "rollups" }

func (s *Store) plan(kind string) (*kindPlan, int, error) {
	switch kind {
	case console.KindFlows:
		return s.plans[0], 0, nil
	case console.KindSyslog:
		return s.plans[1], 1, nil
	case console.KindDNS:
		return s.plans[2], 2, nil
	}
	return nil, 0, fmt.Errorf("%w: kind %q is unknown; use %q, %q or %q", console.ErrBadRequest, kind, console.KindFlows, console.KindSyslog, console.KindDNS)
}

// Range implements console.Backend: from the oldest block to the end of
// the newest.
func (s *Store) Range(_ context.Context, kind string) (from, to time.Time, err error) {
	_, ki, err := s.plan(kind)
	if err != nil {
		return from, to, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for r, refs := range s.refs[ki] {
		if len(refs) == 0 {
			continue
		}
		res := uint8(r + 1)
		if f := refs[0].start; from.IsZero() || f.Before(from) {
			from = f
		}
		if t := refs[len(refs)-1].start.Add(resDuration(res)); t.After(to) {
			to = t
		}
	}
	return from, to, nil
}

func metricSlot(kind, metric string) (int, error) {
	switch {
	case metric == console.MetricBytes && kind == console.KindFlows:
		return mBytes, nil
	case metric == console.MetricPackets && kind == console.KindFlows:
		return mPackets, nil
	case metric == console.MetricFlows && kind == console.KindFlows:
		return mCount, nil
	case metric == console.MetricEvents && kind == console.KindSyslog:
		return mCount, nil
	case metric == console.MetricQueries && kind == console.KindDNS:
		return mCount, nil
	case metric == console.MetricBytes && kind == console.KindDNS:
		return mBytes, nil
	}
	ok := "bytes, packets or flows"
	switch kind {
	case console.KindSyslog:
		ok = "events"
	case console.KindDNS:
		ok = "queries or bytes"
	}
	return 0, fmt.Errorf("%w: metric %q does not apply to %s; use %s", console.ErrBadRequest, metric, kind, ok)
}

// filter is a compiled console filter the rollups can apply.
type filter struct {
	m     query.Matcher // nil: everything
	onDim bool          // it names the dimension: applied per value
}

// parseFilter accepts filters that name only the segment fields of kind
// or dim.
func parseFilter(kind uint8, text, dim string) (filter, error) {
	if strings.TrimSpace(text) == "" {
		return filter{}, nil
	}
	m, err := console.ParseFilter(text)
	if err != nil {
		return filter{}, fmt.Errorf("%w: filter: %v", console.ErrBadRequest, err)
	}
	f := filter{m: m}
	var bad []string
	seg := segFieldsOf(kind)
	for _, p := range m.Fields() {
		switch {
		case slices.Contains(seg, p):
		case dim != "" && p == dim:
			f.onDim = true
		default:
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		can := strings.Join(seg, ", ")
		if dim != "" {
			can += " and the field grouped by (" + dim + ")"
		} else {
			can += " (and the field grouped by, when there is one)"
		}
		for i, b := range bad {
			if b == "*" {
				bad[i] = "a search of every field"
			}
		}
		return filter{}, fmt.Errorf("%w: filter names %s, which the rollups cannot filter on; they filter on %s; Elasticsearch (output.elasticsearch) answers any filter",
			console.ErrBadRequest, strings.Join(bad, ", "), can)
	}
	return f, nil
}

// segDoc is a query.Doc of a segment's key and, optionally, one value of a
// dimension.
type segDoc struct {
	kind  uint8
	seg   *segment
	field string
	e     *entry
	// the verdict of a DNS segment, parsed once per segment
	flags    dnsFlags
	flagsFor *segment
}

func (d *segDoc) Values(path string, dst []query.Value) []query.Value {
	if d.e != nil && path == d.field {
		return append(dst, entryValue(d.e))
	}
	if d.seg.other {
		return dst
	}
	if d.kind == kindDNS {
		return d.dnsValues(path, dst)
	}
	var s string
	switch path {
	case "event.action":
		s = d.seg.key.action
	case "network.direction":
		s = d.seg.key.direction
	case "event.dataset":
		s = d.seg.key.dataset
	}
	if s == "" {
		return dst
	}
	return append(dst, query.Value{Kind: query.KindString, Str: s})
}

// dnsValues answers the fields of a DNS segment (dnsSegFields).
func (d *segDoc) dnsValues(path string, dst []query.Value) []query.Value {
	if d.flagsFor != d.seg {
		d.flags, d.flagsFor = parseDNSFlags(d.seg.key.direction), d.seg
	}
	str := func(s string) []query.Value {
		if s == "" {
			return dst
		}
		return append(dst, query.Value{Kind: query.KindString, Str: s})
	}
	switch path {
	case "dns.response_code":
		return str(d.seg.key.action)
	case "event.dataset":
		return str(d.seg.key.dataset)
	case console.ScoreBandField:
		return str(d.flags.band)
	case "sluice.dns.blocklist", "threat.enrichments.indicator.provider":
		return str(d.flags.list)
	case "sluice.dns.new_domain":
		if d.flags.isNew {
			return append(dst, query.Value{Kind: query.KindBool, Bool: true})
		}
	case "sluice.dns.unsanctioned_resolver":
		if d.flags.unsanct {
			return append(dst, query.Value{Kind: query.KindBool, Bool: true})
		}
	}
	return dst
}

func (d *segDoc) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	add := func(k, v string) {
		if v == "" {
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = strconv.AppendQuote(dst, k)
		dst = append(dst, ':')
		dst = strconv.AppendQuote(dst, v)
	}
	if !d.seg.other && d.kind == kindDNS {
		var vals []query.Value
		for _, f := range dnsSegFields {
			if vals = d.dnsValues(f, vals[:0]); len(vals) > 0 {
				add(f, vals[0].String())
			}
		}
	} else if !d.seg.other {
		add("event.action", d.seg.key.action)
		add("network.direction", d.seg.key.direction)
		add("event.dataset", d.seg.key.dataset)
	}
	if d.e != nil {
		add(d.field, d.e.key)
	}
	return append(dst, '}')
}

func entryValue(e *entry) query.Value {
	switch query.ValueKind(e.vk) {
	case query.KindNumber:
		if f, err := strconv.ParseFloat(e.key, 64); err == nil {
			return query.Value{Kind: query.KindNumber, Num: f}
		}
	case query.KindIP:
		if a, err := netip.ParseAddr(e.key); err == nil {
			return query.Value{Kind: query.KindIP, IP: a}
		}
	case query.KindBool:
		return query.Value{Kind: query.KindBool, Bool: e.key == "true"}
	case query.KindTime:
		if t, err := time.Parse(time.RFC3339Nano, e.key); err == nil {
			return query.Value{Kind: query.KindTime, Time: t}
		}
	}
	return query.Value{Kind: query.KindString, Str: e.key}
}

// scanned is one block's contribution: its start and, per selected
// segment, the totals and the entries of the dimension that passed.
type visit func(start time.Time, res uint8, seg *segment, dim *summary, pass func(*entry) bool)

// collect lists the blocks over [from, to). hourly: whole hours come
// from hour blocks (minute blocks where an hour has none yet); minutes:
// minute blocks only, except in Top (edges) where hour blocks fill what
// minute retention has dropped.
func (s *Store) collect(ki int, from, to time.Time, hourly, fillFromHours bool) []refCopy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []refCopy
	mins := s.refs[ki][0]
	hours := s.refs[ki][1]
	inRange := func(refs []*blockRef, a, b time.Time) []*blockRef {
		i := sort.Search(len(refs), func(i int) bool { return !refs[i].start.Before(a) })
		j := sort.Search(len(refs), func(i int) bool { return !refs[i].start.Before(b) })
		return refs[i:j]
	}
	for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
		he := h.Add(time.Hour)
		a, b := maxTime(h, from), minTime(he, to)
		whole := a.Equal(h) && b.Equal(he)
		mr := inRange(mins, a, b)
		if hourly && whole && s.rolled[ki][h.Unix()] || len(mr) == 0 && fillFromHours && s.rolled[ki][h.Unix()] {
			for _, ref := range inRange(hours, h, he) {
				out = append(out, refCopyOf(ref))
			}
			continue
		}
		for _, ref := range mr {
			out = append(out, refCopyOf(ref))
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// scan reads the blocks of refs (only dimension dim) and calls fn for
// every segment the filter selects. The strings of an entry are only
// valid during the call (blocks read from files share one buffer). It returns whether a selected top-K
// had overflowed (or a folded segment could not be judged).
func (s *Store) scan(ctx context.Context, kind uint8, refs []refCopy, dim string, f filter, fn func(start time.Time, m *[numMetrics]uint64, e *entry)) (approx bool, err error) {
	want := func(field string) bool { return field == dim }
	var files = map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	doc := &segDoc{kind: kind, field: dim}
	var buf []byte
	var sc decodeScratch // blocks read from files live until the next one
	for i, c := range refs {
		if i%64 == 0 && ctx.Err() != nil {
			return approx, fmt.Errorf("%w: %w", console.ErrTimeout, ctx.Err())
		}
		b := c.b
		if b == nil {
			fh := files[c.path]
			if fh == nil {
				fh, err = os.Open(filepath.Join(s.cfg.Dir, c.path))
				if err != nil {
					continue // removed by retention meanwhile
				}
				files[c.path] = fh
			}
			b, err = readAt(fh, c, want, &buf, &sc)
			if err != nil {
				continue
			}
		}
		for si := range b.segs {
			seg := &b.segs[si]
			doc.seg, doc.e = seg, nil
			if f.m != nil && seg.other {
				approx = true
			}
			if f.m != nil && !f.onDim && !f.m.Match(doc) {
				continue
			}
			var sm *summary
			for j := range seg.dims {
				if seg.dims[j].field == dim {
					sm = &seg.dims[j]
				}
			}
			if !f.onDim {
				fn(b.start, &seg.m, nil)
			}
			if sm == nil {
				continue
			}
			if sm.overflow {
				approx = true
			}
			for k := range sm.ents {
				e := &sm.ents[k]
				if f.onDim {
					doc.e = e
					if !f.m.Match(doc) {
						continue
					}
					fn(b.start, &e.m, nil)
				}
				fn(b.start, nil, e)
			}
		}
	}
	return approx, nil
}

func checkRange(q console.Query) error {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return fmt.Errorf("%w: from (%s) must be before to (%s)", console.ErrBadRequest, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	return nil
}

// autoSteps are the steps the rollups pick from (whole minutes).
var autoSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

const maxBuckets = 10000

// Series implements console.Backend.
func (s *Store) Series(ctx context.Context, r console.SeriesRequest) (console.Series, error) {
	p, ki, err := s.plan(r.Kind)
	if err != nil {
		return console.Series{}, err
	}
	if err := checkRange(r.Query); err != nil {
		return console.Series{}, err
	}
	slot, err := metricSlot(r.Kind, r.Metric)
	if err != nil {
		return console.Series{}, err
	}
	if r.By != "" {
		if _, ok := p.byField[r.By]; !ok {
			return console.Series{}, fmt.Errorf("%w: %q is not a dimension of %s", console.ErrBadRequest, r.By, r.Kind)
		}
	}
	limit := r.Limit
	if limit == 0 {
		limit = 10
	}
	if limit < 0 || limit > 50 {
		return console.Series{}, fmt.Errorf("%w: limit %d is out of range; use 1..50", console.ErrBadRequest, r.Limit)
	}
	f, err := parseFilter(p.kind, r.Filter, r.By)
	if err != nil {
		return console.Series{}, err
	}
	span := r.To.Sub(r.From)
	step := r.Step
	if step == 0 {
		step = autoSteps[len(autoSteps)-1]
		for _, c := range autoSteps {
			if span/c <= 300 {
				step = c
				break
			}
		}
		// Minute blocks are gone beyond minute retention: whole hours.
		if r.From.Before(s.now().Add(-s.cfg.MinuteRetention)) && step < time.Hour {
			step = time.Hour
		}
	}
	if step < time.Minute || step%time.Minute != 0 {
		return console.Series{}, fmt.Errorf("%w: step %s is not a whole number of minutes", console.ErrBadRequest, step)
	}
	start := r.From.Truncate(step)
	n := int((r.To.Sub(start) + step - 1) / step)
	if n > maxBuckets {
		return console.Series{}, fmt.Errorf("%w: %d buckets of %s; use a larger step (at most %d buckets)", console.ErrBadRequest, n, step, maxBuckets)
	}
	hourly := step%time.Hour == 0
	// Blocks are whole minutes or hours: the range is read from the
	// bucket-aligned start (the first bucket is whole).
	refs := s.collect(ki, start, r.To, hourly, false)
	out := console.Series{Start: start, Step: step, Total: make([]float64, n)}
	type keySeries struct {
		sum float64
		vs  []float64
	}
	var perKey map[string]*keySeries
	if r.By != "" {
		perKey = map[string]*keySeries{}
	}
	bucket := func(t time.Time) int {
		j := int(t.Sub(start) / step)
		if j < 0 || j >= n {
			return -1
		}
		return j
	}
	dim := r.By
	approx, err := s.scan(ctx, p.kind, refs, dim, f, func(t time.Time, m *[numMetrics]uint64, e *entry) {
		j := bucket(t)
		if j < 0 {
			return
		}
		if m != nil {
			out.Total[j] += float64(m[slot])
			return
		}
		v := float64(e.m[slot])
		ks := perKey[e.key]
		if ks == nil {
			ks = &keySeries{vs: make([]float64, n)}
			perKey[strings.Clone(e.key)] = ks
		}
		ks.vs[j] += v
		ks.sum += v
	})
	if err != nil {
		return console.Series{}, err
	}
	out.Approx = approx
	if r.By == "" {
		return out, nil
	}
	sums := make(map[string]float64, len(perKey))
	for k, ks := range perKey {
		sums[k] = ks.sum
	}
	keys := topKeys(sums, limit)
	out.Keys = keys
	out.Other = append([]float64(nil), out.Total...)
	for _, k := range keys {
		vs := perKey[k].vs
		out.Values = append(out.Values, vs)
		for j := range vs {
			out.Other[j] -= vs[j]
		}
	}
	for j := range out.Other {
		// Estimated values (top-K errors, a sampled minute) may add up
		// to more than the exact total: nothing is left for other then.
		if out.Other[j] < 0 || math.Abs(out.Other[j]) < 1e-9 {
			out.Other[j] = 0
		}
	}
	if out.Keys == nil {
		out.Keys = []string{}
		out.Values = [][]float64{}
	}
	return out, nil
}

func topKeys(sums map[string]float64, limit int) []string {
	keys := make([]string, 0, len(sums))
	for k, v := range sums {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(a, b int) bool {
		if sums[keys[a]] != sums[keys[b]] {
			return sums[keys[a]] > sums[keys[b]]
		}
		return keys[a] < keys[b]
	})
	if len(keys) > limit {
		keys = keys[:limit]
	}
	return keys
}

// Top implements console.Backend. Whole hours are read from hour blocks,
// the edges from minute blocks (or the hour block when minute blocks are
// gone).
func (s *Store) Top(ctx context.Context, r console.TopRequest) (console.Top, error) {
	p, ki, err := s.plan(r.Kind)
	if err != nil {
		return console.Top{}, err
	}
	if err := checkRange(r.Query); err != nil {
		return console.Top{}, err
	}
	slot, err := metricSlot(r.Kind, r.Metric)
	if err != nil {
		return console.Top{}, err
	}
	if _, ok := p.byField[r.Dim]; !ok {
		return console.Top{}, fmt.Errorf("%w: %q is not a dimension of %s", console.ErrBadRequest, r.Dim, r.Kind)
	}
	limit := r.Limit
	if limit == 0 {
		limit = 10
	}
	if limit < 0 || limit > 100 {
		return console.Top{}, fmt.Errorf("%w: limit %d is out of range; use 1..100", console.ErrBadRequest, r.Limit)
	}
	f, err := parseFilter(p.kind, r.Filter, r.Dim)
	if err != nil {
		return console.Top{}, err
	}
	from, to := r.From.Truncate(time.Minute), r.To
	refs := s.collect(ki, from, to, true, true)
	var total float64
	sums := map[string]*float64{}
	labels := map[string]*[numLabels]string{}
	approx, err := s.scan(ctx, p.kind, refs, r.Dim, f, func(_ time.Time, m *[numMetrics]uint64, e *entry) {
		if m != nil {
			total += float64(m[slot])
			return
		}
		// Never assign with e.key: a map assignment stores the key it is
		// given, and e.key points into a reused buffer.
		p := sums[e.key]
		if p == nil {
			p = new(float64)
			sums[strings.Clone(e.key)] = p
		}
		*p += float64(e.m[slot])
		if e.labels != ([numLabels]string{}) && labels[e.key] == nil {
			var l [numLabels]string
			for i, s := range e.labels {
				l[i] = strings.Clone(s)
			}
			labels[strings.Clone(e.key)] = &l
		}
	})
	if err != nil {
		return console.Top{}, err
	}
	out := console.Top{Rows: []console.TopRow{}, Total: total, Approx: approx}
	var rows float64
	vals := make(map[string]float64, len(sums))
	for k, p := range sums {
		vals[k] = *p
	}
	for _, k := range topKeys(vals, limit) {
		row := console.TopRow{Key: k, Value: vals[k]}
		if l := labels[k]; l != nil {
			row.Labels = map[string]string{}
			for i, v := range l {
				if v != "" {
					row.Labels[labelNames[i]] = v
				}
			}
		}
		out.Rows = append(out.Rows, row)
		rows += vals[k]
	}
	out.Other = total - rows
	if out.Other < 0 {
		out.Other = 0
	}
	return out, nil
}
