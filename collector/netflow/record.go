package netflow

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// Presence bits of recState.
const (
	fProto uint64 = 1 << iota
	fInBytes
	fInPkts
	fOutBytes
	fOutPkts
	fInitOctets
	fRespOctets
	fInitPkts
	fRespPkts
	fSrcMAC
	fDstMAC
	fStartUp
	fEndUp
	fStartDelta
	fEndDelta
	fSysInit
	fDuration
	fInterval
	fRandInterval
	fSampler
	fSelector
	fPktInterval
	fPktSpace
	fSize
	fPopulation
	fRevBytes
	fRevPkts
	fICMPTypeCode
	fICMPType
	fICMPCode
	fAlgorithm
	fProbability
	fDstPort
)

// recState gathers the typed facts of one record while its fields are
// decoded; finishFlow turns them into Event fields.
type recState struct {
	f                      uint64
	srcIP, dstIP           netip.Addr
	srcMAC, dstMAC         [6]byte
	srcPort, dstPort       uint16
	proto                  uint8
	inBytes, inPkts        uint64
	outBytes, outPkts      uint64
	initOctets, respOctets uint64
	initPkts, respPkts     uint64
	revBytes, revPkts      uint64
	start, end             int64 // absolute, unix ns; 0 unknown
	startUp, endUp         uint32
	startDelta, endDelta   uint64 // microseconds before export time
	sysInitMs              uint64
	durationNs             int64
	interval, randInterval uint64
	samplerID, selectorID  uint64
	pktInterval, pktSpace  uint64
	size, population       uint64
	algorithm              uint64  // PSAMP selectorAlgorithm (RFC 5477 §8.2.1)
	probability            float64 // PSAMP samplingProbability
	icmpTypeCode           uint16  // IE 32/139, or type (176/178) and code (177/179)
}

// beUint reads a big-endian unsigned integer of 1 to 8 bytes (RFC 7011 §6.2
// reduced-size encoding).
func beUint(v []byte) uint64 {
	switch len(v) {
	case 1:
		return uint64(v[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(v))
	case 4:
		return uint64(binary.BigEndian.Uint32(v))
	case 8:
		return binary.BigEndian.Uint64(v)
	}
	var u uint64
	for _, c := range v {
		u = u<<8 | uint64(c)
	}
	return u
}

// ntpToUnixNs converts an NTP timestamp (RFC 5905: seconds since 1900 and a
// 32-bit fraction) to unix nanoseconds, rounding the fraction to unit
// nanoseconds (1000 for dateTimeMicroseconds); 0 stays 0 (unknown).
func ntpToUnixNs(v uint64, unit uint64) int64 {
	if v == 0 {
		return 0
	}
	sec := int64(v >> 32)
	if sec&0x80000000 == 0 {
		sec += 1 << 32 // era 1: after 2036-02-07
	}
	sec -= 2208988800
	perSec := 1e9 / unit
	frac := ((v&0xffffffff)*perSec + 1<<31) >> 32 * unit
	return sec*1e9 + int64(frac)
}

// field writes one decoded field into e (when the record is a flow) and
// feeds the typed facts of st.
func (d *Decoder) field(op *fieldOp, v []byte, e *event.Event, st *recState, ex *exporter, b *event.Batch) {
	var u uint64
	switch op.kind {
	case vUint:
		u = beUint(v)
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldUint, U: u})
		}
	case vIP:
		var ip netip.Addr
		if len(v) == 4 {
			ip = netip.AddrFrom4([4]byte(v))
		} else {
			ip = netip.AddrFrom16([16]byte(v))
		}
		// A record may carry both families of an address with one of them
		// all zeros (the one the flow is not); the real address wins,
		// whatever the field order.
		switch op.h {
		case hSrcIP:
			if !st.srcIP.IsValid() || !ip.IsUnspecified() {
				st.srcIP = ip
			}
		case hDstIP:
			if !st.dstIP.IsValid() || !ip.IsUnspecified() {
				st.dstIP = ip
			}
		}
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldIP, IP: ip})
		}
		return
	case vTimeMilli:
		u = beUint(v)
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldTime, U: u * 1e6})
		}
	case vTimeSec:
		u = beUint(v)
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldTime, U: u * 1e9})
		}
	case vTimeNTPMicro, vTimeNTPNano:
		unit := uint64(1)
		if op.kind == vTimeNTPMicro {
			unit = 1000
		}
		u = uint64(ntpToUnixNs(binary.BigEndian.Uint64(v), unit))
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldTime, U: u})
		}
	case vInt:
		u = beUint(v)
		if n := uint(len(v)) * 8; n < 64 && u&(1<<(n-1)) != 0 {
			u |= ^uint64(0) << n // sign-extend
		}
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldInt, U: u})
		}
	case vFloat:
		if len(v) == 4 {
			u = math.Float64bits(float64(math.Float32frombits(binary.BigEndian.Uint32(v))))
		} else {
			u = binary.BigEndian.Uint64(v)
		}
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldFloat, U: u})
		}
	case vBool:
		if v[0] == 1 { // RFC 7011 §6.1.5: 1 is true, 2 is false
			u = 1
		}
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldBool, U: u})
		}
	case vMAC:
		switch op.h {
		case hSrcMAC:
			st.srcMAC = [6]byte(v)
			st.f |= fSrcMAC
		case hDstMAC:
			st.dstMAC = [6]byte(v)
			st.f |= fDstMAC
		}
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldMAC, B: b.Bytes(v)})
		}
		return
	case vString:
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldString, S: ex.intern(v)})
		}
		return
	default: // vHex
		if e != nil {
			e.NetFlow = append(e.NetFlow, event.Field{Key: op.key, Type: event.FieldHex, B: b.Bytes(v)})
		}
		if op.h == hNone {
			return
		}
		u = beUint(v) // RFC 5103 reverse counters: kept as hex, used as counters
	}
	if op.h != hNone {
		st.set(op.h, u)
	}
}

// set records the integer fact of handler h.
func (st *recState) set(h handler, u uint64) {
	switch h {
	case hInBytes:
		st.inBytes = u
		st.f |= fInBytes
	case hInPkts:
		st.inPkts = u
		st.f |= fInPkts
	case hOutBytes:
		st.outBytes = u
		st.f |= fOutBytes
	case hOutPkts:
		st.outPkts = u
		st.f |= fOutPkts
	case hInitiatorOctets:
		st.initOctets = u
		st.f |= fInitOctets
	case hResponderOctets:
		st.respOctets = u
		st.f |= fRespOctets
	case hInitiatorPackets:
		st.initPkts = u
		st.f |= fInitPkts
	case hResponderPackets:
		st.respPkts = u
		st.f |= fRespPkts
	case hReverseBytes:
		st.revBytes = u
		st.f |= fRevBytes
	case hReversePackets:
		st.revPkts = u
		st.f |= fRevPkts
	case hProto:
		st.proto = uint8(u)
		st.f |= fProto
	case hSrcPort:
		st.srcPort = uint16(u)
	case hDstPort:
		st.dstPort = uint16(u)
		st.f |= fDstPort
	case hICMPTypeCode:
		// IPv4 and IPv6 twins (IE 32, 139): the one of the flow's family
		// is not all zeros.
		if u != 0 || st.f&fICMPTypeCode == 0 {
			st.icmpTypeCode = uint16(u)
		}
		st.f |= fICMPTypeCode
	case hICMPType:
		st.icmpTypeCode = st.icmpTypeCode&0x00ff | uint16(u)<<8
		st.f |= fICMPType
	case hICMPCode:
		st.icmpTypeCode = st.icmpTypeCode&0xff00 | uint16(u)&0xff
		st.f |= fICMPCode
	case hStartUptime:
		st.startUp = uint32(u)
		st.f |= fStartUp
	case hEndUptime:
		st.endUp = uint32(u)
		st.f |= fEndUp
	case hStartSec:
		if u != 0 {
			st.start = int64(u) * 1e9
		}
	case hEndSec:
		if u != 0 {
			st.end = int64(u) * 1e9
		}
	case hStartMilli:
		if u != 0 {
			st.start = int64(u) * 1e6
		}
	case hEndMilli:
		if u != 0 {
			st.end = int64(u) * 1e6
		}
	case hStartNTP:
		st.start = int64(u)
	case hEndNTP:
		st.end = int64(u)
	case hStartDeltaMicro:
		st.startDelta = u
		st.f |= fStartDelta
	case hEndDeltaMicro:
		st.endDelta = u
		st.f |= fEndDelta
	case hSysInitMilli:
		if u != 0 {
			st.sysInitMs = u
			st.f |= fSysInit
		}
	case hDurationMilli:
		st.durationNs = int64(u) * 1e6
		st.f |= fDuration
	case hDurationMicro:
		st.durationNs = int64(u) * 1e3
		st.f |= fDuration
	case hSamplingInterval:
		st.interval = u
		st.f |= fInterval
	case hSamplerRandomInterval:
		st.randInterval = u
		st.f |= fRandInterval
	case hSamplerID:
		st.samplerID = u
		st.f |= fSampler
	case hSelectorID:
		st.selectorID = u
		st.f |= fSelector
	case hPacketInterval:
		st.pktInterval = u
		st.f |= fPktInterval
	case hPacketSpace:
		st.pktSpace = u
		st.f |= fPktSpace
	case hSamplingSize:
		st.size = u
		st.f |= fSize
	case hSamplingPopulation:
		st.population = u
		st.f |= fPopulation
	case hSelectorAlgorithm:
		st.algorithm = u
		st.f |= fAlgorithm
	case hSamplingProbability:
		st.probability = math.Float64frombits(u)
		st.f |= fProbability
	}
}

// PSAMP selector algorithms (RFC 5477 §8.2.1, IANA "PSAMP Parameters")
// whose parameters give a 1-in-N packet sampling rate.
const (
	algoCountBased  = 1 // systematic count-based: samplingPacketInterval, samplingPacketSpace
	algoNOutOfN     = 3 // random n-out-of-N: samplingSize, samplingPopulation
	algoProbability = 4 // uniform probabilistic: samplingProbability
)

// ownRate is the sampling rate a record states itself (RFC 3954 SAMPLING_INTERVAL,
// RFC 7012 samplerRandomInterval, RFC 5477 count-based, random n-out-of-N and
// uniform probabilistic parameters), or 0. When the record names its PSAMP
// selectorAlgorithm, the parameters of that algorithm win over any others it
// carries; a selector that is no 1-in-N packet sampling (time-based,
// filtering) leaves only the NetFlow v9 interval fields to go by.
func (st *recState) ownRate() uint64 {
	if st.f&fAlgorithm != 0 && st.algorithm != 0 { // 0 is reserved: none named
		switch st.algorithm {
		case algoCountBased:
			if r := st.countRate(); r > 0 {
				return r
			}
		case algoNOutOfN:
			if r := st.nOutOfNRate(); r > 0 {
				return r
			}
		case algoProbability:
			if r := st.probabilityRate(); r > 0 {
				return r
			}
		default:
			return st.intervalRate()
		}
	}
	if r := st.intervalRate(); r > 0 {
		return r
	}
	if r := st.countRate(); r > 0 {
		return r
	}
	if r := st.nOutOfNRate(); r > 0 {
		return r
	}
	return st.probabilityRate()
}

// ownRateBits are the fields ownRate reads; most records have none.
const ownRateBits = fInterval | fRandInterval | fPktInterval | fSize | fPopulation | fAlgorithm | fProbability

// intervalRate is the rate of NetFlow v9 SAMPLING_INTERVAL (IE 34) or
// samplerRandomInterval (IE 50), or 0.
func (st *recState) intervalRate() uint64 {
	switch {
	case st.f&fInterval != 0 && st.interval > 0:
		return st.interval
	case st.f&fRandInterval != 0 && st.randInterval > 0:
		return st.randInterval
	}
	return 0
}

// countRate is the rate of systematic count-based sampling: interval packets
// selected, then space packets skipped.
func (st *recState) countRate() uint64 {
	if st.f&fPktInterval == 0 || st.pktInterval == 0 {
		return 0
	}
	return (st.pktInterval + st.pktSpace) / st.pktInterval
}

// nOutOfNRate is the rate of random n-out-of-N sampling: samplingSize
// packets out of each samplingPopulation.
func (st *recState) nOutOfNRate() uint64 {
	if st.f&fSize == 0 || st.f&fPopulation == 0 || st.size == 0 {
		return 0
	}
	return st.population / st.size
}

// probabilityRate is 1/samplingProbability rounded, for probabilities in
// (0, 1]; 0 otherwise.
func (st *recState) probabilityRate() uint64 {
	p := st.probability
	if st.f&fProbability == 0 || !(p > 0 && p <= 1) {
		return 0
	}
	r := math.Round(1 / p)
	if r >= 1<<53 {
		return 0
	}
	return uint64(r)
}

// applyOptions stores what an options record says about the exporter:
// sampling rates (per sampler/selector or exporter-wide) and the system
// init time.
func (d *Decoder) applyOptions(ex *exporter, st *recState) {
	if st.f&fSysInit != 0 && ex.sysInitMs != st.sysInitMs {
		ex.sysInitMs = st.sysInitMs
		d.dirty.Store(true)
	}
	rate := st.ownRate()
	if rate == 0 {
		return
	}
	keyed := false
	if st.f&fSampler != 0 {
		ex.setSampler(samplerKey{48, st.samplerID}, rate, d)
		keyed = true
	}
	if st.f&fSelector != 0 {
		ex.setSampler(samplerKey{302, st.selectorID}, rate, d)
		keyed = true
	}
	if !keyed && ex.rate != rate {
		ex.rate = rate
		d.dirty.Store(true)
	}
}

func (ex *exporter) setSampler(k samplerKey, rate uint64, d *Decoder) {
	if old, ok := ex.samplers[k]; ok && old == rate {
		return
	}
	if ex.samplers == nil {
		ex.samplers = make(map[samplerKey]uint64)
	}
	if _, ok := ex.samplers[k]; !ok && len(ex.samplers) >= maxSamplers {
		return
	}
	ex.samplers[k] = rate
	ex.onlyRate = 0
	if len(ex.samplers) == 1 {
		ex.onlyRate = rate
	}
	if d != nil {
		d.dirty.Store(true)
	}
}

// recordRate picks the sampling rate of a data record: its own sampling
// fields, else its sampler's/selector's rate, else the exporter's rate, else
// the only sampler's rate when the record names none. unknown says that the
// record names a sampler whose rate is not known.
func (ex *exporter) recordRate(st *recState) (rate uint64, unknown bool) {
	if st.f&ownRateBits != 0 {
		if r := st.ownRate(); r > 0 {
			return r, false
		}
	}
	named := st.f&(fSampler|fSelector) != 0
	if named && ex.samplers != nil {
		if st.f&fSampler != 0 {
			if r, ok := ex.samplers[samplerKey{48, st.samplerID}]; ok {
				return r, false
			}
		}
		if st.f&fSelector != 0 {
			if r, ok := ex.samplers[samplerKey{302, st.selectorID}]; ok {
				return r, false
			}
		}
	}
	if ex.rate > 0 {
		return ex.rate, false
	}
	if !named && ex.onlyRate > 0 {
		return ex.onlyRate, false
	}
	return 0, named
}

// intern returns v as a string, shared per exporter for repeated values
// (interface and application names) so that they do not allocate per record.
func (ex *exporter) intern(v []byte) string {
	for len(v) > 0 && v[len(v)-1] == 0 { // NUL padding of fixed-length strings
		v = v[:len(v)-1]
	}
	if len(v) == 0 {
		return ""
	}
	if ex == nil {
		return string(v)
	}
	if s, ok := ex.strs[string(v)]; ok {
		return s
	}
	s := string(v)
	if len(ex.strs) < maxInterned && len(v) <= maxInternedLen {
		if ex.strs == nil {
			ex.strs = make(map[string]string)
		}
		ex.strs[s] = s
	}
	return s
}

// finishFlow fills the top-level facts of e from st and the packet header.
// rate is the v5 header rate; for v9/IPFIX it is looked up from ex.
func (d *Decoder) finishFlow(e *event.Event, st *recState, h *header, ex *exporter, rate uint64) {
	e.Kind = event.KindFlow
	e.Created = h.received
	e.Observer = h.observer
	e.Src.IP, e.Dst.IP = st.srcIP, st.dstIP
	e.Src.Port, e.Dst.Port = st.srcPort, st.dstPort
	// ICMP has no ports; exporters put type<<8|code in the destination port
	// (v5, many v9) or in their own IEs. Carry the IE value in Dst.Port so
	// the Community ID sees type and code, as it does for v5.
	if st.f&(fICMPTypeCode|fICMPType|fICMPCode) != 0 && st.dstPort == 0 && (st.proto == 1 || st.proto == 58) {
		e.Dst.Port = st.icmpTypeCode
	}
	// icmp.type/code: from the ICMP IEs, else from the destination port
	// where the exporter packs type*256+code (v5, most v9); a zero IE next
	// to a packed port is a placeholder. A record with neither says nothing.
	if st.f&fProto != 0 && (st.proto == 1 || st.proto == 58) {
		hasIE := st.f&(fICMPTypeCode|fICMPType|fICMPCode) != 0
		switch {
		case hasIE && (st.icmpTypeCode != 0 || st.f&fDstPort == 0 || st.dstPort == 0):
			e.Flow.ICMPType, e.Flow.ICMPCode, e.Flow.HasICMP = uint8(st.icmpTypeCode>>8), uint8(st.icmpTypeCode), true
		case st.f&fDstPort != 0:
			e.Flow.ICMPType, e.Flow.ICMPCode, e.Flow.HasICMP = uint8(st.dstPort>>8), uint8(st.dstPort), true
		}
	}
	if st.f&fSrcMAC != 0 {
		e.Src.MAC, e.Src.HasMAC = st.srcMAC, true
	}
	if st.f&fDstMAC != 0 {
		e.Dst.MAC, e.Dst.HasMAC = st.dstMAC, true
	}
	fl := &e.Flow
	if st.f&fProto != 0 {
		fl.Protocol, fl.HasProtocol = st.proto, true
	}
	fl.Version = h.version
	fl.SourceID = h.sourceID
	if h.hasUptime {
		fl.UptimeMillis, fl.HasUptime = uint64(h.uptimeMs), true
	}

	if ex != nil {
		var unknown bool
		rate, unknown = ex.recordRate(st)
		if unknown {
			e.Tags |= event.TagSamplingUnknown
		}
	}
	scale := func(v uint64) uint64 {
		if rate > 1 {
			return v * rate
		}
		return v
	}
	inB, inP := st.inBytes, st.inPkts
	if st.f&fInBytes == 0 {
		inB = st.initOctets
	}
	if st.f&fInPkts == 0 {
		inP = st.initPkts
	}
	outB, outP := st.outBytes, st.outPkts
	switch {
	case st.f&fOutBytes != 0:
	case st.f&fRespOctets != 0:
		outB = st.respOctets
	default:
		outB = st.revBytes
	}
	switch {
	case st.f&fOutPkts != 0:
	case st.f&fRespPkts != 0:
		outP = st.respPkts
	default:
		outP = st.revPkts
	}
	e.Src.Bytes, e.Src.Packets = scale(inB), scale(inP)
	e.Dst.Bytes, e.Dst.Packets = scale(outB), scale(outP)
	fl.Bytes, fl.Packets = scale(inB+outB), scale(inP+outP)
	// Counters the record reports are written even when 0 (an exporter
	// that counted nothing said so); those it lacks stay unknown.
	e.Src.HasBytes = st.f&(fInBytes|fInitOctets) != 0
	e.Src.HasPackets = st.f&(fInPkts|fInitPkts) != 0
	e.Dst.HasBytes = st.f&(fOutBytes|fRespOctets|fRevBytes) != 0
	e.Dst.HasPackets = st.f&(fOutPkts|fRespPkts|fRevPkts) != 0
	fl.HasBytes = e.Src.HasBytes || e.Dst.HasBytes
	fl.HasPackets = e.Src.HasPackets || e.Dst.HasPackets
	fl.SamplingRate = rate

	start, end := st.start, st.end
	if start == 0 && st.f&fStartDelta != 0 && h.exportNs != 0 {
		start = h.exportNs - int64(st.startDelta)*1e3
	}
	if end == 0 && st.f&fEndDelta != 0 && h.exportNs != 0 {
		end = h.exportNs - int64(st.endDelta)*1e3
	}
	if start == 0 && st.f&fStartUp != 0 {
		start = uptimeToUnixNs(st.startUp, h, st, ex)
	}
	if end == 0 && st.f&fEndUp != 0 {
		end = uptimeToUnixNs(st.endUp, h, st, ex)
	}
	if st.f&fDuration != 0 {
		if start != 0 && end == 0 {
			end = start + st.durationNs
		} else if end != 0 && start == 0 {
			start = end - st.durationNs
		}
	}
	if start != 0 {
		fl.Start = time.Unix(0, start).UTC()
	}
	if end != 0 {
		fl.End = time.Unix(0, end).UTC()
	}
	switch {
	case end != 0:
		e.Timestamp = fl.End
	case start != 0:
		e.Timestamp = fl.Start
	case h.exportNs != 0:
		e.Timestamp = time.Unix(0, h.exportNs).UTC()
	default:
		e.Timestamp = h.received
		e.Tags |= event.TagTimeFromReceive
	}
}

// uptimeToUnixNs converts a sysUptime timestamp (ms since the exporter
// booted) to unix ns. With a header uptime (v5/v9) the difference to the
// header uptime is taken modulo 2^32 as a signed value, so a counter that
// wrapped between flow start and export (every 49.7 days), or a timestamp a
// little after the header's, still lands next to the export time. IPFIX has
// no header uptime and needs systemInitTimeMilliseconds (IE 160).
func uptimeToUnixNs(v uint32, h *header, st *recState, ex *exporter) int64 {
	if h.hasUptime && h.exportNs != 0 {
		return h.exportNs - int64(int32(h.uptimeMs-v))*1e6
	}
	init := st.sysInitMs
	if init == 0 && ex != nil {
		init = ex.sysInitMs
	}
	if init == 0 {
		return 0
	}
	return int64(init+uint64(v)) * 1e6
}
