package dnscap

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/cputime"
	"github.com/sluicelab/sluice/internal/event"
)

// BenchmarkTransaction: frame parsing, DNS decoding, pairing and the
// event of one UDP transaction (an A query answered with two addresses);
// "+encode" adds encoding its document as the pipeline's Encode stage
// does. Reading the socket is not included.
func BenchmarkTransaction(b *testing.B) {
	const n = 1024 // distinct queries in flight
	var qs, rs [][]byte
	for i := range n {
		q := query(uint16(i), "www.example.com", dns.TypeA)
		qf, rf := udpPair(q, answer(q, "www.example.com. 300 IN A 192.0.2.1", "www.example.com. 300 IN A 192.0.2.2"), uint16(20000+i))
		qs, rs = append(qs, qf), append(rs, rf)
	}
	for _, encode := range []bool{false, true} {
		name := "pair"
		if encode {
			name = "pair+encode"
		}
		b.Run(name, func(b *testing.B) {
			tr, _ := testTracker(b, nil)
			batch := event.NewBatch()
			now := time.Now()
			tx := 0
			b.ReportAllocs()
			for b.Loop() {
				i := tx % n
				tr.frame(qs[i], now, batch)
				tr.frame(rs[i], now, batch)
				tx++
				if batch.Len() >= maxBatch {
					if encode {
						batch.EncodeJSON()
					}
					batch.Release()
					batch = event.NewBatch()
				}
			}
			b.ReportMetric(float64(tx)/b.Elapsed().Seconds(), "transactions/s")
		})
	}
}

// BenchmarkCaptureLoopback: the whole source on lo (kernel filter,
// reading frames, parsing, pairing) while this benchmark sends
// query/response pairs between two UDP sockets on 127.0.0.1, reading
// through the TPACKET_V3 ring ("ring") and one recvmsg per frame
// ("recvmsg"). It reports the transactions that came out per second, the
// frames the kernel dropped, and cpu_ns/frame: the process's CPU time
// (user+system, sender included: the same in both) per captured frame,
// whose difference between the two is the difference in reading cost.
func BenchmarkCaptureLoopback(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipped: capturing on lo needs root (CAP_NET_RAW)")
	}
	for _, bc := range []struct {
		name string
		ring int
	}{{"ring", Default().RingBytes}, {"recvmsg", 0}} {
		b.Run(bc.name, func(b *testing.B) { benchCaptureLoopback(b, bc.ring) })
	}
}

func benchCaptureLoopback(b *testing.B, ringBytes int) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cli, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	cfg := Default()
	cfg.Interfaces, cfg.Ports = []string{"lo"}, []uint16{uint16(srv.LocalAddr().(*net.UDPAddr).Port)}
	cfg.RingBytes = ringBytes
	c, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	if (c.socks[0].ring != nil) != (ringBytes > 0) {
		b.Fatalf("ring_bytes %d: %s", ringBytes, c.Ring())
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *event.Batch, 64)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	got := make(chan int)
	go func() {
		n := 0
		for b := range out {
			n += b.Len()
			b.Release()
		}
		got <- n
	}()
	cliAddr := cli.LocalAddr().(*net.UDPAddr)
	var qs, rs [][]byte
	for i := range 4096 {
		q := query(uint16(i), "www.example.com", dns.TypeA)
		qs, rs = append(qs, pack(q)), append(rs, pack(answer(q, "www.example.com. 300 IN A 192.0.2.1")))
	}
	sent := 0
	frames := c.m.frames.WithLabelValues("lo")
	cpu0 := cputime.Process()
	for b.Loop() {
		i := sent % len(qs)
		if _, err := cli.Write(qs[i]); err != nil {
			b.Fatal(err)
		}
		if _, err := srv.WriteToUDP(rs[i], cliAddr); err != nil {
			b.Fatal(err)
		}
		sent++
	}
	elapsed := b.Elapsed()
	// The last frames through the reader (a benchmark: no assert depends
	// on it): until the frame count stops moving.
	for last := -1.0; ; {
		time.Sleep(100 * time.Millisecond)
		if n := testutil.ToFloat64(frames); n == last {
			break
		} else {
			last = n
		}
	}
	cpu := cputime.Process() - cpu0
	cancel()
	<-done
	close(out)
	n := <-got
	nf := testutil.ToFloat64(frames)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "transactions/s")
	b.ReportMetric(testutil.ToFloat64(c.m.kernelDrops.WithLabelValues("lo")), "kernel_drops")
	b.ReportMetric(float64(n)/float64(max(sent, 1)), "captured/sent")
	b.ReportMetric(float64(cpu.Nanoseconds())/max(nf, 1), "cpu_ns/frame")
}

// BenchmarkReadBurst isolates the reader's cost per frame: with the
// pipeline stalled, a burst of query/response pairs on lo is left in the
// ring ("ring") or the socket's receive buffer ("recvmsg"), then the
// pipeline drains and the time until the reader has taken every frame is
// measured: ns/frame (wall time) and cpu_ns/frame (the process's CPU
// time) cover reading, parsing and pairing (the same in both), with no
// sender running.
func BenchmarkReadBurst(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipped: capturing on lo needs root (CAP_NET_RAW)")
	}
	for _, bc := range []struct {
		name string
		ring int
	}{{"ring", 64 << 20}, {"recvmsg", 0}} {
		b.Run(bc.name, func(b *testing.B) { benchReadBurst(b, bc.ring) })
	}
}

func benchReadBurst(b *testing.B, ringBytes int) {
	const pairs = 15000 // 30000 frames: within a 64 MiB ring and a 128 MiB receive buffer
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cli, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	cfg := Default()
	cfg.Interfaces, cfg.Ports = []string{"lo"}, []uint16{uint16(srv.LocalAddr().(*net.UDPAddr).Port)}
	cfg.RingBytes, cfg.ReceiveBuffer = ringBytes, 128<<20
	c, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	if (c.socks[0].ring != nil) != (ringBytes > 0) {
		b.Fatalf("ring_bytes %d: %s", ringBytes, c.Ring())
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *event.Batch) // unbuffered: the reader waits until drain takes
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	cliAddr := cli.LocalAddr().(*net.UDPAddr)
	var qs, rs [][]byte
	for i := range pairs {
		q := query(uint16(i), "www.example.com", dns.TypeA)
		qs, rs = append(qs, pack(q)), append(rs, pack(answer(q, "www.example.com. 300 IN A 192.0.2.1")))
	}
	frames := c.m.frames.WithLabelValues("lo")
	drops := c.m.kernelDrops.WithLabelValues("lo")
	// The pipeline takes no batch after one it took while paused.
	var paused atomic.Bool
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for bt := range out {
			bt.Release()
			for paused.Load() {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var read float64
	var took, cpu time.Duration
	b.StopTimer()
	// b.N rounds (not b.Loop: the timer runs only while draining).
	for range b.N {
		// A response alone is written at once: the reader blocks on out
		// with it, leaving the burst in the ring or socket buffer.
		paused.Store(true)
		if _, err := srv.WriteToUDP(rs[0], cliAddr); err != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		f0 := testutil.ToFloat64(frames)
		for i := range pairs {
			if _, err := cli.Write(qs[i]); err != nil {
				b.Fatal(err)
			}
			if _, err := srv.WriteToUDP(rs[i], cliAddr); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond) // the last block retired (50 ms)
		b.StartTimer()
		start, cpu0 := time.Now(), cputime.Process()
		paused.Store(false)
		for testutil.ToFloat64(frames) < f0+2*pairs {
			time.Sleep(time.Millisecond)
		}
		took += time.Since(start)
		cpu += cputime.Process() - cpu0
		read += testutil.ToFloat64(frames) - f0
		b.StopTimer()
		time.Sleep(150 * time.Millisecond) // the last batch out at the tick
	}
	cancel()
	<-done
	close(out)
	<-drained
	if d := testutil.ToFloat64(drops); d > 0 {
		b.Fatalf("%v kernel drops: the burst did not fit", d)
	}
	b.ReportMetric(float64(took.Nanoseconds())/read, "ns/frame")
	b.ReportMetric(float64(cpu.Nanoseconds())/read, "cpu_ns/frame")
}
