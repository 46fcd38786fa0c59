package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// Spool-full policies (output.elasticsearch.spool.when_full).
const (
	DropOldest = "drop_oldest"
	DropNewest = "drop_newest"
	Block      = "block"
)

// What Write does while Elasticsearch is slower than the input
// (output.elasticsearch.spool.when_slow).
const (
	WhenSlowBackpressure = "backpressure"
	WhenSlowSpool        = "spool"
)

// Config configures the Elasticsearch output (keys under output.elasticsearch;
// the index patterns and time zone come from output.index.* and
// output.timezone).
type Config struct {
	Addresses []string // node URLs; the output is off when empty
	Username  string
	Password  string
	APIKey    string // base64 "id:key" as Elasticsearch returns it
	CAFile    string // PEM file with the CA(s) that signed the nodes' certificates
	// CAFingerprint is the SHA-256 hex fingerprint of the CA certificate
	// Elasticsearch prints on first start.
	CAFingerprint      string
	InsecureSkipVerify bool // never verify TLS certificates (testing only)
	Compress           bool // gzip request bodies
	Timeout            time.Duration

	// A bulk request is sent when it holds MaxDocs documents or MaxBytes
	// bytes, or FlushInterval after its first document; up to Workers
	// requests are in flight at once.
	MaxDocs       int
	MaxBytes      int
	FlushInterval time.Duration
	Workers       int

	// Retriable failures (429, 502, 503, 504) are retried with exponential
	// backoff between InitialBackoff and MaxBackoff, with jitter; after
	// SpoolAfter a worker leaves the remaining items in their spool segment
	// and backs off. Connection errors do so at once.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	SpoolAfter     time.Duration

	SpoolDir      string // created when missing
	SpoolMaxBytes int64
	SpoolWhenFull string // DropOldest, DropNewest or Block
	// SpoolFsync is when spool files are fsynced: FsyncSegment (when a
	// segment is sealed and at Close), FsyncAlways (every Write), FsyncNever.
	SpoolFsync string
	// StallTimeout is how long delivery may make no progress while
	// segments wait before Ready reports it (and a warning is logged).
	StallTimeout time.Duration
	// SpoolWhenSlow is what Write does while Elasticsearch answers and
	// delivers but more waits than the in-memory capacity:
	// WhenSlowBackpressure (wait, so the pipeline slows its intake) or
	// WhenSlowSpool (spool it to disk).
	SpoolWhenSlow string

	DeadLetterPath     string // NDJSON file for documents Elasticsearch refused
	DeadLetterMaxBytes int64

	FlowsIndex  string
	SyslogIndex string
	Timezone    string

	InstallTemplates bool
	Template         TemplateConfig
}

// Default returns the defaults; SpoolDir and DeadLetterPath are under
// ./data, as data_dir is by default.
func Default() Config {
	return Config{
		Compress:           true,
		Timeout:            60 * time.Second,
		MaxDocs:            2000,
		MaxBytes:           4 << 20,
		FlushInterval:      time.Second,
		Workers:            2,
		InitialBackoff:     100 * time.Millisecond,
		MaxBackoff:         30 * time.Second,
		SpoolAfter:         5 * time.Second,
		SpoolDir:           "./data/elasticsearch-spool",
		SpoolMaxBytes:      1 << 30,
		SpoolWhenFull:      DropOldest,
		SpoolFsync:         FsyncSegment,
		StallTimeout:       5 * time.Minute,
		SpoolWhenSlow:      WhenSlowBackpressure,
		DeadLetterPath:     "./data/elasticsearch-dead-letter.ndjson",
		DeadLetterMaxBytes: 256 << 20,
		FlowsIndex:         "sluice-flows-%{+yyyy.MM.dd}",
		SyslogIndex:        "sluice-syslog-%{+yyyy.MM.dd}",
		Timezone:           "UTC",
		InstallTemplates:   true,
		Template:           DefaultTemplateConfig(),
	}
}

const prefix = "output.elasticsearch."

// Validate reports every problem of c, each naming its key and a fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf(prefix+key+": "+format, args...))
	}
	if len(c.Addresses) == 0 {
		bad("addresses", "is empty; list the node URLs such as http://127.0.0.1:9200")
	}
	for _, a := range c.Addresses {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("addresses", "%q is not a node URL; use http://host:9200 or https://host:9200", a)
		}
	}
	if c.APIKey != "" && (c.Username != "" || c.Password != "") {
		bad("api_key", "is set together with username/password; use one of them")
	}
	if (c.Username == "") != (c.Password == "") {
		bad("password", "username and password must be set together")
	}
	if c.CAFile != "" {
		if _, err := os.ReadFile(c.CAFile); err != nil {
			bad("tls.ca_file", "cannot read %s (%v); give the PEM file of the cluster's CA", c.CAFile, err)
		}
	}
	if fp := c.CAFingerprint; fp != "" {
		clean := strings.ReplaceAll(fp, ":", "")
		if len(clean) != 64 || strings.Trim(strings.ToLower(clean), "0123456789abcdef") != "" {
			bad("tls.ca_fingerprint", "%q is not a SHA-256 hex fingerprint (64 hex digits, colons allowed)", fp)
		}
	}
	if c.Timeout < time.Second {
		bad("timeout", "%s is below 1s; use e.g. 60s", c.Timeout)
	}
	if c.MaxDocs < 1 || c.MaxDocs > 100000 {
		bad("bulk.max_docs", "%d is out of range; use 1..100000 (default 2000)", c.MaxDocs)
	}
	if c.MaxBytes < 4<<10 || c.MaxBytes > 100<<20 {
		bad("bulk.max_bytes", "%d is out of range; use 4096..104857600 (default 4194304); Elasticsearch refuses requests over http.max_content_length (100mb)", c.MaxBytes)
	}
	if c.FlushInterval < 10*time.Millisecond {
		bad("bulk.flush_interval", "%s is below 10ms; use e.g. 1s", c.FlushInterval)
	}
	if c.Workers < 1 || c.Workers > 64 {
		bad("bulk.workers", "%d is out of range; use 1..64 concurrent bulk requests (default 2)", c.Workers)
	}
	if c.InitialBackoff <= 0 || c.MaxBackoff < c.InitialBackoff {
		bad("retry.initial_backoff", "%s must be positive and not above retry.max_backoff (%s)", c.InitialBackoff, c.MaxBackoff)
	}
	if c.SpoolAfter < 0 {
		bad("retry.spool_after", "%s is negative; use 0 to spool at the first failure or e.g. 5s", c.SpoolAfter)
	}
	if c.SpoolDir == "" {
		bad("spool.dir", "is empty; set a directory (default data_dir/elasticsearch-spool)")
	}
	if c.SpoolMaxBytes < int64(c.MaxBytes)*2 {
		bad("spool.max_bytes", "%d must hold at least two bulk requests (2 x bulk.max_bytes = %d)", c.SpoolMaxBytes, 2*c.MaxBytes)
	}
	switch c.SpoolWhenFull {
	case DropOldest, DropNewest, Block:
	default:
		bad("spool.when_full", "%q is not a policy; use drop_oldest, drop_newest or block", c.SpoolWhenFull)
	}
	switch c.SpoolFsync {
	case FsyncSegment, FsyncAlways, FsyncNever:
	default:
		bad("spool.fsync", "%q is not a policy; use segment (default), always or never", c.SpoolFsync)
	}
	switch c.SpoolWhenSlow {
	case WhenSlowBackpressure, WhenSlowSpool:
	default:
		bad("spool.when_slow", "%q is not a policy; use backpressure or spool", c.SpoolWhenSlow)
	}
	if c.StallTimeout < time.Second {
		bad("spool.stall_timeout", "%s is below 1s; use e.g. 5m", c.StallTimeout)
	}
	if c.DeadLetterPath == "" {
		bad("dead_letter.path", "is empty; set a file (default data_dir/elasticsearch-dead-letter.ndjson)")
	}
	if c.DeadLetterMaxBytes < 1<<20 {
		bad("dead_letter.max_bytes", "%d is below 1 MiB; raise it", c.DeadLetterMaxBytes)
	}
	if _, err := event.NewIndexNamer(c.FlowsIndex, time.UTC); err != nil {
		errs = append(errs, fmt.Errorf("output.index.flows: %w", err))
	}
	if _, err := event.NewIndexNamer(c.SyslogIndex, time.UTC); err != nil {
		errs = append(errs, fmt.Errorf("output.index.syslog: %w", err))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		errs = append(errs, fmt.Errorf("output.timezone: %q is not a time zone; use an IANA name such as UTC", c.Timezone))
	}
	if c.InstallTemplates {
		t := c.Template
		t.FlowsIndex, t.SyslogIndex = c.FlowsIndex, c.SyslogIndex
		if err := t.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// segmentCap is the largest spool file read back: a segment is sealed at
// bulk.max_bytes, so it exceeds that by one document at most; bigger files
// are not sluice's and are moved aside unread.
func (c Config) segmentCap() int64 {
	return 4*int64(c.MaxBytes) + 1<<20
}
