package rule

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sluicelab/sluice/internal/query"
)

// Loading bounds: rule files are small, and the loader must stay cheap and
// safe whatever a rules folder holds.
const (
	MaxRuleFileBytes = 1 << 20  // one rule file (and each imported base file)
	MaxListFileBytes = 10 << 20 // one `!file` list of a blacklist/whitelist
	MaxListEntries   = 1_000_000
	// MaxWindowEvents bounds num_events (frequency) and threshold
	// (flatline): those types keep that many timestamps per query_key value.
	MaxWindowEvents = 100_000
	// DefaultMaxKeys is Spec.MaxKeys when neither LoadOptions nor the rule
	// sets it.
	DefaultMaxKeys = 10_000
	// maxImportDepth bounds chains of `import:` (base files importing base
	// files).
	maxImportDepth = 8
)

// Defaults of rule keys, as ElastAlert's (alert_time_limit as the issue
// asks: ElastAlert's is 2 days).
const (
	DefaultRealert        = time.Minute
	DefaultAlertTimeLimit = time.Hour
	DefaultTimestampField = "@timestamp"
	DefaultTermsWindow    = 30 * 24 * time.Hour
	DefaultBufferTime     = 5 * time.Minute
)

// LoadOptions are what the rest of sluice gives the loader.
type LoadOptions struct {
	// CompileFilters compiles a rule's filter list (and match_bucket_filter)
	// into a Matcher, with the effective field aliases; sluice passes
	// internal/query's CompileFilters.
	CompileFilters func(filters []any, aliases map[string]string) (query.Matcher, error)
	// ExtraKeys are keys other packages read (alerter.Keys()): accepted and
	// kept in Rule.Options.
	ExtraKeys []string
	// Aliases are sluice's built-in field aliases (Logstash-era names -> ECS
	// paths); the rule's field_aliases add to and override them.
	Aliases map[string]string
	// MaxKeys is the default Spec.MaxKeys (DefaultMaxKeys when 0).
	MaxKeys int
	// Defaults are rule keys applied to every rule that does not set them
	// itself (alerting.defaults, like ElastAlert's global config): the rule
	// file and its imports win. They are checked like the file's keys; a
	// problem with one names it as coming from alerting.defaults.
	Defaults map[string]any
	// AlertTimeLimit is the alert_time_limit of rules that do not set one
	// (DefaultAlertTimeLimit when 0).
	AlertTimeLimit time.Duration
}

// fingerprint renders the options that shape a rule's Spec, so that a rule
// loaded with other defaults, aliases or bounds gets another Hash (and
// fresh state) although its file did not change.
func (o *LoadOptions) fingerprint() string {
	return fmt.Sprint(o.Defaults, "\x00", o.Aliases, "\x00", o.MaxKeys, "\x00", o.AlertTimeLimit)
}

// Rule is one loaded rule file.
type Rule struct {
	File string
	Spec Spec
	// Index holds the index patterns (wildcards; a comma-separated `index:`
	// is split; a leading "-" excludes); empty means every index.
	Index          []string
	Filter         query.Matcher // nil = every document
	TimestampField string        // default "@timestamp"
	// Realert is the silence after an alert for the same query_key value
	// (default 1 minute; 0 disables); ExponentialRealert the most it grows
	// to (0: no growth).
	Realert, ExponentialRealert time.Duration
	Aggregation                 time.Duration // aggregation: {minutes: 10}
	AggregationSchedule         string        // aggregation: {schedule: "2 4 * * mon,fri"}
	AggregationKey              []string
	SummaryTableFields          []string
	Include                     []string
	TopCountKeys                []string
	AlertTimeLimit              time.Duration     // alert_time_limit (default 1h)
	Aliases                     map[string]string // effective aliases
	// Options is the whole decoded top-level map (with imports merged): the
	// alerter reads its keys from it.
	Options map[string]any
	// Notes lists accepted keys that have no effect in the stream, each with
	// why.
	Notes    []string
	Disabled bool   // is_enabled: false
	Hash     string // of the file's content and its imports', to tell an unchanged rule on reload
	// Imports are the base files merged under this one (import:), absolute
	// paths, so a watcher can reload the rule when one changes.
	Imports []string
	// Description, Owner, Priority (default 2) and Category are kept as
	// ElastAlert keeps them, to be shown with the rule and its alerts.
	Description, Owner, Category string
	Priority                     int

	schedule cron.Schedule // parsed AggregationSchedule
}

// Load reads, checks and compiles one rule file. The error names the file
// and, for each problem, the key, the value and the fix; all problems of
// the file are reported together.
func Load(path string, o LoadOptions) (*Rule, error) {
	raw, hash, imports, err := readRuleTree(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l := &ruleLoader{file: path, dir: filepath.Dir(path), o: o, raw: raw}
	for k, v := range o.Defaults {
		if _, set := raw[k]; !set {
			raw[k] = v
			if l.fromDefaults == nil {
				l.fromDefaults = map[string]bool{}
			}
			l.fromDefaults[k] = true
		}
	}
	r := l.build()
	if len(l.errs) > 0 {
		if l.suppressed > 0 {
			l.errs = append(l.errs, fmt.Errorf("%s: %d more problems not shown", path, l.suppressed))
		}
		return nil, errors.Join(l.errs...)
	}
	if len(o.Defaults) > 0 || len(o.Aliases) > 0 || o.MaxKeys != 0 || o.AlertTimeLimit != 0 {
		sum := sha256.Sum256([]byte(hash + "\x00" + o.fingerprint()))
		hash = hex.EncodeToString(sum[:])
	}
	r.Hash = hash
	r.Imports = imports
	return r, nil
}

// LoadDirs loads every *.yaml and *.yml file under dirs (subfolders
// included, hidden files and folders skipped, in name order). A file that
// another rule imports is a base file, not a rule of its own. A bad rule is
// left out and reported; the others load. A name used twice keeps the
// first file's rule and reports the second.
func LoadDirs(dirs []string, o LoadOptions) ([]*Rule, []error) {
	var files []string
	var errs []error
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p, err))
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			name := d.Name()
			if p != dir && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if ext := strings.ToLower(filepath.Ext(name)); ext == ".yaml" || ext == ".yml" {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("rules folder %s: %w", dir, err))
		}
	}
	sort.Strings(files)
	files = slices.Compact(files)

	type result struct {
		r   *Rule
		err error
	}
	results := make([]result, len(files))
	imported := map[string]bool{}
	for i, f := range files {
		r, err := Load(f, o)
		results[i] = result{r, err}
		if r != nil {
			for _, imp := range r.Imports {
				imported[imp] = true
			}
		}
	}
	var rules []*Rule
	byName := map[string]string{}
	for i, f := range files {
		if abs, err := filepath.Abs(f); err == nil && imported[abs] {
			continue
		}
		res := results[i]
		if res.err != nil {
			errs = append(errs, res.err)
			continue
		}
		if first, dup := byName[res.r.Spec.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: name: %q is already the name of the rule in %s; rule names must be unique, rename one", f, res.r.Spec.Name, first))
			continue
		}
		byName[res.r.Spec.Name] = f
		rules = append(rules, res.r)
	}
	return rules, errs
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes, the limit of %s", path, limit, what)
	}
	return data, nil
}

// readRuleTree reads a rule file and the base files it imports (ElastAlert
// 2's `import:`), merged: the importing file's keys override the base's,
// and both filter lists apply (ANDed). It returns the hash of all the
// content read and the absolute paths of the imports.
func readRuleTree(path string) (map[string]any, string, []string, error) {
	h := sha256.New()
	seen := map[string]bool{}
	var imports []string
	var read func(p string, depth int) (map[string]any, error)
	read = func(p string, depth int) (map[string]any, error) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if seen[abs] {
			return nil, fmt.Errorf("import: %s is imported again (an import loop); remove the import that leads back to it", p)
		}
		seen[abs] = true
		data, err := readBounded(p, MaxRuleFileBytes, "a rule file")
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(data))
		h.Write(data)
		m, _, err := decodeRuleYAML(data)
		if err != nil {
			return nil, err
		}
		imp, ok := m["import"]
		if !ok {
			return m, nil
		}
		delete(m, "import")
		var names []string
		switch v := imp.(type) {
		case string:
			names = []string{v}
		case []any:
			for _, x := range v {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("import: %v is not a file name; write import: base.yaml (relative to this file's folder) or a list of them", x)
				}
				names = append(names, s)
			}
		default:
			return nil, fmt.Errorf("import: %v is not a file name; write import: base.yaml (relative to this file's folder)", imp)
		}
		if depth >= maxImportDepth {
			return nil, fmt.Errorf("import: more than %d levels of imports; flatten the base files", maxImportDepth)
		}
		// Later imports override earlier ones; this file overrides them all.
		merged := map[string]any{}
		var filters []any
		for _, name := range names {
			if strings.TrimSpace(name) == "" {
				return nil, errors.New("import: an empty file name; write import: base.yaml")
			}
			bp := name
			if !filepath.IsAbs(bp) {
				bp = filepath.Join(filepath.Dir(p), bp)
			}
			base, err := read(bp, depth+1)
			if err != nil {
				return nil, fmt.Errorf("import %s: %w", name, err)
			}
			babs, _ := filepath.Abs(bp)
			imports = append(imports, babs)
			if f, ok := base["filter"].([]any); ok {
				filters = append(filters, f...)
			}
			for k, v := range base {
				merged[k] = v
			}
		}
		if f, ok := m["filter"].([]any); ok && filters != nil {
			m["filter"] = append(filters, f...)
		}
		for k, v := range m {
			merged[k] = v
		}
		return merged, nil
	}
	m, err := read(path, 0)
	if err != nil {
		return nil, "", nil, err
	}
	return m, hex.EncodeToString(h.Sum(nil)), imports, nil
}

// ruleLoader checks one decoded rule file, collecting every problem.
type ruleLoader struct {
	file         string
	dir          string
	o            LoadOptions
	raw          map[string]any
	errs         []error
	suppressed   int             // problems past maxLoadErrors
	fromDefaults map[string]bool // keys that LoadOptions.Defaults set
	notes        []string
	// aliases are the effective field aliases.
	aliases map[string]string
}

// maxLoadErrors bounds the problems reported for one file; a file full of
// junk gets the first ones and a count, not a message as large as itself.
const maxLoadErrors = 50

func (l *ruleLoader) fail(key string, format string, args ...any) {
	if len(l.errs) >= maxLoadErrors {
		l.suppressed++
		return
	}
	msg := fmt.Sprintf(format, args...)
	base := key
	if i := strings.IndexAny(base, ".["); i > 0 {
		base = base[:i]
	}
	if l.fromDefaults[base] {
		key = "alerting.defaults." + key
	}
	if key != "" {
		l.errs = append(l.errs, fmt.Errorf("%s: %s: %s", l.file, key, msg))
		return
	}
	l.errs = append(l.errs, fmt.Errorf("%s: %s", l.file, msg))
}

func (l *ruleLoader) has(key string) bool {
	v, ok := l.raw[key]
	return ok && v != nil
}

// show formats a value for a message, shortened.
func show(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strconv.Quote(x)
	default:
		s = fmt.Sprintf("%v", x)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func (l *ruleLoader) str(key string) string {
	v, ok := l.raw[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := scalarText(v)
	if !ok {
		l.fail(key, "%s is not a single value; write %s: text", show(v), key)
	}
	return s
}

// scalarText renders a YAML scalar as text (numbers as written by
// strconv, booleans as true/false).
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// strList reads a string or a list of strings.
func (l *ruleLoader) strList(key string) []string {
	v, ok := l.raw[key]
	if !ok || v == nil {
		return nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := scalarText(e)
			if !ok || s == "" {
				l.fail(fmt.Sprintf("%s[%d]", key, i), "%s is not a field name; write %s: [field, ...]", show(e), key)
				continue
			}
			out = append(out, s)
		}
		return out
	}
	l.fail(key, "%s is not a name or a list of names; write %s: field or %s: [field1, field2]", show(v), key, key)
	return nil
}

func (l *ruleLoader) fieldList(key string) []string {
	fs := l.strList(key)
	for i, f := range fs {
		fs[i] = l.field(f)
	}
	return fs
}

func (l *ruleLoader) field(f string) string {
	if a, ok := l.aliases[f]; ok {
		return a
	}
	return f
}

func (l *ruleLoader) boolean(key string) bool {
	v, ok := l.raw[key]
	if !ok || v == nil {
		return false
	}
	switch b := v.(type) {
	case bool:
		return b
	case string:
		// ElastAlert (Python) takes any non-empty text as true; people write
		// ignore_null: "true". Only the plain words are accepted here.
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true", "yes", "on":
			return true
		case "false", "no", "off":
			return false
		}
	}
	l.fail(key, "%s is not true or false; write %s: true", show(v), key)
	return false
}

// number reads a numeric key; ok is false when absent or bad.
func (l *ruleLoader) number(key string) (float64, bool) {
	v, present := l.raw[key]
	if !present || v == nil {
		return 0, false
	}
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float64:
		f = x
	default:
		l.fail(key, "%s is not a number; write %s: 10", show(v), key)
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		l.fail(key, "%s is not a finite number; write %s: 10", show(v), key)
		return 0, false
	}
	return f, true
}

// count reads a whole number within [lo, hi].
func (l *ruleLoader) count(key string, lo, hi int) (int, bool) {
	f, ok := l.number(key)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) {
		l.fail(key, "%s is not a whole number; write %s: %d", show(l.raw[key]), key, max(lo, int(f)))
		return 0, false
	}
	if f < float64(lo) || f > float64(hi) {
		if f < 0 {
			l.fail(key, "%s is negative; use a number from %d to %d", show(l.raw[key]), lo, hi)
		} else {
			l.fail(key, "%s is out of range; use a number from %d to %d", show(l.raw[key]), lo, hi)
		}
		return 0, false
	}
	return int(f), true
}

func (l *ruleLoader) optCount(key string, lo, hi int) *int {
	n, ok := l.count(key, lo, hi)
	if !ok {
		return nil
	}
	return &n
}

func (l *ruleLoader) optFloat(key string, lo, hi float64) *float64 {
	f, ok := l.number(key)
	if !ok {
		return nil
	}
	if f < lo || f > hi {
		if f < 0 && lo == 0 {
			l.fail(key, "%s is negative; use a number from %g to %g", show(l.raw[key]), lo, hi)
		} else {
			l.fail(key, "%s is out of range; use a number from %g to %g", show(l.raw[key]), lo, hi)
		}
		return nil
	}
	return &f
}

// durationUnits are the keys of ElastAlert's time-delta maps (Python's
// datetime.timedelta arguments).
var durationUnits = map[string]time.Duration{
	"weeks":        7 * 24 * time.Hour,
	"days":         24 * time.Hour,
	"hours":        time.Hour,
	"minutes":      time.Minute,
	"seconds":      time.Second,
	"milliseconds": time.Millisecond,
	"microseconds": time.Microsecond,
}

// parseDuration reads ElastAlert's {weeks, days, hours, minutes, seconds,
// milliseconds} map (units combine: {hours: 1, minutes: 30}) or, as a
// sluice extension, a Go duration string ("90s", "1h30m").
func parseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%s is not a duration; write {minutes: 5} or \"5m\"", show(v))
		}
		return d, nil
	case map[string]any:
		units := make([]string, 0, len(x))
		for u := range x {
			units = append(units, u)
		}
		sort.Strings(units)
		total := 0.0
		for _, u := range units {
			scale, ok := durationUnits[u]
			if !ok {
				known := []string{"weeks", "days", "hours", "minutes", "seconds", "milliseconds"}
				if s := suggestKey(u, known); s != "" {
					return 0, fmt.Errorf("unknown unit %q; did you mean %s? (units: %s)", u, s, strings.Join(known, ", "))
				}
				return 0, fmt.Errorf("unknown unit %q; use %s", u, strings.Join(known, ", "))
			}
			var n float64
			switch y := x[u].(type) {
			case int:
				n = float64(y)
			case int64:
				n = float64(y)
			case uint64:
				n = float64(y)
			case float64:
				n = y
			default:
				return 0, fmt.Errorf("%s: %s is not a number; write {%s: 5}", u, show(x[u]), u)
			}
			total += n * float64(scale)
		}
		if math.IsNaN(total) || math.Abs(total) >= math.MaxInt64 {
			return 0, fmt.Errorf("%s is not a usable duration (too long); write {days: 30} or less", show(v))
		}
		return time.Duration(total), nil
	case nil:
		return 0, errors.New("no value; write {minutes: 5} or \"5m\"")
	}
	return 0, fmt.Errorf("%s is not a duration; write {minutes: 5} or \"5m\"", show(v))
}

// duration reads a non-negative duration key; ok is false when absent or
// bad.
func (l *ruleLoader) duration(key string) (time.Duration, bool) {
	v, present := l.raw[key]
	if !present || v == nil {
		return 0, false
	}
	d, err := parseDuration(v)
	if err != nil {
		l.fail(key, "%v", err)
		return 0, false
	}
	if d < 0 {
		l.fail(key, "%s is negative; use a duration of zero or more, e.g. {minutes: 5}", show(v))
		return 0, false
	}
	return d, true
}

func (l *ruleLoader) note(key, why string) {
	v := l.raw[key]
	s := ""
	if v != nil {
		s = " (" + show(v) + ")"
	}
	// Never echo a password into notes that are shown.
	if strings.Contains(key, "password") {
		s = ""
	}
	l.notes = append(l.notes, key+s+": "+why)
}

func (l *ruleLoader) compile(key string, v any) query.Matcher {
	var filters []any
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		filters = x
	case map[string]any:
		// One clause without the list dash: ElastAlert wants a list, but the
		// intent is plain.
		filters = []any{x}
	default:
		l.fail(key, "%s is not a list of filters; write %s:\n- term:\n    field: value", show(v), key)
		return nil
	}
	if len(filters) == 0 {
		return nil
	}
	if l.o.CompileFilters == nil {
		l.fail(key, "no filter compiler was given to the loader")
		return nil
	}
	m, err := l.o.CompileFilters(filters, l.aliases)
	if err != nil {
		l.fail(key, "%v", err)
		return nil
	}
	return m
}
