package beats

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	client "github.com/elastic/go-lumber/client/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/cputime"
	"github.com/sluicelab/sluice/internal/event"
)

var benchDocs = []struct{ name, doc string }{
	{"packetbeat-dns", seedPacketbeat},
	{"winlogbeat-sysmon22", seedSysmon},
	{"filebeat", `{"@timestamp":"2026-12-06T21:10:14.123Z","@metadata":{"beat":"filebeat","type":"_doc","version":"8.15.0"},"message":"192.0.2.44 - - [06/Dec/2026:21:10:14 +0000] \"GET /index.html HTTP/1.1\" 200 512 \"-\" \"curl/8.5\"","log":{"offset":123456,"file":{"path":"/var/log/nginx/access.log","inode":"1234","device_id":"2049"}},"input":{"type":"filestream"},"host":{"name":"web1","hostname":"web1","architecture":"x86_64","os":{"family":"debian","name":"Debian GNU/Linux","version":"13"}},"agent":{"type":"filebeat","name":"web1","version":"8.15.0","id":"0b0cd0a2-5d2a-4a5e-a6b0-2f0e4c9a1f11","ephemeral_id":"6a2b"},"ecs":{"version":"8.0.0"}}`},
}

// BenchmarkConvert measures decode (fastjson) + conversion into an event
// per document, on one core.
func BenchmarkConvert(b *testing.B) {
	for _, bd := range benchDocs {
		b.Run(bd.name, func(b *testing.B) {
			c := &converter{}
			batch := event.NewBatch()
			defer batch.Release()
			peer := netip.MustParseAddr("192.0.2.7")
			now := time.Now()
			doc := []byte(bd.doc)
			buf := make([]byte, len(doc))
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			n := 0
			cpu0 := cputime.Process()
			for b.Loop() {
				copy(buf, doc) // normalizeName writes in place
				e := batch.Add()
				if _, err := c.convert(batch, e, buf, peer, now); err != nil {
					b.Fatal(err)
				}
				if n++; n%512 == 0 {
					batch.Reset()
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(n)/(cputime.Process()-cpu0).Seconds(), "events/cpu-s")
		})
	}
}

// BenchmarkLoopback sends windows of 2048 documents (a Beat's default
// bulk_max_size, zlib level 3 as Filebeat's default compression) from
// go-lumber clients over 127.0.0.1 to a server whose pipeline channel is
// drained. events/cpu-s is events per second of process CPU: server and
// clients together (the clients' compression included), so the server
// alone does better.
func BenchmarkLoopback(b *testing.B) {
	for _, bd := range benchDocs {
		b.Run(bd.name, func(b *testing.B) {
			cfg := Default()
			cfg.Listen = "127.0.0.1:0"
			s, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			out := make(chan *event.Batch, 8)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _ = s.Run(ctx, out) }()
			go func() {
				defer wg.Done()
				for {
					select {
					case eb := <-out:
						eb.Release()
					case <-ctx.Done():
						return
					}
				}
			}()
			defer func() { cancel(); wg.Wait() }()
			const window = 2048
			evs := make([]interface{}, window)
			for i := range evs {
				evs[i] = json.RawMessage(bd.doc)
			}
			raw := func(v interface{}) ([]byte, error) { return v.(json.RawMessage), nil }
			const clients = 2
			conns := make([]*client.SyncClient, clients)
			for i := range conns {
				if conns[i], err = client.SyncDial(s.Addr().String(), client.CompressionLevel(3), client.JSONEncoder(raw)); err != nil {
					b.Fatal(err)
				}
				defer conns[i].Close()
			}
			cpu0 := cputime.Process()
			var sent int
			for b.Loop() {
				var cwg sync.WaitGroup
				for _, c := range conns {
					cwg.Add(1)
					go func() {
						defer cwg.Done()
						if n, err := c.Send(evs); err != nil || n != window {
							b.Errorf("Send() = %d, %v", n, err)
						}
					}()
				}
				cwg.Wait()
				sent += clients * window
			}
			cpu := cputime.Process() - cpu0
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(sent)/cpu.Seconds(), "events/cpu-s")
		})
	}
}

// BenchmarkLoopbackServer is BenchmarkLoopback with clients that write a
// window compressed once in advance (zlib level 3) and read its
// acknowledgement: events/cpu-s is then nearly all the server's (guard,
// inflate, go-lumber, decode, convert, batching), the clients' share being
// a write and a read per window.
func BenchmarkLoopbackServer(b *testing.B) {
	for _, bd := range benchDocs {
		b.Run(bd.name, func(b *testing.B) {
			cfg := Default()
			cfg.Listen = "127.0.0.1:0"
			s, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			out := make(chan *event.Batch, 8)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _ = s.Run(ctx, out) }()
			go func() {
				defer wg.Done()
				for {
					select {
					case eb := <-out:
						eb.Release()
					case <-ctx.Done():
						return
					}
				}
			}()
			defer func() { cancel(); wg.Wait() }()
			const window, clients = 2048, 2
			docs := make([]string, window)
			for i := range docs {
				docs[i] = bd.doc
			}
			wire := frames(docs, 3)
			conns := make([]net.Conn, clients)
			for i := range conns {
				if conns[i], err = net.Dial("tcp", s.Addr().String()); err != nil {
					b.Fatal(err)
				}
				defer conns[i].Close()
			}
			send := func(c net.Conn) error {
				if _, err := c.Write(wire); err != nil {
					return err
				}
				var ack [6]byte
				for {
					if _, err := io.ReadFull(c, ack[:]); err != nil {
						return err
					}
					if binary.BigEndian.Uint32(ack[2:]) == window {
						return nil
					}
				}
			}
			cpu0 := cputime.Process()
			var sent int
			for b.Loop() {
				var cwg sync.WaitGroup
				for _, c := range conns {
					cwg.Add(1)
					go func() {
						defer cwg.Done()
						if err := send(c); err != nil {
							b.Error(err)
						}
					}()
				}
				cwg.Wait()
				sent += clients * window
			}
			cpu := cputime.Process() - cpu0
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(sent)/cpu.Seconds(), "events/cpu-s")
		})
	}
}
