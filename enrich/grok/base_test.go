package grok

import (
	"testing"

	"github.com/sluicelab/sluice/configs"
)

// baseSamples has, for every pattern of configs/patterns/base.grok, strings
// it must match in full (positive) and strings it must not match in full.
var baseSamples = map[string]struct{ pos, neg []string }{
	"USERNAME":           {[]string{"jsmith", "a.b-c_d", "www-data"}, []string{"", "j smith", "user@x"}},
	"USER":               {[]string{"root", "svc_backup"}, []string{"ro ot", "a/b"}},
	"EMAILLOCALPART":     {[]string{"john.doe", "a+tag", "x_y"}, []string{".john", "john..doe", "john."}},
	"EMAILADDRESS":       {[]string{"john.doe@example.com", "a+b@mail-1.example.org"}, []string{"john@", "@example.com", "john doe@example.com"}},
	"INT":                {[]string{"0", "-12", "+7", "123456"}, []string{"1.5", "abc", "-", "12a"}},
	"BASE10NUM":          {[]string{"1", "-1.5", ".5", "+10.25"}, []string{"1.", "1e5", "--1", "."}},
	"NUMBER":             {[]string{"42", "-0.001", ".75"}, []string{"4,2", "x", "1.2.3"}},
	"BASE16NUM":          {[]string{"0x1F", "deadBEEF", "-0X0a", "12"}, []string{"0xg", "x12", "0x"}},
	"BASE16FLOAT":        {[]string{"0x1.8", "ff.", ".a", "1.5"}, []string{"0x.", "g", "1.5.6"}},
	"POSINT":             {[]string{"1", "42", "1000"}, []string{"0", "042", "-1", "4a"}},
	"NONNEGINT":          {[]string{"0", "042", "7"}, []string{"-1", "1.0", "x"}},
	"WORD":               {[]string{"flows", "ids_alerts", "A1"}, []string{"ids-alerts", "a b", ""}},
	"NOTSPACE":           {[]string{"a:b/c", "€uro", "x"}, []string{"a b", "", "a\tb"}},
	"SPACE":              {[]string{"", "  \t", " "}, []string{"x", " x"}},
	"DATA":               {[]string{"", "anything at all"}, []string{"a\nb"}},
	"GREEDYDATA":         {[]string{"x y z", "", "€ and \xff"}, []string{"a\nb"}},
	"QUOTEDSTRING":       {[]string{`"hello"`, `"say \"hi\""`, `'single'`, "`tick`", `""`, `"a\\"`}, []string{`"unterminated`, `"a"b`, `hello`, `"a\"`}},
	"QS":                 {[]string{`"GET / HTTP/1.1"`, `'x'`}, []string{`"x'`}},
	"UUID":               {[]string{"123e4567-e89b-12d3-a456-426614174000", "6E8BC430-9C3A-11D9-9669-0800200C9A66"}, []string{"123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400"}},
	"URN":                {[]string{"urn:isbn:0451450523", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "urn:example:a%2Fb"}, []string{"urn:", "urn::x", "urn:isbn:a b"}},
	"LOGLEVEL":           {[]string{"INFO", "warning", "Err", "EMERGENCY", "debug"}, []string{"verbose", "INFOS", "Warnings"}},
	"CISCOMAC":           {[]string{"0011.2233.4455", "aabb.ccdd.eeff"}, []string{"0011.2233.445", "0011:2233:4455"}},
	"WINDOWSMAC":         {[]string{"00-11-22-33-44-55", "AA-bb-CC-dd-EE-ff"}, []string{"00-11-22-33-44", "00-11-22-33-44-5G"}},
	"COMMONMAC":          {[]string{"00:11:22:33:44:55", "CE:51:75:61:A0:C3"}, []string{"00:11:22:33:44:5g", "0:11:22:33:44:55", "00:11:22:33:44"}},
	"MAC":                {[]string{"0011.2233.4455", "00-11-22-33-44-55", "ce:51:75:61:a0:c3"}, []string{"001122334455", "00:11-22:33-44:55"}},
	"IPV4":               {[]string{"192.168.1.10", "0.0.0.0", "255.255.255.255", "010.001.000.099"}, []string{"256.1.1.1", "1.2.3", "1.2.3.4.5", "1234.1.1.1", "1.2.3.04a", "1.2.3.-4"}},
	"IPV6":               {[]string{"2001:db8::1", "::1", "::", "fe80::1%eth0", "::ffff:192.0.2.128", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:192.0.2.1", "2001:DB8:0:0:8:800:200C:417A", "1::", "1:2:3:4:5:6:7::", "1::7:8", "1:2:3:4::192.0.2.1"}, []string{"1:2:3:4:5:6:7:8:9", "2001:db8:::1", "12345::1", "1.2.3.4", ":1:2", "g::1", "1:2:3:4:5:6:7", "1::2::3"}},
	"IP":                 {[]string{"10.0.0.1", "fe80::a:b"}, []string{"1.2.3", "host", "10.0.0.256"}},
	"HOSTNAME":           {[]string{"web02", "www.example.com", "a-b.example.org", "example.com.", "MX84"}, []string{"-web", "web_02", "a..b", "", "web-"}},
	"IPORHOST":           {[]string{"10.0.0.1", "db01.lan", "::1"}, []string{"bad host", "a_b"}},
	"HOSTPORT":           {[]string{"10.0.0.1:514", "example.com:8080"}, []string{"example.com:0", "example.com", "example.com:x"}},
	"UNIXPATH":           {[]string{"/var/log/syslog", "/usr/bin/php", `/a\ b`, "/"}, []string{"var/log", "/var log"}},
	"TTY":                {[]string{"/dev/pts/0", "/dev/tty1", "/dev/ttyS0"}, []string{"/dev/sda", "/dev/pts/"}},
	"WINPATH":            {[]string{`C:\Windows\System32`, `\\server\share`, `C:\`}, []string{`C:/Windows`, "Windows", `C:`}},
	"PATH":               {[]string{"/etc/passwd", `D:\logs\app.log`}, []string{"relative/path", ""}},
	"URIPROTO":           {[]string{"https", "svn+ssh", "h"}, []string{"1http", "+x"}},
	"URIHOST":            {[]string{"example.com", "10.0.0.1:8080", "db01"}, []string{"example.com:abc", "a b"}},
	"URIPATH":            {[]string{"/", "/api/v2/items", "/a;b=c", "/msdownload/update/v3/static/trustedr/en/authrootstl.cab"}, []string{"api", "/a b"}},
	"URIPARAM":           {[]string{"?q=firewall+syslog", "?", "?a=1&b=[2]"}, []string{"q=1", "?a b"}},
	"URIPATHPARAM":       {[]string{"/search?q=x", "/x", "/api/v1/status?id=48259"}, []string{"?q=x", "x/y"}},
	"URI":                {[]string{"http://ocsp.digicert.com/success.txt", "https://user:pw@example.com:8443/a?b=c", "ftp://10.0.0.1/", "http://cdn.jsdelivr.net/search?q=firewall+syslog", "file://"}, []string{"example.com/x", "http:/x", "http://a b"}},
	"MONTH":              {[]string{"Nov", "November", "jan", "Sept", "Sep"}, []string{"Novem", "Foo", "NOV"}},
	"MONTHNUM":           {[]string{"1", "01", "12"}, []string{"13", "0", "00"}},
	"MONTHNUM2":          {[]string{"01", "12"}, []string{"1", "13"}},
	"MONTHDAY":           {[]string{"1", "01", "22", "31"}, []string{"32", "0", "00"}},
	"DAY":                {[]string{"Mon", "Tuesday", "thu", "Thurs", "Sun"}, []string{"Mo", "Funday", "Mondays"}},
	"YEAR":               {[]string{"26", "2026"}, []string{"2", "20261", "abcd"}},
	"HOUR":               {[]string{"0", "08", "23"}, []string{"24", "123"}},
	"MINUTE":             {[]string{"00", "59"}, []string{"60", "5"}},
	"SECOND":             {[]string{"00", "59", "60", "12.345", "12,5", "7"}, []string{"61", "1:2:3"}},
	"TIME":               {[]string{"08:00:12", "23:59:60", "8:05:00.123"}, []string{"24:00:00", "08:00", "08:60:00"}},
	"DATE_US":            {[]string{"11/22/2026", "1-2-26"}, []string{"13/22/2026", "11.22.2026"}},
	"DATE_EU":            {[]string{"22.11.2026", "22/11/26"}, []string{"32.11.2026", "22.13.2026"}},
	"DATE":               {[]string{"11/22/2026", "22.11.2026"}, []string{"2026-11-22"}},
	"ISO8601_TIMEZONE":   {[]string{"Z", "+05:30", "-0800"}, []string{"+5", "UTC", "z"}},
	"ISO8601_SECOND":     {[]string{"59", "07.5"}, []string{"61"}},
	"TIMESTAMP_ISO8601":  {[]string{"2026-11-22T08:00:35.127486Z", "2026-11-22 08:00:35", "2026-11-22T08:00+01:00", "2026-11-22T0800"}, []string{"2026-13-22T08:00:35Z", "2026/11/22T08:00", "2026-11-22"}},
	"DATESTAMP":          {[]string{"11/22/2026 08:00:12", "22.11.2026-08:00:12"}, []string{"2026-11-22 08:00:12", "11/22/2026"}},
	"TZ":                 {[]string{"UTC", "PST", "GMT", "EDT"}, []string{"XYZ", "CEST"}},
	"DATESTAMP_RFC822":   {[]string{"Sun Nov 22 2026 08:00:12 UTC"}, []string{"Sun Nov 22 08:00:12 2026"}},
	"DATESTAMP_RFC2822":  {[]string{"Sun, 22 Nov 2026 08:00:12 +0000"}, []string{"Sun 22 Nov 2026 08:00:12 +0000"}},
	"DATESTAMP_OTHER":    {[]string{"Sun Nov 22 08:00:12 UTC 2026"}, []string{"Sun Nov 22 08:00:12 2026"}},
	"DATESTAMP_EVENTLOG": {[]string{"20261122080012"}, []string{"2026112208001x"}},
	"HTTPDATE":           {[]string{"22/Nov/2026:08:00:12 +0000", "01/Jan/2026:00:00:00 -0500"}, []string{"22/11/2026:08:00:12 +0000"}},
	"SYSLOGTIMESTAMP":    {[]string{"Nov 22 08:00:12", "Nov  2 08:00:12"}, []string{"Nov 22 8:00", "22 Nov 08:00:12"}},
	"PROG":               {[]string{"sshd", "CRON", "kernel", "postfix/smtpd"}, []string{"sshd[1]", "a b"}},
	"SYSLOGPROG":         {[]string{"sshd[44454]", "kernel"}, []string{"sshd[abc]", "sshd[0]"}},
	"SYSLOGHOST":         {[]string{"fw01", "10.0.0.1"}, []string{"fw 01"}},
	"SYSLOGFACILITY":     {[]string{"<4.6>", "<23.7>"}, []string{"<4>", "<4,6>"}},
	"SYSLOG5424PRI":      {[]string{"<134>", "<0>"}, []string{"<x>", "134"}},
	"SYSLOGBASE":         {[]string{"Nov 22 08:00:12 web02 sshd[44454]:", "Nov 22 08:00:30 fw01 kernel:", "Nov 22 08:00:30 <4.6> fw01 kernel:"}, []string{"Nov 22 08:00:12 web02", "Nov 22 08:00:12 web02 sshd[44454]"}},
	"SYSLOGLINE":         {[]string{"Nov 22 08:00:12 web02 sshd[44454]: Failed password for test from 176.130.170.130 port 55767 ssh2"}, []string{"web02 sshd[44454]: Failed"}},
}

func baseLibrary(t testing.TB) *Library {
	t.Helper()
	lib, err := BaseLibrary()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// baseNames returns the names base.grok defines (the other pattern files
// are the vendor parsers' and tested with them).
func baseNames(t testing.TB) []string {
	t.Helper()
	lib := NewLibrary()
	if err := lib.LoadFS(configs.Patterns, "patterns/base.grok"); err != nil {
		t.Fatal(err)
	}
	return lib.Names()
}

func TestBaseLibraryChecks(t *testing.T) {
	if err := baseLibrary(t).Check(); err != nil {
		t.Fatalf("Check():\n%v", err)
	}
}

// TestBasePatterns matches every base pattern against its samples in full
// (^%{NAME:x}$) with both engines, and requires samples for every pattern.
func TestBasePatterns(t *testing.T) {
	lib := baseLibrary(t)
	for _, name := range baseNames(t) {
		s, ok := baseSamples[name]
		if !ok {
			t.Errorf("base pattern %s has no samples in baseSamples", name)
			continue
		}
		if len(s.pos) == 0 || len(s.neg) == 0 {
			t.Errorf("base pattern %s needs positive and negative samples", name)
		}
		t.Run(name, func(t *testing.T) {
			p := lib.MustCompile("^%{" + name + ":x}$")
			if !p.Fast() {
				t.Errorf("%s does not use the fast matcher: %s", name, p.slow)
			}
			for _, in := range s.pos {
				for _, e := range engines {
					var got []Capture
					ok := e.match(p, []byte(in), func(c Capture) { got = append(got, c) })
					if !ok {
						t.Errorf("%s: ^%%{%s:x}$ does not match %q", e.name, name, in)
						continue
					}
					if in != "" && (len(got) == 0 || got[0].Name != "x" || string(got[0].Value) != in) {
						t.Errorf("%s: ^%%{%s:x}$ on %q captured %+v", e.name, name, in, got)
					}
				}
			}
			for _, in := range s.neg {
				for _, e := range engines {
					if e.match(p, []byte(in), func(Capture) {}) {
						t.Errorf("%s: ^%%{%s:x}$ matches %q", e.name, name, in)
					}
				}
			}
		})
	}
	names := map[string]bool{}
	for _, n := range baseNames(t) {
		names[n] = true
	}
	for name := range baseSamples {
		if !names[name] {
			t.Errorf("baseSamples has %s, which base.grok does not define", name)
		}
	}
}

// TestTokenDefinitions checks that base.grok defines IPV4 and IPV6 as the
// fast matcher's validators expect; otherwise they would silently run as
// plain regexps.
func TestTokenDefinitions(t *testing.T) {
	lib := baseLibrary(t)
	for name, want := range map[string]string{"IPV4": IPv4Expr, "IPV6": IPv6Expr, "QUOTEDSTRING": QuotedExpr, "WORD": WordExpr} {
		if got, _ := lib.Lookup(name); got != want {
			t.Errorf("base.grok %s = %s\nwant %s", name, got, want)
		}
	}
	p := lib.MustCompile("%{IP:ip} %{QS:q} %{MAC:m} %{WORD:w}")
	ops := map[opcode]bool{}
	for _, in := range p.prog.insts {
		ops[in.op] = true
	}
	for _, op := range []opcode{opIPv4, opIPv6, opQuoted, opMAC, opWord} {
		if !ops[op] {
			t.Errorf("%s compiled without token opcode %d", p, op)
		}
	}
}
