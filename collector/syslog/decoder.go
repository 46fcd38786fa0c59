package syslog

import (
	"log/slog"
	"net/netip"
	"time"
	"unsafe"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
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
// whole line as message and tags the event _syslogheaderfailure. The year
// of an RFC 3164 timestamp is picked by the packet's receive time
// (Parser.Now; time.Now for a packet without one).
type Decoder struct {
	cfg    DecoderConfig
	parser Parser

	logger  *slog.Logger              // nil: no first-seen lines
	senders *obs.Newcomers[senderKey] // bounds the "new syslog sender" lines
}

// senderKey is a sender address on one listener.
type senderKey struct {
	addr     netip.Addr
	listener string
}

var _ collector.Decoder = (*Decoder)(nil)

// NewDecoder returns a Decoder.
func NewDecoder(cfg DecoderConfig) *Decoder {
	return &Decoder{cfg: cfg, parser: Parser{Location: cfg.Location}}
}

// WithLogger makes d log the first message of each sender on each
// listener (at most 4096 senders, 20 lines per 10 s) and returns d. Call it
// before the first Decode.
func (d *Decoder) WithLogger(l *slog.Logger) *Decoder {
	d.logger = l.With("component", "collector/syslog")
	d.senders = obs.NewNewcomers[senderKey](4096, 20, 10*time.Second)
	return d
}

// firstSeen logs the first message of a sender on a listener.
func (d *Decoder) firstSeen(p *collector.Packet, h *Header) {
	v := d.senders.Admit(senderKey{p.Src.Addr().Unmap(), p.Listener})
	switch {
	case v.Log:
		host := string(h.Hostname)
		if len(host) > 64 {
			host = host[:64]
		}
		d.logger.Info("new syslog sender", "sender", p.Src.Addr().Unmap(), "listener", p.Listener, "format", h.Format.String(),
			"hostname", host, "not_logged", v.Unlogged)
	case v.Full:
		d.logger.Warn("many syslog senders: new senders are no longer logged (sluice_collector_exporter_packets_total counts them)", "logged", 4096)
	}
}

// Decode implements collector.Decoder. It never returns an error: every
// message becomes an event.
func (d *Decoder) Decode(p *collector.Packet, b *event.Batch) error {
	var h Header
	// The year of an RFC 3164 timestamp is picked by the receive time
	// (what Parser.Now stands for), which the listener read already: no
	// clock read per line.
	pr := d.parser
	pr.received = p.Received
	pr.Parse(p.Data, &h)
	if d.logger != nil {
		d.firstSeen(p, &h)
	}
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
	if len(h.StructuredData) > 0 {
		structuredData(b, e, h.StructuredData, sub)
	}
	if d.cfg.KeepOriginal {
		s.Original = unsafe.String(&arena[0], len(arena))
	}
	return nil
}

// maxSDParams bounds the structured-data parameters kept per message.
const maxSDParams = 64

// sdPrefix is where RFC 5424 structured data goes (ECS
// log.syslog.structured_data, a flattened field): one field per
// parameter, log.syslog.structured_data.<SD-ID>.<PARAM-NAME>.
const sdPrefix = "log.syslog.structured_data."

// sdNameEnd holds the bytes that end an SD-ID or PARAM-NAME.
var sdNameEnd = [256]bool{' ': true, ']': true, '=': true, '"': true}

// structuredData adds the parameters of sd ("[id p=\"v\" ...][id2 ...]",
// as sent) to e as string fields. Values have their escapes (\" \\ \])
// undone. A malformed element ends the parsing: what was read before it is
// kept (the message itself is unchanged either way).
func structuredData(b *event.Batch, e *event.Event, sd []byte, sub func([]byte) string) {
	// Scratch on the stack for the usual lengths (the arena keeps copies).
	var kbuf, vbuf [128]byte
	key, val := kbuf[:0], vbuf[:0]
	n := 0
	for i := 0; i < len(sd) && sd[i] == '[' && n < maxSDParams; {
		i++
		j := sdNameStop(sd, i)
		if j == i || j == len(sd) {
			return
		}
		// The keys of this element's parameters share
		// log.syslog.structured_data.<SD-ID>.: written once.
		key = append(append(append(key[:0], sdPrefix...), sd[i:j]...), '.')
		base := len(key)
		i = j
		for i < len(sd) && sd[i] == ' ' && n < maxSDParams {
			i++
			j = sdNameStop(sd, i)
			if j == i || j+1 >= len(sd) || sd[j] != '=' || sd[j+1] != '"' {
				return
			}
			name := sd[i:j]
			i = j + 2
			start, escaped := i, false
			// The closing quote is the first '"' when no backslash comes
			// before it; else the value is walked escape by escape. Values
			// are short (ports, addresses, names): 8 bytes at a time
			// (sdValueStop) beats two memchr calls.
			i = sdValueStop(sd, i)
			if i == len(sd) {
				return
			}
			if sd[i] == '\\' {
				for i < len(sd) && sd[i] != '"' {
					if sd[i] == '\\' && i+1 < len(sd) {
						escaped = true
						i++
					}
					i++
				}
				if i >= len(sd) {
					return
				}
			}
			raw := sd[start:i]
			i++ // the closing quote
			var v string
			if escaped {
				val = val[:0]
				for k := 0; k < len(raw); k++ {
					if c := raw[k]; c == '\\' && k+1 < len(raw) && (raw[k+1] == '"' || raw[k+1] == '\\' || raw[k+1] == ']') {
						k++
						val = append(val, raw[k])
						continue
					}
					val = append(val, raw[k])
				}
				if len(val) > 0 {
					c := b.Bytes(val)
					v = unsafe.String(&c[0], len(c))
				}
			} else {
				v = sub(raw)
			}
			key = append(key[:base], name...)
			k := b.Bytes(key)
			e.AddString(unsafe.String(&k[0], len(k)), v)
			n++
		}
		if i >= len(sd) || sd[i] != ']' {
			return
		}
		i++
	}
}
