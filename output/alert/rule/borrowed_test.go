package rule

import (
	"net/netip"
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

// TestEngineKeysOfOtherValues: a query_key value that is not text (an
// address, a number, a time) is rendered in a buffer the next document
// reuses; the key the engine keeps (here a realert silence's) is its own
// copy, and reads as valueText renders the value.
func TestEngineKeysOfOtherValues(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: r\ntype: any\nalert: debug\nquery_key: k\nrealert: {minutes: 10}\n")
	e, sink := rlEngine(t, clock, r)
	var want []string
	for i, k := range []any{
		netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("2001:db8::1"), 443, 443.5, true,
		rlT0.Add(1500 * time.Millisecond), 443,
	} {
		d := rlLogDoc(rlT0.Add(time.Duration(i)*time.Second), map[string]any{"k": k})
		clock.Set(rlT0.Add(time.Duration(i) * time.Second))
		e.Process(d, "x")
		w := "r/" + valueText(d.vals["k"][0])
		if i == 2 || i == 9 {
			w += "[silenced]"
		}
		want = append(want, w)
	}
	rlEqual(t, "matches", sink.take(), want)
}

// TestAppendValueText: appendValueText writes what valueText returns.
func TestAppendValueText(t *testing.T) {
	for _, v := range []query.Value{
		{Kind: query.KindString, Str: "a b"}, {Kind: query.KindNumber, Num: 3}, {Kind: query.KindNumber, Num: -0.25},
		{Kind: query.KindNumber, Num: 1e21}, {Kind: query.KindIP, IP: netip.MustParseAddr("192.0.2.1")},
		{Kind: query.KindIP, IP: netip.MustParseAddr("::ffff:192.0.2.1")}, {Kind: query.KindIP, IP: netip.MustParseAddr("fe80::1%eth0")},
		{Kind: query.KindIP}, {Kind: query.KindTime, Time: rlT0.Add(123 * time.Microsecond)}, {Kind: query.KindBool, Bool: true}, {},
	} {
		if got, want := string(appendValueText([]byte("x"), &v)), "x"+valueText(v); got != want {
			t.Errorf("appendValueText(%+v) = %q, want %q", v, got, want)
		}
	}
}
