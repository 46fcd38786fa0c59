package rule

import (
	"testing"
)

// FuzzStatState feeds random bytes to UnmarshalState of each statistical
// rule type (chosen by which), then a few documents and ticks: no panic,
// the memory bounds hold, and whatever the type kept marshals into a state
// it loads again.
func FuzzStatState(f *testing.F) {
	scs := statScenarios()
	for i, sc := range scs {
		typ := sc.build(f)
		statRun(f, typ, 0, sc.steps[:sc.split])
		data, err := typ.MarshalState()
		if err != nil {
			f.Fatalf("%s: MarshalState() = %v", sc.name, err)
		}
		f.Add(uint8(i), data)
	}
	f.Add(uint8(0), []byte(`{"v":1,"bucket_ns":10000000000,"buckets":60,"keys":[{"k":"a","head":-9223372036854775808,"i":[0,119],"n":[4294967295,1]}]}`))
	f.Add(uint8(3), []byte(`{"v":1,"tick":9223372036854775807,"keys":[{"k":"a","first":-9223372036854775808,"vals":[[1,2],[3,-9223372036854775808]]}]}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		sc := scs[int(which)%len(scs)]
		spec := sc.spec
		spec.MaxKeys = 3
		typ := statNew(t, spec)
		_ = typ.UnmarshalState(data) // an error is fine; the type must still work
		statCheckBounds(t, typ, 3)
		steps := sc.steps
		if len(steps) > 8 {
			steps = append(steps[:5:5], steps[len(steps)-3:]...)
		}
		for i := range steps {
			if steps[i].n > 3 {
				steps[i].n = 3
			}
		}
		statRun(t, typ, 0, steps)
		statCheckBounds(t, typ, 3)
		out, err := typ.MarshalState()
		if err != nil {
			t.Fatalf("MarshalState() after loading %q = %v", data, err)
		}
		again := statNew(t, spec)
		if err := again.UnmarshalState(out); err != nil {
			t.Fatalf("UnmarshalState(MarshalState()) = %v for %s", err, out)
		}
		if spec.Type != "metric_aggregation" { // its distinct sets marshal in map order
			if out2, _ := again.MarshalState(); string(out2) != string(out) {
				t.Fatalf("state changed over a round trip:\n%s\n%s", out, out2)
			}
		}
	})
}

// statCheckBounds fails t when typ holds more than its bounds allow.
func statCheckBounds(t *testing.T, typ Type, maxKeys int) {
	t.Helper()
	if n := statKeyCount(typ); n > maxKeys {
		t.Fatalf("%T holds %d keys, above max_keys %d", typ, n, maxKeys)
	}
	switch x := typ.(type) {
	case *cardinality:
		total := 0
		x.keys.each(func(n *statNode[string, cardKey]) {
			if l := n.val.vals.len(); l > statDistinctPerKey {
				t.Fatalf("cardinality key %q holds %d values", n.key, l)
			}
			total += n.val.vals.len()
		})
		if total != x.total || total > statDistinctPerRule {
			t.Fatalf("cardinality holds %d values, counted %d", total, x.total)
		}
	case *newTerm:
		for i := range x.terms {
			if l := x.terms[i].len(); l > statTermsPerField {
				t.Fatalf("new_term field entry %d holds %d terms", i, l)
			}
		}
	case *metricAgg:
		total := 0
		x.b.keys.each(func(n *statNode[string, statOpen[metricAcc]]) {
			if l := len(n.val.acc.distinct); l > statDistinctPerKey {
				t.Fatalf("metric_aggregation key %q holds %d values", n.key, l)
			}
			total += len(n.val.acc.distinct)
		})
		if total != x.total {
			t.Fatalf("metric_aggregation holds %d distinct values, counted %d", total, x.total)
		}
	}
}
