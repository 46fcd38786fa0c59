// Command geodb writes synthetic GeoLite2-City and GeoLite2-ASN databases
// (MaxMind DB format, built with geoip/geoiptest on mmdbwriter) that know
// every public IPv4 /16, for benchmarks: with them every public address of
// flowgen's traffic gets a full City record (names in eight languages,
// subdivision, location) and an AS, as GeoLite2 would give, so the cost of
// enrichment is measured with answers, not with "not found".
//
//	go run ./bench/geodb -out /tmp/geodb
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"

	"github.com/sluicelab/sluice/geoip/geoiptest"
)

func main() {
	out := flag.String("out", "/tmp/sluice-geodb", "directory for GeoLite2-City.mmdb and GeoLite2-ASN.mmdb")
	distinct := flag.Int("records", 4000, "distinct City/AS records, spread over the /16 networks")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	city, err := geoiptest.NewTree("GeoLite2-City")
	if err != nil {
		log.Fatal(err)
	}
	asn, err := geoiptest.NewTree("GeoLite2-ASN")
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
			nw := &net.IPNet{IP: net.IPv4(byte(a), byte(b), 0, 0).To4(), Mask: net.CIDRMask(16, 32)}
			if err := city.Insert(nw, geoiptest.CityRecord(i)); err != nil {
				log.Fatal(err)
			}
			if err := asn.Insert(nw, geoiptest.ASNRecord(i)); err != nil {
				log.Fatal(err)
			}
			n++
		}
	}
	for name, t := range map[string]*mmdbwriter.Tree{"GeoLite2-City.mmdb": city, "GeoLite2-ASN.mmdb": asn} {
		path := filepath.Join(*out, name)
		if err := geoiptest.WriteFile(t, path); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d networks\n", path, n)
	}
}
