package netflow

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newLoggedDecoder(t *testing.T) (*Decoder, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	d, err := newDecoder(Default(), slog.New(slog.NewTextHandler(&buf, nil)), prometheus.NewRegistry(), func() time.Time { return testReceived })
	if err != nil {
		t.Fatal(err)
	}
	return d, &buf
}

// An exporter's first datagram and first templates are logged once each;
// later datagrams are not.
func TestFirstSeenLines(t *testing.T) {
	d, buf := newLoggedDecoder(t)
	tp, dp := benchV9Packets(3)
	for range 3 {
		decodeOK(t, d, exporterA, tp)
		decodeOK(t, d, exporterA, dp)
	}
	decodeOK(t, d, "192.0.2.9:2055", v9Packet(v9Header{secs: testSecs}, set(0, tmpl(300, benchV9Fields...), tmpl(301, benchV9Fields[:2]...))))
	itp, idp := benchIPFIXPackets(2)
	decodeOK(t, d, exporterA, itp)
	decodeOK(t, d, exporterA, idp)
	log := buf.String()
	for _, want := range []string{
		`msg="new exporter" component=collector/netflow exporter=192.0.2.1 version=9 not_logged=0`,
		`msg="first templates from exporter" component=collector/netflow exporter=192.0.2.1 version=9 observation_domain=7 templates=1 template_ids=[256]`,
		`msg="new exporter" component=collector/netflow exporter=192.0.2.9 version=9`,
		`msg="first templates from exporter" component=collector/netflow exporter=192.0.2.9 version=9 observation_domain=0 templates=2 template_ids="[300 301]"`,
		`msg="new exporter" component=collector/netflow exporter=192.0.2.1 version="10 (ipfix)" not_logged=0`,
		`msg="first templates from exporter" component=collector/netflow exporter=192.0.2.1 version="10 (ipfix)" observation_domain=7 templates=1`,
	} {
		if strings.Count(log, want) != 1 {
			t.Errorf("log has %d lines %q, want 1; log:\n%s", strings.Count(log, want), want, log)
		}
	}
	if n := strings.Count(log, "\n"); n != 6 {
		t.Errorf("log has %d lines, want 6:\n%s", n, log)
	}
}

// A flood of exporter addresses logs at most newcomersBurst lines per
// interval and, past newcomersMax addresses, one warning and nothing more.
func TestFirstSeenFloodIsBounded(t *testing.T) {
	d, buf := newLoggedDecoder(t)
	pkt := v9Packet(v9Header{secs: testSecs}, set(0, tmpl(300, benchV9Fields...)))
	for i := range 2 * newcomersMax {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 2055)
		decodeOK(t, d, src.String(), pkt)
	}
	log := buf.String()
	if n := strings.Count(log, `msg="new exporter"`); n != newcomersBurst {
		t.Errorf("%d new exporter lines for %d addresses in one interval, want the burst %d", n, 2*newcomersMax, newcomersBurst)
	}
	if n := strings.Count(log, `msg="first templates from exporter"`); n != newcomersBurst {
		t.Errorf("%d first-templates lines, want the burst %d", n, newcomersBurst)
	}
	if n := strings.Count(log, "many exporters: new exporters are no longer logged"); n != 1 {
		t.Errorf("%d 'many exporters' warnings, want 1", n)
	}
	if got := d.newExporters.Len(); got > newcomersMax {
		t.Errorf("seen-set holds %d keys, want at most %d", got, newcomersMax)
	}
}
