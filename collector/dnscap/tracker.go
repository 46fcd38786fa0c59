package dnscap

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/sluicelab/sluice/internal/event"
)

// txKey identifies a transaction: a query and its response share it.
type txKey struct {
	client, server netip.Addr
	cport, sport   uint16
	id             uint16
	proto          uint8
	qtype, qclass  uint16
	qname          string // lower-cased, as written to dns.question.name
}

// pendingQuery is a query waiting for its response.
type pendingQuery struct {
	key    txKey
	t      time.Time
	size   int
	opcode int
	rd, cd bool
	ad     bool
	opt    ednsInfo
	done   bool // answered, expired or evicted: its queue slot is stale
}

type ednsInfo struct {
	present  bool
	udpSize  uint16
	version  uint8
	do       bool
	extRcode uint8
}

// streamKey is one direction of a TCP connection.
type streamKey struct {
	src, dst     netip.Addr
	sport, dport uint16
}

// stream reassembles one direction of a DNS-over-TCP connection: 2-byte
// length-prefixed messages.
type stream struct {
	next uint32
	buf  []byte
	last time.Time
}

// maxTCPBuffer is the most a stream buffers: one whole DNS message and
// its length prefix.
const maxTCPBuffer = 2 + 65535

// tcpIdle is how long a TCP stream with no segment is kept.
const tcpIdle = 60 * time.Second

// tracker turns the frames of one interface into transaction events. It
// is not safe for concurrent use: one reader goroutine owns it.
type tracker struct {
	cfg     Config
	iface   string
	index   event.IndexRef
	m       *metrics
	ports   [65536 / 64]uint64 // bit set of DNS ports
	pending map[txKey]*pendingQuery
	queue   []*pendingQuery // in arrival order (= expiry order); stale entries skipped
	head    int
	streams map[streamKey]*stream
	pkt     packet
	msg     dns.Msg
	scratch []byte
}

func newTracker(cfg Config, iface string, index event.IndexRef, m *metrics) *tracker {
	t := &tracker{cfg: cfg, iface: iface, index: index, m: m,
		pending: make(map[txKey]*pendingQuery), streams: make(map[streamKey]*stream)}
	for _, p := range cfg.Ports {
		t.ports[p/64] |= 1 << (p % 64)
	}
	return t
}

func (t *tracker) dnsPort(p uint16) bool { return t.ports[p/64]&(1<<(p%64)) != 0 }

// frame handles one captured frame read at now; finished transactions
// are added to b.
func (t *tracker) frame(f []byte, now time.Time, b *event.Batch) {
	p := &t.pkt
	parseFrame(f, p)
	switch {
	case p.malformed >= 0:
		t.m.malformed[p.malformed].Inc()
		return
	case p.ignored >= 0:
		t.m.ignored[p.ignored].Inc()
		return
	case !t.dnsPort(p.sport) && !t.dnsPort(p.dport):
		t.m.ignored[ignoredPort].Inc()
		return
	}
	if p.proto == protoUDP {
		if len(p.payload) == 0 {
			t.m.ignored[ignoredNoPayload].Inc()
			return
		}
		t.message(p, p.payload, now, b)
		return
	}
	t.segment(p, now, b)
}

// segment follows a TCP segment of a DNS connection.
func (t *tracker) segment(p *packet, now time.Time, b *event.Batch) {
	k := streamKey{src: p.src, dst: p.dst, sport: p.sport, dport: p.dport}
	if p.tcpFlags&tcpRST != 0 {
		delete(t.streams, k)
		delete(t.streams, streamKey{src: p.dst, dst: p.src, sport: p.dport, dport: p.sport})
		t.m.ignored[ignoredNoPayload].Inc()
		return
	}
	syn := p.tcpFlags&tcpSYN != 0
	seq := p.seq
	if syn {
		seq++ // the SYN takes one sequence number; data (TCP Fast Open) follows it
	}
	s := t.streams[k]
	if s == nil || syn {
		if len(p.payload) == 0 && !syn {
			t.m.ignored[ignoredNoPayload].Inc()
			return
		}
		if s == nil && len(t.streams) >= t.cfg.MaxTCPStreams {
			t.m.tcpDrops[tcpTableFull].Inc()
			return
		}
		if s == nil {
			s = &stream{}
			t.streams[k] = s
		}
		// Without its SYN, a stream is taken to start at a message.
		s.next, s.buf = seq, s.buf[:0]
	}
	s.last = now
	data := p.payload
	if len(data) == 0 {
		if p.tcpFlags&tcpFIN != 0 {
			delete(t.streams, k)
		}
		t.m.ignored[ignoredNoPayload].Inc()
		return
	}
	switch d := int32(seq - s.next); {
	case d > 0:
		// A gap: the missing bytes may come later, but buffering out of
		// order is not done; the stream stalls until FIN, RST or idle.
		t.m.tcpDrops[tcpOutOfOrder].Inc()
		return
	case d < 0:
		if int(-d) >= len(data) {
			return // a retransmission of what was had
		}
		data = data[-d:]
	}
	if len(s.buf)+len(data) > maxTCPBuffer {
		t.m.tcpDrops[tcpOversize].Inc()
		delete(t.streams, k)
		return
	}
	s.buf = append(s.buf, data...)
	s.next += uint32(len(data))
	buf := s.buf
	for len(buf) >= 2 {
		n := int(binary.BigEndian.Uint16(buf))
		if n < 12 { // shorter than a DNS header: not at a message boundary
			t.m.malformed[malformedTCPLength].Inc()
			buf = buf[:0]
			break
		}
		if len(buf) < 2+n {
			break
		}
		t.message(p, buf[2:2+n], now, b)
		buf = buf[2+n:]
	}
	s.buf = s.buf[:copy(s.buf, buf)]
	if p.tcpFlags&tcpFIN != 0 {
		delete(t.streams, k)
	}
}

// message handles one DNS message of packet p.
func (t *tracker) message(p *packet, raw []byte, now time.Time, b *event.Batch) {
	m := &t.msg
	*m = dns.Msg{}
	if err := m.Unpack(raw); err != nil || len(m.Question) != 1 {
		// A message with no question (or several) cannot be paired and
		// has no name to write.
		t.m.malformed[malformedDNS].Inc()
		return
	}
	q := &m.Question[0]
	k := txKey{id: m.Id, proto: p.proto, qtype: q.Qtype, qclass: q.Qclass, qname: questionName(q.Name)}
	if m.Response {
		k.client, k.cport, k.server, k.sport = p.dst, p.dport, p.src, p.sport
	} else {
		k.client, k.cport, k.server, k.sport = p.src, p.sport, p.dst, p.dport
	}
	if !m.Response {
		if _, dup := t.pending[k]; dup {
			t.m.duplicates.Inc()
			return
		}
		if len(t.pending) >= t.cfg.MaxPending {
			t.evictOldest(b)
		}
		pq := &pendingQuery{key: k, t: now, size: len(raw), opcode: m.Opcode, rd: m.RecursionDesired,
			cd: m.CheckingDisabled, ad: m.AuthenticatedData, opt: edns(m)}
		t.pending[k] = pq
		t.queue = append(t.queue, pq)
		t.compactQueue()
		return
	}
	pq := t.pending[k]
	if pq != nil {
		pq.done = true
		delete(t.pending, k)
		t.emit(b, pq, m, len(raw), now, resultAnswered)
		return
	}
	t.emit(b, &pendingQuery{key: k, t: now, opcode: m.Opcode}, m, len(raw), now, resultResponseOnly)
}

// questionName is a question's name as dns.question.name has it:
// lower-cased, without the trailing dot ("." for the root).
func questionName(n string) string {
	if len(n) > 1 {
		n = strings.TrimSuffix(n, ".")
	}
	return strings.ToLower(n)
}

func edns(m *dns.Msg) ednsInfo {
	o := m.IsEdns0()
	if o == nil {
		return ednsInfo{}
	}
	return ednsInfo{present: true, udpSize: o.UDPSize(), version: o.Version(), do: o.Do()}
}

// expire writes the queries that waited longer than the timeout, and
// forgets idle TCP streams.
func (t *tracker) expire(now time.Time, b *event.Batch) {
	for t.head < len(t.queue) {
		pq := t.queue[t.head]
		if !pq.done {
			if now.Sub(pq.t) < t.cfg.Timeout {
				break
			}
			pq.done = true
			delete(t.pending, pq.key)
			t.emit(b, pq, nil, 0, now, resultNoResponse)
		}
		t.queue[t.head] = nil
		t.head++
	}
	if t.head == len(t.queue) {
		t.queue, t.head = t.queue[:0], 0
	}
	for k, s := range t.streams {
		if now.Sub(s.last) > tcpIdle {
			delete(t.streams, k)
		}
	}
	if t.m != nil {
		t.m.pending.WithLabelValues(t.iface).Set(float64(len(t.pending)))
	}
}

// evictOldest writes the oldest pending query without a response.
func (t *tracker) evictOldest(b *event.Batch) {
	for t.head < len(t.queue) {
		pq := t.queue[t.head]
		t.queue[t.head] = nil
		t.head++
		if !pq.done {
			pq.done = true
			delete(t.pending, pq.key)
			t.emit(b, pq, nil, 0, time.Time{}, resultEvicted)
			return
		}
	}
}

// compactQueue drops the stale slots once they are most of the queue, so
// that it stays within twice the pending queries.
func (t *tracker) compactQueue() {
	live := len(t.queue) - t.head
	if live < 1024 || live <= 2*len(t.pending) {
		return
	}
	t.queue = slices.DeleteFunc(t.queue[t.head:], func(pq *pendingQuery) bool { return pq.done })
	t.head = 0
}

// emit adds the transaction of pq (and r, its response: nil when there is
// none) to b.
func (t *tracker) emit(b *event.Batch, pq *pendingQuery, r *dns.Msg, rsize int, rtime time.Time, result int) {
	if t.m != nil {
		t.m.transactions[result].Inc()
	}
	e := b.Add()
	e.Kind = event.KindDNS
	e.Index = t.index
	e.Timestamp = pq.t.UTC()
	e.Created = time.Now().UTC()
	k := &pq.key
	e.Src = event.Endpoint{IP: k.client, Port: k.cport, Bytes: uint64(pq.size)}
	e.Dst = event.Endpoint{IP: k.server, Port: k.sport, Bytes: uint64(rsize)}
	e.Flow.Protocol, e.Flow.HasProtocol = k.proto, true
	e.Syslog.Dataset = "sluice.dns"

	str := func(key, v string) { e.AddParsed(event.Field{Key: key, Type: event.FieldString, S: v}) }
	num := func(key string, v uint64) { e.AddParsed(event.Field{Key: key, Type: event.FieldUint, U: v}) }
	str("event.category", "network")
	str("event.type", "protocol")
	str("network.protocol", "dns")
	if n := uint64(pq.size) + uint64(rsize); n > 0 {
		// ECS: both directions, the sum of source.bytes and
		// destination.bytes (what the console sums for DNS bytes).
		num("network.bytes", n)
	}
	if t.iface != "" {
		str("observer.ingress.interface.name", t.iface)
	}
	num("dns.id", uint64(k.id))
	str("dns.op_code", opcodeName(pq.opcode))
	str("dns.question.name", k.qname)
	str("dns.question.type", typeName(k.qtype))
	str("dns.question.class", className(k.qclass))
	opt := pq.opt
	if r == nil {
		str("dns.type", "query")
		str("event.outcome", "unknown")
		if result == resultEvicted {
			str("error.message", "no response: the table of pending queries was full (dns.capture.max_pending)")
		} else {
			str("error.message", "no response within dns.capture.timeout")
		}
		t.flags(e, false, false, pq.rd, false, pq.ad, pq.cd, opt.do)
	} else {
		str("dns.type", "answer")
		if result == resultAnswered {
			num("event.duration", uint64(max(rtime.Sub(pq.t), 0)))
		}
		if ro := edns(r); ro.present {
			opt = ro
		}
		str("dns.response_code", rcodeName(r.Rcode))
		t.flags(e, r.Authoritative, r.Truncated, r.RecursionDesired, r.RecursionAvailable, r.AuthenticatedData, r.CheckingDisabled, opt.do)
		num("dns.answers_count", uint64(len(r.Answer)))
		num("dns.authorities_count", uint64(len(r.Ns)))
		num("dns.additionals_count", uint64(len(r.Extra)))
		t.answers(e, b, r.Answer)
	}
	if opt.present {
		num("dns.opt.udp_size", uint64(opt.udpSize))
		num("dns.opt.version", uint64(opt.version))
		e.AddParsed(event.Field{Key: "dns.opt.do", Type: event.FieldBool, U: b2u(opt.do)})
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// flags writes dns.header_flags (one value each: an array).
func (t *tracker) flags(e *event.Event, aa, tc, rd, ra, ad, cd, do bool) {
	for _, f := range [...]struct {
		on   bool
		name string
	}{{aa, "AA"}, {tc, "TC"}, {rd, "RD"}, {ra, "RA"}, {ad, "AD"}, {cd, "CD"}, {do, "DO"}} {
		if f.on {
			e.AddParsed(event.Field{Key: "dns.header_flags", Type: event.FieldString, S: f.name})
		}
	}
}

// answers writes dns.answers (one JSON object each) and dns.resolved_ip
// (one per A/AAAA answer), at most cfg.MaxAnswers.
func (t *tracker) answers(e *event.Event, b *event.Batch, rrs []dns.RR) {
	for i, rr := range rrs {
		if i >= t.cfg.MaxAnswers {
			break
		}
		h := rr.Header()
		var data string
		var ip netip.Addr
		switch v := rr.(type) {
		case *dns.A:
			ip, _ = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			ip, _ = netip.AddrFromSlice(v.AAAA.To16())
		case *dns.CNAME:
			data = questionName(v.Target)
		case *dns.NS:
			data = questionName(v.Ns)
		case *dns.PTR:
			data = questionName(v.Ptr)
		case *dns.MX:
			data = strconv.Itoa(int(v.Preference)) + " " + questionName(v.Mx)
		case *dns.TXT:
			data = strings.Join(v.Txt, " ")
		default:
			data = strings.TrimPrefix(rr.String(), h.String())
		}
		if ip.IsValid() {
			data = ip.String()
		}
		j := t.scratch[:0]
		j = append(j, `{"name":`...)
		j = event.AppendJSONString(j, questionName(h.Name))
		j = append(j, `,"type":`...)
		j = event.AppendJSONString(j, typeName(h.Rrtype))
		j = append(j, `,"class":`...)
		j = event.AppendJSONString(j, className(h.Class))
		j = append(j, `,"ttl":`...)
		j = strconv.AppendUint(j, uint64(h.Ttl), 10)
		j = append(j, `,"data":`...)
		j = event.AppendJSONString(j, data)
		j = append(j, '}')
		t.scratch = j
		e.AddParsed(event.Field{Key: "dns.answers", Type: event.FieldJSON, B: b.Bytes(j)})
		if ip.IsValid() {
			e.AddParsed(event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: ip})
		}
	}
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func className(c uint16) string {
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return "CLASS" + strconv.Itoa(int(c))
}

func rcodeName(r int) string {
	if s, ok := dns.RcodeToString[r]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(r)
}

func opcodeName(o int) string {
	if s, ok := dns.OpcodeToString[o]; ok {
		return s
	}
	return "OPCODE" + strconv.Itoa(o)
}
