package query

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// TestEventDocMatchesDocument is the property the fast path rests on:
// for every event of the project's golden data (and the synthetic
// corners), every leaf path of the encoded document has the same values
// through EventDoc as through JSONDoc of that document, and paths that
// do not exist give nothing on both.
func TestEventDocMatchesDocument(t *testing.T) {
	evs := allTestEvents(t)
	if len(evs) < 100 {
		t.Fatalf("only %d test events", len(evs))
	}
	missing := []string{"nope", "event.nope", "source.nope", "source.geo.nope", "netflow.nope", "netflow.exporter.nope",
		"log.syslog.nope", "f5.asm.nope", "message.x", "source", "event", "tags.x", "@timestamp.x", "ecs", "flow.nope"}
	var d EventDoc
	paths, slow, laidOut := 0, 0, 0
	slowPaths := map[string]int{}
	for _, ne := range evs {
		// plain has never been encoded; ne.e is, three times, so that a
		// syslog event gets the layout its key sequence is kept with
		// (from the second sighting) and EventDoc reads through it.
		plain := *ne.e
		doc := ne.e.AppendJSON(nil)
		ne.e.AppendJSON(nil)
		if string(ne.e.AppendJSON(nil)) != string(doc) {
			t.Fatalf("%s: the encodings differ", ne.name)
		}
		if ne.e.SyslogLayout() != nil {
			laidOut++
		}
		jd, err := NewJSONDoc(doc)
		if err != nil {
			t.Fatalf("%s: NewJSONDoc(%s) = %v", ne.name, doc, err)
		}
		check := func(p string) {
			want := valueKeys(jd.Values(p, nil))
			d.Reset(&plain)
			got := valueKeys(d.Values(p, nil))
			if d.parsed && !strings.HasPrefix(ne.name, "syslog-edge") && ne.name != "syslog-many" {
				slow++
				slowPaths[p]++
			}
			if got != want {
				t.Errorf("%s: Values(%q) = %s, want %s (document %s)", ne.name, p, got, want, doc)
			}
			// Through the layout, by name and by registered path (twice:
			// the second answer comes from the memo).
			d.Reset(ne.e)
			if got := valueKeys(d.Values(p, nil)); got != want {
				t.Errorf("%s (encoded): Values(%q) = %s, want %s (document %s)", ne.name, p, got, want, doc)
			}
			d.Reset(ne.e)
			rp := NewPath(p)
			for range 2 {
				if got := valueKeys(rp.Values(&d, nil)); got != want {
					t.Errorf("%s (encoded): Path(%q).Values = %s, want %s (document %s)", ne.name, p, got, want, doc)
				}
			}
		}
		for _, p := range jd.Paths() {
			paths++
			check(p)
		}
		for _, p := range missing {
			check(p)
		}
	}
	t.Logf("%d events (%d with a layout), %d leaf paths; %d lookups took the slow path: %v", len(evs), laidOut, paths, slow, slowPaths)
	if laidOut < 50 {
		t.Errorf("only %d events were read through a layout", laidOut)
	}
	// The slow path is for the rare paths (flow.id) and odd events only.
	if slow*20 > paths {
		t.Errorf("%d of %d lookups took the slow path: %v", slow, paths, slowPaths)
	}
}

// TestOwnSyslogRoots: the roots syslog() checks for own values below a
// parsed path cover every own key.
func TestOwnSyslogRoots(t *testing.T) {
	roots := map[string]bool{"destination": true, "event": true, "host": true, "log": true, "network": true,
		"observer": true, "process": true, "sluice": true, "source": true, "message": true}
	for _, k := range ownSyslogKeys {
		if r, _ := cut(k); !roots[r] {
			t.Errorf("own key %q has root %q, not checked", k, r)
		}
	}
}

// TestEventDocMatchesLikeDocument: every query built from the values of
// a golden event's document matches the EventDoc exactly when it
// matches the JSONDoc of the encoded event (values of other kinds, IPs
// and times, must behave as their text in the document does).
func TestEventDocMatchesLikeDocument(t *testing.T) {
	evs := allTestEvents(t)
	opts := Options{Now: func() time.Time { return fixedNow }}
	var d EventDoc
	queries, matched := 0, 0
	for i, ne := range evs {
		if strings.HasPrefix(ne.name, "mix_sample") && i%8 != 0 {
			continue // the mix repeats a few line types: a sample of them is enough here
		}
		doc := ne.e.AppendJSON(nil)
		jd, err := NewJSONDoc(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range jd.Paths() {
			var b strings.Builder
			writeField(&b, p)
			f := b.String()
			v := jd.Values(p, nil)[0]
			text := v.String()
			var q strings.Builder
			writeQuoted(&q, text)
			qv := q.String()
			pre := ""
			if len(text) > 2 {
				var w strings.Builder
				(&wildcardPred{pattern: escapeWildcard(text[:2]) + "*"}).write(&w)
				pre = w.String()
			}
			for _, qs := range []string{
				f + ":" + qv, "NOT " + f + ":" + qv, f + ":[" + qv + " TO *]", f + ":{* TO " + qv + "}",
				f + ":[a TO z]", f + ":[0 TO 5]", f + ":[10.0.0.0 TO 255.0.0.0]", f + ":[now-1y TO now]",
				f + ":/.*[0-9].*/", f + ":*", f + ":" + pre, f + ":10.0.0.0/8", f + ":true",
			} {
				if strings.HasSuffix(qs, ":") {
					continue
				}
				m, err := ParseQueryString(qs, opts)
				if err != nil {
					t.Fatalf("ParseQueryString(%q) = %v", qs, err)
				}
				d.Reset(ne.e)
				got, want := m.Match(&d), m.Match(jd)
				queries++
				if want {
					matched++
				}
				if got != want {
					t.Errorf("%s: %q matches the EventDoc: %v, the document: %v (%s)", ne.name, qs, got, want, doc)
				}
			}
		}
	}
	t.Logf("%d queries, %d matched", queries, matched)
}

// TestEventDocOtherKind: an event of a kind the fast path does not know
// is answered from its document.
func TestEventDocOtherKind(t *testing.T) {
	e := &event.Event{Kind: event.Kind(200), Timestamp: received, Created: received, Observer: netip.MustParseAddr("192.0.2.9")}
	jd, err := NewJSONDoc(e.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := NewEventDoc(e)
	for _, p := range append(jd.Paths(), "nope") {
		if got, want := valueKeys(d.Values(p, nil)), valueKeys(jd.Values(p, nil)); got != want {
			t.Errorf("Values(%q) = %s, want %s", p, got, want)
		}
	}
	d.Reset(nil)
	if v := d.Values("@timestamp", nil); len(v) != 0 {
		t.Errorf("Values() after Reset(nil) = %v", v)
	}
}

// TestOwnFastMatchesByName: every own value the layout table reads
// directly (ownFast) is what syslogOwn reads by name, on every test event.
func TestOwnFastMatchesByName(t *testing.T) {
	var d EventDoc
	n := 0
	for _, ne := range allTestEvents(t) {
		if ne.e.Kind != event.KindSyslog {
			continue
		}
		for name, c := range ownFastCodes {
			d.Reset(ne.e)
			root, rest := cut(name)
			want := valueKeys(d.syslogOwn(name, root, rest, nil))
			d.Reset(ne.e)
			if got := valueKeys(d.ownFast(c, nil)); got != want {
				t.Errorf("%s: ownFast(%s) = %s, syslogOwn = %s", ne.name, name, got, want)
			}
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d comparisons", n)
	}
}

// TestFlowFastMatchesByName: each flowFast value of a flow event is what
// the lookup by name gives, and a registered Path reads it.
func TestFlowFastMatchesByName(t *testing.T) {
	var d EventDoc
	n := 0
	for _, ne := range allTestEvents(t) {
		if ne.e.Kind != event.KindFlow {
			continue
		}
		for name, c := range flowFastCodes {
			d.Reset(ne.e)
			want := valueKeys(d.values(name, nil))
			d.Reset(ne.e)
			if got := valueKeys(d.flowFast(c, nil)); got != want {
				t.Errorf("%s: flowFast(%s) = %s, by name %s", ne.name, name, got, want)
			}
			if p := NewPath(name); p.flow != c {
				t.Errorf("NewPath(%q) has flow code %d, want %d", name, p.flow, c)
			}
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d comparisons", n)
	}
}

// TestEventDocRepeatedDNS: a rule on dns.resolved_ip matches any of the
// event's resolved addresses (written as one array), for a syslog event
// read through its layout and for a DNS capture event.
func TestEventDocRepeatedDNS(t *testing.T) {
	for _, kind := range []event.Kind{event.KindSyslog, event.KindDNS} {
		e := &event.Event{Kind: kind, Syslog: event.Syslog{Message: "m"}}
		for _, a := range []string{"192.0.2.1", "2001:db8::2", "192.0.2.3"} {
			e.AddParsed(event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: netip.MustParseAddr(a)})
		}
		e.AddParsed(event.Field{Key: "dns.answers", Type: event.FieldJSON, B: []byte(`{"data":"192.0.2.3","type":"A"}`)})
		for range 3 { // a layout from the second encoding on
			e.AppendJSON(nil)
		}
		for q, want := range map[string]bool{
			"dns.resolved_ip:192.0.2.3":        true,
			"dns.resolved_ip:\"2001:db8::2\"":  true,
			"dns.resolved_ip:192.0.2.1":        true,
			"dns.resolved_ip:192.0.2.4":        false,
			"dns.answers.data:192.0.2.3":       true,
			"dns.answers.type:AAAA":            false,
			"dns.resolved_ip:[192.0.2.2 TO *]": true,
		} {
			m, err := ParseQueryString(q, Options{})
			if err != nil {
				t.Fatalf("ParseQueryString(%q) = %v", q, err)
			}
			if got := m.Match(NewEventDoc(e)); got != want {
				t.Errorf("%v: ParseQueryString(%q).Match() = %v, want %v (document %s)", kind, q, got, want, e.AppendJSON(nil))
			}
		}
	}
}

// TestEventDocBeats: a Beat's document answers from its fields, its tags
// (sluice's and the Beat's) included.
func TestEventDocBeats(t *testing.T) {
	e := &event.Event{Kind: event.KindBeats, Tags: event.TagTimeFromReceive, Syslog: event.Syslog{Dataset: "dns"}}
	e.AddParsed(event.Field{Key: "tags", Type: event.FieldJSON, B: []byte(`["forwarded"]`)})
	e.AddParsed(event.Field{Key: "dns.question.name", Type: event.FieldString, S: "edge.example.net"})
	e.AddParsed(event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: netip.MustParseAddr("192.0.2.1")})
	e.AddParsed(event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: netip.MustParseAddr("192.0.2.2")})
	for q, want := range map[string]bool{
		"tags:forwarded":                     true,
		"tags:_time_from_receive":            true,
		"tags:other":                         false,
		"dns.question.name:edge.example.net": true,
		"dns.resolved_ip:192.0.2.2":          true,
		"event.dataset:dns":                  true,
		"event.module:sluice":                false,
	} {
		m, err := ParseQueryString(q, Options{})
		if err != nil {
			t.Fatalf("ParseQueryString(%q) = %v", q, err)
		}
		if got := m.Match(NewEventDoc(e)); got != want {
			t.Errorf("ParseQueryString(%q).Match() = %v, want %v (document %s)", q, got, want, e.AppendJSON(nil))
		}
	}
}

// TestEncodedTime: the time a document holds for t is t in UTC cut to
// whole milliseconds, the year within 0000..9999, without a monotonic
// reading (range ends compare by the wall clock), whether t needs
// changing or not.
func TestEncodedTime(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	base := time.Date(2026, 12, 7, 10, 0, 1, 0, time.UTC)
	for _, c := range []struct{ in, want time.Time }{
		{base, base},
		{base.Add(123 * time.Millisecond), base.Add(123 * time.Millisecond)},
		{base.Add(123456789), base.Add(123 * time.Millisecond)},
		{base.In(paris), base},
		{base.Add(5 * time.Millisecond).In(time.Local), base.Add(5 * time.Millisecond)},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got := encodedTime(c.in)
		if !got.Equal(c.want) || got.Location() != time.UTC || got != got.Round(0) {
			t.Errorf("encodedTime(%v) = %v, want %v in UTC without a monotonic reading", c.in, got, c.want)
		}
	}
	now := time.Now()
	now = now.Add(-time.Duration(now.Nanosecond() % 1e6)) // whole milliseconds, with the monotonic reading
	if now == now.Round(0) {
		t.Fatal("time.Now has no monotonic reading here")
	}
	if got := encodedTime(now); !got.Equal(now) || got != got.Round(0) {
		t.Errorf("encodedTime(%v) = %v, want it without a monotonic reading", now, got)
	}
}

// TestOwnStringsCheckedPerEvent: an EventDoc remembers for one event that
// an own string is valid UTF-8; the next event's are checked again
// (invalid bytes read as U+FFFD, as in the document).
func TestOwnStringsCheckedPerEvent(t *testing.T) {
	evs := syslogEvents(t, "192.0.2.10", []string{
		"<13>1 2026-12-07T10:00:00Z good-host app1 - - - a good message",
		"<13>Dec  7 10:00:01 bad\xffhost app\xfe2: a bad \xff message",
		"<13>1 2026-12-07T10:00:00Z good-host app1 - - - a good message",
	})
	var d EventDoc
	paths := []string{"host.hostname", "process.name", "message"}
	for _, e := range evs {
		for range 2 { // the second encoding keeps the layout
			e.AppendJSON(nil)
		}
		if e.SyslogLayout() == nil {
			t.Fatalf("no layout for %s", e.Syslog.Hostname)
		}
	}
	for _, e := range evs {
		jd, err := NewJSONDoc(e.AppendJSON(nil))
		if err != nil {
			t.Fatal(err)
		}
		d.Reset(e)
		for range 2 {
			for _, p := range paths {
				want := valueKeys(jd.Values(p, nil))
				if got := valueKeys(NewPath(p).Values(&d, nil)); got != want {
					t.Errorf("%q: Path(%q).Values = %s, want %s", e.Syslog.Hostname, p, got, want)
				}
			}
		}
	}
	d.Reset(evs[1])
	// The decoder takes no hostname with invalid bytes: the line is the
	// message.
	for p, want := range map[string]string{"message": "bad\uFFFDhost app\uFFFD2: a bad \uFFFD message"} {
		if v := NewPath(p).Values(&d, nil); len(v) != 1 || v[0].Str != want {
			t.Errorf("%s of the bad line = %+v, want %q", p, v, want)
		}
	}
}
