package geoip

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/sluicelab/sluice/internal/event"
)

// cacheShards spreads the cache over locks so that stage workers rarely
// wait for each other; a power of two.
const cacheShards = 64

// cache is a bounded LRU map from address to answer (nil: the databases
// know nothing of it), split into shards by a hash of the address. Each
// shard is a true LRU of its share of the capacity.
//
// In front of it sits a two-way table of recent answers that is read
// without a lock: a flow looks up two addresses, and taking a
// shard's lock, hashing the map key and relinking the LRU list cost more
// than the rest of the enrichment. The table only holds answers the LRU
// gave or stored for this cache's databases, so it is never wrong; its
// slots are overwritten by other addresses, which then go to the LRU.
type cache struct {
	shards [cacheShards]shard
	front  []frontSlot // a power of two, or nil for a small cache
}

// frontSlot is one answer of the lock-free table, held in the slot itself
// (the two ways of a slot pair share a cache line: one memory access per
// lookup, which is what a lookup of a random address costs). seq is even
// when the slot is stable, odd while a writer changes it, 0 when empty;
// a reader that sees it change or odd takes the LRU instead.
type frontSlot struct {
	seq    atomic.Uint32
	_      uint32
	hi, lo atomic.Uint64 // the address, as 16 bytes
	val    atomic.Pointer[event.Geo]
}

// frontSlots bounds the size of the lock-free table (a power of two; 32
// bytes a slot, 4 MB at most).
const frontSlots = 1 << 17

type shard struct {
	mu    sync.Mutex
	idx   map[netip.Addr]int32
	nodes []node // up to max; a doubly linked list by index, most recent at head
	max   int
	head  int32
	tail  int32
	_     [32]byte // keep neighbouring shards' locks off one cache line
}

type node struct {
	key        netip.Addr
	val        *event.Geo
	prev, next int32
}

// newCache returns a cache of about size entries, or nil for size 0.
func newCache(size int) *cache {
	if size <= 0 {
		return nil
	}
	per := (size + cacheShards - 1) / cacheShards
	c := &cache{}
	if size >= 1<<14 {
		n := 1 << 14
		for n < size && n < frontSlots {
			n <<= 1
		}
		c.front = make([]frontSlot, n)
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.max = per
		s.head, s.tail = -1, -1
		s.idx = make(map[netip.Addr]int32, min(per, 1024))
	}
	return c
}

// hash mixes the address; its top bits pick the shard, its low bits the
// slot of the lock-free table.
func hash(ip netip.Addr) uint64 {
	b := ip.As16()
	h := binary.BigEndian.Uint64(b[:8]) ^ bits.RotateLeft64(binary.BigEndian.Uint64(b[8:]), 29)
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>32
}

func (c *cache) shard(h uint64) *shard { return &c.shards[h>>(64-6)] }

// get returns the cached answer for ip and whether there was one.
func (c *cache) get(ip netip.Addr) (*event.Geo, bool) {
	h := hash(ip)
	b := ip.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	if c.front != nil {
		// Two ways: the slot and its neighbour.
		i := h & uint64(len(c.front)-1)
		if v, ok := c.front[i].get(hi, lo); ok {
			return v, true
		}
		if v, ok := c.front[i^1].get(hi, lo); ok {
			return v, true
		}
	}
	s := c.shard(h)
	s.mu.Lock()
	i, ok := s.idx[ip]
	var v *event.Geo
	if ok {
		s.toFront(i)
		v = s.nodes[i].val
	}
	s.mu.Unlock()
	if ok {
		c.remember(h, hi, lo, v)
	}
	return v, ok
}

// get returns the slot's answer if it holds the address hi, lo.
func (f *frontSlot) get(hi, lo uint64) (*event.Geo, bool) {
	s := f.seq.Load()
	if s == 0 || s&1 == 1 || f.hi.Load() != hi || f.lo.Load() != lo {
		return nil, false
	}
	v := f.val.Load()
	return v, f.seq.Load() == s
}

// remember puts an answer into the lock-free table: into an empty way,
// else over one of the two. A slot another writer holds is left alone.
func (c *cache) remember(h, hi, lo uint64, v *event.Geo) {
	if c.front == nil {
		return
	}
	i := h & uint64(len(c.front)-1)
	switch {
	case c.front[i].seq.Load() == 0:
	case c.front[i^1].seq.Load() == 0:
		i ^= 1
	default:
		i ^= h >> 63
	}
	f := &c.front[i]
	s := f.seq.Load()
	if s&1 == 1 || !f.seq.CompareAndSwap(s, s+1) {
		return
	}
	f.hi.Store(hi)
	f.lo.Store(lo)
	f.val.Store(v)
	f.seq.Store(s + 2)
}

// put stores the answer for ip, evicting the least recently used entry of
// its shard when the shard is full.
func (c *cache) put(ip netip.Addr, v *event.Geo) {
	h := hash(ip)
	b := ip.As16()
	c.remember(h, binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), v)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.idx[ip]; ok {
		s.nodes[i].val = v
		s.toFront(i)
		return
	}
	var i int32
	if len(s.nodes) < s.max {
		s.nodes = append(s.nodes, node{prev: -1, next: -1})
		i = int32(len(s.nodes) - 1)
	} else {
		i = s.tail
		s.unlink(i)
		delete(s.idx, s.nodes[i].key)
	}
	s.nodes[i] = node{key: ip, val: v, prev: -1, next: -1}
	s.idx[ip] = i
	s.pushFront(i)
}

// len returns the number of cached addresses.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.idx)
		s.mu.Unlock()
	}
	return n
}

func (s *shard) toFront(i int32) {
	if s.head == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

func (s *shard) unlink(i int32) {
	n := &s.nodes[i]
	if n.prev >= 0 {
		s.nodes[n.prev].next = n.next
	} else {
		s.head = n.next
	}
	if n.next >= 0 {
		s.nodes[n.next].prev = n.prev
	} else {
		s.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (s *shard) pushFront(i int32) {
	n := &s.nodes[i]
	n.prev, n.next = -1, s.head
	if s.head >= 0 {
		s.nodes[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}
