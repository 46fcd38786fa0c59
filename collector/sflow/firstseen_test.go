package sflow

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// An agent's first datagram is logged once, with its agent address.
func TestFirstSeenAgent(t *testing.T) {
	var buf bytes.Buffer
	d, err := New(Default(), slog.New(slog.NewTextHandler(&buf, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	data := sfDatagram(agent4, 0, 1, 0, counterSample(false, 1, 7, ifCountersRecord(7, 1, 2)))
	for range 5 {
		if _, err := decode(t, d, data); err != nil {
			t.Fatalf("Decode() error: %v", err)
		}
	}
	want := `msg="new exporter" component=collector/sflow exporter=` + agent4.String() + ` version=sflow source=` + sender.Addr().Unmap().String()
	if n := strings.Count(buf.String(), want); n != 1 {
		t.Errorf("%d lines %q for 5 datagrams of one agent, want 1; log:\n%s", n, want, buf.String())
	}
}
