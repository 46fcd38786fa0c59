package alerter

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/obs"
)

type metrics struct {
	sent, failed, retries *prometheus.CounterVec
	dropped               prometheus.Counter
	duration              *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, depth, pending func() float64) *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_alert_sent_total", Help: "Alerts an alerter delivered, by rule and alerter.",
		}, []string{"rule", "alerter"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_alert_failed_total", Help: "Alerts an alerter gave up on (a permanent error, or alert_time_limit passed), by rule and alerter.",
		}, []string{"rule", "alerter"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_alert_retries_total", Help: "Retries scheduled after a failed send, by rule and alerter.",
		}, []string{"rule", "alerter"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_alert_queue_dropped_total", Help: "Alerts refused because the alert queue was full (or the sender stopped).",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_alert_send_duration_seconds", Help: "Time of one send attempt, by alerter.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"alerter"}),
	}
	depthGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_alert_queue_depth", Help: "Alerts waiting in the alert queue for a worker.",
	}, depth)
	pendingGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_alert_retry_pending", Help: "Sends waiting for their retry time.",
	}, pending)
	for kind := range builders {
		m.duration.WithLabelValues(kind)
	}
	m.sent, _ = obs.Register(reg, m.sent)
	m.failed, _ = obs.Register(reg, m.failed)
	m.retries, _ = obs.Register(reg, m.retries)
	m.dropped, _ = obs.Register(reg, m.dropped)
	m.duration, _ = obs.Register(reg, m.duration)
	_, _ = obs.Register(reg, depthGauge)
	_, _ = obs.Register(reg, pendingGauge)
	return m
}

// precreate makes a rule's series exist at 0.
func (m *metrics) precreate(rule, kind string) {
	m.sent.WithLabelValues(rule, kind)
	m.failed.WithLabelValues(rule, kind)
	m.retries.WithLabelValues(rule, kind)
}
