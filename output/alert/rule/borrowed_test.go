package rule

import (
	"testing"
	"time"
	"unsafe"

	"github.com/sluicelab/sluice/internal/query"
)

// borrowedDoc is a document whose string values point into buf, as
// query.EventDoc's do (into its scratch and the event's pooled bytes,
// valid only until the next Reset). A test double: the reuse is what a
// real EventDoc does under load, but not on demand.
func borrowedDoc(t time.Time, buf []byte, fields map[string]string) *rlDoc {
	d := rlLogDoc(t, nil)
	for k, v := range fields {
		start := len(buf)
		buf = append(buf, v...) // within cap: the caller's array
		b := buf[start:len(buf):len(buf)]
		d.vals[k] = []query.Value{{Kind: query.KindString, Str: unsafe.String(&b[0], len(b))}}
		d.raw[k] = v
	}
	return d
}

// TestEngineKeepsNoBorrowedStrings: what the engine keeps past Process
// (a realert silence's query_key value, a change rule's last values) is
// its own copy; a document's strings are reused after Process returns.
// Once the bytes under "bob" became "eve", a silence keyed by the
// borrowed "bob" was never found again, and bob was alerted on each match.
func TestEngineKeepsNoBorrowedStrings(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: r\ntype: any\nalert: debug\nquery_key: user\nrealert: {minutes: 10}\n")
	c := rlMustLoad(t, "name: c\ntype: change\nalert: debug\nrealert: {minutes: 0}\nquery_key: user\ncompare_key: country\nignore_null: false\n")
	e, sink := rlEngine(t, clock, r, c)
	buf := make([]byte, 0, 64)
	process := func(d time.Duration, user, country string) {
		clock.Set(rlT0.Add(d))
		e.Process(borrowedDoc(rlT0.Add(d), buf, map[string]string{"user": user, "country": country}), "x")
		copy(buf[:cap(buf)], "eveXXXXXXXXXXXXXXXXX") // the next event's bytes
	}
	process(0, "bob", "JP")
	process(time.Second, "bob", "JP")
	process(2*time.Second, "bob", "FR")
	rlEqual(t, "matches", sink.take(), []string{"r/bob", "r/bob[silenced]", "r/bob[silenced]", "c/bob"})
}
