package beats

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

var testNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// convertDoc converts one document and returns the event's encoded
// document, decoded.
func convertDoc(t *testing.T, doc string) (map[string]any, *event.Event, string) {
	t.Helper()
	b := event.NewBatch()
	t.Cleanup(b.Release)
	e := b.Add()
	c := &converter{}
	beat, err := c.convert(b, e, []byte(doc), netip.MustParseAddr("192.0.2.7"), testNow)
	if err != nil {
		t.Fatalf("convert(%s) = %v", doc, err)
	}
	out := e.AppendJSON(nil)
	if strings.Contains(doc, `"big":`) && !strings.Contains(string(out), `"big":18446744073709551615`) {
		t.Errorf("uint64 not kept exactly: %s", out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("document %s: %v", out, err)
	}
	checkNoDuplicates(t, out)
	return m, e, beat
}

func jsonAt(m map[string]any, p string) string {
	b, _ := json.Marshal(path(m, p))
	return string(b)
}

func TestConvert(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		beat string
		want map[string]string
		tags event.Tags
	}{
		{"packetbeat dns", seedPacketbeat, "packetbeat", map[string]string{
			"dns.question.name": `"edge.example.net"`, "dns.resolved_ip": `["192.0.2.10","2001:db8::1"]`,
			"dns.answers": `{"data":"192.0.2.10","ttl":60,"type":"A"}` /* one element: a value */, "dns.header_flags": `["RD","RA"]`,
			"event.category": `["network"]`, "event.dataset": `"dns"`, "source.ip": `"10.1.2.3"`, "destination.port": `53`,
			"observer.ip": `"192.0.2.7"`, "@timestamp": `"2026-12-06T21:10:11.345Z"`, "event.created": `"2026-12-07T12:00:00Z"`,
		}, 0},
		{"sysmon 22 no records", seedSysmon, "winlogbeat", map[string]string{
			"dns.question.name": `"edge.example.net"`, "dns.resolved_ip": `"93.184.216.34"`, "dns.response_code": `"NOERROR"`,
			"sysmon.dns.status": `"DNS_INFO_NO_RECORDS"`, "process.name": `"firefox.exe"`, "process.pid": `4312`,
			"dns.answers": `[{"data":"edge.example.net","type":"CNAME"},{"data":"93.184.216.34","type":"A"}]`,
			"agent.type":  `"winlogbeat"`,
		}, 0},
		{"sysmon from another channel is left alone",
			`{"winlog":{"channel":"Security","event_id":22,"event_data":{"QueryName":"a.example"}}}`, "", map[string]string{
				"dns": `null`, "process": `null`, "winlog.event_data.QueryName": `"a.example"`,
			}, event.TagTimeFromReceive},
		{"sysmon already mapped by the module keeps its values",
			`{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":22,"event_data":{"QueryName":"a.example","QueryStatus":"1460","Image":"C:\\a.exe"}},"dns":{"question":{"name":"b.example"}},"process":{"name":"own.exe"}}`,
			"", map[string]string{
				"dns.question.name": `"b.example"`, "sysmon.dns.status": `"ERROR_TIMEOUT"`, "dns.response_code": `null`,
				"process.name": `"own.exe"`, "process.executable": `"C:\\a.exe"`,
			}, event.TagTimeFromReceive},
		{"filebeat", seedFilebeat, "filebeat", map[string]string{
			"message": `"GET / 200 é\\ud800"` /* fastjson keeps a lone surrogate's escape as text */, "log.offset": `1234`, "f": `1e+300`, "neg": `-5`,
			"n": `null`, "tags": `["x"]`, "agent.type": `"filebeat"`, "event.dataset": `"sluice.beats"`,
			"deep.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o": `{"p":{"q":1}}`,
		}, 0},
		{"unreadable timestamp", `{"@timestamp":"yesterday","x":"y","tags":["beats_input_codec_plain_applied",1]}`, "", map[string]string{
			"@timestamp": `"2026-12-07T12:00:00Z"`, "sluice.beats.timestamp": `"yesterday"`,
			"tags": `["_time_from_receive","beats_input_codec_plain_applied",1]`,
		}, event.TagTimeFromReceive},
		{"tags not a list", `{"tags":"a"}`, "", map[string]string{"tags": `["_time_from_receive"]`}, event.TagTimeFromReceive},
		{"empty tags", `{"tags":[],"@timestamp":"2026-01-01T00:00:00Z"}`, "", map[string]string{"tags": `null`}, 0},
		{"arrays re-encoded", `{"a":[1, 2.50, "x\u0001", {"b":[true,null]}], "e":[]}`, "", map[string]string{
			"a": `[1,2.5,"x\u0001",{"b":[true,null]}]`, "e": `[]`,
		}, event.TagTimeFromReceive},
		{"beat type from agent.type", `{"agent":{"type":"auditbeat"}}`, "auditbeat", map[string]string{"agent.type": `"auditbeat"`}, event.TagTimeFromReceive},
		{"created kept", `{"event":{"created":"2020-01-01T00:00:00Z","module":"system","kind":"metric"}}`, "", map[string]string{
			"event.created": `"2020-01-01T00:00:00Z"`, "event.module": `"system"`, "event.kind": `"metric"`,
		}, event.TagTimeFromReceive},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, e, beat := convertDoc(t, tc.doc)
			if beat != tc.beat {
				t.Errorf("beat = %q, want %q", beat, tc.beat)
			}
			for p, w := range tc.want {
				if g := jsonAt(m, p); g != w {
					t.Errorf("%s = %s, want %s", p, g, w)
				}
			}
			if e.Tags != tc.tags {
				t.Errorf("tags = %b, want %b", e.Tags, tc.tags)
			}
		})
	}
}

// TestConvertDNSFields: the DNS checks find the question and every
// resolved address as Fields.
func TestConvertDNSFields(t *testing.T) {
	_, e, _ := convertDoc(t, seedPacketbeat)
	var name string
	var ips []string
	for _, f := range e.Fields {
		switch f.Key {
		case "dns.question.name":
			name = f.S
		case "dns.resolved_ip":
			if f.Type != event.FieldIP {
				t.Errorf("dns.resolved_ip field of type %d, want FieldIP", f.Type)
			}
			ips = append(ips, f.IP.String())
		}
	}
	if name != "edge.example.net" || strings.Join(ips, ",") != "192.0.2.10,2001:db8::1" {
		t.Errorf("dns.question.name %q, dns.resolved_ip %v", name, ips)
	}
	if e.Src.IP.String() != "10.1.2.3" || e.Src.Port != 53211 || e.Dst.IP.String() != "10.1.0.53" || e.Dst.Port != 53 {
		t.Errorf("Src %v:%d Dst %v:%d", e.Src.IP, e.Src.Port, e.Dst.IP, e.Dst.Port)
	}
}

func TestConvertTooManyFields(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{`)
	for i := range 200 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"k`)
		sb.WriteString(strings.Repeat("x", i%7))
		sb.WriteString(string(rune('a' + i%26)))
		sb.WriteString(`":`)
		sb.WriteString("1")
	}
	sb.WriteString(`}`)
	_, e, _ := convertDoc(t, sb.String())
	if len(e.Fields) > maxFields || !e.Tags.Has(event.TagTruncated) {
		t.Errorf("%d fields, tags %b: want at most %d and _truncated", len(e.Fields), e.Tags, maxFields)
	}
}

func TestConvertErrors(t *testing.T) {
	for _, doc := range []string{``, `[]`, `"x"`, `{"a":`, `{} x`} {
		b := event.NewBatch()
		e := b.Add()
		if _, err := (&converter{}).convert(b, e, []byte(doc), netip.Addr{}, testNow); err == nil {
			t.Errorf("convert(%q) = nil error", doc)
		}
		b.Release()
	}
}
