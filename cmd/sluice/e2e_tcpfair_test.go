package main_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The TCP fairness limits reach the listener from the environment, and
// its warnings name the real keys.
func TestSyslogTCPFairnessEndToEnd(t *testing.T) {
	ps := newPorts(t)
	out := t.TempDir()
	p := startSluice(t, sluiceOpts{Ports: ps, OutDir: out, Env: []string{
		"SLUICE_SYSLOG_TCP_MAX_CONNECTIONS_PER_SOURCE=2",
		"SLUICE_SYSLOG_TCP_FIRST_FRAME_TIMEOUT=500ms",
		"SLUICE_SYSLOG_TCP_FRAME_TIMEOUT=500ms",
	}})
	addr := fmt.Sprintf("127.0.0.1:%d", ps.SyslogTCP)
	dial := func() net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	metric := func(name, reason string) float64 {
		return p.metrics()[fmt.Sprintf(`%s{protocol="syslog-tcp",reason=%q}`, name, reason)]
	}
	waitMetric := func(name, reason string, want float64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for metric(name, reason) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s{reason=%s} = %v, want %v\n%s", name, reason, metric(name, reason), want, metricLines(p.metrics(), "sluice_collector_tcp"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	closedByServer := func(c net.Conn) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("sluice did not close the connection")
			}
		}
	}
	silent, slow := dial(), dial()
	if _, err := io.WriteString(slow, "<13>Dec  7 06:00:00 host app: complete\n<13>Dec  7 06:00:01 host app: slo"); err != nil {
		t.Fatal(err)
	}
	third := dial() // over max_connections_per_source
	closedByServer(third)
	waitMetric("sluice_collector_tcp_connections_rejected_total", "max_connections_per_source", 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a byte every 50ms: less than any timeout apart
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := io.WriteString(slow, "w"); err != nil {
				return
			}
		}
	}()
	closedByServer(silent)
	closedByServer(slow)
	close(stop)
	<-done
	waitMetric("sluice_collector_tcp_connections_closed_total", "first_frame_timeout", 1)
	waitMetric("sluice_collector_tcp_connections_closed_total", "frame_timeout", 1)
	p.stop()
	p.checkLog()
	log, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"syslog.tcp.max_connections_per_source", "syslog.tcp.first_frame_timeout", "syslog.tcp.frame_timeout"} {
		if !strings.Contains(string(log), key) {
			t.Errorf("log does not name %s:\n%s", key, p.logTail(40))
		}
	}
	if strings.Contains(string(log), "syslog-tcp.tcp") {
		t.Errorf("log names a key that does not exist (syslog-tcp.tcp.*):\n%s", p.logTail(40))
	}
	var msgs []string
	for _, d := range readGlobDocs(t, filepath.Join(out, "sluice-syslog-*.ndjson")) {
		msgs = append(msgs, d.str("message"))
	}
	if len(msgs) != 2 || msgs[0] != "complete" || !strings.HasPrefix(msgs[1], "slo") {
		t.Errorf("messages %q, want complete and the cut slo...", msgs)
	}
}

// check-config names the new keys, from the file and from the environment.
func TestCLICheckConfigTCPFairness(t *testing.T) {
	sample, err := filepath.Abs("../../configs/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("syslog:\n  tcp:\n    max_connections_per_source: 0\n    first_frame_timeout: 10ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, nil, "check-config", bad)
	for _, key := range []string{"syslog.tcp.max_connections_per_source: 0", "syslog.tcp.first_frame_timeout: 10ms"} {
		if code == 0 || !strings.Contains(out, key) {
			t.Errorf("check-config = %d, output does not name %q:\n%s", code, key, out)
		}
	}
	out, code = runCLI(t, []string{"SLUICE_SYSLOG_TCP_FRAME_TIMEOUT=50ms"}, "check-config", sample)
	if code == 0 || !strings.Contains(out, "syslog.tcp.frame_timeout: 50ms") {
		t.Errorf("check-config with SLUICE_SYSLOG_TCP_FRAME_TIMEOUT=50ms = %d %q, want non-zero naming the key", code, out)
	}
	// The TLS listener shares the limits: a bad one is reported once, by
	// its syslog.tcp key, beside the TLS listener's own problems.
	out, code = runCLI(t, []string{"SLUICE_SYSLOG_TCP_FRAME_TIMEOUT=50ms", "SLUICE_SYSLOG_TLS_LISTEN=127.0.0.1:0",
		"SLUICE_SYSLOG_TLS_CERT_FILE=/nonexistent.pem", "SLUICE_SYSLOG_TLS_KEY_FILE=/nonexistent.key"}, "check-config", sample)
	if n := strings.Count(out, "syslog.tcp.frame_timeout"); code == 0 || n != 1 || !strings.Contains(out, "syslog.tls.cert_file") || strings.Contains(out, "syslog.tls.frame_timeout") {
		t.Errorf("check-config with TCP and TLS listeners = %d, names syslog.tcp.frame_timeout %d times, want once beside syslog.tls.cert_file:\n%s", code, n, out)
	}
}
