package collector

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
)

// UDPConfig configures one UDP collector (one protocol, any number of
// listen addresses).
type UDPConfig struct {
	Listen         []string // host:port
	Sockets        int      // SO_REUSEPORT sockets per address
	Workers        int      // decode workers
	QueueSize      int      // packet batches queued per worker before the listener drops
	ReadBatch      int      // datagrams per recvmmsg
	MaxDatagram    int      // bytes; longer datagrams are dropped as "too_large"
	ReceiveBuffer  int      // SO_RCVBUF bytes requested
	MaxBatchEvents int      // events per batch sent downstream (a worker cuts batches at this size)
	// TruncateLarge delivers the first MaxDatagram bytes of a longer
	// datagram with Packet.Truncated set, instead of dropping it (syslog:
	// a long line is still worth keeping).
	TruncateLarge bool
}

// DefaultUDP returns the defaults shared by the flow listeners.
func DefaultUDP() UDPConfig {
	return UDPConfig{
		Sockets:        1,
		Workers:        runtime.GOMAXPROCS(0),
		QueueSize:      256,
		ReadBatch:      32,
		MaxDatagram:    9216,
		ReceiveBuffer:  32 << 20,
		MaxBatchEvents: 512,
	}
}

// Validate checks c; prefix is the config key prefix ("collector").
func (c UDPConfig) Validate(prefix string) error {
	var errs []error
	if c.Sockets < 1 || c.Sockets > 64 {
		errs = append(errs, fmt.Errorf("%s.sockets: %d is out of range; use 1..64", prefix, c.Sockets))
	}
	if c.Workers < 1 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("%s.workers: %d is out of range; use 1..256", prefix, c.Workers))
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("%s.queue_size: %d must be at least 1", prefix, c.QueueSize))
	}
	if c.ReadBatch < 1 || c.ReadBatch > 1024 {
		errs = append(errs, fmt.Errorf("%s.read_batch: %d is out of range; use 1..1024", prefix, c.ReadBatch))
	}
	if c.MaxDatagram < 512 || c.MaxDatagram > 65535 {
		errs = append(errs, fmt.Errorf("%s.max_datagram_bytes: %d is out of range; use 512..65535", prefix, c.MaxDatagram))
	}
	if c.ReceiveBuffer < 0 {
		errs = append(errs, fmt.Errorf("%s.receive_buffer_bytes: %d must not be negative; 0 keeps the kernel default", prefix, c.ReceiveBuffer))
	}
	if c.MaxBatchEvents < 1 {
		errs = append(errs, fmt.Errorf("%s.max_batch_events: %d must be at least 1", prefix, c.MaxBatchEvents))
	}
	return errors.Join(errs...)
}

// packetBatch is a group of datagrams copied out of the socket buffers,
// handed from a reader to one decode worker.
type packetBatch struct {
	buf  []byte
	pkts []Packet
}

func (pb *packetBatch) add(data []byte, src netip.AddrPort, at time.Time, truncated bool, listener string) {
	start := len(pb.buf)
	pb.buf = append(pb.buf, data...)
	pb.pkts = append(pb.pkts, Packet{Src: src, Received: at, Data: pb.buf[start:len(pb.buf):len(pb.buf)], Truncated: truncated, Listener: listener})
}

// UDP reads datagrams for one protocol and decodes them with a Decoder.
type UDP struct {
	name    string // protocol name: "netflow", "ipfix", "sflow"
	cfg     UDPConfig
	dec     Decoder
	logger  *slog.Logger
	m       *Metrics
	conns   []*net.UDPConn
	ids     []string     // per conn: Packet.Listener
	drops   []*sockDrops // per conn: the kernel's drop counter as last seen
	queues  []chan *packetBatch
	pool    sync.Pool
	seed    maphash.Seed
	ready   atomic.Bool
	limiter *obs.Limiter

	// dropPoll is how often every socket's kernel drop counter is read
	// (SO_MEMINFO), besides the SO_RXQ_OVFL value datagrams carry.
	dropPoll time.Duration

	draining   atomic.Bool
	drainStart atomic.Int64
	dropped    atomic.Int64 // datagrams dropped inside sluice since start, for the exit summary
}

// NewUDP binds every socket now, so that a port in use fails at start.
func NewUDP(name string, cfg UDPConfig, dec Decoder, m *Metrics, logger *slog.Logger) (*UDP, error) {
	u := &UDP{name: name, cfg: cfg, dec: dec, m: m, logger: logger.With("component", "collector/"+name),
		seed: maphash.MakeSeed(), limiter: obs.NewLimiter(10 * time.Second), dropPoll: time.Second}
	batchBytes := cfg.ReadBatch * 1600
	u.pool.New = func() any {
		return &packetBatch{buf: make([]byte, 0, batchBytes), pkts: make([]Packet, 0, cfg.ReadBatch)}
	}
	for _, addr := range cfg.Listen {
		for i := 0; i < cfg.Sockets; i++ {
			c, err := listenUDP(addr, cfg.Sockets > 1, cfg.ReceiveBuffer, u.logger, m, name)
			if err != nil {
				u.closeAll()
				return nil, fmt.Errorf("%s.listen: %w", name, err)
			}
			u.conns = append(u.conns, c)
			u.ids = append(u.ids, "udp/"+addr)
			u.drops = append(u.drops, &sockDrops{listen: c.LocalAddr().String()})
		}
	}
	u.queues = make([]chan *packetBatch, cfg.Workers)
	for i := range u.queues {
		u.queues[i] = make(chan *packetBatch, cfg.QueueSize)
	}
	m.queueDepth.WithLabelValues(name) // series exists at 0
	return u, nil
}

// Name implements pipeline.Source.
func (u *UDP) Name() string { return u.name }

// Addrs returns the bound addresses (useful with port 0).
func (u *UDP) Addrs() []net.Addr {
	out := make([]net.Addr, len(u.conns))
	for i, c := range u.conns {
		out[i] = c.LocalAddr()
	}
	return out
}

// Ready reports whether the sockets are being read.
func (u *UDP) Ready() bool { return u.ready.Load() }

// QueueDepth returns the packet batches waiting for decode workers.
func (u *UDP) QueueDepth() int {
	n := 0
	for _, q := range u.queues {
		n += len(q)
	}
	return n
}

func (u *UDP) closeAll() {
	for _, c := range u.conns {
		_ = c.Close()
	}
}

func listenUDP(addr string, reuse bool, rcvbuf int, logger *slog.Logger, m *Metrics, proto string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			// The kernel then tells, with each datagram, how many it has
			// dropped on this socket for want of buffer space (read()).
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
			if reuse {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w; check the address and that the port is free", addr, err)
	}
	c := pc.(*net.UDPConn)
	if rcvbuf > 0 {
		granted := setReceiveBuffer(c, rcvbuf)
		m.rcvbuf.WithLabelValues(proto, c.LocalAddr().String()).Set(float64(granted))
		if granted < rcvbuf {
			logger.Warn("kernel capped the socket receive buffer; raise it with sysctl -w net.core.rmem_max="+fmt.Sprint(rcvbuf),
				"listen", c.LocalAddr().String(), "requested_bytes", rcvbuf, "granted_bytes", granted)
		}
	}
	return c, nil
}

// setReceiveBuffer asks for n bytes and returns what the kernel granted.
// SO_RCVBUFFORCE (root/CAP_NET_ADMIN) may pass net.core.rmem_max; otherwise
// SO_RCVBUF is capped by it.
func setReceiveBuffer(c *net.UDPConn, n int) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	granted := 0
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		if err == nil {
			granted = v / 2 // Linux reports double the usable size
		}
	})
	return granted
}

// Run reads and decodes until ctx is done, then stops reading, lets the
// workers finish what was queued, and returns. It never closes out.
func (u *UDP) Run(ctx context.Context, out chan<- *event.Batch) error {
	var readers errgroup.Group
	for i, c := range u.conns {
		readers.Go(func() error { return u.read(c, u.ids[i], u.drops[i]) })
	}
	var workers errgroup.Group
	for i, q := range u.queues {
		workers.Go(func() error { return u.work(i, q, out) })
	}
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		u.tick(ctx)
	}()
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		u.pollDrops(ctx)
	}()
	u.ready.Store(true)
	<-ctx.Done()
	<-tickDone
	<-pollDone
	u.ready.Store(false)
	// Drain: datagrams already in the kernel's socket buffer were accepted
	// from the exporters' point of view, so read until the socket stays
	// empty for drainIdle (bounded by drainMax), then close.
	u.drainStart.Store(time.Now().UnixNano())
	u.draining.Store(true)
	for _, c := range u.conns {
		_ = c.SetReadDeadline(time.Now().Add(drainIdle))
	}
	err := readers.Wait()
	// The last look at the kernel's counters: drops after the last
	// datagram (a flood followed by the stop) are counted too.
	u.readDrops()
	u.closeAll()
	for _, q := range u.queues {
		close(q)
	}
	werr := workers.Wait()
	if n := u.dropped.Load(); n > 0 {
		u.logger.Warn("datagrams dropped inside sluice since start (see sluice_collector_packets_dropped_total by reason)", "count", n)
	}
	// The decoder may be shared by several listeners (netflow and ipfix
	// share templates); whoever built it closes it.
	return errors.Join(err, werr)
}

// Bounds of the shutdown drain of the socket buffers.
const (
	drainIdle = 50 * time.Millisecond
	drainMax  = 3 * time.Second
)

// tick calls the decoder's periodic work once a second until ctx is done.
func (u *UDP) tick(ctx context.Context) {
	t, ok := u.dec.(Ticker)
	if !ok {
		return
	}
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			if err := t.Tick(now); err != nil {
				for _, reason := range Reasons(err) {
					u.m.decodeErrors.WithLabelValues(u.name, reason).Inc()
				}
				if ok, sup := u.limiter.Allow("tick"); ok {
					u.logger.Warn("decoder", "err", err, "suppressed", sup)
				}
			}
		}
	}
}

func (u *UDP) read(c *net.UDPConn, id string, sd *sockDrops) error {
	listen := c.LocalAddr().String()
	n := u.cfg.ReadBatch
	var batchReader interface {
		ReadBatch([]ipv4.Message, int) (int, error)
	}
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil && !la.IP.IsUnspecified() {
		batchReader = ipv6.NewPacketConn(c)
	} else {
		batchReader = ipv4.NewPacketConn(c)
	}
	bufs := make([][]byte, n)
	msgs := make([]ipv4.Message, n)
	oob := make([]byte, n*oobSize)
	for i := range msgs {
		bufs[i] = make([]byte, u.cfg.MaxDatagram+1) // +1 detects oversize datagrams
		msgs[i].Buffers = [][]byte{bufs[i]}
		msgs[i].OOB = oob[i*oobSize : (i+1)*oobSize]
	}
	pending := make([]*packetBatch, len(u.queues))
	pkts := u.m.packets.WithLabelValues(u.name, listen)
	byts := u.m.bytes.WithLabelValues(u.name, listen)
	for {
		got, err := batchReader.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if u.draining.Load() {
					return nil // socket empty: drained
				}
				continue
			}
			u.logger.Error("reading socket", "listen", listen, "err", err)
			return fmt.Errorf("%s read %s: %w", u.name, listen, err)
		}
		now := time.Now()
		last := false
		if u.draining.Load() {
			if now.UnixNano()-u.drainStart.Load() > int64(drainMax) {
				u.logger.Warn("socket still busy after the shutdown drain bound; stop the exporters first to lose nothing", "listen", listen, "drain", drainMax.String())
				last = true // keep what this read returned, then stop
			} else {
				_ = c.SetReadDeadline(now.Add(drainIdle))
			}
		}
		var total int
		for i := 0; i < got; i++ {
			m := &msgs[i]
			total += m.N
			n, truncated := m.N, false
			if n > u.cfg.MaxDatagram {
				if !u.cfg.TruncateLarge {
					u.m.dropped.WithLabelValues(u.name, "too_large").Inc()
					u.dropped.Add(1)
					continue
				}
				n, truncated = u.cfg.MaxDatagram, true
			}
			ua, _ := m.Addr.(*net.UDPAddr)
			if ua == nil {
				continue
			}
			src := ua.AddrPort()
			src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
			w := 0
			if len(u.queues) > 1 {
				w = int(maphash.Comparable(u.seed, src.Addr()) % uint64(len(u.queues)))
			}
			pb := pending[w]
			if pb == nil {
				pb = u.pool.Get().(*packetBatch)
				pending[w] = pb
			}
			pb.add(bufs[i][:n], src, now, truncated, id)
			u.m.countExporter(u.name, src.Addr(), m.N)
		}
		pkts.Add(float64(got))
		byts.Add(float64(total))
		// The last datagram with a drop counter has the newest (it counts
		// drops up to the time that datagram was queued).
		for i := got - 1; i >= 0; i-- {
			if v, ok := socketDrops(msgs[i].OOB[:msgs[i].NN]); ok {
				u.countDrops(sd, v)
				break
			}
		}
		u.m.SetQueueDepth(u.name, u.QueueDepth())
		for w, pb := range pending {
			if pb == nil {
				continue
			}
			pending[w] = nil
			// When the workers are behind, wait for them. Meanwhile new
			// datagrams wait in the socket buffer (receive_buffer_bytes, far
			// larger than this queue), so a burst is absorbed instead of
			// dropped, and under sustained overload the kernel drops what
			// does not fit, which costs this core nothing and is counted
			// above. Reading datagrams only to drop them would spend the
			// CPU the workers lack.
			select {
			case u.queues[w] <- pb:
			default:
				t0 := time.Now()
				u.queues[w] <- pb
				u.m.readWait.WithLabelValues(u.name).Add(time.Since(t0).Seconds())
			}
		}
		if last {
			return nil
		}
	}
}

// sockDrops is one socket's kernel drop counter (sk_drops) as last counted.
// Two readings of the same counter feed it: the SO_RXQ_OVFL value that
// datagrams carry (prompt under traffic) and SO_MEMINFO, read every dropPoll
// and at shutdown (prompt after a flood followed by silence). Only the
// advance past the last value seen is counted, so nothing is counted twice.
type sockDrops struct {
	listen string
	last   atomic.Uint32
}

// countDrops counts the advance of sd's kernel counter to v. The counter is
// a wrapping uint32; an older reading (v behind the last) counts nothing.
func (u *UDP) countDrops(sd *sockDrops, v uint32) {
	for {
		old := sd.last.Load()
		d := v - old
		if d == 0 || d >= 1<<31 {
			return
		}
		if sd.last.CompareAndSwap(old, v) {
			u.m.dropped.WithLabelValues(u.name, "socket_buffer_full").Add(float64(d))
			u.dropped.Add(int64(d))
			if ok, sup := u.limiter.Allow("socket_buffer_full"); ok {
				u.logger.Warn("socket receive buffer overflowed: the kernel dropped datagrams while decoding or a slower output could not keep up (see sluice_pipeline_queue_depth, sluice_output_write_duration_seconds); add CPU or collector.workers, raise receive_buffer_bytes for bursts, or speed up the output",
					"listen", sd.listen, "dropped", d, "suppressed", sup)
			}
			return
		}
	}
}

// pollDrops reads every socket's kernel drop counter each dropPoll until
// ctx is done.
func (u *UDP) pollDrops(ctx context.Context) {
	tk := time.NewTicker(u.dropPoll)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			u.readDrops()
		}
	}
}

// readDrops counts what every socket's kernel drop counter advanced by.
func (u *UDP) readDrops() {
	for i, c := range u.conns {
		if v, err := kernelSocketDrops(c); err == nil {
			u.countDrops(u.drops[i], v)
		} else if ok, sup := u.limiter.Allow("so_meminfo"); ok {
			u.logger.Warn("cannot read the socket's drop counter (SO_MEMINFO); kernel drops are counted only as datagrams report them", "listen", u.drops[i].listen, "err", err, "suppressed", sup)
		}
	}
}

// kernelSocketDrops returns the socket's sk_drops: the SK_MEMINFO_DROPS
// entry of getsockopt(SOL_SOCKET, SO_MEMINFO) (Linux 4.6+), the counter
// SO_RXQ_OVFL reports too. x/sys/unix has no getter for the u32 array.
func kernelSocketDrops(c *net.UDPConn) (uint32, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var mem [unix.SK_MEMINFO_VARS]uint32
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(mem))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&l)), 0)
		switch {
		case e != 0:
			serr = e
		case l < (unix.SK_MEMINFO_DROPS+1)*4:
			serr = fmt.Errorf("SO_MEMINFO returned %d bytes, too short for SK_MEMINFO_DROPS", l)
		}
	})
	if cerr != nil {
		return 0, cerr
	}
	return mem[unix.SK_MEMINFO_DROPS], serr
}

// oobSize holds one control message with a uint32 (SO_RXQ_OVFL).
var oobSize = unix.CmsgSpace(4)

// socketDrops returns the SO_RXQ_OVFL counter in a datagram's control
// messages: how many datagrams the kernel had dropped on the socket when
// this one was queued. It is only present once there were drops.
func socketDrops(oob []byte) (uint32, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && l >= unix.CmsgLen(4) {
			return binary.NativeEndian.Uint32(oob[unix.CmsgLen(0):]), true
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0, false
}

func (u *UDP) recycle(pb *packetBatch) {
	pb.buf = pb.buf[:0]
	clear(pb.pkts)
	pb.pkts = pb.pkts[:0]
	u.pool.Put(pb)
}

func (u *UDP) work(id int, in <-chan *packetBatch, out chan<- *event.Batch) error {
	events := u.m.events.WithLabelValues(u.name)
	var eb *event.Batch
	send := func() {
		if eb != nil && eb.Len() > 0 {
			events.Add(float64(eb.Len()))
			out <- eb // blocks: backpressure into our queue, then the listener counts drops
			eb = nil
		}
	}
	for pb := range in {
		if eb == nil {
			eb = event.NewBatch()
		}
		for i := range pb.pkts {
			u.decode(&pb.pkts[i], eb)
			if eb.Len() >= u.cfg.MaxBatchEvents {
				send()
				eb = event.NewBatch()
			}
		}
		u.recycle(pb)
		// Hand the batch on when nothing else is waiting, so a quiet link
		// still delivers promptly; under load batches fill up.
		if len(in) == 0 || eb.Len() >= u.cfg.MaxBatchEvents/2 {
			send()
		}
	}
	send()
	if eb != nil {
		eb.Release()
	}
	return nil
}

func (u *UDP) decode(p *Packet, eb *event.Batch) {
	n0 := eb.Len()
	defer func() {
		if r := recover(); r != nil {
			// Last line of defence: a decoder bug must not take the collector down.
			for eb.Len() > n0 {
				eb.Unadd()
			}
			u.m.decodeErrors.WithLabelValues(u.name, "panic").Inc()
			if ok, sup := u.limiter.Allow("panic"); ok {
				u.logger.Error("decoder panic (packet dropped)", "exporter", p.Src.Addr().String(), "panic", fmt.Sprint(r), "suppressed", sup)
			}
		}
	}()
	err := u.dec.Decode(p, eb)
	if err == nil {
		return
	}
	for _, reason := range Reasons(err) {
		u.m.decodeErrors.WithLabelValues(u.name, reason).Inc()
	}
	if ok, sup := u.limiter.Allow("decode"); ok {
		u.logger.Warn("decode error", "exporter", p.Src.Addr().String(), "err", err, "suppressed", sup)
	}
}
