package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Deps are what a Runner needs besides its Config.
type Deps struct {
	// ES reaches the cluster; required when Config.Elasticsearch is set.
	ES Performer
	// Now is the clock (time.Now when nil); tests pass a fixed one.
	Now func() time.Time
}

// Runner applies the policies. Run and Schedule must not be called
// concurrently with each other; Schedule never overlaps its runs.
type Runner struct {
	cfg      Config
	policies []*policy
	loc      *time.Location
	es       *esTarget
	files    *fileTarget
	logger   *slog.Logger
	m        *metrics
	now      func() time.Time
}

// target is an Elasticsearch cluster or the file output's directory.
type target interface {
	name() string
	list(ctx context.Context) ([]Item, error)
	// prepare drops decisions that need no action (done) or must wait (skipped).
	prepare(ctx context.Context, p *policy, ds []Decision) (todo []Decision, done int, skipped []Skip, err error)
	apply(ctx context.Context, p *policy, ds []Decision, report func(Decision, error)) error
}

// Result counts what one run did (or, in a dry run, would do).
type Result struct {
	Done    int // actions done (would be done)
	Failed  int // actions or listings that failed
	Skipped int // matching names left alone: no date in the name, recently written
	Already int // needed no action (closed, merged, gzipped before)
	Kept    int // matching items that are not old (today's among them)
}

// New validates cfg and returns a Runner. A nil logger discards; a nil reg
// registers no metrics.
func New(cfg Config, deps Deps, logger *slog.Logger, reg prometheus.Registerer) (*Runner, error) {
	policies, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	loc, _ := time.LoadLocation(cfg.Timezone) // checked by parse
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("retention metrics: %w", err)
	}
	r := &Runner{cfg: cfg, policies: policies, loc: loc, logger: logger.With("component", "retention"), m: m, now: deps.Now}
	if r.now == nil {
		r.now = time.Now
	}
	if cfg.Elasticsearch {
		if deps.ES == nil {
			return nil, errors.New("retention: no Elasticsearch client")
		}
		r.es = &esTarget{c: deps.ES}
	}
	if cfg.FilesDir != "" {
		r.files = &fileTarget{dir: cfg.FilesDir, now: r.now}
	}
	return r, nil
}

// Policies returns the number of policies.
func (r *Runner) Policies() int { return len(r.policies) }

var pastTense = map[string]string{
	ActionDelete: "deleted", ActionClose: "closed", ActionForcemerge: "force-merged", ActionGzip: "gzipped",
}

// Run applies every policy once, in order, each on a fresh listing (so a
// later policy sees what an earlier one deleted). With dryRun nothing is
// changed and the report says what would be. The report (one line per
// index or file acted on or skipped, a summary per policy and target, a
// last line) goes to w; with a nil w it is logged instead. Failed actions
// do not stop the others; the error then says how many failed.
func (r *Runner) Run(ctx context.Context, dryRun bool, w io.Writer) (Result, error) {
	start := r.now()
	var res Result
	var errs []error
	// In a dry run, what earlier policies would delete is hidden from the
	// later ones, as a real run's fresh listing would.
	gone := map[string]map[string]bool{}
	for _, p := range r.policies {
		for _, t := range r.targetsOf(p) {
			var st Result
			err := r.runPolicy(ctx, p, t, dryRun, w, gone, &st)
			if err != nil {
				st.Failed++
				errs = append(errs, fmt.Errorf("policy %s, %s: %w", p.name, t.name(), err))
				r.emit(w, slog.LevelError, "FAILED", t.name(), "-", p.name, err.Error())
			}
			r.summary(w, p, t, dryRun, st)
			res.Done += st.Done
			res.Failed += st.Failed
			res.Skipped += st.Skipped
			res.Already += st.Already
			res.Kept += st.Kept
		}
	}
	took := r.now().Sub(start)
	verb := "done"
	if dryRun {
		verb = "would be done (dry run, nothing changed)"
	}
	last := fmt.Sprintf("retention: %d %s, %d failed, %d skipped, %d needed nothing, %d kept, in %s",
		res.Done, verb, res.Failed, res.Skipped, res.Already, res.Kept, took.Round(time.Millisecond))
	if w != nil {
		fmt.Fprintln(w, last)
	}
	r.logger.Info("retention run finished", "dry_run", dryRun, "done", res.Done, "failed", res.Failed,
		"skipped", res.Skipped, "kept", res.Kept, "duration", took.Round(time.Millisecond))
	if !dryRun {
		r.m.duration.Observe(took.Seconds())
		if res.Failed == 0 {
			r.m.runs.WithLabelValues("ok").Inc()
			r.m.lastSuccess.Set(float64(r.now().Unix()))
		} else {
			r.m.runs.WithLabelValues("failed").Inc()
		}
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d retention actions failed: %w", res.Failed, errors.Join(errs...))
	}
	return res, nil
}

func (r *Runner) targetsOf(p *policy) []target {
	var ts []target
	if p.es && r.es != nil {
		ts = append(ts, r.es)
	}
	if p.files && r.files != nil {
		ts = append(ts, r.files)
	}
	return ts
}

// runPolicy applies p to t. Per-item failures are counted in st; the error
// is for failures of the whole policy (the listing).
func (r *Runner) runPolicy(ctx context.Context, p *policy, t target, dryRun bool, w io.Writer, gone map[string]map[string]bool, st *Result) error {
	items, err := t.list(ctx)
	if err != nil {
		return err
	}
	if g := gone[t.name()]; len(g) > 0 {
		kept := items[:0]
		for _, it := range items {
			if !g[it.ID] {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if p.action == ActionGzip {
		// Compressed files only count for deletes.
		kept := items[:0]
		for _, it := range items {
			if !it.Gzipped {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	in := selectInput{now: r.now(), loc: r.loc}
	if t.name() == TargetFiles {
		in.protectDays = fileProtectDays
	}
	sel := p.choose(items, in)
	st.Kept = sel.kept
	for _, s := range sel.unparseable {
		st.Skipped++
		r.emit(w, slog.LevelWarn, "skipped", t.name(), s.ID, p.name, s.Reason)
		if !dryRun {
			r.m.skipped.WithLabelValues(t.name(), "unparseable").Inc()
		}
	}
	todo, done, skipped, err := t.prepare(ctx, p, sel.act)
	if err != nil {
		return err
	}
	st.Already = done
	for _, s := range skipped {
		st.Skipped++
		r.emit(w, slog.LevelInfo, "skipped", t.name(), s.ID, p.name, s.Reason)
		if !dryRun {
			r.m.skipped.WithLabelValues(t.name(), "recently_written").Inc()
		}
	}
	if dryRun {
		for _, d := range todo {
			st.Done++
			r.emit(w, slog.LevelInfo, "would "+p.action, t.name(), d.ID, p.name, d.Reason)
			if p.action == ActionDelete {
				if gone[t.name()] == nil {
					gone[t.name()] = map[string]bool{}
				}
				gone[t.name()][d.ID] = true
			}
		}
		return nil
	}
	return t.apply(ctx, p, todo, func(d Decision, err error) {
		switch {
		case err == nil:
			st.Done++
			r.m.actions.WithLabelValues(t.name(), p.action, "ok").Inc()
			r.emit(w, slog.LevelInfo, pastTense[p.action], t.name(), d.ID, p.name, d.Reason)
		case errors.Is(err, errRecentlyWritten):
			st.Skipped++
			r.m.skipped.WithLabelValues(t.name(), "recently_written").Inc()
			r.emit(w, slog.LevelInfo, "skipped", t.name(), d.ID, p.name, err.Error())
		default:
			st.Failed++
			r.m.actions.WithLabelValues(t.name(), p.action, "failed").Inc()
			r.emit(w, slog.LevelError, "FAILED "+p.action, t.name(), d.ID, p.name, err.Error())
		}
	})
}

// emit writes one report line to w, or logs it when w is nil. Failures are
// logged in both cases.
func (r *Runner) emit(w io.Writer, level slog.Level, what, target, id, policy, reason string) {
	if w != nil {
		fmt.Fprintf(w, "%-14s %-13s %s  [%s] %s\n", what, target, id, policy, reason)
		if level < slog.LevelError {
			return
		}
	}
	r.logger.Log(context.Background(), level, what, "target", target, "index", id, "policy", policy, "reason", reason)
}

func (r *Runner) summary(w io.Writer, p *policy, t target, dryRun bool, st Result) {
	verb := pastTense[p.action]
	if dryRun {
		verb = "would be " + verb
	}
	line := fmt.Sprintf("policy %s, %s: %d %s, %d failed, %d skipped, %d needed nothing, %d kept",
		p.name, t.name(), st.Done, verb, st.Failed, st.Skipped, st.Already, st.Kept)
	if w != nil {
		fmt.Fprintln(w, line)
		return
	}
	r.logger.Debug(line)
}

// Schedule runs the policies on retention.schedule until ctx ends, and
// returns nil then. With an interval the first run starts at once and the
// next one an interval after a run ends; with a cron expression runs start
// at its next time after the previous run ends. Runs never overlap. A
// failed run is logged and counted; the schedule goes on.
func (r *Runner) Schedule(ctx context.Context) error {
	every, sched, err := ParseSchedule(r.cfg.Schedule)
	if err != nil {
		return err
	}
	if every == 0 && sched == nil {
		return nil
	}
	if len(r.policies) == 0 {
		r.logger.Warn("retention.schedule is set but retention.policies is empty; nothing to do")
		return nil
	}
	next := r.now()
	if sched != nil {
		next = sched.Next(next)
	}
	for {
		r.logger.Info("next retention run", "at", next.Format(time.RFC3339))
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		if _, err := r.Run(ctx, false, nil); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.logger.Error("retention run failed", "err", err)
		}
		if sched != nil {
			next = sched.Next(r.now())
		} else {
			next = r.now().Add(every)
		}
	}
}
