package netflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// penReverse is the private enterprise number of RFC 5103 reverse IEs.
const penReverse = 29305

// varLen is the field length that marks a variable-length field: IPFIX
// (RFC 7011 §7), and NetFlow v9 from exporters that borrowed the encoding
// (H3C/Huawei NetStream), which RFC 3954 does not describe.
const varLen = 0xffff

// fieldSpec is one field specifier of a template as the exporter sent it.
type fieldSpec struct {
	ID  uint16 `json:"id"` // IE number without the enterprise bit
	Len uint16 `json:"len"`
	PEN uint32 `json:"pen,omitempty"`
}

// valueKind says how a field's bytes become an event.Field; it is fixed per
// template field at compile time.
type valueKind uint8

const (
	vUint valueKind = iota
	vInt
	vFloat
	vIP
	vMAC
	vString
	vHex
	vTimeSec
	vTimeMilli
	vTimeNTPMicro
	vTimeNTPNano
	vBool
)

// handler says which typed Event fact a field also feeds.
type handler uint8

const (
	hNone handler = iota
	hInBytes
	hInPkts
	hOutBytes
	hOutPkts
	hInitiatorOctets
	hResponderOctets
	hInitiatorPackets
	hResponderPackets
	hReverseBytes   // RFC 5103 reverseOctetDeltaCount (PEN 29305, IE 1)
	hReversePackets // RFC 5103 reversePacketDeltaCount (PEN 29305, IE 2)
	hProto
	hSrcPort
	hDstPort
	hICMPTypeCode
	hICMPType
	hICMPCode
	hSrcIP
	hDstIP
	hSrcMAC
	hDstMAC
	hStartUptime
	hEndUptime
	hStartSec
	hEndSec
	hStartMilli
	hEndMilli
	hStartNTP
	hEndNTP
	hStartDeltaMicro
	hEndDeltaMicro
	hSysInitMilli
	hDurationMilli
	hDurationMicro
	hSamplingInterval
	hSamplerID
	hSamplerRandomInterval
	hSelectorID
	hPacketInterval
	hPacketSpace
	hSamplingSize
	hSamplingPopulation
	hSelectorAlgorithm
	hSamplingProbability
)

// fieldOp is one compiled template field.
type fieldOp struct {
	off    int    // offset in the record; valid when the template is fixed-length
	length uint16 // varLen for IPFIX variable-length fields
	kind   valueKind
	h      handler
	key    string
}

// template is a compiled data or options template.
type template struct {
	id      uint16
	options bool
	scope   int // number of scope fields (the first ones); options templates only
	fields  []fieldSpec
	ops     []fieldOp // one per field that carries data (zero-length fields have none)
	fixed   bool      // no variable-length field: ops[i].off is valid
	// keysOK: every op key is unique and not one the encoder writes itself,
	// so events from this template can set event.Event.KeysChecked.
	keysOK bool
	// famPairs are the ops (indexes) of IPv4/IPv6 twins of one address
	// (source, destination, next hops, exporter, ...) that the template
	// carries both of; nil for nearly every template.
	famPairs [][2]int
	recLen   int // record length when fixed, else the minimum record length

	// Guarded by the exporter's mu: when it was last announced or used
	// (receive time, unix ns) and whether a data set was decoded with it.
	lastSeen int64
	used     bool
}

var (
	errNoData   = errors.New("every field has length 0: records would carry no data")
	errTooLong  = errors.New("record longer than 65535 bytes")
	errNoFields = errors.New("no fields")
	errBadID    = errors.New("template ID below 256")
	errBadScope = errors.New("bad scope field count")
)

// compile builds the field ops of a template; scopeV9 tells that the first
// scope fields use the NetFlow v9 scope type namespace.
func compile(version uint16, id uint16, options bool, scope int, fields []fieldSpec) (*template, error) {
	if id < 256 {
		return nil, fmt.Errorf("template %d: %w", id, errBadID)
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("template %d: %w", id, errNoFields)
	}
	// RFC 7011 §3.4.2.2: an IPFIX options template has at least one scope
	// field; NetFlow v9 exporters are let off.
	minScope := 1
	if version == 9 {
		minScope = 0
	}
	if options && (scope < minScope || scope > len(fields)) || !options && scope != 0 {
		return nil, fmt.Errorf("template %d: %w (%d of %d)", id, errBadScope, scope, len(fields))
	}
	t := &template{id: id, options: options, scope: scope, fields: fields, ops: make([]fieldOp, 0, len(fields)), fixed: true}
	off := 0
	for i, f := range fields {
		if f.Len == 0 {
			// A field of length 0 occupies no bytes of the record (some
			// exporters announce fields they do not fill): nothing to
			// write, and the other fields stay decodable.
			continue
		}
		t.ops = append(t.ops, fieldOp{})
		op := &t.ops[len(t.ops)-1]
		op.length = f.Len
		if f.Len == varLen {
			t.fixed = false
			off++ // the one-byte length prefix is the least a variable field takes
		} else {
			op.off = off
			off += int(f.Len)
		}
		if options && version == 9 && i < scope {
			op.key = scopeKey(f.ID)
			op.kind = intKind(f.Len)
			continue
		}
		op.key = fieldKey(f.PEN, f.ID)
		if f.PEN != 0 || int(f.ID) >= maxIE || ieTable[f.ID].name == "" {
			op.kind = vHex
			if f.PEN == penReverse && f.Len <= 8 {
				switch f.ID {
				case 1:
					op.h = hReverseBytes
				case 2:
					op.h = hReversePackets
				}
			}
			continue
		}
		op.kind, op.h = kindAndHandler(f.ID, ieTable[f.ID].typ, f.Len, version)
	}
	if len(t.ops) == 0 {
		return nil, fmt.Errorf("template %d: %w", id, errNoData)
	}
	if off > 65535 {
		return nil, fmt.Errorf("template %d: %w", id, errTooLong)
	}
	t.recLen = off
	t.keysOK = uniqueKeys(t.ops)
	if !options {
		t.famPairs = familyPairs(fields)
	}
	if !t.fixed {
		for i := range t.ops {
			t.ops[i].off = -1
		}
	}
	return t, nil
}

// familyTwins maps the IPv4 address IEs to their IPv6 twins: source and
// destination (8/27, 12/28), next hops (15/62, 18/63), exporter (130/131),
// collector (211/212), post-NAT source and destination (225/281, 226/282),
// prefixes (44/170, 45/169) and the MPLS top label address (47/140).
var familyTwins = map[uint16]uint16{8: 27, 12: 28, 15: 62, 18: 63, 130: 131, 211: 212, 225: 281, 226: 282, 44: 170, 45: 169, 47: 140}

// familyPairs returns the op indexes of the IPv4/IPv6 twins fields carries
// both of, as addresses (lengths 4 and 16). Zero-length fields have no op.
func familyPairs(fields []fieldSpec) [][2]int {
	var pairs [][2]int
	opIndex := func(id, l uint16) int {
		n := 0
		for _, f := range fields {
			if f.Len == 0 {
				continue
			}
			if f.PEN == 0 && f.ID == id && f.Len == l {
				return n
			}
			n++
		}
		return -1
	}
	for _, f := range fields {
		v6, ok := familyTwins[f.ID]
		if f.PEN != 0 || !ok || f.Len != 4 {
			continue
		}
		if i, j := opIndex(f.ID, 4), opIndex(v6, 16); i >= 0 && j >= 0 && !slices.Contains(pairs, [2]int{i, j}) {
			pairs = append(pairs, [2]int{i, j})
		}
	}
	return pairs
}

// uniqueKeys reports whether the keys of ops are distinct and none is a key
// the ECS encoder writes under netflow itself. Keys come from the static IE
// table or are generated (ie_N, pen_P_N), so they need no JSON escaping.
func uniqueKeys(ops []fieldOp) bool {
	for i := range ops {
		switch ops[i].key {
		case "type", "sampling_rate", "exporter":
			return false
		}
		for j := 0; j < i; j++ {
			if ops[i].key == ops[j].key {
				return false
			}
		}
	}
	return true
}

func intKind(l uint16) valueKind {
	if l <= 8 {
		return vUint
	}
	return vHex
}

// kindAndHandler picks the value kind and typed handler of a known IE. A
// field whose length does not fit its type is written as hex and feeds no
// typed fact.
func kindAndHandler(id uint16, typ ieType, l uint16, version uint16) (valueKind, handler) {
	isInt := l >= 1 && l <= 8
	switch typ {
	case tUnsigned:
		if !isInt {
			return vHex, hNone
		}
		return vUint, uintHandler(id)
	case tSigned:
		if !isInt {
			return vHex, hNone
		}
		return vInt, hNone
	case tFloat:
		if l != 4 && l != 8 {
			return vHex, hNone
		}
		if id == 311 {
			return vFloat, hSamplingProbability
		}
		return vFloat, hNone
	case tAddr4:
		if l != 4 {
			return vHex, hNone
		}
		switch id {
		case 8:
			return vIP, hSrcIP
		case 12:
			return vIP, hDstIP
		}
		return vIP, hNone
	case tAddr6:
		if l != 16 {
			return vHex, hNone
		}
		switch id {
		case 27:
			return vIP, hSrcIP
		case 28:
			return vIP, hDstIP
		}
		return vIP, hNone
	case tMAC:
		if l != 6 {
			return vHex, hNone
		}
		switch id {
		case 56:
			return vMAC, hSrcMAC
		case 80:
			return vMAC, hDstMAC
		}
		return vMAC, hNone
	case tString:
		return vString, hNone
	case tSeconds:
		if !isInt {
			return vHex, hNone
		}
		switch id {
		case 150:
			return vTimeSec, hStartSec
		case 151:
			return vTimeSec, hEndSec
		}
		return vTimeSec, hNone
	case tMillis:
		if !isInt {
			return vHex, hNone
		}
		switch id {
		case 152:
			return vTimeMilli, hStartMilli
		case 153:
			return vTimeMilli, hEndMilli
		case 160:
			return vTimeMilli, hSysInitMilli
		}
		return vTimeMilli, hNone
	case tMicros, tNanos:
		if l != 8 {
			return vHex, hNone
		}
		k := vTimeNTPMicro
		if typ == tNanos {
			k = vTimeNTPNano
		}
		switch id {
		case 154, 156:
			return k, hStartNTP
		case 155, 157:
			return k, hEndNTP
		}
		return k, hNone
	case tBool:
		if l != 1 {
			return vHex, hNone
		}
		return vBool, hNone
	}
	return vHex, hNone
}

func uintHandler(id uint16) handler {
	switch id {
	case 1:
		return hInBytes
	case 2:
		return hInPkts
	case 23:
		return hOutBytes
	case 24:
		return hOutPkts
	case 231:
		return hInitiatorOctets
	case 232:
		return hResponderOctets
	case 298:
		return hInitiatorPackets
	case 299:
		return hResponderPackets
	case 4:
		return hProto
	case 7:
		return hSrcPort
	case 11:
		return hDstPort
	case 32, 139:
		return hICMPTypeCode
	case 176, 178:
		return hICMPType
	case 177, 179:
		return hICMPCode
	case 22:
		return hStartUptime
	case 21:
		return hEndUptime
	case 158:
		return hStartDeltaMicro
	case 159:
		return hEndDeltaMicro
	case 161:
		return hDurationMilli
	case 162:
		return hDurationMicro
	case 34:
		return hSamplingInterval
	case 48:
		return hSamplerID
	case 50:
		return hSamplerRandomInterval
	case 302:
		return hSelectorID
	case 305:
		return hPacketInterval
	case 306:
		return hPacketSpace
	case 309:
		return hSamplingSize
	case 310:
		return hSamplingPopulation
	case 304:
		return hSelectorAlgorithm
	}
	return hNone
}

// sameAs reports whether t describes the same record layout as o.
func (t *template) sameAs(o *template) bool {
	return t.options == o.options && t.scope == o.scope && slices.Equal(t.fields, o.fields)
}

// templateRecord is one parsed record of a template set, before compiling.
type templateRecord struct {
	id       uint16
	scope    int
	fields   []fieldSpec
	withdraw bool // IPFIX: field count 0
}

var (
	errShortTemplate = errors.New("template record runs past the set")
)

// parseFieldSpecs reads n field specifiers from b; enterprise numbers only
// exist in IPFIX.
func parseFieldSpecs(b []byte, n int, ipfix bool) ([]fieldSpec, []byte, error) {
	if len(b) < 4*n {
		return nil, b, errShortTemplate
	}
	fs := make([]fieldSpec, 0, n)
	for range n {
		if len(b) < 4 {
			return nil, b, errShortTemplate
		}
		f := fieldSpec{ID: binary.BigEndian.Uint16(b), Len: binary.BigEndian.Uint16(b[2:])}
		b = b[4:]
		if ipfix && f.ID&0x8000 != 0 {
			if len(b) < 4 {
				return nil, b, errShortTemplate
			}
			f.ID &^= 0x8000
			f.PEN = binary.BigEndian.Uint32(b)
			b = b[4:]
		}
		fs = append(fs, f)
	}
	return fs, b, nil
}

// nextTemplateRecord parses the next template record of a set body. setID
// is the set/flowset ID (v9: 0 or 1; IPFIX: 2 or 3). done is true at the end
// of the set (including padding).
func nextTemplateRecord(b []byte, version, setID uint16) (rec templateRecord, rest []byte, done bool, err error) {
	ipfix := version == 10
	options := setID == 1 || setID == 3
	if len(b) < 4 {
		return rec, nil, true, nil // padding
	}
	rec.id = binary.BigEndian.Uint16(b)
	if rec.id == 0 && allZero(b) {
		return rec, nil, true, nil // padding
	}
	switch {
	case !options: // v9 set 0, IPFIX set 2: ID, count
		n := int(binary.BigEndian.Uint16(b[2:]))
		b = b[4:]
		if n == 0 {
			if ipfix {
				rec.withdraw = true
				return rec, b, false, nil
			}
			return rec, b, false, fmt.Errorf("template %d: %w", rec.id, errNoFields)
		}
		rec.fields, b, err = parseFieldSpecs(b, n, ipfix)
		return rec, b, false, err
	case ipfix: // IPFIX set 3: ID, count, scope count
		n := int(binary.BigEndian.Uint16(b[2:]))
		b = b[4:]
		if n == 0 {
			rec.withdraw = true
			return rec, b, false, nil
		}
		if len(b) < 2 {
			return rec, nil, false, errShortTemplate
		}
		rec.scope = int(binary.BigEndian.Uint16(b))
		b = b[2:]
		rec.fields, b, err = parseFieldSpecs(b, n, true)
		return rec, b, false, err
	default: // v9 set 1: ID, scope length, option length (bytes)
		if len(b) < 6 {
			return rec, nil, true, nil
		}
		sl := int(binary.BigEndian.Uint16(b[2:]))
		ol := int(binary.BigEndian.Uint16(b[4:]))
		b = b[6:]
		if sl%4 != 0 || ol%4 != 0 {
			return rec, nil, false, fmt.Errorf("options template %d: scope length %d or option length %d not a multiple of 4", rec.id, sl, ol)
		}
		rec.scope = sl / 4
		rec.fields, b, err = parseFieldSpecs(b, (sl+ol)/4, false)
		return rec, b, false, err
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
