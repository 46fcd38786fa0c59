package collector

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/sluicelab/sluice/internal/event"
)

// recDecoder records every frame it is given and turns it into one event.
// "PANIC" panics and "ERR" returns a DecodeError, after being recorded.
type recDecoder struct {
	mu        sync.Mutex
	frames    []recFrame
	listeners map[string]int // Packet.Listener seen
}

type recFrame struct {
	Src       netip.AddrPort
	Data      string
	Truncated bool
}

func (d *recDecoder) Decode(p *Packet, b *event.Batch) error {
	d.mu.Lock()
	d.frames = append(d.frames, recFrame{p.Src, string(p.Data), p.Truncated})
	if d.listeners == nil {
		d.listeners = map[string]int{}
	}
	d.listeners[p.Listener]++
	d.mu.Unlock()
	switch string(p.Data) {
	case "PANIC":
		b.Add()
		panic("boom")
	case "ERR":
		return Errorf("bad_header", "not syslog")
	}
	e := b.Add()
	e.Kind = event.KindSyslog
	e.Observer = p.Src.Addr()
	e.Created = p.Received
	return nil
}

// from returns the frames of one client connection, in decode order.
func (d *recDecoder) from(c net.Conn) []string {
	src := c.LocalAddr().(*net.TCPAddr).AddrPort()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, f := range d.frames {
		if f.Src == src {
			out = append(out, f.Data)
		}
	}
	return out
}

func (d *recDecoder) all() []recFrame {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]recFrame(nil), d.frames...)
}

func (d *recDecoder) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.frames)
}

// sink drains out like the pipeline would and counts what it got.
type sink struct {
	events, truncated atomic.Int64
	done              chan struct{}
}

func newSink(out <-chan *event.Batch, delay time.Duration) *sink {
	s := &sink{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for b := range out {
			for _, e := range b.All() {
				if e.Tags.Has(event.TagTruncated) {
					s.truncated.Add(1)
				}
			}
			s.events.Add(int64(b.Len()))
			b.Release()
			time.Sleep(delay)
		}
	}()
	return s
}

type tcpHarness struct {
	t    *testing.T
	reg  *prometheus.Registry
	tcp  *TCP
	dec  *recDecoder
	sink *sink
	stop func() error
	addr string
}

// startTCP runs a TCP listener on 127.0.0.1 with a recDecoder; stop (also
// run at cleanup) cancels it, waits for Run and drains the sink.
func startTCP(t *testing.T, cfg TCPConfig, outCap int, sinkDelay time.Duration) *tcpHarness {
	t.Helper()
	return startTCPLog(t, cfg, outCap, sinkDelay, slog.New(slog.DiscardHandler))
}

// startTCPLog is startTCP with a logger.
func startTCPLog(t *testing.T, cfg TCPConfig, outCap int, sinkDelay time.Duration, logger *slog.Logger) *tcpHarness {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	dec := &recDecoder{}
	reg := prometheus.NewRegistry()
	tcp, err := NewTCP("syslog", cfg, dec, NewMetrics(reg), logger)
	if err != nil {
		t.Fatalf("NewTCP: %v", err)
	}
	out := make(chan *event.Batch, outCap)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tcp.Run(ctx, out) }()
	h := &tcpHarness{t: t, reg: reg, tcp: tcp, dec: dec, sink: newSink(out, sinkDelay), addr: tcp.Addrs()[0].String()}
	var once sync.Once
	var runErr error
	h.stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
			close(out)
			<-h.sink.done
		})
		return runErr
	}
	t.Cleanup(func() { _ = h.stop() })
	waitFor(t, "Ready()", tcp.Ready)
	return h
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *tcpHarness) dial() net.Conn {
	h.t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func (h *tcpHarness) metric(c *prometheus.CounterVec, labels ...string) float64 {
	return testutil.ToFloat64(c.WithLabelValues(append([]string{"syslog"}, labels...)...))
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// expectClosed waits until the server closes c (read returns EOF or a reset).
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server did not close the connection")
	}
}

func lines(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestTCPNewlineAndOctetCounting(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	h := startTCP(t, DefaultTCP(), 64, 0)
	lf, oc := h.dial(), h.dial()
	want := lines("<13>1 - host app - - - message ", 500)
	var lfData, ocData strings.Builder
	for i, l := range want {
		lfData.WriteString(l)
		lfData.WriteString([]string{"\n", "\r\n"}[i%2])
		fmt.Fprintf(&ocData, "%d %s", len(l), l)
	}
	// Split the writes at awkward places.
	for _, part := range []struct {
		c net.Conn
		s string
	}{{lf, lfData.String()}, {oc, ocData.String()}} {
		for s := part.s; len(s) > 0; {
			n := min(len(s), 1+mrand.IntN(3000))
			write(t, part.c, s[:n])
			s = s[n:]
		}
	}
	waitFor(t, "1000 frames", func() bool { return h.dec.count() == 1000 })
	h.dec.mu.Lock()
	if l := h.dec.listeners; len(l) != 1 || l["tcp/127.0.0.1:0"] != 1000 {
		t.Errorf("Packet.Listener values %v, want tcp/127.0.0.1:0 (transport and address as configured) on all 1000", l)
	}
	h.dec.mu.Unlock()
	for _, c := range []net.Conn{lf, oc} {
		if diff := cmp.Diff(h.dec.from(c), want); diff != "" {
			t.Errorf("frames of %s (-got +want):\n%s", c.LocalAddr(), diff)
		}
	}
	lf.Close()
	oc.Close()
	waitFor(t, "connections closed", func() bool { return h.tcp.Connections() == 0 })
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	m := h.tcp.m
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"frames newline", h.metric(m.tcpFrames, "newline"), 500},
		{"frames octet_counted", h.metric(m.tcpFrames, "octet_counted"), 500},
		{"connections_accepted_total", testutil.ToFloat64(m.tcpAccepted.WithLabelValues("syslog", h.addr)), 2},
		{"closed eof", h.metric(m.tcpClosed, "eof"), 2},
		{"events", h.metric(m.events), 1000},
		{"sender frames", h.metric(m.exporterPkts, "127.0.0.1"), 1000},
		{"sender bytes", h.metric(m.exporterByts, "127.0.0.1"), float64(2 * (len(strings.Join(want, ""))))},
		{"bytes received", testutil.ToFloat64(m.bytes.WithLabelValues("syslog", h.addr)), float64(lfData.Len() + ocData.Len())},
		{"open connections", testutil.ToFloat64(m.tcpConns.WithLabelValues("syslog", h.addr)), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := h.sink.events.Load(); got != 1000 {
		t.Errorf("events delivered = %d, want 1000", got)
	}
	if _, err := h.reg.Gather(); err != nil {
		t.Errorf("Gather: %v", err)
	}
}

// One address sending two protocols keeps two sets of per-sender counters.
func TestExporterCountersPerProtocol(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	a := netip.MustParseAddr("192.0.2.1")
	m.countExporter("netflow", a, 100)
	m.countExporter("syslog", a, 10)
	m.countExporter("syslog", a, 10)
	for _, c := range []struct {
		protocol     string
		pkts, nbytes float64
	}{{"netflow", 1, 100}, {"syslog", 2, 20}} {
		if got := testutil.ToFloat64(m.exporterPkts.WithLabelValues(c.protocol, "192.0.2.1")); got != c.pkts {
			t.Errorf("%s packets = %v, want %v", c.protocol, got, c.pkts)
		}
		if got := testutil.ToFloat64(m.exporterByts.WithLabelValues(c.protocol, "192.0.2.1")); got != c.nbytes {
			t.Errorf("%s bytes = %v, want %v", c.protocol, got, c.nbytes)
		}
	}
}

// A pipeline that stops taking batches cannot keep Run from returning:
// after the bound the batch is dropped and counted.
func TestTCPShutdownWithStuckPipeline(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.Listen = []string{"127.0.0.1:0"}
	dec := &recDecoder{}
	tcp, err := NewTCP("syslog", cfg, dec, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tcp.sendMax = 300 * time.Millisecond
	out := make(chan *event.Batch) // nobody reads
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tcp.Run(ctx, out) }()
	c, err := net.Dial("tcp", tcp.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write(t, c, "<13>stuck\n")
	waitFor(t, "the frame decoded", func() bool { return dec.count() == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run() did not return with a stuck pipeline")
	}
	if got := testutil.ToFloat64(tcp.m.tcpDropped.WithLabelValues("syslog", "shutdown")); got != 1 {
		t.Errorf("events dropped at shutdown = %v, want 1", got)
	}
}

// requireTool returns the path of an external program, skipping the test
// when it is missing locally and failing it under CI.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
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

// The real sender: util-linux logger, both framings, both header formats.
func TestTCPLogger(t *testing.T) {
	logger := requireTool(t, "logger", "bsdutils")
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, tc := range []struct {
		name    string
		args    []string
		framing string
		prefix  string
	}{
		{"newline rfc5424", []string{"--rfc5424"}, "newline", "<13>1 "},
		{"newline rfc3164", []string{"--rfc3164"}, "newline", "<13>"},
		{"octet rfc5424", []string{"--octet-count", "--rfc5424"}, "octet_counted", "<13>1 "},
		{"octet rfc3164", []string{"--octet-count", "--rfc3164"}, "octet_counted", "<13>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startTCP(t, DefaultTCP(), 64, 0)
			_, port, _ := net.SplitHostPort(h.addr)
			msgs := lines("sluice test message é ", 200)
			args := append([]string{"--tcp", "--server", "127.0.0.1", "--port", port, "-t", "sluicetest"}, tc.args...)
			cmd := exec.Command(logger, args...)
			cmd.Stdin = strings.NewReader(strings.Join(msgs, "\n") + "\n")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("logger %v: %v\n%s", args, err, out)
			}
			waitFor(t, "200 frames", func() bool { return h.dec.count() >= 200 })
			waitFor(t, "the connection closed", func() bool { return h.tcp.Connections() == 0 })
			frames := h.dec.all()
			if len(frames) != 200 {
				t.Fatalf("got %d frames, want 200", len(frames))
			}
			for i, f := range frames {
				if !strings.HasPrefix(f.Data, tc.prefix) || !strings.HasSuffix(f.Data, " "+msgs[i]) || !strings.Contains(f.Data, "sluicetest") || f.Truncated {
					t.Fatalf("frame %d = %q, want %q...sluicetest...%q, not truncated", i, f.Data, tc.prefix, msgs[i])
				}
			}
			if got := h.metric(h.tcp.m.tcpFrames, tc.framing); got != 200 {
				t.Errorf("frames %s = %v, want 200", tc.framing, got)
			}
			if err := h.stop(); err != nil {
				t.Fatalf("Run() = %v", err)
			}
		})
	}
}

// A 1 MB message is cut to max_message_bytes and tagged; the next message
// on the connection is intact, in both framings.
func TestTCPLongMessage(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	h := startTCP(t, DefaultTCP(), 64, 0)
	big := "<13>" + strings.Repeat("x", 1<<20)
	lf, oc := h.dial(), h.dial()
	go func() {
		_, _ = io.WriteString(lf, big+"\n<13>next\n")
		_, _ = fmt.Fprintf(oc, "%d %s8 <13>next", len(big), big)
	}()
	waitFor(t, "4 frames", func() bool { return h.dec.count() == 4 })
	for _, c := range []net.Conn{lf, oc} {
		if diff := cmp.Diff(h.dec.from(c), []string{big[:DefaultMaxMessageBytes], "<13>next"}); diff != "" {
			t.Errorf("frames of %s (-got +want):\n%s", c.LocalAddr(), diff)
		}
	}
	for _, f := range h.dec.all() {
		if f.Truncated != (len(f.Data) == DefaultMaxMessageBytes) {
			t.Errorf("frame of %d bytes: Truncated = %v", len(f.Data), f.Truncated)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if got := h.metric(h.tcp.m.tcpTruncated, "too_long"); got != 2 {
		t.Errorf("truncated too_long = %v, want 2", got)
	}
	if got := h.sink.truncated.Load(); got != 2 {
		t.Errorf("events tagged _truncated = %d, want 2", got)
	}
}

// Binary garbage and invalid UTF-8 pass through as bytes, split as the
// framing specification says; decoder panics and errors are counted; the
// listener keeps serving.
func TestTCPGarbage(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.MaxMessageBytes = 4096
	h := startTCP(t, cfg, 64, 0)
	rng := mrand.New(mrand.NewPCG(1, 2))
	garbage := make([]byte, 256<<10)
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
		if rng.IntN(300) == 0 {
			garbage[i] = '\n'
		}
	}
	garbage[0] = 0xff // a line stream
	garbage = append(garbage, "\n\xc3\x28\xa0\xa1\xed\xa0\x80\xf0\x28\x8c\x28\nPANIC\nERR\n\x00\x00\x00\n<13>still alive\n"...)
	want, _ := refFrames(garbage, cfg.MaxMessageBytes)
	c := h.dial()
	write(t, c, string(garbage))
	c.Close()
	waitFor(t, "all frames", func() bool { return h.dec.count() == len(want) })
	var got []gotFrame
	for _, f := range h.dec.all() {
		got = append(got, gotFrame{Data: f.Data, Framing: FramingNewline, Truncated: f.Truncated})
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("frames (-got +want):\n%s", diff)
	}
	if len(got) == 0 || got[len(got)-1].Data != "<13>still alive" {
		t.Errorf("last frame = %q", got[len(got)-1].Data)
	}
	// An octet-counted stream that goes bad is closed.
	for _, bad := range []string{"99999999999 <13>x", "5 <13>a<13>b\n"} {
		c := h.dial()
		write(t, c, bad)
		expectClosed(t, c)
	}
	waitFor(t, "connections closed", func() bool { return h.tcp.Connections() == 0 })
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	m := h.tcp.m
	for name, c := range map[string]struct{ got, want float64 }{
		"decode errors panic":      {h.metric(m.decodeErrors, "panic"), 1},
		"decode errors bad_header": {h.metric(m.decodeErrors, "bad_header"), 1},
		"framing errors":           {h.metric(m.tcpFramingErrs, "bad_length"), 2},
		"closed framing_error":     {h.metric(m.tcpClosed, "framing_error"), 2},
		// None for ERR, PANIC's is taken back; "<13>a" of the bad octet stream.
		"events": {float64(h.sink.events.Load()), float64(len(want) - 2 + 1)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

// A silent or half-open connection is closed after idle_timeout; what it
// sent of an unfinished message is delivered, truncated.
func TestTCPIdleTimeout(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.IdleTimeout = time.Second
	h := startTCP(t, cfg, 64, 0)
	silent, partial := h.dial(), h.dial()
	write(t, partial, "<13>complete\n<13>half a mess")
	start := time.Now()
	expectClosed(t, silent)
	expectClosed(t, partial)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("closed after %s, before the idle timeout", d)
	}
	waitFor(t, "connections closed", func() bool { return h.tcp.Connections() == 0 })
	want := []recFrame{
		{partial.LocalAddr().(*net.TCPAddr).AddrPort(), "<13>complete", false},
		{partial.LocalAddr().(*net.TCPAddr).AddrPort(), "<13>half a mess", true},
	}
	if diff := cmp.Diff(h.dec.all(), want, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("frames (-got +want):\n%s", diff)
	}
	if got := h.metric(h.tcp.m.tcpClosed, "idle_timeout"); got != 2 {
		t.Errorf("closed idle_timeout = %v, want 2", got)
	}
	if got := h.metric(h.tcp.m.tcpTruncated, "incomplete"); got != 1 {
		t.Errorf("truncated incomplete = %v, want 1", got)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
}

// raiseNoFile makes room for n file descriptors, or skips.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	old := lim
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n // works as root
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		msg := fmt.Sprintf("RLIMIT_NOFILE is %d/%d and cannot be raised to %d: %v; run as root or raise the hard limit (ulimit -Hn)", old.Cur, old.Max, n, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skipf("skipping the test that needs many descriptors: %s", msg)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// 10,000 connections at once: max_connections is enforced, the rest are
// closed and counted, and everything is released afterwards.
func TestTCPTenThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	const clients = 10000
	cfg := DefaultTCP()
	cfg.MaxConnectionsPerSource = clients // every client dials from 127.0.0.1: test max_connections alone
	raiseNoFile(t, clients+uint64(cfg.MaxConnections)+512)
	t.Cleanup(func() { goleak.VerifyNone(t) })
	h := startTCP(t, cfg, 64, 0)
	baseline := runtime.NumGoroutine()

	conns := make([]net.Conn, clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	var dialErr atomic.Pointer[error]
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 30 * time.Second}
			for {
				i := int(next.Add(1)) - 1
				if i >= clients {
					return
				}
				c, err := d.Dial("tcp", h.addr)
				if err != nil {
					dialErr.Store(&err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err := dialErr.Load(); err != nil {
		t.Fatalf("dial: %v", *err)
	}
	m := h.tcp.m
	accepted := func() float64 { return testutil.ToFloat64(m.tcpAccepted.WithLabelValues("syslog", h.addr)) }
	rejected := func() float64 { return h.metric(m.tcpRejected, "max_connections") }
	waitFor(t, "every connection accepted or rejected", func() bool { return accepted()+rejected() == clients })
	if a, r := accepted(), rejected(); a != float64(cfg.MaxConnections) || r != float64(clients-cfg.MaxConnections) {
		t.Errorf("accepted %v, rejected %v; want %d and %d", a, r, cfg.MaxConnections, clients-cfg.MaxConnections)
	}
	if got := testutil.ToFloat64(m.tcpConns.WithLabelValues("syslog", h.addr)); got != float64(cfg.MaxConnections) {
		t.Errorf("open connections gauge = %v, want %d", got, cfg.MaxConnections)
	}
	for i, c := range conns {
		_, _ = fmt.Fprintf(c, "<13>hello %d\n", i) // the rejected ones may fail
	}
	waitFor(t, "a frame from every admitted connection", func() bool { return h.dec.count() == cfg.MaxConnections })
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "all connections closed", func() bool { return h.tcp.Connections() == 0 })
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
	if got := testutil.ToFloat64(m.tcpConns.WithLabelValues("syslog", h.addr)); got != 0 {
		t.Errorf("open connections gauge = %v after close, want 0", got)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if got := h.dec.count(); got != cfg.MaxConnections {
		t.Errorf("frames = %d, want %d (one per admitted connection)", got, cfg.MaxConnections)
	}
}

// At shutdown the open connections are read for what they sent already,
// batches are handed on, and Run returns promptly although the senders
// keep their connections open.
func TestTCPShutdownDrains(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	h := startTCP(t, DefaultTCP(), 1024, 0)
	a, b := h.dial(), h.dial()
	waitFor(t, "2 connections", func() bool { return h.tcp.Connections() == 2 })
	want := lines("<13>drain ", 2000)
	write(t, a, strings.Join(want, "\n")+"\n")
	write(t, b, "<13>unfinished")
	start := time.Now()
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run() took %s to return after cancel", d)
	}
	if diff := cmp.Diff(h.dec.from(a), want); diff != "" {
		t.Errorf("frames (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(h.dec.from(b), []string{"<13>unfinished"}); diff != "" {
		t.Errorf("frames of the unfinished message (-got +want):\n%s", diff)
	}
	if got := h.sink.events.Load(); got != 2001 {
		t.Errorf("events delivered = %d, want 2001", got)
	}
	if got := h.metric(h.tcp.m.tcpClosed, "shutdown"); got != 2 {
		t.Errorf("closed shutdown = %v, want 2", got)
	}
	expectClosed(t, a)
}

// A slow pipeline slows the sender down (TCP backpressure); nothing is lost
// and order is kept.
func TestTCPBackpressure(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.MaxBatchEvents = 16
	h := startTCP(t, cfg, 0, time.Millisecond)
	c := h.dial()
	want := lines("<13>pressure ", 20000)
	go func() { _, _ = io.WriteString(c, strings.Join(want, "\n")+"\n") }()
	waitFor(t, "20000 events delivered", func() bool { return h.sink.events.Load() == 20000 })
	if diff := cmp.Diff(h.dec.from(c), want); diff != "" {
		t.Errorf("frames (-got +want):\n%s", diff)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
}

// testPKI is a CA with a server and a client certificate, and a client
// certificate from another CA.
type testPKI struct {
	caFile, certFile, keyFile string
	roots                     *x509.CertPool
	client, stranger          tls.Certificate
	// The client certificate as files, for real senders (rsyslog).
	clientCertFile, clientKeyFile string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	leaf := func(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage, serial int64) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	pemFile := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tlsCert := func(der []byte, key *ecdsa.PrivateKey) tls.Certificate {
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	ca, caKey := newCA("sluice test CA")
	other, otherKey := newCA("another CA")
	p := &testPKI{roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	p.caFile = pemFile("ca.pem", "CERTIFICATE", ca.Raw)
	der, key := leaf(ca, caKey, "sluice", x509.ExtKeyUsageServerAuth, 2)
	p.certFile = pemFile("server.pem", "CERTIFICATE", der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p.keyFile = pemFile("server-key.pem", "PRIVATE KEY", keyDER)
	cder, ckey := leaf(ca, caKey, "router1", x509.ExtKeyUsageClientAuth, 3)
	p.client = tlsCert(cder, ckey)
	p.clientCertFile = pemFile("client.pem", "CERTIFICATE", cder)
	ckeyDER, err := x509.MarshalPKCS8PrivateKey(ckey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKeyFile = pemFile("client-key.pem", "PRIVATE KEY", ckeyDER)
	p.stranger = tlsCert(leaf(other, otherKey, "intruder", x509.ExtKeyUsageClientAuth, 4))
	return p
}

func TestTCPTLS(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	pki := newTestPKI(t)
	dialTLS := func(addr string, conf *tls.Config) (*tls.Conn, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, conf)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	// send writes lines and reads until the server closes; with a refused
	// client certificate TLS 1.3 reports the refusal on that read.
	send := func(c *tls.Conn, msgs []string) error {
		if _, err := io.WriteString(c, strings.Join(msgs, "\n")+"\n"); err != nil {
			return err
		}
		if err := c.CloseWrite(); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.Copy(io.Discard, c)
		return err
	}
	msgs := lines("<13>1 - router1 app - - - over tls ", 100)

	t.Run("server auth only", func(t *testing.T) {
		cfg := DefaultTCP()
		cfg.TLS = &TLSConfig{CertFile: pki.certFile, KeyFile: pki.keyFile}
		h := startTCP(t, cfg, 64, 0)
		c, err := dialTLS(h.addr, &tls.Config{RootCAs: pki.roots})
		if err != nil {
			t.Fatalf("tls dial: %v", err)
		}
		if err := send(c, msgs); err != nil {
			t.Fatalf("send: %v", err)
		}
		waitFor(t, "100 frames", func() bool { return h.dec.count() == 100 })
		if diff := cmp.Diff(h.dec.from(c), msgs); diff != "" {
			t.Errorf("frames (-got +want):\n%s", diff)
		}
		// Plain TCP and TLS 1.1 are refused.
		plain := h.dial()
		write(t, plain, "<13>plain text\n")
		expectClosed(t, plain)
		if _, err := dialTLS(h.addr, &tls.Config{RootCAs: pki.roots, MaxVersion: tls.VersionTLS11}); err == nil {
			t.Error("a TLS 1.1 client was accepted")
		}
		waitFor(t, "2 handshake failures", func() bool { return h.metric(h.tcp.m.tcpRejected, "tls_handshake") == 2 })
		if err := h.stop(); err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if got := h.dec.count(); got != 100 {
			t.Errorf("frames = %d, want only the 100 sent over TLS", got)
		}
	})

	t.Run("client auth", func(t *testing.T) {
		cfg := DefaultTCP()
		cfg.TLS = &TLSConfig{CertFile: pki.certFile, KeyFile: pki.keyFile, CAFile: pki.caFile, ClientAuth: true}
		h := startTCP(t, cfg, 64, 0)
		good, err := dialTLS(h.addr, &tls.Config{RootCAs: pki.roots, Certificates: []tls.Certificate{pki.client}})
		if err != nil {
			t.Fatalf("tls dial with a client certificate: %v", err)
		}
		if err := send(good, msgs); err != nil {
			t.Fatalf("send: %v", err)
		}
		for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "certificate of another CA": {pki.stranger}} {
			c, err := dialTLS(h.addr, &tls.Config{RootCAs: pki.roots, Certificates: certs})
			if err == nil {
				err = send(c, []string{"<13>must not arrive"})
			}
			if err == nil {
				t.Errorf("client with %s: no error, want the server to refuse it", name)
			}
		}
		waitFor(t, "100 frames", func() bool { return h.dec.count() >= 100 })
		waitFor(t, "2 handshake failures", func() bool { return h.metric(h.tcp.m.tcpRejected, "tls_handshake") == 2 })
		if err := h.stop(); err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if diff := cmp.Diff(h.dec.from(good), msgs); diff != "" || h.dec.count() != 100 {
			t.Errorf("frames: %d in all, of the good client (-got +want):\n%s", h.dec.count(), diff)
		}
	})
}

func TestTCPConfigValidate(t *testing.T) {
	if err := DefaultTCP().Validate("syslog.tcp"); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name   string
		prefix string
		mod    func(*TCPConfig)
		want   []string
	}{
		{"limits", "syslog.tcp", func(c *TCPConfig) {
			c.Listen = []string{"0.0.0.0:5514", "5514", "host:port"}
			c.MaxMessageBytes, c.MaxConnections, c.IdleTimeout, c.MaxBatchEvents = 100, 0, time.Millisecond, 0
		}, []string{`syslog.tcp.listen: "5514"`, `syslog.tcp.listen: "host:port"`, "syslog.max_message_bytes: 100", "syslog.tcp.max_connections", "syslog.tcp.idle_timeout", "collector.max_batch_events: 0"}},
		{"tls missing files", "syslog.tls", func(c *TCPConfig) { c.TLS = &TLSConfig{ClientAuth: true} },
			[]string{"syslog.tls.cert_file: missing", "syslog.tls.key_file: missing", "syslog.tls.ca_file: missing"}},
		{"tls unreadable", "syslog.tls", func(c *TCPConfig) {
			c.TLS = &TLSConfig{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: pki.keyFile}
		}, []string{"syslog.tls.cert_file, syslog.tls.key_file"}},
		{"tls key of another cert", "syslog.tls", func(c *TCPConfig) {
			c.TLS = &TLSConfig{CertFile: pki.caFile, KeyFile: pki.keyFile}
		}, []string{"syslog.tls.cert_file, syslog.tls.key_file"}},
		{"tls CA not PEM", "syslog.tls", func(c *TCPConfig) {
			c.TLS = &TLSConfig{CertFile: pki.certFile, KeyFile: pki.keyFile, CAFile: notPEM}
		}, []string{"syslog.tls.ca_file: no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultTCP()
			tc.mod(&c)
			err := c.Validate(tc.prefix)
			if err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, does not name %q", err, w)
				}
			}
		})
	}
	ok := DefaultTCP()
	ok.TLS = &TLSConfig{CertFile: pki.certFile, KeyFile: pki.keyFile, CAFile: pki.caFile, ClientAuth: true}
	if err := ok.Validate("syslog.tls"); err != nil {
		t.Errorf("valid TLS config: %v", err)
	}
}

func TestNewTCPPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := DefaultTCP()
	cfg.Listen = []string{"127.0.0.1:0", ln.Addr().String()}
	_, err = NewTCP("syslog", cfg, &recDecoder{}, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "syslog.tcp.listen") {
		t.Fatalf("NewTCP on a port in use = %v, want an error naming syslog.tcp.listen", err)
	}
	goleak.VerifyNone(t) // the first listener was closed again
}

// rsyslog as the sender: messages arrive over TCP with octet counting
// (omfwd TCP_Framing="octet-counted"), in order. rsyslogd reads them from
// logger over TCP; it runs with its own configuration only.
func TestTCPRsyslogOctetCounted(t *testing.T) {
	h := startTCP(t, DefaultTCP(), 64, 0)
	rsyslogForward(t, h, "", "")
}

// rsyslog as a TLS sender (RFC 5425, GnuTLS driver from rsyslog-gnutls)
// with a client certificate, to a listener that requires one: the
// handshake, both certificate checks and octet-counted frames, with real
// software on the other side.
func TestTLSRsyslogClientCert(t *testing.T) {
	requireRsyslogModule(t, "lmnsd_gtls.so", "rsyslog-gnutls")
	pki := newTestPKI(t)
	cfg := DefaultTCP()
	cfg.TLS = &TLSConfig{CertFile: pki.certFile, KeyFile: pki.keyFile, CAFile: pki.caFile, ClientAuth: true}
	h := startTCP(t, cfg, 64, 0)
	global := fmt.Sprintf(`DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile=%q
       DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q`, pki.caFile, pki.clientCertFile, pki.clientKeyFile)
	action := `StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="sluice"`
	rsyslogForward(t, h, global, action)
	if got := testutil.ToFloat64(h.tcp.m.tcpRejected.WithLabelValues("syslog", "tls_handshake")); got != 0 {
		t.Errorf("%v TLS handshakes refused", got)
	}
}

// requireRsyslogModule skips (fails under CI=true) unless rsyslog has the
// module file.
func requireRsyslogModule(t *testing.T, module, pkg string) {
	t.Helper()
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog", "/usr/lib/rsyslog"} {
		if _, err := os.Stat(filepath.Join(dir, module)); err == nil {
			return
		}
	}
	msg := fmt.Sprintf("rsyslog module %s not found; install Debian package %s (apt-get install %s)", module, pkg, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("skipped, external program missing (CI=true makes this a failure): " + msg)
}

// rsyslogForward runs rsyslogd with imtcp (plain) in front and omfwd
// (octet counting, plus action's parameters) to the listener of h, sends
// 300 lines with logger and checks they all arrive in order, octet-counted.
// global is added to rsyslog's global() settings.
func rsyslogForward(t *testing.T, h *tcpHarness, global, action string) {
	t.Helper()
	rsyslogd := requireTool(t, "rsyslogd", "rsyslog")
	logger := requireTool(t, "logger", "bsdutils")
	t.Cleanup(func() { goleak.VerifyNone(t) })
	_, sluicePort, _ := net.SplitHostPort(h.addr)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, inPort, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`global(workDirectory=%q %s)
main_queue(queue.workerThreads="1")
module(load="imtcp" StreamDriver.Name="ptcp" StreamDriver.Mode="0")
input(type="imtcp" port=%q address="127.0.0.1")
if $programname == "sluicetest" then {
  action(type="omfwd" target="127.0.0.1" port=%q protocol="tcp" TCP_Framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format" %s)
}
`, dir, global, inPort, sluicePort, action)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(rsyslogd, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("rsyslogd: %v", err)
	}
	stopped := false
	stopRsyslog := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stopRsyslog)
	waitFor(t, "rsyslogd listening", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+inPort)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	msgs := lines("forwarded by rsyslog ", 300)
	lg := exec.Command(logger, "--tcp", "--server", "127.0.0.1", "--port", inPort, "--rfc5424", "-t", "sluicetest")
	lg.Stdin = strings.NewReader(strings.Join(msgs, "\n") + "\n")
	if out, err := lg.CombinedOutput(); err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.dec.count() < len(msgs) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stopRsyslog()
	frames := h.dec.all()
	if len(frames) != len(msgs) {
		t.Fatalf("got %d frames from rsyslogd, want %d; rsyslogd output:\n%s", len(frames), len(msgs), stderr.String())
	}
	for i, f := range frames {
		if !strings.HasPrefix(f.Data, "<13>1 ") || !strings.HasSuffix(f.Data, " "+msgs[i]) || f.Truncated {
			t.Fatalf("frame %d = %q, want <13>1 ... %q", i, f.Data, msgs[i])
		}
	}
	if got := h.metric(h.tcp.m.tcpFrames, "octet_counted"); got != float64(len(msgs)) {
		t.Errorf("octet_counted frames = %v, want %d", got, len(msgs))
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
}

// nopDecoder adds one empty event per message: the listener's own cost.
type nopDecoder struct{ n atomic.Int64 }

func (d *nopDecoder) Decode(p *Packet, b *event.Batch) error {
	b.Add()
	d.n.Add(1)
	return nil
}

func benchmarkTCP(b *testing.B, octet bool) {
	cfg := DefaultTCP()
	cfg.Listen = []string{"127.0.0.1:0"}
	dec := &nopDecoder{}
	tcp, err := NewTCP("syslog", cfg, dec, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	out := make(chan *event.Batch, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tcp.Run(ctx, out) }()
	s := newSink(out, 0)
	defer func() {
		cancel()
		<-done
		close(out)
		<-s.done
	}()
	c, err := net.Dial("tcp", tcp.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const perOp = 1000
	var payload []byte
	for i := range perOp {
		msg := fmt.Sprintf("<134>1 2026-03-01T10:00:05.123Z fw01 filterlog 1234 - - 5,,,1000000103,igb0,match,pass,in,4,0x0,,64,%d,0,DF,6,tcp,60", i)
		if octet {
			payload = fmt.Appendf(payload, "%d %s", len(msg), msg)
		} else {
			payload = append(append(payload, msg...), '\n')
		}
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	start := time.Now()
	sent := int64(0)
	for b.Loop() {
		if _, err := c.Write(payload); err != nil {
			b.Fatal(err)
		}
		sent += perOp
	}
	for s.events.Load() < sent {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkTCPNewline(b *testing.B)      { benchmarkTCP(b, false) }
func BenchmarkTCPOctetCounted(b *testing.B) { benchmarkTCP(b, true) }
