package obs

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Summary logs one INFO line per interval that sums up what sluice did in
// it, from the metrics registry: events/s per input (sluice_collector_events_total
// by protocol) and per output (sluice_output_events_total by output), events
// or datagrams dropped per metric and reason (every *_dropped_*_total counter)
// and the documents in the Elasticsearch spool.
type Summary struct {
	g      prometheus.Gatherer
	logger *slog.Logger
	prev   map[string]float64
	at     time.Time
}

// NewSummary returns a Summary reading g; its first line covers the time
// from NewSummary on.
func NewSummary(g prometheus.Gatherer, logger *slog.Logger) *Summary {
	s := &Summary{g: g, logger: logger}
	s.prev, _ = s.sample()
	s.at = time.Now()
	return s
}

// Run logs a summary every interval until ctx is done. interval <= 0 returns at once.
func (s *Summary) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.Log(ctx, now)
		}
	}
}

// Keys of the sample map: "in\x00<protocol>", "out\x00<output>",
// "drop\x00<metric>\x00<reason>", "spool".
const (
	sumIn    = "in"
	sumOut   = "out"
	sumDrop  = "drop"
	sumSpool = "spool"
)

// sample reads the counters the summary reports.
func (s *Summary) sample() (map[string]float64, bool) {
	mfs, err := s.g.Gather()
	out := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		switch {
		case name == "sluice_collector_events_total":
			addBy(out, sumIn, mf, "protocol")
		case name == "sluice_output_events_total":
			addBy(out, sumOut, mf, "output")
		case name == "sluice_output_elasticsearch_spool_documents":
			for _, m := range mf.GetMetric() {
				out[sumSpool] += m.GetGauge().GetValue()
			}
		case strings.Contains(name, "_dropped_") && strings.HasSuffix(name, "_total") && mf.GetType() == dto.MetricType_COUNTER:
			short := strings.TrimSuffix(strings.TrimPrefix(name, "sluice_"), "_total")
			addBy(out, sumDrop+"\x00"+short, mf, "reason")
		}
	}
	return out, err == nil
}

// addBy adds mf's counter values to out[prefix\x00<value of label>].
func addBy(out map[string]float64, prefix string, mf *dto.MetricFamily, label string) {
	for _, m := range mf.GetMetric() {
		v := ""
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				v = lp.GetValue()
			}
		}
		if v == "" {
			v = "all"
		}
		out[prefix+"\x00"+v] += m.GetCounter().GetValue()
	}
}

// Log logs the summary of the time since the last one (or NewSummary).
func (s *Summary) Log(ctx context.Context, now time.Time) {
	cur, ok := s.sample()
	if !ok && len(cur) == 0 {
		return
	}
	secs := now.Sub(s.at).Seconds()
	if secs <= 0 {
		secs = 1
	}
	var in, out, drops []any
	var totalDrops float64
	keys := make([]string, 0, len(cur))
	for k := range cur {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts := strings.Split(k, "\x00")
		d := cur[k] - s.prev[k]
		if d < 0 { // a counter that restarted
			d = cur[k]
		}
		switch parts[0] {
		case sumIn:
			in = append(in, slog.Float64(parts[1], round1(d/secs)))
		case sumOut:
			out = append(out, slog.Float64(parts[1], round1(d/secs)))
		case sumDrop:
			if d > 0 {
				drops = append(drops, slog.Float64(parts[1]+"."+parts[2], d))
				totalDrops += d
			}
		}
	}
	attrs := []any{"interval", now.Sub(s.at).Round(time.Second).String(),
		slog.Group("events_per_second_in", in...), slog.Group("events_per_second_out", out...),
		"dropped", totalDrops}
	if len(drops) > 0 {
		attrs = append(attrs, slog.Group("dropped_by", drops...))
	}
	if v, ok := cur[sumSpool]; ok {
		attrs = append(attrs, "spool_documents", v)
	}
	s.logger.InfoContext(ctx, "summary", attrs...)
	s.prev, s.at = cur, now
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
