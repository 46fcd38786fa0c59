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
	readWait     *prometheus.CounterVec

	// Stream (TCP, TLS) listeners.
	tcpConns        *prometheus.GaugeVec
	tcpAccepted     *prometheus.CounterVec
	tcpRejected     *prometheus.CounterVec
	tcpClosed       *prometheus.CounterVec
	tcpAcceptErrors *prometheus.CounterVec
	tcpFrames       *prometheus.CounterVec
	tcpTruncated    *prometheus.CounterVec
	tcpFramingErrs  *prometheus.CounterVec
	tcpDropped      *prometheus.CounterVec

	mu        sync.Mutex
	exporters map[exporterKey]exporterCounters
}

// exporterKey keeps one address's counters apart per protocol: a router
// often sends NetFlow and syslog.
type exporterKey struct {
	protocol string
	addr     netip.Addr
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
			Name: "sluice_collector_exporter_packets_total", Help: "Datagrams (TCP: frames) per exporter or sender address (first 256 addresses, the rest as \"other\").",
		}, []string{"protocol", "exporter"}),
		exporterByts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_exporter_bytes_total", Help: "Bytes (TCP: of frames) per exporter or sender address (first 256 addresses, the rest as \"other\").",
		}, []string{"protocol", "exporter"}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_decode_errors_total", Help: "Decode failures by reason.",
		}, []string{"protocol", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_packets_dropped_total", Help: "Datagrams lost by reason: socket_buffer_full (the kernel dropped them on sluice's socket while the workers were behind; its counter is read each second, at shutdown and with every datagram), too_large (above max_datagram_bytes).",
		}, []string{"protocol", "reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_events_total", Help: "Events decoded and handed to the pipeline, by input (netflow, ipfix, sflow, syslog; beats and dns when configured).",
		}, []string{"protocol"}),
		rcvbuf: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_collector_socket_receive_buffer_bytes", Help: "SO_RCVBUF granted by the kernel per socket.",
		}, []string{"protocol", "listen"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_collector_queue_depth", Help: "Packet batches waiting for decode workers.",
		}, []string{"protocol"}),
		readWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_read_wait_seconds_total", Help: "Time UDP readers waited for a full decode queue (backpressure: datagrams wait in the socket buffer meanwhile).",
		}, []string{"protocol"}),
		tcpConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_collector_tcp_connections", Help: "Open TCP/TLS connections per listener.",
		}, []string{"protocol", "listen"}),
		tcpAccepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_tcp_connections_accepted_total", Help: "TCP/TLS connections admitted (under max_connections) per listener.",
		}, []string{"protocol", "listen"}),
		tcpRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_tcp_connections_rejected_total", Help: "TCP/TLS connections closed at once by reason (max_connections, max_connections_per_source, tls_handshake).",
		}, []string{"protocol", "reason"}),
		tcpClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_tcp_connections_closed_total", Help: "Admitted TCP/TLS connections closed, by reason (eof, idle_timeout, first_frame_timeout, frame_timeout, evicted: made room for a sender holding fewer connections, framing_error, read_error, shutdown, tls_handshake).",
		}, []string{"protocol", "reason"}),
		tcpAcceptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_tcp_accept_errors_total", Help: "Failed accept calls (out of file descriptors, ...); the listener backs off and retries.",
		}, []string{"protocol"}),
		tcpFrames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_tcp_frames_total", Help: "Messages cut from TCP/TLS streams by framing (octet_counted, newline).",
		}, []string{"protocol", "framing"}),
		tcpTruncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_tcp_frames_truncated_total", Help: "Messages delivered truncated and tagged, by reason (too_long: above max_message_bytes; incomplete: the connection ended inside it).",
		}, []string{"protocol", "reason"}),
		tcpFramingErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_tcp_framing_errors_total", Help: "Streams that could not be framed (bad_length: not a valid MSG-LEN; incomplete: ended inside MSG-LEN); the connection is closed.",
		}, []string{"protocol", "reason"}),
		tcpDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_collector_tcp_events_dropped_total", Help: "Decoded events of TCP/TLS connections dropped, by reason (shutdown: the pipeline stopped taking batches during the shutdown drain).",
		}, []string{"protocol", "reason"}),
		exporters: map[exporterKey]exporterCounters{},
	}
	reg.MustRegister(m.packets, m.bytes, m.exporterPkts, m.exporterByts, m.decodeErrors, m.dropped, m.events, m.rcvbuf, m.queueDepth, m.readWait)
	reg.MustRegister(m.tcpConns, m.tcpAccepted, m.tcpRejected, m.tcpClosed, m.tcpAcceptErrors, m.tcpFrames, m.tcpTruncated, m.tcpFramingErrs, m.tcpDropped)
	// The host-wide counter counts every process's drops since boot: as a
	// raw value it alarms at start for drops that were never sluice's. It
	// is reported as the advance since sluice started (per-socket drops are
	// sluice_collector_packets_dropped_total{reason="socket_buffer_full"}).
	base := KernelUDPRcvbufErrors()
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_collector_kernel_udp_rcvbuf_errors_total",
		Help: "Host-wide UDP datagrams the kernel dropped because a socket buffer was full (/proc/net/snmp RcvbufErrors), since sluice started; any process's sockets, not only sluice's.",
	}, func() float64 { return float64(sinceBase(KernelUDPRcvbufErrors(), base)) }))
	for _, p := range []string{"netflow", "ipfix", "sflow", "syslog"} {
		for _, r := range []string{"socket_buffer_full", "too_large"} {
			m.dropped.WithLabelValues(p, r)
		}
		m.events.WithLabelValues(p)
		m.readWait.WithLabelValues(p)
	}
	return m
}

// Events is the sluice_collector_events_total counter of protocol, for the
// inputs that are not collector listeners (Beats, DNS capture): `sluice
// status`, the start summary and the console's health count every input
// from that one metric.
func (m *Metrics) Events(protocol string) prometheus.Counter {
	return m.events.WithLabelValues(protocol)
}

// SetQueueDepth records the current queue depth of a protocol's workers.
func (m *Metrics) SetQueueDepth(protocol string, n int) {
	m.queueDepth.WithLabelValues(protocol).Set(float64(n))
}

func (m *Metrics) countExporter(protocol string, a netip.Addr, n int) {
	c := m.exporterCounters(protocol, a)
	c.packets.Inc()
	c.bytes.Add(float64(n))
}

// exporterCounters returns the per-address counters of a (the shared
// "other" ones past maxExporterLabels addresses). A TCP connection looks
// them up once.
func (m *Metrics) exporterCounters(protocol string, a netip.Addr) exporterCounters {
	k := exporterKey{protocol, a}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.exporters[k]
	if !ok {
		label := "other"
		if len(m.exporters) < maxExporterLabels {
			label = a.String()
		}
		c = exporterCounters{m.exporterPkts.WithLabelValues(protocol, label), m.exporterByts.WithLabelValues(protocol, label)}
		if len(m.exporters) < 4*maxExporterLabels {
			m.exporters[k] = c
		}
	}
	return c
}

// sinceBase is v's advance past base; a counter that went backwards (a new
// network namespace, a wrap) counts from 0.
func sinceBase(v, base uint64) uint64 {
	if v < base {
		return v
	}
	return v - base
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
