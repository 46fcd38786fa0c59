package elasticsearch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

var _ console.Backend = (*Console)(nil)

// ConsoleConfig tunes the console's requests to the cluster.
type ConsoleConfig struct {
	// Timeout bounds a request whose context has no earlier deadline.
	// Elasticsearch is asked to stop at 90% of what is left of the
	// deadline, so it answers with timed_out before the client gives up.
	Timeout time.Duration
	// DefaultOperator joins filter clauses written side by side ("a b"):
	// "AND" (the default) or "OR". The filter is parsed with it and sent
	// in a form with explicit operators, so Elasticsearch and
	// internal/query read it alike.
	DefaultOperator string
	// DNSIndices are the index patterns of the DNS capture and the Beats
	// (output.index.dns, output.index.beats): read by kind dns (with the
	// syslog indices, which hold the resolvers' query logs), not by kind
	// syslog, as the rollups count them.
	DNSIndices []string
}

// DefaultConsoleConfig returns the defaults: 30s per request (the console
// API passes its own, shorter deadline in the context).
func DefaultConsoleConfig() ConsoleConfig {
	return ConsoleConfig{Timeout: 30 * time.Second, DefaultOperator: "AND"}
}

// Bounds of the console's requests: they must stay cheap on a small node.
const (
	consoleMaxBuckets   = 10000    // buckets of a series (as the rollups)
	consoleMaxAllBucket = 60000    // buckets of all its series: under search.max_buckets (65536)
	consoleMaxNames     = 48       // daily index names listed before falling back to wildcards
	consoleMaxNamesLen  = 2000     // bytes of the index list in the URL
	consoleMaxShardSize = 500      // terms shard_size
	consoleMaxBody      = 64 << 20 // bytes of a response read
)

// Console answers the web console's requests (console.Backend) with
// aggregations and searches on the daily indices the output writes: the
// patterns of output.index.* and the parser and route indices
// (TemplateConfig.SyslogIndices). It is safe for concurrent use.
type Console struct {
	client  *elasticsearch.Client
	kinds   map[string]*consoleKind
	timeout time.Duration
	opts    query.Options
}

// consoleKind holds the index patterns of one document kind.
type consoleKind struct {
	namers    []*event.IndexNamer
	wildcards []string
	// dns: the kind is the DNS documents of these indices (those with a
	// dns.question.name).
	dns bool
}

// dnsExists selects the DNS documents.
var dnsExists = map[string]any{"exists": map[string]any{"field": "dns.question.name"}}

// sumAgg is a sum aggregation of the metric field (of metricOf).
func sumAgg(field string) map[string]any {
	return map[string]any{"sum": map[string]any{"field": field}}
}

// NewConsole returns the console backend for the cluster and indices of
// cfg. client is the output's client (nil: one is made from cfg).
func NewConsole(cfg Config, client *elasticsearch.Client, cc ConsoleConfig) (*Console, error) {
	if cc.Timeout <= 0 {
		cc.Timeout = DefaultConsoleConfig().Timeout
	}
	switch op := strings.ToUpper(cc.DefaultOperator); op {
	case "":
		cc.DefaultOperator = DefaultConsoleConfig().DefaultOperator
	case "AND", "OR":
		cc.DefaultOperator = op
	default:
		return nil, fmt.Errorf("console default operator %q: use AND or OR", cc.DefaultOperator)
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil || cfg.Timezone == "" {
		return nil, fmt.Errorf("output.timezone: %q is not a time zone; use an IANA name such as UTC", cfg.Timezone)
	}
	c := &Console{client: client, kinds: map[string]*consoleKind{}, timeout: cc.Timeout,
		opts: query.Options{DefaultOperator: cc.DefaultOperator}}
	// DNS documents are in the syslog indices (resolver logs), and in the
	// DNS capture's and the Beats' indices, which sluice run lists among
	// the syslog indices (for their template) when those inputs are on.
	var syslog []string
	for _, p := range append([]string{cfg.SyslogIndex}, cfg.Template.SyslogIndices...) {
		if !slices.Contains(cc.DNSIndices, p) {
			syslog = append(syslog, p)
		}
	}
	dns := slices.Clone(syslog)
	for _, p := range cc.DNSIndices {
		if p != "" {
			dns = append(dns, p)
		}
	}
	for kind, patterns := range map[string][]string{console.KindFlows: {cfg.FlowsIndex}, console.KindSyslog: syslog, console.KindDNS: dns} {
		k := &consoleKind{dns: kind == console.KindDNS}
		for _, p := range slices.Compact(slices.Sorted(slices.Values(patterns))) {
			n, err := event.NewIndexNamer(p, loc)
			if err != nil {
				return nil, fmt.Errorf("console index of %s: %w", kind, err)
			}
			w, err := IndexWildcard(p)
			if err != nil {
				return nil, fmt.Errorf("console index of %s: %w", kind, err)
			}
			k.namers = append(k.namers, n)
			k.wildcards = append(k.wildcards, w)
		}
		c.kinds[kind] = k
	}
	if c.client == nil {
		if c.client, err = NewClient(cfg); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Name implements console.Backend.
func (c *Console) Name() string { return "elasticsearch" }

// indices returns the indices of kind that hold [from, to): the names of
// the days (hours) of the range when they are few, else the wildcards
// (Elasticsearch then skips the shards outside the range by their
// @timestamp bounds).
func (k *consoleKind) indices(from, to time.Time) string {
	if !from.IsZero() && to.Sub(from) <= consoleMaxNames*24*time.Hour {
		var names []string
		seen := map[string]bool{}
		n := 0
		add := func(t time.Time) {
			for _, nm := range k.namers {
				if s := nm.Name(t); !seen[s] {
					seen[s] = true
					names = append(names, s)
					n += len(s) + 1
				}
			}
		}
		// Every day or hour of the index time zone that overlaps the
		// range holds one of these instants (whatever its offset): one
		// per hour from the start, and the last instant of the range.
		for t := from; t.Before(to) && len(names) <= consoleMaxNames; t = t.Add(time.Hour) {
			add(t)
		}
		add(to.Add(-time.Nanosecond))
		if len(names) > 0 && len(names) <= consoleMaxNames && n <= consoleMaxNamesLen {
			return strings.Join(names, ",")
		}
	}
	return strings.Join(k.wildcards, ",")
}

// badRequest returns an error wrapping console.ErrBadRequest with a message
// that says what to change.
func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", console.ErrBadRequest, fmt.Sprintf(format, args...))
}

// prepared is a validated Query: its indices and the bool filter.
type prepared struct {
	index  string
	filter map[string]any
}

// body returns a search body with the query and the keys and values of kv.
func (p prepared) body(kv ...any) map[string]any {
	b := map[string]any{"query": p.filter}
	for i := 0; i+1 < len(kv); i += 2 {
		b[kv[i].(string)] = kv[i+1]
	}
	return b
}

// prepare validates q and builds its filter: the @timestamp range and the
// filter as a query_string query. The filter is parsed with internal/query
// first (the rollups' parser), so a syntax error reads the same in both
// backends, and its canonical form is sent: explicit operators and
// parentheses, values quoted (a CIDR such as 10.0.0.0/8 is not a regexp,
// an IPv6 address's colons are not fields).
func (c *Console) prepare(q console.Query) (prepared, error) {
	k, ok := c.kinds[q.Kind]
	if !ok {
		return prepared{}, badRequest("kind %q: use %s, %s or %s", q.Kind, console.KindFlows, console.KindSyslog, console.KindDNS)
	}
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return prepared{}, badRequest("from %s is not before to %s; give a range that ends after it starts",
			q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	}
	m, err := query.ParseQueryString(q.Filter, c.opts)
	if err != nil {
		return prepared{}, badRequest("filter: %v", err)
	}
	// Documents hold milliseconds: t >= from is t >= from rounded up.
	clauses := []any{map[string]any{"range": map[string]any{"@timestamp": map[string]any{
		"gte": ceilMillis(q.From), "lt": ceilMillis(q.To), "format": "epoch_millis"}}}}
	if k.dns {
		clauses = append(clauses, dnsExists)
	}
	s := q.Filter
	if st, ok := m.(fmt.Stringer); ok {
		s = st.String()
	}
	if strings.TrimSpace(q.Filter) != "" && s != "*:*" {
		clauses = append(clauses, map[string]any{"query_string": map[string]any{
			"query": s, "analyze_wildcard": true, "default_operator": c.opts.DefaultOperator, "lenient": true}})
	}
	return prepared{
		index:  k.indices(q.From, q.To),
		filter: map[string]any{"bool": map[string]any{"filter": clauses}},
	}, nil
}

func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// metricOf validates a metric for kind and returns the field it sums ("" to
// count documents).
func metricOf(kind, metric string) (string, error) {
	switch {
	case kind == console.KindFlows && metric == console.MetricBytes:
		return "network.bytes", nil
	case kind == console.KindFlows && metric == console.MetricPackets:
		return "network.packets", nil
	case kind == console.KindFlows && metric == console.MetricFlows,
		kind == console.KindSyslog && metric == console.MetricEvents,
		kind == console.KindDNS && metric == console.MetricQueries:
		return "", nil
	case kind == console.KindDNS && metric == console.MetricBytes:
		return "network.bytes", nil
	case kind == console.KindFlows:
		return "", badRequest("metric %q: flows have bytes, packets and flows", metric)
	case kind == console.KindDNS:
		return "", badRequest("metric %q: dns has queries and bytes", metric)
	default:
		return "", badRequest("metric %q: syslog has events", metric)
	}
}

// dimensionOf validates a dimension for kind.
func dimensionOf(kind, field, param string) error {
	d, ok := console.DimensionOf(field)
	if ok && slices.Contains(d.Kinds, kind) {
		return nil
	}
	var valid []string
	for _, d := range console.Dimensions {
		if slices.Contains(d.Kinds, kind) {
			valid = append(valid, d.Field)
		}
	}
	return badRequest("%s %q is not a dimension of %s; use one of %s", param, field, kind, strings.Join(valid, ", "))
}

// limitOf returns limit, or def for 0; out of 1..max it is a bad request.
func limitOf(limit, def, max int) (int, error) {
	if limit == 0 {
		return def, nil
	}
	if limit < 0 || limit > max {
		return 0, badRequest("limit %d is out of range; use 1..%d", limit, max)
	}
	return limit, nil
}

// PickStep returns the step the console uses for [from, to) when the
// request gives none: the smallest of 1, 2, 5, 10, 15, 30 minutes, 1, 2,
// 3, 6, 12 hours and 1 day that gives at most 300 buckets (about 60-300
// for ranges from an hour up; a range under an hour gets 1 minute).
func PickStep(from, to time.Time) time.Duration {
	d := to.Sub(from)
	for _, s := range []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
		if d <= 300*s {
			return s
		}
	}
	days := (d + 300*24*time.Hour - 1) / (300 * 24 * time.Hour)
	return max(days, 1) * 24 * time.Hour
}

// alignStart returns the start of the bucket holding t: t truncated to
// a multiple of step since the zero time, as the rollups do (the same as
// since the Unix epoch for steps that divide a day; Elasticsearch is given
// the offset for the others).
func alignStart(t time.Time, step time.Duration) time.Time {
	return t.Truncate(step).UTC()
}

// epochOffset returns how far start lies after a multiple of step since
// the Unix epoch, in milliseconds: date_histogram's offset.
func epochOffset(start time.Time, step time.Duration) int64 {
	ms, stepMs := start.UnixMilli(), step.Milliseconds()
	return ((ms % stepMs) + stepMs) % stepMs
}

// Series implements console.Backend: when By is set, a terms aggregation
// over the whole range picks the Limit largest values, then one
// date_histogram (extended to the whole range) sums the total and, with a
// terms aggregation restricted to those values, each of their series.
func (c *Console) Series(ctx context.Context, r console.SeriesRequest) (console.Series, error) {
	p, err := c.prepare(r.Query)
	if err != nil {
		return console.Series{}, err
	}
	field, err := metricOf(r.Kind, r.Metric)
	if err != nil {
		return console.Series{}, err
	}
	if r.By != "" {
		if err := dimensionOf(r.Kind, r.By, "by"); err != nil {
			return console.Series{}, err
		}
	}
	limit, err := limitOf(r.Limit, 10, 50)
	if err != nil {
		return console.Series{}, err
	}
	step := r.Step
	if step == 0 {
		step = PickStep(r.From, r.To)
	}
	if step < time.Minute || step%time.Minute != 0 {
		return console.Series{}, badRequest("step %s is not a whole number of minutes; use e.g. 1m or 5m", step)
	}
	start := alignStart(r.From, step)
	n := int((r.To.Sub(start) + step - 1) / step)
	if n > consoleMaxBuckets {
		return console.Series{}, badRequest("step %s gives %d buckets for the range, more than %d; raise the step or narrow the range", step, n, consoleMaxBuckets)
	}
	if r.By != "" && n*(limit+1) > consoleMaxAllBucket {
		return console.Series{}, badRequest("step %s gives %d buckets for each of %d series, more than %d in all; raise the step, lower the limit or narrow the range", step, n, limit+1, consoleMaxAllBucket)
	}
	out := console.Series{Start: start, Step: step, Total: make([]float64, n)}
	var keys []json.RawMessage
	if r.By != "" {
		body := p.body("size", 0, "track_total_hits", false,
			"aggs", map[string]any{"k": termsAgg(r.By, field, limit)})
		var res searchResponse
		if err := c.search(ctx, p.index, body, &res); err != nil {
			return console.Series{}, err
		}
		var aggs struct {
			K termsResult `json:"k"`
		}
		if err := res.aggs(&aggs); err != nil {
			return console.Series{}, err
		}
		out.Approx = aggs.K.ErrorBound != 0
		for _, b := range aggs.K.Buckets {
			keys = append(keys, b.Key)
			out.Keys = append(out.Keys, b.keyText())
			out.Values = append(out.Values, make([]float64, n))
		}
		out.Other = make([]float64, n)
	}
	// One histogram of the total, and one per key under a terms
	// aggregation restricted to the keys (a terms aggregation inside each
	// of hundreds of buckets costs ten times more on addresses).
	hist := func() map[string]any {
		h := map[string]any{"date_histogram": map[string]any{
			"field": "@timestamp", "fixed_interval": strconv.FormatInt(step.Milliseconds(), 10) + "ms",
			"min_doc_count": 0, "offset": strconv.FormatInt(epochOffset(start, step), 10) + "ms",
			"extended_bounds": map[string]any{
				"min": start.UnixMilli(), "max": start.Add(time.Duration(n-1) * step).UnixMilli()},
		}}
		if field != "" {
			h["aggs"] = map[string]any{"m": sumAgg(field)}
		}
		return h
	}
	aggs := map[string]any{"h": hist()}
	if len(keys) > 0 {
		aggs["k"] = map[string]any{
			"terms": map[string]any{"field": r.By, "size": len(keys), "include": keys},
			"aggs":  map[string]any{"h": hist()},
		}
	}
	body := p.body("size", 0, "track_total_hits", false, "aggs", aggs)
	var res searchResponse
	if err := c.search(ctx, p.index, body, &res); err != nil {
		return console.Series{}, err
	}
	if err := fillSeries(&out, res, field != ""); err != nil {
		return console.Series{}, err
	}
	return out, nil
}

// fillSeries adds the date_histogram of res to s (whose Start, Step, Keys
// and slices are set).
func fillSeries(s *console.Series, res searchResponse, sum bool) error {
	type histogram struct {
		Buckets []struct {
			Key      int64        `json:"key"`
			DocCount int64        `json:"doc_count"`
			M        *valueResult `json:"m"`
		} `json:"buckets"`
	}
	var aggs struct {
		H histogram `json:"h"`
		K struct {
			Buckets []struct {
				termBucket
				H histogram `json:"h"`
			} `json:"buckets"`
		} `json:"k"`
	}
	if err := res.aggs(&aggs); err != nil {
		return err
	}
	stepMs := s.Step.Milliseconds()
	startMs := s.Start.UnixMilli()
	fill := func(dst []float64, h histogram) {
		for _, b := range h.Buckets {
			if b.Key < startMs || (b.Key-startMs)%stepMs != 0 || (b.Key-startMs)/stepMs >= int64(len(dst)) {
				continue
			}
			dst[(b.Key-startMs)/stepMs] = metricValue(b.DocCount, b.M, sum)
		}
	}
	fill(s.Total, aggs.H)
	for _, kb := range aggs.K.Buckets {
		if i := slices.Index(s.Keys, kb.keyText()); i >= 0 && i < len(s.Values) {
			fill(s.Values[i], kb.H)
		}
	}
	if s.Other != nil {
		for j := range s.Total {
			o := s.Total[j]
			for i := range s.Values {
				o -= s.Values[i][j]
			}
			// A field with several values per document (tags) counts the
			// document under each: Other cannot go below nothing.
			s.Other[j] = max(o, 0)
		}
	}
	return nil
}

func metricValue(docs int64, m *valueResult, sum bool) float64 {
	if !sum {
		return float64(docs)
	}
	if m == nil || m.Value == nil {
		return 0
	}
	return *m.Value
}

// termsAgg is a terms aggregation on field with the size largest values
// of the metric (the sum of sumField, or the document count).
func termsAgg(field, sumField string, size int) map[string]any {
	t := map[string]any{"field": field, "size": size,
		// Each daily index is a shard of its own: ask each for more than
		// size, so values large over the range but not on one day are not
		// missed (the Approx flag reports when they may be).
		"shard_size": min(max(size*5, 100), consoleMaxShardSize)}
	agg := map[string]any{"terms": t}
	if sumField != "" {
		t["order"] = []any{map[string]any{"m": "desc"}, map[string]any{"_key": "asc"}}
		agg["aggs"] = map[string]any{"m": sumAgg(sumField)}
	} else {
		t["order"] = []any{map[string]any{"_count": "desc"}, map[string]any{"_key": "asc"}}
	}
	return agg
}

// Top implements console.Backend with one terms aggregation (and, for
// addresses and AS numbers, the most common country, AS or organisation
// of each value as its labels).
func (c *Console) Top(ctx context.Context, r console.TopRequest) (console.Top, error) {
	p, err := c.prepare(r.Query)
	if err != nil {
		return console.Top{}, err
	}
	field, err := metricOf(r.Kind, r.Metric)
	if err != nil {
		return console.Top{}, err
	}
	if err := dimensionOf(r.Kind, r.Dim, "dim"); err != nil {
		return console.Top{}, err
	}
	limit, err := limitOf(r.Limit, 10, 100)
	if err != nil {
		return console.Top{}, err
	}
	agg := termsAgg(r.Dim, field, limit)
	labels := labelsOf(r.Dim)
	if len(labels) > 0 {
		sub, _ := agg["aggs"].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			agg["aggs"] = sub
		}
		for name, f := range labels {
			sub["l_"+name] = map[string]any{"terms": map[string]any{"field": f, "size": 1}}
		}
	}
	aggs := map[string]any{"k": agg}
	if field != "" {
		aggs["total"] = sumAgg(field)
	}
	body := p.body("size", 0, "track_total_hits", field == "", "aggs", aggs)
	var res searchResponse
	if err := c.search(ctx, p.index, body, &res); err != nil {
		return console.Top{}, err
	}
	var raw struct {
		K     json.RawMessage `json:"k"`
		Total *valueResult    `json:"total"`
	}
	if err := res.aggs(&raw); err != nil {
		return console.Top{}, err
	}
	var terms termsResult
	// No aggregation at all when no index of the range exists yet (a kind
	// sluice has not written): no rows.
	if len(raw.K) > 0 {
		if err := json.Unmarshal(raw.K, &terms); err != nil {
			return console.Top{}, fmt.Errorf("elasticsearch console: terms aggregation: %w", err)
		}
	}
	var bucketLabels []map[string]json.RawMessage
	if len(labels) > 0 && len(raw.K) > 0 {
		var lb struct {
			Buckets []map[string]json.RawMessage `json:"buckets"`
		}
		if err := json.Unmarshal(raw.K, &lb); err != nil {
			return console.Top{}, fmt.Errorf("elasticsearch console: terms aggregation: %w", err)
		}
		bucketLabels = lb.Buckets
	}
	t := console.Top{Rows: []console.TopRow{}, Approx: terms.ErrorBound != 0}
	if field != "" {
		t.Total = metricValue(0, raw.Total, true)
	} else if res.Hits.Total != nil {
		t.Total = float64(res.Hits.Total.Value)
	}
	sum := 0.0
	for i, b := range terms.Buckets {
		row := console.TopRow{Key: b.keyText(), Value: b.value(field != "")}
		if i < len(bucketLabels) {
			for name := range labels {
				var l termsResult
				if err := json.Unmarshal(bucketLabels[i]["l_"+name], &l); err == nil && len(l.Buckets) > 0 {
					if row.Labels == nil {
						row.Labels = map[string]string{}
					}
					row.Labels[name] = l.Buckets[0].keyText()
				}
			}
		}
		sum += row.Value
		t.Rows = append(t.Rows, row)
	}
	t.Other = max(t.Total-sum, 0)
	return t, nil
}

// labelsOf returns the label fields of a dimension: country and AS of
// source and destination addresses, the organisation of AS numbers, the
// DNS checks' reasons of names and registered domains.
func labelsOf(dim string) map[string]string {
	if dim == "dns.question.name" || dim == "dns.question.registered_domain" {
		return map[string]string{"reasons": "sluice.dns.reasons"}
	}
	for _, side := range []string{"source", "destination"} {
		switch dim {
		case side + ".ip":
			return map[string]string{"country": side + ".geo.country_iso_code", "as": side + ".as.number"}
		case side + ".as.number":
			return map[string]string{"org": side + ".as.organization.name"}
		}
	}
	return nil
}

// Events implements console.Backend: the newest matching documents, sorted
// by @timestamp, index and Lucene document (the tiebreak), and paged with
// search_after on those three values, which the cursor holds.
func (c *Console) Events(ctx context.Context, r console.EventsRequest) (console.Events, error) {
	p, err := c.prepare(r.Query)
	if err != nil {
		return console.Events{}, err
	}
	limit, err := limitOf(r.Limit, 50, 500)
	if err != nil {
		return console.Events{}, err
	}
	body := p.body(
		"size", limit+1, "track_total_hits", false,
		"sort", []any{
			map[string]any{"@timestamp": map[string]any{"order": "desc", "unmapped_type": "date"}},
			map[string]any{"_index": "desc"},
			map[string]any{"_doc": "desc"},
		})
	if r.Before != "" {
		cur, err := DecodeCursor(r.Before)
		if err != nil {
			return console.Events{}, badRequest("before: %v; use the next cursor of a previous page", err)
		}
		body["search_after"] = []any{cur.Millis, cur.Index, cur.Doc}
	}
	var res searchResponse
	if err := c.search(ctx, p.index, body, &res); err != nil {
		return console.Events{}, err
	}
	hits := res.Hits.Hits
	out := console.Events{Docs: make([]json.RawMessage, 0, min(len(hits), limit)), Scanned: len(hits)}
	for i, h := range hits {
		if i == limit {
			cur, err := cursorOf(hits[i-1].Sort)
			if err != nil {
				return console.Events{}, err
			}
			out.Next = cur.Encode()
			out.Scanned = limit
			break
		}
		doc, err := withMeta(h.Source, h.Index, h.ID)
		if err != nil {
			return console.Events{}, fmt.Errorf("elasticsearch console: document %s/%s: %w", h.Index, h.ID, err)
		}
		out.Docs = append(out.Docs, doc)
	}
	return out, nil
}

// withMeta returns the _source object with _index and _id as its first
// members.
func withMeta(src json.RawMessage, index, id string) (json.RawMessage, error) {
	s := bytes.TrimSpace(src)
	if len(s) < 2 || s[0] != '{' {
		return nil, errors.New("_source is not a JSON object")
	}
	ib, _ := json.Marshal(index)
	idb, _ := json.Marshal(id)
	out := make([]byte, 0, len(s)+len(ib)+len(idb)+20)
	out = append(out, `{"_index":`...)
	out = append(out, ib...)
	out = append(out, `,"_id":`...)
	out = append(out, idb...)
	rest := bytes.TrimSpace(s[1:])
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...), nil
}

// Cursor is the position of an Events page: the sort values of the last
// document of the previous page.
type Cursor struct {
	Millis int64  // @timestamp, Unix milliseconds
	Index  string // _index
	Doc    int64  // _doc
}

// Encode returns the cursor as opaque URL-safe text.
func (c Cursor) Encode() string {
	b, _ := json.Marshal([]any{c.Millis, c.Index, c.Doc})
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxCursorLen bounds the text of a cursor: an index name is at most 255
// bytes.
const maxCursorLen = 512

// DecodeCursor parses the text of Encode. It comes from the user: anything
// else is an error.
func DecodeCursor(s string) (Cursor, error) {
	if len(s) > maxCursorLen {
		return Cursor{}, errors.New("cursor is too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errors.New("not a cursor")
	}
	var vals []json.RawMessage
	if err := json.Unmarshal(b, &vals); err != nil {
		return Cursor{}, errors.New("not a cursor")
	}
	return cursorOf(vals)
}

// cursorOf reads a hit's sort values (@timestamp, _index, _doc).
func cursorOf(vals []json.RawMessage) (Cursor, error) {
	bad := errors.New("not a cursor")
	if len(vals) != 3 {
		return Cursor{}, bad
	}
	var c Cursor
	if json.Unmarshal(vals[0], &c.Millis) != nil || json.Unmarshal(vals[1], &c.Index) != nil ||
		json.Unmarshal(vals[2], &c.Doc) != nil {
		return Cursor{}, bad
	}
	if c.Index == "" || len(c.Index) > 255 || c.Doc < 0 || c.Doc > math.MaxInt32 {
		return Cursor{}, bad
	}
	return c, nil
}

// Range implements console.Backend: the oldest and newest @timestamp of
// kind's indices (min and max aggregations, which Elasticsearch answers
// from each shard's index statistics; for dns over the documents with a
// dns.question.name), to being just after the newest document. Both are
// zero when there is none.
func (c *Console) Range(ctx context.Context, kind string) (from, to time.Time, err error) {
	k, ok := c.kinds[kind]
	if !ok {
		return time.Time{}, time.Time{}, badRequest("kind %q: use %s, %s or %s", kind, console.KindFlows, console.KindSyslog, console.KindDNS)
	}
	body := map[string]any{"size": 0, "track_total_hits": false, "aggs": map[string]any{
		"min": map[string]any{"min": map[string]any{"field": "@timestamp"}},
		"max": map[string]any{"max": map[string]any{"field": "@timestamp"}},
	}}
	if k.dns {
		// The DNS documents among the others of these indices.
		body["query"] = dnsExists
	}
	var res searchResponse
	if err := c.search(ctx, k.indices(time.Time{}, time.Time{}), body, &res); err != nil {
		return time.Time{}, time.Time{}, err
	}
	var aggs struct {
		Min, Max valueResult
	}
	if err := res.aggs(&aggs); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if aggs.Min.Value == nil || aggs.Max.Value == nil {
		return time.Time{}, time.Time{}, nil
	}
	return time.UnixMilli(int64(*aggs.Min.Value)).UTC(), time.UnixMilli(int64(*aggs.Max.Value) + 1).UTC(), nil
}

// ---- the search request and its response

type searchResponse struct {
	TimedOut bool `json:"timed_out"`
	Shards   struct {
		Failed   int `json:"failed"`
		Failures []struct {
			Index  string  `json:"index"`
			Reason esCause `json:"reason"`
		} `json:"failures"`
	} `json:"_shards"`
	Hits struct {
		Total *struct {
			Value int64 `json:"value"`
		} `json:"total"`
		Hits []struct {
			Index  string            `json:"_index"`
			ID     string            `json:"_id"`
			Source json.RawMessage   `json:"_source"`
			Sort   []json.RawMessage `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
	Aggregations json.RawMessage `json:"aggregations"`
}

func (r searchResponse) aggs(v any) error {
	if len(r.Aggregations) == 0 {
		// No index of the range exists: nothing to aggregate.
		return nil
	}
	if err := json.Unmarshal(r.Aggregations, v); err != nil {
		return fmt.Errorf("elasticsearch console: aggregations: %w", err)
	}
	return nil
}

type esCause struct {
	Type     string   `json:"type"`
	Reason   string   `json:"reason"`
	CausedBy *esCause `json:"caused_by"`
}

// String returns the innermost reason, which names the problem.
func (e esCause) String() string {
	for e.CausedBy != nil && e.CausedBy.Reason != "" {
		e = *e.CausedBy
	}
	return e.Type + ": " + e.Reason
}

type valueResult struct {
	Value *float64 `json:"value"`
}

type termsResult struct {
	ErrorBound int64        `json:"doc_count_error_upper_bound"`
	SumOther   int64        `json:"sum_other_doc_count"`
	Buckets    []termBucket `json:"buckets"`
}

type termBucket struct {
	Key         json.RawMessage `json:"key"`
	KeyAsString string          `json:"key_as_string"`
	DocCount    int64           `json:"doc_count"`
	M           *valueResult    `json:"m"`
}

// keyText returns the key as the console shows it: strings and addresses
// as they are, numbers as written (443, 64500), booleans as true/false.
func (b termBucket) keyText() string {
	if b.KeyAsString != "" {
		return b.KeyAsString
	}
	var s string
	if json.Unmarshal(b.Key, &s) == nil {
		return s
	}
	return string(b.Key)
}

func (b termBucket) value(sum bool) float64 { return metricValue(b.DocCount, b.M, sum) }

// search sends body to index and decodes the answer into res. Errors:
// console.ErrTimeout when the deadline passed or Elasticsearch timed out,
// console.ErrBadRequest when it refused the query (400), ctx.Err() when
// ctx was cancelled.
func (c *Console) search(ctx context.Context, index string, body map[string]any, res *searchResponse) error {
	timeout := c.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return timedOut(c.timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body["timeout"] = strconv.FormatInt(max(timeout.Milliseconds()*9/10, 1), 10) + "ms"
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("elasticsearch console: %w", err)
	}
	es := c.client
	resp, err := es.Search(es.Search.WithContext(ctx), es.Search.WithIndex(index),
		es.Search.WithBody(bytes.NewReader(data)),
		es.Search.WithIgnoreUnavailable(true), es.Search.WithAllowNoIndices(true))
	if err != nil {
		return c.transportError(ctx, timeout, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, consoleMaxBody+1))
	if err != nil {
		return c.transportError(ctx, timeout, err)
	}
	if len(raw) > consoleMaxBody {
		return fmt.Errorf("elasticsearch console: the answer is over %d bytes; narrow the request", consoleMaxBody)
	}
	if resp.IsError() {
		var e struct {
			Error struct {
				esCause
				RootCause []esCause `json:"root_cause"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		msg := e.Error.String()
		if len(e.Error.RootCause) > 0 && e.Error.RootCause[0].Reason != "" {
			msg = e.Error.RootCause[0].String()
		}
		if e.Error.Reason == "" {
			msg = fmt.Sprintf("%.300s", raw)
		}
		if resp.StatusCode == 400 {
			return badRequest("elasticsearch refused the query: %s", msg)
		}
		if resp.StatusCode == 504 || resp.StatusCode == 408 {
			return timedOut(timeout)
		}
		return fmt.Errorf("elasticsearch console search %s: %s: %s", index, resp.Status(), msg)
	}
	if err := json.Unmarshal(raw, res); err != nil {
		return fmt.Errorf("elasticsearch console search %s: %w", index, err)
	}
	if res.TimedOut {
		return timedOut(timeout)
	}
	if res.Shards.Failed > 0 {
		msg := "unknown reason"
		if len(res.Shards.Failures) > 0 {
			f := res.Shards.Failures[0]
			msg = f.Index + ": " + f.Reason.String()
		}
		return fmt.Errorf("elasticsearch console search %s: %d shards failed: %s", index, res.Shards.Failed, msg)
	}
	return nil
}

func timedOut(d time.Duration) error {
	return fmt.Errorf("elasticsearch did not answer within %s; narrow the time range or the filter: %w", d.Round(time.Millisecond), console.ErrTimeout)
}

func (c *Console) transportError(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return timedOut(timeout)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("elasticsearch console: %w", ctx.Err())
	}
	return fmt.Errorf("elasticsearch console: %w", err)
}

// Console returns the console backend on the output's cluster, client and
// indices (the parser and route indices included).
func (o *Output) Console(cc ConsoleConfig) (*Console, error) {
	return NewConsole(o.cfg, o.client, cc)
}
