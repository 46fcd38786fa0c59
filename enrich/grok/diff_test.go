package grok

import (
	"bytes"
	"math/rand/v2"
	"sort"
	"testing"
)

// sampleLines are message bodies in the shapes sluice sees (written for
// these tests, not copied from a capture).
var sampleLines = []string{
	"a=1 src zone=x reason=one reason=two src=3 abab12 ab",
	"x reason= reason=\nreason=z ab1\nab2 src=\n src=y",
	"flows allow src=192.168.1.10:51514 dst=93.184.216.34:443 mac=00:11:22:33:44:55 protocol=tcp sport=51514 dport=443 pattern: allow all",
	"flows src=172.18.58.28 dst=123.214.120.74 mac=CE:51:75:61:A0:C3 protocol=tcp sport=41257 dport=110 pattern: 0 all",
	"flows src=10.1.2.3 dst=8.8.8.8 mac=AA:BB:CC:DD:EE:FF protocol=icmp type=8 pattern: deny (dst port 445)",
	"urls src=10.11.242.147:38659 dst=34.72.97.62:80 mac=FD:63:52:D7:F2:B4 agent='Mozilla/5.0 (X11; Linux x86_64)' request: GET http://example.com/a?b=c",
	"ids-alerts signature=1:2100498:7 priority=2 timestamp=1795363203.786774 dhost=56:8D:89:03:58:B8 direction=egress protocol=tcp/ip src=192.168.16.26:54510 dst=20.52.11.14:443 message: GPL ATTACK_RESPONSE id check returned root",
	"[UFW BLOCK] IN=ens3 OUT= MAC=c7:a2:da:ab:3b:13:d5:41:1c:45:39:c9:08:00 SRC=142.213.113.184 DST=192.168.11.38 LEN=52 TOS=0x00 PREC=0x00 TTL=63 ID=3851 PROTO=TCP SPT=44308 DPT=23 WINDOW=14600 RES=0x00 ACK PSH URGP=0",
	"IPTABLES-DROP: IN=eth0 OUT= SRC=10.5.95.50 DST=192.168.19.147 LEN=60 TOS=0x00 PREC=0x00 TTL=241 ID=26985 DF PROTO=UDP SPT=53 DPT=161 LEN=244",
	`unit_hostname="f5-dmz-01",management_ip_address="10.0.0.7",violations="Attack signature detected",ip_client="188.20.104.206",src_port="45347",request="POST /api HTTP/1.1\r\nHost: www.example.com\r\n"`,
	"Failed password for invalid user admin from 2001:db8::17 port 55767 ssh2",
	"Failed password for root from 176.130.170.130 port 42144 ssh2",
	"<38>Nov 22 08:00:12 web02 sshd[44454]: Failed password for test from 176.130.170.130 port 55767 ssh2",
	"<4>Nov  2 08:00:30 fw01 kernel: [215275.946756] FW-IN-DROP: IN=enp1s0",
	"2026-11-22T08:00:35.127486Z app-7f9c CRON 29110 - - (www-data) CMD (/usr/bin/php /var/www/html/cron.php)",
	"DHCPREQUEST for 192.168.16.75 (192.168.0.230) from fe:99:42:e8:59:de via eth0",
	`127.0.0.1 - frank [10/Oct/2026:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326`,
	"conn fe80::1%eth0:443 -> [2001:db8::1]:80 via ::ffff:10.1.2.3 and 1:2:3:4:5:6:7:8:9",
	"user=jsmith email=john.doe@example.com id=123e4567-e89b-12d3-a456-426614174000 level=WARN",
	"path=/var/log/syslog win=C:\\Windows\\System32 uri=https://user:pw@example.com:8443/a?b=c",
	"résumé € naïve \xff\xfe broken \x80utf8 ok",
	"multi\nline\nmessage END",
	"",
	" ",
	"a",
	"0x1F -12 +7 3.25 .5 1e5 deadbeef",
	"Sun, 22 Nov 2026 08:00:12 +0000 | 22/Nov/2026:08:00:12 +0000 | 11/22/2026 08:00:12",
	`"quoted \"string\"" 'single' ` + "`tick` \"unterminated",
}

// diffExprs are expressions the differential tests and FuzzMatch run;
// every base pattern is added by diffPatterns in several contexts.
var diffExprs = []string{
	`^%{WORD:meraki.type} src=%{IP:source.ip}(?::%{INT:source.port:int})? dst=%{IP:destination.ip}(?::%{INT:destination.port:int})? mac=%{MAC:source.mac} protocol=%{WORD:network.transport}(?: sport=%{INT:source.port:int} dport=%{INT:destination.port:int})?(?: type=%{INT:icmp.type:int})? pattern: %{GREEDYDATA:rule.name}`,
	`%{WORD:meraki.type} src=%{IP:source.ip}:%{INT:source.port:int} dst=%{IP:destination.ip}:%{INT:destination.port:int} mac=%{MAC:source.mac}`,
	`^urls src=%{IP:source.ip}:%{INT:source.port:int} dst=%{IP:destination.ip}:%{INT:destination.port:int} mac=%{MAC:source.mac} agent=%{QS:user_agent.original} request: %{WORD:http.request.method} %{URI:url.original}`,
	`^ids-alerts signature=%{NOTSPACE:rule.id} priority=%{INT:event.severity:int} timestamp=%{NUMBER:ts:float} dhost=%{MAC:host.mac} direction=%{WORD:network.direction} protocol=%{NOTSPACE:network.protocol} src=%{IP:source.ip}:%{INT:source.port:int} dst=%{IP:destination.ip}:%{INT:destination.port:int} message: %{GREEDYDATA:rule.name}`,
	`^%{DATA:prefix}IN=%{DATA:in} OUT=%{DATA:out} (?:MAC=%{NOTSPACE:mac} )?SRC=%{IP:src} DST=%{IP:dst} LEN=%{INT:len:int} .*?PROTO=%{WORD:proto}(?: SPT=%{INT:spt:int} DPT=%{INT:dpt:int})?`,
	`^Failed %{WORD:method} for (?:invalid user )?%{USERNAME:user} from %{IP:ip} port %{INT:port:int}`,
	`^<%{NONNEGINT:pri:int}>%{SYSLOGTIMESTAMP:ts} %{SYSLOGHOST:host} %{SYSLOGPROG}: %{GREEDYDATA:msg}`,
	`%{SYSLOGLINE}`,
	`%{IPORHOST:client} - %{USER:user} \[%{HTTPDATE:ts}\] "%{WORD:verb} %{URIPATHPARAM:req} HTTP/%{NUMBER:ver:float}" %{INT:status:int} %{INT:bytes:int}`,
	`%{NOTSPACE:a}:%{NOTSPACE:b}`,
	`%{NOTSPACE:a}:%{INT:b}`,
	`%{GREEDYDATA:a}%{NOTSPACE:b}`,
	`%{DATA:a}%{NOTSPACE:b}$`,
	`%{DATA:a} %{DATA:b} %{GREEDYDATA:c}`,
	`%{DATA:a}x%{DATA:b}$`,
	`(?<first>\S+) (?<rest>.*)`,
	`(?<[source][ip]>%{IP}):(?P<port>\d+)`,
	`(?m)^%{WORD:w}$`,
	`(?m)%{DATA:a}$`,
	`(?s)%{DATA:a}END`,
	`(?s).{3,5}(?P<x>.)`,
	`(?i)fail(?:ed)? %{WORD:w}`,
	`(?i)kernel`,
	`[^ ]+ (?P<na>[^\x00-\x7f]+)`,
	`(?P<latin>[à-ÿ]+)`,
	`(?P<x>.{2,5})x`,
	`(?P<x>\S{2,})\s`,
	`\B(?P<d>\d+)\B`,
	`(?P<a>ab|a)(?P<b>bc|c)`,
	`(?P<a>a+)+b`,
	`(?P<a>(?:a|b?)+)c`,
	`(?:x*)*y`,
	`(?P<x>x{3})(?P<y>(?:yz){2,3})`,
	`(?P<a>.+?)(?P<b> |$)`,
	`a+?(?P<b>b*)`,
	`(?P<x>(?:ab)*?)c`,
	`(?P<x>(?:ab)+?)`,
	`(?P<x>[0-9]{1,3}?)(?P<y>[0-9]*)`,
	`%{QUOTEDSTRING:q}`,
	`%{IP:a}(?:%{IP:b})?`,
	`(?:%{IPV6:v6}|%{IPV4:v4}|%{HOSTNAME:h})(?::%{POSINT:port:int})?`,
	`\[%{IPV6:ip}\]:%{INT:port:int}`,
	`%{IP:ip}:%{INT:port:int}`,
	`%{IPV6:ip}%{SPACE}%{WORD:w}`,
	`^$`,
	`$`,
	`\A(?P<x>)`,
	`(?:(?P<x>a)|(?P<x2>b))*`,
	`(?P<x>[a-c]+)(?P<y>[b-d]+)`,
	`(?P<x>\w+?)(?P<y>\d+)\b`,
	`(?P<x>.)$`,
	`é(?P<x>.)`,
	"(?P<x>\ufffd)",
	`x*`,
	`(?P<a>\d+)\.(?P<b>\d+)`,
	`(?P<a>\S+)(?P<b>[^a])`,
	`(?P<a>\S+?)(?P<b>[^a])`,
	`(?P<a>.*)(?P<b>.)`,
	`(?P<a>.+?)(?P<b>.)$`,
	`(?P<a>[^,]*),(?P<b>[^,]*)`,
	// A lazy run before a literal of several bytes, or before one that is
	// optional at the end (the ends tried are where the literal starts).
	`(?P<a>.*?) src=(?P<b>\S+)`,
	`(?P<a>\S*?)ab(?P<b>.)`,
	`^(?P<a>.*?)(?: reason=(?P<b>.*))?$`,
	`(?P<a>.*?)(?:ab(?P<b>\d+))?$`,
	`(?P<a>[^\n]*?)(?:\nx)?$`,
}

// diffPatterns compiles diffExprs and every base pattern in a few
// contexts.
func diffPatterns(t testing.TB) []*Pattern {
	lib := baseLibrary(t)
	exprs := append([]string(nil), diffExprs...)
	base := map[string]bool{}
	for _, n := range baseNames(t) {
		base[n] = true
	}
	for _, n := range lib.Names() {
		if !base[n] { // the vendor pattern files: once each
			exprs = append(exprs, "%{"+n+":x}")
			continue
		}
		exprs = append(exprs,
			"%{"+n+":x}",
			"^%{"+n+":x}$",
			"%{"+n+":x} %{"+n+":y}",
			"%{"+n+":x}:%{INT:y}",
			"%{"+n+":x}%{GREEDYDATA:y}",
		)
	}
	pats := make([]*Pattern, len(exprs))
	for i, e := range exprs {
		p, err := lib.Compile(e)
		if err != nil {
			t.Fatalf("Compile(%q): %v", e, err)
		}
		pats[i] = p
	}
	return pats
}

const mutationAlphabet = "0123456789abcdefABCDEFxyzkKs:.-_ /\\\"'`=[]<>?%@,\n\t"

var mutationRunes = []string{"€", "é", "\xff", "\x80", "\xe2\x82", "\u212a", "ſ"}

func mutate(r *rand.Rand, line []byte, donors [][]byte) []byte {
	out := append([]byte(nil), line...)
	for n := 1 + r.IntN(3); n > 0; n-- {
		pos := 0
		if len(out) > 0 {
			pos = r.IntN(len(out) + 1)
		}
		var ins []byte
		if r.IntN(4) == 0 {
			ins = []byte(mutationRunes[r.IntN(len(mutationRunes))])
		} else {
			ins = []byte{mutationAlphabet[r.IntN(len(mutationAlphabet))]}
		}
		switch op := r.IntN(6); {
		case op == 0 && pos < len(out): // delete
			out = append(out[:pos], out[pos+1:]...)
		case op == 1 && pos < len(out): // replace
			out = append(out[:pos], append(ins, out[pos+1:]...)...)
		case op == 2: // splice in part of another line
			d := donors[r.IntN(len(donors))]
			if len(d) > 0 {
				i := r.IntN(len(d))
				j := i + r.IntN(len(d)-i+1)
				out = append(out[:pos], append(append([]byte(nil), d[i:j]...), out[pos:]...)...)
			}
		case op == 3: // truncate
			out = out[:pos]
		default: // insert
			out = append(out[:pos], append(ins, out[pos:]...)...)
		}
	}
	return out
}

// diffLines returns the sample lines, base pattern samples and n
// mutations of them. Under the race detector (which only needs the code to
// run, not every input) it returns the sample lines and a few mutations.
func diffLines(n int) [][]byte {
	var lines [][]byte
	for _, l := range sampleLines {
		lines = append(lines, []byte(l))
	}
	if raceEnabled {
		r := rand.New(rand.NewPCG(1, 2))
		base := len(lines)
		for i := 0; i < 50; i++ {
			lines = append(lines, mutate(r, lines[r.IntN(base)], lines[:base]))
		}
		return lines
	}
	names := make([]string, 0, len(baseSamples))
	for n := range baseSamples {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s := baseSamples[name]
		for _, l := range append(append([]string(nil), s.pos...), s.neg...) {
			lines = append(lines, []byte(l), []byte("x "+l+" y"), []byte(l+":"+l))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	base := len(lines)
	for i := 0; i < n; i++ {
		lines = append(lines, mutate(r, lines[r.IntN(base)], lines[:base]))
	}
	return lines
}

// TestDifferential runs every pattern of the corpus over sample lines and
// mutations with the fast matcher and with Go's regexp: the match and
// every capture must be the same.
func TestDifferential(t *testing.T) {
	pats := diffPatterns(t)
	n := 3000
	if testing.Short() || raceEnabled {
		n = 100
	}
	lines := diffLines(n)
	compared, gaveUp, slow := 0, 0, 0
	for _, p := range pats {
		if !p.Fast() {
			slow++
			continue
		}
		for _, l := range lines {
			if diffEngines(t, p, l) {
				compared++
			} else {
				gaveUp++
			}
		}
	}
	t.Logf("%d patterns (%d not on the fast matcher), %d lines: %d comparisons, %d budget fallbacks", len(pats), slow, len(lines), compared, gaveUp)
	if gaveUp*100 > compared {
		t.Errorf("the fast matcher gave up on %d of %d lines", gaveUp, compared+gaveUp)
	}
}

// TestDifferentialFallback checks the two budget stages: exponential
// backtracking finishes with the memo, and a line whose memo would be too
// large goes to Go's regexp, through the public API, with its answer.
func TestDifferentialFallback(t *testing.T) {
	p := NewLibrary().MustCompile(`(?P<a>(?:aa?)+)b`)
	if !p.Fast() {
		t.Fatalf("(?:aa?)+b should run on the fast matcher: %s", p.slow)
	}
	short := bytes.Repeat([]byte("a"), 200)
	if !diffEngines(t, p, short) {
		t.Fatalf("the fast matcher gave up on (?:aa?)+b over %d a's; the memo should finish it", len(short))
	}
	long := bytes.Repeat([]byte("a"), memoMaxBits/len(p.prog.insts)+1)
	if _, done := fastResult(p, long); done {
		t.Fatalf("the fast matcher finished (?:aa?)+b on %d a's; the memo should be too large", len(long))
	}
	long = append(long, 'b')
	var got []Capture
	if !p.Match(long, func(c Capture) { got = append(got, c) }) || len(got) != 1 || len(got[0].Value) != len(long)-1 {
		t.Fatalf("Match() captured %d values, want a = all the a's", len(got))
	}
}

// TestDifferentialIPv6 runs IPv6 references in several contexts over
// generated address-like strings: the IPv6 code lists match ends in the
// regexp's order, which only a comparison over many shapes can confirm.
func TestDifferentialIPv6(t *testing.T) {
	lib := baseLibrary(t)
	var pats []*Pattern
	for _, e := range []string{
		`%{IPV6:x}`, `^%{IPV6:x}$`, `%{IPV6:x}:%{INT:y}`, `%{IPV6:x} `, `%{IPV6:x}%{IPV6:y}`,
		`%{IPV6:x}(?P<y>:\d)`, `%{IPV6:x}%%{WORD:z}`, `%{IPV6:x}\.%{INT:y}$`, `%{IP:x}(?::%{INT:y})?$`,
		`%{IPV6:x}(?P<h>[0-9a-f])`, `%{IPV6:x}%{IPV6:y}$`, `(?P<a>.)%{IPV6:x}(?P<b>:)`,
	} {
		pats = append(pats, lib.MustCompile(e))
	}
	r := rand.New(rand.NewPCG(3, 4))
	parts := []string{":", "::", ":", "0", "1", "ff", "abcd", "12345", "db8", "1.2.3.4", "255.0.0.1", "%", "%eth0", "%1", " ", ".", "x", "9"}
	n := 20000
	if testing.Short() || raceEnabled {
		n = 1000
	}
	for i := 0; i < n; i++ {
		var line []byte
		for j := r.IntN(14); j >= 0; j-- {
			line = append(line, parts[r.IntN(len(parts))]...)
		}
		for _, p := range pats {
			diffEngines(t, p, line)
		}
	}
}
