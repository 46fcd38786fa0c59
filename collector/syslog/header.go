// Package syslog parses syslog lines: the header of RFC 5424, RFC 3164 and
// the non-compliant forms real devices send (no hostname, no year, ISO 8601
// timestamps, no PRI, Meraki's epoch timestamps, Cisco IOS counters).
//
// A hand-written scanner handles the common forms without allocating; lines
// it does not recognise go to github.com/leodido/go-syslog/v4 (see
// fallback.go), except those where no timestamp can start after the PRI
// (MikroTik's "<30>firewall,info ..."), which go-syslog would refuse at
// once: they get the same BadHeader result directly (noTimestamp).
// Nothing is rejected: a line whose header cannot be parsed comes back
// whole as the message, flagged BadHeader.
package syslog

import (
	"strconv"
	"strings"
	"time"
)

// Format says which header form a line had.
type Format uint8

// Header forms. FormatUnknown is used whenever BadHeader is set.
const (
	FormatUnknown  Format = iota
	FormatRFC5424         // <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]
	FormatRFC3164         // [<PRI>]TIMESTAMP [HOST] [TAG[PID]:] MSG, TIMESTAMP as "Mmm dd hh:mm:ss" or ISO 8601
	FormatMeraki          // <PRI>1 EPOCH.FRACTION HOST TYPE MSG (Cisco Meraki; RFC 5424 with an epoch timestamp; also without the 1)
	FormatCiscoIOS        // <PRI>[COUNTER: ][HOST: ][SEQ: ][*|.]Mmm dd [yyyy ]hh:mm:ss[.mmm][ ZONE]: %FAC-SEV-MNEMONIC: MSG (ios.go); the mnemonic starts Message
)

var formatNames = [...]string{"unknown", "rfc5424", "rfc3164", "meraki", "cisco_ios"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

// Flags is a bit set of what was missing or had to be guessed in a header.
type Flags uint16

// Problems a header can have.
const (
	NoPRI        Flags = 1 << iota // the line did not start with a valid <PRI>
	NoTimestamp                    // no usable timestamp (absent, RFC 5424 "-", or invalid; see BadTimestamp)
	NoHostname                     // no hostname (absent, or RFC 5424 "-")
	BadHeader                      // the header could not be parsed: Message is the whole line
	YearGuessed                    // an RFC 3164 timestamp without a year; the year was inferred from Parser.Now
	ZoneAssumed                    // a timestamp without a zone; it was read in Parser.Location
	BadTimestamp                   // a timestamp of the right shape with impossible values (Nov 31, 25:00)
)

var flagNames = [...]string{"NoPRI", "NoTimestamp", "NoHostname", "BadHeader", "YearGuessed", "ZoneAssumed", "BadTimestamp"}

func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var b strings.Builder
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n)
		}
	}
	if rest := f &^ (1<<len(flagNames) - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("0x" + strconv.FormatUint(uint64(rest), 16))
	}
	return b.String()
}

// Header is one parsed syslog line. The byte slices point into the line
// given to Parse (never copies) and are nil when the field is absent or is
// the RFC 5424 NILVALUE "-".
type Header struct {
	Format             Format
	Priority           int // 0..191, -1 when absent
	Facility, Severity int // Priority/8 and Priority%8, -1 when absent
	// Timestamp is in UTC; zero when absent or invalid. Zoneless timestamps
	// are read in Parser.Location first.
	Timestamp                 time.Time
	Hostname, AppName, ProcID []byte
	MsgID                     []byte // RFC 5424 only
	StructuredData            []byte // RFC 5424 SD as sent, escapes and all; nil for "-"
	Message                   []byte // MSG without a leading UTF-8 BOM; the whole line when BadHeader
	Problems                  Flags
}

// Parser parses syslog headers. The zero value reads zoneless timestamps as
// UTC and guesses years from the system clock. A Parser is safe for
// concurrent use as long as its fields are not changed.
type Parser struct {
	// Location is the time zone of timestamps that carry none (RFC 3164
	// "Nov 22 08:00:12", zoneless ISO 8601). Nil means UTC.
	Location *time.Location
	// Now is the receive time used to pick the year of RFC 3164 timestamps:
	// the year that puts the timestamp closest to Now. Nil means time.Now.
	Now func() time.Time

	// received, when Now is nil and it is not zero, stands for Now: the
	// Decoder sets it on its copy to the packet's receive time.
	received time.Time
}

// Parse fills h from line. It never fails: a header it cannot make sense of
// leaves Message = the whole line and sets BadHeader (Priority and whatever
// else was read before the problem are kept). Trailing CR, LF and NUL bytes
// are not part of the line. The common forms are parsed without allocating;
// h's slices alias line.
func (p *Parser) Parse(line []byte, h *Header) {
	line = trimEnd(line)
	if !p.parseFast(line, h) && !noTimestamp(line, h) {
		p.parseLib(line, h)
	}
	if h.Problems&BadHeader == 0 {
		p.ciscoIOS(line, h)
	}
	// A written time that is Go's zero time ("0001-01-01 00:00:00Z") cannot
	// be told from no time at all: treat it as a bad one, so the flags agree
	// with the field (found by FuzzParse).
	if h.Timestamp.IsZero() && h.Problems&NoTimestamp == 0 {
		h.Problems |= NoTimestamp | BadTimestamp
	}
}

func trimEnd(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}

func reset(h *Header) {
	*h = Header{Priority: -1, Facility: -1, Severity: -1}
}

func (h *Header) setPriority(pri int) {
	h.Priority, h.Facility, h.Severity = pri, pri/8, pri%8
}

func (p *Parser) loc() *time.Location {
	if p.Location != nil {
		return p.Location
	}
	return time.UTC
}

func (p *Parser) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	if !p.received.IsZero() {
		return p.received
	}
	return time.Now()
}

// Character classes, indexed by byte.
const (
	cGraph  = 1 << iota // PRINTUSASCII, %d33-126
	cDigit              // 0-9
	cSDName             // graph except '=', ']', '"'
	cTag                // graph except ':', '['
	cIPv6               // hex digits, ':', '.', '%': an IPv6 address (with zone) as a hostname
)

var class [256]uint8

func init() {
	for c := 33; c <= 126; c++ {
		class[c] |= cGraph | cSDName | cTag
	}
	for _, c := range []byte{'=', ']', '"'} {
		class[c] &^= cSDName
	}
	class[':'] &^= cTag
	class['['] &^= cTag
	for c := '0'; c <= '9'; c++ {
		class[c] |= cDigit | cIPv6
	}
	for _, c := range []byte("abcdefABCDEF:.%") {
		class[c] |= cIPv6
	}
}

func isDigit(c byte) bool { return class[c]&cDigit != 0 }

// parsePRI reads "<PRI>" at the start of b: 0 or 1..191 without leading
// zeros, as RFC 5424 and go-syslog require.
func parsePRI(b []byte) (pri, n int, ok bool) {
	if len(b) < 3 || b[0] != '<' {
		return 0, 0, false
	}
	i := 1
	for i < len(b) && i <= 4 && isDigit(b[i]) {
		pri = pri*10 + int(b[i]-'0')
		i++
	}
	digits := i - 1
	if digits == 0 || digits > 3 || i >= len(b) || b[i] != '>' || pri > 191 || (digits > 1 && b[1] == '0') {
		return 0, 0, false
	}
	return pri, i + 1, true
}

// parseFast handles the common forms. It reports false, with h in an
// unspecified state, when the line needs the go-syslog fallback.
func (p *Parser) parseFast(line []byte, h *Header) bool {
	reset(h)
	i := 0
	if pri, n, ok := parsePRI(line); ok {
		h.setPriority(pri)
		i = n
	} else if len(line) > 0 && line[0] == '<' {
		return false // a broken PRI: BadHeader, via go-syslog
	} else {
		h.Problems |= NoPRI
	}
	// RFC 5424 and Meraki: VERSION (1-3 digits, no leading zero) then SP.
	if i < len(line) && line[i] >= '1' && line[i] <= '9' {
		j := i + 1
		for j < len(line) && j-i < 4 && isDigit(line[j]) {
			j++
		}
		if j-i <= 3 && j < len(line) && line[j] == ' ' {
			return p.parse5424(line, j+1, h)
		}
	}
	// Meraki without the version digit: "<134> 1795363216.210 HOST TYPE MSG".
	if i > 0 && i < len(line) && line[i] == ' ' && epochToken(line, i+1) {
		return p.parse5424(line, i+1, h)
	}
	return p.parse3164(line, i, h)
}

// noTimestamp handles the lines that go-syslog is certain to refuse at
// once: after the PRI (or at the start, without one) comes a byte that
// no timestamp starts with, as in MikroTik's "<30>firewall,info input:
// ...", a header-less Cisco ASA "%ASA-6-302016: ..." or ScreenOS's
// "<134>NetScreen device_id=...". go-syslog's RFC 3164 machine would fail
// at its first timestamp byte with nothing but the PRI read, so h gets
// what parseLib gives such a line (BadHeader, the whole line as Message,
// the PRI) without the machine's allocations and error formatting.
// FuzzNoTimestamp checks the two agree. It reports false, leaving h
// alone, for every other line.
func noTimestamp(line []byte, h *Header) bool {
	i := 0
	pri, n, ok := parsePRI(line)
	if ok {
		i = n
	} else if len(line) > 0 && line[0] == '<' {
		return false // a broken PRI: go-syslog reads what it can
	}
	if i >= len(line) || !noStampByte(line[i:]) {
		return false
	}
	reset(h)
	h.Problems = BadHeader | NoTimestamp | NoHostname
	if ok {
		h.setPriority(pri)
	} else {
		h.Problems |= NoPRI
	}
	h.Message = line
	return true
}

// noStampByte reports whether b (what follows the PRI) cannot start any
// form the go-syslog machines of parseLib read: not a digit (RFC 5424
// VERSION, RFC 3339 date, Cisco IOS counter), a space (go-syslog skips
// spaces after the PRI), '*' or ':' (Cisco IOS), nor the start of a month
// name (an RFC 3164 Stamp).
func noStampByte(b []byte) bool {
	switch c := b[0]; {
	case c >= 'a' && c <= 'z', c == '%':
		return true
	case c >= 'A' && c <= 'Z':
		if len(b) < 3 {
			return false
		}
		switch string(b[:3]) {
		case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
			return false
		}
		return true
	}
	return false
}

// epochToken reports whether line[i:] starts with an epoch time such as
// Meraki writes (ten or more digits, then a fraction) and a space.
func epochToken(line []byte, i int) bool {
	j := i
	for j < len(line) && isDigit(line[j]) {
		j++
	}
	if j-i < 10 || j >= len(line) || line[j] != '.' {
		return false
	}
	j++
	k := j
	for j < len(line) && isDigit(line[j]) {
		j++
	}
	return j > k && j < len(line) && line[j] == ' '
}

// token returns the end of the run of PRINTUSASCII bytes at b[i:], which
// must be followed by a space or the end of b.
func token(b []byte, i int) (int, bool) {
	j := i
	for j < len(b) && class[b[j]]&cGraph != 0 {
		j++
	}
	return j, j > i && (j == len(b) || b[j] == ' ')
}

// nilOr returns b, or nil for the NILVALUE "-".
func nilOr(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

// rest returns b[i:], nil when empty.
func rest(b []byte, i int) []byte {
	if i >= len(b) {
		return nil
	}
	return b[i:]
}

var bom = []byte{0xEF, 0xBB, 0xBF}

func stripBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == bom[0] && b[1] == bom[1] && b[2] == bom[2] {
		return rest(b, 3)
	}
	return b
}

// parse5424 parses what follows "<PRI>VERSION SP". Fields are separated by
// exactly one space, as RFC 5424 says; field lengths are not limited beyond
// the 255 bytes of a hostname, so a 60-byte APP-NAME is kept, not rejected.
func (p *Parser) parse5424(line []byte, i int, h *Header) bool {
	j, ok := token(line, i)
	if !ok {
		return false
	}
	ts := line[i:j]
	h.Format = FormatRFC5424
	switch {
	case len(ts) == 1 && ts[0] == '-':
		h.Problems |= NoTimestamp
	case len(ts) >= 19 && ts[4] == '-':
		if !p.setISO(ts, false, h) {
			return false
		}
	case isDigit(ts[0]):
		t, ok := parseEpoch(ts)
		if !ok {
			return false
		}
		h.Timestamp, h.Format = t, FormatMeraki
	default:
		return false
	}
	var f [4][]byte // HOSTNAME APP-NAME PROCID MSGID
	nf := 4
	if h.Format == FormatMeraki {
		nf = 2 // Meraki: HOST TYPE MSG, no PROCID, MSGID or SD
	}
	for k := range nf {
		if j == len(line) {
			return false
		}
		i = j + 1
		if j, ok = token(line, i); !ok || (k == 0 && j-i > 255) {
			return false
		}
		f[k] = nilOr(line[i:j])
	}
	h.Hostname, h.AppName, h.ProcID, h.MsgID = f[0], f[1], f[2], f[3]
	if h.Hostname == nil {
		h.Problems |= NoHostname
	}
	if h.Format == FormatMeraki {
		h.Message = rest(line, j+1)
		return true
	}
	// STRUCTURED-DATA: "-" or one or more [SD-ID *(SP PARAM="VALUE")].
	if j == len(line) {
		return false
	}
	i = j + 1
	switch {
	case i < len(line) && line[i] == '-':
		j = i + 1
	case i < len(line) && line[i] == '[':
		if j, ok = scanSD(line, i); !ok {
			return false
		}
		h.StructuredData = line[i:j]
	default:
		return false
	}
	if j < len(line) {
		if line[j] != ' ' {
			return false
		}
		h.Message = stripBOM(rest(line, j+1))
	}
	return true
}

// scanSD returns the end of the SD-ELEMENTs starting at b[i] == '['.
// PARAM-VALUEs may hold any byte; a backslash escapes the next one.
func scanSD(b []byte, i int) (int, bool) {
	for i < len(b) && b[i] == '[' {
		i++
		j := sdNameSpan(b, i, 32)
		if j == i || j-i > 32 {
			return 0, false
		}
		i = j
		for {
			if i >= len(b) {
				return 0, false
			}
			if b[i] == ']' {
				i++
				break
			}
			if b[i] != ' ' {
				return 0, false
			}
			i++
			j = sdNameSpan(b, i, 32)
			if j == i || j-i > 32 || j+1 >= len(b) || b[j] != '=' || b[j+1] != '"' {
				return 0, false
			}
			i = j + 2
			// As in structuredData: a scan to the quote, and the walk
			// escape by escape only when a backslash comes before it.
			i = sdValueStop(b, i)
			if i == len(b) {
				return 0, false
			}
			if b[i] == '"' {
				i++
				continue
			}
			for {
				if i >= len(b) {
					return 0, false
				}
				c := b[i]
				i++
				if c == '"' {
					break
				}
				if c == '\\' {
					i++
				}
			}
		}
	}
	return i, true
}

// parseEpoch reads Meraki's "1795363203.657231795": Unix seconds with an
// optional fraction of up to 9 digits.
func parseEpoch(b []byte) (time.Time, bool) {
	var sec, ns int64
	i := 0
	for i < len(b) && isDigit(b[i]) {
		sec = sec*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 || i > 12 {
		return time.Time{}, false
	}
	if i < len(b) {
		if b[i] != '.' {
			return time.Time{}, false
		}
		i++
		n := 0
		for i < len(b) && isDigit(b[i]) && n < 9 {
			ns = ns*10 + int64(b[i]-'0')
			i++
			n++
		}
		if n == 0 || i != len(b) {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			ns *= 10
		}
	}
	return time.Unix(sec, ns).UTC(), true
}

// parse3164 parses what follows the PRI (if any) as
// TIMESTAMP[:] SP [HOSTNAME SP] [TAG[\[PID\]]:[SP]] MSG.
func (p *Parser) parse3164(line []byte, i int, h *Header) bool {
	for i < len(line) && line[i] == ' ' {
		i++
	}
	if i == len(line) {
		return false
	}
	h.Format = FormatRFC3164
	// Cisco IOS: "123: *Mar  1 ...", "*Mar  1 ...", "123: router1: ...".
	if c := line[i]; c == '*' || c == '.' || isDigit(c) && counterAt(line, i) {
		ok, _ := p.parseIOS(line, i, h)
		return ok
	}
	var n int
	switch c := line[i]; {
	case c >= 'A' && c <= 'S':
		n = p.setStamp(line[i:], h)
	case isDigit(c):
		n = p.setISOPrefix(line[i:], h)
	}
	if n == 0 {
		// No timestamp. With a PRI, "TAG: MSG" is still recognised
		// (Cisco ASA without "logging timestamp": "<166>%ASA-6-302013: ...").
		if h.Problems&NoPRI != 0 {
			return false
		}
		e, _ := token(line, i)
		d := i
		for d < e && isDigit(line[d]) {
			d++
		}
		// "<189>123: *Mar  1 ..." (and "123:45: ...") is Cisco IOS: a
		// counter, digits then ':', as pickMachine sees it; go-syslog.
		if _, _, _, _, ok := parseTag(line, i); !ok || e == i || line[e-1] != ':' || (d > i && d < e && line[d] == ':') {
			if keyValueStart(line[i:e]) {
				badHeaderKV(line, h)
				return true
			}
			return false
		}
		h.Problems |= NoTimestamp | NoHostname
		p.tagAndMsg(line, i, h)
		return true
	}
	i += n
	if n > 0 {
		i += p.iosZone(line, i-n, i, h, false)
	}
	if i < len(line) && line[i] == ':' { // Cisco: "Mar  1 18:46:11.123: %SYS-5-..."
		i++
	}
	if i < len(line) && line[i] != ' ' {
		return false
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	// HOSTNAME, unless the first word is the tag ("sshd[1]:", "kernel:"),
	// the last word (then it is the MSG), or cannot be a hostname (a ':'
	// outside an IPv6 address, a byte outside PRINTUSASCII).
	e, colons, graph, ipv6 := i, 0, true, true
	for e < len(line) && line[e] != ' ' {
		c := class[line[e]]
		graph = graph && c&cGraph != 0
		ipv6 = ipv6 && c&cIPv6 != 0
		if line[e] == ':' {
			colons++
		}
		e++
	}
	next := e
	for next < len(line) && line[next] == ' ' {
		next++
	}
	if e > i && next < len(line) && e-i <= 255 && graph && (colons == 0 || ipv6 && colons >= 2 && line[e-1] != ':') {
		h.Hostname = nilOr(line[i:e])
		i = next
	}
	if h.Hostname == nil {
		h.Problems |= NoHostname
	}
	p.tagAndMsg(line, i, h)
	return true
}

// keyValueStart reports whether word, the first word after a PRI, is a
// key=value pair starting with a lower-case letter: FortiOS's header-less
// "<189>date=2026-11-22 time=...". No timestamp can start so (go-syslog
// stops at its first byte), so badHeaderKV gives what parseLib would,
// without running go-syslog on a long line.
func keyValueStart(word []byte) bool {
	if len(word) < 2 || word[0] < 'a' || word[0] > 'z' {
		return false
	}
	for _, c := range word[1:] {
		switch {
		case c == '=':
			return true
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return false
}

// badHeaderKV sets h as parseLib does for a line whose header fails
// after the PRI: BadHeader, the whole line as the message, the PRI kept.
func badHeaderKV(line []byte, h *Header) {
	pri := h.Priority
	reset(h)
	h.setPriority(pri)
	h.Format = FormatUnknown
	h.Problems = BadHeader | NoTimestamp | NoHostname
	h.Message = line
}

// parseTag reads TAG, optionally [PID], then ':' at b[i:]. TAG is 1-48
// bytes of PRINTUSASCII except ':' and '[' (go-syslog's limit; RFC 3164
// says 32). It returns where the message starts: after ':' and one space.
func parseTag(b []byte, i int) (tagEnd, pidStart, pidEnd, msg int, ok bool) {
	j := i
	for j < len(b) && class[b[j]]&cTag != 0 {
		j++
	}
	if j == i || j-i > 48 || j == len(b) {
		return
	}
	tagEnd = j
	if b[j] == '[' {
		pidStart = j + 1
		j = pidStart
		for j < len(b) && b[j] != ']' && b[j] != '[' && (b[j] >= ' ' || b[j] == '\t') {
			j++
		}
		if j+1 >= len(b) || b[j] != ']' || b[j+1] != ':' {
			return
		}
		pidEnd = j
		j++
	}
	if b[j] != ':' {
		return
	}
	j++
	if j < len(b) && b[j] == ' ' {
		j++
	}
	return tagEnd, pidStart, pidEnd, j, true
}

// tagAndMsg sets AppName, ProcID and Message from b[i:]. Without a tag the
// whole rest is the message. A tag may be followed directly by the message
// ("ASM:unit_hostname=..." from F5), as rsyslog and syslog-ng read it.
func (p *Parser) tagAndMsg(b []byte, i int, h *Header) {
	tagEnd, ps, pe, msg, ok := parseTag(b, i)
	if !ok {
		h.Message = rest(b, i)
		return
	}
	h.AppName = nilOr(b[i:tagEnd])
	if ps > 0 && pe > ps {
		h.ProcID = nilOr(b[ps:pe])
	}
	h.Message = rest(b, msg)
}

// setISO sets h.Timestamp from b, which must be exactly an ISO 8601 / RFC
// 3339 timestamp. It reports false when b does not have the shape of one.
func (p *Parser) setISO(b []byte, space bool, h *Header) bool {
	n, ok := p.iso(b, space, h)
	return ok && n == len(b)
}

// setISOPrefix sets h.Timestamp from the ISO timestamp at the start of b
// ("2026-11-22T08:00:12.123+01:00", "2026-11-22 08:00:12") and returns its
// length, 0 when there is none.
func (p *Parser) setISOPrefix(b []byte, h *Header) int {
	n, ok := p.iso(b, true, h)
	if !ok {
		return 0
	}
	return n
}

func d2(b []byte, i int) int {
	a, c := b[i]-'0', b[i+1]-'0'
	if a > 9 || c > 9 {
		return -1
	}
	return int(a)*10 + int(c)
}

// iso parses YYYY-MM-DD(T| )hh:mm:ss[.frac{1,9}][Z|±hh:mm|±hhmm].
func (p *Parser) iso(b []byte, space bool, h *Header) (int, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	if sep := b[10]; sep != 'T' && !(space && sep == ' ') {
		return 0, false
	}
	y1, y2 := d2(b, 0), d2(b, 2)
	mon, day, hh, mm, ss := d2(b, 5), d2(b, 8), d2(b, 11), d2(b, 14), d2(b, 17)
	if y1 < 0 || y2 < 0 || mon < 0 || day < 0 || hh < 0 || mm < 0 || ss < 0 {
		return 0, false
	}
	n, ns := 19, 0
	if n < len(b) && b[n] == '.' {
		k := 0
		for n++; n < len(b) && isDigit(b[n]) && k < 9; n++ {
			ns = ns*10 + int(b[n]-'0')
			k++
		}
		if k == 0 || (n < len(b) && isDigit(b[n])) {
			return 0, false
		}
		for ; k < 9; k++ {
			ns *= 10
		}
	}
	zoned, off := false, 0
	if n < len(b) {
		switch b[n] {
		case 'Z':
			zoned = true
			n++
		case '+', '-':
			// ±hh:mm or ±hhmm; anything else after the seconds is not a zone.
			neg, oh, om := b[n] == '-', -1, -1
			switch {
			case n+6 <= len(b) && b[n+3] == ':':
				oh, om = d2(b, n+1), d2(b, n+4)
				n += 6
			case n+5 <= len(b) && b[n+3] != ':' && (n+5 == len(b) || !isDigit(b[n+5])):
				oh, om = d2(b, n+1), d2(b, n+3)
				n += 5
			}
			if oh < 0 || om < 0 {
				return 0, false
			}
			zoned = true
			if oh > 23 || om > 59 {
				h.Problems |= NoTimestamp | BadTimestamp
				return n, true
			}
			off = (oh*60 + om) * 60
			if neg {
				off = -off
			}
		}
	}
	year := y1*100 + y2
	if mon < 1 || mon > 12 || day < 1 || day > daysIn(time.Month(mon), year) || hh > 23 || mm > 59 || ss > 59 {
		h.Problems |= NoTimestamp | BadTimestamp
		return n, true
	}
	if zoned {
		h.Timestamp = time.Date(year, time.Month(mon), day, hh, mm, ss, ns, time.UTC).Add(-time.Duration(off) * time.Second)
	} else {
		h.Timestamp = time.Date(year, time.Month(mon), day, hh, mm, ss, ns, p.loc()).UTC()
		h.Problems |= ZoneAssumed
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func monthOf(b []byte) time.Month {
	switch string(b) {
	case "Jan":
		return time.January
	case "Feb":
		return time.February
	case "Mar":
		return time.March
	case "Apr":
		return time.April
	case "May":
		return time.May
	case "Jun":
		return time.June
	case "Jul":
		return time.July
	case "Aug":
		return time.August
	case "Sep":
		return time.September
	case "Oct":
		return time.October
	case "Nov":
		return time.November
	case "Dec":
		return time.December
	}
	return 0
}

// setStamp parses the RFC 3164 TIMESTAMP "Mmm dd hh:mm:ss" at the start of
// b and returns its length, 0 when there is none. The day may be " 2"
// (RFC 3164), "02" or "2"; an optional year ("Nov 22 2026 08:00:12", Cisco
// ASA) and a fraction of up to 9 digits (Cisco "service timestamps ...
// msec") are accepted. Without a year, the year is the one that puts the
// time closest to Parser.Now.
func (p *Parser) setStamp(b []byte, h *Header) int {
	if len(b) < 14 || b[3] != ' ' {
		return 0
	}
	mon := monthOf(b[:3])
	if mon == 0 {
		return 0
	}
	var day, i int
	switch {
	case b[4] == ' ' && isDigit(b[5]) && b[6] == ' ': // "Nov  2"
		day, i = int(b[5]-'0'), 7
	case isDigit(b[4]) && isDigit(b[5]) && b[6] == ' ': // "Nov 22", "Nov 02"
		day, i = d2(b, 4), 7
	case isDigit(b[4]) && b[5] == ' ': // "Nov 2"
		day, i = int(b[4]-'0'), 6
	default:
		return 0
	}
	year := -1
	if i+13 <= len(b) && b[i+4] == ' ' && b[i+2] != ':' {
		y1, y2 := d2(b, i), d2(b, i+2)
		if y1 < 0 || y2 < 0 {
			return 0
		}
		year = y1*100 + y2
		i += 5
	}
	if i+8 > len(b) || b[i+2] != ':' || b[i+5] != ':' {
		return 0
	}
	hh, mm, ss := d2(b, i), d2(b, i+3), d2(b, i+6)
	if hh < 0 || mm < 0 || ss < 0 {
		return 0
	}
	i += 8
	ns := 0
	if i < len(b) && b[i] == '.' {
		k := 0
		for i++; i < len(b) && isDigit(b[i]) && k < 9; i++ {
			ns = ns*10 + int(b[i]-'0')
			k++
		}
		if k == 0 {
			return 0
		}
		for ; k < 9; k++ {
			ns *= 10
		}
	}
	h.Problems |= ZoneAssumed
	if day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 59 {
		h.Problems |= NoTimestamp | BadTimestamp
		return i
	}
	if year >= 0 {
		if day > daysIn(mon, year) {
			h.Problems |= NoTimestamp | BadTimestamp
			return i
		}
		h.Timestamp = time.Date(year, mon, day, hh, mm, ss, ns, p.loc()).UTC()
		return i
	}
	t, ok := p.guessYear(mon, day, hh, mm, ss, ns)
	if !ok {
		h.Problems |= NoTimestamp | BadTimestamp
		return i
	}
	h.Timestamp = t
	h.Problems |= YearGuessed
	return i
}

// guessYear picks, among last year, this year and next year (in Location),
// the one that puts the date closest to Now: "Dec 31 23:59:59" received on
// Jan 1 is last year's, "Jan  1 00:00:01" received on Dec 31 is next year's.
// Years in which the date does not exist (Feb 29) are skipped.
func (p *Parser) guessYear(mon time.Month, day, hh, mm, ss, ns int) (time.Time, bool) {
	loc := p.loc()
	now := p.now().In(loc)
	// The current year, unless that puts the time more than a month in the
	// future (a December line read in January: last year) or the line is
	// from January and it is late December (a sender whose clock is ahead:
	// next year). Old lines (an import of last March's log in November)
	// keep the current year, as rsyslog and syslog-ng read them.
	y := now.Year()
	switch {
	case mon == time.January && now.Month() == time.December:
		y++
	case time.Date(y, mon, min(day, daysIn(mon, y)), hh, mm, ss, ns, loc).After(now.Add(31 * 24 * time.Hour)):
		y--
	}
	for i := 0; day > daysIn(mon, y) && i < 8; i++ { // Feb 29: the last leap year
		y--
	}
	if day > daysIn(mon, y) {
		return time.Time{}, false
	}
	return time.Date(y, mon, day, hh, mm, ss, ns, loc).UTC(), true
}
