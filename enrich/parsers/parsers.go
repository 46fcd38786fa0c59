// Package parsers parses the messages of syslog events from known devices
// (Cisco Meraki, F5 BIG-IP ASM, Linux netfilter/UFW/firewalld, Cisco
// ASA/FTD, FortiGate, Juniper, pfSense/OPNsense, PAN-OS, MikroTik,
// Ubiquiti) into ECS
// fields, following parser files: YAML rules shipped in configs/parsers
// (embedded) plus those of syslog.parsers.rule_dirs, with grok patterns
// from configs/patterns plus syslog.parsers.pattern_dirs. The rule
// language is described in configs/parsers/README.md.
//
// A parser is chosen per event by the configured routes (sender prefix,
// program), then by the parsers' detect conditions. Events no parser
// claims are left as they are; events a parser claims but none of its
// rules parses keep their message and are tagged _grokparsefailure.
package parsers

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/enrich/grok"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// Stage parses syslog messages with the vendor parsers. It is safe for
// concurrent use: everything compiled in New is read-only afterwards and
// each Process call takes its scratch space from a pool.
type Stage struct {
	parsers []*parser
	routes  []route
	auto    bool
	// The parsers' detect conditions, those naming app names first.
	byApp, byMessage []detector
	m                *metrics
	pool             sync.Pool
}

var _ pipeline.Stage = (*Stage)(nil)

type detector struct {
	c *cond
	p *parser
	// first holds the bytes the app name (byApp) or the message (byMessage,
	// when the condition names prefixes) can start with, so that most
	// conditions are ruled out without a call; nil: no such filter.
	first *[256]bool
}

// firstBytes returns the table of the first bytes of words.
func firstBytes(words ...[]string) *[256]bool {
	t := new([256]bool)
	for _, ws := range words {
		for _, w := range ws {
			if w != "" {
				t[w[0]] = true
			}
		}
	}
	return t
}

type route struct {
	senders   []netip.Prefix
	programs  []string
	listeners []string
	parser    *parser
	indexRef  event.IndexRef
}

// New loads and compiles the grok patterns and parser files and checks
// the routes. Errors name the file and line, or the config key.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Stage, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "enrich/parsers")
	lib, err := grok.BaseLibrary()
	if err != nil {
		return nil, err
	}
	for i, d := range cfg.PatternDirs {
		if err := lib.LoadDir(d); err != nil {
			return nil, fmt.Errorf("syslog.parsers.pattern_dirs[%d]: %w", i, err)
		}
	}
	c := &compiler{lib: lib, loc: cfg.Location}
	parsers, err := compileAll(c, cfg.RuleDirs, logger)
	if err != nil {
		return nil, err
	}
	s := &Stage{parsers: parsers, auto: cfg.Auto}
	for _, p := range parsers {
		for i := range p.detect {
			d := detector{c: &p.detect[i], p: p}
			if d.c.onApp() {
				d.first = firstBytes(d.c.apps, d.c.appPrefixes)
				s.byApp = append(s.byApp, d)
			} else {
				if len(d.c.prefixes) > 0 {
					d.first = firstBytes(d.c.prefixes)
				}
				s.byMessage = append(s.byMessage, d)
			}
		}
	}
	for i, r := range cfg.Routes {
		var p *parser
		for _, q := range parsers {
			if q.name == r.Parser {
				p = q
			}
		}
		if p == nil {
			return nil, fmt.Errorf("syslog.parsers.routes[%d].parser: no parser %q; known parsers: %s", i, r.Parser, names(parsers))
		}
		rt := route{programs: r.Programs, listeners: r.Listeners, parser: p}
		if r.Index != "" {
			if rt.indexRef, err = event.RegisterIndex(r.Index); err != nil {
				return nil, fmt.Errorf("syslog.parsers.routes[%d].index: %w", i, err)
			}
		}
		for _, pf := range r.Senders {
			rt.senders = append(rt.senders, pf.Masked())
		}
		s.routes = append(s.routes, rt)
	}
	s.m, err = newMetrics(reg, parsers)
	if err != nil {
		return nil, err
	}
	n := len(s.m.counters)
	s.pool.New = func() any { return newState(n) }
	logger.Info("syslog parsers loaded", "parsers", names(parsers), "routes", len(s.routes), "auto", s.auto)
	return s, nil
}

// Indices returns the index patterns the parsers, rules and routes name
// besides the default (for Elasticsearch templates), each once.
func (s *Stage) Indices() []string {
	seen := map[event.IndexRef]bool{}
	var out []string
	add := func(r event.IndexRef) {
		if r != 0 && !seen[r] {
			seen[r] = true
			out = append(out, event.IndexPattern(r))
		}
	}
	for _, p := range s.parsers {
		add(p.indexRef)
		for _, r := range p.rules {
			add(r.indexRef)
		}
	}
	for _, r := range s.routes {
		add(r.indexRef)
	}
	return out
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return "parsers" }

// Process parses the syslog events of b in place. It never fails: an event
// a parser cannot parse is tagged, not dropped.
func (s *Stage) Process(_ context.Context, b *event.Batch) error {
	st := s.pool.Get().(*state)
	st.b = b
	evs := b.All()
	for i := range evs {
		e := &evs[i]
		if e.Kind != event.KindSyslog {
			continue
		}
		if p, ref := s.pick(e); p != nil {
			s.parse(st, p, e)
			if ref != 0 {
				e.Index = ref
			}
		}
	}
	for _, i := range st.touched {
		s.m.counters[i].Add(float64(st.counts[i]))
		st.counts[i] = 0
	}
	st.touched = st.touched[:0]
	// Do not keep the batch's memory alive through the pool.
	clear(st.fields[:max(st.used, len(st.fields))])
	st.fields, st.used, st.b, st.e, st.msg, st.r = st.fields[:0], 0, nil, nil, "", nil
	s.pool.Put(st)
	return nil
}

// pick returns the parser for e: the first matching route's (with the
// route's index, if it has one), else the first parser whose detect
// conditions hold (when Auto), else nil.
func (s *Stage) pick(e *event.Event) (*parser, event.IndexRef) {
	app := e.Syslog.AppName
	for i := range s.routes {
		r := &s.routes[i]
		if len(r.senders) > 0 && !inPrefixes(r.senders, e.Observer) {
			continue
		}
		if len(r.programs) > 0 && !containsFold(r.programs, app) {
			continue
		}
		if len(r.listeners) > 0 && !matchesListener(r.listeners, e.Listener) {
			continue
		}
		return r.parser, r.indexRef
	}
	if !s.auto {
		return nil, 0
	}
	// Conditions on the app name are cheap and specific: all of them
	// first, then the conditions on the message alone.
	msg := e.Syslog.Message
	if app != "" {
		for i := range s.byApp {
			if d := &s.byApp[i]; d.first[app[0]] && d.c.match(app, msg) {
				return d.p, 0
			}
		}
	}
	for i := range s.byMessage {
		d := &s.byMessage[i]
		if d.first != nil && (msg == "" || !d.first[msg[0]]) {
			continue
		}
		if d.c.matchMessage(msg) {
			return d.p, 0
		}
	}
	return nil, 0
}

func matchesListener(entries []string, id string) bool {
	for _, l := range entries {
		if listenerMatches(l, id) {
			return true
		}
	}
	return false
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// parse runs p's rules on e: the first rule whose when holds and whose
// steps all succeed is committed. When none does, e keeps its message and
// gets the tag _grokparsefailure and the dataset of the first rule for its
// app name (so that unparsed Meraki events still read meraki.events).
func (s *Stage) parse(st *state, p *parser, e *event.Event) {
	app, msg := e.Syslog.AppName, e.Syslog.Message
	st.msg, st.e = msg, e
	snap := st.snapshot()
	cands := p.anyApp
	if len(p.byApp) > 0 {
		if c, ok := p.byApp[app]; ok {
			cands = c
		}
	}
	for _, ri := range cands {
		r := p.rules[ri]
		if !r.when.matchMessage(msg) {
			continue
		}
		st.begin(r)
		if !multiStep(r.steps).run(st) {
			st.rollback(snap)
			continue
		}
		st.commit()
		ds, ctr := r.datasetFor(app)
		e.Syslog.Dataset = ds
		if r.indexRef != 0 {
			e.Index = r.indexRef
		} else {
			e.Index = p.indexRef
		}
		st.count(ctr)
		return
	}
	e.Tags |= event.TagGrokFailure
	e.Index = p.indexRef
	if len(cands) > 0 {
		e.Syslog.Dataset, _ = p.rules[cands[0]].datasetFor(app)
	}
	st.count(p.failCtr)
}
