package rule

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

// maxAggMatches bounds the matches one pending aggregation keeps; further
// matches are still counted in Fired.NumHits.
const maxAggMatches = 1000

// maxIndexCache bounds the index names whose matching rules the engine
// remembers (daily index names change once a day).
const maxIndexCache = 4096

// EngineConfig is what the engine needs from its caller.
type EngineConfig struct {
	// Now is the wall clock (time.Now when nil): realert silences and
	// aggregation windows run on it, as ElastAlert's do, and a document
	// without a usable time gets it.
	Now func() time.Time
	// EventClock runs realert silences and aggregation windows on the
	// matches' own times instead of Now: for replaying past documents
	// (sluice test-rule), where the caller also passes document times to
	// Tick.
	EventClock bool
	// Emit receives every match that survives to an alert or a silence. It
	// is called from the goroutines that call Process, Tick and SetRules,
	// concurrently, never with a rule's lock held; it must not block for
	// long (hand the alert to a bounded queue).
	Emit func(*Fired)
}

// Fired is what the engine emits: one alert (or one silenced match).
type Fired struct {
	Rule    *Rule
	Matches []Match // one, or several when aggregated
	// Key is the query_key value of the match; for an aggregated alert, the
	// aggregation_key value ("" when the rule has none).
	Key string
	// Silenced means realert suppressed it: the caller records it but does
	// not send it.
	Silenced   bool
	Aggregated bool
	// NumHits is the num_hits the rule type reported (0: unknown); for an
	// aggregated alert, the number of matches aggregated (Matches keeps the
	// first 1000).
	NumHits int
	// TopCounts are the rule's top_count_keys: per field, how often each
	// value occurred in the documents that passed the rule's filter for
	// the same query_key value within the timeframe before the (first)
	// match. Nil when the rule has none.
	TopCounts map[string]map[string]int
}

// RuleStats are one rule's counters since it was loaded unchanged.
type RuleStats struct {
	Name      string
	Docs      uint64 // documents that passed the rule's index and filter
	NoKey     uint64 // of those, skipped for a missing query_key field
	NoTime    uint64 // of those, without a usable time (the wall clock was used)
	Matches   uint64 // matches of the rule type
	Fired     uint64 // alerts emitted (an aggregated alert counts once)
	Silenced  uint64 // matches silenced by realert
	Evictions uint64 // query_key windows dropped to stay within max_keys
	EvalTime  time.Duration
	// Err is why the rule does not run ("" when it does).
	Err string
}

// Engine evaluates a set of rules on documents. Process, Tick, SetRules,
// Stats and the state calls are safe for concurrent use; each rule has its
// own lock, so a slow rule does not hold up another.
type Engine struct {
	cfg     EngineConfig
	setMu   sync.Mutex // serializes SetRules and LoadState
	snap    atomic.Pointer[snapshot]
	scratch sync.Pool
}

// snapshot is one loaded rule set; Process works on the snapshot it read.
type snapshot struct {
	rules  []*ruleState // the ones that run, in load order
	all    []*ruleState // with disabled and failed ones, for Stats
	byName map[string]*ruleState
	idx    sync.Map // index name -> []*ruleState
	idxN   atomic.Int32
}

type ruleState struct {
	rule *Rule
	core *ruleCore // nil when the rule does not run
	err  string
	// ranges are numeric ranges the filter requires (query.RangeGuards)
	// and terms the terms it requires besides the one it is found by
	// (query.TermGuards), checked before the filter: they cost a lookup
	// and a comparison, the filter much more.
	ranges []query.RangeGuard
	terms  []query.Guard
	// guard is the term the rule is found by (hasGuard false: the rule is
	// evaluated on every document of its indices).
	guard    query.Guard
	hasGuard bool
	// flow is what the filter says of every flow event when it reads
	// only values all flows share (query.FlowConstant): flowAll or
	// flowNone; flowVaries otherwise.
	flow flowVerdict
	// ts and key are the rule's timestamp_field and query_key, registered;
	// top its top_count_keys.
	ts  query.Path
	key []query.Path
	top []query.Path
}

// flowVerdict is what a filter says of flow events.
type flowVerdict uint8

const (
	flowVaries flowVerdict = iota
	flowAll                // the filter matches every flow
	flowNone               // the filter matches no flow
)

// flowVerdictOf evaluates a filter that reads only values all flows share
// once, on a flow event.
func flowVerdictOf(m query.Matcher) flowVerdict {
	if m == nil || !query.FlowConstant(m) {
		return flowVaries
	}
	if m.Match(query.NewEventDoc(&event.Event{Kind: event.KindFlow})) {
		return flowAll
	}
	return flowNone
}

// ruleCore is a rule's evaluation state; a reload that keeps the rule
// unchanged keeps its core.
type ruleCore struct {
	mu       sync.Mutex
	typ      Type
	silences map[string]silence
	aggs     map[string]*pendingAgg
	// retired is set when a reload dropped this state: nothing may wait in
	// it any more.
	retired bool
	// recent holds the top_count_keys values of the last documents (nil
	// when the rule has none).
	recent *recentValues

	docs, noKey, noTime, matches, fired, silenced atomic.Uint64
	evalNs                                        atomic.Int64
}

type silence struct {
	until time.Time
	exp   int
}

type pendingAgg struct {
	key       string
	alertTime time.Time
	matches   []Match
	hits      int
}

// NewEngine builds an engine for rules (see SetRules).
func NewEngine(rules []*Rule, cfg EngineConfig) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{cfg: cfg}
	e.scratch.New = func() any { return &processScratch{vals: make([]query.Value, 0, 8)} }
	e.snap.Store(buildSnapshot(rules, nil))
	return e
}

// buildSnapshot builds the rule set, reusing the cores of old rules with
// the same name and hash.
func buildSnapshot(rules []*Rule, old *snapshot) *snapshot {
	s := &snapshot{byName: make(map[string]*ruleState, len(rules))}
	spread := guardSpread(rules)
	for _, r := range rules {
		if r == nil {
			continue
		}
		rs := &ruleState{rule: r, ts: query.NewPath(r.TimestampField)}
		for _, k := range r.Spec.QueryKey {
			rs.key = append(rs.key, query.NewPath(k))
		}
		for _, k := range r.TopCountKeys {
			rs.top = append(rs.top, query.NewPath(k))
		}
		if r.Filter != nil {
			rs.flow = flowVerdictOf(r.Filter)
			rs.ranges = query.RangeGuards(r.Filter)
			rs.terms = query.TermGuards(r.Filter)
			// The rule is found by the term whose field the rules tell
			// apart best (ten rules on event.action:deny, each on its own
			// destination.port, are found by the port: a deny on another
			// port then runs none of them); the others are checked
			// before the filter.
			best := -1
			for i, g := range rs.terms {
				if best < 0 || spread[g.Path] > spread[rs.terms[best].Path] {
					best = i
				}
			}
			if best >= 0 {
				rs.guard, rs.hasGuard = rs.terms[best], true
				rs.terms = slices.Delete(slices.Clone(rs.terms), best, best+1)
			}
		}
		switch {
		case s.byName[r.Spec.Name] != nil:
			rs.err = fmt.Sprintf("another rule is named %q; this one does not run", r.Spec.Name)
			s.all = append(s.all, rs)
			continue
		case r.Disabled:
			rs.err = "disabled (is_enabled: false)"
		default:
			if old != nil {
				if o := old.byName[r.Spec.Name]; o != nil && o.core != nil && o.rule.Hash == r.Hash && r.Hash != "" {
					rs.core = o.core
				}
			}
			if rs.core == nil {
				typ, err := newType(r)
				if err != nil {
					rs.err = err.Error()
				} else {
					rs.core = &ruleCore{typ: typ, silences: map[string]silence{}, aggs: map[string]*pendingAgg{}}
					if len(r.TopCountKeys) > 0 {
						rs.core.recent = newRecentValues(len(r.TopCountKeys))
					}
				}
			}
		}
		s.byName[r.Spec.Name] = rs
		s.all = append(s.all, rs)
		if rs.core != nil {
			s.rules = append(s.rules, rs)
		}
	}
	return s
}

// guardSpread counts, per field path, the distinct values the rules'
// term guards name on it: how well a lookup of that field tells the rules
// apart.
func guardSpread(rules []*Rule) map[string]int {
	seen := map[string]map[string]bool{}
	for _, r := range rules {
		if r == nil || r.Filter == nil {
			continue
		}
		for _, g := range query.TermGuards(r.Filter) {
			m := seen[g.Path]
			if m == nil {
				m = map[string]bool{}
				seen[g.Path] = m
			}
			for _, k := range g.Keys {
				if t, ok := k.Text(); ok {
					m[t] = true
				}
			}
		}
	}
	out := make(map[string]int, len(seen))
	for p, m := range seen {
		out[p] = len(m)
	}
	return out
}

func newType(r *Rule) (Type, error) {
	c := Constructors[r.Spec.Type]
	if c == nil {
		return nil, fmt.Errorf("rule type %q is not built into this sluice", r.Spec.Type)
	}
	t, err := c(&r.Spec)
	if err != nil {
		return nil, fmt.Errorf("rule type %s: %w", r.Spec.Type, err)
	}
	return t, nil
}

// indexRules are the running rules of one index name, arranged for
// Process: those with a guard (a term every match must satisfy, see
// query.GuardOf) are found by the values of the guarded field, the others
// are evaluated on every document.
type indexRules struct {
	all    []*ruleState // load order
	always []*ruleState // no guard
	groups []guardGroup
}

// guardGroup holds the guarded rules of one field path, by key: one map
// per kind of key, since a map of strings (or numbers, or addresses) hashes
// faster than one of the struct.
type guardGroup struct {
	path   string
	field  query.Path // the registered path, for its Values
	byText map[string][]*ruleState
	// fewText and fewRules are byText as a list while it holds at most
	// fewTextKeys keys: comparing a value with one to four keys
	// (network.transport:udp, event.action:deny) costs less than hashing
	// it.
	fewText  []string
	fewRules [][]*ruleState
	byNum    map[float64][]*ruleState
	byIP     map[netip.Addr][]*ruleState
	// A first test that most values fail without hashing them: the
	// lengths of the text keys (those of 64 bytes and more share bit 63),
	// the range of the numbers, the last bytes of the addresses.
	textLens       uint64
	numLo, numHi   float64
	ipLast         [4]uint64
	hasNum, hasIPs bool
	// kinds are the kinds of its keys: a value's keys of other kinds
	// are not worked out.
	kinds query.KeyKinds
	// flowConst: every flow has the same values of the path
	// (query.Path.FlowConstant); flowRules are the rules they find, in
	// the order Process finds them.
	flowConst bool
	flowRules []*ruleState
}

// mayHold reports whether key k can be one of g's keys.
func (g *guardGroup) mayHold(k *query.GuardKey) bool {
	switch k.Kind() {
	case query.KeyText:
		s, _ := k.Text()
		return g.textLens&(1<<min(len(s), 63)) != 0
	case query.KeyNum:
		n, _ := k.Num()
		return g.hasNum && n >= g.numLo && n <= g.numHi
	case query.KeyIP:
		a, _ := k.Addr()
		b := a.As16()[15]
		return g.hasIPs && g.ipLast[b>>6]&(1<<(b&63)) != 0
	}
	return false
}

func (g *guardGroup) add(k query.GuardKey, rs *ruleState) {
	add := func(l []*ruleState) []*ruleState {
		if slices.Contains(l, rs) {
			return l
		}
		return append(l, rs)
	}
	g.kinds |= k.Kind()
	if s, ok := k.Text(); ok {
		g.byText[s] = add(g.byText[s])
		g.textLens |= 1 << min(len(s), 63)
		g.fewText, g.fewRules = g.fewText[:0], g.fewRules[:0]
		if len(g.byText) <= fewTextKeys {
			for t, l := range g.byText {
				g.fewText, g.fewRules = append(g.fewText, t), append(g.fewRules, l)
			}
		}
	} else if n, ok := k.Num(); ok {
		g.byNum[n] = add(g.byNum[n])
		if !g.hasNum || n < g.numLo {
			g.numLo = n
		}
		if !g.hasNum || n > g.numHi {
			g.numHi = n
		}
		g.hasNum = true
	} else if a, ok := k.Addr(); ok {
		g.byIP[a] = add(g.byIP[a])
		b := a.As16()[15]
		g.ipLast[b>>6] |= 1 << (b & 63)
		g.hasIPs = true
	}
}

// fewTextKeys bounds guardGroup.fewText.
const fewTextKeys = 4

// textRules returns the rules of text key s.
func (g *guardGroup) textRules(s string) []*ruleState {
	if len(g.byText) <= fewTextKeys {
		for i, t := range g.fewText {
			if t == s {
				return g.fewRules[i]
			}
		}
		return nil
	}
	return g.byText[s]
}

func (g *guardGroup) rules(k *query.GuardKey) []*ruleState {
	if !g.mayHold(k) {
		return nil
	}
	switch k.Kind() {
	case query.KeyText:
		s, _ := k.Text()
		return g.textRules(s)
	case query.KeyNum:
		n, _ := k.Num()
		return g.byNum[n]
	case query.KeyIP:
		a, _ := k.Addr()
		return g.byIP[a]
	}
	return nil
}

// valueRules appends to sc.done the rules of g whose key v has (each
// once). It is ValueKeysOf and rules without building the keys of a
// number, an address or text that mayHold turns away (the keys of
// those are the value itself: see query.ValueKeys).
func (g *guardGroup) valueRules(v *query.Value, sc *processScratch) {
	var found []*ruleState
	switch v.Kind {
	case query.KindNumber:
		if !g.hasNum || v.Num < g.numLo || v.Num > g.numHi {
			return
		}
		found = g.byNum[v.Num]
	case query.KindIP:
		if !g.hasIPs {
			return
		}
		a := v.IP.WithZone("").Unmap()
		if b := a.As16()[15]; g.ipLast[b>>6]&(1<<(b&63)) == 0 {
			return
		}
		found = g.byIP[a]
	case query.KindString:
		if g.kinds&^query.KeyText == 0 {
			// Only text keys: the string is its one key.
			if g.textLens&(1<<min(len(v.Str), 63)) == 0 {
				return
			}
			found = g.textRules(v.Str)
			break
		}
		fallthrough
	default:
		sc.keys = query.ValueKeysOf(v, g.kinds, sc.keys[:0])
		for ki := range sc.keys {
			for _, rs := range g.rules(&sc.keys[ki]) {
				if !slices.Contains(sc.done, rs) {
					sc.done = append(sc.done, rs)
				}
			}
		}
		return
	}
	for _, rs := range found {
		if !slices.Contains(sc.done, rs) {
			sc.done = append(sc.done, rs)
		}
	}
}

func newIndexRules(rules []*ruleState) *indexRules {
	ir := &indexRules{all: rules}
	for _, rs := range rules {
		g := rs.guard
		if !rs.hasGuard {
			ir.always = append(ir.always, rs)
			continue
		}
		i := slices.IndexFunc(ir.groups, func(gg guardGroup) bool { return gg.path == g.Path })
		if i < 0 {
			ir.groups = append(ir.groups, guardGroup{path: g.Path, field: query.NewPath(g.Path), byText: map[string][]*ruleState{},
				byNum: map[float64][]*ruleState{}, byIP: map[netip.Addr][]*ruleState{}})
			i = len(ir.groups) - 1
		}
		for _, k := range g.Keys {
			ir.groups[i].add(k, rs)
		}
	}
	for gi := range ir.groups {
		g := &ir.groups[gi]
		if !g.field.FlowConstant() {
			continue
		}
		sc := &processScratch{}
		vals := g.field.Values(query.NewEventDoc(&event.Event{Kind: event.KindFlow}), nil)
		for i := range vals {
			g.valueRules(&vals[i], sc)
		}
		g.flowConst, g.flowRules = true, sc.done
	}
	return ir
}

// forIndex returns the running rules whose index patterns match index.
func (s *snapshot) forIndex(index string) *indexRules {
	if v, ok := s.idx.Load(index); ok {
		return v.(*indexRules)
	}
	var out []*ruleState
	for _, rs := range s.rules {
		if indexMatch(rs.rule.Index, index) {
			out = append(out, rs)
		}
	}
	ir := newIndexRules(out)
	if s.idxN.Load() < maxIndexCache && s.idxN.Add(1) <= maxIndexCache {
		s.idx.Store(index, ir)
	}
	return ir
}

// SetRules replaces the rule set (a reload): a rule with the same name and
// Hash keeps its windows, silences and pending aggregations; a changed
// rule starts fresh; a removed one goes. Pending aggregations of changed
// and removed rules are emitted now rather than lost (and a match that a
// Process call running during the swap still gives the old state is
// emitted at once).
func (e *Engine) SetRules(rules []*Rule) {
	e.setMu.Lock()
	defer e.setMu.Unlock()
	old := e.snap.Load()
	ns := buildSnapshot(rules, old)
	e.snap.Store(ns)
	for _, ors := range old.rules {
		if nrs := ns.byName[ors.rule.Spec.Name]; nrs != nil && nrs.core == ors.core {
			continue
		}
		c := ors.core
		c.mu.Lock()
		c.retired = true
		out := c.flushAggs(ors.rule, nil, time.Time{}, true)
		c.mu.Unlock()
		e.emit(out)
	}
}

func (e *Engine) emit(out []*Fired) {
	if e.cfg.Emit == nil {
		return
	}
	for _, f := range out {
		e.cfg.Emit(f)
	}
}

// Process evaluates one document against every rule whose index patterns
// match index (the document's index or daily file name, such as
// "sluice-syslog-2026.12.07") and whose filter matches. The document is not
// kept: a match copies it.
func (e *Engine) Process(doc query.Doc, index string) {
	p := e.Processor()
	p.Process(doc, index)
	p.Release()
}

// Processor evaluates documents one after the other with one working
// space: cheaper than Process for each document of a batch. It is not
// safe for concurrent use; Release it after the batch.
type Processor struct {
	e  *Engine
	sc *processScratch
}

// Processor returns a Processor of e.
func (e *Engine) Processor() *Processor {
	return &Processor{e: e, sc: e.scratch.Get().(*processScratch)}
}

// Release gives the Processor's working space back; p must not be used
// after.
func (p *Processor) Release() {
	// The scratch must not keep the batch's documents alive in the pool.
	sc := p.sc
	clear(sc.vals[:cap(sc.vals)])
	clear(sc.keys[:cap(sc.keys)])
	clear(sc.done[:cap(sc.done)])
	clear(sc.rangeVals[:cap(sc.rangeVals)])
	sc.vals, sc.keys, sc.done = sc.vals[:0], sc.keys[:0], sc.done[:0]
	sc.rangeVals, sc.rangeOK, sc.flow = sc.rangeVals[:0], false, false
	p.e.scratch.Put(p.sc)
	p.sc = nil
}

// Process is Engine.Process.
func (p *Processor) Process(doc query.Doc, index string) {
	e, sc := p.e, p.sc
	s := e.snap.Load()
	// Consecutive documents mostly share an index name (the same string,
	// from the namer's cache): skip the lookup then.
	ir := sc.ir
	if sc.snap != s || sc.index != index || ir == nil {
		ir = s.forIndex(index)
		sc.snap, sc.index, sc.ir = s, index, ir
	}
	if len(ir.all) == 0 {
		return
	}
	ed, _ := doc.(*query.EventDoc)
	flow := ed != nil && ed.IsFlow()
	sc.flow, sc.rangeOK = flow, false
	for _, rs := range ir.always {
		e.evaluate(rs, doc, index, sc)
	}
	for gi := range ir.groups {
		g := &ir.groups[gi]
		if flow && g.flowConst {
			for _, rs := range g.flowRules {
				e.evaluate(rs, doc, index, sc)
			}
			continue
		}
		sc.vals = g.field.Values(doc, sc.vals[:0])
		if len(sc.vals) == 0 {
			continue
		}
		// The rules found by any key of any value, each once, in the
		// order found.
		sc.done = sc.done[:0]
		for i := range sc.vals {
			g.valueRules(&sc.vals[i], sc)
		}
		for _, rs := range sc.done {
			e.evaluate(rs, doc, index, sc)
		}
	}
	// What they point to is cleared once per batch, in Release.
	sc.vals, sc.keys, sc.done = sc.vals[:0], sc.keys[:0], sc.done[:0]
	sc.rangeOK = false
}

// processScratch is the working memory of one Process call.
type processScratch struct {
	ev      Event
	topVals []string // top_count_keys values of the document (borrowed)
	topOK   []bool
	owned   [64]string // query_key values recently copied, by keySlot
	vals    []query.Value
	keys    []query.GuardKey
	text    []byte           // a query_key value rendered as text
	gkeys   []query.GuardKey // evaluate's
	done    []*ruleState
	out     []*Fired
	n       uint32 // calls, to sample the evaluation time
	// flow: the document is a flow event (EventDoc.IsFlow).
	flow bool
	// rangeVals are the values of the path rangePath of the document,
	// read for a range guard (rangeOK): the rules found by one guard
	// mostly put their ranges on one field (destination.port).
	rangeVals []query.Value
	rangePath string
	rangeOK   bool
	// ipText are query_key addresses rendered as text and copied (a
	// rule keyed by observer.ip renders the same few addresses for
	// every document), by the address's last byte.
	ipText [16]ipText
	// The rules of the last index name seen, in the last snapshot.
	snap  *snapshot
	index string
	ir    *indexRules
}

// intern returns a copy of s that outlives the event (its text may point
// into the event's batch), from the last copies made when one is equal:
// consecutive events mostly share their query_key value (a host, an
// address), and a copy per event was half of the stage's allocations.
func (sc *processScratch) intern(s string) string {
	i := keySlot(s)
	if o := sc.owned[i]; o == s {
		return o
	}
	o := strings.Clone(s)
	sc.owned[i] = o
	return o
}

type ipText struct {
	a netip.Addr
	s string
}

// addrText returns the text of a valid address a, owned (as intern's).
func (sc *processScratch) addrText(a netip.Addr) string {
	var last byte
	if a.Is4() {
		last = a.As4()[3]
	} else {
		last = a.As16()[15]
	}
	c := &sc.ipText[last&15]
	if c.a == a && c.s != "" {
		return c.s
	}
	sc.text = a.AppendTo(sc.text[:0])
	s := sc.intern(unsafe.String(&sc.text[0], len(sc.text)))
	*c = ipText{a: a, s: s}
	return s
}

// keySlot is a slot of processScratch.owned for s: its length and a few
// of its bytes (a collision only costs a copy).
func keySlot(s string) int {
	n := len(s)
	if n == 0 {
		return 0
	}
	return (n*31 + int(s[0])*7 + int(s[n-1])*3 + int(s[n/2])) & 63
}

// evaluate runs one rule on doc: its filter, then its type.
func (e *Engine) evaluate(rs *ruleState, doc query.Doc, index string, sc *processScratch) {
	r := rs.rule
	switch {
	case sc.flow && rs.flow == flowNone:
		return
	case sc.flow && rs.flow == flowAll:
		// Its guards are clauses of the filter: they admit every flow
		// too.
	default:
		for i := range rs.ranges {
			g := &rs.ranges[i]
			if !sc.rangeOK || sc.rangePath != g.Path {
				sc.rangeVals = g.Values(doc, sc.rangeVals[:0])
				sc.rangePath, sc.rangeOK = g.Path, true
			}
			if !g.Admits(sc.rangeVals) {
				return
			}
		}
		for _, g := range rs.terms {
			sc.vals = g.Values(doc, sc.vals[:0])
			var ok bool
			if ok, sc.gkeys = g.Admits(sc.vals, sc.gkeys); !ok {
				return
			}
		}
		if r.Filter != nil && !r.Filter.Match(doc) {
			return
		}
	}
	c := rs.core
	c.docs.Add(1)
	// The types do not keep ev (only what they copy from it): it lives
	// in the scratch, not on the heap.
	sc.ev = Event{Doc: doc}
	ev := &sc.ev
	vals := rs.ts.Values(doc, sc.vals[:0])
	t, ok := docTime(vals)
	if !ok {
		t = e.cfg.Now()
		c.noTime.Add(1)
	}
	ev.Time = t
	if len(r.Spec.QueryKey) > 0 {
		key, ok := queryKeyOf(doc, rs.key, &vals, sc)
		if !ok {
			sc.vals = vals[:0]
			c.noKey.Add(1)
			return
		}
		ev.Key = key
	}
	sc.vals = vals[:0]
	// The time of one evaluation in 16, scaled: reading the clock for
	// each document cost as much as a filter.
	sc.n++
	timed := sc.n%16 == 0
	var start time.Time
	if timed {
		start = time.Now()
	}
	out := sc.out[:0]
	if len(rs.top) > 0 {
		sc.topVals, sc.topOK = sc.topVals[:0], sc.topOK[:0]
		for _, p := range rs.top {
			sc.vals = p.Values(doc, sc.vals[:0])
			v, _, ok := fieldText(sc.vals)
			sc.topVals, sc.topOK = append(sc.topVals, v), append(sc.topOK, ok)
		}
		sc.vals = sc.vals[:0]
	}
	c.mu.Lock()
	if c.recent != nil && len(rs.top) == len(r.TopCountKeys) {
		c.recent.add(t, ev.Key, sc.topVals, sc.topOK)
	}
	if ms := c.typ.Add(ev); len(ms) > 0 {
		for i := range ms {
			if ms[i].Doc != nil {
				ms[i].Index = index
			}
		}
		out = c.handle(r, ms, e.cfg.Now(), e.cfg.EventClock, out)
	}
	c.mu.Unlock()
	// The document is not the scratch's to keep (a defer here cost as
	// much as a term guard).
	sc.ev = Event{}
	clear(sc.topVals)
	if timed {
		c.evalNs.Add(16 * int64(time.Since(start)))
	}
	if len(out) > 0 {
		e.emit(out)
		clear(out)
	}
	sc.out = out[:0]
}

// Seeder is implemented by rule types that learn from history without
// matching (new_term's terms seen within terms_window_size).
type Seeder interface {
	Seed(ev *Event)
}

// SeedRules returns the running rules whose type takes history (Seeder),
// so the caller knows which to feed past documents to, and how far back
// (their Spec).
func (e *Engine) SeedRules() []*Rule {
	var out []*Rule
	for _, rs := range e.snap.Load().rules {
		rs.core.mu.Lock()
		_, ok := rs.core.typ.(Seeder)
		rs.core.mu.Unlock()
		if ok {
			out = append(out, rs.rule)
		}
	}
	return out
}

// Seed gives a past document to the rules that take history (Seeder)
// whose index and filter match it; nothing matches or is emitted. Other
// rules do not see it.
func (e *Engine) Seed(doc query.Doc, index string) {
	s := e.snap.Load()
	var vals []query.Value
	for _, rs := range s.forIndex(index).all {
		r := rs.rule
		c := rs.core
		c.mu.Lock()
		sd, ok := c.typ.(Seeder)
		c.mu.Unlock()
		if !ok || (r.Filter != nil && !r.Filter.Match(doc)) {
			continue
		}
		ev := Event{Doc: doc}
		vals = rs.ts.Values(doc, vals[:0])
		t, ok := docTime(vals)
		if !ok {
			continue // history without a time cannot be placed in a window
		}
		ev.Time = t
		if len(r.Spec.QueryKey) > 0 {
			key, ok := queryKeyOf(doc, rs.key, &vals, nil)
			if !ok {
				continue
			}
			ev.Key = key
		}
		c.mu.Lock()
		// The type may have been replaced by LoadState meanwhile.
		if sd, ok = c.typ.(Seeder); ok {
			sd.Seed(&ev)
		}
		c.mu.Unlock()
	}
}

// docTime reads a document time: a time value, or text in RFC 3339 (with
// or without a zone; none means UTC).
func docTime(vals []query.Value) (time.Time, bool) {
	if len(vals) == 0 {
		return time.Time{}, false
	}
	switch v := &vals[0]; v.Kind {
	case query.KindTime:
		return v.Time, !v.Time.IsZero()
	case query.KindString:
		if t, err := time.Parse(time.RFC3339Nano, v.Str); err == nil {
			return t, true
		}
		if t, err := time.Parse("2006-01-02T15:04:05.999999999", v.Str); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// queryKeyOf joins the values of the query_key fields with ", " (the
// values of one multi-valued field with ","); ok is false when a field is
// missing: such a document is skipped for the rule and counted (ElastAlert
// would key it under None, which alerts about documents nobody can tell
// apart). The key outlives the document: it is a copy, made by sc when
// not nil, which reuses its earlier copies (a copy per document was half
// of the stage's allocations; an address as the query_key cost one per
// document), else by strings.Clone.
func queryKeyOf(doc query.Doc, fields []query.Path, buf *[]query.Value, sc *processScratch) (string, bool) {
	if len(fields) == 1 {
		*buf = fields[0].Values(doc, (*buf)[:0])
		if vals := *buf; sc != nil && len(vals) == 1 && vals[0].Kind != query.KindString {
			v := &vals[0]
			if v.Kind == query.KindIP && v.IP.IsValid() && v.IP.Zone() == "" {
				return sc.addrText(v.IP), true
			}
			sc.text = appendValueText(sc.text[:0], v)
			if len(sc.text) == 0 {
				return "", true
			}
			return sc.intern(unsafe.String(&sc.text[0], len(sc.text))), true
		}
		s, borrowed, ok := fieldText(*buf)
		if borrowed {
			if sc != nil {
				s = sc.intern(s)
			} else {
				s = strings.Clone(s)
			}
		}
		return s, ok
	}
	var b strings.Builder
	for i, f := range fields {
		*buf = f.Values(doc, (*buf)[:0])
		s, _, ok := fieldText(*buf)
		if !ok {
			return "", false
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	return b.String(), true
}

// Tick runs the time-driven part of every rule with the wall clock: the
// types' Tick (flatline and the bucketed types), aggregation windows that
// ended, and the expiry of realert silences. Call it about once a second.
func (e *Engine) Tick(now time.Time) {
	s := e.snap.Load()
	var out []*Fired
	for _, rs := range s.rules {
		c := rs.core
		start := time.Now()
		c.mu.Lock()
		if ms := c.typ.Tick(now); len(ms) > 0 {
			out = c.handle(rs.rule, ms, now, e.cfg.EventClock, out)
		}
		out = c.flushAggs(rs.rule, out, now, false)
		c.expireSilences(rs.rule, now)
		c.mu.Unlock()
		c.evalNs.Add(int64(time.Since(start)))
		if len(out) > 0 {
			e.emit(out)
			out = out[:0]
		}
	}
}

// handle applies realert and aggregation to a type's matches, as
// ElastAlert's run_rule does: a match for a silenced key is only recorded;
// otherwise the silence is (re)set and the match is alerted or aggregated.
// The caller holds c.mu.
func (c *ruleCore) handle(r *Rule, ms []Match, wall time.Time, eventClock bool, out []*Fired) []*Fired {
	for _, m := range ms {
		c.matches.Add(1)
		now := wall
		if eventClock && !m.Time.IsZero() {
			now = m.Time
		}
		nh := numHits(m)
		if sil, ok := c.silences[m.Key]; ok && now.Before(sil.until) {
			c.silenced.Add(1)
			out = append(out, &Fired{Rule: r, Matches: []Match{m}, Key: m.Key, Silenced: true, NumHits: nh})
			continue
		}
		if r.Realert > 0 {
			var prev *silence
			if sil, ok := c.silences[m.Key]; ok {
				prev = &sil
			}
			c.setSilence(r, m.Key, nextSilence(r, prev, now))
		}
		if r.Aggregation > 0 || r.schedule != nil {
			out = c.aggregate(r, m, now, out)
			if c.retired {
				out = c.flushAggs(r, out, now, true)
			}
			continue
		}
		c.fired.Add(1)
		out = append(out, &Fired{Rule: r, Matches: []Match{m}, Key: m.Key, NumHits: nh, TopCounts: c.topCounts(r, m.Key, m.Time, now)})
	}
	return out
}

// topCounts returns the top_count_keys counts for an alert of key at t
// (now when the match has no time), or nil when the rule has none.
func (c *ruleCore) topCounts(r *Rule, key string, t, now time.Time) map[string]map[string]int {
	if c.recent == nil {
		return nil
	}
	if t.IsZero() {
		t = now
	}
	window := r.Spec.Timeframe
	if window <= 0 {
		window = defaultTopWindow
	}
	return c.recent.counts(r.TopCountKeys, key, t, window)
}

func numHits(m Match) int {
	switch v := m.Extra["num_hits"].(type) {
	case int:
		return v
	case float64:
		if v >= 0 && v < math.MaxInt32 {
			return int(v)
		}
	}
	return 0
}

// nextSilence is ElastAlert's next_alert_time: the silence after an alert
// at now, growing (exponential_realert) when alerts keep coming right after
// silences end and shrinking again after quiet periods.
func nextSilence(r *Rule, prev *silence, now time.Time) silence {
	if prev == nil || r.ExponentialRealert <= 0 {
		return silence{until: now.Add(r.Realert)}
	}
	base := r.Realert.Seconds()
	diff := now.Sub(prev.until).Seconds()
	exp := min(max(prev.exp, 0), 62)
	if diff < base*math.Ldexp(1, exp) {
		exp++
	} else {
		for diff > base*math.Ldexp(1, exp) && exp > 0 {
			diff -= base * math.Ldexp(1, exp)
			exp--
		}
	}
	wait := base * math.Ldexp(1, exp)
	if wait >= r.ExponentialRealert.Seconds() {
		// ElastAlert keeps exp-1 here; below 0 it would only shorten the
		// next growth step, so it stays at 0.
		return silence{until: now.Add(r.ExponentialRealert), exp: max(exp-1, 0)}
	}
	return silence{until: now.Add(time.Duration(wait * float64(time.Second))), exp: exp}
}

// setSilence records a silence, keeping at most max_keys of them (the one
// that ends first goes).
func (c *ruleCore) setSilence(r *Rule, key string, s silence) {
	if _, ok := c.silences[key]; !ok && len(c.silences) >= maxKeysOf(r) {
		var victim string
		var first time.Time
		found := false
		for k, v := range c.silences {
			if !found || v.until.Before(first) {
				victim, first, found = k, v.until, true
			}
		}
		delete(c.silences, victim)
	}
	c.silences[key] = s
}

func maxKeysOf(r *Rule) int {
	if r.Spec.MaxKeys > 0 {
		return r.Spec.MaxKeys
	}
	return DefaultMaxKeys
}

// expireSilences forgets silences that can no longer matter: ended ones,
// and with exponential_realert ended ones whose back-off has decayed to the
// first step (ElastAlert's next_alert_time gives the same silence then).
func (c *ruleCore) expireSilences(r *Rule, now time.Time) {
	for k, s := range c.silences {
		end := s.until
		if r.ExponentialRealert > 0 {
			end = end.Add(time.Duration(r.Realert.Seconds() * math.Ldexp(1, min(s.exp, 62)+1) * float64(time.Second)))
		}
		if !now.Before(end) {
			delete(c.silences, k)
		}
	}
}

// aggregate adds a match to its pending aggregation (per aggregation_key
// value), opening one that ends aggregation after now or at the schedule's
// next time. The caller holds c.mu.
func (c *ruleCore) aggregate(r *Rule, m Match, now time.Time, out []*Fired) []*Fired {
	ak := aggregationKeyOf(r, m)
	p := c.aggs[ak]
	if p == nil {
		if len(c.aggs) >= maxKeysOf(r) {
			// Too many open aggregations: send the one due first now.
			var first *pendingAgg
			for _, q := range c.aggs {
				if first == nil || q.alertTime.Before(first.alertTime) {
					first = q
				}
			}
			delete(c.aggs, first.key)
			out = append(out, c.fire(r, first))
		}
		at := now.Add(r.Aggregation)
		if r.schedule != nil {
			at = r.schedule.Next(now)
		}
		p = &pendingAgg{key: ak, alertTime: at}
		c.aggs[ak] = p
	}
	p.hits++
	if len(p.matches) < maxAggMatches {
		p.matches = append(p.matches, m)
	}
	return out
}

func (c *ruleCore) fire(r *Rule, p *pendingAgg) *Fired {
	c.fired.Add(1)
	f := &Fired{Rule: r, Matches: p.matches, Key: p.key, Aggregated: true, NumHits: p.hits}
	if len(p.matches) > 0 {
		// The counts before the first match of the aggregation.
		f.TopCounts = c.topCounts(r, p.matches[0].Key, p.matches[0].Time, p.alertTime)
	}
	return f
}

// flushAggs emits the aggregations due at now (all of them with all).
func (c *ruleCore) flushAggs(r *Rule, out []*Fired, now time.Time, all bool) []*Fired {
	if len(c.aggs) == 0 {
		return out
	}
	var due []*pendingAgg
	for k, p := range c.aggs {
		if all || !now.Before(p.alertTime) {
			due = append(due, p)
			delete(c.aggs, k)
		}
	}
	slices.SortFunc(due, func(a, b *pendingAgg) int {
		if c := a.alertTime.Compare(b.alertTime); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	for _, p := range due {
		out = append(out, c.fire(r, p))
	}
	return out
}

// aggregationKeyOf is the match's aggregation_key value: the query_key
// value when both name the same fields, else the fields' values read from
// the match's document ("" for a missing one).
func aggregationKeyOf(r *Rule, m Match) string {
	if len(r.AggregationKey) == 0 {
		return ""
	}
	if slices.Equal(r.AggregationKey, r.Spec.QueryKey) {
		return m.Key
	}
	parts := make([]string, len(r.AggregationKey))
	for i, f := range r.AggregationKey {
		parts[i] = jsonFieldText(m.Doc, f)
	}
	return strings.Join(parts, ", ")
}

// Stats returns each loaded rule's counters, in load order.
func (e *Engine) Stats() []RuleStats {
	s := e.snap.Load()
	out := make([]RuleStats, 0, len(s.all))
	for _, rs := range s.all {
		st := RuleStats{Name: rs.rule.Spec.Name, Err: rs.err}
		if c := rs.core; c != nil {
			st.Docs = c.docs.Load()
			st.NoKey = c.noKey.Load()
			st.NoTime = c.noTime.Load()
			st.Matches = c.matches.Load()
			st.Fired = c.fired.Load()
			st.Silenced = c.silenced.Load()
			st.EvalTime = time.Duration(c.evalNs.Load())
			c.mu.Lock()
			st.Evictions = c.typ.Evictions()
			c.mu.Unlock()
		}
		out = append(out, st)
	}
	return out
}
