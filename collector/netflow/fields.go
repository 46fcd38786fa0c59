package netflow

import "github.com/sluicelab/sluice/internal/event"

// FieldInfo describes one information element of the IE table: its key under
// netflow.* and the event.FieldType a value of the registered length is
// written as. A value whose length does not fit the type is written as
// event.FieldHex instead (a hex string), and elements outside the table as
// ie_<id> or pen_<pen>_<id> hex strings.
type FieldInfo struct {
	ID   uint16
	Key  string
	Type event.FieldType
}

// Fields returns the information elements sluice names, in ID order. The
// index template generator uses it so that every named field gets a mapping.
func Fields() []FieldInfo {
	var out []FieldInfo
	for id := range ieTable {
		ie := &ieTable[id]
		if ie.name == "" {
			continue
		}
		out = append(out, FieldInfo{ID: uint16(id), Key: ie.name, Type: ie.typ.fieldType()})
	}
	return out
}

// fieldType is the event.FieldType that field writes for a value of t.
func (t ieType) fieldType() event.FieldType {
	switch t {
	case tUnsigned:
		return event.FieldUint
	case tSigned:
		return event.FieldInt
	case tFloat:
		return event.FieldFloat
	case tAddr4, tAddr6:
		return event.FieldIP
	case tMAC:
		return event.FieldMAC
	case tString:
		return event.FieldString
	case tSeconds, tMillis, tMicros, tNanos:
		return event.FieldTime
	case tBool:
		return event.FieldBool
	}
	return event.FieldHex // tOctets
}
