package query

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/sluicelab/sluice/internal/event"
)

// EventDoc is a Doc over a live *event.Event. It answers the paths rules
// and the console read most (event.*, source.*, destination.*, network.*,
// observer.ip, host.hostname, log.syslog.*, message, process.*, tags,
// netflow.<key> and every parsed field by its key) from the typed event,
// without allocating, with the values the JSON encoder would write. Any
// other path is answered from the event encoded once with AppendJSON and
// parsed (kept until the next Reset), so the stored document is always
// the truth.
//
// An EventDoc is reused: Reset points it at the next event. It is not safe
// for concurrent use, and the values it returns (their strings) are valid
// until the next Reset.
type EventDoc struct {
	e       *event.Event
	scratch []byte // text built for values (MACs, hex, community ID)
	buf     []byte // the encoded event, for the slow path
	jd      *JSONDoc
	parsed  bool
	own     int // own values of a syslog event; -1: not counted yet

	// memo keeps the values of the paths asked for this event: the
	// rules of a rule set read the same few fields (event.action,
	// source.ip, ...) one after the other, and the lookup by path costs
	// more than copying its values.
	memo  [memoSize]memoEntry
	nmemo int
	mvals []Value
	// slots memoize the values of registered paths (Path) by id, for the
	// event numbered gen.
	slots []slotMemo
	gen   uint32
	// table is the event's layout's table (layoutSource), once read.
	table layoutTable

	// shadow: 0 not known yet for this event, 1 no parsed field lies
	// below one of sluice's own syslog paths, 2 one may.
	shadow uint8
	// valid: own syslog strings known to be valid UTF-8 (validHost, ...).
	valid uint8

	// mctx is the working space Match uses for this document.
	mctx matchCtx
}

// pathInfos is what EventDocs learned about each path they were asked
// for (a rule set asks for the same few paths of every event), at most
// maxPaths of them; further paths are worked out at each lookup.
var (
	pathMu    sync.RWMutex
	pathInfos = map[string]*pathInfo{}
)

const maxPaths = 4096

// memoSize is how many paths an EventDoc remembers per event.
const memoSize = 32

type memoEntry struct {
	path       string
	start, end int
}

// pathInfo is what depends on a path alone.
type pathInfo struct {
	root, rest string
	own        bool // one of sluice's own syslog paths
	ownBelow   bool // one of sluice's own syslog paths lies below it
	encodable  bool // a parsed field's key the encoder writes (validPath, < 16 dots)
}

func newPathInfo(path string) *pathInfo {
	pi := &pathInfo{}
	pi.root, pi.rest = cut(path)
	_, pi.own = ownSyslogSet[path]
	pi.encodable = validPath(path) && strings.Count(path, ".") < 16
	for _, k := range ownSyslogKeys {
		if len(k) > len(path) && k[len(path)] == '.' && k[:len(path)] == path {
			pi.ownBelow = true
			break
		}
	}
	return pi
}

// info returns what is known of path, learning it the first time.
func info(path string) *pathInfo {
	pathMu.RLock()
	pi := pathInfos[path]
	pathMu.RUnlock()
	if pi != nil {
		return pi
	}
	key := strings.Clone(path) // the caller's string may not live on
	pi = newPathInfo(key)
	pathMu.Lock()
	if len(pathInfos) < maxPaths {
		pathInfos[key] = pi
	}
	pathMu.Unlock()
	return pi
}

var _ Walker = (*EventDoc)(nil)

// NewEventDoc returns an EventDoc over e.
func NewEventDoc(e *event.Event) *EventDoc {
	d := &EventDoc{}
	d.Reset(e)
	return d
}

// Reset points d at e and forgets what it cached of the previous event.
func (d *EventDoc) Reset(e *event.Event) {
	d.e = e
	if len(d.mvals) > 0 {
		clear(d.mvals) // they point into the previous event's batch
		d.mvals = d.mvals[:0]
	}
	d.nmemo = 0
	d.table = nil
	d.gen++
	if d.gen == 0 { // wrapped: no slot may look current
		clear(d.slots)
		d.gen = 1
	}
	d.shadow = 0
	d.valid = 0
	d.scratch = d.scratch[:0]
	d.jd = nil
	d.parsed = false
	d.own = -1
}

// Event returns the event d reads.
func (d *EventDoc) Event() *event.Event { return d.e }

// AppendJSON implements Doc.
func (d *EventDoc) AppendJSON(dst []byte) []byte {
	if d.e == nil {
		return append(dst, "{}"...)
	}
	return d.e.AppendJSON(dst)
}

// Each implements Walker (through the encoded event).
func (d *EventDoc) Each(fn func(path string, vals []Value) bool) {
	if jd := d.doc(); jd != nil {
		jd.Each(fn)
	}
}

// doc returns the encoded and parsed event.
func (d *EventDoc) doc() *JSONDoc {
	if !d.parsed {
		d.parsed = true
		if d.e == nil {
			return nil
		}
		d.buf = d.e.AppendJSON(d.buf[:0])
		d.jd, _ = NewJSONDoc(d.buf)
	}
	return d.jd
}

func (d *EventDoc) slow(path string, dst []Value) []Value {
	if jd := d.doc(); jd != nil {
		return jd.Values(path, dst)
	}
	return dst
}

// Values implements Doc.
func (d *EventDoc) Values(path string, dst []Value) []Value {
	for i := range d.nmemo {
		if m := &d.memo[i]; m.path == path {
			return append(dst, d.mvals[m.start:m.end]...)
		}
	}
	start := len(dst)
	dst = d.values(path, dst)
	if d.nmemo < memoSize && len(dst)-start <= 16 {
		s := len(d.mvals)
		d.mvals = append(d.mvals, dst[start:]...)
		d.memo[d.nmemo] = memoEntry{path: path, start: s, end: len(d.mvals)}
		d.nmemo++
	}
	return dst
}

// values is Values without the memo.
func (d *EventDoc) values(path string, dst []Value) []Value {
	e := d.e
	if e == nil {
		return dst
	}
	switch path {
	case "@timestamp":
		if !e.Timestamp.IsZero() {
			dst = append(dst, timeValue(e.Timestamp))
		}
		return dst
	case "tags":
		if e.Kind == event.KindBeats { // sluice's tags and the Beat's: the document has both
			return d.slow(path, dst)
		}
		return d.tags(dst)
	case "ecs.version":
		return append(dst, strValue(event.ECSVersion))
	}
	var (
		out     []Value
		handled bool
	)
	switch e.Kind {
	case event.KindFlow:
		root, rest := cut(path)
		out, handled = d.flow(path, root, rest, dst)
	case event.KindSyslog:
		out, handled = d.syslog(path, dst)
	case event.KindDNS, event.KindBeats:
		// Laid out as syslog documents are (sluice's own values differ
		// for a Beat): answered through the layout of their encoding
		// only, which knows which values are own.
		if e.SyslogLayout() != nil {
			out, handled = d.syslog(path, dst)
		}
	case event.KindUnknown:
		out, handled = d.other(path, dst)
	}
	// Kinds the fast path does not know are answered from their document.
	if handled {
		return out
	}
	return d.slow(path, dst)
}

func (d *EventDoc) tags(dst []Value) []Value {
	t := d.e.Tags
	if t>>event.NumTags != 0 {
		return d.slow("tags", dst)
	}
	for i := range event.NumTags {
		if t&(1<<i) != 0 {
			dst = append(dst, strValue(event.TagName(i)))
		}
	}
	return dst
}

func strValue(s string) Value { return Value{Kind: KindString, Str: s} }

func numValue(f float64) Value { return Value{Kind: KindNumber, Num: f} }

// timeValue is t as the encoder writes it: UTC, whole milliseconds, the
// year clamped to 0000..9999.
func timeValue(t time.Time) Value { return Value{Kind: KindTime, Time: encodedTime(t)} }

// encodedTime is t as the encoder writes it (see timeValue).
func encodedTime(t time.Time) time.Time {
	const minSec, maxSec = -62167219200, 253402300799 // 0000-01-01, 9999-12-31T23:59:59
	sec := t.Unix()
	if t.Nanosecond()%1e6 == 0 && t.Location() == time.UTC && sec >= minSec && sec <= maxSec {
		return t // already so (a time in UTC has no monotonic reading)
	}
	ms := int64(t.Nanosecond() / 1e6)
	switch {
	case sec < minSec:
		sec, ms = minSec, 0
	case sec > maxSec:
		sec, ms = maxSec, 999
	}
	return time.Unix(sec, ms*1e6).UTC()
}

func ipValue(a netip.Addr) Value { return Value{Kind: KindIP, IP: a.WithZone("")} }

// appendStr, appendNum, appendIP and appendTimeValue append strValue(s),
// numValue(f), ipValue(a) and timeValue(t), written in place: building a
// Value and copying it in cost as much as the lookup that found it.
func appendStr(dst []Value, s string) []Value {
	dst = append(dst, Value{})
	v := &dst[len(dst)-1]
	v.Kind, v.Str = KindString, s
	return dst
}

func appendNum(dst []Value, f float64) []Value {
	dst = append(dst, Value{})
	v := &dst[len(dst)-1]
	v.Kind, v.Num = KindNumber, f
	return dst
}

func appendIP(dst []Value, a netip.Addr) []Value {
	dst = append(dst, Value{})
	v := &dst[len(dst)-1]
	v.Kind, v.IP = KindIP, a.WithZone("")
	return dst
}

func appendTimeValue(dst []Value, t time.Time) []Value {
	dst = append(dst, Value{})
	v := &dst[len(dst)-1]
	v.Kind, v.Time = KindTime, encodedTime(t)
	return dst
}

// appendStr appends d.str(s).
func (d *EventDoc) appendStr(dst []Value, s string) []Value {
	if utf8.ValidString(s) {
		return appendStr(dst, s)
	}
	return append(dst, d.str(s))
}

// str returns s as the decoded JSON string the encoder's output gives:
// invalid UTF-8 bytes become U+FFFD, one per byte.
func (d *EventDoc) str(s string) Value {
	if utf8.ValidString(s) {
		return strValue(s)
	}
	start := len(d.scratch)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError {
			d.scratch = utf8.AppendRune(d.scratch, utf8.RuneError)
		} else {
			d.scratch = append(d.scratch, s[i:i+n]...)
		}
		i += n
	}
	return d.scratchValue(start)
}

// scratchValue returns d.scratch[start:] as a string value (valid until
// the next Reset: the scratch is only appended to until then, and a
// grown scratch leaves the old array to the strings that point to it).
func (d *EventDoc) scratchValue(start int) Value {
	if len(d.scratch) == start {
		return strValue("")
	}
	b := d.scratch[start:]
	return strValue(unsafe.String(&b[0], len(b)))
}

const hexLower, hexUpper = "0123456789abcdef", "0123456789ABCDEF"

// field appends the value the encoder writes for a writable field.
func (d *EventDoc) field(f *event.Field, dst []Value) []Value {
	switch f.Type {
	case event.FieldUint:
		return appendNum(dst, float64(f.U))
	case event.FieldInt:
		return appendNum(dst, float64(int64(f.U)))
	case event.FieldString:
		return d.appendStr(dst, f.S)
	case event.FieldIP:
		if f.IP.IsValid() {
			dst = appendIP(dst, f.IP)
		}
		return dst
	case event.FieldMAC:
		start := len(d.scratch)
		for i, b := range f.B {
			if i > 0 {
				d.scratch = append(d.scratch, '-')
			}
			d.scratch = append(d.scratch, hexUpper[b>>4], hexUpper[b&0xf])
		}
		return append(dst, d.scratchValue(start))
	case event.FieldHex:
		start := len(d.scratch)
		for _, b := range f.B {
			d.scratch = append(d.scratch, hexLower[b>>4], hexLower[b&0xf])
		}
		return append(dst, d.scratchValue(start))
	case event.FieldTime:
		return append(dst, timeValue(time.Unix(0, int64(f.U))))
	case event.FieldTimeMillis:
		return append(dst, timeValue(time.UnixMilli(int64(f.U))))
	case event.FieldBool:
		return append(dst, Value{Kind: KindBool, Bool: f.U != 0})
	case event.FieldFloat:
		return appendFloatValue(dst, math.Float64frombits(f.U))
	}
	return dst
}

// appendFloatValue leaves out NaN and infinities (written as null).
func appendFloatValue(dst []Value, v float64) []Value {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst
	}
	return append(dst, numValue(v))
}

// writable mirrors the encoder's test of a field it writes.
func writable(f *event.Field) bool {
	switch f.Type {
	case event.FieldIP:
		return f.IP.IsValid()
	case event.FieldUint, event.FieldInt, event.FieldString, event.FieldMAC, event.FieldHex,
		event.FieldTime, event.FieldBool, event.FieldFloat, event.FieldTimeMillis:
		return true
	}
	return false
}

// other answers events of unknown kind: @timestamp, event.created and
// observer.ip only.
func (d *EventDoc) other(path string, dst []Value) ([]Value, bool) {
	e := d.e
	switch path {
	case "event.created":
		if !e.Created.IsZero() {
			dst = append(dst, timeValue(e.Created))
		}
	case "observer.ip":
		if e.Observer.IsValid() {
			dst = append(dst, ipValue(e.Observer))
		}
	}
	return dst, true
}

// cut splits path at its first dot.
func cut(path string) (root, rest string) {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i], path[i+1:]
	}
	return path, ""
}

// flow answers KindFlow events (appendFlow's document).
func (d *EventDoc) flow(path, root, rest string, dst []Value) ([]Value, bool) {
	e := d.e
	f := &e.Flow
	switch root {
	case "event":
		switch rest {
		case "kind":
			dst = append(dst, strValue("event"))
		case "category":
			dst = append(dst, strValue("network"))
		case "type":
			dst = append(dst, strValue("connection"))
		case "action":
			dst = append(dst, strValue("network_flow"))
		case "module":
			dst = append(dst, strValue("sluice"))
		case "dataset":
			dst = append(dst, strValue("sluice.flow"))
		case "created":
			if !e.Created.IsZero() {
				dst = append(dst, timeValue(e.Created))
			}
		case "start":
			if !f.Start.IsZero() {
				dst = append(dst, timeValue(f.Start))
			}
		case "end":
			if !f.End.IsZero() {
				dst = append(dst, timeValue(f.End))
			}
		case "duration":
			if !f.Start.IsZero() && !f.End.IsZero() && !f.End.Before(f.Start) {
				dst = append(dst, numValue(float64(int64(f.End.Sub(f.Start)))))
			}
		}
		return dst, true
	case "source":
		return d.endpoint(&e.Src, rest, dst, flowPorts(f), true), true
	case "destination":
		return d.endpoint(&e.Dst, rest, dst, flowPorts(f), true), true
	case "network":
		switch rest {
		case "transport":
			if f.HasProtocol {
				if n := event.TransportName(f.Protocol); n != "" {
					dst = append(dst, strValue(n))
				}
			}
		case "iana_number":
			if f.HasProtocol {
				dst = append(dst, strValue(ianaNumbers[f.Protocol]))
			}
		case "bytes":
			if f.Bytes != 0 || f.HasBytes {
				dst = append(dst, numValue(float64(f.Bytes)))
			}
		case "packets":
			if f.Packets != 0 || f.HasPackets {
				dst = append(dst, numValue(float64(f.Packets)))
			}
		case "direction":
			if s := e.Direction.String(); s != "" {
				dst = append(dst, strValue(s))
			}
		case "type":
			if a := e.Src.IP; a.IsValid() || e.Dst.IP.IsValid() {
				if !a.IsValid() {
					a = e.Dst.IP
				}
				if a.Is4() || a.Is4In6() {
					dst = append(dst, strValue("ipv4"))
				} else {
					dst = append(dst, strValue("ipv6"))
				}
			}
		case "community_id":
			if f.HasProtocol && e.Src.IP.IsValid() && e.Dst.IP.IsValid() {
				start := len(d.scratch)
				d.scratch = event.AppendCommunityID(d.scratch, 0, e.Src.IP, e.Dst.IP, e.Src.Port, e.Dst.Port, f.Protocol)
				if len(d.scratch) > start {
					dst = append(dst, d.scratchValue(start))
				}
			}
		}
		return dst, true
	case "observer":
		if rest == "ip" && e.Observer.IsValid() {
			dst = append(dst, ipValue(e.Observer))
		}
		return dst, true
	case "icmp":
		if f.HasICMP {
			switch rest {
			case "type":
				dst = append(dst, numValue(float64(f.ICMPType)))
			case "code":
				dst = append(dst, numValue(float64(f.ICMPCode)))
			}
		}
		return dst, true
	case "sluice":
		if rest == "original_timestamp" && !e.OriginalTimestamp.IsZero() {
			dst = append(dst, timeValue(e.OriginalTimestamp))
		}
		if rest == "dns.unsanctioned_resolver" && f.UnsanctionedDNS {
			dst = append(dst, Value{Kind: KindBool, Bool: true})
		}
		return dst, true
	case "netflow":
		return d.netflow(rest, dst)
	case "flow":
		return dst, rest != "id" // flow.id: the encoder's hash, not exported
	}
	return dst, true // no other root is written for flows
}

// netflow answers netflow.<key>: sluice's own type, sampling_rate and
// exporter.*, and the decoded fields by key.
func (d *EventDoc) netflow(key string, dst []Value) ([]Value, bool) {
	e := d.e
	f := &e.Flow
	if !utf8.ValidString(key) || strings.ContainsRune(key, utf8.RuneError) {
		return dst, false // keys are compared as encoded: leave it to the document
	}
	switch key {
	case "type":
		if f.SFlow {
			dst = append(dst, strValue("sflow_flow"))
		} else {
			dst = append(dst, strValue("netflow_flow"))
		}
	case "sampling_rate":
		if f.SamplingRate > 1 {
			dst = append(dst, numValue(float64(f.SamplingRate)))
		}
	case "exporter.address":
		if e.Observer.IsValid() {
			dst = append(dst, ipValue(e.Observer))
		}
	case "exporter.source_id":
		dst = append(dst, numValue(float64(f.SourceID)))
	case "exporter.version":
		if f.Version != 0 {
			dst = append(dst, numValue(float64(f.Version)))
		}
	case "exporter.uptime_millis":
		if f.HasUptime {
			dst = append(dst, numValue(float64(f.UptimeMillis)))
		}
	}
	reserved := key == "type" || key == "sampling_rate" || key == "exporter"
	for i := range e.NetFlow {
		fl := &e.NetFlow[i]
		if fl.Key != key || !writable(fl) {
			continue
		}
		if e.KeysChecked {
			dst = d.field(fl, dst) // unique keys promised: written as they are
			continue
		}
		if !reserved {
			dst = d.field(fl, dst)
		}
		break // later duplicates are skipped by the encoder
	}
	return dst, true
}

func flowPorts(f *event.Flow) portPolicy {
	if f.HasProtocol {
		switch f.Protocol {
		case 6, 17, 132:
			return portsAlways
		case 1, 58:
			return portsNever
		}
	}
	return portsIfNonzero
}

type portPolicy uint8

const (
	portsIfNonzero portPolicy = iota
	portsAlways
	portsNever
)

// endpoint answers source.<rest> / destination.<rest>. mac: whether the
// document has the MAC (flows do, syslog documents do not).
func (d *EventDoc) endpoint(p *event.Endpoint, rest string, dst []Value, ports portPolicy, mac bool) []Value {
	switch rest {
	case "ip":
		if p.IP.IsValid() {
			dst = append(dst, ipValue(p.IP))
		}
		return dst
	case "port":
		if (p.Port != 0 && ports != portsNever) || ports == portsAlways {
			dst = append(dst, numValue(float64(p.Port)))
		}
		return dst
	case "bytes":
		// A flow document (mac) writes reported counts of 0 too; the
		// syslog encoder leaves every 0 out.
		if p.Bytes != 0 || mac && p.HasBytes {
			dst = append(dst, numValue(float64(p.Bytes)))
		}
		return dst
	case "packets":
		if p.Packets != 0 || mac && p.HasPackets {
			dst = append(dst, numValue(float64(p.Packets)))
		}
		return dst
	case "mac":
		if mac && p.HasMAC {
			start := len(d.scratch)
			for i, b := range p.MAC {
				if i > 0 {
					d.scratch = append(d.scratch, '-')
				}
				d.scratch = append(d.scratch, hexUpper[b>>4], hexUpper[b&0xf])
			}
			dst = append(dst, d.scratchValue(start))
		}
		return dst
	case "locality":
		if s := p.Locality.String(); s != "" {
			dst = append(dst, strValue(s))
		}
		return dst
	}
	g := p.Geo
	if g == nil {
		return dst
	}
	s := ""
	switch rest {
	case "geo.city_name":
		s = g.CityName
	case "geo.continent_code":
		s = g.ContinentCode
	case "geo.country_iso_code":
		s = g.CountryISO
	case "geo.country_name":
		s = g.CountryName
	case "geo.region_iso_code":
		s = g.RegionISO
	case "geo.region_name":
		s = g.RegionName
	case "geo.location.lat":
		if g.HasLocation {
			dst = appendFloatValue(dst, g.Lat)
		}
		return dst
	case "geo.location.lon":
		if g.HasLocation {
			dst = appendFloatValue(dst, g.Lon)
		}
		return dst
	case "as.number":
		if g.ASN != 0 {
			dst = append(dst, numValue(float64(g.ASN)))
		}
		return dst
	case "as.organization.name":
		s = g.ASOrg
	}
	if s != "" {
		dst = append(dst, d.str(s))
	}
	return dst
}

// maxSyslogValues is how many values the encoder writes at most in a
// syslog document, sluice's own first: parsed fields past it are left out.
const maxSyslogValues = 96

// ownCount returns how many own values the encoder writes for the
// syslog event (as ownSyslogFields counts them), cached until Reset.
func (d *EventDoc) ownCount() int {
	if d.own >= 0 {
		return d.own
	}
	e := d.e
	sl := &e.Syslog
	n := endpointCount(&e.Src) + endpointCount(&e.Dst) + 3 // dataset, kind, module
	add := func(ok bool) {
		if ok {
			n++
		}
	}
	add(!e.Created.IsZero())
	add(sl.Original != "")
	add(sl.Hostname != "")
	if sl.HasPriority && sl.Priority <= 191 {
		n += 5
	}
	add(sl.MsgID != "")
	_, pidOK := procPID(sl.ProcID)
	add(sl.ProcID != "" && !pidOK)
	add(pidOK)
	add(sl.Message != "")
	add(e.Direction.String() != "")
	if e.Flow.HasProtocol {
		n++
		add(event.TransportName(e.Flow.Protocol) != "")
	}
	add(e.Observer.IsValid())
	add(sl.AppName != "")
	add(!e.OriginalTimestamp.IsZero())
	d.own = n
	return n
}

func endpointCount(p *event.Endpoint) int {
	n := 0
	add := func(ok bool) {
		if ok {
			n++
		}
	}
	add(p.Bytes != 0)
	add(p.IP.IsValid())
	add(p.Locality.String() != "")
	add(p.Packets != 0)
	add(p.Port != 0)
	if g := p.Geo; g != nil {
		add(g.ASN != 0)
		add(g.ASOrg != "")
		add(g.CityName != "")
		add(g.ContinentCode != "")
		add(g.CountryISO != "")
		add(g.CountryName != "")
		add(g.RegionISO != "")
		add(g.RegionName != "")
		if g.HasLocation {
			n += 2
		}
	}
	return n
}

// syslog answers KindSyslog events: sluice's own values, then the parsed
// fields, merged as appendSyslog merges them (own wins over a parsed
// field of the same path; a value with another value below its path is
// left out).
func (d *EventDoc) syslog(path string, dst []Value) ([]Value, bool) {
	e := d.e
	if event.ArrayPath(path) {
		// Repeated values written as one array (dns.resolved_ip, ...):
		// the document has every element.
		return dst, false
	}
	// The layout the encoder worked out for this event's keys says where
	// the value comes from, when the event was encoded (the alert stage
	// runs after the encoder).
	if i, own, known := e.SyslogSource(path); known {
		switch {
		case own:
			root, rest := cut(path)
			return d.syslogOwn(path, root, rest, dst), true
		case i >= 0:
			return d.field(&e.Fields[i], dst), true
		}
		return dst, true
	}
	if len(e.Fields) > maxSyslogValues-d.ownCount() {
		return dst, false
	}
	pi := info(path)
	n := len(dst)
	if pi.own {
		dst = d.syslogOwn(path, pi.root, pi.rest, dst)
		if len(dst) > n {
			if d.shadowed() && d.parsedBelow(path) {
				return dst[:n], true
			}
			return dst, true
		}
	}
	// A parsed field: one pass finds it and whether a written parsed
	// field lies below it (then it is an object in the document).
	var fl *event.Field
	below := false
	for i := range e.Fields {
		f := &e.Fields[i]
		k := f.Key
		switch {
		case len(k) == len(path):
			if fl == nil && k == path && writable(f) {
				fl = f
			}
		case !below && len(k) > len(path) && k[len(path)] == '.' && k[:len(path)] == path && writable(f) && validPath(k):
			below = true
		}
	}
	if fl == nil || !pi.encodable {
		return dst, true
	}
	if pi.ownBelow {
		return dst, false // an own value may lie below: leave it to the document
	}
	if below {
		return dst, true
	}
	return d.field(fl, dst), true
}

// shadowed reports whether a written parsed field of the event may lie
// below one of sluice's own syslog paths (then parsedBelow must look),
// found once per event.
func (d *EventDoc) shadowed() bool {
	if d.shadow == 0 {
		d.shadow = 1
		for i := range d.e.Fields {
			if mayShadow(d.e.Fields[i].Key) {
				d.shadow = 2
				break
			}
		}
	}
	return d.shadow == 2
}

// mayShadow reports whether key lies below one of sluice's own syslog
// paths. Most parsed keys are rejected by their first byte: every own
// path starts with one of ownFirst.
func mayShadow(key string) bool {
	if key == "" || !ownFirst[key[0]] {
		return false
	}
	// Own paths hold a dot, except "message".
	if len(key) > len("message") && key[len("message")] == '.' && key[:len("message")] == "message" {
		return true
	}
	dots := 0
	for j := 1; j < len(key); j++ {
		if key[j] == '.' {
			dots++
			if dots >= 2 {
				if _, ok := ownSyslogSet[key[:j]]; ok {
					return true
				}
			}
		}
	}
	return false
}

var ownFirst = func() (t [256]bool) {
	for _, k := range ownSyslogKeys {
		t[k[0]] = true
	}
	return t
}()

// parsedBelow reports whether a written parsed field lies below path.
func (d *EventDoc) parsedBelow(path string) bool {
	for i := range d.e.Fields {
		f := &d.e.Fields[i]
		k := f.Key
		if len(k) > len(path) && k[len(path)] == '.' && k[:len(path)] == path && writable(f) && validPath(k) {
			return true
		}
	}
	return false
}

// validPath mirrors the encoder's test of a parsed field's key.
func validPath(p string) bool {
	if p == "" || p[0] == '.' || p[len(p)-1] == '.' || strings.Contains(p, "..") || !utf8.ValidString(p) {
		return false
	}
	switch p {
	case "@timestamp", "tags", "ecs", "ecs.version":
		return false
	}
	return !strings.HasPrefix(p, "ecs.") && !strings.HasPrefix(p, "tags.") && !strings.HasPrefix(p, "@timestamp.")
}

func endpointKeys(p string) []string {
	return []string{p + ".as.number", p + ".as.organization.name", p + ".bytes", p + ".geo.city_name",
		p + ".geo.continent_code", p + ".geo.country_iso_code", p + ".geo.country_name",
		p + ".geo.location.lat", p + ".geo.location.lon", p + ".geo.region_iso_code",
		p + ".geo.region_name", p + ".ip", p + ".locality", p + ".packets", p + ".port"}
}

// ownSyslogKeys are every path sluice itself may write in a syslog
// document (besides @timestamp, tags and ecs.version).
var ownSyslogKeys = append(append([]string{
	"event.created", "event.dataset", "event.kind", "event.module", "event.original",
	"host.hostname", "log.syslog.facility.code", "log.syslog.facility.name", "log.syslog.msgid",
	"log.syslog.priority", "log.syslog.procid", "log.syslog.severity.code", "log.syslog.severity.name",
	"message", "network.direction", "network.iana_number", "network.transport", "observer.ip",
	"process.name", "process.pid", "sluice.original_timestamp",
}, endpointKeys("source")...), endpointKeys("destination")...)

var ownSyslogSet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(ownSyslogKeys))
	for _, k := range ownSyslogKeys {
		m[k] = struct{}{}
	}
	return m
}()

// syslogOwn appends sluice's own value at path, if the event has one.
func (d *EventDoc) syslogOwn(path, root, rest string, dst []Value) []Value {
	e := d.e
	sl := &e.Syslog
	switch root {
	case "source":
		return d.endpoint(&e.Src, rest, dst, portsIfNonzero, false)
	case "destination":
		return d.endpoint(&e.Dst, rest, dst, portsIfNonzero, false)
	}
	hasPri := sl.HasPriority && sl.Priority <= 191
	switch path {
	case "event.created":
		if !e.Created.IsZero() {
			dst = append(dst, timeValue(e.Created))
		}
	case "event.dataset":
		if sl.Dataset == "" {
			dst = append(dst, strValue("sluice.syslog"))
		} else {
			dst = append(dst, d.str(sl.Dataset))
		}
	case "event.kind":
		dst = append(dst, strValue("event"))
	case "event.module":
		dst = append(dst, strValue("sluice"))
	case "event.original":
		if sl.Original != "" {
			dst = append(dst, d.str(sl.Original))
		}
	case "host.hostname":
		if sl.Hostname != "" {
			dst = append(dst, d.str(sl.Hostname))
		}
	case "log.syslog.facility.code":
		if hasPri {
			dst = append(dst, numValue(float64(sl.Priority/8)))
		}
	case "log.syslog.facility.name":
		if hasPri {
			dst = append(dst, strValue(facilityNames[sl.Priority/8]))
		}
	case "log.syslog.msgid":
		if sl.MsgID != "" {
			dst = append(dst, d.str(sl.MsgID))
		}
	case "log.syslog.priority":
		if hasPri {
			dst = append(dst, numValue(float64(sl.Priority)))
		}
	case "log.syslog.procid":
		if _, ok := procPID(sl.ProcID); sl.ProcID != "" && !ok {
			dst = append(dst, d.str(sl.ProcID))
		}
	case "log.syslog.severity.code":
		if hasPri {
			dst = append(dst, numValue(float64(sl.Priority%8)))
		}
	case "log.syslog.severity.name":
		if hasPri {
			dst = append(dst, strValue(severityNames[sl.Priority%8]))
		}
	case "message":
		if sl.Message != "" {
			dst = append(dst, d.str(sl.Message))
		}
	case "network.direction":
		if s := e.Direction.String(); s != "" {
			dst = append(dst, strValue(s))
		}
	case "network.iana_number":
		if e.Flow.HasProtocol {
			dst = append(dst, strValue(ianaNumbers[e.Flow.Protocol]))
		}
	case "network.transport":
		if e.Flow.HasProtocol {
			if n := event.TransportName(e.Flow.Protocol); n != "" {
				dst = append(dst, strValue(n))
			}
		}
	case "observer.ip":
		if e.Observer.IsValid() {
			dst = append(dst, ipValue(e.Observer))
		}
	case "process.name":
		if sl.AppName != "" {
			dst = append(dst, d.str(sl.AppName))
		}
	case "process.pid":
		if pid, ok := procPID(sl.ProcID); ok {
			dst = append(dst, numValue(float64(pid)))
		}
	case "sluice.original_timestamp":
		if !e.OriginalTimestamp.IsZero() {
			dst = append(dst, timeValue(time.UnixMilli(e.OriginalTimestamp.UnixMilli())))
		}
	}
	return dst
}

// procPID parses a numeric process ID as the encoder does (32 bits).
func procPID(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return v, err == nil
}

var facilityNames = [24]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

var severityNames = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

var ianaNumbers = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()
