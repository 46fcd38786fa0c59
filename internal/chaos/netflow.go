package chaos

import (
	"encoding/binary"
	"time"
)

// NetFlow v9 field types of the flow record V9 builds (RFC 3954 section 8).
const (
	fieldInBytes       = 1
	fieldInPkts        = 2
	fieldProtocol      = 4
	fieldL4SrcPort     = 7
	fieldIPv4SrcAddr   = 8
	fieldL4DstPort     = 11
	fieldIPv4DstAddr   = 12
	fieldLastSwitched  = 21
	fieldFirstSwitched = 22
)

// v9Fields is the template: type and length of each field, in record order.
var v9Fields = [][2]uint16{
	{fieldIPv4SrcAddr, 4}, {fieldIPv4DstAddr, 4}, {fieldL4SrcPort, 2}, {fieldL4DstPort, 2},
	{fieldProtocol, 1}, {fieldInBytes, 8}, {fieldInPkts, 4}, {fieldFirstSwitched, 4}, {fieldLastSwitched, 4},
}

// v9RecordLen is the length of one data record of the template.
const v9RecordLen = 4 + 4 + 2 + 2 + 1 + 8 + 4 + 4 + 4

// v9Uptime is the system uptime every packet claims; the flows of a packet
// start 2 s and end 1 s before its export time.
const v9Uptime = time.Hour

// V9 builds the NetFlow v9 export packets of one exporter stream (one
// source ID and template ID). Each flow's IN_BYTES is its sequence number,
// which the checker reads back as netflow.in_bytes. A V9 is not safe for
// concurrent use.
type V9 struct {
	SourceID   uint32
	TemplateID uint16 // 256..65535
	seq        uint32 // the header's package sequence
}

// Packet returns one export packet stamped with export time t: the template
// flowset when withTemplate, then a data flowset with one flow per sequence
// number (none: a template-only packet).
func (v *V9) Packet(t time.Time, withTemplate bool, seqs []uint64) []byte {
	count := len(seqs)
	if withTemplate {
		count++
	}
	b := make([]byte, 0, 20+8+4*len(v9Fields)+4+len(seqs)*v9RecordLen+4)
	b = binary.BigEndian.AppendUint16(b, 9)
	b = binary.BigEndian.AppendUint16(b, uint16(count))
	b = binary.BigEndian.AppendUint32(b, uint32(v9Uptime.Milliseconds()))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Unix()))
	b = binary.BigEndian.AppendUint32(b, v.seq)
	b = binary.BigEndian.AppendUint32(b, v.SourceID)
	v.seq++
	if withTemplate {
		b = binary.BigEndian.AppendUint16(b, 0) // template flowset
		b = binary.BigEndian.AppendUint16(b, uint16(4+4+4*len(v9Fields)))
		b = binary.BigEndian.AppendUint16(b, v.TemplateID)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v9Fields)))
		for _, f := range v9Fields {
			b = binary.BigEndian.AppendUint16(b, f[0])
			b = binary.BigEndian.AppendUint16(b, f[1])
		}
	}
	if len(seqs) == 0 {
		return b
	}
	body := 4 + len(seqs)*v9RecordLen
	pad := (4 - body%4) % 4
	b = binary.BigEndian.AppendUint16(b, v.TemplateID)
	b = binary.BigEndian.AppendUint16(b, uint16(body+pad))
	last := uint32((v9Uptime - time.Second).Milliseconds())
	first := uint32((v9Uptime - 2*time.Second).Milliseconds())
	for _, s := range seqs {
		b = append(b, 10, byte(s>>16), byte(s>>8), byte(s)) // source 10.x.y.z from the sequence number
		b = append(b, 192, 0, 2, byte(s%250+1))
		b = binary.BigEndian.AppendUint16(b, uint16(1024+s%60000))
		b = binary.BigEndian.AppendUint16(b, 443)
		b = append(b, 6)
		b = binary.BigEndian.AppendUint64(b, s)
		b = binary.BigEndian.AppendUint32(b, 1)
		b = binary.BigEndian.AppendUint32(b, first)
		b = binary.BigEndian.AppendUint32(b, last)
	}
	for range pad {
		b = append(b, 0)
	}
	return b
}
