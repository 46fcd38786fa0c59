// Package retention deletes, closes, force-merges or gzips sluice's old daily
// Elasticsearch indices and NDJSON files, Curator style: policies name
// indices by pattern and pick the old ones by the date in their name (or
// their creation date) and by the total size. `sluice retention` runs the
// policies once (cron); retention.schedule runs them inside `sluice run`.
//
// It is conservative: today's index or file is never touched (nor, for
// files, yesterday's, which the file output may still have open), names
// whose date does not parse are reported and left alone, names starting
// with a dot (system indices, temporary files) are never listed, and a
// pattern that would match every index is refused.
package retention

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Actions.
const (
	ActionDelete     = "delete"
	ActionClose      = "close"
	ActionForcemerge = "forcemerge"
	ActionGzip       = "gzip"
)

// Targets.
const (
	TargetElasticsearch = "elasticsearch"
	TargetFiles         = "files"
	TargetBoth          = "both"
)

// Age sources.
const (
	AgeFromName         = "name"
	AgeFromCreationDate = "creation_date"
)

// DefaultTimestring is the date format of sluice's default index names
// (sluice-flows-%{+yyyy.MM.dd}).
const DefaultTimestring = "%Y.%m.%d"

// Config configures retention (config keys under retention).
type Config struct {
	// Schedule runs the policies inside `sluice run`: "" (off), an
	// interval ("24h") or a cron expression ("30 3 * * *", host time, or
	// with a CRON_TZ=Zone prefix).
	Schedule string
	// Timezone is the zone of the dates in names and of "today".
	Timezone string
	Policies []PolicyConfig

	// Elasticsearch tells whether output.elasticsearch.addresses is set;
	// FilesDir is output.file.dir, "" when the file output is off.
	Elasticsearch bool
	FilesDir      string
}

// PolicyConfig is one entry of retention.policies.
type PolicyConfig struct {
	Name           string   // for reports and logs; default policies[i]
	Pattern        string   // glob on index names, e.g. sluice-flows-*
	Exclude        []string // globs of names never touched
	MaxAge         string   // "30d", "12h"; "" = no age limit
	AgeSource      string   // name (default) or creation_date
	Timestring     string   // date in the name; default %Y.%m.%d
	Action         string   // delete, close, forcemerge, gzip
	MaxNumSegments int      // forcemerge: segments per shard; default 1
	MaxTotalSize   string   // "50GB": delete oldest first above this
	Targets        string   // elasticsearch, files, both; default: where the action applies
}

// Default returns the default configuration: no schedule, no policies.
func Default() Config {
	return Config{Timezone: "UTC"}
}

// policy is a validated PolicyConfig.
type policy struct {
	name         string
	pattern      string
	exclude      []string
	maxAge       age
	ageSource    string
	timestring   *Timestring
	action       string
	segments     int
	maxTotalSize int64 // 0 = none
	es, files    bool  // targets
}

// age is a max_age: days count calendar days in the retention zone.
type age struct {
	days int
	dur  time.Duration
}

func (a age) set() bool { return a.days > 0 || a.dur > 0 }

// cutoff returns the instant before which data is older than a.
func (a age) cutoff(now time.Time, loc *time.Location) time.Time {
	if a.days > 0 {
		return now.In(loc).AddDate(0, 0, -a.days)
	}
	return now.Add(-a.dur)
}

func (a age) String() string {
	if a.days > 0 {
		return strconv.Itoa(a.days) + "d"
	}
	return a.dur.String()
}

// parseAge reads "30d", "36h" or any Go duration.
func parseAge(s string) (age, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 1 {
			return age{}, errors.New("not a number of days")
		}
		return age{days: d}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return age{}, err
	}
	if d < time.Hour {
		return age{}, errors.New("below 1h")
	}
	return age{dur: d}, nil
}

// ParseSize reads a size such as "50GB", "500MiB" or "1073741824". K, M,
// G and T with or without "i" are powers of 1024 (as Curator's disk_space
// and df -h count), so a size is never smaller than one might read it.
func ParseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimSuffix(u, "B")
	u = strings.TrimSuffix(u, "I")
	mult := int64(1)
	if u != "" {
		switch u[len(u)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			u = u[:len(u)-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	if err != nil || v <= 0 || v*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("%q is not a size; write e.g. 50GB or 500MB", s)
	}
	return int64(v * float64(mult)), nil
}

// matchesEverything reports whether a glob can match any name: one with no
// letter or digit ("*", "*-*", "?*") selects indices of every kind.
func matchesEverything(p string) bool {
	return !strings.ContainsFunc(p, func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	})
}

// ParseSchedule reads retention.schedule: an interval (every > 0) or a
// cron expression (sched != nil). "" gives neither.
func ParseSchedule(s string) (every time.Duration, sched cron.Schedule, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil, nil
	}
	if d, derr := time.ParseDuration(s); derr == nil {
		if d < time.Second {
			return 0, nil, fmt.Errorf("retention.schedule: %s is below 1s; use e.g. 24h", s)
		}
		return d, nil, nil
	}
	sched, err = cron.ParseStandard(s)
	if err != nil {
		return 0, nil, fmt.Errorf("retention.schedule: %q is neither an interval (24h) nor a 5-field cron expression (30 3 * * *): %v", s, err)
	}
	return 0, sched, nil
}

// Validate reports every problem of c, each naming its key and a fix.
func (c Config) Validate() error {
	_, err := c.parse()
	return err
}

// parse validates c and returns its policies.
func (c Config) parse() ([]*policy, error) {
	var errs []error
	if _, _, err := ParseSchedule(c.Schedule); err != nil {
		errs = append(errs, err)
	}
	if c.Timezone == "" {
		errs = append(errs, errors.New("retention.timezone: empty; use an IANA name such as UTC (the default is output.timezone)"))
	} else if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("retention.timezone: %q is not a time zone; use an IANA name such as UTC or Europe/Berlin", c.Timezone))
	}
	var out []*policy
	names := map[string]int{}
	for i, pc := range c.Policies {
		p, perrs := c.parsePolicy(i, pc)
		errs = append(errs, perrs...)
		if p == nil {
			continue
		}
		if j, dup := names[p.name]; dup {
			errs = append(errs, fmt.Errorf("retention.policies[%d].name: %q is also the name of retention.policies[%d]; give each policy its own name", i, p.name, j))
		}
		names[p.name] = i
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (c Config) parsePolicy(i int, pc PolicyConfig) (*policy, []error) {
	var errs []error
	key := func(k string) string { return fmt.Sprintf("retention.policies[%d].%s", i, k) }
	bad := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf(key(k)+": "+format, args...))
	}
	p := &policy{name: pc.Name, pattern: strings.TrimSpace(pc.Pattern), exclude: pc.Exclude, action: pc.Action}
	if p.name == "" {
		p.name = fmt.Sprintf("policies[%d]", i)
	}
	switch {
	case p.pattern == "":
		bad("pattern", "empty; name the indices or files, e.g. sluice-flows-*")
	case matchesEverything(p.pattern):
		bad("pattern", "%q matches every index; name the indices, e.g. sluice-flows-*", p.pattern)
	case strings.HasPrefix(p.pattern, "."):
		bad("pattern", "%q names hidden or system indices, which retention never touches; use e.g. sluice-flows-*", p.pattern)
	case strings.ContainsAny(p.pattern, ",/ "):
		bad("pattern", "%q: one glob without commas, slashes or spaces; write one policy per pattern", p.pattern)
	default:
		if _, err := path.Match(p.pattern, ""); err != nil {
			bad("pattern", "%q is not a valid glob (*, ?, [a-z]): %v", p.pattern, err)
		}
	}
	for j, x := range pc.Exclude {
		if x == "" {
			bad(fmt.Sprintf("exclude[%d]", j), "empty; remove it or name indices to keep, e.g. sluice-flows-2026.01.*")
		} else if _, err := path.Match(x, ""); err != nil {
			bad(fmt.Sprintf("exclude[%d]", j), "%q is not a valid glob: %v", x, err)
		}
	}
	if pc.MaxAge != "" {
		a, err := parseAge(pc.MaxAge)
		if err != nil {
			bad("max_age", "%q: %v; write days (30d) or hours (36h), at least 1h", pc.MaxAge, err)
		}
		p.maxAge = a
	}
	if pc.MaxTotalSize != "" {
		n, err := ParseSize(pc.MaxTotalSize)
		if err != nil {
			bad("max_total_size", "%v", err)
		}
		p.maxTotalSize = n
	}
	if pc.MaxAge == "" && pc.MaxTotalSize == "" {
		errs = append(errs, fmt.Errorf("retention.policies[%d]: max_age and max_total_size are both empty, so nothing is ever old; set max_age (e.g. 30d), max_total_size (e.g. 50GB) or both", i))
	}
	p.ageSource = pc.AgeSource
	switch pc.AgeSource {
	case "":
		p.ageSource = AgeFromName
	case AgeFromName, AgeFromCreationDate:
	default:
		bad("age_source", "%q is not an age source; use name (the date in the name) or creation_date", pc.AgeSource)
	}
	tsSrc := pc.Timestring
	if tsSrc == "" {
		tsSrc = DefaultTimestring
	}
	ts, err := ParseTimestring(tsSrc)
	if err != nil {
		bad("timestring", "%v", err)
	}
	p.timestring = ts

	var esOK, filesOK bool
	switch pc.Action {
	case ActionDelete:
		esOK, filesOK = true, true
	case ActionClose, ActionForcemerge:
		esOK = true
	case ActionGzip:
		filesOK = true
	case "":
		bad("action", "empty; use delete, close, forcemerge (Elasticsearch) or gzip (files)")
	default:
		bad("action", "%q is not an action; use delete, close, forcemerge (Elasticsearch) or gzip (files)", pc.Action)
	}
	if pc.Action == ActionForcemerge {
		p.segments = pc.MaxNumSegments
		if p.segments == 0 {
			p.segments = 1
		}
		if p.segments < 0 {
			bad("max_num_segments", "%d is negative; use 1 or more (default 1)", pc.MaxNumSegments)
		}
	} else if pc.MaxNumSegments != 0 {
		bad("max_num_segments", "only applies to action forcemerge; remove it")
	}
	if pc.MaxTotalSize != "" && pc.Action != ActionDelete && pc.Action != "" {
		bad("max_total_size", "only applies to action delete (%s frees no or too little space to count on); remove it or use action: delete", pc.Action)
	}
	switch pc.Targets {
	case "":
		p.es, p.files = esOK && c.Elasticsearch, filesOK && c.FilesDir != ""
		if pc.Action != "" && (esOK || filesOK) && !p.es && !p.files {
			what := map[bool]string{true: "output.elasticsearch.addresses", false: "output.file.enabled"}[esOK]
			if esOK && filesOK {
				what = "output.elasticsearch.addresses or output.file.enabled"
			}
			bad("action", "%s needs %s, which is not configured; configure that output or remove the policy", pc.Action, what)
		}
	case TargetElasticsearch, TargetFiles, TargetBoth:
		p.es = pc.Targets != TargetFiles
		p.files = pc.Targets != TargetElasticsearch
		if p.es && !esOK && pc.Action != "" && (esOK || filesOK) {
			bad("targets", "%s: action %s applies to files only; use targets: files", pc.Targets, pc.Action)
		}
		if p.files && !filesOK && pc.Action != "" && (esOK || filesOK) {
			bad("targets", "%s: action %s applies to Elasticsearch only; use targets: elasticsearch", pc.Targets, pc.Action)
		}
		if p.es && pc.Targets == TargetElasticsearch && !c.Elasticsearch {
			bad("targets", "elasticsearch, but output.elasticsearch.addresses is empty; set it or use targets: files")
		}
		if p.files && pc.Targets == TargetFiles && c.FilesDir == "" {
			bad("targets", "files, but output.file.enabled is false; enable the file output or use targets: elasticsearch")
		}
		p.es = p.es && c.Elasticsearch
		p.files = p.files && c.FilesDir != ""
	default:
		bad("targets", "%q is not a target; use elasticsearch, files or both (default: where the action applies)", pc.Targets)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}
