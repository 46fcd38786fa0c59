package syslog

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

func TestDecoderEvents(t *testing.T) {
	d := NewDecoder(DecoderConfig{Location: time.UTC, KeepOriginal: true})
	recv := time.Date(2026, 11, 22, 8, 0, 13, 0, time.UTC)
	for _, tc := range []struct {
		line string
		want map[string]any // paths in the encoded document
		tags []string
	}{
		{
			line: "<134>1 1795363203.657231795 MX84_HQ flows allow src=192.168.1.10:51514 dst=93.184.216.34:443\n",
			want: map[string]any{"@timestamp": "2026-11-22T16:00:03.657Z", "host.hostname": "MX84_HQ", "process.name": "flows",
				"message": "allow src=192.168.1.10:51514 dst=93.184.216.34:443", "log.syslog.priority": 134.0,
				"log.syslog.severity.name": "informational", "observer.ip": "198.51.100.7",
				"event.original": "<134>1 1795363203.657231795 MX84_HQ flows allow src=192.168.1.10:51514 dst=93.184.216.34:443"},
		},
		{
			line: "<38>Nov 22 08:00:12 web02 sshd[44454]: Failed password for test from 176.130.170.130 port 55767 ssh2",
			want: map[string]any{"@timestamp": "2026-11-22T08:00:12Z", "host.hostname": "web02", "process.name": "sshd",
				"process.pid": 44454.0, "log.syslog.facility.name": "auth", "message": "Failed password for test from 176.130.170.130 port 55767 ssh2"},
		},
		{
			// RFC 5424's example: the structured data goes to
			// log.syslog.structured_data (ECS), one field per parameter.
			line: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event log entry`,
			want: map[string]any{"log.syslog.structured_data.exampleSDID@32473.iut": "3",
				"log.syslog.structured_data.exampleSDID@32473.eventSource": "Application",
				"log.syslog.structured_data.exampleSDID@32473.eventID":     "1011",
				"log.syslog.structured_data.examplePriority@32473.class":   "high",
				"log.syslog.msgid": "ID47", "message": "An application event log entry"},
		},
		{
			// Escapes undone; an SD-ID with dots nests (Junos).
			line: `<14>1 2026-11-22T08:00:01Z srx1 RT_FLOW - RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 source-address="10.0.0.1" q="a\"b\\c\]d"] session created`,
			want: map[string]any{"log.syslog.structured_data.junos@2636.1.1.1.2.129.source-address": "10.0.0.1",
				"log.syslog.structured_data.junos@2636.1.1.1.2.129.q": `a"b\c]d`, "message": "session created"},
		},
		{
			line: "\x00\xff garbage without a header",
			want: map[string]any{"@timestamp": "2026-11-22T08:00:13Z", "message": "\x00\ufffd garbage without a header"},
			tags: []string{"_syslogheaderfailure", "_time_from_receive"},
		},
	} {
		b := event.NewBatch()
		buf := []byte(tc.line)
		p := &collector.Packet{Data: buf, Src: netip.MustParseAddrPort("[::ffff:198.51.100.7]:514"), Received: recv, Listener: "udp/0.0.0.0:5514"}
		if err := d.Decode(p, b); err != nil {
			t.Fatal(err)
		}
		if got := b.Events[0].Listener; got != "udp/0.0.0.0:5514" {
			t.Errorf("Listener = %q, want the packet's", got)
		}
		for i := range buf { // the packet buffer is reused after Decode
			buf[i] = 'X'
		}
		if b.Len() != 1 {
			t.Fatalf("%q: %d events", tc.line, b.Len())
		}
		doc := b.Events[0].AppendJSON(nil)
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		for path, want := range tc.want {
			if got := lookup(m, path); got != want {
				t.Errorf("%q: %s = %#v, want %#v\n%s", tc.line, path, got, want, doc)
			}
		}
		var tags []string
		if ts, ok := m["tags"].([]any); ok {
			for _, x := range ts {
				tags = append(tags, x.(string))
			}
		}
		if strings.Join(tags, ",") != strings.Join(tc.tags, ",") {
			t.Errorf("%q: tags %v, want %v", tc.line, tags, tc.tags)
		}
		b.Release()
	}
}

func lookup(m map[string]any, path string) any {
	if v, ok := m[path]; ok { // a top-level key such as @timestamp
		return v
	}
	var cur any = m
	for _, seg := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[seg]
	}
	return cur
}
