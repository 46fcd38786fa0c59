package grok

import (
	"bytes"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/sluicelab/sluice/internal/rare"
)

// machine is the state of one fast match. Positions handed around are
// always rune boundaries of the line as Go's regexp decodes it (an invalid
// byte is one rune), since that is where Go's regexp can be.
type machine struct {
	p       *prog
	line    []byte
	caps    []int
	trail   []int // (slot, old value) pairs to undo on backtracking
	steps   int   // steps left before the memo is switched on, then before giving up
	memo    bool  // visited holds (pc, pos) states that failed
	visited []uint64
	ends    []int // candidate ends of IPv6 tokens, used as a stack
	aborted bool
	start   int // the match, for tests
	end     int
}

// Work per line is bounded in two stages. Sane expressions need a few
// steps per byte (a step is a try or a choice) and run without
// bookkeeping. Past stepBudget the machine starts recording failed
// (pc, pos) states in a bitmap, as Go's own backtracker does: the rest of a
// match depends only on (pc, pos), so a state that failed once fails again,
// and exponential backtracking becomes polynomial. Past memoBudget, or when
// the bitmap would exceed memoMaxBits, the line goes to Go's regexp, which
// is linear; a pathological expression so costs a constant factor, never a
// hang.
func stepBudget(n int) int { return 256 + 16*n }

const memoMaxBits = 1 << 21

func (m *machine) memoBudget() int { return 8 * len(m.p.insts) * (len(m.line) + 1) }

var machines = sync.Pool{New: func() any { return new(machine) }}

func getMachine(p *prog, line []byte) *machine {
	m := machines.Get().(*machine)
	m.init(p, line)
	return m
}

func putMachine(m *machine) {
	m.p, m.line = nil, nil
	machines.Put(m)
}

// init prepares m for a match of p on line.
func (m *machine) init(p *prog, line []byte) {
	m.p, m.line = p, line
	if n := 2 * p.ncap; cap(m.caps) < n {
		m.caps = make([]int, n)
	} else {
		m.caps = m.caps[:n]
	}
	m.steps = stepBudget(len(line))
	m.memo = false
	m.aborted = false
}

// exec reports whether the line matches, leaving the captures in m.caps,
// and whether that answer is final; false means the budget ran out.
func (m *machine) exec() (matched, done bool) {
	p, line := m.p, m.line
	if p.anchored {
		if !p.nullable && (len(line) == 0 || !p.first.has(line[0])) {
			return false, true
		}
		m.reset()
		m.start = 0
		if m.try(0, 0) {
			return true, true
		}
		return false, !m.aborted
	}
	for s := 0; s <= len(line); {
		if !p.nullable {
			if len(p.firstLit) > 0 {
				i := bytes.Index(line[s:], p.firstLit)
				if i < 0 {
					return false, true
				}
				s += i
			} else {
				// Stops only on bytes a match can start with: ASCII bytes
				// and lead bytes are rune boundaries; continuation bytes
				// are in the set only with every other byte >= 0x80, so
				// the first one reached from a boundary is one too.
				for s < len(line) && !p.first.has(line[s]) {
					s++
				}
				if s == len(line) {
					return false, true
				}
			}
		}
		m.reset()
		m.start = s
		if m.try(0, s) {
			return true, true
		}
		if m.aborted {
			return false, false
		}
		if s == len(line) {
			break
		}
		s += runeWidth(line, s)
	}
	return false, true
}

func (m *machine) reset() {
	for i := range m.caps {
		m.caps[i] = -1
	}
	m.trail = m.trail[:0]
	m.ends = m.ends[:0]
}

func (m *machine) undo(mark int) {
	for i := len(m.trail) - 2; i >= mark; i -= 2 {
		m.caps[m.trail[i]] = m.trail[i+1]
	}
	m.trail = m.trail[:mark]
}

// try runs the program from pc at pos and reports whether it reaches
// opMatch. It recurses at choice points only.
func (m *machine) try(pc, pos int) bool {
	insts, line := m.p.insts, m.line
	if m.memo && m.seen(pc, pos) {
		return false
	}
	// Steps are counted per try and per choice, not per instruction:
	// between two choices the machine runs straight through the program,
	// so this still bounds the work.
	m.steps--
	if m.steps < 0 && !m.exhausted() {
		return false
	}
	for {
		in := &insts[pc]
		switch in.op {
		case opMatch:
			m.end = pos
			return true
		case opFail:
			return false
		case opLit:
			if len(in.lit) == 1 { // "-", ":", " ": no memequal call
				if pos >= len(line) || line[pos] != in.lit[0] {
					return false
				}
				pos++
				pc++
				continue
			}
			if len(line)-pos < len(in.lit) || string(line[pos:pos+len(in.lit)]) != in.lit {
				return false
			}
			pos += len(in.lit)
			pc++
		case opLitFold:
			if len(line)-pos < len(in.lit) {
				return false
			}
			for i := 0; i < len(in.lit); i++ {
				c, l := line[pos+i], in.lit[i]
				if c != l && !(c|0x20 == l && l >= 'a' && l <= 'z') {
					return false
				}
			}
			pos += len(in.lit)
			pc++
		case opSave:
			m.trail = append(m.trail, int(in.x), m.caps[in.x])
			m.caps[in.x] = pos
			pc++
		case opJmp:
			pc = int(in.x)
		case opSplit:
			if m.canStart(int(in.x), pos) {
				mark := len(m.trail)
				if m.try(int(in.x), pos) {
					return true
				}
				if m.aborted {
					return false
				}
				m.undo(mark)
			}
			pc = int(in.y)
			m.steps--
			if m.steps < 0 && !m.exhausted() {
				return false
			}
			if m.memo && m.seen(pc, pos) {
				return false
			}
		case opBeginText:
			if pos != 0 {
				return false
			}
			pc++
		case opEndText:
			if pos != len(line) {
				return false
			}
			pc++
		case opBeginLine:
			if pos != 0 && line[pos-1] != '\n' {
				return false
			}
			pc++
		case opEndLine:
			if pos != len(line) && line[pos] != '\n' {
				return false
			}
			pc++
		case opWordB, opNoWordB:
			b := (pos > 0 && isWordByte(line[pos-1])) != (pos < len(line) && isWordByte(line[pos]))
			if b != (in.op == opWordB) {
				return false
			}
			pc++
		case opIPv4:
			e := ipv4At(line, pos)
			if e < 0 {
				return false
			}
			pos = e
			pc++
		case opQuoted, opMAC, opWord:
			var e int
			switch in.op {
			case opQuoted:
				e = quotedAt(line, pos)
			case opMAC:
				e = macAt(line, pos)
			default:
				e = wordAt(line, pos)
			}
			if e < 0 {
				return false
			}
			pos = e
			pc++
		case opIPv6:
			if !ipv6Possible(line, pos) {
				return false
			}
			base := len(m.ends)
			m.ends = ipv6Ends(line, pos, m.ends)
			n := len(m.ends)
			if n == base {
				return false
			}
			for i := base; i < n-1; i++ {
				if m.cand(pc, m.ends[i]) {
					return true
				}
				if m.aborted {
					return false
				}
			}
			pos = m.ends[n-1]
			m.ends = m.ends[:base]
			pc++
		case opRun:
			switch e := m.run(in, pc, pos); e {
			case runFail:
				return false
			case runMatched:
				return true
			default:
				pos = e
				pc++
			}
		default:
			panic("grok: bad opcode")
		}
	}
}

// canStart is a cheap necessary condition for the program to go on from
// pc at pos, checked before recursing into the first branch of a split:
// most alternatives and optional groups fail on their first byte.
func (m *machine) canStart(pc, pos int) bool {
	line := m.line
	for n := 0; n < 4; n++ {
		in := &m.p.insts[pc]
		switch in.op {
		case opSave:
			pc++
			continue
		case opJmp:
			pc = int(in.x)
			continue
		case opLit:
			return pos < len(line) && line[pos] == in.lit[0]
		case opRun:
			if in.min == 0 {
				return true
			}
			return pos < len(line) && (in.set.has(line[pos]) || in.nonASCII && line[pos] >= utf8.RuneSelf)
		case opIPv4:
			return pos < len(line) && isDigit(line[pos])
		case opIPv6:
			return ipv6Possible(line, pos)
		case opQuoted:
			return pos < len(line) && (line[pos] == '"' || line[pos] == '\'' || line[pos] == '`')
		case opMAC:
			return pos < len(line) && isHex(line[pos])
		case opWord:
			return pos < len(line) && isWordByte(line[pos])
		}
		return true
	}
	return true
}

// Results of run besides a position to continue at.
const (
	runFail    = -1
	runMatched = -2
)

// run matches a repetition of one character class at pos. It tries the
// rest of the program after each candidate end in RE2's order, except the
// last candidate, which it returns for try to continue with (no recursion
// when there is a single candidate, the common case).
func (m *machine) run(in *inst, pc, pos int) int {
	line := m.line
	if in.nonASCII && in.max == 1 {
		// One optional rune.
		one := runFail
		if pos < len(line) && (line[pos] >= utf8.RuneSelf || in.set.has(line[pos])) {
			one = pos + runeWidth(line, pos)
		}
		if in.min == 1 {
			return one
		}
		first, second := one, pos
		if !in.greedy {
			first, second = pos, one
		}
		if first < 0 {
			return second
		}
		if second < 0 {
			return first
		}
		return m.try2(pc, first, second)
	}

	if in.fixed {
		// \d{4}, \d\d: one candidate end; the hint and follow checks
		// only prune candidates, and the rest of the program checks
		// what comes next anyway.
		end := pos + int(in.min)
		if end > len(line) {
			return runFail
		}
		for i := pos; i < end; i++ {
			if !in.set.has(line[i]) {
				return runFail
			}
		}
		return end
	}

	// The extent of the run: [pos, end).
	end := pos
	multi := false // the run holds bytes >= 0x80: skip mid-rune ends
	switch {
	case in.dot:
		if i := bytes.IndexByte(line[pos:], '\n'); i >= 0 {
			end = pos + i
		} else {
			end = len(line)
		}
		multi = true
	case in.nonASCII:
		for end < len(line) {
			c := line[end]
			if c >= utf8.RuneSelf {
				multi = true
			} else if !in.set.has(c) {
				break
			}
			end++
		}
	default:
		limit := len(line)
		if in.max >= 0 && pos+int(in.max) < limit {
			limit = pos + int(in.max)
		}
		set := in.set
		for end < limit && set.has(line[end]) {
			end++
		}
	}
	lo := pos + int(in.min)
	if in.nonASCII && in.min == 1 && pos < len(line) {
		lo = pos + runeWidth(line, pos) // min is 0 or 1 for these
	}
	if end < lo {
		return runFail
	}

	switch h := in.hint; {
	case h == hintEnd:
		if end != len(line) {
			return runFail
		}
		return end
	case h >= 0:
		// Only ends where the following literal starts; such a byte is
		// never a continuation byte, so it is a rune boundary.
		c := byte(h)
		top := end + 1
		if top > len(line) {
			top = len(line)
		}
		if lo >= top {
			return runFail
		}
		if in.greedy {
			j := bytes.LastIndexByte(line[lo:top], c)
			for j >= 0 {
				e := lo + j
				j = bytes.LastIndexByte(line[lo:e], c)
				if j < 0 {
					return e
				}
				if m.cand(pc, e) {
					return runMatched
				}
				if m.aborted {
					return runFail
				}
			}
			return runFail
		}
		if lit := in.hintLit; lit != "" {
			return m.runLit(in, pc, line, lo, top)
		}
		j := bytes.IndexByte(line[lo:top], c)
		for j >= 0 {
			e := lo + j
			j = bytes.IndexByte(line[e+1:top], c)
			if j < 0 {
				return e
			}
			j += e + 1 - lo
			if m.cand(pc, e) {
				return runMatched
			}
			if m.aborted {
				return runFail
			}
		}
		return runFail
	}
	f := in.follow
	if in.greedy {
		for e := end; e > lo; e-- {
			if multi && midRune(line, e) || f != nil && e < len(line) && !f.has(line[e]) {
				continue
			}
			if m.cand(pc, e) {
				return runMatched
			}
			if m.aborted {
				return runFail
			}
		}
		return lo
	}
	if in.hintLit != "" {
		// Only ends where the one literal that can follow starts, and
		// the end of the run (returned for the caller to try last).
		s := unsafe.String(unsafe.SliceData(line), len(line))
		for e := lo; e < end; e++ {
			k := rare.Index(s[e:], in.hintLit, in.hintOff)
			if k < 0 || e+k >= end {
				break
			}
			e += k
			if m.cand(pc, e) {
				return runMatched
			}
			if m.aborted {
				return runFail
			}
		}
		return end
	}
	for e := lo; e < end; e++ {
		if multi && midRune(line, e) || f != nil && !f.has(line[e]) {
			continue
		}
		if m.cand(pc, e) {
			return runMatched
		}
		if m.aborted {
			return runFail
		}
	}
	return end
}

// runLit is the lazy run's search for ends in [lo, top) where the
// literal that must follow it starts (see inst.hintLit): like the
// one-byte hint, it returns the last candidate for the caller to continue
// with, runMatched or runFail.
func (m *machine) runLit(in *inst, pc int, line []byte, lo, top int) int {
	lit := in.hintLit
	// Candidates start before top; the literal may run past it.
	lim := min(top+len(lit)-1, len(line))
	s := unsafe.String(unsafe.SliceData(line), lim)
	next := func(from int) int {
		if from >= top {
			return -1
		}
		k := rare.Index(s[from:], lit, in.hintOff)
		if k < 0 {
			return -1
		}
		return from + k
	}
	e := next(lo)
	for e >= 0 {
		n := next(e + 1)
		if n < 0 {
			return e
		}
		if m.cand(pc, e) {
			return runMatched
		}
		if m.aborted {
			return runFail
		}
		e = n
	}
	return runFail
}

// try2 tries the rest of the program after a run ending at a, then
// returns b to continue with.
func (m *machine) try2(pc, a, b int) int {
	if m.cand(pc, a) {
		return runMatched
	}
	if m.aborted {
		return runFail
	}
	return b
}

// exhausted is called when the step budget runs out: the first time it
// switches the memo on and grants memoBudget more steps; the second time
// it gives up (aborted) and reports false.
func (m *machine) exhausted() bool {
	if m.memo || m.aborted {
		m.aborted = true
		return false
	}
	bits := len(m.p.insts) * (len(m.line) + 1)
	if bits > memoMaxBits {
		m.aborted = true
		return false
	}
	words := (bits + 63) / 64
	if cap(m.visited) < words {
		m.visited = make([]uint64, words)
	} else {
		m.visited = m.visited[:words]
		clear(m.visited)
	}
	m.memo = true
	m.steps = m.memoBudget()
	return true
}

// seen marks (pc, pos) visited and reports whether it already was.
func (m *machine) seen(pc, pos int) bool {
	i := pos*len(m.p.insts) + pc
	w, b := i/64, uint64(1)<<(i%64)
	if m.visited[w]&b != 0 {
		return true
	}
	m.visited[w] |= b
	return false
}

// cand tries the rest of the program after a run ending at e, undoing
// its captures when that fails.
func (m *machine) cand(pc, e int) bool {
	mark := len(m.trail)
	if m.try(pc+1, e) {
		return true
	}
	m.undo(mark)
	return false
}

// runeWidth is the width of the rune at line[i] as Go's regexp steps:
// utf8.DecodeRune, an invalid byte being one rune.
func runeWidth(line []byte, i int) int {
	if line[i] < utf8.RuneSelf {
		return 1
	}
	_, w := utf8.DecodeRune(line[i:])
	return w
}

// midRune reports whether e falls inside a multi-byte rune. Every byte that
// is not a continuation byte starts a rune (no valid sequence contains
// one), so decoding from the nearest such byte before e decides it.
func midRune(line []byte, e int) bool {
	if e >= len(line) || utf8.RuneStart(line[e]) {
		return false
	}
	for k := e - 1; k >= 0 && k >= e-(utf8.UTFMax-1); k-- {
		if utf8.RuneStart(line[k]) {
			_, w := utf8.DecodeRune(line[k:])
			return k+w > e
		}
	}
	return false
}
