package collector

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

// Tests of the fairness rules of the stream listeners: several senders are
// told apart by their source address, 127.0.0.2 and up (Linux loopback
// answers for all of 127/8).

// logBuf collects log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// dialFromErr connects to addr from the local address src.
func dialFromErr(addr, src string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	return d.Dial("tcp", addr)
}

func dialFrom(t *testing.T, addr, src string) net.Conn {
	t.Helper()
	c, err := dialFromErr(addr, src)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialTLSFrom(t *testing.T, addr, src string, conf *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, conf)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func (h *tcpHarness) accepted() float64 {
	return testutil.ToFloat64(h.tcp.m.tcpAccepted.WithLabelValues("syslog", h.addr))
}

func (h *tcpHarness) rejected(reason string) float64 { return h.metric(h.tcp.m.tcpRejected, reason) }
func (h *tcpHarness) closed(reason string) float64   { return h.metric(h.tcp.m.tcpClosed, reason) }

// serverConn returns the admitted server side of client connection c, or nil.
func (h *tcpHarness) serverConn(c net.Conn) *tcpConn {
	want := c.LocalAddr().(*net.TCPAddr).AddrPort()
	h.tcp.mu.Lock()
	defer h.tcp.mu.Unlock()
	for sc := range h.tcp.conns {
		if remoteAddrPort(sc.raw) == want {
			return sc
		}
	}
	return nil
}

// framesFrom returns the frames of one client connection with their flags.
func (h *tcpHarness) framesFrom(c net.Conn) []recFrame {
	src := c.LocalAddr().(*net.TCPAddr).AddrPort()
	var out []recFrame
	for _, f := range h.dec.all() {
		if f.Src == src {
			out = append(out, f)
		}
	}
	return out
}

// trickle writes first, then one byte of filler every interval, until a
// write fails (the server closed) or stop is closed; wg owns the goroutine.
func trickle(wg *sync.WaitGroup, c net.Conn, first, filler string, interval time.Duration, stop <-chan struct{}) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := io.WriteString(c, first); err != nil {
			return
		}
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if _, err := io.WriteString(c, filler); err != nil {
				return
			}
		}
	}()
}

func TestTCPConfigValidateFairness(t *testing.T) {
	c := DefaultTCP()
	c.MaxConnectionsPerSource, c.FirstFrameTimeout, c.FrameTimeout, c.MaxConnections = 0, 10*time.Millisecond, -time.Second, 0
	// The TLS listener names its own keys with its prefix and the shared
	// limits with syslog.tcp.
	c.Key, c.LimitsKey = "syslog.tls", "syslog.tcp"
	c.Listen = []string{"5514"}
	err := c.Validate("ignored")
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	for _, w := range []string{
		"syslog.tcp.max_connections_per_source: 0 is out of range; use 1..1048576 (default 32)",
		"syslog.tcp.first_frame_timeout: 10ms is below 100ms; raise it or remove it to use 30s",
		"syslog.tcp.frame_timeout: -1s is below 100ms; raise it or remove it to use 30s",
		"syslog.tcp.max_connections: 0",
		`syslog.tls.listen: "5514"`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %q\ndoes not contain %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "syslog.tls.max_connections") || strings.Contains(err.Error(), "ignored") {
		t.Errorf("Validate() = %q names a key that does not exist", err)
	}
}

// One source address gets at most max_connections_per_source connections;
// others are not affected, and a freed slot can be taken again.
func TestTCPMaxConnectionsPerSource(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.MaxConnectionsPerSource = 3
	logs := &logBuf{}
	h := startTCPLog(t, cfg, 64, 0, logs.logger())
	var a []net.Conn
	for i := range 5 {
		a = append(a, dialFrom(t, h.addr, "127.0.0.2"))
		waitFor(t, "the connection accepted or rejected", func() bool {
			return h.accepted()+h.rejected("max_connections_per_source") == float64(i+1)
		})
	}
	for _, c := range a[3:] {
		expectClosed(t, c)
	}
	b := dialFrom(t, h.addr, "127.0.0.3")
	waitFor(t, "the other source's connection accepted", func() bool { return h.accepted() == 4 })
	admitted := []net.Conn{a[0], a[1], a[2], b}
	for i, c := range admitted {
		write(t, c, fmt.Sprintf("<13>line %d\n", i))
	}
	waitFor(t, "4 frames", func() bool { return h.dec.count() == 4 })
	for i, c := range admitted {
		if diff := cmp.Diff(h.dec.from(c), []string{fmt.Sprintf("<13>line %d", i)}); diff != "" {
			t.Errorf("frames of connection %d (-got +want):\n%s", i, diff)
		}
	}
	if got := h.rejected("max_connections_per_source"); got != 2 {
		t.Errorf("rejected max_connections_per_source = %v, want 2", got)
	}
	if got := h.tcp.Connections(); got != 4 {
		t.Errorf("Connections() = %d, want 4", got)
	}
	if l := logs.String(); !strings.Contains(l, "raise syslog.tcp.max_connections_per_source") || !strings.Contains(l, "sender=127.0.0.2") {
		t.Errorf("log does not name the key and the sender:\n%s", l)
	}
	// A closed connection frees the source's slot.
	a[0].Close()
	waitFor(t, "3 connections", func() bool { return h.tcp.Connections() == 3 })
	again := dialFrom(t, h.addr, "127.0.0.2")
	write(t, again, "<13>again\n")
	waitFor(t, "the frame of the new connection", func() bool { return len(h.dec.from(again)) == 1 })
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if got := h.rejected("max_connections_per_source"); got != 2 {
		t.Errorf("rejected max_connections_per_source = %v, want 2", got)
	}
}

// A new connection must complete its first message within
// first_frame_timeout; bytes that do not complete one do not extend it.
func TestTCPFirstFrameTimeout(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.FirstFrameTimeout = time.Second
	logs := &logBuf{}
	h := startTCPLog(t, cfg, 64, 0, logs.logger())
	good := h.dial()
	write(t, good, "<13>first\n")
	waitFor(t, "the first frame", func() bool { return h.dec.count() == 1 })
	silent, slow := h.dial(), h.dial()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	trickle(&wg, slow, "<13>", "x", 50*time.Millisecond, stop)
	expectClosed(t, silent)
	expectClosed(t, slow)
	close(stop)
	wg.Wait()
	waitFor(t, "2 first_frame_timeout closes", func() bool { return h.closed("first_frame_timeout") == 2 })
	// The connection that delivered a message in time stays.
	if got := h.tcp.Connections(); got != 1 {
		t.Errorf("Connections() = %d, want 1 (the one that sent a message)", got)
	}
	write(t, good, "<13>second\n")
	waitFor(t, "the second frame", func() bool { return len(h.dec.from(good)) == 2 })
	if diff := cmp.Diff(h.dec.from(good), []string{"<13>first", "<13>second"}); diff != "" {
		t.Errorf("frames (-got +want):\n%s", diff)
	}
	// What the slow one sent is delivered, truncated.
	if f := h.framesFrom(slow); len(f) != 1 || !strings.HasPrefix(f[0].Data, "<13>x") || !f[0].Truncated {
		t.Errorf("frames of the slow connection = %+v, want one truncated <13>x...", f)
	}
	if l := logs.String(); !strings.Contains(l, "syslog.tcp.first_frame_timeout") {
		t.Errorf("log does not name syslog.tcp.first_frame_timeout:\n%s", l)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if got, want := h.closed("first_frame_timeout")+h.closed("idle_timeout")+h.closed("frame_timeout"), 2.0; got != want {
		t.Errorf("timeout closes = %v, want %v", got, want)
	}
}

// A slowloris (a message started, then a byte now and then) is cut
// frame_timeout after the message began, in both framings; bare newlines do
// not hold a slot past idle_timeout; a slow but steady sender stays.
func TestTCPSlowloris(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.FrameTimeout = time.Second
	cfg.IdleTimeout = 3 * time.Second
	logs := &logBuf{}
	h := startTCPLog(t, cfg, 64, 0, logs.logger())
	steady, slowLine, slowOctet, newlines := h.dial(), h.dial(), h.dial(), h.dial()
	write(t, slowLine, "<13>ok\n")
	write(t, slowOctet, "6 <13>ok")
	write(t, newlines, "<13>nl\n")
	waitFor(t, "3 frames", func() bool { return h.dec.count() == 3 })

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var ticks atomic.Int64
	wg.Add(1)
	go func() { // a message every 100ms, each complete
		defer wg.Done()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if _, err := fmt.Fprintf(steady, "<13>tick %d\n", i); err != nil {
				return
			}
			ticks.Add(1)
		}
	}()
	trickle(&wg, slowLine, "<13>slow", ".", 100*time.Millisecond, stop)
	trickle(&wg, slowOctet, "200 <13>slow", ".", 100*time.Millisecond, stop)
	trickle(&wg, newlines, "\n", "\n", 100*time.Millisecond, stop)
	expectClosed(t, slowLine)
	expectClosed(t, slowOctet)
	expectClosed(t, newlines)
	sent := ticks.Load()
	waitFor(t, "the steady sender's messages", func() bool { return int64(len(h.dec.from(steady))) >= sent })
	waitFor(t, "the three closed", func() bool { return h.tcp.Connections() == 1 })
	if h.serverConn(steady) == nil {
		t.Error("the steady sender, open for longer than idle_timeout, was closed")
	}
	close(stop)
	wg.Wait()
	if got := h.closed("frame_timeout"); got != 2 {
		t.Errorf("closed frame_timeout = %v, want 2", got)
	}
	if got := h.closed("idle_timeout"); got != 1 {
		t.Errorf("closed idle_timeout = %v, want 1 (the newlines)", got)
	}
	for _, c := range []net.Conn{slowLine, slowOctet} {
		f := h.framesFrom(c)
		if len(f) != 2 || f[0].Data != "<13>ok" || f[0].Truncated || !strings.HasPrefix(f[1].Data, "<13>slow") || !f[1].Truncated {
			t.Errorf("frames of a slowloris = %+v, want <13>ok and a truncated <13>slow...", f)
		}
	}
	if got := h.metric(h.tcp.m.tcpTruncated, "incomplete"); got != 2 {
		t.Errorf("truncated incomplete = %v, want 2", got)
	}
	if l := logs.String(); !strings.Contains(l, "syslog.tcp.frame_timeout") {
		t.Errorf("log does not name syslog.tcp.frame_timeout:\n%s", l)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	for i, f := range h.framesFrom(steady) {
		if want := fmt.Sprintf("<13>tick %d", i); f.Data != want || f.Truncated {
			t.Fatalf("steady frame %d = %+v, want %q", i, f, want)
		}
	}
}

// When the listener is full, a newcomer from a source holding fewer
// connections replaces the longest-idle connection of the source holding
// the most; a connection inside a message is passed over, and what the
// victims sent before is delivered.
func TestTCPEvictsHeavySourceIdle(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.MaxConnections = 8
	cfg.MaxConnectionsPerSource = 8
	logs := &logBuf{}
	h := startTCPLog(t, cfg, 64, 0, logs.logger())
	frames := 0
	send := func(c net.Conn, msg string) {
		t.Helper()
		write(t, c, msg+"\n")
		frames++
		waitFor(t, msg, func() bool { return h.dec.count() == frames })
	}
	// Source A holds 6 connections, one message each, oldest first; B 2.
	var a []net.Conn
	for i := range 6 {
		c := dialFrom(t, h.addr, "127.0.0.2")
		send(c, fmt.Sprintf("<13>a%d", i))
		a = append(a, c)
	}
	b := []net.Conn{dialFrom(t, h.addr, "127.0.0.3"), dialFrom(t, h.addr, "127.0.0.3")}
	send(b[0], "<13>b0")
	send(b[1], "<13>b1")
	// A's oldest is inside a message now.
	write(t, a[0], "<13>half")
	waitFor(t, "a message in progress on a[0]", func() bool {
		sc := h.serverConn(a[0])
		return sc != nil && sc.partial.Load()
	})
	// A newcomer from C: A's longest-idle complete connection, a[1], goes.
	c := dialFrom(t, h.addr, "127.0.0.4")
	expectClosed(t, a[1])
	waitFor(t, "1 eviction", func() bool { return h.closed("evicted") == 1 })
	send(c, "<13>c0")
	if got := h.tcp.Connections(); got != 8 {
		t.Errorf("Connections() = %d, want 8", got)
	}

	// A burst: A's four idle connections each send a message, and at once
	// three newcomers from fresh sources take three of them. Every message
	// sent before is delivered.
	for i, ac := range a[2:] {
		write(t, ac, fmt.Sprintf("<13>burst %d\n", i))
	}
	var newcomers []net.Conn
	for i := range 3 {
		newcomers = append(newcomers, dialFrom(t, h.addr, fmt.Sprintf("127.0.0.%d", 5+i)))
	}
	waitFor(t, "4 evictions", func() bool { return h.closed("evicted") == 4 })
	waitFor(t, "the burst", func() bool { return h.dec.count() == frames+4 })
	frames += 4
	for i, ac := range a[2:] {
		want := []string{fmt.Sprintf("<13>a%d", i+2), fmt.Sprintf("<13>burst %d", i)}
		if diff := cmp.Diff(h.dec.from(ac), want); diff != "" {
			t.Errorf("frames of a[%d] (-got +want):\n%s", i+2, diff)
		}
	}
	for i, nc := range newcomers {
		send(nc, fmt.Sprintf("<13>new %d", i))
	}
	// a[0], inside its message, was passed over; it completes it.
	if h.serverConn(a[0]) == nil {
		t.Fatal("a[0], inside a message, was evicted although A had idle connections")
	}
	write(t, a[0], " done\n")
	waitFor(t, "a[0]'s message", func() bool { return len(h.dec.from(a[0])) == 2 })
	if f := h.framesFrom(a[0]); f[1].Data != "<13>half done" || f[1].Truncated {
		t.Errorf("a[0]'s second frame = %+v, want <13>half done, complete", f[1])
	}
	// Each source now holds at most 2 (A: a[0] and one more, B: 2): a
	// newcomer from B is refused, as there is no one to take from.
	if got := h.rejected("max_connections"); got != 0 {
		t.Errorf("rejected max_connections = %v, want 0", got)
	}
	extra := dialFrom(t, h.addr, "127.0.0.3")
	expectClosed(t, extra)
	waitFor(t, "1 refusal", func() bool { return h.rejected("max_connections") == 1 })
	if l := logs.String(); !strings.Contains(l, "evicted_sender=127.0.0.2") || !strings.Contains(l, "raise syslog.tcp.max_connections") {
		t.Errorf("log does not name the evicted sender and the key:\n%s", l)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if got := h.closed("evicted"); got != 4 {
		t.Errorf("closed evicted = %v, want 4", got)
	}
	for _, f := range h.dec.all() {
		if f.Truncated {
			t.Errorf("truncated frame %+v: no message was cut", f)
		}
	}
}

// When every connection of the heaviest source is inside a message, one is
// cut: its message is delivered truncated and counted.
func TestTCPEvictCutsPartial(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.MaxConnections = 2
	h := startTCP(t, cfg, 64, 0)
	a := []net.Conn{dialFrom(t, h.addr, "127.0.0.2"), dialFrom(t, h.addr, "127.0.0.2")}
	for i, c := range a {
		write(t, c, fmt.Sprintf("<13>whole %d\n<13>half %d", i, i))
	}
	waitFor(t, "2 messages in progress", func() bool {
		n := 0
		for _, c := range a {
			if sc := h.serverConn(c); sc != nil && sc.partial.Load() {
				n++
			}
		}
		return n == 2
	})
	newcomer := dialFrom(t, h.addr, "127.0.0.3")
	waitFor(t, "1 eviction", func() bool { return h.closed("evicted") == 1 })
	write(t, newcomer, "<13>newcomer\n")
	waitFor(t, "4 frames", func() bool { return h.dec.count() == 4 })
	cut := 0
	for i, c := range a {
		f := h.framesFrom(c)
		if len(f) == 0 || f[0].Data != fmt.Sprintf("<13>whole %d", i) || f[0].Truncated {
			t.Errorf("frames of a[%d] = %+v, want <13>whole %d first", i, f, i)
			continue
		}
		if len(f) == 2 {
			if f[1].Data != fmt.Sprintf("<13>half %d", i) || !f[1].Truncated {
				t.Errorf("cut frame of a[%d] = %+v, want <13>half %d truncated", i, f[1], i)
			}
			cut++
		}
	}
	if cut != 1 {
		t.Errorf("%d connections cut, want 1", cut)
	}
	if got := h.metric(h.tcp.m.tcpTruncated, "incomplete"); got != 1 {
		t.Errorf("truncated incomplete = %v, want 1", got)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if got := h.closed("evicted"); got != 1 {
		t.Errorf("closed evicted = %v, want 1", got)
	}
}

// The flood: 2,000 idle connections, slowloris connections and idle
// re-dialers from other sources do not keep a legitimate sender out; it
// delivers every line.
func TestTCPFairnessUnderFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	const (
		idleSources, idlePerSource = 5, 400 // 2,000 idle connections
		slowSources, slowPerSource = 4, 8
		redialers                  = 40
		legitLines                 = 2000
	)
	cfg := DefaultTCP()
	cfg.MaxConnections = 64
	cfg.MaxConnectionsPerSource = 8
	cfg.FirstFrameTimeout = time.Second
	cfg.FrameTimeout = time.Second
	cfg.IdleTimeout = 5 * time.Second
	// Client and server ends of the admitted ones, the client ends of the
	// rest, and room for the runtime and the redials in flight.
	need := uint64(idleSources*idlePerSource+slowSources*slowPerSource+redialers) + 2*uint64(cfg.MaxConnections) + 512
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Logf("RLIMIT_NOFILE %d/%d, the test needs about %d", lim.Cur, lim.Max, need)
	raiseNoFile(t, need)
	t.Cleanup(func() { goleak.VerifyNone(t) })
	h := startTCP(t, cfg, 64, 0)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	var held []net.Conn
	stopped := false
	// end stops the attackers and closes every client connection.
	end := func() {
		mu.Lock()
		if !stopped {
			stopped = true
			close(stop)
			for _, c := range held {
				c.Close()
			}
			held = nil
		}
		mu.Unlock()
		wg.Wait()
	}
	defer end()
	keep := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			c.Close()
			return
		}
		held = append(held, c)
	}
	// 2,000 idle connections (most are refused at once; the client keeps
	// its end open anyway).
	var dialErrs atomic.Int64
	var dialers sync.WaitGroup
	for s := range idleSources {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			for range idlePerSource {
				c, err := dialFromErr(h.addr, fmt.Sprintf("127.0.1.%d", s+1))
				if err != nil {
					dialErrs.Add(1)
					continue
				}
				keep(c)
			}
		}()
	}
	dialers.Wait()
	if n := dialErrs.Load(); n > 0 {
		t.Fatalf("%d idle dials failed", n)
	}
	// Slowloris: a message, the next one started, a byte every 100ms, and a
	// redial when cut.
	for s := range slowSources {
		for range slowPerSource {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					c, err := dialFromErr(h.addr, fmt.Sprintf("127.0.2.%d", s+1))
					if err == nil {
						keep(c)
						var one sync.WaitGroup
						trickle(&one, c, "<13>hello\n<13>slo", "w", 100*time.Millisecond, stop)
						one.Wait()
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
		}
	}
	// Idle redialers: connect, wait to be closed, connect again.
	for i := range redialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := dialFromErr(h.addr, fmt.Sprintf("127.0.1.%d", i%idleSources+1))
				if err == nil {
					keep(c)
					_, _ = io.Copy(io.Discard, c) // until the server closes it (or the test ends)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
	}
	waitFor(t, "the listener full", func() bool { return h.tcp.Connections() == cfg.MaxConnections })

	// The legitimate sender: bursts of lines with pauses, over a few seconds.
	legit := dialFrom(t, h.addr, "127.0.3.1")
	want := lines("<13>legit ", legitLines)
	for i := 0; i < legitLines; i += 100 {
		write(t, legit, strings.Join(want[i:i+100], "\n")+"\n")
		time.Sleep(50 * time.Millisecond) // pacing the sender, not an assertion
	}
	waitFor(t, "every legitimate line", func() bool { return len(h.dec.from(legit)) >= legitLines })
	if diff := cmp.Diff(h.dec.from(legit), want); diff != "" {
		t.Errorf("legitimate frames (-got +want):\n%s", diff)
	}
	if h.serverConn(legit) == nil {
		t.Error("the legitimate connection was closed")
	}
	// Every rule took part (the flood goes on until each has counted).
	waitFor(t, "per-source refusals", func() bool { return h.rejected("max_connections_per_source") > 0 })
	waitFor(t, "evictions", func() bool { return h.closed("evicted") > 0 })
	waitFor(t, "first-frame timeouts", func() bool { return h.closed("first_frame_timeout") > 0 })
	waitFor(t, "frame timeouts (slowloris)", func() bool { return h.closed("frame_timeout") > 0 })
	m := map[string]float64{}
	for _, r := range []string{"max_connections", "max_connections_per_source"} {
		m["rejected "+r] = h.rejected(r)
	}
	for _, r := range []string{"evicted", "first_frame_timeout", "frame_timeout", "idle_timeout"} {
		m["closed "+r] = h.closed(r)
	}
	t.Logf("accepted %v; %v", h.accepted(), m)
	if h.serverConn(legit) == nil {
		t.Error("the legitimate connection was closed during the flood")
	}
	end()
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
}

// The TLS listener has the same rules; its keys are its own, the limits
// the shared syslog.tcp ones.
func TestTLSFairness(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	pki := newTestPKI(t)
	client := &tls.Config{RootCAs: pki.roots}
	base := DefaultTCP()
	base.TLS = &TLSConfig{CertFile: pki.certFile, KeyFile: pki.keyFile}
	base.Key, base.LimitsKey = "syslog.tls", "syslog.tcp"

	t.Run("per source, first frame, slowloris", func(t *testing.T) {
		cfg := base
		cfg.MaxConnectionsPerSource = 2
		cfg.FirstFrameTimeout = time.Second
		cfg.FrameTimeout = time.Second
		cfg.IdleTimeout = 5 * time.Second
		logs := &logBuf{}
		h := startTCPLog(t, cfg, 64, 0, logs.logger())
		silent, err := dialTLSFrom(t, h.addr, "127.0.0.2", client)
		if err != nil {
			t.Fatalf("tls dial: %v", err)
		}
		slow, err := dialTLSFrom(t, h.addr, "127.0.0.2", client)
		if err != nil {
			t.Fatalf("tls dial: %v", err)
		}
		waitFor(t, "2 connections", func() bool { return h.accepted() == 2 })
		if c, err := dialTLSFrom(t, h.addr, "127.0.0.2", client); err == nil {
			// TLS 1.3: the client may finish before it sees the close.
			expectClosed(t, c)
		}
		waitFor(t, "1 per-source refusal", func() bool { return h.rejected("max_connections_per_source") == 1 })
		write(t, slow, "<13>ok\n")
		waitFor(t, "1 frame", func() bool { return h.dec.count() == 1 })
		var wg sync.WaitGroup
		stop := make(chan struct{})
		trickle(&wg, slow, "<13>slow", ".", 100*time.Millisecond, stop)
		expectClosed(t, silent)
		expectClosed(t, slow)
		close(stop)
		wg.Wait()
		waitFor(t, "the timeouts counted", func() bool { return h.closed("first_frame_timeout") == 1 && h.closed("frame_timeout") == 1 })
		if f := h.framesFrom(slow); len(f) != 2 || f[0].Data != "<13>ok" || !strings.HasPrefix(f[1].Data, "<13>slow") || !f[1].Truncated {
			t.Errorf("frames of the slowloris = %+v, want <13>ok and a truncated <13>slow...", f)
		}
		l := logs.String()
		for _, k := range []string{"syslog.tcp.max_connections_per_source", "syslog.tcp.first_frame_timeout", "syslog.tcp.frame_timeout"} {
			if !strings.Contains(l, k) {
				t.Errorf("log does not name %s:\n%s", k, l)
			}
		}
		if strings.Contains(l, "syslog.tls.max") || strings.Contains(l, "syslog.tls.f") {
			t.Errorf("log names a syslog.tls limit that does not exist:\n%s", l)
		}
		if err := h.stop(); err != nil {
			t.Fatalf("Run() = %v", err)
		}
	})

	t.Run("eviction", func(t *testing.T) {
		cfg := base
		cfg.MaxConnections = 3
		h := startTCP(t, cfg, 64, 0)
		var a []*tls.Conn
		for i := range 3 {
			c, err := dialTLSFrom(t, h.addr, "127.0.0.2", client)
			if err != nil {
				t.Fatalf("tls dial: %v", err)
			}
			write(t, c, fmt.Sprintf("<13>a%d\n", i))
			waitFor(t, "the frame", func() bool { return h.dec.count() == i+1 })
			a = append(a, c)
		}
		// Sent, not yet necessarily read, when the newcomer arrives.
		for i, c := range a {
			write(t, c, fmt.Sprintf("<13>late %d\n", i))
		}
		nc, err := dialTLSFrom(t, h.addr, "127.0.0.3", client)
		if err != nil {
			t.Fatalf("tls dial of the newcomer: %v", err)
		}
		write(t, nc, "<13>newcomer\n")
		waitFor(t, "1 eviction", func() bool { return h.closed("evicted") == 1 })
		waitFor(t, "7 frames", func() bool { return h.dec.count() == 7 })
		for i, c := range a {
			if diff := cmp.Diff(h.dec.from(c), []string{fmt.Sprintf("<13>a%d", i), fmt.Sprintf("<13>late %d", i)}); diff != "" {
				t.Errorf("frames of a[%d] (-got +want):\n%s", i, diff)
			}
		}
		if err := h.stop(); err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if got := h.rejected("tls_handshake"); got != 0 {
			t.Errorf("rejected tls_handshake = %v, want 0", got)
		}
	})
}

// Waiting for a slow pipeline is not the sender's delay: a connection
// blocked handing on a batch, with a message in progress behind it, for
// longer than frame_timeout and idle_timeout, is not cut.
func TestTCPBackpressureIsNoTimeout(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	cfg := DefaultTCP()
	cfg.FrameTimeout = 300 * time.Millisecond
	cfg.FirstFrameTimeout = 300 * time.Millisecond
	cfg.IdleTimeout = time.Second
	h := startTCP(t, cfg, 0, 1500*time.Millisecond) // the sink takes a batch every 1.5s
	c := h.dial()
	want := lines("<13>line ", 30)
	want[10], want[21] = "<13>partial 1", "<13>partial 2"
	write(t, c, strings.Join(want[:10], "\n")+"\n<13>part")
	waitFor(t, "10 frames decoded", func() bool { return h.dec.count() == 10 })
	// The first batch is taken at once; the second waits 1.5s for the sink,
	// with "<13>part" of the next message behind it.
	write(t, c, "ial 1\n"+strings.Join(want[11:21], "\n")+"\n<13>part")
	waitFor(t, "21 frames decoded", func() bool { return h.dec.count() == 21 })
	write(t, c, "ial 2\n"+strings.Join(want[22:], "\n")+"\n")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connection ended", func() bool { return h.closed("eof") == 1 || h.tcp.Connections() == 0 })
	waitFor(t, "30 events delivered", func() bool { return h.sink.events.Load() == 30 })
	if diff := cmp.Diff(h.dec.from(c), want); diff != "" {
		t.Errorf("frames (-got +want):\n%s", diff)
	}
	for _, r := range []string{"frame_timeout", "first_frame_timeout", "idle_timeout"} {
		if got := h.closed(r); got != 0 {
			t.Errorf("closed %s = %v, want 0: waiting for the pipeline counted against the sender", r, got)
		}
	}
	if got := h.closed("eof"); got != 1 {
		t.Errorf("closed eof = %v, want 1", got)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
}
