package alerter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"
)

// Match is one matching document as ElastAlert sees it: the document's JSON
// decoded into nested maps, plus the keys the rule type adds at the top level
// (num_hits, num_matches, spike_count, key, ...). Numbers may be json.Number
// (encoding/json with UseNumber, which keeps 64-bit counters exact; the
// recommended form) or float64; both render the same.
type Match map[string]any

// Alert is what a rule produced: one match, or several when the rule
// aggregates.
type Alert struct {
	Rule     string // rule name
	Matches  []Match
	QueryKey string // query_key value ("" when none)
	NumHits  int    // documents the rule saw in the window (0: unknown)
	Time     time.Time
	// TopCounts: for top_count_keys, field -> value -> count (computed by the caller).
	TopCounts map[string]map[string]int
}

// Options are the rule's top-level keys (the decoded YAML map of the rule file).
type Options map[string]any

// Env is what the process gives alerters.
type Env struct {
	Logger *slog.Logger
	// BaseDir resolves relative paths (smtp_auth_file, *_ca_certs): the
	// rule file's directory.
	BaseDir string
	// Now is the clock (alertmanager's endsAt); nil means time.Now.
	Now func() time.Time
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e Env) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Alerter sends alerts to one destination. Send may be called from several
// goroutines at once (the Sender's workers); it must not keep a after
// returning and must return when ctx is done.
type Alerter interface {
	Kind() string // "email", "slack", ...
	// Send delivers a. It returns a *PermanentError (errors.As) when
	// retrying cannot help.
	Send(ctx context.Context, a *Alert) error
}

// PermanentError marks a failure that retrying cannot help: an HTTP 4xx
// other than 408 and 429, a refused recipient, a program that does not exist.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err wraps a *PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

type builder struct {
	keys []string
	new  func(o *opts, env Env) (Alerter, error)
}

var builders = map[string]builder{
	"email":        {emailKeys, newEmail},
	"slack":        {slackKeys, newSlack},
	"ms_teams":     {teamsKeys, newTeams},
	"post":         {postKeys, newPost},
	"post2":        {post2Keys, newPost2},
	"alertmanager": {alertmanagerKeys, newAlertmanager},
	"command":      {commandKeys, newCommand},
	"debug":        {nil, newDebug},
}

func supported() string {
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Keys returns every rule-file key this package reads (rendering keys and
// every alerter's keys), sorted. Keys the rule loader owns are read too
// (name, aggregation, query_key, compare_key, timestamp_field) but not
// listed.
func Keys() []string {
	ks := append([]string{"alert"}, renderKeys...)
	for _, b := range builders {
		ks = append(ks, b.keys...)
	}
	sort.Strings(ks)
	return slices.Compact(ks)
}

// New builds the alerters named by the rule's `alert` key: a string, a list
// of strings, or ElastAlert2's list of one-key maps (`- email: {email: ...}`)
// whose map holds that alerter's options, overriding top-level ones. All
// problems are reported at once, each naming the key and the fix.
func New(o Options, env Env) ([]Alerter, error) {
	raw, ok := o["alert"]
	if !ok || raw == nil {
		return nil, fmt.Errorf("alert: missing; name the alerters, e.g. alert: [email] (supported: %s)", supported())
	}
	type entry struct {
		name      string
		overrides map[string]any
	}
	var entries []entry
	var errs []error
	addEntry := func(v any) {
		switch x := v.(type) {
		case string:
			entries = append(entries, entry{name: x})
		default:
			m, ok := toMap(v)
			if !ok || len(m) != 1 {
				errs = append(errs, fmt.Errorf("alert: %s is neither an alerter name nor a one-key map like {email: {...}}; write alert: [email] or alert: [{email: {email: ops@example.com}}]", short(v)))
				return
			}
			for name, inner := range m {
				var ov map[string]any
				if inner != nil {
					ov, ok = toMap(inner)
					if !ok {
						errs = append(errs, fmt.Errorf("alert: the options of %s are %s, not a map; write - %s: {key: value}", name, short(inner), name))
						return
					}
				}
				entries = append(entries, entry{name: name, overrides: ov})
			}
		}
	}
	switch x := raw.(type) {
	case []any:
		for _, v := range x {
			addEntry(v)
		}
	case []string:
		for _, v := range x {
			addEntry(v)
		}
	default:
		addEntry(raw)
	}
	if len(entries) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("alert: empty; name at least one alerter (supported: %s)", supported()))
	}
	var out []Alerter
	for _, e := range entries {
		b, ok := builders[e.name]
		if !ok {
			errs = append(errs, fmt.Errorf("alert: %q is not an alerter sluice has; use one of %s", e.name, supported()))
			continue
		}
		merged := make(Options, len(o)+len(e.overrides))
		for k, v := range o {
			merged[k] = v
		}
		for k, v := range e.overrides {
			merged[k] = v
		}
		if e.overrides != nil {
			allowed := map[string]bool{}
			for _, k := range Keys() {
				allowed[k] = true
			}
			for k := range e.overrides {
				if !allowed[k] {
					errs = append(errs, fmt.Errorf("alert: %s: %s is not an option sluice reads; remove it or check its spelling", e.name, k))
				}
			}
		}
		a, err := b.new(&opts{m: merged}, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
