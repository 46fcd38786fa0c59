package event

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// ECSVersion is the Elastic Common Schema version the documents follow.
const ECSVersion = "8.11.0"

// AppendJSON appends e as one ECS JSON document (no trailing newline) to dst
// and returns the extended slice. It does not allocate beyond growing dst, so
// callers reuse one buffer per batch or file.
//
// Unknown values are left out: invalid addresses, zero times, a missing
// protocol, zero byte and packet counts that were not reported (HasBytes,
// HasPackets). Strings are escaped as JSON requires
// and invalid UTF-8 becomes U+FFFD. Netflow fields with a key that was already
// written (or that sluice writes itself under netflow: type, sampling_rate,
// exporter) are skipped, since Elasticsearch rejects documents with duplicate
// keys.
func (e *Event) AppendJSON(dst []byte) []byte {
	if e.Raw != nil {
		return append(dst, e.Raw...)
	}
	var dc dateCache
	if e.Kind == KindSyslog || e.Kind == KindDNS || e.Kind == KindBeats {
		var own [maxOwnFields]Field
		return e.appendJSON(dst, true, &dc, &own)
	}
	return e.appendJSON(dst, true, &dc, nil)
}

// encodeScratch is working space of the encoder that need not be zeroed
// between events: a batch keeps one for all its events.
type encodeScratch struct {
	own [maxOwnFields]Field // sluice's own values of a syslog document
	dc  dateCache
}

// appendJSON is AppendJSON with the encoder's working space (own: only
// used, and then needed, for syslog events); usePlans false lays out
// syslog documents the long way each time (see plan.go), for tests.
func (e *Event) appendJSON(dst []byte, usePlans bool, dc *dateCache, own *[maxOwnFields]Field) []byte {
	if e.Raw != nil {
		return append(dst, e.Raw...)
	}
	dst = append(dst, '{')
	if !e.Timestamp.IsZero() {
		dst = append(dst, `"@timestamp":`...)
		dst = dc.appendTime(dst, e.Timestamp)
	}
	if e.Kind == KindFlow {
		dst = e.appendFlow(dst, dc)
	} else if e.Kind == KindSyslog || e.Kind == KindDNS || e.Kind == KindBeats {
		return e.appendSyslog(dst, dc, own, usePlans)
	} else {
		if !e.Created.IsZero() {
			dst = appendKey(dst, `"event":{"created":`)
			dst = dc.appendTime(dst, e.Created)
			dst = append(dst, '}')
		}
		if e.Observer.IsValid() {
			dst = appendKey(dst, `"observer":{"ip":`)
			dst = appendIP(dst, e.Observer)
			dst = append(dst, '}')
		}
	}
	dst = e.Tags.appendJSON(dst)
	dst = appendKey(dst, `"ecs":{"version":"`+ECSVersion+`"}`)
	return append(dst, '}')
}

func (e *Event) appendFlow(dst []byte, dc *dateCache) []byte {
	f := &e.Flow

	// event
	dst = appendKey(dst, `"event":{"kind":"event","category":["network"],"type":["connection"],"action":"network_flow"`)
	if !e.Created.IsZero() {
		dst = append(dst, `,"created":`...)
		dst = dc.appendTime(dst, e.Created)
	}
	if !f.Start.IsZero() {
		dst = append(dst, `,"start":`...)
		dst = dc.appendTime(dst, f.Start)
	}
	if !f.End.IsZero() {
		dst = append(dst, `,"end":`...)
		dst = dc.appendTime(dst, f.End)
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.Before(f.Start) {
		dst = append(dst, `,"duration":`...)
		dst = strconv.AppendInt(dst, int64(f.End.Sub(f.Start)), 10)
	}
	dst = append(dst, `,"module":"sluice","dataset":"sluice.flow"}`...)

	// source, destination
	// Ports are written when known, and always for the port-based
	// transports. ICMP flows carry type<<8|code in the destination port
	// (an exporter convention); that is no port, so it is not written.
	ports := portsIfNonzero
	if f.HasProtocol {
		switch f.Protocol {
		case protoTCP, protoUDP, protoSCTP:
			ports = portsAlways
		case protoICMP, protoICMPv6:
			ports = portsNever
		}
	}
	dst = e.Src.appendJSON(dst, `"source":{`, ports)
	dst = e.Dst.appendJSON(dst, `"destination":{`, ports)

	// network
	mark := len(dst)
	dst = appendKey(dst, `"network":{`)
	if f.HasProtocol {
		if name := transportName(f.Protocol); name != "" {
			dst = append(dst, `"transport":"`...)
			dst = append(dst, name...)
			dst = append(dst, '"')
		}
		dst = appendKey(dst, `"iana_number":"`)
		dst = strconv.AppendUint(dst, uint64(f.Protocol), 10)
		dst = append(dst, '"')
	}
	if f.Bytes != 0 || f.HasBytes {
		dst = appendKey(dst, `"bytes":`)
		dst = strconv.AppendUint(dst, f.Bytes, 10)
	}
	if f.Packets != 0 || f.HasPackets {
		dst = appendKey(dst, `"packets":`)
		dst = strconv.AppendUint(dst, f.Packets, 10)
	}
	if d := e.Direction.String(); d != "" {
		dst = appendKey(dst, `"direction":"`)
		dst = append(dst, d...)
		dst = append(dst, '"')
	}
	if a := e.Src.IP; a.IsValid() || e.Dst.IP.IsValid() {
		if !a.IsValid() {
			a = e.Dst.IP
		}
		if a.Is4() || a.Is4In6() {
			dst = appendKey(dst, `"type":"ipv4"`)
		} else {
			dst = appendKey(dst, `"type":"ipv6"`)
		}
	}
	if f.HasProtocol && e.Src.IP.IsValid() && e.Dst.IP.IsValid() {
		m := len(dst)
		dst = appendKey(dst, `"community_id":"`)
		n := len(dst)
		dst = AppendCommunityID(dst, 0, e.Src.IP, e.Dst.IP, e.Src.Port, e.Dst.Port, f.Protocol)
		if len(dst) == n {
			dst = dst[:m]
		} else {
			dst = append(dst, '"')
		}
	}
	dst = closeObject(dst, mark)

	// icmp: the field names of Filebeat's community_id processor and
	// Packetbeat (no ECS field set has them).
	if f.HasICMP {
		dst = appendKey(dst, `"icmp":{"type":`)
		dst = strconv.AppendUint(dst, uint64(f.ICMPType), 10)
		dst = append(dst, `,"code":`...)
		dst = strconv.AppendUint(dst, uint64(f.ICMPCode), 10)
		dst = append(dst, '}')
	}

	// observer; its quoted address is copied for netflow.exporter.address.
	obsStart, obsEnd := 0, 0
	if e.Observer.IsValid() {
		dst = appendKey(dst, `"observer":{"ip":`)
		obsStart = len(dst)
		dst = appendIP(dst, e.Observer)
		obsEnd = len(dst)
		dst = append(dst, '}')
	}

	// flow
	if e.Src.IP.IsValid() && e.Dst.IP.IsValid() {
		dst = appendKey(dst, `"flow":{"id":"`)
		dst = e.appendFlowID(dst)
		dst = append(dst, `"}`...)
	}

	// netflow
	dst = appendKey(dst, `"netflow":{`)
	dst = e.appendNetflowFields(dst, dc)
	if f.SFlow {
		dst = appendKey(dst, `"type":"sflow_flow"`)
	} else {
		dst = appendKey(dst, `"type":"netflow_flow"`)
	}
	if f.SamplingRate > 1 {
		dst = append(dst, `,"sampling_rate":`...)
		dst = strconv.AppendUint(dst, f.SamplingRate, 10)
	}
	dst = append(dst, `,"exporter":{`...)
	if obsEnd > obsStart {
		dst = append(dst, `"address":`...)
		dst = append(dst, dst[obsStart:obsEnd]...)
	}
	dst = appendKey(dst, `"source_id":`)
	dst = strconv.AppendUint(dst, uint64(f.SourceID), 10)
	if f.Version != 0 {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendUint(dst, uint64(f.Version), 10)
	}
	if f.HasUptime {
		dst = append(dst, `,"uptime_millis":`...)
		dst = strconv.AppendUint(dst, f.UptimeMillis, 10)
	}
	dst = append(dst, "}}"...)

	if f.UnsanctionedDNS {
		dst = append(dst, `,"sluice":{"dns":{"unsanctioned_resolver":true}`...)
		if !e.OriginalTimestamp.IsZero() {
			dst = append(dst, `,"original_timestamp":`...)
			dst = dc.appendTime(dst, e.OriginalTimestamp)
		}
		dst = append(dst, '}')
	} else if !e.OriginalTimestamp.IsZero() {
		dst = append(dst, `,"sluice":{"original_timestamp":`...)
		dst = dc.appendTime(dst, e.OriginalTimestamp)
		dst = append(dst, '}')
	}
	return dst
}

// maxTrackedKeys is how many written netflow keys appendNetflowFields
// remembers (as offsets on the stack) for the duplicate check.
const maxTrackedKeys = 128

// appendNetflowFields writes the netflow fields of e, skipping fields whose
// encoded key was already written or is one of the keys appendFlow writes
// under netflow itself (type, sampling_rate, exporter). Keys are compared as
// encoded, so two different invalid UTF-8 keys that both become "\ufffd"
// count as the same key.
func (e *Event) appendNetflowFields(dst []byte, dc *dateCache) []byte {
	if e.KeysChecked {
		for i := range e.NetFlow {
			fl := &e.NetFlow[i]
			if !fl.writable() {
				continue
			}
			if dst[len(dst)-1] != '{' {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = append(dst, fl.Key...)
			dst = append(dst, '"', ':')
			dst = appendFieldValue(dst, fl, dc)
		}
		return dst
	}
	var spans [maxTrackedKeys][2]int32
	nspans := 0
	seen := reservedKeyBits
	for i := range e.NetFlow {
		fl := &e.NetFlow[i]
		if !fl.writable() {
			continue
		}
		mark := len(dst)
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		start := len(dst)
		dst = appendString(dst, fl.Key)
		key := dst[start:]
		bit := keyBloomBit(key)
		if (seen&bit != 0 && e.keySeen(dst, key, spans[:nspans])) || (nspans == maxTrackedKeys && e.rawKeySeen(i, fl.Key)) {
			dst = dst[:mark]
			continue
		}
		seen |= bit
		if nspans < maxTrackedKeys {
			spans[nspans] = [2]int32{int32(start), int32(len(dst))}
			nspans++
		}
		dst = append(dst, ':')
		dst = appendFieldValue(dst, fl, dc)
	}
	return dst
}

var reservedKeys = [...]string{`"type"`, `"sampling_rate"`, `"exporter"`}

// reservedKeyBits has the bloom bits of reservedKeys.
var reservedKeyBits = func() uint64 {
	var bits uint64
	for _, k := range reservedKeys {
		bits |= keyBloomBit([]byte(k))
	}
	return bits
}()

// keyBloomBit maps an encoded key (with its quotes) to one of 64 bits. Keys
// with different bits certainly differ; equal bits need the exact check.
func keyBloomBit(k []byte) uint64 {
	n := len(k)
	h := uint(n)*31 + uint(k[1])*7 + uint(k[n-2])
	if n > 4 {
		h += uint(k[n-4]) * 3
	}
	return 1 << (h & 63)
}

// keySeen reports whether the encoded key equals a reserved key or one of
// the spans of dst already written.
func (e *Event) keySeen(dst, key []byte, spans [][2]int32) bool {
	for _, r := range reservedKeys {
		if string(key) == r {
			return true
		}
	}
	for _, sp := range spans {
		if string(dst[sp[0]:sp[1]]) == string(key) {
			return true
		}
	}
	return false
}

// rawKeySeen is the fallback past maxTrackedKeys keys: it compares the raw
// keys of the later fields as they decode after encoding.
func (e *Event) rawKeySeen(i int, k string) bool {
	for j := maxTrackedKeys; j < i; j++ {
		if e.NetFlow[j].writable() && sameDecodedKey(e.NetFlow[j].Key, k) {
			return true
		}
	}
	return false
}

// sameDecodedKey reports whether a and b are equal once invalid UTF-8 is
// replaced by U+FFFD, as appendString does.
func sameDecodedKey(a, b string) bool {
	if a == b {
		return true
	}
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b == ""
}

// writable reports whether appendNetflowFields writes f: it has a known type and,
// for an address, a valid one.
func (f *Field) writable() bool {
	switch f.Type {
	case FieldIP:
		return f.IP.IsValid()
	case FieldUint, FieldInt, FieldString, FieldMAC, FieldHex, FieldTime, FieldBool, FieldFloat, FieldTimeMillis:
		return true
	case FieldJSON:
		return len(f.B) > 0
	}
	return false
}

// portPolicy says when an endpoint's port is written.
type portPolicy uint8

const (
	portsIfNonzero portPolicy = iota
	portsAlways
	portsNever
)

// appendJSON writes one endpoint object (source or destination) opened by
// open, or nothing when no value is known.
func (p *Endpoint) appendJSON(dst []byte, open string, ports portPolicy) []byte {
	mark := len(dst)
	dst = appendKey(dst, open)
	if p.IP.IsValid() {
		dst = append(dst, `"ip":`...)
		dst = appendIP(dst, p.IP)
	}
	if (p.Port != 0 && ports != portsNever) || ports == portsAlways {
		dst = appendKey(dst, `"port":`)
		dst = strconv.AppendUint(dst, uint64(p.Port), 10)
	}
	if p.Bytes != 0 || p.HasBytes {
		dst = appendKey(dst, `"bytes":`)
		dst = strconv.AppendUint(dst, p.Bytes, 10)
	}
	if p.Packets != 0 || p.HasPackets {
		dst = appendKey(dst, `"packets":`)
		dst = strconv.AppendUint(dst, p.Packets, 10)
	}
	if p.HasMAC {
		dst = appendKey(dst, `"mac":"`)
		// ECS: uppercase hexadecimal separated by hyphens.
		for i, b := range p.MAC {
			if i > 0 {
				dst = append(dst, '-')
			}
			dst = append(dst, hexUpper[b>>4], hexUpper[b&0xf])
		}
		dst = append(dst, '"')
	}
	if l := p.Locality.String(); l != "" {
		dst = appendKey(dst, `"locality":"`)
		dst = append(dst, l...)
		dst = append(dst, '"')
	}
	if p.Geo != nil {
		dst = p.Geo.appendJSON(dst)
	}
	return closeObject(dst, mark)
}

// appendJSON writes the "geo" and "as" objects of an endpoint (what is
// known of them).
func (g *Geo) appendJSON(dst []byte) []byte {
	if len(g.rendered) > 0 {
		if len(dst) > 0 && dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		return append(dst, g.rendered...)
	}
	mark := len(dst)
	dst = appendKey(dst, `"geo":{`)
	for _, kv := range [...]struct{ k, v string }{
		{`"city_name":`, g.CityName}, {`"continent_code":`, g.ContinentCode},
		{`"country_iso_code":`, g.CountryISO}, {`"country_name":`, g.CountryName},
		{`"region_iso_code":`, g.RegionISO}, {`"region_name":`, g.RegionName},
	} {
		if kv.v != "" {
			dst = appendKey(dst, kv.k)
			dst = appendString(dst, kv.v)
		}
	}
	if g.HasLocation {
		dst = appendKey(dst, `"location":{"lat":`)
		dst = appendFloat(dst, g.Lat)
		dst = append(dst, `,"lon":`...)
		dst = appendFloat(dst, g.Lon)
		dst = append(dst, '}')
	}
	dst = closeObject(dst, mark)
	if g.ASN != 0 || g.ASOrg != "" {
		dst = appendKey(dst, `"as":{`)
		if g.ASN != 0 {
			dst = append(dst, `"number":`...)
			dst = strconv.AppendUint(dst, uint64(g.ASN), 10)
		}
		if g.ASOrg != "" {
			dst = appendKey(dst, `"organization":{"name":`)
			dst = appendString(dst, g.ASOrg)
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	return dst
}

// appendJSON writes the ECS tags array, or nothing without known tags.
func (t Tags) appendJSON(dst []byte) []byte {
	known := t & (1<<len(tagNames) - 1)
	if known == 0 {
		return dst
	}
	dst = appendKey(dst, `"tags":[`)
	for i, name := range tagNames {
		if known&(1<<i) == 0 {
			continue
		}
		if dst[len(dst)-1] != '[' {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

// appendFieldValue writes the typed value of a writable netflow field.
func appendFieldValue(dst []byte, f *Field, dc *dateCache) []byte {
	switch f.Type {
	case FieldUint:
		dst = strconv.AppendUint(dst, f.U, 10)
	case FieldInt:
		dst = strconv.AppendInt(dst, int64(f.U), 10)
	case FieldString:
		dst = appendString(dst, f.S)
	case FieldIP:
		dst = appendIP(dst, f.IP)
	case FieldMAC:
		// ECS's form, as the flows' MACs: upper case, dash-separated.
		dst = append(dst, '"')
		for i, b := range f.B {
			if i > 0 {
				dst = append(dst, '-')
			}
			dst = append(dst, hexUpper[b>>4], hexUpper[b&0xf])
		}
		dst = append(dst, '"')
	case FieldHex:
		dst = append(dst, '"')
		for _, b := range f.B {
			dst = append(dst, hexLower[b>>4], hexLower[b&0xf])
		}
		dst = append(dst, '"')
	case FieldTime:
		dst = dc.appendTime(dst, time.Unix(0, int64(f.U)))
	case FieldTimeMillis:
		dst = dc.appendTime(dst, time.UnixMilli(int64(f.U)))
	case FieldBool:
		if f.U != 0 {
			dst = append(dst, "true"...)
		} else {
			dst = append(dst, "false"...)
		}
	case FieldFloat:
		dst = appendFloat(dst, math.Float64frombits(f.U))
	case FieldJSON:
		dst = append(dst, f.B...)
	}
	return dst
}

const (
	hexLower = "0123456789abcdef"
	hexUpper = "0123456789ABCDEF"
)

// appendKey appends a comma when dst is not at the start of an object or
// array, then s (a quoted key and whatever follows it).
func appendKey(dst []byte, s string) []byte {
	if c := dst[len(dst)-1]; c != '{' && c != '[' {
		dst = append(dst, ',')
	}
	return append(dst, s...)
}

// closeObject closes the object that was opened at mark, or removes it
// (including its key and comma) when it stayed empty.
func closeObject(dst []byte, mark int) []byte {
	if dst[len(dst)-1] == '{' {
		return dst[:mark]
	}
	return append(dst, '}')
}

// appendIP appends a quoted address without its IPv6 zone.
func appendIP(dst []byte, ip netip.Addr) []byte {
	dst = append(dst, '"')
	dst = ip.WithZone("").AppendTo(dst)
	return append(dst, '"')
}

// appendFloat appends f as a JSON number the way encoding/json does, and null
// for NaN and infinities, which JSON cannot represent.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9.
		if m := len(dst) - n; m >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// appendTime appends t as a quoted RFC 3339 UTC time: with milliseconds when
// the time has a sub-second part ("2026-11-24T03:22:09.123Z"), without when
// it is whole ("2026-11-24T03:22:09Z"). Years outside 0000-9999 are clamped.
func appendTime(dst []byte, t time.Time) []byte {
	var c dateCache
	return c.appendTime(dst, t)
}

// dateCache remembers the last day converted to a date: the times of one
// event (@timestamp, created, start, end) mostly fall on the same day.
type dateCache struct {
	days    int64
	y, m, d int
	ok      bool
}

func (c *dateCache) appendTime(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	ms := t.Nanosecond() / 1e6
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	if !c.ok || c.days != days {
		c.y, c.m, c.d = civilFromDays(days)
		c.days, c.ok = days, true
	}
	y, m, d := c.y, c.m, c.d
	if y < 0 {
		y, m, d, rem, ms = 0, 1, 1, 0, 0
	} else if y > 9999 {
		y, m, d, rem, ms = 9999, 12, 31, 86399, 999
	}
	hh, mm, ss := int(rem/3600), int(rem/60%60), int(rem%60)
	var b [26]byte
	b[0] = '"'
	b[1], b[2], b[3], b[4] = byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
	b[5] = '-'
	b[6], b[7] = byte('0'+m/10), byte('0'+m%10)
	b[8] = '-'
	b[9], b[10] = byte('0'+d/10), byte('0'+d%10)
	b[11] = 'T'
	b[12], b[13] = byte('0'+hh/10), byte('0'+hh%10)
	b[14] = ':'
	b[15], b[16] = byte('0'+mm/10), byte('0'+mm%10)
	b[17] = ':'
	b[18], b[19] = byte('0'+ss/10), byte('0'+ss%10)
	if ms == 0 {
		b[20], b[21] = 'Z', '"'
		return append(dst, b[:22]...)
	}
	b[20] = '.'
	b[21], b[22], b[23] = byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10)
	b[24], b[25] = 'Z', '"'
	return append(dst, b[:26]...)
}

// civilFromDays converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func civilFromDays(z int64) (year, month, day int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100) // [0, 365]
	mp := (5*doy + 2) / 153                  // [0, 11]
	d := doy - (153*mp+2)/5 + 1              // [1, 31]
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

// appendString appends s as a quoted JSON string. Control characters, quote
// and backslash are escaped; invalid UTF-8 bytes become \ufffd.
//
// Plain runs are found eight bytes at a time (firstSpecial) and copied
// whole; only the bytes that need care are looked at one by one.
// AppendJSONString appends s as a JSON string, as the encoder writes
// every string value: quote, backslash and control characters escaped,
// invalid UTF-8 as U+FFFD. For packages that build a FieldJSON value.
func AppendJSONString(dst []byte, s string) []byte { return appendString(dst, s) }

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	start, i := 0, 0
	for i < len(b) {
		if i+16 <= len(b) {
			// Sixteen bytes per round: one branch for the common case.
			m0 := specialMask(binary.LittleEndian.Uint64(b[i:]))
			m1 := specialMask(binary.LittleEndian.Uint64(b[i+8:]))
			if m0|m1 == 0 {
				i += 16
				continue
			}
			if m0 != 0 {
				i += bits.TrailingZeros64(m0) >> 3
			} else {
				i += 8 + bits.TrailingZeros64(m1)>>3
			}
		} else if i+8 <= len(b) {
			k := firstSpecial(binary.LittleEndian.Uint64(b[i:]))
			i += k
			if k == 8 {
				continue
			}
		} else if c := b[i]; c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError {
			// An invalid byte, or a U+FFFD written out: both become the
			// same escape, so equal decoded strings have equal encodings
			// (the netflow duplicate-key check relies on it).
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// firstSpecial returns the index (0..7) of the first of the eight bytes in
// x (little endian: the first byte in memory is the lowest) that JSON
// strings cannot hold as it is: below 0x20, '"', '\\', or not ASCII; 8 when
// there is none. The bit tricks (has-less-than, has-zero-byte) can also flag
// a byte after a real match, through the borrow, but never one before it,
// so the lowest flag is exact.
func firstSpecial(x uint64) int {
	return bits.TrailingZeros64(specialMask(x)) >> 3
}

// specialMask has the high bit set of each byte of x that firstSpecial
// looks for (and possibly of bytes after the first such one).
func specialMask(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	ctl := (x - ones*0x20) &^ x
	q := x ^ (ones * '"')
	q = (q - ones) &^ q
	bs := x ^ (ones * '\\')
	bs = (bs - ones) &^ bs
	return (ctl | q | bs | x) & high
}

// TransportName returns the lowercase IANA keyword ECS uses for
// network.transport, or "" for protocols without a well-known name (what
// the encoder writes; queries on live events read it here too).
func TransportName(p uint8) string { return transportName(p) }

func transportName(p uint8) string {
	switch p {
	case 0:
		return "hopopt"
	case 1:
		return "icmp"
	case 2:
		return "igmp"
	case 4:
		return "ipv4"
	case 6:
		return "tcp"
	case 8:
		return "egp"
	case 17:
		return "udp"
	case 33:
		return "dccp"
	case 41:
		return "ipv6"
	case 43:
		return "ipv6-route"
	case 44:
		return "ipv6-frag"
	case 46:
		return "rsvp"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 51:
		return "ah"
	case 58:
		return "ipv6-icmp"
	case 59:
		return "ipv6-nonxt"
	case 60:
		return "ipv6-opts"
	case 88:
		return "eigrp"
	case 89:
		return "ospf"
	case 94:
		return "ipip"
	case 103:
		return "pim"
	case 112:
		return "vrrp"
	case 115:
		return "l2tp"
	case 132:
		return "sctp"
	case 136:
		return "udplite"
	case 137:
		return "mpls-in-ip"
	}
	return ""
}

// appendFlowID appends the flow.id of e: the unpadded base64url encoding of
// the first 12 bytes of the FNV-1a 128-bit hash (as hash/fnv New128a
// computes it) of these bytes:
//
//	families: 1 byte, bit 0/1/2 set when the observer/source/destination
//	          address is IPv4 (after unmapping)
//	observer address: 4 or 16 bytes (16 zero bytes when invalid)
//	flow.SourceID: 4 bytes, big endian
//	source address, destination address: 4 or 16 bytes each
//	source port, destination port: 2 bytes each, big endian
//	protocol: 1 byte (0 when unknown)
//	flow start: 8 bytes, Unix nanoseconds big endian (0 when unknown)
//
// It identifies one record of one exporter (it is directional, unlike
// network.community_id) and is stable across restarts and sluice instances.
func (e *Event) appendFlowID(dst []byte) []byte {
	var in [1 + 16 + 4 + 16 + 16 + 4 + 1 + 8]byte
	n := 1
	n = putAddr(in[:], n, e.Observer, 1, &in[0])
	sid := e.Flow.SourceID
	in[n], in[n+1], in[n+2], in[n+3] = byte(sid>>24), byte(sid>>16), byte(sid>>8), byte(sid)
	n += 4
	n = putAddr(in[:], n, e.Src.IP, 2, &in[0])
	n = putAddr(in[:], n, e.Dst.IP, 4, &in[0])
	in[n], in[n+1], in[n+2], in[n+3] = byte(e.Src.Port>>8), byte(e.Src.Port), byte(e.Dst.Port>>8), byte(e.Dst.Port)
	n += 4
	if e.Flow.HasProtocol {
		in[n] = e.Flow.Protocol
	}
	n++
	var start uint64
	if !e.Flow.Start.IsZero() {
		start = uint64(e.Flow.Start.UnixNano())
	}
	for i := 0; i < 8; i++ {
		in[n+i] = byte(start >> (56 - 8*i))
	}
	n += 8
	sum := fnv1a128(in[:n])
	return base64.RawURLEncoding.AppendEncode(dst, sum[:12])
}

// putAddr writes a as 4 bytes (IPv4, setting bit in *fam) or 16 bytes at
// in[n:] and returns the new offset.
func putAddr(in []byte, n int, a netip.Addr, bit byte, fam *byte) int {
	a = a.Unmap()
	if a.Is4() {
		*fam |= bit
		b := a.As4()
		return n + copy(in[n:], b[:])
	}
	b := a.As16() // zero for an invalid address
	return n + copy(in[n:], b[:])
}

// fnv1a128 returns the FNV-1a 128-bit hash of p, big endian, as hash/fnv's
// New128a would (without its allocation).
func fnv1a128(p []byte) [16]byte {
	const (
		offsetHi = 0x6c62272e07bb0142
		offsetLo = 0x62b821756295c58d
		primeLo  = 0x13b // the prime is 2^88 + 2^8 + 0x3b
		primeShf = 24    // 2^88 = 2^(64+24)
	)
	hi, lo := uint64(offsetHi), uint64(offsetLo)
	for _, c := range p {
		lo ^= uint64(c)
		// (hi:lo) * (2^88 + 0x13b) mod 2^128
		h, l := bits.Mul64(lo, primeLo)
		h += hi*primeLo + lo<<primeShf
		hi, lo = h, l
	}
	var out [16]byte
	for i := 0; i < 8; i++ {
		out[i] = byte(hi >> (56 - 8*i))
		out[8+i] = byte(lo >> (56 - 8*i))
	}
	return out
}
