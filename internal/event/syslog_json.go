package event

import (
	"strconv"
	"strings"
)

// Facility and severity names (RFC 5424 6.2.1), as ECS log.syslog.*.name.
var facilityNames = [24]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

var severityNames = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// maxSyslogFields bounds the fields of one syslog document (sluice's own and
// parsed ones); further parsed fields are left out.
const maxSyslogFields = 96

// appendSyslog writes a KindSyslog event. sluice's own values and the
// parsed Fields are merged into one tree by their dotted paths, so that
// "event.action" from a parser and "event.created" from sluice share one
// "event" object: Elasticsearch refuses documents with duplicate keys. When
// two values claim the same path, sluice's own wins, then the first parsed
// one; a value whose path is a prefix of another's (a leaf where an object
// is needed) is left out.
func (e *Event) appendSyslog(dst []byte, dc *dateCache) []byte {
	// sluice's own values, added in path order (pathLess) so that sorting
	// only has to place the parsed fields.
	var own [28]Field
	n := 0
	sl := &e.Syslog
	n = appendEndpointFields(&own, n, &e.Dst, "destination.bytes", "destination.ip", "destination.packets", "destination.port")
	if !e.Created.IsZero() {
		own[n] = Field{Key: "event.created", Type: FieldTime, U: uint64(e.Created.UnixNano())}
		n++
	}
	ds := sl.Dataset
	if ds == "" {
		ds = "sluice.syslog"
	}
	own[n] = Field{Key: "event.dataset", Type: FieldString, S: ds}
	own[n+1] = Field{Key: "event.kind", Type: FieldString, S: "event"}
	own[n+2] = Field{Key: "event.module", Type: FieldString, S: "sluice"}
	n += 3
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
	n = appendEndpointFields(&own, n, &e.Src, "source.bytes", "source.ip", "source.packets", "source.port")

	// Order every value by path; own values first among equals.
	var ptrs [maxSyslogFields]*Field
	np := 0
	for i := 0; i < n; i++ {
		ptrs[np] = &own[i]
		np++
	}
	for i := range e.Fields {
		if np == len(ptrs) {
			break
		}
		if f := &e.Fields[i]; f.writable() && validPath(f.Key) {
			ptrs[np] = f
			np++
		}
	}
	list := ptrs[:np]
	// Insertion sort: stable, no allocation, and lists are short.
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && pathLess(list[j].Key, list[j-1].Key); j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}

	var open [16]string // path segments of the objects currently open
	var segBuf [17]string
	depth := 0
	prev := ""
	for i, f := range list {
		if f.Key == prev {
			continue // duplicate path: the first (sluice's own) wins
		}
		if isParent(f.Key, list[i+1:]) {
			continue // a leaf where an object is needed
		}
		prev = f.Key
		segs := splitPath(&segBuf, f.Key)
		if len(segs) > len(open) {
			continue
		}
		// Close the objects not shared with this path.
		common := 0
		for common < depth && common < len(segs)-1 && open[common] == segs[common] {
			common++
		}
		for depth > common {
			dst = append(dst, '}')
			depth--
		}
		for _, sg := range segs[depth : len(segs)-1] {
			if c := dst[len(dst)-1]; c != '{' {
				dst = append(dst, ',')
			}
			dst = appendString(dst, sg)
			dst = append(dst, ':', '{')
			open[depth] = sg
			depth++
		}
		if c := dst[len(dst)-1]; c != '{' {
			dst = append(dst, ',')
		}
		dst = appendString(dst, segs[len(segs)-1])
		dst = append(dst, ':')
		dst = appendFieldValue(dst, f, dc)
	}
	for ; depth > 0; depth-- {
		dst = append(dst, '}')
	}
	dst = e.Tags.appendJSON(dst)
	dst = appendKey(dst, `"ecs":{"version":"`+ECSVersion+`"}`)
	return append(dst, '}')
}

// appendEndpointFields adds an endpoint's known values under the given keys
// (in path order).
func appendEndpointFields(own *[28]Field, n int, p *Endpoint, kBytes, kIP, kPackets, kPort string) int {
	if p.Bytes != 0 {
		own[n] = Field{Key: kBytes, Type: FieldUint, U: p.Bytes}
		n++
	}
	if p.IP.IsValid() {
		own[n] = Field{Key: kIP, Type: FieldIP, IP: p.IP}
		n++
	}
	if p.Packets != 0 {
		own[n] = Field{Key: kPackets, Type: FieldUint, U: p.Packets}
		n++
	}
	if p.Port != 0 {
		own[n] = Field{Key: kPort, Type: FieldUint, U: uint64(p.Port)}
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

// validPath reports whether p is a usable dotted path: no empty segment, not
// one of the keys written outside the tree.
func validPath(p string) bool {
	if p == "" || p[0] == '.' || p[len(p)-1] == '.' || strings.Contains(p, "..") {
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

// isParent reports whether a path after key (in pathLess order, skipping
// duplicates of key) lies below key.
func isParent(key string, rest []*Field) bool {
	for _, f := range rest {
		if f.Key == key {
			continue
		}
		return len(f.Key) > len(key) && f.Key[len(key)] == '.' && strings.HasPrefix(f.Key, key)
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
