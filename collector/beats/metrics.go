package beats

import "github.com/prometheus/client_golang/prometheus"

// metrics of the Beats input.
type metrics struct {
	accepted, rejected prometheus.Counter
	open               prometheus.GaugeFunc
	closed             *prometheus.CounterVec // reason: eof, framing, timeout, error
	batches            prometheus.Counter
	events             *prometheus.CounterVec // beat
	decodeErrors       prometheus.Counter
	unacked            prometheus.Counter
}

// Close reasons of a connection (sluice_beats_connections_closed_total{reason}).
var closeReasons = [...]string{"eof", "framing", "timeout", "error"}

func newMetrics(reg prometheus.Registerer, open func() float64) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_beats_connections_accepted_total",
			Help: "Beats (lumberjack) connections admitted."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_beats_connections_rejected_total",
			Help: "Beats connections closed at once because beats.max_connections was reached."}),
		open: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_beats_connections_open",
			Help: "Beats connections open now."}, open),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_beats_connections_closed_total",
			Help: "Beats connections ended, by reason (eof: the Beat or sluice closed it; framing: a lumberjack framing violation or a declared size above the limits; timeout: idle or a batch too slow; error: TLS or network)."}, []string{"reason"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_beats_batches_total",
			Help: "Lumberjack batches (windows) accepted into the pipeline and acknowledged."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_beats_events_total",
			Help: "Beat documents accepted into the pipeline, by Beat type (@metadata.beat or agent.type)."}, []string{"beat"}),
		decodeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_beats_decode_errors_total",
			Help: "Beat documents skipped because they were not a JSON object (their batch is still acknowledged)."}),
		unacked: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_beats_batches_unacked_total",
			Help: "Lumberjack batches left unacknowledged because sluice was stopping (the Beat sends them again)."}),
	}
	reg.MustRegister(m.accepted, m.rejected, m.open, m.closed, m.batches, m.events, m.decodeErrors, m.unacked)
	for _, r := range closeReasons {
		m.closed.WithLabelValues(r)
	}
	for _, b := range beatNames {
		m.events.WithLabelValues(b)
	}
	return m
}
