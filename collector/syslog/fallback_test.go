package syslog

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
)

// extraDiffLines are forms both parsers should read, beyond the golden
// cases and the sample.
var extraDiffLines = []string{
	"<13>Nov 22 08:00:12 host app[123]: message with [brackets] and: colons",
	"<13>Nov 22 08:00:12 host app: ",
	"<13>Nov 22 08:00:12 host app:  two spaces",
	"<13>Nov 22 08:00:12 host -: x",
	"<13>Nov 22 08:00:12 - app: x",
	"<13>Nov 22 08:00:12 host a.b-c_d/e: x",
	"<13>Nov 22 08:00:12 host verylongtagnamethatisexactlyfortyeightcharacters: x",
	"<13>Nov 22 08:00:12 host verylongtagnamethatisexactlyfortyeightcharacters9: x",
	"<13>Nov 22 08:00:12 host\tapp: tab",
	"<0>Jan  1 00:00:00 h a: m",
	"<191>Dec 31 23:59:59 h a: m",
	"<13>2026-11-22T08:00:12.123456Z host app: x",
	"<13>2026-11-22T08:00:12.1234567Z host app: x",
	"<14>1 2026-11-22T08:00:12.123456+05:30 h a p m - msg",
	"<14>1 2026-11-22T08:00:12Z h a p m [id@1] msg",
	"<14>1 2026-11-22T08:00:12Z h a p m [id@1 k=\"v\"][id@2 k=\"w\"]",
	"<14>1 2026-11-22T08:00:12Z h a p m - " + bomS,
	"<14>1 2026-11-22T08:00:12Z h a p m - \xff\xfe",
	"<14>2 2026-11-22T08:00:12Z h a p m - version two",
	"<14>1 2026-11-22T08:00:12Z h a p m -  leading space",
	"<189>1: *Mar  1 00:00:01.001: %SYS-5-RESTART: System restarted",
	"<189>237: 000485: router1: *Jan  8 19:46:03.295: %LINEPROTO-5-UPDOWN: Line protocol on Interface Loopback100",
	"<189>12: router1: .Jan  8 19:46:03: %SYS-5-CONFIG_I: Configured",
	"<189>12: 000013: Jan  8 2026 19:46:03.295: %SYS-5-CONFIG_I: Configured",
}

// TestDifferential parses every line with the fast path and with
// go-syslog. Where both parse the line they must agree on every field,
// except for the forms the fast path reads differently on purpose (see
// divergence).
func TestDifferential(t *testing.T) {
	var lines [][]byte
	for _, tc := range goldenCases {
		lines = append(lines, []byte(tc.line))
	}
	for _, l := range extraDiffLines {
		lines = append(lines, []byte(l))
	}
	lines = append(lines, sampleLines(t)...)
	p := &Parser{Location: newYork, Now: fixedNow(received)}
	var both, fastOnly, libOnly, neither int
	diverged := map[string]int{}
	for _, line := range lines {
		line = trimEnd(line)
		var f, l Header
		fok := p.parseFast(line, &f)
		lok := p.parseLib(line, &l)
		switch {
		case fok && lok:
			both++
		case fok:
			fastOnly++
			if f.Format != FormatMeraki {
				t.Logf("fast path only: %q", line)
			}
			continue
		case lok:
			libOnly++
			t.Logf("go-syslog only: %q", line)
			continue
		default:
			neither++
			continue
		}
		fv, lv := viewOf(&f), viewOf(&l)
		if name, ok := divergence(line, &fv, &lv); ok {
			diverged[name]++
		}
		if diff := cmp.Diff(fv, lv); diff != "" {
			t.Errorf("line %q: fast path (-) and go-syslog (+) disagree:\n%s", line, diff)
		}
	}
	t.Logf("%d lines: both parse %d (known divergences %v), fast path only %d, go-syslog only %d, neither %d",
		len(lines), both, diverged, fastOnly, libOnly, neither)
	if both < len(lines)/2 {
		t.Errorf("only %d of %d lines parsed by both: the comparison is too thin", both, len(lines))
	}
}

// divergence recognises the forms the fast path reads differently from
// go-syslog on purpose and rewrites f into go-syslog's reading:
//
//   - tagNoSpace: "host ASM:unit=..." (F5 ASM) has the tag ASM and MSG
//     "unit=..." for the fast path, as for rsyslog and syslog-ng; go-syslog
//     needs ": " after a tag and keeps "ASM:unit=..." as MSG. The same
//     holds for the tag "-" (the NILVALUE: no APP-NAME for both): "-:x"
//     is MSG "x" for the fast path and "-:x" for go-syslog.
//   - ipv6Host: "2001:db8::1 app: m" has an IPv6 HOSTNAME (RFC 3164 4.1.2
//     allows one); go-syslog allows no ':' in a hostname and makes it all MSG.
//   - emptyMsg: "host app: " is tag app with no MSG; go-syslog needs one
//     byte of MSG after the tag and makes "app: " the MSG.
//   - iosZone: "10:00:00.123 UTC: %SYS-5-CONFIG_I: m" (or a known zone
//     word before any message) has the zone word UTC for the fast path
//     (and the time read in that zone), the tag UTC for go-syslog.
//   - iosMarker: "<187>*Jan 12 ...: %LINK-3-UPDOWN: m" (a time marker, no
//     counter) is Cisco IOS for the fast path (no HOSTNAME after the
//     time), RFC 3164 for go-syslog (which reads one there).
//   - iosTagOnly: a counter line ending in "TAG:" has the tag and no MSG
//     for the fast path; go-syslog reports the tag and "TAG:" as MSG.
//   - ctlPID: "app[\r]: m" (a control byte in the PID) is all MSG for the
//     fast path and tag app, PID "\r" for go-syslog (found by
//     FuzzDifferential; the same before the Cisco IOS fast path).
//   - trailingBlank: lines ending in a space are not compared. go-syslog's
//     grammar lets both separators and MSG take the spaces, and its reading
//     changes with their number ("x " is MSG, "x  " the hostname); the fast
//     path reads a last word as MSG and blanks as no MSG.
func divergence(line []byte, f, l *view) (string, bool) {
	switch {
	case f.AppName != "" && l.AppName == "" && l.Message == f.AppName+":"+f.Message:
		f.AppName, f.Message = "", l.Message
		return "tagNoSpace", true
	case f.AppName == "" && f.ProcID == "" && l.AppName == "" && l.Message == "-:"+f.Message:
		// tagNoSpace with the tag "-", which both read as no APP-NAME.
		f.Message = l.Message
		return "tagNoSpace", true
	case strings.Contains(f.Hostname, ":") && l.Hostname == "" && strings.HasPrefix(l.Message, f.Hostname+" "):
		f.Hostname, f.AppName, f.ProcID, f.Message, f.Problems = "", "", "", l.Message, f.Problems|NoHostname
		return "ipv6Host", true
	case f.AppName != "" && f.Message == "" && l.AppName == "" && l.Message == f.AppName+": ":
		f.AppName, f.Message = "", l.Message
		return "emptyMsg", true
	case l.AppName != "" && l.AppName != f.AppName && len(l.AppName) <= 6 && strings.Trim(l.AppName, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "" &&
		bytes.Contains(line, []byte(" "+l.AppName+": ")) && (f.Format == FormatCiscoIOS || iosZones[l.AppName] != nil || iosMnemonic([]byte(f.AppName))):
		*f = *l
		return "iosZone", true
	case f.AppName == "" && l.AppName != "" && strings.ContainsFunc(l.ProcID, func(r rune) bool { return r < ' ' && r != '\t' }) &&
		f.Message == l.AppName+"["+l.ProcID+"]: "+l.Message:
		// A control byte other than tab in the PID: no tag for the fast
		// path (all MSG), a tag for go-syslog.
		*f = *l
		return "ctlPID", true
	case f.Format == FormatCiscoIOS && f.AppName != "" && f.Message == "" && l.AppName == f.AppName && l.Message == f.AppName+":":
		// go-syslog's Cisco machine reports a last word "0:" both as the
		// tag and as MSG; for the fast path it is a tag without MSG.
		f.Message = l.Message
		return "iosTagOnly", true
	case f.Format == FormatCiscoIOS && l.Format == FormatCiscoIOS && f.Hostname == "" && l.Hostname != "" &&
		f.Message == l.Hostname+" "+l.Message:
		// After an IOS timestamp's colon comes the message ("seq no:
		// timestamp: %FACILITY-SEVERITY-MNEMONIC: description"); go-syslog's
		// Cisco machine takes a first word followed by a space as a host.
		*f = *l
		return "iosWordAfterTime", true
	case f.Format == FormatCiscoIOS && l.Format == FormatRFC3164:
		*f = *l
		return "iosMarker", true
	case bytes.HasSuffix(line, []byte(" ")) && *f != *l:
		*f = *l // not compared
		return "trailingBlank", true
	}
	return "", false
}

// TestFallbackOnly checks a Cisco IOS form only go-syslog reads (an empty
// counter), that the fast path declines it rather than misread it, and
// that the mnemonic ends up in the message as for the fast path's forms.
func TestFallbackOnly(t *testing.T) {
	p := &Parser{Now: fixedNow(received)}
	for _, line := range []string{
		"<189>: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured",
	} {
		var h Header
		b := []byte(line)
		if p.parseFast(b, &h) {
			t.Errorf("parseFast(%q) accepted an empty Cisco IOS counter: %+v", line, viewOf(&h))
		}
		p.Parse(b, &h)
		checkHeader(t, b, &h)
		if h.Format != FormatCiscoIOS || h.AppName != nil || !bytes.HasPrefix(h.Message, []byte("%SYS-5-CONFIG_I: ")) || h.Timestamp.IsZero() {
			t.Errorf("Parse(%q) = %+v, want a Cisco IOS header", line, viewOf(&h))
		}
	}
}

// TestGoSyslogQuirks pins the go-syslog v4.6.0 behaviours fallback.go
// works around. When one fails after an upgrade, the workaround may go.
func TestGoSyslogQuirks(t *testing.T) {
	for _, tc := range []struct {
		pool       *sync.Pool
		line, want string
	}{
		// A tag reported but left in MSG.
		{&pool3164, "<13>Nov 22 08:00:12 host ASM:unit=1", "err=<nil> ts=true app=ASM msg=ASM:unit=1"},
		// No error, and neither timestamp nor MSG.
		{&pool3164, "<13>1", "err=<nil> ts=false app= msg="},
		{&poolCisco, "<13>2026-11-22T08:00:12Z h a: m", "err=<nil> ts=false app= msg="},
		// The partial PRI of "<999>" is 99.
		{&pool3164, "<999>Nov 22 08:00:12 h a: m", "err=expecting a priority value in the range 1-191 or equal to 0 [col 3] ts=false app= msg= pri=99"},
	} {
		m := tc.pool.Get().(gosyslog.Machine)
		msg, err := m.Parse([]byte(tc.line))
		tc.pool.Put(m)
		got := fmt.Sprintf("err=%v", err)
		if r, ok := msg.(*rfc3164.SyslogMessage); ok && r != nil {
			s := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			got += fmt.Sprintf(" ts=%v app=%s msg=%s", r.Timestamp != nil, s(r.Appname), s(r.Message))
			if err != nil && r.Priority != nil {
				got += fmt.Sprintf(" pri=%d", *r.Priority)
			}
		}
		if got != tc.want {
			t.Errorf("go-syslog Parse(%q) = %s, want %s: fixed upstream? Then review fallback.go", tc.line, got, tc.want)
		}
	}
}

// TestNoTimestamp: the header-less vendor lines take noTimestamp's
// shortcut and get what go-syslog gives them; near misses (month names,
// digits, Cisco IOS marks, broken PRIs) do not take it.
func TestNoTimestamp(t *testing.T) {
	p := &Parser{Location: time.UTC, Now: fixedNow(received)}
	for _, tc := range []struct {
		line  string
		taken bool
	}{
		{"<30>firewall,info input: in:ether1 out:(unknown 0), proto TCP (SYN), 203.0.113.5:4444->192.0.2.40:22, len 60", true},
		{"%ASA-6-302016: Teardown UDP connection 77 for outside:198.51.100.7/53", true},
		{"<134>NetScreen device_id=ssg140  [Root]system-notification-00257(traffic): x=1", true},
		{"firewall,info input: x", true},
		{"<13>Novx 22 08:00:00 host app: x", false},
		{"<13>Nov 22 08:00:00 host app: x", false},
		{"<13>No", false},
		{"<13> firewall,info x", false},
		{"<13>*Nov 22 08:00:00: %SYS-5-CONFIG_I: x", false},
		{"<13>", false},
		{"<999>firewall,info x", false},
		{"<13firewall,info x", false},
		{"1 2026-11-22T08:00:00Z host app - - - x", false},
	} {
		if got := checkNoTimestamp(t, p, []byte(tc.line)); got != tc.taken {
			t.Errorf("noTimestamp(%q) = %v, want %v", tc.line, got, tc.taken)
		}
	}
	for _, tc := range goldenCases {
		checkNoTimestamp(t, p, trimEnd([]byte(tc.line)))
	}
	for _, l := range sampleLines(t) {
		checkNoTimestamp(t, p, trimEnd(l))
	}
}
