package console

import (
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// healthSection picks the metric families of one part of /api/v1/health by
// name: exact names, prefixes and suffixes.
type healthSection struct {
	name     string
	names    []string
	prefixes []string
	suffixes []string
	contains []string
}

func (s healthSection) has(name string) bool {
	if slices.Contains(s.names, name) {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, p := range s.suffixes {
		if strings.HasSuffix(name, p) {
			return true
		}
	}
	for _, p := range s.contains {
		if strings.Contains(name, p) {
			return true
		}
	}
	return false
}

// healthSections are the metrics sluice's components register today (see
// the metrics.go of collector, collector/netflow, collector/sflow,
// internal/pipeline, output/*, geoip, enrich/*), grouped as the console's
// health view shows them. A family may appear in more than one section.
var healthSections = []healthSection{
	{name: "listeners", names: []string{
		"sluice_collector_packets_received_total", "sluice_collector_bytes_received_total",
		"sluice_collector_events_total", "sluice_collector_decode_errors_total",
		"sluice_collector_socket_receive_buffer_bytes", "sluice_collector_tcp_connections",
		"sluice_collector_tcp_connections_rejected_total", "sluice_collector_tcp_frames_total",
		"sluice_netflow_records_total", "sluice_sflow_samples_total", "sluice_enrich_parsed_total",
	}},
	{name: "exporters", names: []string{
		"sluice_collector_exporter_packets_total", "sluice_collector_exporter_bytes_total",
		"sluice_netflow_templates", "sluice_netflow_exporters", "sluice_netflow_template_changes_total",
		"sluice_netflow_pending_sets", "sluice_netflow_exporter_templates", "sluice_netflow_exporter_last_seen_timestamp_seconds",
	}},
	{name: "outputs", names: []string{
		"sluice_pipeline_events_out_total", "sluice_output_events_total", "sluice_output_bytes_total",
		"sluice_output_write_errors_total", "sluice_output_disk_full_errors_total", "sluice_pipeline_output_errors_total",
		"sluice_output_open_files",
	}},
	{name: "drops", contains: []string{"_dropped_", "_drops_"}, names: []string{
		"sluice_pipeline_events_time_out_of_range_total", "sluice_collector_kernel_udp_rcvbuf_errors_total",
		"sluice_enrich_parse_failures_total", "sluice_collector_tcp_frames_truncated_total",
	}},
	{name: "queues", suffixes: []string{"_queue_depth"}, names: []string{"sluice_alert_documents_queued", "sluice_alert_retry_pending"}},
	{name: "elasticsearch", prefixes: []string{"sluice_output_elasticsearch_"}},
	{name: "geoip", prefixes: []string{"sluice_geoip_database_"}},
	{name: "retention", prefixes: []string{"sluice_retention_"}},
	{name: "alerts", names: []string{
		"sluice_alert_rules", "sluice_alert_rule_errors", "sluice_alert_matches_total", "sluice_alert_sent_total",
		"sluice_alert_failed_total", "sluice_alert_silenced_total", "sluice_alert_events_evaluated_total",
	}},
	{name: "console", prefixes: []string{"sluice_console_"}},
	{name: "process", names: []string{
		"process_start_time_seconds", "process_resident_memory_bytes", "process_cpu_seconds_total", "go_goroutines",
	}},
}

// healthSample is one series of a family.
type healthSample struct {
	Labels map[string]string `json:"labels,omitempty"`
	Value  *float64          `json:"value,omitempty"` // counters, gauges
	Count  *uint64           `json:"count,omitempty"` // histograms, summaries
	Sum    *float64          `json:"sum,omitempty"`
}

type healthJSON struct {
	Time    string                               `json:"time"`
	Version string                               `json:"version"`
	Summary map[string]any                       `json:"summary"`
	Metrics map[string]map[string][]healthSample `json:"metrics"` // section -> family -> series
	Help    map[string]string                    `json:"help"`
	Errors  []string                             `json:"errors,omitempty"`
}

func samples(mf *dto.MetricFamily) []healthSample {
	out := make([]healthSample, 0, len(mf.GetMetric()))
	for _, m := range mf.GetMetric() {
		var s healthSample
		if lp := m.GetLabel(); len(lp) > 0 {
			s.Labels = make(map[string]string, len(lp))
			for _, l := range lp {
				s.Labels[l.GetName()] = l.GetValue()
			}
		}
		switch {
		case m.Counter != nil:
			v := m.Counter.GetValue()
			s.Value = &v
		case m.Gauge != nil:
			v := m.Gauge.GetValue()
			s.Value = &v
		case m.Untyped != nil:
			v := m.Untyped.GetValue()
			s.Value = &v
		case m.Histogram != nil:
			c, sum := m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
			s.Count, s.Sum = &c, &sum
		case m.Summary != nil:
			c, sum := m.Summary.GetSampleCount(), m.Summary.GetSampleSum()
			s.Count, s.Sum = &c, &sum
		}
		out = append(out, s)
	}
	return out
}

// sumOf adds the values of a family's series, optionally grouped by one
// label.
func sumOf(mf *dto.MetricFamily, by string) (float64, map[string]float64) {
	var total float64
	var groups map[string]float64
	if by != "" {
		groups = map[string]float64{}
	}
	for _, s := range samples(mf) {
		if s.Value == nil {
			continue
		}
		total += *s.Value
		if by != "" {
			groups[s.Labels[by]] += *s.Value
		}
	}
	return total, groups
}

// health answers sluice's own state, read from its metrics.
func (a *API) health(w http.ResponseWriter, r *http.Request) {
	if a.parseFailed(w, newParams(r.URL.Query()).err()) {
		return
	}
	out := healthJSON{Time: a.cfg.Now().UTC().Format(time.RFC3339Nano), Version: a.cfg.Version,
		Summary: map[string]any{}, Metrics: map[string]map[string][]healthSample{}, Help: map[string]string{}}
	for _, s := range healthSections {
		out.Metrics[s.name] = map[string][]healthSample{}
	}
	if a.gatherer == nil {
		out.Errors = append(out.Errors, "no metrics registry")
		writeJSON(w, http.StatusOK, out)
		return
	}
	mfs, err := a.gatherer.Gather()
	if err != nil { // partial families are still returned
		out.Errors = append(out.Errors, err.Error())
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, s := range healthSections {
			if s.has(name) {
				out.Metrics[s.name][name] = samples(mf)
				out.Help[name] = mf.GetHelp()
			}
		}
		switch name {
		case "sluice_collector_events_total":
			total, by := sumOf(mf, "protocol")
			out.Summary["events_in"] = total
			out.Summary["events_in_by_protocol"] = by
		case "sluice_pipeline_events_out_total":
			_, by := sumOf(mf, "output")
			out.Summary["events_out_by_output"] = by
		case "sluice_pipeline_events_dropped_total":
			total, by := sumOf(mf, "stage")
			out.Summary["pipeline_dropped"] = total
			out.Summary["pipeline_dropped_by_stage"] = by
		case "sluice_output_elasticsearch_spool_documents":
			total, _ := sumOf(mf, "")
			out.Summary["elasticsearch_spool_documents"] = total
		case "process_start_time_seconds":
			total, _ := sumOf(mf, "")
			out.Summary["uptime_seconds"] = a.cfg.Now().Sub(time.Unix(int64(total), 0)).Seconds()
		}
	}
	writeJSON(w, http.StatusOK, out)
}
