package rule

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// With timeframe 10m the buckets are 10 s wide and documents sit at
// minute + 5 s, so at minute M the current window holds minutes M-9..M
// and the reference window minutes M-19..M-10; a key is past its warm-up
// (two timeframes) from 20 minutes after its first document.
func TestSpike(t *testing.T) {
	doc := statD("source.ip", "10.0.0.1")
	spec := func(mod func(*Spec)) Spec {
		s := Spec{Type: "spike", Timeframe: 10 * time.Minute, SpikeHeight: 3, SpikeType: "up"}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	cnt := func(cur, ref int64) map[string]any {
		return map[string]any{"spike_count": cur, "reference_count": ref}
	}
	// 1 a minute for minutes 0..19, then a burst of 30 at minute 20: the
	// current window has 9 from before, the 21st of the burst makes 30 =
	// 3 x 10 in the reference window.
	steady := statPerMin(0, 19, 1, "", doc)
	burst := statAddN(30, statMin(20), "", doc)
	burstStep := len(steady)
	tests := []struct {
		name  string
		spec  Spec
		steps []statStep
		want  []statGot
	}{
		{
			name:  "up after warm-up, once",
			spec:  spec(nil),
			steps: statCat(steady, burst, statAddN(30, statMin(21), "", doc)),
			want:  []statGot{{Step: burstStep, Doc: 20, Time: statMin(20), Extra: cnt(30, 10), HasDoc: true}},
		},
		{
			name:  "no match within the first two timeframes",
			spec:  spec(nil),
			steps: statCat(statAdd(statMin(0), "", doc), statAddN(50, statMin(5), "", doc), statAddN(200, statMin(19), "", doc)),
		},
		{
			name:  "threshold_cur not met",
			spec:  spec(func(s *Spec) { s.ThresholdCur = 40 }),
			steps: statCat(steady, burst),
		},
		{
			name:  "threshold_cur met",
			spec:  spec(func(s *Spec) { s.ThresholdCur = 35 }),
			steps: statCat(steady, burst),
			want:  []statGot{{Step: burstStep, Doc: 25, Time: statMin(20), Extra: cnt(35, 10), HasDoc: true}},
		},
		{
			name:  "threshold_ref not met",
			spec:  spec(func(s *Spec) { s.ThresholdRef = 11 }),
			steps: statCat(steady, burst),
		},
		{
			name:  "spike_type down ignores a rise",
			spec:  spec(func(s *Spec) { s.SpikeType = "down" }),
			steps: statCat(steady, burst),
		},
		{
			// 5 a minute for minutes 0..29, then ticks: at minute 34 the
			// current window holds 25-29 (25) and the reference 15-24 (50).
			name: "down on Tick when the documents stop",
			spec: spec(func(s *Spec) { s.SpikeType = "down"; s.SpikeHeight = 2 }),
			steps: statCat(statPerMin(0, 29, 5, "", doc), statTick(statMin(30)), statTick(statMin(31)), statTick(statMin(32)), statTick(statMin(33)),
				statTick(statMin(34)), statTick(statMin(35)), statTick(statMin(40))),
			want: []statGot{{Step: 34, Doc: -1, Time: statMin(34), Extra: cnt(25, 50)}},
		},
		{
			name:  "both sees a fall",
			spec:  spec(func(s *Spec) { s.SpikeType = "both"; s.SpikeHeight = 2 }),
			steps: statCat(statPerMin(0, 29, 5, "", doc), statTick(statMin(33)), statTick(statMin(34))),
			want:  []statGot{{Step: 31, Doc: -1, Time: statMin(34), Extra: cnt(25, 50)}},
		},
		{
			name: "keys are independent",
			spec: spec(func(s *Spec) { s.QueryKey = []string{"source.ip"} }),
			steps: statCat(statPerMin(0, 19, 1, "a", doc), statPerMin(0, 19, 1, "b", doc), statAddN(30, statMin(20), "a", doc),
				statAddN(20, statMin(20), "b", doc)),
			want: []statGot{{Step: 40, Doc: 20, Key: "a", Time: statMin(20), Extra: cnt(30, 10), HasDoc: true}},
		},
		{
			// Key a has given the rule its baseline; b, first seen at
			// minute 21, matches at once with alert_on_new_data.
			name:  "alert_on_new_data",
			spec:  spec(func(s *Spec) { s.QueryKey = []string{"source.ip"}; s.AlertOnNewData = true }),
			steps: statCat(statPerMin(0, 20, 1, "a", doc), statAddN(3, statMin(21), "new", doc)),
			want:  []statGot{{Step: 21, Doc: 0, Key: "new", Time: statMin(21), Extra: cnt(1, 0), HasDoc: true}},
		},
		{
			name:  "without alert_on_new_data a new key waits",
			spec:  spec(func(s *Spec) { s.QueryKey = []string{"source.ip"} }),
			steps: statCat(statPerMin(0, 20, 1, "a", doc), statAddN(3, statMin(21), "new", doc)),
		},
		{
			// After minute 20 come 21 documents stamped minute 18: they
			// are counted in the current window, and the check runs at
			// the key's newest time (minute 20).
			name:  "late documents count in their own bucket",
			spec:  spec(nil),
			steps: statCat(statPerMin(0, 20, 1, "", doc), statAddN(21, statMin(18), "", doc)),
			want:  []statGot{{Step: 21, Doc: 19, Time: statMin(20), Extra: cnt(30, 10), HasDoc: true}},
		},
		{
			name:  "documents older than both windows are ignored",
			spec:  spec(nil),
			steps: statCat(statPerMin(0, 39, 1, "", doc), statAddN(100, statMin(5), "", doc)),
		},
		{
			// field_value compares means (ElastAlert): 10 for minutes
			// 0..19, then 100s: after 3 of them the current mean is
			// (9*10+300)/12 = 32.5 >= 3 x 10.
			name: "field_value compares means",
			spec: spec(func(s *Spec) { s.FieldValue = "temp" }),
			steps: statCat(statPerMin(0, 19, 1, "", statD("temp", 10)), statAdd(statMin(20), "", statD("other", 1)),
				statAddN(5, statMin(20), "", statD("temp", 100))),
			want: []statGot{{Step: 21, Doc: 2, Time: statMin(20), HasDoc: true,
				Extra: map[string]any{"spike_count": 32.5, "reference_count": 10.0, "spike_sum": 390.0, "reference_sum": 100.0}}},
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

func TestSpikeEvictsLeastRecentlySeen(t *testing.T) {
	typ := statNew(t, Spec{Type: "spike", Timeframe: 10 * time.Minute, SpikeHeight: 3, QueryKey: []string{"k"}, MaxKeys: 2})
	doc := statD("k", "x")
	statRun(t, typ, 0, statCat(statAdd(statMin(0), "a", doc), statAdd(statMin(0), "b", doc), statAdd(statMin(1), "a", doc), statAdd(statMin(1), "c", doc)))
	if got := typ.Evictions(); got != 1 {
		t.Fatalf("Evictions() = %d, want 1", got)
	}
	sp := typ.(*spike)
	if sp.keys.len() != 2 || sp.keys.get("b") != nil || sp.keys.get("a") == nil {
		t.Fatalf("keys after eviction: len %d, b kept %v, a kept %v; want a and c", sp.keys.len(), sp.keys.get("b") != nil, sp.keys.get("a") != nil)
	}
}

func TestSpikeTickForgetsEmptyKeys(t *testing.T) {
	typ := statNew(t, Spec{Type: "spike", Timeframe: 10 * time.Minute, SpikeHeight: 3, QueryKey: []string{"k"}})
	statRun(t, typ, 0, statCat(statAdd(statMin(0), "a", statD()), statTick(statMin(19))))
	if n := typ.(*spike).keys.len(); n != 1 {
		t.Fatalf("keys after Tick within two timeframes = %d, want 1", n)
	}
	statRun(t, typ, 0, statCat(statTick(statMin(20))))
	if n := typ.(*spike).keys.len(); n != 0 {
		t.Fatalf("keys after both windows emptied = %d, want 0", n)
	}
}

func TestSpikeRefusesSpec(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Spec)
		want string
	}{
		{"sideways", func(s *Spec) { s.SpikeType = "sideways" }, "spike_type"},
		{"no height", func(s *Spec) { s.SpikeHeight = 0 }, "spike_height"},
		{"no timeframe", func(s *Spec) { s.Timeframe = 0 }, "timeframe"},
		{"negative threshold_ref", func(s *Spec) { s.ThresholdRef = -1 }, "threshold_ref"},
		{"negative max_keys", func(s *Spec) { s.MaxKeys = -1 }, "max_keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Type: "spike", Timeframe: time.Hour, SpikeHeight: 2}
			tc.mod(&s)
			_, err := newSpike(&s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("newSpike(%+v) = %v, want an error naming %s", s, err, tc.want)
			}
		})
	}
}
