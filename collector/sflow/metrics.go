package sflow

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Sample type label values of sluice_sflow_samples_total.
const (
	sampleFlow            = "flow"
	sampleCounter         = "counter"
	sampleExpandedFlow    = "expanded_flow"
	sampleExpandedCounter = "expanded_counter"
	sampleDrop            = "drop"
)

type metrics struct {
	samplesFlow            prometheus.Counter
	samplesCounter         prometheus.Counter
	samplesExpandedFlow    prometheus.Counter
	samplesExpandedCounter prometheus.Counter
	samplesDrop            prometheus.Counter
	counterSamples         prometheus.Counter
	headers                [len(headerResultNames)]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	samples := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_sflow_samples_total",
		Help: "sFlow samples decoded, by sample type.",
	}, []string{"type"})
	counterSamples := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_sflow_counter_samples_total",
		Help: "sFlow counter samples (standard and expanded) skipped: sluice only turns flow samples into events.",
	})
	headers := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_sflow_sampled_headers_total",
		Help: "Flow samples by how far their sampled packet header was parsed (parsed, truncated, unsupported, missing).",
	}, []string{"result"})

	m := &metrics{
		samplesFlow:            samples.WithLabelValues(sampleFlow),
		samplesCounter:         samples.WithLabelValues(sampleCounter),
		samplesExpandedFlow:    samples.WithLabelValues(sampleExpandedFlow),
		samplesExpandedCounter: samples.WithLabelValues(sampleExpandedCounter),
		samplesDrop:            samples.WithLabelValues(sampleDrop),
		counterSamples:         counterSamples,
	}
	for i, name := range headerResultNames {
		m.headers[i] = headers.WithLabelValues(name)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{samples, counterSamples, headers} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register sflow metrics: %w", err)
	}
	return m, nil
}
