package dnscap

import (
	"context"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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

// BenchmarkCaptureLoopback: the whole source on lo (socket reads, kernel
// filter, parsing, pairing) while this benchmark sends query/response
// pairs between two UDP sockets on 127.0.0.1; it reports the transactions
// that came out per second and the frames the kernel dropped. Sending
// shares the CPU with capturing.
func BenchmarkCaptureLoopback(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipped: capturing on lo needs root (CAP_NET_RAW)")
	}
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
	c, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
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
	time.Sleep(300 * time.Millisecond) // the last frames through the reader (a benchmark: no assert depends on it)
	cancel()
	<-done
	close(out)
	n := <-got
	b.ReportMetric(float64(n)/elapsed.Seconds(), "transactions/s")
	b.ReportMetric(testutil.ToFloat64(c.m.kernelDrops.WithLabelValues("lo")), "kernel_drops")
	b.ReportMetric(float64(n)/float64(max(sent, 1)), "captured/sent")
}
