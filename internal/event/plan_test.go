package event

import (
	"testing"
	"time"
)

// TestDNSQuestion: an event's mark as DNS (a non-empty dns.question.name)
// is the same read from its layout as found by looking through Fields.
func TestDNSQuestion(t *testing.T) {
	cases := []struct {
		fields []Field
		want   bool
	}{
		{[]Field{{Key: "event.action", Type: FieldString, S: "deny"}}, false},
		{[]Field{{Key: "dns.question.type", Type: FieldString, S: "A"}, {Key: "dns.question.name", Type: FieldString, S: "example.com"}}, true},
		{[]Field{{Key: "dns.question.name", Type: FieldString, S: ""}, {Key: "x.y", Type: FieldString, S: "z"}}, false},
		{[]Field{{Key: "a.b", Type: FieldString, S: "1"}, {Key: "dns.question.name", Type: FieldUint, U: 7}}, false},
		{nil, false},
	}
	for _, kind := range []Kind{KindSyslog, KindBeats} {
		for i, c := range cases {
			b := NewBatch()
			e := b.Add()
			e.Kind = kind
			e.Timestamp = time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
			e.Syslog.Hostname = "h"
			for _, f := range c.fields {
				e.AddParsed(f)
			}
			if got := e.DNSQuestion(); got != c.want {
				t.Errorf("kind %v case %d without a layout: DNSQuestion() = %v, want %v", kind, i, got, c.want)
			}
			// The same key sequence twice stores a layout.
			for range 3 {
				b.EncodeJSON()
			}
			if e.SyslogLayout() == nil {
				t.Fatalf("kind %v case %d: no layout after encoding the same sequence three times", kind, i)
			}
			if got := e.DNSQuestion(); got != c.want {
				t.Errorf("kind %v case %d with layout %v: DNSQuestion() = %v, want %v", kind, i, e.SyslogLayout() != nil, got, c.want)
			}
			b.Release()
		}
	}
}
