package elasticsearch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/enrich/dnscheck"
	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/estest"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

// consoleData is a known set of documents indexed through the output over
// three days, with the lines as sluice encoded them.
type consoleData struct {
	c    *Console
	cfg  Config
	docs map[string][]storedDoc // by kind
	// from, to span every document.
	from, to time.Time
}

type storedDoc struct {
	line []byte
	doc  *query.JSONDoc
	ts   time.Time
}

// loadConsoleData indexes flow and syslog documents over three days
// through the output (syslog also into a parser's own index) and returns
// the console on them. The indices are deleted when t ends.
func loadConsoleData(t testing.TB, flowBatches, syslogBatches int) *consoleData {
	t.Helper()
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluicetest")
	dir := t.TempDir()
	cfg := Default()
	cfg.Addresses = []string{url}
	cfg.FlowsIndex = prefix + "-flows-%{+yyyy.MM.dd}"
	cfg.SyslogIndex = prefix + "-syslog-%{+yyyy.MM.dd}"
	cfg.SpoolDir = filepath.Join(dir, "spool")
	cfg.DeadLetterPath = filepath.Join(dir, "dead-letter.ndjson")
	cfg.Template.RefreshInterval = "1s"
	cfg.FlushInterval = 50 * time.Millisecond
	t.Cleanup(func() {
		estest.DeleteIndex(t, url, prefix+"-*")
		estest.Do(t, http.MethodDelete, url+"/_index_template/"+prefix+"-*", "")
		estest.Do(t, http.MethodDelete, url+"/_component_template/"+prefix+"-*", "")
	})
	fwIndex := prefix + "-fw-%{+yyyy.MM.dd}"
	// The DNS capture's and the Beats' indices, listed among the syslog
	// indices for their template as sluice run does.
	dnsIndex, beatsIndex := prefix+"-dns-%{+yyyy.MM.dd}", prefix+"-beats-%{+yyyy.MM.dd}"
	cfg.Template.SyslogIndices = []string{fwIndex, dnsIndex, beatsIndex}
	fwRef, err := event.RegisterIndex(fwIndex)
	if err != nil {
		t.Fatal(err)
	}
	dnsRef, err := event.RegisterIndex(dnsIndex)
	if err != nil {
		t.Fatal(err)
	}
	beatsRef, err := event.RegisterIndex(beatsIndex)
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := &consoleData{cfg: cfg, docs: map[string][]storedDoc{}}
	rng := rand.New(rand.NewPCG(14, 2026))
	base := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	d.from, d.to = base, base.Add(72*time.Hour)

	geos := []*event.Geo{
		{CountryISO: "SE", CountryName: "Sweden", ASN: 64500, ASOrg: "Example AB"},
		{CountryISO: "US", CountryName: "United States", ASN: 64501, ASOrg: "Example Inc"},
		{CountryISO: "DE", CountryName: "Germany", ASN: 64502, ASOrg: "Beispiel GmbH"},
		nil,
	}
	for _, g := range geos {
		if g != nil {
			g.Render()
		}
	}
	// Each address has one geo, so its labels are known.
	srcs := []string{"10.0.0.1", "10.0.0.2", "10.0.0.10", "10.1.2.3", "192.168.1.5", "192.168.1.6", "172.16.0.9", "2001:db8::1", "2001:db8::2", "198.51.100.7", "203.0.113.9"}
	dsts := []string{"93.184.216.34", "198.51.100.1", "203.0.113.50", "10.0.0.1", "2001:db8:1::5", "8.8.8.8", "1.1.1.1"}
	ports := []uint16{22, 53, 80, 443, 443, 443, 8080, 3389, 123}
	observers := []string{"192.0.2.1", "192.0.2.2"}
	pick := func(n int) int {
		// Skewed, so the largest values stand out.
		a, b := rng.IntN(n), rng.IntN(n)
		return min(a, b)
	}
	geoOf := func(ip string) *event.Geo {
		h := uint(0)
		for _, c := range ip {
			h = h*31 + uint(c)
		}
		return geos[h%uint(len(geos))]
	}
	ts := func() time.Time {
		t := base.Add(time.Duration(rng.Int64N(int64(72 * time.Hour)))).Truncate(time.Millisecond)
		if rng.IntN(10) == 0 {
			t = t.Truncate(time.Minute) // ties for the events' tiebreak
		}
		return t
	}
	indexed := 0
	keep := func(kind string, b *event.Batch) {
		b.EncodeJSON()
		for i := range b.Len() {
			line, _ := b.JSONLine(i)
			line = slices.Clone(line[:len(line)-1])
			doc, err := query.NewJSONDoc(line)
			if err != nil {
				t.Fatal(err)
			}
			sd := storedDoc{line: line, doc: doc, ts: b.All()[i].Timestamp}
			indexed++
			// DNS: a resolver-log line is syslog and dns; a capture or
			// a Beat's DNS document dns only; a Beat's other document
			// neither.
			switch {
			case kind != console.KindDNS:
				d.docs[kind] = append(d.docs[kind], sd)
			case b.All()[i].Kind == event.KindSyslog:
				d.docs[console.KindSyslog] = append(d.docs[console.KindSyslog], sd)
			}
			if kind == console.KindDNS && len(doc.Values("dns.question.name", nil)) > 0 {
				d.docs[console.KindDNS] = append(d.docs[console.KindDNS], sd)
			}
		}
		if err := o.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		b.Release()
	}

	for range flowBatches {
		b := event.NewBatch()
		for range 150 {
			e := b.Add()
			e.Kind = event.KindFlow
			e.Timestamp = ts()
			e.Created = e.Timestamp.Add(time.Second)
			e.Observer = netip.MustParseAddr(observers[pick(len(observers))])
			src, dst := srcs[pick(len(srcs))], dsts[pick(len(dsts))]
			e.Src = event.Endpoint{IP: netip.MustParseAddr(src), Port: uint16(1024 + rng.IntN(60000)), Geo: geoOf(src)}
			e.Dst = event.Endpoint{IP: netip.MustParseAddr(dst), Port: ports[pick(len(ports))], Geo: geoOf(dst)}
			proto := []uint8{6, 17, 1}[pick(3)]
			e.Flow = event.Flow{Protocol: proto, HasProtocol: true, Bytes: uint64(40 + rng.IntN(100000)), Packets: uint64(1 + rng.IntN(100)), Version: 10}
			e.Direction = []event.Direction{event.DirectionOutbound, event.DirectionInbound, event.DirectionInternal, event.DirectionUnknown}[pick(4)]
			e.AddUint("ingress_interface", uint64(1+pick(4)))
			e.AddUint("egress_interface", uint64(1+pick(3)))
		}
		keep(console.KindFlows, b)
	}

	hosts := []string{"web-1", "web-2", "fw-edge", "db-1", "mail"}
	apps := []string{"nginx", "sshd", "kernel", "postfix", "asm"}
	actions := []string{"allow", "deny", "deny", "drop"}
	attacks := []string{"SQL-Injection", "Cross Site Scripting (XSS)", "Path Traversal"}
	paths := []string{"/", "/admin", "/login", "/wp-login.php", "/api/v1/items"}
	words := []string{"failed password for root", "connection accepted", "blocked request", "hello world", "disk failed"}
	for range syslogBatches {
		b := event.NewBatch()
		for range 150 {
			e := b.Add()
			e.Kind = event.KindSyslog
			e.Timestamp = ts()
			e.Created = e.Timestamp.Add(time.Second)
			e.Observer = netip.MustParseAddr(observers[pick(len(observers))])
			sev := pick(8)
			e.Syslog = event.Syslog{Priority: uint8(8*[]int{1, 4, 10}[pick(3)] + sev), HasPriority: true,
				Hostname: hosts[pick(len(hosts))], AppName: apps[pick(len(apps))], Message: words[pick(len(words))]}
			if rng.IntN(7) == 0 {
				e.Tags |= event.TagGrokFailure
			}
			switch rng.IntN(3) {
			case 0: // firewall
				e.Index = fwRef
				e.Syslog.Dataset = "meraki.flows"
				src, dst := srcs[pick(len(srcs))], dsts[pick(len(dsts))]
				e.Src = event.Endpoint{IP: netip.MustParseAddr(src), Port: uint16(1024 + rng.IntN(60000)), Geo: geoOf(src)}
				e.Dst = event.Endpoint{IP: netip.MustParseAddr(dst), Port: ports[pick(len(ports))], Geo: geoOf(dst)}
				e.Flow = event.Flow{Protocol: []uint8{6, 17}[pick(2)], HasProtocol: true}
				e.Direction = []event.Direction{event.DirectionInbound, event.DirectionOutbound}[pick(2)]
				a := actions[pick(len(actions))]
				e.AddParsed(event.Field{Key: "event.action", Type: event.FieldString, S: a})
				outcome := "success"
				if a != "allow" {
					outcome = "failure"
				}
				e.AddParsed(event.Field{Key: "event.outcome", Type: event.FieldString, S: outcome})
			case 1: // WAF
				e.Syslog.Dataset = "f5.asm"
				src := srcs[pick(len(srcs))]
				e.Src = event.Endpoint{IP: netip.MustParseAddr(src), Geo: geoOf(src)}
				e.AddParsed(event.Field{Key: "f5.asm.attack_type", Type: event.FieldString, S: attacks[pick(len(attacks))]})
				e.AddParsed(event.Field{Key: "f5.asm.violation_rating", Type: event.FieldUint, U: uint64(1 + pick(5))})
				e.AddParsed(event.Field{Key: "f5.asm.request_status", Type: event.FieldString, S: []string{"blocked", "alerted", "passed"}[pick(3)]})
				e.AddParsed(event.Field{Key: "f5.asm.sig_names", Type: event.FieldString, S: fmt.Sprintf("sig-%d", pick(12))})
				e.AddParsed(event.Field{Key: "url.path", Type: event.FieldString, S: paths[pick(len(paths))]})
			}
		}
		keep(console.KindSyslog, b)
	}
	// DNS events of the three sources. Score, reasons and blocklist hit
	// belong to the registered domain (so a name's reasons label is one).
	type dnsDomain struct {
		names         []string
		rd            string
		score         uint64
		reasons, list string
	}
	domains := []dnsDomain{
		{[]string{"www.example.com", "mail.example.com"}, "example.com", 0, "", ""},
		{[]string{"example.org"}, "example.org", 10, "new_domain", ""},
		{[]string{"cdn.example.net", "img.example.net"}, "example.net", 35, "unsanctioned_resolver", ""},
		{[]string{"xkqjzvbwplmnr.com"}, "xkqjzvbwplmnr.com", 55, "dga high_entropy", ""},
		{[]string{"login.evil.example"}, "evil.example", 80, "blocklist", "testlist"},
	}
	resolvers := []string{"192.0.2.53", "192.0.2.53", "8.8.8.8"}
	for range 2 {
		b := event.NewBatch()
		for i := range 150 {
			e := b.Add()
			e.Timestamp = ts()
			e.Created = e.Timestamp.Add(time.Second)
			dom := domains[pick(len(domains))]
			name := dom.names[pick(len(dom.names))]
			src, dst := srcs[pick(len(srcs))], resolvers[pick(len(resolvers))]
			str := func(k, v string) { e.AddParsed(event.Field{Key: k, Type: event.FieldString, S: v}) }
			switch i % 5 {
			case 0, 1: // capture
				e.Kind = event.KindDNS
				e.Index = dnsRef
				e.Syslog.Dataset = "sluice.dns"
				e.Src = event.Endpoint{IP: netip.MustParseAddr(src), Port: uint16(1024 + rng.IntN(60000)), Bytes: uint64(30 + rng.IntN(40)), Geo: geoOf(src)}
				e.Dst = event.Endpoint{IP: netip.MustParseAddr(dst), Port: 53, Bytes: uint64(60 + rng.IntN(400))}
				e.AddParsed(event.Field{Key: "network.bytes", Type: event.FieldUint, U: e.Src.Bytes + e.Dst.Bytes})
			case 2: // a resolver's query log
				e.Kind = event.KindSyslog
				e.Syslog = event.Syslog{Priority: 30, HasPriority: true, Hostname: "pihole", AppName: "dnsmasq", Message: "query[A] " + name + " from " + src, Dataset: "dnsmasq.query"}
				e.Src = event.Endpoint{IP: netip.MustParseAddr(src), Geo: geoOf(src)}
			case 3: // Sysmon event 22
				e.Kind = event.KindBeats
				e.Index = beatsRef
				e.Syslog.Dataset = "windows.sysmon_operational"
				str("process.name", []string{"chrome.exe", "svchost.exe", "curl.exe"}[pick(3)])
			case 4: // a Beat's document that is no DNS
				e.Kind = event.KindBeats
				e.Index = beatsRef
				e.Syslog.Dataset = "system.auth"
				str("process.name", "sshd")
				continue
			}
			str("dns.question.name", name)
			str("dns.question.registered_domain", dom.rd)
			str("dns.question.type", []string{"A", "AAAA", "HTTPS", "TXT"}[pick(4)])
			str("dns.response_code", []string{"NOERROR", "NOERROR", "NXDOMAIN", "SERVFAIL"}[pick(4)])
			if dst == "8.8.8.8" && e.Kind == event.KindDNS {
				e.AddParsed(event.Field{Key: "sluice.dns.unsanctioned_resolver", Type: event.FieldBool, U: 1})
			}
			if rng.IntN(4) == 0 {
				e.AddParsed(event.Field{Key: "sluice.dns.new_domain", Type: event.FieldBool, U: 1})
			}
			if dom.list != "" {
				str("sluice.dns.blocklist", dom.list)
				str("threat.enrichments.indicator.provider", dom.list)
			}
			e.AddParsed(event.Field{Key: "sluice.dns.score", Type: event.FieldUint, U: dom.score})
			str("sluice.dns.score_band", dnscheck.ScoreBand(int(dom.score)))
			if dom.reasons != "" {
				str("sluice.dns.reasons", dom.reasons)
			}
		}
		keep(console.KindDNS, b)
	}
	for deadline := time.Now().Add(2 * time.Minute); o.Pending() > 0; time.Sleep(50 * time.Millisecond) {
		if err := o.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d documents not delivered after 2m", o.Pending())
		}
	}
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
	estest.Refresh(t, url, prefix+"-*")
	if n := estest.Count(t, url, prefix+"-*"); n != indexed {
		t.Fatalf("the indices hold %d documents, want %d", n, indexed)
	}
	cc := DefaultConsoleConfig()
	cc.DNSIndices = []string{dnsIndex, beatsIndex}
	c, err := o.Console(cc)
	if err != nil {
		t.Fatal(err)
	}
	d.c = c
	return d
}

// match returns the documents of kind in [from, to) that filter matches,
// as internal/query (and so the rollups) decides.
func (d *consoleData) match(t *testing.T, kind string, from, to time.Time, filter string) []storedDoc {
	t.Helper()
	m, err := query.ParseQueryString(filter, query.Options{DefaultOperator: DefaultConsoleConfig().DefaultOperator})
	if err != nil {
		t.Fatalf("ParseQueryString(%q): %v", filter, err)
	}
	var out []storedDoc
	for _, sd := range d.docs[kind] {
		if !sd.ts.Before(from) && sd.ts.Before(to) && m.Match(sd.doc) {
			out = append(out, sd)
		}
	}
	return out
}

// metricOfDoc is a document's contribution to metric.
func metricOfDoc(sd storedDoc, metric string) float64 {
	var field string
	switch metric {
	case console.MetricBytes:
		field = "network.bytes"
	case console.MetricPackets:
		field = "network.packets"
	default:
		return 1
	}
	v := sd.doc.Values(field, nil)
	if len(v) == 0 {
		return 0
	}
	return v[0].Num
}

// keysOf returns a document's values of field as the console shows them.
func keysOf(sd storedDoc, field string) []string {
	var out []string
	for _, v := range sd.doc.Values(field, nil) {
		out = append(out, v.String())
	}
	return out
}

// checkTop checks that rows are a valid top-limit of want (value per key):
// values equal, non-increasing, and no value left out is larger than the
// smallest kept (ties may fall either way).
func checkTop(t *testing.T, name string, keys []string, values []float64, want map[string]float64, limit int) {
	t.Helper()
	if wl := min(limit, len(want)); len(keys) != wl {
		t.Errorf("%s: %d keys %v, want %d (of %v)", name, len(keys), keys, wl, want)
		return
	}
	seen := map[string]bool{}
	for i, k := range keys {
		w, ok := want[k]
		if !ok || w != values[i] {
			t.Errorf("%s: key %q = %v, want %v (present %v)", name, k, values[i], w, ok)
		}
		if i > 0 && values[i] > values[i-1] {
			t.Errorf("%s: key %q (%v) after %q (%v): not largest first", name, k, values[i], keys[i-1], values[i-1])
		}
		seen[k] = true
	}
	if len(keys) == 0 {
		return
	}
	least := values[len(values)-1]
	for k, v := range want {
		if !seen[k] && v > least {
			t.Errorf("%s: key %q (%v) left out though larger than the smallest kept (%v)", name, k, v, least)
		}
	}
}

type consoleFilterCase struct {
	kind, filter string
}

var consoleFilters = []consoleFilterCase{
	{console.KindFlows, ""},
	{console.KindFlows, "destination.port:443"},
	{console.KindFlows, "network.transport:udp OR destination.port:22"},
	{console.KindFlows, "NOT network.direction:outbound"},
	{console.KindFlows, "destination.port:[1 TO 1023]"},
	{console.KindFlows, "destination.port:>=1024"},
	{console.KindFlows, `source.ip:"10.0.0.0/8"`},
	{console.KindFlows, `source.ip:10.0.0.0/8 AND NOT destination.ip:"10.0.0.0/8"`},
	{console.KindFlows, `source.ip:"2001:db8::/32"`},
	{console.KindFlows, `(destination.port:80 OR destination.port:443) AND source.as.number:64500`},
	{console.KindFlows, `source.geo.country_iso_code:S* network.transport:tcp`},
	{console.KindFlows, `destination.port:443 network.transport:tcp OR network.transport:icmp`},
	{console.KindFlows, `_exists_:network.direction`},
	{console.KindFlows, `udp`},
	{console.KindFlows, `443 AND NOT 10.0.0.1`},
	{console.KindSyslog, ""},
	{console.KindSyslog, "host.hostname:web-*"},
	{console.KindSyslog, "event.action:deny AND NOT destination.port:22"},
	{console.KindSyslog, "event.action:(deny OR drop) AND source.ip:192.168.0.0/16"},
	{console.KindSyslog, "message:failed"},
	{console.KindSyslog, `message:"failed password"`},
	{console.KindSyslog, "failed"},
	{console.KindSyslog, "f5.asm.violation_rating:>=3 AND url.path:\\/admin"},
	{console.KindSyslog, `tags:_grokparsefailure`},
	{console.KindSyslog, `log.syslog.severity.name:(error OR critical)`},
	{console.KindSyslog, `event.dataset:meraki.flows`},
	{console.KindDNS, ""},
	{console.KindDNS, `dns.response_code:NXDOMAIN`},
	{console.KindDNS, `sluice.dns.score_band:("50-69" OR "70+")`},
	{console.KindDNS, `_exists_:sluice.dns.blocklist`},
	{console.KindDNS, `sluice.dns.unsanctioned_resolver:true`},
	{console.KindDNS, `sluice.dns.new_domain:true AND event.dataset:"sluice.dns"`},
}

func TestConsole(t *testing.T) {
	d := loadConsoleData(t, 6, 4)
	ctx := context.Background()
	for _, kind := range console.Kinds {
		if len(d.docs[kind]) == 0 {
			t.Fatalf("no %s documents", kind)
		}
	}

	// Every filter selects some documents and, but for the empty one, not
	// all: the checks below could tell a filter that was ignored.
	for _, fc := range consoleFilters {
		n, all := len(d.match(t, fc.kind, d.from, d.to, fc.filter)), len(d.docs[fc.kind])
		if n == 0 || (fc.filter != "" && n == all) {
			t.Errorf("filter %q selects %d of %d %s documents", fc.filter, n, all, fc.kind)
		}
	}

	t.Run("Range", func(t *testing.T) {
		for _, kind := range console.Kinds {
			from, to, err := d.c.Range(ctx, kind)
			if err != nil {
				t.Fatalf("Range(%s): %v", kind, err)
			}
			lo := slices.MinFunc(d.docs[kind], func(a, b storedDoc) int { return a.ts.Compare(b.ts) }).ts
			hi := slices.MaxFunc(d.docs[kind], func(a, b storedDoc) int { return a.ts.Compare(b.ts) }).ts
			if !from.Equal(lo) || !to.Equal(hi.Add(time.Millisecond)) {
				t.Errorf("Range(%s) = %s, %s; want %s, %s", kind, from, to, lo, hi.Add(time.Millisecond))
			}
		}
	})

	t.Run("Top", func(t *testing.T) {
		for _, fc := range consoleFilters {
			metrics := []string{console.MetricEvents}
			switch fc.kind {
			case console.KindFlows:
				metrics = []string{console.MetricBytes, console.MetricPackets, console.MetricFlows}
			case console.KindDNS:
				metrics = []string{console.MetricQueries, console.MetricBytes}
			}
			// A range inside the data: the first and last days are cut.
			from, to := d.from.Add(7*time.Hour+13*time.Minute), d.to.Add(-5*time.Hour)
			docs := d.match(t, fc.kind, from, to, fc.filter)
			for di, dim := range console.Dimensions {
				if !slices.Contains(dim.Kinds, fc.kind) {
					continue
				}
				for mi, metric := range metrics {
					// Every metric without a filter; with one, one metric
					// per dimension in turn (the test stays under a minute).
					if fc.filter != "" && mi != di%len(metrics) {
						continue
					}
					want := map[string]float64{}
					total := 0.0
					for _, sd := range docs {
						v := metricOfDoc(sd, metric)
						total += v
						for _, k := range keysOf(sd, dim.Field) {
							want[k] += v
						}
					}
					name := fmt.Sprintf("Top(%s, %q, %s, %s)", fc.kind, fc.filter, dim.Field, metric)
					limit := 5
					got, err := d.c.Top(ctx, console.TopRequest{Query: console.Query{Kind: fc.kind, From: from, To: to, Filter: fc.filter},
						Metric: metric, Dim: dim.Field, Limit: limit})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if got.Total != total {
						t.Errorf("%s: Total = %v, want %v", name, got.Total, total)
					}
					var keys []string
					var vals []float64
					sum := 0.0
					for _, r := range got.Rows {
						keys, vals = append(keys, r.Key), append(vals, r.Value)
						sum += r.Value
					}
					checkTop(t, name, keys, vals, want, limit)
					if wo := max(total-sum, 0); got.Other != wo {
						t.Errorf("%s: Other = %v, want %v", name, got.Other, wo)
					}
					if got.Approx {
						t.Errorf("%s: Approx on a node with one shard per index", name)
					}
					if labels := labelsOf(dim.Field); labels != nil {
						checkLabels(t, name, got.Rows, docs, dim.Field, labels)
					}
				}
			}
		}
	})

	t.Run("Series", func(t *testing.T) {
		for _, fc := range consoleFilters {
			metric := console.MetricEvents
			switch fc.kind {
			case console.KindFlows:
				metric = console.MetricBytes
			case console.KindDNS:
				metric = console.MetricQueries
			}
			from, to := d.from.Add(7*time.Hour+13*time.Minute), d.to.Add(-5*time.Hour)
			docs := d.match(t, fc.kind, from, to, fc.filter)
			bys := []string{"", "destination.port", "source.ip", "observer.ip", "event.action", "host.hostname", "tags"}
			if fc.filter == "" {
				bys = bys[:1]
				for _, d := range console.Dimensions {
					bys = append(bys, d.Field)
				}
			}
			for _, by := range bys {
				if dim, ok := console.DimensionOf(by); by != "" && (!ok || !slices.Contains(dim.Kinds, fc.kind)) {
					continue
				}
				// 0: picked; 7m does not divide a day (the offset).
				for _, step := range []time.Duration{0, 3 * time.Hour, 7 * time.Minute} {
					name := fmt.Sprintf("Series(%s, %q, by %q, step %s)", fc.kind, fc.filter, by, step)
					got, err := d.c.Series(ctx, console.SeriesRequest{Query: console.Query{Kind: fc.kind, From: from, To: to, Filter: fc.filter},
						Metric: metric, By: by, Limit: 3, Step: step})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					checkSeries(t, name, got, docs, from, to, metric, by, step, 3)
				}
			}
		}
	})

	t.Run("Events", func(t *testing.T) {
		for _, fc := range consoleFilters {
			from, to := d.from.Add(30*time.Hour), d.to.Add(-20*time.Hour) // about a day
			want := d.match(t, fc.kind, from, to, fc.filter)
			slices.SortStableFunc(want, func(a, b storedDoc) int { return b.ts.Compare(a.ts) })
			name := fmt.Sprintf("Events(%s, %q)", fc.kind, fc.filter)
			var got []json.RawMessage
			before := ""
			for page := 0; ; page++ {
				if page > len(want)/7+2 {
					t.Fatalf("%s: more pages than documents", name)
				}
				ev, err := d.c.Events(ctx, console.EventsRequest{Query: console.Query{Kind: fc.kind, From: from, To: to, Filter: fc.filter},
					Limit: 7, Before: before})
				if err != nil {
					t.Fatalf("%s page %d: %v", name, page, err)
				}
				if ev.Next != "" && len(ev.Docs) != 7 {
					t.Errorf("%s page %d: %d documents with a next page, want 7", name, page, len(ev.Docs))
				}
				got = append(got, ev.Docs...)
				if ev.Next == "" {
					break
				}
				before = ev.Next
			}
			checkEvents(t, name, got, want)
		}
	})
}

// checkLabels checks each row's labels against the documents: country and
// AS of an address, organisation of an AS number.
func checkLabels(t *testing.T, name string, rows []console.TopRow, docs []storedDoc, dim string, labels map[string]string) {
	t.Helper()
	for _, r := range rows {
		want := map[string]string{}
		for _, sd := range docs {
			if !slices.Contains(keysOf(sd, dim), r.Key) {
				continue
			}
			for l, f := range labels {
				if v := keysOf(sd, f); len(v) > 0 {
					want[l] = v[0]
				}
			}
		}
		if len(want) == 0 {
			want = nil
		}
		if diff := gocmp.Diff(r.Labels, want); diff != "" {
			t.Errorf("%s: labels of %s (-got +want):\n%s", name, r.Key, diff)
		}
	}
}

func checkSeries(t *testing.T, name string, got console.Series, docs []storedDoc, from, to time.Time, metric, by string, step time.Duration, limit int) {
	t.Helper()
	if step == 0 {
		step = PickStep(from, to)
		if n := to.Sub(from) / step; n < 60 || n > 300 {
			t.Errorf("%s: %d buckets from the picked step %s", name, n, step)
		}
	}
	start := alignStart(from, step)
	n := int((to.Sub(start) + step - 1) / step)
	if got.Step != step || !got.Start.Equal(start) || len(got.Total) != n {
		t.Fatalf("%s: Start %s Step %s buckets %d, want %s %s %d", name, got.Start, got.Step, len(got.Total), start, step, n)
	}
	total := make([]float64, n)
	per := map[string][]float64{}
	overall := map[string]float64{}
	for _, sd := range docs {
		j := int(sd.ts.Sub(start) / step)
		v := metricOfDoc(sd, metric)
		total[j] += v
		if by == "" {
			continue
		}
		for _, k := range keysOf(sd, by) {
			if per[k] == nil {
				per[k] = make([]float64, n)
			}
			per[k][j] += v
			overall[k] += v
		}
	}
	if diff := gocmp.Diff(got.Total, total); diff != "" {
		t.Errorf("%s: Total (-got +want):\n%s", name, diff)
	}
	if by == "" {
		if got.Keys != nil || got.Other != nil {
			t.Errorf("%s: keys %v and other %v without By", name, got.Keys, got.Other)
		}
		return
	}
	if len(got.Values) != len(got.Keys) {
		t.Fatalf("%s: %d keys, %d series", name, len(got.Keys), len(got.Values))
	}
	var sums []float64
	for i, k := range got.Keys {
		s := 0.0
		for _, v := range got.Values[i] {
			s += v
		}
		sums = append(sums, s)
		if diff := gocmp.Diff(got.Values[i], per[k]); diff != "" {
			t.Errorf("%s: series of %q (-got +want):\n%s", name, k, diff)
		}
	}
	checkTop(t, name, got.Keys, sums, overall, limit)
	for j := range n {
		o := total[j]
		for _, k := range got.Keys {
			o -= per[k][j]
		}
		if got.Other[j] != max(o, 0) {
			t.Errorf("%s: Other[%d] = %v, want %v", name, j, got.Other[j], max(o, 0))
		}
	}
}

func checkEvents(t *testing.T, name string, got []json.RawMessage, want []storedDoc) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d documents, want %d", name, len(got), len(want))
	}
	norm := func(b []byte) string {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v in %s", name, err, b)
		}
		delete(m, "_index")
		delete(m, "_id")
		out, _ := json.Marshal(m)
		return string(out)
	}
	var gotDocs, wantDocs []string
	var last time.Time
	for i, g := range got {
		var meta struct {
			Index string    `json:"_index"`
			ID    string    `json:"_id"`
			TS    time.Time `json:"@timestamp"`
		}
		if err := json.Unmarshal(g, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Index == "" || meta.ID == "" || !strings.HasPrefix(string(g), `{"_index":`) {
			t.Errorf("%s: document %d without _index and _id first: %.100s", name, i, g)
		}
		if i > 0 && meta.TS.After(last) {
			t.Errorf("%s: document %d at %s after one at %s: not newest first", name, i, meta.TS, last)
		}
		last = meta.TS
		gotDocs = append(gotDocs, norm(g))
	}
	for _, w := range want {
		wantDocs = append(wantDocs, norm(w.line))
	}
	slices.Sort(gotDocs)
	slices.Sort(wantDocs)
	if diff := gocmp.Diff(gotDocs, wantDocs); diff != "" {
		t.Errorf("%s: documents (-got +want):\n%s", name, diff)
	}
}

// TestConsoleErrors checks the errors the console API maps to 400 and 504.
func TestConsoleErrors(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	c, err := NewConsole(f.cfg, nil, DefaultConsoleConfig())
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	// One document in the range, so the query reaches a shard.
	if st, body := estest.Do(t, "PUT", url+"/"+f.index(from), `{"mappings":{"properties":{"@timestamp":{"type":"date"},"host":{"properties":{"hostname":{"type":"keyword"}}}}}}`); st != 200 {
		t.Fatalf("create index: %d %s", st, body)
	}
	if st, body := estest.Do(t, "POST", url+"/"+f.index(from)+"/_doc?refresh=true", `{"@timestamp":"2026-11-24T00:10:00Z","host":{"hostname":"web-1"}}`); st != 201 {
		t.Fatalf("index a document: %d %s", st, body)
	}
	q := console.Query{Kind: console.KindFlows, From: from, To: from.Add(time.Hour)}
	ctx := context.Background()
	bad := []struct {
		name string
		call func() error
		want string
	}{
		{"syntax", func() error {
			q := q
			q.Filter = "destination.port:(443"
			_, err := c.Top(ctx, console.TopRequest{Query: q, Metric: "bytes", Dim: "destination.port"})
			return err
		}, "filter: query_string: at "},
		{"kind", func() error {
			q := q
			q.Kind = "alerts"
			_, err := c.Events(ctx, console.EventsRequest{Query: q})
			return err
		}, `kind "alerts"`},
		{"range", func() error {
			q := q
			q.To = q.From
			_, err := c.Series(ctx, console.SeriesRequest{Query: q, Metric: "bytes"})
			return err
		}, "is not before to"},
		{"metric", func() error {
			_, err := c.Series(ctx, console.SeriesRequest{Query: q, Metric: "events"})
			return err
		}, `metric "events"`},
		{"dimension", func() error {
			_, err := c.Top(ctx, console.TopRequest{Query: q, Metric: "bytes", Dim: "url.path"})
			return err
		}, `dim "url.path" is not a dimension of flows`},
		{"step", func() error {
			_, err := c.Series(ctx, console.SeriesRequest{Query: q, Metric: "bytes", Step: 90 * time.Second})
			return err
		}, "whole number of minutes"},
		{"buckets", func() error {
			q := q
			q.To = q.From.Add(30 * 24 * time.Hour)
			_, err := c.Series(ctx, console.SeriesRequest{Query: q, Metric: "bytes", Step: time.Minute})
			return err
		}, "buckets"},
		{"buckets of all series", func() error {
			q := q
			q.To = q.From.Add(7 * 24 * time.Hour)
			_, err := c.Series(ctx, console.SeriesRequest{Query: q, Metric: "bytes", Step: 5 * time.Minute, By: "source.ip", Limit: 50})
			return err
		}, "in all"},
		{"limit", func() error {
			_, err := c.Top(ctx, console.TopRequest{Query: q, Metric: "bytes", Dim: "source.ip", Limit: 101})
			return err
		}, "limit 101 is out of range; use 1..100"},
		{"cursor", func() error {
			_, err := c.Events(ctx, console.EventsRequest{Query: q, Before: "bm90IGEgY3Vyc29y"})
			return err
		}, "before: not a cursor"},
		{"elasticsearch refuses", func() error {
			// internal/query takes any regexp; Elasticsearch refuses
			// those over index.max_regex_length (1000).
			q := q
			q.Filter = "host.hostname:/" + strings.Repeat("a", 1001) + "/"
			_, err := c.Top(ctx, console.TopRequest{Query: q, Metric: "flows", Dim: "destination.port"})
			return err
		}, "elasticsearch refused the query"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, console.ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadRequest with %q", err, tc.want)
			}
		})
	}
}

// TestConsoleTimeout checks that a query the cluster cannot answer in time
// is ErrTimeout with a message saying to narrow it: a context whose
// deadline passes while the request is sent.
func TestConsoleTimeout(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	c, err := NewConsole(f.cfg, nil, ConsoleConfig{Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	q := console.Query{Kind: console.KindFlows, From: from, To: from.Add(time.Hour)}
	_, err = c.Top(context.Background(), console.TopRequest{Query: q, Metric: "bytes", Dim: "source.ip"})
	if !errors.Is(err, console.ErrTimeout) || !strings.Contains(err.Error(), "narrow the time range or the filter") {
		t.Errorf("Top with a 1ns timeout: %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	c2, err := NewConsole(f.cfg, nil, DefaultConsoleConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Events(ctx, console.EventsRequest{Query: q}); !errors.Is(err, console.ErrTimeout) {
		t.Errorf("Events after the deadline: %v, want ErrTimeout", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c2.Events(ctx, console.EventsRequest{Query: q}); !errors.Is(err, context.Canceled) || errors.Is(err, console.ErrTimeout) {
		t.Errorf("Events with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestConsoleIndices(t *testing.T) {
	cfg := Default()
	// sluice run lists the DNS capture's and the Beats' indices among the
	// syslog indices (for their template) and as the DNS indices.
	cfg.Template.SyslogIndices = []string{"sluice-meraki-%{+yyyy.MM.dd}", "sluice-syslog-%{+yyyy.MM.dd}", "sluice-dns-%{+yyyy.MM.dd}", "sluice-beats-%{+yyyy.MM.dd}"}
	cc := DefaultConsoleConfig()
	cc.DNSIndices = []string{"sluice-dns-%{+yyyy.MM.dd}", "sluice-beats-%{+yyyy.MM.dd}", ""}
	c, err := NewConsole(cfg, nil, cc)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind     string
		from, to time.Time
		want     string
	}{
		{console.KindFlows, day.Add(time.Hour), day.Add(2 * time.Hour), "sluice-flows-2026.11.24"},
		{console.KindFlows, day.Add(-time.Minute), day.Add(24 * time.Hour), "sluice-flows-2026.11.23,sluice-flows-2026.11.24"},
		{console.KindSyslog, day, day.Add(25 * time.Hour), "sluice-meraki-2026.11.24,sluice-syslog-2026.11.24,sluice-meraki-2026.11.25,sluice-syslog-2026.11.25"},
		{console.KindFlows, day, day.Add(3 * 24 * time.Hour), "sluice-flows-2026.11.24,sluice-flows-2026.11.25,sluice-flows-2026.11.26"},
		{console.KindFlows, day, day.Add(60 * 24 * time.Hour), "sluice-flows-*"},
		{console.KindSyslog, day, day.Add(30 * 24 * time.Hour), "sluice-meraki-*,sluice-syslog-*"},
		{console.KindFlows, time.Time{}, time.Time{}, "sluice-flows-*"},
		{console.KindDNS, day.Add(time.Hour), day.Add(2 * time.Hour), "sluice-beats-2026.11.24,sluice-dns-2026.11.24,sluice-meraki-2026.11.24,sluice-syslog-2026.11.24"},
		{console.KindDNS, time.Time{}, time.Time{}, "sluice-beats-*,sluice-dns-*,sluice-meraki-*,sluice-syslog-*"},
		{console.KindSyslog, time.Time{}, time.Time{}, "sluice-meraki-*,sluice-syslog-*"},
	} {
		if got := c.kinds[tc.kind].indices(tc.from, tc.to); got != tc.want {
			t.Errorf("indices(%s, %s, %s) = %s, want %s", tc.kind, tc.from, tc.to, got, tc.want)
		}
	}
}

func TestConsoleIndicesTimezone(t *testing.T) {
	cfg := Default()
	cfg.Timezone = "Asia/Kolkata" // +05:30: days start at 18:30 UTC
	cfg.FlowsIndex = "sluice-flows-%{+yyyy.MM.dd.HH}"
	c, err := NewConsole(cfg, nil, DefaultConsoleConfig())
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 24, 18, 20, 0, 0, time.UTC) // 23:50 local
	for _, tc := range []struct {
		to   time.Time
		want string
	}{
		{from.Add(5 * time.Minute), "sluice-flows-2026.11.24.23"},
		{from.Add(20 * time.Minute), "sluice-flows-2026.11.24.23,sluice-flows-2026.11.25.00"},
		{from.Add(time.Hour + 20*time.Minute), "sluice-flows-2026.11.24.23,sluice-flows-2026.11.25.00,sluice-flows-2026.11.25.01"},
	} {
		if got := c.kinds[console.KindFlows].indices(from, tc.to); got != tc.want {
			t.Errorf("indices(%s, %s) = %s, want %s", from, tc.to, got, tc.want)
		}
	}
}

func TestPickStep(t *testing.T) {
	base := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour} {
		s := PickStep(base, base.Add(d))
		n := int(cmp.Or(d/s, 1))
		if s < time.Minute || s%time.Minute != 0 || n > 300 || (d >= time.Hour && n < 60) {
			t.Errorf("PickStep(%s) = %s: %d buckets", d, s, n)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{Millis: 1795485600123, Index: "sluice-flows-2026.11.24", Doc: 42}
	got, err := DecodeCursor(c.Encode())
	if err != nil || got != c {
		t.Fatalf("DecodeCursor(Encode(%v)) = %v, %v", c, got, err)
	}
	for _, s := range []string{"", "!!", "W10", "WzEsMiwzXQ", strings.Repeat("A", 600)} {
		if _, err := DecodeCursor(s); err == nil {
			t.Errorf("DecodeCursor(%q) accepted", s)
		}
	}
}

// TestConsoleClusterFaults checks answers a real node gives only under
// load or with broken indices: timed_out (a shard-level timeout a test
// cannot make the node hit reliably on small data; its clock for timeouts
// ticks every 200ms), failed shards in a 200 answer, a 504 and a 503. An
// in-process fake stands in for the cluster here, and only here.
func TestConsoleClusterFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		timeout bool
		want    string
	}{
		{"timed out", 200, `{"timed_out":true,"_shards":{"total":1,"successful":1,"failed":0},"hits":{"hits":[]},"aggregations":{}}`, true, "narrow the time range or the filter"},
		{"gateway timeout", 504, `{"error":{"type":"timeout","reason":"slow"}}`, true, "narrow the time range or the filter"},
		{"shard failed", 200, `{"timed_out":false,"_shards":{"total":2,"successful":1,"failed":1,"failures":[{"index":"sluice-flows-2026.11.24","reason":{"type":"illegal_argument_exception","reason":"broken"}}]},"hits":{"hits":[]},"aggregations":{}}`, false, "1 shards failed: sluice-flows-2026.11.24: illegal_argument_exception: broken"},
		{"unavailable", 503, `{"error":{"type":"no_shard_available_action_exception","reason":"No shard available"}}`, false, "503 Service Unavailable: no_shard_available_action_exception: No shard available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			cfg := Default()
			cfg.Addresses = []string{srv.URL}
			c, err := NewConsole(cfg, nil, DefaultConsoleConfig())
			if err != nil {
				t.Fatal(err)
			}
			from := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
			_, err = c.Top(context.Background(), console.TopRequest{Query: console.Query{Kind: console.KindFlows, From: from, To: from.Add(time.Hour)},
				Metric: console.MetricBytes, Dim: "source.ip"})
			if err == nil || errors.Is(err, console.ErrTimeout) != tc.timeout || errors.Is(err, console.ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Top: %v; want an error with %q, ErrTimeout %v", err, tc.want, tc.timeout)
			}
		})
	}
}

// BenchmarkConsole measures the answers on 60,000 flows and 12,000 syslog
// lines over three days on the test node: ms per request for a day.
func BenchmarkConsole(b *testing.B) {
	d := loadConsoleData(b, 400, 80)
	ctx := context.Background()
	q := console.Query{Kind: console.KindFlows, From: d.from.Add(24 * time.Hour), To: d.from.Add(48 * time.Hour)}
	qf := q
	qf.Filter = `source.ip:"10.0.0.0/8" AND NOT destination.port:443`
	for _, bc := range []struct {
		name string
		call func() error
	}{
		{"series", func() error {
			_, err := d.c.Series(ctx, console.SeriesRequest{Query: q, Metric: console.MetricBytes})
			return err
		}},
		{"series_by_source_ip", func() error {
			_, err := d.c.Series(ctx, console.SeriesRequest{Query: q, Metric: console.MetricBytes, By: "source.ip"})
			return err
		}},
		{"series_by_port_filtered", func() error {
			_, err := d.c.Series(ctx, console.SeriesRequest{Query: qf, Metric: console.MetricFlows, By: "destination.port"})
			return err
		}},
		{"top_source_ip_labels", func() error {
			_, err := d.c.Top(ctx, console.TopRequest{Query: q, Metric: console.MetricBytes, Dim: "source.ip", Limit: 100})
			return err
		}},
		{"events_page", func() error {
			_, err := d.c.Events(ctx, console.EventsRequest{Query: qf, Limit: 50})
			return err
		}},
		{"range", func() error {
			_, _, err := d.c.Range(ctx, console.KindFlows)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.call(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/request")
		})
	}
}

// TestConsoleNoIndexYet: before sluice has written a document of a kind
// (no index matches), Top and Series answer no rows and zero totals, not
// an error: the console's views say "no data".
func TestConsoleNoIndexYet(t *testing.T) {
	url := estest.URL(t)
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	prefix := estest.IndexName(t, "sluicetest-noindex")
	cfg := Default()
	cfg.FlowsIndex = prefix + "-flows-%{+yyyy.MM.dd}"
	cfg.SyslogIndex = prefix + "-syslog-%{+yyyy.MM.dd}"
	c, err := NewConsole(cfg, client, DefaultConsoleConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	q := console.Query{Kind: console.KindSyslog, From: now.Add(-time.Hour), To: now}
	for _, dim := range []string{"host.hostname", "source.ip"} { // source.ip has labels
		top, err := c.Top(ctx, console.TopRequest{Query: q, Metric: console.MetricEvents, Dim: dim})
		if err != nil || len(top.Rows) != 0 || top.Total != 0 {
			t.Errorf("Top(%s) with no index = %+v, %v; want no rows, total 0, no error", dim, top, err)
		}
	}
	s, err := c.Series(ctx, console.SeriesRequest{Query: q, Metric: console.MetricEvents, By: "host.hostname"})
	if err != nil || len(s.Keys) != 0 || slices.ContainsFunc(s.Total, func(v float64) bool { return v != 0 }) {
		t.Errorf("Series with no index = %+v, %v; want no keys and zero totals", s, err)
	}
}
