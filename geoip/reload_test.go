package geoip

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

// reloadFixture: DB A says AA for every test network, DB B says BB.
var reloadNets = []string{"81.2.69.0/24", "216.160.83.0/24", "89.160.20.0/24", "2001:218::/32"}

func reloadDB(t *testing.T, path, country string) {
	recs := map[string]cityRecord{}
	for _, n := range reloadNets {
		recs[n] = cityRecord{Country: country, City: "City " + country, Lat: 1, Lon: 2}
	}
	buildCityDB(t, path, recs)
}

var reloadIPs = []netip.Addr{
	netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("216.160.83.56"),
	netip.MustParseAddr("89.160.20.128"), netip.MustParseAddr("2001:218::1"),
	netip.MustParseAddr("10.0.0.1"), // skipped: never an answer
}

// hammer looks up reloadIPs from several goroutines until stop is closed,
// counting every answer by country. Any other answer (nil for a public
// address, a third country) is a lost or wrong enrichment.
type hammer struct {
	a, b, skipped, bad atomic.Int64
	wg                 sync.WaitGroup
	stop               chan struct{}
}

func startHammer(d *DB, workers int) *hammer {
	h := &hammer{stop: make(chan struct{})}
	for w := range workers {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			var c Counts
			for i := w; ; i++ {
				select {
				case <-h.stop:
					d.Account(&c)
					return
				default:
				}
				ip := reloadIPs[i%len(reloadIPs)]
				g, r := d.Find(ip, &c)
				switch {
				case r == ResultSkipped && !ip.Is4() || r == ResultSkipped && !ip.IsPrivate():
					h.bad.Add(1)
				case r == ResultSkipped:
					h.skipped.Add(1)
				case g != nil && g.CountryISO == "AA":
					h.a.Add(1)
				case g != nil && g.CountryISO == "BB":
					h.b.Add(1)
				default:
					h.bad.Add(1)
				}
				if i%64 == 0 {
					d.Account(&c)
				}
			}
		}()
	}
	return h
}

func (h *hammer) finish() int64 {
	close(h.stop)
	h.wg.Wait()
	return h.a.Load() + h.b.Load() + h.skipped.Load() + h.bad.Load()
}

// TestReloadOnRename: DB A is in use; B is renamed over it while lookups
// run; the poller swaps B in, every lookup got A or B, none was lost, and
// after the swap only B answers.
func TestReloadOnRename(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	reloadDB(t, path, "AA")
	d, reg, lb := newTestDB(t, cfgWith(func(c *Config) { c.CityDB, c.ReloadInterval, c.CacheSize = path, shortInterval, 1024 }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	}()

	h := startHammer(d, 4)
	waitFor(t, "lookups answered from A", 5*time.Second, func() bool { return h.a.Load() > 1000 })
	reloadDB(t, path, "BB")
	waitFor(t, "B swapped in", 5*time.Second, func() bool { return h.b.Load() > 1000 })
	bBefore := h.b.Load()
	aAfterSwap := h.a.Load()
	time.Sleep(50 * time.Millisecond) // more lookups after the swap
	total := h.finish()

	if h.bad.Load() != 0 {
		t.Errorf("%d lookups got neither A's nor B's answer (of %d)", h.bad.Load(), total)
	}
	if got := h.a.Load() + h.b.Load() + h.skipped.Load(); got != total {
		t.Errorf("answers A %d + B %d + skipped %d = %d, want all %d lookups", h.a.Load(), h.b.Load(), h.skipped.Load(), got, total)
	}
	// Once B answers, A can answer only lookups already in flight on the
	// old state: at most one per worker.
	if h.a.Load()-aAfterSwap > 4 || h.b.Load() <= bBefore {
		t.Errorf("after B was in use: A answers went %d -> %d, B %d -> %d; want A to stay (+ at most 4 in flight), B growing", aAfterSwap, h.a.Load(), bBefore, h.b.Load())
	}
	// Every lookup is in the metrics, too.
	var counted float64
	for r := range numResults {
		counted += testutil.ToFloat64(d.m.lookups[r])
	}
	if int64(counted) != total {
		t.Errorf("sluice_geoip_lookups_total sums to %v, want %d", counted, total)
	}
	if n := testutil.ToFloat64(d.m.reloads[kindCity][0]); n != 2 {
		t.Errorf("sluice_geoip_database_loads_total{db=city,result=ok} = %v, want 2", n)
	}
	if !regexp.MustCompile(`msg="GeoIP database reloaded" .* build=\S+ age_days=\d+ bytes=\d+`).MatchString(lb.String()) {
		t.Errorf("log lacks the reload with build, age_days and bytes:\n%s", lb)
	}
	if _, err := testutil.GatherAndCount(reg); err != nil {
		t.Errorf("gather: %v", err)
	}
}

// TestReloadOnSignal: with polling off, a SIGHUP (hup channel) or an
// explicit Reload swaps in the replaced file; until then the old one
// answers. The cache is emptied by the swap.
func TestReloadOnSignal(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "city.mmdb")
	reloadDB(t, path, "AA")
	d, _, _ := newTestDB(t, cfgWith(func(c *Config) { c.CityDB = path }))
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, hup) }()
	defer func() { cancel(); <-done }()

	ip := netip.MustParseAddr("81.2.69.142")
	country := func() string {
		g, _ := d.Lookup(ip)
		if g == nil {
			return ""
		}
		return g.CountryISO
	}
	if got := country(); got != "AA" {
		t.Fatalf("before: %q, want AA", got)
	}
	reloadDB(t, path, "BB")
	time.Sleep(3 * shortInterval)
	if got := country(); got != "AA" {
		t.Fatalf("without a signal (polling off) the answer changed to %q", got)
	}
	if n := d.state.Load().cache.len(); n != 1 {
		t.Fatalf("cache entries = %d, want 1", n)
	}
	hup <- syscall.SIGHUP
	waitFor(t, "SIGHUP reload", 5*time.Second, func() bool { return country() == "BB" })

	reloadDB(t, path, "CC")
	if err := d.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if got := country(); got != "CC" {
		t.Errorf("after Reload(): %q, want CC", got)
	}
	if n := d.state.Load().cache.len(); n != 1 {
		t.Errorf("cache entries after reload and one lookup = %d, want 1 (emptied by the swap)", n)
	}
}

// A missing database: New works, the error names the path and the fix,
// database_up is 0 and lookups say no_database; when the file appears it
// is loaded. A corrupt replacement keeps the loaded one; a wrong type is
// refused by name.
func TestMissingCorruptWrongType(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-City.mmdb")
	d, _, lb := newTestDB(t, cfgWith(func(c *Config) { c.CityDB = path }))
	for _, want := range []string{path, "geoip.city_db", "no such file", "geoipupdate", "going on without it"} {
		if !strings.Contains(lb.String(), want) {
			t.Errorf("log for a missing file lacks %q:\n%s", want, lb)
		}
	}
	if v := testutil.ToFloat64(d.m.up.WithLabelValues("city")); v != 0 {
		t.Errorf("database_up{db=city} = %v, want 0", v)
	}
	if _, r := d.Lookup(netip.MustParseAddr("81.2.69.142")); r != ResultNoDatabase {
		t.Errorf("Lookup without a database = %s, want no_database", r)
	}
	// Checking again does not log again.
	for range 3 {
		if err := d.Check(); err == nil {
			t.Fatal("Check() with the file missing = nil")
		}
	}
	if n := lb.count("GeoIP database not loaded"); n != 1 {
		t.Errorf("missing file logged %d times, want once:\n%s", n, lb)
	}

	// It appears: loaded.
	data, err := os.ReadFile(testCity)
	if err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, path, data)
	if err := d.Check(); err != nil {
		t.Fatalf("Check() after the file appeared = %v", err)
	}
	if g, _ := d.Lookup(netip.MustParseAddr("81.2.69.142")); g == nil || g.CityName != "London" {
		t.Fatalf("after loading: %+v, want London", g)
	}
	if v := testutil.ToFloat64(d.m.up.WithLabelValues("city")); v != 1 {
		t.Errorf("database_up{db=city} = %v, want 1", v)
	}

	// Corrupt replacements (truncated, garbage): the loaded one stays.
	for _, bad := range [][]byte{data[:len(data)/2], []byte("not a database at all"), append(append([]byte{}, data[:4000]...), make([]byte, len(data)-4000)...)} {
		writeAtomic(t, path, bad)
		err := d.Check()
		var le *LoadError
		if !errors.As(err, &le) || !errors.Is(err, ErrCorrupt) || le.Path != path || !strings.Contains(err.Error(), "replace it") {
			t.Errorf("Check() on a corrupt file = %v, want a LoadError wrapping ErrCorrupt naming %s and the fix", err, path)
		}
		if g, _ := d.Lookup(netip.MustParseAddr("81.2.69.142")); g == nil || g.CityName != "London" {
			t.Errorf("after a corrupt replacement: %+v, want the loaded London", g)
		}
	}
	if v := testutil.ToFloat64(d.m.up.WithLabelValues("city")); v != 1 {
		t.Errorf("database_up{db=city} after failed reloads = %v, want 1 (old one in use)", v)
	}
	if v := testutil.ToFloat64(d.m.reloads[kindCity][1]); v != 4 {
		t.Errorf("loads_total{db=city,result=error} = %v, want 4 (missing + 3 corrupt)", v)
	}
	if !strings.Contains(lb.String(), "keeping the one loaded") {
		t.Errorf("log lacks 'keeping the one loaded':\n%s", lb)
	}

	// Wrong type: an ASN database as city_db.
	asn, err := os.ReadFile(testASN)
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "asn-as-city.mmdb")
	if err := os.WriteFile(wrong, asn, 0o600); err != nil {
		t.Fatal(err)
	}
	d2, _, _ := newTestDB(t, cfgWith(func(c *Config) { c.CityDB = wrong }))
	err = d2.Reload()
	if !errors.Is(err, ErrWrongType) || !strings.Contains(err.Error(), "GeoLite2-ASN") || !strings.Contains(err.Error(), "GeoLite2-City.mmdb") {
		t.Errorf("Reload() with an ASN file as city_db = %v, want ErrWrongType naming both types", err)
	}
	if d2.Loaded() {
		t.Error("a wrong-type database was loaded")
	}
}
