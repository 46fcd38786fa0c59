package geoip

import (
	"net/netip"
	"testing"

	"github.com/sluicelab/sluice/internal/event"
)

// Each shard is an LRU of its share: recently used entries survive,
// the least recently used one goes, and the size stays bounded.
func TestCacheLRU(t *testing.T) {
	c := newCache(cacheShards * 3) // 3 entries per shard
	// Addresses of one shard.
	var same []netip.Addr
	want := c.shard(hash(netip.MustParseAddr("1.0.0.0")))
	for i := uint32(0); len(same) < 5; i++ {
		ip := netip.AddrFrom4([4]byte{1, byte(i >> 16), byte(i >> 8), byte(i)})
		if c.shard(hash(ip)) == want {
			same = append(same, ip)
		}
	}
	geos := make([]*event.Geo, len(same))
	for i := range geos {
		geos[i] = &event.Geo{ASN: uint32(i + 1)}
	}
	c.put(same[0], geos[0])
	c.put(same[1], geos[1])
	c.put(same[2], nil) // a negative answer is cached too
	if g, ok := c.get(same[0]); !ok || g != geos[0] {
		t.Fatalf("get(0) = %v, %v; want the same pointer", g, ok)
	}
	c.put(same[3], geos[3]) // evicts 1, the least recently used
	if _, ok := c.get(same[1]); ok {
		t.Error("entry 1 survived although least recently used")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := c.get(same[i]); !ok {
			t.Errorf("entry %d evicted, want kept", i)
		}
	}
	if g, ok := c.get(same[2]); !ok || g != nil {
		t.Errorf("negative entry = %v, %v; want nil, true", g, ok)
	}
	c.put(same[4], geos[4]) // evicts 0 (2 and 3 were used after it)
	if _, ok := c.get(same[0]); ok {
		t.Error("entry 0 survived although least recently used")
	}
	// Bounded: many more addresses than capacity.
	for i := range 10000 {
		c.put(netip.AddrFrom4([4]byte{2, byte(i >> 16), byte(i >> 8), byte(i)}), nil)
	}
	if n := c.len(); n != cacheShards*3 {
		t.Errorf("len() = %d after 10000 puts, want the capacity %d", n, cacheShards*3)
	}
	if newCache(0) != nil {
		t.Error("newCache(0) is not nil (no cache)")
	}
}

// Without a cache every lookup goes to the database, with the same answers.
func TestNoCache(t *testing.T) {
	d, _, _ := newTestDB(t, cfgWith(func(c *Config) { c.CityDB, c.CacheSize = testCity, 0 }))
	for range 3 {
		if g, r := d.Lookup(netip.MustParseAddr("81.2.69.142")); r != ResultFound || g.CityName != "London" {
			t.Fatalf("Lookup = %+v, %s", g, r)
		}
	}
	var c Counts
	d.Find(netip.MustParseAddr("81.2.69.142"), &c)
	if c.hits != 0 || c.misses != 0 {
		t.Errorf("hits/misses without a cache = %d/%d, want 0/0", c.hits, c.misses)
	}
}

// A large cache answers from its lock-free table first: the same pointer
// as stored, also for an address whose slot another address took, and
// never another address's answer.
func TestCacheFrontTable(t *testing.T) {
	c := newCache(1 << 20)
	if c.front == nil {
		t.Fatal("no lock-free table for a large cache")
	}
	n := 3 * frontSlots // more addresses than slots: slots are overwritten
	geos := make([]*event.Geo, n)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{3, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range n {
		geos[i] = &event.Geo{ASN: uint32(i + 1)}
		c.put(addr(i), geos[i])
	}
	for round := range 2 { // the second round mostly hits the table
		for i := range n {
			if g, ok := c.get(addr(i)); !ok || g != geos[i] {
				t.Fatalf("round %d: get(%s) = %v, %v; want ASN %d", round, addr(i), g, ok, i+1)
			}
		}
	}
	if _, ok := c.get(netip.MustParseAddr("4.4.4.4")); ok {
		t.Error("an address never stored was found")
	}
}
