package collector

import (
	"bufio"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// maxExporterLabels bounds the exporter label; later exporters share "other".
const maxExporterLabels = 256

// Metrics are the collector metrics shared by every listener.
type Metrics struct {
	packets      *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	exporterPkts *prometheus.CounterVec
	exporterByts *prometheus.CounterVec
	decodeErrors *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	events       *prometheus.CounterVec
	rcvbuf       *prometheus.GaugeVec
	queueDepth   *prometheus.GaugeVec

	mu        sync.Mutex
	exporters map[netip.Addr]exporterCounters
}

type exporterCounters struct{ packets, bytes prometheus.Counter }

// NewMetrics registers the collector metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_packets_received_total", Help: "Datagrams read from the socket.",
		}, []string{"protocol", "listen"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_bytes_received_total", Help: "Bytes read from the socket.",
		}, []string{"protocol", "listen"}),
		exporterPkts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_exporter_packets_total", Help: "Datagrams per exporter address (first 256 exporters, the rest as \"other\").",
		}, []string{"protocol", "exporter"}),
		exporterByts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_exporter_bytes_total", Help: "Bytes per exporter address (first 256 exporters, the rest as \"other\").",
		}, []string{"protocol", "exporter"}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_decode_errors_total", Help: "Decode failures by reason.",
		}, []string{"protocol", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_packets_dropped_total", Help: "Datagrams dropped inside sluice by reason (queue_full, too_large).",
		}, []string{"protocol", "reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_events_total", Help: "Events (flows) decoded and handed to the pipeline.",
		}, []string{"protocol"}),
		rcvbuf: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_collector_socket_receive_buffer_bytes", Help: "SO_RCVBUF granted by the kernel per socket.",
		}, []string{"protocol", "listen"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_collector_queue_depth", Help: "Packet batches waiting for decode workers.",
		}, []string{"protocol"}),
		exporters: map[netip.Addr]exporterCounters{},
	}
	reg.MustRegister(m.packets, m.bytes, m.exporterPkts, m.exporterByts, m.decodeErrors, m.dropped, m.events, m.rcvbuf, m.queueDepth)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_collector_kernel_udp_rcvbuf_errors_total",
		Help: "Host-wide UDP datagrams the kernel dropped because a socket buffer was full (/proc/net/snmp RcvbufErrors).",
	}, func() float64 { return float64(KernelUDPRcvbufErrors()) }))
	for _, p := range []string{"netflow", "ipfix", "sflow"} {
		for _, r := range []string{"queue_full", "too_large"} {
			m.dropped.WithLabelValues(p, r)
		}
		m.events.WithLabelValues(p)
	}
	return m
}

// SetQueueDepth records the current queue depth of a protocol's workers.
func (m *Metrics) SetQueueDepth(protocol string, n int) {
	m.queueDepth.WithLabelValues(protocol).Set(float64(n))
}

func (m *Metrics) countExporter(protocol string, a netip.Addr, n int) {
	m.mu.Lock()
	c, ok := m.exporters[a]
	if !ok {
		label := "other"
		if len(m.exporters) < maxExporterLabels {
			label = a.String()
		}
		c = exporterCounters{m.exporterPkts.WithLabelValues(protocol, label), m.exporterByts.WithLabelValues(protocol, label)}
		if len(m.exporters) < 4*maxExporterLabels {
			m.exporters[a] = c
		}
	}
	m.mu.Unlock()
	c.packets.Inc()
	c.bytes.Add(float64(n))
}

// KernelUDPRcvbufErrors reads the host-wide UDP RcvbufErrors counter.
func KernelUDPRcvbufErrors() uint64 {
	f, err := os.Open("/proc/net/snmp")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var header []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "Udp:" {
			continue
		}
		if header == nil {
			header = fields
			continue
		}
		for i, h := range header {
			if h == "RcvbufErrors" && i < len(fields) {
				v, _ := strconv.ParseUint(fields[i], 10, 64)
				return v
			}
		}
	}
	return 0
}
