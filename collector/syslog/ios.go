package syslog

import (
	"bytes"
	"time"
)

// Cisco IOS (and IOS-XE, NX-OS) headers, as "logging host" sends them:
//
//	<189>123: *Mar  1 00:01:02.345 UTC: %SYS-5-CONFIG_I: Configured from console by vty0
//	<187>45: router1: 000012: Jan 12 10:00:00.123: %LINK-3-UPDOWN: Interface Gi0/1, ...
//	<190>Jan 12 2026 10:00:00.123 CET: %SEC-6-IPACCESSLOGP: list 101 denied tcp ...
//	<190>Jan 12 10:00:00 relay1 46: *Jan 12 10:00:00.123: %SEC-6-IPACCESSLOGP: ...
//
// The counter ("123:", "logging ... message-counter"), the origin id (a
// hostname, "logging origin-id") and the sequence number ("service
// sequence-numbers") come before the timestamp, each followed by ": ". A
// '*' before the time says the clock is not authoritative (never set), a
// '.' that it lost its synchronisation. "service timestamps log datetime
// show-timezone" adds the zone name the device was given ("clock timezone
// CET 1"): UTC and GMT are read as UTC, a few unambiguous abbreviations by
// their offset (iosZones), any other word in Parser.Location. The
// "%FACILITY-SEVERITY-MNEMONIC" is no program name: Parse leaves APP-NAME
// empty and keeps it at the start of the message, where the cisco_ios
// parser reads it.

// iosZones are the zone words read by their offset. Ambiguous ones (CST:
// US Central or China; IST; BST; AST) are read in Parser.Location.
var iosZones = map[string]*time.Location{
	"UTC": time.UTC, "GMT": time.UTC, "UCT": time.UTC, "Z": time.UTC,
	"EST": time.FixedZone("EST", -5*3600), "EDT": time.FixedZone("EDT", -4*3600),
	"MST": time.FixedZone("MST", -7*3600), "MDT": time.FixedZone("MDT", -6*3600),
	"PST": time.FixedZone("PST", -8*3600), "PDT": time.FixedZone("PDT", -7*3600),
	"AKST": time.FixedZone("AKST", -9*3600), "AKDT": time.FixedZone("AKDT", -8*3600),
	"HST": time.FixedZone("HST", -10*3600),
	"WET": time.UTC, "WEST": time.FixedZone("WEST", 3600),
	"CET": time.FixedZone("CET", 3600), "CEST": time.FixedZone("CEST", 2*3600),
	"MET": time.FixedZone("MET", 3600), "MEST": time.FixedZone("MEST", 2*3600),
	"EET": time.FixedZone("EET", 2*3600), "EEST": time.FixedZone("EEST", 3*3600),
	"MSK": time.FixedZone("MSK", 3*3600), "JST": time.FixedZone("JST", 9*3600),
	"KST": time.FixedZone("KST", 9*3600), "AEST": time.FixedZone("AEST", 10*3600),
	"AEDT": time.FixedZone("AEDT", 11*3600), "NZST": time.FixedZone("NZST", 12*3600),
	"NZDT": time.FixedZone("NZDT", 13*3600),
}

// counterAt reports whether line[i:] starts with digits, ':' and a space:
// a Cisco IOS message counter or sequence number.
func counterAt(line []byte, i int) bool {
	j := i
	for j < len(line) && isDigit(line[j]) {
		j++
	}
	return j > i && j+1 < len(line) && line[j] == ':' && line[j+1] == ' '
}

func digitsOnly(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return len(b) > 0
}

// parseIOS parses a Cisco IOS header at line[i:], after the PRI:
// [COUNTER: ][HOSTNAME: ][SEQUENCE: ][*|.]TIMESTAMP[ ZONE]: [TAG: ]MSG, or
// without a timestamp [COUNTER: ]...%FAC-SEV-MNEMONIC: MSG. It reports
// false (h in an unspecified state) when the line is not of that form, and
// the time marker ('*', '.' or 0).
func (p *Parser) parseIOS(line []byte, i int, h *Header) (ok bool, mark byte) {
	h.Format = FormatCiscoIOS
	words := 0
	for k := 0; k < 3 && i < len(line); k++ {
		e := i
		for e < len(line) && class[line[e]]&cTag != 0 {
			e++
		}
		if e == i || e-i > 255 || e+1 >= len(line) || line[e] != ':' || line[e+1] != ' ' || line[i] == '%' {
			break
		}
		// A third word after counter and sequence number is the origin
		// id even when it is digits, as go-syslog reads it.
		if !digitsOnly(line[i:e]) || words == 2 && h.Hostname == nil {
			if h.Hostname != nil {
				return false, 0
			}
			h.Hostname = line[i:e]
		}
		words++
		i = e + 2
	}
	if i >= len(line) {
		return false, 0
	}
	if line[i] == '%' {
		// "123: %SYS-5-RESTART: ...": no timestamp ("no service timestamps").
		if words == 0 || !iosMnemonicTag(line, i) {
			return false, 0
		}
		h.Problems |= NoTimestamp
	} else {
		if line[i] == '*' || line[i] == '.' {
			mark = line[i]
			i++
		}
		n := p.setStamp(line[i:], h)
		if n == 0 {
			return false, 0
		}
		i += n
		i += p.iosZone(line, i-n, i, h, true)
		if i+1 >= len(line) || line[i] != ':' || line[i+1] != ' ' {
			return false, 0
		}
		i += 2
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	if h.Hostname == nil {
		h.Problems |= NoHostname
	}
	p.tagAndMsg(line, i, h)
	return true, mark
}

// iosZone reads the zone word after the timestamp at line[stamp:end]
// (" UTC" in "10:00:00.123 UTC: ") and returns its length, 0 when there is
// none. A word in iosZones re-reads the timestamp in that zone. Outside an
// IOS header (strict false) a word counts only when it is in iosZones or
// a "%FAC-SEV-MNEMONIC:" follows it, so that "Nov 22 08:00:12 CRON: x"
// keeps its tag.
func (p *Parser) iosZone(line []byte, stamp, end int, h *Header, strict bool) int {
	if end >= len(line) || line[end] != ' ' || h.Problems&BadTimestamp != 0 {
		return 0
	}
	j := end + 1
	for j < len(line) && line[j] >= 'A' && line[j] <= 'Z' {
		j++
	}
	w := line[end+1 : j]
	if len(w) == 0 || len(w) > 6 || j+1 >= len(line) || line[j] != ':' || line[j+1] != ' ' {
		return 0
	}
	loc, known := iosZones[string(w)]
	if !strict && !known && !iosMnemonicTag(line, j+2) {
		return 0
	}
	if known {
		q := Parser{Location: loc, Now: p.Now}
		h.Problems &^= ZoneAssumed | YearGuessed | NoTimestamp | BadTimestamp
		h.Timestamp = time.Time{}
		if isDigit(line[stamp]) {
			q.setISOPrefix(line[stamp:end], h)
		} else {
			q.setStamp(line[stamp:end], h)
		}
		h.Problems &^= ZoneAssumed
	}
	return j - end
}

// iosMnemonicTag reports whether line[i:] starts with a Cisco
// "%FACILITY[-SUBFACILITY]-SEVERITY-MNEMONIC" followed by ':'.
func iosMnemonicTag(line []byte, i int) bool {
	e := i
	for e < len(line) && line[e] != ':' && line[e] != ' ' {
		e++
	}
	return e < len(line) && line[e] == ':' && iosMnemonic(line[i:e])
}

// iosMnemonic reports whether b is "%FAC-SEV-MNEMONIC" (letters, digits
// and '_' in each part, SEV one digit 0-7, one or more facility parts),
// and not one of Cisco ASA's, FTD's or PIX's message ids, which the
// cisco_asa parser reads from the APP-NAME.
func iosMnemonic(b []byte) bool {
	if len(b) < 6 || b[0] != '%' {
		return false
	}
	b = b[1:]
	if bytes.HasPrefix(b, []byte("ASA-")) || bytes.HasPrefix(b, []byte("FTD-")) {
		return false
	}
	parts, sev := 0, -1
	start, last := 0, 0
	for k := 0; k <= len(b); k++ {
		if k < len(b) && b[k] != '-' {
			c := b[k]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
			continue
		}
		part := b[start:k]
		if len(part) == 0 {
			return false
		}
		if len(part) == 1 && part[0] >= '0' && part[0] <= '7' && parts > 0 {
			sev = parts
		}
		parts++
		last, start = start, k+1
	}
	// The severity is the next to last part; facility and mnemonic start
	// with a letter (ASA's and PIX's ids are numbers: "%PIX-6-302013").
	return parts >= 3 && sev == parts-2 && letter(b[0]) && letter(b[last])
}

func letter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// ciscoIOS rewrites a parsed header whose tag is a Cisco IOS
// "%FAC-SEV-MNEMONIC": APP-NAME empty, the mnemonic at the start of the
// message, Format FormatCiscoIOS. A relayed line whose tag is the IOS
// counter ("relay1 46: *Jan 12 10:00:00.123: %SEC-6-...") and a line
// whose first word is the origin id ("<189>router1: 12: *Jan 12 ...") get
// the IOS header read from the tag on: the device's time (unless marked
// '*', never set, and the relay gave one) and the mnemonic in the message.
func (p *Parser) ciscoIOS(line []byte, h *Header) {
	if h.Format == FormatRFC3164 && h.ProcID == nil && h.AppName != nil && h.Message != nil &&
		(digitsOnly(h.AppName) || h.Timestamp.IsZero() && h.Hostname == nil) {
		off := cap(line) - cap(h.AppName)
		var b Header
		reset(&b)
		if ok, mark := p.parseIOS(line, off, &b); ok && b.AppName != nil && iosMnemonic(b.AppName) {
			if mark != '*' && !b.Timestamp.IsZero() || h.Timestamp.IsZero() {
				const timeFlags = NoTimestamp | BadTimestamp | YearGuessed | ZoneAssumed
				h.Timestamp = b.Timestamp
				h.Problems = h.Problems&^timeFlags | b.Problems&timeFlags
			}
			if h.Hostname == nil && b.Hostname != nil {
				h.Hostname = b.Hostname
				h.Problems &^= NoHostname
			}
			h.AppName, h.Message = b.AppName, b.Message
		}
	}
	if h.AppName == nil || h.ProcID != nil || !iosMnemonic(h.AppName) {
		return
	}
	off := cap(line) - cap(h.AppName)
	if off < 0 || off+len(h.AppName) > len(line) || !bytes.Equal(line[off:off+len(h.AppName)], h.AppName) {
		return
	}
	h.Format = FormatCiscoIOS
	h.AppName, h.Message = nil, line[off:]
}
