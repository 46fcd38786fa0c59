package chaos

import (
	"encoding/json"
	"strconv"
	"testing"
)

// FuzzSeq: the checker reads documents sluice wrote (NDJSON lines, possibly
// torn by a kill) and must neither panic nor invent sequence numbers: a
// number it returns appears in the input.
func FuzzSeq(f *testing.F) {
	f.Add([]byte(`{"netflow":{"in_bytes":42}}`))
	f.Add([]byte(`{"message":"chaos line seq=17 end"}`))
	f.Add([]byte(`{"message":"seq=99999999999999999999999"}`))
	f.Add([]byte(`{"netflow":{"in_bytes":-1}}`))
	f.Add([]byte(`{"netflow":{"in_bytes":1e3}}`))
	f.Add([]byte(`{"netflow":{"in_by`))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := Seq(b)
		if !ok && s != 0 {
			t.Fatalf("Seq(%q) = %d, false; want 0 with false", b, s)
		}
		// The fast path agrees with a full decode whenever it answers and
		// the input is JSON.
		if fs, ok := fastFlowSeq(b); ok && json.Valid(b) {
			var d doc
			if json.Unmarshal(b, &d) == nil && d.Netflow.InBytes != nil && d.Netflow.InBytes.String() != strconv.FormatUint(fs, 10) {
				t.Fatalf("fastFlowSeq(%q) = %d, full decode has in_bytes %s", b, fs, d.Netflow.InBytes)
			}
		}
		tl := NewTally()
		tl.AddNDJSON(b)
		if tl.Distinct() > tl.Records || tl.Dups() < 0 {
			t.Fatalf("Tally of %q: distinct %d, records %d, dups %d", b, tl.Distinct(), tl.Records, tl.Dups())
		}
	})
}

func TestSeq(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{`{"netflow":{"in_bytes":42},"message":"seq=7"}`, 42, true},
		{`{"message":"<x> chaos line seq=17 end"}`, 17, true},
		{`{"message":"no number"}`, 0, false},
		{`{"message":"seq="}`, 0, false},
		{`{"netflow":{"in_bytes":"x"}}`, 0, false},
		{`{"netflow":`, 0, false},
		{`{"source":{"bytes":9},"netflow":{"in_bytes":123,"in_pkts":1}}`, 123, true},
		{`{"message":"x \"in_bytes\":5 y"}`, 0, false},
		{`{"netflow":{"in_bytes":77}`, 0, false},
	} {
		got, ok := Seq([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Seq(%s) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
