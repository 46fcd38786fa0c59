// Package alert runs alert rules on the stream: a pipeline stage evaluates
// every document against the rules (package rule) as it passes, matches go
// to a bounded queue that alerter workers serve (package alerter), and
// every alert, sent or not, is written back through the outputs as a
// document of the daily alerts index. Nothing here ever blocks ingest: a
// full queue counts and drops alerts, never events.
package alert

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// Config configures alerting (the alerting.* keys).
type Config struct {
	RulesDirs      []string
	Index          string        // pattern of the alerts index, e.g. sluice-alerts-%{+yyyy.MM.dd}
	AlertTimeLimit time.Duration // default retry limit of a failing alerter
	QueueSize      int
	Workers        int
	MaxKeys        int
	Defaults       map[string]any // rule keys applied to rules that do not set them
	StatePath      string         // windows, silences and unsent alerts over a restart
	// FlowsIndex and SyslogIndex are the outputs' index patterns, and
	// Location their time zone: a rule's index: is matched against the
	// name a document is stored under.
	FlowsIndex, SyslogIndex string
	Location                *time.Location
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// History reads the stored documents of [from, to] (the daily files,
	// or Elasticsearch), calling each for every one until it returns an
	// error; new_term rules learn their terms from it at the first start.
	// Nil: no history.
	History func(ctx context.Context, from, to time.Time, each func(Doc) error) error
	// SeedTimeout bounds how long the first start reads history (30s
	// when 0).
	SeedTimeout time.Duration
}

// Default returns the defaults of the alerting.* keys.
func Default() Config {
	return Config{
		Index: "sluice-alerts-%{+yyyy.MM.dd}", AlertTimeLimit: time.Hour,
		QueueSize: 1000, Workers: 2, MaxKeys: 10000,
		FlowsIndex: "sluice-flows-%{+yyyy.MM.dd}", SyslogIndex: "sluice-syslog-%{+yyyy.MM.dd}",
	}
}

// Validate checks c; keys are named as in the config file.
func (c Config) Validate() error {
	var errs []error
	if _, err := event.NewIndexNamer(c.Index, nil); err != nil {
		errs = append(errs, fmt.Errorf("alerting.index: %w", err))
	}
	if c.AlertTimeLimit < time.Second {
		errs = append(errs, fmt.Errorf("alerting.alert_time_limit: %s is below 1s; use e.g. 1h", c.AlertTimeLimit))
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("alerting.queue_size: %d must be >= 1", c.QueueSize))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("alerting.workers: %d must be >= 1", c.Workers))
	}
	if c.MaxKeys < 1 {
		errs = append(errs, fmt.Errorf("alerting.max_keys: %d must be >= 1", c.MaxKeys))
	}
	return errors.Join(errs...)
}
