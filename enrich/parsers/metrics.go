package parsers

import (
	"errors"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the stage's counters. Label values come from the parser
// files (parser names, datasets), so they are bounded; every series is
// created at start, at 0.
type metrics struct {
	parsed   *prometheus.CounterVec
	failures *prometheus.CounterVec
	// counters are indexed by rule.ctr, rule.ctrApp and parser.failCtr;
	// Process adds its per-batch counts to them.
	counters []prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, parsers []*parser) (*metrics, error) {
	m := &metrics{
		parsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_enrich_parsed_total",
			Help: "Syslog events parsed by a vendor parser, by parser and dataset.",
		}, []string{"parser", "dataset"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_enrich_parse_failures_total",
			Help: "Syslog events routed or detected to a parser that none of its rules parsed (tagged _grokparsefailure).",
		}, []string{"parser"}),
	}
	if reg != nil {
		var err error
		if m.parsed, err = register(reg, m.parsed); err != nil {
			return nil, err
		}
		if m.failures, err = register(reg, m.failures); err != nil {
			return nil, err
		}
	}
	for _, p := range parsers {
		byDataset := map[string]int{}
		idx := func(ds string) int {
			if i, ok := byDataset[ds]; ok {
				return i
			}
			byDataset[ds] = len(m.counters)
			m.counters = append(m.counters, m.parsed.WithLabelValues(p.name, ds))
			return len(m.counters) - 1
		}
		for _, r := range p.rules {
			if r.byApp == nil {
				r.ctr = idx(r.dataset)
				continue
			}
			apps := make([]string, 0, len(r.byApp))
			for a := range r.byApp {
				apps = append(apps, a)
			}
			sort.Strings(apps)
			r.ctrApp = make(map[string]int, len(apps))
			for _, a := range apps {
				r.ctrApp[a] = idx(r.byApp[a])
			}
		}
		p.failCtr = len(m.counters)
		m.counters = append(m.counters, m.failures.WithLabelValues(p.name))
	}
	return m, nil
}

// register registers v, or returns the vector already registered under
// its name (a second stage on the same registry counts into the same
// series).
func register(reg prometheus.Registerer, v *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(v)
	if err == nil {
		return v, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return old, nil
		}
	}
	return nil, err
}
