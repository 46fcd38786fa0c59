package collector

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// TCPConfig configures one stream listener for syslog over TCP (RFC 6587)
// or, with TLS set, over TLS (RFC 5425), on any number of addresses.
type TCPConfig struct {
	Listen []string   // host:port
	TLS    *TLSConfig // nil: plain TCP
	// MaxMessageBytes bounds one message; the rest of a longer one is
	// discarded and the message is delivered truncated and tagged.
	MaxMessageBytes int
	// MaxConnections bounds the open connections of this listener (all its
	// addresses together). When it is reached, a new connection from a
	// sender that holds fewer connections than the sender holding the most
	// replaces that sender's longest-idle connection (see TCP); otherwise
	// it is accepted and closed at once, and counted.
	MaxConnections int
	// MaxConnectionsPerSource bounds the open connections from one source
	// address; further ones are accepted and closed at once, and counted.
	MaxConnectionsPerSource int
	// IdleTimeout closes a connection that completed no message for this
	// long (half-open connections, silent peers holding a slot). Bytes that
	// complete no message, such as bare newlines, do not reset it.
	IdleTimeout time.Duration
	// FirstFrameTimeout closes a connection that has not completed its
	// first message this long after it was admitted (for TLS: after the
	// handshake).
	FirstFrameTimeout time.Duration
	// FrameTimeout closes a connection whose message, once its first bytes
	// arrived, is not complete this long after (slowloris: one byte now and
	// then does not extend it). Time spent waiting for the pipeline does
	// not count. A first message is also bound by FirstFrameTimeout; the
	// earlier deadline applies and names the close reason.
	FrameTimeout time.Duration
	// Key is the config key prefix of this listener's own keys, used in
	// messages ("syslog.tcp", "syslog.tls"); empty: the name given to
	// NewTCP plus ".tcp" or ".tls".
	Key string
	// LimitsKey is the config key prefix of the connection limits
	// (max_connections, max_connections_per_source, idle_timeout,
	// first_frame_timeout, frame_timeout) in messages: the TLS listener
	// shares them with the TCP one ("syslog.tcp"). Empty: Key.
	LimitsKey string
	// MaxBatchEvents is how many events a connection collects before it
	// hands a batch on. A batch is also handed on before every read that
	// may wait for the network, so no event waits for a timer.
	MaxBatchEvents int
}

// TLSConfig holds the server certificate and the client verification of a
// TLS listener. Certificates are read at start (no reload).
type TLSConfig struct {
	CertFile string // PEM server certificate (chain)
	KeyFile  string // PEM private key of CertFile
	// CAFile is a PEM bundle of the CAs that sign client certificates.
	// Without ClientAuth a client certificate is optional but, when one is
	// presented, verified against CAFile.
	CAFile string
	// ClientAuth requires every client to present a certificate that
	// CAFile verifies.
	ClientAuth bool
}

// Defaults of TCPConfig (the listen addresses come from the config package).
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultMaxConnections  = 1024
	DefaultIdleTimeout     = 2 * time.Minute
	// DefaultMaxConnectionsPerSource leaves room for a relay or a NAT
	// gateway with many senders behind it, and keeps one address from
	// taking more than 1/32 of the default max_connections.
	DefaultMaxConnectionsPerSource = 32
	DefaultFirstFrameTimeout       = 30 * time.Second
	// DefaultFrameTimeout lets a 64 KiB message arrive at 2.2 KB/s.
	DefaultFrameTimeout = 30 * time.Second
)

// Internal bounds of the stream listeners.
const (
	// readBufferSize is the per-connection read buffer: most messages fit,
	// longer ones are copied out, and 1024 idle connections cost 16 MiB.
	readBufferSize = 16 << 10
	// tcpDrain is how long open connections may still be read at shutdown:
	// what the senders wrote before it is in the kernel buffers already.
	tcpDrain = 200 * time.Millisecond
	// tcpSendMax bounds how long, after the shutdown drain started, a
	// connection waits for the pipeline to take a batch; past it the
	// batch is dropped and counted, so Run always returns.
	tcpSendMax = 5 * time.Second
	// tlsHandshakeTimeout bounds the TLS handshake (IdleTimeout if shorter).
	tlsHandshakeTimeout = 10 * time.Second
)

// DefaultTCP returns the defaults of a stream listener.
func DefaultTCP() TCPConfig {
	return TCPConfig{
		MaxMessageBytes: DefaultMaxMessageBytes,
		MaxConnections:  DefaultMaxConnections,
		IdleTimeout:     DefaultIdleTimeout,
		MaxBatchEvents:  512,

		MaxConnectionsPerSource: DefaultMaxConnectionsPerSource,
		FirstFrameTimeout:       DefaultFirstFrameTimeout,
		FrameTimeout:            DefaultFrameTimeout,
	}
}

// Validate checks c; prefix is the config key prefix ("syslog.tcp" or
// "syslog.tls") unless c.Key is set. With TLS set it also loads the
// certificate, key and CA files, so check-config reports unreadable or
// mismatched files.
func (c TCPConfig) Validate(prefix string) error {
	if c.Key != "" {
		prefix = c.Key
	}
	limits := c.limitsKey(prefix)
	var errs []error
	for _, a := range c.Listen {
		_, port, err := net.SplitHostPort(a)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			port := "5514"
			if c.TLS != nil {
				port = "6514" // RFC 5425
			}
			errs = append(errs, fmt.Errorf("%s.listen: %q is not host:port; use e.g. 0.0.0.0:%s or [::]:%s", prefix, a, port, port))
		}
	}
	// The message size and batch size are shared keys (syslog.*, collector.*),
	// checked there with the same bounds; name those keys, not the listener's.
	if c.MaxMessageBytes < 480 || c.MaxMessageBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("syslog.max_message_bytes: %d is out of range; use 480..16777216 (default %d)", c.MaxMessageBytes, DefaultMaxMessageBytes))
	}
	if c.MaxConnections < 1 || c.MaxConnections > 1<<20 {
		errs = append(errs, fmt.Errorf("%s.max_connections: %d is out of range; use 1..1048576 (default %d)", limits, c.MaxConnections, DefaultMaxConnections))
	}
	if c.MaxConnectionsPerSource < 1 || c.MaxConnectionsPerSource > 1<<20 {
		errs = append(errs, fmt.Errorf("%s.max_connections_per_source: %d is out of range; use 1..1048576 (default %d)", limits, c.MaxConnectionsPerSource, DefaultMaxConnectionsPerSource))
	}
	if c.IdleTimeout < time.Second {
		errs = append(errs, fmt.Errorf("%s.idle_timeout: %s is below 1s; raise it or remove it to use %s", limits, c.IdleTimeout, DefaultIdleTimeout))
	}
	if c.FirstFrameTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("%s.first_frame_timeout: %s is below 100ms; raise it or remove it to use %s", limits, c.FirstFrameTimeout, DefaultFirstFrameTimeout))
	}
	if c.FrameTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("%s.frame_timeout: %s is below 100ms; raise it or remove it to use %s", limits, c.FrameTimeout, DefaultFrameTimeout))
	}
	if c.MaxBatchEvents < 1 {
		errs = append(errs, fmt.Errorf("collector.max_batch_events: %d must be at least 1", c.MaxBatchEvents))
	}
	if c.TLS != nil {
		if _, err := c.TLS.serverConfig(prefix); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c TCPConfig) limitsKey(prefix string) string {
	if c.LimitsKey != "" {
		return c.LimitsKey
	}
	return prefix
}

// serverConfig loads the files into a crypto/tls server configuration.
func (c *TLSConfig) serverConfig(prefix string) (*tls.Config, error) {
	var errs []error
	if c.CertFile == "" {
		errs = append(errs, fmt.Errorf("%s.cert_file: missing; set the PEM server certificate", prefix))
	}
	if c.KeyFile == "" {
		errs = append(errs, fmt.Errorf("%s.key_file: missing; set the PEM private key of %s.cert_file", prefix, prefix))
	}
	if c.ClientAuth && c.CAFile == "" {
		errs = append(errs, fmt.Errorf("%s.ca_file: missing; %s.client_auth needs the PEM CA bundle that signs client certificates", prefix, prefix))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s.cert_file, %s.key_file: %w; check the paths and that the key belongs to the certificate", prefix, prefix, err)
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w; check the path", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: no PEM certificate in %s; give a PEM CA bundle", prefix, c.CAFile)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.VerifyClientCertIfGiven
		if c.ClientAuth {
			conf.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return conf, nil
}

// TCP accepts syslog streams over TCP or TLS, frames them (RFC 6587
// octet counting or newline, detected per connection) and decodes every
// message with a Decoder. It implements pipeline.Source.
//
// Each connection has one goroutine: it reads through a bounded buffer,
// decodes in stream order and sends batches to out, blocking while out is
// full, which pushes back on the sender through TCP flow control.
//
// Fairness: no sender can keep the others out. One source address holds
// at most MaxConnectionsPerSource connections; a connection must complete
// its first message within FirstFrameTimeout and every later message
// within FrameTimeout of its first bytes; and when MaxConnections is
// reached, a connection from a source holding fewer connections than the
// source holding the most replaces that source's longest-idle connection.
// An idle victim (no message in progress) is shut for reading, so what it
// sent before is still read and delivered; one inside a message (only when
// the source has no idle connection) is cut, and the message is delivered
// truncated and counted.
type TCP struct {
	name   string // protocol name: "syslog"
	key    string // config key prefix: "syslog.tcp", "syslog.tls"
	limits string // config key prefix of the connection limits: "syslog.tcp"
	// transport is "tcp" or "tls" (Packet.Listener).
	transport string
	cfg       TCPConfig
	dec       Decoder
	m         *Metrics
	logger    *slog.Logger
	limiter   *obs.Limiter
	tlsConf   *tls.Config
	lns       []net.Listener
	ready     atomic.Bool

	mu      sync.Mutex
	conns   map[*tcpConn]struct{}
	sources map[netip.Addr]map[*tcpConn]struct{} // the admitted conns by source address
	wg      sync.WaitGroup                       // connection goroutines

	drainAt  atomic.Int64  // Unix ns read deadline of every connection once draining; 0 before
	giveUp   chan struct{} // closed sendMax after the drain started
	sendMax  time.Duration // tcpSendMax; shorter in tests
	closeLns sync.Once
}

// tcpConn is one admitted connection.
type tcpConn struct {
	raw    net.Conn
	listen string
	id     string     // Packet.Listener
	src    netip.Addr // source address (IPv4-mapped ones unmapped)

	// Published by the connection goroutine before each read that may wait,
	// for the choice of an eviction victim.
	idleSince atomic.Int64 // Unix ns: the last complete message (or admission)
	partial   atomic.Bool  // a message is in progress
	evict     atomic.Int32 // evictNone, evictShut, evictCut
}

// Eviction states of a tcpConn.
const (
	evictNone int32 = iota
	evictShut       // shut for reading: reads what was sent, then EOF
	evictCut        // read deadline in the past: a message in progress is cut
)

// aLongTimeAgo is a read deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

var _ pipeline.Source = (*TCP)(nil)

// NewTCP validates cfg, loads the TLS files and binds every address now, so
// that a port in use or a bad certificate fails at start.
func NewTCP(name string, cfg TCPConfig, dec Decoder, m *Metrics, logger *slog.Logger) (*TCP, error) {
	key, transport := name+".tcp", "tcp"
	if cfg.TLS != nil {
		key, transport = name+".tls", "tls"
	}
	if cfg.Key != "" {
		key = cfg.Key
	}
	if err := cfg.Validate(key); err != nil {
		return nil, err
	}
	t := &TCP{name: name, key: key, limits: cfg.limitsKey(key), transport: transport, cfg: cfg, dec: dec, m: m,
		logger:  logger.With("component", "collector/"+name, "transport", transport),
		limiter: obs.NewLimiter(10 * time.Second), conns: map[*tcpConn]struct{}{}, sources: map[netip.Addr]map[*tcpConn]struct{}{},
		giveUp: make(chan struct{}), sendMax: tcpSendMax}
	if cfg.TLS != nil {
		conf, err := cfg.TLS.serverConfig(key)
		if err != nil {
			return nil, err
		}
		t.tlsConf = conf
	}
	for _, addr := range cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.closeListeners()
			return nil, fmt.Errorf("%s.listen: cannot listen on %s: %w; check the address and that the port is free", key, addr, err)
		}
		t.lns = append(t.lns, ln)
		listen := ln.Addr().String()
		m.tcpConns.WithLabelValues(name, listen)
		m.tcpAccepted.WithLabelValues(name, listen)
		m.bytes.WithLabelValues(name, listen)
	}
	// Series exist at 0.
	for _, r := range []string{"max_connections", "max_connections_per_source", "tls_handshake"} {
		m.tcpRejected.WithLabelValues(name, r)
	}
	for _, r := range []string{"eof", "idle_timeout", "first_frame_timeout", "frame_timeout", "evicted", "framing_error", "read_error", "shutdown", "tls_handshake"} {
		m.tcpClosed.WithLabelValues(name, r)
	}
	for _, f := range []Framing{FramingOctetCounted, FramingNewline} {
		m.tcpFrames.WithLabelValues(name, f.String())
	}
	for _, r := range []string{"too_long", "incomplete"} {
		m.tcpTruncated.WithLabelValues(name, r)
		m.tcpFramingErrs.WithLabelValues(name, r)
	}
	m.tcpFramingErrs.WithLabelValues(name, "bad_length")
	m.tcpAcceptErrors.WithLabelValues(name)
	m.tcpDropped.WithLabelValues(name, "shutdown")
	m.events.WithLabelValues(name)
	return t, nil
}

// Name implements pipeline.Source.
func (t *TCP) Name() string { return t.name }

// Addrs returns the bound addresses (useful with port 0).
func (t *TCP) Addrs() []net.Addr {
	out := make([]net.Addr, len(t.lns))
	for i, ln := range t.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Ready reports whether the listeners accept connections.
func (t *TCP) Ready() bool { return t.ready.Load() }

// Connections returns the number of open connections.
func (t *TCP) Connections() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

func (t *TCP) closeListeners() {
	t.closeLns.Do(func() {
		for _, ln := range t.lns {
			_ = ln.Close()
		}
	})
}

// Run accepts and reads connections until ctx is done. Then it closes the
// listeners, reads what the open connections have sent already (for up to
// 200ms), hands on their batches and returns once every connection
// goroutine has ended. It never closes out.
func (t *TCP) Run(ctx context.Context, out chan<- *event.Batch) error {
	var accepts sync.WaitGroup
	for i, ln := range t.lns {
		accepts.Add(1)
		go func() {
			defer accepts.Done()
			t.accept(ctx, ln, t.transport+"/"+t.cfg.Listen[i], out)
		}()
	}
	t.ready.Store(true)
	<-ctx.Done()
	t.ready.Store(false)
	t.closeListeners()
	accepts.Wait() // no connection is added from here on

	deadline := time.Now().Add(tcpDrain)
	t.drainAt.Store(deadline.UnixNano())
	t.mu.Lock()
	for c := range t.conns {
		_ = c.raw.SetReadDeadline(deadline)
	}
	t.mu.Unlock()
	timer := time.AfterFunc(t.sendMax, func() { close(t.giveUp) })
	t.wg.Wait()
	timer.Stop()
	return nil
}

func (t *TCP) accept(ctx context.Context, ln net.Listener, id string, out chan<- *event.Batch) {
	listen := ln.Addr().String()
	var delay time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off (as net/http
			// does) instead of spinning, and keep serving the open ones.
			t.m.tcpAcceptErrors.WithLabelValues(t.name).Inc()
			if ok, sup := t.limiter.Allow("accept"); ok {
				t.logger.Warn("accepting a connection failed; retrying (out of file descriptors? raise LimitNOFILE or lower max_connections)", "listen", listen, "err", err, "suppressed", sup)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		c := &tcpConn{raw: raw, listen: listen, id: id, src: remoteAddrPort(raw).Addr()}
		c.idleSince.Store(time.Now().UnixNano())
		t.mu.Lock()
		reject, victim, held, victimHeld := t.admit(c)
		t.mu.Unlock()
		if reject != "" {
			_ = raw.Close()
			t.m.tcpRejected.WithLabelValues(t.name, reject).Inc()
			if ok, sup := t.limiter.Allow(reject); ok {
				if reject == "max_connections_per_source" {
					t.logger.Warn("too many connections from one sender, closing its new ones; raise "+t.limits+".max_connections_per_source if it is legitimate (a relay, many senders behind NAT)",
						"listen", listen, "sender", c.src.String(), "max_connections_per_source", t.cfg.MaxConnectionsPerSource, "suppressed", sup)
				} else {
					t.logger.Warn("too many connections and no sender holds more than this one, closing new ones; raise "+t.limits+".max_connections if the senders are legitimate",
						"listen", listen, "sender", c.src.String(), "sender_connections", held, "max_connections", t.cfg.MaxConnections, "suppressed", sup)
				}
			}
			continue
		}
		if victim != nil {
			t.evict(victim)
			if ok, sup := t.limiter.Allow("evict"); ok {
				t.logger.Warn("too many connections: closed the longest-idle connection of the sender holding the most to admit one from a sender holding fewer; raise "+t.limits+".max_connections if the senders are legitimate, or lower "+t.limits+".max_connections_per_source",
					"listen", listen, "sender", c.src.String(), "sender_connections", held, "evicted_sender", victim.src.String(), "evicted_sender_connections", victimHeld,
					"max_connections", t.cfg.MaxConnections, "suppressed", sup)
			}
		}
		t.m.tcpAccepted.WithLabelValues(t.name, listen).Inc()
		t.m.tcpConns.WithLabelValues(t.name, listen).Inc()
		go t.serve(c, out)
	}
}

func remoteAddrPort(c net.Conn) netip.AddrPort {
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// admit decides on a new connection c, with t.mu held: it returns the
// rejection reason ("" when admitted), or the connection that makes room
// for c, already removed from the books (the caller evicts it). held is
// how many connections c's source held before, victimHeld how many the
// victim's source held.
func (t *TCP) admit(c *tcpConn) (reject string, victim *tcpConn, held, victimHeld int) {
	held = len(t.sources[c.src])
	if held >= t.cfg.MaxConnectionsPerSource {
		return "max_connections_per_source", nil, held, 0
	}
	if len(t.conns) >= t.cfg.MaxConnections {
		// The source holding the most; ties go to any of them.
		var heavy map[*tcpConn]struct{}
		for _, cs := range t.sources {
			if len(cs) > victimHeld {
				heavy, victimHeld = cs, len(cs)
			}
		}
		if victimHeld <= held {
			return "max_connections", nil, held, victimHeld
		}
		// Its longest-idle connection, one without a message in progress
		// if it has any.
		var vIdle int64
		vPartial := true
		for vc := range heavy {
			idle, partial := vc.idleSince.Load(), vc.partial.Load()
			if victim == nil || (vPartial && !partial) || (partial == vPartial && idle < vIdle) {
				victim, vIdle, vPartial = vc, idle, partial
			}
		}
		t.remove(victim)
		how := evictShut
		if vPartial {
			how = evictCut
		}
		victim.evict.Store(how)
	}
	t.conns[c] = struct{}{}
	cs := t.sources[c.src]
	if cs == nil {
		cs = map[*tcpConn]struct{}{}
		t.sources[c.src] = cs
	}
	cs[c] = struct{}{}
	t.wg.Add(1)
	return "", victim, held, victimHeld
}

// remove takes c off the books, with t.mu held; it may be called twice.
func (t *TCP) remove(c *tcpConn) {
	if _, ok := t.conns[c]; !ok {
		return
	}
	delete(t.conns, c)
	cs := t.sources[c.src]
	delete(cs, c)
	if len(cs) == 0 {
		delete(t.sources, c.src)
	}
}

// evict ends a connection that admit chose as victim. Its goroutine sees
// evict set, whatever it is doing, and closes it as "evicted".
func (t *TCP) evict(c *tcpConn) {
	if c.evict.Load() == evictCut {
		// The connection goroutine sets a fresh deadline before each read
		// and then checks evict, so this cannot be lost.
		_ = c.raw.SetReadDeadline(aLongTimeAgo)
		return
	}
	// Shut for reading: what the sender wrote before is still read, then
	// the reads end with EOF, and the goroutine closes the connection.
	if cr, ok := c.raw.(interface{ CloseRead() error }); ok && cr.CloseRead() == nil {
		return
	}
	_ = c.raw.Close()
}

// setReadDeadline sets the read deadline of c to at, or to the shutdown
// drain deadline once that is set. Run stores drainAt before it sets the
// drain deadline on every connection; setting first and checking after
// means neither order of the two can leave a connection without it.
func (t *TCP) setReadDeadline(c net.Conn, at time.Time) {
	_ = c.SetReadDeadline(at)
	if d := t.drainAt.Load(); d != 0 {
		_ = c.SetReadDeadline(time.Unix(0, d))
	}
}

func (t *TCP) draining() bool { return t.drainAt.Load() != 0 }

// connReader reads from a connection for the bufio.Reader of one
// connection goroutine. bufio calls it only when its buffer cannot serve
// the frame reader, which is just before this goroutine may wait for the
// network: the pending batch is handed on then, and the read deadline is
// set from the connection's progress.
type connReader struct {
	t     *TCP
	c     *tcpConn
	conn  net.Conn // what is read (the *tls.Conn or raw)
	raw   net.Conn // where deadlines are set
	fr    *FrameReader
	flush func() // hands on the pending batch (and updates progress)
	bytes prometheus.Counter
	last  time.Time // when the last read returned

	start      time.Time // admission (after the TLS handshake)
	frames     int       // frames the serve loop took from fr
	seen       int       // frames at the previous read
	progress   time.Time // the last complete frame, or start, or the end of a flush
	frameStart time.Time // when the bytes of the frame in progress began to arrive; zero: none
	cause      string    // the deadline that applies: idle_timeout, first_frame_timeout, frame_timeout
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (r *connReader) Read(p []byte) (int, error) {
	r.flush()
	if r.frames != r.seen {
		// Frames completed since the previous read, with bytes that came
		// in by then. A frame in progress now began in that read at the
		// earliest; r.last is a generous start for it.
		r.seen = r.frames
		r.progress = later(r.progress, r.last)
		r.frameStart = time.Time{}
	}
	base := r.progress
	inFrame := r.fr.InFrame()
	if inFrame {
		if r.frameStart.IsZero() {
			r.frameStart = later(r.last, r.progress)
		}
		base = later(base, r.frameStart)
	} else {
		r.frameStart = time.Time{}
	}
	deadline, cause := base.Add(r.t.cfg.IdleTimeout), "idle_timeout"
	if r.frames == 0 {
		if d := r.start.Add(r.t.cfg.FirstFrameTimeout); d.Before(deadline) {
			deadline, cause = d, "first_frame_timeout"
		}
	}
	if inFrame {
		if d := r.frameStart.Add(r.t.cfg.FrameTimeout); d.Before(deadline) {
			deadline, cause = d, "frame_timeout"
		}
	}
	r.cause = cause
	r.c.idleSince.Store(base.UnixNano())
	r.c.partial.Store(inFrame)
	r.t.setReadDeadline(r.raw, deadline)
	if r.c.evict.Load() == evictCut {
		_ = r.raw.SetReadDeadline(aLongTimeAgo)
	}
	n, err := r.conn.Read(p)
	r.last = time.Now()
	if n > 0 {
		r.bytes.Add(float64(n))
	}
	return n, err
}

// serve reads one connection until it ends, fails, idles out or shutdown.
func (t *TCP) serve(c *tcpConn, out chan<- *event.Batch) {
	defer t.wg.Done()
	closeConn := c.raw.Close
	defer func() {
		_ = closeConn()
		t.mu.Lock()
		t.remove(c)
		t.mu.Unlock()
		t.m.tcpConns.WithLabelValues(t.name, c.listen).Dec()
	}()
	src := remoteAddrPort(c.raw)
	sender := src.Addr().String()

	conn := c.raw
	if t.tlsConf != nil {
		// The handshake has its own bound; the first frame's starts after it.
		tc := tls.Server(c.raw, t.tlsConf)
		_ = c.raw.SetWriteDeadline(time.Now().Add(min(t.cfg.IdleTimeout, tlsHandshakeTimeout)))
		t.setReadDeadline(c.raw, time.Now().Add(min(t.cfg.IdleTimeout, tlsHandshakeTimeout)))
		if err := tc.Handshake(); err != nil {
			if c.evict.Load() != evictNone {
				t.m.tcpClosed.WithLabelValues(t.name, "evicted").Inc()
				return
			}
			t.m.tcpRejected.WithLabelValues(t.name, "tls_handshake").Inc()
			t.m.tcpClosed.WithLabelValues(t.name, "tls_handshake").Inc()
			if ok, sup := t.limiter.Allow("tls_handshake"); ok {
				t.logger.Warn("TLS handshake failed, connection closed", "listen", c.listen, "sender", sender, "err", err, "suppressed", sup)
			}
			return
		}
		_ = c.raw.SetWriteDeadline(time.Time{})
		conn = tc
	}
	t.logger.Debug("connection opened", "listen", c.listen, "sender", sender)

	var eb *event.Batch
	events := t.m.events.WithLabelValues(t.name)
	var cr *connReader
	flush := func() {
		if eb == nil || eb.Len() == 0 {
			return
		}
		n := eb.Len()
		select {
		case out <- eb:
			events.Add(float64(n))
		case <-t.giveUp:
			t.m.tcpDropped.WithLabelValues(t.name, "shutdown").Add(float64(n))
			if ok, sup := t.limiter.Allow("shutdown_drop"); ok {
				t.logger.Error("pipeline stopped taking batches during shutdown; events dropped", "sender", sender, "count", n, "suppressed", sup)
			}
			eb.Release()
		}
		eb = nil
		// Waiting for the pipeline is not the sender's delay: the
		// deadlines count from now. No frame completes while one is in
		// progress, so this extends a slow message at most once.
		cr.progress = time.Now()
		if !cr.frameStart.IsZero() {
			cr.frameStart = cr.progress
		}
	}
	now := time.Now()
	cr = &connReader{t: t, c: c, conn: conn, raw: c.raw, flush: flush, bytes: t.m.bytes.WithLabelValues(t.name, c.listen),
		start: now, progress: now, last: now}
	c.idleSince.Store(now.UnixNano())
	fr := NewFrameReader(bufio.NewReaderSize(cr, readBufferSize), t.cfg.MaxMessageBytes)
	cr.fr = fr
	perSender := t.m.exporterCounters(t.name, src.Addr())
	var frames prometheus.Counter
	p := &Packet{Src: src, Listener: c.id} // reused: a Packet handed to an interface escapes
	var err error
	for {
		var f Frame
		f, err = fr.Next()
		if err != nil {
			break
		}
		cr.frames++
		if frames == nil {
			frames = t.m.tcpFrames.WithLabelValues(t.name, fr.Framing().String())
		}
		frames.Inc()
		perSender.packets.Inc()
		perSender.bytes.Add(float64(len(f.Data)))
		if f.Truncated {
			reason := "too_long"
			if f.Incomplete {
				reason = "incomplete"
			}
			t.m.tcpTruncated.WithLabelValues(t.name, reason).Inc()
			if reason == "too_long" {
				if ok, sup := t.limiter.Allow("too_long"); ok {
					t.logger.Warn("message longer than syslog.max_message_bytes, truncated and tagged _truncated", "sender", sender, "max_message_bytes", t.cfg.MaxMessageBytes, "suppressed", sup)
				}
			}
		}
		if eb == nil {
			eb = event.NewBatch()
		}
		p.Data, p.Received, p.Truncated = f.Data, cr.last, f.Truncated
		t.decode(p, eb)
		if eb.Len() >= t.cfg.MaxBatchEvents {
			flush()
		}
	}
	flush()

	reason := "read_error"
	var fe *FrameError
	var ne net.Error
	switch {
	case c.evict.Load() != evictNone:
		// Shut or cut by an eviction (logged when it was decided).
		reason = "evicted"
	case errors.As(err, &fe):
		reason = "framing_error"
		t.m.tcpFramingErrs.WithLabelValues(t.name, fe.Reason).Inc()
		if ok, sup := t.limiter.Allow("framing"); ok {
			t.logger.Warn("cannot frame the stream, connection closed", "listen", c.listen, "sender", sender, "err", err, "suppressed", sup)
		}
	case isEOF(err):
		reason = "eof"
		if t.tlsConf != nil && err == io.EOF {
			closeConn = conn.Close // answer the peer's close_notify (RFC 5425 4.4)
		}
	case errors.As(err, &ne) && ne.Timeout():
		reason = cr.cause
		if t.draining() {
			reason = "shutdown"
		}
		switch reason {
		case "first_frame_timeout":
			if ok, sup := t.limiter.Allow(reason); ok {
				t.logger.Warn("connection completed no message within "+t.limits+".first_frame_timeout, closed; raise it if senders are legitimately slow to start",
					"listen", c.listen, "sender", sender, "first_frame_timeout", t.cfg.FirstFrameTimeout, "suppressed", sup)
			}
		case "frame_timeout":
			if ok, sup := t.limiter.Allow(reason); ok {
				t.logger.Warn("message not completed within "+t.limits+".frame_timeout of its first bytes (a stalled or slowloris sender), connection closed; raise it if legitimate senders send large messages over slow links",
					"listen", c.listen, "sender", sender, "frame_timeout", t.cfg.FrameTimeout, "suppressed", sup)
			}
		}
	default:
		if t.draining() && errors.Is(err, net.ErrClosed) {
			reason = "shutdown"
		}
	}
	t.m.tcpClosed.WithLabelValues(t.name, reason).Inc()
	t.logger.Debug("connection closed", "listen", c.listen, "sender", sender, "reason", reason, "err", err)
}

// decode runs the decoder on one frame; a decoder panic costs the frame,
// not the process.
func (t *TCP) decode(p *Packet, eb *event.Batch) {
	n0 := eb.Len()
	defer func() {
		if r := recover(); r != nil {
			for eb.Len() > n0 {
				eb.Unadd()
			}
			t.m.decodeErrors.WithLabelValues(t.name, "panic").Inc()
			if ok, sup := t.limiter.Allow("panic"); ok {
				t.logger.Error("decoder panic (message dropped)", "sender", p.Src.Addr().String(), "panic", fmt.Sprint(r), "suppressed", sup)
			}
		}
	}()
	err := t.dec.Decode(p, eb)
	if p.Truncated {
		evs := eb.All()
		for i := n0; i < len(evs); i++ {
			evs[i].Tags |= event.TagTruncated
		}
	}
	if err == nil {
		return
	}
	for _, reason := range Reasons(err) {
		t.m.decodeErrors.WithLabelValues(t.name, reason).Inc()
	}
	if ok, sup := t.limiter.Allow("decode"); ok {
		t.logger.Warn("decode error", "sender", p.Src.Addr().String(), "err", err, "suppressed", sup)
	}
}
