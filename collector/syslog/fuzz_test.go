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
