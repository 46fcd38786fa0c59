package dnscheck

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// The reasons of sluice.dns.reasons, in the order they are written, and
// what each adds to sluice.dns.score (README.md has the table).
const (
	rBlocklist = iota
	rLookalike
	rTunnel
	rDGA
	rEncoded
	rUnsanctioned
	rNXDomain
	rUnusualType
	rLongName
	rLongLabel
	rEntropy
	rNewDomain
	rIDN
	numReasons
)

var reasonNames = [numReasons]string{
	"blocklist", "lookalike", "tunnel", "dga", "encoded", "unsanctioned_resolver",
	"nxdomain_burst", "unusual_type", "long_name", "long_label", "high_entropy", "new_domain", "idn",
}

// reasonPoints are the points of each reason; dga's are dga_score/2.
var reasonPoints = [numReasons]int{60, 40, 40, 0, 40, 30, 20, 15, 10, 10, 10, 10, 5}

// Thresholds of the per-name reasons.
const (
	dgaMin       = 50  // dga: dga_score at least this (points dga_score/2)
	longName     = 100 // long_name: more characters than this
	longLabel    = 30  // long_label: a label longer than this
	entropyMin   = 3.5 // high_entropy: bits per character of the registered label...
	entropyLabel = 10  // ...of at least this many characters
)

// unusualTypes are record types endpoints rarely ask for: data carriers
// of tunnels (TXT, NULL), zone transfers and ANY.
var unusualTypes = map[string]bool{
	"TXT": true, "NULL": true, "ANY": true, "*": true, "AXFR": true, "IXFR": true, "HINFO": true,
	"KEY": true, "SIG": true, "WKS": true, "MAILA": true, "MAILB": true, "MD": true, "MF": true,
	"TYPE10": true, "TYPE255": true, "TYPE252": true, "TYPE251": true,
}

// Stage is the DNS checks stage. It is safe for concurrent use: the
// per-name checks share nothing; the windows and the seen set are behind
// one mutex; blocklists are swapped whole on reload.
type Stage struct {
	cfg       Config
	resolvers []netip.Prefix
	watch     []watched
	lists     atomic.Pointer[lists]
	logger    *slog.Logger
	limiter   *obs.Limiter
	m         *metrics
	seed      maphash.Seed
	now       func() time.Time

	mu     sync.Mutex
	seen   *seenSet // nil: new-domain check off
	nx     *windows[netip.Addr]
	tunnel *windows[tunnelKey]

	reasons [1 << numReasons]atomic.Pointer[string]
}

var _ pipeline.Stage = (*Stage)(nil)

// New returns the stage: it reads the blocklists and the seen-domains
// file (both errors name their key or file).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Stage, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(reg, cfg.Blocklists)
	if err != nil {
		return nil, err
	}
	s := &Stage{
		cfg: cfg, resolvers: cfg.AllowedResolvers, logger: logger.With("component", "enrich/dnscheck"),
		limiter: obs.NewLimiter(time.Minute), m: m, seed: maphash.MakeSeed(), now: time.Now,
		nx: newWindows[netip.Addr](cfg.MaxClients), tunnel: newWindows[tunnelKey](cfg.MaxClients),
	}
	for _, d := range cfg.WatchDomains {
		n, _ := NormalizeDomain(d) // checked by Validate
		s.watch = append(s.watch, newWatched(n))
	}
	l, err := loadLists(cfg.Blocklists)
	if err != nil {
		return nil, err
	}
	s.setLists(l)
	if cfg.NewDomainDays > 0 {
		if cfg.StateDir == "" {
			s.seen = newSeenSet(cfg.MaxDomains)
		} else {
			seen, bad, err := loadSeen(cfg.StateDir, cfg.MaxDomains, time.Now())
			if err != nil {
				return nil, err
			}
			if bad > 0 {
				s.logger.Warn("skipped bad lines of the seen-domains file", "count", bad, "dir", cfg.StateDir)
			}
			s.seen = seen
		}
		m.entries.WithLabelValues("domains").Set(float64(len(s.seen.m)))
	}
	return s, nil
}

func (s *Stage) setLists(l *lists) {
	s.lists.Store(l)
	for i, n := range l.names {
		s.m.listEntries.WithLabelValues(n).Set(float64(l.counts[i]))
	}
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return "dnscheck" }

// Process implements pipeline.Stage.
func (s *Stage) Process(_ context.Context, b *event.Batch) error {
	evs := b.All()
	for i := range evs {
		e := &evs[i]
		if len(e.Fields) == 0 {
			if e.Kind == event.KindFlow && len(s.resolvers) > 0 {
				s.checkFlow(e)
			}
			continue
		}
		s.check(e)
	}
	// Not ctx.Err(): the runner drains the queues after ctx is cancelled
	// at shutdown, and an error would drop what is still in them.
	return nil
}

// checkFlow marks a flow to port 53/853 of a server outside the allowed
// resolvers (unless it comes from one of them: a resolver asking upstream).
func (s *Stage) checkFlow(e *event.Event) {
	if e.Dst.Port != 53 && e.Dst.Port != 853 || !e.Dst.IP.IsValid() {
		return
	}
	if e.Flow.HasProtocol && e.Flow.Protocol != 6 && e.Flow.Protocol != 17 {
		return
	}
	if s.allowed(e.Dst.IP) || e.Src.IP.IsValid() && s.allowed(e.Src.IP) {
		return
	}
	e.Flow.UnsanctionedDNS = true
	s.m.flows.Inc()
}

func (s *Stage) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.resolvers {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// check runs every check on a DNS event; other events pass untouched.
func (s *Stage) check(e *event.Event) {
	qi := -1
	var qtype, rcode string
	for j := range e.Fields {
		f := &e.Fields[j]
		switch f.Key {
		case "dns.question.name":
			if qi < 0 && f.Type == event.FieldString {
				qi = j
			}
		case "dns.question.type":
			qtype = f.S
		case "dns.response_code":
			rcode = f.S
		}
	}
	if qi < 0 {
		if e.Kind == event.KindFlow && len(s.resolvers) > 0 {
			s.checkFlow(e)
		}
		return
	}
	name := strings.TrimSuffix(e.Fields[qi].S, ".")
	s.m.events.Inc()
	var f nameFacts
	analyze(name, &f)
	var why uint32
	score := 0
	flag := func(r int) {
		why |= 1 << r
		score += reasonPoints[r]
	}
	if f.registered != "" {
		e.AddParsed(event.Field{Key: "dns.question.registered_domain", Type: event.FieldString, S: f.registered})
	}
	if f.subdomain != "" {
		e.AddParsed(event.Field{Key: "dns.question.subdomain", Type: event.FieldString, S: f.subdomain})
	}
	if f.tld != "" {
		e.AddParsed(event.Field{Key: "dns.question.top_level_domain", Type: event.FieldString, S: f.tld})
	}
	if f.unicode != "" {
		e.AddParsed(event.Field{Key: "sluice.dns.question.unicode_name", Type: event.FieldString, S: f.unicode})
		flag(rIDN)
	}
	e.AddParsed(event.Field{Key: "sluice.dns.entropy", Type: event.FieldFloat, U: math.Float64bits(math.Round(f.entropy*1000) / 1000)})
	e.AddParsed(event.Field{Key: "sluice.dns.dga_score", Type: event.FieldUint, U: uint64(f.dga)})
	e.AddParsed(event.Field{Key: "sluice.dns.name_length", Type: event.FieldUint, U: uint64(f.nameLen)})
	e.AddParsed(event.Field{Key: "sluice.dns.max_label_length", Type: event.FieldUint, U: uint64(f.maxLabel)})
	if f.dga >= dgaMin {
		why |= 1 << rDGA
		score += f.dga / 2
	}
	if f.entropy >= entropyMin && len(f.label) >= entropyLabel {
		flag(rEntropy)
	}
	if f.nameLen > longName {
		flag(rLongName)
	}
	if f.maxLabel > longLabel {
		flag(rLongLabel)
	}
	if f.encoded {
		e.AddParsed(event.Field{Key: "sluice.dns.encoded_label", Type: event.FieldBool, U: 1})
		flag(rEncoded)
	}
	if qtype != "" && unusualTypes[qtype] {
		e.AddParsed(event.Field{Key: "sluice.dns.unusual_type", Type: event.FieldBool, U: 1})
		flag(rUnusualType)
	}
	if len(s.resolvers) > 0 && e.Dst.IP.IsValid() && !s.allowed(e.Dst.IP) && !(e.Src.IP.IsValid() && s.allowed(e.Src.IP)) {
		e.AddParsed(event.Field{Key: "sluice.dns.unsanctioned_resolver", Type: event.FieldBool, U: 1})
		flag(rUnsanctioned)
	}
	if of, kind := lookalike(s.watch, &f); of != "" {
		e.AddParsed(event.Field{Key: "sluice.dns.lookalike", Type: event.FieldString, S: of})
		e.AddParsed(event.Field{Key: "sluice.dns.lookalike_kind", Type: event.FieldString, S: kind})
		flag(rLookalike)
	}
	if s.blocklist(e, name) {
		flag(rBlocklist)
	}
	nx, tunnel, isNew := s.stateful(e, &f, name, rcode)
	if nx {
		e.AddParsed(event.Field{Key: "sluice.dns.nxdomain_burst", Type: event.FieldBool, U: 1})
		flag(rNXDomain)
	}
	if tunnel {
		e.AddParsed(event.Field{Key: "sluice.dns.tunnel_suspect", Type: event.FieldBool, U: 1})
		flag(rTunnel)
	}
	if isNew {
		e.AddParsed(event.Field{Key: "sluice.dns.new_domain", Type: event.FieldBool, U: 1})
		flag(rNewDomain)
	}
	score = min(score, 100)
	e.AddParsed(event.Field{Key: "sluice.dns.score", Type: event.FieldUint, U: uint64(score)})
	e.AddParsed(event.Field{Key: "sluice.dns.score_band", Type: event.FieldString, S: ScoreBand(score)})
	if why != 0 {
		e.AddParsed(event.Field{Key: "sluice.dns.reasons", Type: event.FieldString, S: s.reasonText(why)})
		for r := range numReasons {
			if why&(1<<r) != 0 {
				s.m.flagged[r].Inc()
			}
		}
	}
}

// reasonText is the space-separated reasons of a set, built once per set.
func (s *Stage) reasonText(why uint32) string {
	if p := s.reasons[why].Load(); p != nil {
		return *p
	}
	var sb strings.Builder
	for r := range numReasons {
		if why&(1<<r) != 0 {
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(reasonNames[r])
		}
	}
	t := sb.String()
	s.reasons[why].Store(&t)
	return t
}

// blocklist matches the name (and its parents) and every resolved
// address; the first hit is written as threat.enrichments.*.
func (s *Stage) blocklist(e *event.Event, name string) bool {
	l := s.lists.Load()
	if l == nil || len(l.names) == 0 {
		return false
	}
	list, matched, field, typ := -1, "", "", ""
	if i, entry, ok := l.matchName(name); ok {
		list, matched, field, typ = i, entry, "dns.question.name", "domain-name"
	} else if len(l.addrs) > 0 || len(l.prefixes) > 0 {
		for j := range e.Fields {
			fd := &e.Fields[j]
			if fd.Key != "dns.resolved_ip" || fd.Type != event.FieldIP {
				continue
			}
			if i, ok := l.matchAddr(fd.IP); ok {
				list, field, typ = i, "dns.resolved_ip", "ipv4-addr"
				if fd.IP.Unmap().Is6() {
					typ = "ipv6-addr"
				}
				matched = fd.IP.Unmap().String()
				break
			}
		}
	}
	if list < 0 {
		return false
	}
	ln := l.names[list]
	s.m.listHits.WithLabelValues(ln).Inc()
	e.AddParsed(event.Field{Key: "sluice.dns.blocklist", Type: event.FieldString, S: ln})
	e.AddParsed(event.Field{Key: "threat.enrichments.indicator.provider", Type: event.FieldString, S: ln})
	e.AddParsed(event.Field{Key: "threat.enrichments.indicator.type", Type: event.FieldString, S: typ})
	e.AddParsed(event.Field{Key: "threat.enrichments.matched.atomic", Type: event.FieldString, S: matched})
	e.AddParsed(event.Field{Key: "threat.enrichments.matched.field", Type: event.FieldString, S: field})
	e.AddParsed(event.Field{Key: "threat.enrichments.matched.type", Type: event.FieldString, S: "indicator_match_rule"})
	return true
}

// stateful updates the per-client windows and the seen set.
func (s *Stage) stateful(e *event.Event, f *nameFacts, name, rcode string) (nx, tunnel, isNew bool) {
	client := e.Src.IP.Unmap()
	nxOn := s.cfg.NXDomainThreshold > 0 && client.IsValid() && rcode == "NXDOMAIN"
	tunOn := (s.cfg.TunnelMaxQueries > 0 || s.cfg.TunnelMaxBytes > 0) && client.IsValid() && f.registered != ""
	newOn := s.seen != nil && f.registered != ""
	if !nxOn && !tunOn && !newOn {
		return
	}
	t := e.Timestamp
	if t.IsZero() {
		t = s.now()
	}
	var key tunnelKey
	if tunOn {
		key = tunnelKey{client, maphash.String(s.seed, f.registered)}
	}
	size := len(name) + int(e.Src.Bytes) + int(e.Dst.Bytes)
	s.mu.Lock()
	defer s.mu.Unlock()
	if nxOn {
		w, ev := s.nx.get(client)
		if ev {
			s.m.evictions.WithLabelValues("nxdomain").Inc()
		}
		w.add(t, 0, s.cfg.NXDomainWindow)
		nx = w.n >= s.cfg.NXDomainThreshold
	}
	if tunOn {
		w, ev := s.tunnel.get(key)
		if ev {
			s.m.evictions.WithLabelValues("tunnel").Inc()
		}
		w.add(t, size, s.cfg.TunnelWindow)
		tunnel = s.cfg.TunnelMaxQueries > 0 && w.n >= s.cfg.TunnelMaxQueries ||
			s.cfg.TunnelMaxBytes > 0 && w.bytes >= s.cfg.TunnelMaxBytes
	}
	if newOn {
		day := dayOf(t)
		first, ev := s.seen.see(f.registered, day)
		if ev {
			s.m.evictions.WithLabelValues("domains").Inc()
		}
		isNew = day < first+uint32(s.cfg.NewDomainDays)
	}
	return
}

// Run reloads changed blocklists and saves the seen set every interval
// until ctx is done; it then saves the set once more.
func (s *Stage) Run(ctx context.Context) error {
	reload := time.NewTicker(s.cfg.ReloadInterval)
	defer reload.Stop()
	save := time.NewTicker(s.cfg.SaveInterval)
	defer save.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.Save()
		case <-reload.C:
			s.Reload()
		case <-save.C:
			if err := s.Save(); err != nil {
				if ok, n := s.limiter.Allow("save"); ok {
					s.logger.Error("saving the seen domains", "err", err, "dir", s.cfg.StateDir, "suppressed", n)
				}
			}
		}
	}
}

// Reload reads the blocklists again if a file changed; on an error the
// old lists stay.
func (s *Stage) Reload() {
	old := s.lists.Load()
	if old != nil && !old.changed(s.cfg.Blocklists) {
		return
	}
	l, err := loadLists(s.cfg.Blocklists)
	if err != nil {
		s.m.reloads.WithLabelValues("error").Inc()
		if ok, n := s.limiter.Allow("reload"); ok {
			s.logger.Error("reloading blocklists; keeping the old ones", "err", err, "suppressed", n)
		}
		return
	}
	s.setLists(l)
	s.m.reloads.WithLabelValues("ok").Inc()
	s.logger.Info("reloaded blocklists", "count", len(l.domains)+len(l.addrs)+len(l.prefixes))
}

// Save writes the seen set to StateDir if it changed since the last save.
func (s *Stage) Save() error {
	if s.seen == nil || s.cfg.StateDir == "" {
		return nil
	}
	s.mu.Lock()
	if !s.seen.dirty {
		s.mu.Unlock()
		return nil
	}
	// Copy under the lock, write without it.
	cp := &seenSet{m: make(map[string]seenEntry, len(s.seen.m)), max: s.seen.max}
	for k, v := range s.seen.m {
		cp.m[k] = v
	}
	s.seen.dirty = false
	n := len(s.seen.m)
	s.mu.Unlock()
	s.m.entries.WithLabelValues("domains").Set(float64(n))
	if err := saveSeen(s.cfg.StateDir, cp); err != nil {
		s.mu.Lock()
		s.seen.dirty = true
		s.mu.Unlock()
		s.m.saves.WithLabelValues("error").Inc()
		return errors.Join(errors.New("dns seen domains"), err)
	}
	s.m.saves.WithLabelValues("ok").Inc()
	return nil
}

// ScoreBand returns the band of a score, sluice.dns.score_band: "0-29",
// "30-49", "50-69" or "70+" (the console groups and filters by it).
func ScoreBand(score int) string {
	switch {
	case score >= 70:
		return "70+"
	case score >= 50:
		return "50-69"
	case score >= 30:
		return "30-49"
	}
	return "0-29"
}
