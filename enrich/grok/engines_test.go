package grok

import (
	"fmt"
	"slices"
	"testing"
)

// engines runs a test with the fast matcher alone (no fallback) and with
// Go's regexp alone.
var engines = []struct {
	name  string
	match func(p *Pattern, line []byte, emit func(Capture)) bool
}{
	{"fast", func(p *Pattern, line []byte, emit func(Capture)) bool {
		if p.prog == nil {
			return p.matchRegexp(line, emit)
		}
		m := getMachine(p.prog, line)
		defer putMachine(m)
		ok, done := m.exec()
		if !done {
			panic(fmt.Sprintf("fast matcher gave up on %q", line))
		}
		if ok {
			for k := range p.caps {
				p.emit(line, k, m.caps[2*k], m.caps[2*k+1], emit)
			}
		}
		return ok
	}},
	{"regexp", (*Pattern).matchRegexp},
}

// result is what an engine found: nil for no match, else the match span
// followed by start, end of each capture.
func fastResult(p *Pattern, line []byte) (res []int, done bool) {
	m := getMachine(p.prog, line)
	defer putMachine(m)
	ok, done := m.exec()
	if !done || !ok {
		return nil, done
	}
	return append([]int{m.start, m.end}, m.caps...), true
}

func regexpResult(p *Pattern, line []byte) []int {
	loc := p.re.FindSubmatchIndex(line)
	if loc == nil {
		return nil
	}
	res := []int{loc[0], loc[1]}
	for k := range p.caps {
		g := p.reSlot[k]
		res = append(res, loc[2*g], loc[2*g+1])
	}
	return res
}

// diffEngines fails when the fast matcher and Go's regexp disagree on line.
// It reports whether the fast matcher gave a final answer.
func diffEngines(t testing.TB, p *Pattern, line []byte) bool {
	t.Helper()
	if p.prog == nil {
		return false
	}
	fast, done := fastResult(p, line)
	if !done {
		return false
	}
	want := regexpResult(p, line)
	if !slices.Equal(fast, want) {
		t.Fatalf("pattern %q\nline %q\nfast   %v\nregexp %v", p.expr, line, fast, want)
	}
	return true
}
