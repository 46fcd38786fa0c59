// End-to-end tests: they build the sluice binary once, run it as a process
// configured only by SLUICE_* environment variables, feed it real UDP
// datagrams (from softflowd, and hand-built NetFlow v9 / IPFIX / sFlow
// packets), stop it with SIGTERM and read the daily NDJSON files it wrote.
//
// External exporters (softflowd, nfcapd/nfdump) are optional locally and
// required under CI=true.
package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	// sluiceBin is the binary built once by TestMain.
	sluiceBin string
	// buildFlags are extra `go build` flags (-race under -race).
	buildFlags []string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	// SLUICE_E2E_BIN runs the suite against an already built binary.
	sluiceBin = os.Getenv("SLUICE_E2E_BIN")
	if sluiceBin == "" {
		sluiceBin = filepath.Join(dir, "sluice")
		build := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", sluiceBin, ".")...)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: go build ./cmd/sluice failed:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	readyTimeout = 15 * time.Second
	stopTimeout  = 15 * time.Second
)

// requireTool returns the path of an external program, skipping the test
// when it is missing locally and failing it under CI.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() {
			return filepath.Join(dir, name)
		}
	}
	msg := fmt.Sprintf("%s not found in PATH or /usr/sbin; install Debian package %s (apt-get install %s)", name, pkg, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("skipped, external program missing (CI=true makes this a failure): " + msg)
	return ""
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// freeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ports are the listen ports of one sluice instance.
type ports struct {
	NetFlow, IPFIX, SFlow, HTTP int
	SyslogUDP, SyslogTCP        int
}

// newPorts picks six distinct free ports: the sockets that find them stay
// open until all are found, since a port closed a moment ago is often the
// kernel's next answer (two listeners on one port fail sluice's config
// check).
func newPorts(t *testing.T) ports {
	t.Helper()
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	seen := map[int]bool{}
	pick := func(network string) int {
		for range 100 {
			var port int
			if network == "udp" {
				c, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				closers, port = append(closers, c), c.LocalAddr().(*net.UDPAddr).Port
			} else {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				closers, port = append(closers, l), l.Addr().(*net.TCPAddr).Port
			}
			if !seen[port] {
				seen[port] = true
				return port
			}
		}
		t.Fatalf("no distinct free %s port in 100 tries", network)
		return 0
	}
	return ports{NetFlow: pick("udp"), IPFIX: pick("udp"), SFlow: pick("udp"), HTTP: pick("tcp"),
		SyslogUDP: pick("udp"), SyslogTCP: pick("tcp")}
}

// sluiceOpts configures one run of the binary.
type sluiceOpts struct {
	Ports   ports
	OutDir  string // SLUICE_OUTPUT_FILE_DIR; a new temp dir when empty
	DataDir string // SLUICE_DATA_DIR; a new temp dir when empty
	Env     []string
	Args    []string // after "run", e.g. --config FILE
	Bin     string   // the binary; sluiceBin when empty
	Wrap    []string // command line the binary runs under, e.g. setpriv --reuid=N
	Dir     string   // working directory; a new temp dir when empty
}

// sluiceProc is one running sluice process.
type sluiceProc struct {
	t       *testing.T
	opts    sluiceOpts
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
	stopped bool      // SIGTERM sent
	termAt  time.Time // when
}

// startSluice runs `sluice run` and waits until GET /readyz answers 200.
func startSluice(t *testing.T, opts sluiceOpts) *sluiceProc {
	t.Helper()
	if opts.OutDir == "" {
		opts.OutDir = t.TempDir()
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	logf, err := os.CreateTemp(t.TempDir(), "sluice-*.log")
	if err != nil {
		t.Fatal(err)
	}
	bin := sluiceBin
	if opts.Bin != "" {
		bin = opts.Bin
	}
	argv := append(append(append([]string{}, opts.Wrap...), bin, "run"), opts.Args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = opts.Dir
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir()
	}
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("SLUICE_NETFLOW_LISTEN=127.0.0.1:%d", opts.Ports.NetFlow),
		fmt.Sprintf("SLUICE_IPFIX_LISTEN=127.0.0.1:%d", opts.Ports.IPFIX),
		fmt.Sprintf("SLUICE_SFLOW_LISTEN=127.0.0.1:%d", opts.Ports.SFlow),
		fmt.Sprintf("SLUICE_HTTP_LISTEN=127.0.0.1:%d", opts.Ports.HTTP),
		fmt.Sprintf("SLUICE_SYSLOG_UDP_LISTEN=127.0.0.1:%d", opts.Ports.SyslogUDP),
		fmt.Sprintf("SLUICE_SYSLOG_TCP_LISTEN=127.0.0.1:%d", opts.Ports.SyslogTCP),
		"SLUICE_OUTPUT_FILE_DIR="+opts.OutDir,
		"SLUICE_DATA_DIR="+opts.DataDir,
		"SLUICE_SHUTDOWN_TIMEOUT=10s",
	)
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s run: %v", sluiceBin, err)
	}
	logf.Close() // the child has its own descriptor
	p := &sluiceProc{t: t, opts: opts, cmd: cmd, logPath: logf.Name(), done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("sluice log (%s), last lines:\n%s", p.logPath, p.logTail(40))
		}
	})
	p.waitReady()
	return p
}

// logTail returns the last n lines the process wrote.
func (p *sluiceProc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *sluiceProc) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", p.opts.Ports.HTTP, path)
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// waitReady polls /readyz until it answers 200, the process exits or the
// deadline passes.
func (p *sluiceProc) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(readyTimeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.t.Fatalf("sluice exited before /readyz answered (%v); log:\n%s", p.waitErr, p.logTail(40))
		default:
		}
		resp, err := httpClient.Get(p.url("/readyz"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.t.Fatalf("GET /readyz not 200 within %v (last: %s); log:\n%s", readyTimeout, last, p.logTail(40))
}

// alive reports whether the process is still running.
func (p *sluiceProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and asserts a clean exit (status 0) within stopTimeout.
func (p *sluiceProc) stop() {
	p.t.Helper()
	p.terminate()
	p.waitExit()
}

// terminate sends SIGTERM once.
func (p *sluiceProc) terminate() {
	p.t.Helper()
	if p.stopped {
		return
	}
	p.stopped = true
	if !p.alive() {
		p.t.Fatalf("sluice exited before SIGTERM (%v); log:\n%s", p.waitErr, p.logTail(40))
	}
	p.termAt = time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would.
func (p *sluiceProc) kill() {
	p.t.Helper()
	p.stopped = true
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("SIGKILL: %v", err)
	}
	<-p.done
}

// waitExit asserts that the process exits with status 0 within stopTimeout of SIGTERM.
func (p *sluiceProc) waitExit() {
	p.t.Helper()
	start := p.termAt
	select {
	case <-p.done:
	case <-time.After(time.Until(start.Add(stopTimeout))):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // goroutine dump into the log
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.t.Fatalf("sluice did not exit within %v of SIGTERM; log:\n%s", stopTimeout, p.logTail(80))
	}
	if p.waitErr != nil {
		p.t.Fatalf("sluice exit after SIGTERM = %v (want status 0, after %v); log:\n%s", p.waitErr, time.Since(start).Round(time.Millisecond), p.logTail(40))
	}
	p.t.Logf("sluice stopped in %v", time.Since(start).Round(time.Millisecond))
	p.checkLog()
}

// checkLog fails the test when the process log shows a panic (recovered
// ones included), a Go runtime fatal error or a race detector report.
func (p *sluiceProc) checkLog() {
	p.t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, bad := range []string{"panic:", "panic=", "fatal error:", "WARNING: DATA RACE"} {
		if i := bytes.Index(b, []byte(bad)); i >= 0 {
			p.t.Errorf("sluice log has %q:\n%.3000s", bad, b[max(0, i-200):])
		}
	}
}

// metrics scrapes /metrics and returns every sample as "name{labels}" -> value.
func (p *sluiceProc) metrics() map[string]float64 {
	p.t.Helper()
	resp, err := httpClient.Get(p.url("/metrics"))
	if err != nil {
		p.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] += v
	}
	if err := sc.Err(); err != nil {
		p.t.Fatalf("read /metrics: %v", err)
	}
	return out
}

// metricSum adds every series of the named metric.
func metricSum(m map[string]float64, name string) (float64, bool) {
	var sum float64
	found := false
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			sum += v
			found = true
		}
	}
	return sum, found
}

// metricLines returns the series of the metrics whose name starts with prefix, sorted, for messages.
func metricLines(m map[string]float64, prefix string) string {
	var lines []string
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			lines = append(lines, fmt.Sprintf("%s %g", k, v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// doc is one NDJSON document with the name of the file it came from.
type doc struct {
	File string
	M    map[string]any
	Raw  string
}

var dailyName = regexp.MustCompile(`^sluice-flows-(\d{4})\.(\d{2})\.(\d{2})\.ndjson$`)

// readDocs reads every line of every file in dir. Each line must be a JSON
// object; every file must be named sluice-flows-YYYY.MM.DD.ndjson.
func readDocs(t *testing.T, dir string) []doc {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read output dir: %v", err)
	}
	var docs []doc
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if !dailyName.MatchString(e.Name()) {
			t.Errorf("output dir has %q, want only sluice-flows-YYYY.MM.DD.ndjson files", e.Name())
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s: last line not terminated by a newline (torn write?)", e.Name())
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Errorf("%s:%d: json.Unmarshal() = %v; line: %.300s", e.Name(), i+1, err, line)
				continue
			}
			if dec.More() {
				t.Errorf("%s:%d: more than one JSON value on the line: %.300s", e.Name(), i+1, line)
			}
			docs = append(docs, doc{File: e.Name(), M: m, Raw: string(line)})
		}
	}
	return docs
}

// get walks a dotted path through nested objects; it also accepts a flat
// key holding dots at any level ("netflow.in_bytes" written flat).
func (d doc) get(path string) (any, bool) {
	return lookup(d.M, path)
}

func lookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		sub, ok := m[path[:i]].(map[string]any)
		if !ok {
			continue
		}
		if v, ok := lookup(sub, path[i+1:]); ok {
			return v, true
		}
	}
	return nil, false
}

// str returns a field as a string (numbers formatted), "" when absent.
func (d doc) str(path string) string {
	v, ok := d.get(path)
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// num returns a numeric field (JSON number or numeric string).
func (d doc) num(path string) (uint64, bool) {
	v, ok := d.get(path)
	if !ok {
		return 0, false
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// time parses an RFC 3339 time field.
func (d doc) time(path string) (time.Time, error) {
	s := d.str(path)
	if s == "" {
		return time.Time{}, fmt.Errorf("%s missing", path)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// checkDaily asserts that each document sits in the daily file of the UTC
// day of its @timestamp.
func checkDaily(t *testing.T, docs []doc) {
	t.Helper()
	bad := 0
	for _, d := range docs {
		ts, err := d.time("@timestamp")
		if err != nil {
			t.Errorf("%s: @timestamp: %v in %.300s", d.File, err, d.Raw)
			bad++
		} else if want := "sluice-flows-" + ts.UTC().Format("2006.01.02") + ".ndjson"; d.File != want {
			t.Errorf("document with @timestamp %s is in %s, want %s", d.str("@timestamp"), d.File, want)
			bad++
		}
		if bad > 5 {
			t.Fatalf("too many daily-file errors")
		}
	}
}

// udpSender sends datagrams from one local socket (one exporter address).
type udpSender struct {
	t    *testing.T
	conn *net.UDPConn
}

func newUDPSender(t *testing.T) *udpSender {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpSender{t: t, conn: c}
}

func (s *udpSender) send(port int, b []byte) {
	s.t.Helper()
	if _, err := s.conn.WriteToUDP(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
		// ECONNREFUSED from an earlier ICMP port unreachable is not a send failure.
		if !errors.Is(err, syscall.ECONNREFUSED) {
			s.t.Fatalf("send to %d: %v", port, err)
		}
	}
}

// runCmd runs an external program in dir (when not empty) with a deadline
// and returns its standard output, with standard error mixed in unless
// stdoutOnly (for output that is parsed). Failures show both.
func runCmd(t *testing.T, dir string, timeout time.Duration, stdoutOnly bool, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if stdoutOnly {
		cmd.Stderr = &stderr
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %v; output:\n%s%s", name, strings.Join(args, " "), timeout, &stdout, &stderr)
	}
	if err != nil {
		t.Fatalf("%s %s: %v; output:\n%s%s", name, strings.Join(args, " "), err, &stdout, &stderr)
	}
	return stdout.String()
}
