package query

import (
	"testing"
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
	paths, slow := 0, 0
	slowPaths := map[string]int{}
	for _, ne := range evs {
		doc := ne.e.AppendJSON(nil)
		jd, err := NewJSONDoc(doc)
		if err != nil {
			t.Fatalf("%s: NewJSONDoc(%s) = %v", ne.name, doc, err)
		}
		check := func(p string) {
			d.Reset(ne.e)
			got := valueKeys(d.Values(p, nil))
			if d.parsed {
				slow++
				slowPaths[p]++
			}
			want := valueKeys(jd.Values(p, nil))
			if got != want {
				t.Errorf("%s: Values(%q) = %s, want %s (document %s)", ne.name, p, got, want, doc)
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
	t.Logf("%d events, %d leaf paths; %d lookups took the slow path: %v", len(evs), paths, slow, slowPaths)
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
