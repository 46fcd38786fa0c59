package console

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/pipeline"
	"github.com/sluicelab/sluice/internal/query"
)

// batch builds an encoded batch (as pipeline.Encode leaves it) of syslog
// events with the given messages and one flow.
func batch(msgs ...string) *event.Batch {
	b := event.NewBatch()
	ts := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, m := range msgs {
		e := b.Add()
		e.Kind, e.Timestamp, e.Created = event.KindSyslog, ts, ts
		e.Observer = netip.MustParseAddr("192.0.2.7")
		e.Syslog = event.Syslog{Hostname: "web-1", AppName: "app", Message: m}
	}
	f := b.Add()
	f.Kind, f.Timestamp = event.KindFlow, ts
	f.Src.IP, f.Dst.IP = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("192.0.2.9")
	f.Dst.Port = 443
	_ = pipeline.Encode{}.Process(context.Background(), b)
	return b
}

func mustMatcher(t testing.TB, q string) query.Matcher {
	t.Helper()
	m, err := query.ParseQueryString(q, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTapDelivers(t *testing.T) {
	reg := prometheus.NewRegistry()
	tap, err := NewTap(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody subscribed: nothing happens.
	b := batch("hello world", "other line")
	defer b.Release()
	if err := tap.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	hello, err := tap.Subscribe(KindSyslog, mustMatcher(t, "message:hello"), 10)
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := tap.Subscribe(KindFlows, nil, 10)
	all, _ := tap.Subscribe("", nil, 10)
	small, _ := tap.Subscribe(KindSyslog, nil, 1) // never read: overflows
	if got := testutil.ToFloat64(tap.clients); got != 4 {
		t.Errorf("sluice_console_tail_clients = %v, want 4", got)
	}
	if err := tap.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	recv := func(s *Subscriber) []string {
		var out []string
		for {
			select {
			case d := <-s.C:
				var m map[string]any
				if err := json.Unmarshal(d, &m); err != nil {
					t.Fatalf("tail document %q is not JSON: %v", d, err)
				}
				if msg, ok := m["message"].(string); ok {
					out = append(out, msg)
				} else {
					out = append(out, "flow")
				}
			default:
				return out
			}
		}
	}
	for _, tc := range []struct {
		name string
		s    *Subscriber
		want string
	}{
		{"filter", hello, "hello world"},
		{"kind", flows, "flow"},
		{"all", all, "hello world,other line,flow"},
		{"small", small, "hello world"},
	} {
		if got := strings.Join(recv(tc.s), ","); got != tc.want {
			t.Errorf("%s subscriber got %q, want %q", tc.name, got, tc.want)
		}
	}
	if d := small.Dropped(); d != 1 {
		t.Errorf("small subscriber dropped %d, want 1", d)
	}
	if d := small.Dropped(); d != 0 {
		t.Errorf("Dropped() after reading = %d, want 0 (it resets)", d)
	}
	if got := testutil.ToFloat64(tap.dropSlow); got != 1 {
		t.Errorf("sluice_console_tail_dropped_total{reason=slow_client} = %v, want 1", got)
	}
	for _, s := range []*Subscriber{hello, flows, all, small} {
		tap.Unsubscribe(s)
	}
	if tap.subs.Load() != nil {
		t.Error("subscriber list not nil after everyone left")
	}
	if err := tap.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got := recv(all); len(got) != 0 {
		t.Errorf("unsubscribed client still got %v", got)
	}
	tap.Close()
	if _, err := tap.Subscribe("", nil, 1); err == nil {
		t.Error("Subscribe after Close = nil error")
	}
}

// sseClient reads a server-sent event stream line by line.
type sseClient struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

func openTail(t *testing.T, url string) *sseClient {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("tail Content-Type %q", ct)
	}
	return &sseClient{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event: its type ("" for data, "comment") and data.
func (c *sseClient) next() (typ, data string, ok bool) {
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return "", "", false
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if typ != "" || data != "" {
				return typ, data, true
			}
		case strings.HasPrefix(line, ":"):
			return "comment", line, true
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// waitSubscribers polls until the tap has n subscribers.
func waitSubscribers(t *testing.T, tap *Tap, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got := 0
		if s := tap.subs.Load(); s != nil {
			got = len(*s)
		}
		if got == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("tail subscribers did not reach %d", n)
}

func TestTailStream(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	reg := prometheus.NewRegistry()
	tap, err := NewTap(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestAPI(t, APIConfig{MaxTailClients: 1, TailHeartbeat: 50 * time.Millisecond}, nil, tap, reg)
	c := openTail(t, srv.URL+"/api/v1/tail?kind=syslog&filter="+"message:wanted")
	if typ, data, _ := c.next(); typ != "comment" || data != ": sluice live tail" {
		t.Fatalf("first event %q %q, want the opening comment", typ, data)
	}
	waitSubscribers(t, tap, 1)

	// A second client is over console.max_tail_clients.
	status, body, _ := get(t, srv, "/api/v1/tail")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "console.max_tail_clients") {
		t.Errorf("second tail = %d %s, want 503 naming console.max_tail_clients", status, body)
	}

	const hostile = `wanted </script><img src=x onerror=alert(1)> & more`
	b := batch("not this one", hostile)
	defer b.Release()
	if err := tap.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	var got string
	heartbeats := 0
	for got == "" {
		typ, data, ok := c.next()
		if !ok {
			t.Fatal("stream ended before the document")
		}
		switch typ {
		case "":
			got = data
		case "comment":
			heartbeats++
		}
	}
	for _, bad := range []string{"<", ">", "&"} {
		if strings.Contains(got, bad) {
			t.Errorf("tail document has a raw %q: %s", bad, got)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(got), &doc); err != nil {
		t.Fatalf("tail data %q is not JSON: %v", got, err)
	}
	if doc["message"] != hostile {
		t.Errorf("tail message %q, want %q", doc["message"], hostile)
	}
	// Idle: heartbeats come.
	for heartbeats < 2 {
		typ, data, ok := c.next()
		if !ok {
			t.Fatal("stream ended while idle")
		}
		if typ == "" {
			t.Errorf("unexpected document %s (the other line does not match)", data)
		}
		if typ == "comment" && data == ": heartbeat" {
			heartbeats++
		}
	}
	// Shutdown ends the stream with an end event.
	tap.Close()
	for {
		typ, _, ok := c.next()
		if !ok {
			t.Fatal("stream ended without an end event")
		}
		if typ == "end" {
			break
		}
	}
	if _, _, ok := c.next(); ok {
		t.Error("stream goes on after the end event")
	}
	waitSubscribers(t, tap, 0)
	c.resp.Body.Close()
	srv.Close()
}

// TestTailRateLimit: above TailRate documents per second the client gets
// an account of what it missed; every matching document is either sent or
// counted.
func TestTailRateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	tap, err := NewTap(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestAPI(t, APIConfig{TailRate: 5}, nil, tap, reg)
	c := openTail(t, srv.URL+"/api/v1/tail?kind=syslog")
	waitSubscribers(t, tap, 1)
	const n = 60
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = "line"
	}
	b := batch(msgs...)
	defer b.Release()
	if err := tap.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	var sent, dropped int
	for sent+dropped < n {
		typ, data, ok := c.next()
		if !ok {
			t.Fatalf("stream ended at %d sent + %d dropped", sent, dropped)
		}
		switch typ {
		case "":
			sent++
		case "dropped":
			var d struct{ Dropped int }
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatalf("dropped event %q: %v", data, err)
			}
			dropped += d.Dropped
		}
	}
	if sent+dropped != n || sent >= n || sent < 5 {
		t.Errorf("sent %d + dropped %d, want %d in all, at least 5 and not all sent", sent, dropped, n)
	}
	if got := testutil.ToFloat64(tap.dropRate); int(got) != dropped {
		t.Errorf("sluice_console_tail_dropped_total{reason=rate_limit} = %v, the client was told %d", got, dropped)
	}
}

// TestTailOff: without a tap (console.max_tail_clients: 0) the tail
// answers 503.
func TestTailOff(t *testing.T) {
	srv := newTestAPI(t, APIConfig{}, nil, nil, nil)
	status, body, _ := get(t, srv, "/api/v1/tail")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "console.max_tail_clients: 0") {
		t.Errorf("tail without tap = %d %s", status, body)
	}
}

// BenchmarkTap measures the stage's cost per batch of 64 syslog events
// with nobody subscribed (one atomic load) and with one filtered client.
func BenchmarkTap(b *testing.B) {
	msgs := make([]string, 63)
	for i := range msgs {
		msgs[i] = "some ordinary log line"
	}
	bt := batch(msgs...)
	defer bt.Release()
	ctx := context.Background()
	b.Run("no_subscriber", func(b *testing.B) {
		tap, _ := NewTap(nil)
		b.ReportAllocs()
		for b.Loop() {
			_ = tap.Process(ctx, bt)
		}
		b.ReportMetric(float64(b.N*bt.Len())/b.Elapsed().Seconds(), "events/s")
	})
	for name, filter := range map[string]string{
		"one_subscriber_text_filter":    "message:nomatch",
		"one_subscriber_keyword_filter": "host.hostname:web-2",
	} {
		b.Run(name, func(b *testing.B) {
			tap, _ := NewTap(nil)
			s, _ := tap.Subscribe(KindSyslog, mustMatcher(b, filter), 10)
			defer tap.Unsubscribe(s)
			b.ReportAllocs()
			for b.Loop() {
				_ = tap.Process(ctx, bt)
			}
			b.ReportMetric(float64(b.N*bt.Len())/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestTapDNS: a dns tail gets every DNS event (a capture, a Beat's DNS
// document, a resolver-log line) and nothing else; the syslog tail keeps
// getting the resolver-log line and no capture or Beat.
func TestTapDNS(t *testing.T) {
	tap, err := NewTap(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	b := batch("no dns here")
	defer b.Release()
	ts := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	add := func(kind event.Kind, name, dataset string) {
		e := b.Add()
		e.Kind, e.Timestamp, e.Syslog.Dataset = kind, ts, dataset
		if name != "" {
			e.AddParsed(event.Field{Key: "dns.question.name", Type: event.FieldString, S: name})
		}
	}
	add(event.KindDNS, "cap.example", "sluice.dns")
	add(event.KindBeats, "beat.example", "windows.sysmon_operational")
	add(event.KindBeats, "", "system.auth")
	add(event.KindSyslog, "log.example", "dnsmasq.query")
	_ = pipeline.Encode{}.Process(context.Background(), b)
	dnsSub, _ := tap.Subscribe(KindDNS, nil, 10)
	nx, _ := tap.Subscribe(KindDNS, mustMatcher(t, "event.dataset:sluice.dns"), 10)
	sys, _ := tap.Subscribe(KindSyslog, nil, 10)
	if err := tap.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	names := func(s *Subscriber) []string {
		var out []string
		for {
			select {
			case line := <-s.C:
				var d struct {
					DNS     struct{ Question struct{ Name string } }
					Message string
				}
				if err := json.Unmarshal(line, &d); err != nil {
					t.Fatal(err)
				}
				out = append(out, d.DNS.Question.Name+d.Message)
			default:
				return out
			}
		}
	}
	for _, c := range []struct {
		s    *Subscriber
		want string
	}{{dnsSub, "cap.example beat.example log.example"}, {nx, "cap.example"}, {sys, "no dns here log.example"}} {
		if got := strings.Join(names(c.s), " "); got != c.want {
			t.Errorf("tail got %q, want %q", got, c.want)
		}
	}
}
