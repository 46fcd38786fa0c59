package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/obs"
)

// APIConfig configures the JSON API.
type APIConfig struct {
	// QueryTimeout bounds each backend call (console.query_timeout).
	QueryTimeout time.Duration
	// MaxTailClients is how many live tails may run at once
	// (console.max_tail_clients).
	MaxTailClients int
	// Version is sluice's version, shown by /api/v1/meta.
	Version string
	// TailRate is how many documents per second one tail client gets at
	// most (default 200); TailHeartbeat how often an idle stream carries
	// a comment (default 15s); TailBuffer how many documents wait for a
	// client (default 1000).
	TailRate      int
	TailHeartbeat time.Duration
	TailBuffer    int
	// Now is the clock (time.Now when nil), for tests.
	Now func() time.Time
}

// DefaultAPI returns the defaults of APIConfig.
func DefaultAPI() APIConfig {
	return APIConfig{QueryTimeout: 10 * time.Second, MaxTailClients: 8, TailRate: 200, TailHeartbeat: 15 * time.Second, TailBuffer: 1000}
}

// API serves /api/v1. It is an http.Handler; mount it at /api/v1/.
type API struct {
	cfg      APIConfig
	b        Backend
	tap      *Tap
	gatherer prometheus.Gatherer
	logger   *slog.Logger
	limit    *obs.Limiter
	tails    atomic.Int32
}

// Prefix is where the API is mounted.
const Prefix = "/api/v1/"

// NewAPI returns the API over b (nil: the data endpoints answer 503), the
// live tail of tap (nil: /tail answers 503) and sluice's own metrics in
// gatherer (for /health).
func NewAPI(cfg APIConfig, b Backend, tap *Tap, gatherer prometheus.Gatherer, logger *slog.Logger) *API {
	d := DefaultAPI()
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = d.QueryTimeout
	}
	if cfg.MaxTailClients <= 0 {
		cfg.MaxTailClients = d.MaxTailClients
	}
	if cfg.TailRate <= 0 {
		cfg.TailRate = d.TailRate
	}
	if cfg.TailHeartbeat <= 0 {
		cfg.TailHeartbeat = d.TailHeartbeat
	}
	if cfg.TailBuffer <= 0 {
		cfg.TailBuffer = d.TailBuffer
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, b: b, tap: tap, gatherer: gatherer, logger: logger, limit: obs.NewLimiter(time.Minute)}
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; the API is read-only, use GET", r.Method))
		return
	}
	switch strings.TrimPrefix(r.URL.Path, Prefix) {
	case "meta":
		a.meta(w, r)
	case "health":
		a.health(w, r)
	case "series":
		a.series(w, r)
	case "top":
		a.top(w, r)
	case "events":
		a.events(w, r)
	case "tail":
		a.tail(w, r)
	default:
		writeError(w, http.StatusNotFound, "no such endpoint; use /api/v1/meta, series, top, events, tail or health")
	}
}

// writeJSON writes v with status. encoding/json escapes <, > and & in
// strings (also inside json.RawMessage), so no value from a document can
// close a script or open a tag if a page ever embeds the answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errorBody{Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// noBackend answers the data endpoints while sluice has no backend.
func (a *API) noBackend(w http.ResponseWriter) bool {
	if a.b != nil {
		return false
	}
	writeError(w, http.StatusServiceUnavailable, "no console backend: this sluice serves no stored data to the console yet (neither rollups nor Elasticsearch); meta, health and tail work")
	return true
}

// call runs f with the query timeout and maps its error onto the answer;
// it reports whether f succeeded.
func (a *API) call(w http.ResponseWriter, r *http.Request, endpoint string, f func(ctx context.Context) error) bool {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.QueryTimeout)
	defer cancel()
	err := f(ctx)
	if err == nil {
		return true
	}
	switch {
	case errors.Is(err, ErrBadRequest):
		writeError(w, http.StatusBadRequest, err.Error())
	case r.Context().Err() != nil:
		// The client went away: nobody reads the answer.
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	case errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("%s: the %s store did not answer within console.query_timeout (%s): the time range or filter is too expensive; narrow the range or the filter (%v)", endpoint, a.b.Name(), a.cfg.QueryTimeout, err))
	default:
		if ok, suppressed := a.limit.Allow(endpoint); ok {
			a.logger.Warn("console backend failed", "endpoint", endpoint, "backend", a.b.Name(), "err", err, "repeats_suppressed", suppressed)
		}
		writeError(w, http.StatusBadGateway, fmt.Sprintf("%s: the %s store failed: %v", endpoint, a.b.Name(), err))
	}
	return false
}

// queryJSON echoes the resolved query in answers.
type queryJSON struct {
	Kind   string `json:"kind"`
	From   string `json:"from"`
	To     string `json:"to"`
	Filter string `json:"filter"`
}

func echo(q Query) queryJSON {
	return queryJSON{Kind: q.Kind, From: q.From.Format(time.RFC3339Nano), To: q.To.Format(time.RFC3339Nano), Filter: q.Filter}
}

func (a *API) parseFailed(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	writeError(w, http.StatusBadRequest, err.Error())
	return true
}

// seriesJSON is the answer of /series.
type seriesJSON struct {
	Query  queryJSON   `json:"query"`
	Metric string      `json:"metric"`
	By     string      `json:"by"`
	Start  string      `json:"start"`
	Step   float64     `json:"step"` // seconds
	Keys   []string    `json:"keys"`
	Values [][]float64 `json:"values"`
	Other  []float64   `json:"other"`
	Total  []float64   `json:"total"`
	Approx bool        `json:"approx"`
}

func (a *API) series(w http.ResponseWriter, r *http.Request) {
	req, err := ParseSeries(r.URL.Query(), a.cfg.Now())
	if a.parseFailed(w, err) || a.noBackend(w) {
		return
	}
	var s Series
	if !a.call(w, r, "series", func(ctx context.Context) (err error) { s, err = a.b.Series(ctx, req); return }) {
		return
	}
	out := seriesJSON{Query: echo(req.Query), Metric: req.Metric, By: req.By, Start: s.Start.UTC().Format(time.RFC3339Nano),
		Step: s.Step.Seconds(), Keys: s.Keys, Values: s.Values, Other: s.Other, Total: s.Total, Approx: s.Approx}
	if out.Keys == nil {
		out.Keys = []string{}
	}
	if out.Values == nil {
		out.Values = [][]float64{}
	}
	if out.Total == nil {
		out.Total = []float64{}
	}
	writeJSON(w, http.StatusOK, out)
}

// topJSON is the answer of /top.
type topJSON struct {
	Query  queryJSON `json:"query"`
	Metric string    `json:"metric"`
	Dim    string    `json:"dim"`
	Top
}

func (a *API) top(w http.ResponseWriter, r *http.Request) {
	req, err := ParseTop(r.URL.Query(), a.cfg.Now())
	if a.parseFailed(w, err) || a.noBackend(w) {
		return
	}
	var t Top
	if !a.call(w, r, "top", func(ctx context.Context) (err error) { t, err = a.b.Top(ctx, req); return }) {
		return
	}
	if t.Rows == nil {
		t.Rows = []TopRow{}
	}
	writeJSON(w, http.StatusOK, topJSON{Query: echo(req.Query), Metric: req.Metric, Dim: req.Dim, Top: t})
}

// eventsJSON is the answer of /events.
type eventsJSON struct {
	Query     queryJSON         `json:"query"`
	Docs      []json.RawMessage `json:"docs"`
	Next      string            `json:"next"`
	Scanned   int               `json:"scanned"`
	Truncated bool              `json:"truncated"`
}

func (a *API) events(w http.ResponseWriter, r *http.Request) {
	req, err := ParseEvents(r.URL.Query(), a.cfg.Now())
	if a.parseFailed(w, err) || a.noBackend(w) {
		return
	}
	var ev Events
	if !a.call(w, r, "events", func(ctx context.Context) (err error) { ev, err = a.b.Events(ctx, req); return }) {
		return
	}
	docs := make([]json.RawMessage, 0, len(ev.Docs))
	for _, d := range ev.Docs {
		// A document that is not JSON would make the whole answer fail
		// to encode; show it as a string instead.
		if !json.Valid(d) {
			d, _ = json.Marshal(map[string]string{"_invalid": string(d)})
		}
		docs = append(docs, d)
	}
	writeJSON(w, http.StatusOK, eventsJSON{Query: echo(req.Query), Docs: docs, Next: ev.Next, Scanned: ev.Scanned, Truncated: ev.Truncated})
}

// kindMeta describes one kind in /meta.
type kindMeta struct {
	Metrics    []string        `json:"metrics"`
	Dimensions []dimensionMeta `json:"dimensions"`
	From       *string         `json:"from"` // nil: unknown or empty
	To         *string         `json:"to"`
	RangeError string          `json:"range_error,omitempty"`
}

type dimensionMeta struct {
	Field           string `json:"field"`
	HighCardinality bool   `json:"high_cardinality"`
}

type metaJSON struct {
	Backend string              `json:"backend"` // "" without one
	Version string              `json:"version"`
	Time    string              `json:"time"`
	Kinds   map[string]kindMeta `json:"kinds"`
	Limits  map[string]any      `json:"limits"`
}

func (a *API) meta(w http.ResponseWriter, r *http.Request) {
	if a.parseFailed(w, newParams(r.URL.Query()).err()) {
		return
	}
	out := metaJSON{Version: a.cfg.Version, Time: a.cfg.Now().UTC().Format(time.RFC3339Nano), Kinds: map[string]kindMeta{},
		Limits: map[string]any{
			"max_range_seconds": MaxRange.Seconds(), "default_range_seconds": DefaultRange.Seconds(),
			"max_filter_bytes": MaxFilterBytes, "query_timeout_seconds": a.cfg.QueryTimeout.Seconds(),
			"max_tail_clients": a.cfg.MaxTailClients, "tail_documents_per_second": a.cfg.TailRate,
		}}
	if a.b != nil {
		out.Backend = a.b.Name()
	}
	if a.tap == nil {
		out.Limits["max_tail_clients"] = 0 // the tail is off
	}
	for _, kind := range Kinds {
		km := kindMeta{Metrics: metrics[kind], Dimensions: []dimensionMeta{}}
		for _, d := range Dimensions {
			for _, k := range d.Kinds {
				if k == kind {
					km.Dimensions = append(km.Dimensions, dimensionMeta{Field: d.Field, HighCardinality: d.HighCardinality})
				}
			}
		}
		if a.b != nil {
			ctx, cancel := context.WithTimeout(r.Context(), a.cfg.QueryTimeout)
			from, to, err := a.b.Range(ctx, kind)
			cancel()
			if err != nil {
				km.RangeError = err.Error()
			} else if !from.IsZero() || !to.IsZero() {
				f, t := from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano)
				km.From, km.To = &f, &t
			}
		}
		out.Kinds[kind] = km
	}
	writeJSON(w, http.StatusOK, out)
}

// htmlSafe returns the JSON document doc with <, > and & in its strings
// written as \u003c, \u003e and \u0026, as encoding/json writes them.
func htmlSafe(doc []byte) []byte {
	if bytes.IndexAny(doc, "<>&\u2028\u2029") < 0 {
		return doc
	}
	var buf bytes.Buffer
	json.HTMLEscape(&buf, doc)
	return buf.Bytes()
}
