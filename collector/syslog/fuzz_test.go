package syslog

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
