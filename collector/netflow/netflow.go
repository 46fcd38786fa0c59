// Package netflow decodes NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX
// (RFC 7011) datagrams into flow events.
//
// Templates are compiled into a list of field operations with precomputed
// offsets, so decoding a record is one pass over its bytes with no allocation
// in steady state. Template state is kept per exporter stream (exporter
// address + source ID/observation domain + version) and can persist across
// restarts. Data sets whose template is not known yet are held for a while
// and decoded when the template arrives.
package netflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
)

// Sentinel errors wrapped by the DecodeErrors this package returns.
// ErrTemplateLimit and ErrExporterLimit are no longer returned: a full table
// evicts its least recently used entries instead of refusing new ones.
var (
	ErrTemplateNotFound = errors.New("template not found")
	ErrTemplateLimit    = errors.New("too many templates for exporter")
	ErrExporterLimit    = errors.New("too many exporters")
)

const (
	v9HeaderLen    = 20
	ipfixHeaderLen = 16
	v5HeaderLen    = 24
	v5RecordLen    = 48

	// pendingMaxBytes bounds the memory of held sets whatever their number.
	pendingMaxBytes = 64 << 20
	// maxSamplers bounds the sampler/selector table of one exporter.
	maxSamplers = 1024
	// maxInterned bounds the string values interned per exporter.
	maxInterned = 256
	// maxInternedLen is the longest string value interned; with maxInterned
	// and MaxExporters it bounds this cache (256 x 64 B x 10,000 = 160 MB at
	// worst, from a flood of spoofed exporters sending unique strings).
	maxInternedLen = 64
	saveInterval   = time.Second
)

// Decoder decodes NetFlow v5/v9 and IPFIX packets. It is safe for concurrent
// use by several goroutines as long as all packets of one exporter address
// come from the same goroutine (as collector.Decoder promises).
type Decoder struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	mu        sync.RWMutex // guards exporters (the map, not the exporters)
	exporters map[exporterKey]*exporter

	pendingSets  atomic.Int64
	pendingBytes atomic.Int64
	lastSweep    atomic.Int64 // receive time (unix ns) of the last expiry sweep

	dirty    atomic.Bool  // state changed since the last save
	nTmpl    atomic.Int64 // templates of all exporters (MaxTemplates)
	lastSave atomic.Int64 // wall clock (unix ns) of the last save attempt
	saveMu   sync.Mutex
	now      func() time.Time

	allowed     []netip.Prefix // nil: every sender
	lastExpire  atomic.Int64   // clock (unix ns) of the last expiry scan
	expireEvery int64          // ns between expiry scans
	reclaimMu   sync.Mutex     // one reclaimTotal at a time
	limiter     *obs.Limiter

	// First sightings worth a log line, bounded in keys and lines.
	newExporters *obs.Newcomers[versionKey]
	newTemplates *obs.Newcomers[exporterKey]
}

// versionKey is an exporter address and the export version it sent.
type versionKey struct {
	addr    netip.Addr
	version uint16
}

// Bounds of the first-seen log lines: keys remembered, lines per interval.
const (
	newcomersMax      = 4096
	newcomersBurst    = 20
	newcomersInterval = 10 * time.Second
)

var _ collector.Decoder = (*Decoder)(nil)
var _ collector.Closer = (*Decoder)(nil)

// exporterKey identifies a template scope (RFC 7011 §8: templates are local
// to the transport session and observation domain; we use the exporter
// address, not its port, so templates survive exporter source port changes).
type exporterKey struct {
	addr    netip.Addr
	version uint16
	domain  uint32
}

type samplerKey struct {
	ie uint16 // 48 (samplerId) or 302 (selectorId)
	id uint64
}

// exporter is the state of one exporter stream; mu guards all of it.
type exporter struct {
	key      exporterKey
	npending atomic.Int32 // len(pending), readable without mu
	lastSeen atomic.Int64 // receive time (unix ns) of its last datagram
	decoded  atomic.Bool  // a data set of it was decoded (eviction keeps these longer)

	mu        sync.Mutex
	removed   bool // evicted or expired: whoever holds it looks it up again
	templates map[uint16]*template
	rate      uint64 // exporter-wide sampling rate from options without a sampler ID
	samplers  map[samplerKey]uint64
	onlyRate  uint64 // the rate when exactly one sampler is known
	sysInitMs uint64 // systemInitTimeMilliseconds from options (IPFIX)
	pending   []pendingSet
	strs      map[string]string
}

// header is the packet context a set needs to be decoded, also later.
type header struct {
	version   uint16
	count     uint16 // v9 record count (advisory only)
	sourceID  uint32
	exportNs  int64 // export time, unix ns; 0 when the header has none
	uptimeMs  uint32
	hasUptime bool
	received  time.Time
	recvNs    int64 // received as unix ns: the clock of template and exporter ages
	observer  netip.Addr
}

type pendingSet struct {
	id   uint16
	data []byte
	h    header
}

// New returns a decoder. It loads cfg.StatePath when the file exists; a
// corrupt file is logged and ignored.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Decoder, error) {
	return newDecoder(cfg, logger, reg, time.Now)
}

// newDecoder is New with a clock, so tests can load state at a chosen time.
func newDecoder(cfg Config, logger *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("netflow metrics: %w", err)
	}
	d := &Decoder{
		cfg:       cfg,
		log:       logger.With("component", "collector/netflow"),
		m:         m,
		exporters: make(map[exporterKey]*exporter),
		now:       now,
		limiter:   obs.NewLimiter(10 * time.Second),

		newExporters: obs.NewNewcomers[versionKey](newcomersMax, newcomersBurst, newcomersInterval),
		newTemplates: obs.NewNewcomers[exporterKey](newcomersMax, newcomersBurst, newcomersInterval),
	}
	d.expireEvery = int64(expireInterval(cfg))
	d.allowed, _ = parseAllowed(cfg.AllowedExporters) // checked by Validate
	if cfg.StatePath != "" {
		d.load()
	}
	if reg != nil {
		if err := reg.Register(exporterCollector{d}); err != nil {
			return nil, fmt.Errorf("netflow metrics: %w", err)
		}
	}
	return d, nil
}

// errList collects the errors of one Decode call without allocating when
// there are none.
type errList struct {
	first error
	rest  []error
}

func (l *errList) add(err error) {
	if err == nil {
		return
	}
	if l.first == nil {
		l.first = err
		return
	}
	l.rest = append(l.rest, err)
}

func (l *errList) err() error {
	if l.rest == nil {
		return l.first
	}
	return collector.JoinDecodeErrors(append([]error{l.first}, l.rest...)...)
}

// Decode decodes one datagram, detecting v5, v9 or IPFIX from its version
// field, and appends its flow events to b. It appends what it could decode
// even when it also returns an error.
func (d *Decoder) Decode(p *collector.Packet, b *event.Batch) error {
	var el errList
	recv := p.Received
	if recv.IsZero() {
		recv = d.now()
	}
	recv = recv.UTC()
	observer := p.Src.Addr().Unmap()
	if d.allowed != nil && !d.allows(observer) {
		d.notAllowed(observer)
		return nil
	}
	recvNs := recv.UnixNano()
	if d.pendingSets.Load() > 0 {
		el.add(d.sweep(recv))
	}
	if d.expireDue(recvNs, d.lastExpire.Load()) {
		d.expire(recvNs)
	}
	data := p.Data
	if len(data) < 2 {
		el.add(collector.Errorf("truncated", "packet of %d bytes", len(data)))
		return el.err()
	}
	h := header{received: recv, recvNs: recvNs, observer: observer}
	switch v := binary.BigEndian.Uint16(data); v {
	case 5:
		d.firstSeen(observer, v)
		d.decodeV5(data, &h, b, &el)
	case 9, 10:
		d.firstSeen(observer, v)
		d.decodeTemplated(data, v, &h, b, &el)
	default:
		el.add(collector.Errorf("bad_version", "version %d", v))
	}
	if d.dirty.Load() && d.cfg.StatePath != "" {
		d.maybeSave()
	}
	return el.err()
}

func (d *Decoder) decodeV5(data []byte, h *header, b *event.Batch, el *errList) {
	if len(data) < v5HeaderLen {
		el.add(collector.Errorf("truncated", "v5 header: %d bytes", len(data)))
		return
	}
	count := int(binary.BigEndian.Uint16(data[2:]))
	h.version = 5
	h.uptimeMs = binary.BigEndian.Uint32(data[4:])
	h.hasUptime = true
	secs := binary.BigEndian.Uint32(data[8:])
	nsecs := binary.BigEndian.Uint32(data[12:])
	if secs != 0 {
		h.exportNs = int64(secs)*1e9 + int64(nsecs%1e9)
	}
	engineType, engineID := data[20], data[21]
	h.sourceID = uint32(engineType)<<8 | uint32(engineID)
	// Top 2 bits: sampling mode; low 14 bits: interval.
	rate := uint64(binary.BigEndian.Uint16(data[22:]) & 0x3fff)
	present := (len(data) - v5HeaderLen) / v5RecordLen
	n := min(count, present)
	for i := range n {
		r := data[v5HeaderLen+i*v5RecordLen : v5HeaderLen+(i+1)*v5RecordLen]
		d.v5Record(r, h, rate, engineType, engineID, b)
	}
	d.m.recordsV5.Add(float64(n))
	if count > present {
		el.add(&collector.DecodeError{Reason: "v5_count_mismatch",
			Err:     fmt.Errorf("v5 header counts %d records, %d present", count, present),
			Dropped: count - present})
	}
}

// v5 record keys, in record order.
var v5Keys = struct {
	src, dst, nextHop, input, output, pkts, bytes, first, last, srcPort, dstPort, flags, proto, tos, srcAS, dstAS, srcMask, dstMask, engineType, engineID string
}{
	fieldKey(0, 8), fieldKey(0, 12), fieldKey(0, 15), fieldKey(0, 10), fieldKey(0, 14), fieldKey(0, 2), fieldKey(0, 1),
	fieldKey(0, 22), fieldKey(0, 21), fieldKey(0, 7), fieldKey(0, 11), fieldKey(0, 6), fieldKey(0, 4), fieldKey(0, 5),
	fieldKey(0, 16), fieldKey(0, 17), fieldKey(0, 9), fieldKey(0, 13), fieldKey(0, 38), fieldKey(0, 39),
}

func (d *Decoder) v5Record(r []byte, h *header, rate uint64, engineType, engineID uint8, b *event.Batch) {
	e := b.Add()
	if cap(e.NetFlow) < 20 {
		e.NetFlow = make([]event.Field, 0, 20)
	}
	be := binary.BigEndian
	src := netip.AddrFrom4([4]byte(r[0:4]))
	dst := netip.AddrFrom4([4]byte(r[4:8]))
	nh := netip.AddrFrom4([4]byte(r[8:12]))
	pkts := uint64(be.Uint32(r[16:]))
	octets := uint64(be.Uint32(r[20:]))
	first, last := be.Uint32(r[24:]), be.Uint32(r[28:])
	sport, dport := be.Uint16(r[32:]), be.Uint16(r[34:])
	flags, proto, tos := r[37], r[38], r[39]
	k := &v5Keys
	e.NetFlow = append(e.NetFlow,
		event.Field{Key: k.src, Type: event.FieldIP, IP: src},
		event.Field{Key: k.dst, Type: event.FieldIP, IP: dst},
		event.Field{Key: k.nextHop, Type: event.FieldIP, IP: nh},
		event.Field{Key: k.input, Type: event.FieldUint, U: uint64(be.Uint16(r[12:]))},
		event.Field{Key: k.output, Type: event.FieldUint, U: uint64(be.Uint16(r[14:]))},
		event.Field{Key: k.pkts, Type: event.FieldUint, U: pkts},
		event.Field{Key: k.bytes, Type: event.FieldUint, U: octets},
		event.Field{Key: k.first, Type: event.FieldUint, U: uint64(first)},
		event.Field{Key: k.last, Type: event.FieldUint, U: uint64(last)},
		event.Field{Key: k.srcPort, Type: event.FieldUint, U: uint64(sport)},
		event.Field{Key: k.dstPort, Type: event.FieldUint, U: uint64(dport)},
		event.Field{Key: k.flags, Type: event.FieldUint, U: uint64(flags)},
		event.Field{Key: k.proto, Type: event.FieldUint, U: uint64(proto)},
		event.Field{Key: k.tos, Type: event.FieldUint, U: uint64(tos)},
		event.Field{Key: k.srcAS, Type: event.FieldUint, U: uint64(be.Uint16(r[40:]))},
		event.Field{Key: k.dstAS, Type: event.FieldUint, U: uint64(be.Uint16(r[42:]))},
		event.Field{Key: k.srcMask, Type: event.FieldUint, U: uint64(r[44])},
		event.Field{Key: k.dstMask, Type: event.FieldUint, U: uint64(r[45])},
		event.Field{Key: k.engineType, Type: event.FieldUint, U: uint64(engineType)},
		event.Field{Key: k.engineID, Type: event.FieldUint, U: uint64(engineID)},
	)
	var st recState
	st.srcIP, st.dstIP = src, dst
	st.srcPort, st.dstPort = sport, dport
	st.proto = proto
	st.inBytes, st.inPkts = octets, pkts
	st.startUp, st.endUp = first, last
	st.f = fProto | fInBytes | fInPkts | fStartUp | fEndUp | fDstPort
	d.finishFlow(e, &st, h, nil, rate)
	e.KeysChecked = true // fixed v5 key set
}

func (d *Decoder) decodeTemplated(data []byte, version uint16, h *header, b *event.Batch, el *errList) {
	be := binary.BigEndian
	h.version = version
	var end, off int
	var secs uint32
	if version == 9 {
		if len(data) < v9HeaderLen {
			el.add(collector.Errorf("truncated", "v9 header: %d bytes", len(data)))
			return
		}
		h.count = be.Uint16(data[2:])
		h.uptimeMs = be.Uint32(data[4:])
		h.hasUptime = true
		secs = be.Uint32(data[8:])
		h.sourceID = be.Uint32(data[16:])
		end, off = len(data), v9HeaderLen
	} else {
		if len(data) < ipfixHeaderLen {
			el.add(collector.Errorf("truncated", "ipfix header: %d bytes", len(data)))
			return
		}
		length := int(be.Uint16(data[2:]))
		if length < ipfixHeaderLen {
			el.add(collector.Errorf("bad_length", "ipfix message length %d", length))
			return
		}
		end = length
		if length > len(data) {
			el.add(collector.Errorf("truncated", "ipfix message length %d, %d bytes received", length, len(data)))
			end = len(data)
		}
		secs = be.Uint32(data[4:])
		h.sourceID = be.Uint32(data[12:])
		off = ipfixHeaderLen
	}
	if secs != 0 {
		h.exportNs = int64(secs) * 1e9
	}
	k := exporterKey{addr: h.observer, version: version, domain: h.sourceID}
	ex := d.exporter(k, h.recvNs)
	ex.mu.Lock()
	for ex.removed { // evicted between the lookup and the lock
		ex.mu.Unlock()
		ex = d.exporter(k, h.recvNs)
		ex.mu.Lock()
	}
	ex.lastSeen.Store(h.recvNs)
	had := len(ex.templates)
	d.decodeSets(ex, data, off, end, h, b, el)
	var ids []uint16
	nt := len(ex.templates)
	if had == 0 && nt > 0 {
		for id := range ex.templates {
			if len(ids) < 32 {
				ids = append(ids, id)
			}
		}
	}
	ex.mu.Unlock()
	if ids != nil {
		d.firstTemplates(k, nt, ids)
	}
	// The global template limit is enforced here, with no exporter lock
	// held, because it evicts templates of other exporters.
	if d.nTmpl.Load() > int64(d.cfg.MaxTemplates) {
		d.reclaimTotal(ex, h.recvNs)
	}
}

// decodeSets decodes the sets of one v9/IPFIX message; ex.mu is held.
func (d *Decoder) decodeSets(ex *exporter, data []byte, off, end int, h *header, b *event.Batch, el *errList) {
	be := binary.BigEndian
	version := h.version
	records := 0 // v9: records of any kind seen, to compare with the header count
	flows := 0
	for off < end {
		rem := end - off
		if rem < 4 {
			break // padding
		}
		id := be.Uint16(data[off:])
		l := int(be.Uint16(data[off+2:]))
		countSatisfied := version == 9 && h.count > 0 && records >= int(h.count)
		if l < 4 {
			if !allZero(data[off:end]) && !countSatisfied {
				el.add(collector.Errorf("bad_length", "set %d length %d at offset %d", id, l, off))
			}
			break
		}
		if l > rem {
			if countSatisfied {
				break // trailing garbage after the records the header announced
			}
			el.add(collector.Errorf("truncated", "set %d length %d at offset %d, %d bytes left", id, l, off, rem))
			l = rem
		}
		body := data[off+4 : off+l]
		off += l
		switch {
		case id >= 256:
			if t := ex.templates[id]; t != nil {
				n := d.decodeRecords(ex, h, t, body, b)
				records += n
				if !t.options {
					flows += n
				}
				t.lastSeen = h.recvNs
				if n > 0 {
					t.used = true
					if !ex.decoded.Load() {
						ex.decoded.Store(true)
					}
				}
			} else {
				d.hold(ex, h, id, body, el)
			}
		case version == 9 && (id == 0 || id == 1), version == 10 && (id == 2 || id == 3):
			n, changed := d.templateSet(ex, h, id, body, el)
			records += n
			if changed && len(ex.pending) > 0 {
				flows += d.resolvePending(ex, b)
			}
		default:
			// Reserved set IDs carry nothing we know how to read; skip them.
		}
	}
	switch version {
	case 9:
		d.m.recordsV9.Add(float64(flows))
	case 10:
		d.m.recordsIPFIX.Add(float64(flows))
	}
}

// exporter returns the state of k, creating it; at the exporter limit the
// least recently seen exporters make room (see evictExporters).
func (d *Decoder) exporter(k exporterKey, nowNs int64) *exporter {
	d.mu.RLock()
	ex := d.exporters[k]
	d.mu.RUnlock()
	if ex != nil {
		return ex
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ex = d.exporters[k]; ex != nil {
		return ex
	}
	if len(d.exporters) >= d.cfg.MaxExporters {
		d.evictExporters(len(d.exporters) - d.cfg.MaxExporters + evictChunk(d.cfg.MaxExporters))
	}
	ex = newExporter(k, nowNs)
	d.exporters[k] = ex
	d.m.exporters.Inc()
	return ex
}

func newExporter(k exporterKey, nowNs int64) *exporter {
	ex := &exporter{key: k, templates: make(map[uint16]*template)}
	ex.lastSeen.Store(nowNs)
	return ex
}

// templateSet applies one template or options template set. It returns the
// number of template records and whether any template was added or changed.
func (d *Decoder) templateSet(ex *exporter, h *header, setID uint16, body []byte, el *errList) (n int, changed bool) {
	for {
		rec, rest, done, err := nextTemplateRecord(body, h.version, setID)
		if done {
			return n, changed
		}
		n++
		if err != nil {
			err = fmt.Errorf("set %d: %w", setID, err)
			d.refuseTemplate(ex, err)
			el.add(&collector.DecodeError{Reason: "bad_template", Err: err})
			if rest == nil || errors.Is(err, errShortTemplate) {
				return n, changed
			}
			body = rest
			continue
		}
		body = rest
		if rec.withdraw {
			d.withdraw(ex, rec.id, setID)
			continue
		}
		options := setID == 1 || setID == 3
		t, err := compile(h.version, rec.id, options, rec.scope, rec.fields)
		if err != nil {
			d.refuseTemplate(ex, err)
			el.add(&collector.DecodeError{Reason: "bad_template", Err: err})
			continue
		}
		if d.addTemplate(ex, t, h.recvNs) {
			changed = true
		}
	}
}

// refuseTemplate counts a template that cannot be decoded and logs it (at
// most once per limiter interval, with the number not logged): its data sets
// wait for a template that never comes and expire, counted in
// sluice_netflow_pending_dropped_total, so the line says why.
func (d *Decoder) refuseTemplate(ex *exporter, err error) {
	d.m.tmplRefused.Inc()
	if ok, sup := d.limiter.Allow("template_refused"); ok {
		d.log.Warn("template refused: its records cannot be decoded", "exporter", ex.key.addr,
			"version", versionName(ex.key.version), "observation_domain", ex.key.domain, "err", err, "suppressed", sup)
	}
}

// addTemplate stores t, announced at nowNs, and reports whether it added
// or changed a template; an identical re-send only refreshes its age. A full
// table evicts the exporter's least recently used templates. ex.mu is held.
func (d *Decoder) addTemplate(ex *exporter, t *template, nowNs int64) bool {
	t.lastSeen = nowNs
	if old := ex.templates[t.id]; old != nil {
		if old.sameAs(t) {
			old.lastSeen = nowNs
			return false
		}
		ex.templates[t.id] = t
		d.m.tmplUpdate.Inc()
		d.dirty.Store(true)
		return true
	}
	if len(ex.templates) >= d.cfg.MaxTemplatesPerExporter {
		d.evictTemplates(ex, len(ex.templates)-d.cfg.MaxTemplatesPerExporter+evictChunk(d.cfg.MaxTemplatesPerExporter))
	}
	d.nTmpl.Add(1) // over MaxTemplates is reclaimed after the message (reclaimTotal)
	ex.templates[t.id] = t
	d.m.tmplAdd.Inc()
	d.m.templates.Inc()
	d.dirty.Store(true)
	return true
}

// withdraw handles an IPFIX template withdrawal (RFC 7011 §8.1): template
// ID 2 in a template set or 3 in an options template set withdraws all
// templates of that kind.
func (d *Decoder) withdraw(ex *exporter, id, setID uint16) {
	if id == setID {
		options := setID == 3
		for tid, t := range ex.templates {
			if t.options == options {
				delete(ex.templates, tid)
				d.m.tmplWithdraw.Inc()
				d.m.templates.Dec()
				d.nTmpl.Add(-1)
			}
		}
		d.dirty.Store(true)
		return
	}
	if _, ok := ex.templates[id]; ok {
		delete(ex.templates, id)
		d.m.tmplWithdraw.Inc()
		d.m.templates.Dec()
		d.nTmpl.Add(-1)
		d.dirty.Store(true)
	}
}

// decodeRecords decodes the records of a data set with template t and
// returns how many it decoded. Padding and an incomplete trailing record
// are ignored.
func (d *Decoder) decodeRecords(ex *exporter, h *header, t *template, body []byte, b *event.Batch) int {
	n := 0
	for len(body) >= t.recLen {
		used, ok := d.record(ex, h, t, body, b)
		if !ok {
			break
		}
		body = body[used:]
		n++
	}
	if t.options {
		d.m.optionsRecords.Add(float64(n))
	}
	return n
}

// record decodes one record at the start of rec.
func (d *Decoder) record(ex *exporter, h *header, t *template, rec []byte, b *event.Batch) (int, bool) {
	var st recState
	var e *event.Event
	if !t.options {
		e = b.Add()
		if cap(e.NetFlow) < len(t.ops) {
			e.NetFlow = make([]event.Field, 0, len(t.ops)+4)
		}
	}
	used := t.recLen
	if t.fixed {
		rec = rec[:t.recLen]
		for i := range t.ops {
			op := &t.ops[i]
			d.field(op, rec[op.off:op.off+int(op.length)], e, &st, ex, b)
		}
	} else {
		off := 0
		for i := range t.ops {
			op := &t.ops[i]
			l := int(op.length)
			if op.length == varLen {
				if off >= len(rec) {
					return d.abandon(e, b)
				}
				l = int(rec[off])
				off++
				if l == 255 {
					if off+2 > len(rec) {
						return d.abandon(e, b)
					}
					l = int(binary.BigEndian.Uint16(rec[off:]))
					off += 2
				}
			}
			if l > len(rec)-off {
				return d.abandon(e, b)
			}
			d.field(op, rec[off:off+l], e, &st, ex, b)
			off += l
		}
		used = off
	}
	if e != nil {
		if t.famPairs != nil {
			// Every op appended one field: the record's start at the end.
			dropZeroTwins(e, len(e.NetFlow)-len(t.ops), t.famPairs)
		}
		d.finishFlow(e, &st, h, ex, 0)
		e.KeysChecked = t.keysOK
	} else {
		d.applyOptions(ex, &st)
	}
	return used, true
}

// dropZeroTwins removes from e's netflow fields (those of the record start
// at base, one per op) the all-zero address of an IPv4/IPv6 pair whose
// other family is a real address: it is a placeholder, not a value.
func dropZeroTwins(e *event.Event, base int, pairs [][2]int) {
	var drop [2]int // at most one per pair, usually one pair in all
	var more []int
	n := 0
	for _, p := range pairs {
		a, b := &e.NetFlow[base+p[0]], &e.NetFlow[base+p[1]]
		if a.Type != event.FieldIP || b.Type != event.FieldIP {
			continue
		}
		i := -1
		switch {
		case a.IP.IsUnspecified() && !b.IP.IsUnspecified():
			i = base + p[0]
		case b.IP.IsUnspecified() && !a.IP.IsUnspecified():
			i = base + p[1]
		}
		if i < 0 {
			continue
		}
		if n < len(drop) {
			drop[n] = i
		} else {
			more = append(more, i)
		}
		n++
	}
	if n == 0 {
		return
	}
	idx := append(drop[:min(n, len(drop))], more...)
	slices.Sort(idx)
	for k := len(idx) - 1; k >= 0; k-- {
		e.NetFlow = slices.Delete(e.NetFlow, idx[k], idx[k]+1)
	}
}

func (d *Decoder) abandon(e *event.Event, b *event.Batch) (int, bool) {
	if e != nil {
		b.Unadd()
	}
	return 0, false
}

// firstSeen logs the first datagram of an exporter address in a version
// (bounded: see Newcomers).
func (d *Decoder) firstSeen(addr netip.Addr, version uint16) {
	v := d.newExporters.Admit(versionKey{addr, version})
	switch {
	case v.Log:
		d.log.Info("new exporter", "exporter", addr, "version", versionName(version), "not_logged", v.Unlogged)
	case v.Full:
		d.log.Warn("many exporters: new exporters are no longer logged (sluice_collector_exporter_packets_total counts them)", "logged", newcomersMax)
	}
}

// firstTemplates logs the first templates of an exporter stream (its
// address, version and observation domain).
// ids are the first 32 of its n template IDs.
func (d *Decoder) firstTemplates(k exporterKey, n int, ids []uint16) {
	v := d.newTemplates.Admit(k)
	if !v.Log {
		return
	}
	slices.Sort(ids)
	d.log.Info("first templates from exporter", "exporter", k.addr, "version", versionName(k.version), "observation_domain", k.domain,
		"templates", n, "template_ids", ids, "not_logged", v.Unlogged)
}

// versionName names an export version for log lines.
func versionName(v uint16) string {
	switch v {
	case 5:
		return "5"
	case 9:
		return "9"
	case 10:
		return "10 (ipfix)"
	}
	return strconv.Itoa(int(v))
}
