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
	}, func() float64 { return float64(len(s.docs.pending())) }))
	return m
}
