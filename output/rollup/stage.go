package rollup

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/pipeline"
	"github.com/sluicelab/sluice/internal/query"
)

// dimPlan is how one console dimension is read from an event.
type dimPlan struct {
	field  string
	path   query.Path
	k      int
	labels [numLabels]query.Path // zero Path: no such label
	fast   uint8                 // flows: read from the event (ffOther: through the EventDoc)
	// hasLabels: labels is not all zero
	hasLabels bool
}

// kindPlan is what is kept of one kind.
type kindPlan struct {
	kind uint8
	name string
	main int // metric slot the top-K ranks by
	dims []dimPlan
	// byField is the index in dims of a field.
	byField map[string]int
}

var (
	pathAction    = query.NewPath("event.action")
	pathDirection = query.NewPath("network.direction")
	pathDataset   = query.NewPath("event.dataset")

	pathRcode     = query.NewPath("dns.response_code")
	pathBand      = query.NewPath(console.ScoreBandField)
	pathNetBytes  = query.NewPath("network.bytes")
	pathNewDomain = query.NewPath("sluice.dns.new_domain")
	pathUnsanct   = query.NewPath("sluice.dns.unsanctioned_resolver")
	pathBlocklist = query.NewPath("sluice.dns.blocklist")
)

// segFields are the fields a segment of flows or syslog is keyed by (and
// filters may name).
var segFields = []string{"event.action", "network.direction", "event.dataset"}

// dnsSegFields are the fields a segment of DNS events answers: its key is
// the response code, the DNS checks' verdict and the source. The verdict
// (the key's second string, dnsFlags) is the score band, whether the
// domain is new, whether the resolver is unsanctioned and the blocklist
// that matched; it answers the flags' fields and, for the list,
// threat.enrichments.indicator.provider too.
var dnsSegFields = []string{"dns.response_code", console.ScoreBandField, "sluice.dns.new_domain",
	"sluice.dns.unsanctioned_resolver", "sluice.dns.blocklist", "threat.enrichments.indicator.provider", "event.dataset"}

// segFieldsOf returns the fields the segments of kind answer.
func segFieldsOf(kind uint8) []string {
	if kind == kindDNS {
		return dnsSegFields
	}
	return segFields
}

// dnsFlags is the verdict part of a DNS segment key:
// "band|new|unsanctioned|list", "" when the event has none of them (no
// score). The list name goes last: it may hold anything.
type dnsFlags struct {
	band, list     string
	isNew, unsanct bool
}

func (f dnsFlags) appendKey(dst []byte) []byte {
	if f == (dnsFlags{}) {
		return dst
	}
	dst = append(dst, f.band...)
	dst = append(dst, '|')
	if f.isNew {
		dst = append(dst, "new"...)
	}
	dst = append(dst, '|')
	if f.unsanct {
		dst = append(dst, "unsanctioned"...)
	}
	dst = append(dst, '|')
	return append(dst, f.list...)
}

// parseDNSFlags reads a verdict key back (anything: blocks are read from
// files; what does not parse is no verdict).
func parseDNSFlags(s string) dnsFlags {
	var f dnsFlags
	band, rest, ok := strings.Cut(s, "|")
	if !ok {
		return f
	}
	n, rest, ok := strings.Cut(rest, "|")
	if !ok {
		return f
	}
	u, list, ok := strings.Cut(rest, "|")
	if !ok {
		return f
	}
	return dnsFlags{band: band, list: list, isNew: n == "new", unsanct: u == "unsanctioned"}
}

func newPlans(cfg Config) [numKinds]*kindPlan {
	var plans [numKinds]*kindPlan
	for i, kn := range kindNames {
		p := &kindPlan{kind: uint8(i + 1), name: kn, main: mBytes, byField: map[string]int{}}
		if kn != console.KindFlows {
			p.main = mCount
		}
		for _, d := range console.Dimensions {
			has := false
			for _, k := range d.Kinds {
				has = has || k == kn
			}
			if !has {
				continue
			}
			dp := dimPlan{field: d.Field, path: query.NewPath(d.Field), k: cfg.TopK}
			if kn == console.KindFlows {
				dp.fast = flowFast[d.Field]
			}
			if d.HighCardinality {
				dp.k = cfg.TopKHigh
			}
			switch d.Field {
			case "source.ip", "destination.ip":
				side := d.Field[:len(d.Field)-len(".ip")]
				dp.labels[lCountry] = query.NewPath(side + ".geo.country_iso_code")
				dp.labels[lAS] = query.NewPath(side + ".as.number")
			case "source.as.number", "destination.as.number":
				side := d.Field[:len(d.Field)-len(".as.number")]
				dp.labels[lOrg] = query.NewPath(side + ".as.organization.name")
			case "dns.question.name", "dns.question.registered_domain":
				dp.labels[lReasons] = query.NewPath("sluice.dns.reasons")
			}
			dp.hasLabels = dp.labels != [numLabels]query.Path{}
			p.byField[d.Field] = len(p.dims)
			p.dims = append(p.dims, dp)
		}
		plans[i] = p
	}
	return plans
}

// accSeg accumulates one segment of an open minute.
type accSeg struct {
	key segKey // cloned: the cache of the last segment compares with it
	// valid: the key's strings are valid UTF-8, so a key read from an
	// event that equals it is too (and needs no check)
	valid bool
	m     [numMetrics]uint64
	tk    []*topK
}

// recentSlots is the size of an open minute's segment cache: with at most
// a few dozen segments (max_segments, default 32), few share a slot.
const recentSlots = 256

// acc is an open minute of one kind in one shard.
type acc struct {
	start int64 // Unix seconds
	segs  map[segKey]*accSeg
	other *accSeg
	// segments by a cheap digest of their key (two-way: a key is in
	// slot or slot^1; checking a key is cheaper than hashing it for the
	// map)
	recent [recentSlots]*accSeg
	// flows: the segment (or other) of each direction, once looked up
	flowSegs [8]*accSeg
}

// slot is the recent-segment slot of k: a mix of its lengths and the
// last bytes of action and dataset (what tells most segments apart, at
// the cost of two loads).
func (k *segKey) slot() int {
	h := uint64(len(k.action)) | uint64(len(k.direction))<<8 | uint64(len(k.dataset))<<16
	if n := len(k.action); n > 0 {
		h |= uint64(k.action[n-1]) << 24
	}
	if n := len(k.dataset); n > 0 {
		h |= uint64(k.dataset[n-1]) << 32
	}
	if n := len(k.direction); n > 0 {
		h |= uint64(k.direction[0]) << 40
	}
	return int((h * 0x9e3779b97f4a7c15) >> (64 - 8))
}

// validKey reports whether k's strings are valid UTF-8.
func validKey(k *segKey) bool {
	return utf8.ValidString(k.action) && utf8.ValidString(k.direction) && utf8.ValidString(k.dataset)
}

// shard is one set of open minutes. Workers take any free shard
// (TryLock), so they rarely wait for each other; the closer merges the
// shards' minutes.
type shard struct {
	mu   sync.Mutex
	open [numKinds]map[int64]*acc
	// scratch for values (guarded by mu)
	vals []query.Value
	buf  []byte
	kbuf []byte // a DNS segment key's verdict
	doc  query.EventDoc
	rng  uint64 // xorshift state of the top-K sample
	// The top-K sample per kind: how many events to let pass before the
	// next one feeds the top-K, drawn for ratio skipRatio (skipLn is
	// log(1-1/skipRatio)).
	skip      [numKinds]uint64
	skipRatio [numKinds]uint64
	skipLn    [numKinds]float64
	// where the segment key's values sit in the documents of a syslog
	// layout, by the layout's address (two-way: slot or slot^1; parsers
	// emit a few dozen key sequences; a layout that lost its slot is
	// looked up again)
	layouts [layoutSlots]layoutSrc
	// the open minute of each kind last used
	lastMin [numKinds]int64
	lastAcc [numKinds]*acc
	// gen counts the batches the shard folded; memo is valid for the
	// batch of its generation only
	gen  uint64
	memo [memoSlots]segMemo
}

// segMemo remembers the segment of a syslog key by where its strings are:
// within one batch the bytes of an event's strings do not change, so
// strings at the same address with the same length are the same key,
// found without hashing or comparing bytes (parsers' values are mostly
// constants, shared by many events). Between batches memory is reused:
// a memo of another batch is never used.
type segMemo struct {
	gen uint64
	a   *acc
	p   [3]uintptr // the data of action, direction and dataset
	n   [3]int
	seg *accSeg
}

const memoSlots = 64

// memoSlot is k's slot in shard.memo.
func memoSlot(k *segKey) (slot int, p [3]uintptr) {
	p = [3]uintptr{uintptr(unsafe.Pointer(unsafe.StringData(k.action))), uintptr(unsafe.Pointer(unsafe.StringData(k.direction))),
		uintptr(unsafe.Pointer(unsafe.StringData(k.dataset)))}
	h := uint64(p[0]>>3)*0x9e3779b97f4a7c15 ^ uint64(p[1]>>3)*0xc2b2ae3d27d4eb4f ^ uint64(p[2]>>3)*0x165667b19e3779f9
	return int(h >> (64 - 6)), p
}

// segSrc is where a syslog layout's segment key values come from: the
// index of a parsed field, srcAbsent or srcOwn.
type segSrc struct{ action, direction, dataset int32 }

// layoutSrc is a slot of shard.layouts.
type layoutSrc struct {
	l   *event.SyslogLayout
	src segSrc
}

const (
	srcAbsent int32 = -1
	srcOwn    int32 = -2
	// layoutSlots is the size of a shard's layout table.
	layoutSlots = 256
)

func layoutSource(l *event.SyslogLayout, path string) int32 {
	field, own, ok := l.Source(path)
	switch {
	case !ok:
		return srcAbsent
	case own:
		return srcOwn
	}
	return int32(field)
}

// fastSegKey reads a syslog event's segment key through its layout, as
// the document has it; false when only the slow path can tell (no layout,
// a value that is not valid text, an own event.action).
func (sh *shard) fastSegKey(e *event.Event) (segKey, bool) {
	var k segKey
	if !sh.rawSegKey(e, &k) || !validKey(&k) {
		return segKey{}, false
	}
	return k, true
}

// layoutSlot is l's slot in shard.layouts (l is there or at slot^1):
// Fibonacci hashing of its address in 16-byte units (the layouts' size
// class, 144 bytes, is 89.0 times the golden ratio: in bytes, neighbours
// would share a slot).
func layoutSlot(l *event.SyslogLayout) int {
	return int(((uint64(uintptr(unsafe.Pointer(l))) >> 4) * 0x9e3779b97f4a7c15) >> (64 - 8))
}

// layoutSrc returns where the segment key's values sit in documents of
// layout l.
func (sh *shard) layoutSrc(l *event.SyslogLayout) segSrc {
	slot := layoutSlot(l)
	if ls := &sh.layouts[slot]; ls.l == l {
		return ls.src
	}
	ls := &sh.layouts[slot^1]
	if ls.l == l {
		return ls.src
	}
	if sh.layouts[slot].l == nil {
		ls = &sh.layouts[slot]
	}
	ls.l = l
	ls.src = segSrc{layoutSource(l, "event.action"), layoutSource(l, "network.direction"), layoutSource(l, "event.dataset")}
	return ls.src
}

// rawSegKey is fastSegKey without the check that the strings are valid
// UTF-8 (the caller checks them unless the key equals a segment's key,
// which is valid), into *k (zero on entry).
func (sh *shard) rawSegKey(e *event.Event, k *segKey) bool {
	l := e.SyslogLayout()
	if l == nil {
		return false
	}
	src := sh.layoutSrc(l)
	var ok bool
	field := func(i int32) (string, bool) {
		if int(i) >= len(e.Fields) {
			return "", false
		}
		f := &e.Fields[i]
		if f.Type != event.FieldString {
			return "", false
		}
		return f.S, true
	}
	switch a := src.action; {
	case a >= 0:
		if k.action, ok = field(a); !ok {
			return false
		}
	case a != srcAbsent:
		return false
	}
	switch d := src.direction; {
	case d >= 0:
		if k.direction, ok = field(d); !ok {
			return false
		}
	case d == srcOwn:
		k.direction = e.Direction.String()
	}
	switch d := src.dataset; {
	case d >= 0:
		if k.dataset, ok = field(d); !ok {
			return false
		}
	case d == srcOwn:
		if k.dataset = e.Syslog.Dataset; k.dataset == "" {
			k.dataset = "sluice.syslog"
		}
	}
	return true
}

// rateMeter counts one kind's events per wall-clock second, for the top-K
// sample (Config.ExactRate). Races between workers at a second's turn
// only blur the count a little.
type rateMeter struct {
	sec  atomic.Int64 // the second being counted (Unix)
	cur  atomic.Int64 // events in sec so far
	prev atomic.Int64 // events in the second before sec (0: not adjacent)
}

// ratio is 1 while the rate is at most limit events per second (or limit
// is 0), else about rate/limit: one event in ratio feeds the top-K.
func (r *rateMeter) ratio(limit int) uint64 {
	if limit <= 0 {
		return 1
	}
	n := max(r.prev.Load(), r.cur.Load())
	if n <= int64(limit) {
		return 1
	}
	return uint64((n + int64(limit) - 1) / int64(limit))
}

// ratioNow is ratio as of wall-clock second now: 1 when the kind has been
// quiet for more than a second (for the metric, read between batches).
func (r *rateMeter) ratioNow(limit int, now int64) uint64 {
	if r.sec.Load() < now-1 {
		return 1
	}
	return r.ratio(limit)
}

func (r *rateMeter) add(sec, n int64) {
	if old := r.sec.Load(); old != sec && r.sec.CompareAndSwap(old, sec) {
		c := r.cur.Swap(0)
		if sec == old+1 {
			r.prev.Store(c)
		} else {
			r.prev.Store(0)
		}
	}
	r.cur.Add(n)
}

// take reports whether the next event of kind ki feeds the top-K: each
// event with probability 1/ratio, independently of the others. Instead of
// a draw per event, the number of events until the next one taken is
// drawn (geometric, the same distribution), so the events between cost a
// decrement. A new ratio draws anew (a geometric count has no memory).
func (sh *shard) take(ki int, ratio uint64) bool {
	if ratio <= 1 {
		return true
	}
	if sh.skipRatio[ki] != ratio {
		sh.skipRatio[ki] = ratio
		sh.skipLn[ki] = math.Log1p(-1 / float64(ratio))
		sh.skip[ki] = sh.gap(ki)
	}
	if sh.skip[ki] > 0 {
		sh.skip[ki]--
		return false
	}
	sh.skip[ki] = sh.gap(ki)
	return true
}

// gap draws how many events of kind ki pass before the next one is taken:
// k with probability (1-p)^k p, p = 1/skipRatio.
func (sh *shard) gap(ki int) uint64 {
	u := (float64(sh.rand()>>11) + 1) / (1 << 53) // (0, 1]
	g := math.Log(u) / sh.skipLn[ki]
	if !(g < 1<<62) {
		return 1 << 62
	}
	return uint64(g)
}

// rand is the shard's xorshift generator.
func (sh *shard) rand() uint64 {
	x := sh.rng
	if x == 0 {
		x = uint64(time.Now().UnixNano()) | 1
	}
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	sh.rng = x
	return x
}

// maxOpenMinutes bounds the open minutes per shard and kind (late events
// of many different minutes).
const maxOpenMinutes = 64

// Stage is the pipeline stage folding events into the open minutes. It
// reads the events only.
type Stage Store

var _ pipeline.Stage = (*Stage)(nil)

// Name implements pipeline.Stage.
func (st *Stage) Name() string { return "rollup" }

// Process implements pipeline.Stage. It does no I/O.
func (st *Stage) Process(_ context.Context, b *event.Batch) error {
	s := (*Store)(st)
	evs := b.All()
	if len(evs) == 0 {
		return nil
	}
	sh := s.lockShard()
	defer sh.mu.Unlock()
	sh.gen++
	now := s.now().Unix()
	oldest := now - int64(s.cfg.MinuteRetention.Seconds())
	var folded, late uint64
	var ratio [numKinds]uint64
	for ki := range ratio {
		ratio[ki] = s.rate[ki].ratio(s.cfg.ExactRate)
		if s.fixedRatio > 0 {
			ratio[ki] = s.fixedRatio
		}
	}
	var seen [numKinds]int64
	for i := range evs {
		e := &evs[i]
		// The kinds e counts in: a resolver's query-log line is a syslog
		// event and a DNS event.
		var kis [2]int
		n := 0
		switch e.Kind {
		case event.KindFlow:
			kis[0], n = 0, 1
		case event.KindSyslog:
			kis[0], n = 1, 1
			if console.IsDNS(e) {
				kis[1], n = 2, 2
			}
		case event.KindDNS, event.KindBeats:
			if console.IsDNS(e) {
				kis[0], n = 2, 1
			}
		}
		for _, ki := range kis[:n] {
			seen[ki]++
			ts := e.Timestamp.Unix()
			min := ts - ts%60
			if ts < 0 || min < oldest || min > now+60 {
				late++
				continue
			}
			a := sh.lastAcc[ki]
			if a == nil || sh.lastMin[ki] != min {
				a = sh.open[ki][min]
			}
			if a == nil {
				if len(sh.open[ki]) >= maxOpenMinutes {
					late++
					continue
				}
				a = &acc{start: min, segs: map[segKey]*accSeg{}}
				sh.open[ki][min] = a
			}
			sh.lastMin[ki], sh.lastAcc[ki] = min, a
			var w uint64
			if sh.take(ki, ratio[ki]) {
				w = ratio[ki]
			}
			s.fold(sh, s.plans[ki], a, e, w)
			folded++
		}
	}
	if seen != [numKinds]int64{} {
		sec := time.Now().Unix()
		for ki, n := range seen {
			if n > 0 {
				s.rate[ki].add(sec, n)
			}
		}
	}
	sh.doc.Reset(nil)
	s.m.events.Add(float64(folded))
	if late > 0 {
		s.m.outOfRange.Add(float64(late))
	}
	return nil
}

func (s *Store) lockShard() *shard {
	n := len(s.shards)
	start := int(s.next.Add(1)) % n
	for i := range n {
		sh := s.shards[(start+i)%n]
		if sh.mu.TryLock() {
			return sh
		}
	}
	sh := s.shards[start]
	sh.mu.Lock()
	return sh
}

func firstStr(vals []query.Value) string {
	if len(vals) == 0 || vals[0].Kind != query.KindString {
		return ""
	}
	return vals[0].Str
}

// fold adds e to a: to its segment's totals, and with weight w (0: not
// at all; see Config.ExactRate) to the top-Ks. Strings from the doc are
// only valid until the next Reset: what a top-K keeps it clones.
func (s *Store) fold(sh *shard, p *kindPlan, a *acc, e *event.Event, w uint64) {
	d := &sh.doc
	docSet := false
	var key segKey
	var seg *accSeg
	slow := false
	if p.kind == kindFlows {
		// A flow's key is its direction's: its segment stays the same
		// for the minute (segments are only added, other takes the rest).
		if int(e.Direction) < len(a.flowSegs) {
			seg = a.flowSegs[e.Direction]
		}
		if seg == nil {
			key = segKey{action: "network_flow", direction: e.Direction.String(), dataset: "sluice.flow"}
			seg = a.lookup(&key)
		}
	} else if p.kind == kindDNS {
		d.Reset(e)
		docSet = true
		key = sh.dnsSegKey(d)
		seg = a.lookup(&key)
	} else if sh.rawSegKey(e, &key) {
		// A key equal to a segment's valid key is valid text; any other
		// is checked (the document has no invalid text: the slow path
		// tells its key).
		mi, ptrs := memoSlot(&key)
		if m := &sh.memo[mi]; m.gen == sh.gen && m.a == a && m.p == ptrs && m.n == [3]int{len(key.action), len(key.direction), len(key.dataset)} {
			seg = m.seg
		} else {
			seg = a.lookup(&key)
			slow = seg != nil && !seg.valid || seg == nil && !validKey(&key)
			if seg != nil && !slow {
				*m = segMemo{gen: sh.gen, a: a, p: ptrs, n: [3]int{len(key.action), len(key.direction), len(key.dataset)}, seg: seg}
			}
		}
	} else {
		slow = true
	}
	if slow {
		d.Reset(e)
		docSet = true
		key = segKey{}
		sh.vals = pathAction.Values(d, sh.vals[:0])
		key.action = firstStr(sh.vals)
		sh.vals = pathDirection.Values(d, sh.vals[:0])
		key.direction = firstStr(sh.vals)
		sh.vals = pathDataset.Values(d, sh.vals[:0])
		key.dataset = firstStr(sh.vals)
		seg = a.lookup(&key)
	}
	if seg == nil {
		if len(a.segs) >= s.cfg.MaxSegments {
			if a.other == nil {
				a.other = s.newAccSeg(p)
			}
			seg = a.other
		} else {
			seg = s.newAccSeg(p)
			key.action, key.direction, key.dataset = cloneStr(key.action), cloneStr(key.direction), cloneStr(key.dataset)
			seg.key, seg.valid = key, validKey(&key)
			a.segs[key] = seg
			a.remember(key.slot(), seg)
		}
	}
	if p.kind == kindFlows && int(e.Direction) < len(a.flowSegs) {
		a.flowSegs[e.Direction] = seg
	}
	var m [numMetrics]uint64
	switch p.kind {
	case kindFlows:
		m[mBytes], m[mPackets] = e.Flow.Bytes, e.Flow.Packets
	case kindDNS:
		// The query's and the response's message sizes (captured DNS,
		// Packetbeat).
		sh.vals = pathNetBytes.Values(d, sh.vals[:0])
		if len(sh.vals) > 0 && sh.vals[0].Kind == query.KindNumber && sh.vals[0].Num > 0 && sh.vals[0].Num < 1<<53 {
			m[mBytes] = uint64(sh.vals[0].Num)
		}
	}
	m[mCount] = 1
	for i := range seg.m {
		seg.m[i] += m[i]
	}
	if w == 0 {
		return
	}
	if w > 1 {
		// A sampled event stands for w events; the tables are estimates
		// from then on (answers say approx).
		for i := range m {
			m[i] *= w
		}
		for _, tk := range seg.tk {
			tk.overflow = true
		}
	}
	for di := range p.dims {
		dp := &p.dims[di]
		if dp.fast != ffOther {
			ent, fresh := flowAdd(dp.fast, e, seg.tk[di], &m)
			if ent == nil {
				continue
			}
			if dp.hasLabels && (fresh || !ent.labeled) {
				ls := flowLabels(dp.fast, e)
				ent.setLabels(&ls)
			}
			continue
		}
		if !docSet {
			d.Reset(e)
			docSet = true
		}
		sh.vals = dp.path.Values(d, sh.vals[:0])
		for _, v := range sh.vals {
			var ent *entry
			var fresh bool
			switch {
			case v.Kind == query.KindString:
				ent, fresh = seg.tk[di].add(v.Str, uint8(v.Kind), &m)
			case v.Kind == query.KindIP && v.IP.IsValid():
				ent, fresh = seg.tk[di].addAddr(v.IP.WithZone(""), &m)
			case v.Kind == query.KindNumber && v.Num >= 0 && v.Num < 1<<53 && v.Num == math.Trunc(v.Num):
				ent, fresh = seg.tk[di].addNum(uint64(v.Num), &m)
			default:
				sh.buf = v.AppendText(sh.buf[:0])
				if len(sh.buf) == 0 {
					continue
				}
				ent, fresh = seg.tk[di].add(bstr(sh.buf), uint8(v.Kind), &m)
			}
			if dp.hasLabels && (fresh || !ent.labeled) {
				var ls [numLabels]string
				var tmp []query.Value
				for l, lp := range dp.labels {
					if lp.Name == "" {
						continue
					}
					tmp = lp.Values(d, tmp[:0])
					if len(tmp) > 0 {
						ls[l] = tmp[0].String()
					}
				}
				ent.setLabels(&ls)
			}
		}
	}
}

// lookup returns the segment of key k, nil when the minute has none.
func (a *acc) lookup(k *segKey) *accSeg {
	slot := k.slot()
	if seg := a.recent[slot]; seg != nil && seg.key == *k {
		return seg
	}
	if seg := a.recent[slot^1]; seg != nil && seg.key == *k {
		return seg
	}
	seg := a.segs[*k]
	if seg != nil {
		a.remember(slot, seg)
	}
	return seg
}

// remember puts seg in the recent cache at slot (from k.slot()).
func (a *acc) remember(slot int, seg *accSeg) {
	if a.recent[slot] != nil {
		slot ^= 1
	}
	a.recent[slot] = seg
}

// dnsSegKey is the segment key of the DNS event of d: response code,
// verdict (dnsFlags), event.dataset. The verdict is built in sh.kbuf:
// valid until the next event (fold clones what it keeps).
func (sh *shard) dnsSegKey(d *query.EventDoc) segKey {
	var k segKey
	sh.vals = pathRcode.Values(d, sh.vals[:0])
	k.action = firstText(sh.vals)
	sh.vals = pathDataset.Values(d, sh.vals[:0])
	k.dataset = firstText(sh.vals)
	var f dnsFlags
	sh.vals = pathBand.Values(d, sh.vals[:0])
	if f.band = firstText(sh.vals); strings.Contains(f.band, "|") {
		f.band = "" // not dnscheck's: it would break the key
	}
	sh.vals = pathNewDomain.Values(d, sh.vals[:0])
	f.isNew = len(sh.vals) > 0 && sh.vals[0].Kind == query.KindBool && sh.vals[0].Bool
	sh.vals = pathUnsanct.Values(d, sh.vals[:0])
	f.unsanct = len(sh.vals) > 0 && sh.vals[0].Kind == query.KindBool && sh.vals[0].Bool
	sh.vals = pathBlocklist.Values(d, sh.vals[:0])
	f.list = firstText(sh.vals)
	sh.kbuf = f.appendKey(sh.kbuf[:0])
	k.direction = bstr(sh.kbuf)
	return k
}

// firstText is the first value if it is valid text, else "".
func firstText(vals []query.Value) string {
	s := firstStr(vals)
	if !utf8.ValidString(s) {
		return ""
	}
	return s
}

func cloneStr(s string) string {
	if s == "" {
		return ""
	}
	return string([]byte(s))
}

func (s *Store) newAccSeg(p *kindPlan) *accSeg {
	seg := &accSeg{tk: make([]*topK, len(p.dims))}
	for i := range p.dims {
		seg.tk[i] = newTopK(p.dims[i].k, p.main)
	}
	return seg
}

// mergeAccs turns the open minutes of one kind and minute from all shards
// into a block.
func (s *Store) mergeAccs(p *kindPlan, res uint8, start int64, accs []*acc) *block {
	type group struct {
		key   segKey
		other bool
		m     [numMetrics]uint64
		dims  [][]*summary
	}
	groups := map[segKey]*group{}
	var other *group
	add := func(g *group, as *accSeg) {
		for i := range as.m {
			g.m[i] += as.m[i]
		}
		for di, tk := range as.tk {
			if len(tk.ents) == 0 {
				continue
			}
			sm := tk.summary(p.dims[di].field)
			g.dims[di] = append(g.dims[di], &sm)
		}
	}
	for _, a := range accs {
		for k, as := range a.segs {
			g := groups[k]
			if g == nil {
				g = &group{key: k, dims: make([][]*summary, len(p.dims))}
				groups[k] = g
			}
			add(g, as)
		}
		if a.other != nil {
			if other == nil {
				other = &group{other: true, dims: make([][]*summary, len(p.dims))}
			}
			add(other, a.other)
		}
	}
	segs := make([]segment, 0, len(groups)+1)
	for _, g := range groups {
		segs = append(segs, s.finishGroup(p, g.key, false, g.m, g.dims))
	}
	if other != nil {
		segs = append(segs, s.finishGroup(p, segKey{}, true, other.m, other.dims))
	}
	return &block{kind: p.kind, res: res, start: unixTime(start), segs: s.capSegments(p, segs)}
}

func (s *Store) finishGroup(p *kindPlan, key segKey, other bool, m [numMetrics]uint64, dims [][]*summary) segment {
	seg := segment{key: key, other: other, m: m}
	for di, ss := range dims {
		if len(ss) == 0 {
			continue
		}
		seg.dims = append(seg.dims, mergeSummaries(p.dims[di].field, p.dims[di].k, p.main, ss))
	}
	return seg
}

// capSegments keeps the MaxSegments largest segments and folds the rest
// (and any other segment) into one other segment.
func (s *Store) capSegments(p *kindPlan, segs []segment) []segment {
	sort.Slice(segs, func(a, b int) bool {
		if segs[a].other != segs[b].other {
			return !segs[a].other
		}
		if segs[a].m[p.main] != segs[b].m[p.main] {
			return segs[a].m[p.main] > segs[b].m[p.main]
		}
		ka, kb := segs[a].key, segs[b].key
		if ka.action != kb.action {
			return ka.action < kb.action
		}
		if ka.direction != kb.direction {
			return ka.direction < kb.direction
		}
		return ka.dataset < kb.dataset
	})
	named := 0
	for named < len(segs) && !segs[named].other {
		named++
	}
	if named <= s.cfg.MaxSegments && named >= len(segs)-1 {
		return segs
	}
	keep := segs[:s.cfg.MaxSegments:s.cfg.MaxSegments]
	if named < s.cfg.MaxSegments {
		keep = segs[:named:named]
	}
	rest := segs[len(keep):]
	var m [numMetrics]uint64
	dims := make([][]*summary, len(p.dims))
	for i := range rest {
		for j := range m {
			m[j] += rest[i].m[j]
		}
		for k := range rest[i].dims {
			if di, ok := p.byField[rest[i].dims[k].field]; ok {
				dims[di] = append(dims[di], &rest[i].dims[k])
			}
		}
	}
	return append(keep, s.finishGroup(p, segKey{}, true, m, dims))
}
