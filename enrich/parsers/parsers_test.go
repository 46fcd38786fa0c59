package parsers

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/collector/syslog"
	"github.com/sluicelab/sluice/internal/event"
)

// update rewrites the documents of testdata/golden/*.json:
// go test ./enrich/parsers -run TestGolden -update
var update = flag.Bool("update", false, "rewrite the golden documents in testdata/golden")

// received is the receive time of every test line (event.created).
var received = time.Date(2026, 11, 22, 8, 0, 40, 0, time.UTC)

func newStage(t testing.TB, cfg Config) *Stage {
	t.Helper()
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	s, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return s
}

// decode runs the real syslog decoder on each line (sent from sender) and
// returns the batch.
func decode(t testing.TB, sender string, lines ...string) *event.Batch {
	t.Helper()
	d := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC, KeepOriginal: true})
	b := event.NewBatch()
	for _, l := range lines {
		p := &collector.Packet{Data: []byte(l), Src: netip.AddrPortFrom(netip.MustParseAddr(sender), 51400), Received: received}
		if err := d.Decode(p, b); err != nil {
			t.Fatalf("Decode(%q) = %v", l, err)
		}
	}
	return b
}

// document parses line through the decoder and s and returns its JSON.
func document(t testing.TB, s *Stage, sender, line string) []byte {
	t.Helper()
	b := decode(t, sender, line)
	defer b.Release()
	if err := s.Process(context.Background(), b); err != nil {
		t.Fatalf("Process() = %v", err)
	}
	return b.All()[0].AppendJSON(nil)
}

type golden struct {
	Sender   string          `json:"sender"`
	Input    string          `json:"input"`
	Document json.RawMessage `json:"document,omitempty"`
}

// TestGolden runs every testdata/golden/<vendor>_<type>.json: the input
// line goes through the syslog decoder and the stage (default config:
// auto-detection) and must give the document. To add a case, add a file
// with sender and input and run with -update; review the document.
func TestGolden(t *testing.T) {
	s := newStage(t, Default())
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got := document(t, s, g.Sender, g.Input)
			checkDocument(t, got)
			if *update {
				g.Document = got
				var out bytes.Buffer
				enc := json.NewEncoder(&out)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(g); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(g.Document) == 0 {
				t.Fatalf("%s has no document; run go test -run TestGolden -update", file)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, g.Document); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("document of %s (-got +want):\n%s", file, cmp.Diff(indent(t, got), indent(t, want.Bytes())))
			}
		})
	}
}

func indent(t testing.TB, doc []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", doc, err)
	}
	return b.String()
}

// checkDocument fails when doc is not one JSON object or has an object
// with the same key twice (Elasticsearch refuses those).
func checkDocument(t testing.TB, doc []byte) {
	t.Helper()
	if err := noDuplicateKeys(doc); err != nil {
		t.Fatalf("%v in %s", err, doc)
	}
}

func noDuplicateKeys(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("duplicate key %q", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	if err := walk(); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the document")
	}
	return nil
}

// fieldsOf returns e's dataset, tags and a flat view of what the stage
// set (the first value of each path).
func fieldsOf(e *event.Event) map[string]string {
	m := map[string]string{"dataset": e.Syslog.Dataset}
	if e.Src.IP.IsValid() {
		m["source.ip"] = e.Src.IP.String()
	}
	if e.Dst.IP.IsValid() {
		m["destination.ip"] = e.Dst.IP.String()
	}
	if e.Tags.Has(event.TagGrokFailure) {
		m["tags"] = "_grokparsefailure"
	}
	for _, f := range e.Fields {
		if _, ok := m[f.Key]; ok {
			continue
		}
		switch f.Type {
		case event.FieldString:
			m[f.Key] = f.S
		case event.FieldIP:
			m[f.Key] = f.IP.String()
		case event.FieldMAC:
			m[f.Key] = net.HardwareAddr(f.B).String()
		default:
			m[f.Key] = fmt.Sprint(f.U)
		}
	}
	return m
}

func TestRouting(t *testing.T) {
	const (
		// A netfilter line with a program auto-detection knows nothing
		// of and no IN= (so detect conditions do not claim it).
		ufwLine = "<4>2026-11-22T08:00:30Z fw01 fwlog: [UFW BLOCK] SRC=198.51.100.9 DST=192.0.2.20 PROTO=TCP SPT=44308 DPT=22"
		// Meraki flows.
		merakiLine = "<134>1 1795363216.246420486 MX84 flows allow src=10.0.0.5 dst=198.51.100.25 mac=00:1A:2B:3C:4D:5E protocol=tcp sport=51514 dport=443"
		// An F5 line from a relay that rewrote the program.
		f5Line = `<131>2026-11-22T08:01:04Z bigip1 relay: ip_client="203.0.113.66",dest_ip="10.1.2.3",request_status="blocked",method="GET"`
	)
	routes := []Route{
		{Parser: "meraki", Senders: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/28")}},
		{Parser: "netfilter", Programs: []string{"FWLOG"}},
		{Parser: "f5_asm", Senders: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}, Programs: []string{"relay"}},
	}
	for _, tc := range []struct {
		name         string
		cfg          Config
		sender, line string
		want         map[string]string
	}{
		{"sender CIDR", Config{Routes: routes}, "192.0.2.7", merakiLine,
			map[string]string{"dataset": "meraki.flows", "event.action": "allow", "event.type": "allowed", "event.category": "network", "source.ip": "10.0.0.5", "destination.ip": "198.51.100.25", "source.mac": "00:1a:2b:3c:4d:5e"}},
		{"routed parser without a rule for the app name", Config{Routes: routes}, "192.0.2.7", strings.Replace(merakiLine, "flows", "mxlog", 1),
			map[string]string{"dataset": "", "tags": "_grokparsefailure"}},
		{"sender outside CIDR, no auto", Config{Routes: routes}, "192.0.2.17", merakiLine,
			map[string]string{"dataset": ""}},
		{"program (case-insensitive)", Config{Routes: routes}, "192.0.2.20", ufwLine + " IN=eth0",
			map[string]string{"dataset": "netfilter.log", "event.action": "block", "netfilter.prefix": "[UFW BLOCK]", "source.ip": "198.51.100.9", "destination.ip": "192.0.2.20", "event.category": "network", "event.type": "denied", "observer.ingress.interface.name": "eth0"}},
		{"sender and program both needed", Config{Routes: routes}, "2001:db8::5", f5Line,
			map[string]string{"dataset": "f5.asm", "event.action": "blocked", "event.outcome": "failure", "event.type": "denied", "source.ip": "203.0.113.66", "destination.ip": "10.1.2.3", "http.request.method": "GET", "event.category": "intrusion_detection", "f5.asm.dest_ip": "10.1.2.3", "f5.asm.ip_client": "203.0.113.66", "f5.asm.method": "GET", "f5.asm.request_status": "blocked"}},
		{"program without sender", Config{Routes: routes}, "198.51.100.1", f5Line,
			map[string]string{"dataset": ""}},
		{"route wins over detection", Config{Auto: true, Routes: []Route{{Parser: "f5_asm", Programs: []string{"kernel"}}}}, "192.0.2.20",
			"<4>2026-11-22T08:00:30Z fw01 kernel: IN=eth0 OUT= SRC=198.51.100.9 DST=192.0.2.20 PROTO=TCP",
			map[string]string{"dataset": "f5.asm", "tags": "_grokparsefailure"}},
		{"auto meraki by app name", Config{Auto: true}, "192.0.2.99", merakiLine,
			map[string]string{"dataset": "meraki.flows", "event.action": "allow", "event.type": "allowed", "event.category": "network", "source.ip": "10.0.0.5", "destination.ip": "198.51.100.25", "source.mac": "00:1a:2b:3c:4d:5e"}},
		{"auto f5 by content", Config{Auto: true}, "192.0.2.99", strings.Replace(f5Line, `method="GET"`, `attack_type="XSS"`, 1),
			map[string]string{"dataset": "f5.asm", "event.action": "blocked", "event.outcome": "failure", "event.type": "denied", "event.category": "intrusion_detection", "source.ip": "203.0.113.66", "destination.ip": "10.1.2.3", "rule.category": "XSS", "f5.asm.attack_type": "XSS", "f5.asm.dest_ip": "10.1.2.3", "f5.asm.ip_client": "203.0.113.66", "f5.asm.request_status": "blocked"}},
		{"auto netfilter by content", Config{Auto: true}, "192.0.2.99", "<4>2026-11-22T08:00:30Z fw01 ulogd: DROP IN=eth0 OUT= SRC=198.51.100.9 DST=192.0.2.20 PROTO=UDP SPT=5 DPT=6",
			map[string]string{"dataset": "netfilter.log", "event.action": "block", "event.type": "denied", "event.category": "network", "netfilter.prefix": "DROP", "observer.ingress.interface.name": "eth0", "source.ip": "198.51.100.9", "destination.ip": "192.0.2.20"}},
		{"auto off", Config{}, "192.0.2.99", merakiLine,
			map[string]string{"dataset": ""}},
		{"nothing detected", Config{Auto: true}, "192.0.2.99", "<38>2026-11-22T08:00:37Z web02 sshd[1]: Accepted publickey for root",
			map[string]string{"dataset": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStage(t, tc.cfg)
			b := decode(t, tc.sender, tc.line)
			defer b.Release()
			if err := s.Process(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			got := fieldsOf(&b.All()[0])
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Process(%q from %s) (-got +want):\n%s", tc.line, tc.sender, diff)
			}
		})
	}
}

// Routes by listener, and the index a route, rule or parser gives.
func TestRoutingByListenerAndIndex(t *testing.T) {
	dir := t.TempDir()
	parserFile := `name: mylog
index: sluice-mylog-%{+yyyy.MM.dd}
detect:
  - appname: [mylog]
rules:
  - name: special
    when: {prefix: ["special "]}
    dataset: mylog.special
    index: sluice-mylog-special-%{+yyyy.MM.dd}
    set: {mylog.seen: true}
  - name: other
    when: {prefix: ["plain"]}
    dataset: mylog.other
    set: {mylog.seen: true}
`
	if err := os.WriteFile(filepath.Join(dir, "mylog.yaml"), []byte(parserFile), 0o644); err != nil {
		t.Fatal(err)
	}
	const meraki = "<134>1 1795363216.246420486 MX84 flows allow src=10.0.0.5 dst=198.51.100.25 protocol=tcp sport=1 dport=2"
	s := newStage(t, Config{Auto: true, RuleDirs: []string{dir}, Routes: []Route{
		{Parser: "meraki", Listeners: []string{"udp/0.0.0.0:5515"}, Index: "sluice-mx-%{+yyyy.MM.dd}"},
		{Parser: "netfilter", Listeners: []string{"0.0.0.0:5516"}},
	}})
	for _, tc := range []struct {
		listener, line      string
		dataset, index, tag string
	}{
		{"udp/0.0.0.0:5515", meraki, "meraki.flows", "sluice-mx-%{+yyyy.MM.dd}", ""},
		{"udp/0.0.0.0:5514", meraki, "meraki.flows", "", ""}, // auto-detected, no route: default index
		{"tcp/0.0.0.0:5515", meraki, "meraki.flows", "", ""}, // same address, other transport
		// Any transport on 0.0.0.0:5516 goes to netfilter (whose generic
		// key=value rule takes the Meraki line).
		{"tcp/0.0.0.0:5516", meraki, "netfilter.log", "", ""},
		{"udp/0.0.0.0:5514", "<14>Nov 22 08:00:00 host mylog: special a=1", "mylog.special", "sluice-mylog-special-%{+yyyy.MM.dd}", ""},
		{"udp/0.0.0.0:5514", "<14>Nov 22 08:00:00 host mylog: plain a=1", "mylog.other", "sluice-mylog-%{+yyyy.MM.dd}", ""},
		// Claimed by mylog, parsed by no rule: the parser's index (and the
		// dataset of its first rule for the app name).
		{"udp/0.0.0.0:5514", "<14>Nov 22 08:00:00 host mylog: neither", "mylog.special", "sluice-mylog-%{+yyyy.MM.dd}", "_grokparsefailure"},
	} {
		b := decode(t, "192.0.2.1", tc.line)
		e := &b.All()[0]
		e.Listener = tc.listener
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		got := fieldsOf(e)
		if got["dataset"] != tc.dataset || got["tags"] != tc.tag || event.IndexPattern(e.Index) != tc.index {
			t.Errorf("%s %q: dataset %q, tags %q, index %q; want %q, %q, %q", tc.listener, tc.line,
				got["dataset"], got["tags"], event.IndexPattern(e.Index), tc.dataset, tc.tag, tc.index)
		}
		b.Release()
	}
	got := s.Indices()
	slices.Sort(got)
	want := []string{"sluice-mx-%{+yyyy.MM.dd}", "sluice-mylog-%{+yyyy.MM.dd}", "sluice-mylog-special-%{+yyyy.MM.dd}"}
	if !slices.Equal(got, want) {
		t.Errorf("Indices() = %q, want %q", got, want)
	}
	// A bad pattern in a parser file names file and line.
	bad := strings.Replace(parserFile, "index: sluice-mylog-%{+yyyy.MM.dd}", "index: sluice-mylog", 1)
	if err := os.WriteFile(filepath.Join(dir, "mylog.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{RuleDirs: []string{dir}}, nil, prometheus.NewRegistry()); err == nil || !strings.Contains(err.Error(), "mylog.yaml:2") || !strings.Contains(err.Error(), "has no date") {
		t.Errorf("New() with an index without a date = %v, want an error naming mylog.yaml:2", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(Default(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	b := decode(t, "192.0.2.1",
		"<134>1 1795363216.246420486 MX84 flows allow src=10.0.0.5 dst=198.51.100.25 protocol=tcp sport=1 dport=2",
		"<134>1 1795363216.246420486 MX84 firewall src=10.0.0.5 dst=198.51.100.25 protocol=tcp sport=1 dport=2 pattern: allow all",
		"<134>1 1795363216.246420486 MX84 firewall src=10.0.0.5 dst=198.51.100.25 protocol=tcp sport=1 dport=2 pattern: allow all",
		"<134>1 1795363216.246420486 MX84 events something new",
		"<38>2026-11-22T08:00:37Z web02 sshd[1]: Accepted publickey for root",
	)
	defer b.Release()
	if err := s.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{s.m.parsed.WithLabelValues("meraki", "meraki.flows"), 1},
		{s.m.parsed.WithLabelValues("meraki", "meraki.firewall"), 2},
		{s.m.parsed.WithLabelValues("meraki", "meraki.urls"), 0},
		{s.m.failures.WithLabelValues("meraki"), 1},
		{s.m.failures.WithLabelValues("netfilter"), 0},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("counter %v = %v, want %v", tc.c, got, tc.want)
		}
	}
	// Every series exists at start, bounded by the parser files.
	n, err := testutil.GatherAndCount(reg, "sluice_enrich_parsed_total", "sluice_enrich_parse_failures_total")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, p := range s.parsers {
		ds := map[string]bool{}
		for _, r := range p.rules {
			ds[r.dataset] = true
			for _, d := range r.byApp {
				ds[d] = true
			}
			delete(ds, "meraki.{appname}")
		}
		want += len(ds) + 1
	}
	if n != want || n > 50 {
		t.Errorf("%d series, want %d: one per parser and dataset and one per parser", n, want)
	}
	// A second stage on the same registry shares the series.
	if _, err := New(Default(), nil, reg); err != nil {
		t.Errorf("second New() on one registry = %v", err)
	}
}

// TestConcurrent runs Process from several goroutines on one stage (run
// with -race).
func TestConcurrent(t *testing.T) {
	s := newStage(t, Default())
	lines := sampleLines(t)
	done := make(chan error)
	for w := 0; w < 4; w++ {
		go func() {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				b := decode(t, "192.0.2.1", lines...)
				err = s.Process(context.Background(), b)
				for j := range b.All() {
					if derr := noDuplicateKeys(b.All()[j].AppendJSON(nil)); derr != nil {
						err = derr
					}
				}
				b.Release()
			}
			done <- err
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// sampleLines returns the inputs of the golden files.
func sampleLines(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob("testdata/golden/*.json")
	var out []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		out = append(out, g.Input)
	}
	return out
}

// TestGoldenDetection runs every golden input through the default stage
// (auto-detection, no routes) and checks that the parser that claimed it
// is the one of the file's vendor: the file name's first word is the
// dataset's first word (f5_asm_blocked: f5.asm; netfilter_icmpv6:
// netfilter.log), and other_* files are claimed by no parser.
func TestGoldenDetection(t *testing.T) {
	s := newStage(t, Default())
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		vendor, _, _ := strings.Cut(filepath.Base(file), "_")
		b := decode(t, g.Sender, g.Input)
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		ds := b.All()[0].Syslog.Dataset
		b.Release()
		got, _, _ := strings.Cut(ds, ".")
		if vendor == "other" {
			if ds != "" {
				t.Errorf("%s: claimed as %q, want no parser", file, ds)
			}
			continue
		}
		if got != vendor {
			t.Errorf("%s: dataset %q, want one of vendor %s (the file name's first word)", file, ds, vendor)
		}
	}
}
