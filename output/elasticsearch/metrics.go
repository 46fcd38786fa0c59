package elasticsearch

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/obs"
)

// maxReasonLabels caps the distinct failure reasons (Elasticsearch error
// types) kept as label values; further ones are counted as "other".
const maxReasonLabels = 64

type metrics struct {
	indexed     prometheus.Counter // sluice_output_events_total{output="elasticsearch"}
	bytes       prometheus.Counter // sluice_output_bytes_total{output="elasticsearch"}
	writeErrors prometheus.Counter

	duplicates       prometheus.Counter
	requests         *prometheus.CounterVec // result: ok, item_errors, retriable, failed, transport_error
	retries          *prometheus.CounterVec // reason: 429, 503, ...
	itemFailures     *prometheus.CounterVec // reason: Elasticsearch error type
	deadLetter       prometheus.Counter
	deadLetterLost   prometheus.Counter
	spooled          prometheus.Counter
	replayed         prometheus.Counter
	spoolDropped     *prometheus.CounterVec // reason: drop_oldest, drop_newest, disk_full, shutdown
	damagedDocs      prometheus.Counter
	damagedSegments  prometheus.Counter
	spoolWriteErrors prometheus.Counter
	backpressure     prometheus.Counter
	latency          prometheus.Histogram
	templates        *prometheus.CounterVec // result: installed, unchanged, failed

	mu      sync.Mutex
	reasons map[string]bool
}

func newMetrics(reg prometheus.Registerer, sp func() (bytes, docs int64), inflight func() int64,
	stalled func() (bool, time.Duration), lastProgress func() int64) (*metrics, error) {
	const out = "elasticsearch"
	m := &metrics{reasons: map[string]bool{}}
	var err error
	shared := func(name, help string) prometheus.Counter {
		if err != nil {
			return nil
		}
		var v *prometheus.CounterVec
		v, err = obs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"output"}))
		if err != nil {
			return nil
		}
		return v.WithLabelValues(out)
	}
	// Names and help must equal the file output's (output/file/metrics.go).
	m.indexed = shared("sluice_output_events_total", "Events written by an output.")
	m.bytes = shared("sluice_output_bytes_total", "Bytes written by an output.")
	m.writeErrors = shared("sluice_output_write_errors_total", "Failed writes of an output.")
	if err != nil {
		return nil, err
	}
	const ns = "sluice_output_elasticsearch_"
	m.duplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "duplicates_total",
		Help: "Documents Elasticsearch already had (409 on create after a retry or replay); counted as delivered."})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "bulk_requests_total",
		Help: "Bulk requests by result: ok, item_errors (some items failed), retriable (whole request 429/5xx), failed (other status), transport_error."}, []string{"result"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "retried_documents_total",
		Help: "Documents sent again after a retriable failure, by status (429, 502, 503, 504) or connection."}, []string{"reason"})
	m.itemFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "item_failures_total",
		Help: "Bulk items that failed, by Elasticsearch error type (retriable ones included)."}, []string{"reason"})
	m.deadLetter = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "dead_letter_documents_total",
		Help: "Documents Elasticsearch refused for good (mapping conflicts, 400s), written to the dead-letter file."})
	m.deadLetterLost = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "dead_letter_dropped_total",
		Help: "Refused documents that could not be written to the dead-letter file (full or failing); they are logged."})
	m.spooled = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "spooled_documents_total",
		Help: "Documents written to the disk spool while Elasticsearch was unreachable or rejecting."})
	m.replayed = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "replayed_documents_total",
		Help: "Spooled documents delivered (indexed, duplicate or dead-lettered) by the replayer."})
	m.spoolDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "spool_dropped_documents_total",
		Help: "Documents lost because the spool was full (drop_oldest, drop_newest), the disk was full and memory too (disk_full), or shutdown found it full."}, []string{"reason"})
	m.damagedDocs = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "spool_damaged_documents_total",
		Help: "Documents lost to damaged spool segments (damaged spans go to the dead-letter file; empty, oversized or unreadable segments count what their name claims)."})
	m.damagedSegments = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "spool_damaged_segments_total",
		Help: "Spool segments found damaged, empty, oversized or unreadable."})
	m.spoolWriteErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "spool_write_errors_total",
		Help: "Failed writes to the spool (disk full, I/O errors); the open segment is then kept in memory until delivered."})
	m.backpressure = prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "backpressure_seconds_total",
		Help: "Time the output made the pipeline wait because Elasticsearch, answering, was slower than the input (spool.when_slow: backpressure)."})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "bulk_duration_seconds",
		Help: "Bulk request latency, successful or not.", Buckets: prometheus.ExponentialBuckets(0.002, 2.5, 11)})
	m.templates = prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "template_installs_total",
		Help: "Index and component template checks at start, by result."}, []string{"result"})
	for _, r := range []string{"ok", "item_errors", "retriable", "failed", "transport_error"} {
		m.requests.WithLabelValues(r)
	}
	for _, r := range []string{DropOldest, DropNewest, "disk_full", "shutdown"} {
		m.spoolDropped.WithLabelValues(r)
	}
	cs := []prometheus.Collector{m.duplicates, m.requests, m.retries, m.itemFailures, m.deadLetter, m.deadLetterLost,
		m.spooled, m.replayed, m.spoolDropped, m.latency, m.templates, m.damagedDocs, m.damagedSegments, m.spoolWriteErrors, m.backpressure,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "stalled",
			Help: "1 while segments wait in the spool and nothing was delivered for spool.stall_timeout, else 0."},
			func() float64 {
				if s, _ := stalled(); s {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "last_progress_timestamp_seconds",
			Help: "When documents were last delivered (or the spool's queue last became non-empty), Unix seconds."},
			func() float64 { return float64(lastProgress()) / 1e9 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "spool_bytes", Help: "Bytes in the disk spool."},
			func() float64 { b, _ := sp(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "spool_documents", Help: "Documents in the disk spool (the open segment included)."},
			func() float64 { _, d := sp(); return float64(d) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "inflight_documents", Help: "Documents in bulk requests being sent or retried."},
			func() float64 { return float64(inflight()) }),
	}
	if reg != nil {
		for _, c := range cs {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// reason bounds the label values of Elasticsearch error types.
func (m *metrics) reason(r string) string {
	if r == "" {
		return "unknown"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reasons[r] {
		return r
	}
	if len(m.reasons) >= maxReasonLabels {
		return "other"
	}
	m.reasons[r] = true
	return r
}
