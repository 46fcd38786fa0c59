package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/estest"
)

// requireRoot skips (failing under CI=true) a test that needs root.
func requireRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	msg := why + " needs root (or CAP_NET_RAW); run the tests as root"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("skipped, not root (CI=true makes this a failure): " + msg)
}

// dnsmasqServer runs dnsmasq on addr:53 answering from a local zone
// (sluice.test) until the test ends.
func dnsmasqServer(t *testing.T, bin, addr string) {
	t.Helper()
	cmd := exec.Command(bin, "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
		"--listen-address="+addr, "--bind-interfaces", "--port=53", "--local=/sluice.test/",
		"--host-record=www.sluice.test,192.0.2.10,2001:db8::10",
		"--host-record=multi.sluice.test,192.0.2.21", "--host-record=multi.sluice.test,192.0.2.22",
		"--txt-record=txt.sluice.test,hello world", "--mx-host=sluice.test,mail.sluice.test,10",
		"--host-record=probe.sluice.test,192.0.2.99")
	out, err := os.CreateTemp(t.TempDir(), "dnsmasq-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	out.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("dnsmasq output:\n%s", b)
		}
	})
}

// waitDNS waits until the server at addr answers (probe.sluice.test,
// which the tests leave out of their counts).
func waitDNS(t *testing.T, dig, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := digRun(t, dig, "+tries=1", "+time=1", "@"+addr, "probe.sluice.test", "A")
		if err == nil && strings.Contains(out, "192.0.2.99") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq on %s does not answer: %v\n%s", addr, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	digID     = regexp.MustCompile(`opcode: QUERY, status: ([A-Z]+), id: (\d+)`)
	loopbacks = func() func() string {
		return func() string {
			return fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), 1+rand.IntN(250), 2+rand.IntN(250))
		}
	}()
)

// digRun runs dig and returns its output and exit error.
func digRun(t *testing.T, dig string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, dig, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("dig %v did not finish: %s", args, b)
	}
	return string(b), err
}

// TestDNSCaptureEndToEnd: a real `sluice run` captures on lo the queries
// dig sends to a real dnsmasq (A, AAAA, TXT, MX, ANY over UDP and TCP,
// an NXDOMAIN, a name with two addresses) and one to an address where
// nothing answers; every dig transaction is written exactly once, paired,
// with its fields, and the unanswered one without a response.
func TestDNSCaptureEndToEnd(t *testing.T) {
	requireRoot(t, "capturing on lo (AF_PACKET)")
	dnsmasq := requireTool(t, "dnsmasq", "dnsmasq-base")
	dig := requireTool(t, "dig", "bind9-dnsutils")
	srv, dead := loopbacks(), loopbacks()
	for dead == srv {
		dead = loopbacks()
	}
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_DNS_CAPTURE_INTERFACES=lo", "SLUICE_DNS_CAPTURE_TIMEOUT=1s"}})
	dnsmasqServer(t, dnsmasq, srv)
	waitDNS(t, dig, srv)

	type want struct {
		name, qtype string
		tcp         bool
		rcode       string
		ips         []string // dns.resolved_ip, sorted
		data        string   // one of dns.answers[].data
		id          string   // from dig's output
	}
	cases := []*want{
		{name: "www.sluice.test", qtype: "A", rcode: "NOERROR", ips: []string{"192.0.2.10"}},
		{name: "www.sluice.test", qtype: "AAAA", rcode: "NOERROR", ips: []string{"2001:db8::10"}},
		{name: "txt.sluice.test", qtype: "TXT", rcode: "NOERROR", data: "hello world"},
		{name: "sluice.test", qtype: "MX", rcode: "NOERROR", data: "10 mail.sluice.test"},
		{name: "www.sluice.test", qtype: "ANY", rcode: "NOERROR", ips: []string{"192.0.2.10", "2001:db8::10"}}, // +notcp: dig asks ANY over TCP by default
		{name: "www.sluice.test", qtype: "ANY", tcp: true, rcode: "NOERROR", ips: []string{"192.0.2.10", "2001:db8::10"}},
		{name: "multi.sluice.test", qtype: "A", rcode: "NOERROR", ips: []string{"192.0.2.21", "192.0.2.22"}},
		{name: "nope.sluice.test", qtype: "A", rcode: "NXDOMAIN"},
		{name: "www.sluice.test", qtype: "A", tcp: true, rcode: "NOERROR", ips: []string{"192.0.2.10"}},
		{name: "www.sluice.test", qtype: "AAAA", tcp: true, rcode: "NOERROR", ips: []string{"2001:db8::10"}},
		{name: "txt.sluice.test", qtype: "TXT", tcp: true, rcode: "NOERROR", data: "hello world"},
		{name: "sluice.test", qtype: "MX", tcp: true, rcode: "NOERROR", data: "10 mail.sluice.test"},
		{name: "nope.sluice.test", qtype: "AAAA", tcp: true, rcode: "NXDOMAIN"},
	}
	for _, c := range cases {
		args := []string{"+tries=1", "+time=5", "@" + srv, c.name, c.qtype}
		if c.tcp {
			args = append(args, "+tcp")
		} else {
			args = append(args, "+notcp")
		}
		out, err := digRun(t, dig, args...)
		m := digID.FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		if m[1] != c.rcode {
			t.Fatalf("dig %v: status %s, want %s\n%s", args, m[1], c.rcode, out)
		}
		c.id = m[2]
	}
	// Nothing listens on dead:53: the query gets no DNS response.
	if out, err := digRun(t, dig, "+tries=1", "+time=1", "@"+dead, "timeout.sluice.test", "A"); err == nil {
		t.Fatalf("dig to %s where nothing listens succeeded:\n%s", dead, out)
	}

	mine := func() []doc {
		var ds []doc
		for _, d := range readGlobDocs(t, filepath.Join(s.opts.OutDir, "sluice-dns-*.ndjson")) {
			if ip := d.str("destination.ip"); (ip == srv || ip == dead) && d.str("dns.question.name") != "probe.sluice.test" {
				ds = append(ds, d)
			}
		}
		return ds
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(mine()) < len(cases)+1 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	m := s.metrics()
	if n, _ := metricSum(m, "sluice_dnscap_frames_total"); n == 0 {
		t.Errorf("sluice_dnscap_frames_total is 0:\n%s", metricLines(m, "sluice_dnscap"))
	}
	// The default path: frames through an 8 MiB TPACKET_V3 ring.
	if logText, err := os.ReadFile(s.logPath); err != nil || !bytes.Contains(logText, []byte("capturing DNS")) || !bytes.Contains(logText, []byte("8MiB (8 blocks of 1MiB)")) {
		t.Errorf("the start log does not say capturing DNS with the 8MiB ring (%v):\n%s", err, s.logTail(40))
	}
	if n, _ := metricSum(m, `sluice_dnscap_transactions_total{result="no_response"}`); n < 1 {
		t.Errorf("no no_response transaction counted:\n%s", metricLines(m, "sluice_dnscap"))
	}
	s.stop()
	docs := mine()
	if n, _ := metricSum(m, `sluice_collector_events_total{protocol="dns"}`); n < float64(len(cases)+1) || n > float64(len(readGlobDocs(t, filepath.Join(s.opts.OutDir, "sluice-dns-*.ndjson")))) {
		t.Errorf("sluice_collector_events_total{protocol=dns} = %v, want at least %d and at most the documents written:\n%s", n, len(cases)+1, metricLines(m, "sluice_collector_events_total"))
	}

	strs := func(d doc, path string) []string {
		v, _ := d.get(path)
		var out []string
		switch x := v.(type) {
		case string:
			out = []string{x}
		case []any:
			for _, e := range x {
				out = append(out, fmt.Sprint(e))
			}
		}
		slices.Sort(out)
		return out
	}
	answerData := func(d doc) []string {
		v, _ := d.get("dns.answers")
		var list []any
		switch x := v.(type) {
		case map[string]any:
			list = []any{x}
		case []any:
			list = x
		}
		var out []string
		for _, a := range list {
			if o, ok := a.(map[string]any); ok {
				out = append(out, fmt.Sprint(o["data"]))
			}
		}
		return out
	}
	used := make([]bool, len(docs))
	for _, c := range cases {
		transport := "udp"
		if c.tcp {
			transport = "tcp"
		}
		var found []int
		for i, d := range docs {
			if d.str("dns.question.name") == c.name && d.str("dns.question.type") == c.qtype &&
				d.str("network.transport") == transport && d.str("dns.id") == c.id {
				found = append(found, i)
			}
		}
		label := fmt.Sprintf("%s %s over %s (id %s)", c.name, c.qtype, transport, c.id)
		if len(found) != 1 {
			t.Errorf("%s: %d documents, want 1", label, len(found))
			continue
		}
		used[found[0]] = true
		d := docs[found[0]]
		for path, w := range map[string]string{
			"dns.type": "answer", "dns.response_code": c.rcode, "dns.question.class": "IN", "source.ip": "127.0.0.1",
			"destination.ip": srv, "destination.port": "53", "event.dataset": "sluice.dns", "network.protocol": "dns",
		} {
			if got := d.str(path); got != w {
				t.Errorf("%s: %s = %q, want %q\n%s", label, path, got, w, d.Raw)
			}
		}
		for _, path := range []string{"event.duration", "source.bytes", "destination.bytes", "network.bytes", "source.port"} {
			if n, ok := d.num(path); !ok || n == 0 {
				t.Errorf("%s: %s = %q, want a positive number\n%s", label, path, d.str(path), d.Raw)
			}
		}
		if got := strs(d, "dns.resolved_ip"); !slices.Equal(got, c.ips) {
			t.Errorf("%s: dns.resolved_ip = %v, want %v\n%s", label, got, c.ips, d.Raw)
		}
		if c.data != "" && !slices.Contains(answerData(d), c.data) {
			t.Errorf("%s: dns.answers data %v, want %q among them\n%s", label, answerData(d), c.data, d.Raw)
		}
		if flags := strs(d, "dns.header_flags"); !slices.Contains(flags, "RD") || (c.rcode == "NOERROR") != slices.Contains(flags, "AA") {
			t.Errorf("%s: dns.header_flags = %v, want RD, and AA for the answers from dnsmasq's local zone", label, flags)
		}
	}
	var timeouts []doc
	for i, d := range docs {
		if d.str("dns.question.name") == "timeout.sluice.test" {
			used[i] = true
			timeouts = append(timeouts, d)
		}
	}
	if len(timeouts) != 1 {
		t.Errorf("timeout.sluice.test: %d documents, want 1", len(timeouts))
	} else {
		d := timeouts[0]
		if d.str("dns.type") != "query" || d.str("destination.ip") != dead || d.str("dns.response_code") != "" || d.str("event.duration") != "" {
			t.Errorf("unanswered query: want dns.type query to %s with no response fields:\n%s", dead, d.Raw)
		}
	}
	for i, d := range docs {
		if !used[i] {
			t.Errorf("unexpected document: %s", d.Raw)
		}
	}
	// Every document is one JSON object the index template accepts as
	// ECS: the arrays are arrays, not repeated keys.
	for _, d := range docs {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(d.Raw), &m); err != nil {
			t.Errorf("%v: %s", err, d.Raw)
		}
		if strings.Count(d.Raw, `"resolved_ip"`) > 1 || strings.Count(d.Raw, `"answers"`) > 1 {
			t.Errorf("repeated keys: %s", d.Raw)
		}
	}
}

// TestDNSCaptureNeedsCapability: without CAP_NET_RAW, `sluice run` with
// dns.capture.interfaces stops at start and names the capability and the
// systemd setting.
func TestDNSCaptureNeedsCapability(t *testing.T) {
	requireRoot(t, "dropping CAP_NET_RAW with setpriv")
	setpriv := requireTool(t, "setpriv", "util-linux")
	ps := newPorts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, setpriv, "--bounding-set=-net_raw", "--inh-caps=-net_raw", sluiceBin, "run")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("SLUICE_NETFLOW_LISTEN=127.0.0.1:%d", ps.NetFlow), fmt.Sprintf("SLUICE_IPFIX_LISTEN=127.0.0.1:%d", ps.IPFIX),
		fmt.Sprintf("SLUICE_SFLOW_LISTEN=127.0.0.1:%d", ps.SFlow), fmt.Sprintf("SLUICE_HTTP_LISTEN=127.0.0.1:%d", ps.HTTP),
		fmt.Sprintf("SLUICE_SYSLOG_UDP_LISTEN=127.0.0.1:%d", ps.SyslogUDP), fmt.Sprintf("SLUICE_SYSLOG_TCP_LISTEN=127.0.0.1:%d", ps.SyslogTCP),
		"SLUICE_OUTPUT_FILE_DIR="+t.TempDir(), "SLUICE_DATA_DIR="+t.TempDir(), "SLUICE_DNS_CAPTURE_INTERFACES=lo")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("sluice run without CAP_NET_RAW did not stop:\n%s", out)
	}
	if err == nil {
		t.Fatalf("sluice run without CAP_NET_RAW succeeded:\n%s", out)
	}
	for _, w := range []string{"dns.capture.interfaces", "CAP_NET_RAW", "AmbientCapabilities=CAP_NET_RAW"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("output does not name %q:\n%s", w, out)
		}
	}
}

// TestDNSCaptureCheckConfig: check-config names an interface that does
// not exist.
func TestDNSCaptureCheckConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte("dns:\n  capture:\n    interfaces: [lo, nosuch0]\n    timeout: 10ms\n    ring_bytes: 100000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sluiceBin, "check-config", path).CombinedOutput()
	if err == nil {
		t.Fatalf("check-config accepted a missing interface:\n%s", out)
	}
	for _, w := range []string{`dns.capture.interfaces: "nosuch0" is not a network interface`, "dns.capture.timeout: 10ms is out of range",
		"dns.capture.ring_bytes: 100000 holds fewer than 2 blocks"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("check-config output does not hold %q:\n%s", w, out)
		}
	}
	if strings.Contains(string(out), `"lo"`) {
		t.Errorf("check-config complains about lo:\n%s", out)
	}
}

// TestDNSCaptureToElasticsearch: captured transactions reach a real node
// in the index of output.index.dns, under the ECS template: addresses
// mapped as ip, and a term query on one of several resolved addresses
// finds its transaction.
func TestDNSCaptureToElasticsearch(t *testing.T) {
	requireRoot(t, "capturing on lo (AF_PACKET)")
	url := estest.URL(t)
	dnsmasq := requireTool(t, "dnsmasq", "dnsmasq-base")
	dig := requireTool(t, "dig", "bind9-dnsutils")
	prefix := estest.IndexName(t, "sluicee2e")
	esCleanup(t, url, prefix)
	srv := loopbacks()
	env := append(esEnv(url, prefix), "SLUICE_OUTPUT_INDEX_DNS="+prefix+"-dns-%{+yyyy.MM.dd}",
		"SLUICE_DNS_CAPTURE_INTERFACES=lo", "SLUICE_DNS_CAPTURE_TIMEOUT=1s")
	s := startSluice(t, sluiceOpts{Ports: newPorts(t), Env: env})
	dnsmasqServer(t, dnsmasq, srv)
	waitDNS(t, dig, srv)
	for _, args := range [][]string{{"multi.sluice.test", "A", "+notcp"}, {"www.sluice.test", "AAAA", "+tcp"}} {
		if out, err := digRun(t, dig, append([]string{"+tries=1", "+time=5", "@" + srv}, args...)...); err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
	}
	search := func(q string) []doc {
		estest.Refresh(t, url, prefix+"-dns-*")
		status, body := estest.Do(t, http.MethodPost, url+"/"+prefix+"-dns-*/_search?size=100", q)
		if status == 404 {
			return nil
		}
		if status != 200 {
			t.Fatalf("search: %d %s", status, body)
		}
		var r struct {
			Hits struct {
				Hits []struct {
					Index  string          `json:"_index"`
					Source json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		var out []doc
		for _, h := range r.Hits.Hits {
			var m map[string]any
			if err := json.Unmarshal(h.Source, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, doc{File: h.Index, M: m, Raw: string(h.Source)})
		}
		return out
	}
	mineQ := `{"query":{"bool":{"filter":[{"term":{"destination.ip":"` + srv + `"}}],"must_not":[{"term":{"dns.question.name":"probe.sluice.test"}}]}}}`
	deadline := time.Now().Add(30 * time.Second)
	var docs []doc
	for docs = search(mineQ); len(docs) < 2 && time.Now().Before(deadline); docs = search(mineQ) {
		time.Sleep(200 * time.Millisecond)
	}
	s.stop()
	if len(docs) != 2 {
		t.Fatalf("%d documents for %s in %s-dns-*, want 2: %v", len(docs), srv, prefix, docs)
	}
	if want := prefix + "-dns-" + time.Now().UTC().Format("2006.01.02"); docs[0].File != want && docs[1].File != want {
		t.Errorf("indices %s, %s; want %s", docs[0].File, docs[1].File, want)
	}
	hits := search(`{"query":{"bool":{"filter":[{"term":{"destination.ip":"` + srv + `"}},{"term":{"dns.resolved_ip":"192.0.2.22"}}]}}}`)
	if len(hits) != 1 || hits[0].str("dns.question.name") != "multi.sluice.test" {
		t.Errorf("term dns.resolved_ip:192.0.2.22 found %d documents, want the multi.sluice.test transaction: %v", len(hits), hits)
	}
	status, body := estest.Do(t, http.MethodGet, url+"/"+docs[0].File+"/_mapping", "")
	if status != 200 {
		t.Fatalf("mapping: %d %s", status, body)
	}
	for field, typ := range map[string]string{
		"dns.resolved_ip": "ip", "dns.question.name": "keyword", "dns.answers.data": "keyword", "dns.answers.ttl": "long",
		"event.duration": "long", "source.ip": "ip", "destination.bytes": "long", "dns.header_flags": "keyword",
	} {
		if got := mappedType(t, body, docs[0].File, field); got != typ {
			t.Errorf("%s is mapped as %q, want %q", field, got, typ)
		}
	}
}
