package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/estest"
)

// long reports whether CHAOS_LONG=1 asks for the long form.
var long = os.Getenv("CHAOS_LONG") == "1"

// scale returns short in the short form and long with CHAOS_LONG=1.
func scale[T any](short, long_ T) T {
	if long {
		return long_
	}
	return short
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// sluiceBinary builds ./cmd/sluice once per test run.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("SLUICE_E2E_BIN"); p != "" {
			binPath = p
			return
		}
		binDir, binErr = os.MkdirTemp("", "sluice-chaos-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "sluice")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sluice")
		cmd.Dir = filepath.Join("..", "..")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Figures is the accounting of one scenario, printed as one line.
type Figures struct {
	Scenario       string
	Rounds         int
	Sent           int   // sequence numbers sent
	Accepted       int64 // sluice_collector_events_total summed over runs (-1: not observable)
	Files          int   // distinct sequence numbers in the daily NDJSON files
	ES             int   // distinct sequence numbers in Elasticsearch
	DupFiles       int
	DupES          int
	DroppedCounted int64 // events sluice counted as dropped (datagrams x flows per datagram)
	InFlight       int   // sent - files when kills make it unobservable (-1: not reported)
	Extra          string
	RSSMaxMB       int
	Duration       time.Duration
}

// Lost is sent - stored - counted drops: loss no counter explains. With
// kills (InFlight reported) sent - files is in flight, and lost is what the
// files have and Elasticsearch has not.
func (f *Figures) Lost() int64 {
	if f.InFlight >= 0 {
		return int64(f.Files - f.ES)
	}
	stored := f.Files
	if f.ES > stored {
		stored = f.ES
	}
	return int64(f.Sent) - int64(stored) - f.DroppedCounted
}

func (f *Figures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos: scenario=%s rounds=%d sent=%d", f.Scenario, f.Rounds, f.Sent)
	if f.Accepted >= 0 {
		fmt.Fprintf(&b, " accepted=%d", f.Accepted)
	} else {
		b.WriteString(" accepted=n/a")
	}
	es, dupES := strconv.Itoa(f.ES), strconv.Itoa(f.DupES)
	if f.ES < 0 {
		es, dupES = "n/a", "n/a"
	}
	fmt.Fprintf(&b, " files=%d es=%s lost=%d dup_files=%d dup_es=%s dropped_counted=%d", f.Files, es, f.Lost(), f.DupFiles, dupES, f.DroppedCounted)
	if f.InFlight >= 0 {
		fmt.Fprintf(&b, " in_flight_at_kill=%d", f.InFlight)
	}
	if f.Extra != "" {
		b.WriteString(" " + f.Extra)
	}
	fmt.Fprintf(&b, " rss_max_mb=%d duration=%s", f.RSSMaxMB, f.Duration.Round(time.Second))
	return b.String()
}

// report prints the figures line once, also when the scenario fails.
// maxRSSMB bounds sluice's resident memory in every scenario (the issue's
// target for a Raspberry-Pi-class box).
const maxRSSMB = 200

func report(t *testing.T, f *Figures) {
	start := time.Now()
	t.Cleanup(func() {
		f.Duration = time.Since(start)
		fmt.Println(f.String()) // stdout, not t.Log: one greppable line, also without -v on failure
		if f.RSSMaxMB >= maxRSSMB {
			t.Errorf("sluice's RSS peaked at %d MB, want under %d MB in every scenario", f.RSSMaxMB, maxRSSMB)
		}
	})
}

// ports are the listen ports of one sluice instance; restarts keep them.
type ports struct {
	NetFlow, HTTP, SyslogUDP, SyslogTCP int
}

// distinctPorts picks the instance's ports, each different: a port closed
// a moment ago is often the kernel's next answer, and two listeners on one
// port fail sluice's config check.
func distinctPorts(t *testing.T) ports {
	t.Helper()
	for range 100 {
		p := ports{NetFlow: freePort(t, "udp"), HTTP: freePort(t, "tcp"),
			SyslogUDP: freePort(t, "udp"), SyslogTCP: freePort(t, "tcp")}
		seen := map[int]bool{p.NetFlow: true, p.HTTP: true, p.SyslogUDP: true, p.SyslogTCP: true}
		if len(seen) == 4 {
			return p
		}
	}
	t.Fatal("no four distinct free ports in 100 tries")
	return ports{}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// instance is the configuration of one sluice installation: ports, data
// directory (spool, templates, dead letters) and output directory, kept
// across restarts.
type instance struct {
	t       *testing.T
	bin     string
	ports   ports
	dataDir string
	outDir  string
	prefix  string // index and file name prefix
	esURL   string // "" for no Elasticsearch output
	env     []string
	rss     atomic.Int64 // peak VmHWM over all runs, kB
	runs    int
	logs    []string
}

func newInstance(t *testing.T, esURL string, env ...string) *instance {
	t.Helper()
	in := &instance{
		t:       t,
		bin:     sluiceBinary(t),
		ports:   distinctPorts(t),
		dataDir: t.TempDir(),
		outDir:  t.TempDir(),
		prefix:  estest.IndexName(t, "chaos"),
		esURL:   esURL,
		env:     env,
	}
	if esURL != "" {
		t.Cleanup(func() {
			u := in.esURL // a scenario may move its queries to a surviving node
			estest.DeleteIndex(t, u, in.prefix+"-*")
			estest.Do(t, http.MethodDelete, u+"/_index_template/"+in.prefix+"-*", "")
			estest.Do(t, http.MethodDelete, u+"/_component_template/"+in.prefix+"-*", "")
		})
	}
	return in
}

func (in *instance) spoolDir() string { return filepath.Join(in.dataDir, "elasticsearch-spool") }
func (in *instance) deadLetterPath() string {
	return filepath.Join(in.dataDir, "elasticsearch-dead-letter.ndjson")
}

// proc is one running sluice process.
type proc struct {
	in      *instance
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
	stopRSS chan struct{}
	rssDone chan struct{}
}

const (
	readyTimeout = 30 * time.Second
	exitTimeout  = 30 * time.Second
)

// start runs sluice and waits (bounded) until /readyz answers 200.
func (in *instance) start() *proc {
	in.t.Helper()
	p := in.launch()
	if err := p.waitReady(readyTimeout); err != nil {
		in.t.Fatalf("sluice run %d: %v; log:\n%s", in.runs, err, p.logTail(40))
	}
	return p
}

// launch starts sluice without waiting for it.
func (in *instance) launch() *proc {
	t := in.t
	t.Helper()
	in.runs++
	logPath := filepath.Join(in.dataDir, fmt.Sprintf("sluice-run-%03d.log", in.runs))
	in.logs = append(in.logs, logPath)
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// A 4 GiB address-space limit: a sluice that reads without bound (a
	// spool segment that is a symlink to /dev/zero) fails on its own
	// instead of taking the machine's memory from everyone else.
	cmd := exec.Command("/bin/sh", "-c", `ulimit -v 4194304 && exec "$0" run`, in.bin)
	cmd.Dir = in.dataDir
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("SLUICE_NETFLOW_LISTEN=127.0.0.1:%d", in.ports.NetFlow),
		"SLUICE_IPFIX_LISTEN=", "SLUICE_SFLOW_LISTEN=",
		fmt.Sprintf("SLUICE_HTTP_LISTEN=127.0.0.1:%d", in.ports.HTTP),
		fmt.Sprintf("SLUICE_SYSLOG_UDP_LISTEN=127.0.0.1:%d", in.ports.SyslogUDP),
		fmt.Sprintf("SLUICE_SYSLOG_TCP_LISTEN=127.0.0.1:%d", in.ports.SyslogTCP),
		"SLUICE_OUTPUT_FILE_DIR="+in.outDir,
		"SLUICE_DATA_DIR="+in.dataDir,
		"SLUICE_OUTPUT_INDEX_FLOWS="+in.prefix+"-flows-%{+yyyy.MM.dd}",
		"SLUICE_OUTPUT_INDEX_SYSLOG="+in.prefix+"-syslog-%{+yyyy.MM.dd}",
		"SLUICE_SHUTDOWN_TIMEOUT=10s",
		"SLUICE_SYSLOG_TIMEZONE=UTC",
	)
	if in.esURL != "" {
		cmd.Env = append(cmd.Env,
			"SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES="+in.esURL,
			"SLUICE_OUTPUT_ELASTICSEARCH_TEMPLATE_REFRESH_INTERVAL=1s",
			"SLUICE_OUTPUT_ELASTICSEARCH_RETRY_MAX_BACKOFF=1s",
		)
	}
	cmd.Env = append(cmd.Env, in.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: no sluice outlives a test binary that dies without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s run: %v", in.bin, err)
	}
	logf.Close()
	p := &proc{in: in, cmd: cmd, logPath: logPath, done: make(chan struct{}), stopRSS: make(chan struct{}), rssDone: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	go p.sampleRSS()
	t.Cleanup(func() {
		if p.alive() {
			_ = cmd.Process.Kill()
		}
		<-p.done
		<-p.rssDone
		if t.Failed() {
			t.Logf("sluice log %s, last lines:\n%s", p.logPath, p.logTail(15))
		}
	})
	return p
}

// sampleRSS keeps the peak VmHWM of the process while it runs.
func (p *proc) sampleRSS() {
	defer close(p.rssDone)
	path := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
					if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
						for {
							old := p.in.rss.Load()
							if kb <= old || p.in.rss.CompareAndSwap(old, kb) {
								break
							}
						}
					}
				}
			}
		}
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
	}
}

func (in *instance) rssMB() int { return int(in.rss.Load() / 1024) }

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", p.in.ports.HTTP, path)
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func (p *proc) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		if !p.alive() {
			return fmt.Errorf("exited before /readyz answered 200 (%v)", p.waitErr)
		}
		resp, err := httpClient.Get(p.url("/readyz"))
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("GET /readyz not 200 within %v (last: %s)", timeout, last)
}

func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "..."
		}
	}
	return strings.Join(lines, "\n")
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// term sends SIGTERM and asserts a clean exit (status 0) within
// exitTimeout. A stuck or failed exit is an error, not fatal: the scenario
// still counts what reached the stores, for its figures line.
func (p *proc) term() {
	t := p.in.t
	t.Helper()
	if !p.alive() {
		t.Fatalf("sluice exited before SIGTERM (%v); log:\n%s", p.waitErr, p.logTail(40))
	}
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			p.kill()
		}
		t.Errorf("sluice did not exit within %v of SIGTERM (stuck), killed; log:\n%s", exitTimeout, p.logTail(30))
		return
	}
	if p.waitErr != nil {
		t.Errorf("sluice exit after SIGTERM = %v after %v, want status 0; log:\n%s", p.waitErr, time.Since(start).Round(time.Millisecond), p.logTail(10))
	}
}

// checkLogs fails the test when a run's log shows a panic, a fatal error
// or a race report.
func (in *instance) checkLogs() {
	in.t.Helper()
	for _, path := range in.logs {
		b, err := os.ReadFile(path)
		if err != nil {
			in.t.Fatal(err)
		}
		for _, bad := range []string{"panic:", "panic=", "fatal error:", "WARNING: DATA RACE"} {
			if i := bytes.Index(b, []byte(bad)); i >= 0 {
				in.t.Errorf("%s has %q (want no crash):\n%.2000s", path, bad, b[max(0, i-200):])
			}
		}
	}
}

// logLines counts the lines of all runs' logs that contain s.
func (in *instance) logLines(s string) int {
	n := 0
	for _, path := range in.logs {
		b, _ := os.ReadFile(path)
		n += bytes.Count(b, []byte(s))
	}
	return n
}

// metrics is one scrape of /metrics: "name{labels}" -> value.
type metrics map[string]float64

func (p *proc) metrics() (metrics, error) {
	resp, err := httpClient.Get(p.url("/metrics"))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := metrics{}
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
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] += v
		}
	}
	return out, sc.Err()
}

func (p *proc) mustMetrics() metrics {
	p.in.t.Helper()
	m, err := p.metrics()
	if err != nil {
		p.in.t.Fatalf("scraping /metrics: %v", err)
	}
	return m
}

// sum adds every series of name whose labels contain all of the given
// label pairs (e.g. `reason="socket_buffer_full"`).
func (m metrics) sum(name string, labels ...string) int64 {
	var s float64
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(k, l) {
				ok = false
			}
		}
		if ok {
			s += v
		}
	}
	return int64(s)
}

// counted is what one run of sluice counted, read from /metrics before it
// stopped.
type counted struct {
	accepted     int64 // events decoded (collector)
	droppedPkts  int64 // datagrams dropped (socket buffer, too large)
	droppedEvts  int64 // events dropped in the pipeline or TCP drain
	pendingSets  int64 // NetFlow data sets dropped waiting for a template
	esDropped    int64 // documents the Elasticsearch output gave up (spool)
	deadLettered int64 // documents Elasticsearch refused, in the dead-letter file
	damaged      int64 // documents lost to damaged spool segments (their bytes in the dead-letter file)
	spoolLeft    int64 // documents still in the spool at the last scrape (a gauge: the last value, not a sum)
}

func (m metrics) counted() counted {
	return counted{
		accepted:     m.sum("sluice_collector_events_total"),
		droppedPkts:  m.sum("sluice_collector_packets_dropped_total"),
		droppedEvts:  m.sum("sluice_pipeline_events_dropped_total") + m.sum("sluice_collector_tcp_events_dropped_total"),
		pendingSets:  m.sum("sluice_netflow_pending_dropped_total"),
		esDropped:    m.sum("sluice_output_elasticsearch_spool_dropped_documents_total"),
		deadLettered: m.sum("sluice_output_elasticsearch_dead_letter_documents_total"),
		damaged:      m.sum("sluice_output_elasticsearch_spool_damaged_documents_total"),
		spoolLeft:    m.sum("sluice_output_elasticsearch_spool_documents"),
	}
}

func (c *counted) add(o counted) {
	c.accepted += o.accepted
	c.droppedPkts += o.droppedPkts
	c.droppedEvts += o.droppedEvts
	c.pendingSets += o.pendingSets
	c.esDropped += o.esDropped
	c.deadLettered += o.deadLettered
	c.damaged += o.damaged
	c.spoolLeft = o.spoolLeft
}

// flowsDropped converts the counters to flows: every datagram and data set
// of the load carries flowsPerPacket flows.
func (c counted) flowsDropped() int64 {
	return (c.droppedPkts+c.pendingSets)*flowsPerPacket + c.droppedEvts
}

// stopCounted scrapes /metrics and stops sluice with SIGTERM. The scrape
// comes first: the counters die with the process; what the shutdown drain
// drops after it is not in them (and shows as unexplained loss).
func (p *proc) stopCounted(into *counted) {
	p.in.t.Helper()
	if m, err := p.metrics(); err == nil {
		into.add(m.counted())
	} else {
		p.in.t.Errorf("scraping /metrics before SIGTERM: %v", err)
	}
	p.term()
}

// waitFileEvents polls /metrics until the file output wrote want events
// or nothing changed for quiet (bounded by timeout).
func (p *proc) waitFileEvents(want int64, quiet, timeout time.Duration) int64 {
	p.in.t.Helper()
	deadline := time.Now().Add(timeout)
	last, lastChange := int64(-1), time.Now()
	for {
		n := p.mustMetrics().sum("sluice_output_events_total", `output="file"`)
		if n >= want {
			return n
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		if time.Since(lastChange) > quiet || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// files tallies the sequence numbers in the daily NDJSON files whose names
// start with prefix ("" for all).
func (in *instance) files(prefix string) *Tally {
	in.t.Helper()
	tl := NewTally()
	ents, err := os.ReadDir(in.outDir)
	if err != nil {
		in.t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".ndjson") || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		// Streamed: the long form of udp-overload writes gigabytes.
		f, err := os.Open(filepath.Join(in.outDir, e.Name()))
		if err != nil {
			in.t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
		for sc.Scan() {
			if line := sc.Bytes(); len(bytes.TrimSpace(line)) > 0 {
				tl.AddLine(line)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			in.t.Fatalf("reading %s: %v", e.Name(), err)
		}
	}
	return tl
}

// esCount returns the documents in the instance's indices (0 when none).
func (in *instance) esCount() int {
	in.t.Helper()
	estest.Do(in.t, http.MethodPost, in.esURL+"/"+in.prefix+"-*/_refresh?ignore_unavailable=true&allow_no_indices=true", "")
	status, body := estest.Do(in.t, http.MethodGet, in.esURL+"/"+in.prefix+"-*/_count?ignore_unavailable=true&allow_no_indices=true", "")
	if status != http.StatusOK {
		return -1
	}
	var r struct {
		Count int `json:"count"`
	}
	_ = json.Unmarshal(body, &r)
	return r.Count
}

// waitES polls Elasticsearch until the instance's indices hold want
// documents, or their count has not changed for quiet, or timeout passes;
// it returns the last count. The caller asserts on the tally.
func (in *instance) waitES(want int, quiet, timeout time.Duration) int {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	last, lastChange := -2, time.Now()
	for {
		n := in.esCount()
		if n >= want {
			return n
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		if time.Since(lastChange) > quiet || time.Now().After(deadline) {
			return n
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// es tallies the sequence numbers of every document in the instance's
// indices (a scroll over all of them).
func (in *instance) es() *Tally {
	t := in.t
	t.Helper()
	tl := NewTally()
	estest.Do(t, http.MethodPost, in.esURL+"/"+in.prefix+"-*/_refresh?ignore_unavailable=true&allow_no_indices=true", "")
	status, body := estest.Do(t, http.MethodPost, in.esURL+"/"+in.prefix+"-*/_search?scroll=1m&ignore_unavailable=true&allow_no_indices=true",
		`{"size":5000,"sort":["_doc"],"_source":["netflow.in_bytes","message"]}`)
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	for i := 0; ; i++ {
		if status != http.StatusOK {
			t.Fatalf("scrolling %s-*: status %d: %.500s", in.prefix, status, body)
		}
		var pg page
		if err := json.Unmarshal(body, &pg); err != nil {
			t.Fatalf("scrolling %s-*: %v", in.prefix, err)
		}
		for _, h := range pg.Hits.Hits {
			tl.AddLine(h.Source)
		}
		if len(pg.Hits.Hits) == 0 || pg.ScrollID == "" || i > 10000 {
			if pg.ScrollID != "" {
				estest.Do(t, http.MethodDelete, in.esURL+"/_search/scroll", `{"scroll_id":"`+pg.ScrollID+`"}`)
			}
			return tl
		}
		status, body = estest.Do(t, http.MethodPost, in.esURL+"/_search/scroll", `{"scroll":"1m","scroll_id":"`+pg.ScrollID+`"}`)
	}
}

// indices returns the names of the instance's indices.
func (in *instance) indices() []string {
	in.t.Helper()
	status, body := estest.Do(in.t, http.MethodGet, in.esURL+"/_cat/indices/"+in.prefix+"-*?h=index&expand_wildcards=all", "")
	if status != http.StatusOK {
		in.t.Fatalf("_cat/indices: %d %s", status, body)
	}
	return strings.Fields(string(body))
}

// flowsPerPacket is the number of flows in every data datagram of the load.
const flowsPerPacket = 30

// flowLoad sends NetFlow v9 at a fixed rate from one exporter socket,
// numbering flows from 1. It pauses while sluice is restarted.
type flowLoad struct {
	conn    *net.UDPConn
	dst     *net.UDPAddr
	v9      V9
	pps     int
	next    atomic.Uint64 // next sequence number
	paused  atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	sendErr atomic.Int64
	packets int
}

// startFlowLoad starts sending pps datagrams per second to port.
func startFlowLoad(t *testing.T, port, pps int) *flowLoad {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := &flowLoad{conn: c, dst: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, v9: V9{SourceID: 7, TemplateID: 300},
		pps: pps, stop: make(chan struct{}), done: make(chan struct{})}
	l.next.Store(1)
	go l.run()
	t.Cleanup(func() { l.halt(); c.Close() })
	return l
}

func (l *flowLoad) run() {
	defer close(l.done)
	const tick = 10 * time.Millisecond
	tk := time.NewTicker(tick)
	defer tk.Stop()
	start := time.Now()
	sent := 0
	seqs := make([]uint64, flowsPerPacket)
	for {
		select {
		case <-l.stop:
			return
		case <-tk.C:
		}
		due := int(time.Since(start).Seconds() * float64(l.pps))
		if l.paused.Load() {
			sent = due // no catching up after a pause
			continue
		}
		for ; sent < due; sent++ {
			l.sendOne(seqs)
		}
	}
}

func (l *flowLoad) sendOne(seqs []uint64) {
	first := l.next.Load()
	for i := range seqs {
		seqs[i] = first + uint64(i)
	}
	pkt := l.v9.Packet(time.Now(), l.packets%16 == 0, seqs)
	l.packets++
	l.next.Store(first + uint64(len(seqs)))
	if _, err := l.conn.WriteToUDP(pkt, l.dst); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
		l.sendErr.Add(1)
	}
}

// halt stops the sender for good; sent is final afterwards.
func (l *flowLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

func (l *flowLoad) pause()  { l.paused.Store(true) }
func (l *flowLoad) resume() { l.paused.Store(false) }

// sent returns how many flows have been sent.
func (l *flowLoad) sent() int { return int(l.next.Load() - 1) }

// flush sends a template-only datagram: the socket drop counter
// (SO_RXQ_OVFL) only reaches sluice with a datagram read after the drops.
func (l *flowLoad) flush() {
	_, _ = l.conn.WriteToUDP(l.v9.Packet(time.Now(), true, nil), l.dst)
}

// waitAccepted polls /metrics until sluice has decoded want events (and
// counted drops make up the rest) or nothing changed for quiet.
func (p *proc) waitSettled(want int64, quiet, timeout time.Duration) counted {
	p.in.t.Helper()
	deadline := time.Now().Add(timeout)
	var last counted
	lastChange := time.Now()
	for {
		m, err := p.metrics()
		if err != nil {
			p.in.t.Fatalf("scraping /metrics: %v", err)
		}
		c := m.counted()
		if c.accepted+c.flowsDropped() >= want {
			return c
		}
		if c != last {
			last, lastChange = c, time.Now()
		}
		if time.Since(lastChange) > quiet || time.Now().After(deadline) {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// esURLOrSkip returns the shared node's URL after checking the distribution
// for private nodes; it skips the suite with the reason (fails under
// CI=true) when Elasticsearch is not available locally.
func esURLOrSkip(t *testing.T) string {
	t.Helper()
	url := estest.URL(t)
	if os.Getenv("SLUICE_TEST_ES_HOME") == "" {
		estest.Unavailable(t, "SLUICE_TEST_ES_HOME is not set; the chaos suite starts private Elasticsearch nodes from it (run ./scripts/test)")
	}
	return url
}
