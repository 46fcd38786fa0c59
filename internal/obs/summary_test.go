package obs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSummaryLine(t *testing.T) {
	reg := prometheus.NewRegistry()
	in := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_collector_events_total", Help: "h"}, []string{"protocol"})
	out := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_output_events_total", Help: "h"}, []string{"output"})
	drop := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_pipeline_events_dropped_total", Help: "h"}, []string{"stage", "reason"})
	spool := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_output_elasticsearch_spool_documents", Help: "h"})
	reg.MustRegister(in, out, drop, spool)
	in.WithLabelValues("netflow").Add(500) // before: not in the first line
	in.WithLabelValues("syslog")
	drop.WithLabelValues("geo", "queue_full")

	var buf bytes.Buffer
	s := NewSummary(reg, slog.New(slog.NewTextHandler(&buf, nil)))
	in.WithLabelValues("netflow").Add(1000)
	out.WithLabelValues("file").Add(900)
	out.WithLabelValues("elasticsearch").Add(450)
	drop.WithLabelValues("geo", "queue_full").Add(7)
	drop.WithLabelValues("encode", "shutdown").Add(3)
	spool.Set(12)
	s.Log(context.Background(), s.at.Add(10*time.Second))
	line := buf.String()
	for _, want := range []string{`msg=summary`, `interval=10s`, `events_per_second_in.netflow=100`, `events_per_second_in.syslog=0`,
		`events_per_second_out.elasticsearch=45`, `events_per_second_out.file=90`, `dropped=10`,
		`dropped_by.pipeline_events_dropped.queue_full=7`, `dropped_by.pipeline_events_dropped.shutdown=3`, `spool_documents=12`} {
		if !strings.Contains(line, want) {
			t.Errorf("summary line lacks %q:\n%s", want, line)
		}
	}
	if n := strings.Count(line, "\n"); n != 1 {
		t.Errorf("summary = %d lines, want 1:\n%s", n, line)
	}

	// The next line covers only the next interval.
	buf.Reset()
	in.WithLabelValues("netflow").Add(50)
	s.Log(context.Background(), s.at.Add(5*time.Second))
	line = buf.String()
	for _, want := range []string{`events_per_second_in.netflow=10 `, `dropped=0`} {
		if !strings.Contains(line, want) {
			t.Errorf("second summary line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "dropped_by") {
		t.Errorf("second summary line names drops, none happened:\n%s", line)
	}
}

func TestSummaryRunOff(t *testing.T) {
	var buf bytes.Buffer
	s := NewSummary(prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&buf, nil)))
	done := make(chan struct{})
	go func() { s.Run(context.Background(), 0); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run(interval 0) did not return: 0 must turn the summary off")
	}
	if buf.Len() != 0 {
		t.Errorf("Run(interval 0) logged %q", buf.String())
	}
}
