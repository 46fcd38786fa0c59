package collector

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/sluicelab/sluice/internal/event"
)

// countDecoder turns each datagram into N events, N = first byte; 0xff panics;
// 0xfe returns a DecodeError.
type countDecoder struct {
	mu        sync.Mutex
	listeners map[string]int          // Packet.Listener seen
	seen      map[netip.Addr][]uint32 // sequence numbers per exporter, in decode order
	gate      chan struct{}           // if non-nil, Decode waits on it
}

func (d *countDecoder) Decode(p *Packet, b *event.Batch) error {
	if d.gate != nil {
		<-d.gate
	}
	if len(p.Data) < 5 {
		return Errorf("truncated", "short packet of %d bytes", len(p.Data))
	}
	switch p.Data[0] {
	case 0xff:
		panic("boom")
	case 0xfe:
		return &DecodeError{Reason: "bad_version"}
	}
	d.mu.Lock()
	if d.listeners == nil {
		d.listeners = map[string]int{}
	}
	d.listeners[p.Listener]++
	d.seen[p.Src.Addr()] = append(d.seen[p.Src.Addr()], binary.BigEndian.Uint32(p.Data[1:5]))
	d.mu.Unlock()
	for i := 0; i < int(p.Data[0]); i++ {
		e := b.Add()
		e.Kind = event.KindFlow
		e.Observer = p.Src.Addr()
		e.Created = p.Received
	}
	return nil
}

func newTestUDP(t *testing.T, cfg UDPConfig, dec Decoder) (*UDP, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Listen = []string{"127.0.0.1:0"}
	u, err := NewUDP("netflow", cfg, dec, NewMetrics(reg), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewUDP: %v", err)
	}
	return u, reg
}

func send(t *testing.T, to net.Addr, payloads ...[]byte) {
	t.Helper()
	c, err := net.Dial("udp", to.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

func pkt(n byte, seq uint32) []byte {
	b := make([]byte, 5)
	b[0] = n
	binary.BigEndian.PutUint32(b[1:], seq)
	return b
}

func TestUDPDecodesDrainsAndCountsErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	dec := &countDecoder{seen: map[netip.Addr][]uint32{}}
	cfg := DefaultUDP()
	cfg.Workers = 3
	u, reg := newTestUDP(t, cfg, dec)
	out := make(chan *event.Batch, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx, out) }()

	var payloads [][]byte
	want := 0
	for i := 0; i < 200; i++ {
		payloads = append(payloads, pkt(byte(i%7+1), uint32(i)))
		want += i%7 + 1
	}
	payloads = append(payloads, []byte{1}, pkt(0xff, 0), pkt(0xfe, 0))
	send(t, u.Addrs()[0], payloads...)

	got := 0
	deadline := time.After(5 * time.Second)
	for got < want {
		select {
		case b := <-out:
			got += b.Len()
			b.Release()
		case <-deadline:
			t.Fatalf("got %d events, want %d", got, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	// Run must not close out, and must have delivered everything before returning.
	select {
	case b := <-out:
		t.Fatalf("unexpected extra batch of %d events", b.Len())
	default:
	}
	for reason, n := range map[string]float64{"truncated": 1, "panic": 1, "bad_version": 1} {
		if v := testutil.ToFloat64(u.m.decodeErrors.WithLabelValues("netflow", reason)); v != n {
			t.Errorf("decode errors %q = %v, want %v", reason, v, n)
		}
	}
	if v := testutil.ToFloat64(u.m.packets.WithLabelValues("netflow", u.Addrs()[0].String())); v != 203 {
		t.Errorf("packets received = %v, want 203", v)
	}
	if v := testutil.ToFloat64(u.m.exporterPkts.WithLabelValues("netflow", "127.0.0.1")); v != 203 {
		t.Errorf("exporter packets = %v, want 203", v)
	}
	if v := testutil.ToFloat64(u.m.exporterByts.WithLabelValues("netflow", "127.0.0.1")); v != 200*5+1+5+5 {
		t.Errorf("exporter bytes = %v, want %d", v, 200*5+1+5+5)
	}
	if len(dec.listeners) != 1 || dec.listeners["udp/127.0.0.1:0"] == 0 {
		t.Errorf("Packet.Listener values %v, want only udp/127.0.0.1:0 (transport and address as configured)", dec.listeners)
	}
	// One exporter's packets are decoded in order by one worker.
	for a, seqs := range dec.seen {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] < seqs[i-1] {
				t.Fatalf("exporter %s decoded out of order: %v", a, seqs)
			}
		}
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("Gather: %v", err)
	}
}

// A stuck pipeline makes the reader wait; datagrams wait in the socket
// buffer and what overflows it the kernel drops, which is counted exactly
// (SO_RXQ_OVFL): delivered + counted drops = sent.
func TestUDPQueueFullWaitsAndKernelDropsAreCounted(t *testing.T) {
	defer goleak.VerifyNone(t)
	dec := &countDecoder{seen: map[netip.Addr][]uint32{}, gate: make(chan struct{})}
	cfg := DefaultUDP()
	cfg.Workers = 1
	cfg.QueueSize = 1
	cfg.ReadBatch = 1
	cfg.ReceiveBuffer = 4096 // the kernel's minimum-ish: a few dozen datagrams
	u, _ := newTestUDP(t, cfg, dec)
	out := make(chan *event.Batch, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx, out) }()

	const n = 2000
	for i := 0; i < n; i++ {
		send(t, u.Addrs()[0], pkt(1, uint32(i)))
	}
	wait := func() float64 { return testutil.ToFloat64(u.m.readWait.WithLabelValues("netflow")) }
	drops := func() float64 {
		return testutil.ToFloat64(u.m.dropped.WithLabelValues("netflow", "socket_buffer_full"))
	}
	close(dec.gate)
	// The drop counter travels with the next datagram the kernel queues.
	time.Sleep(100 * time.Millisecond)
	send(t, u.Addrs()[0], pkt(1, n))
	deadline := time.Now().Add(5 * time.Second)
	for drops() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	delivered := 0
	for len(out) > 0 {
		b := <-out
		delivered += b.Len()
		b.Release()
	}
	if drops() == 0 || wait() == 0 {
		t.Fatalf("drops %v, reader wait %vs: want both > 0 with the decoder blocked and a tiny socket buffer", drops(), wait())
	}
	received := testutil.ToFloat64(u.m.packets.WithLabelValues("netflow", u.Addrs()[0].String()))
	if float64(delivered) != received || float64(delivered)+drops() != n+1 {
		t.Errorf("received %v, delivered %d, counted drops %v; sent %d: a datagram was lost silently", received, delivered, drops(), n+1)
	}
	t.Logf("sent %d, delivered %d, kernel drops counted %v, reader waited %.2fs", n+1, delivered, drops(), wait())
}

func TestUDPConfigValidate(t *testing.T) {
	c := DefaultUDP()
	if err := c.Validate("collector"); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.Workers = 0
	c.MaxDatagram = 10
	err := c.Validate("collector")
	if err == nil {
		t.Fatal("Validate() = nil, want errors for workers and max_datagram_bytes")
	}
	for _, key := range []string{"collector.workers", "collector.max_datagram_bytes"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() error %q does not name %s", err, key)
		}
	}
}

func TestNewUDPPortInUse(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := DefaultUDP()
	cfg.Listen = []string{c.LocalAddr().String()}
	_, err = NewUDP("netflow", cfg, &countDecoder{}, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("NewUDP on a port in use = nil error")
	}
	if !strings.Contains(err.Error(), "netflow.listen") {
		t.Errorf("error %q does not name the key netflow.listen", err)
	}
}

func TestReceiveBufferGranted(t *testing.T) {
	u, reg := newTestUDP(t, DefaultUDP(), &countDecoder{})
	defer u.closeAll()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "sluice_collector_socket_receive_buffer_bytes" {
			found = true
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v <= 0 {
				t.Errorf("granted receive buffer = %v, want > 0", v)
			}
		}
	}
	if !found {
		t.Error("sluice_collector_socket_receive_buffer_bytes not exported")
	}
}

// stalledFlood starts u with its decoder blocked, sends n datagrams on one
// socket while nothing is read (the tiny socket buffer overflows, and every
// drop happens after the last datagram queued, so no datagram carries the
// final SO_RXQ_OVFL count), then unblocks the decoder.
func stalledFlood(t *testing.T, dropPoll time.Duration, n int) (u *UDP, out chan *event.Batch, cancel func() error) {
	return stalledFloodSockets(t, dropPoll, n, 1, 1)
}

// stalledFloodSockets is stalledFlood with sockets SO_REUSEPORT sockets,
// sent to from senders source ports (the kernel spreads them by hash).
func stalledFloodSockets(t *testing.T, dropPoll time.Duration, n, sockets, senders int) (u *UDP, out chan *event.Batch, cancel func() error) {
	t.Helper()
	dec := &countDecoder{seen: map[netip.Addr][]uint32{}, gate: make(chan struct{})}
	cfg := DefaultUDP()
	cfg.Workers = 1
	cfg.QueueSize = 1
	cfg.ReadBatch = 1
	cfg.ReceiveBuffer = 4096
	cfg.Sockets = sockets
	if sockets == 1 {
		u, _ = newTestUDP(t, cfg, dec)
	} else {
		// Port 0 would give every socket its own port: take a free one.
		l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Listen = []string{l.LocalAddr().String()}
		l.Close()
		if u, err = NewUDP("netflow", cfg, dec, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("NewUDP: %v", err)
		}
	}
	u.dropPoll = dropPoll
	out = make(chan *event.Batch, n)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx, out) }()
	conns := make([]net.Conn, senders)
	for i := range conns {
		c, err := net.Dial("udp", u.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for i := 0; i < n; i++ {
		if _, err := conns[i%senders].Write(pkt(1, uint32(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	close(dec.gate)
	return u, out, func() error { stop(); return <-done }
}

func socketBufferDrops(u *UDP) float64 {
	return testutil.ToFloat64(u.m.dropped.WithLabelValues(u.name, "socket_buffer_full"))
}

// After a flood followed by silence the drops reach the metric from the
// periodic read of the socket's counter, with no further datagram.
func TestUDPKernelDropsCountedWithoutFurtherTraffic(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n = 2000
	u, out, stop := stalledFlood(t, 100*time.Millisecond, n)
	delivered := 0
	deadline := time.Now().Add(10 * time.Second)
	for float64(delivered)+socketBufferDrops(u) != n && time.Now().Before(deadline) {
		select {
		case b := <-out:
			delivered += b.Len()
			b.Release()
		case <-time.After(20 * time.Millisecond):
		}
	}
	drops := socketBufferDrops(u)
	if err := stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if drops == 0 || float64(delivered)+drops != n {
		t.Fatalf("delivered %d + counted drops %v != sent %d within the deadline (want drops > 0 with a tiny buffer)", delivered, drops, n)
	}
	if len(out) != 0 || socketBufferDrops(u) != drops {
		t.Errorf("after stop: %d more batches, drops %v (was %v): counted twice?", len(out), socketBufferDrops(u), drops)
	}
	t.Logf("sent %d, delivered %d, drops counted without traffic %v", n, delivered, drops)
}

// At shutdown the counter is read once more: with no periodic read in the
// test's time, the final count is still exact.
func TestUDPKernelDropsCountedAtShutdown(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n = 2000
	u, out, stop := stalledFlood(t, time.Hour, n)
	if err := stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	delivered := 0
	for len(out) > 0 {
		b := <-out
		delivered += b.Len()
		b.Release()
	}
	drops := socketBufferDrops(u)
	if drops == 0 || float64(delivered)+drops != n {
		t.Fatalf("delivered %d + counted drops %v != sent %d (want drops > 0 with a tiny buffer)", delivered, drops, n)
	}
	t.Logf("sent %d, delivered %d, drops counted at shutdown %v", n, delivered, drops)
}

func TestKernelSocketDropsFreshSocket(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := kernelSocketDrops(c)
	if err != nil || v != 0 {
		t.Fatalf("kernelSocketDrops(new socket) = %d, %v; want 0, nil", v, err)
	}
}

// With several SO_REUSEPORT sockets each socket's counter is its own: the
// sum is exact, nothing is counted twice or missed.
func TestUDPKernelDropsCountedPerReusePortSocket(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n = 4000
	u, out, stop := stalledFloodSockets(t, 50*time.Millisecond, n, 2, 8)
	if len(u.conns) != 2 || u.conns[0].LocalAddr().String() != u.conns[1].LocalAddr().String() {
		t.Errorf("want 2 sockets on one address, got %v and %v", u.conns[0].LocalAddr(), u.conns[1].LocalAddr())
	}
	delivered := 0
	deadline := time.Now().Add(10 * time.Second)
	for float64(delivered)+socketBufferDrops(u) != n && time.Now().Before(deadline) {
		select {
		case b := <-out:
			delivered += b.Len()
			b.Release()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	for len(out) > 0 {
		b := <-out
		delivered += b.Len()
		b.Release()
	}
	drops := socketBufferDrops(u)
	if drops == 0 || float64(delivered)+drops != n {
		t.Fatalf("delivered %d + counted drops %v != sent %d", delivered, drops, n)
	}
	per := []uint32{u.drops[0].last.Load(), u.drops[1].last.Load()}
	t.Logf("sent %d, delivered %d, drops %v (per socket %v)", n, delivered, drops, per)
}
