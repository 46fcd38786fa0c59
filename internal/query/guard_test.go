package query

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestGuardIsNecessary: for terms built from every value of every field
// of the golden events (and variants of their text: numbers written
// otherwise, mapped addresses, other case), whenever the filter matches a
// document (live event or stored JSON), one of the document's ValueKeys
// of the guard's path is among the guard's keys. A guard that missed a
// match would make a rule engine skip a rule that matches.
func TestGuardIsNecessary(t *testing.T) {
	evs := append(goldenSyslog(t), goldenFlows(t)...)
	var docs []Doc
	for _, ne := range evs {
		docs = append(docs, NewEventDoc(ne.e))
		jd, err := NewJSONDoc(ne.e.AppendJSON(nil))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, jd)
	}
	checked, guarded := 0, 0
	seen := map[string]bool{}
	for _, ne := range evs[:min(len(evs), 120)] {
		jd, _ := NewJSONDoc(ne.e.AppendJSON(nil))
		for _, path := range jd.Paths() {
			for _, v := range jd.Values(path, nil) {
				raw := v.String()
				variants := []string{raw}
				if _, ok := parseNumberText(raw); ok {
					variants = append(variants, raw+".0", "0"+raw)
				}
				if a, ok := parseIPText(raw); ok && a.Is4() {
					variants = append(variants, "::ffff:"+raw)
				}
				for _, term := range variants {
					key := path + "\x00" + term
					if seen[key] {
						continue
					}
					seen[key] = true
					for _, m := range guardMatchers(t, path, term) {
						g, ok := GuardOf(m)
						if !ok {
							continue
						}
						guarded++
						for _, d := range docs {
							if !m.Match(d) {
								continue
							}
							checked++
							var keys []GuardKey
							for _, dv := range d.Values(g.Path, nil) {
								keys = ValueKeys(&dv, keys)
							}
							if !slices.ContainsFunc(keys, func(k GuardKey) bool { return slices.Contains(g.Keys, k) }) {
								t.Fatalf("%s matches a document but the guard (%s %v) is not in its keys %v", m, g.Path, g.Keys, keys)
							}
						}
					}
				}
			}
		}
	}
	if guarded < 100 || checked < 1000 {
		t.Fatalf("only %d guarded filters and %d matches checked: the test exercises too little", guarded, checked)
	}
	t.Logf("%d guarded filters, %d matches checked", guarded, checked)
}

// guardMatchers compiles the forms a term on path takes: the DSL term, a
// terms list, a filter list with another clause, and the query string.
func guardMatchers(t *testing.T, path, term string) []Matcher {
	var out []Matcher
	for _, q := range []any{
		map[string]any{"term": map[string]any{path: term}},
		map[string]any{"terms": map[string]any{path: []any{"no-such-value", term}}},
	} {
		if m, err := CompileDSL(q, Options{}); err == nil {
			out = append(out, m)
		}
	}
	if m, err := CompileFilters([]any{map[string]any{"exists": map[string]any{"field": "@timestamp"}}, map[string]any{"term": map[string]any{path: term}}}, Options{}); err == nil {
		out = append(out, m)
	}
	var b []byte
	b = append(b, path...)
	b = append(b, ':', '"')
	for _, r := range term {
		if r == '"' || r == '\\' {
			b = append(b, '\\')
		}
		b = append(b, string(r)...)
	}
	b = append(b, '"')
	if m, err := ParseQueryString(string(b), Options{}); err == nil {
		out = append(out, m)
	}
	return out
}

// TestGuardOf: which filters have a guard.
func TestGuardOf(t *testing.T) {
	for _, c := range []struct {
		q    string
		path string
		ok   bool
	}{
		{"event.action:deny", "event.action", true},
		{"event.action:deny AND destination.port:22", "event.action", true},
		{"destination.port:(22 OR 23)", "destination.port", true},
		{"event.action:deny OR destination.port:22", "", false},
		{"message:error", "", false},         // a text field
		{"source.ip:10.0.0.0/8", "", false},  // a CIDR
		{"@timestamp:2026-12-07", "", false}, // a date
		{"NOT event.action:deny", "", false}, // a negation
		{"destination.port:[1 TO 5]", "", false},
		{"source.ip:10.0.0.0/8 AND event.action:deny", "event.action", true},
	} {
		m, err := ParseQueryString(c.q, Options{})
		if err != nil {
			t.Fatalf("%q: %v", c.q, err)
		}
		g, ok := GuardOf(m)
		if ok != c.ok || g.Path != c.path {
			t.Errorf("GuardOf(%q) = %q, %v; want %q, %v", c.q, g.Path, ok, c.path, c.ok)
		}
	}
}

// TestValueKeysOf: ValueKeysOf gives exactly the keys of ValueKeys of the
// kinds asked for, in the same order.
func TestValueKeysOf(t *testing.T) {
	vals := []Value{
		{Kind: KindString, Str: "web02"}, {Kind: KindString, Str: "443"}, {Kind: KindString, Str: "10.0.0.1"},
		{Kind: KindString, Str: "::ffff:10.0.0.1"}, {Kind: KindString, Str: "1e3"}, {Kind: KindString, Str: ""},
		{Kind: KindNumber, Num: 443}, {Kind: KindIP, IP: netip.MustParseAddr("::ffff:10.0.0.1")},
		{Kind: KindIP, IP: netip.MustParseAddr("fe80::1%eth0")}, {Kind: KindBool, Bool: true},
		{Kind: KindTime, Time: time.Unix(1, 0)}, {},
	}
	n := 0
	for _, v := range vals {
		all := ValueKeys(&v, nil)
		for ks := range KeyKinds(8) {
			var want []GuardKey
			for _, k := range all {
				if k.Kind()&ks != 0 {
					want = append(want, k)
				}
			}
			if got := ValueKeysOf(&v, ks, nil); !slices.Equal(got, want) {
				t.Errorf("ValueKeysOf(%+v, %b) = %+v, want %+v", v, ks, got, want)
			}
			n += len(want)
		}
	}
	if n < 40 {
		t.Errorf("only %d keys compared", n)
	}
}
