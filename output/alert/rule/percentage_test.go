package rule

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentageMatch(t *testing.T) {
	at := func(m int) time.Time { return statT0.Add(time.Duration(m) * time.Minute) }
	deny, allow := statD("event.action", "deny"), statD("event.action", "allow")
	pct := func(p float64, d int64) map[string]any { return map[string]any{"percentage": p, "denominator": d} }
	spec := func(mod func(*Spec)) Spec {
		s := Spec{Type: "percentage_match", MatchBucketFilter: statMatcher{"event.action", "deny"}}
		mod(&s)
		return s
	}
	maxP := func(f float64) func(*Spec) { return func(s *Spec) { s.MaxPercentage = statF(f) } }
	tests := []struct {
		name  string
		spec  Spec
		steps []statStep
		want  []statGot
	}{
		{
			name:  "above max_percentage",
			spec:  spec(maxP(50)),
			steps: statCat(statAddN(3, at(0), "", deny), statAdd(at(1), "", allow), statTick(at(4)), statTick(at(5))),
			want:  []statGot{{Step: 3, Doc: -1, Time: at(5), Extra: pct(75, 4)}},
		},
		{
			name:  "below min_percentage, closed by a later document",
			spec:  spec(func(s *Spec) { s.MinPercentage = statF(50) }),
			steps: statCat(statAdd(at(0), "", deny), statAddN(3, at(1), "", allow), statAdd(at(5), "", deny)),
			want:  []statGot{{Step: 2, Time: at(5), Extra: pct(25, 4)}},
		},
		{
			name:  "within the bounds",
			spec:  spec(func(s *Spec) { s.MinPercentage = statF(25); s.MaxPercentage = statF(75) }),
			steps: statCat(statAdd(at(0), "", deny), statAdd(at(0), "", allow), statAddN(3, at(5), "", deny), statAdd(at(5), "", allow), statTick(at(10))),
		},
		{
			name:  "an empty bucket does not match",
			spec:  spec(func(s *Spec) { s.MinPercentage = statF(50) }),
			steps: statCat(statTick(at(5)), statAdd(at(5), "", deny), statTick(at(10)), statTick(at(15)), statTick(at(20))),
		},
		{
			name:  "keys are independent",
			spec:  spec(func(s *Spec) { s.MaxPercentage = statF(50); s.QueryKey = []string{"source.ip"} }),
			steps: statCat(statAdd(at(0), "a", deny), statAdd(at(0), "b", allow), statAdd(at(0), "b", deny), statTick(at(5))),
			want:  []statGot{{Step: 3, Doc: -1, Key: "a", Time: at(5), Extra: pct(100, 1)}},
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

func TestPercentageMatchEvicts(t *testing.T) {
	typ := statNew(t, Spec{Type: "percentage_match", MatchBucketFilter: statMatcher{"a", "x"}, MaxPercentage: statF(10), MaxKeys: 2})
	for _, k := range []string{"a", "b", "a", "c"} {
		typ.Add(&Event{Doc: statD("a", "x"), Time: statT0, Key: k})
	}
	ms := typ.Tick(statT0.Add(5 * time.Minute))
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.Key)
	}
	if typ.Evictions() != 1 || !cmp.Equal(keys, []string{"a", "c"}) {
		t.Fatalf("Evictions() %d, matches of keys %v; want 1, [a c] (b evicted)", typ.Evictions(), keys)
	}
}

func TestPercentageMatchRefusesSpec(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Spec)
		want string
	}{
		{"no filter", func(s *Spec) { s.MatchBucketFilter = nil }, "match_bucket_filter"},
		{"no bound", func(s *Spec) { s.MaxPercentage = nil }, "min_percentage, max_percentage"},
		{"negative buffer_time", func(s *Spec) { s.BufferTime = -time.Minute }, "buffer_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Type: "percentage_match", MatchBucketFilter: statMatcher{"a", "b"}, MaxPercentage: statF(1)}
			tc.mod(&s)
			_, err := newPercentage(&s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("newPercentage(%+v) = %v, want an error naming %s", s, err, tc.want)
			}
		})
	}
}
