package beats

import (
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/sluicelab/sluice/internal/event"
)

// Bounds of one converted document. The encoder nests at most 17 path
// segments and has room for event.MaxParsedFields values besides
// sluice's own.
const (
	maxDepth  = 15                    // objects deeper than this are kept whole, as JSON
	maxFields = event.MaxParsedFields // further leaves are left out and the event is tagged _truncated
)

// Beat names counted on their own (sluice_beats_events_total{beat}); any
// other is "other".
var beatNames = [...]string{"filebeat", "packetbeat", "winlogbeat", "auditbeat", "metricbeat", "heartbeat", "other"}

const beatOther = len(beatNames) - 1

func beatIndex(name string) int {
	for i, n := range beatNames[:beatOther] {
		if n == name {
			return i
		}
	}
	return beatOther
}

// errNotObject is returned for a document that is valid JSON but not an
// object.
var errNotObject = errors.New("beats: document is not a JSON object")

// converter turns Beat documents into events. It is not safe for
// concurrent use: each worker has its own.
type converter struct {
	p     fastjson.Parser
	path  []byte
	js    []byte // scratch for re-encoded JSON values
	index event.IndexRef

	// Facts gathered while walking one document.
	beat                                            string
	hasCreated, hasAgentType, hasDataset, truncated bool
	sysmon                                          sysmonFacts
}

// convert fills e (a fresh event of b) from one Beat document. peer is
// the Beat's address, now the receive time. The beat name (from
// @metadata.beat or agent.type) is returned for the metrics.
func (c *converter) convert(b *event.Batch, e *event.Event, doc []byte, peer netip.Addr, now time.Time) (beat string, err error) {
	v, err := c.p.ParseBytes(doc)
	if err != nil {
		return "", err
	}
	o, err := v.Object()
	if err != nil {
		return "", errNotObject
	}
	c.beat, c.hasCreated, c.hasAgentType, c.hasDataset, c.truncated = "", false, false, false, false
	c.sysmon = sysmonFacts{}
	e.Kind = event.KindBeats
	e.Observer = peer
	e.Index = c.index
	c.path = c.path[:0]
	c.object(b, e, o, 0)
	if e.Timestamp.IsZero() {
		e.Timestamp = now
		e.Tags |= event.TagTimeFromReceive
	}
	if !c.hasCreated {
		e.Created = now
	}
	if !c.hasDataset {
		e.Syslog.Dataset = "sluice.beats"
	}
	if c.beat != "" && !c.hasAgentType {
		c.add(e, event.Field{Key: "agent.type", Type: event.FieldString, S: c.beat})
	}
	if c.sysmon.isDNSQuery() {
		c.sysmon.apply(c, b, e)
	}
	if c.truncated {
		e.Tags |= event.TagTruncated
	}
	return c.beat, nil
}

// add appends f unless the document has too many values already.
func (c *converter) add(e *event.Event, f event.Field) {
	if len(e.Fields) >= maxFields {
		c.truncated = true
		return
	}
	e.AddParsed(f)
}

// str copies p into the batch's arena.
func str(b *event.Batch, p []byte) string {
	if len(p) == 0 {
		return ""
	}
	a := b.Bytes(p)
	return unsafe.String(&a[0], len(a))
}

// object walks the members of o, whose path is c.path.
func (c *converter) object(b *event.Batch, e *event.Event, o *fastjson.Object, depth int) {
	base := len(c.path)
	o.Visit(func(key []byte, v *fastjson.Value) {
		c.path = c.path[:base]
		if base > 0 {
			c.path = append(c.path, '.')
		}
		c.path = append(c.path, key...)
		c.member(b, e, v, depth)
	})
	c.path = c.path[:base]
}

// member converts one value at c.path.
func (c *converter) member(b *event.Batch, e *event.Event, v *fastjson.Value, depth int) {
	path := c.path
	if depth == 0 {
		switch string(path) {
		case "@metadata":
			if s := v.GetStringBytes("beat"); s != nil {
				c.beat = beatName(s)
			}
			return
		case "@timestamp":
			if s, err := v.StringBytes(); err == nil {
				if t, err := time.Parse(time.RFC3339Nano, view(s)); err == nil && t.Year() > 1 && t.Year() < 10000 {
					e.Timestamp = t.UTC()
					return
				}
			}
			// A @timestamp sluice cannot read: the receive time (tagged)
			// and the value kept under sluice.beats.timestamp.
			c.path = append(c.path[:0], "sluice.beats.timestamp"...)
			c.leaf(b, e, v, depth)
			return
		case "tags":
			// Written after sluice's own tags by the encoder (only an
			// array of them is a list of tags).
			if v.Type() == fastjson.TypeArray {
				c.addJSON(b, e, v)
			}
			return
		case "ecs":
			return // sluice writes its own ecs.version
		}
	}
	if bytesDots(path) > 16 {
		c.truncated = true
		return
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		if depth >= maxDepth {
			c.addJSON(b, e, v)
			return
		}
		c.object(b, e, o, depth+1)
	case fastjson.TypeArray:
		if k := arrayKey(path); k != "" {
			arr, _ := v.Array()
			for _, x := range arr {
				c.arrayElement(b, e, k, x)
			}
			return
		}
		c.addJSON(b, e, v)
	default:
		c.leaf(b, e, v, depth)
	}
}

// arrayKey returns p when it is an event.ArrayKey ("" otherwise),
// without allocating.
func arrayKey(p []byte) string {
	for _, k := range [...]string{"dns.resolved_ip", "dns.answers", "dns.header_flags"} {
		if string(p) == k {
			if !event.ArrayKey(k) {
				return "" // the encoder no longer writes arrays of it
			}
			return k
		}
	}
	return ""
}

// view is p as a string without a copy, for calls that do not keep it.
func view(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	return unsafe.String(&p[0], len(p))
}

// beatName returns the counted name equal to s, or s copied.
func beatName(s []byte) string {
	for _, n := range beatNames[:beatOther] {
		if string(s) == n {
			return n
		}
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return string(s)
}

// bytesDots counts the dots of p.
func bytesDots(p []byte) int {
	n := 0
	for _, ch := range p {
		if ch == '.' {
			n++
		}
	}
	return n
}

// key returns c.path as a string in the batch's arena (known paths
// without a copy).
func (c *converter) key(b *event.Batch) string {
	switch string(c.path) {
	case "message":
		return "message"
	case "dns.question.name":
		return "dns.question.name"
	case "dns.resolved_ip":
		return "dns.resolved_ip"
	}
	return str(b, c.path)
}

// leaf converts a scalar at c.path.
func (c *converter) leaf(b *event.Batch, e *event.Event, v *fastjson.Value, depth int) {
	p := c.path
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		switch string(p) {
		case "event.dataset":
			c.hasDataset = true
			e.Syslog.Dataset = str(b, s)
			return
		case "event.created":
			c.hasCreated = true
		case "agent.type":
			c.hasAgentType = true
			if c.beat == "" {
				c.beat = beatName(s)
			}
		case "source.ip", "destination.ip":
			if a, err := netip.ParseAddr(view(s)); err == nil {
				ep := &e.Src
				if p[0] == 'd' {
					ep = &e.Dst
				}
				ep.IP = a.Unmap()
				return
			}
		case "dns.question.name":
			c.sysmon.hasQuestion = true
			c.add(e, event.Field{Key: "dns.question.name", Type: event.FieldString, S: str(b, normalizeName(s))})
			return
		case "dns.resolved_ip":
			c.arrayElement(b, e, "dns.resolved_ip", v)
			return
		}
		f := event.Field{Key: c.key(b), Type: event.FieldString, S: str(b, s)}
		if depth > 0 {
			c.sysmon.see(f.Key, f.S) // winlog.*, process.*: the Sysmon mapping's facts
		}
		c.add(e, f)
	case fastjson.TypeNumber:
		f := event.Field{Key: "", Type: event.FieldInt}
		if i, err := v.Int64(); err == nil {
			f.U = uint64(i)
			switch string(p) {
			case "source.port", "destination.port":
				if i > 0 && i <= 65535 {
					if p[0] == 'd' {
						e.Dst.Port = uint16(i)
					} else {
						e.Src.Port = uint16(i)
					}
					return
				}
			case "winlog.event_id":
				c.sysmon.eventID = i
			case "process.pid":
				c.sysmon.hasPID = true
			case "winlog.event_data.ProcessId":
				c.sysmon.pid, c.sysmon.pidOK = i, true
			}
		} else if u, err := v.Uint64(); err == nil {
			f.Type, f.U = event.FieldUint, u
		} else {
			x, _ := v.Float64()
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return // not a JSON number (fastjson reads inf and nan)
			}
			f.Type, f.U = event.FieldFloat, math.Float64bits(x)
		}
		f.Key = c.key(b)
		c.add(e, f)
	case fastjson.TypeTrue, fastjson.TypeFalse:
		f := event.Field{Key: c.key(b), Type: event.FieldBool}
		if v.Type() == fastjson.TypeTrue {
			f.U = 1
		}
		c.add(e, f)
	}
	// null: left out, as Elasticsearch does
}

// arrayElement adds one element of an ArrayKey path (dns.resolved_ip,
// dns.answers, dns.header_flags) as a value of its own: the encoder
// writes repeated values of these keys as one array, and the DNS checks
// read every dns.resolved_ip.
func (c *converter) arrayElement(b *event.Batch, e *event.Event, key string, x *fastjson.Value) {
	switch key {
	case "dns.resolved_ip":
		c.sysmon.hasResolved = true
		s, err := x.StringBytes()
		if err != nil {
			return
		}
		if a, err := netip.ParseAddr(view(s)); err == nil {
			c.add(e, event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: a.Unmap()})
		}
		return
	case "dns.answers":
		c.sysmon.hasAnswers = true
	}
	if x.Type() == fastjson.TypeString {
		s, _ := x.StringBytes()
		c.add(e, event.Field{Key: key, Type: event.FieldString, S: str(b, s)})
		return
	}
	c.js = appendValue(c.js[:0], x)
	c.add(e, event.Field{Key: key, Type: event.FieldJSON, B: b.Bytes(c.js)})
}

// addJSON adds v (an array, or an object too deep to walk) at c.path,
// re-encoded from its parsed values.
func (c *converter) addJSON(b *event.Batch, e *event.Event, v *fastjson.Value) {
	switch string(c.path) {
	case "event.category":
		c.sysmon.hasCategory = true
	case "event.type":
		c.sysmon.hasType = true
	}
	c.js = appendValue(c.js[:0], v)
	c.add(e, event.Field{Key: c.key(b), Type: event.FieldJSON, B: b.Bytes(c.js)})
}

// normalizeName lower-cases a DNS name and drops its trailing dot (the
// DNS event contract), in place.
func normalizeName(s []byte) []byte {
	for len(s) > 1 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	for i, ch := range s {
		if ch >= 'A' && ch <= 'Z' {
			s[i] = ch + 'a' - 'A'
		}
	}
	return s
}

// appendValue writes v as compact JSON from its parsed values: strings
// escaped again, numbers formatted again, never the input's own text.
func appendValue(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(k []byte, x *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendValue(dst, x)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		arr, _ := v.Array()
		dst = append(dst, '[')
		for i, x := range arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, x)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return appendJSONString(dst, s)
	case fastjson.TypeNumber:
		if i, err := v.Int64(); err == nil {
			return strconv.AppendInt(dst, i, 10)
		}
		if u, err := v.Uint64(); err == nil {
			return strconv.AppendUint(dst, u, 10)
		}
		x, _ := v.Float64()
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	case fastjson.TypeTrue:
		return append(dst, "true"...)
	case fastjson.TypeFalse:
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}

// appendJSONString writes s as a JSON string, as the encoder does.
func appendJSONString(dst []byte, s []byte) []byte {
	return event.AppendJSONString(dst, unsafe.String(unsafe.SliceData(s), len(s)))
}

// baseName is the last element of a Windows or Unix path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}
