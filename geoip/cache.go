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
// In front of it sits a small direct-mapped table of recent answers that
// is read without a lock: a flow looks up two addresses, and taking a
// shard's lock, hashing the map key and relinking the LRU list cost more
// than the rest of the enrichment. The table only holds answers the LRU
// gave or stored for this cache's databases, so it is never wrong; its
// slots are overwritten by other addresses, which then go to the LRU.
type cache struct {
	shards [cacheShards]shard
	front  []atomic.Pointer[frontEntry] // frontSlots, or nil for a small cache
}

// frontEntry is one answer in the lock-free table.
type frontEntry struct {
	key netip.Addr
	val *event.Geo
}

// frontSlots bounds the size of the lock-free table (a power of two, 1 MB
// of pointers); its entries are the LRU's own (frontEntry), not copies.
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
	fe         *frontEntry // the same answer for the lock-free table
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
		c.front = make([]atomic.Pointer[frontEntry], n)
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
	if c.front != nil {
		// Two ways: the slot and its neighbour.
		i := h & uint64(len(c.front)-1)
		if e := c.front[i].Load(); e != nil && e.key == ip {
			return e.val, true
		}
		if e := c.front[i^1].Load(); e != nil && e.key == ip {
			return e.val, true
		}
	}
	s := c.shard(h)
	s.mu.Lock()
	i, ok := s.idx[ip]
	var v *event.Geo
	var fe *frontEntry
	if ok {
		s.toFront(i)
		v, fe = s.nodes[i].val, s.nodes[i].fe
	}
	s.mu.Unlock()
	if ok {
		c.remember(h, fe)
	}
	return v, ok
}

// remember puts an answer into the lock-free table: into an empty way,
// else over one of the two.
func (c *cache) remember(h uint64, fe *frontEntry) {
	if c.front == nil || fe == nil {
		return
	}
	i := h & uint64(len(c.front)-1)
	switch {
	case c.front[i].Load() == nil:
	case c.front[i^1].Load() == nil:
		i ^= 1
	default:
		i ^= h >> 63
	}
	c.front[i].Store(fe)
}

// put stores the answer for ip, evicting the least recently used entry of
// its shard when the shard is full.
func (c *cache) put(ip netip.Addr, v *event.Geo) {
	h := hash(ip)
	fe := &frontEntry{key: ip, val: v}
	c.remember(h, fe)
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.idx[ip]; ok {
		s.nodes[i].val, s.nodes[i].fe = v, fe
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
	s.nodes[i] = node{key: ip, val: v, fe: fe, prev: -1, next: -1}
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
