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

	tmplEvictExpired      prometheus.Counter
	tmplEvictPerExporter  prometheus.Counter
	tmplEvictTotal        prometheus.Counter
	tmplEvictExporterGone prometheus.Counter
	exporterEvictIdle     prometheus.Counter
	exporterEvictLimit    prometheus.Counter
	pendingEvicted        prometheus.Counter
	notAllowed            prometheus.Counter
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
		Help: "Template changes by action: add, update (re-definition), withdraw, refused (invalid). Evictions are counted in sluice_netflow_template_evictions_total.",
	}, []string{"action"})
	pending := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sluice_netflow_pending_sets",
		Help: "Data sets held while waiting for their template.",
	})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_netflow_pending_dropped_total",
		Help: "Held data sets dropped before their template arrived, by reason: expired, overflow, shutdown, evicted (their exporter was evicted or expired).",
	}, []string{"reason"})
	records := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_netflow_records_total",
		Help: "Flow records decoded into events, by NetFlow version (10 = IPFIX).",
	}, []string{"version"})
	options := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_netflow_options_records_total",
		Help: "Options data records applied to exporter state (sampling, system init time); they produce no event.",
	})
	tmplEvict := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_netflow_template_evictions_total",
		Help: "Templates removed without a withdrawal, by reason: max_age (neither announced nor used for netflow.templates.max_age), max_per_exporter and max_total (a full table evicted its least recently used), exporter_removed (their exporter was evicted or expired).",
	}, []string{"reason"})
	exporterEvict := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_netflow_exporter_evictions_total",
		Help: "Exporter streams removed with their templates and sampling state, by reason: exporter_max_idle (not heard from for netflow.templates.exporter_max_idle), max_exporters (a full table evicted the least recently seen).",
	}, []string{"reason"})
	packetsDropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_netflow_packets_dropped_total",
		Help: "Datagrams dropped before decoding, by reason: exporter_not_allowed (sender not in netflow.allowed_exporters).",
	}, []string{"reason"})
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

		tmplEvictExpired:      tmplEvict.WithLabelValues("max_age"),
		tmplEvictPerExporter:  tmplEvict.WithLabelValues("max_per_exporter"),
		tmplEvictTotal:        tmplEvict.WithLabelValues("max_total"),
		tmplEvictExporterGone: tmplEvict.WithLabelValues("exporter_removed"),
		exporterEvictIdle:     exporterEvict.WithLabelValues("exporter_max_idle"),
		exporterEvictLimit:    exporterEvict.WithLabelValues("max_exporters"),
		pendingEvicted:        dropped.WithLabelValues("evicted"),
		notAllowed:            packetsDropped.WithLabelValues("exporter_not_allowed"),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{templates, exporters, changes, pending, dropped, records, options, tmplEvict, exporterEvict, packetsDropped} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
