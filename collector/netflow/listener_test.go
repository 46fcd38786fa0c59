package netflow

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// sendFrom sends payloads over UDP from the loopback address src (any
// 127.0.0.0/8 address works as a source on Linux) to dst.
func sendFrom(t *testing.T, src string, dst net.Addr, payloads ...[]byte) {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, dst.(*net.UDPAddr))
	if err != nil {
		t.Fatalf("DialUDP from %s: %v", src, err)
	}
	defer c.Close()
	for _, p := range payloads {
		if _, err := c.Write(p); err != nil {
			t.Fatalf("send from %s: %v", src, err)
		}
	}
}

// Through the real listener: an exporter-address flood from 100 loopback
// addresses fills the exporter table, a sender outside
// netflow.allowed_exporters is dropped before decoding, and a new exporter
// decodes 100 of 100 flows from its first template.
func TestListenerAllowedExportersAndAddressFlood(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := Default()
	cfg.MaxExporters = 20
	cfg.AllowedExporters = []string{"127.0.0.0/25"}
	reg := prometheus.NewRegistry()
	dec, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ucfg := collector.DefaultUDP()
	ucfg.Listen = []string{"127.0.0.1:0"}
	ucfg.Workers = 2
	u, err := collector.NewUDP("netflow", ucfg, dec, collector.NewMetrics(reg), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *event.Batch, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx, out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	}()
	dst := u.Addrs()[0]

	// The flood: 100 exporter addresses, 5 templates each, no data.
	for i := range 100 {
		var recs [][]byte
		for j := range 5 {
			recs = append(recs, tmpl(uint16(256+j), fs(uint16(1+j), 4)))
		}
		sendFrom(t, netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)}).String(), dst,
			v9Packet(v9Header{secs: testSecs}, set(0, recs...)))
	}
	// The same flows from a legitimate exporter and from one not allowed.
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 3}
	var pkts [][]byte
	for p := range 4 {
		var recs [][]byte
		for i := range 25 {
			recs = append(recs, benchV9Record(25*p+i))
		}
		if p == 0 {
			pkts = append(pkts, v9Packet(h, set(0, tmpl(256, benchV9Fields...)), set(256, recs...)))
		} else {
			pkts = append(pkts, v9Packet(h, set(256, recs...)))
		}
	}
	sendFrom(t, "127.0.0.2", dst, pkts...)
	sendFrom(t, "127.0.0.200", dst, pkts...)

	flows := map[netip.Addr]int{}
	deadline := time.After(10 * time.Second)
	legit := netip.MustParseAddr("127.0.0.2")
	// Wait for everything to be decoded: the legitimate flows, the drops,
	// and the flood (101 exporters allowed, room for 20).
	for flows[legit] < 100 || counter(t, reg, "sluice_netflow_packets_dropped_total", "reason", "exporter_not_allowed") < 4 ||
		counter(t, reg, "sluice_netflow_exporter_evictions_total", "reason", "max_exporters") < 81 {
		select {
		case b := <-out:
			for _, e := range b.All() {
				flows[e.Observer]++
			}
			b.Release()
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("after 10s: flows by exporter %v, not-allowed drops %v, exporter evictions %v", flows,
				counter(t, reg, "sluice_netflow_packets_dropped_total", "reason", "exporter_not_allowed"),
				counter(t, reg, "sluice_netflow_exporter_evictions_total", "reason", "max_exporters"))
		}
	}
	if flows[legit] != 100 || len(flows) != 1 {
		t.Errorf("flows by exporter %v, want 100 from 127.0.0.2 only", flows)
	}
	if got := counter(t, reg, "sluice_netflow_packets_dropped_total", "reason", "exporter_not_allowed"); got != 4 {
		t.Errorf("packets dropped{exporter_not_allowed} = %v, want 4", got)
	}
	if got := counter(t, reg, "sluice_netflow_exporters"); got > 20 {
		t.Errorf("exporters = %v, limit 20", got)
	}
	dec.mu.RLock()
	for k := range dec.exporters {
		if k.addr == netip.MustParseAddr("127.0.0.200") {
			t.Errorf("the sender not allowed has exporter state")
		}
	}
	dec.mu.RUnlock()
}
