package main_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// statusRows returns the rows of `sluice status` output whose first field
// is name and that have n fields, as fields.
func statusRows(out, name string, n int) [][]string {
	var rows [][]string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == n && f[0] == name {
			rows = append(rows, f)
		}
	}
	return rows
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("status field %q is not a number", s)
	}
	return v
}

// TestStatusCommand runs sluice, sends it NetFlow v9 (hand-built) and
// syslog (util-linux logger), and checks what `sluice status --once` prints
// against what was sent; it also checks the first-seen and summary log
// lines, and the error when nothing listens.
func TestStatusCommand(t *testing.T) {
	logger := requireTool(t, "logger", "bsdutils")
	ps := newPorts(t)
	p := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_LOG_SUMMARY_INTERVAL=1s"}})

	now := time.Now()
	ex := &exporter{Boot: now.Add(-time.Hour), SourceID: 77}
	s := newUDPSender(t)
	pkts := v9Flows(ex, now, 300, testFlows(500, 1, now), true)
	for _, b := range pkts {
		s.send(ps.NetFlow, b)
	}
	for i := range 30 {
		runCmd(t, "", 10*time.Second, false, logger, "--rfc5424", "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), "-t", "statustest", fmt.Sprint("status test ", i))
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := p.metrics()
		out, _ := metricSum(m, `sluice_output_events_total{output="file"}`)
		if out == 530 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file output has %v of 530 events; metrics:\n%s", out, metricLines(m, "sluice_collector_events_total"))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Traffic while status measures: the rate must show it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	sent := 0
	go func() {
		defer wg.Done()
		more := v9Flows(ex, now, 300, testFlows(25, 2, now), false)[0]
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				s.send(ps.NetFlow, more)
				sent++
			}
		}
	}()
	out := runCmd(t, "", 30*time.Second, true, sluiceBin, "status", "--url", p.url(""), "--once", "--watch", "1s")
	close(stop)
	wg.Wait()
	t.Logf("sluice status --once:\n%s", out)
	if sent == 0 {
		t.Fatal("the background sender sent nothing")
	}

	nf := statusRows(out, "netflow", 5)
	if len(nf) != 1 {
		t.Fatalf("status has %d netflow input rows, want 1:\n%s", len(nf), out)
	}
	if r := num(t, nf[0][1]); r <= 0 {
		t.Errorf("netflow events/s = %v while flows were sent, want > 0", r)
	}
	if tot := num(t, nf[0][4]); tot < 525 || tot > float64(500+25*(sent+1)) {
		t.Errorf("netflow events total = %v, want 500 + 25 per background packet (%d sent)", tot, sent)
	}
	sl := statusRows(out, "syslog", 5)
	if len(sl) != 1 || num(t, sl[0][4]) != 30 || num(t, sl[0][1]) != 0 {
		t.Errorf("syslog input row = %v, want 0.0 events/s and 30 total:\n%s", sl, out)
	}
	fo := statusRows(out, "file", 4)
	if len(fo) != 1 || num(t, fo[0][3]) < 530 {
		t.Errorf("file output row = %v, want at least 530 events total:\n%s", fo, out)
	}
	exp := statusRows(out, "netflow", 4)
	if len(exp) != 1 || exp[0][1] != "127.0.0.1" || num(t, exp[0][3]) < float64(len(pkts)) {
		t.Errorf("exporter rows = %v, want netflow 127.0.0.1 with at least %d datagrams:\n%s", exp, len(pkts), out)
	}
	snd := statusRows(out, "syslog", 4)
	if len(snd) != 1 || snd[0][1] != "127.0.0.1" || num(t, snd[0][3]) != 30 {
		t.Errorf("sender rows = %v, want syslog 127.0.0.1 with 30 datagrams:\n%s", snd, out)
	}
	if !strings.Contains(out, "DROPS: none since start") || !strings.Contains(out, "\nstate: ready\n") {
		t.Errorf("status lacks 'DROPS: none since start' or readiness:\n%s", out)
	}

	// -c CONFIG: the address comes from its http.listen.
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("http:\n  listen: 127.0.0.1:%d\n", ps.HTTP)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := runCmd(t, "", 30*time.Second, true, sluiceBin, "status", "-c", cfg, "--once", "--watch", "200ms"); len(statusRows(out, "netflow", 5)) != 1 {
		t.Errorf("status -c %s printed no netflow row:\n%s", cfg, out)
	}

	// The log: first-seen lines once, and summary lines.
	time.Sleep(1500 * time.Millisecond) // at least one summary interval with traffic behind it
	p.stop()
	log, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`msg="new exporter" component=collector/netflow exporter=127.0.0.1 version=9`,
		`msg="first templates from exporter" component=collector/netflow exporter=127.0.0.1 version=9 observation_domain=77 templates=1 template_ids=[300]`,
		`msg="new syslog sender" component=collector/syslog sender=127.0.0.1 listener=udp/127.0.0.1:` + strconv.Itoa(ps.SyslogUDP) + ` format=rfc5424`,
	} {
		if n := strings.Count(string(log), want); n != 1 {
			t.Errorf("log has %d lines %q, want 1", n, want)
		}
	}
	sums := regexp.MustCompile(`msg=summary interval=\S+ events_per_second_in\.ipfix=\S+ events_per_second_in\.netflow=(\S+) .*events_per_second_out\.file=(\S+) dropped=0`).FindAllStringSubmatch(string(log), -1)
	busy := 0
	for _, m := range sums {
		if num(t, m[1]) > 0 && num(t, m[2]) > 0 {
			busy++
		}
	}
	if len(sums) == 0 || busy == 0 {
		t.Errorf("%d summary lines, %d with netflow and file events/s above 0; want at least one of each; log:\n%s", len(sums), busy, log)
	}
}

// TestStatusEndpointDown: nothing listens where status looks; the error
// says so and names http.listen.
func TestStatusEndpointDown(t *testing.T) {
	port := freeTCPPort(t)
	for _, args := range [][]string{
		{"status", "--once", "--url", fmt.Sprintf("http://127.0.0.1:%d", port)},
		{"status", "--once", "--watch", "200ms"},
	} {
		cmd := exec.Command(sluiceBin, args...)
		cmd.Env = append(os.Environ(), fmt.Sprintf("SLUICE_HTTP_LISTEN=127.0.0.1:%d", port))
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("sluice %v with nothing listening: exit 0, want an error; output:\n%s", args, out)
			continue
		}
		for _, want := range []string{"cannot reach sluice at http://127.0.0.1:" + strconv.Itoa(port), "connection refused", "http.listen"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("sluice %v output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// TestStatusShowsSpoolAndGeoIP: with Elasticsearch unreachable (nothing
// listens at its address) and the GeoIP test databases, status shows the
// spooled documents and the databases up.
func TestStatusShowsSpoolAndGeoIP(t *testing.T) {
	logger := requireTool(t, "logger", "bsdutils")
	city, asn := copyGeoDBs(t)
	ps := newPorts(t)
	p := startSluice(t, sluiceOpts{Ports: ps, Env: []string{
		"SLUICE_GEOIP_CITY_DB=" + city, "SLUICE_GEOIP_ASN_DB=" + asn,
		"SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES=http://127.0.0.1:" + strconv.Itoa(freeTCPPort(t)),
	}})
	for i := range 10 {
		runCmd(t, "", 10*time.Second, false, logger, "--rfc5424", "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), fmt.Sprint("spooled ", i))
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var body []byte
		if resp, err := httpClient.Get(p.url("/readyz")); err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if v, _ := metricSum(p.metrics(), "sluice_output_elasticsearch_spool_documents"); v == 10 && strings.Contains(string(body), "spooling, 10 documents waiting") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool_documents did not reach 10 or /readyz does not say spooling (%q):\n%s", body, metricLines(p.metrics(), "sluice_output_elasticsearch_spool"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := runCmd(t, "", 30*time.Second, true, sluiceBin, "status", "--url", p.url(""), "--once", "--watch", "300ms")
	t.Logf("sluice status --once:\n%s", out)
	for _, want := range []string{"elasticsearch spool: SPOOLING, 10 documents", "geoip: asn up, city up", "state: ready (output elasticsearch: spooling, 10 documents waiting"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	// Refreshed: frames until SIGINT, then exit 0.
	var buf syncWriter
	cmd := exec.Command(sluiceBin, "status", "--url", p.url(""), "--watch", "200ms")
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for strings.Count(buf.String(), "\x1b[H\x1b[2Jsluice at ") < 3 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("status --watch 200ms: fewer than 3 frames in 20s:\n%q", buf.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("status --watch after SIGINT: %v, want exit 0", err)
	}
	p.stop()
}

// syncWriter is a strings.Builder for a child's output read while it runs.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
