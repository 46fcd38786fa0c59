package beats

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zlib"
)

// The guard sits between a connection and go-lumber's reader. That reader
// allocates what the peer declares: a window of 2^32 events becomes a
// 64 GiB slice, a frame length of 4 GiB a 4 GiB buffer (also inside
// compressed frames, which it inflates without bound), and it waits for a
// window without any deadline. The guard reads the frames itself,
// checks every declared size against MaxWindow, MaxEventBytes and
// MaxCompressedBytes, inflates compressed frames (bounded) and hands the
// reader only window and plain data frames, each data frame prefixed
// with the peer's address (which the reader passes to the JSON decoder
// untouched, the only way a decoded event can tell which Beat sent it).
// Anything else ends the connection: the Beat reconnects and resends
// what was not acknowledged.
//
// It also owns the read deadlines: IdleTimeout for the first byte of a
// window (none while a window read before waits for its acknowledgement),
// then Timeout for the whole batch from there, as go-lumber's reader has
// it (whose own deadline calls are ignored).

// Lumberjack v2 frame codes.
const (
	codeVersion    = '2'
	codeWindow     = 'W'
	codeJSON       = 'J'
	codeCompressed = 'C'
)

// peerPrefixLen is the size of the address prefix of each data frame's
// payload: 16 address bytes and a big-endian port.
const peerPrefixLen = 18

// errFrame is a lumberjack framing violation.
var errFrame = errors.New("lumberjack framing")

// guardConn is one guarded connection.
type guardConn struct {
	net.Conn
	in      *bufio.Reader
	peer    [peerPrefixLen]byte
	timeout time.Duration
	idle    time.Duration

	out       []byte // normalized frames not yet read
	off       int
	remaining int // data frames still expected in the current window

	windowBytes int // payload bytes of the current window so far
	// unacked counts the windows read and not yet acknowledged (Write
	// sees the acknowledgements): while one waits for the pipeline, the
	// connection is not idle.
	unacked atomic.Int32

	// Inside a compressed frame: its bytes (lr), inflated (zr), bounded
	// (zlim, one byte more than allowed, to tell a reached bound).
	lr   *io.LimitedReader
	zr   io.ReadCloser
	zlim *io.LimitedReader
	inZ  bool

	onClose   func(reason string)
	classify  func(err error) string
	closeOnce sync.Once
	reason    atomic.Pointer[string] // why the last read failed (see Server.classify)
}

func newGuardConn(c net.Conn, peer netip.AddrPort, timeout, idle time.Duration, classify func(error) string, onClose func(string)) *guardConn {
	g := &guardConn{Conn: c, in: bufio.NewReaderSize(c, 32<<10), timeout: timeout, idle: idle, classify: classify, onClose: onClose}
	a := peer.Addr().As16()
	copy(g.peer[:16], a[:])
	binary.BigEndian.PutUint16(g.peer[16:], peer.Port())
	return g
}

// peerOf reads the address prefix of a payload the guard wrote.
func peerOf(p []byte) netip.Addr {
	return netip.AddrFrom16([16]byte(p[:16])).Unmap()
}

// Write passes p on; an acknowledgement of a window (go-lumber writes
// each as one 6-byte frame; 0 is a keepalive) counts it as acknowledged.
func (g *guardConn) Write(p []byte) (int, error) {
	n, err := g.Conn.Write(p)
	if n == 6 && p[0] == codeVersion && p[1] == 'A' && binary.BigEndian.Uint32(p[2:6]) != 0 && g.unacked.Load() > 0 {
		g.unacked.Add(-1)
	}
	return n, err
}

// SetReadDeadline is ignored: the guard sets the read deadlines.
func (g *guardConn) SetReadDeadline(time.Time) error { return nil }

// Close closes the connection once.
func (g *guardConn) Close() error {
	err := g.Conn.Close()
	g.closeOnce.Do(func() {
		reason := "eof"
		if r := g.reason.Load(); r != nil {
			reason = *r
		}
		if g.onClose != nil {
			g.onClose(reason)
		}
	})
	return err
}

func (g *guardConn) Read(p []byte) (int, error) {
	for g.off == len(g.out) {
		g.out, g.off = g.out[:0], 0
		if err := g.next(); err != nil {
			if g.classify != nil && g.reason.Load() == nil {
				r := g.classify(err)
				g.reason.Store(&r)
			}
			return 0, err
		}
	}
	n := copy(p, g.out[g.off:])
	g.off += n
	return n, nil
}

func (g *guardConn) deadline(d time.Duration) {
	_ = g.Conn.SetReadDeadline(time.Now().Add(d))
}

// next reads one frame from the peer into g.out.
func (g *guardConn) next() error {
	if g.inZ {
		done, err := g.nextInflated()
		if err != nil || !done {
			return err
		}
	}
	var hdr [6]byte
	if g.remaining == 0 {
		// Between batches: a window frame, after up to IdleTimeout, or
		// without a bound while a window waits for its acknowledgement
		// (the pipeline is full; go-lumber sends keepalives meanwhile).
		if g.unacked.Load() > 0 {
			_ = g.Conn.SetReadDeadline(time.Time{})
		} else {
			g.deadline(g.idle)
		}
		if _, err := io.ReadFull(g.in, hdr[:1]); err != nil {
			return err
		}
		g.deadline(g.timeout)
		if _, err := io.ReadFull(g.in, hdr[1:6]); err != nil {
			return err
		}
		if hdr[0] != codeVersion || hdr[1] != codeWindow {
			return fmt.Errorf("%w: expected a window frame, got %q", errFrame, hdr[:2])
		}
		n := binary.BigEndian.Uint32(hdr[2:])
		if n > MaxWindow {
			return fmt.Errorf("%w: window of %d events is above %d", errFrame, n, MaxWindow)
		}
		g.remaining, g.windowBytes = int(n), 0
		if n > 0 {
			g.unacked.Add(1)
		}
		g.out = append(g.out, hdr[:]...)
		return nil
	}
	if _, err := io.ReadFull(g.in, hdr[:2]); err != nil {
		return err
	}
	if hdr[0] != codeVersion {
		return fmt.Errorf("%w: protocol version %q, want '2'", errFrame, hdr[0])
	}
	switch hdr[1] {
	case codeJSON:
		return g.dataFrame(g.in)
	case codeCompressed:
		var ch [4]byte
		if _, err := io.ReadFull(g.in, ch[:]); err != nil {
			return err
		}
		size := binary.BigEndian.Uint32(ch[:])
		if size > MaxCompressedBytes {
			return fmt.Errorf("%w: compressed frame of %d bytes is above %d", errFrame, size, MaxCompressedBytes)
		}
		g.lr = &io.LimitedReader{R: g.in, N: int64(size)}
		var err error
		if g.zr == nil {
			g.zr, err = zlib.NewReader(g.lr)
		} else {
			err = g.zr.(zlib.Resetter).Reset(g.lr, nil)
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				if g.lr.N > 0 {
					return err // the connection ended
				}
			}
			return fmt.Errorf("%w: compressed frame: %v", errFrame, err)
		}
		g.zlim = &io.LimitedReader{R: g.zr, N: MaxCompressedBytes + 1}
		g.inZ = true
		done, err := g.nextInflated()
		if err != nil || !done {
			return err
		}
		return nil // an empty compressed frame: g.out is empty, Read asks again
	}
	return fmt.Errorf("%w: unknown frame type %q", errFrame, hdr[1])
}

// nextInflated reads the next data frame of the compressed frame being
// read; done reports that the compressed frame ended instead (its rest
// consumed, its checksum verified).
func (g *guardConn) nextInflated() (done bool, err error) {
	var hdr [2]byte
	n, err := io.ReadFull(g.zlim, hdr[:])
	if n == 0 && errors.Is(err, io.EOF) {
		if g.zlim.N == 0 {
			return false, fmt.Errorf("%w: compressed frame inflates to more than %d bytes", errFrame, MaxCompressedBytes)
		}
		g.inZ = false
		// Bytes after the zlib stream inside the frame are skipped.
		if _, err := io.Copy(io.Discard, g.lr); err != nil {
			return false, err
		}
		if g.lr.N > 0 {
			return false, io.ErrUnexpectedEOF
		}
		return true, nil
	}
	if err != nil {
		return false, g.inflateErr(err)
	}
	if hdr[0] != codeVersion || hdr[1] != codeJSON {
		return false, fmt.Errorf("%w: a compressed frame holds %q, not a data frame", errFrame, hdr[:])
	}
	if g.remaining == 0 {
		return false, fmt.Errorf("%w: more data frames than the window announced", errFrame)
	}
	return false, g.inflateErr(g.dataFrame(g.zlim))
}

// inflateErr tells a connection that ended from a compressed frame that
// is cut or corrupt.
func (g *guardConn) inflateErr(err error) error {
	if err == nil || errors.Is(err, errFrame) {
		return err
	}
	if g.zlim.N == 0 {
		return fmt.Errorf("%w: compressed frame inflates to more than %d bytes", errFrame, MaxCompressedBytes)
	}
	if g.lr.N > 0 && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		return err // the connection ended (or timed out) inside the frame
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return err
	}
	return fmt.Errorf("%w: compressed frame: %v", errFrame, err)
}

// dataFrame reads the rest of a data frame (sequence, length, payload)
// from r into g.out, behind the peer prefix.
func (g *guardConn) dataFrame(r io.Reader) error {
	var jh [8]byte
	if _, err := io.ReadFull(r, jh[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(jh[4:])
	if size > MaxEventBytes {
		return fmt.Errorf("%w: data frame of %d bytes is above %d", errFrame, size, MaxEventBytes)
	}
	g.windowBytes += int(size)
	if g.windowBytes > MaxWindowBytes {
		return fmt.Errorf("%w: window of more than %d bytes", errFrame, MaxWindowBytes)
	}
	start := g.appendJSONHeader(jh[:4], int(size))
	g.out = append(g.out, make([]byte, size)...)
	if _, err := io.ReadFull(r, g.out[start:]); err != nil {
		return err
	}
	g.remaining--
	return nil
}

// appendJSONHeader appends a data frame header for a payload of size
// bytes (plus the peer prefix) and the prefix; it returns where the
// payload starts in g.out.
func (g *guardConn) appendJSONHeader(seq []byte, size int) int {
	var h [10]byte
	h[0], h[1] = codeVersion, codeJSON
	copy(h[2:6], seq)
	binary.BigEndian.PutUint32(h[6:], uint32(size+peerPrefixLen))
	g.out = append(g.out, h[:]...)
	g.out = append(g.out, g.peer[:]...)
	return len(g.out)
}

// listener admits connections (MaxConnections), starts TLS and guards
// them. go-lumber's accept loop ends at the first error, so only a closed
// listener's error is returned; others are retried.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			l.s.logLimited("accept", "accepting a beats connection failed; retrying", "err", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if int(l.s.open.Add(1)) > l.s.cfg.MaxConnections {
			l.s.open.Add(-1)
			l.s.m.rejected.Inc()
			l.s.logLimited("max_connections", "beats connection refused: beats.max_connections reached", "max_connections", l.s.cfg.MaxConnections)
			_ = c.Close()
			continue
		}
		l.s.m.accepted.Inc()
		peer := netip.AddrPort{}
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			peer = ta.AddrPort()
		}
		var conn net.Conn = c
		if l.s.tlsConf != nil {
			conn = tls.Server(c, l.s.tlsConf)
		}
		return newGuardConn(conn, peer, l.s.cfg.Timeout, l.s.cfg.IdleTimeout, l.s.classify, l.s.closed), nil
	}
}
