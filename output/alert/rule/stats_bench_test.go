package rule

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func statBenchSpecs() []Spec {
	return []Spec{
		{Name: "spike", Type: "spike", Timeframe: time.Hour, SpikeHeight: 3, QueryKey: []string{"k"}},
		{Name: "spike_field_value", Type: "spike", Timeframe: time.Hour, SpikeHeight: 3, FieldValue: "n", QueryKey: []string{"k"}},
		{Name: "new_term", Type: "new_term", Fields: [][]string{{"u"}}},
		{Name: "cardinality", Type: "cardinality", Timeframe: time.Hour, CardinalityField: "u", MaxCardinality: statI(5000), QueryKey: []string{"k"}},
		{Name: "metric_aggregation", Type: "metric_aggregation", MetricAggKey: "n", MetricAggType: "avg", MaxThreshold: statF(1e9), QueryKey: []string{"k"}},
		{Name: "percentage_match", Type: "percentage_match", MatchBucketFilter: statMatcher{"u", "u1"}, MaxPercentage: statF(100), QueryKey: []string{"k"}},
	}
}

// BenchmarkStatAdd is the cost of Add for documents of 1,000 keys and
// 100 values of the watched field, one millisecond apart.
func BenchmarkStatAdd(b *testing.B) {
	const keys, values = 1000, 100
	var evs [keys]Event
	for i := range evs {
		evs[i] = Event{Key: fmt.Sprint("k", i), Doc: statD("u", fmt.Sprint("u", i%values), "n", i)}
	}
	for _, spec := range statBenchSpecs() {
		b.Run(spec.Name, func(b *testing.B) {
			typ := statNew(b, spec)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ev := &evs[i%keys]
				ev.Time = statT0.Add(time.Duration(i) * time.Millisecond)
				typ.Add(ev)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/event")
		})
	}
}

// BenchmarkStatTick is the cost of one Tick a second with 10,000 keys.
func BenchmarkStatTick(b *testing.B) {
	const keys = 10000
	for _, spec := range statBenchSpecs() {
		if spec.Type == "new_term" {
			continue
		}
		b.Run(spec.Name, func(b *testing.B) {
			typ := statNew(b, spec)
			for i := range keys {
				typ.Add(&Event{Key: fmt.Sprint("k", i), Doc: statD("u", "x", "n", 1), Time: statT0})
			}
			now := statT0
			for b.Loop() {
				now = now.Add(time.Second)
				typ.Tick(now)
				if statKeyCount(typ) == 0 { // buckets closed: refill so that every Tick has 10,000 keys
					b.StopTimer()
					for i := range keys {
						typ.Add(&Event{Key: fmt.Sprint("k", i), Doc: statD("u", "x", "n", 1), Time: now})
					}
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkStatMemoryPerKey is the heap a rule holds per query_key value
// with 100,000 distinct keys, each with one document.
func BenchmarkStatMemoryPerKey(b *testing.B) {
	const keys = 100000
	evs := make([]Event, keys)
	for i := range evs {
		evs[i] = Event{Key: fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), Doc: statD("u", "alice", "n", 1), Time: statT0}
	}
	for _, spec := range statBenchSpecs() {
		if spec.Name != "spike" && spec.Name != "cardinality" {
			continue
		}
		spec.MaxKeys = keys
		b.Run(spec.Name, func(b *testing.B) {
			var perKey float64
			n := 0
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				typ := statNew(b, spec)
				for i := range evs {
					typ.Add(&evs[i])
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if statKeyCount(typ) != keys {
					b.Fatalf("%d keys held, want %d", statKeyCount(typ), keys)
				}
				runtime.KeepAlive(typ)
				perKey += float64(after.HeapAlloc-before.HeapAlloc) / keys
				n++
			}
			b.ReportMetric(perKey/float64(n), "bytes/key")
		})
	}
}
