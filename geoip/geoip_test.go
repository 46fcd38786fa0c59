package geoip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/event"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want Class
	}{
		{"81.2.69.142", ClassPublic},
		{"1.0.0.1", ClassPublic},
		{"8.8.8.8", ClassPublic},
		{"223.255.255.254", ClassPublic},
		{"100.63.255.255", ClassPublic},
		{"100.128.0.0", ClassPublic},
		{"172.32.0.1", ClassPublic},
		{"2001:218::1", ClassPublic},
		{"2600:6000::1", ClassPublic},
		{"::ffff:81.2.69.142", ClassPublic},
		{"10.1.2.3", ClassPrivate},
		{"172.16.0.1", ClassPrivate},
		{"172.31.255.255", ClassPrivate},
		{"192.168.1.1", ClassPrivate},
		{"::ffff:192.168.1.1", ClassPrivate},
		{"fd00::1", ClassPrivate},
		{"fc00::1", ClassPrivate},
		{"127.0.0.1", ClassLoopback},
		{"::1", ClassLoopback},
		{"169.254.1.1", ClassLinkLocal},
		{"fe80::1", ClassLinkLocal},
		{"fe80::1%eth0", ClassLinkLocal},
		{"100.64.0.1", ClassCGNAT},
		{"100.127.255.255", ClassCGNAT},
		{"224.0.0.1", ClassMulticast},
		{"239.255.255.250", ClassMulticast},
		{"ff02::1", ClassMulticast},
		{"192.0.2.1", ClassDocumentation},
		{"198.51.100.7", ClassDocumentation},
		{"203.0.113.9", ClassDocumentation},
		{"2001:db8::1", ClassDocumentation},
		{"3fff::1", ClassDocumentation},
		{"0.0.0.0", ClassReserved},
		{"0.1.2.3", ClassReserved},
		{"240.0.0.1", ClassReserved},
		{"255.255.255.255", ClassReserved},
		{"192.0.0.8", ClassReserved},
		{"198.18.0.1", ClassReserved},
		{"198.19.255.255", ClassReserved},
		{"192.88.99.1", ClassReserved},
		{"::", ClassReserved},
		{"64:ff9b::1.2.3.4", ClassReserved},
		{"100::1", ClassReserved},
		{"2001::1", ClassReserved},
		{"2002:c000:0204::1", ClassReserved},
		{"fec0::1", ClassReserved},
	} {
		if got := Classify(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Classify(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
	if got := Classify(netip.Addr{}); got != ClassInvalid {
		t.Errorf("Classify(zero Addr) = %s, want invalid", got)
	}
}

// The MaxMind test databases, with the IPs their README verified.
func TestLookupMaxMindTestDatabases(t *testing.T) {
	d, reg, _ := newTestDB(t, cfgWith(func(c *Config) { c.CityDB, c.ASNDB = testCity, testASN }))
	for _, tc := range []struct {
		ip     string
		want   *event.Geo
		result Result
	}{
		{"81.2.69.142", &event.Geo{CountryISO: "GB", CountryName: "United Kingdom", ContinentCode: "EU", RegionISO: "GB-ENG",
			RegionName: "England", CityName: "London", Lat: 51.5142, Lon: -0.0931, HasLocation: true}, ResultFound},
		{"::ffff:81.2.69.142", &event.Geo{CountryISO: "GB", CountryName: "United Kingdom", ContinentCode: "EU", RegionISO: "GB-ENG",
			RegionName: "England", CityName: "London", Lat: 51.5142, Lon: -0.0931, HasLocation: true}, ResultFound},
		{"216.160.83.56", &event.Geo{CountryISO: "US", CountryName: "United States", ContinentCode: "NA", RegionISO: "US-WA",
			RegionName: "Washington", CityName: "Milton", Lat: 47.2513, Lon: -122.3149, HasLocation: true, ASN: 209}, ResultFound},
		{"1.0.0.1", &event.Geo{ASN: 15169, ASOrg: "Google Inc."}, ResultFound},
		{"12.81.92.1", &event.Geo{ASN: 7018, ASOrg: "AT&T Services"}, ResultFound},
		{"2600:6000::1", &event.Geo{ASN: 237, ASOrg: "Merit Network Inc."}, ResultFound},
		{"8.8.8.8", nil, ResultNotFound},
		{"10.0.0.1", nil, ResultSkipped},
		{"192.168.1.1", nil, ResultSkipped},
	} {
		for round := range 2 { // the second from the cache
			g, r := d.Lookup(netip.MustParseAddr(tc.ip))
			if r != tc.result {
				t.Errorf("round %d: Lookup(%s) result = %s, want %s", round, tc.ip, r, tc.result)
			}
			if diff := cmp.Diff(tc.want, g, cmpopts.IgnoreUnexported(event.Geo{})); diff != "" {
				t.Errorf("round %d: Lookup(%s) (-want +got):\n%s", round, tc.ip, diff)
			}
		}
	}
	// 7 public addresses looked up twice; ::ffff:81.2.69.142 is
	// 81.2.69.142 and hits its entry the first time already.
	if h, m := testutil.ToFloat64(d.m.hits), testutil.ToFloat64(d.m.misses); h != 8 || m != 6 {
		t.Errorf("cache hits, misses = %v, %v; want 8, 6", h, m)
	}
	if n := testutil.ToFloat64(d.m.lookups[ResultSkipped]); n != 4 {
		t.Errorf("sluice_geoip_lookups_total{result=skipped} = %v, want 4", n)
	}
	if n, err := testutil.GatherAndCount(reg, "sluice_geoip_database_up"); err != nil || n != 2 {
		t.Errorf("sluice_geoip_database_up series = %d (%v), want 2 (city, asn)", n, err)
	}
	if v := testutil.ToFloat64(d.m.up.WithLabelValues("city")); v != 1 {
		t.Errorf("sluice_geoip_database_up{db=city} = %v, want 1", v)
	}
}

// Country databases report country, not registered_country (which the
// test networks set differently on purpose); names follow the language.
func TestCountryDatabaseAndLanguage(t *testing.T) {
	for _, tc := range []struct {
		name, db, lang, ip string
		wantISO, wantName  string
	}{
		{"geoip2 country en", testCountry2, "en", "81.2.69.142", "GB", "United Kingdom"},
		{"geolite2 country en", testCountry, "en", "216.160.83.56", "US", "United States"},
		{"geolite2 country de", testCountry, "de", "89.160.20.128", "SE", "Schweden"},
		{"geoip2 country ja", testCountry2, "ja", "2001:218::1", "JP", "日本"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, _ := newTestDB(t, cfgWith(func(c *Config) { c.CountryDB, c.Language = tc.db, tc.lang }))
			g, r := d.Lookup(netip.MustParseAddr(tc.ip))
			if r != ResultFound || g == nil {
				t.Fatalf("Lookup(%s) = %v, %s; want found", tc.ip, g, r)
			}
			if g.CountryISO != tc.wantISO || g.CountryName != tc.wantName || g.CityName != "" || g.HasLocation {
				t.Errorf("Lookup(%s) = %+v, want country %s %q and no city/location", tc.ip, *g, tc.wantISO, tc.wantName)
			}
		})
	}
}

// With a city and a country database, the country one fills in for
// addresses the city database does not have.
func TestCityFallsBackToCountry(t *testing.T) {
	dir := t.TempDir()
	city := dir + "/city.mmdb"
	buildCityDB(t, city, map[string]cityRecord{"81.2.69.0/24": {Country: "ZZ", City: "Built"}})
	d, _, _ := newTestDB(t, cfgWith(func(c *Config) { c.CityDB, c.CountryDB = city, testCountry }))
	if g, _ := d.Lookup(netip.MustParseAddr("81.2.69.142")); g == nil || g.CountryISO != "ZZ" || g.CityName != "Built" {
		t.Errorf("Lookup(81.2.69.142) = %+v, want the city database's answer ZZ/Built", g)
	}
	if g, _ := d.Lookup(netip.MustParseAddr("216.160.83.56")); g == nil || g.CountryISO != "US" || g.CityName != "" {
		t.Errorf("Lookup(216.160.83.56) = %+v, want the country database's US", g)
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"all set", func(c *Config) { c.CityDB, c.Language, c.CacheSize, c.ReloadInterval = testCity, "pt-BR", 0, 0 }, ""},
		{"missing file is not a config error", func(c *Config) { c.CityDB = dir + "/nope.mmdb" }, ""},
		{"language", func(c *Config) { c.Language = "EN" }, "geoip.language: \"EN\""},
		{"cache", func(c *Config) { c.CacheSize = -1 }, "geoip.cache_size: -1"},
		{"cache too big", func(c *Config) { c.CacheSize = MaxCacheSize + 1 }, "geoip.cache_size"},
		{"interval", func(c *Config) { c.ReloadInterval = 1 }, "geoip.reload_interval: 1ns"},
		{"directory", func(c *Config) { c.ASNDB = dir }, "geoip.asn_db: \"" + dir + "\" is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Errorf("Validate() = nil, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
