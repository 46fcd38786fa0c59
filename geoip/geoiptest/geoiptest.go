// Package geoiptest builds MaxMind DB files for tests and benchmarks (with
// github.com/maxmind/mmdbwriter): synthetic City and ASN databases shaped
// like GeoLite2's, large enough for realistic lookup costs. Only tests and
// bench/geodb import it.
package geoiptest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

var languages = []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"}

func names(s string) mmdbtype.Map {
	m := mmdbtype.Map{}
	for _, l := range languages {
		m[mmdbtype.String(l)] = mmdbtype.String(s + " (" + l + ")")
	}
	m["en"] = mmdbtype.String(s)
	return m
}

// NewTree returns an empty database of dbType ("GeoLite2-City",
// "GeoLite2-ASN") with GeoLite2's languages.
func NewTree(dbType string) (*mmdbwriter.Tree, error) {
	return mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28, IncludeReservedNetworks: true,
		BuildEpoch: time.Now().Unix(), Description: map[string]string{"en": "sluice synthetic " + dbType}, Languages: languages})
}

// CityRecord is record i of a synthetic City database: a country code
// made from i, names in eight languages, a subdivision and a location.
func CityRecord(i int) mmdbtype.Map {
	cc := fmt.Sprintf("%c%c", 'A'+i%26, 'A'+(i/26)%26)
	return mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
		"country":            mmdbtype.Map{"iso_code": mmdbtype.String(cc), "geoname_id": mmdbtype.Uint32(uint32(i)), "names": names("Country " + cc)},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(cc), "geoname_id": mmdbtype.Uint32(uint32(i)), "names": names("Country " + cc)},
		"city":               mmdbtype.Map{"geoname_id": mmdbtype.Uint32(uint32(i)), "names": names(fmt.Sprintf("City %d", i))},
		"location":           mmdbtype.Map{"latitude": mmdbtype.Float64(float64(i%180) - 90), "longitude": mmdbtype.Float64(float64(i%360) - 180), "accuracy_radius": mmdbtype.Uint16(100), "time_zone": mmdbtype.String("Europe/London")},
		"postal":             mmdbtype.Map{"code": mmdbtype.String("12345")},
		"subdivisions":       mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("R1"), "geoname_id": mmdbtype.Uint32(uint32(i)), "names": names(fmt.Sprintf("Region %d", i%500))}},
	}
}

// ASNRecord is record i of a synthetic ASN database.
func ASNRecord(i int) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(uint32(1000 + i%5000)),
		"autonomous_system_organization": mmdbtype.String(fmt.Sprintf("Org %d", i%5000)),
	}
}

// WriteFile writes t to path.
func WriteFile(t *mmdbwriter.Tree, path string) error {
	var buf bytes.Buffer
	if _, err := t.WriteTo(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// Synthetic writes GeoLite2-City.mmdb and GeoLite2-ASN.mmdb into dir with n
// random public /24 networks, each with a full City record (names in all
// eight languages, like GeoLite2) and an AS, and returns their paths and
// one address in each network. seed makes it repeatable.
func Synthetic(tb testing.TB, dir string, n int, seed uint64) (city, asn string, addrs []netip.Addr) {
	tb.Helper()
	ct, err := NewTree("GeoLite2-City")
	if err != nil {
		tb.Fatal(err)
	}
	at, err := NewTree("GeoLite2-ASN")
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	seen := map[uint32]bool{}
	for len(addrs) < n {
		v := uint32(1+r.IntN(222))<<24 | uint32(r.IntN(1<<16))<<8
		switch b := v >> 24; {
		case b == 10 || b == 127 || b == 100 || b == 169 || b == 172 || b == 192 || b == 198 || b == 203:
			continue
		}
		if seen[v] {
			continue
		}
		seen[v] = true
		ip := net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), 0)
		nw := &net.IPNet{IP: ip.To4(), Mask: net.CIDRMask(24, 32)}
		i := len(addrs)
		if err := ct.Insert(nw, CityRecord(i)); err != nil {
			tb.Fatal(err)
		}
		if err := at.Insert(nw, ASNRecord(i)); err != nil {
			tb.Fatal(err)
		}
		addrs = append(addrs, netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(1 + r.IntN(254))}))
	}
	city, asn = filepath.Join(dir, "GeoLite2-City.mmdb"), filepath.Join(dir, "GeoLite2-ASN.mmdb")
	for _, f := range []struct {
		t    *mmdbwriter.Tree
		path string
	}{{ct, city}, {at, asn}} {
		if err := WriteFile(f.t, f.path); err != nil {
			tb.Fatal(err)
		}
	}
	return city, asn, addrs
}
