package main_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// sseStream reads server-sent events from a live tail in a goroutine.
type sseStream struct {
	events chan sseEvent
	body   io.Closer
}

type sseEvent struct{ typ, data string }

func openSSE(t *testing.T, url string) *sseStream {
	t.Helper()
	resp, err := http.Get(url) // no timeout: the stream stays open
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET %s = %s %q: %s", url, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	s := &sseStream{events: make(chan sseEvent, 100000), body: resp.Body}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		r := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev.typ != "" || ev.data != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(func() {
		resp.Body.Close()
		<-done
	})
	return s
}

// waitMetric polls /metrics until the sum of name reaches want.
func (p *sluiceProc) waitMetric(name string, want float64) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := metricSum(p.metrics(), name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsoleTailEndToEnd: a tail client with a filter gets the matching
// syslog line sent with logger, JSON-escaped, and not the others; the data
// endpoints answer 503 without a backend while meta and health work.
func TestConsoleTailEndToEnd(t *testing.T) {
	loggerBin := requireTool(t, "logger", "bsdutils")
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})
	tail := openSSE(t, s.url("/api/v1/tail?kind=syslog&filter=message:wanted"))
	s.waitMetric("sluice_console_tail_clients", 1)

	const hostile = `wanted </script><img src=x onerror=alert(1)> one`
	for _, msg := range []string{"other line one", hostile, "other line two", "wanted two"} {
		runCmd(t, t.TempDir(), 10*time.Second, false, loggerBin, "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), "-t", "sluicetest", msg)
	}
	got := map[string]string{}
	deadline := time.After(15 * time.Second)
	for len(got) < 2 {
		select {
		case ev, ok := <-tail.events:
			if !ok {
				t.Fatalf("tail ended after %d documents", len(got))
			}
			if ev.typ != "" {
				continue
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
				t.Fatalf("tail data %q: %v", ev.data, err)
			}
			msg, _ := d["message"].(string)
			if !strings.HasPrefix(msg, "wanted") {
				t.Errorf("tail sent %q, which does not match message:wanted", msg)
			}
			got[msg] = ev.data
		case <-deadline:
			t.Fatalf("tail got %d of 2 matching lines within 15s: %v", len(got), got)
		}
	}
	raw, ok := got[hostile]
	if !ok {
		t.Fatalf("hostile line not received: %v", got)
	}
	if strings.ContainsAny(raw, "<>") || !strings.Contains(raw, `\u003c/script\u003e\u003cimg`) {
		t.Errorf("tail line not JSON-escaped: %s", raw)
	}

	for path, want := range map[string]int{
		// Without Elasticsearch the rollups and the daily files answer.
		"/api/v1/meta": 200, "/api/v1/health": 200, "/api/v1/events?kind=syslog": 200, "/api/v1/series?kind=flows": 200,
		"/api/v1/top?kind=flows&dim=nope": 400,
	} {
		resp, err := httpClient.Get(s.url(path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d %s, want %d", path, resp.StatusCode, body, want)
		}
		if strings.HasPrefix(path, "/api/v1/events") && !strings.Contains(string(body), `"message":"wanted two"`) {
			t.Errorf("GET %s = %s, want the lines sent", path, body)
		}
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
	}
	resp, err := http.Post(s.url("/api/v1/meta"), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/v1/meta = %d, want 405", resp.StatusCode)
	}

	// SIGTERM ends the stream with an end event, and sluice exits cleanly
	// while a tail is open.
	s.terminate()
	ended := false
	for ev := range tail.events {
		if ev.typ == "end" {
			ended = true
		}
	}
	if !ended {
		t.Error("tail closed without an end event at shutdown")
	}
	s.waitExit()
}

// TestConsoleTailDoesNotSlowPipeline: lines sent over TCP syslog far
// faster than the tail's 200 documents/s all reach the file output; a tail
// client that reads is told of every document it missed (sent + dropped =
// lines), and one that never reads costs the pipeline nothing.
func TestConsoleTailDoesNotSlowPipeline(t *testing.T) {
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})
	reader := openSSE(t, s.url("/api/v1/tail?kind=syslog"))
	// A client that never reads its stream.
	stuck, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ps.HTTP))
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	if _, err := fmt.Fprintf(stuck, "GET /api/v1/tail HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	s.waitMetric("sluice_console_tail_clients", 2)

	const n = 5000
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ps.SyslogTCP))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(conn)
	ts := time.Now().UTC().Format(time.RFC3339)
	for i := range n {
		fmt.Fprintf(w, "<14>1 %s host app - - - tail load line %d\n", ts, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	var sent, dropped int
	deadline := time.After(30 * time.Second)
	for sent+dropped < n {
		select {
		case ev, ok := <-reader.events:
			if !ok {
				t.Fatalf("tail ended at %d sent + %d dropped", sent, dropped)
			}
			switch ev.typ {
			case "":
				sent++
			case "dropped":
				var d struct{ Dropped int }
				if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
					t.Fatalf("dropped event %q: %v", ev.data, err)
				}
				dropped += d.Dropped
			}
		case <-deadline:
			t.Fatalf("tail accounted for %d sent + %d dropped of %d lines within 30s", sent, dropped, n)
		}
	}
	if sent+dropped != n || dropped == 0 {
		t.Errorf("reading client: %d sent + %d dropped, want %d with some dropped (200/s limit)", sent, dropped, n)
	}
	s.waitMetric("sluice_pipeline_events_out_total", n)
	m := s.metrics()
	if d, _ := metricSum(m, "sluice_console_tail_dropped_total"); d < float64(dropped) {
		t.Errorf("sluice_console_tail_dropped_total = %v, the reading client alone was told of %d\n%s", d, dropped, metricLines(m, "sluice_console_"))
	}
	t.Logf("reading client: %d sent, %d dropped; %s", sent, dropped, strings.ReplaceAll(metricLines(m, "sluice_console_tail_dropped"), "\n", "; "))
	s.stop()
	if docs := syslogDocs(t, s.opts.OutDir); len(docs) != n {
		t.Errorf("%d documents in the files, sent %d lines", len(docs), n)
	}
}

// TestConsoleOpenHTTPRefused: binding http.listen beyond loopback without
// http.auth is refused by check-config and run alike, naming the keys; the
// opt-out and credentials make it pass.
func TestConsoleOpenHTTPRefused(t *testing.T) {
	bad := writeCheckConfig(t, "http:\n  listen: 0.0.0.0:0\n")
	for _, args := range [][]string{{"check-config", bad}, {"run", "-c", bad}} {
		out, code := runCLITimeout(t, 20*time.Second, args...)
		if code == 0 {
			t.Errorf("sluice %v exit 0, want non-zero; output:\n%s", args, out)
		}
		for _, want := range []string{`http.listen: "0.0.0.0:0" is reachable from other hosts`, "http.auth.basic_user", "http.auth.bearer_token_file", "http.allow_unauthenticated: true"} {
			if !strings.Contains(out, want) {
				t.Errorf("sluice %v output lacks %q:\n%s", args, want, out)
			}
		}
	}
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, extra := range []string{
		"http:\n  listen: 0.0.0.0:0\n  allow_unauthenticated: true\n",
		"http:\n  listen: 0.0.0.0:0\n  auth:\n    bearer_token_file: " + tok + "\n",
	} {
		path := writeCheckConfig(t, extra)
		if out, code := runCLITimeout(t, 20*time.Second, "check-config", path); code != 0 {
			t.Errorf("check-config with %q = %d:\n%s", extra, code, out)
		}
	}
}

// startSecured runs `sluice run` with env added (credentials, TLS) and
// waits until /healthz, which needs none, answers 200 through client at
// scheme://127.0.0.1:port. It stops sluice (SIGTERM, clean exit) at the
// end of the test.
func startSecured(t *testing.T, client *http.Client, scheme string, env ...string) (base string, ps ports) {
	t.Helper()
	ps = newPorts(t)
	dir := t.TempDir()
	cmd := exec.Command(sluiceBin, "run")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("SLUICE_NETFLOW_LISTEN=127.0.0.1:%d", ps.NetFlow),
		fmt.Sprintf("SLUICE_IPFIX_LISTEN=127.0.0.1:%d", ps.IPFIX),
		fmt.Sprintf("SLUICE_SFLOW_LISTEN=127.0.0.1:%d", ps.SFlow),
		fmt.Sprintf("SLUICE_SYSLOG_UDP_LISTEN=127.0.0.1:%d", ps.SyslogUDP),
		fmt.Sprintf("SLUICE_SYSLOG_TCP_LISTEN=127.0.0.1:%d", ps.SyslogTCP),
		fmt.Sprintf("SLUICE_HTTP_LISTEN=127.0.0.1:%d", ps.HTTP),
		"SLUICE_OUTPUT_FILE_DIR="+filepath.Join(dir, "out"),
		"SLUICE_DATA_DIR="+filepath.Join(dir, "data"),
	)
	cmd.Env = append(cmd.Env, env...)
	logf, err := os.Create(filepath.Join(dir, "sluice.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	logf.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("sluice exit: %v", err)
			}
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("sluice did not stop within its timeout")
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("sluice log:\n%s", b)
		}
	})
	base = fmt.Sprintf("%s://127.0.0.1:%d", scheme, ps.HTTP)
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, ps
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not 200 within %v (%v)", readyTimeout, err)
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("sluice exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type authCase struct {
	path string
	set  func(*http.Request)
	want int
}

func checkAuth(t *testing.T, client *http.Client, base string, cases []authCase) {
	t.Helper()
	for i, tc := range cases {
		req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
		if tc.set != nil {
			tc.set(req)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("case %d: GET %s = %d, want %d", i, tc.path, resp.StatusCode, tc.want)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("case %d: GET %s: no X-Frame-Options", i, tc.path)
		}
	}
}

// TestConsoleAuthEndToEnd: with basic auth configured through SLUICE_*
// variables, the running binary asks for it on the API, /metrics and
// /readyz but not on /healthz.
func TestConsoleAuthEndToEnd(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("console pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	base, ps := startSecured(t, httpClient, "http", "SLUICE_HTTP_AUTH_BASIC_USER=admin", "SLUICE_HTTP_AUTH_BASIC_PASSWORD_HASH="+string(hash))
	as := func(user, pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}
	checkAuth(t, httpClient, base, []authCase{
		{"/api/v1/meta", nil, 401},
		{"/metrics", nil, 401},
		{"/readyz", nil, 401},
		{"/api/v1/meta", as("admin", "wrong"), 401},
		{"/api/v1/meta", as("admin", "console pw"), 200},
		{"/metrics", as("admin", "console pw"), 200},
	})
	// sluice status: credentials in the URL; without them it says how.
	if out, code := runCLITimeout(t, 20*time.Second, "status", "--once", "--url", fmt.Sprintf("http://admin:console%%20pw@127.0.0.1:%d", ps.HTTP)); code != 0 {
		t.Errorf("sluice status with credentials = %d:\n%s", code, out)
	}
	out, code := runCLITimeout(t, 20*time.Second, "status", "--once", "--url", base)
	if code == 0 || !strings.Contains(out, "asks for credentials (http.auth)") {
		t.Errorf("sluice status without credentials = %d:\n%s", code, out)
	}
}

// TestConsoleTLSBearerEndToEnd: HTTPS with a certificate made here and a
// bearer token file, both from SLUICE_* variables.
func TestConsoleTLSBearerEndToEnd(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, dir)
	const token = "0123456789abcdef0123456789abcdef"
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base, ps := startSecured(t, client, "https", "SLUICE_HTTP_TLS_CERT_FILE="+certFile, "SLUICE_HTTP_TLS_KEY_FILE="+keyFile,
		"SLUICE_HTTP_AUTH_BEARER_TOKEN_FILE="+tokFile)
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	checkAuth(t, client, base, []authCase{
		{"/api/v1/meta", nil, 401},
		{"/api/v1/meta", bearer("nope-nope-nope-nope"), 401},
		{"/api/v1/meta", bearer(token), 200},
		{"/api/v1/health", bearer(token), 200},
		{"/metrics", bearer(token), 200},
	})
	// sluice status with the service's config: it asks over HTTPS,
	// trusts the configured certificate and sends the token.
	cfgFile := filepath.Join(dir, "status.yaml")
	cfg := fmt.Sprintf("http:\n  listen: 127.0.0.1:%d\n  tls:\n    cert_file: %s\n    key_file: %s\n  auth:\n    bearer_token_file: %s\n", ps.HTTP, certFile, keyFile, tokFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runCLITimeout(t, 20*time.Second, "status", "--once", "--watch", "200ms", "-c", cfgFile); code != 0 || !strings.Contains(out, "https://127.0.0.1:") {
		t.Errorf("sluice status -c (HTTPS, bearer token file) = %d:\n%s", code, out)
	}
	// Without the token file it is refused and told how.
	noTok := filepath.Join(dir, "status-notoken.yaml")
	if err := os.WriteFile(noTok, []byte(fmt.Sprintf("http:\n  listen: 127.0.0.1:%d\n  tls:\n    cert_file: %s\n    key_file: %s\n", ps.HTTP, certFile, keyFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runCLITimeout(t, 20*time.Second, "status", "--once", "-c", noTok); code == 0 || !strings.Contains(out, "bearer_token_file") {
		t.Errorf("sluice status without the token = %d:\n%s", code, out)
	}
	// Plain HTTP on the HTTPS port gets nothing of the API.
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/meta", ps.HTTP))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS listener = %d, want 400", resp.StatusCode)
		}
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// and returns their paths and a pool that trusts it.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sluice e2e"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
