package rule

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad feeds random bytes to the loader as a rule file (with a base
// file and a !file list beside it): an error or a valid Rule, never a
// panic; a loaded rule runs in an engine.
func FuzzLoad(f *testing.F) {
	rlEnsureTypes()
	entries, _ := os.ReadDir(filepath.Join("testdata", "elastalert"))
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".yaml" {
			if b, err := os.ReadFile(filepath.Join("testdata", "elastalert", e.Name())); err == nil {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		"name: a\ntype: any\nalert: debug\n",
		"import: base.yaml\nname: b\ntype: frequency\nnum_events: 3\ntimeframe: {minutes: 1}\n",
		"name: c\ntype: blacklist\ncompare_key: x\nblacklist: [\"!file list.txt\", 1, 2.5, true]\nalert: [debug]\n",
		"name: d\ntype: blacklist\ncompare_key: x\nblacklist: [!file list.txt]\nalert: [debug]\n",
		"name: e\ntype: flatline\nthreshold: 2\ntimeframe: \"90s\"\nquery_key: [a, b]\nforget_keys: true\nalert: debug\nrealert: {minutes: 1}\nexponential_realert: {hours: 1}\naggregation: {schedule: '*/5 * * * *'}\n",
		"name: f\ntype: change\ncompare_key: [a, b]\nignore_null: \"true\"\nquery_key: k\ntimeframe: {days: 1}\nalert: debug\nfield_aliases: {a: b.c}\n",
		"base: &b {name: g, type: any}\n<<: *b\nalert: debug\n",
		"name: h\ntype: any\nalert: debug\nrealert: {weeks: 1e300}\n",
		"name: i\ntype: metric_aggregation\nmetric_agg_key: m\nmetric_agg_type: avg\nmax_threshold: 1\nbucket_interval: {minutes: 1}\nalert: debug\n",
		"import: self.yaml\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	rlWrite(f, dir, map[string]string{
		"base.yaml": "alert: debug\nindex: x-*\nfilter:\n- term: {a: b}\n",
		"list.txt":  "# a list\n1\n\n2\n",
	})
	path := filepath.Join(dir, "self.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Load(path, rlOpts())
		if err != nil {
			if r != nil {
				t.Fatalf("Load() returned a rule and an error: %v", err)
			}
			return
		}
		if r.Spec.Name == "" || Constructors[r.Spec.Type] == nil || r.Spec.MaxKeys <= 0 || r.Realert < 0 || r.ExponentialRealert < 0 || r.Aggregation < 0 || r.Hash == "" || r.TimestampField == "" {
			t.Fatalf("Load() gave an invalid rule: %+v", r)
		}
		if r.Spec.Type == "frequency" && (r.Spec.NumEvents < 1 || r.Spec.NumEvents > MaxWindowEvents || r.Spec.Timeframe <= 0) {
			t.Fatalf("frequency rule with num_events %d, timeframe %v", r.Spec.NumEvents, r.Spec.Timeframe)
		}
		e := NewEngine([]*Rule{r}, EngineConfig{Now: func() time.Time { return rlT0 }, Emit: func(*Fired) {}})
		if st := e.Stats(); len(st) != 1 || (st[0].Err != "" && !r.Disabled) {
			t.Fatalf("a loaded rule does not run: %+v", st)
		}
		e.Process(rlLogDoc(rlT0, map[string]any{"a": "b", "x": "1", "k": "v"}), "x-1")
		e.Tick(rlT0.Add(time.Hour))
	})
}

// FuzzLoadState feeds random bytes to Engine.LoadState of an engine with
// one rule of each simple type: an error or a loaded state, never a panic;
// the bounds hold and Process/Tick run afterwards.
func FuzzLoadState(f *testing.F) {
	rlEnsureTypes()
	dir := f.TempDir()
	rlWrite(f, dir, map[string]string{
		"any.yaml":   "name: any\ntype: any\nalert: debug\nquery_key: k\nrealert: {minutes: 1}\nexponential_realert: {hours: 1}\naggregation: {minutes: 5}\nmax_keys: 4\n",
		"freq.yaml":  "name: freq\ntype: frequency\nalert: debug\nnum_events: 3\ntimeframe: {minutes: 1}\nquery_key: k\nmax_keys: 4\n",
		"flat.yaml":  "name: flat\ntype: flatline\nalert: debug\nthreshold: 2\ntimeframe: {minutes: 1}\nquery_key: k\nmax_keys: 4\n",
		"chg.yaml":   "name: chg\ntype: change\nalert: debug\ncompare_key: v\nignore_null: false\nquery_key: k\nmax_keys: 4\n",
		"black.yaml": "name: black\ntype: blacklist\nalert: debug\ncompare_key: v\nblacklist: [x]\n",
	})
	rules, errs := LoadDirs([]string{dir}, rlOpts())
	if len(errs) > 0 {
		f.Fatal(errs)
	}
	seedEngine := NewEngine(rules, EngineConfig{Now: func() time.Time { return rlT0 }})
	seedEngine.Tick(rlT0)
	for i := range 12 {
		seedEngine.Process(rlLogDoc(rlT0.Add(time.Duration(i)*time.Second), map[string]any{"k": string(rune('a' + i%5)), "v": "x"}), "x")
	}
	seed, err := seedEngine.MarshalState()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"version":1,"rules":[]}`))
	f.Add([]byte(`{"version":1,"rules":[{"name":"any","hash":"","type":"any"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := NewEngine(rules, EngineConfig{Now: func() time.Time { return rlT0 }, Emit: func(*Fired) {}})
		_ = e.LoadState(data)
		s := e.snap.Load()
		for _, rs := range s.rules {
			c := rs.core
			c.mu.Lock()
			if len(c.silences) > maxKeysOf(rs.rule) || len(c.aggs) > maxKeysOf(rs.rule) {
				t.Fatalf("rule %s: %d silences, %d aggregations after LoadState", rs.rule.Spec.Name, len(c.silences), len(c.aggs))
			}
			for _, p := range c.aggs {
				if len(p.matches) > maxAggMatches {
					t.Fatalf("rule %s: aggregation of %d matches", rs.rule.Spec.Name, len(p.matches))
				}
			}
			switch typ := c.typ.(type) {
			case *frequency:
				if typ.keys.len() > typ.keys.max {
					t.Fatalf("frequency keys %d > %d", typ.keys.len(), typ.keys.max)
				}
				typ.keys.each(func(_ string, v *freqWindow) bool {
					if len(v.heap) >= typ.numEvents {
						t.Fatalf("frequency window of %d", len(v.heap))
					}
					return false
				})
			case *flatline:
				if typ.keys.len() > typ.keys.max {
					t.Fatalf("flatline keys %d > %d", typ.keys.len(), typ.keys.max)
				}
			case *change:
				if typ.keys.len() > typ.keys.max {
					t.Fatalf("change keys %d > %d", typ.keys.len(), typ.keys.max)
				}
			}
			c.mu.Unlock()
		}
		for i := range 6 {
			e.Process(rlLogDoc(rlT0.Add(time.Duration(i)*time.Second), map[string]any{"k": string(rune('a' + i%3)), "v": "x"}), "x")
		}
		e.Tick(rlT0.Add(time.Hour))
		e.Tick(rlT0.Add(-time.Hour))
		if _, err := e.MarshalState(); err != nil {
			t.Fatalf("MarshalState after LoadState: %v", err)
		}
	})
}
