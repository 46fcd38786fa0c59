package rule

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewTerm(t *testing.T) {
	at := func(m int) time.Time { return statT0.Add(time.Duration(m) * time.Minute) }
	type seed struct {
		at  time.Time
		doc statDoc
	}
	nv := func(field, value any) map[string]any { return map[string]any{"new_field": field, "new_value": value} }
	tests := []struct {
		name  string
		spec  Spec
		seeds []seed
		steps []statStep
		want  []statGot
	}{
		{
			name:  "a value not seeded matches once",
			spec:  Spec{Fields: [][]string{{"user.name"}}},
			seeds: []seed{{at(0), statD("user.name", "alice")}, {at(1), statD("user.name", "bob")}},
			steps: statCat(statAdd(at(2), "", statD("user.name", "alice")), statAdd(at(3), "", statD("user.name", "eve")),
				statAdd(at(4), "", statD("user.name", "eve"))),
			want: []statGot{{Step: 1, Time: at(3), Extra: nv("user.name", "eve"), HasDoc: true}},
		},
		{
			name:  "a term last seen before terms_window_size is new again",
			spec:  Spec{Fields: [][]string{{"user.name"}}, TermsWindowSize: time.Hour},
			seeds: []seed{{at(0), statD("user.name", "alice")}},
			steps: statCat(statAdd(at(59), "", statD("user.name", "alice")), statAdd(at(118), "", statD("user.name", "alice")),
				statAdd(at(200), "", statD("user.name", "alice"))),
			want: []statGot{{Step: 2, Time: at(200), Extra: nv("user.name", "alice"), HasDoc: true}},
		},
		{
			name:  "each value of an array is a term",
			spec:  Spec{Fields: [][]string{{"tags"}}},
			seeds: []seed{{at(0), statD("tags", "a")}},
			steps: statCat(statAdd(at(1), "", statD("tags", []any{"a", "x", "y"}))),
			want:  []statGot{{Step: 0, Time: at(1), Extra: nv("tags", "x"), HasDoc: true}},
		},
		{
			name:  "composite entry",
			spec:  Spec{Fields: [][]string{{"source.ip", "destination.port"}}},
			seeds: []seed{{at(0), statD("source.ip", "10.0.0.1", "destination.port", 22)}},
			steps: statCat(statAdd(at(1), "", statD("source.ip", "10.0.0.1", "destination.port", 22)),
				statAdd(at(2), "", statD("source.ip", "10.0.0.1", "destination.port", 23)),
				statAdd(at(3), "", statD("source.ip", "10.0.0.1"))),
			want: []statGot{{Step: 1, Time: at(2), HasDoc: true,
				Extra: nv([]string{"source.ip", "destination.port"}, []string{"10.0.0.1", "23"})}},
		},
		{
			name:  "alert_on_missing_field",
			spec:  Spec{Fields: [][]string{{"user.name"}, {"source.ip", "destination.port"}}, AlertOnMissingField: true},
			steps: statCat(statAdd(at(1), "k", statD("user.name", "", "source.ip", "10.0.0.1"))),
			want: []statGot{
				{Step: 0, Key: "k", Time: at(1), HasDoc: true, Extra: map[string]any{"missing_field": "user.name"}},
				{Step: 0, Key: "k", Time: at(1), HasDoc: true, Extra: map[string]any{"missing_field": []string{"source.ip", "destination.port"}}},
			},
		},
		{
			name:  "fields are watched separately",
			spec:  Spec{Fields: [][]string{{"a"}, {"b"}}},
			seeds: []seed{{at(0), statD("a", "1", "b", "1")}},
			steps: statCat(statAdd(at(1), "", statD("a", "2", "b", "1")), statAdd(at(2), "", statD("a", "3", "b", "3"))),
			want: []statGot{
				{Step: 0, Time: at(1), HasDoc: true, Extra: nv("a", "2")},
				{Step: 1, Time: at(2), HasDoc: true, Extra: nv("a", "3")},
				{Step: 1, Time: at(2), HasDoc: true, Extra: nv("b", "3")},
			},
		},
		{
			name:  "query_key stands in for fields",
			spec:  Spec{QueryKey: []string{"host.name"}},
			seeds: []seed{{at(0), statD("host.name", "fw1")}},
			steps: statCat(statAdd(at(1), "fw1", statD("host.name", "fw1")), statAdd(at(2), "fw2", statD("host.name", "fw2"))),
			want:  []statGot{{Step: 1, Key: "fw2", Time: at(2), HasDoc: true, Extra: nv("host.name", "fw2")}},
		},
		{
			name:  "numbers and bools are terms too",
			spec:  Spec{Fields: [][]string{{"n"}}},
			seeds: []seed{{at(0), statD("n", 0)}},
			steps: statCat(statAdd(at(1), "", statD("n", 0)), statAdd(at(2), "", statD("n", 1.5)), statAdd(at(3), "", statD("n", false))),
			want: []statGot{
				{Step: 1, Time: at(2), HasDoc: true, Extra: nv("n", "1.5")},
				{Step: 2, Time: at(3), HasDoc: true, Extra: nv("n", "false")},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Type = "new_term"
			typ := statNew(t, tc.spec)
			for _, s := range tc.seeds {
				typ.(interface{ Seed(*Event) }).Seed(&Event{Doc: s.doc, Time: s.at})
			}
			got := statRun(t, typ, 0, tc.steps)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewTermTickForgetsOldTerms(t *testing.T) {
	a := &Event{Doc: statD("f", "a"), Time: statT0}
	b := &Event{Doc: statD("f", "b"), Time: statT0.Add(30 * time.Minute)}
	for name, order := range map[string][]*Event{"in order": {a, b}, "out of order": {b, a}} {
		t.Run(name, func(t *testing.T) {
			typ := statNew(t, Spec{Type: "new_term", Fields: [][]string{{"f"}}, TermsWindowSize: time.Hour})
			nt := typ.(*newTerm)
			for _, ev := range order {
				nt.Seed(ev)
			}
			typ.Tick(statT0.Add(time.Hour + time.Minute))
			if n := nt.terms[0].len(); n != 1 {
				t.Fatalf("terms after Tick = %d, want 1 (a aged out)", n)
			}
		})
	}
}

func TestNewTermBoundsTerms(t *testing.T) {
	typ := statNew(t, Spec{Type: "new_term", Fields: [][]string{{"f"}}})
	nt := typ.(*newTerm)
	for i := range statTermsPerField + 1 {
		nt.Seed(&Event{Doc: statD("f", fmt.Sprint(i)), Time: statT0.Add(time.Duration(i))})
	}
	if n, ev := nt.terms[0].len(), typ.Evictions(); n != statTermsPerField || ev != 1 {
		t.Fatalf("after %d terms: kept %d, Evictions() %d; want %d and 1", statTermsPerField+1, n, ev, statTermsPerField)
	}
	if ms := typ.Add(&Event{Doc: statD("f", "0"), Time: statT0.Add(time.Second)}); len(ms) != 1 {
		t.Fatalf("the dropped term 0: %d matches, want 1", len(ms))
	}
	if ms := typ.Add(&Event{Doc: statD("f", "2"), Time: statT0.Add(time.Second)}); len(ms) != 0 {
		t.Fatalf("the kept term 2: %d matches, want 0", len(ms))
	}
}

func TestNewTermRefusesSpec(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no fields", Spec{}, "fields"},
		{"empty entry", Spec{Fields: [][]string{{}}}, "fields"},
		{"empty name", Spec{Fields: [][]string{{"a", ""}}}, "fields"},
		{"window", Spec{Fields: [][]string{{"a"}}, TermsWindowSize: -time.Hour}, "terms_window_size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newNewTerm(&tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("newNewTerm(%+v) = %v, want an error naming %s", tc.spec, err, tc.want)
			}
		})
	}
}
