package event

import (
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Facility and severity names (RFC 5424 6.2.1), as ECS log.syslog.*.name.
var facilityNames = [24]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

var severityNames = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// MaxSyslogFields bounds the fields of one syslog document (sluice's own and
// parsed ones). Parsed fields beyond it are left out: the document is
// tagged _truncated and FieldsLeftOut counts them.
const MaxSyslogFields = 192

const maxSyslogFields = MaxSyslogFields

// MaxParsedFields is how many parsed fields a syslog-shaped document has
// room for whatever sluice's own values are (an input that builds its own
// documents, as the Beats converter, stops there and tags _truncated).
const MaxParsedFields = maxSyslogFields - maxOwnFields

var fieldsLeftOut atomic.Uint64

// FieldsLeftOut is how many parsed fields the encoder has left out of
// documents since the start because they had more than fit
// (sluice_output_fields_left_out_total).
func FieldsLeftOut() uint64 { return fieldsLeftOut.Load() }

// appendSyslog writes a KindSyslog event. sluice's own values and the
// parsed Fields are merged into one tree by their dotted paths, so that
// "event.action" from a parser and "event.created" from sluice share one
// "event" object: Elasticsearch refuses documents with duplicate keys. When
// two values claim the same path, sluice's own wins, then the first parsed
// one; a value whose path is a prefix of another's (a leaf where an object
// is needed) is left out.
//
// usePlans false always takes the long way (tests compare both).
func (e *Event) appendSyslog(dst []byte, dc *dateCache, own *[maxOwnFields]Field, usePlans bool) []byte {
	n := e.ownSyslogFields(own)

	// The layout of the tree (order, nesting, what is left out) depends
	// only on the sequence of keys, and a parser emits the same few
	// sequences over and over: a cached plan replays it (see plan.go).
	// Only the first maxSyslogFields values are considered; what is left
	// out is counted and the document says so.
	fields := e.Fields
	if keep := maxSyslogFields - n; len(fields) > keep {
		fieldsLeftOut.Add(uint64(len(fields) - keep))
		e.Tags |= TagTruncated
		fields = fields[:keep]
	}
	var h uint64
	var p *syslogPlan
	if usePlans {
		h = hashKeys(own, n, fields)
		p = lookupPlan(h, own, n, fields)
	}
	e.layout = p
	if p != nil {
		dst = p.appendTree(dst, own, n, fields, dc)
	} else {
		var seq [maxSyslogFields]string
		np := 0
		for i := 0; i < n; i++ {
			seq[np] = own[i].Key
			np++
		}
		for i := range fields {
			seq[np] = parsedKey(&fields[i])
			np++
		}
		var rec treeRecord
		base := len(dst)
		dst = appendTreeSlow(dst, own, n, fields, &seq, np, dc, &rec)
		if usePlans {
			e.layout = maybeStorePlan(h, seq[:np], n, dst[base:], &rec)
		}
	}
	if e.Kind == KindBeats {
		dst = e.appendBeatTags(dst)
	} else {
		dst = e.Tags.appendJSON(dst)
	}
	dst = appendKey(dst, `"ecs":{"version":"`+ECSVersion+`"}`)
	return append(dst, '}')
}

// appendBeatTags writes the tags of a Beat's document: sluice's own, then
// the Beat's, which its converter keeps as a FieldJSON array at "tags"
// (the tree leaves that path out).
func (e *Event) appendBeatTags(dst []byte) []byte {
	var theirs []byte
	for i := range e.Fields {
		if f := &e.Fields[i]; f.Key == "tags" && f.Type == FieldJSON && len(f.B) > 2 && f.B[0] == '[' && f.B[len(f.B)-1] == ']' {
			theirs = f.B
			break
		}
	}
	n := len(dst)
	dst = e.Tags.appendJSON(dst)
	switch {
	case theirs == nil:
		return dst
	case len(dst) == n:
		return append(appendKey(dst, `"tags":`), theirs...)
	}
	dst[len(dst)-1] = ',' // sluice's array goes on with the Beat's elements
	return append(dst, theirs[1:]...)
}

// maxOwnFields bounds sluice's own values in a syslog document.
const maxOwnFields = 56

// ownSyslogFields fills own with sluice's own values of a syslog document,
// in path order (pathLess) so that only the parsed fields need sorting,
// and returns how many there are. Their keys must be string constants
// (literals, the endpoint key tables): plans keep them without a copy.
func (e *Event) ownSyslogFields(own *[maxOwnFields]Field) int {
	n := 0
	sl := &e.Syslog
	n = appendEndpointFields(own, n, &e.Dst, &destinationKeys)
	if !e.Created.IsZero() {
		own[n] = Field{Key: "event.created", Type: FieldTime, U: uint64(e.Created.UnixNano())}
		n++
	}
	ds := sl.Dataset
	if ds == "" {
		ds = "sluice.syslog"
	}
	own[n] = Field{Key: "event.dataset", Type: FieldString, S: ds}
	n++
	if e.Kind != KindBeats { // a Beat's document keeps its own (or none)
		own[n] = Field{Key: "event.kind", Type: FieldString, S: "event"}
		own[n+1] = Field{Key: "event.module", Type: FieldString, S: "sluice"}
		n += 2
	}
	if sl.Original != "" {
		own[n] = Field{Key: "event.original", Type: FieldString, S: sl.Original}
		n++
	}
	if sl.Hostname != "" {
		own[n] = Field{Key: "host.hostname", Type: FieldString, S: sl.Hostname}
		n++
	}
	pid, pidOK := uint64(0), false
	if sl.ProcID != "" {
		v, err := strconv.ParseUint(sl.ProcID, 10, 32)
		pid, pidOK = v, err == nil
	}
	hasPri := sl.HasPriority && sl.Priority <= 191
	fac, sev := int(sl.Priority)/8, int(sl.Priority)%8
	if hasPri {
		own[n] = Field{Key: "log.syslog.facility.code", Type: FieldUint, U: uint64(fac)}
		own[n+1] = Field{Key: "log.syslog.facility.name", Type: FieldString, S: facilityNames[fac]}
		n += 2
	}
	if sl.MsgID != "" {
		own[n] = Field{Key: "log.syslog.msgid", Type: FieldString, S: sl.MsgID}
		n++
	}
	if hasPri {
		own[n] = Field{Key: "log.syslog.priority", Type: FieldUint, U: uint64(sl.Priority)}
		n++
	}
	if sl.ProcID != "" && !pidOK {
		own[n] = Field{Key: "log.syslog.procid", Type: FieldString, S: sl.ProcID}
		n++
	}
	if hasPri {
		own[n] = Field{Key: "log.syslog.severity.code", Type: FieldUint, U: uint64(sev)}
		own[n+1] = Field{Key: "log.syslog.severity.name", Type: FieldString, S: severityNames[sev]}
		n += 2
	}
	if sl.Message != "" {
		own[n] = Field{Key: "message", Type: FieldString, S: sl.Message}
		n++
	}
	if d := e.Direction.String(); d != "" {
		own[n] = Field{Key: "network.direction", Type: FieldString, S: d}
		n++
	}
	if e.Flow.HasProtocol {
		own[n] = Field{Key: "network.iana_number", Type: FieldString, S: ianaNumbers[e.Flow.Protocol]}
		n++
		if name := transportName(e.Flow.Protocol); name != "" {
			own[n] = Field{Key: "network.transport", Type: FieldString, S: name}
			n++
		}
	}
	if e.Observer.IsValid() {
		own[n] = Field{Key: "observer.ip", Type: FieldIP, IP: e.Observer}
		n++
	}
	if sl.AppName != "" {
		own[n] = Field{Key: "process.name", Type: FieldString, S: sl.AppName}
		n++
	}
	if pidOK {
		own[n] = Field{Key: "process.pid", Type: FieldUint, U: pid}
		n++
	}
	if !e.OriginalTimestamp.IsZero() {
		// Milliseconds: the original time may lie beyond UnixNano's years.
		own[n] = Field{Key: "sluice.original_timestamp", Type: FieldTimeMillis, U: uint64(e.OriginalTimestamp.UnixMilli())}
		n++
	}
	n = appendEndpointFields(own, n, &e.Src, &sourceKeys)

	return n
}

// endpointKeys are the own paths of one endpoint, in path order.
type endpointKeys struct {
	asNumber, asOrg, bytes                         string
	city, continent, countryISO, country, lat, lon string
	regionISO, region, ip, locality, packets, port string
}

func newEndpointKeys(p string) endpointKeys {
	return endpointKeys{
		asNumber: p + ".as.number", asOrg: p + ".as.organization.name", bytes: p + ".bytes",
		city: p + ".geo.city_name", continent: p + ".geo.continent_code", countryISO: p + ".geo.country_iso_code",
		country: p + ".geo.country_name", lat: p + ".geo.location.lat", lon: p + ".geo.location.lon",
		regionISO: p + ".geo.region_iso_code", region: p + ".geo.region_name", ip: p + ".ip",
		locality: p + ".locality", packets: p + ".packets", port: p + ".port",
	}
}

var sourceKeys, destinationKeys = newEndpointKeys("source"), newEndpointKeys("destination")

// appendEndpointFields adds an endpoint's known values (in path order).
func appendEndpointFields(own *[maxOwnFields]Field, n int, p *Endpoint, k *endpointKeys) int {
	str := func(key, v string) {
		if v != "" {
			own[n] = Field{Key: key, Type: FieldString, S: v}
			n++
		}
	}
	g := p.Geo
	if g != nil && g.ASN != 0 {
		own[n] = Field{Key: k.asNumber, Type: FieldUint, U: uint64(g.ASN)}
		n++
	}
	if g != nil {
		str(k.asOrg, g.ASOrg)
	}
	if p.Bytes != 0 {
		own[n] = Field{Key: k.bytes, Type: FieldUint, U: p.Bytes}
		n++
	}
	if g != nil {
		str(k.city, g.CityName)
		str(k.continent, g.ContinentCode)
		str(k.countryISO, g.CountryISO)
		str(k.country, g.CountryName)
		if g.HasLocation {
			own[n] = Field{Key: k.lat, Type: FieldFloat, U: math.Float64bits(g.Lat)}
			own[n+1] = Field{Key: k.lon, Type: FieldFloat, U: math.Float64bits(g.Lon)}
			n += 2
		}
		str(k.regionISO, g.RegionISO)
		str(k.region, g.RegionName)
	}
	if p.IP.IsValid() {
		own[n] = Field{Key: k.ip, Type: FieldIP, IP: p.IP}
		n++
	}
	str(k.locality, p.Locality.String())
	if p.Packets != 0 {
		own[n] = Field{Key: k.packets, Type: FieldUint, U: p.Packets}
		n++
	}
	if p.Port != 0 {
		own[n] = Field{Key: k.port, Type: FieldUint, U: uint64(p.Port)}
		n++
	}
	return n
}

// ianaNumbers holds the decimal strings of 0..255 (network.iana_number).
var ianaNumbers = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// validPath reports whether p is a usable dotted path: valid UTF-8, no empty segment, not
// one of the keys written outside the tree.
func validPath(p string) bool {
	if p == "" || p[0] == '.' || p[len(p)-1] == '.' || strings.Contains(p, "..") {
		return false
	}
	// Invalid UTF-8 would be written as U+FFFD, so two different keys
	// could become the same one.
	if !utf8.ValidString(p) {
		return false
	}
	switch p {
	case "@timestamp", "tags", "ecs", "ecs.version":
		return false
	}
	return !strings.HasPrefix(p, "ecs.") && !strings.HasPrefix(p, "tags.") && !strings.HasPrefix(p, "@timestamp.")
}

// pathLess orders dotted paths segment by segment ('.' sorts before every
// other byte), so that all paths below "a.b" directly follow "a.b" and
// precede "a.b-x": the tree is written in one pass.
func pathLess(a, b string) bool {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '.' {
			return true
		}
		if cb == '.' {
			return false
		}
		return ca < cb
	}
	return len(a) < len(b)
}

// sortPositions sorts ps stably by keys[p] (pathLess): insertion sort
// for short runs, then bottom-up merges through tmp (len(tmp) == len(ps)).
func sortPositions(keys *[maxSyslogFields]string, ps, tmp []uint16) {
	const run = 8
	for lo := 0; lo < len(ps); lo += run {
		hi := min(lo+run, len(ps))
		for i := lo + 1; i < hi; i++ {
			for j := i; j > lo && pathLess(keys[ps[j]], keys[ps[j-1]]); j-- {
				ps[j], ps[j-1] = ps[j-1], ps[j]
			}
		}
	}
	src, dst := ps, tmp
	for width := run; width < len(ps); width *= 2 {
		for lo := 0; lo < len(ps); lo += 2 * width {
			mid, hi := min(lo+width, len(ps)), min(lo+2*width, len(ps))
			i, j, k := lo, mid, lo
			for i < mid && j < hi {
				if pathLess(keys[src[j]], keys[src[i]]) {
					dst[k] = src[j]
					j++
				} else {
					dst[k] = src[i]
					i++
				}
				k++
			}
			k += copy(dst[k:], src[i:mid])
			copy(dst[k:], src[j:hi])
		}
		src, dst = dst, src
	}
	if len(ps) > 0 && &src[0] != &ps[0] {
		copy(ps, src)
	}
}

// isParent reports whether a path after key (in pathLess order, skipping
// duplicates of key) lies below key.
func isParent(keys *[maxSyslogFields]string, key string, rest []uint16) bool {
	for _, p := range rest {
		k := keys[p]
		if k == key {
			continue
		}
		return len(k) > len(key) && k[len(key)] == '.' && strings.HasPrefix(k, key)
	}
	return false
}

// splitPath splits a dotted path into segs (up to 17 segments).
func splitPath(segs *[17]string, p string) []string {
	n := 0
	for n < len(segs) {
		i := strings.IndexByte(p, '.')
		if i < 0 {
			segs[n] = p
			n++
			break
		}
		segs[n] = p[:i]
		n++
		p = p[i+1:]
	}
	return segs[:n]
}
