package dnscap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
)

// ErrPermission is returned (wrapped) by New when the process may not
// open packet sockets.
var ErrPermission = errors.New("capture needs the CAP_NET_RAW capability")

// tick is how often a reader flushes its batch, expires queries and
// reads the kernel's drop counter while frames are scarce.
const tick = 100 * time.Millisecond

// maxBatch is the most events a reader puts in one batch.
const maxBatch = 256

// Capture is a pipeline source: one AF_PACKET socket and reader per
// configured interface, each with its own pairing table.
type Capture struct {
	cfg     Config
	logger  *slog.Logger
	m       *metrics
	index   event.IndexRef
	socks   []*socket
	limit   *obs.Limiter
	ringMsg string      // how frames are read, for the start log line
	started atomic.Bool // Run owns the rings (their readers unmap them)
	events  prometheus.Counter
}

// CountEvents sets the counter the events handed to the pipeline are
// added to (sluice_collector_events_total{protocol="dns"}); call it
// before Run.
func (c *Capture) CountEvents(events prometheus.Counter) { c.events = events }

type socket struct {
	name     string
	ifindex  int
	loopback bool
	f        *os.File
	rc       syscall.RawConn
	fd       int
	ring     *ring // nil: one recvmsg per frame
}

// New validates cfg and opens a packet socket on each interface (so a
// missing capability fails at start). Close releases them if Run is
// never called.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Capture, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	index, err := event.RegisterIndex(cfg.Index)
	if err != nil {
		return nil, fmt.Errorf("output.index.dns: %w", err)
	}
	m, err := newMetrics(reg, cfg.Interfaces)
	if err != nil {
		return nil, err
	}
	c := &Capture{cfg: cfg, logger: logger.With("component", "collector/dnscap"), m: m, index: index, limit: obs.NewLimiter(time.Minute)}
	var geo ringGeometry
	if cfg.RingBytes > 0 {
		if geo, err = ringLayout(cfg.RingBytes, cfg.Snaplen); err != nil {
			return nil, err // Validate checked it
		}
		c.ringMsg = geo.String()
	} else {
		c.ringMsg = "off (dns.capture.ring_bytes: 0): one recvmsg per frame"
	}
	for _, name := range cfg.Interfaces {
		var s *socket
		var ringErr error
		if cfg.RingBytes > 0 {
			s, ringErr, err = openSocket(name, cfg, &geo)
			if err == nil && ringErr != nil {
				// The kernel refused the ring (too old, not enough
				// memory, a seccomp filter): read frame by frame.
				if c.ringMsg == geo.String() {
					c.ringMsg = fmt.Sprintf("unavailable on %s (%v): one recvmsg per frame", name, ringErr)
					c.logger.Warn("TPACKET_V3 ring unavailable; reading one frame per recvmsg (more CPU per frame, drops sooner in bursts)",
						"interface", name, "ring_bytes", cfg.RingBytes, "err", ringErr)
				}
				s.f.Close()
				s = nil
			}
		}
		if s == nil && err == nil {
			s, _, err = openSocket(name, cfg, nil)
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		c.socks = append(c.socks, s)
	}
	return c, nil
}

// Ring says how frames are read: the ring's size and blocks per
// interface, or why there is none.
func (c *Capture) Ring() string { return c.ringMsg }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openSocket opens a packet socket bound to interface name, with the
// port filter attached. With geo it also sets up a TPACKET_V3 RX ring;
// when the kernel refuses that, ringErr says why and the socket is
// returned half set up, to be closed (err is for everything else).
func openSocket(name string, cfg Config, geo *ringGeometry) (s *socket, ringErr, err error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, nil, fmt.Errorf("dns.capture.interfaces: %q: %w", name, err)
	}
	loopback := ifi.Flags&net.FlagLoopback != 0
	prog, err := filterProgram(cfg.Ports, cfg.Snaplen, loopback)
	if err != nil {
		return nil, nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, nil, fmt.Errorf("dns.capture.interfaces: opening a packet socket on %s: %w (%w); run sluice as root, or grant the capability: "+
				"in the systemd unit AmbientCapabilities=CAP_NET_RAW (with CapabilityBoundingSet=CAP_NET_RAW and AF_PACKET in RestrictAddressFamilies), or setcap cap_net_raw+ep on the binary; "+
				"or remove dns.capture.interfaces", name, ErrPermission, err)
		}
		if errors.Is(err, unix.EAFNOSUPPORT) {
			return nil, nil, fmt.Errorf("dns.capture.interfaces: opening a packet socket on %s: %w; AF_PACKET sockets are not allowed here "+
				"(a systemd unit's RestrictAddressFamilies= must list AF_PACKET)", name, err)
		}
		return nil, nil, fmt.Errorf("dns.capture.interfaces: opening a packet socket on %s: %w", name, err)
	}
	fail := func(what string, err error) (*socket, error, error) {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("dns.capture.interfaces: %s on %s: %w", what, name, err)
	}
	filters := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filters[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filters)), Filter: &filters[0]}); err != nil {
		return fail("attaching the port filter", err)
	}
	// The ring (or the receive buffer) is set up after the filter is
	// attached and before binding: no unfiltered frame of another
	// interface gets in first (the reader still checks the interface).
	var r *ring
	if geo != nil {
		if r, ringErr = setupRing(fd, *geo); ringErr != nil {
			f := os.NewFile(uintptr(fd), "packet:"+name)
			return &socket{name: name, f: f, fd: fd}, ringErr, nil
		}
	} else {
		if cfg.ReceiveBuffer > 0 {
			// FORCE goes past net.core.rmem_max with CAP_NET_ADMIN; without
			// it the kernel caps SO_RCVBUF at rmem_max.
			if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.ReceiveBuffer) != nil {
				_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.ReceiveBuffer)
			}
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fail("enabling kernel timestamps", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		if r != nil {
			r.close()
		}
		return fail("binding", err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		if r != nil {
			r.close()
		}
		f.Close()
		return nil, nil, fmt.Errorf("dns.capture.interfaces: %s: %w", name, err)
	}
	return &socket{name: name, ifindex: ifi.Index, loopback: loopback, f: f, rc: rc, fd: fd, ring: r}, nil, nil
}

// Name implements pipeline.Source.
func (c *Capture) Name() string { return "dnscap" }

// Interfaces returns the interfaces captured on.
func (c *Capture) Interfaces() []string { return c.cfg.Interfaces }

// Close closes the sockets (Run closes them itself when it returns).
// The rings are unmapped here when Run was never called, else by their
// readers as they return.
func (c *Capture) Close() error {
	for _, s := range c.socks {
		s.f.Close()
		if s.ring != nil && !c.started.Load() {
			s.ring.close()
		}
	}
	return nil
}

// Run reads every interface until ctx is done. Queries still waiting for
// a response then are not written.
func (c *Capture) Run(ctx context.Context, out chan<- *event.Batch) error {
	c.started.Store(true)
	defer c.Close()
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range c.socks {
		g.Go(func() error { return c.read(gctx, s, out) })
	}
	return g.Wait()
}

func (c *Capture) read(ctx context.Context, s *socket, out chan<- *event.Batch) error {
	if s.ring != nil {
		defer s.ring.close()
	}
	t := newTracker(c.cfg, s.name, c.index, c.m)
	frames := c.m.frames.WithLabelValues(s.name)
	drops := c.m.kernelDrops.WithLabelValues(s.name)
	stop := context.AfterFunc(ctx, func() { _ = s.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	b := event.NewBatch()
	defer func() {
		if b != nil {
			b.Release()
		}
	}()
	send := func() bool {
		if b.Len() == 0 {
			return true
		}
		n := b.Len()
		select {
		case out <- b:
			b = event.NewBatch()
			if c.events != nil {
				c.events.Add(float64(n))
			}
			return true
		case <-ctx.Done():
			return false
		}
	}
	var next time.Time
	// onTick expires queries, reads the drop counter, flushes the batch
	// and sets the next deadline.
	onTick := func(now time.Time) bool {
		t.expire(now, b)
		// The kernel resets the counters on each read.
		if s.ring != nil {
			if st, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
				drops.Add(float64(st.Drops))
			}
		} else if st, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			drops.Add(float64(st.Drops))
		}
		if !send() {
			return false
		}
		next = now.Add(tick)
		_ = s.f.SetReadDeadline(next)
		return true
	}
	// afterFrames ticks when due (a busy socket may never reach the
	// deadline) or sends a full batch; false: ctx is done.
	afterFrames := func() bool {
		if now := time.Now(); now.After(next) {
			return onTick(now)
		}
		if b.Len() >= maxBatch {
			return send()
		}
		return true
	}
	// wanted reports whether a frame is one to parse: not queued before
	// bind from another interface, not loopback's second copy of a frame
	// (the filter refuses those already).
	wanted := func(ifindex int, pkttype uint8) bool {
		return ifindex == s.ifindex && !(s.loopback && pkttype == unix.PACKET_OUTGOING)
	}
	// readErr handles an error of the socket's Read: continue (true) on a
	// deadline, stop on anything else.
	readErr := func(err error) (bool, error) {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return false, fmt.Errorf("dns capture on %s: %w", s.name, err)
		}
		return onTick(time.Now()), nil
	}
	next = time.Now().Add(tick)
	_ = s.f.SetReadDeadline(next)

	if r := s.ring; r != nil {
		frame := func(f *ringFrame) bool {
			if !wanted(f.ifindex, f.pkttype) {
				return true
			}
			frames.Inc()
			if uint64(f.wireLen) > uint64(len(f.data)) {
				c.m.malformed[malformedTruncated].Inc()
				return true
			}
			t.frame(f.data, f.ts, b)
			// A full batch goes out while the block is held: a slow
			// pipeline leaves the kernel fewer blocks (counted drops).
			return b.Len() < maxBatch || send()
		}
		for {
			// The callback runs after the poller was armed: a block
			// handed over while it checks still wakes the wait.
			err := s.rc.Read(func(uintptr) bool { return r.ready() })
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				if ok, err := readErr(err); !ok {
					return err
				}
				continue
			}
			// Several blocks may be ready: walk them all before waiting.
			for r.ready() {
				if err := walkBlock(r.block(r.next), frame); err != nil {
					c.m.malformed[malformedRing].Inc()
					if ok, sup := c.limit.Allow("ring " + s.name); ok {
						c.logger.Warn("skipping the rest of a capture ring block", "interface", s.name, "err", err, "repeats_suppressed", sup)
					}
				}
				r.release()
				if ctx.Err() != nil || !afterFrames() {
					return nil
				}
			}
		}
	}

	buf := make([]byte, c.cfg.Snaplen)
	oob := make([]byte, 128)
	for {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		err := s.rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_TRUNC)
			return rerr != unix.EAGAIN
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if ok, err := readErr(err); !ok {
				return err
			}
			continue
		}
		if rerr != nil {
			if rerr == unix.EINTR {
				continue
			}
			// ENETDOWN and friends: the interface went away or down; keep
			// trying (it may come back), logging at most once a minute.
			if ok, sup := c.limit.Allow("read " + s.name); ok {
				c.logger.Warn("reading captured frames", "interface", s.name, "err", rerr, "repeats_suppressed", sup)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(tick):
			}
			continue
		}
		if ll, _ := from.(*unix.SockaddrLinklayer); ll != nil && !wanted(ll.Ifindex, ll.Pkttype) {
			continue
		}
		frames.Inc()
		if n > len(buf) {
			c.m.malformed[malformedTruncated].Inc()
			continue
		}
		t.frame(buf[:n], frameTime(oob[:oobn]), b)
		if !afterFrames() {
			return nil
		}
	}
}

// frameTime is the kernel's receive time of a frame (SO_TIMESTAMPNS),
// or now when the control message is missing.
func frameTime(oob []byte) time.Time {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			break
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
			return time.Unix(ts.Sec, ts.Nsec)
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return time.Now()
}
