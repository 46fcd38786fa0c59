package file

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// The output metric families are shared by every output and told apart by
// the output label, so each is registered once and reused when another
// output registered it first (same name, help and labels).

type metrics struct {
	events      prometheus.Counter
	bytes       prometheus.Counter
	writeErrors prometheus.Counter
	fsync       prometheus.Observer
	openFiles   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, output string) (*metrics, error) {
	events, err := registerVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_output_events_total",
		Help: "Events written by an output.",
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	bytes, err := registerVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_output_bytes_total",
		Help: "Bytes written by an output.",
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	writeErrors, err := registerVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_output_write_errors_total",
		Help: "Failed writes of an output.",
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	fsync, err := registerVec(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_output_fsync_duration_seconds",
		Help:    "Time an output spent in fsync.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	openFiles, err := registerVec(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_output_open_files",
		Help: "Files an output holds open.",
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	return &metrics{
		events:      events.WithLabelValues(output),
		bytes:       bytes.WithLabelValues(output),
		writeErrors: writeErrors.WithLabelValues(output),
		fsync:       fsync.WithLabelValues(output),
		openFiles:   openFiles.WithLabelValues(output),
	}, nil
}

// registerVec registers c, or returns the collector of the same description
// that is already registered.
func registerVec[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
