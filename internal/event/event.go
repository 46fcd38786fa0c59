// Package event defines the document that flows through sluice's pipeline:
// a typed Event, a reusable Batch of events, and the ECS JSON encoder.
//
// It is a leaf package: it imports nothing else of sluice's, so every stage,
// collector and output can depend on it.
package event

import (
	"net/netip"
	"time"
)

// Kind says what produced an event and picks its daily index.
type Kind uint8

// Event kinds.
const (
	KindUnknown Kind = iota
	KindFlow
	KindSyslog
	// KindAlert is a document sluice writes about itself (an alert rule's
	// alert): its JSON is complete in Event.Raw and its index is Event.Index.
	KindAlert
	// KindDNS is a DNS transaction (query and response paired) from
	// passive capture (collector/dnscap). It is encoded as a syslog
	// document is (sluice's own values and Fields merged by path) and its
	// index is Event.Index (output.index.dns).
	KindDNS
	// KindBeats is a document shipped by an Elastic Beat over Lumberjack
	// (collector/beats). It is encoded as a syslog document is, with the
	// Beat's own event.kind and event.module (none of sluice's), and its
	// index is Event.Index (output.index.beats).
	KindBeats
)

// String returns the short name used in index names and metric labels.
func (k Kind) String() string {
	switch k {
	case KindFlow:
		return "flows"
	case KindSyslog:
		return "syslog"
	case KindAlert:
		return "alerts"
	case KindDNS:
		return "dns"
	case KindBeats:
		return "beats"
	default:
		return "unknown"
	}
}

// Tags is a bit set of processing marks; they are written as ECS `tags`.
type Tags uint32

// Tag bits. Stages mark events instead of dropping them.
const (
	TagGrokFailure       Tags = 1 << iota // _grokparsefailure
	TagGeoMiss                            // _geoip_lookup_failure
	TagTruncated                          // _truncated
	TagHeaderFailure                      // _syslogheaderfailure
	TagSamplingUnknown                    // _sampling_rate_unknown: the exporter said it samples but no rate is known yet
	TagTimeFromReceive                    // _time_from_receive: the record had no usable time, receive time used
	TagTimeOutOfRange                     // _time_out_of_range: the event's own time was implausible, receive time used (see OriginalTimestamp)
	TagConversionFailure                  // _field_conversion_failure: a parsed value was not of its field's type (kept as text under <parser>.unconverted.*)
)

var tagNames = [...]string{
	"_grokparsefailure",
	"_geoip_lookup_failure",
	"_truncated",
	"_syslogheaderfailure",
	"_sampling_rate_unknown",
	"_time_from_receive",
	"_time_out_of_range",
	"_field_conversion_failure",
}

// TagName returns the name the encoder writes for tag bit i (1<<i), or ""
// for a bit with no name.
func TagName(i int) string {
	if i < 0 || i >= len(tagNames) {
		return ""
	}
	return tagNames[i]
}

// NumTags is the number of named tag bits.
const NumTags = len(tagNames)

// Has reports whether all bits of t2 are set.
func (t Tags) Has(t2 Tags) bool { return t&t2 == t2 }

// Endpoint is one side of a flow (ECS source.* / destination.*).
type Endpoint struct {
	IP      netip.Addr // invalid when unknown
	Port    uint16
	Bytes   uint64 // source.bytes: bytes sent by this side (0 = not known, unless HasBytes)
	Packets uint64
	MAC     [6]byte
	HasMAC  bool
	// Geo is the GeoIP answer for IP (nil: none, or not looked up);
	// shared, never modified.
	Geo      *Geo
	Locality Locality // source.locality / destination.locality

	// HasBytes and HasPackets say that a flow's Bytes and Packets were
	// reported, so a count of 0 is written (a flow the exporter counted
	// nothing of) rather than left out as unknown.
	HasBytes, HasPackets bool
}

// Flow holds the flow-specific top-level facts of a KindFlow event.
type Flow struct {
	// Protocol is the IANA protocol number (network.iana_number); valid when HasProtocol.
	Protocol    uint8
	HasProtocol bool

	// Bytes and Packets are network.bytes/packets, already scaled by SamplingRate.
	Bytes   uint64
	Packets uint64
	// HasBytes and HasPackets say that Bytes and Packets were reported:
	// written even when 0.
	HasBytes, HasPackets bool

	// ICMPType and ICMPCode are icmp.type and icmp.code of an ICMP or
	// ICMPv6 flow; valid when HasICMP.
	ICMPType, ICMPCode uint8
	HasICMP            bool
	// SamplingRate is the 1-in-N rate applied to Bytes/Packets (0 or 1: unsampled).
	SamplingRate uint64

	// Start and End are the flow's first and last packet times (zero when unknown).
	Start, End time.Time

	// Exporter facts (netflow.exporter.*).
	Version      uint16 // 5, 9, 10 (IPFIX); sFlow uses 5 with Kind of source "sflow"
	SourceID     uint32 // v9 source ID, IPFIX observation domain, sFlow agent sub-ID
	UptimeMillis uint64 // sysUptime from the header (v5/v9/sFlow); 0 for IPFIX
	HasUptime    bool
	SFlow        bool // true for sFlow samples (netflow.type reads "sflow")

	// UnsanctionedDNS is sluice.dns.unsanctioned_resolver: a flow to port
	// 53/853 of a server outside dns.allowed_resolvers (enrich/dnscheck).
	// Flows are encoded without their Fields, so it is a field of its own.
	UnsanctionedDNS bool
}

// FieldType says how a Field's value is held and encoded.
type FieldType uint8

// Field types.
const (
	FieldUint   FieldType = iota + 1 // U, JSON number
	FieldInt                         // int64(U), JSON number
	FieldString                      // S, JSON string
	FieldIP                          // IP, JSON string
	FieldMAC                         // B (6 bytes), "AA-BB-CC-DD-EE-FF" (ECS)
	FieldHex                         // B, lowercase hex string
	FieldTime                        // U = Unix nanoseconds, RFC 3339 string
	FieldBool                        // U != 0
	FieldFloat                       // math.Float64frombits(U)
)

// FieldTimeMillis holds U = Unix milliseconds (int64(U)), written as an
// RFC 3339 string like FieldTime, for times of any year (FieldTime's
// nanoseconds cover 1678..2262 only).
const FieldTimeMillis FieldType = FieldFloat + 1

// FieldJSON holds B = one complete, valid JSON value (an object such as
// one of dns.answers), written as it is. Only code that builds B itself
// (an encoder of its own) may use it, never text taken from input.
const FieldJSON FieldType = FieldTimeMillis + 1

// Field is one named value. For flows, Key is the flat IANA-style name written
// under `netflow.` (in_bytes, pen_9_12235, ...). B points into the owning
// Batch's arena and is only valid while the batch is.
type Field struct {
	Key  string
	Type FieldType
	U    uint64
	S    string
	IP   netip.Addr
	B    []byte
}

// Event is one document. The zero value is an empty event; reuse goes through
// Batch, which resets events without freeing their slices.
type Event struct {
	Kind      Kind
	Timestamp time.Time  // @timestamp, UTC; picks the daily index
	Created   time.Time  // event.created: when sluice received it
	Observer  netip.Addr // exporter / syslog sender address
	Src, Dst  Endpoint
	Flow      Flow
	Tags      Tags
	// OriginalTimestamp is sluice.original_timestamp: the event's own time
	// when it lay outside the accepted window and Timestamp was replaced by
	// the receive time (TagTimeOutOfRange); zero otherwise.
	OriginalTimestamp time.Time
	// Direction is network.direction (from the endpoints' localities).
	Direction Direction
	// Index is the index pattern a stage chose for this event (a parser
	// rule's or route's own index); 0 is the kind's default.
	Index IndexRef
	// Listener is the listener that received the event, as
	// "udp/0.0.0.0:5514" (transport/configured address); parsers can be
	// routed by it. Not written to the document.
	Listener string

	// NetFlow holds every decoded field of a flow record, written under `netflow.*`.
	NetFlow []Field

	// Syslog holds the header of a KindSyslog event.
	Syslog Syslog
	// Fields holds what parsers extracted from a syslog message, keyed by
	// dotted ECS path ("event.action", "url.path", "f5.asm.attack_type").
	// Addresses belong in Src/Dst when they are the event's source and
	// destination (so enrichment finds them); other addresses are FieldIP
	// fields. A path written by sluice itself wins over a field.
	Fields []Field

	// KeysChecked promises that the NetFlow keys are unique, none is a key
	// the encoder writes itself (type, sampling_rate, exporter) and none
	// needs JSON escaping. Decoders whose keys come from static tables set
	// it so the encoder can skip its duplicate check; leave it false for
	// keys that come from input (grok captures).
	KeysChecked bool

	// Raw, when set, is the whole document as JSON, written as it is
	// instead of encoding the fields above (KindAlert). Timestamp and
	// Index still pick the index. It must be one valid JSON object with no
	// newline.
	Raw []byte

	// layout is the cached layout a syslog event was last encoded with
	// (nil: none), for SyslogSource.
	layout *syslogPlan
}

// reset clears e for reuse while keeping slice capacity. The old fields
// beyond the new length are not zeroed (that took 4% of the syslog path):
// what they still point to is mostly the batch's own arena, which the
// batch keeps anyway, and every slot is overwritten when it is used again.
func (e *Event) reset() {
	nf, fs := e.NetFlow[:0], e.Fields[:0]
	*e = Event{NetFlow: nf, Fields: fs}
}

// Syslog is the header of a syslog message (ECS log.syslog.*, host.hostname,
// process.*). Strings usually point into the owning Batch's arena.
type Syslog struct {
	Priority    uint8 // 0..191, valid when HasPriority
	HasPriority bool
	Hostname    string
	AppName     string
	ProcID      string
	MsgID       string
	Message     string // ECS message
	Original    string // ECS event.original; "" when not kept
	// Dataset is event.dataset ("sluice.syslog" when empty), e.g. "meraki.flows".
	Dataset string
}

// AddField appends a parsed field (by dotted ECS path) to a syslog event.
func (e *Event) AddParsed(f Field) { e.Fields = append(e.Fields, f) }

// AddString appends a string field (by dotted ECS path) to a syslog
// event. It writes the field in place: append of a Field literal builds
// the 96 bytes in a temporary and copies them, which costs parsers with
// 30-60 fields per line several percent.
func (e *Event) AddString(key, val string) {
	n := len(e.Fields)
	if n == cap(e.Fields) {
		e.Fields = append(e.Fields, Field{})
	} else {
		e.Fields = e.Fields[:n+1]
	}
	f := &e.Fields[n]
	f.Key, f.Type, f.U, f.S, f.IP, f.B = key, FieldString, 0, val, netip.Addr{}, nil
}

// AddNumber appends a field of a numeric type (FieldInt, FieldUint,
// FieldFloat as bits, FieldBool, FieldTime), in place as AddString.
func (e *Event) AddNumber(key string, t FieldType, u uint64) {
	n := len(e.Fields)
	if n == cap(e.Fields) {
		e.Fields = append(e.Fields, Field{})
	} else {
		e.Fields = e.Fields[:n+1]
	}
	f := &e.Fields[n]
	f.Key, f.Type, f.U, f.S, f.IP, f.B = key, t, u, "", netip.Addr{}, nil
}

// AddUint appends an unsigned netflow field.
func (e *Event) AddUint(key string, v uint64) {
	e.NetFlow = append(e.NetFlow, Field{Key: key, Type: FieldUint, U: v})
}

// AddIP appends an address netflow field.
func (e *Event) AddIP(key string, ip netip.Addr) {
	e.NetFlow = append(e.NetFlow, Field{Key: key, Type: FieldIP, IP: ip})
}

// AddField appends f to the netflow fields.
func (e *Event) AddField(f Field) { e.NetFlow = append(e.NetFlow, f) }

// FieldByKey returns the first netflow field with key k.
func (e *Event) FieldByKey(k string) (Field, bool) {
	for _, f := range e.NetFlow {
		if f.Key == k {
			return f, true
		}
	}
	return Field{}, false
}
