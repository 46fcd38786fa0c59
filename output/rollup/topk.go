package rollup

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicelab/sluice/internal/query"
)

// Metric slots of an entry and of a segment's totals.
const (
	mBytes = iota
	mPackets
	mCount // flows for flows, events for syslog
	numMetrics
)

// Labels kept with an entry (when the document had them).
const (
	lCountry = iota
	lAS
	lOrg
	lReasons // DNS names: sluice.dns.reasons
	numLabels
)

var labelNames = [numLabels]string{"country", "as", "org", "reasons"}

// entry is one value of a dimension with its metrics. err is the most its
// main metric may be too high (Space-Saving: the count of the value it
// replaced); the other metrics only count what was seen after it entered.
//
// What an add reads and writes (key, kinds, nkey, m, err) comes first and
// fills one cache line; labeled says whether labels holds any, so an add
// need not read them.
type entry struct {
	key     string
	vk      uint8 // query.ValueKind of the value
	ix      uint8 // the index it is in: ixStr, ixNum, ixAddr
	labeled bool  // labels is not all empty (tables being filled only)
	nkey    uint64
	m       [numMetrics]uint64
	err     uint64
	akey    netip.Addr
	labels  [numLabels]string
}

// topK keeps the K values of one dimension with the largest main metric
// with the Space-Saving algorithm (weighted: a new value replaces the
// smallest when full and inherits its count as error), so memory is
// bounded whatever the number of distinct values.
type topK struct {
	k    int
	main int // metric slot ranked by
	ents []entry
	// slots index ents by value (open addressing, linear probing): 0 is
	// empty, else the value's 32-bit hash << 32 | its entry's index + 1.
	// Numbers and addresses of flows are found by value, not text (no
	// formatting per event); one flat table is a cache line or two a
	// look-up, where a map is several.
	slots []uint64
	heap  []heapItem // min-heap of entries by main metric
	pos   []int32    // pos[i]: index of entry i in heap
	// overflow is set once a value was replaced: the counts are then
	// upper bounds (by err) and absent values may have been seen.
	overflow bool
}

// heapItem is an entry in the heap with a copy of its main metric: the
// heap is ordered without touching the entries (which lie all over the
// table), so a sift reads one small array.
type heapItem struct {
	v uint64 // ents[i].m[main]
	i int32
}

func newTopK(k, main int) *topK {
	n := 8
	for n < 2*k {
		n <<= 1
	}
	return &topK{k: k, main: main, slots: make([]uint64, n)}
}

// keySeed seeds the hash of text values.
var keySeed = maphash.MakeSeed()

func strHash(s string) uint32 { return uint32(maphash.String(keySeed, s)) }

func numHash(v uint64) uint32 {
	v *= 0x9e3779b97f4a7c15
	return uint32(v ^ v>>32)
}

func addrHash(a netip.Addr) uint32 {
	b := a.As16()
	h := binary.LittleEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[8:])*0xc2b2ae3d27d4eb4f
	return uint32(h ^ h>>32)
}

// hashOf is the hash e's value was indexed by.
func (t *topK) hashOf(e *entry) uint32 {
	switch e.ix {
	case ixNum:
		return numHash(e.nkey)
	case ixAddr:
		return addrHash(e.akey)
	}
	return strHash(e.key)
}

// index records entry i under hash h.
func (t *topK) index(h uint32, i int32) {
	mask := len(t.slots) - 1
	j := int(h) & mask
	for t.slots[j] != 0 {
		j = (j + 1) & mask
	}
	t.slots[j] = uint64(h)<<32 | uint64(i+1)
}

// unindex removes entry i (indexed under hash h), moving back the
// entries after it that would otherwise no longer be found.
func (t *topK) unindex(h uint32, i int32) {
	mask := len(t.slots) - 1
	j := int(h) & mask
	for uint32(t.slots[j]) != uint32(i+1) {
		j = (j + 1) & mask
	}
	for {
		t.slots[j] = 0
		k := j
		for {
			k = (k + 1) & mask
			s := t.slots[k]
			if s == 0 {
				return
			}
			home := int(s>>32) & mask
			// The entry at k stays when its home lies cyclically in
			// (j, k]: the probe from there does not cross j.
			if j <= k {
				if j < home && home <= k {
					continue
				}
			} else if j < home || home <= k {
				continue
			}
			t.slots[j] = s
			j = k
			break
		}
	}
}

// add counts value key (text form; cloned when it is kept) with metrics m
// and returns its entry (valid until the next add) and whether it is new.
func (t *topK) add(key string, vk uint8, m *[numMetrics]uint64) (*entry, bool) {
	h := strHash(key)
	mask := len(t.slots) - 1
	for j := int(h) & mask; ; j = (j + 1) & mask {
		s := t.slots[j]
		if s == 0 {
			break
		}
		if uint32(s>>32) == h {
			i := int32(uint32(s)) - 1
			if e := &t.ents[i]; e.ix == ixStr && e.key == key {
				return t.hit(i, m), false
			}
		}
	}
	i, e := t.insert(vk, m)
	e.key, e.ix = strings.Clone(key), ixStr
	t.index(h, i)
	return e, true
}

// addNum is add for a number value v (text: its decimal form).
func (t *topK) addNum(v uint64, m *[numMetrics]uint64) (*entry, bool) {
	h := numHash(v)
	mask := len(t.slots) - 1
	for j := int(h) & mask; ; j = (j + 1) & mask {
		s := t.slots[j]
		if s == 0 {
			break
		}
		if uint32(s>>32) == h {
			i := int32(uint32(s)) - 1
			if e := &t.ents[i]; e.ix == ixNum && e.nkey == v {
				return t.hit(i, m), false
			}
		}
	}
	i, e := t.insert(uint8(query.KindNumber), m)
	e.ix, e.nkey = ixNum, v // key: written by summary
	t.index(h, i)
	return e, true
}

// addAddr is add for an address (without zone).
func (t *topK) addAddr(a netip.Addr, m *[numMetrics]uint64) (*entry, bool) {
	h := addrHash(a)
	mask := len(t.slots) - 1
	for j := int(h) & mask; ; j = (j + 1) & mask {
		s := t.slots[j]
		if s == 0 {
			break
		}
		if uint32(s>>32) == h {
			i := int32(uint32(s)) - 1
			if e := &t.ents[i]; e.ix == ixAddr && e.akey == a {
				return t.hit(i, m), false
			}
		}
	}
	i, e := t.insert(uint8(query.KindIP), m)
	e.ix, e.akey = ixAddr, a // key: written by summary
	t.index(h, i)
	return e, true
}

const (
	ixStr uint8 = iota
	ixNum
	ixAddr
)

func (t *topK) hit(i int32, m *[numMetrics]uint64) *entry {
	e := &t.ents[i]
	for j := range m {
		e.m[j] += m[j]
	}
	p := int(t.pos[i])
	t.heap[p].v = e.m[t.main]
	t.down(p)
	return e
}

// insert makes room for a new value (replacing the smallest when full)
// and returns its entry with metrics set; the caller sets key and index.
func (t *topK) insert(vk uint8, m *[numMetrics]uint64) (int32, *entry) {
	if len(t.ents) < t.k {
		i := int32(len(t.ents))
		t.ents = append(t.ents, entry{vk: vk, m: *m})
		t.pos = append(t.pos, int32(len(t.heap)))
		t.heap = append(t.heap, heapItem{v: m[t.main], i: i})
		t.up(len(t.heap) - 1)
		return i, &t.ents[i]
	}
	// Full: the smallest value makes room.
	t.overflow = true
	i := t.heap[0].i
	e := &t.ents[i]
	t.unindex(t.hashOf(e), i)
	min := e.m[t.main]
	*e = entry{vk: vk, m: *m, err: min}
	e.m[t.main] += min
	t.heap[0].v = e.m[t.main]
	t.down(0)
	return i, e
}

func (e *entry) setLabels(l *[numLabels]string) {
	for j, s := range l {
		if s != "" {
			e.labels[j] = strings.Clone(s)
			e.labeled = true
		}
	}
}

func (t *topK) less(a, b int) bool {
	return t.heap[a].v < t.heap[b].v
}

func (t *topK) swap(a, b int) {
	t.heap[a], t.heap[b] = t.heap[b], t.heap[a]
	t.pos[t.heap[a].i] = int32(a)
	t.pos[t.heap[b].i] = int32(b)
}

func (t *topK) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !t.less(j, p) {
			return
		}
		t.swap(j, p)
		j = p
	}
}

func (t *topK) down(j int) {
	n := len(t.heap)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && t.less(r, l) {
			c = r
		}
		if !t.less(c, j) {
			return
		}
		t.swap(j, c)
		j = c
	}
}

// minMain is the smallest main count kept (the most an absent value may
// have had when the summary overflowed).
func (t *topK) minMain() uint64 {
	if len(t.heap) == 0 {
		return 0
	}
	return t.heap[0].v
}

// summary is a top-K as stored in a block: entries largest first.
type summary struct {
	field    string
	overflow bool
	min      uint64 // the smallest main count kept when it overflowed
	ents     []entry
}

func (t *topK) summary(field string) summary {
	s := summary{field: field, overflow: t.overflow, ents: append([]entry(nil), t.ents...)}
	// Numbers and addresses get their text form here, once per minute,
	// not each time a value enters the table.
	for i := range s.ents {
		e := &s.ents[i]
		e.labeled = false // as blocks decoded from files have it
		switch e.ix {
		case ixNum:
			e.key = strconv.FormatUint(e.nkey, 10)
		case ixAddr:
			e.key = e.akey.String()
		}
	}
	if t.overflow {
		s.min = t.minMain()
	}
	main := t.main
	sort.Slice(s.ents, func(a, b int) bool {
		if s.ents[a].m[main] != s.ents[b].m[main] {
			return s.ents[a].m[main] > s.ents[b].m[main]
		}
		return s.ents[a].key < s.ents[b].key
	})
	return s
}

// mergeSummaries merges summaries of one dimension (of blocks of one
// segment) into one of at most k entries: counts add up; a value absent
// from an overflowed summary may have had up to its min there, which goes
// into the error.
func mergeSummaries(field string, k, main int, ss []*summary) summary {
	out := summary{field: field}
	idx := map[string]int{}
	var mins uint64
	for _, s := range ss {
		if s.overflow {
			out.overflow = true
			mins += s.min
		}
		for _, e := range s.ents {
			i, ok := idx[e.key]
			if !ok {
				i = len(out.ents)
				idx[e.key] = i
				out.ents = append(out.ents, entry{key: e.key, vk: e.vk, labels: e.labels})
			}
			o := &out.ents[i]
			for j := range e.m {
				o.m[j] += e.m[j]
			}
			o.err += e.err
		}
	}
	if out.overflow {
		// Per value: the mins of the overflowed summaries it is absent
		// from (bounded above by all of them).
		for i := range out.ents {
			out.ents[i].err += mins
		}
	}
	sort.Slice(out.ents, func(a, b int) bool {
		if out.ents[a].m[main] != out.ents[b].m[main] {
			return out.ents[a].m[main] > out.ents[b].m[main]
		}
		return out.ents[a].key < out.ents[b].key
	})
	if len(out.ents) > k {
		out.min = out.ents[k-1].m[main]
		if mins > out.min {
			out.min = mins
		}
		out.ents = out.ents[:k]
		out.overflow = true
	} else if out.overflow {
		out.min = mins
	}
	return out
}
