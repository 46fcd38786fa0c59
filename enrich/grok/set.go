package grok

import (
	"bytes"
	"sort"
	"unsafe"

	"github.com/sluicelab/sluice/internal/rare"
)

// Set is several patterns tried in order; the first that matches wins
// (Logstash's break_on_match). Before trying a pattern it checks the
// pattern's prefilter (anchored literal prefix, required substrings, the
// substring fewest patterns of the set share first, each substring
// searched at most once per line, by its rarest byte: internal/rare), and patterns anchored with ^ are only
// considered for lines whose first byte can start them, looked up in a
// table built once. A prefilter never skips
// a pattern that would match, so Match returns what trying every pattern
// in turn would. A Set is safe for concurrent use.
type Set struct {
	pats []*Pattern
	// lits are the distinct required literals of all patterns; need[i]
	// lists pattern i's, fewest sharers first (the literal only one
	// pattern needs tells most). Match caches each literal's answer for
	// the first 64.
	lits [][]byte
	// rare[id] is the offset in lits[id] of the byte rare.Index looks for
	// ("session closed " is looked for by its "c", not at each "s").
	rare []int
	need [][]int
	// grams[id] holds the hashed byte pairs of lits[id]; once a line has
	// cost a few substring searches, Match hashes the line's pairs once
	// and skips the search for literals with a pair the line lacks.
	grams []bigrams
	// byFirst[b] lists, in order, the patterns that can match a line
	// starting with byte b; empty lists the ones that can match "".
	byFirst [256][]int32
	empty   []int32
	// noFilter tries every pattern without prefilters (benchmarks).
	noFilter bool
}

// NewSet returns a set trying pats in order.
func NewSet(pats ...*Pattern) *Set {
	s := &Set{pats: pats, need: make([][]int, len(pats))}
	ids := map[string]int{}
	shared := map[int]int{}
	for i, p := range pats {
		for _, l := range p.filter.required {
			id, ok := ids[string(l)]
			if !ok {
				id = len(s.lits)
				ids[string(l)] = id
				s.lits = append(s.lits, l)
				s.rare = append(s.rare, rare.Byte(string(l)))
				var g bigrams
				for j := 0; j+1 < len(l); j++ {
					g.add(l[j], l[j+1])
				}
				s.grams = append(s.grams, g)
			}
			s.need[i] = append(s.need[i], id)
			shared[id]++
		}
		sort.SliceStable(s.need[i], func(a, b int) bool { return shared[s.need[i][a]] < shared[s.need[i][b]] })
	}
	for i, p := range pats {
		s.empty = append(s.empty, int32(i))
		for b := 0; b < 256; b++ {
			if p.filter.anyFirst || p.filter.first.has(byte(b)) {
				s.byFirst[b] = append(s.byFirst[b], int32(i))
			}
		}
	}
	return s
}

// CompileSet compiles exprs into a Set.
func (l *Library) CompileSet(exprs ...string) (*Set, error) {
	pats := make([]*Pattern, len(exprs))
	for i, e := range exprs {
		p, err := l.Compile(e)
		if err != nil {
			return nil, err
		}
		pats[i] = p
	}
	return NewSet(pats...), nil
}

// Len returns the number of patterns.
func (s *Set) Len() int { return len(s.pats) }

// Pattern returns the i-th pattern.
func (s *Set) Pattern(i int) *Pattern { return s.pats[i] }

// Match tries the patterns in order and returns the index of the first one
// that matches, after calling emit for its captures (see Pattern.Match),
// or -1.
func (s *Set) Match(line []byte, emit func(Capture)) int {
	if s.noFilter {
		for i, p := range s.pats {
			if p.matchIn(line, i, emit) {
				return i
			}
		}
		return -1
	}
	cands := s.empty
	if len(line) > 0 {
		cands = s.byFirst[line[0]]
	}
	var known, present uint64 // literal answers so far, for ids < 64
	var lineGrams bigrams
	searches := 0
	for _, i := range cands {
		p := s.pats[i]
		if !bytes.HasPrefix(line, p.filter.prefix) {
			continue
		}
		pass := true
		for _, id := range s.need[i] {
			var ok bool
			if bit := uint64(1) << (id & 63); id < 64 && known&bit != 0 {
				ok = present&bit != 0
			} else {
				if searches++; searches == bigramAfter {
					for j := 0; j+1 < len(line); j++ {
						lineGrams.add(line[j], line[j+1])
					}
				}
				ok = (searches < bigramAfter || lineGrams.contains(&s.grams[id])) && rare.Index(str(line), str(s.lits[id]), s.rare[id]) >= 0
				if id < 64 {
					known |= bit
					if ok {
						present |= bit
					}
				}
			}
			if !ok {
				pass = false
				break
			}
		}
		if pass && p.matchIn(line, int(i), emit) {
			return int(i)
		}
	}
	return -1
}

// AppendMatch is Match that appends the captures to dst.
func (s *Set) AppendMatch(dst []Capture, line []byte) ([]Capture, int) {
	i := s.Match(line, func(c Capture) { dst = append(dst, c) })
	return dst, i
}

// bigramAfter is the number of substring searches in one Match after which
// hashing the line's byte pairs pays off (searches by the rarest byte cost
// about one memchr pass, less than hashing a 300-byte line: 4 made a Junos
// RT_FLOW deny line, whose fourth search finds its literal, pay for it).
const bigramAfter = 8

// bigrams is a 1024-bit Bloom filter of byte pairs.
type bigrams [16]uint64

func (b *bigrams) add(x, y byte) {
	h := (uint32(x)<<8 | uint32(y)) * 0x9E3779B1 >> 22
	b[h>>6] |= 1 << (h & 63)
}

// contains reports whether every pair of o may be in b.
func (b *bigrams) contains(o *bigrams) bool {
	for i := range b {
		if o[i]&^b[i] != 0 {
			return false
		}
	}
	return true
}

// str is b as a string without a copy, for rare.Index; b is not changed
// while the string is used.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
