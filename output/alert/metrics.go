package alert

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	evaluated   prometheus.Counter
	evalSeconds prometheus.Counter
	tickSeconds prometheus.Counter
	matches     *prometheus.CounterVec
	silenced    *prometheus.CounterVec
	docsDropped prometheus.Counter
	reloads     prometheus.Counter
	ruleErrors  prometheus.Gauge
	stateErrors prometheus.Counter
	seeded      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	m := &metrics{
		evaluated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_alert_events_evaluated_total", Help: "Events the alert rules were evaluated on.",
		}),
		evalSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_alert_evaluation_seconds_total", Help: "Time the alert stage spent evaluating rules on events (all rules together).",
		}),
		tickSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_alert_tick_seconds_total", Help: "Time spent on the rules' once-a-second work (flatline, closing windows and aggregations).",
		}),
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_alert_matches_total", Help: "Matches of each rule (an aggregated alert counts each match).",
		}, []string{"rule"}),
		silenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_alert_silenced_total", Help: "Alerts not sent because the rule's realert period for their query_key had not passed.",
		}, []string{"rule"}),
		docsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_alert_documents_dropped_total", Help: "Alert documents dropped because more than 10000 waited for the outputs.",
		}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_alert_rule_reloads_total", Help: "Reloads of the rules folders (file changes and SIGHUP).",
		}),
		ruleErrors: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_alert_rule_errors", Help: "Rule files that did not load at the last reload (their previous version keeps running).",
		}),
		stateErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_alert_state_errors_total", Help: "Alert state files that could not be written, or were damaged at start and moved aside.",
		}),
		seeded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_alert_history_documents_total", Help: "Stored documents new_term rules learned their terms from at start.",
		}),
	}
	reg.MustRegister(m.seeded, m.evaluated, m.evalSeconds, m.tickSeconds, m.matches, m.silenced, m.docsDropped, m.reloads, m.ruleErrors, m.stateErrors)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_alert_rules", Help: "Alert rules in force.",
	}, func() float64 { return float64(len(s.rules.Load().byName)) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_alert_documents_queued", Help: "Alert documents waiting for the outputs.",
	}, func() float64 { return float64(s.docs.len()) }))
	reg.MustRegister(newRuleCollector(s))
	return m
}

// ruleCollector exports the engine's per-rule statistics at scrape time
// (one series per rule in force).
type ruleCollector struct {
	s                                                         *Service
	docs, noKey, matches, fired, silenced, evictions, evalSec *prometheus.Desc
}

func newRuleCollector(s *Service) *ruleCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"rule"}, nil)
	}
	return &ruleCollector{s: s,
		docs:      d("sluice_alert_rule_documents_total", "Documents that passed a rule's index and filter."),
		noKey:     d("sluice_alert_rule_no_query_key_total", "Documents a rule skipped because they lack a query_key field."),
		matches:   d("sluice_alert_rule_matches_total", "Matches of a rule's type."),
		fired:     d("sluice_alert_rule_alerts_total", "Alerts a rule emitted (an aggregated alert counts once)."),
		silenced:  d("sluice_alert_rule_silenced_total", "Matches a rule's realert silenced."),
		evictions: d("sluice_alert_rule_evictions_total", "query_key windows (and new_term terms, cardinality values) a rule dropped to stay within its bounds."),
		evalSec:   d("sluice_alert_rule_evaluation_seconds_total", "Time a rule's type spent on the documents that passed its filter."),
	}
}

func (c *ruleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.docs, c.noKey, c.matches, c.fired, c.silenced, c.evictions, c.evalSec} {
		ch <- d
	}
}

func (c *ruleCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.engine == nil {
		return
	}
	for _, st := range c.s.engine.Stats() {
		for _, v := range []struct {
			d *prometheus.Desc
			v float64
		}{
			{c.docs, float64(st.Docs)}, {c.noKey, float64(st.NoKey)}, {c.matches, float64(st.Matches)},
			{c.fired, float64(st.Fired)}, {c.silenced, float64(st.Silenced)}, {c.evictions, float64(st.Evictions)},
			{c.evalSec, st.EvalTime.Seconds()},
		} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, v.v, st.Name)
		}
	}
}
