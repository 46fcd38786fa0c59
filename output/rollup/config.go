// Package rollup keeps per-minute and per-hour rollups of flows, syslog and
// DNS events in data_dir/console and answers the web console from them
// (console.Backend) when sluice runs without Elasticsearch.
//
// A pipeline stage after Encode folds every event into the open minute of
// its kind (a resolver's query-log line is a syslog and a DNS event: it
// counts in both): per segment (event.action, network.direction,
// event.dataset; for DNS dns.response_code, the DNS checks' verdict and
// event.dataset; at most MaxSegments, the rest folded into an "other"
// segment) exact
// totals and, per console dimension, a Space-Saving top-K. A closed minute
// is appended as one framed block (magic, version, length, CRC32C) to
// <kind>-1m-<day>.rlb; when an hour has closed its minute blocks are merged
// into a block of <kind>-1h-<day>.rlb. Blocks are not fsynced: a crash
// loses the open minute (and what the kernel had not written). At start
// the files are read back; a block that does not decode ends its file,
// which is renamed aside (*.bad-<time>) and counted.
package rollup

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the rollups (keys under console.).
type Config struct {
	// Dir holds the block files (data_dir/console).
	Dir string
	// MaxSegments bounds the segments per minute and kind.
	MaxSegments int
	// TopK is the values kept per dimension and segment; TopKHigh for
	// high-cardinality dimensions (addresses, URLs).
	TopK, TopKHigh int
	// MinuteRetention is how long minute blocks are kept; Retention how
	// long hour blocks are.
	MinuteRetention, Retention time.Duration
	// MaxBytes bounds the files on disk: the oldest go first.
	MaxBytes int64
	// EventsDir and the index patterns name the daily NDJSON files the
	// Events view reads (output/file's dir and index patterns). DNS
	// events are read from the DNS, Beats and syslog files.
	EventsDir                                     string
	FlowsIndex, SyslogIndex, DNSIndex, BeatsIndex string
	// EventsScanLimit bounds the lines one Events request reads.
	EventsScanLimit int
	// ExactRate is the events per second of one kind up to which every
	// event feeds the top-K; above it a random sample of about ExactRate
	// events per second does, each weighted by the sampling ratio (totals
	// stay exact). 0: every event, whatever the rate.
	ExactRate int
	// Location is the time zone of the NDJSON day names (output.timezone).
	Location *time.Location
	// Now is the clock (tests set it); nil is time.Now.
	Now func() time.Time
}

// Default returns the default configuration.
func Default() Config {
	return Config{
		Dir:             "./data/console",
		MaxSegments:     32,
		TopK:            20,
		TopKHigh:        100,
		MinuteRetention: 24 * time.Hour,
		Retention:       7 * 24 * time.Hour,
		MaxBytes:        512 << 20,
		EventsDir:       "./data",
		FlowsIndex:      "sluice-flows-%{+yyyy.MM.dd}",
		SyslogIndex:     "sluice-syslog-%{+yyyy.MM.dd}",
		DNSIndex:        "sluice-dns-%{+yyyy.MM.dd}",
		BeatsIndex:      "sluice-beats-%{+yyyy.MM.dd}",
		EventsScanLimit: 200_000,
		ExactRate:       2000,
	}
}

// Validate reports every problem of c, each naming its key and a fix.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("console: data_dir is empty; set data_dir"))
	}
	if c.MaxSegments < 1 || c.MaxSegments > 1024 {
		errs = append(errs, fmt.Errorf("console.max_segments: %d is out of range; use 1..1024 or remove the key to use 32", c.MaxSegments))
	}
	if c.TopK < 1 || c.TopK > 10000 {
		errs = append(errs, fmt.Errorf("console.top_k: %d is out of range; use 1..10000 or remove the key to use 20", c.TopK))
	}
	if c.MinuteRetention < time.Hour {
		errs = append(errs, fmt.Errorf("console.minute_retention: %s is below 1h; raise it or remove the key to use 24h", c.MinuteRetention))
	}
	if c.Retention < c.MinuteRetention {
		errs = append(errs, fmt.Errorf("console.retention: %s is below console.minute_retention (%s); raise it or remove the key to use 168h", c.Retention, c.MinuteRetention))
	}
	if c.MaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("console.max_bytes: %d is below 1048576 (1MiB); raise it or remove the key to use 536870912 (512MiB)", c.MaxBytes))
	}
	if c.ExactRate < 0 {
		errs = append(errs, fmt.Errorf("console.exact_rate: %d is below 0; use 0 (every event) or more, or remove the key to use 2000", c.ExactRate))
	}
	if c.EventsScanLimit < 1 {
		errs = append(errs, fmt.Errorf("console.events_scan_limit: %d is below 1; raise it or remove the key to use 200000", c.EventsScanLimit))
	}
	return errors.Join(errs...)
}
