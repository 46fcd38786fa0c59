package grok

import (
	"fmt"
	"testing"
)

const (
	merakiExpr = `^%{WORD:meraki.type} src=%{IP:source.ip}(?::%{INT:source.port:int})? dst=%{IP:destination.ip}(?::%{INT:destination.port:int})? mac=%{MAC:source.mac} protocol=%{WORD:network.transport}(?: sport=%{INT:source.port:int} dport=%{INT:destination.port:int})?(?: type=%{INT:icmp.type:int})? pattern: %{GREEDYDATA:rule.name}`
	merakiLine = "flows src=192.168.1.10 dst=93.184.216.34 mac=00:11:22:33:44:55 protocol=tcp sport=51514 dport=443 pattern: allow all"
)

// benchMatch reports lines/s as events/s for match over lines.
func benchMatch(b *testing.B, lines [][]byte, match func(line []byte, emit func(Capture)) bool) {
	b.Helper()
	n, fields := 0, 0
	emit := func(Capture) { fields++ }
	for _, l := range lines {
		if !match(l, emit) {
			b.Fatalf("no match for %q", l)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			match(l, emit)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkMeraki is one Meraki flows pattern on a flows line: the fast
// matcher (with prefilter, as Pattern.Match runs) and the same pattern
// through Go's regexp.
func BenchmarkMeraki(b *testing.B) {
	p := baseLibrary(b).MustCompile(merakiExpr)
	if !p.Fast() {
		b.Fatal(p.slow)
	}
	lines := [][]byte{[]byte(merakiLine)}
	b.Run("fast", func(b *testing.B) { benchMatch(b, lines, p.Match) })
	b.Run("regexp", func(b *testing.B) { benchMatch(b, lines, p.matchRegexp) })
}

// BenchmarkTokens measures single references in context.
func BenchmarkTokens(b *testing.B) {
	lib := baseLibrary(b)
	for _, tc := range []struct{ name, expr, line string }{
		{"IPv4", `src=%{IP:source.ip} `, "flows src=192.168.1.10 dst=93.184.216.34"},
		{"IPv6", `src=%{IP:source.ip} `, "flows src=2001:db8:85a3::8a2e:370:7334 dst=2001:db8::1"},
		{"HOSTNAME", `^%{HOSTNAME:host.name} `, "mx250-dc1.branch.example.com flows src=192.168.1.10"},
		{"SYSLOGLINE", `^%{SYSLOGLINE}`, "Nov 22 08:00:12 web02 sshd[44454]: Failed password for test from 176.130.170.130 port 55767 ssh2"},
		{"QS", `agent=%{QS:user_agent.original} `, "urls src=10.0.0.1:1 agent='Mozilla/5.0 (Windows NT 10.0; Win64; x64)' request: GET http://x/"},
	} {
		p := lib.MustCompile(tc.expr)
		lines := [][]byte{[]byte(tc.line)}
		b.Run(tc.name+"/fast", func(b *testing.B) { benchMatch(b, lines, p.Match) })
		b.Run(tc.name+"/regexp", func(b *testing.B) { benchMatch(b, lines, p.matchRegexp) })
	}
}

// fallThroughSet returns 50 patterns of which only the last matches
// merakiLine: 25 decoys differ early (another event type, as other
// vendors' formats do) and 24 late (the same flows layout with another
// tail), which is the expensive case for plain fall-through.
func fallThroughSet(b *testing.B) []*Pattern {
	lib := baseLibrary(b)
	var exprs []string
	for i := 0; i < 25; i++ {
		exprs = append(exprs, fmt.Sprintf(`^event%02d src=%%{IP:source.ip}:%%{INT:source.port:int} dst=%%{IP:destination.ip}:%%{INT:destination.port:int} action=%%{WORD:event.action}`, i))
	}
	for i := 0; i < 24; i++ {
		exprs = append(exprs, fmt.Sprintf(`^%%{WORD:meraki.type} src=%%{IP:source.ip} dst=%%{IP:destination.ip} mac=%%{MAC:source.mac} protocol=%%{WORD:network.transport} sport=%%{INT:source.port:int} dport=%%{INT:destination.port:int} rule%02d: %%{GREEDYDATA:rule.name}`, i))
	}
	exprs = append(exprs, merakiExpr)
	pats := make([]*Pattern, len(exprs))
	for i, e := range exprs {
		pats[i] = lib.MustCompile(e)
	}
	return pats
}

// BenchmarkSet50 is a 50-pattern fall-through Set whose last pattern
// matches: with prefilters and first-byte dispatch, without them (every
// pattern runs on the fast matcher until one matches), and every pattern
// through Go's regexp in turn (what a regexp-based grok does).
func BenchmarkSet50(b *testing.B) {
	pats := fallThroughSet(b)
	lines := [][]byte{[]byte(merakiLine)}
	s := NewSet(pats...)
	set := func(line []byte, emit func(Capture)) bool { return s.Match(line, emit) == len(pats)-1 }
	b.Run("prefilter", func(b *testing.B) { benchMatch(b, lines, set) })
	b.Run("no-prefilter", func(b *testing.B) {
		s.noFilter = true
		defer func() { s.noFilter = false }()
		benchMatch(b, lines, set)
	})
	b.Run("regexp", func(b *testing.B) {
		benchMatch(b, lines, func(line []byte, emit func(Capture)) bool {
			for i, p := range pats {
				if p.matchRegexp(line, emit) {
					return i == len(pats)-1
				}
			}
			return false
		})
	})
}
