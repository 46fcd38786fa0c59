package rule

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rlEv is one test document for a type: at rlT0+at, with key and fields.
type rlEv struct {
	at     time.Duration
	key    string
	fields map[string]any
}

func rlEvent(e rlEv) *Event {
	f := e.fields
	if f == nil {
		f = map[string]any{}
	}
	return &Event{Doc: rlDocOf(f), Time: rlT0.Add(e.at), Key: e.key}
}

func rlNewType(t testing.TB, s Spec) Type {
	t.Helper()
	typ, err := Constructors[s.Type](&s)
	if err != nil {
		t.Fatalf("new %s: %v", s.Type, err)
	}
	return typ
}

// rlFeed adds the events and returns, per event, the number of matches.
func rlFeed(typ Type, evs []rlEv) []int {
	out := make([]int, len(evs))
	for i, e := range evs {
		out[i] = len(typ.Add(rlEvent(e)))
	}
	return out
}

func TestAnyType(t *testing.T) {
	typ := rlNewType(t, Spec{Type: "any"})
	ms := typ.Add(rlEvent(rlEv{at: time.Second, key: "k", fields: map[string]any{"a": "b"}}))
	if len(ms) != 1 || ms[0].Key != "k" || !ms[0].Time.Equal(rlT0.Add(time.Second)) || string(ms[0].Doc) != `{"a":"b"}` {
		t.Errorf("Add() = %+v", ms)
	}
}

func TestBlacklistWhitelist(t *testing.T) {
	ip := netip.MustParseAddr("198.51.100.7")
	tests := []struct {
		name   string
		spec   Spec
		fields map[string]any
		want   bool
	}{
		{"black hit", Spec{Type: "blacklist", CompareKey: []string{"r"}, Blacklist: []string{"3", "4"}}, map[string]any{"r": 3}, true},
		{"black number as text", Spec{Type: "blacklist", CompareKey: []string{"r"}, Blacklist: []string{"3.0"}}, map[string]any{"r": 3}, true},
		{"black text", Spec{Type: "blacklist", CompareKey: []string{"u"}, Blacklist: []string{"/admin"}}, map[string]any{"u": "/admin"}, true},
		{"black miss", Spec{Type: "blacklist", CompareKey: []string{"r"}, Blacklist: []string{"3", "4"}}, map[string]any{"r": 2}, false},
		{"black missing field", Spec{Type: "blacklist", CompareKey: []string{"r"}, Blacklist: []string{"3"}}, map[string]any{}, false},
		{"black any value of several", Spec{Type: "blacklist", CompareKey: []string{"tags"}, Blacklist: []string{"evil"}}, map[string]any{"tags": []any{"ok", "evil"}}, true},
		{"black ip", Spec{Type: "blacklist", CompareKey: []string{"source.ip"}, Blacklist: []string{"198.51.100.7"}}, map[string]any{"source.ip": ip}, true},
		{"black case sensitive", Spec{Type: "blacklist", CompareKey: []string{"u"}, Blacklist: []string{"Admin"}}, map[string]any{"u": "admin"}, false},
		{"white listed", Spec{Type: "whitelist", CompareKey: []string{"u"}, Whitelist: []string{"alice", "bob"}}, map[string]any{"u": "bob"}, false},
		{"white not listed", Spec{Type: "whitelist", CompareKey: []string{"u"}, Whitelist: []string{"alice", "bob"}}, map[string]any{"u": "mallory"}, true},
		{"white one value not listed", Spec{Type: "whitelist", CompareKey: []string{"u"}, Whitelist: []string{"alice"}}, map[string]any{"u": []any{"alice", "eve"}}, true},
		{"white missing ignore_null", Spec{Type: "whitelist", CompareKey: []string{"u"}, Whitelist: []string{"a"}, IgnoreNull: true}, map[string]any{}, false},
		{"white missing not ignored", Spec{Type: "whitelist", CompareKey: []string{"u"}, Whitelist: []string{"a"}}, map[string]any{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := rlNewType(t, tc.spec)
			got := len(typ.Add(rlEvent(rlEv{fields: tc.fields}))) == 1
			if got != tc.want {
				t.Errorf("Add(%v) matched %v, want %v", tc.fields, got, tc.want)
			}
		})
	}
}

func TestChange(t *testing.T) {
	c := func(country any) map[string]any {
		if country == nil {
			return map[string]any{}
		}
		return map[string]any{"country": country}
	}
	tests := []struct {
		name string
		spec Spec
		evs  []rlEv
		want []int
	}{
		{"per key", Spec{IgnoreNull: true}, []rlEv{
			{0, "bob", c("US")}, {time.Hour, "alice", c("FR")}, {2 * time.Hour, "bob", c("US")},
			{3 * time.Hour, "bob", c("RU")}, {4 * time.Hour, "alice", c("FR")}, {5 * time.Hour, "bob", c("RU")},
		}, []int{0, 0, 0, 1, 0, 0}},
		{"timeframe", Spec{IgnoreNull: true, Timeframe: 24 * time.Hour}, []rlEv{
			{0, "bob", c("US")}, {25 * time.Hour, "bob", c("RU")}, {26 * time.Hour, "bob", c("US")},
		}, []int{0, 0, 1}},
		{"ignore_null skips", Spec{IgnoreNull: true}, []rlEv{
			{0, "bob", c("US")}, {time.Hour, "bob", c(nil)}, {2 * time.Hour, "bob", c("")}, {3 * time.Hour, "bob", c("US")},
		}, []int{0, 0, 0, 0}},
		{"null is a value without ignore_null", Spec{}, []rlEv{
			{0, "bob", c("US")}, {time.Hour, "bob", c(nil)}, {2 * time.Hour, "bob", c("US")},
		}, []int{0, 1, 1}},
		{"out of order ignored", Spec{IgnoreNull: true}, []rlEv{
			{2 * time.Hour, "bob", c("US")}, {time.Hour, "bob", c("RU")}, {3 * time.Hour, "bob", c("US")},
		}, []int{0, 0, 0}},
		{"eviction forgets", Spec{IgnoreNull: true, MaxKeys: 1}, []rlEv{
			{0, "bob", c("US")}, {time.Hour, "alice", c("US")}, {2 * time.Hour, "bob", c("RU")},
		}, []int{0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Type, tc.spec.CompareKey, tc.spec.QueryKey = "change", []string{"country"}, []string{"user"}
			typ := rlNewType(t, tc.spec)
			if diff := cmp.Diff(rlFeed(typ, tc.evs), tc.want); diff != "" {
				t.Errorf("matches per document (-got +want):\n%s", diff)
			}
		})
	}
	// ElastAlert's extra fields.
	typ := rlNewType(t, Spec{Type: "change", CompareKey: []string{"country", "city"}, QueryKey: []string{"user"}, IgnoreNull: false})
	typ.Add(rlEvent(rlEv{0, "bob", map[string]any{"country": "US", "city": "NYC"}}))
	ms := typ.Add(rlEvent(rlEv{time.Hour, "bob", map[string]any{"country": "US"}}))
	if len(ms) != 1 {
		t.Fatalf("Add() = %v, want a match", ms)
	}
	want := map[string]any{"old_value": []any{"US", "NYC"}, "new_value": []any{"US", nil}}
	if diff := cmp.Diff(ms[0].Extra, want); diff != "" {
		t.Errorf("Extra (-got +want):\n%s", diff)
	}
	if typ.Evictions() != 0 {
		t.Errorf("Evictions() = %d", typ.Evictions())
	}
}

func TestFrequency(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name string
		spec Spec
		evs  []rlEv
		want []int
	}{
		{"three in a minute", Spec{NumEvents: 3, Timeframe: m}, []rlEv{
			{0, "", nil}, {20 * time.Second, "", nil}, {40 * time.Second, "", nil},
		}, []int{0, 0, 1}},
		{"window slides", Spec{NumEvents: 3, Timeframe: m}, []rlEv{
			{0, "", nil}, {30 * time.Second, "", nil}, {70 * time.Second, "", nil}, {80 * time.Second, "", nil},
		}, []int{0, 0, 0, 1}},
		{"exactly timeframe apart is outside", Spec{NumEvents: 2, Timeframe: m}, []rlEv{
			{0, "", nil}, {m, "", nil},
		}, []int{0, 0}},
		{"starts over after a match", Spec{NumEvents: 2, Timeframe: m}, []rlEv{
			{0, "", nil}, {time.Second, "", nil}, {2 * time.Second, "", nil}, {3 * time.Second, "", nil},
		}, []int{0, 1, 0, 1}},
		{"per key", Spec{NumEvents: 2, Timeframe: m}, []rlEv{
			{0, "a", nil}, {time.Second, "b", nil}, {2 * time.Second, "a", nil}, {3 * time.Second, "c", nil}, {4 * time.Second, "b", nil},
		}, []int{0, 0, 1, 0, 1}},
		{"out of order within the window counts", Spec{NumEvents: 3, Timeframe: m}, []rlEv{
			{50 * time.Second, "", nil}, {10 * time.Second, "", nil}, {30 * time.Second, "", nil},
		}, []int{0, 0, 1}},
		{"out of order older than the window is dropped", Spec{NumEvents: 2, Timeframe: m}, []rlEv{
			{2 * m, "", nil}, {0, "", nil}, {2*m + time.Second, "", nil},
		}, []int{0, 0, 1}},
		{"eviction at max_keys", Spec{NumEvents: 2, Timeframe: m, MaxKeys: 2}, []rlEv{
			{0, "a", nil}, {time.Second, "b", nil}, {2 * time.Second, "c", nil}, {3 * time.Second, "a", nil}, {4 * time.Second, "c", nil},
		}, []int{0, 0, 0, 0, 1}},
		{"num_events 1", Spec{NumEvents: 1, Timeframe: m}, []rlEv{{0, "", nil}, {0, "", nil}}, []int{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Type = "frequency"
			typ := rlNewType(t, tc.spec)
			if diff := cmp.Diff(rlFeed(typ, tc.evs), tc.want); diff != "" {
				t.Errorf("matches per document (-got +want):\n%s", diff)
			}
		})
	}
	typ := rlNewType(t, Spec{Type: "frequency", NumEvents: 2, Timeframe: m, MaxKeys: 2})
	rlFeed(typ, []rlEv{{0, "a", nil}, {0, "b", nil}, {0, "c", nil}, {0, "d", nil}})
	if typ.Evictions() != 2 {
		t.Errorf("Evictions() = %d, want 2", typ.Evictions())
	}
	typ = rlNewType(t, Spec{Type: "frequency", NumEvents: 2, Timeframe: m})
	typ.Add(rlEvent(rlEv{30 * time.Second, "k", map[string]any{"n": 1}}))
	ms := typ.Add(rlEvent(rlEv{10 * time.Second, "k", map[string]any{"n": 2}}))
	want := []Match{{Time: rlT0.Add(30 * time.Second), Key: "k", Doc: []byte(`{"n":2}`), Extra: map[string]any{"num_hits": 2}}}
	if diff := cmp.Diff(ms, want); diff != "" {
		t.Errorf("match (-got +want):\n%s", diff)
	}
}

func TestFlatline(t *testing.T) {
	m := time.Minute
	at := func(d time.Duration) time.Time { return rlT0.Add(d) }
	count := func(ms []Match) string {
		s := ""
		for _, x := range ms {
			s += fmt.Sprintf("%s=%v ", x.Extra["key"], x.Extra["count"])
		}
		return s
	}

	// Whole rule: no alert before one timeframe since start; then fewer
	// than threshold in the last timeframe alerts on every Tick.
	typ := rlNewType(t, Spec{Type: "flatline", Threshold: 2, Timeframe: m})
	steps := []struct {
		add  []time.Duration
		tick time.Duration
		want string
	}{
		{nil, 0, ""},
		{[]time.Duration{10 * time.Second}, 30 * time.Second, ""},
		{nil, 61 * time.Second, "all=1 "},
		{[]time.Duration{62 * time.Second, 63 * time.Second}, 64 * time.Second, ""},
		{nil, 122 * time.Second, "all=1 "},
		{nil, 124 * time.Second, "all=0 "},
	}
	for i, st := range steps {
		for _, a := range st.add {
			typ.Add(rlEvent(rlEv{at: a}))
		}
		if got := count(typ.Tick(at(st.tick))); got != st.want {
			t.Errorf("step %d: Tick(+%v) = %q, want %q", i, st.tick, got, st.want)
		}
	}

	// Per key: a key alerts only after one timeframe since it was first
	// seen; forget_keys alerts once.
	for _, forget := range []bool{false, true} {
		typ := rlNewType(t, Spec{Type: "flatline", Threshold: 2, Timeframe: m, QueryKey: []string{"host"}, ForgetKeys: forget})
		typ.Tick(at(0))
		typ.Add(rlEvent(rlEv{at: 0, key: "a"}))
		typ.Add(rlEvent(rlEv{at: 50 * time.Second, key: "b"}))
		if got := count(typ.Tick(at(70 * time.Second))); got != "a=0 " {
			t.Errorf("forget %v: Tick(+70s) = %q, want a only (b is younger than a timeframe)", forget, got)
		}
		got := count(typ.Tick(at(120 * time.Second)))
		want := "a=0 b=0 "
		if forget {
			want = "b=0 "
		}
		if got != want {
			t.Errorf("forget %v: Tick(+120s) = %q, want %q", forget, got, want)
		}
		ms := typ.Tick(at(121 * time.Second))
		if forget && len(ms) != 0 || !forget && len(ms) != 2 {
			t.Errorf("forget %v: Tick(+121s) = %q", forget, count(ms))
		}
		for _, x := range ms {
			if x.Doc != nil || x.Key != x.Extra["key"] {
				t.Errorf("match %+v: want no document and Key = Extra[key]", x)
			}
		}
	}
}

// TestSimpleTypeStates: a window half full before a restart completes
// after it, for each stateful type.
func TestSimpleTypeStates(t *testing.T) {
	m := time.Minute
	tests := []struct {
		spec   Spec
		before []rlEv
		after  []rlEv
		want   []int
	}{
		{Spec{Type: "frequency", NumEvents: 3, Timeframe: m, QueryKey: []string{"k"}}, []rlEv{{0, "a", nil}, {time.Second, "a", nil}, {time.Second, "b", nil}},
			[]rlEv{{2 * time.Second, "a", nil}, {3 * time.Second, "b", nil}}, []int{1, 0}},
		{Spec{Type: "change", CompareKey: []string{"c"}, QueryKey: []string{"k"}, IgnoreNull: true}, []rlEv{{0, "a", map[string]any{"c": "x"}}},
			[]rlEv{{time.Second, "a", map[string]any{"c": "y"}}}, []int{1}},
		{Spec{Type: "any"}, nil, []rlEv{{0, "", nil}}, []int{1}},
		{Spec{Type: "blacklist", CompareKey: []string{"c"}, Blacklist: []string{"x"}}, nil, []rlEv{{0, "", map[string]any{"c": "x"}}}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.spec.Type, func(t *testing.T) {
			a := rlNewType(t, tc.spec)
			rlFeed(a, tc.before)
			data, err := a.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			b := rlNewType(t, tc.spec)
			if err := b.UnmarshalState(data); err != nil {
				t.Fatalf("UnmarshalState(%s): %v", data, err)
			}
			if diff := cmp.Diff(rlFeed(b, tc.after), tc.want); diff != "" {
				t.Errorf("after restart (-got +want):\n%s", diff)
			}
			for _, bad := range []string{"nonsense", `{"keys":7}`, "[1,2]"} {
				if err := rlNewType(t, tc.spec).UnmarshalState([]byte(bad)); err == nil {
					t.Errorf("UnmarshalState(%q) = nil error", bad)
				}
			}
		})
	}

	// flatline keeps its start time and keys' first-seen times.
	spec := Spec{Type: "flatline", Threshold: 1, Timeframe: m}
	a := rlNewType(t, spec)
	a.Tick(rlT0)
	data, _ := a.MarshalState()
	b := rlNewType(t, spec)
	if err := b.UnmarshalState(data); err != nil {
		t.Fatal(err)
	}
	if ms := b.Tick(rlT0.Add(61 * time.Second)); len(ms) != 1 {
		t.Errorf("restored flatline Tick(+61s) = %v, want the alert (start time kept)", ms)
	}
	// Bounds hold after loading: more keys than max_keys, longer windows.
	st := timesState{}
	for i := range 50 {
		st.Keys = append(st.Keys, timesKey{Key: fmt.Sprint(i), Times: []int64{5, 4, 3, 2, 1}})
	}
	raw, _ := json.Marshal(st)
	f := rlNewType(t, Spec{Type: "frequency", NumEvents: 3, Timeframe: m, MaxKeys: 10}).(*frequency)
	if err := f.UnmarshalState(raw); err != nil {
		t.Fatal(err)
	}
	if f.keys.len() != 10 {
		t.Errorf("keys after load = %d, want 10", f.keys.len())
	}
	f.keys.each(func(k string, v *freqWindow) bool {
		if len(v.heap) != 2 || v.heap[0] != 4 || v.newest != 5 {
			t.Errorf("key %s window %v (newest %d), want the newest 2 (num_events-1), oldest first", k, v.heap, v.newest)
		}
		return false
	})
}

func TestFlatlineEvictionAndOrder(t *testing.T) {
	m := time.Minute
	typ := rlNewType(t, Spec{Type: "flatline", Threshold: 2, Timeframe: m, QueryKey: []string{"host"}, MaxKeys: 2})
	typ.Tick(rlT0)
	// c evicts a, the least recently seen.
	for _, k := range []string{"a", "b", "c"} {
		typ.Add(rlEvent(rlEv{at: 0, key: k}))
	}
	if typ.Evictions() != 1 {
		t.Errorf("Evictions() = %d, want 1", typ.Evictions())
	}
	// b gets two documents, one of them late: both within the window at
	// +90s only if their own times are; the one at -40s is not.
	typ.Add(rlEvent(rlEv{at: 80 * time.Second, key: "b"}))
	typ.Add(rlEvent(rlEv{at: -40 * time.Second, key: "b"}))
	typ.Add(rlEvent(rlEv{at: 70 * time.Second, key: "c"}))
	typ.Add(rlEvent(rlEv{at: 75 * time.Second, key: "c"}))
	var got []string
	for _, x := range typ.Tick(rlT0.Add(90 * time.Second)) {
		got = append(got, fmt.Sprintf("%s=%v", x.Key, x.Extra["count"]))
	}
	if diff := cmp.Diff(got, []string{"b=1"}); diff != "" {
		t.Errorf("Tick(+90s) (-got +want):\n%s\n(a was evicted; c has two documents in the last minute; b's late one is older than the window)", diff)
	}
}

// TestFrequencyOutOfOrderAgainstModel: documents in random order (flows
// arrive out of order by up to the exporter's timeouts) fire exactly where
// a plain model of ElastAlert's window does: the documents within
// timeframe of the newest, the older ones dropped at once, the window
// cleared after a match.
func TestFrequencyOutOfOrderAgainstModel(t *testing.T) {
	const n, tf = 50, 10 * time.Second
	r := rand.New(rand.NewPCG(7, 9))
	typ := rlNewType(t, Spec{Type: "frequency", NumEvents: n, Timeframe: tf, MaxKeys: 10})
	var model []time.Duration // the times in the window
	var newest time.Duration
	fired, modelFired := 0, 0
	base := time.Duration(0)
	for i := range 20000 {
		base += time.Duration(r.IntN(50)) * time.Millisecond
		at := base - time.Duration(r.IntN(12000))*time.Millisecond // up to 12s late
		if len(typ.Add(rlEvent(rlEv{at: at, key: "k"}))) > 0 {
			fired++
		}
		// The model.
		if len(model) == 0 {
			newest = at
		}
		if newest-at >= tf {
			continue
		}
		newest = max(newest, at)
		model = append(model, at)
		kept := model[:0]
		for _, m := range model {
			if newest-m < tf {
				kept = append(kept, m)
			}
		}
		model = kept
		if len(model) >= n {
			modelFired++
			model = nil
		}
		if fired != modelFired {
			t.Fatalf("document %d (at %v): %d matches, the model %d", i, at, fired, modelFired)
		}
	}
	if fired == 0 {
		t.Fatal("no match at all: the test does not exercise the window")
	}
}

// BenchmarkFrequencyOutOfOrder: a window of up to 100,000 documents fed in
// random order costs O(log n) per document.
func BenchmarkFrequencyOutOfOrder(b *testing.B) {
	typ := rlNewType(b, Spec{Type: "frequency", NumEvents: MaxWindowEvents, Timeframe: time.Hour, MaxKeys: 10})
	r := rand.New(rand.NewPCG(1, 2))
	evs := make([]*Event, 4096)
	for i := range evs {
		evs[i] = rlEvent(rlEv{at: time.Duration(r.IntN(3600)) * time.Second, key: "k"})
	}
	b.ResetTimer()
	for i := range b.N {
		typ.Add(evs[i%len(evs)])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}

// TestFrequencyKeysAgainstModel: keys that match again and again, in
// turns (a window that matched hands its emptied times to the next new
// key): each key's count starts over at its match, as in the model.
func TestFrequencyKeysAgainstModel(t *testing.T) {
	const n, tf = 20, 10 * time.Second
	r := rand.New(rand.NewPCG(3, 5))
	typ := rlNewType(t, Spec{Type: "frequency", NumEvents: n, Timeframe: tf, MaxKeys: 10})
	keys := []string{"a", "b", "c"}
	model := map[string][]time.Duration{}
	newest := map[string]time.Duration{}
	fired, modelFired := map[string]int{}, map[string]int{}
	base := time.Duration(0)
	for i := range 20000 {
		base += time.Duration(r.IntN(100)) * time.Millisecond
		at := base - time.Duration(r.IntN(3000))*time.Millisecond
		k := keys[r.IntN(len(keys))]
		if ms := typ.Add(rlEvent(rlEv{at: at, key: k})); len(ms) > 0 {
			if ms[0].Key != k {
				t.Fatalf("document %d: match of key %q, want %q", i, ms[0].Key, k)
			}
			fired[k]++
		}
		w := model[k]
		if len(w) == 0 {
			newest[k] = at
		}
		if newest[k]-at >= tf {
			continue
		}
		newest[k] = max(newest[k], at)
		w = append(w, at)
		kept := w[:0]
		for _, m := range w {
			if newest[k]-m < tf {
				kept = append(kept, m)
			}
		}
		model[k] = kept
		if len(kept) >= n {
			modelFired[k]++
			model[k] = nil
		}
		if fired[k] != modelFired[k] {
			t.Fatalf("document %d (key %s at %v): %d matches, the model %d", i, k, at, fired[k], modelFired[k])
		}
	}
	for _, k := range keys {
		if fired[k] < 2 {
			t.Fatalf("key %s matched %d times: the test does not exercise windows that start over", k, fired[k])
		}
	}
}
