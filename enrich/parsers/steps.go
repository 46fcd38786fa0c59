package parsers

import (
	"encoding/binary"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/sluicelab/sluice/enrich/grok"
	"github.com/sluicelab/sluice/enrich/kv"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/rare"
)

// cutStep splits a value at the first occurrence of a separator.
type cutStep struct {
	source      string
	sep         string
	head, tail  string
	required    bool
	missingTail bool       // without the separator the value goes to tail
	headChars   *[256]bool // the head must consist of these bytes

	src, headSym, tailSym int32
}

func (s *cutStep) resolve(r *rule) {
	s.src, s.headSym, s.tailSym = r.sym(s.source), -1, -1
	if s.head != "" {
		s.headSym = r.sym(s.head)
	}
	if s.tail != "" {
		s.tailSym = r.sym(s.tail)
	}
}

func (s *cutStep) run(st *state) bool {
	src, ok := st.get(s.src)
	if !ok {
		return !s.required
	}
	i := indexSep(src, s.sep)
	if i >= 0 && s.headChars != nil {
		for j := 0; j < i; j++ {
			if !s.headChars[src[j]] {
				i = -1
				break
			}
		}
	}
	if i < 0 {
		if s.required {
			return false
		}
		to := s.headSym
		if s.missingTail {
			to = s.tailSym
		}
		if to >= 0 && src != "" {
			st.put(to, sfield{val: src})
		}
		return true
	}
	if s.headSym >= 0 && i > 0 {
		st.put(s.headSym, sfield{val: src[:i]})
	}
	if rest := src[i+len(s.sep):]; s.tailSym >= 0 && rest != "" {
		st.put(s.tailSym, sfield{val: rest})
	}
	return true
}

// indexSep is strings.Index, faster for strings starting with a space
// (" pattern: ", " SRC="): it looks for the rest, whose first byte is
// rarer than a space.
func indexSep(s, sep string) int {
	if len(sep) < 3 || sep[0] != ' ' {
		return strings.Index(s, sep)
	}
	rest := sep[1:]
	for off := 1; off < len(s); {
		i := strings.Index(s[off:], rest)
		if i < 0 {
			return -1
		}
		if s[off+i-1] == ' ' {
			return off + i - 1
		}
		off += i + 1
	}
	return -1
}

// grokStep matches a value against grok patterns, the first match wins.
type grokStep struct {
	source   string
	set      *grok.Set
	optional bool
	ipNames  map[string]bool // captures of %{IP}, %{IPV4}, %{IPV6}
	names    []string        // every capture name of the patterns

	src int32
	// caps[i][k] is what capture k (grok.Capture.Index) of the set's
	// pattern i becomes: no map lookups per capture.
	caps [][]grokCap
}

// grokCap is a capture's symbol and whether it is an address.
type grokCap struct {
	sym int32
	ip  bool
}

func (s *grokStep) resolve(r *rule) {
	s.src = r.sym(s.source)
	// A name that some pattern captures twice is reported twice and
	// the last one wins (put); the others may go to the event at once.
	twice := map[string]bool{}
	for i := range s.set.Len() {
		seen := map[string]bool{}
		for _, f := range s.set.Pattern(i).Fields() {
			twice[f.Name] = twice[f.Name] || seen[f.Name]
			seen[f.Name] = true
		}
	}
	syms := make(map[string]int32, len(s.names))
	for _, n := range s.names {
		if twice[n] {
			syms[n] = r.sym(n)
			continue
		}
		sym := r.out(n)
		if sym >= 0 {
			r.putCand[sym] = true
		}
		syms[n] = sym
	}
	s.caps = make([][]grokCap, s.set.Len())
	for i := range s.caps {
		for _, f := range s.set.Pattern(i).Fields() {
			s.caps[i] = append(s.caps[i], grokCap{sym: syms[f.Name], ip: s.ipNames[f.Name]})
		}
	}
}

func (s *grokStep) run(st *state) bool {
	src, ok := st.get(s.src)
	if !ok {
		return s.optional
	}
	// The set reports the captures of the pattern that matched only,
	// each with the pattern's index: grokCapture puts them as they come.
	st.grok = s
	pi := s.set.Match(sbytes(src), st.grokEmit)
	st.grok = nil
	return pi >= 0 || s.optional
}

// grokCapture puts one capture of the grok step st.grok.
func (st *state) grokCapture(c *grok.Capture) {
	g := st.grok.caps[c.Pattern][c.Index]
	f := sfield{val: bstr(c.Value)}
	switch {
	case c.Type == grok.Int:
		f.typ, f.num, f.hasNum = tInt, uint64(c.Int64), true
	case c.Type == grok.Float:
		f.typ, f.num, f.hasNum = tFloat, floatBits(c.Float64), true
	case g.ip:
		f.typ = tIP
	}
	if g.sym >= 0 && st.r.putDirect[g.sym] {
		st.commitValue(g.sym, st.r.symNames[g.sym], f.val, f.typ, f.num, f.hasNum)
		return
	}
	st.put(g.sym, f)
}

// kvStep parses key=value pairs.
type kvStep struct {
	id         int
	source     string
	p          kv.Parser
	scan       *kv.Scanner // p, prepared in resolve
	allowEmpty bool
	leading    string // field for the text before the first pair
	bare       string // field for the words without a value after the first pair
	prefix     string // unmapped keys go to prefix+key; dropped without one
	keepRaw    bool   // mapped keys also go to prefix+key
	optional   bool
	fields     map[string]*kvField
	ignore     []string
	// cef: the source is ArcSight CEF (cef.go); cefHeader names the paths
	// of its seven header fields ("" skips one); cefLabels renames custom
	// fields by their labels.
	cef          bool
	cefLabels    bool
	cefHeader    []string
	cefHeaderSym []int32
	// sd: the pairs are the syslog decoder's RFC 5424 structured-data
	// parameters (source: log.syslog.structured_data), keyed by
	// PARAM-NAME whatever their SD-ID.
	sd bool

	trimKey               *byteSet // p.TrimKey for CEF keys (nil: none or not ASCII)
	src, leadSym, bareSym int32
	table                 keyTable // fields, for lookups by []byte
}

// keyHash hashes a kv key a word at a time: one hash per pair serves the
// step's key table and the worker's cache of prefixed names.
func keyHash(k []byte) uint32 {
	h, _ := keyPrint(k)
	return h
}

// keyFP is a key's length and up to two words of its bytes (keyPrint):
// for keys of up to 16 bytes it tells keys apart exactly, so that the
// worker's cache compares two words instead of calling memequal.
type keyFP struct {
	a, b uint64
	n    int
}

// exactFP is the longest key that keyFP tells apart exactly.
const exactFP = 16

// keyPrint returns keyHash(k) and k's keyFP, read in one pass.
func keyPrint(k []byte) (uint32, keyFP) {
	n := len(k)
	fp := keyFP{n: n}
	h := uint64(n) * 0x9e3779b97f4a7c15
	switch {
	case n > exactFP:
		i := 0
		for ; i+8 < n; i += 8 {
			h = mixHash(h ^ binary.LittleEndian.Uint64(k[i:]))
		}
		// The last eight bytes, overlapping the words before.
		fp.b = binary.LittleEndian.Uint64(k[n-8:])
		h = mixHash(h ^ fp.b)
	case n > 8: // two overlapping words
		fp.a, fp.b = binary.LittleEndian.Uint64(k), binary.LittleEndian.Uint64(k[n-8:])
		h = mixHash(mixHash(h^fp.a) ^ fp.b)
	case n == 8:
		fp.a = binary.LittleEndian.Uint64(k)
		h = mixHash(h ^ fp.a)
	case n >= 4: // two overlapping halves
		fp.a = uint64(binary.LittleEndian.Uint32(k))<<32 | uint64(binary.LittleEndian.Uint32(k[n-4:]))
		h = mixHash(h ^ fp.a)
	case n > 0: // every byte of 1-3
		fp.a = uint64(k[0])<<16 | uint64(k[n/2])<<8 | uint64(k[n-1])
		h = mixHash(h ^ fp.a)
	}
	return uint32(h), fp
}

func mixHash(h uint64) uint64 {
	h *= 0xff51afd7ed558ccd
	return h ^ h>>32
}

// keyTable is an open-addressing hash table of a kv step's keys, quicker
// than a Go map for the short keys of log lines, and looked up with the
// hash the step computed once for the pair.
type keyTable struct {
	slots []int32 // index into keys/vals, -1 when empty
	keys  []string
	vals  []*kvField
	mask  uint32
}

func newKeyTable(m map[string]*kvField) keyTable {
	size := 16
	for size < 4*len(m) {
		size *= 2
	}
	t := keyTable{slots: make([]int32, size), mask: uint32(size - 1)}
	for i := range t.slots {
		t.slots[i] = -1
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic layout
	for _, k := range keys {
		if k == "" {
			continue
		}
		i := keyHash(sbytes(k)) & t.mask
		for t.slots[i] >= 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = int32(len(t.keys))
		t.keys = append(t.keys, k)
		t.vals = append(t.vals, m[k])
	}
	return t
}

// get returns the field of key k, whose keyHash is h, or nil.
func (t *keyTable) get(h uint32, k []byte) *kvField {
	if i := t.index(h, k); i >= 0 {
		return t.vals[i]
	}
	return nil
}

// index returns the index of key k in keys and vals, or -1.
func (t *keyTable) index(h uint32, k []byte) int32 {
	if len(t.keys) == 0 {
		return -1
	}
	i := h & t.mask
	for {
		s := t.slots[i]
		if s < 0 || t.keys[s] == string(k) {
			return s
		}
		i = (i + 1) & t.mask
	}
}

type kvField struct {
	path string // ECS path; "" for a key only kept under the prefix
	raw  string // prefix+key
	typ  vtype  // of the path (tAuto unless path:type)
	drop bool

	pathSym, rawSym int32
}

func (s *kvStep) resolve(r *rule) {
	s.scan = kv.NewScanner(&s.p)
	s.trimKey = newByteSet(s.p.TrimKey)
	s.src, s.leadSym, s.bareSym = r.sym(s.source), -1, -1
	s.cefHeaderSym = s.cefHeaderSym[:0]
	for _, h := range s.cefHeader {
		sym := int32(-1)
		if h != "" {
			sym = r.out(h)
		}
		s.cefHeaderSym = append(s.cefHeaderSym, sym)
	}
	if s.leading != "" {
		s.leadSym = r.out(s.leading)
	}
	if s.bare != "" {
		s.bareSym = r.out(s.bare)
	}
	for _, f := range s.fields {
		f.pathSym, f.rawSym = -1, -1
		if f.path != "" {
			f.pathSym = r.out(f.path)
		}
	}
	if s.prefix == "" {
		s.table = newKeyTable(s.fields)
		return
	}
	// Keys kept under the prefix that a step names get a symbol too:
	// "f5.asm.date_time" for the key date_time.
	for _, name := range r.symNames {
		key, ok := strings.CutPrefix(name, s.prefix)
		if !ok || key == "" || strings.Contains(key, ".") {
			continue
		}
		if _, ok := s.fields[key]; !ok {
			s.fields[key] = &kvField{raw: name, typ: tAuto, pathSym: -1, rawSym: -1}
		}
	}
	for key, f := range s.fields {
		if f.raw == "" {
			f.raw = s.prefix + key
		}
		if f.path == "" || s.keepRaw {
			f.rawSym = r.out(f.raw)
		}
	}
	s.table = newKeyTable(s.fields)
}

func (s *kvStep) run(st *state) bool {
	if s.sd {
		return s.runSD(st)
	}
	src, ok := st.get(s.src)
	if !ok || src == "" {
		return s.optional
	}
	if s.cef {
		return s.runCEF(st, src)
	}
	line := sbytes(src)
	pairs, lead := 0, 0
	st.kvBare = st.kvBare[:0]
	// The scanner finds a batch of pairs at a time (no call per pair);
	// the batch buffer bounds the memory a line with many pairs takes.
	for i := 0; i >= 0; {
		var spans []kv.Span
		spans, i = s.scan.Scan(line, i, st.spans[:0])
		for j := range spans {
			sp := &spans[j]
			if sp.Flags&kv.Bare != 0 {
				// A word without a value: part of the leading text before
				// the first pair, a flag after it.
				if pairs > 0 && s.bareSym >= 0 {
					if len(st.kvBare) > 0 {
						st.kvBare = append(st.kvBare, ' ')
					}
					st.kvBare = append(st.kvBare, sp.Key(line)...)
				}
				continue
			}
			if pairs == 0 {
				lead = sp.K0
			}
			pairs++
			if sp.V1 == sp.V0 && !s.allowEmpty {
				continue
			}
			if sp.Flags&kv.Escaped != 0 {
				st.kvPair(s, sp.Key(line), sp.Value(line), sp.Flags)
			} else { // kvPair without the call: most values have no escapes
				st.kvValue(s, sp.Key(line), bstr(line[sp.V0:sp.V1]))
			}
		}
	}
	if pairs == 0 {
		return s.optional
	}
	if s.leadSym >= 0 && lead > 0 {
		if lead := strings.TrimSpace(src[:lead]); lead != "" {
			st.emit(s.leadSym, s.leading, lead, tAuto)
		}
	}
	if s.bareSym >= 0 && len(st.kvBare) > 0 {
		st.emit(s.bareSym, s.bare, st.keep(st.kvBare), tString)
	}
	return true
}

// kvPair adds the fields of one pair of a kv step.
func (st *state) kvPair(s *kvStep, k, v []byte, fl kv.Flags) {
	var val string
	if fl&kv.Escaped != 0 {
		st.buf = kv.Unquote(st.buf[:0], v)
		val = st.keep(st.buf)
	} else {
		val = bstr(v)
	}
	st.kvValue(s, k, val)
}

// kvValue adds the fields of the pair k=val of a kv step.
func (st *state) kvValue(s *kvStep, k []byte, val string) {
	for _, x := range s.ignore {
		if val == x {
			return
		}
	}
	h, fp := keyPrint(k)
	for len(st.keys) <= s.id {
		st.keys = append(st.keys, keyCache{})
	}
	e := st.keys[s.id].find(h, fp, k)
	if e == nil {
		if e = st.learnKey(s, h, fp, k); e == nil {
			return
		}
	}
	if f := e.f; f != nil {
		if f.drop {
			return
		}
		r := st.r
		if f.pathSym >= 0 {
			pv, t := val, f.typ
			if t == tLower {
				pv, t = st.lower(val), tAuto
			} else if t == tDur {
				pv, t = st.nanoseconds(val), tInt
			}
			if r.directField[f.pathSym] {
				// What emit and commitValue do for a plain field, without
				// their dispatch.
				if t == tAuto {
					t = r.symAuto[f.pathSym]
				}
				st.commitField(st.e, f.path, pv, t, 0, false)
			} else {
				st.emit(f.pathSym, f.path, pv, t)
			}
		}
		if f.rawSym >= 0 {
			if r.directField[f.rawSym] { // emit's first case, without the call
				st.appendString(f.raw, val)
			} else {
				st.emit(f.rawSym, f.raw, val, tString)
			}
		}
		return
	}
	switch {
	case st.r.noDirect:
		st.add(-1, e.name, val, tString)
	case e.kind == kField:
		st.appendString(e.name, val)
	default:
		st.commitValue(-1, e.name, val, tString, 0, false)
	}
}

// emit adds a field found by a kv step: straight to the event when no
// step refers to it (sym -1 or direct), else to the scratch list.
func (st *state) emit(sym int32, key, val string, typ vtype) {
	r := st.r
	switch {
	case sym >= 0 && typ == tString && r.directField[sym]:
		st.appendString(key, val) // what commitValue does, without its dispatch
	case sym < 0 && r.noDirect, sym >= 0 && !r.direct[sym]:
		st.add(sym, key, val, typ)
	default:
		st.commitValue(sym, key, val, typ, 0, false)
	}
}

// appendString writes a string field to the event (commitField for
// tString: empty strings are left out).
func (st *state) appendString(key, val string) {
	if val != "" {
		st.e.AddString(key, val)
	}
}

// maxNames bounds the number of keys without a mapping that a worker
// caches per kv step.
const maxNames = 1024

// maxProbes bounds the search of a keyCache, so that keys that collide
// (on purpose or not) cost a bounded time: a key that finds no free slot
// within it is not cached.
const maxProbes = 8

// keyEntry is what a kv step does with one key.
type keyEntry struct {
	key  string   // the key
	hash uint32   // keyHash(key)
	fp   keyFP    // keyPrint(key)
	kind kind     // how name is committed
	f    *kvField // the key's mapping; nil for a key kept as name
	name string   // prefix+key, for a key without a mapping
}

// keyCache is one worker's table of the keys a kv step has seen: open
// addressing on keyHash, so that a pair costs one hash, one probe and one
// compare whether its key is mapped or only kept under the prefix (most
// F5 ASM keys), and prefix+key is built once.
type keyCache struct {
	slots   []int32 // 1 + index into ents, 0 when empty
	ents    []keyEntry
	mask    uint32
	unnamed int // entries without a mapping, at most maxNames
	scratch keyEntry
}

// find returns the entry of key k, whose hash and print are h and fp,
// or nil.
func (c *keyCache) find(h uint32, fp keyFP, k []byte) *keyEntry {
	if len(c.slots) == 0 {
		return nil
	}
	i := h & c.mask
	for range maxProbes {
		j := c.slots[i]
		if j == 0 {
			return nil
		}
		if e := &c.ents[j-1]; e.fp == fp && (fp.n <= exactFP || e.key == string(k)) {
			return e
		}
		i = (i + 1) & c.mask
	}
	return nil
}

// learnKey finds what s does with key k (h is keyHash(k)) and caches it:
// the mapping of the step's fields, else prefix+key. It returns nil for
// a key the step drops: without a mapping, when there is no prefix or the
// key cannot be a path segment.
func (st *state) learnKey(s *kvStep, h uint32, fp keyFP, k []byte) *keyEntry {
	c := &st.keys[s.id]
	var e keyEntry
	if f := s.table.get(h, k); f != nil {
		e = keyEntry{key: s.table.keys[s.table.index(h, k)], hash: h, fp: fp, f: f}
	} else {
		if s.prefix == "" || !pathSegment(k) {
			return nil
		}
		name := s.prefix + string(k)
		e = keyEntry{key: name[len(s.prefix):], hash: h, fp: fp, kind: kindOf(name), name: name}
		if c.unnamed >= maxNames {
			c.scratch = e
			return &c.scratch
		}
		c.unnamed++
	}
	if p := c.insert(e); p != nil {
		return p
	}
	c.scratch = e
	return &c.scratch
}

// pathSegment reports whether a key can follow a prefix in a path.
func pathSegment(k []byte) bool {
	if len(k) > 64 {
		return false
	}
	for i, b := range k {
		if b < 0x21 || b > 0x7e || b == '"' || b == '\\' || b == '.' && (i == 0 || i == len(k)-1 || k[i-1] == '.') {
			return false
		}
	}
	return true
}

// insert adds e and returns it, or nil when no slot is free within
// maxProbes.
func (c *keyCache) insert(e keyEntry) *keyEntry {
	if 2*(len(c.ents)+1) > len(c.slots) {
		c.grow()
	}
	i := e.hash & c.mask
	for range maxProbes {
		if c.slots[i] == 0 {
			c.ents = append(c.ents, e)
			c.slots[i] = int32(len(c.ents))
			return &c.ents[len(c.ents)-1]
		}
		i = (i + 1) & c.mask
	}
	return nil
}

// grow doubles the table (keeping it at most half full) and places the
// entries again. Entries that land beyond maxProbes are not found any
// more, which only costs a new lookup.
func (c *keyCache) grow() {
	size := max(64, 2*len(c.slots))
	c.slots, c.mask = make([]int32, size), uint32(size-1)
	for j := range c.ents {
		i := c.ents[j].hash & c.mask
		for c.slots[i] != 0 {
			i = (i + 1) & c.mask
		}
		c.slots[i] = int32(j + 1)
	}
}

// setStep sets constant fields.
type setStep struct {
	paths []string
	vals  []value
	syms  []int32
}

func (s *setStep) resolve(r *rule) {
	s.syms = s.syms[:0]
	for _, p := range s.paths {
		// Each path once: when no other step names it, the constant
		// may go to the event at once (putDirect).
		sym := r.out(p)
		if sym >= 0 {
			r.putCand[sym] = true
		}
		s.syms = append(s.syms, sym)
	}
}

func (s *setStep) run(st *state) bool {
	for i, sym := range s.syms {
		if v := &s.vals[i]; sym >= 0 && st.r.putDirect[sym] {
			st.commitValue(sym, st.r.symNames[sym], v.s, v.typ, v.num, v.hasNum)
		} else {
			st.putConst(sym, *v)
		}
	}
	return true
}

// renameStep moves fields to other paths, replacing what is there.
type renameStep struct {
	from, to       []string
	fromSym, toSym []int32
}

func (s *renameStep) resolve(r *rule) {
	s.fromSym, s.toSym = s.fromSym[:0], s.toSym[:0]
	for i := range s.from {
		s.fromSym = append(s.fromSym, r.sym(s.from[i]))
		s.toSym = append(s.toSym, r.sym(s.to[i]))
	}
}

func (s *renameStep) run(st *state) bool {
	for i, from := range s.fromSym {
		to := s.toSym[i]
		if from < 0 || to < 0 || st.idx[from] == 0 || from == to {
			continue
		}
		st.kill(to)
		name := s.to[i]
		st.each(from, func(f *sfield) { f.sym, f.key = to, name })
		st.idx[to], st.multi[to] = st.idx[from], st.multi[from]
		st.idx[from], st.multi[from] = 0, false
	}
	return true
}

// convertStep sets the type fields are written with.
type convertStep struct {
	paths []string
	types []vtype
	syms  []int32
}

func (s *convertStep) resolve(r *rule) {
	s.syms = s.syms[:0]
	for _, p := range s.paths {
		s.syms = append(s.syms, r.sym(p))
	}
}

func (s *convertStep) run(st *state) bool {
	for i, sym := range s.syms {
		t := s.types[i]
		st.each(sym, func(f *sfield) {
			if t == tLower {
				f.val = st.lower(f.val)
				return
			}
			if t == tDur {
				f.val, f.typ, f.hasNum = st.nanoseconds(f.val), tInt, false
				return
			}
			f.typ, f.hasNum = t, false
		})
	}
	return true
}

// lower returns v in lower case (ASCII), copying only when needed.
func (st *state) lower(v string) string {
	i := 0
	for i < len(v) && !(v[i] >= 'A' && v[i] <= 'Z') {
		i++
	}
	if i == len(v) {
		return v
	}
	st.buf = append(st.buf[:0], v...)
	for j := i; j < len(st.buf); j++ {
		if c := st.buf[j]; c >= 'A' && c <= 'Z' {
			st.buf[j] = c + 'a' - 'A'
		}
	}
	return st.keep(st.buf)
}

const (
	matchExact = iota
	matchPrefix
	matchContains
)

// mapStep sets target from a table of a field's values.
type mapStep struct {
	field, target string
	match         int
	fold          bool // keys are lower case, values compared ignoring ASCII case
	keys          []string
	vals          []value
	def           *value
	// index finds the key of an exact, case-sensitive map with many keys
	// (Cisco ASA's message ids) by hash instead of in turn: keys are
	// distinct, so the first that matches is the only one.
	index map[string]int
	// rare[i] is the offset of keys[i]'s byte rare.Index looks for
	// (contains maps).
	rare []int

	fieldSym, targetSym int32
}

// mapIndexMin is the number of keys from which an exact map step looks
// keys up in a Go map.
const mapIndexMin = 8

func (s *mapStep) resolve(r *rule) {
	s.fieldSym, s.targetSym = r.sym(s.field), r.sym(s.target)
	s.index, s.rare = nil, nil
	if s.match == matchContains {
		for _, k := range s.keys {
			s.rare = append(s.rare, rare.Byte(k))
		}
	}
	if s.match == matchExact && !s.fold && len(s.keys) >= mapIndexMin {
		s.index = make(map[string]int, len(s.keys))
		for i, k := range s.keys {
			if _, dup := s.index[k]; !dup {
				s.index[k] = i
			}
		}
	}
}

func (s *mapStep) run(st *state) bool {
	v, ok := st.get(s.fieldSym)
	if !ok {
		return true
	}
	if s.index != nil {
		if i, ok := s.index[v]; ok {
			st.putConst(s.targetSym, s.vals[i])
		} else if s.def != nil {
			st.putConst(s.targetSym, *s.def)
		}
		return true
	}
	var lbuf [64]byte
	lv := "" // v in lower case, for contains with ignore_case
	for i, k := range s.keys {
		var hit bool
		switch s.match {
		case matchExact:
			hit = v == k || s.fold && strings.EqualFold(v, k)
		case matchPrefix:
			hit = len(v) >= len(k) && (v[:len(k)] == k || s.fold && strings.EqualFold(v[:len(k)], k))
		case matchContains:
			if s.fold {
				if lv == "" {
					lv = st.lowerSmall(&lbuf, v)
				}
				hit = k == "" || rare.Index(lv, k, s.rare[i]) >= 0
			} else {
				hit = k == "" || rare.Index(v, k, s.rare[i]) >= 0
			}
		}
		if hit {
			st.putConst(s.targetSym, s.vals[i])
			return true
		}
	}
	if s.def != nil {
		st.putConst(s.targetSym, *s.def)
	}
	return true
}

// lowerSmall returns v in lower case (ASCII), in buf when it fits (the
// result is only valid while buf is), else in the batch arena.
func (st *state) lowerSmall(buf *[64]byte, v string) string {
	if len(v) > len(buf) {
		return st.lower(v)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return unsafe.String(&buf[0], len(v))
}

// dateStep parses a field as a time, into @timestamp or another field.
type dateStep struct {
	field   string
	layouts []string
	target  string
	loc     *time.Location

	fieldSym, targetSym int32
}

func (s *dateStep) resolve(r *rule) {
	s.fieldSym, s.targetSym = r.sym(s.field), -1
	if s.target != "@timestamp" {
		s.targetSym = r.sym(s.target)
	}
}

func (s *dateStep) run(st *state) bool {
	v, ok := st.get(s.fieldSym)
	if !ok {
		return true
	}
	for _, l := range s.layouts {
		t, ok := parseTime(l, v, s.loc)
		if !ok {
			continue
		}
		if s.targetSym < 0 {
			st.ts, st.hasTS = t, true
		} else {
			st.put(s.targetSym, sfield{typ: tTime, num: uint64(t.UnixNano()), hasNum: true})
		}
		break
	}
	return true
}

// removeStep removes fields by path or by path prefix ("meraki.*").
type removeStep struct {
	paths    []string
	prefixes []string // with the trailing dot
	syms     []int32
}

func (s *removeStep) resolve(r *rule) {
	s.syms = s.syms[:0]
	for _, p := range s.paths {
		s.syms = append(s.syms, r.sym(p))
	}
}

func (s *removeStep) run(st *state) bool {
	for _, sym := range s.syms {
		st.kill(sym)
	}
	if len(s.prefixes) == 0 {
		return true
	}
	for i := range st.fields {
		f := &st.fields[i]
		if f.dead {
			continue
		}
		for _, p := range s.prefixes {
			if strings.HasPrefix(f.key, p) {
				if f.sym >= 0 {
					st.kill(f.sym)
				}
				f.dead = true
			}
		}
	}
	return true
}

// sdPrefix is where the syslog decoder puts RFC 5424 structured data:
// log.syslog.structured_data.<SD-ID>.<PARAM-NAME>.
const sdPrefix = "log.syslog.structured_data."

// runSD is run for a kv step whose source is log.syslog.structured_data:
// each parameter the decoder kept is a pair PARAM-NAME=value (the name is
// what follows the last dot: SD-IDs such as junos@2636.1.1.1.2.26 hold
// dots, parameter names do not).
func (s *kvStep) runSD(st *state) bool {
	pairs := 0
	fields := st.e.Fields[:len(st.e.Fields):len(st.e.Fields)] // what the decoder wrote
	for i := range fields {
		f := &fields[i]
		if f.Type != event.FieldString || !strings.HasPrefix(f.Key, sdPrefix) {
			continue
		}
		name := f.Key[strings.LastIndexByte(f.Key, '.')+1:]
		if name == "" {
			continue
		}
		pairs++
		if f.S == "" && !s.allowEmpty {
			continue
		}
		st.kvValue(s, sbytes(name), f.S)
	}
	return pairs > 0 || s.optional
}
