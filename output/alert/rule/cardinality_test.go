package rule

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCardinality(t *testing.T) {
	at := func(m int) time.Time { return statT0.Add(time.Duration(m) * time.Minute) }
	u := func(name string) statDoc { return statD("user.name", name) }
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
			spec: with(func(s *Spec) { s.MaxCardinality = statI(2) }),
			steps: statCat(statAdd(at(0), "", u("a")), statAdd(at(1), "", u("b")), statAdd(at(2), "", u("a")), statAdd(at(3), "", u("c")),
				statAdd(at(4), "", u("a"))),
			want: []statGot{
				{Step: 3, Time: at(3), Extra: card(3), HasDoc: true},
				{Step: 4, Time: at(4), Extra: card(3), HasDoc: true},
			},
		},
		{
			name: "values leave the window after timeframe",
			spec: with(func(s *Spec) { s.MaxCardinality = statI(2) }),
			steps: statCat(statAdd(at(0), "", u("a")), statAdd(at(1), "", u("b")), statAdd(at(11), "", u("c")), statAdd(at(12), "", u("d")),
				statAdd(at(12), "", u("e"))),
			want: []statGot{{Step: 4, Time: at(12), Extra: card(3), HasDoc: true}},
		},
		{
			name:  "a document without the field is not checked",
			spec:  with(func(s *Spec) { s.MaxCardinality = statI(0) }),
			steps: statCat(statAdd(at(0), "", statD("other", "x")), statAdd(at(1), "", u(""))),
		},
		{
			// min: only once a timeframe has passed since the key's first
			// document; after a match the timeframe starts again.
			name: "below min_cardinality on documents and on Tick",
			spec: with(func(s *Spec) { s.MinCardinality = statI(2) }),
			steps: statCat(statAdd(at(0), "", u("a")), statAdd(at(5), "", u("a")), statTick(at(10)), statTick(at(11)), statTick(at(12)),
				statAdd(at(13), "", u("b")), statTick(at(20)), statTick(at(24)), statAdd(at(25), "", u("c"))),
			want: []statGot{
				{Step: 3, Doc: -1, Time: at(11), Extra: card(1)},
				{Step: 7, Doc: -1, Time: at(24), Extra: card(0)},
			},
		},
		{
			name: "keys are independent",
			spec: with(func(s *Spec) { s.MaxCardinality = statI(1); s.QueryKey = []string{"host.name"} }),
			steps: statCat(statAdd(at(0), "h1", u("a")), statAdd(at(0), "h2", u("b")), statAdd(at(1), "h1", u("a")),
				statAdd(at(1), "h2", u("c"))),
			want: []statGot{{Step: 3, Key: "h2", Time: at(1), Extra: card(2), HasDoc: true}},
		},
		{
			// z comes late, stamped minute 0: it leaves the window at
			// minute 10 though x, seen before it, stays.
			name:  "a late value ages out at its own time",
			spec:  with(func(s *Spec) { s.MaxCardinality = statI(2) }),
			steps: statCat(statAdd(at(9), "", u("x")), statAdd(at(0), "", u("z")), statAdd(at(15), "", u("w")), statAdd(at(15), "", u("v"))),
			want:  []statGot{{Step: 3, Time: at(15), Extra: card(3), HasDoc: true}},
		},
		{
			name:  "each value of an array counts",
			spec:  with(func(s *Spec) { s.MaxCardinality = statI(2) }),
			steps: statCat(statAdd(at(0), "", statD("user.name", []any{"a", "b", "c"}))),
			want:  []statGot{{Step: 0, Time: at(0), Extra: card(3), HasDoc: true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := statNew(t, tc.spec)
			got := statRun(t, typ, 0, tc.steps)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCardinalityTickForgetsKeys(t *testing.T) {
	typ := statNew(t, Spec{Type: "cardinality", Timeframe: 10 * time.Minute, CardinalityField: "u", MaxCardinality: statI(5)})
	statRun(t, typ, 0, statCat(statAdd(statT0, "a", statD("u", "x")), statAdd(statT0, "b", statD("u", "y")), statTick(statT0.Add(11*time.Minute))))
	c := typ.(*cardinality)
	if c.keys.len() != 0 || c.total != 0 {
		t.Fatalf("after the window passed: %d keys, %d values; want 0, 0", c.keys.len(), c.total)
	}
}

func TestCardinalityBounds(t *testing.T) {
	typ := statNew(t, Spec{Type: "cardinality", Timeframe: time.Hour, CardinalityField: "u", MaxCardinality: statI(9999), MaxKeys: 2})
	c := typ.(*cardinality)
	for i := range statDistinctPerKey + 1 {
		if ms := typ.Add(&Event{Doc: statD("u", fmt.Sprint(i)), Time: statT0, Key: "a"}); len(ms) > 0 && i < statDistinctPerKey-1 {
			t.Fatalf("value %d: a match with cardinality %v", i, ms[0].Extra["cardinality"])
		}
	}
	if n, ev := c.keys.get("a").val.vals.len(), typ.Evictions(); n != statDistinctPerKey || ev != 1 {
		t.Fatalf("after %d values: kept %d, Evictions() %d; want %d, 1", statDistinctPerKey+1, n, ev, statDistinctPerKey)
	}
	typ.Add(&Event{Doc: statD("u", "x"), Time: statT0, Key: "b"})
	typ.Add(&Event{Doc: statD("u", "x"), Time: statT0, Key: "c"})
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
		{"max beyond the bound", func(s *Spec) { s.MaxCardinality = statI(statDistinctPerKey) }, "max_cardinality"},
		{"negative min", func(s *Spec) { s.MinCardinality = statI(-1) }, "min_cardinality"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Type: "cardinality", Timeframe: time.Hour, CardinalityField: "u", MaxCardinality: statI(3)}
			tc.mod(&s)
			_, err := newCardinality(&s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("newCardinality(%+v) = %v, want an error naming %s", s, err, tc.want)
			}
		})
	}
}
