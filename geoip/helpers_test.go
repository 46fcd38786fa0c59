package geoip

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/prometheus/client_golang/prometheus"
)

// Test databases from MaxMind (testdata/README.md lists verified IPs).
const (
	testCity      = "testdata/GeoLite2-City-Test.mmdb"
	testCountry   = "testdata/GeoLite2-Country-Test.mmdb"
	testCountry2  = "testdata/GeoIP2-Country-Test.mmdb"
	testASN       = "testdata/GeoLite2-ASN-Test.mmdb"
	shortInterval = 100 * time.Millisecond
)

// cityRecord is what built test databases hold per network.
type cityRecord struct {
	Country, City string
	Lat, Lon      float64
}

// buildCityDB writes a GeoLite2-City-shaped database with recs (CIDR ->
// record) to path, through a temporary file renamed over it as
// geoipupdate does.
func buildCityDB(t testing.TB, path string, recs map[string]cityRecord) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 28, IncludeReservedNetworks: true,
		BuildEpoch: time.Now().Unix(), Description: map[string]string{"en": "sluice test database"}, Languages: []string{"en", "de"}})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, r := range recs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "names": mmdbtype.Map{"en": mmdbtype.String("Europe")}},
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(r.Country),
				"names": mmdbtype.Map{"en": mmdbtype.String("Country " + r.Country), "de": mmdbtype.String("Land " + r.Country)}},
			"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(r.City)}},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(r.Lat), "longitude": mmdbtype.Float64(r.Lon)},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("X"),
				"names": mmdbtype.Map{"en": mmdbtype.String("Region " + r.Country)}}},
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	writeTree(t, tree, path)
}

func writeTree(t testing.TB, tree *mmdbwriter.Tree, path string) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, path, buf.Bytes())
}

// writeAtomic replaces path with data by rename, as geoipupdate does.
func writeAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) count(s string) int { return strings.Count(l.String(), s) }

// newTestDB opens cfg with its own registry and a captured log.
func newTestDB(t testing.TB, cfg Config) (*DB, *prometheus.Registry, *logBuffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	lb := &logBuffer{}
	d, err := New(cfg, slog.New(slog.NewTextHandler(lb, nil)), reg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return d, reg, lb
}

func cfgWith(mod func(*Config)) Config {
	c := Default()
	c.ReloadInterval = 0
	mod(&c)
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
