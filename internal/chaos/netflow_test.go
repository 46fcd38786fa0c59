package chaos

import (
	"encoding/binary"
	"testing"
	"time"
)

// TestV9Packet checks the builder's framing: header count, flowset
// lengths (4-byte aligned, summing to the datagram) and each flow's
// IN_BYTES at its offset.
func TestV9Packet(t *testing.T) {
	v := V9{SourceID: 9, TemplateID: 300}
	for _, tc := range []struct {
		name     string
		template bool
		seqs     []uint64
	}{
		{"template only", true, nil},
		{"data only", false, []uint64{1, 2, 3}},
		{"template and 30 flows", true, make([]uint64, 30)},
	} {
		for i := range tc.seqs {
			tc.seqs[i] = uint64(1000 + i)
		}
		b := v.Packet(time.Unix(1700000000, 0), tc.template, tc.seqs)
		if got := binary.BigEndian.Uint16(b); got != 9 {
			t.Fatalf("%s: version %d, want 9", tc.name, got)
		}
		wantCount := len(tc.seqs)
		if tc.template {
			wantCount++
		}
		if got := int(binary.BigEndian.Uint16(b[2:])); got != wantCount {
			t.Errorf("%s: count %d, want %d", tc.name, got, wantCount)
		}
		off, sets := 20, 0
		for off < len(b) {
			id, l := binary.BigEndian.Uint16(b[off:]), int(binary.BigEndian.Uint16(b[off+2:]))
			if l < 4 || l%4 != 0 || off+l > len(b) {
				t.Fatalf("%s: flowset %d at %d has length %d (datagram %d bytes)", tc.name, id, off, l, len(b))
			}
			if id == v.TemplateID {
				for i, s := range tc.seqs {
					rec := b[off+4+i*v9RecordLen:]
					if got := binary.BigEndian.Uint64(rec[13:]); got != s {
						t.Errorf("%s: flow %d IN_BYTES %d, want %d", tc.name, i, got, s)
					}
				}
			}
			off += l
			sets++
		}
		if off != len(b) {
			t.Errorf("%s: flowsets end at %d, datagram is %d bytes", tc.name, off, len(b))
		}
	}
}
