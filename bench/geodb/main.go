// Command geodb writes synthetic GeoLite2-City and GeoLite2-ASN databases
// (MaxMind DB format, with github.com/maxmind/mmdbwriter) that know every
// public IPv4 /16, for benchmarks: with them every public address of
// flowgen's traffic gets a full City record (names in eight languages,
// subdivision, location) and an AS, as GeoLite2 would give, so the cost of
// enrichment is measured with answers, not with "not found".
//
//	go run ./bench/geodb -out /tmp/geodb
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
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

func main() {
	out := flag.String("out", "/tmp/sluice-geodb", "directory for GeoLite2-City.mmdb and GeoLite2-ASN.mmdb")
	distinct := flag.Int("records", 4000, "distinct City/AS records, spread over the /16 networks")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	opts := func(t string) mmdbwriter.Options {
		return mmdbwriter.Options{DatabaseType: t, RecordSize: 28, IncludeReservedNetworks: true, BuildEpoch: time.Now().Unix(),
			Description: map[string]string{"en": "sluice benchmark " + t}, Languages: languages}
	}
	city, err := mmdbwriter.New(opts("GeoLite2-City"))
	if err != nil {
		log.Fatal(err)
	}
	asn, err := mmdbwriter.New(opts("GeoLite2-ASN"))
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for a := 1; a <= 223; a++ {
		for b := 0; b < 256; b++ {
			if a == 10 || a == 127 || a == 172 && b >= 16 && b < 32 || a == 192 && b == 168 ||
				a == 169 && b == 254 || a == 100 && b >= 64 && b < 128 {
				continue
			}
			i := (a*256 + b) % *distinct
			cc := fmt.Sprintf("%c%c", 'A'+i%26, 'A'+(i/26)%26)
			nw := &net.IPNet{IP: net.IPv4(byte(a), byte(b), 0, 0).To4(), Mask: net.CIDRMask(16, 32)}
			rec := mmdbtype.Map{
				"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
				"country":            mmdbtype.Map{"iso_code": mmdbtype.String(cc), "geoname_id": mmdbtype.Uint32(uint32(i)), "names": names("Country " + cc)},
				"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(cc), "geoname_id": mmdbtype.Uint32(uint32(i)), "names": names("Country " + cc)},
				"city":               mmdbtype.Map{"geoname_id": mmdbtype.Uint32(uint32(i)), "names": names(fmt.Sprintf("City %d", i))},
				"location": mmdbtype.Map{"latitude": mmdbtype.Float64(float64(i%180) - 90 + 0.5), "longitude": mmdbtype.Float64(float64(i%360) - 180 + 0.25),
					"accuracy_radius": mmdbtype.Uint16(100), "time_zone": mmdbtype.String("Europe/London")},
				"postal":       mmdbtype.Map{"code": mmdbtype.String("12345")},
				"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("R1"), "geoname_id": mmdbtype.Uint32(uint32(i)), "names": names(fmt.Sprintf("Region %d", i%500))}},
			}
			if err := city.Insert(nw, rec); err != nil {
				log.Fatal(err)
			}
			if err := asn.Insert(nw, mmdbtype.Map{
				"autonomous_system_number":       mmdbtype.Uint32(uint32(1000 + i)),
				"autonomous_system_organization": mmdbtype.String(fmt.Sprintf("Example Networks %d", i)),
			}); err != nil {
				log.Fatal(err)
			}
			n++
		}
	}
	for _, f := range []struct {
		t    *mmdbwriter.Tree
		name string
	}{{city, "GeoLite2-City.mmdb"}, {asn, "GeoLite2-ASN.mmdb"}} {
		var buf bytes.Buffer
		if _, err := f.t.WriteTo(&buf); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, f.name), buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d networks, %d bytes\n", filepath.Join(*out, f.name), n, buf.Len())
	}
}
