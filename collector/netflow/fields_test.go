package netflow

import (
	"testing"

	"github.com/sluicelab/sluice/internal/event"
)

// TestFieldsMatchDecoder checks that Fields reports the type the decoder
// writes for each IE at its registered length.
func TestFieldsMatchDecoder(t *testing.T) {
	length := map[ieType]uint16{tUnsigned: 4, tSigned: 4, tFloat: 8, tAddr4: 4, tAddr6: 16, tMAC: 6, tString: 8,
		tOctets: 8, tSeconds: 4, tMillis: 8, tMicros: 8, tNanos: 8, tBool: 1}
	written := map[valueKind]event.FieldType{vUint: event.FieldUint, vInt: event.FieldInt, vFloat: event.FieldFloat,
		vIP: event.FieldIP, vMAC: event.FieldMAC, vString: event.FieldString, vHex: event.FieldHex,
		vTimeSec: event.FieldTime, vTimeMilli: event.FieldTime, vTimeNTPMicro: event.FieldTime,
		vTimeNTPNano: event.FieldTime, vBool: event.FieldBool}
	fields := Fields()
	if len(fields) != len(ianaElements) {
		t.Errorf("Fields() has %d elements, the table %d", len(fields), len(ianaElements))
	}
	seen := make(map[string]bool)
	for i, f := range fields {
		if i > 0 && f.ID <= fields[i-1].ID {
			t.Errorf("Fields()[%d] = IE %d after IE %d; want ID order", i, f.ID, fields[i-1].ID)
		}
		if seen[f.Key] {
			t.Errorf("IE %d: key %q is used twice", f.ID, f.Key)
		}
		seen[f.Key] = true
		if want := fieldKey(0, f.ID); f.Key != want {
			t.Errorf("IE %d: Fields() key %q, decoder writes %q", f.ID, f.Key, want)
		}
		typ := ieTable[f.ID].typ
		l, ok := length[typ]
		if !ok {
			t.Fatalf("IE %d: no test length for type %d", f.ID, typ)
		}
		kind, _ := kindAndHandler(f.ID, typ, l, 10)
		if want, ok := written[kind]; !ok || f.Type != want {
			t.Errorf("IE %d (%s): Fields() type %d, decoder writes %d (value kind %d)", f.ID, f.Key, f.Type, want, kind)
		}
	}
}
