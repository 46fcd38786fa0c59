package syslog

import (
	"time"
	"unsafe"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// DecoderConfig configures the syslog Decoder.
type DecoderConfig struct {
	// Location is the time zone of timestamps without one.
	Location *time.Location
	// KeepOriginal writes the whole line as event.original.
	KeepOriginal bool
}

// Decoder turns one syslog message (a UDP datagram or a TCP frame) into one
// KindSyslog event: the header goes to Event.Syslog, the message text to
// message. Vendor fields are extracted later, by the enrich stages. Nothing
// is dropped for being malformed: a header that cannot be parsed keeps the
// whole line as message and tags the event _syslogheaderfailure.
type Decoder struct {
	cfg    DecoderConfig
	parser Parser
}

var _ collector.Decoder = (*Decoder)(nil)

// NewDecoder returns a Decoder.
func NewDecoder(cfg DecoderConfig) *Decoder {
	return &Decoder{cfg: cfg, parser: Parser{Location: cfg.Location}}
}

// Decode implements collector.Decoder. It never returns an error: every
// message becomes an event.
func (d *Decoder) Decode(p *collector.Packet, b *event.Batch) error {
	var h Header
	d.parser.Parse(p.Data, &h)
	e := b.Add()
	e.Kind = event.KindSyslog
	e.Created = p.Received
	e.Observer = p.Src.Addr().Unmap()
	e.Listener = p.Listener
	if !h.Timestamp.IsZero() {
		e.Timestamp = h.Timestamp
	} else {
		e.Timestamp = p.Received
		e.Tags |= event.TagTimeFromReceive
	}
	if h.Problems&BadHeader != 0 {
		e.Tags |= event.TagHeaderFailure
	}
	if p.Truncated {
		e.Tags |= event.TagTruncated
	}
	s := &e.Syslog
	if h.Priority >= 0 {
		s.Priority, s.HasPriority = uint8(h.Priority), true
	}
	// One arena copy of the line; every string points into it.
	line := trimEnd(p.Data)
	arena := b.Bytes(line)
	sub := func(x []byte) string {
		if len(x) == 0 {
			return ""
		}
		off := int(uintptr(unsafe.Pointer(&x[0])) - uintptr(unsafe.Pointer(&line[0])))
		if off < 0 || off+len(x) > len(arena) {
			return string(x) // not a slice of the line (cannot happen with Parse)
		}
		return unsafe.String(&arena[off], len(x))
	}
	if len(line) == 0 {
		return nil
	}
	s.Hostname = sub(h.Hostname)
	s.AppName = sub(h.AppName)
	s.ProcID = sub(h.ProcID)
	s.MsgID = sub(h.MsgID)
	s.Message = sub(h.Message)
	if d.cfg.KeepOriginal {
		s.Original = unsafe.String(&arena[0], len(arena))
	}
	return nil
}
