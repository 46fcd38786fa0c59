package retention

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are sluice_retention_*; results and targets are bounded sets.
type metrics struct {
	runs        *prometheus.CounterVec // result: ok, failed
	actions     *prometheus.CounterVec // target, action, result: ok, failed
	skipped     *prometheus.CounterVec // target, reason: unparseable, recently_written
	lastSuccess prometheus.Gauge
	duration    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_retention_runs_total",
			Help: "Retention runs by result (failed: some action or listing failed).",
		}, []string{"result"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_retention_actions_total",
			Help: "Indices and files acted on, by target, action and result.",
		}, []string{"target", "action", "result"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_retention_skipped_total",
			Help: "Matching indices and files left alone, by reason (unparseable: no date in the name; recently_written: not gzipped yet).",
		}, []string{"target", "reason"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_retention_last_success_timestamp_seconds",
			Help: "When the last retention run without failures ended (Unix time; 0: none yet).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sluice_retention_run_duration_seconds",
			Help:    "Duration of retention runs.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600},
		}),
	}
	for _, r := range []string{"ok", "failed"} {
		m.runs.WithLabelValues(r)
		for _, a := range []string{ActionDelete, ActionClose, ActionForcemerge} {
			m.actions.WithLabelValues(TargetElasticsearch, a, r)
		}
		for _, a := range []string{ActionDelete, ActionGzip} {
			m.actions.WithLabelValues(TargetFiles, a, r)
		}
	}
	for _, t := range []string{TargetElasticsearch, TargetFiles} {
		m.skipped.WithLabelValues(t, "unparseable")
	}
	m.skipped.WithLabelValues(TargetFiles, "recently_written")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.runs, m.actions, m.skipped, m.lastSuccess, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
