package geoip

import (
	"net/netip"
	"testing"

	"github.com/sluicelab/sluice/geoip/geoiptest"
)

// benchDB opens a synthetic GeoLite2-sized-record City + ASN database of
// 20000 networks.
func benchDB(b *testing.B, cacheSize int) (*DB, []netip.Addr) {
	city, asn, addrs := geoiptest.Synthetic(b, b.TempDir(), 20000, 1)
	d, _, _ := newTestDB(b, cfgWith(func(c *Config) { c.CityDB, c.ASNDB, c.CacheSize = city, asn, cacheSize }))
	if !d.Loaded() {
		b.Fatal("not loaded")
	}
	return d, addrs
}

func benchLookup(b *testing.B, d *DB, addrs []netip.Addr) {
	var c Counts
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		g, _ := d.Find(addrs[n%len(addrs)], &c)
		if g == nil {
			b.Fatal("no answer")
		}
		n++
	}
	d.Account(&c)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkLookupCached: every address in the cache (city + ASN answer).
func BenchmarkLookupCached(b *testing.B) {
	d, addrs := benchDB(b, 65536)
	for _, a := range addrs {
		d.Lookup(a)
	}
	benchLookup(b, d, addrs)
}

// BenchmarkLookupUncached: no cache, both databases decoded per lookup;
// in English (the default) and in German (a name in another language,
// English only where it is missing). geoip2 is the former decoding of
// complete records with geoip2-golang (refQuery), for comparison.
func BenchmarkLookupUncached(b *testing.B) {
	for _, lang := range []string{"en", "de"} {
		b.Run("lang="+lang, func(b *testing.B) {
			city, asn, addrs := geoiptest.Synthetic(b, b.TempDir(), 20000, 1)
			d, _, _ := newTestDB(b, cfgWith(func(c *Config) { c.CityDB, c.ASNDB, c.CacheSize, c.Language = city, asn, 0, lang }))
			if !d.Loaded() {
				b.Fatal("not loaded")
			}
			b.Run("cursor", func(b *testing.B) { benchLookup(b, d, addrs) })
			b.Run("geoip2", func(b *testing.B) {
				rr := openRef(b, d.state.Load())
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					ip := addrs[n%len(addrs)]
					if Classify(ip) != ClassPublic {
						b.Fatal("not public")
					}
					if g, _ := refQuery(rr, ip.Unmap().WithZone(""), d.lang); g == nil {
						b.Fatal("no answer")
					}
					n++
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
			})
		})
	}
}

// BenchmarkLookupCachedParallel: the cache under all cores.
func BenchmarkLookupCachedParallel(b *testing.B) {
	d, addrs := benchDB(b, 65536)
	for _, a := range addrs {
		d.Lookup(a)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var c Counts
		i := 0
		for pb.Next() {
			d.Find(addrs[i%len(addrs)], &c)
			i += 7
		}
		d.Account(&c)
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkClassify: the never-looked-up check on a mix of addresses.
func BenchmarkClassify(b *testing.B) {
	ips := []netip.Addr{netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("2001:218::1"), netip.MustParseAddr("203.0.113.9")}
	n := 0
	for b.Loop() {
		Classify(ips[n&3])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}
