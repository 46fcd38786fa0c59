package rule

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMetricAggregation(t *testing.T) {
	at := func(m int) time.Time { return statT0.Add(time.Duration(m) * time.Minute) }
	cpu := func(v any) statDoc { return statD("system.cpu.pct", v) }
	val := func(typ string, v float64) map[string]any {
		return map[string]any{"metric_system.cpu.pct_" + typ: v, "metric_agg_value": v}
	}
	spec := func(typ string, mod func(*Spec)) Spec {
		s := Spec{Type: "metric_aggregation", MetricAggKey: "system.cpu.pct", MetricAggType: typ}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	maxT := func(f float64) func(*Spec) { return func(s *Spec) { s.MaxThreshold = statF(f) } }
	minT := func(f float64) func(*Spec) { return func(s *Spec) { s.MinThreshold = statF(f) } }
	tests := []struct {
		name  string
		spec  Spec
		steps []statStep
		want  []statGot
	}{
		{
			name:  "avg above max_threshold, closed by Tick",
			spec:  spec("avg", maxT(50)),
			steps: statCat(statAdd(at(0), "", cpu(40)), statAdd(at(4), "", cpu(80)), statTick(at(4)), statTick(at(5)), statTick(at(10))),
			want:  []statGot{{Step: 3, Doc: -1, Time: at(5), Extra: val("avg", 60)}},
		},
		{
			name:  "closed by a document of a later bucket",
			spec:  spec("max", maxT(50)),
			steps: statCat(statAdd(at(1), "", cpu(90)), statAdd(at(2), "", cpu(10)), statAdd(at(6), "", cpu(10)), statTick(at(10))),
			want:  []statGot{{Step: 2, Doc: 0, Time: at(5), Extra: val("max", 90)}},
		},
		{
			name:  "thresholds are exclusive",
			spec:  spec("sum", func(s *Spec) { s.MaxThreshold = statF(10); s.MinThreshold = statF(5) }),
			steps: statCat(statAdd(at(0), "", cpu(4)), statAdd(at(1), "", cpu(6)), statTick(at(5)), statAdd(at(5), "", cpu(5)), statTick(at(10))),
		},
		{
			name:  "min below min_threshold",
			spec:  spec("min", minT(5)),
			steps: statCat(statAdd(at(0), "", cpu(4)), statAdd(at(1), "", cpu(60)), statTick(at(5))),
			want:  []statGot{{Step: 2, Doc: -1, Time: at(5), Extra: val("min", 4)}},
		},
		{
			name:  "value_count counts values of any kind",
			spec:  spec("value_count", maxT(2)),
			steps: statCat(statAdd(at(0), "", cpu("x")), statAdd(at(0), "", cpu([]any{1, 2})), statAdd(at(0), "", statD()), statTick(at(5))),
			want:  []statGot{{Step: 3, Doc: -1, Time: at(5), Extra: val("value_count", 3)}},
		},
		{
			name:  "cardinality counts distinct values",
			spec:  spec("cardinality", maxT(1)),
			steps: statCat(statAdd(at(0), "", cpu("x")), statAdd(at(0), "", cpu("x")), statAdd(at(0), "", cpu("y")), statTick(at(5))),
			want:  []statGot{{Step: 3, Doc: -1, Time: at(5), Extra: val("cardinality", 2)}},
		},
		{
			name:  "min, max and avg of no numeric value do not match",
			spec:  spec("avg", minT(1)),
			steps: statCat(statAdd(at(0), "", statD()), statAdd(at(0), "", cpu("high")), statTick(at(5))),
		},
		{
			name:  "sum of no value is 0",
			spec:  spec("sum", minT(1)),
			steps: statCat(statAdd(at(0), "", statD()), statTick(at(5))),
			want:  []statGot{{Step: 1, Doc: -1, Time: at(5), Extra: val("sum", 0)}},
		},
		{
			name:  "an empty bucket is not evaluated",
			spec:  spec("sum", minT(1)),
			steps: statCat(statAdd(at(0), "", cpu(5)), statTick(at(5)), statTick(at(10)), statTick(at(15))),
		},
		{
			name:  "a late document is ignored",
			spec:  spec("max", maxT(50)),
			steps: statCat(statAdd(at(0), "", cpu(10)), statTick(at(5)), statAdd(at(4), "", cpu(99)), statTick(at(10))),
		},
		{
			name: "keys are independent",
			spec: spec("avg", func(s *Spec) { s.MaxThreshold = statF(50); s.QueryKey = []string{"host.name"} }),
			steps: statCat(statAdd(at(0), "h1", cpu(90)), statAdd(at(0), "h2", cpu(10)), statAdd(at(1), "h2", cpu(20)),
				statTick(at(5))),
			want: []statGot{{Step: 3, Doc: -1, Key: "h1", Time: at(5), Extra: val("avg", 90)}},
		},
		{
			name:  "buffer_time",
			spec:  spec("max", func(s *Spec) { s.MaxThreshold = statF(50); s.BufferTime = time.Minute }),
			steps: statCat(statAdd(at(0), "", cpu(90)), statTick(at(1))),
			want:  []statGot{{Step: 1, Doc: -1, Time: at(1), Extra: val("max", 90)}},
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

func TestMetricAggregationEvicts(t *testing.T) {
	typ := statNew(t, Spec{Type: "metric_aggregation", MetricAggKey: "v", MetricAggType: "cardinality", MaxThreshold: statF(0), MaxKeys: 1})
	typ.Add(&Event{Doc: statD("v", "x"), Time: statT0, Key: "a"})
	typ.Add(&Event{Doc: statD("v", "y"), Time: statT0, Key: "b"})
	m := typ.(*metricAgg)
	if typ.Evictions() != 1 || m.b.keys.len() != 1 || m.total != 1 {
		t.Fatalf("after 2 keys with max_keys 1: Evictions() %d, keys %d, distinct %d; want 1, 1, 1", typ.Evictions(), m.b.keys.len(), m.total)
	}
	if ms := typ.Tick(statT0.Add(5 * time.Minute)); len(ms) != 1 || ms[0].Key != "b" {
		t.Fatalf("Tick: %+v, want one match of key b", ms)
	}
}

func TestMetricAggregationRefusesSpec(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Spec)
		want string
	}{
		{"unknown type", func(s *Spec) { s.MetricAggType = "median" }, "metric_agg_type"},
		{"no key", func(s *Spec) { s.MetricAggKey = "" }, "metric_agg_key"},
		{"no threshold", func(s *Spec) { s.MaxThreshold = nil }, "max_threshold, min_threshold"},
		{"short buffer_time", func(s *Spec) { s.BufferTime = time.Millisecond }, "buffer_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Type: "metric_aggregation", MetricAggKey: "v", MetricAggType: "avg", MaxThreshold: statF(1)}
			tc.mod(&s)
			_, err := newMetricAgg(&s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("newMetricAgg(%+v) = %v, want an error naming %s", s, err, tc.want)
			}
		})
	}
}
