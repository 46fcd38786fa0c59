package rule

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/cputime"
)

// rlBenchRules writes 50 rules of a realistic mix (blacklists on F5 ASM
// ratings, frequency rules on denies per source, flatlines per sender,
// changes, whitelists, any rules on rare events), each with a filter, and
// loads them.
func rlBenchRules(b *testing.B) []*Rule {
	dir := b.TempDir()
	files := map[string]string{}
	for i := range 50 {
		var body string
		switch i % 5 {
		case 0:
			body = fmt.Sprintf("type: blacklist\ncompare_key: violation_rating\nblacklist: [3, 4, 5]\nfilter:\n- term: {event.dataset: f5.asm%d}\n", i)
		case 1:
			body = fmt.Sprintf("type: frequency\nnum_events: 500\ntimeframe: {minutes: 1}\nquery_key: source.ip\nfilter:\n- term: {event.action: deny%d}\n", i)
		case 2:
			body = fmt.Sprintf("type: flatline\nthreshold: 1\ntimeframe: {minutes: 10}\nquery_key: host.hostname\nfilter:\n- term: {event.dataset: meraki%d}\n", i)
		case 3:
			body = fmt.Sprintf("type: change\ncompare_key: source.geo.country_iso_code\nignore_null: true\nquery_key: user.name\nfilter:\n- term: {event.action: login%d}\n", i)
		case 4:
			body = fmt.Sprintf("type: any\nfilter:\n- term: {event.action: config-change%d}\n", i)
		}
		files[fmt.Sprintf("r%02d.yaml", i)] = fmt.Sprintf("name: rule %d\nalert: debug\nindex: sluice-*\n%s", i, body)
	}
	rlWrite(b, dir, files)
	rules, errs := LoadDirs([]string{dir}, rlOpts())
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return rules
}

// BenchmarkEngineProcess: the cost per document of 50 rules, with the
// test filter (a map of terms; internal/query's compiled filters differ).
func BenchmarkEngineProcess(b *testing.B) {
	rlEnsureTypes()
	rules := rlBenchRules(b)
	fields := map[string]any{
		"event.dataset": "meraki.flows", "host.hostname": "mx1", "source.ip": "10.0.0.1",
		"destination.ip": "192.0.2.1", "destination.port": 443, "message": "flow allowed src=10.0.0.1",
	}
	for _, tc := range []struct {
		name   string
		action string
	}{
		{"filter-miss", "allow"},
		{"one-frequency-match", "deny1"}, // rule 1 is a frequency rule on event.action deny1
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := NewEngine(rules, EngineConfig{Emit: func(*Fired) {}})
			f := map[string]any{"event.action": tc.action}
			for k, v := range fields {
				f[k] = v
			}
			doc := rlLogDoc(rlT0, f)
			index := "sluice-syslog-2026.12.07"
			b.ReportAllocs()
			n := 0
			cpu0 := cputime.Process()
			for b.Loop() {
				e.Process(doc, index)
				n++
			}
			// The CPU time of the process per document, which a machine shared
			// with other work does not inflate as it does the wall time.
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(n), "cpu-ns/doc")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/doc")
			if tc.action != "allow" && e.Stats()[1].Docs == 0 {
				b.Fatal("the frequency rule saw no document")
			}
		})
	}
}

// BenchmarkFrequencyKeys measures the memory of one frequency rule holding
// windows for 100,000 distinct query_key values (two documents each, under
// num_events).
func BenchmarkFrequencyKeys(b *testing.B) {
	const keys = 100_000
	var bytesPerKey float64
	for b.Loop() {
		typ, err := newFrequency(&Spec{Type: "frequency", NumEvents: 5, Timeframe: time.Hour, MaxKeys: keys})
		if err != nil {
			b.Fatal(err)
		}
		docs := make([]*Event, keys)
		doc := rlDocOf(map[string]any{"a": "b"})
		for i := range keys {
			docs[i] = &Event{Doc: doc, Time: rlT0, Key: "10.1." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)}
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, ev := range docs {
			typ.Add(ev)
			ev.Time = ev.Time.Add(time.Second)
			typ.Add(ev)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if typ.(*frequency).keys.len() != keys {
			b.Fatalf("%d keys held", typ.(*frequency).keys.len())
		}
		bytesPerKey = float64(after.HeapAlloc-before.HeapAlloc) / keys
		runtime.KeepAlive(docs)
		runtime.KeepAlive(typ)
	}
	b.ReportMetric(bytesPerKey, "bytes/key")
}
