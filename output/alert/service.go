package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
	"github.com/sluicelab/sluice/internal/query"
	"github.com/sluicelab/sluice/output/alert/alerter"
	"github.com/sluicelab/sluice/output/alert/rule"
)

// loaded is one rule with what sends its alerts.
type loaded struct {
	rule     *rule.Rule
	opts     alerter.Options // the rule's keys over alerting.defaults
	alerters []alerter.Alerter
	render   *alerter.Renderer
	limit    time.Duration
}

// ruleSet is the rules in force, swapped whole on reload.
type ruleSet struct {
	byName map[string]*loaded
	byFile map[string]*loaded
}

// Service owns the rules, the engine that evaluates them, the sender and
// the alert documents.
type Service struct {
	cfg    Config
	logger *slog.Logger
	lim    *obs.Limiter
	m      *metrics
	now    func() time.Time

	engine *rule.Engine
	sender *alerter.Sender
	rules  atomic.Pointer[ruleSet]
	names  *event.IndexNames
	docs   *docQueue
	src    *source

	reloadMu sync.Mutex   // one reload at a time
	ruleErrs atomic.Int64 // rule files that did not load at the last reload
	// restored are alerts from the state file still to be sent.
	restored []savedAlert
	// engineRestored: the state file gave the rules their windows (and
	// new_term its terms), so no history needs to be read.
	engineRestored bool
}

// LoadRules loads every rule of dirs with the alerters they name and
// reports every problem (file, key, fix). check-config uses it; so does New.
func LoadRules(cfg Config, logger *slog.Logger) ([]*loaded, []error) {
	rules, errs := rule.LoadDirs(cfg.RulesDirs, loadOptions(cfg))
	if len(rules) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("alerting.rules_dir: no rule files (*.yaml, *.yml) in %s; add a rule or remove the key", strings.Join(cfg.RulesDirs, ", ")))
	}
	var out []*loaded
	for _, r := range rules {
		l, err := build(cfg, r, logger)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, l)
	}
	return out, errs
}

func loadOptions(cfg Config) rule.LoadOptions {
	return rule.LoadOptions{
		CompileFilters: func(filters []any, aliases map[string]string) (query.Matcher, error) {
			return query.CompileFilters(filters, query.Options{Aliases: aliases})
		},
		ExtraKeys:      alerter.Keys(),
		Aliases:        FieldAliases,
		MaxKeys:        cfg.MaxKeys,
		Defaults:       cfg.Defaults,
		AlertTimeLimit: cfg.AlertTimeLimit,
	}
}

// build makes the alerters and renderer of r (whose Options hold
// alerting.defaults under the file's own keys).
func build(cfg Config, r *rule.Rule, logger *slog.Logger) (*loaded, error) {
	opts := alerter.Options{}
	maps.Copy(opts, r.Options)
	env := alerter.Env{Logger: logger.With("rule", r.Spec.Name), BaseDir: filepath.Dir(r.File), Now: cfg.Now}
	as, err := alerter.New(opts, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.File, err)
	}
	rd, err := alerter.NewRenderer(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.File, err)
	}
	return &loaded{rule: r, opts: opts, alerters: as, render: rd, limit: r.AlertTimeLimit}, nil
}

// New loads the rules and the state file. A rule that does not load is an
// error here (sluice does not start with a rule it would ignore); on a
// reload it is logged and the rule's previous version keeps running.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger = logger.With("component", "alert")
	ls, errs := LoadRules(cfg, logger)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	names, err := event.NewIndexNames(cfg.FlowsIndex, cfg.SyslogIndex, cfg.Location)
	if err != nil {
		return nil, err
	}
	ref, err := event.RegisterIndex(cfg.Index)
	if err != nil {
		return nil, fmt.Errorf("alerting.index: %w", err)
	}
	s := &Service{cfg: cfg, logger: logger, lim: obs.NewLimiter(10 * time.Second), now: cfg.Now, names: names}
	s.m = newMetrics(reg, s)
	s.docs = newDocQueue(func(n int) { s.m.docsDropped.Add(float64(n)) })
	s.src = &source{q: s.docs, index: ref}
	s.sender = alerter.NewSender(alerter.SenderConfig{QueueSize: cfg.QueueSize, Workers: cfg.Workers}, reg, logger)
	set := newRuleSet(ls)
	s.rules.Store(set)
	s.engine = rule.NewEngine(set.rules(), rule.EngineConfig{Now: cfg.Now, Emit: s.emit})
	for _, l := range ls {
		s.logRule("alert rule loaded", l)
	}
	return s, nil
}

func newRuleSet(ls []*loaded) *ruleSet {
	set := &ruleSet{byName: map[string]*loaded{}, byFile: map[string]*loaded{}}
	for _, l := range ls {
		set.byName[l.rule.Spec.Name] = l
		set.byFile[l.rule.File] = l
	}
	return set
}

func (set *ruleSet) rules() []*rule.Rule {
	out := make([]*rule.Rule, 0, len(set.byName))
	for _, name := range slices.Sorted(maps.Keys(set.byName)) {
		out = append(out, set.byName[name].rule)
	}
	return out
}

func (s *Service) logRule(msg string, l *loaded) {
	kinds := make([]string, len(l.alerters))
	for i, a := range l.alerters {
		kinds[i] = a.Kind()
	}
	s.logger.Info(msg, "rule", l.rule.Spec.Name, "file", l.rule.File, "type", l.rule.Spec.Type, "alert", kinds, "disabled", l.rule.Disabled)
	for _, n := range l.rule.Notes {
		s.logger.Info("alert rule key has no effect in sluice", "rule", l.rule.Spec.Name, "note", n)
	}
}

// Stage returns the pipeline stage that evaluates the rules; it must run
// after every stage that adds fields rules read.
func (s *Service) Stage() pipeline.Stage { return (*stage)(s) }

// Source returns the pipeline source of alert documents.
func (s *Service) Source() pipeline.Source { return s.src }

// Rules returns the names of the rules in force.
func (s *Service) Rules() []string { return slices.Sorted(maps.Keys(s.rules.Load().byName)) }

// Run ticks the engine, serves the alerter queue and reloads the rules
// when their files change or on each value from hup, until ctx is done.
// Then it stops the sender and saves the state; call it after the
// pipeline has drained (the stage may still emit until then).
func (s *Service) Run(ctx context.Context, hup <-chan struct{}) error {
	senderCtx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		s.sender.Run(senderCtx)
	}()
	for _, a := range s.restored {
		s.resend(a)
	}
	s.restored = nil

	w, werr := newWatcher(s.cfg.RulesDirs, s.logger)
	var changed <-chan struct{}
	if werr != nil {
		s.logger.Warn("cannot watch the rules folders; rules reload on SIGHUP only", "err", werr)
	} else {
		changed = w.changed
		defer w.close()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	save := time.NewTicker(time.Minute)
	defer save.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case t := <-tick.C:
			t0 := time.Now()
			s.engine.Tick(s.now())
			s.m.tickSeconds.Add(time.Since(t0).Seconds())
			_ = t
		case <-save.C:
			s.saveState(nil)
		case <-hup:
			s.logger.Info("SIGHUP: reloading alert rules")
			s.Reload()
		case <-changed:
			s.Reload()
		}
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	unsent := s.sender.Close(closeCtx)
	stopSender()
	<-senderDone
	s.saveState(unsent)
	return nil
}

// Reload loads the rules folders again. A file that no longer loads keeps
// its previous rule (logged, counted); new and changed files take effect,
// removed files' rules stop.
func (s *Service) Reload() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.rules.Load()
	rules, errs := rule.LoadDirs(s.cfg.RulesDirs, loadOptions(s.cfg))
	var ls []*loaded
	failed := map[string]bool{}
	for _, err := range errs {
		s.logger.Error("alert rule not loaded; its previous version (if any) keeps running", "err", err)
		for f := range old.byFile {
			if strings.Contains(err.Error(), f) {
				failed[f] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if prev := old.byFile[r.File]; prev != nil && prev.rule.Hash == r.Hash {
			ls = append(ls, prev)
			seen[r.File] = true
			continue
		}
		l, err := build(s.cfg, r, s.logger)
		if err != nil {
			errs = append(errs, err)
			s.logger.Error("alert rule not loaded; its previous version (if any) keeps running", "err", err)
			failed[r.File] = true
			continue
		}
		ls = append(ls, l)
		seen[r.File] = true
		s.logRule("alert rule loaded", l)
	}
	for f, prev := range old.byFile {
		if !seen[f] && failed[f] {
			ls = append(ls, prev)
		} else if !seen[f] {
			s.logger.Info("alert rule removed", "rule", prev.rule.Spec.Name, "file", f)
		}
	}
	// Two files may now claim one name: keep the first by file name.
	sort.Slice(ls, func(i, j int) bool { return ls[i].rule.File < ls[j].rule.File })
	byName := map[string]bool{}
	kept := ls[:0]
	for _, l := range ls {
		if byName[l.rule.Spec.Name] {
			s.logger.Error("alert rule not loaded: another file has a rule of this name", "rule", l.rule.Spec.Name, "file", l.rule.File)
			errs = append(errs, fmt.Errorf("%s: name %q is taken", l.rule.File, l.rule.Spec.Name))
			continue
		}
		byName[l.rule.Spec.Name] = true
		kept = append(kept, l)
	}
	set := newRuleSet(kept)
	s.rules.Store(set)
	s.engine.SetRules(set.rules())
	s.m.reloads.Inc()
	s.m.ruleErrors.Set(float64(len(errs)))
	s.ruleErrs.Store(int64(len(errs)))
}

// Status is the state for /readyz: the rules in force, rule files that
// did not reload, and the alerters whose last attempt failed.
func (s *Service) Status() string {
	st := fmt.Sprintf("%d rules", len(s.rules.Load().byName))
	if n := s.ruleErrs.Load(); n > 0 {
		st += fmt.Sprintf("; %d rule file(s) did not reload (see the log)", n)
	}
	if f := s.sender.Failing(); len(f) > 0 {
		st += "; failing alerters: " + strings.Join(f, "; ")
	}
	return st
}

// emit is the engine's callback: it turns a fired rule into an alert
// document, and, unless silenced, a job for the alerters. It never blocks.
func (s *Service) emit(f *rule.Fired) {
	l := s.rules.Load().byName[f.Rule.Spec.Name]
	if l == nil {
		return // removed meanwhile
	}
	a := toAlert(f, s.now())
	name := f.Rule.Spec.Name
	s.m.matches.WithLabelValues(name).Add(float64(len(f.Matches)))
	if f.Silenced {
		s.m.silenced.WithLabelValues(name).Inc()
		s.writeDoc(l, f, a, "", "", nil, "silenced by realert")
		return
	}
	s.enqueue(l, f, a, l.render.Subject(a), l.render.Body(a))
}

// enqueue hands an alert to the sender; its document is written when the
// alerters are done, or now when the queue is full.
func (s *Service) enqueue(l *loaded, f *rule.Fired, a *alerter.Alert, subject, body string) {
	job := &alerter.Job{Alert: a, Alerters: l.alerters, Subject: subject, Body: body, TimeLimit: l.limit}
	job.Done = func(results []alerter.Result) { s.writeDoc(l, f, a, subject, body, results, "") }
	if !s.sender.Enqueue(job) {
		s.writeDoc(l, f, a, subject, body, nil, "alert queue full (alerting.queue_size); not sent")
	}
}

// resend queues an alert from the state file again.
func (s *Service) resend(sa savedAlert) {
	l := s.rules.Load().byName[sa.Rule]
	if l == nil {
		s.logger.Warn("unsent alert of a rule that no longer exists dropped", "rule", sa.Rule)
		return
	}
	f := &rule.Fired{Rule: l.rule, Key: sa.Alert.QueryKey, Aggregated: sa.Aggregated, NumHits: sa.Alert.NumHits}
	s.enqueue(l, f, sa.Alert, sa.Subject, sa.Body)
}

// toAlert converts a fired rule to the alerter's form: each match's
// document decoded, with the rule type's values added.
func toAlert(f *rule.Fired, now time.Time) *alerter.Alert {
	a := &alerter.Alert{Rule: f.Rule.Spec.Name, QueryKey: f.Key, NumHits: f.NumHits, Time: now}
	for _, m := range f.Matches {
		mm := alerter.Match{}
		if len(m.Doc) > 0 {
			_ = json.Unmarshal(m.Doc, (*map[string]any)(&mm))
			if mm == nil {
				mm = alerter.Match{}
			}
		}
		for k, v := range m.Extra {
			mm[k] = v
		}
		a.Matches = append(a.Matches, mm)
	}
	if keys := f.Rule.TopCountKeys; len(keys) > 0 {
		a.TopCounts = f.TopCounts
		if a.TopCounts == nil { // an alert restored from a state file of an older sluice
			a.TopCounts = topCounts(keys, a.Matches)
		}
	}
	return a
}

// topCounts counts the values of keys over the matches of one alert: for
// an alert whose counts the engine did not give (rule.Fired.TopCounts).
func topCounts(keys []string, ms []alerter.Match) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, k := range keys {
		c := map[string]int{}
		for _, m := range ms {
			if v, ok := alerter.Lookup(m, k); ok {
				c[fmt.Sprint(v)]++
			}
		}
		out[k] = c
	}
	return out
}

// savedAlert is an alert not sent yet when sluice stopped.
type savedAlert struct {
	Rule       string         `json:"rule"`
	Alert      *alerter.Alert `json:"alert"`
	Subject    string         `json:"subject"`
	Body       string         `json:"body"`
	Aggregated bool           `json:"aggregated,omitempty"`
}

// stateFile is what the service keeps in StatePath.
type stateFile struct {
	Version int             `json:"version"`
	Saved   time.Time       `json:"saved"`
	Engine  json.RawMessage `json:"engine,omitempty"`
	Unsent  []savedAlert    `json:"unsent,omitempty"`
	Docs    []doc           `json:"docs,omitempty"`
}

const stateVersion = 1

// maxStateBytes bounds what loadState reads.
const maxStateBytes = 256 << 20

// saveState writes the engine's windows and silences, the alerts not sent
// and the alert documents not written, atomically.
func (s *Service) saveState(unsent []*alerter.Job) {
	if s.cfg.StatePath == "" {
		return
	}
	st := stateFile{Version: stateVersion, Saved: s.now().UTC(), Docs: s.docs.pending()}
	eng, err := s.engine.MarshalState()
	if err != nil {
		s.logger.Error("cannot save the alert rules' state", "err", err)
	} else {
		st.Engine = eng
	}
	for _, j := range unsent {
		st.Unsent = append(st.Unsent, savedAlert{Rule: j.Alert.Rule, Alert: j.Alert, Subject: j.Subject, Body: j.Body})
	}
	data, err := json.Marshal(st)
	if err == nil {
		err = writeFileAtomic(s.cfg.StatePath, data)
	}
	if err != nil {
		if ok, sup := s.lim.Allow("save"); ok {
			s.logger.Error("cannot save the alert state; windows and silences restart empty after a restart", "path", s.cfg.StatePath, "err", err, "suppressed", sup)
		}
		s.m.stateErrors.Inc()
	}
}

// LoadState restores the state file (`sluice run` calls it before the
// pipeline starts; check-config does not). A damaged file is moved aside
// (STATE.damaged-TIME) and reported; the rules start with empty windows.
// The error is for a state directory sluice cannot use at all.
func (s *Service) LoadState() error {
	if s.cfg.StatePath == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.cfg.StatePath), 0o750); err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	data, err := readLimited(s.cfg.StatePath, maxStateBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = s.restore(data)
	}
	if err != nil {
		aside := fmt.Sprintf("%s.damaged-%s", s.cfg.StatePath, s.now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(s.cfg.StatePath, aside); rerr != nil {
			aside = "(not moved: " + rerr.Error() + ")"
		}
		s.m.stateErrors.Inc()
		s.logger.Error("alert state file damaged; moved aside, rules start with empty windows and silences", "path", s.cfg.StatePath, "moved_to", aside, "err", err)
	}
	return nil
}

func (s *Service) restore(data []byte) error {
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return err
	}
	if st.Version != stateVersion {
		return fmt.Errorf("state version %d, this sluice writes %d", st.Version, stateVersion)
	}
	for _, d := range st.Docs {
		if !json.Valid(d.JSON) || len(d.JSON) == 0 || d.JSON[0] != '{' {
			return errors.New("an unwritten alert document is not a JSON object")
		}
		if strings.ContainsRune(string(d.JSON), '\n') {
			return errors.New("an unwritten alert document holds a newline")
		}
	}
	for _, a := range st.Unsent {
		if a.Alert == nil || a.Rule == "" {
			return errors.New("an unsent alert has no rule")
		}
	}
	if len(st.Engine) > 0 {
		if err := s.engine.LoadState(st.Engine); err != nil {
			return fmt.Errorf("rule windows: %w", err)
		}
		s.engineRestored = true
	}
	for _, d := range st.Docs {
		s.docs.add(d)
	}
	s.restored = st.Unsent
	return nil
}

// Seed feeds the rules that learn from history (new_term) the stored
// documents of their terms_window_size, when the state file did not give
// them their terms (the first start, or a damaged file). `sluice run` calls
// it before the pipeline starts, with the listeners bound (the kernel
// buffers what arrives meanwhile); it reads for at most SeedTimeout.
func (s *Service) Seed(ctx context.Context) {
	rules := s.engine.SeedRules()
	if len(rules) == 0 || s.cfg.History == nil || s.engineRestored {
		return
	}
	var window time.Duration
	for _, r := range rules {
		window = max(window, r.Spec.TermsWindowSize)
	}
	if window <= 0 {
		window = rule.DefaultTermsWindow
	}
	timeout := s.cfg.SeedTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := s.now()
	t0 := time.Now()
	n, bad := 0, 0
	err := s.cfg.History(ctx, now.Add(-window), now, func(d Doc) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		jd, err := query.NewJSONDoc(d.JSON)
		if err != nil {
			bad++
			return nil
		}
		s.engine.Seed(jd, d.Index)
		n++
		return nil
	})
	s.m.seeded.Add(float64(n))
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.Spec.Name
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		s.logger.Warn("alert rules learned from part of the stored history only (the time for it ran out); terms not read yet may alert once as new",
			"rules", names, "documents", n, "seconds", time.Since(t0).Seconds())
	case err != nil:
		s.logger.Warn("alert rules could not learn from the stored history; terms seen before may alert once as new", "rules", names, "documents", n, "err", err)
	default:
		s.logger.Info("alert rules learned from the stored history", "rules", names, "documents", n, "not_json", bad, "days", window.Hours()/24, "seconds", time.Since(t0).Seconds())
	}
}
