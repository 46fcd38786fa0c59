package dnscap

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Transaction results (sluice_dnscap_transactions_total).
const (
	resultAnswered     = iota // query and response paired
	resultNoResponse          // no response within dns.capture.timeout
	resultEvicted             // the pending table was full: written without a response
	resultResponseOnly        // a response whose query was not seen
	numResults
)

var resultNames = [numResults]string{"answered", "no_response", "evicted", "response_only"}

// TCP segments not reassembled (sluice_dnscap_tcp_segments_dropped_total).
const (
	tcpOutOfOrder = iota // a segment after a gap: not buffered, the stream stalls
	tcpTableFull         // dns.capture.max_tcp_streams connections are followed already
	tcpOversize          // more buffered than one DNS message can be
	numTCPDrops
)

var tcpDropNames = [numTCPDrops]string{"out_of_order", "table_full", "oversize"}

// metrics are the counters of all capture interfaces; the per-interface
// ones are labelled by the configured interface name (a bounded set).
type metrics struct {
	frames       *prometheus.CounterVec
	kernelDrops  *prometheus.CounterVec
	malformed    [numMalformed]prometheus.Counter
	ignored      [numIgnored]prometheus.Counter
	transactions [numResults]prometheus.Counter
	duplicates   prometheus.Counter
	tcpDrops     [numTCPDrops]prometheus.Counter
	pending      *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer, ifaces []string) (*metrics, error) {
	frames := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_dnscap_frames_total",
		Help: "Frames read from the capture socket, by interface.",
	}, []string{"interface"})
	drops := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_dnscap_kernel_drops_total",
		Help: "Frames the kernel dropped because the capture ring or socket buffer was full (PACKET_STATISTICS), by interface.",
	}, []string{"interface"})
	malformed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_dnscap_malformed_total",
		Help: "Captured frames or DNS messages that could not be parsed, by reason (frame, transport, dns, snaplen, tcp_length, ring).",
	}, []string{"reason"})
	ignored := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_dnscap_ignored_total",
		Help: "Captured frames that carry no DNS message to decode, by reason (not_ip, protocol, fragment, port, no_payload).",
	}, []string{"reason"})
	tx := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_dnscap_transactions_total",
		Help: "DNS transaction documents written, by result (answered, no_response, evicted, response_only).",
	}, []string{"result"})
	dups := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_dnscap_duplicate_queries_total",
		Help: "Queries identical to one still waiting for its response (retransmissions): not written again.",
	})
	tcp := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_dnscap_tcp_segments_dropped_total",
		Help: "TCP segments of DNS connections not reassembled, by reason (out_of_order, table_full, oversize).",
	}, []string{"reason"})
	pending := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_dnscap_pending_queries",
		Help: "Queries waiting for their response, by interface.",
	}, []string{"interface"})
	m := &metrics{frames: frames, kernelDrops: drops, duplicates: dups, pending: pending}
	for i, n := range malformedNames {
		m.malformed[i] = malformed.WithLabelValues(n)
	}
	for i, n := range ignoredNames {
		m.ignored[i] = ignored.WithLabelValues(n)
	}
	for i, n := range resultNames {
		m.transactions[i] = tx.WithLabelValues(n)
	}
	for i, n := range tcpDropNames {
		m.tcpDrops[i] = tcp.WithLabelValues(n)
	}
	for _, ifc := range ifaces {
		frames.WithLabelValues(ifc)
		drops.WithLabelValues(ifc)
		pending.WithLabelValues(ifc)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{frames, drops, malformed, ignored, tx, dups, tcp, pending} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return m, errors.Join(errs...)
}
