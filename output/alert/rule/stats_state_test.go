package rule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// statScenario is a rule with steps whose matches after step split must
// be the same whether or not the rule was saved and restored at split.
type statScenario struct {
	name  string
	spec  Spec
	seed  []statDoc // new_term history, at st0
	steps []statStep
	split int
}

func statScenarios() []statScenario {
	at := func(m int) time.Time { return st0.Add(time.Duration(m) * time.Minute) }
	doc := sdoc("source.ip", "10.0.0.1")
	deny, allow := sdoc("event.action", "deny"), sdoc("event.action", "allow")
	return []statScenario{
		{
			name:  "spike",
			spec:  Spec{Type: "spike", Timeframe: 10 * time.Minute, SpikeHeight: 3, QueryKey: []string{"k"}},
			steps: cat(perMin(0, 19, 1, "a", doc), perMin(0, 19, 2, "b", doc), addN(30, stMin(20), "a", doc), tick(stMin(40)), addN(30, stMin(41), "b", doc)),
			split: 40,
		},
		{
			name:  "spike field_value",
			spec:  Spec{Type: "spike", Timeframe: 10 * time.Minute, SpikeHeight: 2, FieldValue: "temp", AlertOnNewData: true, QueryKey: []string{"k"}},
			steps: cat(perMin(0, 19, 1, "a", sdoc("temp", 10)), perMin(10, 25, 1, "b", sdoc("temp", 10)), addN(5, stMin(26), "a", sdoc("temp", 50)), addN(5, stMin(31), "b", sdoc("temp", 50))),
			split: 30,
		},
		{
			name:  "new_term",
			spec:  Spec{Type: "new_term", Fields: [][]string{{"u"}, {"a", "b"}}, TermsWindowSize: time.Hour},
			seed:  []statDoc{sdoc("u", "x", "a", "1", "b", "2")},
			steps: cat(add(at(1), "", sdoc("u", "y")), add(at(2), "", sdoc("u", "x", "a", "1", "b", "3")), tick(at(30)), add(at(61), "", sdoc("u", "x")), add(at(62), "", sdoc("u", "y", "a", "1", "b", "2")), add(at(63), "", sdoc("u", "z"))),
			split: 3,
		},
		{
			name:  "cardinality",
			spec:  Spec{Type: "cardinality", Timeframe: 10 * time.Minute, CardinalityField: "u", MinCardinality: ptrI(2), MaxCardinality: ptrI(3), QueryKey: []string{"k"}},
			steps: cat(add(at(0), "h1", sdoc("u", "a")), add(at(1), "h2", sdoc("u", "a")), add(at(2), "h2", sdoc("u", "b")), add(at(3), "h2", sdoc("u", "c")), tick(at(11)), add(at(12), "h2", sdoc("u", "d")), add(at(12), "h2", sdoc("u", "e")), tick(at(30))),
			split: 4,
		},
		{
			name:  "metric_aggregation",
			spec:  Spec{Type: "metric_aggregation", MetricAggKey: "v", MetricAggType: "cardinality", MaxThreshold: ptrF(1), QueryKey: []string{"k"}},
			steps: cat(add(at(0), "a", sdoc("v", "x")), add(at(1), "b", sdoc("v", "x")), add(at(2), "a", sdoc("v", "y")), add(at(3), "b", sdoc("v", "x")), tick(at(5)), add(at(6), "a", sdoc("v", "z"))),
			split: 2,
		},
		{
			name:  "percentage_match",
			spec:  Spec{Type: "percentage_match", MatchBucketFilter: statMatcher{"event.action", "deny"}, MaxPercentage: ptrF(50), QueryKey: []string{"k"}},
			steps: cat(add(at(0), "a", deny), add(at(0), "b", allow), add(at(1), "a", allow), add(at(2), "a", deny), add(at(2), "b", deny), tick(at(5))),
			split: 2,
		},
	}
}

func (sc statScenario) build(t testing.TB) Type {
	t.Helper()
	typ := mustNew(t, sc.spec)
	for _, d := range sc.seed {
		typ.(interface{ Seed(*Event) }).Seed(&Event{Doc: d, Time: st0})
	}
	return typ
}

func TestStatStateRoundTrip(t *testing.T) {
	for _, sc := range statScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			whole := sc.build(t)
			run(t, whole, 0, sc.steps[:sc.split])
			want := run(t, whole, sc.split, sc.steps[sc.split:])
			if len(want) == 0 {
				t.Fatalf("the scenario has no match after step %d; it would not test the state", sc.split)
			}

			before := sc.build(t)
			run(t, before, 0, sc.steps[:sc.split])
			data, err := before.MarshalState()
			if err != nil {
				t.Fatalf("MarshalState() = %v", err)
			}
			after := mustNew(t, sc.spec) // not seeded: the history comes from the state
			if err := after.UnmarshalState(data); err != nil {
				t.Fatalf("UnmarshalState(%s) = %v", data, err)
			}
			got := run(t, after, sc.split, sc.steps[sc.split:])
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("matches after a restart at step %d (-without +with restart):\n%s", sc.split, diff)
			}
		})
	}
}

func TestStatStateRefusesBadData(t *testing.T) {
	for _, sc := range statScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			typ := sc.build(t)
			run(t, typ, 0, sc.steps[:sc.split])
			good, err := typ.MarshalState()
			if err != nil {
				t.Fatalf("MarshalState() = %v", err)
			}
			bad := map[string]string{
				"not JSON":      `{"v":1,`,
				"wrong version": strings.Replace(string(good), `"v":1`, `"v":7`, 1),
				"wrong type":    `{"v":1,"keys":"x","terms":"x"}`,
				"empty":         ``,
			}
			for name, data := range bad {
				if err := typ.UnmarshalState([]byte(data)); err == nil || !errors.Is(err, errStatState) {
					t.Errorf("UnmarshalState(%s: %q) = %v, want an errStatState error", name, data, err)
				}
			}
			// A refused state leaves the rule as it was.
			again, err := typ.MarshalState()
			if err != nil || string(again) != string(good) && sc.spec.MetricAggType != "cardinality" {
				t.Fatalf("state after refused loads changed:\n%s\nwant\n%s (err %v)", again, good, err)
			}
		})
	}
}

func TestStatStateOtherRuleSettings(t *testing.T) {
	tests := []struct {
		name     string
		from, to Spec
	}{
		{"spike timeframe", Spec{Type: "spike", Timeframe: time.Hour, SpikeHeight: 2}, Spec{Type: "spike", Timeframe: 2 * time.Hour, SpikeHeight: 2}},
		{"spike field_value", Spec{Type: "spike", Timeframe: time.Hour, SpikeHeight: 2}, Spec{Type: "spike", Timeframe: time.Hour, SpikeHeight: 2, FieldValue: "x"}},
		{"new_term fields", Spec{Type: "new_term", Fields: [][]string{{"a"}}}, Spec{Type: "new_term", Fields: [][]string{{"b"}}}},
		{"metric buffer_time", Spec{Type: "metric_aggregation", MetricAggKey: "v", MetricAggType: "sum", MaxThreshold: ptrF(1)},
			Spec{Type: "metric_aggregation", MetricAggKey: "v", MetricAggType: "sum", MaxThreshold: ptrF(1), BufferTime: time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := mustNew(t, tc.from).MarshalState()
			if err != nil {
				t.Fatalf("MarshalState() = %v", err)
			}
			if err := mustNew(t, tc.to).UnmarshalState(data); err == nil {
				t.Fatalf("UnmarshalState of a state for %+v into %+v = nil, want an error", tc.from, tc.to)
			}
		})
	}
}

func TestStatStateLoadsWithinMaxKeys(t *testing.T) {
	for _, sc := range statScenarios() {
		if len(sc.spec.QueryKey) == 0 || sc.spec.Type == "new_term" {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			typ := sc.build(t)
			run(t, typ, 0, sc.steps[:sc.split])
			data, err := typ.MarshalState()
			if err != nil {
				t.Fatalf("MarshalState() = %v", err)
			}
			small := sc.spec
			small.MaxKeys = 1
			s := mustNew(t, small)
			if err := s.UnmarshalState(data); err != nil {
				t.Fatalf("UnmarshalState() = %v", err)
			}
			if n := statKeyCount(s); n != 1 || s.Evictions() == 0 {
				t.Fatalf("loaded with max_keys 1: %d keys, Evictions() %d; want 1 key and some evictions", n, s.Evictions())
			}
		})
	}
}

// statKeyCount is the number of query_key windows typ holds.
func statKeyCount(typ Type) int {
	switch x := typ.(type) {
	case *spike:
		return x.keys.len()
	case *cardinality:
		return x.keys.len()
	case *metricAgg:
		return x.b.keys.len()
	case *percentage:
		return x.b.keys.len()
	}
	return 0
}
