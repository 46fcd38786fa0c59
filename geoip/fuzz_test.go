package geoip

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/oschwald/geoip2-golang/v2"

	"github.com/sluicelab/sluice/internal/event"
)

// FuzzLookup: any 4- or 16-byte address is classified and looked up
// without a panic; only public addresses can have an answer.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"81.2.69.142", "10.0.0.1", "2001:218::1", "::ffff:1.0.0.1", "fe80::1", "224.0.0.1", "0.0.0.0", "2001:db8::1"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	d, _, _ := newTestDB(f, cfgWith(func(c *Config) { c.CityDB, c.ASNDB, c.CountryDB, c.CacheSize = testCity, testASN, testCountry, 64 }))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		g, r := d.Lookup(ip)
		if Classify(ip) != ClassPublic && (g != nil || r != ResultSkipped) {
			t.Fatalf("Lookup(%s) of class %s = %v, %s; want nil, skipped", ip, Classify(ip), g, r)
		}
		if (r == ResultFound) != (g != nil) {
			t.Fatalf("Lookup(%s) = %v with result %s", ip, g, r)
		}
	})
}

// FuzzOpenCorrupt: a damaged database file is refused with an error, or
// opens and answers lookups (with answers or errors), never a panic. Where
// geoip2-golang decodes the damaged record without an error, query gives
// its answer (query may answer where geoip2-golang fails: it does not
// read, so does not check, every field).
func FuzzOpenCorrupt(f *testing.F) {
	data, err := os.ReadFile(testCity)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), byte(0xff), uint16(0))
	f.Add(uint32(100), byte(0x00), uint16(1))
	f.Add(uint32(len(data)-100), byte(0x41), uint16(50))
	f.Add(uint32(len(data)/2), byte(0x80), uint16(0))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, off uint32, val byte, cut uint16) {
		bad := append([]byte(nil), data...)
		bad[int(off)%len(bad)] ^= val
		bad = bad[:len(bad)-int(cut)%len(bad)]
		path := filepath.Join(dir, "fuzz.mmdb")
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := open(kindCity, path)
		if err != nil {
			return
		}
		st := &state{any: true}
		st.r[kindCity] = r
		var rr refReaders
		if rr[kindCity], err = geoip2.OpenBytes(bad); err != nil {
			t.Fatalf("open accepted what geoip2.OpenBytes refuses: %v", err)
		}
		for _, s := range []string{"81.2.69.142", "216.160.83.56", "2001:218::1", "175.16.199.1", "1.1.1.1"} {
			ip := netip.MustParseAddr(s)
			for _, lang := range []int{0, 1} {
				got, err := st.query(ip, lang)
				want, wantErr := refQuery(rr, ip, lang)
				if wantErr != nil {
					continue
				}
				if err != nil {
					t.Fatalf("query(%s, %d): %v; geoip2 decoded it", ip, lang, err)
				}
				if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(event.Geo{})); d != "" {
					t.Fatalf("query(%s, %d) differs from geoip2 (-geoip2 +new):\n%s", ip, lang, d)
				}
			}
		}
	})
}
