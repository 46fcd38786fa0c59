package syslog

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

func fuzzSeeds(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add([]byte(tc.line))
	}
	for _, l := range extraDiffLines {
		f.Add([]byte(l))
	}
	for _, l := range sampleLines(f) {
		f.Add(l)
	}
}

// FuzzParse checks that any line parses without panicking or hanging, into
// slices of the line, with Priority in -1..191, flags that agree with the
// fields, and BadHeader exactly when the message is the whole line. The
// line itself must not change.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	p := &Parser{Location: newYork, Now: fixedNow(received)}
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		var h Header
		p.Parse(line, &h)
		if !bytes.Equal(line, orig) {
			t.Fatalf("Parse(%q) changed its input to %q", orig, line)
		}
		checkHeader(t, line, &h)
		var again Header
		p.Parse(line, &again)
		if diff := cmp.Diff(viewOf(&h), viewOf(&again)); diff != "" {
			t.Fatalf("Parse(%q) twice differs:\n%s", line, diff)
		}
	})
}

// FuzzDifferential checks that where the fast path and go-syslog both
// parse a line, they agree on every field but the known divergences.
func FuzzDifferential(f *testing.F) {
	fuzzSeeds(f)
	p := &Parser{Location: time.UTC, Now: fixedNow(received)}
	f.Fuzz(func(t *testing.T, line []byte) {
		line = trimEnd(line)
		var fh, lh Header
		if !p.parseFast(line, &fh) || !p.parseLib(line, &lh) {
			return
		}
		fv, lv := viewOf(&fh), viewOf(&lh)
		divergence(line, &fv, &lv)
		if diff := cmp.Diff(fv, lv); diff != "" {
			t.Fatalf("line %q: fast path (-) and go-syslog (+) disagree:\n%s", line, diff)
		}
	})
}

// FuzzDecodeStructuredData: any structured data the header parser lets
// through gives at most maxSDParams fields, each under
// log.syslog.structured_data., and a valid JSON document.
func FuzzDecodeStructuredData(f *testing.F) {
	for _, sd := range []string{
		`[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
		`[junos@2636.1.1.1.2.129 source-address="10.0.0.1" q="a\"b\\c\]d"]`,
		`[a b="`, `[a b="c"`, `[a b=c]`, `[ a="b"]`, `[a.b c="d"][a b.c="e"]`, `[a b=""]`, "[\xff \xfe=\"\xfd\"]",
	} {
		f.Add(sd)
	}
	d := NewDecoder(DecoderConfig{Location: time.UTC})
	f.Fuzz(func(t *testing.T, sd string) {
		line := "<14>1 2026-11-22T08:00:01Z host app - ID " + sd + " msg"
		b := event.NewBatch()
		if err := d.Decode(&collector.Packet{Data: []byte(line), Src: netip.MustParseAddrPort("192.0.2.1:514"), Received: time.Now()}, b); err != nil {
			t.Fatal(err)
		}
		e := &b.Events[0]
		if len(e.Fields) > maxSDParams {
			t.Fatalf("%d fields from %q", len(e.Fields), sd)
		}
		for _, fl := range e.Fields {
			if !strings.HasPrefix(fl.Key, sdPrefix) {
				t.Fatalf("field %q from %q", fl.Key, sd)
			}
		}
		if doc := e.AppendJSON(nil); !json.Valid(doc) {
			t.Fatalf("invalid JSON for %q: %s", sd, doc)
		}
	})
}

// noTimestampSeeds are lines around the shortcut of noTimestamp: those it
// takes and near misses it must leave to go-syslog.
var noTimestampSeeds = []string{
	"<30>firewall,info input: in:ether1 out:(unknown 0), src-mac 00:0c:42:aa:bb:cc, proto TCP (SYN), 203.0.113.5:4444->192.0.2.40:22, len 60",
	"%ASA-6-302016: Teardown UDP connection 77 for outside:198.51.100.7/53",
	"<134>NetScreen device_id=ssg140  [Root]system-notification-00257(traffic): start_time=\"2026-11-22 08:00:40\"",
	"<13>Nov", "<13>Nov 22", "<13>Novx 22 08:00:00 host app: x", "<13>No", "<13>N", "<13>x", "<13>", "<13> firewall,info x",
	"<13>*Nov 22 08:00:00: %SYS-5-CONFIG_I: x", "<13>:x", "<999>firewall,info x", "<13firewall", "firewall,info x",
	"<0>a", "<191>Z", "<13>\xff\xfe", "<13>%", "<13>Jan 1 00:00:00 x", "<13>jan 22 08:00:00 host app: x",
}

// FuzzNoTimestamp checks that wherever noTimestamp takes a line, go-syslog
// (parseLib) refuses it and gives the same header.
func FuzzNoTimestamp(f *testing.F) {
	fuzzSeeds(f)
	for _, l := range noTimestampSeeds {
		f.Add([]byte(l))
	}
	p := &Parser{Location: time.UTC, Now: fixedNow(received)}
	f.Fuzz(func(t *testing.T, line []byte) {
		line = trimEnd(line)
		checkNoTimestamp(t, p, line)
	})
}

// checkNoTimestamp compares noTimestamp with parseLib on line; it reports
// whether noTimestamp took the line.
func checkNoTimestamp(t testing.TB, p *Parser, line []byte) bool {
	t.Helper()
	var sh, lh Header
	if !noTimestamp(line, &sh) {
		return false
	}
	if p.parseLib(line, &lh) {
		t.Fatalf("noTimestamp(%q) took a line that go-syslog parses: %+v", line, viewOf(&lh))
	}
	if diff := cmp.Diff(viewOf(&lh), viewOf(&sh)); diff != "" {
		t.Fatalf("line %q: go-syslog (-) and noTimestamp (+) disagree:\n%s", line, diff)
	}
	return true
}
