package file

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/obs"
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
	diskFull    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, output string) (*metrics, error) {
	events, err := obs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_output_events_total",
		Help: "Events written by an output.",
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	bytes, err := obs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_output_bytes_total",
		Help: "Bytes written by an output.",
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	writeErrors, err := obs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_output_write_errors_total",
		Help: "Failed writes of an output.",
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	fsync, err := obs.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_output_fsync_duration_seconds",
		Help:    "Time an output spent in fsync.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	openFiles, err := obs.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_output_open_files",
		Help: "Files an output holds open.",
	}, []string{"output"}))
	if err != nil {
		return nil, err
	}
	diskFull, err := obs.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_output_disk_full_errors_total",
		Help: "Writes, fsyncs or file creations of an output that failed for want of disk space or quota (ENOSPC, EDQUOT).",
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
		diskFull:    diskFull.WithLabelValues(output),
	}, nil
}
