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
	seed  []statDoc // new_term history, at statT0
	steps []statStep
	split int
}

func statScenarios() []statScenario {
	at := func(m int) time.Time { return statT0.Add(time.Duration(m) * time.Minute) }
	doc := statD("source.ip", "10.0.0.1")
	deny, allow := statD("event.action", "deny"), statD("event.action", "allow")
	return []statScenario{
		{
			name:  "spike",
			spec:  Spec{Type: "spike", Timeframe: 10 * time.Minute, SpikeHeight: 3, QueryKey: []string{"k"}},
			steps: statCat(statPerMin(0, 19, 1, "a", doc), statPerMin(0, 19, 2, "b", doc), statAddN(30, statMin(20), "a", doc), statTick(statMin(40)), statAddN(30, statMin(41), "b", doc)),
			split: 40,
		},
		{
			name:  "spike field_value",
			spec:  Spec{Type: "spike", Timeframe: 10 * time.Minute, SpikeHeight: 2, FieldValue: "temp", AlertOnNewData: true, QueryKey: []string{"k"}},
			steps: statCat(statPerMin(0, 19, 1, "a", statD("temp", 10)), statPerMin(10, 25, 1, "b", statD("temp", 10)), statAddN(5, statMin(26), "a", statD("temp", 50)), statAddN(5, statMin(31), "b", statD("temp", 50))),
			split: 30,
		},
		{
			name:  "new_term",
			spec:  Spec{Type: "new_term", Fields: [][]string{{"u"}, {"a", "b"}}, TermsWindowSize: time.Hour},
			seed:  []statDoc{statD("u", "x", "a", "1", "b", "2")},
			steps: statCat(statAdd(at(1), "", statD("u", "y")), statAdd(at(2), "", statD("u", "x", "a", "1", "b", "3")), statTick(at(30)), statAdd(at(61), "", statD("u", "x")), statAdd(at(62), "", statD("u", "y", "a", "1", "b", "2")), statAdd(at(63), "", statD("u", "z"))),
			split: 3,
		},
		{
			name:  "cardinality",
			spec:  Spec{Type: "cardinality", Timeframe: 10 * time.Minute, CardinalityField: "u", MinCardinality: statI(2), MaxCardinality: statI(3), QueryKey: []string{"k"}},
			steps: statCat(statAdd(at(0), "h1", statD("u", "a")), statAdd(at(1), "h2", statD("u", "a")), statAdd(at(2), "h2", statD("u", "b")), statAdd(at(3), "h2", statD("u", "c")), statTick(at(11)), statAdd(at(12), "h2", statD("u", "d")), statAdd(at(12), "h2", statD("u", "e")), statTick(at(30))),
			split: 4,
		},
		{
			name:  "metric_aggregation",
			spec:  Spec{Type: "metric_aggregation", MetricAggKey: "v", MetricAggType: "cardinality", MaxThreshold: statF(1), QueryKey: []string{"k"}},
			steps: statCat(statAdd(at(0), "a", statD("v", "x")), statAdd(at(1), "b", statD("v", "x")), statAdd(at(2), "a", statD("v", "y")), statAdd(at(3), "b", statD("v", "x")), statTick(at(5)), statAdd(at(6), "a", statD("v", "z"))),
			split: 2,
		},
		{
			name:  "percentage_match",
			spec:  Spec{Type: "percentage_match", MatchBucketFilter: statMatcher{"event.action", "deny"}, MaxPercentage: statF(50), QueryKey: []string{"k"}},
			steps: statCat(statAdd(at(0), "a", deny), statAdd(at(0), "b", allow), statAdd(at(1), "a", allow), statAdd(at(2), "a", deny), statAdd(at(2), "b", deny), statTick(at(5))),
			split: 2,
		},
	}
}

func (sc statScenario) build(t testing.TB) Type {
	t.Helper()
	typ := statNew(t, sc.spec)
	for _, d := range sc.seed {
		typ.(interface{ Seed(*Event) }).Seed(&Event{Doc: d, Time: statT0})
	}
	return typ
}

func TestStatStateRoundTrip(t *testing.T) {
	for _, sc := range statScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			whole := sc.build(t)
			statRun(t, whole, 0, sc.steps[:sc.split])
			want := statRun(t, whole, sc.split, sc.steps[sc.split:])
			if len(want) == 0 {
				t.Fatalf("the scenario has no match after step %d; it would not test the state", sc.split)
			}

			before := sc.build(t)
			statRun(t, before, 0, sc.steps[:sc.split])
			data, err := before.MarshalState()
			if err != nil {
				t.Fatalf("MarshalState() = %v", err)
			}
			after := statNew(t, sc.spec) // not seeded: the history comes from the state
			if err := after.UnmarshalState(data); err != nil {
				t.Fatalf("UnmarshalState(%s) = %v", data, err)
			}
			got := statRun(t, after, sc.split, sc.steps[sc.split:])
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
			statRun(t, typ, 0, sc.steps[:sc.split])
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
		{"metric buffer_time", Spec{Type: "metric_aggregation", MetricAggKey: "v", MetricAggType: "sum", MaxThreshold: statF(1)},
			Spec{Type: "metric_aggregation", MetricAggKey: "v", MetricAggType: "sum", MaxThreshold: statF(1), BufferTime: time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := statNew(t, tc.from).MarshalState()
			if err != nil {
				t.Fatalf("MarshalState() = %v", err)
			}
			if err := statNew(t, tc.to).UnmarshalState(data); err == nil {
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
			statRun(t, typ, 0, sc.steps[:sc.split])
			data, err := typ.MarshalState()
			if err != nil {
				t.Fatalf("MarshalState() = %v", err)
			}
			small := sc.spec
			small.MaxKeys = 1
			s := statNew(t, small)
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
