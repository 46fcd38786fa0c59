package rule

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCardinality(t *testing.T) {
	at := func(m int) time.Time { return st0.Add(time.Duration(m) * time.Minute) }
	u := func(name string) statDoc { return sdoc("user.name", name) }
	card := func(n int64) map[string]any { return map[string]any{"cardinality": n} }
	base := Spec{Type: "cardinality", Timeframe: 10 * time.Minute, CardinalityField: "user.name"}
	with := func(mod func(*Spec)) Spec { s := base; mod(&s); return s }
	tests := []struct {
		name  string
		spec  Spec
		steps []statStep
		want  []statGot
	}{
		{
			name: "above max_cardinality, on every document while above",
			spec: with(func(s *Spec) { s.MaxCardinality = ptrI(2) }),
			steps: cat(add(at(0), "", u("a")), add(at(1), "", u("b")), add(at(2), "", u("a")), add(at(3), "", u("c")),
				add(at(4), "", u("a"))),
			want: []statGot{
				{Step: 3, Time: at(3), Extra: card(3), HasDoc: true},
				{Step: 4, Time: at(4), Extra: card(3), HasDoc: true},
			},
		},
		{
			name: "values leave the window after timeframe",
			spec: with(func(s *Spec) { s.MaxCardinality = ptrI(2) }),
			steps: cat(add(at(0), "", u("a")), add(at(1), "", u("b")), add(at(11), "", u("c")), add(at(12), "", u("d")),
				add(at(12), "", u("e"))),
			want: []statGot{{Step: 4, Time: at(12), Extra: card(3), HasDoc: true}},
		},
		{
			name:  "a document without the field is not checked",
			spec:  with(func(s *Spec) { s.MaxCardinality = ptrI(0) }),
			steps: cat(add(at(0), "", sdoc("other", "x")), add(at(1), "", u(""))),
		},
		{
			// min: only once a timeframe has passed since the key's first
			// document; after a match the timeframe starts again.
			name: "below min_cardinality on documents and on Tick",
			spec: with(func(s *Spec) { s.MinCardinality = ptrI(2) }),
			steps: cat(add(at(0), "", u("a")), add(at(5), "", u("a")), tick(at(10)), tick(at(11)), tick(at(12)),
				add(at(13), "", u("b")), tick(at(20)), tick(at(24)), add(at(25), "", u("c"))),
			want: []statGot{
				{Step: 3, Doc: -1, Time: at(11), Extra: card(1)},
				{Step: 7, Doc: -1, Time: at(24), Extra: card(0)},
			},
		},
		{
			name: "keys are independent",
			spec: with(func(s *Spec) { s.MaxCardinality = ptrI(1); s.QueryKey = []string{"host.name"} }),
			steps: cat(add(at(0), "h1", u("a")), add(at(0), "h2", u("b")), add(at(1), "h1", u("a")),
				add(at(1), "h2", u("c"))),
			want: []statGot{{Step: 3, Key: "h2", Time: at(1), Extra: card(2), HasDoc: true}},
		},
		{
			name:  "each value of an array counts",
			spec:  with(func(s *Spec) { s.MaxCardinality = ptrI(2) }),
			steps: cat(add(at(0), "", sdoc("user.name", []any{"a", "b", "c"}))),
			want:  []statGot{{Step: 0, Time: at(0), Extra: card(3), HasDoc: true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := mustNew(t, tc.spec)
			got := run(t, typ, 0, tc.steps)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCardinalityTickForgetsKeys(t *testing.T) {
	typ := mustNew(t, Spec{Type: "cardinality", Timeframe: 10 * time.Minute, CardinalityField: "u", MaxCardinality: ptrI(5)})
	run(t, typ, 0, cat(add(st0, "a", sdoc("u", "x")), add(st0, "b", sdoc("u", "y")), tick(st0.Add(11*time.Minute))))
	c := typ.(*cardinality)
	if c.keys.len() != 0 || c.total != 0 {
		t.Fatalf("after the window passed: %d keys, %d values; want 0, 0", c.keys.len(), c.total)
	}
}

func TestCardinalityBounds(t *testing.T) {
	typ := mustNew(t, Spec{Type: "cardinality", Timeframe: time.Hour, CardinalityField: "u", MaxCardinality: ptrI(9999), MaxKeys: 2})
	c := typ.(*cardinality)
	for i := range statDistinctPerKey + 1 {
		if ms := typ.Add(&Event{Doc: sdoc("u", fmt.Sprint(i)), Time: st0, Key: "a"}); len(ms) > 0 && i < statDistinctPerKey-1 {
			t.Fatalf("value %d: a match with cardinality %v", i, ms[0].Extra["cardinality"])
		}
	}
	if n, ev := c.keys.get("a").val.vals.len(), typ.Evictions(); n != statDistinctPerKey || ev != 1 {
		t.Fatalf("after %d values: kept %d, Evictions() %d; want %d, 1", statDistinctPerKey+1, n, ev, statDistinctPerKey)
	}
	typ.Add(&Event{Doc: sdoc("u", "x"), Time: st0, Key: "b"})
	typ.Add(&Event{Doc: sdoc("u", "x"), Time: st0, Key: "c"})
	if c.keys.len() != 2 || c.keys.get("a") != nil || typ.Evictions() != 2 || c.total != 2 {
		t.Fatalf("after a third key: %d keys (a kept %v), Evictions() %d, total %d; want 2 keys without a, 2, 2",
			c.keys.len(), c.keys.get("a") != nil, typ.Evictions(), c.total)
	}
}

func TestCardinalityRefusesSpec(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Spec)
		want string
	}{
		{"no threshold", func(s *Spec) { s.MaxCardinality = nil }, "max_cardinality, min_cardinality"},
		{"no field", func(s *Spec) { s.CardinalityField = "" }, "cardinality_field"},
		{"no timeframe", func(s *Spec) { s.Timeframe = 0 }, "timeframe"},
		{"max beyond the bound", func(s *Spec) { s.MaxCardinality = ptrI(statDistinctPerKey) }, "max_cardinality"},
		{"negative min", func(s *Spec) { s.MinCardinality = ptrI(-1) }, "min_cardinality"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Type: "cardinality", Timeframe: time.Hour, CardinalityField: "u", MaxCardinality: ptrI(3)}
			tc.mod(&s)
			_, err := newCardinality(&s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("newCardinality(%+v) = %v, want an error naming %s", s, err, tc.want)
			}
		})
	}
}
