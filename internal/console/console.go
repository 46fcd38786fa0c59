// Package console is the contract between sluice's web console (its JSON
// API, /api/v1, and the pages that call it) and the stores that answer it:
// the per-minute rollups sluice keeps in data_dir (output/rollup) and the
// daily indices in Elasticsearch (output/elasticsearch). Both backends
// give the same answers to the same requests (within the rollups'
// documented approximation) and are tested against the same expectations.
package console

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

// FilterOptions is how every backend and the live tail read a filter:
// clauses written side by side ("event.action:deny destination.port:22")
// must all hold, as a filter narrows (Elasticsearch's query_string would
// join them with OR).
var FilterOptions = query.Options{DefaultOperator: "AND"}

// ParseFilter compiles a console filter (query-string syntax).
func ParseFilter(text string) (query.Matcher, error) {
	return query.ParseQueryString(text, FilterOptions)
}

// Document kinds a request reads. KindDNS is every DNS event, whatever
// its source: passive capture, a Beat (Packetbeat, Sysmon event 22) or a
// resolver's query log over syslog; it is any document with a
// dns.question.name (a resolver-log line is then in both syslog and dns).
const (
	KindFlows  = "flows"
	KindSyslog = "syslog"
	KindDNS    = "dns"
)

// Kinds lists the kinds, in the order /api/v1/meta shows them.
var Kinds = []string{KindFlows, KindSyslog, KindDNS}

// IsDNS reports whether e is an event of KindDNS: a captured DNS
// transaction, or a syslog or Beats event with a dns.question.name.
func IsDNS(e *event.Event) bool {
	switch e.Kind {
	case event.KindDNS:
		return true
	case event.KindSyslog, event.KindBeats:
		return e.DNSQuestion()
	}
	return false
}

// ScoreBandField is the field that groups DNS events by
// sluice.dns.score: "0-29", "30-49", "50-69" or "70+" (enrich/dnscheck
// writes it with the score).
const ScoreBandField = "sluice.dns.score_band"

// Metrics a request sums. Bytes and packets exist for flows (network.bytes,
// network.packets, scaled by sampling as the documents already are);
// Flows counts flow documents, Events syslog documents, Queries DNS
// documents (one a transaction or resolver-log line). Bytes of DNS is
// source.bytes + destination.bytes (the query's and the response's DNS
// message sizes, known for captured DNS and Packetbeat only).
const (
	MetricBytes   = "bytes"
	MetricPackets = "packets"
	MetricFlows   = "flows"
	MetricEvents  = "events"
	MetricQueries = "queries"
)

// Query selects documents: one kind, a time range [From, To) on
// @timestamp, and a filter in the query-string syntax of internal/query
// (field:value, AND/OR/NOT, ranges, wildcards, CIDRs for address fields).
// An empty filter selects every document of the kind.
type Query struct {
	Kind     string
	From, To time.Time
	Filter   string
}

// SeriesRequest asks for Metric over time, split by the values of one
// dimension (By; "" for the total only).
type SeriesRequest struct {
	Query
	Metric string
	By     string
	// Limit is how many values of By get a series of their own (the
	// largest over the whole range, default 10, at most 50); the rest is
	// Other.
	Limit int
	// Step is the bucket width; 0 lets the backend pick one giving about
	// 60-300 buckets (a whole number of minutes, at least one).
	Step time.Duration
}

// Series is the answer of a SeriesRequest. Every slice of values has one
// entry per bucket: bucket j covers [Start+j*Step, Start+(j+1)*Step). A
// value is the sum of the metric over the bucket (not a rate: the console
// divides by Step for bits/s and the like).
type Series struct {
	Start  time.Time
	Step   time.Duration
	Keys   []string    // the values of By with a series, largest first
	Values [][]float64 // Values[i] is the series of Keys[i]
	Other  []float64   // everything else (nil when By is "")
	Total  []float64   // every selected document
	// Approx is true when some value may be too low because the store
	// kept only the largest values (the rollups' top-K); Total is exact.
	Approx bool
}

// TopRequest asks for the values of one dimension with the largest
// Metric.
type TopRequest struct {
	Query
	Metric string
	Dim    string
	Limit  int // default 10, at most 100
}

// TopRow is one value of a dimension. Labels carry what the console shows
// beside it when the store has it: for an address its country
// ("country") and AS ("as"), for an AS number its organisation ("org"),
// for a DNS name or registered domain the DNS checks' reasons
// ("reasons", sluice.dns.reasons of one of its events).
type TopRow struct {
	Key    string            `json:"key"`
	Value  float64           `json:"value"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Top is the answer of a TopRequest: the rows, largest first, the rest,
// and the total of every selected document (Other = Total - sum of Rows).
type Top struct {
	Rows   []TopRow `json:"rows"`
	Other  float64  `json:"other"`
	Total  float64  `json:"total"`
	Approx bool     `json:"approx"`
}

// EventsRequest asks for the newest documents that match, before the
// cursor Before ("" for the newest).
type EventsRequest struct {
	Query
	Limit  int // default 50, at most 500
	Before string
}

// Events holds the documents found, newest first, as stored (the JSON of
// the NDJSON line or of the Elasticsearch _source, with "_index" and, from
// Elasticsearch, "_id" added), Next the cursor of the page after
// ("" when there is none). Scanned is how many documents were read to find
// them; Truncated is true when the scan stopped at its bound before the
// range was exhausted (the page may then be short).
type Events struct {
	Docs      []json.RawMessage
	Next      string
	Scanned   int
	Truncated bool
}

// Backend answers the console's requests. Every method honours ctx (a
// cancelled request stops its scan) and returns an error wrapping
// ErrBadRequest for a request the user can fix (unknown dimension or
// metric, a filter that does not parse or that the backend cannot apply,
// From not before To), ErrTimeout when the store did not answer in time,
// and other errors for a store that failed.
type Backend interface {
	// Name is "rollups" or "elasticsearch".
	Name() string
	// Range is the time span the store holds documents of kind for.
	Range(ctx context.Context, kind string) (from, to time.Time, err error)
	Series(ctx context.Context, r SeriesRequest) (Series, error)
	Top(ctx context.Context, r TopRequest) (Top, error)
	Events(ctx context.Context, r EventsRequest) (Events, error)
}

var (
	// ErrBadRequest marks an error in the request itself; its message
	// says what to change.
	ErrBadRequest = errors.New("bad request")
	// ErrTimeout marks a store that did not answer in time.
	ErrTimeout = errors.New("timed out")
)

// Dimension is a field the console groups by (and filters on).
type Dimension struct {
	Field string   // the document field, e.g. "destination.port"
	Kinds []string // the kinds that have it
	// HighCardinality marks fields with too many values to keep all of
	// them per minute (addresses, URLs): the rollups keep the largest.
	HighCardinality bool
}

// Dimensions are the fields the console groups by, in both backends.
var Dimensions = []Dimension{
	// flows (and the firewall views of syslog, whose parsers set them);
	// for DNS the client and the server (resolver)
	{Field: "source.ip", Kinds: all, HighCardinality: true},
	{Field: "destination.ip", Kinds: all, HighCardinality: true},
	{Field: "destination.port", Kinds: both},
	{Field: "network.transport", Kinds: both},
	{Field: "network.direction", Kinds: both},
	{Field: "source.geo.country_iso_code", Kinds: both},
	{Field: "destination.geo.country_iso_code", Kinds: both},
	{Field: "source.as.number", Kinds: both},
	{Field: "destination.as.number", Kinds: both},
	{Field: "observer.ip", Kinds: both}, // the exporter or syslog sender
	{Field: "netflow.ingress_interface", Kinds: flowsOnly},
	{Field: "netflow.egress_interface", Kinds: flowsOnly},
	// firewall and syslog
	{Field: "event.action", Kinds: both},
	{Field: "event.outcome", Kinds: syslogOnly},
	{Field: "event.dataset", Kinds: syslogDNS}, // for DNS its source: sluice.dns, dnsmasq.query, dns (Packetbeat), ...
	{Field: "host.hostname", Kinds: syslogOnly},
	{Field: "process.name", Kinds: syslogDNS}, // for DNS the asking program (Sysmon event 22)
	{Field: "log.syslog.severity.name", Kinds: syslogOnly},
	{Field: "tags", Kinds: syslogOnly}, // parse failures are tagged
	// WAF (F5 ASM)
	{Field: "f5.asm.attack_type", Kinds: syslogOnly},
	{Field: "f5.asm.violation_rating", Kinds: syslogOnly},
	{Field: "f5.asm.request_status", Kinds: syslogOnly},
	{Field: "f5.asm.sig_names", Kinds: syslogOnly, HighCardinality: true},
	{Field: "url.path", Kinds: syslogOnly, HighCardinality: true},
	// DNS (enrich/dnscheck adds the registered domain, the score and its
	// reasons, the blocklist hit)
	{Field: "dns.question.registered_domain", Kinds: dnsOnly, HighCardinality: true},
	{Field: "dns.question.name", Kinds: dnsOnly, HighCardinality: true},
	{Field: "dns.question.type", Kinds: dnsOnly},
	{Field: "dns.response_code", Kinds: dnsOnly},
	{Field: ScoreBandField, Kinds: dnsOnly},
	{Field: "sluice.dns.reasons", Kinds: dnsOnly},
	{Field: "threat.enrichments.indicator.provider", Kinds: dnsOnly}, // the blocklist that matched
}

var (
	both       = []string{KindFlows, KindSyslog}
	all        = []string{KindFlows, KindSyslog, KindDNS}
	flowsOnly  = []string{KindFlows}
	syslogOnly = []string{KindSyslog}
	syslogDNS  = []string{KindSyslog, KindDNS}
	dnsOnly    = []string{KindDNS}
)

// DimensionOf returns the dimension of field, if the console has it.
func DimensionOf(field string) (Dimension, bool) {
	for _, d := range Dimensions {
		if d.Field == field {
			return d, true
		}
	}
	return Dimension{}, false
}
