package dnscheck

import (
	"bufio"
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/event"
)

var t0 = time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC)

func newStage(t testing.TB, cfg Config) *Stage {
	t.Helper()
	s, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return s
}

// dnsEvent is what a parser or the capture makes of one DNS transaction.
type dnsEvent struct {
	name, qtype, rcode string
	src, dst           string
	ips                []string
	at                 time.Time
	kind               event.Kind
}

func (d dnsEvent) add(b *event.Batch) *event.Event {
	e := b.Add()
	e.Kind = d.kind
	if e.Kind == 0 {
		e.Kind = event.KindSyslog
	}
	e.Timestamp = d.at
	if e.Timestamp.IsZero() {
		e.Timestamp = t0
	}
	if d.src != "" {
		e.Src.IP = netip.MustParseAddr(d.src)
	}
	if d.dst != "" {
		e.Dst.IP = netip.MustParseAddr(d.dst)
		e.Dst.Port = 53
	}
	e.AddParsed(event.Field{Key: "dns.question.name", Type: event.FieldString, S: d.name})
	if d.qtype != "" {
		e.AddParsed(event.Field{Key: "dns.question.type", Type: event.FieldString, S: d.qtype})
	}
	if d.rcode != "" {
		e.AddParsed(event.Field{Key: "dns.response_code", Type: event.FieldString, S: d.rcode})
	}
	for _, ip := range d.ips {
		e.AddParsed(event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: netip.MustParseAddr(ip)})
	}
	return e
}

// fields returns the fields the stage added, as text.
func added(e *event.Event) map[string]string {
	out := map[string]string{}
	for _, f := range e.Fields {
		if !strings.HasPrefix(f.Key, "sluice.dns.") && !strings.HasPrefix(f.Key, "threat.") && !strings.HasPrefix(f.Key, "dns.question.") || f.Key == "dns.question.name" || f.Key == "dns.question.type" {
			continue
		}
		switch f.Type {
		case event.FieldString:
			out[f.Key] = f.S
		case event.FieldBool:
			out[f.Key] = fmt.Sprint(f.U != 0)
		case event.FieldUint:
			out[f.Key] = fmt.Sprint(f.U)
		}
	}
	return out
}

func check(t testing.TB, s *Stage, d dnsEvent) (map[string]string, []byte) {
	t.Helper()
	b := event.NewBatch()
	defer b.Release()
	e := d.add(b)
	if err := s.Process(context.Background(), b); err != nil {
		t.Fatalf("Process() = %v", err)
	}
	doc := e.AppendJSON(nil)
	if !json.Valid(doc) {
		t.Fatalf("invalid JSON: %s", doc)
	}
	return added(e), doc
}

func TestNameFields(t *testing.T) {
	cfg := Default()
	cfg.NewDomainDays = 0
	s := newStage(t, cfg)
	for _, tc := range []struct {
		name string
		want map[string]string
	}{
		{"www.example.co.uk", map[string]string{"dns.question.registered_domain": "example.co.uk", "dns.question.subdomain": "www", "dns.question.top_level_domain": "co.uk"}},
		{"a.b.example.com.", map[string]string{"dns.question.registered_domain": "example.com", "dns.question.subdomain": "a.b", "dns.question.top_level_domain": "com"}},
		{"example.com", map[string]string{"dns.question.registered_domain": "example.com", "dns.question.top_level_domain": "com"}},
		{"co.uk", map[string]string{"dns.question.top_level_domain": "co.uk"}},
		{"router.lan", map[string]string{"dns.question.registered_domain": "router.lan", "dns.question.top_level_domain": "lan"}},
		{"xn--bcher-kva.example", map[string]string{"dns.question.registered_domain": "xn--bcher-kva.example", "dns.question.top_level_domain": "example", "sluice.dns.question.unicode_name": "bücher.example", "sluice.dns.reasons": "idn"}},
	} {
		got, _ := check(t, s, dnsEvent{name: tc.name})
		for _, k := range []string{"sluice.dns.entropy", "sluice.dns.dga_score", "sluice.dns.name_length", "sluice.dns.max_label_length", "sluice.dns.score", "sluice.dns.score_band"} {
			delete(got, k)
		}
		if diff := cmp.Diff(got, tc.want); diff != "" {
			t.Errorf("check(%q) (-got +want):\n%s", tc.name, diff)
		}
	}
	got, _ := check(t, s, dnsEvent{name: "www.example.com"})
	if diff := cmp.Diff(got, map[string]string{"dns.question.registered_domain": "example.com", "dns.question.subdomain": "www", "dns.question.top_level_domain": "com",
		"sluice.dns.dga_score": "0", "sluice.dns.name_length": "15", "sluice.dns.max_label_length": "7", "sluice.dns.score": "0", "sluice.dns.score_band": "0-29"}); diff != "" {
		t.Errorf("check(www.example.com) (-got +want):\n%s", diff)
	}
}

func readPopular(t testing.TB) []string {
	f, err := os.Open("testdata/popular.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && l[0] != '#' {
			out = append(out, strings.ToLower(l))
		}
	}
	return out
}

// dgaNames are names like those of domain generation algorithms: random
// letters (8..20), or letters and digits, under common suffixes.
func dgaNames(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	tlds := []string{"com", "net", "org", "info", "ru", "biz", "top", "xyz"}
	var out []string
	for i := range n {
		l := make([]byte, 8+r.IntN(13))
		for j := range l {
			if i%3 == 2 && r.IntN(3) == 0 {
				l[j] = byte('0' + r.IntN(10))
			} else {
				l[j] = byte('a' + r.IntN(26))
			}
		}
		out = append(out, string(l)+"."+tlds[r.IntN(len(tlds))])
	}
	return out
}

// tunnelNames are names like those of DNS tunnels (iodine, dnscat2,
// exfiltration): base32 or hex of data in long labels under one domain.
func tunnelNames(n int) []string {
	r := rand.New(rand.NewPCG(3, 4))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	var out []string
	for i := range n {
		data := make([]byte, 20+r.IntN(18))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		var l string
		if i%2 == 0 {
			l = strings.ToLower(enc.EncodeToString(data))
		} else {
			l = fmt.Sprintf("%x", data)
		}
		out = append(out, l+".t.tunnel-example.com")
	}
	return out
}

// TestScoreRates runs popular names, DGA-like names and tunnel-like
// names (single queries, no window state) and checks the rates at which
// they score 50 or more.
func TestScoreRates(t *testing.T) {
	cfg := Default()
	cfg.NewDomainDays = 0 // first sight of everything here; not what is measured
	s := newStage(t, cfg)
	rate := func(names []string, qtype string) (float64, []string) {
		high := 0
		var hi []string
		for _, n := range names {
			// No client: each name alone, no window state.
			got, _ := check(t, s, dnsEvent{name: n, qtype: qtype})
			var sc int
			fmt.Sscan(got["sluice.dns.score"], &sc)
			if sc >= 50 {
				high++
				hi = append(hi, n+" "+got["sluice.dns.reasons"])
			}
		}
		return float64(high) / float64(len(names)), hi
	}
	pop, popHigh := rate(readPopular(t), "A")
	dga, _ := rate(dgaNames(1000), "A")
	tun, _ := rate(tunnelNames(1000), "TXT")
	tunA, _ := rate(tunnelNames(1000), "A")
	t.Logf("score >= 50: popular %.1f%% (%d names), DGA-like %.1f%%, tunnel-like TXT %.1f%%, tunnel-like A %.1f%%", pop*100, len(readPopular(t)), dga*100, tun*100, tunA*100)
	if pop > 0.01 {
		t.Errorf("popular names scoring >= 50: %.1f%%, want at most 1%%: %v", pop*100, popHigh)
	}
	if dga < 0.9 {
		t.Errorf("DGA-like names scoring >= 50: %.1f%%, want at least 90%%", dga*100)
	}
	if tun < 0.95 || tunA < 0.95 {
		t.Errorf("tunnel-like names scoring >= 50: TXT %.1f%%, A %.1f%%, want at least 95%%", tun*100, tunA*100)
	}
}

func TestUnsanctionedResolver(t *testing.T) {
	cfg := Default()
	cfg.AllowedResolvers = []netip.Prefix{netip.MustParsePrefix("192.168.1.53/32"), netip.MustParsePrefix("10.0.0.0/24")}
	s := newStage(t, cfg)
	for _, tc := range []struct {
		src, dst string
		want     bool
	}{
		{"192.168.1.10", "192.168.1.53", false},
		{"192.168.1.10", "10.0.0.7", false},
		{"192.168.1.10", "8.8.8.8", true},
		{"192.168.1.53", "1.1.1.1", false}, // the resolver asking upstream
		{"192.168.1.10", "", false},        // no server known
	} {
		got, _ := check(t, s, dnsEvent{name: "example.com", src: tc.src, dst: tc.dst})
		if (got["sluice.dns.unsanctioned_resolver"] == "true") != tc.want {
			t.Errorf("%s -> %s: unsanctioned_resolver %q, want %v", tc.src, tc.dst, got["sluice.dns.unsanctioned_resolver"], tc.want)
		}
	}
	// Flows: to port 53/853 only, encoded as sluice.dns.unsanctioned_resolver.
	for _, tc := range []struct {
		dst   string
		port  uint16
		proto uint8
		want  bool
	}{
		{"8.8.8.8", 53, 17, true}, {"8.8.8.8", 853, 6, true}, {"8.8.8.8", 443, 6, false},
		{"192.168.1.53", 53, 17, false}, {"8.8.8.8", 53, 1, false},
	} {
		b := event.NewBatch()
		e := b.Add()
		e.Kind = event.KindFlow
		e.Timestamp = t0
		e.Src.IP, e.Dst.IP, e.Dst.Port = netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr(tc.dst), tc.port
		e.Flow.Protocol, e.Flow.HasProtocol = tc.proto, true
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		doc := e.AppendJSON(nil)
		var m struct {
			Sluice struct {
				DNS struct {
					Unsanctioned bool `json:"unsanctioned_resolver"`
				} `json:"dns"`
			} `json:"sluice"`
		}
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("flow JSON: %v: %s", err, doc)
		}
		if tc.want {
			// With sluice.original_timestamp in the same object.
			e.OriginalTimestamp = t0.Add(-time.Hour)
			var m2 struct {
				Sluice map[string]any `json:"sluice"`
			}
			if err := json.Unmarshal(e.AppendJSON(nil), &m2); err != nil || m2.Sluice["original_timestamp"] == nil || m2.Sluice["dns"] == nil {
				t.Errorf("flow with both sluice fields: %v %v", err, m2.Sluice)
			}
		}
		if m.Sluice.DNS.Unsanctioned != tc.want {
			t.Errorf("flow to %s:%d/%d: unsanctioned %v, want %v: %s", tc.dst, tc.port, tc.proto, m.Sluice.DNS.Unsanctioned, tc.want, doc)
		}
		b.Release()
	}
	if n := testutil.ToFloat64(s.m.flows); n != 2 {
		t.Errorf("sluice_dnscheck_unsanctioned_flows_total = %v, want 2", n)
	}
}

func TestLookalike(t *testing.T) {
	cfg := Default()
	cfg.WatchDomains = []string{"paypal.com", "Microsoft.com.", "bücher.de"}
	s := newStage(t, cfg)
	for _, tc := range []struct{ name, of, kind string }{
		{"paypal.com", "", ""},
		{"www.paypal.com", "", ""},
		{"paypa1.com", "paypal.com", "homoglyph"},
		{"xn--pypal-4ve.com", "paypal.com", "homoglyph"}, // Cyrillic а
		{"rnicrosoft.com", "microsoft.com", "homoglyph"},
		{"paypall.com", "paypal.com", "typo"},
		{"pyapal.net", "paypal.com", "typo"},
		{"micorsoft.com", "microsoft.com", "typo"},
		{"secure-paypal-login.com", "paypal.com", "combo"},
		{"paypal.co.uk", "", ""},
		{"example.com", "", ""},
		{"bucher.de", "bücher.de", "homoglyph"},
	} {
		got, _ := check(t, s, dnsEvent{name: tc.name})
		of := got["sluice.dns.lookalike"]
		if tc.of == "bücher.de" {
			tc.of = "xn--bcher-kva.de"
		}
		if of != tc.of || got["sluice.dns.lookalike_kind"] != tc.kind {
			t.Errorf("%s: lookalike %q %q, want %q %q", tc.name, of, got["sluice.dns.lookalike_kind"], tc.of, tc.kind)
		}
		if tc.of != "" && !strings.Contains(got["sluice.dns.reasons"], "lookalike") {
			t.Errorf("%s: reasons %q lack lookalike", tc.name, got["sluice.dns.reasons"])
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBlocklists(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	plain := filepath.Join(dir, "plain")
	adblock := filepath.Join(dir, "adblock")
	writeFile(t, hosts, "# comment\n127.0.0.1 localhost\n0.0.0.0 ads.example.net tracker.example.org # two\n\n")
	writeFile(t, plain, "evil.example\n203.0.113.66\n198.51.100.0/24\nnot a name!\n")
	writeFile(t, adblock, "! title\n||malware.example^\n||cdn.example^$third-party\n@@||good.example^\n||path.example/ads\n")
	cfg := Default()
	cfg.Blocklists = []Blocklist{{"hosts-list", hosts, "hosts"}, {"plain-list", plain, "plain"}, {"ab", adblock, "adblock"}}
	cfg.ReloadInterval = time.Second
	s := newStage(t, cfg)
	for _, tc := range []struct {
		d    dnsEvent
		want map[string]string
	}{
		{dnsEvent{name: "ads.example.net"}, map[string]string{"sluice.dns.blocklist": "hosts-list", "threat.enrichments.matched.atomic": "ads.example.net", "threat.enrichments.matched.field": "dns.question.name", "threat.enrichments.indicator.type": "domain-name"}},
		{dnsEvent{name: "x.y.evil.example"}, map[string]string{"sluice.dns.blocklist": "plain-list", "threat.enrichments.matched.atomic": "evil.example", "threat.enrichments.matched.field": "dns.question.name", "threat.enrichments.indicator.type": "domain-name"}},
		{dnsEvent{name: "fine.example", ips: []string{"192.0.2.1", "203.0.113.66"}}, map[string]string{"sluice.dns.blocklist": "plain-list", "threat.enrichments.matched.atomic": "203.0.113.66", "threat.enrichments.matched.field": "dns.resolved_ip", "threat.enrichments.indicator.type": "ipv4-addr"}},
		{dnsEvent{name: "fine.example", ips: []string{"198.51.100.7"}}, map[string]string{"sluice.dns.blocklist": "plain-list", "threat.enrichments.matched.atomic": "198.51.100.7", "threat.enrichments.matched.field": "dns.resolved_ip", "threat.enrichments.indicator.type": "ipv4-addr"}},
		{dnsEvent{name: "malware.example"}, map[string]string{"sluice.dns.blocklist": "ab", "threat.enrichments.matched.atomic": "malware.example", "threat.enrichments.matched.field": "dns.question.name", "threat.enrichments.indicator.type": "domain-name"}},
		{dnsEvent{name: "good.example"}, map[string]string{}},
		{dnsEvent{name: "path.example"}, map[string]string{}},
		{dnsEvent{name: "localhost"}, map[string]string{}},
		{dnsEvent{name: "example.net"}, map[string]string{}},
	} {
		got, _ := check(t, s, tc.d)
		sub := map[string]string{}
		for k, v := range got {
			if k == "sluice.dns.blocklist" || strings.HasPrefix(k, "threat.enrichments.matched.a") || strings.HasPrefix(k, "threat.enrichments.matched.f") || k == "threat.enrichments.indicator.type" {
				sub[k] = v
			}
		}
		if diff := cmp.Diff(sub, tc.want); diff != "" {
			t.Errorf("%v (-got +want):\n%s", tc.d, diff)
		}
		if len(tc.want) > 0 && (got["threat.enrichments.indicator.provider"] != tc.want["sluice.dns.blocklist"] || !strings.Contains(got["sluice.dns.reasons"], "blocklist")) {
			t.Errorf("%v: provider %q reasons %q", tc.d, got["threat.enrichments.indicator.provider"], got["sluice.dns.reasons"])
		}
	}
	if n := testutil.ToFloat64(s.m.listHits.WithLabelValues("plain-list")); n != 3 {
		t.Errorf("hits of plain-list = %v, want 3", n)
	}
	// A changed file is read again by Reload (Run calls it every
	// interval); a file that disappears keeps the old lists.
	writeFile(t, plain, "new-evil.example\n")
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(plain, future, future); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	if got, _ := check(t, s, dnsEvent{name: "new-evil.example"}); got["sluice.dns.blocklist"] != "plain-list" {
		t.Errorf("after reload: new-evil.example blocklist %q, want plain-list", got["sluice.dns.blocklist"])
	}
	if got, _ := check(t, s, dnsEvent{name: "evil.example"}); got["sluice.dns.blocklist"] != "" {
		t.Errorf("after reload: evil.example still listed in %q", got["sluice.dns.blocklist"])
	}
	if err := os.Remove(plain); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	if got, _ := check(t, s, dnsEvent{name: "new-evil.example"}); got["sluice.dns.blocklist"] != "plain-list" {
		t.Errorf("after the file went: new-evil.example blocklist %q, want plain-list kept", got["sluice.dns.blocklist"])
	}
	if n := testutil.ToFloat64(s.m.reloads.WithLabelValues("ok")); n != 1 {
		t.Errorf("reloads ok = %v, want 1", n)
	}
}

func TestWindows(t *testing.T) {
	cfg := Default()
	cfg.NXDomainThreshold, cfg.NXDomainWindow = 3, time.Minute
	cfg.TunnelMaxQueries, cfg.TunnelMaxBytes, cfg.TunnelWindow = 4, 0, time.Minute
	cfg.MaxClients = 2
	s := newStage(t, cfg)
	var got []string
	for i := range 4 {
		g, _ := check(t, s, dnsEvent{name: fmt.Sprintf("n%d.example.com", i), rcode: "NXDOMAIN", src: "192.0.2.1", at: t0.Add(time.Duration(i) * time.Second)})
		got = append(got, g["sluice.dns.nxdomain_burst"]+"/"+g["sluice.dns.tunnel_suspect"])
	}
	// A new window: counts start again.
	g, _ := check(t, s, dnsEvent{name: "n9.example.com", rcode: "NXDOMAIN", src: "192.0.2.1", at: t0.Add(2 * time.Minute)})
	got = append(got, g["sluice.dns.nxdomain_burst"]+"/"+g["sluice.dns.tunnel_suspect"])
	want := []string{"/", "/", "true/", "true/true", "/"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("nxdomain/tunnel flags (-got +want):\n%s", diff)
	}
	// Bounded: a third and fourth client evict windows.
	check(t, s, dnsEvent{name: "a.example.com", rcode: "NXDOMAIN", src: "192.0.2.2"})
	check(t, s, dnsEvent{name: "a.example.com", rcode: "NXDOMAIN", src: "192.0.2.3"})
	if n := testutil.ToFloat64(s.m.evictions.WithLabelValues("nxdomain")); n != 1 {
		t.Errorf("nxdomain evictions = %v, want 1", n)
	}
	if len(s.nx.m) > 2 || len(s.tunnel.m) > 2 {
		t.Errorf("windows hold %d and %d entries, want at most 2", len(s.nx.m), len(s.tunnel.m))
	}
}

func TestNewDomainsPersisted(t *testing.T) {
	dir := t.TempDir()
	cfg := Default()
	cfg.StateDir = dir
	cfg.NewDomainDays = 7
	cfg.MaxDomains = 3
	s := newStage(t, cfg)
	old := t0.Add(-30 * 24 * time.Hour)
	if g, _ := check(t, s, dnsEvent{name: "www.old.example", at: old}); g["sluice.dns.new_domain"] != "true" {
		t.Errorf("first sight: new_domain %q, want true", g["sluice.dns.new_domain"])
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	// A new stage reads the set back: 30 days later old.example is not new.
	s2 := newStage(t, cfg)
	if g, _ := check(t, s2, dnsEvent{name: "mail.old.example", at: t0}); g["sluice.dns.new_domain"] != "" {
		t.Errorf("after restart: old.example new_domain %q, want not new", g["sluice.dns.new_domain"])
	}
	if g, _ := check(t, s2, dnsEvent{name: "fresh.example", at: t0}); g["sluice.dns.new_domain"] != "true" {
		t.Errorf("fresh.example: new_domain %q, want true", g["sluice.dns.new_domain"])
	}
	for _, n := range []string{"b.example", "c.example", "d.example"} {
		check(t, s2, dnsEvent{name: n, at: t0})
	}
	if n := testutil.ToFloat64(s2.m.evictions.WithLabelValues("domains")); n != 2 || len(s2.seen.m) != 3 {
		t.Errorf("seen set: %d entries, %v evictions; want 3 and 2", len(s2.seen.m), n)
	}
	if err := s2.Save(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != seenFile {
		t.Errorf("state dir holds %v, want only %s", ents, seenFile)
	}
	// A damaged file: bad lines are skipped, good ones kept.
	writeFile(t, filepath.Join(dir, seenFile), seenHeader+"\n20000 20001 ok.example\nx y z\n20001 20000 bad.example\n20000 20000 BAD.example\n1 1 old.example\n")
	s3 := newStage(t, cfg)
	if _, ok := s3.seen.m["ok.example"]; !ok || len(s3.seen.m) != 1 {
		t.Errorf("damaged file read as %v, want only ok.example", s3.seen.m)
	}
	writeFile(t, filepath.Join(dir, seenFile), "something else\n")
	if _, err := New(cfg, nil, prometheus.NewRegistry()); err == nil || !strings.Contains(err.Error(), seenFile) {
		t.Errorf("New() with a foreign state file = %v, want an error naming it", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := ParseResolvers("dns.allowed_resolvers", []string{"10.0.0.0/8", "192.168.1.53", "10.0.0.300/8"}); err == nil || !strings.Contains(err.Error(), "dns.allowed_resolvers") || !strings.Contains(err.Error(), "10.0.0.300/8") {
		t.Errorf("ParseResolvers(bad) = %v, want an error naming key and value", err)
	}
	cfg := Default()
	cfg.Blocklists = []Blocklist{{"x", "/nonexistent/list", "hosts"}, {"x", "", "csv"}}
	cfg.WatchDomains = []string{"exa mple.com"}
	err := cfg.Validate()
	for _, w := range []string{"dns.blocklists[0].path", "/nonexistent/list", "dns.blocklists[1].name", "dns.blocklists[1].format", "dns.blocklists[1].path", "dns.watch_domains[0]"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, want it to name %q", err, w)
		}
	}
}

func TestASCIISkeleton(t *testing.T) {
	for _, l := range []string{"paypal", "paypa1", "rnicrosoft", "microsoft", "g00gle", "a-b_c", "IlO0"} {
		if got, want := string(appendSkeleton(nil, l)), skeleton(l); got != want {
			t.Errorf("appendSkeleton(%q) = %q, skeleton() = %q", l, got, want)
		}
	}
}

func TestEntropy(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want float64
	}{{"", 0}, {"a", 0}, {"aaaa", 0}, {"ab", 1}, {"abcd", 2}, {"aabb", 1}, {"abcdefgh", 3}} {
		if got := entropy(tc.s); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("entropy(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestRunReloadsAndSaves runs the stage's loop: a changed blocklist is
// read again within the interval, and cancelling saves the seen set.
func TestRunReloadsAndSaves(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list")
	writeFile(t, list, "one.example\n")
	cfg := Default()
	cfg.StateDir = filepath.Join(dir, "dns")
	cfg.Blocklists = []Blocklist{{"l", list, "plain"}}
	cfg.ReloadInterval, cfg.SaveInterval = time.Second, time.Hour
	s := newStage(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	check(t, s, dnsEvent{name: "www.seen.example"})
	writeFile(t, list, "two.example\n")
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(list, future, future); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if g, _ := check(t, s, dnsEvent{name: "two.example"}); g["sluice.dns.blocklist"] == "l" {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("two.example not listed 10s after the file changed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(cfg.StateDir, seenFile))
	if err != nil || !strings.Contains(string(raw), " seen.example\n") {
		t.Errorf("seen file after Run: %v %q", err, raw)
	}
}

// TestConcurrentProcess runs batches from several goroutines, as the
// pipeline's workers do (for the race detector), and checks the counts.
func TestConcurrentProcess(t *testing.T) {
	cfg := Default()
	cfg.WatchDomains = []string{"paypal.com"}
	s := newStage(t, cfg)
	names := dgaNames(200)
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				b := event.NewBatch()
				dnsEvent{name: names[(w*50+i)%len(names)], rcode: "NXDOMAIN", src: "192.0.2.1"}.add(b)
				_ = s.Process(context.Background(), b)
				b.Release()
			}
		}()
	}
	for range 4 {
		<-done
	}
	if n := testutil.ToFloat64(s.m.events); n != 200 {
		t.Errorf("events = %v, want 200", n)
	}
}

// TestProcessAfterCancel: the pipeline drains with a cancelled context at
// shutdown; the stage must still process and not fail.
func TestProcessAfterCancel(t *testing.T) {
	s := newStage(t, Default())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := event.NewBatch()
	defer b.Release()
	e := dnsEvent{name: "www.example.com"}.add(b)
	if err := s.Process(ctx, b); err != nil {
		t.Fatalf("Process(cancelled ctx) = %v, want nil", err)
	}
	if got := added(e)["dns.question.registered_domain"]; got != "example.com" {
		t.Errorf("registered_domain = %q after a cancelled ctx", got)
	}
}

func TestWindowLateEvents(t *testing.T) {
	var w window
	w.add(t0, 1, time.Minute)
	w.add(t0.Add(-5*time.Second), 1, time.Minute) // late: same window
	w.add(t0.Add(59*time.Second), 1, time.Minute)
	if w.n != 3 || w.bytes != 3 {
		t.Errorf("window after a late event: n=%d bytes=%d, want 3 and 3", w.n, w.bytes)
	}
	w.add(t0.Add(time.Minute), 1, time.Minute)
	if w.n != 1 || !w.start.Equal(t0.Add(time.Minute)) {
		t.Errorf("window past its length: n=%d start %v, want a new one", w.n, w.start)
	}
	s := newSeenSet(10)
	s.see("a.example", 100)
	if first, _ := s.see("a.example", 90); first != 90 {
		t.Errorf("an older sighting: first %d, want 90", first)
	}
}

// TestStreams runs traffic shapes through the windows with the default
// thresholds: a tunnel (1000 A queries for one domain from one client
// within 100 s) is flagged from its 300th query; a DGA-infected host (200
// NXDOMAIN answers for random names within 20 s) from its 20th; a busy
// normal client (the popular names, each once) never.
func TestStreams(t *testing.T) {
	cfg := Default()
	cfg.NewDomainDays = 0
	s := newStage(t, cfg)
	first := func(names []string, rcode, src string, reason string) (int, int) {
		firstAt, n := -1, 0
		for i, name := range names {
			g, _ := check(t, s, dnsEvent{name: name, qtype: "A", rcode: rcode, src: src, at: t0.Add(time.Duration(i) * 100 * time.Millisecond)})
			if strings.Contains(g["sluice.dns.reasons"], reason) {
				n++
				if firstAt < 0 {
					firstAt = i
				}
			}
		}
		return firstAt, n
	}
	tf, tn := first(tunnelNames(1000), "NOERROR", "192.0.2.10", "tunnel")
	df, dn := first(dgaNames(200), "NXDOMAIN", "192.0.2.11", "nxdomain_burst")
	_, pn := first(readPopular(t), "NOERROR", "192.0.2.12", "tunnel")
	t.Logf("tunnel stream: flagged from query %d, %d of 1000; DGA host: NXDOMAIN burst from answer %d, %d of 200; popular: %d tunnel flags", tf+1, tn, df+1, dn, pn)
	if tf != 299 || tn != 701 {
		t.Errorf("tunnel stream: first flagged at %d, %d flagged; want 299 and 701", tf, tn)
	}
	if df != 19 || dn != 181 {
		t.Errorf("DGA host: first burst at %d, %d flagged; want 19 and 181", df, dn)
	}
	if pn != 0 {
		t.Errorf("popular names: %d tunnel flags, want 0", pn)
	}
}

func TestScoreBand(t *testing.T) {
	for score, want := range map[int]string{0: "0-29", 29: "0-29", 30: "30-49", 49: "30-49", 50: "50-69", 69: "50-69", 70: "70+", 100: "70+"} {
		if got := ScoreBand(score); got != want {
			t.Errorf("ScoreBand(%d) = %q, want %q", score, got, want)
		}
	}
}
