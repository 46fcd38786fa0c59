package vendor

import (
	"bytes"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/sluicelab/sluice/enrich/grok"
	"github.com/sluicelab/sluice/enrich/kv"
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

	src  int32
	syms map[string]int32 // capture name -> symbol
}

func (s *grokStep) resolve(r *rule) {
	s.src = r.sym(s.source)
	s.syms = make(map[string]int32, len(s.names))
	for _, n := range s.names {
		s.syms[n] = r.sym(n)
	}
}

func (s *grokStep) run(st *state) bool {
	src, ok := st.get(s.src)
	if !ok {
		return s.optional
	}
	st.caps = st.caps[:0]
	if s.set.Match(sbytes(src), st.grokEmit) < 0 {
		return s.optional
	}
	for i := range st.caps {
		c := &st.caps[i]
		f := sfield{val: bstr(c.Value)}
		switch {
		case c.Type == grok.Int:
			f.typ, f.num, f.hasNum = tInt, uint64(c.Int64), true
		case c.Type == grok.Float:
			f.typ, f.num, f.hasNum = tFloat, floatBits(c.Float64), true
		case s.ipNames[c.Name]:
			f.typ = tIP
		}
		st.put(s.syms[c.Name], f)
	}
	st.caps = st.caps[:0]
	return true
}

// kvStep parses key=value pairs.
type kvStep struct {
	id         int
	source     string
	p          kv.Parser
	allowEmpty bool
	leading    string // field for the text before the first pair
	bare       string // field for the words without a value after the first pair
	prefix     string // unmapped keys go to prefix+key; dropped without one
	keepRaw    bool   // mapped keys also go to prefix+key
	optional   bool
	fields     map[string]*kvField
	ignore     []string

	src, leadSym, bareSym int32
	table                 keyTable // fields, for lookups by []byte
}

// keyTable is an open-addressing hash table of kv keys: a lookup hashes
// three bytes and the length and compares one string, quicker than a Go
// map for the short keys of log lines.
type keyTable struct {
	slots []int32 // index into keys/vals, -1 when empty
	keys  []string
	vals  []*kvField
	mask  uint32
}

func keyHash(n int, first, mid, last byte) uint32 {
	h := uint32(n)*0x9e3779b1 ^ uint32(first)*0x85ebca77 ^ uint32(mid)*0xc2b2ae3d ^ uint32(last)*0x27d4eb2f
	return h ^ h>>15
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
		i := keyHash(len(k), k[0], k[len(k)/2], k[len(k)-1]) & t.mask
		for t.slots[i] >= 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = int32(len(t.keys))
		t.keys = append(t.keys, k)
		t.vals = append(t.vals, m[k])
	}
	return t
}

func (t *keyTable) get(k []byte) *kvField {
	n := len(k)
	if n == 0 || len(t.keys) == 0 {
		return nil
	}
	i := keyHash(n, k[0], k[n/2], k[n-1]) & t.mask
	for {
		s := t.slots[i]
		if s < 0 {
			return nil
		}
		if t.keys[s] == string(k) {
			return t.vals[s]
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
	s.src, s.leadSym, s.bareSym = r.sym(s.source), -1, -1
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
	src, ok := st.get(s.src)
	if !ok || src == "" {
		return s.optional
	}
	st.kvs, st.kvPairs, st.kvLead, st.kvBare = s, 0, 0, st.kvBare[:0]
	st.kvBase = uintptr(unsafe.Pointer(unsafe.StringData(src)))
	s.p.Parse(sbytes(src), st.kvEmit)
	st.kvs = nil
	if st.kvPairs == 0 {
		return s.optional
	}
	if s.leadSym >= 0 && st.kvLead > 0 {
		if lead := strings.TrimSpace(src[:st.kvLead]); lead != "" {
			st.emit(s.leadSym, s.leading, lead, tAuto)
		}
	}
	if s.bareSym >= 0 && len(st.kvBare) > 0 {
		st.emit(s.bareSym, s.bare, st.keep(st.kvBare), tString)
	}
	return true
}

// onKV is the kv.Parser callback of kvStep.run (a method value made once
// per state, so that parsing does not allocate a closure per event).
func (st *state) onKV(k, v []byte, quoted bool) {
	s := st.kvs
	if v == nil && !quoted {
		// A word without a value: part of the leading text before the
		// first pair, a flag after it.
		if st.kvPairs > 0 && s.bareSym >= 0 {
			if len(st.kvBare) > 0 {
				st.kvBare = append(st.kvBare, ' ')
			}
			st.kvBare = append(st.kvBare, k...)
		}
		return
	}
	if st.kvPairs == 0 {
		st.kvLead = int(uintptr(unsafe.Pointer(unsafe.SliceData(k))) - st.kvBase)
	}
	st.kvPairs++
	if len(v) == 0 && !s.allowEmpty {
		return
	}
	var val string
	if quoted && bytes.IndexByte(v, '\\') >= 0 {
		st.buf = kv.Unquote(st.buf[:0], v)
		val = st.keep(st.buf)
	} else {
		val = bstr(v)
	}
	for _, x := range s.ignore {
		if val == x {
			return
		}
	}
	if f := s.table.get(k); f != nil {
		if f.drop {
			return
		}
		if f.pathSym >= 0 {
			pv, t := val, f.typ
			if t == tLower {
				pv, t = st.lower(val), tAuto
			}
			st.emit(f.pathSym, f.path, pv, t)
		}
		if f.rawSym >= 0 {
			st.emit(f.rawSym, f.raw, val, tString)
		}
		return
	}
	if s.prefix == "" {
		return
	}
	if name := st.rawName(s, k); name != "" {
		st.emit(-1, name, val, tString)
	}
}

// emit adds a field found by a kv step: straight to the event when no
// step refers to it (sym -1 or direct), else to the scratch list.
func (st *state) emit(sym int32, key, val string, typ vtype) {
	if sym < 0 && !st.r.noDirect || sym >= 0 && st.r.direct[sym] {
		st.commitValue(sym, key, val, typ, 0, false)
		return
	}
	st.add(sym, key, val, typ)
}

// maxNames bounds the per-worker cache of prefixed key names.
const maxNames = 1024

// rawName returns prefix+key for a key without a mapping, or "" for a key
// that cannot be a path segment.
func (st *state) rawName(s *kvStep, k []byte) string {
	for len(st.names) <= s.id {
		st.names = append(st.names, nil)
	}
	m := st.names[s.id]
	if n, ok := m[string(k)]; ok {
		return n
	}
	if len(k) > 64 {
		return ""
	}
	for i, c := range k {
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == '.' && (i == 0 || i == len(k)-1 || k[i-1] == '.') {
			return ""
		}
	}
	n := s.prefix + string(k)
	if m == nil {
		m = make(map[string]string)
		st.names[s.id] = m
	}
	if len(m) < maxNames {
		m[n[len(s.prefix):]] = n
	}
	return n
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
		s.syms = append(s.syms, r.sym(p))
	}
}

func (s *setStep) run(st *state) bool {
	for i, sym := range s.syms {
		st.putConst(sym, s.vals[i])
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
		if st.idx[from] == 0 || from == to {
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

	fieldSym, targetSym int32
}

func (s *mapStep) resolve(r *rule) {
	s.fieldSym, s.targetSym = r.sym(s.field), r.sym(s.target)
}

func (s *mapStep) run(st *state) bool {
	v, ok := st.get(s.fieldSym)
	if !ok {
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
				hit = strings.Contains(lv, k)
			} else {
				hit = strings.Contains(v, k)
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
