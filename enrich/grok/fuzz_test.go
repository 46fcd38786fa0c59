package grok

import (
	"sync"
	"testing"
)

var (
	fuzzOnce sync.Once
	fuzzPats []*Pattern
	fuzzSets []*Set // windows of 16 patterns
	fuzzLib  *Library
)

func fuzzSetup(t testing.TB) {
	fuzzOnce.Do(func() {
		fuzzLib = baseLibrary(t)
		fuzzPats = diffPatterns(t)
		for i := 0; i+16 <= len(fuzzPats); i += 8 {
			fuzzSets = append(fuzzSets, NewSet(fuzzPats[i:i+16]...))
		}
	})
}

// checkLine runs every property on one pattern and line: the fast matcher
// and Go's regexp agree, the prefilter passes every line the pattern
// matches, and Match (with prefilter and fallback) gives the same answer.
func checkLine(t testing.TB, p *Pattern, line []byte) {
	t.Helper()
	diffEngines(t, p, line)
	want := regexpResult(p, line) != nil
	if want && !p.filter.pass(line) {
		t.Fatalf("pattern %q matches %q but its prefilter (prefix %q, required %q) rejects it", p.expr, line, p.filter.prefix, p.filter.required)
	}
	if got := p.Match(line, func(Capture) {}); got != want {
		t.Fatalf("pattern %q: Match(%q) = %v, regexp says %v", p.expr, line, got, want)
	}
}

// checkSet compares Set.Match with trying each pattern in turn.
func checkSet(t testing.TB, s *Set, line []byte) {
	t.Helper()
	want := -1
	for i, p := range s.pats {
		if regexpResult(p, line) != nil {
			want = i
			break
		}
	}
	if got := s.Match(line, func(Capture) {}); got != want {
		t.Fatalf("Set.Match(%q) = %d, want %d (%q)", line, got, want, s.pats[max(want, 0)].expr)
	}
}

// FuzzMatch runs a pattern of the differential corpus (selected by which)
// and a 16-pattern Set on random lines: the fast matcher must agree with
// Go's regexp on the match and every capture, and no prefilter may skip a
// pattern that matches.
func FuzzMatch(f *testing.F) {
	for i, l := range sampleLines {
		f.Add([]byte(l), uint16(i))
	}
	for name, s := range baseSamples {
		for _, l := range s.pos {
			f.Add([]byte("x "+l+" y"), uint16(len(name)))
		}
	}
	f.Fuzz(func(t *testing.T, line []byte, which uint16) {
		fuzzSetup(t)
		p := fuzzPats[int(which)%len(fuzzPats)]
		checkLine(t, p, line)
		checkSet(t, fuzzSets[int(which)%len(fuzzSets)], line)
	})
}

// FuzzCompile compiles arbitrary expressions against the base library and,
// when they compile, runs the same checks on a line: the fast matcher's
// compiler must reject what it cannot reproduce exactly.
func FuzzCompile(f *testing.F) {
	for i, e := range diffExprs {
		f.Add(e, []byte(sampleLines[i%len(sampleLines)]))
	}
	f.Add(`^%{SYSLOGBASE} %{GREEDYDATA:msg}`, []byte("Nov 22 08:00:12 web02 sshd[44454]: Failed"))
	f.Add(`(?<x>a|ab)(?<y>c|bcd)(?<z>d*)`, []byte("abcd"))
	f.Add(`%{UNKNOWN}`, []byte("x"))
	// Runs followed by optional groups, alternations and other runs, where
	// the run only stops before the bytes that can follow it.
	f.Add(`^a (?<x>.*?)(?: r=(?<y>.*))?$`, []byte("a b c r=d e r=f"))
	f.Add(`flags (?<f>.*?) +on (?<i>\S+?)\.?$`, []byte("flags SYN ACK  on outside."))
	f.Add(`(?<x>\S+?)(?:\.|!|(?i)end)?$`, []byte("abc.END"))
	f.Add(`(?<x>[a-z]*)(?:(?i)b|c*)(?<y>\d+)`, []byte("aaBbc12"))
	f.Add(`(?<x>.*)(?: (?<y>é+))?$`, []byte("a b éé"))
	f.Fuzz(func(t *testing.T, expr string, line []byte) {
		fuzzSetup(t)
		if len(expr) > 300 || len(line) > 4096 {
			return
		}
		p, err := fuzzLib.Compile(expr)
		if err != nil {
			return
		}
		checkLine(t, p, line)
	})
}

// TestPrefilterNeverSkips runs the prefilter and Set properties over the
// differential corpus and lines.
func TestPrefilterNeverSkips(t *testing.T) {
	fuzzSetup(t)
	n := 500
	if testing.Short() || raceEnabled {
		n = 50
	}
	lines := diffLines(n)
	for _, l := range lines {
		for _, p := range fuzzPats {
			if regexpResult(p, l) != nil && !p.filter.pass(l) {
				t.Fatalf("pattern %q matches %q but its prefilter rejects it", p.expr, l)
			}
		}
		for _, s := range fuzzSets {
			checkSet(t, s, l)
		}
	}
}
