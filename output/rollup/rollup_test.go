package rollup

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/collector/netflow"
	"github.com/sluicelab/sluice/collector/syslog"
	"github.com/sluicelab/sluice/enrich/parsers"
	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

// base is the hour the test events fall in.
var base = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// syslogBatch decodes the shared vendor mix (Meraki, F5 ASM, netfilter,
// other) and parses it as sluice does.
func syslogBatch(t testing.TB) *event.Batch {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "collector", "syslog", "testdata", "mix_sample.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := parsers.Default()
	cfg.Location = time.UTC
	st, err := parsers.New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	d := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC})
	bt := event.NewBatch()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if err := d.Decode(&collector.Packet{Data: sc.Bytes(), Src: netip.MustParseAddrPort("192.0.2.10:514"), Received: base}, bt); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Process(context.Background(), bt); err != nil {
		t.Fatal(err)
	}
	bt.EncodeJSON()
	return bt
}

// flowBatch decodes the softflowd captures.
func flowBatch(t testing.TB) *event.Batch {
	t.Helper()
	bins, _ := filepath.Glob(filepath.Join("..", "..", "collector", "netflow", "testdata", "*.bin"))
	bt := event.NewBatch()
	for _, p := range bins {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := netflow.New(netflow.Default(), nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Decode(&collector.Packet{Data: data, Src: netip.MustParseAddrPort("127.0.0.1:4000"), Received: time.Now()}, bt); err != nil {
			t.Fatal(err)
		}
	}
	if bt.Len() == 0 {
		t.Fatal("no flows")
	}
	// What the geo stage adds: GeoIP answers for some addresses, the
	// localities and the direction.
	for i := range bt.All() {
		e := &bt.Events[i]
		switch i % 3 {
		case 0:
			e.Src.Geo = geoDE
		case 1:
			e.Dst.Geo = geoUS
		}
		if i%4 != 3 {
			e.Src.Locality, e.Dst.Locality = event.LocalityInternal, event.LocalityExternal
			if i%2 == 0 {
				e.Src.Locality, e.Dst.Locality = e.Dst.Locality, e.Src.Locality
			}
			e.Direction = event.DirectionOf(e.Src.Locality, e.Dst.Locality)
		}
	}
	bt.EncodeJSON()
	return bt
}

var (
	geoDE = &event.Geo{CountryISO: "DE", CountryName: "Germany", ASN: 3320, ASOrg: "Deutsche Telekom AG"}
	geoUS = &event.Geo{CountryISO: "US", CountryName: "United States", ASN: 15169, ASOrg: "Google LLC"}
)

// spread sets the events' times over minutes of the base hour (round
// robin over n minutes, from minute first) and re-encodes them.
func spread(bt *event.Batch, first, n int) {
	for i := range bt.All() {
		bt.Events[i].Timestamp = base.Add(time.Duration(first+i%n)*time.Minute + time.Duration(i%50)*time.Second)
	}
	bt.EncodeJSON()
}

// docs returns the stored JSON documents of a batch.
func docs(t testing.TB, bt *event.Batch) []*query.JSONDoc {
	t.Helper()
	var out []*query.JSONDoc
	for i := range bt.All() {
		line, ok := bt.JSONLine(i)
		if !ok {
			t.Fatal("batch not encoded")
		}
		d, err := query.NewJSONDoc(line[:len(line)-1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func newTestStore(t testing.TB, dir string, now time.Time) *Store {
	t.Helper()
	cfg := Default()
	cfg.Dir = dir
	cfg.EventsDir = filepath.Join(dir, "events")
	cfg.Now = func() time.Time { return now }
	// Tests compare every value with the documents: no sampling, whatever
	// the rate a test feeds (TestSampledTopK covers it).
	cfg.ExactRate = 0
	s, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// want computes a metric directly from the documents: the total and the
// sum per value of field (per value for every value a document has),
// over docs the filter (nil: all) matches, within [from, to).
func want(t testing.TB, ds []*query.JSONDoc, metric, field string, m query.Matcher, from, to time.Time) (total float64, per map[string]float64) {
	t.Helper()
	per = map[string]float64{}
	for _, d := range ds {
		ts := d.Values("@timestamp", nil)
		if len(ts) != 1 {
			t.Fatalf("document without @timestamp: %s", d.AppendJSON(nil))
		}
		at, err := time.Parse(time.RFC3339Nano, ts[0].Str)
		if err != nil {
			t.Fatal(err)
		}
		if at.Before(from) || !at.Before(to) {
			continue
		}
		if m != nil && !m.Match(d) {
			continue
		}
		v := 1.0
		switch metric {
		case console.MetricBytes, console.MetricPackets:
			nv := d.Values("network."+metric, nil)
			v = 0
			if len(nv) == 1 {
				v = nv[0].Num
			}
		}
		total += v
		if field != "" {
			for _, fv := range d.Values(field, nil) {
				per[fv.String()] += v
			}
		}
	}
	return total, per
}

// feed runs the stage over bt and closes everything up to now.
func feed(t testing.TB, s *Store, bts ...*event.Batch) {
	t.Helper()
	for _, bt := range bts {
		if err := s.Stage().Process(context.Background(), bt); err != nil {
			t.Fatal(err)
		}
	}
	s.Tick(s.now(), false)
}

type golden struct {
	flows, syslog, dns []*query.JSONDoc
	s                  *Store
}

func setupGolden(t testing.TB, dir string) *golden {
	fb := flowBatch(t)
	spread(fb, 0, 7)
	sb := syslogBatch(t)
	spread(sb, 3, 11)
	db := dnsBatch(t, 1, 13)
	g := &golden{flows: docs(t, fb), syslog: docs(t, sb)}
	// Resolver-log lines are syslog and DNS events.
	ds, dd := splitDocs(t, db)
	g.syslog = append(g.syslog, ds...)
	g.dns = dd
	g.s = newTestStore(t, dir, base.Add(3*time.Hour))
	feed(t, g.s, fb, sb, db)
	return g
}

// kindDocs are the golden kinds and their documents.
func (g *golden) kindDocs() []struct {
	kind string
	ds   []*query.JSONDoc
} {
	return []struct {
		kind string
		ds   []*query.JSONDoc
	}{{console.KindFlows, g.flows}, {console.KindSyslog, g.syslog}, {console.KindDNS, g.dns}}
}

func dimsOf(kind string) []string {
	var out []string
	for _, d := range console.Dimensions {
		for _, k := range d.Kinds {
			if k == kind {
				out = append(out, d.Field)
			}
		}
	}
	return out
}

func metricsOf(kind string) []string {
	switch kind {
	case console.KindFlows:
		return []string{console.MetricBytes, console.MetricPackets, console.MetricFlows}
	case console.KindDNS:
		return []string{console.MetricQueries, console.MetricBytes}
	}
	return []string{console.MetricEvents}
}

// checkTop compares a Top answer with the documents.
func checkTop(t *testing.T, s *Store, ds []*query.JSONDoc, kind, metric, dim, filter string, from, to time.Time) {
	t.Helper()
	var m query.Matcher
	if filter != "" {
		var err error
		if m, err = query.ParseQueryString(filter, query.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	total, per := want(t, ds, metric, dim, m, from, to)
	got, err := s.Top(context.Background(), console.TopRequest{Query: console.Query{Kind: kind, From: from, To: to, Filter: filter}, Metric: metric, Dim: dim, Limit: 100})
	if err != nil {
		t.Fatalf("Top(%s %s by %s, %q): %v", kind, metric, dim, filter, err)
	}
	if strings.Contains(filter, dim) {
		// Filtered on the dimension: the total is what the kept values sum to.
		total = 0
		for _, v := range per {
			total += v
		}
	}
	if got.Total != total {
		t.Errorf("Top(%s %s by %s, %q).Total = %v, documents say %v", kind, metric, dim, filter, got.Total, total)
	}
	if got.Approx {
		t.Logf("Top(%s %s by %s) is approximate", kind, metric, dim)
		return
	}
	wantKeys := make([]string, 0, len(per))
	for k, v := range per {
		if v > 0 {
			wantKeys = append(wantKeys, k)
		}
	}
	sort.Slice(wantKeys, func(a, b int) bool {
		if per[wantKeys[a]] != per[wantKeys[b]] {
			return per[wantKeys[a]] > per[wantKeys[b]]
		}
		return wantKeys[a] < wantKeys[b]
	})
	if len(wantKeys) > 100 {
		wantKeys = wantKeys[:100]
	}
	if len(got.Rows) != len(wantKeys) {
		t.Errorf("Top(%s %s by %s, %q): %d rows, documents have %d values", kind, metric, dim, filter, len(got.Rows), len(wantKeys))
	}
	for i, r := range got.Rows {
		if i < len(wantKeys) && (r.Key != wantKeys[i] || r.Value != per[wantKeys[i]]) {
			t.Errorf("Top(%s %s by %s, %q) row %d = %s %v, documents say %s %v", kind, metric, dim, filter, i, r.Key, r.Value, wantKeys[i], per[wantKeys[i]])
		}
	}
}

func TestGoldenTop(t *testing.T) {
	g := setupGolden(t, t.TempDir())
	for _, c := range g.kindDocs() {
		for _, metric := range metricsOf(c.kind) {
			for _, dim := range dimsOf(c.kind) {
				// Whole hours (hour blocks) and minutes (minute blocks).
				checkTop(t, g.s, c.ds, c.kind, metric, dim, "", base, base.Add(time.Hour))
				checkTop(t, g.s, c.ds, c.kind, metric, dim, "", base.Add(2*time.Minute), base.Add(9*time.Minute))
			}
		}
	}
}

// TestTopLabels: addresses carry their country and AS, AS numbers their
// organisation.
func TestTopLabels(t *testing.T) {
	g := setupGolden(t, t.TempDir())
	q := console.Query{Kind: console.KindFlows, From: base, To: base.Add(time.Hour)}
	for _, c := range []struct {
		dim  string
		want map[string]string
	}{
		{"source.ip", map[string]string{"country": "DE", "as": "3320"}},
		{"destination.ip", map[string]string{"country": "US", "as": "15169"}},
		{"source.as.number", map[string]string{"org": "Deutsche Telekom AG"}},
	} {
		top, err := g.s.Top(context.Background(), console.TopRequest{Query: q, Metric: console.MetricFlows, Dim: c.dim, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range top.Rows {
			if r.Labels != nil {
				n++
				if diff := cmp.Diff(c.want, r.Labels); diff != "" {
					t.Errorf("Top(%s) row %s labels (-want +got):\n%s", c.dim, r.Key, diff)
				}
			}
		}
		if n == 0 {
			t.Errorf("Top(%s): no row has labels", c.dim)
		}
	}
}

func TestGoldenSeries(t *testing.T) {
	g := setupGolden(t, t.TempDir())
	for _, c := range g.kindDocs() {
		for _, metric := range metricsOf(c.kind) {
			for _, by := range append([]string{""}, dimsOf(c.kind)...) {
				for _, step := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour} {
					checkSeries(t, g.s, c.ds, c.kind, metric, by, "", step, base, base.Add(2*time.Hour))
				}
			}
		}
	}
}

func checkSeries(t *testing.T, s *Store, ds []*query.JSONDoc, kind, metric, by, filter string, step time.Duration, from, to time.Time) {
	t.Helper()
	var m query.Matcher
	if filter != "" {
		var err error
		if m, err = query.ParseQueryString(filter, query.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Series(context.Background(), console.SeriesRequest{Query: console.Query{Kind: kind, From: from, To: to, Filter: filter}, Metric: metric, By: by, Step: step, Limit: 50})
	if err != nil {
		t.Fatalf("Series(%s %s by %q step %s): %v", kind, metric, by, step, err)
	}
	if got.Step != step || !got.Start.Equal(from) || len(got.Total) != int(to.Sub(from)/step) {
		t.Fatalf("Series(%s %s by %q step %s): start %s step %s %d buckets", kind, metric, by, step, got.Start, got.Step, len(got.Total))
	}
	for j := range got.Total {
		a := from.Add(time.Duration(j) * step)
		total, per := want(t, ds, metric, by, m, a, a.Add(step))
		if by != "" && strings.Contains(filter, by) {
			total = 0
			for _, v := range per {
				total += v
			}
		}
		if got.Total[j] != total {
			t.Errorf("Series(%s %s by %q step %s, %q).Total[%d] = %v, documents say %v", kind, metric, by, step, filter, j, got.Total[j], total)
		}
		if by == "" {
			continue
		}
		sum := got.Other[j]
		for i, k := range got.Keys {
			sum += got.Values[i][j]
			if !got.Approx && got.Values[i][j] != per[k] {
				t.Errorf("Series(%s %s by %q step %s, %q)[%s][%d] = %v, documents say %v", kind, metric, by, step, filter, k, j, got.Values[i][j], per[k])
			}
		}
		if math.Abs(sum-got.Total[j]) > 1e-6*math.Max(1, got.Total[j]) {
			t.Errorf("Series(%s %s by %q step %s)[%d]: keys + other = %v, total %v", kind, metric, by, step, j, sum, got.Total[j])
		}
	}
}

func TestBadRequests(t *testing.T) {
	s := newTestStore(t, t.TempDir(), base)
	q := console.Query{Kind: console.KindFlows, From: base, To: base.Add(time.Hour)}
	for _, c := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"unknown kind", func() error {
			_, err := s.Top(context.Background(), console.TopRequest{Query: console.Query{Kind: "x", From: base, To: base.Add(time.Hour)}, Metric: "bytes", Dim: "source.ip"})
			return err
		}, "kind"},
		{"syslog bytes", func() error {
			qq := q
			qq.Kind = console.KindSyslog
			_, err := s.Top(context.Background(), console.TopRequest{Query: qq, Metric: "bytes", Dim: "host.hostname"})
			return err
		}, "metric"},
		{"unknown dim", func() error {
			_, err := s.Top(context.Background(), console.TopRequest{Query: q, Metric: "bytes", Dim: "host.hostname"})
			return err
		}, "not a dimension"},
		{"reversed range", func() error {
			_, err := s.Series(context.Background(), console.SeriesRequest{Query: console.Query{Kind: "flows", From: base, To: base}, Metric: "bytes"})
			return err
		}, "before"},
		{"filter on other field", func() error {
			qq := q
			qq.Filter = "source.ip:10.0.0.1"
			_, err := s.Top(context.Background(), console.TopRequest{Query: qq, Metric: "bytes", Dim: "destination.port"})
			return err
		}, "source.ip, which the rollups cannot filter on; they filter on event.action, network.direction, event.dataset and the field grouped by (destination.port); Elasticsearch"},
		{"bare term", func() error {
			qq := q
			qq.Filter = "deny"
			_, err := s.Series(context.Background(), console.SeriesRequest{Query: qq, Metric: "bytes"})
			return err
		}, "every field"},
		{"unparsable", func() error {
			qq := q
			qq.Filter = "(a:b"
			_, err := s.Series(context.Background(), console.SeriesRequest{Query: qq, Metric: "bytes"})
			return err
		}, "filter"},
		{"step", func() error {
			_, err := s.Series(context.Background(), console.SeriesRequest{Query: q, Metric: "bytes", Step: 90 * time.Second})
			return err
		}, "whole number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if !errors.Is(err, console.ErrBadRequest) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want ErrBadRequest containing %q", err, c.msg)
			}
		})
	}
}
