package geo

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/geoip"
	"github.com/sluicelab/sluice/internal/event"
)

const (
	testCity = "../../geoip/testdata/GeoLite2-City-Test.mmdb"
	testASN  = "../../geoip/testdata/GeoLite2-ASN-Test.mmdb"
)

func newTestStage(t testing.TB, withDB bool, home ...string) *Stage {
	t.Helper()
	if home == nil {
		home = DefaultHomeNetworks
	}
	hn, err := ParseHomeNetworks(home)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var db *geoip.DB
	if withDB {
		c := geoip.Default()
		c.CityDB, c.ASNDB = testCity, testASN
		if db, err = geoip.New(c, nil, reg); err != nil {
			t.Fatal(err)
		}
		if !db.Loaded() {
			t.Fatal("test databases not loaded")
		}
	}
	s, err := New(Config{HomeNetworks: hn}, db, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func addr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestParseHomeNetworks(t *testing.T) {
	got, err := ParseHomeNetworks([]string{"10.0.0.0/8", " 192.0.2.7 ", "2001:db8:1::/48", "10.1.2.3/8", "::ffff:172.16.0.0/108"})
	if err != nil {
		t.Fatalf("ParseHomeNetworks() = %v", err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8:1::/48"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("ParseHomeNetworks() (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"10.0.0.0/33", "intranet", "", "fe80::/10%eth0"} {
		_, err := ParseHomeNetworks([]string{"10.0.0.0/8", bad})
		if err == nil || !strings.Contains(err.Error(), "enrich.home_networks[1]") {
			t.Errorf("ParseHomeNetworks(%q) = %v, want an error naming enrich.home_networks[1]", bad, err)
		}
	}
}

// Locality and direction as Filebeat's network direction processor
// decides them, with and without databases.
func TestLocalityAndDirection(t *testing.T) {
	for _, withDB := range []bool{false, true} {
		s := newTestStage(t, withDB)
		for _, tc := range []struct {
			src, dst         string
			srcLoc, dstLoc   event.Locality
			dir              event.Direction
			srcCountry, tags string
		}{
			{"81.2.69.142", "192.168.1.10", event.LocalityExternal, event.LocalityInternal, event.DirectionInbound, "GB", ""},
			{"192.168.1.10", "81.2.69.142", event.LocalityInternal, event.LocalityExternal, event.DirectionOutbound, "", ""},
			{"10.0.0.1", "172.16.5.5", event.LocalityInternal, event.LocalityInternal, event.DirectionInternal, "", ""},
			{"216.160.83.56", "8.8.8.8", event.LocalityExternal, event.LocalityExternal, event.DirectionExternal, "US", "miss"},
			{"fd00::1", "2001:218::1", event.LocalityInternal, event.LocalityExternal, event.DirectionOutbound, "", ""},
			{"::ffff:10.0.0.1", "100.64.0.1", event.LocalityInternal, event.LocalityExternal, event.DirectionOutbound, "", ""},
			{"", "81.2.69.142", event.LocalityUnknown, event.LocalityExternal, event.DirectionUnknown, "", ""},
		} {
			e := &event.Event{Kind: event.KindFlow}
			e.Src.IP, e.Dst.IP = addr(tc.src), addr(tc.dst)
			var c geoip.Counts
			s.Enrich(e, &c)
			if e.Src.Locality != tc.srcLoc || e.Dst.Locality != tc.dstLoc || e.Direction != tc.dir {
				t.Errorf("db=%v %s -> %s: localities %s/%s direction %s; want %s/%s %s", withDB, tc.src, tc.dst,
					e.Src.Locality, e.Dst.Locality, e.Direction, tc.srcLoc, tc.dstLoc, tc.dir)
			}
			var country string
			if e.Src.Geo != nil {
				country = e.Src.Geo.CountryISO
			}
			if !withDB {
				tc.srcCountry, tc.tags = "", ""
			}
			if country != tc.srcCountry {
				t.Errorf("db=%v %s: source country %q, want %q", withDB, tc.src, country, tc.srcCountry)
			}
			if miss := e.Tags.Has(event.TagGeoMiss); miss != (tc.tags == "miss") {
				t.Errorf("db=%v %s -> %s: _geoip_lookup_failure %v, want %v", withDB, tc.src, tc.dst, miss, tc.tags == "miss")
			}
		}
	}
	// No home networks: no locality, no direction.
	s := newTestStage(t, false, []string{}...)
	s.home = newHomeSet(nil)
	e := &event.Event{}
	e.Src.IP, e.Dst.IP = addr("10.0.0.1"), addr("81.2.69.142")
	s.Enrich(e, &geoip.Counts{})
	if e.Src.Locality != event.LocalityUnknown || e.Direction != event.DirectionUnknown {
		t.Errorf("without home networks: locality %s, direction %s; want unknown", e.Src.Locality, e.Direction)
	}
}

// What a parser set is kept.
func TestKeepsExistingValues(t *testing.T) {
	s := newTestStage(t, true)
	own := &event.Geo{CountryISO: "XX"}
	e := &event.Event{Direction: event.DirectionExternal}
	e.Src.IP, e.Src.Geo, e.Src.Locality = addr("81.2.69.142"), own, event.LocalityInternal
	e.Dst.IP = addr("10.0.0.1")
	s.Enrich(e, &geoip.Counts{})
	if e.Src.Geo != own || e.Src.Locality != event.LocalityInternal || e.Direction != event.DirectionExternal {
		t.Errorf("existing values overwritten: geo %+v locality %s direction %s", e.Src.Geo, e.Src.Locality, e.Direction)
	}
}

// Syslog address fields get <prefix>.geo.* and <prefix>.as.* next to them;
// source.ip and destination.ip fields and other types are left alone.
func TestSyslogFields(t *testing.T) {
	s := newTestStage(t, true)
	b := &event.Batch{}
	e := b.Add()
	e.Kind = event.KindSyslog
	e.Src.IP = addr("81.2.69.142")
	for _, f := range []event.Field{
		{Key: "client.ip", Type: event.FieldIP, IP: addr("89.160.20.128")},
		{Key: "server.ip", Type: event.FieldIP, IP: addr("10.0.0.1")},
		{Key: "meraki.vpn.peer.ip", Type: event.FieldIP, IP: addr("1.0.0.1")},
		{Key: "source.ip", Type: event.FieldIP, IP: addr("216.160.83.56")},
		{Key: "url.ip", Type: event.FieldString, S: "81.2.69.142"},
		{Key: "ip", Type: event.FieldIP, IP: addr("81.2.69.142")},
	} {
		e.AddParsed(f)
	}
	if err := s.Process(context.Background(), b); err != nil {
		t.Fatalf("Process() = %v", err)
	}
	got := map[string]any{}
	for _, f := range e.Fields[6:] {
		switch f.Type {
		case event.FieldString:
			got[f.Key] = f.S
		case event.FieldUint:
			got[f.Key] = f.U
		case event.FieldFloat:
			got[f.Key] = math.Float64frombits(f.U)
		default:
			t.Errorf("added field %s has type %d", f.Key, f.Type)
		}
	}
	want := map[string]any{
		"client.geo.country_iso_code":          "SE",
		"client.geo.country_name":              "Sweden",
		"client.geo.continent_code":            "EU",
		"client.geo.region_iso_code":           "SE-E",
		"client.geo.region_name":               "Östergötland County",
		"client.geo.city_name":                 "Linköping",
		"client.geo.location.lat":              58.4167,
		"client.geo.location.lon":              15.6167,
		"client.as.number":                     uint64(29518),
		"client.as.organization.name":          "Bredband2 AB",
		"meraki.vpn.peer.as.number":            uint64(15169),
		"meraki.vpn.peer.as.organization.name": "Google Inc.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("added fields (-want +got):\n%s", diff)
	}
	if e.Src.Geo == nil || e.Src.Geo.CityName != "London" {
		t.Errorf("Src.Geo = %+v, want London", e.Src.Geo)
	}
}

// The field names are cached per prefix: enriching a syslog event again
// allocates nothing once its Fields slice has grown.
func TestSyslogFieldsNoAllocs(t *testing.T) {
	s := newTestStage(t, true)
	e := &event.Event{Kind: event.KindSyslog}
	e.AddParsed(event.Field{Key: "client.ip", Type: event.FieldIP, IP: addr("89.160.20.128")})
	e.AddParsed(event.Field{Key: "server.ip", Type: event.FieldIP, IP: addr("216.160.83.56")})
	var c geoip.Counts
	s.Enrich(e, &c)
	n := len(e.Fields)
	allocs := testing.AllocsPerRun(100, func() {
		e.Fields = e.Fields[:2]
		e.Src.Geo = nil
		s.Enrich(e, &c)
	})
	if allocs != 0 || len(e.Fields) != n {
		t.Errorf("Enrich() allocates %.1f times (fields %d, want %d), want 0", allocs, len(e.Fields), n)
	}
}

// More prefixes than the key cache holds are still enriched, and counted.
func TestManyPrefixes(t *testing.T) {
	s := newTestStage(t, true)
	for i := range maxPrefixes + 10 {
		e := &event.Event{Kind: event.KindSyslog}
		key := strings.Repeat("x", i%7+1) + "." + string(rune('a'+i%26)) + strings.Repeat("y", i) + ".ip"
		e.AddParsed(event.Field{Key: key, Type: event.FieldIP, IP: addr("1.0.0.1")})
		s.Enrich(e, &geoip.Counts{})
		if len(e.Fields) != 3 || e.Fields[1].Key != strings.TrimSuffix(key, ".ip")+".as.number" {
			t.Fatalf("prefix %d: fields %+v", i, e.Fields)
		}
	}
	if n := len(*s.keys.m.Load()); n != maxPrefixes {
		t.Errorf("key cache holds %d prefixes, want the bound %d", n, maxPrefixes)
	}
}

// TestResolvedAddresses: the addresses a DNS answer resolved to get their
// countries and AS, each distinct value once, for every kind of DNS event.
func TestResolvedAddresses(t *testing.T) {
	s := newTestStage(t, true)
	for _, kind := range []event.Kind{event.KindDNS, event.KindSyslog, event.KindBeats} {
		b := &event.Batch{}
		e := b.Add()
		e.Kind = kind
		for _, ip := range []string{"89.160.20.128", "89.160.20.112", "81.2.69.142", "1.0.0.1", "10.0.0.1"} {
			e.AddParsed(event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: addr(ip)})
		}
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range e.Fields[5:] {
			switch f.Type {
			case event.FieldString:
				got = append(got, f.Key+"="+f.S)
			case event.FieldUint:
				got = append(got, fmt.Sprintf("%s=%d", f.Key, f.U))
			}
		}
		want := []string{
			"sluice.dns.resolved_country_iso_code=SE",
			"sluice.dns.resolved_country_iso_code=GB",
			"sluice.dns.resolved_as_number=29518",
			"sluice.dns.resolved_as_number=15169",
			"sluice.dns.resolved_as_organization=Bredband2 AB",
			"sluice.dns.resolved_as_organization=Google Inc.",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("kind %v: added fields (-want +got):\n%s", kind, diff)
		}
		if e.Tags&event.TagGeoMiss != 0 {
			t.Errorf("kind %v: a resolved private address tagged the event as a geo miss", kind)
		}
		// Written as arrays.
		js := string(e.AppendJSON(nil))
		if !strings.Contains(js, `"resolved_country_iso_code":["SE","GB"]`) || !strings.Contains(js, `"resolved_as_number":[29518,15169]`) {
			t.Errorf("kind %v: JSON %s lacks the arrays", kind, js)
		}
	}
}
