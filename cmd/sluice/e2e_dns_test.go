package main_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDNSResolverLogsEndToEnd runs real resolvers from Debian, dnsmasq
// and unbound, on 127.0.0.1 answering from local zones, queries them with
// dig, sends their real query-log lines to a running sluice with logger
// (RFC 3164 over UDP), and checks the documents: parsed by the dnsmasq and
// unbound rule files into the DNS fields, and checked by the DNS checks
// stage (public suffix parts, blocklist hits on the name and on a resolved
// address, the look-alike of a watched domain, an encoded label, an
// unusual type, new domains), and the seen domains saved in data_dir/dns;
// and NetFlow flows to port 53/853 of servers outside
// dns.allowed_resolvers, marked sluice.dns.unsanctioned_resolver.
func TestDNSResolverLogsEndToEnd(t *testing.T) {
	dnsmasq := requireTool(t, "dnsmasq", "dnsmasq-base")
	unbound := requireTool(t, "unbound", "unbound")
	dig := requireTool(t, "dig", "bind9-dnsutils")
	logger := requireTool(t, "logger", "bsdutils")
	dir := t.TempDir()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}

	// dnsmasq: test.lan answers 10.1.2.3, blocked.lan NXDOMAIN,
	// bad-ip.lan an address on the blocklist.
	dmPort := freeDNSPort(t)
	dmLog := filepath.Join(dir, "dnsmasq.log")
	dm := exec.Command(dnsmasq, "--keep-in-foreground", "--port="+strconv.Itoa(dmPort), "--listen-address=127.0.0.1",
		"--bind-interfaces", "--no-resolv", "--no-hosts", "--address=/test.lan/10.1.2.3", "--address=/blocked.lan/",
		"--address=/bad-ip.lan/203.0.113.66", "--txt-record=txt.test.lan,hello", "--log-queries", "--log-facility="+dmLog,
		"--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--user="+me.Username, "--group="+grp.Name)
	startDaemon(t, dm)
	waitDNSListening(t, dmPort)

	// unbound: a static local zone, query and reply logs to a file.
	ubPort := freeDNSPort(t)
	ubLog := filepath.Join(dir, "unbound.log")
	ubConf := filepath.Join(dir, "unbound.conf")
	writeTestFile(t, ubConf, fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  chroot: ""
  username: ""
  directory: %q
  pidfile: %q
  use-syslog: no
  logfile: %q
  log-queries: yes
  log-replies: yes
  do-ip6: no
  local-zone: "test.lan." static
  local-data: "www.test.lan. A 10.1.2.3"
  local-data: 'txt.test.lan. TXT "hello"'
  local-zone: "paypa1.com." static
  local-data: "paypa1.com. A 10.9.9.9"
remote-control:
  control-enable: no
`, ubPort, dir, filepath.Join(dir, "unbound.pid"), ubLog))
	startDaemon(t, exec.Command(unbound, "-d", "-c", ubConf))
	waitDNSListening(t, ubPort)

	tunnel := "mfrggzdfmztwq2lknnwg23tpobyxe43uov3ho6dzpjqweylmnzxw.test.lan"
	queries := []struct {
		port int
		args []string
	}{
		{dmPort, []string{"www.test.lan", "A"}},
		{dmPort, []string{"blocked.lan", "A"}},
		{dmPort, []string{"bad-ip.lan", "A"}},
		{dmPort, []string{"txt.test.lan", "TXT", "+tcp"}},
		{ubPort, []string{"www.test.lan", "A"}},
		{ubPort, []string{"txt.test.lan", "TXT"}},
		{ubPort, []string{"nope.test.lan", "A", "+tcp"}},
		{ubPort, []string{tunnel, "TXT"}},
		{ubPort, []string{"paypa1.com", "A"}},
	}
	for _, q := range queries {
		args := append([]string{"-p", strconv.Itoa(q.port), "@127.0.0.1", "+tries=3", "+time=2"}, q.args...)
		if out, err := exec.Command(dig, args...).CombinedOutput(); err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
	}
	// Both log every query; wait until the lines are written.
	var lastLogs string
	defer func() {
		if t.Failed() {
			t.Logf("resolver logs:\n%s", lastLogs)
		}
	}()
	dnsWaitFor(t, 10*time.Second, "dnsmasq and unbound query logs", func() bool {
		a, _ := os.ReadFile(dmLog)
		b, _ := os.ReadFile(ubLog)
		if bytes.Count(a, []byte(" query[")) >= 4 && bytes.Count(b, []byte("info: 127.0.0.1 ")) >= 10 {
			return true
		}
		lastLogs = string(a) + string(b)
		return false
	})

	list := filepath.Join(dir, "blocklist.txt")
	writeTestFile(t, list, "# e2e list\nblocked.lan\n203.0.113.66\n")
	conf := filepath.Join(dir, "sluice.yaml")
	writeTestFile(t, conf, fmt.Sprintf(`dns:
  allowed_resolvers: [127.0.0.1/32]
  watch_domains: [paypal.com]
  blocklists:
    - {name: e2e, path: %q, format: plain}
`, list))
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Args: []string{"--config", conf}})

	// dnsmasq's file lines are "Mmm dd hh:mm:ss dnsmasq[pid]: message":
	// logger sends the messages with the program and pid; unbound's
	// logfile lines are sent whole, as a forwarder would.
	send := func(tag string, lines []string) {
		t.Helper()
		cmd := exec.Command(logger, "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), "--rfc3164", "-t", tag)
		cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("logger: %v\n%s", err, out)
		}
	}
	var dmLines []string
	raw, _ := os.ReadFile(dmLog)
	for l := range strings.Lines(string(raw)) {
		if _, msg, ok := strings.Cut(strings.TrimSpace(l), "]: "); ok {
			dmLines = append(dmLines, msg)
		}
	}
	send("dnsmasq", dmLines)
	raw, _ = os.ReadFile(ubLog)
	var ubLines []string
	for l := range strings.Lines(string(raw)) {
		ubLines = append(ubLines, strings.TrimSpace(l))
	}
	send("unbound", ubLines)
	// Flows (NetFlow v5) to port 53 of an allowed and of another server.
	now := time.Now().UTC()
	ex := &exporter{Boot: now.Add(-time.Hour)}
	client := netip.MustParseAddr("192.168.1.10")
	flows := []flowRec{
		{Src: client, Dst: netip.MustParseAddr("8.8.8.8"), SPort: 40000, DPort: 53, Proto: 17, Bytes: 80, Pkts: 1, Start: now.Add(-2 * time.Second), End: now.Add(-time.Second)},
		{Src: client, Dst: netip.MustParseAddr("127.0.0.1"), SPort: 40001, DPort: 53, Proto: 17, Bytes: 80, Pkts: 1, Start: now.Add(-2 * time.Second), End: now.Add(-time.Second)},
		{Src: client, Dst: netip.MustParseAddr("1.1.1.1"), SPort: 40002, DPort: 853, Proto: 6, Bytes: 800, Pkts: 6, Start: now.Add(-2 * time.Second), End: now.Add(-time.Second)},
		{Src: client, Dst: netip.MustParseAddr("1.1.1.1"), SPort: 40003, DPort: 443, Proto: 6, Bytes: 800, Pkts: 6, Start: now.Add(-2 * time.Second), End: now.Add(-time.Second)},
	}
	newUDPSender(t).send(ps.NetFlow, ex.v5Packet(now, 0, flows))
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	s.stop()

	fdocs := readGlobDocs(t, filepath.Join(s.opts.OutDir, "sluice-flows-*.ndjson"))
	got := map[string]string{}
	for _, d := range fdocs {
		got[d.str("destination.ip")+":"+d.str("destination.port")] = d.str("sluice.dns.unsanctioned_resolver")
	}
	if diff := cmp.Diff(got, map[string]string{"8.8.8.8:53": "true", "127.0.0.1:53": "", "1.1.1.1:853": "true", "1.1.1.1:443": ""}); diff != "" {
		t.Errorf("flows' sluice.dns.unsanctioned_resolver by destination (-got +want):\n%s", diff)
	}

	docs := syslogDocs(t, s.opts.OutDir)
	if len(docs) < len(dmLines)+len(ubLines) {
		t.Errorf("%d documents, want %d (one per line)", len(docs), len(dmLines)+len(ubLines))
	}
	// find returns the first document of a dataset and action for a name.
	find := func(ds, action, name string) doc {
		t.Helper()
		for _, d := range docs {
			if d.str("event.dataset") == ds && d.str("event.action") == action && d.str("dns.question.name") == name {
				return d
			}
		}
		t.Errorf("no %s %s document for %s among %d", ds, action, name, len(docs))
		return doc{}
	}
	for _, d := range docs {
		if strings.Contains(d.Raw, "_grokparsefailure") || strings.Contains(d.Raw, "_field_conversion_failure") {
			t.Errorf("parse failure: %s", d.Raw)
		}
	}
	for _, tc := range []struct {
		d    doc
		want map[string]string
	}{
		{find("dnsmasq.query", "query", "www.test.lan"), map[string]string{"dns.question.type": "A", "source.ip": "127.0.0.1", "dns.type": "query",
			"dns.question.registered_domain": "test.lan", "dns.question.subdomain": "www", "dns.question.top_level_domain": "lan",
			"sluice.dns.new_domain": "true"}},
		{find("dnsmasq.query", "config", "www.test.lan"), map[string]string{"dns.resolved_ip": "10.1.2.3", "dns.response_code": "NOERROR", "dns.type": "answer"}},
		{find("dnsmasq.query", "config", "blocked.lan"), map[string]string{"dns.response_code": "NXDOMAIN", "sluice.dns.blocklist": "e2e",
			"threat.enrichments.matched.atomic": "blocked.lan", "threat.enrichments.indicator.provider": "e2e"}},
		{find("dnsmasq.query", "config", "bad-ip.lan"), map[string]string{"dns.resolved_ip": "203.0.113.66", "sluice.dns.blocklist": "e2e",
			"threat.enrichments.matched.atomic": "203.0.113.66", "threat.enrichments.matched.field": "dns.resolved_ip"}},
		{find("dnsmasq.query", "query", "txt.test.lan"), map[string]string{"dns.question.type": "TXT", "sluice.dns.unusual_type": "true"}},
		{find("unbound.query", "query", "www.test.lan"), map[string]string{"dns.question.type": "A", "dns.question.class": "IN", "source.ip": "127.0.0.1"}},
		{find("unbound.query", "reply", "nope.test.lan"), map[string]string{"dns.response_code": "NXDOMAIN", "dns.type": "answer"}},
		{find("unbound.query", "reply", tunnel), map[string]string{"sluice.dns.encoded_label": "true", "sluice.dns.unusual_type": "true",
			"sluice.dns.reasons": "encoded unusual_type long_label new_domain"}},
		{find("unbound.query", "reply", "paypa1.com"), map[string]string{"sluice.dns.lookalike": "paypal.com", "sluice.dns.lookalike_kind": "homoglyph"}},
	} {
		for k, w := range tc.want {
			if got := tc.d.str(k); got != w {
				t.Errorf("%s = %q, want %q\n%s", k, got, w, tc.d.Raw)
			}
		}
	}
	if d := find("unbound.query", "reply", "www.test.lan"); d.str("destination.bytes") == "" || d.str("event.duration") == "" || d.str("sluice.dns.score") == "" {
		t.Errorf("unbound reply without size, duration or score: %s", d.Raw)
	}
	if d := find("unbound.query", "reply", tunnel); atoi(d.str("sluice.dns.score")) < 50 {
		t.Errorf("tunnel-like name scored %s, want 50 or more: %s", d.str("sluice.dns.score"), d.Raw)
	}
	seen, err := os.ReadFile(filepath.Join(s.opts.DataDir, "dns", "seen-domains"))
	if err != nil || !bytes.Contains(seen, []byte(" test.lan\n")) || !bytes.Contains(seen, []byte(" paypa1.com\n")) {
		t.Errorf("data_dir/dns/seen-domains: %v\n%s", err, seen)
	}
}

// startDaemon starts a resolver in the foreground and stops it at the
// end of the test.
func startDaemon(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out.String())
		}
	})
}

// freeDNSPort returns a port of 127.0.0.1 free on UDP and on TCP both: a
// resolver listens on both, and a port freeUDPPort picks from the
// ephemeral range may be the local end of some TCP connection (a busy
// machine has many), which made dnsmasq fail with "Address already in use".
func freeDNSPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no port of 127.0.0.1 free on both UDP and TCP in 100 tries")
	return 0
}

// waitDNSListening waits until a resolver just started has bound port on
// UDP and listens on it on TCP: a query sent before gets "connection
// refused" at once, whatever dig's retries.
func waitDNSListening(t *testing.T, port int) {
	t.Helper()
	dnsWaitFor(t, 20*time.Second, fmt.Sprintf("a resolver on port %d (UDP and TCP)", port), func() bool {
		_, _, udp := udpQueue(port)
		return udp && tcpListening(port)
	})
}

// tcpListening reports whether a socket listens on port, from
// /proc/net/tcp and tcp6 (state 0A).
func tcpListening(port int) bool {
	suffix := fmt.Sprintf(":%04X", port)
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) > 3 && strings.HasSuffix(fs[1], suffix) && fs[3] == "0A" {
				return true
			}
		}
	}
	return false
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// dnsWaitFor polls cond until it holds or the deadline passes.
func dnsWaitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
