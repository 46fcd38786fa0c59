package parsers

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

func floatBits(f float64) uint64 { return math.Float64bits(f) }

// parseAddr reads an address as devices write it: "192.0.2.1",
// "2001:db8::1", "192.0.2.1:443", "[2001:db8::1]:443", with surrounding
// spaces or quotes and trailing words ("10.0.0.5 [More Information]").
// port is 0 when none was given. IPv4-mapped IPv6 addresses are unmapped.
// addrOf parses an address value as typ says: tIPPort splits a port off
// after the last colon (Meraki's "2001:db8::1:443"), the others read
// parseAddr's forms.
func addrOf(s string, typ vtype) (netip.Addr, uint16, bool) {
	if typ == tIPPort {
		return parseAddrPort(s)
	}
	return parseAddr(s)
}

// parseAddrPort reads "address:port" where an IPv6 address has no
// brackets: the last colon separates the port when what precedes it is an
// address; otherwise the value is read as parseAddr does (an address
// without a port, or a bracketed one).
func parseAddrPort(s string) (netip.Addr, uint16, bool) {
	t := strings.Trim(s, " \t'\"")
	if i := strings.IndexAny(t, " \t,"); i >= 0 {
		t = t[:i]
	}
	if i := strings.LastIndexByte(t, ':'); i > 0 && i < len(t)-1 && t[0] != '[' {
		if n, ok := parseUint(t[i+1:], 65535); ok {
			if ip, err := netip.ParseAddr(t[:i]); err == nil {
				return ip.Unmap(), uint16(n), true
			}
		}
	}
	return parseAddr(s)
}

func parseAddr(s string) (ip netip.Addr, port uint16, ok bool) {
	if !plainAddr(s) {
		s = strings.Trim(s, " \t'\"")
		if i := strings.IndexAny(s, " \t,"); i >= 0 {
			s = s[:i]
		}
	}
	if s == "" {
		return ip, 0, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return ip, 0, false
		}
		ip, err := netip.ParseAddr(s[1:end])
		if err != nil {
			return ip, 0, false
		}
		rest := s[end+1:]
		if rest == "" {
			return ip.Unmap(), 0, true
		}
		if rest[0] != ':' {
			return ip, 0, false
		}
		n, ok := parseUint(rest[1:], 65535)
		return ip.Unmap(), uint16(n), ok
	}
	// IPv4 with a port has one colon; IPv6 has several.
	c := strings.IndexByte(s, ':')
	if c < 0 {
		if ip, ok := parseIPv4(s); ok {
			return ip, 0, true
		}
	} else if strings.IndexByte(s[c+1:], ':') < 0 {
		ip, ok := parseIPv4(s[:c])
		if !ok {
			return ip, 0, false
		}
		n, ok := parseUint(s[c+1:], 65535)
		return ip, uint16(n), ok
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return ip, 0, false
	}
	return ip.Unmap(), 0, true
}

// parseIPv4 reads dotted-quad IPv4 (what netip.ParseAddr accepts, without
// its generality; leading zeros are refused as netip does).
func parseIPv4(s string) (netip.Addr, bool) {
	var a [4]byte
	field, digits, val := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits > 0 && val == 0 {
				return netip.Addr{}, false // leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && field < 3:
			a[field] = byte(val)
			field, digits, val = field+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if field != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	a[3] = byte(val)
	return netip.AddrFrom4(a), true
}

// plainAddr reports whether s has only the bytes of an address with an
// optional port (the common case, which needs no trimming).
func plainAddr(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == ':' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '[' || c == ']' || c == '%') {
			return false
		}
	}
	return true
}

// parseUint reads a decimal number up to max.
func parseUint(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (max-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseInt reads [+-]digits within int64.
func parseInt(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if neg {
		n, ok := parseUint(s, 1<<63)
		return -int64(n), ok
	}
	n, ok := parseUint(s, math.MaxInt64)
	return int64(n), ok
}

// parseFloat reads a decimal number; it checks the syntax first so that
// strconv (which allocates its errors) only sees numbers.
func parseFloat(s string) (float64, bool) {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// parseMAC reads 00:11:22:33:44:55, 00-11-22-33-44-55 or 0011.2233.4455.
func parseMAC(s string) (m [6]byte, ok bool) {
	s = strings.Trim(s, " '\"")
	switch len(s) {
	case 17:
		sep := s[2]
		if sep != ':' && sep != '-' {
			return m, false
		}
		for i := 0; i < 6; i++ {
			if i > 0 && s[3*i-1] != sep {
				return m, false
			}
			b, ok := hexByte(s[3*i], s[3*i+1])
			if !ok {
				return m, false
			}
			m[i] = b
		}
		return m, true
	case 14:
		if s[4] != '.' || s[9] != '.' {
			return m, false
		}
		h := s[0:4] + s[5:9] + s[10:14]
		for i := 0; i < 6; i++ {
			b, ok := hexByte(h[2*i], h[2*i+1])
			if !ok {
				return m, false
			}
			m[i] = b
		}
		return m, true
	}
	return m, false
}

func hexByte(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// protoNumbers maps the protocol names devices print (netfilter PROTO=,
// Meraki protocol=) to IANA numbers; keys are lower case.
var protoNumbers = map[string]uint8{
	"hopopt": 0, "icmp": 1, "igmp": 2, "ipv4": 4, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17, "dccp": 33,
	"ipv6": 41, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "icmp6": 58, "ipv6-icmp": 58,
	"eigrp": 88, "ospf": 89, "ospfigp": 89, "pim": 103, "vrrp": 112, "l2tp": 115, "sctp": 132,
	"udplite": 136, "mpls-in-ip": 137,
}

// protoNumber reads a protocol name (any case) or number.
func protoNumber(s string) (uint8, bool) {
	if n, ok := parseUint(s, 255); ok {
		return uint8(n), true
	}
	if len(s) > 16 {
		return 0, false
	}
	var buf [16]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	p, ok := protoNumbers[string(buf[:len(s)])]
	return p, ok
}

// parseTime reads v with layout: a Go layout, or UNIX / UNIX_MS (seconds
// or milliseconds since the epoch, with an optional fraction).
func parseTime(layout, v string, loc *time.Location) (time.Time, bool) {
	switch layout {
	case "UNIX":
		return parseUnix(v, 1)
	case "UNIX_MS":
		return parseUnix(v, 1000)
	case "UNIX_AUTO":
		return parseUnixAuto(v)
	case "2006-01-02 15:04:05":
		if t, ok := parseDateTime(v, ' ', loc); ok {
			return t, true
		}
	case "2006-01-02T15:04:05":
		if t, ok := parseDateTime(v, 'T', loc); ok {
			return t, true
		}
	case "date=2006-01-02 time=15:04:05", "date=2006-01-02,time=15:04:05": // FortiOS
		if len(v) == 29 && strings.HasPrefix(v, "date=") && (v[15] == ' ' || v[15] == ',') && v[16:21] == "time=" {
			if v[15] != layout[15] {
				// The other form's separator, which ParseInLocation
				// refuses too (after building an error).
				return time.Time{}, false
			}
			var b [19]byte
			copy(b[:10], v[5:15])
			b[10] = ' '
			copy(b[11:], v[21:])
			if t, ok := parseDateTime(string(b[:]), ' ', loc); ok {
				return t, true
			}
		}
	case "Jan 2 2006 15:04:05", "Jan _2 2006 15:04:05": // F5 ASM CEF rt
		if t, ok := parseStampYear(v, loc); ok {
			return t, true
		}
	case "2006/01/02 15:04:05": // PAN-OS
		if len(v) == 19 && v[4] == '/' && v[7] == '/' {
			var b [19]byte
			copy(b[:], v)
			b[4], b[7] = '-', '-'
			if t, ok := parseDateTime(string(b[:]), ' ', loc); ok {
				return t, true
			}
		}
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// parseDateTime reads the common layout 2006-01-02 15:04:05 (with sep
// between date and time) in a fraction of time.ParseInLocation's time. It
// only accepts exactly that shape with values in range, where the result
// is the one time.ParseInLocation gives; anything else (fractions, other
// widths, out-of-range values) is left to time.ParseInLocation.
func parseDateTime(v string, sep byte, loc *time.Location) (time.Time, bool) {
	if len(v) != 19 || v[4] != '-' || v[7] != '-' || v[10] != sep || v[13] != ':' || v[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(v[0:4])
	month, ok2 := digits(v[5:7])
	day, ok3 := digits(v[8:10])
	hour, ok4 := digits(v[11:13])
	minute, ok5 := digits(v[14:16])
	sec, ok6 := digits(v[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc), true
}

// parseStampYear reads "Nov 22 2026 08:01:03" (layouts "Jan 2 2006
// 15:04:05" and "Jan _2 2006 15:04:05", which time.ParseInLocation reads
// alike): a month name as written in English, one space or two before a
// day of one or two digits, a four-digit year, an hour of one or two
// digits. Other shapes (lower-case months, more spaces, fractions) and
// out-of-range values are left to time.ParseInLocation, as parseDateTime
// does.
func parseStampYear(v string, loc *time.Location) (time.Time, bool) {
	if len(v) < 18 || v[3] != ' ' {
		return time.Time{}, false
	}
	month := 0
	for i, m := range shortMonths {
		if v[:3] == m {
			month = i + 1
			break
		}
	}
	i := 4
	if v[i] == ' ' {
		i++
	}
	day, i, ok1 := num12(v, i)
	if !ok1 || i >= len(v) || v[i] != ' ' || len(v)-i-1 < 12 {
		return time.Time{}, false
	}
	year, ok2 := digits(v[i+1 : i+5])
	if !ok2 || v[i+5] != ' ' {
		return time.Time{}, false
	}
	hour, j, ok3 := num12(v, i+6)
	if !ok3 || len(v)-j != 6 || v[j] != ':' || v[j+3] != ':' {
		return time.Time{}, false
	}
	minute, ok4 := digits(v[j+1 : j+3])
	sec, ok5 := digits(v[j+4 : j+6])
	if month == 0 || !ok4 || !ok5 || day < 1 || day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc), true
}

var shortMonths = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// num12 reads one or two digits at v[i:] and returns the number and the
// index after them.
func num12(v string, i int) (int, int, bool) {
	if i >= len(v) || v[i] < '0' || v[i] > '9' {
		return 0, i, false
	}
	n := int(v[i] - '0')
	i++
	if i < len(v) && v[i] >= '0' && v[i] <= '9' {
		n = n*10 + int(v[i]-'0')
		i++
	}
	return n, i, true
}

// digits reads a string of decimal digits (at most 4).
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days of month m in year (Gregorian).
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

// parseUnix reads digits[.digits] as a count of 1/div seconds.
// parseUnixAuto reads an integer epoch whose unit its length gives, as
// FortiOS's eventtime (seconds, milliseconds, microseconds or nanoseconds
// by version): up to 10 digits seconds, 13 milliseconds, 16 microseconds,
// 19 nanoseconds.
func parseUnixAuto(v string) (time.Time, bool) {
	n, ok := parseUint(v, 1<<63-1)
	if !ok {
		return time.Time{}, false
	}
	switch {
	case len(v) <= 10:
		return time.Unix(int64(n), 0), true
	case len(v) <= 13:
		return time.UnixMilli(int64(n)), true
	case len(v) <= 16:
		return time.UnixMicro(int64(n)), true
	case len(v) <= 19:
		return time.Unix(0, int64(n)), true
	}
	return time.Time{}, false
}

func parseUnix(v string, div int64) (time.Time, bool) {
	ip, frac, _ := strings.Cut(v, ".")
	// 2^40 seconds (year 36812) in the unit: today's milliseconds pass 2^40.
	n, ok := parseUint(ip, 1<<40*uint64(div))
	if !ok {
		return time.Time{}, false
	}
	var ns int64
	scale := int64(1e9) / div
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		if scale >= 10 {
			scale /= 10
			ns += int64(c-'0') * scale
		}
	}
	sec := int64(n) / div
	ns += (int64(n) % div) * (1e9 / div)
	return time.Unix(sec, ns), true
}

// parseDuration reads a duration as firewalls write it, in seconds ("30",
// "1.5") or as h:mm:ss ("0:01:02", Cisco ASA; hours may pass 24), and
// returns nanoseconds (ECS event.duration).
func parseDuration(s string) (int64, bool) {
	if strings.IndexByte(s, ':') < 0 {
		f, ok := parseFloat(s)
		if !ok || f < 0 || f > math.MaxInt64/1e9 {
			return 0, false
		}
		return int64(f * 1e9), true
	}
	h, rest, _ := strings.Cut(s, ":")
	m, sec, ok := strings.Cut(rest, ":")
	if !ok || len(m) != 2 || len(sec) != 2 {
		return 0, false
	}
	hn, ok1 := parseUint(h, 1<<20)
	mn, ok2 := parseUint(m, 59)
	sn, ok3 := parseUint(sec, 59)
	if !ok1 || !ok2 || !ok3 {
		return 0, false
	}
	return int64((hn*3600 + mn*60 + sn) * 1e9), true
}

// nanoseconds returns a duration (parseDuration) as decimal nanoseconds,
// for an int field; a value that is no duration is returned as it is
// (and does not convert to int either).
func (st *state) nanoseconds(v string) string {
	n, ok := parseDuration(v)
	if !ok {
		return v
	}
	st.buf = strconv.AppendInt(st.buf[:0], n, 10)
	return st.keep(st.buf)
}
