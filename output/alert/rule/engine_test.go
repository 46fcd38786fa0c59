package rule

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

// rlClock is a settable clock.
type rlClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rlClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *rlClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// rlSink records what the engine emits.
type rlSink struct {
	mu    sync.Mutex
	fired []*Fired
}

func (s *rlSink) Emit(f *Fired) { s.mu.Lock(); s.fired = append(s.fired, f); s.mu.Unlock() }

// take returns what was emitted since the last take, as "rule/key[flags]xN"
// strings.
func (s *rlSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, f := range s.fired {
		d := f.Rule.Spec.Name + "/" + f.Key
		if f.Silenced {
			d += "[silenced]"
		}
		if f.Aggregated {
			d += fmt.Sprintf("[aggregated x%d]", len(f.Matches))
		}
		out = append(out, d)
	}
	s.fired = nil
	return out
}

func rlEngine(t testing.TB, clock *rlClock, rules ...*Rule) (*Engine, *rlSink) {
	t.Helper()
	sink := &rlSink{}
	return NewEngine(rules, EngineConfig{Now: clock.Now, Emit: sink.Emit}), sink
}

// rlLogDoc is a syslog-like document at t.
func rlLogDoc(t time.Time, fields map[string]any) *rlDoc {
	m := map[string]any{"@timestamp": t.Format(time.RFC3339Nano)}
	for k, v := range fields {
		m[k] = v
	}
	return rlDocOf(m)
}

func rlEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: emitted %q, want %q", what, got, want)
	}
}

func TestEngineIndexFilterKey(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: denies\ntype: any\nalert: debug\nrealert: {minutes: 0}\nindex: sluice-syslog-*,-sluice-syslog-old*\nquery_key: source.ip\nfilter:\n- term: {event.action: deny}\n")
	e, sink := rlEngine(t, clock, r)
	deny := map[string]any{"event.action": "deny", "source.ip": "10.0.0.1"}
	e.Process(rlLogDoc(rlT0, deny), "sluice-flows-2026.12.07")
	e.Process(rlLogDoc(rlT0, deny), "sluice-syslog-old-2026.12.07")
	e.Process(rlLogDoc(rlT0, map[string]any{"event.action": "allow", "source.ip": "10.0.0.1"}), "sluice-syslog-2026.12.07")
	rlEqual(t, "other index, excluded index, filter miss", sink.take(), nil)
	e.Process(rlLogDoc(rlT0, map[string]any{"event.action": "deny"}), "sluice-syslog-2026.12.07")
	rlEqual(t, "missing query_key", sink.take(), nil)
	e.Process(rlLogDoc(rlT0, deny), "sluice-syslog-2026.12.07")
	e.Process(rlDocOf(deny), "sluice-syslog-2026.12.07") // no @timestamp: the clock's time
	rlEqual(t, "match", sink.take(), []string{"denies/10.0.0.1", "denies/10.0.0.1"})
	st := e.Stats()
	want := RuleStats{Name: "denies", Docs: 3, NoKey: 1, NoTime: 1, Matches: 2, Fired: 2}
	got := st[0]
	got.EvalTime = 0
	if got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestEngineRealert(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: r\ntype: any\nalert: debug\nquery_key: user\n")
	e, sink := rlEngine(t, clock, r)
	at := func(d time.Duration, user string) {
		clock.Set(rlT0.Add(d))
		e.Process(rlLogDoc(rlT0.Add(d), map[string]any{"user": user}), "x")
	}
	at(0, "bob")
	at(30*time.Second, "bob")
	at(31*time.Second, "alice")
	at(59*time.Second, "bob")
	at(60*time.Second, "bob")
	rlEqual(t, "default realert of 1 minute per key", sink.take(), []string{"r/bob", "r/bob[silenced]", "r/alice", "r/bob[silenced]", "r/bob"})
	if st := e.Stats()[0]; st.Fired != 3 || st.Silenced != 2 || st.Matches != 5 {
		t.Errorf("Stats() = %+v", st)
	}
}

func TestEngineExponentialRealert(t *testing.T) {
	for _, tick := range []bool{false, true} {
		t.Run(fmt.Sprintf("tick=%v", tick), func(t *testing.T) {
			clock := &rlClock{t: rlT0}
			r := rlMustLoad(t, "name: r\ntype: any\nalert: debug\nrealert: {minutes: 1}\nexponential_realert: {hours: 1}\n")
			e, sink := rlEngine(t, clock, r)
			// ElastAlert's next_alert_time: an alert right when a silence ends
			// doubles the next one (1, 2, 4, 8, 16, 32 minutes, then the 1 h
			// cap); a long quiet period brings it back to 1 minute.
			steps := []struct {
				at       time.Duration
				silenced bool
			}{
				{0, false},           // silence 1m
				{time.Minute, false}, // 2m, until 3m
				{2 * time.Minute, true},
				{3 * time.Minute, false}, // 4m, until 7m
				{7*time.Minute - time.Second, true},
				{7 * time.Minute, false},  // 8m, until 15m
				{15 * time.Minute, false}, // 16m, until 31m
				{31 * time.Minute, false}, // 32m, until 63m
				{63 * time.Minute, false}, // 64m >= 1h: 1h, until 123m
				{122 * time.Minute, true},
				{123 * time.Minute, false},              // exp stays below the cap: 1h again, until 183m
				{183*time.Minute + 10*time.Hour, false}, // long quiet: back to 1m
				{183*time.Minute + 10*time.Hour + 30*time.Second, true},
				{183*time.Minute + 10*time.Hour + 61*time.Second, false},
			}
			var want []string
			for _, s := range steps {
				if tick {
					e.Tick(rlT0.Add(s.at))
				}
				clock.Set(rlT0.Add(s.at))
				e.Process(rlLogDoc(rlT0.Add(s.at), nil), "x")
				if s.silenced {
					want = append(want, "r/[silenced]")
				} else {
					want = append(want, "r/")
				}
			}
			rlEqual(t, "exponential realert", sink.take(), want)
		})
	}
}

func TestNextSilence(t *testing.T) {
	r := &Rule{Realert: time.Minute, ExponentialRealert: time.Hour}
	// After a 1-minute silence with exponent 3 (8 minutes) that ended 20
	// minutes ago: 20m > 8m -> 12m left, exp 2; 12m > 4m -> 8m, exp 1;
	// 8m > 2m -> 6m, exp 0; so a 1-minute silence with exp 0.
	got := nextSilence(r, &silence{until: rlT0, exp: 3}, rlT0.Add(20*time.Minute))
	if want := (silence{until: rlT0.Add(21 * time.Minute), exp: 0}); got != want {
		t.Errorf("nextSilence() = %+v, want %+v", got, want)
	}
	// Without exponential_realert the silence is always realert.
	r.ExponentialRealert = 0
	if got := nextSilence(r, &silence{until: rlT0, exp: 5}, rlT0); got != (silence{until: rlT0.Add(time.Minute)}) {
		t.Errorf("nextSilence() = %+v", got)
	}
}

func TestEngineAggregation(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: agg\ntype: any\nalert: debug\nrealert: {minutes: 0}\naggregation: {minutes: 10}\naggregation_key: host.hostname\nfield_aliases: {hostname: host.hostname}\n")
	e, sink := rlEngine(t, clock, r)
	for i, h := range []string{"a", "b", "a", "a", "b"} {
		clock.Set(rlT0.Add(time.Duration(i) * time.Minute))
		e.Process(rlLogDoc(clock.Now(), map[string]any{"host": map[string]any{"hostname": h}}), "x")
	}
	rlEqual(t, "before the window ends", sink.take(), nil)
	e.Tick(rlT0.Add(9*time.Minute + 59*time.Second))
	rlEqual(t, "Tick at 9m59s", sink.take(), nil)
	e.Tick(rlT0.Add(10 * time.Minute))
	rlEqual(t, "Tick at 10m (a's window)", sink.take(), []string{"agg/a[aggregated x3]"})
	e.Tick(rlT0.Add(11 * time.Minute))
	rlEqual(t, "Tick at 11m (b's window)", sink.take(), []string{"agg/b[aggregated x2]"})
	if st := e.Stats()[0]; st.Fired != 2 || st.Matches != 5 {
		t.Errorf("Stats() = %+v; an aggregated alert counts once", st)
	}

	// With realert, silenced matches are not aggregated (ElastAlert drops
	// them before aggregating); a cron schedule sends at its next time.
	r = rlMustLoad(t, "name: sched\ntype: any\nalert: debug\nrealert: {minutes: 2}\naggregation: {schedule: '*/5 * * * *'}\n")
	clock.Set(rlT0.Add(time.Minute)) // 10:01
	e, sink = rlEngine(t, clock, r)
	for _, d := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		clock.Set(rlT0.Add(d))
		e.Process(rlLogDoc(clock.Now(), nil), "x")
	}
	rlEqual(t, "silenced ones are emitted at once", sink.take(), []string{"sched/[silenced]"})
	e.Tick(rlT0.Add(4 * time.Minute))
	rlEqual(t, "Tick 10:04", sink.take(), nil)
	e.Tick(rlT0.Add(5 * time.Minute))
	got := sink.take()
	rlEqual(t, "Tick 10:05", got, []string{"sched/[aggregated x2]"})
}

func TestEngineFlatline(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: quiet\ntype: flatline\nalert: debug\nthreshold: 1\ntimeframe: {minutes: 1}\nrealert: {minutes: 5}\nquery_key: host.hostname\n")
	e, sink := rlEngine(t, clock, r)
	e.Tick(rlT0)
	e.Process(rlLogDoc(rlT0, map[string]any{"host.hostname": "fw1"}), "x")
	e.Process(rlLogDoc(rlT0, map[string]any{"host.hostname": "fw2"}), "x")
	for s := 1; s <= 90; s++ {
		now := rlT0.Add(time.Duration(s) * time.Second)
		clock.Set(now)
		if s%10 == 0 {
			e.Process(rlLogDoc(now, map[string]any{"host.hostname": "fw2"}), "x")
		}
		e.Tick(now)
	}
	got := sink.take()
	// fw1 goes quiet at 60s: one alert, then silenced each second.
	if len(got) != 31 || got[0] != "quiet/fw1" || got[1] != "quiet/fw1[silenced]" || slices.Contains(got, "quiet/fw2") {
		t.Errorf("emitted %d: %q...", len(got), got[:min(3, len(got))])
	}
}

func TestEngineStateRoundTrip(t *testing.T) {
	clock := &rlClock{t: rlT0}
	dir := t.TempDir()
	rlWrite(t, dir, map[string]string{
		"freq.yaml": "name: freq\ntype: frequency\nalert: debug\nnum_events: 3\ntimeframe: {minutes: 5}\nrealert: {minutes: 10}\nquery_key: source.ip\n",
		"agg.yaml":  "name: agg\ntype: any\nalert: debug\nrealert: {minutes: 0}\naggregation: {minutes: 10}\n",
	})
	load := func() []*Rule {
		rules, errs := LoadDirs([]string{dir}, rlOpts())
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return rules
	}
	src := func(ip string) *rlDoc { return rlLogDoc(clock.Now(), map[string]any{"source.ip": ip}) }

	e1, sink1 := rlEngine(t, clock, load()...)
	e1.Process(src("A"), "x")
	e1.Process(src("A"), "x")
	for range 3 {
		e1.Process(src("B"), "x")
	}
	rlEqual(t, "before the restart", sink1.take(), []string{"freq/B"})
	data, err := e1.MarshalState()
	if err != nil {
		t.Fatal(err)
	}

	clock.Set(rlT0.Add(time.Minute))
	e2, sink2 := rlEngine(t, clock, load()...)
	if err := e2.LoadState(data); err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	e2.Process(rlLogDoc(clock.Now(), map[string]any{"source.ip": "A", "event.action": "x"}), "x")
	for range 3 {
		e2.Process(src("B"), "x")
	}
	// A's window was two thirds full: the third document completes it. B is
	// still silenced. agg's 4 new matches join the 5 pending from before.
	rlEqual(t, "after the restart", sink2.take(), []string{"freq/A", "freq/B[silenced]"})
	e2.Tick(rlT0.Add(10 * time.Minute))
	got := sink2.take()
	rlEqual(t, "the pending aggregation survived", got, []string{"agg/[aggregated x9]"})

	// A changed rule does not take the old state.
	rlWrite(t, dir, map[string]string{"freq.yaml": "name: freq\ntype: frequency\nalert: debug\nnum_events: 3\ntimeframe: {minutes: 6}\nrealert: {minutes: 10}\nquery_key: source.ip\n"})
	e3, sink3 := rlEngine(t, clock, load()...)
	if err := e3.LoadState(data); err != nil {
		t.Fatal(err)
	}
	e3.Process(src("A"), "x")
	for range 3 {
		e3.Process(src("B"), "x")
	}
	rlEqual(t, "changed rule starts fresh", sink3.take(), []string{"freq/B"})
}

func TestEngineDamagedState(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: freq\ntype: frequency\nalert: debug\nnum_events: 2\ntimeframe: {minutes: 5}\n")
	e, sink := rlEngine(t, clock, r)
	e.Process(rlLogDoc(rlT0, nil), "x")
	good, err := e.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	var st engineState
	if err := json.Unmarshal(good, &st); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(s *engineState)) string {
		c := st
		c.Rules = slices.Clone(st.Rules)
		f(&c)
		b, _ := json.Marshal(c)
		return string(b)
	}
	bad := map[string]string{
		"empty":      "",
		"truncated":  string(good[:len(good)/2]),
		"not json":   "\x00\x01garbage",
		"trailing":   string(good) + "{}",
		"version":    `{"version":7,"rules":[]}`,
		"type state": mutate(func(s *engineState) { s.Rules[0].State = []byte("{not json") }),
		"base64":     strings.Replace(string(good), `"state":"`, `"state":"!!`, 1),
		"twice":      mutate(func(s *engineState) { s.Rules = append(s.Rules, s.Rules[0]) }),
		"bad time":   `{"version":1,"rules":[{"name":"freq","hash":"x","silences":[{"key":"","until":"yesterday"}]}]}`,
		"extra": mutate(func(s *engineState) {
			s.Rules[0].Aggregations = []aggSaved{{Key: "k", Matches: []matchSaved{{Extra: json.RawMessage(`[1]`)}}}}
		}),
	}
	for name, data := range bad {
		if err := e.LoadState([]byte(data)); err == nil {
			t.Errorf("LoadState(%s) = nil error", name)
		}
	}
	// Nothing changed: the half-full window completes.
	e.Process(rlLogDoc(rlT0, nil), "x")
	rlEqual(t, "after failed loads", sink.take(), []string{"freq/"})
}

func TestEngineSetRules(t *testing.T) {
	clock := &rlClock{t: rlT0}
	dir := t.TempDir()
	write := func(name, body string) *Rule {
		rlWrite(t, dir, map[string]string{name + ".yaml": body})
		r, err := Load(dir+"/"+name+".yaml", rlOpts())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	keep := write("keep", "name: keep\ntype: frequency\nalert: debug\nnum_events: 2\ntimeframe: {minutes: 5}\n")
	change := write("change", "name: change\ntype: frequency\nalert: debug\nnum_events: 2\ntimeframe: {minutes: 5}\n")
	gone := write("gone", "name: gone\ntype: any\nalert: debug\naggregation: {hours: 1}\n")
	e, sink := rlEngine(t, clock, keep, change, gone)
	e.Process(rlLogDoc(rlT0, nil), "x")
	rlEqual(t, "first document", sink.take(), nil)

	keep2 := write("keep", "name: keep\ntype: frequency\nalert: debug\nnum_events: 2\ntimeframe: {minutes: 5}\n")
	change2 := write("change", "name: change\ntype: frequency\nalert: debug\nnum_events: 2\ntimeframe: {minutes: 6}\n")
	e.SetRules([]*Rule{keep2, change2})
	rlEqual(t, "SetRules flushes the removed rule's aggregation", sink.take(), []string{"gone/[aggregated x1]"})
	e.Process(rlLogDoc(rlT0, nil), "x")
	rlEqual(t, "after SetRules", sink.take(), []string{"keep/"})
	names := []string{}
	for _, s := range e.Stats() {
		names = append(names, fmt.Sprintf("%s:%d", s.Name, s.Docs))
	}
	rlEqual(t, "Stats() names:docs", names, []string{"keep:2", "change:1"})

	// Disabled and duplicate rules are listed with why they do not run.
	dis := write("dis", "name: dis\ntype: any\nalert: debug\nis_enabled: false\n")
	e.SetRules([]*Rule{keep2, dis, keep2})
	var errs []string
	for _, s := range e.Stats() {
		errs = append(errs, s.Name+": "+s.Err)
	}
	rlEqual(t, "Stats() errors", errs, []string{"keep: ", "dis: disabled (is_enabled: false)", `keep: another rule is named "keep"; this one does not run`})
}

// TestEngineConcurrent runs Process from several goroutines while Tick and
// SetRules run (meant for -race); every match is emitted exactly once and
// an unchanged rule counts every document.
func TestEngineConcurrent(t *testing.T) {
	clock := &rlClock{t: rlT0}
	dir := t.TempDir()
	rlWrite(t, dir, map[string]string{
		"any.yaml":  "name: any\ntype: any\nalert: debug\nquery_key: k\nrealert: {seconds: 1}\n",
		"freq.yaml": "name: freq\ntype: frequency\nalert: debug\nnum_events: 3\ntimeframe: {minutes: 1}\nquery_key: k\naggregation: {seconds: 1}\n",
		"flat.yaml": "name: flat\ntype: flatline\nalert: debug\nthreshold: 1000\ntimeframe: {seconds: 1}\n",
		"alt.yaml":  "name: alt\ntype: change\nalert: debug\ncompare_key: v\nignore_null: true\nquery_key: k\n",
	})
	all, errs := LoadDirs([]string{dir}, rlOpts())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var emu sync.Mutex
	emitted := map[string]uint64{}
	e := NewEngine(all, EngineConfig{Now: clock.Now, Emit: func(f *Fired) {
		n := uint64(len(f.Matches))
		if f.Aggregated {
			n = uint64(f.NumHits)
		}
		emu.Lock()
		emitted[f.Rule.Spec.Name] += n
		emu.Unlock()
	}})
	const workers, perWorker = 4, 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e.Tick(rlT0.Add(time.Duration(i) * 100 * time.Millisecond))
		}
	}()
	go func() {
		defer bg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				e.SetRules(all[1:]) // drops alt (sorted first), keeps the others' state
			} else {
				e.SetRules(all)
			}
			e.Stats()
			if _, err := e.MarshalState(); err != nil {
				t.Error(err)
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				at := rlT0.Add(time.Duration(i) * time.Millisecond)
				e.Process(rlLogDoc(at, map[string]any{"k": fmt.Sprint(w, "-", i%50), "v": fmt.Sprint(i % 3)}), "x")
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	e.SetRules(all[1:])
	e.Tick(rlT0.Add(time.Hour)) // flush aggregations
	for _, st := range e.Stats() {
		if st.Name == "any" && st.Docs != workers*perWorker {
			t.Errorf("any: Docs = %d, want %d", st.Docs, workers*perWorker)
		}
		// Every match of a rule that kept its state was emitted once:
		// alerted, silenced or in an aggregation.
		if got := emitted[st.Name]; got != st.Matches || st.Matches == 0 {
			t.Errorf("%s: emitted %d matches, counted %d", st.Name, got, st.Matches)
		}
	}
}

// rlSeeder is a test type that takes history (Seeder) and counts it.
type rlSeeder struct {
	rlStub
	seeded, added int
}

func (s *rlSeeder) Seed(*Event)        { s.seeded++ }
func (s *rlSeeder) Add(*Event) []Match { s.added++; return nil }
func (s *rlSeeder) Evictions() uint64  { return uint64(s.seeded) }

func TestEngineSeed(t *testing.T) {
	Constructors["rltest_seeder"] = func(*Spec) (Type, error) { return &rlSeeder{}, nil }
	t.Cleanup(func() { delete(Constructors, "rltest_seeder") })
	clock := &rlClock{t: rlT0}
	seeding := &Rule{Spec: Spec{Name: "terms", Type: "rltest_seeder", QueryKey: []string{"k"}}, TimestampField: "@timestamp", Index: []string{"a-*"}}
	other := rlMustLoad(t, "name: any\ntype: any\nalert: debug\n")
	e, sink := rlEngine(t, clock, seeding, other)
	if got := e.SeedRules(); len(got) != 1 || got[0] != seeding {
		t.Fatalf("SeedRules() = %v, want the seeding rule", got)
	}
	e.Seed(rlLogDoc(rlT0, map[string]any{"k": "v"}), "a-1")
	e.Seed(rlLogDoc(rlT0, map[string]any{"k": "v"}), "b-1") // other index
	e.Seed(rlLogDoc(rlT0, nil), "a-1")                      // no query_key
	e.Seed(rlDocOf(map[string]any{"k": "v"}), "a-1")        // no time
	e.Process(rlLogDoc(rlT0, map[string]any{"k": "v"}), "a-1")
	rlEqual(t, "Seed emits nothing; Process does", sink.take(), []string{"any/"})
	var typ *rlSeeder
	for _, rs := range e.snap.Load().rules {
		if s, ok := rs.core.typ.(*rlSeeder); ok {
			typ = s
		}
	}
	if typ.seeded != 1 || typ.added != 1 {
		t.Errorf("seeded %d, added %d; want 1 and 1", typ.seeded, typ.added)
	}
}

func TestEngineEventClock(t *testing.T) {
	clock := &rlClock{t: rlT0.Add(24 * time.Hour)} // the wall clock is a day later and stands still
	r := rlMustLoad(t, "name: r\ntype: any\nalert: debug\nrealert: {minutes: 1}\n")
	sink := &rlSink{}
	e := NewEngine([]*Rule{r}, EngineConfig{Now: clock.Now, Emit: sink.Emit, EventClock: true})
	for _, d := range []time.Duration{0, 30 * time.Second, 61 * time.Second} {
		e.Process(rlLogDoc(rlT0.Add(d), nil), "x")
	}
	rlEqual(t, "realert on document times", sink.take(), []string{"r/", "r/[silenced]", "r/"})
}

// TestEngineRetiredCore: a match that reaches a rule's state after a
// reload dropped it is emitted at once, not left in an aggregation.
func TestEngineRetiredCore(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: agg\ntype: any\nalert: debug\naggregation: {hours: 1}\nrealert: {minutes: 0}\n")
	e, sink := rlEngine(t, clock, r)
	old := e.snap.Load()
	e.SetRules(nil)
	// A Process call that read the old snapshot before the swap.
	rs := old.rules[0]
	rs.core.mu.Lock()
	out := rs.core.handle(rs.rule, []Match{{Time: rlT0}}, rlT0, false, nil)
	rs.core.mu.Unlock()
	e.emit(out)
	rlEqual(t, "late match on a retired rule", sink.take(), []string{"agg/[aggregated x1]"})
}

// TestEngineGuardChoice: a rule is found by the term whose field the
// rules tell apart best (destination.port here, not the event.action all
// of them share), and every other term still holds: the rules fire
// exactly as their filters say, and a deny on another port runs none.
func TestEngineGuardChoice(t *testing.T) {
	clock := &rlClock{t: rlT0}
	// The real filters (the guards are read off their structure).
	opts := rlOpts()
	opts.CompileFilters = func(filters []any, aliases map[string]string) (query.Matcher, error) {
		return query.CompileFilters(filters, query.Options{Aliases: aliases})
	}
	load := func(t *testing.T, text string) *Rule {
		dir := t.TempDir()
		rlWrite(t, dir, map[string]string{"rule.yaml": text})
		r, err := Load(filepath.Join(dir, "rule.yaml"), opts)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var rules []*Rule
	for _, port := range []int{22, 23, 3389} {
		rules = append(rules, load(t, fmt.Sprintf("name: port %d\ntype: any\nalert: debug\nrealert: {minutes: 0}\nfilter:\n- term: {event.action: deny}\n- term: {destination.port: %d}\n", port, port)))
	}
	rules = append(rules, load(t, "name: any deny\ntype: any\nalert: debug\nrealert: {minutes: 0}\nfilter:\n- term: {event.action: deny}\n"))
	e, sink := rlEngine(t, clock, rules...)
	for _, rs := range e.snap.Load().rules {
		want := "destination.port"
		if rs.rule.Spec.Name == "any deny" {
			want = "event.action"
		}
		if !rs.hasGuard || rs.guard.Path != want {
			t.Errorf("rule %q is found by %q (%v), want %s", rs.rule.Spec.Name, rs.guard.Path, rs.hasGuard, want)
		}
	}
	doc := func(action string, port int) *rlDoc {
		return rlLogDoc(rlT0, map[string]any{"event.action": action, "destination.port": port})
	}
	e.Process(doc("deny", 23), "sluice-syslog-2026.12.07")
	rlEqual(t, "deny on 23", sink.take(), []string{"port 23/", "any deny/"})
	e.Process(doc("allow", 23), "sluice-syslog-2026.12.07")
	rlEqual(t, "allow on 23", sink.take(), nil)
	e.Process(doc("deny", 443), "sluice-syslog-2026.12.07")
	rlEqual(t, "deny on 443", sink.take(), []string{"any deny/"})
	if n := e.Stats()[0].Docs + e.Stats()[1].Docs + e.Stats()[2].Docs; n != 1 {
		t.Errorf("the port rules evaluated %d documents, want 1 (the deny on 23)", n)
	}
}

// TestGuardGroupMayHold: the first test of a guard group never turns
// away one of its own keys (text of any length, numbers, addresses of
// both families), and turns away most others.
func TestGuardGroupMayHold(t *testing.T) {
	g := &guardGroup{byText: map[string][]*ruleState{}, byNum: map[float64][]*ruleState{}, byIP: map[netip.Addr][]*ruleState{}}
	rs := &ruleState{}
	var keys []query.GuardKey
	for _, raw := range []string{"deny", "192.0.2.7", "2001:db8::1", "443", "-1.5", strings.Repeat("x", 70), "", "router-1"} {
		m, err := query.CompileFilters([]any{map[string]any{"term": map[string]any{"f": raw}}}, query.Options{})
		if err != nil {
			t.Fatal(err)
		}
		gd, ok := query.GuardOf(m)
		if !ok {
			t.Fatalf("no guard for %q", raw)
		}
		for _, k := range gd.Keys {
			g.add(k, rs)
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if !g.mayHold(&k) || len(g.rules(&k)) != 1 {
			t.Errorf("key %+v of the group is turned away", k)
		}
	}
	misses := 0
	for _, v := range []query.Value{{Kind: query.KindString, Str: "allow"}, {Kind: query.KindNumber, Num: 8080},
		{Kind: query.KindIP, IP: netip.MustParseAddr("198.51.100.9")}, {Kind: query.KindString, Str: "rout-1"}} {
		for _, k := range query.ValueKeys(&v, nil) {
			if len(g.rules(&k)) != 0 {
				t.Errorf("value %v finds rules", v)
			}
			if !g.mayHold(&k) {
				misses++
			}
		}
	}
	if misses < 3 {
		t.Errorf("only %d other keys turned away by the first test", misses)
	}
}

// TestGuardGroupValueRules: valueRules finds, for every kind of value,
// exactly the rules the value's keys (query.ValueKeysOf) find through
// rules, each once: groups of text keys only and of mixed keys, values
// that turn into several keys, and values of kinds no key has.
func TestGuardGroupValueRules(t *testing.T) {
	newGroup := func(terms map[string]string) (*guardGroup, map[*ruleState]string) {
		g := &guardGroup{byText: map[string][]*ruleState{}, byNum: map[float64][]*ruleState{}, byIP: map[netip.Addr][]*ruleState{}}
		names := map[*ruleState]string{}
		for name, raw := range terms {
			m, err := query.CompileFilters([]any{map[string]any{"term": map[string]any{"f": raw}}}, query.Options{})
			if err != nil {
				t.Fatal(err)
			}
			gd, _ := query.GuardOf(m)
			rs := &ruleState{}
			names[rs] = name
			for _, k := range gd.Keys {
				g.add(k, rs)
			}
		}
		return g, names
	}
	vals := []query.Value{{Kind: query.KindString, Str: "web02"}, {Kind: query.KindString, Str: "443"},
		{Kind: query.KindString, Str: "443.0"}, {Kind: query.KindString, Str: "192.0.2.7"}, {Kind: query.KindString, Str: "::ffff:192.0.2.7"},
		{Kind: query.KindNumber, Num: 443}, {Kind: query.KindNumber, Num: 80}, {Kind: query.KindIP, IP: netip.MustParseAddr("::ffff:192.0.2.7")},
		{Kind: query.KindIP, IP: netip.MustParseAddr("192.0.2.8")}, {Kind: query.KindBool, Bool: true}, {Kind: query.KindTime, Time: rlT0}, {}}
	found := 0
	for _, terms := range []map[string]string{
		{"web": "web02", "true": "true", "long": strings.Repeat("x", 70)},
		{"port": "443", "web": "web02", "addr": "192.0.2.7", "true": "true", "n": "80"},
	} {
		g, names := newGroup(terms)
		for _, v := range vals {
			var want []string
			for _, k := range query.ValueKeysOf(&v, g.kinds, nil) {
				for _, rs := range g.rules(&k) {
					if !slices.Contains(want, names[rs]) {
						want = append(want, names[rs])
					}
				}
			}
			sc := &processScratch{}
			g.valueRules(&v, sc)
			var got []string
			for _, rs := range sc.done {
				got = append(got, names[rs])
			}
			if !slices.Equal(got, want) {
				t.Errorf("group %v: valueRules(%+v) found %q, the keys find %q", terms, v, got, want)
			}
			found += len(got)
		}
	}
	if found < 8 {
		t.Errorf("only %d rules found: the test exercises too little", found)
	}
}

// TestEngineTopCounts: an alert of a rule with top_count_keys carries the
// counts of each field's values among the documents of the same
// query_key value that passed the filter within the timeframe before the
// match, as ElastAlert asks Elasticsearch for them.
func TestEngineTopCounts(t *testing.T) {
	clock := &rlClock{t: rlT0}
	r := rlMustLoad(t, "name: scan\ntype: frequency\nnum_events: 4\ntimeframe: {minutes: 10}\nalert: debug\nquery_key: source.ip\n"+
		"top_count_keys: [destination.port, network.transport]\nfilter:\n- term: {event.action: deny}\n")
	e, sink := rlEngine(t, clock, r)
	deny := func(at time.Duration, src string, port int) *rlDoc {
		return rlLogDoc(rlT0.Add(at), map[string]any{"event.action": "deny", "source.ip": src, "destination.port": port, "network.transport": "tcp"})
	}
	const idx = "sluice-syslog-2026.12.07"
	e.Process(deny(-20*time.Minute, "10.0.0.1", 21), idx) // before the timeframe
	e.Process(deny(0, "10.0.0.1", 22), idx)
	e.Process(deny(time.Minute, "10.0.0.2", 80), idx) // another key
	e.Process(rlLogDoc(rlT0.Add(time.Minute), map[string]any{"event.action": "allow", "source.ip": "10.0.0.1", "destination.port": 443}), idx)
	e.Process(deny(2*time.Minute, "10.0.0.1", 22), idx)
	e.Process(deny(3*time.Minute, "10.0.0.1", 23), idx)
	if got := sink.take(); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	e.Process(deny(4*time.Minute, "10.0.0.1", 22), idx)
	sink.mu.Lock()
	fired := sink.fired
	sink.fired = nil
	sink.mu.Unlock()
	if len(fired) != 1 {
		t.Fatalf("fired %d alerts, want 1", len(fired))
	}
	want := map[string]map[string]int{"destination.port": {"22": 3, "23": 1}, "network.transport": {"tcp": 4}}
	if got := fired[0].TopCounts; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TopCounts = %v, want %v", got, want)
	}
}

// TestRecentValuesBound: the counts look at the last maxRecent documents
// only, and the ring reuses its slots.
func TestRecentValuesBound(t *testing.T) {
	r := newRecentValues(1)
	for i := range maxRecent + 500 {
		v := "old"
		if i >= 500 {
			v = "new"
		}
		r.add(rlT0.Add(time.Duration(i)*time.Millisecond), "", []string{v}, []bool{true})
	}
	got := r.counts([]string{"f"}, "", rlT0.Add(time.Hour), 2*time.Hour)
	if got["f"]["new"] != maxRecent || got["f"]["old"] != 0 || len(r.ring) != maxRecent {
		t.Errorf("counts %v (ring %d), want %d new and no old", got, len(r.ring), maxRecent)
	}
}

// TestProcessorReleaseClears: the working space a Processor gives back
// holds nothing of the batch's documents (values, keys, rules seen), so
// the pool does not keep a batch alive.
func TestProcessorReleaseClears(t *testing.T) {
	r, err := rlLoadString(t, "name: deny\ntype: any\nalert: debug\nfilter:\n- term: {event.action: deny}\n")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := rlEngine(t, &rlClock{t: rlT0}, r)
	p := e.Processor()
	for range 3 {
		p.Process(rlLogDoc(rlT0, map[string]any{"event.action": "deny", "source.ip": "10.0.0.1"}), "x")
	}
	sc := p.sc
	if cap(sc.vals) == 0 {
		t.Fatal("the processor read no values: the test tests nothing")
	}
	// Guard keys and rules seen come with guarded rules (the real filter
	// compiler's; the output/alert stage tests run those).
	sc.keys = query.ValueKeys(&query.Value{Kind: query.KindString, Str: "deny"}, sc.keys[:0])
	sc.done = append(sc.done[:0], &ruleState{})
	p.Release()
	for i, v := range sc.vals[:cap(sc.vals)] {
		if v != (query.Value{}) {
			t.Fatalf("vals[%d] = %+v after Release", i, v)
		}
	}
	for i, k := range sc.keys[:cap(sc.keys)] {
		if k != (query.GuardKey{}) {
			t.Fatalf("keys[%d] = %+v after Release", i, k)
		}
	}
	for i, d := range sc.done[:cap(sc.done)] {
		if d != nil {
			t.Fatalf("done[%d] is set after Release", i)
		}
	}
}
