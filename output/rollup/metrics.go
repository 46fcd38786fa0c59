package rollup

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	events       prometheus.Counter
	outOfRange   prometheus.Counter
	blocks       *prometheus.CounterVec
	writeErrors  prometheus.Counter
	badFiles     prometheus.Counter
	removedFiles *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, diskBytes func() float64, sampleRatio func(kind int) float64) *metrics {
	m := &metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_rollup_events_total",
			Help: "Events folded into the console's rollups, once per kind they count in (a resolver's query-log line is a syslog and a DNS event: twice).",
		}),
		outOfRange: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_rollup_events_skipped_total",
			Help: "Events left out of the rollups: their minute was older than console.minute_retention, more than a minute ahead, or one of too many open minutes (they are still written to the outputs).",
		}),
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_rollup_blocks_written_total",
			Help: "Rollup blocks appended to data_dir/console, by resolution.",
		}, []string{"resolution"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_rollup_write_errors_total",
			Help: "Rollup blocks that could not be written (their numbers stay in memory until restart).",
		}),
		badFiles: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_rollup_bad_files_total",
			Help: "Rollup files found corrupt or not regular files at start and moved aside (*.bad-<time>).",
		}),
		removedFiles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_rollup_files_removed_total",
			Help: "Rollup files removed, by reason (age: console.retention/minute_retention; size: console.max_bytes).",
		}, []string{"reason"}),
	}
	for _, r := range []string{"1m", "1h"} {
		m.blocks.WithLabelValues(r)
	}
	for _, r := range []string{"age", "size"} {
		m.removedFiles.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.events, m.outOfRange, m.blocks, m.writeErrors, m.badFiles, m.removedFiles,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sluice_rollup_disk_bytes",
				Help: "Bytes of rollup files in data_dir/console.",
			}, diskBytes))
		for ki, kn := range kindNames {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "sluice_rollup_topk_sample_ratio",
				Help:        "1 in how many events of a kind feeds the console's top-K tables now: 1 while the rate is at most console.exact_rate per second, about rate/exact_rate above it (totals count every event).",
				ConstLabels: prometheus.Labels{"kind": kn},
			}, func() float64 { return sampleRatio(ki) }))
		}
	}
	return m
}
