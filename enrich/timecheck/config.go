package timecheck

import (
	"errors"
	"fmt"
	"time"
)

// Bounds is the window around now in which an input's own event times are
// believed. A zero bound is no bound on that side.
type Bounds struct {
	MaxPast   time.Duration // <input>.max_past
	MaxFuture time.Duration // <input>.max_future
}

// Config configures the stage.
type Config struct {
	// Flows applies to KindFlow events: NetFlow v5/v9 and IPFIX from the
	// netflow and ipfix listeners (keys netflow.max_past/max_future). sFlow
	// samples carry no time of their own (they are dated when received), so
	// they always lie inside.
	Flows Bounds
	// Syslog applies to KindSyslog events, after the vendor parsers that
	// may date them from the message (keys syslog.max_past/max_future).
	Syslog Bounds
	// Beats applies to KindBeats events, dated by the document's
	// @timestamp (keys beats.max_past/max_future).
	Beats Bounds
	// MaxSenders bounds the table of offending senders; the least recently
	// seen is forgotten first.
	MaxSenders int
	// LogInterval is how often at most one sender is named in a warning;
	// the warning says how many events it sent out of range in between.
	LogInterval time.Duration
	// Now is the clock (tests inject one); nil is time.Now.
	Now func() time.Time
}

// Default values of the keys: a week back, a day ahead.
const (
	DefaultMaxPast   = 7 * 24 * time.Hour
	DefaultMaxFuture = 24 * time.Hour
)

// Default returns the defaults: 7 days past and 1 day future for both
// inputs, 256 senders, one warning per sender per minute.
func Default() Config {
	b := Bounds{MaxPast: DefaultMaxPast, MaxFuture: DefaultMaxFuture}
	return Config{Flows: b, Syslog: b, Beats: b, MaxSenders: 256, LogInterval: time.Minute}
}

// Validate reports every problem, naming the key, the value and the fix.
func (c Config) Validate() error {
	var errs []error
	for _, k := range []struct {
		key string
		v   time.Duration
	}{
		{"netflow.max_past", c.Flows.MaxPast}, {"netflow.max_future", c.Flows.MaxFuture},
		{"syslog.max_past", c.Syslog.MaxPast}, {"syslog.max_future", c.Syslog.MaxFuture},
		{"beats.max_past", c.Beats.MaxPast}, {"beats.max_future", c.Beats.MaxFuture},
	} {
		if k.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s is negative; use a positive duration such as 168h, or 0 for no bound", k.key, k.v))
		}
	}
	if c.MaxSenders < 1 {
		errs = append(errs, fmt.Errorf("timecheck: MaxSenders %d must be at least 1", c.MaxSenders))
	}
	if c.LogInterval <= 0 {
		errs = append(errs, fmt.Errorf("timecheck: LogInterval %s must be positive", c.LogInterval))
	}
	return errors.Join(errs...)
}
