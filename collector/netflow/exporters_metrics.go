package netflow

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// exporterCollector reports each exporter stream the decoder knows at
// scrape time: its templates and when it was last heard from. The series
// are as many as the streams the decoder keeps (netflow.max_exporters
// bounds them), and a stream that is evicted or expires leaves.
type exporterCollector struct{ d *Decoder }

var (
	exporterTemplatesDesc = prometheus.NewDesc("sluice_netflow_exporter_templates",
		"Templates known per exporter stream (exporter address, NetFlow version, v9 source ID or IPFIX observation domain).",
		[]string{"exporter", "version", "domain"}, nil)
	exporterLastSeenDesc = prometheus.NewDesc("sluice_netflow_exporter_last_seen_timestamp_seconds",
		"When an exporter stream's last datagram was received (Unix seconds).",
		[]string{"exporter", "version", "domain"}, nil)
)

func (c exporterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- exporterTemplatesDesc
	ch <- exporterLastSeenDesc
}

func (c exporterCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	d.mu.RLock()
	exs := make([]*exporter, 0, len(d.exporters))
	for _, ex := range d.exporters {
		exs = append(exs, ex)
	}
	d.mu.RUnlock()
	for _, ex := range exs {
		ex.mu.Lock()
		n, removed := len(ex.templates), ex.removed
		ex.mu.Unlock()
		if removed {
			continue
		}
		labels := []string{ex.key.addr.String(), strconv.Itoa(int(ex.key.version)), strconv.FormatUint(uint64(ex.key.domain), 10)}
		ch <- prometheus.MustNewConstMetric(exporterTemplatesDesc, prometheus.GaugeValue, float64(n), labels...)
		ch <- prometheus.MustNewConstMetric(exporterLastSeenDesc, prometheus.GaugeValue, float64(ex.lastSeen.Load())/1e9, labels...)
	}
}
