package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// testBackend is a Backend written for these tests: it answers canned
// values and records the requests it got. It stands in for the stores
// (output/rollup, output/elasticsearch), which have their own tests
// against the same contract; here it lets the API's parameter handling,
// error mapping and JSON shape be checked exactly.
type testBackend struct {
	mu     sync.Mutex
	series []SeriesRequest
	tops   []TopRequest
	events []EventsRequest

	err   error // returned by every call when set
	block bool  // wait until ctx is done (a slow store)
	ctxOK chan error

	seriesOut Series
	topOut    Top
	eventsOut Events
}

func (b *testBackend) Name() string { return "testbackend" }

func (b *testBackend) wait(ctx context.Context) error {
	if b.block {
		<-ctx.Done()
		if b.ctxOK != nil {
			b.ctxOK <- ctx.Err()
		}
		return fmt.Errorf("scan stopped: %w", ctx.Err())
	}
	return b.err
}

func (b *testBackend) Range(ctx context.Context, kind string) (time.Time, time.Time, error) {
	if err := b.wait(ctx); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if kind == KindFlows {
		return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), nil
	}
	return time.Time{}, time.Time{}, nil
}

func (b *testBackend) Series(ctx context.Context, r SeriesRequest) (Series, error) {
	b.mu.Lock()
	b.series = append(b.series, r)
	b.mu.Unlock()
	return b.seriesOut, b.wait(ctx)
}

func (b *testBackend) Top(ctx context.Context, r TopRequest) (Top, error) {
	b.mu.Lock()
	b.tops = append(b.tops, r)
	b.mu.Unlock()
	return b.topOut, b.wait(ctx)
}

func (b *testBackend) Events(ctx context.Context, r EventsRequest) (Events, error) {
	b.mu.Lock()
	b.events = append(b.events, r)
	b.mu.Unlock()
	return b.eventsOut, b.wait(ctx)
}

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// newTestAPI serves the API on a real socket on 127.0.0.1.
func newTestAPI(t *testing.T, cfg APIConfig, b Backend, tap *Tap, g prometheus.Gatherer) *httptest.Server {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, NewAPI(cfg, b, tap, g, nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// get returns the status, body and header of GET path.
func get(t *testing.T, srv *httptest.Server, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func errorOf(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("body %q is not {\"error\": ...} (%v)", body, err)
	}
	return e.Error
}

func TestParamValidation(t *testing.T) {
	b := &testBackend{}
	srv := newTestAPI(t, APIConfig{}, b, nil, nil)
	for _, tc := range []struct {
		name, path string
		status     int
		want       string // substring of the error ("" for 200)
	}{
		{"series ok", "/api/v1/series?kind=flows", 200, ""},
		{"series relative", "/api/v1/series?kind=flows&from=now-7d&to=now-1h&by=destination.port&limit=50&step=1h", 200, ""},
		{"series rfc3339", "/api/v1/series?kind=syslog&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00%2B01:00&metric=events", 200, ""},
		{"missing kind", "/api/v1/series", 400, "kind: missing; use kind=flows, kind=syslog or kind=dns"},
		{"bad kind", "/api/v1/top?kind=flow&dim=source.ip", 400, `kind: "flow" is not a kind; use flows, syslog or dns`},
		{"bad time", "/api/v1/series?kind=flows&from=yesterday", 400, `from: "yesterday" is not a time; write RFC 3339`},
		{"bad unit", "/api/v1/series?kind=flows&from=now-15s", 400, `from: "now-15s" is not a time`},
		{"future relative", "/api/v1/series?kind=flows&from=now%2B5m", 400, `from: "now+5m" is not a time`},
		{"negative relative", "/api/v1/series?kind=flows&from=now--5m", 400, `is not a time`},
		{"too far back", "/api/v1/series?kind=flows&from=now-99999d", 400, `more than ten years`},
		{"from after to", "/api/v1/series?kind=flows&from=now&to=now-1h", 400, "from: 2026-11-22T12:00:00Z is not before to (2026-11-22T11:00:00Z)"},
		{"range too long", "/api/v1/events?kind=flows&from=now-32d", 400, "is longer than 31 days; narrow it"},
		{"range 31d ok", "/api/v1/events?kind=flows&from=now-31d", 200, ""},
		{"bad metric", "/api/v1/series?kind=syslog&metric=bytes", 400, `metric: "bytes" is not a metric of syslog; use one of events`},
		{"unknown dim", "/api/v1/top?kind=flows&dim=host.hostname", 400, `dim: "host.hostname" is not a dimension of flows; use one of source.ip, destination.ip`},
		{"missing dim", "/api/v1/top?kind=syslog", 400, "dim: missing; use one of source.ip"},
		{"unknown by", "/api/v1/series?kind=flows&by=nope", 400, `by: "nope" is not a dimension of flows`},
		{"bad filter", "/api/v1/events?kind=syslog&filter=message:(a%20OR", 400, "filter: query_string: at "},
		{"fuzzy filter", "/api/v1/events?kind=syslog&filter=message:hello~2", 400, "filter: query_string: at "},
		{"long filter", "/api/v1/events?kind=syslog&filter=" + strings.Repeat("a", MaxFilterBytes+1), 400, "filter: 4097 bytes is longer than 4096"},
		{"limit zero", "/api/v1/top?kind=flows&dim=source.ip&limit=0", 400, `limit: "0" is not a number 1..100`},
		{"limit big", "/api/v1/events?kind=flows&limit=501", 400, `limit: "501" is not a number 1..500`},
		{"limit series", "/api/v1/series?kind=flows&limit=51", 400, `limit: "51" is not a number 1..50`},
		{"limit text", "/api/v1/series?kind=flows&limit=ten", 400, `limit: "ten" is not a number`},
		{"step seconds", "/api/v1/series?kind=flows&step=300", 200, ""},
		{"step sub-minute", "/api/v1/series?kind=flows&step=30s", 400, `step: "30s" is not a whole number of minutes`},
		{"step odd", "/api/v1/series?kind=flows&step=90s", 400, `step: "90s" is not a whole number of minutes`},
		{"step text", "/api/v1/series?kind=flows&step=often", 400, `step: "often" is not a duration`},
		{"step too many buckets", "/api/v1/series?kind=flows&from=now-31d&step=1m", 400, "gives more than 2000 buckets"},
		{"unknown param", "/api/v1/series?kind=flows&form=now-1h", 400, "form: unknown parameter; this endpoint takes kind, from, to, filter, metric, by, limit, step"},
		{"repeated param", "/api/v1/series?kind=flows&kind=syslog", 400, "kind: given 2 times; give it once"},
		{"cursor too long", "/api/v1/events?kind=flows&before=" + strings.Repeat("x", 1025), 400, "before: the cursor is longer than 1024 bytes"},
		{"all problems at once", "/api/v1/series?kind=flows&from=x&limit=0&by=y", 400, "from: "},
		{"tail bad kind", "/api/v1/tail?kind=alerts", 400, `kind: "alerts" is not a kind`},
		{"tail bad filter", "/api/v1/tail?filter=a:%22b", 400, "filter: query_string: at "},
		{"meta takes nothing", "/api/v1/meta?kind=flows", 400, "kind: unknown parameter"},
		{"unknown endpoint", "/api/v1/nope", 404, "no such endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, h := get(t, srv, tc.path)
			if status != tc.status {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, status, body, tc.status)
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: Cache-Control %q, want no-store", tc.path, h.Get("Cache-Control"))
			}
			if tc.want == "" {
				return
			}
			if got := errorOf(t, body); !strings.Contains(got, tc.want) {
				t.Errorf("GET %s error:\n%s\nwant it to contain %q", tc.path, got, tc.want)
			}
		})
	}
	// The multi-problem request names every parameter.
	_, body, _ := get(t, srv, "/api/v1/series?kind=flows&from=x&limit=0&by=y")
	for _, p := range []string{"from:", "limit:", "by:"} {
		if !strings.Contains(body, p) {
			t.Errorf("error %s does not name %s", body, p)
		}
	}
}

// TestRequestsReachBackend: the parsed values are what the backend gets.
func TestRequestsReachBackend(t *testing.T) {
	b := &testBackend{}
	srv := newTestAPI(t, APIConfig{}, b, nil, nil)
	get(t, srv, "/api/v1/series?kind=flows&from=now-7d&to=now-1h&filter=destination.port:443&metric=packets&by=source.ip&limit=5&step=1h")
	get(t, srv, "/api/v1/top?kind=syslog&dim=host.hostname")
	get(t, srv, "/api/v1/events?kind=syslog&before=abc&limit=20&from=2026-11-22T10:00:00%2B01:00")
	wantSeries := SeriesRequest{Query: Query{Kind: KindFlows, From: testNow.Add(-7 * 24 * time.Hour), To: testNow.Add(-time.Hour), Filter: "destination.port:443"},
		Metric: MetricPackets, By: "source.ip", Limit: 5, Step: time.Hour}
	wantTop := TopRequest{Query: Query{Kind: KindSyslog, From: testNow.Add(-time.Hour), To: testNow}, Metric: MetricEvents, Dim: "host.hostname", Limit: 10}
	wantEvents := EventsRequest{Query: Query{Kind: KindSyslog, From: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), To: testNow}, Limit: 20, Before: "abc"}
	if len(b.series) != 1 || len(b.tops) != 1 || len(b.events) != 1 {
		t.Fatalf("backend got %d series, %d top, %d events requests, want 1 each", len(b.series), len(b.tops), len(b.events))
	}
	if diff := cmp.Diff(b.series[0], wantSeries); diff != "" {
		t.Errorf("Series request (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(b.tops[0], wantTop); diff != "" {
		t.Errorf("Top request (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(b.events[0], wantEvents); diff != "" {
		t.Errorf("Events request (-got +want):\n%s", diff)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		b      Backend
		status int
		want   string
	}{
		{"bad request", &testBackend{err: fmt.Errorf("filter uses url.query, which the rollups do not keep: %w", ErrBadRequest)}, 400, "filter uses url.query, which the rollups do not keep: bad request"},
		{"timeout", &testBackend{err: fmt.Errorf("search: %w", ErrTimeout)}, 504, "the time range or filter is too expensive; narrow the range or the filter"},
		{"store failed", &testBackend{err: errors.New("connection refused")}, 502, "series: the testbackend store failed: connection refused"},
		{"no backend", nil, 503, "no console backend: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestAPI(t, APIConfig{}, tc.b, nil, nil)
			for _, path := range []string{"/api/v1/series?kind=flows", "/api/v1/top?kind=flows&dim=source.ip", "/api/v1/events?kind=flows"} {
				status, body, _ := get(t, srv, path)
				if status != tc.status {
					t.Fatalf("GET %s = %d %s, want %d", path, status, body, tc.status)
				}
				want := tc.want
				if tc.name == "store failed" {
					endpoint := strings.TrimPrefix(strings.Split(path, "?")[0], Prefix)
					want = strings.Replace(want, "series", endpoint, 1)
				}
				if got := errorOf(t, body); !strings.Contains(got, want) {
					t.Errorf("GET %s error %q, want it to contain %q", path, got, want)
				}
			}
			// meta and health work without a backend, too.
			for _, path := range []string{"/api/v1/meta", "/api/v1/health"} {
				if status, body, _ := get(t, srv, path); status != 200 {
					t.Errorf("GET %s = %d %s, want 200", path, status, body)
				}
			}
		})
	}
}

// TestQueryTimeout: a store that does not answer is cut off at
// console.query_timeout, through the ctx it was given, and the client is
// told to narrow the request.
func TestQueryTimeout(t *testing.T) {
	b := &testBackend{block: true, ctxOK: make(chan error, 10)}
	srv := newTestAPI(t, APIConfig{QueryTimeout: 200 * time.Millisecond}, b, nil, nil)
	status, body, _ := get(t, srv, "/api/v1/top?kind=flows&dim=source.ip&from=now-30d")
	if status != http.StatusGatewayTimeout {
		t.Fatalf("GET top = %d %s, want 504", status, body)
	}
	msg := errorOf(t, body)
	for _, want := range []string{"console.query_timeout (200ms)", "narrow the range or the filter"} {
		if !strings.Contains(msg, want) {
			t.Errorf("504 error %q lacks %q", msg, want)
		}
	}
	select {
	case err := <-b.ctxOK:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("backend ctx ended with %v, want DeadlineExceeded", err)
		}
	default:
		t.Error("the backend's ctx was never done")
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv := newTestAPI(t, APIConfig{}, &testBackend{}, nil, nil)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		req, _ := http.NewRequest(m, srv.URL+"/api/v1/series?kind=flows", strings.NewReader("{}"))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s = %d (Allow %q) %s, want 405 with Allow: GET, HEAD", m, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	}
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/api/v1/meta", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("HEAD meta = %d %q, want 200 JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestSeriesTopEventsJSON(t *testing.T) {
	start := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	b := &testBackend{
		seriesOut: Series{Start: start, Step: 5 * time.Minute, Keys: []string{"443", "53"}, Values: [][]float64{{1, 2}, {3, 4}},
			Other: []float64{0, 1}, Total: []float64{4, 7}, Approx: true},
		topOut: Top{Rows: []TopRow{{Key: "192.0.2.1", Value: 10, Labels: map[string]string{"country": "DE"}}}, Other: 5, Total: 15},
		eventsOut: Events{Docs: []json.RawMessage{json.RawMessage(`{"message":"a"}`), json.RawMessage(`{"message":"b"}`)},
			Next: "cursor-2", Scanned: 120, Truncated: true},
	}
	srv := newTestAPI(t, APIConfig{}, b, nil, nil)
	for _, tc := range []struct {
		path, want string
	}{
		{"/api/v1/series?kind=flows&by=destination.port",
			`{"query":{"kind":"flows","from":"2026-11-22T11:00:00Z","to":"2026-11-22T12:00:00Z","filter":""},"metric":"bytes","by":"destination.port",` +
				`"start":"2026-11-22T11:00:00Z","step":300,"keys":["443","53"],"values":[[1,2],[3,4]],"other":[0,1],"total":[4,7],"approx":true}`},
		{"/api/v1/top?kind=flows&dim=source.ip&metric=flows",
			`{"query":{"kind":"flows","from":"2026-11-22T11:00:00Z","to":"2026-11-22T12:00:00Z","filter":""},"metric":"flows","dim":"source.ip",` +
				`"rows":[{"key":"192.0.2.1","value":10,"labels":{"country":"DE"}}],"other":5,"total":15,"approx":false}`},
		{"/api/v1/events?kind=syslog&filter=message:a",
			`{"query":{"kind":"syslog","from":"2026-11-22T11:00:00Z","to":"2026-11-22T12:00:00Z","filter":"message:a"},` +
				`"docs":[{"message":"a"},{"message":"b"}],"next":"cursor-2","scanned":120,"truncated":true}`},
	} {
		status, body, h := get(t, srv, tc.path)
		if status != 200 {
			t.Fatalf("GET %s = %d %s", tc.path, status, body)
		}
		if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", tc.path, ct)
		}
		if diff := cmp.Diff(strings.TrimSpace(body), tc.want); diff != "" {
			t.Errorf("GET %s (-got +want):\n%s", tc.path, diff)
		}
	}
	// Empty answers are empty lists, not null.
	b.seriesOut, b.topOut, b.eventsOut = Series{}, Top{}, Events{}
	for path, want := range map[string]string{
		"/api/v1/series?kind=flows":            `"keys":[],"values":[],"other":null,"total":[]`,
		"/api/v1/top?kind=flows&dim=source.ip": `"rows":[]`,
		"/api/v1/events?kind=flows":            `"docs":[]`,
	} {
		if _, body, _ := get(t, srv, path); !strings.Contains(body, want) {
			t.Errorf("GET %s = %s, want it to contain %s", path, body, want)
		}
	}
}

func TestMetaJSON(t *testing.T) {
	srv := newTestAPI(t, APIConfig{Version: "1.2.3"}, &testBackend{}, nil, nil)
	status, body, _ := get(t, srv, "/api/v1/meta")
	if status != 200 {
		t.Fatalf("meta = %d %s", status, body)
	}
	var m struct {
		Backend string `json:"backend"`
		Version string `json:"version"`
		Time    string `json:"time"`
		Kinds   map[string]struct {
			Metrics    []string `json:"metrics"`
			Dimensions []struct {
				Field string `json:"field"`
			} `json:"dimensions"`
			From *string `json:"from"`
			To   *string `json:"to"`
		} `json:"kinds"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Backend != "testbackend" || m.Version != "1.2.3" || m.Time != "2026-11-22T12:00:00Z" {
		t.Errorf("meta backend %q version %q time %q", m.Backend, m.Version, m.Time)
	}
	fl, sl := m.Kinds[KindFlows], m.Kinds[KindSyslog]
	if diff := cmp.Diff(fl.Metrics, []string{"bytes", "packets", "flows"}); diff != "" {
		t.Errorf("flows metrics (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(sl.Metrics, []string{"events"}); diff != "" {
		t.Errorf("syslog metrics (-got +want):\n%s", diff)
	}
	if fl.From == nil || *fl.From != "2026-11-01T00:00:00Z" || *fl.To != "2026-11-02T00:00:00Z" {
		t.Errorf("flows range %v..%v, want the backend's", fl.From, fl.To)
	}
	if sl.From != nil || sl.To != nil {
		t.Errorf("syslog range %v..%v, want null (the store holds none)", sl.From, sl.To)
	}
	var fields []string
	for _, d := range sl.Dimensions {
		fields = append(fields, d.Field)
	}
	if diff := cmp.Diff(fields, DimensionsOf(KindSyslog)); diff != "" {
		t.Errorf("syslog dimensions (-got +want):\n%s", diff)
	}
	for _, d := range fl.Dimensions {
		if d.Field == "host.hostname" {
			t.Error("flows list host.hostname, a syslog-only dimension")
		}
	}
	dl, ok := m.Kinds[KindDNS]
	if !ok {
		t.Fatal("meta lists no dns kind")
	}
	if diff := cmp.Diff(dl.Metrics, []string{"queries", "bytes"}); diff != "" {
		t.Errorf("dns metrics (-got +want):\n%s", diff)
	}
	fields = fields[:0]
	for _, d := range dl.Dimensions {
		fields = append(fields, d.Field)
	}
	for _, f := range []string{"dns.question.name", "dns.question.registered_domain", "dns.response_code", "source.ip", "event.dataset", "process.name", ScoreBandField} {
		if !slices.Contains(fields, f) {
			t.Errorf("dns dimensions %v lack %s", fields, f)
		}
	}
	if slices.Contains(fields, "host.hostname") {
		t.Error("dns lists host.hostname, a syslog-only dimension")
	}
}

// TestHostileValuesEscaped: markup in a stored document comes back with
// <, > and & escaped, so a page that ever embeds the JSON cannot be made to
// run it.
func TestHostileValuesEscaped(t *testing.T) {
	const hostile = `</script><img src=x onerror=alert(1)>&amp;`
	doc, _ := json.Marshal(map[string]string{"message": hostile, "host.hostname": hostile})
	// As a store may hand it over: written without escaping.
	raw := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(string(doc), `\u003c`, "<"), `\u003e`, ">"), `\u0026`, "&")
	if !strings.Contains(raw, "<img") {
		t.Fatalf("test document %s is not raw", raw)
	}
	b := &testBackend{eventsOut: Events{Docs: []json.RawMessage{json.RawMessage(raw)}}}
	srv := newTestAPI(t, APIConfig{}, b, nil, nil)
	status, body, _ := get(t, srv, "/api/v1/events?kind=syslog&filter="+url.QueryEscape(`message:"<img"`))
	if status != 200 {
		t.Fatalf("events = %d %s", status, body)
	}
	for _, bad := range []string{"<", ">", "&"} {
		if strings.Contains(body, bad) {
			t.Errorf("events answer contains a raw %q: %s", bad, body)
		}
	}
	var out struct {
		Query struct{ Filter string }
		Docs  []map[string]string
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Docs) != 1 || out.Docs[0]["message"] != hostile || out.Query.Filter != `message:"<img"` {
		t.Errorf("decoded answer %+v, want the hostile value back intact", out)
	}
}

// TestHealthJSON: /health groups the metrics sluice registers by what the
// console shows; a family it knows appears with its labels and values.
func TestHealthJSON(t *testing.T) {
	reg := prometheus.NewRegistry()
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_pipeline_events_dropped_total", Help: "h"}, []string{"stage", "reason"})
	dropped.WithLabelValues("timecheck", "too_old").Add(3)
	out := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_pipeline_events_out_total", Help: "h"}, []string{"output"})
	out.WithLabelValues("file").Add(7)
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_pipeline_queue_depth", Help: "h"}, []string{"queue"})
	depth.WithLabelValues("stages").Set(2)
	spool := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_output_elasticsearch_spool_documents", Help: "h"})
	spool.Set(11)
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "unrelated_metric", Help: "h"})
	reg.MustRegister(dropped, out, depth, spool, other)
	if _, err := NewTap(reg); err != nil {
		t.Fatal(err)
	}
	srv := newTestAPI(t, APIConfig{}, nil, nil, reg)
	status, body, _ := get(t, srv, "/api/v1/health")
	if status != 200 {
		t.Fatalf("health = %d %s", status, body)
	}
	var h struct {
		Summary map[string]any                                     `json:"summary"`
		Metrics map[string]map[string][]map[string]json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ section, family, want string }{
		{"drops", "sluice_pipeline_events_dropped_total", `{"labels":{"reason":"too_old","stage":"timecheck"},"value":3}`},
		{"outputs", "sluice_pipeline_events_out_total", `{"labels":{"output":"file"},"value":7}`},
		{"queues", "sluice_pipeline_queue_depth", `{"labels":{"queue":"stages"},"value":2}`},
		{"elasticsearch", "sluice_output_elasticsearch_spool_documents", `{"value":11}`},
		{"drops", "sluice_console_tail_dropped_total", `{"labels":{"reason":"rate_limit"},"value":0}`},
	} {
		series := h.Metrics[tc.section][tc.family]
		if len(series) == 0 {
			t.Errorf("health %s lacks %s: %s", tc.section, tc.family, body)
			continue
		}
		got, _ := json.Marshal(series[0])
		if string(got) != tc.want {
			t.Errorf("health %s %s[0] = %s, want %s", tc.section, tc.family, got, tc.want)
		}
	}
	if strings.Contains(body, "unrelated_metric") {
		t.Error("health shows a family of no section")
	}
	if h.Summary["pipeline_dropped"] != 3.0 || h.Summary["elasticsearch_spool_documents"] != 11.0 {
		t.Errorf("health summary %v", h.Summary)
	}
}

// TestBackendErrorLoggedOnce: a failing store is logged once per minute
// per endpoint, not once per request.
func TestBackendErrorLoggedOnce(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	mux := http.NewServeMux()
	mux.Handle(Prefix, NewAPI(APIConfig{}, &testBackend{err: errors.New("disk on fire")}, nil, nil, logger))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for range 5 {
		if status, body, _ := get(t, srv, "/api/v1/events?kind=syslog"); status != http.StatusBadGateway {
			t.Fatalf("events = %d %s, want 502", status, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(buf.String(), "console backend failed"); n != 1 {
		t.Errorf("%d log lines for 5 failures, want 1:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "disk on fire") || !strings.Contains(buf.String(), "endpoint=events") {
		t.Errorf("log line lacks the error or endpoint:\n%s", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
