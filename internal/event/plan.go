package event

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Syslog documents are written as one tree merged from sluice's own values
// and the parsed fields (appendSyslog). Working out that tree (ordering the
// paths, checking them, finding duplicates and leaves that would need to be
// objects, opening and closing objects) costs more than writing the values,
// yet it depends only on the sequence of keys, and a parser emits the same
// few sequences line after line. So the first layout of a sequence is done
// the long way (appendTreeSlow) and, once the sequence has been seen twice,
// kept as a plan: for each value, the bytes that precede it (closing
// braces, comma, opened objects, the quoted key and colon) and which value
// it is. Replaying a plan appends those bytes and the values, nothing else.
//
// The cache is two-way set-associative by a hash of the sequence and
// bounded (2*planSlots plans, a few MB at most); a full set replaces one of
// its two plans. A plan is
// only used when its key sequence equals the event's, so a collision costs
// a slow layout, never a wrong document. A sequence seen once (e.g. keys
// taken from the input by a generic key=value rule) is not stored, so
// one-off sequences do not allocate.

const planSlots = 2048

var (
	planCache [planSlots][2]atomic.Pointer[syslogPlan]
	planSeen  [planSlots]atomic.Uint64 // hash of the last sequence laid out slowly in that slot
)

// syslogPlan is the cached layout of one key sequence.
type syslogPlan struct {
	hash uint64
	n    int      // how many of keys are sluice's own
	keys []string // the sequence, owned by the plan
	src  []uint16 // per written value: below n an own value, else n + index into Fields
	off  []uint32 // text[off[i]:off[i+1]] precedes value i; text[off[len(src)]:] follows the last
	text string
	// at maps the path of each written value to its source (as src):
	// what a reader of the event asks (SyslogSource) without laying the
	// tree out again.
	at map[string]uint16
	// reader: see ReaderTable.
	reader atomic.Value
	// question is the index in Fields of dns.question.name's value, -1
	// when the layout has none (see DNSQuestion).
	question int
}

// treeRecord is what appendTreeSlow wrote, for building a plan: per value
// its source and where it starts and ends, relative to the tree's start.
type treeRecord struct {
	count      int
	src        [maxSyslogFields]uint16
	start, end [maxSyslogFields]int32
	total      int32 // length of the tree, closing braces included
}

// parsedKey is the key a parsed field has in a sequence: "" (not a valid
// path, so left out) when the field is not written.
func parsedKey(f *Field) string {
	if f.writable() {
		return f.Key
	}
	return ""
}

// hashKeys hashes the key sequence of own[:n] and fields, and how many of
// them are sluice's own (the split matters: own values win over parsed
// ones). It looks at each key's length and first and last eight bytes
// only: a collision costs a slow layout (lookupPlan compares the keys),
// never a wrong document.
func hashKeys(own *[maxOwnFields]Field, n int, fields []Field) uint64 {
	h := uint64(n)*0x9e3779b97f4a7c15 + uint64(len(fields))
	for i := 0; i < n; i++ {
		h = (h ^ keyWord(own[i].Key)) * 0xff51afd7ed558ccd
	}
	for i := range fields {
		h = (h ^ keyWord(parsedKey(&fields[i]))) * 0xff51afd7ed558ccd
	}
	return h ^ h>>29
}

// keyWord folds a key into one word: its length, first and last eight
// bytes.
func keyWord(k string) uint64 {
	n := len(k)
	if n >= 8 {
		b := unsafe.Slice(unsafe.StringData(k), n) // read only
		return binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 31) ^ uint64(n)<<58
	}
	var x uint64
	for i := 0; i < n; i++ {
		x |= uint64(k[i]) << (8 * i)
	}
	return x ^ uint64(n)<<58
}

// lookupPlan returns the cached plan for the sequence, or nil.
func lookupPlan(h uint64, own *[maxOwnFields]Field, n int, fields []Field) *syslogPlan {
	set := &planCache[h%planSlots]
	p := set[0].Load()
	if p == nil || p.hash != h {
		if p = set[1].Load(); p == nil || p.hash != h {
			return nil
		}
	}
	if p.n != n || len(p.keys) != n+len(fields) {
		return nil
	}
	for i := 0; i < n; i++ {
		if p.keys[i] != own[i].Key {
			return nil
		}
	}
	for i := range fields {
		if p.keys[n+i] != parsedKey(&fields[i]) {
			return nil
		}
	}
	return p
}

// maybeStorePlan stores the layout just written (tree: the bytes
// appendTreeSlow appended) when the same sequence was laid out slowly
// before in its slot; otherwise it only remembers the sequence's hash.
func maybeStorePlan(h uint64, keys []string, n int, tree []byte, rec *treeRecord) *syslogPlan {
	slot := h % planSlots
	if planSeen[slot].Load() != h {
		planSeen[slot].Store(h)
		return nil
	}
	p := &syslogPlan{hash: h, n: n,
		keys: make([]string, len(keys)),
		src:  make([]uint16, rec.count),
		off:  make([]uint32, rec.count+1),
		at:   make(map[string]uint16, rec.count),
	}
	// sluice's own keys are string constants (ownSyslogFields): kept as
	// they are, so that comparing them in lookupPlan finds the same
	// pointer and skips the bytes. The parsed ones may point into a
	// batch's arena: copied, with one allocation for all.
	copy(p.keys[:n], keys[:n])
	size := 0
	for _, k := range keys[n:] {
		size += len(k)
	}
	all := strings.Builder{}
	all.Grow(size)
	for _, k := range keys[n:] {
		all.WriteString(k)
	}
	joined, at := all.String(), 0
	for i, k := range keys[n:] {
		p.keys[n+i] = joined[at : at+len(k)]
		at += len(k)
	}
	var text []byte
	prev := int32(0)
	for i := 0; i < rec.count; i++ {
		pre := tree[prev:rec.start[i]]
		if i == 0 && len(pre) > 0 && pre[0] == ',' {
			pre = pre[1:] // the comma after @timestamp is decided when replaying
		}
		p.off[i] = uint32(len(text))
		text = append(text, pre...)
		p.src[i] = rec.src[i]
		prev = rec.end[i]
	}
	p.off[rec.count] = uint32(len(text))
	text = append(text, tree[prev:rec.total]...)
	p.text = string(text)
	for _, src := range p.src {
		if _, dup := p.at[p.keys[src]]; !dup { // an array's first value
			p.at[p.keys[src]] = src // own keys, then the parsed ones: src indexes both
		}
	}
	p.question = -1
	if src, ok := p.at["dns.question.name"]; ok && int(src) >= n {
		p.question = int(src) - n
	}
	set := &planCache[slot]
	switch {
	case set[0].Load() == nil:
		set[0].Store(p)
	case set[1].Load() == nil:
		set[1].Store(p)
	default:
		set[h>>63].Store(p)
	}
	return p
}

// appendTree replays the plan with the event's values.
func (p *syslogPlan) appendTree(dst []byte, own *[maxOwnFields]Field, n int, fields []Field, dc *dateCache) []byte {
	if len(p.src) == 0 {
		return dst
	}
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	for i, s := range p.src {
		dst = append(dst, p.text[p.off[i]:p.off[i+1]]...)
		if int(s) < n {
			dst = appendFieldValue(dst, &own[s], dc)
		} else {
			dst = appendFieldValue(dst, &fields[int(s)-n], dc)
		}
	}
	return append(dst, p.text[p.off[len(p.src)]:]...)
}

// appendTreeSlow lays out and writes the tree of sluice's own values
// (own[:n], in path order) and the parsed fields: seq[:np] holds their
// keys, own first, "" for a field that is not written. Every value is
// ordered by path, sluice's own first among equal paths. When two values
// claim the same path the first wins; a value whose path is a prefix of
// another's (a leaf where an object is needed) is left out. rec gets what
// was written, for a plan.
func appendTreeSlow(dst []byte, own *[maxOwnFields]Field, n int, fields []Field, seq *[maxSyslogFields]string, np int, dc *dateCache, rec *treeRecord) []byte {
	base := len(dst)
	// The sort works on positions into keys/from (from: below n an own
	// value, else n + an index of fields), so no pointer to the stack
	// arrays leaks and nothing is allocated. sluice's own values are added
	// in path order; the parsed ones are sorted stably and merged in.
	var keys [maxSyslogFields]string
	var from, pos, tmp [maxSyslogFields]uint16
	m := 0
	for i := 0; i < np; i++ {
		if i >= n && !validPath(seq[i]) {
			continue
		}
		keys[m], from[m], pos[m] = seq[i], uint16(i), uint16(m)
		m++
	}
	sortPositions(&keys, pos[n:m], tmp[n:m])
	var order [maxSyslogFields]uint16
	list := order[:0]
	a, b := pos[:n], pos[n:m]
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || (len(a) > 0 && !pathLess(keys[b[0]], keys[a[0]])) {
			list = append(list, a[0])
			a = a[1:]
		} else {
			list = append(list, b[0])
			b = b[1:]
		}
	}

	var open [16]string // path segments of the objects currently open
	var segBuf [17]string
	depth := 0
	prev := ""
	inArray := false // the values of prev are being written as an array (ArrayKey)
	for li, p := range list {
		key := keys[p]
		if key == prev {
			if !inArray {
				continue // duplicate path: the first (sluice's own) wins
			}
			dst = append(dst, ',')
			src := from[p]
			rec.src[rec.count], rec.start[rec.count] = src, int32(len(dst)-base)
			dst = appendFieldValue(dst, &fields[int(src)-n], dc)
			rec.end[rec.count] = int32(len(dst) - base)
			rec.count++
			continue
		}
		if inArray {
			dst = append(dst, ']')
			inArray = false
		}
		if isParent(&keys, key, list[li+1:]) {
			continue // a leaf where an object is needed
		}
		prev = key
		segs := splitPath(&segBuf, key)
		if len(segs) > len(open) {
			continue
		}
		// Close the objects not shared with this path.
		common := 0
		for common < depth && common < len(segs)-1 && open[common] == segs[common] {
			common++
		}
		for depth > common {
			dst = append(dst, '}')
			depth--
		}
		for _, sg := range segs[depth : len(segs)-1] {
			if c := dst[len(dst)-1]; c != '{' {
				dst = append(dst, ',')
			}
			dst = appendString(dst, sg)
			dst = append(dst, ':', '{')
			open[depth] = sg
			depth++
		}
		if c := dst[len(dst)-1]; c != '{' {
			dst = append(dst, ',')
		}
		dst = appendString(dst, segs[len(segs)-1])
		dst = append(dst, ':')
		src := from[p]
		if int(src) >= n && li+1 < len(list) && keys[list[li+1]] == key && ArrayKey(key) {
			// Parsed values repeating a key that opts in (consecutive
			// after the stable sort): one JSON array, in field order.
			dst = append(dst, '[')
			inArray = true
		}
		rec.src[rec.count], rec.start[rec.count] = src, int32(len(dst)-base)
		if int(src) < n {
			dst = appendFieldValue(dst, &own[src], dc)
		} else {
			dst = appendFieldValue(dst, &fields[int(src)-n], dc)
		}
		rec.end[rec.count] = int32(len(dst) - base)
		rec.count++
	}
	if inArray {
		dst = append(dst, ']')
	}
	for ; depth > 0; depth-- {
		dst = append(dst, '}')
	}
	rec.total = int32(len(dst) - base)
	return dst
}

// ArrayKey reports whether repeated parsed values of key are written as
// one JSON array (all of them, in field order) instead of the first one
// only: the DNS paths that ECS defines as lists, and the countries and AS
// of the resolved addresses (enrich/geo). Values of one key repeat
// there by design (a DNS response resolves to many addresses), where
// elsewhere a repeated key is a parser's mistake and the first wins.
func ArrayKey(key string) bool {
	switch key {
	case "dns.resolved_ip", "dns.answers", "dns.header_flags",
		"sluice.dns.resolved_country_iso_code", "sluice.dns.resolved_as_number", "sluice.dns.resolved_as_organization":
		return true
	}
	return false
}

// ArrayPath reports whether path is an ArrayKey or lies below one (then
// only the document tells its values).
func ArrayPath(path string) bool {
	if ArrayKey(path) {
		return true
	}
	for _, k := range [...]string{"dns.resolved_ip", "dns.answers", "dns.header_flags"} {
		if len(path) > len(k) && path[len(k)] == '.' && path[:len(k)] == k {
			return true
		}
	}
	return false
}

// SyslogLayout is the cached layout of a syslog event's key sequence
// (see above), as readers of encoded events see it.
type SyslogLayout = syslogPlan

// SyslogLayout returns the layout the event was last encoded with (nil:
// none, or not a syslog-shaped event: KindSyslog, KindDNS and KindBeats
// documents are laid out alike). Its answers are those of that encoding:
// valid as long as the event has not changed since.
func (e *Event) SyslogLayout() *SyslogLayout {
	if e.Kind != KindSyslog && e.Kind != KindDNS && e.Kind != KindBeats {
		return nil
	}
	return e.layout
}

// Source tells where the value at path in a document of this layout
// comes from, without laying the document out: own (sluice's own value at
// that path, e.g. host.hostname), or field >= 0 (the event's
// Fields[field]). ok is false when the document holds no value at path
// (not written, or an object).
func (p *syslogPlan) Source(path string) (field int, own, ok bool) {
	src, ok := p.at[path]
	switch {
	case !ok:
		return -1, false, false
	case int(src) < p.n:
		return -1, true, true
	}
	return int(src) - p.n, false, true
}

// DNSQuestion reports whether the event's document has a non-empty
// dns.question.name, the mark of a DNS event whatever its source: from the
// layout when the event has one (no scan of Fields; most syslog events
// have none), else by looking through Fields.
func (e *Event) DNSQuestion() bool {
	if p := e.SyslogLayout(); p != nil {
		if p.question < 0 || p.question >= len(e.Fields) {
			return false
		}
		f := &e.Fields[p.question]
		return f.Type == FieldString && f.S != ""
	}
	for i := range e.Fields {
		if f := &e.Fields[i]; f.Key == "dns.question.name" && f.Type == FieldString && f.S != "" {
			return true
		}
	}
	return false
}

// ReaderTable is a slot for what a reader derives from the layout (the
// query package keeps a table of sources per registered path there), so
// it is worked out once per layout.
func (p *syslogPlan) ReaderTable() *atomic.Value { return &p.reader }

// SyslogSource is SyslogLayout().Source(path), with known false when the
// event has no layout (then only the document can tell).
func (e *Event) SyslogSource(path string) (field int, own, known bool) {
	p := e.SyslogLayout()
	if p == nil {
		return -1, false, false
	}
	field, own, ok := p.Source(path)
	if !ok {
		return -1, false, true
	}
	return field, own, true
}
