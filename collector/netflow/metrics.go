package netflow

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	templates       prometheus.Gauge
	exporters       prometheus.Gauge
	tmplAdd         prometheus.Counter
	tmplUpdate      prometheus.Counter
	tmplWithdraw    prometheus.Counter
	tmplRefused     prometheus.Counter
	pendingSets     prometheus.Gauge
	pendingExpired  prometheus.Counter
	pendingOverflow prometheus.Counter
	pendingShutdown prometheus.Counter
	recordsV5       prometheus.Counter
	recordsV9       prometheus.Counter
	recordsIPFIX    prometheus.Counter
	optionsRecords  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	templates := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sluice_netflow_templates",
		Help: "Templates (data and options) currently known, across exporters.",
	})
	exporters := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sluice_netflow_exporters",
		Help: "Exporter streams (address, source ID or observation domain, version) with template state.",
	})
	changes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_netflow_template_changes_total",
		Help: "Template changes by action: add, update (re-definition), withdraw, refused (invalid or over the limit).",
	}, []string{"action"})
	pending := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sluice_netflow_pending_sets",
		Help: "Data sets held while waiting for their template.",
	})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_netflow_pending_dropped_total",
		Help: "Held data sets dropped before their template arrived, by reason: expired, overflow, shutdown.",
	}, []string{"reason"})
	records := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_netflow_records_total",
		Help: "Flow records decoded into events, by NetFlow version (10 = IPFIX).",
	}, []string{"version"})
	options := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_netflow_options_records_total",
		Help: "Options data records applied to exporter state (sampling, system init time); they produce no event.",
	})
	m := &metrics{
		templates:       templates,
		exporters:       exporters,
		tmplAdd:         changes.WithLabelValues("add"),
		tmplUpdate:      changes.WithLabelValues("update"),
		tmplWithdraw:    changes.WithLabelValues("withdraw"),
		tmplRefused:     changes.WithLabelValues("refused"),
		pendingSets:     pending,
		pendingExpired:  dropped.WithLabelValues("expired"),
		pendingOverflow: dropped.WithLabelValues("overflow"),
		pendingShutdown: dropped.WithLabelValues("shutdown"),
		recordsV5:       records.WithLabelValues("5"),
		recordsV9:       records.WithLabelValues("9"),
		recordsIPFIX:    records.WithLabelValues("10"),
		optionsRecords:  options,
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{templates, exporters, changes, pending, dropped, records, options} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
