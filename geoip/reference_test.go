package geoip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/sluicelab/sluice/geoip/geoiptest"
	"github.com/sluicelab/sluice/internal/event"
)

// The reference: state.query as it was with geoip2-golang's City, Country
// and ASN methods, which decode complete records. The cursor decoding of
// record.go must give the same answers.

// refReaders are geoip2 readers of the files of a state's readers.
type refReaders [numKinds]*geoip2.Reader

func openRef(t testing.TB, st *state) refReaders {
	t.Helper()
	var rr refReaders
	for k, r := range st.r {
		if r == nil {
			continue
		}
		data, err := os.ReadFile(r.path)
		if err != nil {
			t.Fatal(err)
		}
		if rr[k], err = geoip2.OpenBytes(data); err != nil {
			t.Fatal(err)
		}
	}
	return rr
}

// refQuery is the former state.query.
func refQuery(rr refReaders, ip netip.Addr, lang int) (*event.Geo, error) {
	var g event.Geo
	var errs []error
	place := false
	if r := rr[kindCity]; r != nil {
		rec, err := r.City(ip)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", kindCity.key(), ip, err))
		} else if rec.HasData() {
			place = refFillCountry(&g, &rec.Continent, &rec.Country, lang)
			if len(rec.Subdivisions) > 0 {
				sd := &rec.Subdivisions[0]
				if sd.ISOCode != "" && g.CountryISO != "" {
					g.RegionISO = g.CountryISO + "-" + sd.ISOCode
				}
				g.RegionName = refNames(&sd.Names, lang)
			}
			g.CityName = refNames(&rec.City.Names, lang)
			if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
				g.Lat, g.Lon, g.HasLocation = *rec.Location.Latitude, *rec.Location.Longitude, true
			}
			place = place || g.RegionISO != "" || g.RegionName != "" || g.CityName != "" || g.HasLocation
		}
	}
	if r := rr[kindCountry]; r != nil && !place {
		rec, err := r.Country(ip)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", kindCountry.key(), ip, err))
		} else if rec.HasData() {
			place = refFillCountry(&g, &rec.Continent, &rec.Country, lang)
		}
	}
	asn := false
	if r := rr[kindASN]; r != nil {
		rec, err := r.ASN(ip)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", kindASN.key(), ip, err))
		} else if rec.AutonomousSystemNumber != 0 || rec.AutonomousSystemOrganization != "" {
			g.ASN = uint32(min(rec.AutonomousSystemNumber, 1<<32-1))
			g.ASOrg = rec.AutonomousSystemOrganization
			asn = true
		}
	}
	if !place && !asn {
		return nil, errors.Join(errs...)
	}
	g.Render()
	return &g, errors.Join(errs...)
}

func refNames(n *geoip2.Names, l int) string {
	var s string
	switch l {
	case 0:
		s = n.German
	case 2:
		s = n.Spanish
	case 3:
		s = n.French
	case 4:
		s = n.Japanese
	case 5:
		s = n.BrazilianPortuguese
	case 6:
		s = n.Russian
	case 7:
		s = n.SimplifiedChinese
	}
	if s == "" {
		s = n.English
	}
	return s
}

func refFillCountry(g *event.Geo, c *geoip2.Continent, co *geoip2.CountryRecord, lang int) bool {
	g.ContinentCode = c.Code
	g.CountryISO = co.ISOCode
	g.CountryName = refNames(&co.Names, lang)
	return g.ContinentCode != "" || g.CountryISO != "" || g.CountryName != ""
}

// openState opens the files of paths (by kind; "" for none) into a state
// without a cache.
func openState(t testing.TB, paths [numKinds]string) *state {
	t.Helper()
	st := &state{}
	for k, p := range paths {
		if p == "" {
			continue
		}
		r, err := open(kind(k), p)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		st.r[k], st.any = r, true
	}
	return st
}

// networkAddrs returns the first and last address of every network with
// data in the databases at paths, and a few without.
func networkAddrs(t testing.TB, paths ...string) []netip.Addr {
	t.Helper()
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	add := func(a netip.Addr) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, s := range []string{"1.1.1.1", "8.8.8.8", "10.0.0.1", "::", "2001:db8::1", "::ffff:81.2.69.142"} {
		add(netip.MustParseAddr(s))
	}
	for _, p := range paths {
		r, err := maxminddb.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for res := range r.Networks(maxminddb.IncludeAliasedNetworks()) {
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			pfx := res.Prefix()
			add(pfx.Addr())
			add(lastAddr(pfx))
		}
		_ = r.Close()
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// testCity2 is MaxMind's GeoIP2-City test database.
const testCity2 = "testdata/GeoIP2-City-Test.mmdb"

// TestQueryMatchesGeoIP2: for every network of the test databases, in
// every language, query answers exactly as the geoip2-golang one did, with
// an error exactly when it had one.
func TestQueryMatchesGeoIP2(t *testing.T) {
	dir := t.TempDir()
	synCity, synASN, _ := geoiptest.Synthetic(t, dir, 300, 7)
	small := filepath.Join(dir, "small.mmdb")
	buildCityDB(t, small, map[string]cityRecord{"81.2.69.0/24": {Country: "GB", City: "London", Lat: 51.5, Lon: -0.1}, "2001:218::/32": {Country: "JP"}})
	mmdbs := []string{testCity, testCountry, testCountry2, testASN, synCity, synASN, small}
	sets := []struct {
		name  string
		paths [numKinds]string
	}{
		{"all", [numKinds]string{kindCountry: testCountry, kindCity: testCity, kindASN: testASN}},
		{"city", [numKinds]string{kindCity: testCity}},
		{"country", [numKinds]string{kindCountry: testCountry}},
		{"geoip2-country", [numKinds]string{kindCountry: testCountry2, kindASN: testASN}},
		{"country-as-city", [numKinds]string{kindCity: testCountry2, kindCountry: testCountry}},
		{"city-as-country", [numKinds]string{kindCountry: testCity}},
		{"asn", [numKinds]string{kindASN: testASN}},
		{"synthetic", [numKinds]string{kindCity: synCity, kindASN: synASN, kindCountry: testCountry}},
		{"small", [numKinds]string{kindCity: small, kindCountry: testCountry2}},
	}
	mmdbs = append(mmdbs, testCity2)
	sets = append(sets, struct {
		name  string
		paths [numKinds]string
	}{"geoip2-city", [numKinds]string{kindCity: testCity2, kindCountry: testCountry2, kindASN: testASN}})
	addrs := networkAddrs(t, mmdbs...)
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			st := openState(t, set.paths)
			rr := openRef(t, st)
			found := 0
			for lang := -1; lang < len(Languages); lang++ {
				for _, ip := range addrs {
					want, wantErr := refQuery(rr, ip, lang)
					got, err := st.query(ip, lang)
					if (err != nil) != (wantErr != nil) {
						t.Fatalf("query(%s, %d) error %v; geoip2 %v", ip, lang, err, wantErr)
					}
					if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(event.Geo{})); d != "" {
						t.Fatalf("query(%s, %d) differs from geoip2 (-geoip2 +new):\n%s", ip, lang, d)
					}
					if got != nil {
						found++
					}
				}
			}
			if found == 0 {
				t.Fatal("no address found: the comparison compared nothing")
			}
			t.Logf("%d addresses x %d languages, %d answers", len(addrs), len(Languages)+1, found)
		})
	}
}

// TestQueryErrorsMatchGeoIP2: records that geoip2-golang refuses in a
// field sluice reads are refused too, and the other databases still
// answer.
func TestQueryErrorsMatchGeoIP2(t *testing.T) {
	names := func(kv ...string) mmdbtype.Map {
		m := mmdbtype.Map{}
		for i := 0; i < len(kv); i += 2 {
			m[mmdbtype.String(kv[i])] = mmdbtype.String(kv[i+1])
		}
		return m
	}
	long := string(make([]byte, 1025))
	subs := mmdbtype.Slice{}
	for range 33 {
		subs = append(subs, mmdbtype.Map{"iso_code": mmdbtype.String("X")})
	}
	good := mmdbtype.Map{
		"continent":    mmdbtype.Map{"code": mmdbtype.String("EU")},
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String("GB"), "names": names("en", "United Kingdom", "de", "")},
		"city":         mmdbtype.Map{"names": names("en", "London", "fr", "Londres")},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG"), "names": names("en", "England")}, mmdbtype.Map{"iso_code": mmdbtype.String("X")}},
		"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(51.5), "longitude": mmdbtype.Float32(-0.125)},
	}
	with := func(key string, v mmdbtype.DataType) mmdbtype.Map {
		m := good.Copy().(mmdbtype.Map)
		m[mmdbtype.String(key)] = v
		return m
	}
	recs := []mmdbtype.DataType{
		good,
		mmdbtype.Map{},
		mmdbtype.String("not a map"),
		with("continent", mmdbtype.Map{"code": mmdbtype.String("TOO-LONG-A-CODE-X")}),
		with("continent", mmdbtype.Uint32(1)),
		with("country", mmdbtype.Map{"iso_code": mmdbtype.Uint16(826)}),
		with("country", mmdbtype.Map{"names": names("en", long)}),
		with("country", mmdbtype.Map{"names": mmdbtype.Slice{}}),
		with("country", mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.Bool(true)}}),
		with("city", mmdbtype.Map{"names": names("en", long)}),
		with("city", mmdbtype.Map{"names": names("de", "", "en", "")}),
		with("subdivisions", subs),
		with("subdivisions", mmdbtype.Slice{}),
		with("subdivisions", mmdbtype.Map{}),
		with("subdivisions", mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG")}}),
		with("subdivisions", mmdbtype.Slice{mmdbtype.Map{"names": names("en", "England")}}),
		with("location", mmdbtype.Map{"latitude": mmdbtype.Float64(1)}),
		with("location", mmdbtype.Map{"latitude": mmdbtype.Float64(0), "longitude": mmdbtype.Float64(0)}),
		with("location", mmdbtype.Map{"latitude": mmdbtype.String("1"), "longitude": mmdbtype.Float64(0)}),
		mmdbtype.Map{"city": mmdbtype.Map{"names": names("en", "Nowhere")}},
		mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("US")}},
	}
	asns := []mmdbtype.DataType{
		mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(15169), "autonomous_system_organization": mmdbtype.String("Google")},
		mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint64(1 << 40)},
		mmdbtype.Map{"autonomous_system_number": mmdbtype.Int32(-1)},
		mmdbtype.Map{"autonomous_system_number": mmdbtype.Int32(7)},
		mmdbtype.Map{"autonomous_system_number": mmdbtype.String("1")},
		mmdbtype.Map{"autonomous_system_organization": mmdbtype.String(string(make([]byte, 4097)))},
		mmdbtype.Map{"autonomous_system_organization": mmdbtype.String("")},
		mmdbtype.Slice{},
	}
	dir := t.TempDir()
	build := func(name, typ string, recs []mmdbtype.DataType) (string, []netip.Addr) {
		tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, RecordSize: 28, IncludeReservedNetworks: true, BuildEpoch: time.Now().Unix(),
			Description: map[string]string{"en": "sluice bad records"}, Languages: []string{"en", "de", "fr"}})
		if err != nil {
			t.Fatal(err)
		}
		var addrs []netip.Addr
		for i, rec := range recs {
			ip := net.IPv4(1, 0, byte(i), 0).To4()
			if err := tree.Insert(&net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)}, rec); err != nil {
				t.Fatal(err)
			}
			addrs = append(addrs, netip.AddrFrom4([4]byte{1, 0, byte(i), 1}))
		}
		path := filepath.Join(dir, name)
		writeTree(t, tree, path)
		return path, addrs
	}
	city, cityAddrs := build("city.mmdb", "GeoLite2-City", recs)
	asn, _ := build("asn.mmdb", "GeoLite2-ASN", asns)
	for _, paths := range [][numKinds]string{
		{kindCity: city, kindASN: asn},
		{kindCity: city, kindCountry: testCountry},
		{kindCountry: city, kindASN: asn},
	} {
		st := openState(t, paths)
		rr := openRef(t, st)
		errs := 0
		for lang := range Languages {
			for _, ip := range append(cityAddrs, netip.MustParseAddr("1.0.200.1")) {
				want, wantErr := refQuery(rr, ip, lang)
				got, err := st.query(ip, lang)
				if (err != nil) != (wantErr != nil) {
					t.Fatalf("%v: query(%s, %d) error %v; geoip2 %v", paths, ip, lang, err, wantErr)
				}
				if err != nil {
					errs++
				}
				if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(event.Geo{})); d != "" {
					t.Fatalf("%v: query(%s, %d) differs from geoip2 (-geoip2 +new):\n%s", paths, ip, lang, d)
				}
			}
		}
		if errs == 0 {
			t.Fatalf("%v: no record was refused", paths)
		}
	}
}

// TestQueryUnreadFieldsUnchecked: the deliberate difference from
// geoip2-golang. A field sluice does not read is skipped without the
// checks geoip2-golang's complete decoding makes, so a record whose only
// fault is there answers instead of failing.
func TestQueryUnreadFieldsUnchecked(t *testing.T) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 28, IncludeReservedNetworks: true, BuildEpoch: time.Now().Unix(),
		Description: map[string]string{"en": "sluice bad records"}, Languages: []string{"en", "fr"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := mmdbtype.Map{
		"country": mmdbtype.Map{"iso_code": mmdbtype.String("GB")},
		"city":    mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("London"), "fr": mmdbtype.String(string(make([]byte, 1025)))}},
		"postal":  mmdbtype.Map{"code": mmdbtype.Uint32(1)},
	}
	if err := tree.Insert(&net.IPNet{IP: net.IPv4(81, 2, 69, 0).To4(), Mask: net.CIDRMask(24, 32)}, rec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	writeTree(t, tree, path)
	st := openState(t, [numKinds]string{kindCity: path})
	ip := netip.MustParseAddr("81.2.69.142")
	if _, err := refQuery(openRef(t, st), ip, 1); err == nil {
		t.Fatal("geoip2 decoded the bad record")
	}
	g, err := st.query(ip, 1)
	if err != nil || g == nil || g.CityName != "London" || g.CountryISO != "GB" {
		t.Fatalf("query = %+v, %v; want London, GB", g, err)
	}
}
