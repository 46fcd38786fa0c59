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
	// addresses together); further connections are accepted and closed at
	// once, and counted.
	MaxConnections int
	// IdleTimeout closes a connection that sent nothing for this long
	// (half-open connections, silent peers holding a slot).
	IdleTimeout time.Duration
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
	}
}

// Validate checks c; prefix is the config key prefix ("syslog.tcp" or
// "syslog.tls"). With TLS set it also loads the certificate, key and CA
// files, so check-config reports unreadable or mismatched files.
func (c TCPConfig) Validate(prefix string) error {
	var errs []error
	for _, a := range c.Listen {
		_, port, err := net.SplitHostPort(a)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.listen: %q is not host:port; use e.g. 0.0.0.0:5514 or [::]:5514", prefix, a))
		}
	}
	if c.MaxMessageBytes < 2048 || c.MaxMessageBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("%s.max_message_bytes: %d is out of range; use 2048..16777216 (default %d)", prefix, c.MaxMessageBytes, DefaultMaxMessageBytes))
	}
	if c.MaxConnections < 1 || c.MaxConnections > 1<<20 {
		errs = append(errs, fmt.Errorf("%s.max_connections: %d is out of range; use 1..1048576 (default %d)", prefix, c.MaxConnections, DefaultMaxConnections))
	}
	if c.IdleTimeout < time.Second {
		errs = append(errs, fmt.Errorf("%s.idle_timeout: %s is below 1s; raise it or remove it to use %s", prefix, c.IdleTimeout, DefaultIdleTimeout))
	}
	if c.MaxBatchEvents < 1 {
		errs = append(errs, fmt.Errorf("%s.max_batch_events: %d must be at least 1", prefix, c.MaxBatchEvents))
	}
	if c.TLS != nil {
		if _, err := c.TLS.serverConfig(prefix); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
type TCP struct {
	name string // protocol name: "syslog"
	key  string // config key prefix: "syslog.tcp", "syslog.tls"
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

	mu    sync.Mutex
	conns map[*tcpConn]struct{}
	wg    sync.WaitGroup // connection goroutines

	drainAt  atomic.Int64  // Unix ns read deadline of every connection once draining; 0 before
	giveUp   chan struct{} // closed sendMax after the drain started
	sendMax  time.Duration // tcpSendMax; shorter in tests
	closeLns sync.Once
}

// tcpConn is one admitted connection.
type tcpConn struct {
	raw    net.Conn
	listen string
	id     string // Packet.Listener
}

var _ pipeline.Source = (*TCP)(nil)

// NewTCP validates cfg, loads the TLS files and binds every address now, so
// that a port in use or a bad certificate fails at start.
func NewTCP(name string, cfg TCPConfig, dec Decoder, m *Metrics, logger *slog.Logger) (*TCP, error) {
	key, transport := name+".tcp", "tcp"
	if cfg.TLS != nil {
		key, transport = name+".tls", "tls"
	}
	if err := cfg.Validate(key); err != nil {
		return nil, err
	}
	t := &TCP{name: name, key: key, transport: transport, cfg: cfg, dec: dec, m: m,
		logger:  logger.With("component", "collector/"+name, "transport", transport),
		limiter: obs.NewLimiter(10 * time.Second), conns: map[*tcpConn]struct{}{}, giveUp: make(chan struct{}), sendMax: tcpSendMax}
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
	for _, r := range []string{"max_connections", "tls_handshake"} {
		m.tcpRejected.WithLabelValues(name, r)
	}
	for _, r := range []string{"eof", "idle_timeout", "framing_error", "read_error", "shutdown", "tls_handshake"} {
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
		c := &tcpConn{raw: raw, listen: listen, id: id}
		t.mu.Lock()
		full := len(t.conns) >= t.cfg.MaxConnections
		if !full {
			t.conns[c] = struct{}{}
			t.wg.Add(1)
		}
		t.mu.Unlock()
		if full {
			_ = raw.Close()
			t.m.tcpRejected.WithLabelValues(t.name, "max_connections").Inc()
			if ok, sup := t.limiter.Allow("max_connections"); ok {
				t.logger.Warn("too many connections, closing new ones; raise "+t.key+".max_connections if the senders are legitimate",
					"listen", listen, "sender", raw.RemoteAddr().String(), "max_connections", t.cfg.MaxConnections, "suppressed", sup)
			}
			continue
		}
		t.m.tcpAccepted.WithLabelValues(t.name, listen).Inc()
		t.m.tcpConns.WithLabelValues(t.name, listen).Inc()
		go t.serve(c, out)
	}
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
// connection goroutine. bufio calls it only when its buffer is empty, which
// is just before this goroutine may wait for the network: the pending
// batch is handed on then.
type connReader struct {
	t     *TCP
	conn  net.Conn // what is read (the *tls.Conn or raw)
	raw   net.Conn // where deadlines are set
	flush func()
	bytes prometheus.Counter
	last  time.Time // when the last read returned
}

func (r *connReader) Read(p []byte) (int, error) {
	r.flush()
	r.t.setReadDeadline(r.raw, time.Now().Add(r.t.cfg.IdleTimeout))
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
		delete(t.conns, c)
		t.mu.Unlock()
		t.m.tcpConns.WithLabelValues(t.name, c.listen).Dec()
	}()
	var src netip.AddrPort
	if ta, ok := c.raw.RemoteAddr().(*net.TCPAddr); ok {
		src = ta.AddrPort()
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	}
	sender := src.Addr().String()

	conn := c.raw
	if t.tlsConf != nil {
		tc := tls.Server(c.raw, t.tlsConf)
		_ = c.raw.SetWriteDeadline(time.Now().Add(min(t.cfg.IdleTimeout, tlsHandshakeTimeout)))
		t.setReadDeadline(c.raw, time.Now().Add(min(t.cfg.IdleTimeout, tlsHandshakeTimeout)))
		if err := tc.Handshake(); err != nil {
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
	}
	cr := &connReader{t: t, conn: conn, raw: c.raw, flush: flush, bytes: t.m.bytes.WithLabelValues(t.name, c.listen)}
	fr := NewFrameReader(bufio.NewReaderSize(cr, readBufferSize), t.cfg.MaxMessageBytes)
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
					t.logger.Warn("message longer than "+t.key+".max_message_bytes, truncated and tagged _truncated", "sender", sender, "max_message_bytes", t.cfg.MaxMessageBytes, "suppressed", sup)
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
		reason = "idle_timeout"
		if t.draining() {
			reason = "shutdown"
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
