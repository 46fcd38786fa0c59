package dnscap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sluicelab/sluice/internal/event"
)

// TestCaptureLoopback runs the source on lo: a real UDP exchange on
// 127.0.0.1 between two sockets of this test (a server port picked by
// the kernel, given as the DNS port) becomes one transaction, a query
// that is never answered one without a response, and Run returns when
// its context ends, leaving no goroutine.
//
// It runs on each way of reading frames: the TPACKET_V3 ring, one
// recvmsg per frame (ring_bytes 0), and the fallback to recvmsg when the
// kernel refuses the ring.
func TestCaptureLoopback(t *testing.T) {
	needRoot(t)
	t.Run("ring", func(t *testing.T) {
		c := captureLoopback(t, Default().RingBytes, slog.New(slog.DiscardHandler))
		if c.socks[0].ring == nil || !strings.HasPrefix(c.Ring(), "8MiB (8 blocks of 1MiB)") {
			t.Errorf("ring on lo: %v, Ring() = %q, want an 8MiB ring", c.socks[0].ring, c.Ring())
		}
	})
	t.Run("recvmsg", func(t *testing.T) {
		c := captureLoopback(t, 0, slog.New(slog.DiscardHandler))
		if c.socks[0].ring != nil || !strings.HasPrefix(c.Ring(), "off") {
			t.Errorf("ring_bytes 0: Ring() = %q, want off and no ring", c.Ring())
		}
	})
	t.Run("fallback", func(t *testing.T) {
		orig := setupRing
		t.Cleanup(func() { setupRing = orig })
		setupRing = func(int, ringGeometry) (*ring, error) { return nil, unix.ENOMEM }
		var logs bytes.Buffer
		c := captureLoopback(t, Default().RingBytes, slog.New(slog.NewTextHandler(&logs, nil)))
		if c.socks[0].ring != nil || !strings.Contains(c.Ring(), "unavailable on lo (cannot allocate memory)") {
			t.Errorf("refused ring: Ring() = %q, want the reason and no ring", c.Ring())
		}
		if n := strings.Count(logs.String(), "level=WARN msg=\"TPACKET_V3 ring unavailable"); n != 1 || !strings.Contains(logs.String(), "err=\"cannot allocate memory\"") {
			t.Errorf("refused ring: %d warnings, want 1 with the reason:\n%s", n, &logs)
		}
	})
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "capturing on lo needs root (CAP_NET_RAW); run the tests as root"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipped, not root (CI=true makes this a failure): " + msg)
	}
}

func captureLoopback(t *testing.T, ringBytes int, logger *slog.Logger) *Capture {
	defer goleak.VerifyNone(t)
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	port := uint16(srv.LocalAddr().(*net.UDPAddr).Port)

	cfg := Default()
	cfg.Interfaces, cfg.Ports, cfg.Timeout, cfg.RingBytes = []string{"lo"}, []uint16{port}, 200*time.Millisecond, ringBytes
	reg := prometheus.NewRegistry()
	c, err := New(cfg, logger, reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *event.Batch, 16)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()

	cli, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	q := query(4242, "Capture.Example.", dns.TypeA)
	if _, err := cli.Write(pack(q)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, from, err := srv.ReadFromUDP(buf)
	if err != nil || n == 0 {
		t.Fatalf("server read: %v", err)
	}
	if _, err := srv.WriteToUDP(pack(answer(q, "capture.example. 60 IN A 192.0.2.77")), from); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Write(pack(query(4243, "unanswered.example.", dns.TypeTXT))); err != nil {
		t.Fatal(err)
	}

	var docs []map[string]any
	deadline := time.After(20 * time.Second)
	for len(docs) < 2 {
		select {
		case b := <-out:
			for i := range b.All() {
				var m map[string]any
				if err := json.Unmarshal(b.All()[i].AppendJSON(nil), &m); err != nil {
					t.Fatal(err)
				}
				docs = append(docs, m)
			}
			b.Release()
		case <-deadline:
			t.Fatalf("got %d documents in 20s, want 2: %v", len(docs), docs)
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	for _, d := range docs {
		if get(d, "source.port") != float64(cli.LocalAddr().(*net.UDPAddr).Port) || get(d, "destination.port") != float64(port) {
			t.Errorf("ports: %v", d)
		}
	}
	if get(docs[0], "dns.question.name") != "capture.example" || get(docs[0], "dns.resolved_ip") != "192.0.2.77" || get(docs[0], "dns.type") != "answer" {
		t.Errorf("answered transaction: %v", docs[0])
	}
	if get(docs[1], "dns.question.name") != "unanswered.example" || get(docs[1], "dns.type") != "query" || get(docs[1], "dns.response_code") != nil {
		t.Errorf("unanswered query: %v", docs[1])
	}
	if got := testutil.ToFloat64(c.m.frames.WithLabelValues("lo")); got < 3 {
		t.Errorf("frames counted on lo = %v, want at least 3", got)
	}
	return c
}

// TestConfigValidate: every bad value is named with its key.
func TestConfigValidate(t *testing.T) {
	c := Default()
	c.Interfaces = []string{"lo", "lo", "nosuch0"}
	c.Ports = []uint16{0}
	c.Snaplen, c.Timeout, c.MaxPending, c.MaxTCPStreams, c.MaxAnswers, c.ReceiveBuffer, c.RingBytes, c.Index = 1, time.Hour, 1, 0, 99, -1, -2, "bad-%{"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, w := range []string{`"lo" is listed twice`, `"nosuch0" is not a network interface`, "dns.capture.ports: 0", "dns.capture.snaplen: 1",
		"dns.capture.timeout: 1h0m0s", "dns.capture.max_pending: 1", "dns.capture.max_tcp_streams: 0", "dns.capture.max_answers: 99",
		"dns.capture.receive_buffer_bytes: -1", "dns.capture.ring_bytes: -2", "output.index.dns"} {
		if !contains(err.Error(), w) {
			t.Errorf("Validate() = %v\nwant it to name %q", err, w)
		}
	}
	small := Default()
	small.Interfaces, small.RingBytes = []string{"lo"}, 100000
	if err := small.Validate(); err == nil || !contains(err.Error(), "dns.capture.ring_bytes: 100000 holds fewer than 2 blocks") {
		t.Errorf("ring smaller than two snaplen frames: Validate() = %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("capture off: Validate() = %v", err)
	}
	d := Default()
	d.Interfaces = []string{"lo"}
	if err := d.Validate(); err != nil {
		t.Errorf("defaults on lo: Validate() = %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
