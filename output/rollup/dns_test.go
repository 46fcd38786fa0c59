package rollup

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/collector/syslog"
	"github.com/sluicelab/sluice/enrich/dnscheck"
	"github.com/sluicelab/sluice/enrich/parsers"
	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
	"github.com/sluicelab/sluice/output/file"
)

// dnsResolver is the sanctioned resolver of the DNS test data; 8.8.8.8 is
// not.
var dnsResolver = netip.MustParseAddr("192.0.2.53")

// dnsBatch builds DNS events from the three sources as sluice does:
// resolver query-log lines (dnsmasq, unbound, BIND) decoded and parsed by
// the syslog decoder and the parser rules, capture-shaped transactions
// (KindDNS, as collector/dnscap emits them) and Beats documents (a Sysmon
// DNS query with its process, and a Beat's document that is no DNS), all
// checked by the DNS checks stage (blocklist, allowed resolvers, new
// domains) and encoded. The events fall in minutes first.. of the base
// hour, round robin over n minutes.
func dnsBatch(t testing.TB, first, n int) *event.Batch {
	t.Helper()
	ts := func(i int) time.Time {
		return base.Add(time.Duration(first+i%n)*time.Minute + time.Duration(i%50)*time.Second)
	}
	var lines []string
	stamp := "Dec  7 10:00:00"
	clients := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}
	names := []string{"www.example.com", "mail.example.com", "example.org", "www.example.org", "cdn.example.net"}
	for i := range 40 {
		c := clients[i%len(clients)]
		name := names[i%len(names)]
		switch i % 4 {
		case 0:
			lines = append(lines, fmt.Sprintf("<30>%s pihole dnsmasq[1234]: query[A] %s from %s", stamp, name, c))
		case 1:
			lines = append(lines, fmt.Sprintf("<30>%s resolver unbound: [1234:0] info: %s %s. AAAA IN NOERROR 0.000123 0 45", stamp, c, name))
		case 2:
			lines = append(lines, fmt.Sprintf("<30>%s ns1 named[555]: client @0x7f3a2c0a1b50 %s#5321%d (%s): query: %s IN A +E(0)K (192.0.2.53)", stamp, c, i%10, name, name))
		case 3:
			lines = append(lines, fmt.Sprintf("<30>%s pihole dnsmasq[1234]: reply %s is 93.184.216.%d", stamp, name, i))
		}
	}
	// NXDOMAIN, DGA-like and blocklisted names, a TXT tunnel.
	for i := range 6 {
		lines = append(lines, fmt.Sprintf("<30>%s resolver unbound: [1234:0] info: 10.0.0.%d xkqjzvbwplmnrtd%d.com. A IN NXDOMAIN 0.000123 0 45", stamp, 2+i%2, i))
	}
	for range 3 {
		lines = append(lines, fmt.Sprintf("<30>%s pihole dnsmasq[1234]: query[A] login.evil.example from 10.0.0.4", stamp))
	}
	lines = append(lines, fmt.Sprintf("<30>%s resolver unbound: [1234:0] info: 10.0.0.1 mzxw6ytboi4dgnzrgmydcmzqga2dimrrgmytcmrs.t.example.com. TXT IN NOERROR 0.000123 0 45", stamp))
	lines = append(lines, "<30>"+stamp+" host app: a line that is no DNS")

	cfg := parsers.Default()
	cfg.Location = time.UTC
	pst, err := parsers.New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	d := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC})
	bt := event.NewBatch()
	for _, l := range lines {
		if err := d.Decode(&collector.Packet{Data: []byte(l), Src: netip.MustParseAddrPort("192.0.2.10:514"), Received: base}, bt); err != nil {
			t.Fatal(err)
		}
	}
	if err := pst.Process(context.Background(), bt); err != nil {
		t.Fatal(err)
	}
	// Captured transactions: a query and its answer, sizes known.
	for i := range 12 {
		e := bt.Add()
		e.Kind = event.KindDNS
		server := dnsResolver
		if i%4 == 3 {
			server = netip.MustParseAddr("8.8.8.8")
		}
		e.Src = event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 0, 1, byte(1 + i%3)}), Port: uint16(40000 + i), Bytes: uint64(40 + i)}
		e.Dst = event.Endpoint{IP: server, Port: 53, Bytes: uint64(100 + 2*i)}
		e.Flow.Protocol, e.Flow.HasProtocol = 17, true
		e.Syslog.Dataset = "sluice.dns"
		str := func(k, v string) { e.AddParsed(event.Field{Key: k, Type: event.FieldString, S: v}) }
		str("network.protocol", "dns")
		str("dns.question.name", names[i%3])
		str("dns.question.type", []string{"A", "AAAA", "HTTPS"}[i%3])
		str("dns.question.class", "IN")
		str("dns.type", "answer")
		rc := "NOERROR"
		if i%5 == 4 {
			rc = "NXDOMAIN"
		}
		str("dns.response_code", rc)
	}
	// Beats: Sysmon event 22 (a program's query) and a document without
	// a question (not DNS).
	for i := range 4 {
		e := bt.Add()
		e.Kind = event.KindBeats
		e.Syslog.Dataset = "windows.sysmon_operational"
		str := func(k, v string) { e.AddParsed(event.Field{Key: k, Type: event.FieldString, S: v}) }
		str("process.name", []string{"chrome.exe", "svchost.exe"}[i%2])
		str("dns.question.name", names[i%2])
		str("dns.response_code", "NOERROR")
	}
	nb := bt.Add()
	nb.Kind = event.KindBeats
	nb.Syslog.Dataset = "system.auth"
	nb.AddParsed(event.Field{Key: "process.name", Type: event.FieldString, S: "sshd"})
	for i := range bt.All() {
		bt.Events[i].Timestamp = ts(i)
	}
	// The DNS checks.
	dir := t.TempDir()
	list := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(list, []byte("evil.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dc := dnscheck.Default()
	dc.AllowedResolvers = []netip.Prefix{netip.PrefixFrom(dnsResolver, 32)}
	dc.Blocklists = []dnscheck.Blocklist{{Name: "testlist", Path: list, Format: "plain"}}
	chk, err := dnscheck.New(dc, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := chk.Process(context.Background(), bt); err != nil {
		t.Fatal(err)
	}
	bt.EncodeJSON()
	return bt
}

// splitDocs returns the documents of bt by console kind: syslog (every
// KindSyslog event) and dns (every document with a question name).
func splitDocs(t testing.TB, bt *event.Batch) (syslogDocs, dnsDocs []*query.JSONDoc) {
	t.Helper()
	for i, d := range docs(t, bt) {
		if bt.Events[i].Kind == event.KindSyslog {
			syslogDocs = append(syslogDocs, d)
		}
		if len(d.Values("dns.question.name", nil)) > 0 {
			dnsDocs = append(dnsDocs, d)
		}
	}
	return syslogDocs, dnsDocs
}

// TestDNSData: the test data has what the DNS page shows (each source,
// scores of every band a suspicious name reaches, NXDOMAIN, a blocklist
// hit, unsanctioned resolvers, new domains), and the rollups count a
// resolver-log line in syslog and in dns, a capture or Sysmon event in dns
// only, a Beat's document without a question in neither.
func TestDNSData(t *testing.T) {
	bt := dnsBatch(t, 0, 5)
	syslogDocs, dnsDocs := splitDocs(t, bt)
	count := func(filter string) int {
		m, err := query.ParseQueryString(filter, console.FilterOptions)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range dnsDocs {
			if m.Match(d) {
				n++
			}
		}
		return n
	}
	for _, f := range []string{`event.dataset:"sluice.dns"`, `event.dataset:"dnsmasq.query"`, `event.dataset:"unbound.query"`, `event.dataset:"bind.query"`,
		`process.name:"chrome.exe"`, `dns.response_code:NXDOMAIN`, `sluice.dns.score_band:("50-69" OR "70+")`, `_exists_:sluice.dns.blocklist`,
		`sluice.dns.unsanctioned_resolver:true`, `sluice.dns.new_domain:true`, `_exists_:source.bytes`} {
		if count(f) == 0 {
			t.Errorf("no DNS document matches %s", f)
		}
	}
	s := newTestStore(t, t.TempDir(), base.Add(3*time.Hour))
	feed(t, s, bt)
	q := console.Query{From: base, To: base.Add(time.Hour)}
	for _, c := range []struct {
		kind, metric string
		want         int
	}{{console.KindSyslog, console.MetricEvents, len(syslogDocs)}, {console.KindDNS, console.MetricQueries, len(dnsDocs)}} {
		q.Kind = c.kind
		top, err := s.Top(context.Background(), console.TopRequest{Query: q, Metric: c.metric, Dim: "event.dataset", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if top.Total != float64(c.want) {
			t.Errorf("%s: total %v, the documents are %d", c.kind, top.Total, c.want)
		}
	}
	if got, want := testutil.ToFloat64(s.m.events), float64(len(syslogDocs)+len(dnsDocs)); got != want {
		t.Errorf("sluice_rollup_events_total = %v, want %v (the resolver-log lines twice)", got, want)
	}
	if len(dnsDocs) != bt.Len()-2 {
		t.Errorf("%d DNS documents of %d events, want all but the two that are no DNS", len(dnsDocs), bt.Len())
	}
}

// TestDNSFilters: the page's panels filter on the segment fields of the
// DNS kind (response code, score band, verdict, source), alone or with
// the dimension grouped by; the answers equal counts over the documents.
func TestDNSFilters(t *testing.T) {
	g := setupGolden(t, t.TempDir())
	for _, c := range []struct{ dim, filter string }{
		{"source.ip", `dns.response_code:NXDOMAIN`},
		{"dns.question.name", `sluice.dns.score_band:("50-69" OR "70+")`},
		{"sluice.dns.reasons", `sluice.dns.score_band:("50-69" OR "70+")`},
		{"dns.question.name", `_exists_:sluice.dns.blocklist`},
		{"threat.enrichments.indicator.provider", `threat.enrichments.indicator.provider:*`},
		{"destination.ip", `sluice.dns.unsanctioned_resolver:true`},
		{"dns.question.registered_domain", `sluice.dns.new_domain:true`},
		{"event.dataset", `NOT dns.response_code:NOERROR`},
		{"dns.question.type", `event.dataset:"sluice.dns" AND dns.question.type:(A OR AAAA)`},
		{console.ScoreBandField, `sluice.dns.score_band:"0-29"`},
	} {
		for _, metric := range []string{console.MetricQueries, console.MetricBytes} {
			checkTop(t, g.s, g.dns, console.KindDNS, metric, c.dim, c.filter, base, base.Add(time.Hour))
			checkSeries(t, g.s, g.dns, console.KindDNS, metric, c.dim, c.filter, 5*time.Minute, base, base.Add(time.Hour))
		}
	}
	// Names carry the reasons of their score.
	top, err := g.s.Top(context.Background(), console.TopRequest{Query: console.Query{Kind: console.KindDNS, From: base, To: base.Add(time.Hour),
		Filter: `sluice.dns.score_band:("50-69" OR "70+")`}, Metric: console.MetricQueries, Dim: "dns.question.name", Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range top.Rows {
		if r.Key == "login.evil.example" && r.Labels["reasons"] != "blocklist new_domain" {
			t.Errorf("Top(suspicious names): %s has labels %v, want reasons: blocklist new_domain", r.Key, r.Labels)
		}
		if r.Labels["reasons"] == "" {
			t.Errorf("Top(suspicious names): %s has no reasons", r.Key)
		}
	}
	if len(top.Rows) < 5 {
		t.Errorf("Top(suspicious names): %d rows, want the 5 or more names scoring 50 or more", len(top.Rows))
	}
	// A field the segments do not hold is refused, with the fields
	// they do.
	_, err = g.s.Top(context.Background(), console.TopRequest{Query: console.Query{Kind: console.KindDNS, From: base, To: base.Add(time.Hour), Filter: "sluice.dns.score:>=50"},
		Metric: console.MetricQueries, Dim: "dns.question.name"})
	if err == nil || !strings.Contains(err.Error(), "sluice.dns.score_band") {
		t.Errorf("Top(dns, filter on sluice.dns.score) = %v, want a bad request naming sluice.dns.score_band", err)
	}
}

// TestOldFilesLoad: files written before the dns kind existed (only
// flows and syslog; testdata/two-kinds) load as they are, answer as the
// documents they came from say, and the store adds dns files beside them.
func TestOldFilesLoad(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "two-kinds")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".rlb") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s := newTestStore(t, dir, base.Add(3*time.Hour))
	if n := testutil.ToFloat64(s.m.badFiles); n != 0 {
		t.Fatalf("%v old files found bad", n)
	}
	fb := flowBatch(t)
	spread(fb, 0, 7)
	sb := syslogBatch(t)
	spread(sb, 3, 11)
	for _, c := range []struct {
		kind, metric string
		ds           []*query.JSONDoc
	}{{console.KindFlows, console.MetricBytes, docs(t, fb)}, {console.KindSyslog, console.MetricEvents, docs(t, sb)}} {
		for _, dim := range []string{"source.ip", "event.dataset", "destination.port"} {
			if !slices.Contains(dimsOf(c.kind), dim) {
				continue
			}
			checkTop(t, s, c.ds, c.kind, c.metric, dim, "", base, base.Add(time.Hour))
			checkTop(t, s, c.ds, c.kind, c.metric, dim, "", base.Add(2*time.Minute), base.Add(9*time.Minute))
		}
	}
	if from, to, err := s.Range(context.Background(), console.KindDNS); err != nil || !from.IsZero() || !to.IsZero() {
		t.Errorf("Range(dns) over old files = %v, %v, %v; want nothing", from, to, err)
	}
	feed(t, s, dnsBatch(t, 20, 5))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dns-1m-2026-12-07.rlb")); err != nil {
		t.Errorf("no dns file beside the old ones: %v", err)
	}
	s2 := newTestStore(t, dir, base.Add(3*time.Hour))
	if n := testutil.ToFloat64(s2.m.badFiles); n != 0 {
		t.Fatalf("%v files found bad after adding dns", n)
	}
	_, dd := splitDocs(t, dnsBatch(t, 20, 5))
	checkTop(t, s2, dd, console.KindDNS, console.MetricQueries, "dns.question.name", "", base, base.Add(time.Hour))
}

// TestEventsDNS: the Events view of kind dns reads the DNS capture's, the
// Beats' and the syslog files (written by the real file output) and
// returns every document with a question, once, page by page, and
// filtered.
func TestEventsDNS(t *testing.T) {
	dir := t.TempDir()
	fcfg := file.Default()
	fcfg.Dir = dir
	out, err := file.New(fcfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	dnsRef, err := event.RegisterIndex(cfg.DNSIndex)
	if err != nil {
		t.Fatal(err)
	}
	beatsRef, err := event.RegisterIndex(cfg.BeatsIndex)
	if err != nil {
		t.Fatal(err)
	}
	bt := dnsBatch(t, 0, 30)
	for i := range bt.All() {
		switch e := &bt.Events[i]; e.Kind {
		case event.KindDNS:
			e.Index = dnsRef
		case event.KindBeats:
			e.Index = beatsRef
		}
	}
	bt.EncodeJSON()
	_, dd := splitDocs(t, bt)
	if err := out.Write(context.Background(), bt); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"sluice-dns-2026.12.07.ndjson", "sluice-beats-2026.12.07.ndjson", "sluice-syslog-2026.12.07.ndjson"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("the file output wrote no %s: %v", p, err)
		}
	}
	cfg.Dir = filepath.Join(dir, "console")
	cfg.EventsDir = dir
	s, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	q := console.Query{Kind: console.KindDNS, From: base, To: base.Add(time.Hour)}
	for _, c := range []struct {
		filter string
		want   int
	}{{"", len(dd)}, {"dns.response_code:NXDOMAIN", 0}, {`process.name:"chrome.exe"`, 0}} {
		if c.filter != "" {
			m, err := query.ParseQueryString(c.filter, console.FilterOptions)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range dd {
				if m.Match(d) {
					c.want++
				}
			}
		}
		q.Filter = c.filter
		seen := map[string]bool{}
		before := ""
		for page := 0; page < 100; page++ {
			ev, err := s.Events(context.Background(), console.EventsRequest{Query: q, Limit: 7, Before: before})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ev.Docs {
				var x struct {
					DNS struct{ Question struct{ Name string } }
				}
				if err := json.Unmarshal(d, &x); err != nil || x.DNS.Question.Name == "" {
					t.Errorf("Events(dns, %q): a document without a question: %s", c.filter, d)
				}
				if seen[string(d)] {
					t.Errorf("Events(dns, %q): %s twice", c.filter, d)
				}
				seen[string(d)] = true
			}
			if before = ev.Next; before == "" {
				break
			}
		}
		if len(seen) != c.want || c.want == 0 {
			t.Errorf("Events(dns, %q): %d documents, want %d (and more than none)", c.filter, len(seen), c.want)
		}
	}
}
