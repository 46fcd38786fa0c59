package dnscheck

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/obs"
)

type metrics struct {
	events      prometheus.Counter
	flows       prometheus.Counter
	flagged     [numReasons]prometheus.Counter
	listHits    *prometheus.CounterVec
	listEntries *prometheus.GaugeVec
	reloads     *prometheus.CounterVec
	evictions   *prometheus.CounterVec
	entries     *prometheus.GaugeVec
	saves       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, lists []Blocklist) (*metrics, error) {
	m := &metrics{}
	var err error
	reg1 := func(c prometheus.Collector) {
		if err == nil {
			_, err = obs.Register(reg, c)
		}
	}
	m.events = prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_dnscheck_events_total", Help: "DNS events (with dns.question.name) checked."})
	m.flows = prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_dnscheck_unsanctioned_flows_total", Help: "Flows to port 53/853 of servers outside dns.allowed_resolvers."})
	flagged := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_dnscheck_flagged_total", Help: "DNS events flagged, by reason (an event counts once per reason)."}, []string{"reason"})
	for r := range numReasons {
		m.flagged[r] = flagged.WithLabelValues(reasonNames[r])
	}
	m.listHits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_dnscheck_blocklist_hits_total", Help: "DNS events matching a blocklist, by list."}, []string{"list"})
	m.listEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_dnscheck_blocklist_entries", Help: "Entries read from each blocklist."}, []string{"list"})
	for _, l := range lists {
		m.listHits.WithLabelValues(l.Name)
		m.listEntries.WithLabelValues(l.Name)
	}
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_dnscheck_blocklist_reloads_total", Help: "Blocklist reloads after a file changed, by result."}, []string{"result"})
	m.evictions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_dnscheck_state_evictions_total", Help: "Entries evicted from the bounded DNS check state, by table (nxdomain, tunnel: per-client windows; domains: the seen set)."}, []string{"table"})
	m.entries = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_dnscheck_state_entries", Help: "Entries of the DNS check state (domains: the seen set, updated when saved)."}, []string{"table"})
	m.saves = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_dnscheck_state_saves_total", Help: "Writes of the seen-domains file, by result."}, []string{"result"})
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
		m.saves.WithLabelValues(r)
	}
	for _, t := range []string{"nxdomain", "tunnel", "domains"} {
		m.evictions.WithLabelValues(t)
	}
	m.entries.WithLabelValues("domains")
	for _, c := range []prometheus.Collector{m.events, m.flows, flagged, m.listHits, m.listEntries, m.reloads, m.evictions, m.entries, m.saves} {
		reg1(c)
	}
	return m, err
}
