package beats

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	client "github.com/elastic/go-lumber/client/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/sluicelab/sluice/internal/event"
)

// start runs a Server on 127.0.0.1 until the test ends; out is its
// pipeline channel (cap 1: a test that does not read holds acks back).
func start(t *testing.T, cfg Config) (*Server, chan *event.Batch, *prometheus.Registry) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	out := make(chan *event.Batch, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	return s, out, reg
}

// TestMain checks that no goroutine outlives the tests (the servers'
// and go-lumber's connection handlers included).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func defaultTestConfig() Config {
	c := Default()
	c.Workers = 2
	return c
}

// docs reads batches from out until n events arrived (or the deadline)
// and returns their JSON documents.
func docs(t *testing.T, out chan *event.Batch, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	deadline := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case b := <-out:
			b.EncodeJSON()
			for i := range b.Len() {
				line, _ := b.JSONLine(i)
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("document %s: %v", line, err)
				}
				got = append(got, m)
			}
			b.Release()
		case <-deadline:
			t.Fatalf("got %d of %d events", len(got), n)
		}
	}
	return got
}

// path reads a dotted path from a decoded document.
func path(m map[string]any, p string) any {
	var cur any = m
	for _, k := range strings.Split(p, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = o[k]
	}
	return cur
}

func TestServerAcksAfterAccept(t *testing.T) {
	s, out, reg := start(t, defaultTestConfig())
	c, err := client.SyncDial(s.Addr().String(), client.Timeout(10*time.Second), client.CompressionLevel(3))
	if err != nil {
		t.Fatalf("SyncDial() = %v", err)
	}
	defer c.Close()
	evs := []interface{}{
		map[string]any{"@timestamp": "2026-12-07T10:00:00.123Z", "@metadata": map[string]any{"beat": "filebeat"},
			"message": "hello", "log": map[string]any{"offset": 42, "file": map[string]any{"path": "/var/log/a.log"}},
			"tags": []string{"x"}, "labels": map[string]any{"ok": true, "ratio": 0.5}},
		map[string]any{"@metadata": map[string]any{"beat": "packetbeat"}, "event": map[string]any{"dataset": "dns"},
			"source": map[string]any{"ip": "10.0.0.5", "port": 40000}, "destination": map[string]any{"ip": "10.0.0.53", "port": 53},
			"dns": map[string]any{"question": map[string]any{"name": "WWW.Example.COM."}, "resolved_ip": []string{"192.0.2.1", "2001:db8::1"},
				"answers": []any{map[string]any{"data": "192.0.2.1", "type": "A"}, map[string]any{"data": "2001:db8::1", "type": "AAAA"}}}},
	}
	acked := make(chan error, 1)
	go func() {
		_, err := c.Send(evs)
		acked <- err
	}()
	// Not acked while the pipeline has not taken the batch: out has room
	// for one batch, which the worker fills; nothing more to wait for.
	got := docs(t, out, 2)
	if err := <-acked; err != nil {
		t.Fatalf("Send() = %v", err)
	}
	f := got[0]
	for p, want := range map[string]any{
		"@timestamp": "2026-12-07T10:00:00.123Z", "message": "hello", "log.offset": 42.0, "log.file.path": "/var/log/a.log",
		"labels.ok": true, "labels.ratio": 0.5, "agent.type": "filebeat", "observer.ip": "127.0.0.1", "event.dataset": "sluice.beats",
		"event.module": nil,
	} {
		if g := path(f, p); g != want {
			t.Errorf("filebeat document %s = %v, want %v", p, g, want)
		}
	}
	if _, ok := f["@metadata"]; ok {
		t.Errorf("@metadata kept: %v", f)
	}
	p := got[1]
	for k, want := range map[string]any{
		"dns.question.name": "www.example.com", "event.dataset": "dns", "source.ip": "10.0.0.5", "source.port": 40000.0,
		"destination.port": 53.0, "agent.type": "packetbeat",
	} {
		if g := path(p, k); g != want {
			t.Errorf("packetbeat document %s = %v, want %v", k, g, want)
		}
	}
	if g, _ := json.Marshal(path(p, "dns.resolved_ip")); string(g) != `["192.0.2.1","2001:db8::1"]` {
		t.Errorf("dns.resolved_ip = %s", g)
	}
	if g, _ := json.Marshal(path(p, "dns.answers")); string(g) != `[{"data":"192.0.2.1","type":"A"},{"data":"2001:db8::1","type":"AAAA"}]` {
		t.Errorf("dns.answers = %s", g)
	}
	if v := testutil.ToFloat64(s.m.events.WithLabelValues("packetbeat")); v != 1 {
		t.Errorf("events{beat=packetbeat} = %v", v)
	}
	if v := testutil.ToFloat64(s.m.batches); v != 1 {
		t.Errorf("batches = %v", v)
	}
	_ = reg
}

// TestServerHoldsAck: with the pipeline full the batch is not
// acknowledged (the server sends empty keepalive acknowledgements while
// it waits); once the pipeline takes it, it is.
func TestServerHoldsAck(t *testing.T) {
	cfg := defaultTestConfig()
	cfg.IdleTimeout = time.Second // shorter than the wait: waiting for the pipeline is not idle
	s, out, _ := start(t, cfg)
	out <- event.NewBatch() // the pipeline is full
	c, err := client.Dial(s.Addr().String(), client.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	defer c.Close()
	if err := c.Send([]interface{}{map[string]any{"message": "m"}}); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	// go-lumber sends a keepalive (an acknowledgement of 0) every 3s
	// while a batch waits: the first one shows the batch is waiting.
	for range 2 {
		n, err := c.ReceiveACK()
		if err != nil || n != 0 {
			t.Fatalf("ReceiveACK() while the pipeline is full = %d, %v; want a keepalive (0)", n, err)
		}
	}
	if v := testutil.ToFloat64(s.m.batches); v != 0 {
		t.Fatalf("batches = %v while the pipeline is full", v)
	}
	(<-out).Release() // the pipeline takes the first batch, then ours
	b := <-out
	if b.Len() != 1 {
		t.Fatalf("batch of %d events", b.Len())
	}
	b.Release()
	for {
		n, err := c.ReceiveACK()
		if err != nil {
			t.Fatalf("ReceiveACK() after the pipeline took the batch = %v", err)
		}
		if n == 1 {
			return
		}
	}
}

// TestServerMaxConnections: one more connection than allowed is closed.
func TestServerMaxConnections(t *testing.T) {
	cfg := defaultTestConfig()
	cfg.MaxConnections = 1
	s, out, _ := start(t, cfg)
	c1, err := client.SyncDial(s.Addr().String(), client.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	go func() { (<-out).Release() }()
	if _, err := c1.Send([]interface{}{map[string]any{"a": 1}}); err != nil {
		t.Fatalf("first connection Send() = %v", err)
	}
	c2, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatalf("second connection read %d bytes, want it closed", n)
	}
	if v := testutil.ToFloat64(s.m.rejected); v != 1 {
		t.Errorf("rejected = %v, want 1", v)
	}
}

// TestServerDecodeError: a document that is not a JSON object is skipped
// and counted; the rest of its batch is delivered and the batch
// acknowledged whole.
func TestServerDecodeError(t *testing.T) {
	s, out, _ := start(t, defaultTestConfig())
	raw := func(v interface{}) ([]byte, error) { return v.([]byte), nil }
	c, err := client.SyncDial(s.Addr().String(), client.Timeout(10*time.Second), client.JSONEncoder(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acked := make(chan int, 1)
	go func() {
		n, err := c.Send([]interface{}{[]byte(`[1,2]`), []byte(`{"message":"kept"}`), []byte(`{"broken":`)})
		if err != nil {
			t.Errorf("Send() = %v", err)
		}
		acked <- n
	}()
	got := docs(t, out, 1)
	if n := <-acked; n != 3 {
		t.Errorf("acknowledged %d, want 3", n)
	}
	if path(got[0], "message") != "kept" {
		t.Errorf("delivered %v", got[0])
	}
	if v := testutil.ToFloat64(s.m.decodeErrors); v != 2 {
		t.Errorf("decode errors = %v, want 2", v)
	}
	select {
	case b := <-out:
		t.Errorf("a second batch of %d events", b.Len())
		b.Release()
	default:
	}
}
