package dnscap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
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
	cfg    Config
	logger *slog.Logger
	m      *metrics
	index  event.IndexRef
	socks  []*socket
	limit  *obs.Limiter
}

type socket struct {
	name     string
	ifindex  int
	loopback bool
	f        *os.File
	rc       syscall.RawConn
	fd       int
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
	for _, name := range cfg.Interfaces {
		s, err := openSocket(name, cfg)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.socks = append(c.socks, s)
	}
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openSocket(name string, cfg Config) (*socket, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("dns.capture.interfaces: %q: %w", name, err)
	}
	loopback := ifi.Flags&net.FlagLoopback != 0
	prog, err := filterProgram(cfg.Ports, cfg.Snaplen, loopback)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("dns.capture.interfaces: opening a packet socket on %s: %w (%w); run sluice as root, or grant the capability: "+
				"in the systemd unit AmbientCapabilities=CAP_NET_RAW (with CapabilityBoundingSet=CAP_NET_RAW and AF_PACKET in RestrictAddressFamilies), or setcap cap_net_raw+ep on the binary; "+
				"or remove dns.capture.interfaces", name, ErrPermission, err)
		}
		if errors.Is(err, unix.EAFNOSUPPORT) {
			return nil, fmt.Errorf("dns.capture.interfaces: opening a packet socket on %s: %w; AF_PACKET sockets are not allowed here "+
				"(a systemd unit's RestrictAddressFamilies= must list AF_PACKET)", name, err)
		}
		return nil, fmt.Errorf("dns.capture.interfaces: opening a packet socket on %s: %w", name, err)
	}
	fail := func(what string, err error) (*socket, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("dns.capture.interfaces: %s on %s: %w", what, name, err)
	}
	filters := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filters[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filters)), Filter: &filters[0]}); err != nil {
		return fail("attaching the port filter", err)
	}
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
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("binding", err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dns.capture.interfaces: %s: %w", name, err)
	}
	return &socket{name: name, ifindex: ifi.Index, loopback: loopback, f: f, rc: rc, fd: fd}, nil
}

// Name implements pipeline.Source.
func (c *Capture) Name() string { return "dnscap" }

// Interfaces returns the interfaces captured on.
func (c *Capture) Interfaces() []string { return c.cfg.Interfaces }

// Close closes the sockets (Run closes them itself when it returns).
func (c *Capture) Close() error {
	for _, s := range c.socks {
		s.f.Close()
	}
	return nil
}

// Run reads every interface until ctx is done. Queries still waiting for
// a response then are not written.
func (c *Capture) Run(ctx context.Context, out chan<- *event.Batch) error {
	defer c.Close()
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range c.socks {
		g.Go(func() error { return c.read(gctx, s, out) })
	}
	return g.Wait()
}

func (c *Capture) read(ctx context.Context, s *socket, out chan<- *event.Batch) error {
	t := newTracker(c.cfg, s.name, c.index, c.m)
	frames := c.m.frames.WithLabelValues(s.name)
	drops := c.m.kernelDrops.WithLabelValues(s.name)
	stop := context.AfterFunc(ctx, func() { _ = s.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, c.cfg.Snaplen)
	oob := make([]byte, 128)
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
		select {
		case out <- b:
			b = event.NewBatch()
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
		if st, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			drops.Add(float64(st.Drops)) // the kernel resets them on each read
		}
		if !send() {
			return false
		}
		next = now.Add(tick)
		_ = s.f.SetReadDeadline(next)
		return true
	}
	next = time.Now().Add(tick)
	_ = s.f.SetReadDeadline(next)
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
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("dns capture on %s: %w", s.name, err)
			}
			if !onTick(time.Now()) {
				return nil
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
		ll, _ := from.(*unix.SockaddrLinklayer)
		if ll != nil && (ll.Ifindex != s.ifindex || (s.loopback && ll.Pkttype == unix.PACKET_OUTGOING)) {
			// Queued before bind, or loopback's second copy of a frame.
			continue
		}
		frames.Inc()
		if n > len(buf) {
			c.m.malformed[malformedTruncated].Inc()
			continue
		}
		ts := frameTime(oob[:oobn])
		t.frame(buf[:n], ts, b)
		if now := time.Now(); now.After(next) {
			// Busy: the deadline may not get its turn.
			if !onTick(now) {
				return nil
			}
		} else if b.Len() >= maxBatch && !send() {
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
