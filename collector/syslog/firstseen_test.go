package syslog

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// A sender's first message on a listener is logged once; a flood of
// sender addresses stays within the line rate.
func TestFirstSeenSender(t *testing.T) {
	var buf bytes.Buffer
	d := NewDecoder(DecoderConfig{Location: time.UTC}).WithLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	msg := []byte("<34>1 2026-12-07T10:00:00Z router1 sshd 42 - - hello")
	send := func(src, listener string) {
		b := event.NewBatch()
		defer b.Release()
		if err := d.Decode(&collector.Packet{Data: msg, Src: netip.MustParseAddrPort(src), Listener: listener, Received: time.Now()}, b); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		send("192.0.2.1:514", "udp/0.0.0.0:5514")
	}
	send("192.0.2.1:40000", "tcp/0.0.0.0:5514")
	log := buf.String()
	for _, want := range []string{
		`msg="new syslog sender" component=collector/syslog sender=192.0.2.1 listener=udp/0.0.0.0:5514 format=rfc5424 hostname=router1`,
		`msg="new syslog sender" component=collector/syslog sender=192.0.2.1 listener=tcp/0.0.0.0:5514 format=rfc5424 hostname=router1`,
	} {
		if n := strings.Count(log, want); n != 1 {
			t.Errorf("%d lines %q, want 1; log:\n%s", n, want, log)
		}
	}
	buf.Reset()
	for i := range 10000 {
		send(fmt.Sprintf("10.0.%d.%d:514", i>>8, i&0xff), "udp/0.0.0.0:5514")
	}
	if n := strings.Count(buf.String(), "\n"); n > 21 {
		t.Errorf("10000 new senders in one interval gave %d lines, want at most 20 and one warning", n)
	}
}
