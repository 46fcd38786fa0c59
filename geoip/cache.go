package geoip

import (
	"net/netip"
	"sync"

	"github.com/sluicelab/sluice/internal/event"
)

// cacheShards spreads the cache over locks so that stage workers rarely
// wait for each other; a power of two.
const cacheShards = 64

// cache is a bounded LRU map from address to answer (nil: the databases
// know nothing of it), split into shards by a hash of the address. Each
// shard is a true LRU of its share of the capacity.
type cache struct {
	shards [cacheShards]shard
}

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
	for i := range c.shards {
		s := &c.shards[i]
		s.max = per
		s.head, s.tail = -1, -1
		s.idx = make(map[netip.Addr]int32, min(per, 1024))
	}
	return c
}

func (c *cache) shard(ip netip.Addr) *shard {
	b := ip.As16()
	var h uint64
	for i := 0; i < 16; i += 8 {
		h ^= uint64(b[i])<<56 | uint64(b[i+1])<<48 | uint64(b[i+2])<<40 | uint64(b[i+3])<<32 |
			uint64(b[i+4])<<24 | uint64(b[i+5])<<16 | uint64(b[i+6])<<8 | uint64(b[i+7])
	}
	h *= 0x9e3779b97f4a7c15
	return &c.shards[h>>(64-6)]
}

// get returns the cached answer for ip and whether there was one.
func (c *cache) get(ip netip.Addr) (*event.Geo, bool) {
	s := c.shard(ip)
	s.mu.Lock()
	i, ok := s.idx[ip]
	var v *event.Geo
	if ok {
		s.toFront(i)
		v = s.nodes[i].val
	}
	s.mu.Unlock()
	return v, ok
}

// put stores the answer for ip, evicting the least recently used entry of
// its shard when the shard is full.
func (c *cache) put(ip netip.Addr, v *event.Geo) {
	s := c.shard(ip)
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
