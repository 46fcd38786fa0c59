package geoip

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/obs"
)

type metrics struct {
	up, build *prometheus.GaugeVec
	// reloads[kind][0] counts loads that worked, [1] those that failed.
	reloads      [numKinds][2]prometheus.Counter
	hits, misses prometheus.Counter
	lookups      [numResults]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, configured []kind, entries func() float64) (*metrics, error) {
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_geoip_database_up",
		Help: "1 when a verified database of this kind (country, city, asn) is in use, 0 when it is configured but none could be loaded.",
	}, []string{"db"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_geoip_database_build_timestamp_seconds",
		Help: "Build time (metadata build_epoch) of the database in use, by kind: shows stale databases.",
	}, []string{"db"})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_geoip_database_loads_total",
		Help: "Database loads (at start, on file replacement, on SIGHUP), by kind and result (ok, error).",
	}, []string{"db", "result"})
	hits := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_geoip_cache_hits_total",
		Help: "Lookups answered from the address cache.",
	})
	misses := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_geoip_cache_misses_total",
		Help: "Lookups that went to the databases.",
	})
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_geoip_lookups_total",
		Help: "Address lookups by result: found, not_found, skipped (private, reserved, ... ranges), no_database, error.",
	}, []string{"result"})
	entriesG := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_geoip_cache_entries",
		Help: "Addresses in the lookup cache (emptied when a database is reloaded).",
	}, entries)
	m := &metrics{}
	var err error
	if m.up, err = obs.Register(reg, up); err != nil {
		return nil, err
	}
	if m.build, err = obs.Register(reg, build); err != nil {
		return nil, err
	}
	if reloads, err = obs.Register(reg, reloads); err != nil {
		return nil, err
	}
	if m.hits, err = obs.Register(reg, hits); err != nil {
		return nil, err
	}
	if m.misses, err = obs.Register(reg, misses); err != nil {
		return nil, err
	}
	if lookups, err = obs.Register(reg, lookups); err != nil {
		return nil, err
	}
	if _, err = obs.Register(reg, entriesG); err != nil {
		return nil, err
	}
	for k := range numKinds {
		m.reloads[k][0] = reloads.WithLabelValues(k.label(), "ok")
		m.reloads[k][1] = reloads.WithLabelValues(k.label(), "error")
	}
	for _, k := range configured {
		m.up.WithLabelValues(k.label()).Set(0)
	}
	for r := range numResults {
		m.lookups[r] = lookups.WithLabelValues(r.String())
	}
	return m, nil
}
