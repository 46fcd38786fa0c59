package main_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// copyGeoDBs copies the MaxMind test databases into a temp dir.
func copyGeoDBs(t *testing.T) (city, asn string) {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"GeoLite2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb"} {
		b, err := os.ReadFile(filepath.Join("../../geoip/testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "GeoLite2-City-Test.mmdb"), filepath.Join(dir, "GeoLite2-ASN-Test.mmdb")
}

// TestGeoIPEndToEnd runs the binary with the MaxMind test databases, sends
// NetFlow v9 flows and a netfilter syslog line whose addresses the
// databases know, reloads on SIGHUP in between, and checks source/
// destination geo, as, locality and network.direction in the files.
func TestGeoIPEndToEnd(t *testing.T) {
	city, asn := copyGeoDBs(t)
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_GEOIP_CITY_DB=" + city, "SLUICE_GEOIP_ASN_DB=" + asn}})
	m := s.metrics()
	if v := m[`sluice_geoip_database_up{db="city"}`]; v != 1 {
		t.Fatalf("sluice_geoip_database_up{db=city} = %v, want 1:\n%s", v, metricLines(m, "sluice_geoip"))
	}

	now := time.Now().Truncate(time.Second)
	ex := &exporter{Boot: now.Add(-time.Hour), SourceID: 7}
	flows := []flowRec{
		{Src: netip.MustParseAddr("81.2.69.142"), Dst: netip.MustParseAddr("192.168.1.10"), SPort: 443, DPort: 51000, Proto: 6, Bytes: 1000, Pkts: 2, Start: now.Add(-2 * time.Second), End: now.Add(-time.Second)},
		{Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("1.0.0.1"), SPort: 51001, DPort: 53, Proto: 17, Bytes: 80, Pkts: 1, Start: now.Add(-2 * time.Second), End: now.Add(-time.Second)},
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SPort: 22, DPort: 51002, Proto: 6, Bytes: 500, Pkts: 3, Start: now.Add(-2 * time.Second), End: now.Add(-time.Second)},
	}
	snd := newUDPSender(t)
	snd.send(ps.NetFlow, ex.v9Packet(now, 1+len(flows), templateSet(v9Template, 300, v9Fields4), ex.dataSet(300, v9Fields4, flows)))

	// SIGHUP reloads the databases without stopping anything.
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.metrics()[`sluice_geoip_database_loads_total{db="city",result="ok"}`] < 2 {
		if time.Now().After(deadline) || !s.alive() {
			t.Fatalf("no reload after SIGHUP (alive %v):\n%s", s.alive(), s.logTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}

	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", ps.SyslogUDP))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	line := "<12>" + time.Now().Format(time.Stamp) + " fw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=89.160.20.128 DST=192.168.1.10 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=4242 DF PROTO=TCP SPT=51000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0"
	if _, err := conn.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	m = s.metrics()
	s.stop()

	if h, _ := metricSum(m, "sluice_geoip_cache_misses_total"); h < 3 {
		t.Errorf("sluice_geoip_cache_misses_total = %v, want >= 3:\n%s", h, metricLines(m, "sluice_geoip"))
	}
	docs := readGlobDocs(t, filepath.Join(s.opts.OutDir, "sluice-flows-*.ndjson"))
	if len(docs) != len(flows) {
		t.Fatalf("%d flow documents, want %d", len(docs), len(flows))
	}
	bySrc := map[string]doc{}
	for _, d := range docs {
		bySrc[d.str("source.ip")] = d
	}
	for src, want := range map[string]map[string]string{
		"81.2.69.142": {"source.geo.country_iso_code": "GB", "source.geo.city_name": "London", "source.geo.continent_code": "EU",
			"source.geo.region_iso_code": "GB-ENG", "source.geo.location.lat": "51.5142", "source.locality": "external",
			"destination.locality": "internal", "network.direction": "inbound"},
		"192.168.1.10": {"destination.as.number": "15169", "destination.as.organization.name": "Google Inc.",
			"source.locality": "internal", "destination.locality": "external", "network.direction": "outbound"},
		"10.0.0.1": {"network.direction": "internal", "source.locality": "internal"},
	} {
		d, ok := bySrc[src]
		if !ok {
			t.Errorf("no flow from %s", src)
			continue
		}
		for path, v := range want {
			if got := d.str(path); got != v {
				t.Errorf("flow from %s: %s = %q, want %q\n%s", src, path, got, v, d.Raw)
			}
		}
		if src == "10.0.0.1" && strings.Contains(d.Raw, `"geo"`) {
			t.Errorf("private flow has geo fields: %s", d.Raw)
		}
	}
	sl := syslogDocs(t, s.opts.OutDir)
	if len(sl) != 1 {
		t.Fatalf("%d syslog documents, want 1", len(sl))
	}
	for path, v := range map[string]string{"source.ip": "89.160.20.128", "source.geo.country_iso_code": "SE", "source.geo.city_name": "Linköping",
		"source.as.number": "29518", "destination.locality": "internal", "network.direction": "inbound"} {
		if got := sl[0].str(path); got != v {
			t.Errorf("syslog %s = %q, want %q\n%s", path, got, v, sl[0].Raw)
		}
	}
}

// `sluice geoip lookup` prints what the pipeline would add, and fails
// naming the path when a configured database is missing.
func TestCLIGeoIPLookup(t *testing.T) {
	city, asn := copyGeoDBs(t)
	out, code := runCLI(t, nil, "geoip", "lookup", "--geoip.city_db", city, "--geoip.asn_db", asn, "81.2.69.142", "10.1.2.3", "1.0.0.1")
	if code != 0 {
		t.Fatalf("geoip lookup = %d:\n%s", code, out)
	}
	for _, want := range []string{`"ip":"81.2.69.142","class":"public","result":"found","locality":"external","geo":{"city_name":"London"`,
		`"ip":"10.1.2.3","class":"private","result":"skipped","locality":"internal"}`,
		`"as":{"number":15169,"organization":{"name":"Google Inc."}}`} {
		if !strings.Contains(out, want) {
			t.Errorf("geoip lookup output lacks %s:\n%s", want, out)
		}
	}
	missing := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	out, code = runCLI(t, []string{"SLUICE_GEOIP_CITY_DB=" + missing}, "geoip", "lookup", "81.2.69.142")
	if code == 0 || !strings.Contains(out, missing) || !strings.Contains(out, "geoipupdate") {
		t.Errorf("geoip lookup with a missing database = %d, want non-zero naming %s and geoipupdate:\n%s", code, missing, out)
	}
}
