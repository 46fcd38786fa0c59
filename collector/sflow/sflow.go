// Package sflow decodes sFlow v5 datagrams into flow events.
//
// Datagrams are parsed by goflow2's decoder; this package turns each flow
// sample (standard or expanded) into one event.KindFlow event by parsing the
// sampled packet header (Ethernet with 802.1Q/QinQ tags or MPLS, IPv4, IPv6,
// TCP, UDP, SCTP, ICMP) and the extended switch, router and gateway records.
// Counter and drop samples are counted and skipped.
package sflow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/sflow"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
)

// Reasons of the *collector.DecodeError values Decode returns.
const (
	ReasonTruncated  = "truncated"   // the datagram ends inside a header or sample
	ReasonBadVersion = "bad_version" // not an sFlow version 5 datagram
	ReasonDecode     = "decode"      // malformed content (unknown format, bad lengths, limits)
	ReasonPanic      = "panic"       // the decoder panicked; the datagram's remaining samples are lost
)

// maxRecords bounds the flow records of one sample. goflow2 enforces it for
// every sample type but the expanded flow sample, where it allocates what
// the datagram declares (up to 2^32 records): Decode checks that count first.
const maxRecords = 1000

// NetFlow field keys, the IANA IPFIX names in snake_case used by the NetFlow
// decoder so both protocols land in the same `netflow.*` fields.
const (
	keyInBytes           = "in_bytes"
	keyInPkts            = "in_pkts"
	keyProtocol          = "protocol_identifier"
	keyClassOfService    = "ip_class_of_service"
	keyTCPFlags          = "tcp_control_bits"
	keyTTL               = "ip_ttl"
	keySrcPort           = "source_transport_port"
	keyDstPort           = "destination_transport_port"
	keySrcIPv4           = "source_ipv4_address"
	keyDstIPv4           = "destination_ipv4_address"
	keySrcIPv6           = "source_ipv6_address"
	keyDstIPv6           = "destination_ipv6_address"
	keyICMPv4            = "icmp_type_code_ipv4"
	keyICMPv6            = "icmp_type_code_ipv6"
	keyIngressInterface  = "ingress_interface"
	keyEgressInterface   = "egress_interface"
	keyForwardingStatus  = "forwarding_status"
	keySrcMAC            = "source_mac_address"
	keyDstMAC            = "destination_mac_address"
	keyVLAN              = "vlan_id"
	keyPostVLAN          = "post_vlan_id"
	keyCustomerVLAN      = "dot1q_customer_vlan_id"
	keyNextHopIPv4       = "ip_next_hop_ipv4_address"
	keyNextHopIPv6       = "ip_next_hop_ipv6_address"
	keySrcPrefixIPv4     = "source_ipv4_prefix_length"
	keyDstPrefixIPv4     = "destination_ipv4_prefix_length"
	keySrcPrefixIPv6     = "source_ipv6_prefix_length"
	keyDstPrefixIPv6     = "destination_ipv6_prefix_length"
	keyBGPNextHopIPv4    = "bgp_next_hop_ipv4_address"
	keyBGPNextHopIPv6    = "bgp_next_hop_ipv6_address"
	keyBGPSrcAS          = "bgp_source_as_number"
	keyBGPDstAS          = "bgp_destination_as_number"
	keyBGPPrevAdjacentAS = "bgp_prev_adjacent_as_number"
	keyBGPNextAdjacentAS = "bgp_next_adjacent_as_number"
	keySamplingInterval  = "sampling_interval"
)

// forwardingDroppedUnknown is IANA forwardingStatus "Dropped, unknown reason".
const forwardingDroppedUnknown = 0x80

// Interface formats of sFlow's interface fields (the top two bits of the
// compact form, a separate word in the expanded form).
const (
	ifFormatIndex     = 0 // the value is an ifIndex
	ifFormatDiscarded = 1 // the packet was dropped; the value is a reason code
	ifIndexInternal   = 0x3fffffff
)

// Decoder decodes sFlow v5 datagrams. It keeps no per-exporter state, so one
// Decoder is safe for concurrent use by any number of goroutines.
type Decoder struct {
	logger  *slog.Logger
	metrics *metrics
	limiter *obs.Limiter
	// newAgents bounds the "new exporter" lines (keys and rate).
	newAgents *obs.Newcomers[netip.Addr]

	// decode is goflow2's DecodeMessageVersion; tests replace it to reach
	// the panic path.
	decode func(*bytes.Buffer, *sflow.Packet) error
}

var _ collector.Decoder = (*Decoder)(nil)

// New returns a Decoder whose metrics are registered with reg (nil: not
// registered). A nil logger discards.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Decoder{
		logger:  logger.With("component", "collector/sflow"),
		metrics: m,
		limiter: obs.NewLimiter(time.Minute),
		decode:  sflow.DecodeMessageVersion,

		newAgents: obs.NewNewcomers[netip.Addr](4096, 20, 10*time.Second),
	}, nil
}

// datagram holds the datagram-level facts every event of it shares.
type datagram struct {
	received time.Time
	observer netip.Addr
	subAgent uint32
	uptime   uint32
}

// flowSample is the common view of standard and expanded flow samples.
type flowSample struct {
	rate                uint32
	inFormat, inValue   uint32
	outFormat, outValue uint32
	records             []sflow.FlowRecord
}

// decodeState tracks progress for the panic handler.
type decodeState struct {
	open    bool // an event was added and is not complete yet
	pending int  // samples not yet turned into events
}

// Decode appends one event per flow sample of p to b. It returns a
// *collector.DecodeError when part or all of the datagram could not be
// decoded; the events of the samples before the damage are kept.
func (d *Decoder) Decode(p *collector.Packet, b *event.Batch) (err error) {
	st := decodeState{pending: 1}
	defer func() {
		if r := recover(); r != nil {
			if st.open {
				b.Unadd()
			}
			if ok, suppressed := d.limiter.Allow("panic"); ok {
				d.logger.Error("sflow decoder panic", "exporter", p.Src.Addr(), "err", r,
					"suppressed", suppressed, "stack", string(debug.Stack()))
			}
			err = &collector.DecodeError{Reason: ReasonPanic, Err: fmt.Errorf("sflow: %v", r), Dropped: max(st.pending, 1)}
		}
	}()

	data := p.Data
	cut, cutIndex, cutRecords := checkExpandedRecords(data)
	if cut >= 0 {
		data = data[:cut] // goflow2 stops at the end; the rest is reported below
	}
	var pkt sflow.Packet
	derr := d.decode(bytes.NewBuffer(data), &pkt)
	if pkt.Samples == nil { // the datagram header itself did not decode
		if derr == nil {
			derr = errors.New("sflow: no datagram header")
		}
		return &collector.DecodeError{Reason: classify(derr, data, &pkt), Err: derr, Dropped: 1}
	}

	dg := datagram{
		received: p.Received.UTC(),
		observer: agentAddr(pkt.AgentIP, p.Src.Addr()),
		subAgent: pkt.SubAgentId,
		uptime:   pkt.Uptime,
	}
	switch v := d.newAgents.Admit(dg.observer); {
	case v.Log:
		d.logger.Info("new exporter", "exporter", dg.observer, "version", "sflow", "source", p.Src.Addr().Unmap(), "not_logged", v.Unlogged)
	case v.Full:
		d.logger.Warn("many sflow agents: new agents are no longer logged (sluice_collector_exporter_packets_total counts them)", "logged", 4096)
	}
	lost := 0
	st.pending = len(pkt.Samples)
	for _, s := range pkt.Samples {
		switch s := s.(type) {
		case nil:
			lost++
		case sflow.FlowSample:
			d.metrics.samplesFlow.Inc()
			in, out := s.Input, s.Output
			d.addFlow(b, &st, &dg, &flowSample{
				rate:     s.SamplingRate,
				inFormat: in >> 30, inValue: in & 0x3fffffff,
				outFormat: out >> 30, outValue: out & 0x3fffffff,
				records: s.Records,
			})
		case sflow.ExpandedFlowSample:
			d.metrics.samplesExpandedFlow.Inc()
			d.addFlow(b, &st, &dg, &flowSample{
				rate:     s.SamplingRate,
				inFormat: s.InputIfFormat, inValue: s.InputIfValue,
				outFormat: s.OutputIfFormat, outValue: s.OutputIfValue,
				records: s.Records,
			})
		case sflow.CounterSample:
			if s.Header.Format == sflow.SAMPLE_FORMAT_EXPANDED_COUNTER {
				d.metrics.samplesExpandedCounter.Inc()
			} else {
				d.metrics.samplesCounter.Inc()
			}
			d.metrics.counterSamples.Inc()
		case sflow.DropSample:
			d.metrics.samplesDrop.Inc()
		}
		st.pending--
	}

	switch {
	case derr != nil:
		return &collector.DecodeError{Reason: classify(derr, data, &pkt), Err: derr, Dropped: lost}
	case cut >= 0:
		return &collector.DecodeError{Reason: ReasonDecode, Dropped: lost,
			Err: fmt.Errorf("sflow: expanded flow sample %d declares %d records, more than %d", cutIndex, cutRecords, maxRecords)}
	case lost > 0:
		return &collector.DecodeError{Reason: ReasonTruncated, Dropped: lost,
			Err: fmt.Errorf("sflow: %d of %d samples run past the end of the datagram", lost, len(pkt.Samples))}
	}
	return nil
}

// classify maps a goflow2 error to a bounded reason.
func classify(err error, data []byte, pkt *sflow.Packet) string {
	switch {
	case len(data) >= 4 && pkt.Version != 5:
		return ReasonBadVersion
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonTruncated
	default:
		return ReasonDecode
	}
}

// agentAddr returns the datagram's agent address, or the sender's when the
// agent did not fill it in.
func agentAddr(agent []byte, sender netip.Addr) netip.Addr {
	if a, ok := netip.AddrFromSlice(agent); ok && !a.IsUnspecified() {
		return a.Unmap()
	}
	return sender.Unmap()
}

// checkExpandedRecords walks the sample headers of an sFlow v5 datagram and
// returns the offset of the first expanded flow sample that declares more
// than maxRecords records (with its index and count), or -1. Anything it
// cannot walk is left to goflow2 to report.
func checkExpandedRecords(data []byte) (cut, index int, records uint32) {
	const expandedCountOffset = 40 // seq, source type, source index, rate, pool, drops, in fmt, in val, out fmt, out val
	if len(data) < 8 || binary.BigEndian.Uint32(data) != 5 {
		return -1, 0, 0
	}
	off := 8
	switch binary.BigEndian.Uint32(data[4:]) {
	case 1:
		off += 4
	case 2:
		off += 16
	default:
		return -1, 0, 0
	}
	off += 12 // sub-agent id, sequence number, uptime
	if len(data) < off+4 {
		return -1, 0, 0
	}
	n := binary.BigEndian.Uint32(data[off:])
	off += 4
	for i := 0; uint32(i) < n && len(data)-off >= 8; i++ {
		format := binary.BigEndian.Uint32(data[off:])
		length := binary.BigEndian.Uint32(data[off+4:])
		body := data[off+8:]
		if uint64(length) > uint64(len(body)) {
			break
		}
		if format == sflow.SAMPLE_FORMAT_EXPANDED_FLOW && length >= expandedCountOffset+4 {
			if c := binary.BigEndian.Uint32(body[expandedCountOffset:]); c > maxRecords {
				return off, i, c
			}
		}
		off += 8 + int(length)
	}
	return -1, 0, 0
}

// addFlow appends the event of one flow sample.
func (d *Decoder) addFlow(b *event.Batch, st *decodeState, dg *datagram, fs *flowSample) {
	var (
		pi          packetInfo
		res         = headerMissing
		frameLen    uint32
		hasFrameLen bool
		missing     bool // declared records absent from the sample

		sw                       sflow.ExtendedSwitch
		rt                       sflow.ExtendedRouter
		gw                       sflow.ExtendedGateway
		hasSw, hasRt, hasGw      bool
		v4                       sflow.SampledIPv4
		v6                       sflow.SampledIPv6
		eth                      sflow.SampledEthernet
		hasV4, hasV6, hasEthRecd bool
	)
	for i := range fs.records {
		switch r := fs.records[i].Data.(type) {
		case nil:
			missing = true
		case sflow.SampledHeader:
			if res == headerMissing { // the first header record describes the packet
				frameLen, hasFrameLen = r.FrameLength, true
				res = parseHeader(r.Protocol, r.HeaderData, &pi)
			}
		case sflow.SampledEthernet:
			eth, hasEthRecd = r, true
		case sflow.SampledIPv4:
			v4, hasV4 = r, true
		case sflow.SampledIPv6:
			v6, hasV6 = r, true
		case sflow.ExtendedSwitch:
			sw, hasSw = r, true
		case sflow.ExtendedRouter:
			rt, hasRt = r, true
		case sflow.ExtendedGateway:
			gw, hasGw = r, true
		}
	}

	// Agents that export decoded records instead of (or besides) the raw
	// header: use them for what the header did not give.
	if !pi.src.IsValid() {
		switch {
		case hasV4:
			fillFromSampledIP(&pi, &v4.SampledIPBase, uint8(v4.Tos))
			if !hasFrameLen {
				frameLen, hasFrameLen = v4.Length, true
			}
		case hasV6:
			fillFromSampledIP(&pi, &v6.SampledIPBase, uint8(v6.Priority))
			if !hasFrameLen {
				frameLen, hasFrameLen = v6.Length, true
			}
		}
	}
	if hasEthRecd && !pi.hasMAC && len(eth.SrcMac) == 6 && len(eth.DstMac) == 6 {
		copy(pi.srcMAC[:], eth.SrcMac)
		copy(pi.dstMAC[:], eth.DstMac)
		pi.hasMAC = true
		if !hasFrameLen {
			frameLen, hasFrameLen = eth.Length, true
		}
	}

	e := b.Add()
	st.open = true
	e.Kind = event.KindFlow
	e.Timestamp = dg.received
	e.Created = dg.received
	e.Observer = dg.observer
	if res == headerTruncated || missing {
		e.Tags |= event.TagTruncated
	}

	scale := max(uint64(fs.rate), 1) // a rate of 0 is invalid; count the packet once
	e.Flow = event.Flow{
		Packets:      scale,
		SamplingRate: uint64(fs.rate),
		Version:      5,
		SourceID:     dg.subAgent,
		UptimeMillis: uint64(dg.uptime),
		HasUptime:    true,
		SFlow:        true,
	}
	if hasFrameLen {
		e.Flow.Bytes = uint64(frameLen) * scale
		e.AddUint(keyInBytes, uint64(frameLen))
	}
	e.AddUint(keyInPkts, 1)
	e.Src.Bytes, e.Src.Packets = e.Flow.Bytes, e.Flow.Packets

	if pi.hasProto {
		e.Flow.Protocol, e.Flow.HasProtocol = pi.proto, true
		e.AddUint(keyProtocol, uint64(pi.proto))
	}
	if pi.hasTOS {
		e.AddUint(keyClassOfService, uint64(pi.tos))
	}
	if pi.hasTTL {
		e.AddUint(keyTTL, uint64(pi.ttl))
	}
	if pi.src.IsValid() {
		e.Src.IP, e.Dst.IP = pi.src, pi.dst
		if pi.src.Is4() {
			e.AddIP(keySrcIPv4, pi.src)
			e.AddIP(keyDstIPv4, pi.dst)
		} else {
			e.AddIP(keySrcIPv6, pi.src)
			e.AddIP(keyDstIPv6, pi.dst)
		}
	}
	if pi.hasPorts {
		e.Src.Port, e.Dst.Port = pi.srcPort, pi.dstPort
		e.AddUint(keySrcPort, uint64(pi.srcPort))
		e.AddUint(keyDstPort, uint64(pi.dstPort))
	}
	if pi.hasTCPFlags {
		e.AddUint(keyTCPFlags, uint64(pi.tcpFlags))
	}
	if pi.hasICMP {
		key := keyICMPv4
		if pi.proto == protoICMPv6 {
			key = keyICMPv6
		}
		e.AddUint(key, uint64(pi.icmpType)<<8|uint64(pi.icmpCode))
		// As NetFlow v5 does: type<<8|code in the destination port, so the
		// Community ID sees them (the encoder writes no ICMP ports).
		e.Dst.Port = uint16(pi.icmpType)<<8 | uint16(pi.icmpCode)
		e.Flow.ICMPType, e.Flow.ICMPCode, e.Flow.HasICMP = pi.icmpType, pi.icmpCode, true
	}

	if fs.inFormat == ifFormatIndex && fs.inValue != ifIndexInternal {
		e.AddUint(keyIngressInterface, uint64(fs.inValue))
	}
	switch {
	case fs.outFormat == ifFormatIndex && fs.outValue != ifIndexInternal:
		e.AddUint(keyEgressInterface, uint64(fs.outValue))
	case fs.outFormat == ifFormatDiscarded:
		e.AddUint(keyForwardingStatus, forwardingDroppedUnknown)
	}

	if pi.hasMAC {
		e.Src.MAC, e.Src.HasMAC = pi.srcMAC, true
		e.Dst.MAC, e.Dst.HasMAC = pi.dstMAC, true
		e.AddField(event.Field{Key: keySrcMAC, Type: event.FieldMAC, B: b.Bytes(pi.srcMAC[:])})
		e.AddField(event.Field{Key: keyDstMAC, Type: event.FieldMAC, B: b.Bytes(pi.dstMAC[:])})
	}

	// The switch's own view of the VLANs beats the tag in the sampled frame;
	// it reports 0 for "none or unknown", which is not worth a field.
	switch {
	case hasSw && sw.SrcVlan != 0:
		e.AddUint(keyVLAN, uint64(sw.SrcVlan))
	case pi.hasVLAN:
		e.AddUint(keyVLAN, uint64(pi.vlan))
	}
	if hasSw && sw.DstVlan != 0 {
		e.AddUint(keyPostVLAN, uint64(sw.DstVlan))
	}
	if pi.hasInnerVLAN {
		e.AddUint(keyCustomerVLAN, uint64(pi.innerVLAN))
	}

	if hasRt {
		if nh, ok := netip.AddrFromSlice(rt.NextHop); ok {
			if nh.Is4() {
				e.AddIP(keyNextHopIPv4, nh)
			} else {
				e.AddIP(keyNextHopIPv6, nh)
			}
		}
		if pi.src.Is6() || (!pi.src.IsValid() && len(rt.NextHop) == 16) {
			e.AddUint(keySrcPrefixIPv6, uint64(rt.SrcMaskLen))
			e.AddUint(keyDstPrefixIPv6, uint64(rt.DstMaskLen))
		} else {
			e.AddUint(keySrcPrefixIPv4, uint64(rt.SrcMaskLen))
			e.AddUint(keyDstPrefixIPv4, uint64(rt.DstMaskLen))
		}
	}
	if hasGw {
		addGateway(e, &gw)
	}

	e.AddUint(keySamplingInterval, uint64(fs.rate))
	d.metrics.headers[res].Inc()
	st.open = false
}

// addGateway adds the BGP facts of an extended_gateway record, read the way
// goflow2's producer reads them: the destination AS is the last AS of the
// path (the router's own AS when the path is empty), and a source AS of 0
// means the router's own AS.
func addGateway(e *event.Event, gw *sflow.ExtendedGateway) {
	if nh, ok := netip.AddrFromSlice(gw.NextHop); ok {
		if nh.Is4() {
			e.AddIP(keyBGPNextHopIPv4, nh)
		} else {
			e.AddIP(keyBGPNextHopIPv6, nh)
		}
	}
	src := gw.SrcAS
	if src == 0 {
		src = gw.AS
	}
	e.AddUint(keyBGPSrcAS, uint64(src))
	dst := gw.AS
	if n := len(gw.ASPath); n > 0 {
		dst = gw.ASPath[n-1]
		e.AddUint(keyBGPNextAdjacentAS, uint64(gw.ASPath[0]))
	}
	e.AddUint(keyBGPDstAS, uint64(dst))
	if gw.SrcPeerAS != 0 {
		e.AddUint(keyBGPPrevAdjacentAS, uint64(gw.SrcPeerAS))
	}
}

// fillFromSampledIP copies a sampled_ipv4/sampled_ipv6 record into pi.
func fillFromSampledIP(pi *packetInfo, r *sflow.SampledIPBase, tos uint8) {
	src, ok1 := netip.AddrFromSlice(r.SrcIP)
	dst, ok2 := netip.AddrFromSlice(r.DstIP)
	if !ok1 || !ok2 {
		return
	}
	pi.src, pi.dst = src, dst
	pi.proto, pi.hasProto = uint8(r.Protocol), true
	pi.tos, pi.hasTOS = tos, true
	switch pi.proto {
	case protoTCP:
		pi.tcpFlags, pi.hasTCPFlags = uint16(r.TcpFlags), true
		fallthrough
	case protoUDP, protoSCTP, protoUDPLite:
		pi.srcPort, pi.dstPort, pi.hasPorts = uint16(r.SrcPort), uint16(r.DstPort), true
	}
}
