package grok

import (
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluicelab/sluice/internal/rare"
)

// The fast matcher is a backtracking interpreter over RE2's parse tree of
// the expanded expression; the package doc says why that gives Go's
// regexp's answers and what makes it fast. compileProg refuses (with an
// unsupportedError) every construct whose semantics it does not reproduce
// exactly; those patterns always use Go's regexp.

type opcode uint8

const (
	opMatch opcode = iota
	opFail
	opLit       // lit
	opLitFold   // lit, lower case; ASCII letters match either case
	opRun       // set/nonASCII, min, max, greedy, hint
	opSplit     // try x, then y
	opJmp       // x
	opSave      // x = slot
	opBeginText // \A, ^ without (?m)
	opEndText   // \z, $ without (?m)
	opBeginLine // (?m)^
	opEndLine   // (?m)$
	opWordB     // \b
	opNoWordB   // \B
	opIPv4      // tokIPv4
	opIPv6      // tokIPv6
	opQuoted    // tokQuoted
	opMAC       // tokMAC
	opWord      // tokWord
)

// hint values of opRun besides a byte.
const (
	hintNone = -1
	hintEnd  = -2 // only the end of the line can follow
)

type inst struct {
	op       opcode
	greedy   bool
	nonASCII bool // run: the class holds every rune >= 0x80 (and U+FFFD)
	dot      bool // run: the class is . (all but \n), so memchr finds the end
	fixed    bool // run: an ASCII class repeated exactly min (= max > 0) times
	hint     int16
	// hintLit is the whole literal of the hint when it is longer than a
	// byte: a lazy run considers only the ends where it starts, found by
	// rare.Index from its byte at hintOff (" src-xlated ip=" by its "x",
	// not at every space).
	hintLit  string
	hintOff  int
	x, y     int32
	min, max int32 // run bounds in runes; max -1: unbounded
	lit      string
	set      *byteSet
	// follow (runs without a hint): the bytes the rest of the program can
	// start with after the run; a run ending before any other byte cannot
	// lead to a match, so it is not tried. nil: not known (an assertion,
	// a token or the match itself can follow). The end of the line is
	// always tried.
	follow *byteSet
}

type prog struct {
	insts    []inst
	ncap     int  // named captures; slots 2k, 2k+1
	anchored bool // starts with \A: only position 0 can match
	nullable bool // can match the empty string
	first    byteSet
	firstLit []byte // every match starts with this literal
}

// maxInsts bounds the program size; larger expressions use Go's regexp.
const maxInsts = 20000

type compiler struct {
	insts  []inst
	tokens []token
}

type unsupportedError struct{ what string }

func (e unsupportedError) Error() string { return "fast matcher: " + e.what }

func unsupported(format string, args ...any) error {
	return unsupportedError{fmt.Sprintf(format, args...)}
}

// compileProg compiles the marked tree; an error says why the fast matcher
// cannot run it.
func compileProg(re *syntax.Regexp, tokens []token, ncap int) (*prog, error) {
	c := &compiler{tokens: tokens}
	if err := c.compile(re); err != nil {
		return nil, err
	}
	c.emit(inst{op: opMatch})
	if len(c.insts) > maxInsts {
		return nil, unsupported("program of %d instructions", len(c.insts))
	}
	c.setHints()
	p := &prog{insts: c.insts, ncap: ncap}
	p.anchored = startsWith(re, syntax.OpBeginText)
	p.first, p.nullable = firstSet(re)
	p.firstLit = leadingLiteral(re)
	return p, nil
}

func (c *compiler) emit(i inst) int {
	c.insts = append(c.insts, i)
	return len(c.insts) - 1
}

func (c *compiler) compile(re *syntax.Regexp) error {
	if len(c.insts) > maxInsts {
		return unsupported("program too large")
	}
	switch re.Op {
	case syntax.OpNoMatch:
		c.emit(inst{op: opFail})
	case syntax.OpEmptyMatch:
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			// [Jj] parses as a case-folded J. Letters whose fold orbit is
			// ASCII compare with |0x20; k and s also fold to U+212A and
			// U+017F, which only Go's regexp handles.
			var b []byte
			for _, r := range re.Rune {
				if !asciiFold(r) {
					return unsupported("case-insensitive literal %q", string(re.Rune))
				}
				b = append(b, byte(unicode.ToLower(r)))
			}
			c.emit(inst{op: opLitFold, lit: string(b)})
			return nil
		}
		var b []byte
		for _, r := range re.Rune {
			if r == utf8.RuneError {
				return unsupported("literal U+FFFD")
			}
			b = utf8.AppendRune(b, r)
		}
		c.emit(inst{op: opLit, lit: string(b)})
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return c.run(re, 1, 1, true)
	case syntax.OpBeginText:
		c.emit(inst{op: opBeginText})
	case syntax.OpEndText:
		c.emit(inst{op: opEndText})
	case syntax.OpBeginLine:
		c.emit(inst{op: opBeginLine})
	case syntax.OpEndLine:
		c.emit(inst{op: opEndLine})
	case syntax.OpWordBoundary:
		c.emit(inst{op: opWordB})
	case syntax.OpNoWordBoundary:
		c.emit(inst{op: opNoWordB})
	case syntax.OpCapture:
		switch {
		case strings.HasPrefix(re.Name, "_c"):
			k, err := strconv.Atoi(re.Name[2:])
			if err != nil {
				return unsupported("capture %s", re.Name)
			}
			c.emit(inst{op: opSave, x: int32(2 * k)})
			if err := c.compile(re.Sub[0]); err != nil {
				return err
			}
			c.emit(inst{op: opSave, x: int32(2*k + 1)})
		case strings.HasPrefix(re.Name, "_t"):
			k, err := strconv.Atoi(re.Name[2:])
			if err != nil || k >= len(c.tokens) {
				return unsupported("token %s", re.Name)
			}
			switch c.tokens[k] {
			case tokIPv4:
				c.emit(inst{op: opIPv4})
			case tokIPv6:
				c.emit(inst{op: opIPv6})
			case tokQuoted:
				c.emit(inst{op: opQuoted})
			case tokMAC:
				c.emit(inst{op: opMAC})
			case tokWord:
				c.emit(inst{op: opWord})
			default:
				return c.compile(re.Sub[0])
			}
		default:
			return c.compile(re.Sub[0])
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if err := c.compile(sub); err != nil {
				return err
			}
		}
	case syntax.OpAlternate:
		var jmps []int
		for i, sub := range re.Sub {
			if i == len(re.Sub)-1 {
				if err := c.compile(sub); err != nil {
					return err
				}
				break
			}
			split := c.emit(inst{op: opSplit})
			c.insts[split].x = int32(split + 1)
			if err := c.compile(sub); err != nil {
				return err
			}
			jmps = append(jmps, c.emit(inst{op: opJmp}))
			c.insts[split].y = int32(len(c.insts))
		}
		for _, j := range jmps {
			c.insts[j].x = int32(len(c.insts))
		}
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		return c.repeat(re)
	default:
		return unsupported("regexp operator %v", re.Op)
	}
	return nil
}

func isSingleChar(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	case syntax.OpLiteral:
		return len(re.Rune) == 1 && re.Flags&syntax.FoldCase == 0 && re.Rune[0] < utf8.RuneSelf
	}
	return false
}

func (c *compiler) repeat(re *syntax.Regexp) error {
	greedy := re.Flags&syntax.NonGreedy == 0
	sub := re.Sub[0]
	min, max := 0, -1
	switch re.Op {
	case syntax.OpPlus:
		min = 1
	case syntax.OpQuest:
		max = 1
	case syntax.OpRepeat:
		min, max = re.Min, re.Max
	}
	// x** is x*, as RE2 simplifies it (same for + and ?).
	if re.Op != syntax.OpRepeat && sub.Op == re.Op && sub.Flags&syntax.NonGreedy == re.Flags&syntax.NonGreedy {
		return c.compile(sub)
	}
	if isSingleChar(sub) {
		set, nonASCII, err := classOf(sub)
		if err != nil {
			return err
		}
		if !nonASCII || (min <= 1 && (max == -1 || max == 1)) {
			return c.emitRun(set, nonASCII, min, max, greedy)
		}
		// Counted repetitions of a class with non-ASCII runes count runes:
		// expand them into single-rune steps as RE2's simplifier does.
	}
	if re.Op == syntax.OpRepeat {
		if re.Min == 0 && re.Max == 0 {
			return nil
		}
		simple := re.Simplify()
		if simple.Op == syntax.OpRepeat {
			return unsupported("repetition %v", re)
		}
		return c.compile(simple)
	}
	if re.Op != syntax.OpQuest && minLen(sub) == 0 {
		return unsupported("repetition of an expression that can match the empty string")
	}
	switch re.Op {
	case syntax.OpQuest:
		split := c.emit(inst{op: opSplit})
		if err := c.compile(sub); err != nil {
			return err
		}
		c.branch(split, split+1, len(c.insts), greedy)
	case syntax.OpStar:
		split := c.emit(inst{op: opSplit})
		if err := c.compile(sub); err != nil {
			return err
		}
		c.emit(inst{op: opJmp, x: int32(split)})
		c.branch(split, split+1, len(c.insts), greedy)
	case syntax.OpPlus:
		start := len(c.insts)
		if err := c.compile(sub); err != nil {
			return err
		}
		split := c.emit(inst{op: opSplit})
		c.branch(split, start, len(c.insts), greedy)
	}
	return nil
}

// branch makes split try more (another iteration) first when greedy, out
// first when not.
func (c *compiler) branch(split, more, out int, greedy bool) {
	if greedy {
		c.insts[split].x, c.insts[split].y = int32(more), int32(out)
	} else {
		c.insts[split].x, c.insts[split].y = int32(out), int32(more)
	}
}

func (c *compiler) run(re *syntax.Regexp, min, max int, greedy bool) error {
	set, nonASCII, err := classOf(re)
	if err != nil {
		return err
	}
	return c.emitRun(set, nonASCII, min, max, greedy)
}

func (c *compiler) emitRun(set byteSet, nonASCII bool, min, max int, greedy bool) error {
	if min == max {
		greedy = true // no choice to make
	}
	var dotSet byteSet
	dotSet.addRange(0, 0x7f)
	dotSet.remove('\n')
	dot := nonASCII && set == dotSet
	fixed := min == max && min > 0 && !nonASCII
	c.emit(inst{op: opRun, set: &set, nonASCII: nonASCII, dot: dot, min: int32(min), max: int32(max), greedy: greedy, hint: hintNone, fixed: fixed})
	return nil
}

// classOf returns the ASCII members of a single-character expression and
// whether it holds all runes >= 0x80. Classes holding some non-ASCII runes
// but not all are unsupported.
func classOf(re *syntax.Regexp) (set byteSet, nonASCII bool, err error) {
	switch re.Op {
	case syntax.OpAnyChar:
		set.addRange(0, 0x7f)
		return set, true, nil
	case syntax.OpAnyCharNotNL:
		set.addRange(0, 0x7f)
		set.remove('\n')
		return set, true, nil
	case syntax.OpLiteral:
		set.add(byte(re.Rune[0]))
		return set, false, nil
	}
	// re.Rune holds sorted, non-overlapping ranges.
	var high []rune
	for i := 0; i+1 < len(re.Rune); i += 2 {
		lo, hi := re.Rune[i], re.Rune[i+1]
		if lo < utf8.RuneSelf {
			top := hi
			if top >= utf8.RuneSelf {
				top = utf8.RuneSelf - 1
			}
			set.addRange(byte(lo), byte(top))
		}
		if hi >= utf8.RuneSelf {
			if lo < utf8.RuneSelf {
				lo = utf8.RuneSelf
			}
			high = append(high, lo, hi)
		}
	}
	switch {
	case len(high) == 0:
		return set, false, nil
	case len(high) == 2 && high[0] == utf8.RuneSelf && high[1] == utf8.MaxRune:
		return set, true, nil
	}
	return set, false, unsupported("character class with some non-ASCII runes %v", re)
}

// setHints records, for every run, the byte that must follow it when the
// next instruction to consume input is a literal, or that only the end of
// the line may follow; the run then considers only those end positions.
func (c *compiler) setHints() {
	for pc := range c.insts {
		if c.insts[pc].op != opRun {
			continue
		}
		next := pc + 1
		for steps := 0; steps < 64; steps++ {
			switch c.insts[next].op {
			case opSave:
				next++
				continue
			case opJmp:
				next = int(c.insts[next].x)
				continue
			case opLit:
				c.insts[pc].hint = int16(c.insts[next].lit[0])
				if l := c.insts[next].lit; len(l) > 1 {
					c.insts[pc].hintLit, c.insts[pc].hintOff = l, rare.Byte(l)
				}
			case opWordB, opNoWordB, opBeginLine, opEndLine, opBeginText:
				// Zero-width: the byte at the end is still the next one.
				next++
				continue
			case opEndText:
				c.insts[pc].hint = hintEnd
			}
			break
		}
		if c.insts[pc].hint == hintNone {
			var f byteSet
			budget := 64
			if c.follow(pc+1, &f, &budget, map[int]bool{}) {
				c.insts[pc].follow = &f
			}
			var lit string
			budget = 64
			if c.followLit(pc+1, &lit, &budget, map[int]bool{}) && len(lit) > 1 {
				c.insts[pc].hintLit, c.insts[pc].hintOff = lit, rare.Byte(lit)
			}
		}
	}
}

// follow adds to f the bytes the program from pc can consume first, when
// not at the end of the line. It reports false when that is not known:
// a zero-width assertion (other than the end of the text), a token, the
// match itself (which needs no byte), or more than budget instructions to
// look through. A split adds both branches; seen stops loops.
func (c *compiler) follow(pc int, f *byteSet, budget *int, seen map[int]bool) bool {
	for {
		if *budget--; *budget < 0 || pc >= len(c.insts) {
			return false
		}
		if seen[pc] {
			return true // already added from this pc
		}
		seen[pc] = true
		in := &c.insts[pc]
		switch in.op {
		case opSave:
			pc++
		case opJmp:
			pc = int(in.x)
		case opSplit:
			if !c.follow(int(in.x), f, budget, seen) {
				return false
			}
			pc = int(in.y)
		case opLit:
			f.add(in.lit[0])
			return true
		case opLitFold:
			l := in.lit[0]
			f.add(l)
			if l >= 'a' && l <= 'z' {
				f.add(l - 'a' + 'A')
			}
			return true
		case opEndText, opFail:
			return true // nothing before the end of the line
		case opRun:
			f.union(*in.set)
			if in.nonASCII {
				f.addRange(utf8.RuneSelf, 0xff)
			}
			if in.min > 0 {
				return true
			}
			pc++
		default:
			return false
		}
	}
}

// followLit reports whether every way on from pc either consumes lit
// first (one literal, the same on every branch: " reason=" of
// `.*?(?: reason=(.*))?$`) or ends the match at the end of the line, and
// sets lit. Anything else (another literal, a run, an assertion, a token,
// the match itself, more than budget instructions) reports false.
func (c *compiler) followLit(pc int, lit *string, budget *int, seen map[int]bool) bool {
	for {
		if *budget--; *budget < 0 || pc >= len(c.insts) {
			return false
		}
		if seen[pc] {
			return true
		}
		seen[pc] = true
		in := &c.insts[pc]
		switch in.op {
		case opSave:
			pc++
		case opJmp:
			pc = int(in.x)
		case opSplit:
			if !c.followLit(int(in.x), lit, budget, seen) {
				return false
			}
			pc = int(in.y)
		case opLit:
			if *lit != "" && *lit != in.lit {
				return false
			}
			*lit = in.lit
			return true
		case opEndText, opFail:
			return true
		default:
			return false
		}
	}
}

// minLen returns the length of the shortest string re matches (0 when it
// can match the empty string), capped to avoid overflow.
func minLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minLen(re.Sub[0])
	case syntax.OpRepeat:
		return min(re.Min*minLen(re.Sub[0]), 1<<20)
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n = min(n+minLen(s), 1<<20)
		}
		return n
	case syntax.OpAlternate:
		n := 1 << 20
		for _, s := range re.Sub {
			n = min(n, minLen(s))
		}
		return n
	case syntax.OpNoMatch:
		return 1 << 20
	}
	return 0
}

// startsWith reports whether every match of re begins with an op node
// (looking through captures and the first element of concatenations).
func startsWith(re *syntax.Regexp, op syntax.Op) bool {
	for {
		switch re.Op {
		case op:
			return true
		case syntax.OpCapture:
			re = re.Sub[0]
		case syntax.OpConcat:
			if len(re.Sub) == 0 {
				return false
			}
			re = re.Sub[0]
		default:
			return false
		}
	}
}

// leadingLiteral returns a literal every match starts with, skipping
// zero-width assertions at the start, or nil.
func leadingLiteral(re *syntax.Regexp) []byte {
	var out []byte
	var walk func(re *syntax.Regexp) bool // reports whether to continue
	walk = func(re *syntax.Regexp) bool {
		switch re.Op {
		case syntax.OpLiteral:
			if re.Flags&syntax.FoldCase != 0 {
				return false
			}
			for _, r := range re.Rune {
				if r == utf8.RuneError {
					return false
				}
				out = utf8.AppendRune(out, r)
			}
			return true
		case syntax.OpCapture:
			return walk(re.Sub[0])
		case syntax.OpConcat:
			for _, s := range re.Sub {
				if !walk(s) {
					return false
				}
			}
			return true
		case syntax.OpBeginText, syntax.OpBeginLine, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
			return len(out) == 0
		}
		return false
	}
	walk(re)
	return out
}

// firstSet returns the bytes a non-empty match can start with and whether
// re can match the empty string. Zero-width assertions are treated as
// transparent, which only makes the set larger.
func firstSet(re *syntax.Regexp) (byteSet, bool) {
	var s byteSet
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			if r := re.Rune[0]; asciiFold(r) {
				s.add(byte(unicode.ToLower(r)))
				s.add(byte(unicode.ToUpper(r)))
			} else {
				s.addRange(0, 0xff)
			}
			return s, false
		}
		var buf [utf8.UTFMax]byte
		utf8.EncodeRune(buf[:], re.Rune[0])
		if re.Rune[0] == utf8.RuneError {
			s.addRange(0x80, 0xff)
		}
		s.add(buf[0])
		return s, false
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		set, nonASCII, err := classOf(re)
		if err != nil || nonASCII {
			set.addRange(0x80, 0xff)
		}
		return set, false
	case syntax.OpCapture:
		return firstSet(re.Sub[0])
	case syntax.OpPlus:
		return firstSet(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		s, _ = firstSet(re.Sub[0])
		return s, true
	case syntax.OpRepeat:
		s, n := firstSet(re.Sub[0])
		return s, n || re.Min == 0
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			f, n := firstSet(sub)
			s.union(f)
			if !n {
				return s, false
			}
		}
		return s, true
	case syntax.OpAlternate:
		nullable := false
		for _, sub := range re.Sub {
			f, n := firstSet(sub)
			s.union(f)
			nullable = nullable || n
		}
		return s, nullable
	case syntax.OpNoMatch:
		return s, false
	}
	return s, true // empty match and assertions
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) remove(c byte)   { s[c>>6] &^= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) union(o byteSet) {
	for i := range s {
		s[i] |= o[i]
	}
}
func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

// asciiFold reports whether r and every rune it folds to are ASCII.
func asciiFold(r rune) bool {
	if r >= utf8.RuneSelf {
		return false
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
