package elasticsearch

import (
	"bytes"
	"fmt"
	"testing"
)

// goodItem returns one item as bulk.add writes it.
func goodItem(i int) string {
	var b bulk
	var id [idLen]byte
	doc := []byte(fmt.Sprintf(`{"i":%d,"message":"x"}`, i))
	docID(&id, 1764000000000, doc, 0)
	b.add("sluice-flows-2026.11.24", id[:], doc)
	return string(b.body)
}

func goodItems(from, n int) string {
	var s string
	for i := from; i < from+n; i++ {
		s += goodItem(i)
	}
	return s
}

// checkCover asserts that every byte of in is in exactly one good item or
// one damage span, in order.
func checkCover(t *testing.T, in []byte, good *bulk, dmg []damage) {
	t.Helper()
	var rebuilt []byte
	gi, pos := 0, 0
	for pos < len(in) {
		if len(dmg) > 0 && dmg[0].off == pos {
			blank := len(bytes.Trim(in[dmg[0].off:dmg[0].end], " \t\r\n")) == 0
			if dmg[0].end <= pos || dmg[0].end > len(in) || (dmg[0].docs < 1) != (dmg[0].reason == damageBlank) ||
				(dmg[0].reason == damageBlank) != (blank && dmg[0].docs == 0) {
				t.Fatalf("bad damage span %+v at %d of %d", dmg[0], pos, len(in))
			}
			rebuilt = append(rebuilt, in[dmg[0].off:dmg[0].end]...)
			pos = dmg[0].end
			dmg = dmg[1:]
			continue
		}
		if gi >= good.len() {
			t.Fatalf("byte %d of %d is neither in a good item nor in damage", pos, len(in))
		}
		it := good.item(gi)
		if !bytes.HasPrefix(in[pos:], it) {
			t.Fatalf("good item %d is not the input at byte %d", gi, pos)
		}
		if bytes.Count(it, []byte("\n")) != 2 || !validAction(it[:bytes.IndexByte(it, '\n')]) {
			t.Fatalf("good item %d is not an action and a document: %q", gi, it)
		}
		rebuilt = append(rebuilt, it...)
		pos += len(it)
		gi++
	}
	if gi != good.len() || len(dmg) != 0 {
		t.Fatalf("left over: %d good items, %d damage spans", good.len()-gi, len(dmg))
	}
	if !bytes.Equal(rebuilt, in) {
		t.Fatal("good items and damage do not re-assemble the input")
	}
}

func TestSalvage(t *testing.T) {
	two := goodItem(1)
	action, doc, _ := bytes.Cut([]byte(two), []byte("\n"))
	doc = bytes.TrimSuffix(doc, []byte("\n"))
	for _, tc := range []struct {
		name     string
		in       string
		good     int
		lostDocs int
		spans    int
		reason   string
	}{
		{"clean", goodItems(0, 5), 5, 0, 0, ""},
		{"empty", "", 0, 0, 0, ""},
		{"truncated tail", goodItems(0, 3) + goodItem(3)[:50], 3, 1, 1, damageTruncated},
		{"torn action", goodItems(0, 3) + `{"create":{"_ind`, 3, 1, 1, damageTruncated},
		{"action without document at the end", goodItems(0, 2) + string(action) + "\n", 2, 1, 1, damageMissingDoc},
		{"document missing in the middle", goodItems(0, 2) + string(action) + "\n" + goodItems(2, 2), 4, 1, 1, damageMissingDoc},
		{"stray newline inside a document", goodItems(0, 2) + string(action) + "\n" + string(doc[:5]) + "\n" + string(doc[5:]) + "\n" + goodItems(2, 3), 5, 1, 1, damageInvalidDoc},
		{"stray empty line", goodItems(0, 2) + "\n" + goodItems(2, 2), 4, 0, 1, damageBlank},
		{"blank lines at the end", goodItems(0, 2) + "\n \r\n", 2, 0, 1, damageBlank},
		{"damaged byte in a document", goodItems(0, 2) + string(action) + "\n" + string(doc[:3]) + "\xff" + string(doc[4:]) + "\n" + goodItems(2, 1), 3, 1, 1, damageInvalidDoc},
		{"invalid UTF-8 that is still JSON", goodItems(0, 1) + string(action) + "\n" + `{"m":"` + "\xc3\x28" + `"}` + "\n", 1, 1, 1, damageInvalidDoc},
		{"damaged action", goodItems(0, 2) + `{"create":{"_index":"a b","_id":"x"}}` + "\n" + string(doc) + "\n" + goodItems(2, 2), 4, 1, 1, damageBadAction},
		{"foreign action", `{"index":{"_index":"a"}}` + "\n{}\n" + goodItems(0, 1), 1, 1, 1, damageBadAction},
		{"random bytes", "\x00\x01\x02garbage\xfe\n\n\x7f", 0, 1, 1, damageBadAction},
		{"random bytes between items", goodItems(0, 1) + "zzzz\nyyyy\n" + goodItems(1, 1) + "qq\n" + goodItems(2, 1), 3, 2, 2, damageBadAction},
		{"two actions lost in one run", goodItems(0, 1) + string(action) + "\n" + string(action) + "\n" + "x\n" + goodItems(1, 1), 2, 2, 1, damageMissingDoc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			good := &bulk{}
			dmg := salvage(in, good, true)
			checkCover(t, in, good, dmg)
			lost := 0
			for _, d := range dmg {
				lost += d.docs
			}
			if good.len() != tc.good || lost != tc.lostDocs || len(dmg) != tc.spans {
				t.Errorf("salvage: %d good, %d lost in %d spans; want %d, %d, %d (%+v)", good.len(), lost, len(dmg), tc.good, tc.lostDocs, tc.spans, dmg)
			}
			if tc.reason != "" && len(dmg) > 0 && dmg[0].reason != tc.reason {
				t.Errorf("reason %q, want %q", dmg[0].reason, tc.reason)
			}
		})
	}
}

// FuzzSalvage: whatever a segment file holds, salvage does not panic,
// uses memory bounded by the input (the good bulk never outgrows it), and
// every byte ends up in exactly one good item or one damage span.
func FuzzSalvage(f *testing.F) {
	two := goodItem(1)
	f.Add([]byte(goodItems(0, 3)))
	f.Add([]byte(goodItems(0, 2) + two[:40]))
	f.Add([]byte(goodItems(0, 1) + "\n" + goodItems(1, 1)))
	f.Add([]byte("\x00\xff garbage\n\n"))
	f.Add([]byte(`{"create":{"_index":"a","_id":"b"}}` + "\n"))
	f.Add([]byte(`{"create":{"_index":"a","_id":"b"}}` + "\n" + `{"create":{"_index":"a","_id":"b"}}` + "\n{}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, check := range []bool{true, false} {
			good := &bulk{}
			dmg := salvage(in, good, check)
			if len(good.body) > len(in) {
				t.Fatalf("good part %d bytes from %d", len(good.body), len(in))
			}
			checkCover(t, in, good, dmg)
		}
	})
}
