// Package config loads sluice's configuration: embedded defaults, then an
// optional YAML file, then SLUICE_* environment variables, then flags. Every
// key has a default registered here, which is also what makes viper see its
// environment variable.
package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"golang.org/x/crypto/bcrypt"

	"github.com/sluicelab/sluice/internal/closest"
)

// Config is the whole configuration. Keys are the mapstructure tags.
type Config struct {
	DataDir   string          `mapstructure:"data_dir"`
	NetFlow   NetFlowConfig   `mapstructure:"netflow"`
	IPFIX     ListenConfig    `mapstructure:"ipfix"`
	SFlow     ListenConfig    `mapstructure:"sflow"`
	Syslog    SyslogConfig    `mapstructure:"syslog"`
	Beats     BeatsConfig     `mapstructure:"beats"`
	Collector CollectorConfig `mapstructure:"collector"`
	Pipeline  PipelineConfig  `mapstructure:"pipeline"`
	GeoIP     GeoIPConfig     `mapstructure:"geoip"`
	Enrich    EnrichConfig    `mapstructure:"enrich"`
	Output    OutputConfig    `mapstructure:"output"`
	Retention RetentionConfig `mapstructure:"retention"`
	Alerting  AlertingConfig  `mapstructure:"alerting"`
	Console   ConsoleConfig   `mapstructure:"console"`
	HTTP      HTTPConfig      `mapstructure:"http"`
	Log       LogConfig       `mapstructure:"log"`
	Shutdown  ShutdownConfig  `mapstructure:"shutdown"`
	DNS       DNSConfig       `mapstructure:"dns"`
}

// ListenConfig is a list of UDP host:port addresses; empty disables the listener.
type ListenConfig struct {
	Listen []string `mapstructure:"listen"`
}

// NetFlowConfig configures the NetFlow v5/v9/IPFIX listener and template handling.
type NetFlowConfig struct {
	// AllowedExporters are addresses or CIDRs datagrams are accepted from
	// (netflow and ipfix listeners); empty accepts everyone.
	AllowedExporters []string `mapstructure:"allowed_exporters"`

	Listen    []string        `mapstructure:"listen"`
	Templates TemplatesConfig `mapstructure:"templates"`

	// Flow times outside [now - MaxPast, now + MaxFuture] are replaced by
	// the receive time (enrich/timecheck; 0 = no bound on that side).
	MaxPast   time.Duration `mapstructure:"max_past"`
	MaxFuture time.Duration `mapstructure:"max_future"`
}

// TemplatesConfig bounds the v9/IPFIX template state (shared by netflow and ipfix listeners).
type TemplatesConfig struct {
	MaxPerExporter int           `mapstructure:"max_per_exporter"`
	MaxTotal       int           `mapstructure:"max_total"`
	MaxExporters   int           `mapstructure:"max_exporters"`
	PendingMaxSets int           `mapstructure:"pending_max_sets"`
	PendingMaxAge  time.Duration `mapstructure:"pending_max_age"`
	Persist        bool          `mapstructure:"persist"`
	// MaxAge expires templates neither re-announced nor used; ExporterMaxIdle
	// expires exporters not heard from.
	MaxAge          time.Duration `mapstructure:"max_age"`
	ExporterMaxIdle time.Duration `mapstructure:"exporter_max_idle"`
}

// DNSCaptureConfig configures passive DNS capture (dns.capture.*,
// collector/dnscap); no interfaces: off.
type DNSCaptureConfig struct {
	Interfaces         []string      `mapstructure:"interfaces"`
	Ports              []int         `mapstructure:"ports"`
	Snaplen            int           `mapstructure:"snaplen"`
	Timeout            time.Duration `mapstructure:"timeout"`
	MaxPending         int           `mapstructure:"max_pending"`
	MaxTCPStreams      int           `mapstructure:"max_tcp_streams"`
	MaxAnswers         int           `mapstructure:"max_answers"`
	RingBytes          int           `mapstructure:"ring_bytes"`
	ReceiveBufferBytes int           `mapstructure:"receive_buffer_bytes"`
}

// SyslogConfig configures the syslog listeners and header parsing.
type SyslogConfig struct {
	UDP struct {
		Listen []string `mapstructure:"listen"`
	} `mapstructure:"udp"`
	TCP struct {
		Listen         []string      `mapstructure:"listen"`
		MaxConnections int           `mapstructure:"max_connections"`
		IdleTimeout    time.Duration `mapstructure:"idle_timeout"`
		// Fairness limits (shared with the TLS listener, as the two above).
		MaxConnectionsPerSource int           `mapstructure:"max_connections_per_source"`
		FirstFrameTimeout       time.Duration `mapstructure:"first_frame_timeout"`
		FrameTimeout            time.Duration `mapstructure:"frame_timeout"`
	} `mapstructure:"tcp"`
	TLS struct {
		Listen     []string `mapstructure:"listen"`
		CertFile   string   `mapstructure:"cert_file"`
		KeyFile    string   `mapstructure:"key_file"`
		CAFile     string   `mapstructure:"ca_file"`
		ClientAuth bool     `mapstructure:"client_auth"`
	} `mapstructure:"tls"`
	MaxMessageBytes int    `mapstructure:"max_message_bytes"`
	Timezone        string `mapstructure:"timezone"`
	KeepOriginal    bool   `mapstructure:"keep_original"`
	Parsers         struct {
		Routes      []SyslogRoute `mapstructure:"routes"`
		Auto        bool          `mapstructure:"auto"`
		PatternDirs []string      `mapstructure:"pattern_dirs"`
		RuleDirs    []string      `mapstructure:"rule_dirs"`
	} `mapstructure:"parsers"`

	// Syslog times (header or parsed) outside [now - MaxPast, now +
	// MaxFuture] are replaced by the receive time (enrich/timecheck; 0 =
	// no bound on that side).
	MaxPast   time.Duration `mapstructure:"max_past"`
	MaxFuture time.Duration `mapstructure:"max_future"`
}

// SyslogRoute sends syslog messages from some senders or programs to one
// vendor parser (syslog.parsers.routes).
type SyslogRoute struct {
	Parser    string   `mapstructure:"parser"`
	Senders   []string `mapstructure:"senders"`   // addresses or CIDRs
	Programs  []string `mapstructure:"programs"`  // APP-NAMEs / tags
	Listeners []string `mapstructure:"listeners"` // udp/0.0.0.0:5514, tcp/..., tls/..., or the address alone
	Index     string   `mapstructure:"index"`     // own index pattern for what the route picks
}

// CollectorConfig tunes the UDP sockets and decode workers of every flow listener.
type CollectorConfig struct {
	Sockets            int `mapstructure:"sockets"`
	Workers            int `mapstructure:"workers"`
	QueueSize          int `mapstructure:"queue_size"`
	ReadBatch          int `mapstructure:"read_batch"`
	MaxDatagramBytes   int `mapstructure:"max_datagram_bytes"`
	ReceiveBufferBytes int `mapstructure:"receive_buffer_bytes"`
	MaxBatchEvents     int `mapstructure:"max_batch_events"`
}

// PipelineConfig sizes the stage queues and workers.
type PipelineConfig struct {
	QueueSize     int           `mapstructure:"queue_size"`
	Workers       int           `mapstructure:"workers"`
	FlushInterval time.Duration `mapstructure:"flush_interval"`
}

// GeoIPConfig names the GeoIP databases and tunes lookups (checked by
// the geoip package).
type GeoIPConfig struct {
	CountryDB      string        `mapstructure:"country_db"`
	CityDB         string        `mapstructure:"city_db"`
	ASNDB          string        `mapstructure:"asn_db"`
	Language       string        `mapstructure:"language"`
	CacheSize      int           `mapstructure:"cache_size"`
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
}

// EnrichConfig configures enrichment that needs no database.
type EnrichConfig struct {
	// HomeNetworks are CIDRs or addresses (parsed by enrich/geo).
	HomeNetworks []string `mapstructure:"home_networks"`
}

// OutputConfig selects and configures outputs.
type OutputConfig struct {
	Timezone string      `mapstructure:"timezone"`
	Index    IndexConfig `mapstructure:"index"`
	File     FileConfig  `mapstructure:"file"`
	Stdout   bool        `mapstructure:"stdout"`

	Elasticsearch ElasticsearchConfig `mapstructure:"elasticsearch"`
}

// ElasticsearchConfig configures the Elasticsearch output; it is on when
// Addresses is not empty.
type ElasticsearchConfig struct {
	Addresses []string `mapstructure:"addresses"`
	Username  string   `mapstructure:"username"`
	Password  string   `mapstructure:"password"`
	APIKey    string   `mapstructure:"api_key"`
	TLS       struct {
		CAFile             string `mapstructure:"ca_file"`
		CAFingerprint      string `mapstructure:"ca_fingerprint"`
		InsecureSkipVerify bool   `mapstructure:"insecure_skip_verify"`
	} `mapstructure:"tls"`
	Compress bool          `mapstructure:"compress"`
	Timeout  time.Duration `mapstructure:"timeout"`
	Bulk     struct {
		MaxDocs       int           `mapstructure:"max_docs"`
		MaxBytes      int           `mapstructure:"max_bytes"`
		FlushInterval time.Duration `mapstructure:"flush_interval"`
		Workers       int           `mapstructure:"workers"`
	} `mapstructure:"bulk"`
	Retry struct {
		InitialBackoff time.Duration `mapstructure:"initial_backoff"`
		MaxBackoff     time.Duration `mapstructure:"max_backoff"`
		SpoolAfter     time.Duration `mapstructure:"spool_after"`
	} `mapstructure:"retry"`
	Spool struct {
		Dir      string `mapstructure:"dir"`
		MaxBytes int64  `mapstructure:"max_bytes"`
		WhenFull string `mapstructure:"when_full"`
		// Fsync is when spool files are fsynced: segment, always or never.
		Fsync        string        `mapstructure:"fsync"`
		StallTimeout time.Duration `mapstructure:"stall_timeout"`
		WhenSlow     string        `mapstructure:"when_slow"`
	} `mapstructure:"spool"`
	DeadLetter struct {
		Path     string `mapstructure:"path"`
		MaxBytes int64  `mapstructure:"max_bytes"`
	} `mapstructure:"dead_letter"`
	Template struct {
		Install         bool   `mapstructure:"install"`
		Shards          int    `mapstructure:"shards"`
		Replicas        int    `mapstructure:"replicas"`
		RefreshInterval string `mapstructure:"refresh_interval"`
	} `mapstructure:"template"`
}

// IndexConfig holds the daily index name patterns (also the file names).
type IndexConfig struct {
	Flows  string `mapstructure:"flows"`
	Syslog string `mapstructure:"syslog"`
	DNS    string `mapstructure:"dns"`
	Beats  string `mapstructure:"beats"`
}

// FileConfig configures the daily NDJSON file output.
type FileConfig struct {
	Enabled       bool          `mapstructure:"enabled"`
	Dir           string        `mapstructure:"dir"`
	FsyncInterval time.Duration `mapstructure:"fsync_interval"`
	FileMode      string        `mapstructure:"file_mode"`
	MaxOpenFiles  int           `mapstructure:"max_open_files"`
}

// RetentionConfig configures retention of old daily indices and files
// (checked by output/retention).
type RetentionConfig struct {
	Schedule string            `mapstructure:"schedule"` // "" off, "24h" or "30 3 * * *"
	Timezone string            `mapstructure:"timezone"` // "" = output.timezone
	Policies []RetentionPolicy `mapstructure:"policies"`
}

// RetentionPolicy is one entry of retention.policies.
type RetentionPolicy struct {
	Name           string   `mapstructure:"name"`
	Pattern        string   `mapstructure:"pattern"`
	Exclude        []string `mapstructure:"exclude"`
	MaxAge         string   `mapstructure:"max_age"`
	AgeSource      string   `mapstructure:"age_source"`
	Timestring     string   `mapstructure:"timestring"`
	Action         string   `mapstructure:"action"`
	MaxNumSegments int      `mapstructure:"max_num_segments"`
	MaxTotalSize   string   `mapstructure:"max_total_size"`
	Targets        string   `mapstructure:"targets"`
}

// AlertingConfig configures the alert rules evaluated on the stream
// (output/alert).
type AlertingConfig struct {
	// RulesDir are folders of ElastAlert-style rule files (*.yaml, *.yml);
	// none disables alerting.
	RulesDir []string `mapstructure:"rules_dir"`
	// Index is the daily index (or file) alerts are written to.
	Index string `mapstructure:"index"`
	// AlertTimeLimit is how long a failing alerter is retried (a rule's
	// alert_time_limit overrides it).
	AlertTimeLimit time.Duration `mapstructure:"alert_time_limit"`
	QueueSize      int           `mapstructure:"queue_size"` // alerts waiting for an alerter
	Workers        int           `mapstructure:"workers"`    // alerter workers
	MaxKeys        int           `mapstructure:"max_keys"`   // query_key values one rule keeps windows for
	// Defaults are rule keys applied to every rule that does not set them
	// (ElastAlert's global config: smtp_host, from_addr, slack_webhook_url, ...).
	Defaults map[string]any `mapstructure:"defaults"`
}

// RollupsOn reports whether the rollups are kept.
func (c *Config) RollupsOn() bool {
	switch c.Console.Rollups {
	case "on":
		return true
	case "off":
		return false
	}
	return len(c.Output.Elasticsearch.Addresses) == 0
}

// HTTPConfig configures the metrics/health endpoint.
type HTTPConfig struct {
	Listen string `mapstructure:"listen"`
	Pprof  bool   `mapstructure:"pprof"`
	// Auth is required on every path but /healthz when set; binding
	// Listen beyond loopback without it needs AllowUnauthenticated.
	Auth                 HTTPAuthConfig `mapstructure:"auth"`
	TLS                  HTTPTLSConfig  `mapstructure:"tls"`
	AllowUnauthenticated bool           `mapstructure:"allow_unauthenticated"`
}

// HTTPAuthConfig holds the HTTP listener's credentials.
type HTTPAuthConfig struct {
	BasicUser         string `mapstructure:"basic_user"`
	BasicPasswordHash string `mapstructure:"basic_password_hash"` // bcrypt
	BearerTokenFile   string `mapstructure:"bearer_token_file"`
}

// HTTPTLSConfig makes the HTTP listener serve HTTPS.
type HTTPTLSConfig struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// ConsoleConfig configures the console's API (/api/v1).
type ConsoleConfig struct {
	QueryTimeout   time.Duration `mapstructure:"query_timeout"`    // per API request to the store
	MaxTailClients int           `mapstructure:"max_tail_clients"` // live tails at once
	// The per-minute rollups in data_dir/console (output/rollup).
	// Rollups: auto (kept when no output.elasticsearch.addresses), on, off.
	Rollups         string        `mapstructure:"rollups"`
	MaxSegments     int           `mapstructure:"max_segments"`
	TopK            int           `mapstructure:"top_k"`
	MinuteRetention time.Duration `mapstructure:"minute_retention"`
	Retention       time.Duration `mapstructure:"retention"`
	MaxBytes        int64         `mapstructure:"max_bytes"`
	EventsScanLimit int           `mapstructure:"events_scan_limit"`
	ExactRate       int           `mapstructure:"exact_rate"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
	// SummaryInterval is how often one INFO line sums up rates, drops
	// and the spool; 0 turns it off.
	SummaryInterval time.Duration `mapstructure:"summary_interval"`
}

// BeatsConfig configures the Beats (Lumberjack v2) input (checked by
// collector/beats); it is on when Listen is set.
type BeatsConfig struct {
	Listen string `mapstructure:"listen"`
	TLS    struct {
		CertFile     string `mapstructure:"cert_file"`
		KeyFile      string `mapstructure:"key_file"`
		ClientCAFile string `mapstructure:"client_ca_file"`
	} `mapstructure:"tls"`
	Timeout        time.Duration `mapstructure:"timeout"`
	MaxConnections int           `mapstructure:"max_connections"`
	// A document's @timestamp outside [now - MaxPast, now + MaxFuture] is
	// replaced by the receive time (enrich/timecheck; 0 = no bound).
	MaxPast   time.Duration `mapstructure:"max_past"`
	MaxFuture time.Duration `mapstructure:"max_future"`
}

// ShutdownConfig bounds the drain on SIGINT/SIGTERM.
type ShutdownConfig struct {
	Timeout time.Duration `mapstructure:"timeout"`
}

// defaults lists every key with its default value. Order matters only for
// the documentation test that compares it with configs/sluice.yaml.
var defaults = []struct {
	Key   string
	Value any
}{
	{"data_dir", "./data"},
	{"netflow.listen", []string{"0.0.0.0:2055"}},
	{"netflow.templates.max_per_exporter", 1000},
	{"netflow.templates.max_total", 100000},
	{"netflow.templates.max_exporters", 10000},
	{"netflow.templates.pending_max_sets", 10000},
	{"netflow.templates.pending_max_age", 10 * time.Second},
	{"netflow.templates.max_age", 2 * time.Hour},
	{"netflow.templates.exporter_max_idle", 24 * time.Hour},
	{"netflow.allowed_exporters", []string{}},
	{"netflow.templates.persist", true},
	{"netflow.max_past", 7 * 24 * time.Hour},
	{"netflow.max_future", 24 * time.Hour},
	{"ipfix.listen", []string{"0.0.0.0:4739"}},
	{"sflow.listen", []string{"0.0.0.0:6343"}},
	{"syslog.udp.listen", []string{"0.0.0.0:5514"}},
	{"syslog.tcp.listen", []string{"0.0.0.0:5514"}},
	{"syslog.tcp.max_connections", 1024},
	{"syslog.tcp.idle_timeout", 2 * time.Minute},
	{"syslog.tcp.max_connections_per_source", 32},
	{"syslog.tcp.first_frame_timeout", 30 * time.Second},
	{"syslog.tcp.frame_timeout", 30 * time.Second},
	{"syslog.tls.listen", []string{}},
	{"syslog.tls.cert_file", ""},
	{"syslog.tls.key_file", ""},
	{"syslog.tls.ca_file", ""},
	{"syslog.tls.client_auth", false},
	{"syslog.max_message_bytes", 65536},
	{"syslog.timezone", "Local"},
	{"syslog.keep_original", false},
	{"syslog.parsers.routes", []map[string]any{}},
	{"syslog.parsers.auto", true},
	{"syslog.parsers.pattern_dirs", []string{}},
	{"syslog.parsers.rule_dirs", []string{}},
	{"syslog.max_past", 7 * 24 * time.Hour},
	{"syslog.max_future", 24 * time.Hour},
	{"dns.capture.interfaces", []string{}},
	{"dns.capture.ports", []int{53}},
	{"dns.capture.snaplen", 65560},
	{"dns.capture.timeout", 5 * time.Second},
	{"dns.capture.max_pending", 65536},
	{"dns.capture.max_tcp_streams", 4096},
	{"dns.capture.max_answers", 20},
	{"dns.capture.ring_bytes", 8 << 20},
	{"dns.capture.receive_buffer_bytes", 8 << 20},
	{"beats.listen", ""},
	{"beats.tls.cert_file", ""},
	{"beats.tls.key_file", ""},
	{"beats.tls.client_ca_file", ""},
	{"beats.timeout", 30 * time.Second},
	{"beats.max_connections", 1024},
	{"beats.max_past", 7 * 24 * time.Hour},
	{"beats.max_future", 24 * time.Hour},
	{"collector.sockets", 1},
	{"collector.workers", 0},
	{"collector.queue_size", 256},
	{"collector.read_batch", 32},
	{"collector.max_datagram_bytes", 9216},
	{"collector.receive_buffer_bytes", 32 << 20},
	{"collector.max_batch_events", 512},
	{"pipeline.queue_size", 8},
	{"pipeline.workers", 0},
	{"pipeline.flush_interval", time.Second},
	{"geoip.country_db", ""},
	{"geoip.city_db", ""},
	{"geoip.asn_db", ""},
	{"geoip.language", "en"},
	{"geoip.cache_size", 65536},
	{"geoip.reload_interval", time.Minute},
	{"enrich.home_networks", []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}},
	{"output.timezone", "UTC"},
	{"output.index.flows", "sluice-flows-%{+yyyy.MM.dd}"},
	{"output.index.syslog", "sluice-syslog-%{+yyyy.MM.dd}"},
	{"output.index.dns", "sluice-dns-%{+yyyy.MM.dd}"},
	{"output.index.beats", "sluice-beats-%{+yyyy.MM.dd}"},
	{"output.file.enabled", true},
	{"output.file.dir", "./data"},
	{"output.file.fsync_interval", time.Second},
	{"output.file.file_mode", "0640"},
	{"output.file.max_open_files", 8},
	{"output.stdout", false},
	{"output.elasticsearch.addresses", []string{}},
	{"output.elasticsearch.username", ""},
	{"output.elasticsearch.password", ""},
	{"output.elasticsearch.api_key", ""},
	{"output.elasticsearch.tls.ca_file", ""},
	{"output.elasticsearch.tls.ca_fingerprint", ""},
	{"output.elasticsearch.tls.insecure_skip_verify", false},
	{"output.elasticsearch.compress", true},
	{"output.elasticsearch.timeout", 60 * time.Second},
	{"output.elasticsearch.bulk.max_docs", 2000},
	{"output.elasticsearch.bulk.max_bytes", 4 << 20},
	{"output.elasticsearch.bulk.flush_interval", time.Second},
	{"output.elasticsearch.bulk.workers", 2},
	{"output.elasticsearch.retry.initial_backoff", 100 * time.Millisecond},
	{"output.elasticsearch.retry.max_backoff", 10 * time.Second},
	{"output.elasticsearch.retry.spool_after", 5 * time.Second},
	{"output.elasticsearch.spool.dir", ""},
	{"output.elasticsearch.spool.max_bytes", 1 << 30},
	{"output.elasticsearch.spool.when_full", "drop_oldest"},
	{"output.elasticsearch.spool.fsync", "segment"},
	{"output.elasticsearch.spool.stall_timeout", 5 * time.Minute},
	{"output.elasticsearch.spool.when_slow", "backpressure"},
	{"output.elasticsearch.dead_letter.path", ""},
	{"output.elasticsearch.dead_letter.max_bytes", 256 << 20},
	{"output.elasticsearch.template.install", true},
	{"output.elasticsearch.template.shards", 1},
	{"output.elasticsearch.template.replicas", 0},
	{"output.elasticsearch.template.refresh_interval", "5s"},
	{"retention.schedule", ""},
	{"retention.timezone", ""},
	{"retention.policies", []map[string]any{}},
	{"alerting.rules_dir", []string{}},
	{"alerting.index", "sluice-alerts-%{+yyyy.MM.dd}"},
	{"alerting.alert_time_limit", time.Hour},
	{"alerting.queue_size", 1000},
	{"alerting.workers", 2},
	{"alerting.max_keys", 10000},
	{"alerting.defaults", map[string]any{}},
	{"console.rollups", "auto"},
	{"console.max_segments", 32},
	{"console.top_k", 20},
	{"console.minute_retention", 24 * time.Hour},
	{"console.retention", 7 * 24 * time.Hour},
	{"console.max_bytes", 512 << 20},
	{"console.events_scan_limit", 200000},
	{"console.exact_rate", 2000},
	{"http.listen", "127.0.0.1:9155"},
	{"http.pprof", false},
	{"http.auth.basic_user", ""},
	{"http.auth.basic_password_hash", ""},
	{"http.auth.bearer_token_file", ""},
	{"http.tls.cert_file", ""},
	{"http.tls.key_file", ""},
	{"http.allow_unauthenticated", false},
	{"console.query_timeout", 10 * time.Second},
	{"console.max_tail_clients", 8},
	{"log.level", "info"},
	{"log.format", "text"},
	{"log.summary_interval", 5 * time.Minute},
	{"shutdown.timeout", 10 * time.Second},
	{"dns.checks", true},
	{"dns.allowed_resolvers", []string{}},
	{"dns.watch_domains", []string{}},
	{"dns.blocklists", []map[string]any{}},
	{"dns.blocklist_reload_interval", 30 * time.Second},
	{"dns.new_domain_days", 7},
	{"dns.max_domains", 200000},
	{"dns.state_save_interval", 5 * time.Minute},
	{"dns.nxdomain.window", time.Minute},
	{"dns.nxdomain.threshold", 20},
	{"dns.tunnel.window", 5 * time.Minute},
	{"dns.tunnel.max_queries", 300},
	{"dns.tunnel.max_bytes", 30000},
	{"dns.max_clients", 50000},
}

// Keys returns every known key, for documentation checks.
func Keys() []string {
	out := make([]string, len(defaults))
	for i, d := range defaults {
		out[i] = d.Key
	}
	return out
}

// FlagKeys are the keys that also get a command-line flag of the same name.
var FlagKeys = []string{
	"data_dir", "netflow.listen", "ipfix.listen", "sflow.listen", "syslog.udp.listen", "syslog.tcp.listen", "output.file.dir",
	"output.stdout", "output.elasticsearch.addresses", "http.listen", "log.level", "log.format", "shutdown.timeout",
	"geoip.country_db", "geoip.city_db", "geoip.asn_db", "enrich.home_networks",
}

// AddFlags registers the flags for FlagKeys on fs.
func AddFlags(fs *pflag.FlagSet) { AddFlagsFor(fs, FlagKeys...) }

// AddFlagsFor registers the flags of keys (a subset of FlagKeys) on fs:
// a command shows only the flags of the keys it uses.
func AddFlagsFor(fs *pflag.FlagSet, keys ...string) {
	for _, d := range defaults {
		if !contains(FlagKeys, d.Key) || !contains(keys, d.Key) {
			continue
		}
		switch v := d.Value.(type) {
		case string:
			fs.String(d.Key, v, "config key "+d.Key)
		case []string:
			fs.StringSlice(d.Key, v, "config key "+d.Key+" (comma-separated)")
		case bool:
			fs.Bool(d.Key, v, "config key "+d.Key)
		case time.Duration:
			fs.Duration(d.Key, v, "config key "+d.Key)
		case int:
			fs.Int(d.Key, v, "config key "+d.Key)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Load reads the configuration. path may be empty (defaults + env + flags).
// fs may be nil. Unknown keys in the file are errors.
func Load(path string, fs *pflag.FlagSet) (*Config, error) {
	c, err := Read(path, fs)
	if err != nil {
		return nil, fmt.Errorf("config %s:\n%w", orDefault(path), err)
	}
	return c, nil
}

// Read is Load that goes on past unknown keys and values of the wrong
// type: it returns the Config decoded as far as possible together with
// those problems (an unknown key with the known key it is closest to), so
// that a caller can add Validate's and report everything in one pass. The
// Config is nil only when the file cannot be read or is not YAML.
func Read(path string, fs *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	for _, d := range defaults {
		v.SetDefault(d.Key, d.Value)
	}
	v.SetEnvPrefix("SLUICE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AllowEmptyEnv(true) // SLUICE_SFLOW_LISTEN= disables a listener
	v.AutomaticEnv()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if fs != nil {
		for _, k := range FlagKeys {
			if f := fs.Lookup(k); f != nil {
				if err := v.BindPFlag(k, f); err != nil {
					return nil, err
				}
			}
		}
	}
	errs := unknownKeys(v)
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		derrs, bad := decodeErrors(v, err)
		errs = append(errs, derrs...)
		// Decode again with the defaults in place of the bad values, so
		// that Validate does not report their zero values as well.
		for _, k := range bad {
			v.Set(k, defaultOf(k))
		}
		c = Config{}
		if err := v.Unmarshal(&c); err != nil {
			errs = append(errs, err)
		}
	}
	c.applyAutos()
	return &c, errors.Join(errs...)
}

func defaultOf(key string) any {
	for _, d := range defaults {
		if d.Key == key {
			return d.Value
		}
	}
	return nil
}

// listKeys are the keys whose value is a list of maps, with the fields
// each element may have.
var listKeys = map[string]reflect.Type{
	"syslog.parsers.routes": reflect.TypeFor[SyslogRoute](),
	"retention.policies":    reflect.TypeFor[RetentionPolicy](),
	"dns.blocklists":        reflect.TypeFor[DNSBlocklist](),
}

// unknownKeys lists the keys set that sluice does not know, each with the
// known key it is closest to.
func unknownKeys(v *viper.Viper) []error {
	known := map[string]bool{}
	for _, d := range defaults {
		known[d.Key] = true
	}
	var errs []error
	all := v.AllKeys()
	sort.Strings(all)
	for _, k := range all {
		if known[k] || strings.HasPrefix(k, "alerting.defaults.") { // rule keys: checked by the alert rules
			continue
		}
		errs = append(errs, fmt.Errorf("%s: unknown key (value %v); %s", k, v.Get(k), suggest(k, Keys())))
	}
	for key, typ := range listKeys {
		items, ok := v.Get(key).([]any)
		if !ok {
			continue
		}
		var fields []string
		for i := range typ.NumField() {
			fields = append(fields, typ.Field(i).Tag.Get("mapstructure"))
		}
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue // a decode error names it
			}
			names := make([]string, 0, len(m))
			for f := range m {
				names = append(names, f)
			}
			sort.Strings(names)
			for _, f := range names {
				if !slices.Contains(fields, strings.ToLower(f)) {
					errs = append(errs, fmt.Errorf("%s[%d].%s: unknown key (value %v); %s", key, i, f, m[f], suggest(strings.ToLower(f), fields)))
				}
			}
		}
	}
	return errs
}

// suggest names the known key closest to k by edit distance, when it is
// close enough to be a typo.
func suggest(k string, known []string) string {
	if best := closest.Name(k, known); best != "" {
		return "did you mean " + best + "?"
	}
	return "remove it; configs/sluice.yaml lists every key"
}

// decodeErrors turns mapstructure's error (one line per value of the wrong
// type) into one error per key, each with the value and an example.
func decodeErrors(v *viper.Viper, err error) (errs []error, keys []string) {
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "* ")
		if line == "" || strings.HasPrefix(line, "decoding failed due to") {
			continue
		}
		key := ""
		if rest, ok := strings.CutPrefix(line, "'"); ok {
			key, _, _ = strings.Cut(rest, "'")
		}
		i := slices.IndexFunc(defaults, func(d struct {
			Key   string
			Value any
		}) bool {
			return d.Key == key
		})
		if i < 0 {
			errs = append(errs, errors.New(line))
			continue
		}
		want, example := "a value of another type", fmt.Sprint(defaults[i].Value)
		switch d := defaults[i].Value.(type) {
		case int, int64:
			want = "a whole number"
		case bool:
			want = "true or false"
		case time.Duration:
			want, example = "a duration", d.String()
		case []string:
			want, example = "a list of strings", "[\""+strings.Join(d, "\", \"")+"\"]"
			if len(d) == 0 {
				example = "[]"
			}
		case string:
			want = "a string"
		}
		errs = append(errs, fmt.Errorf("%s: %v is not %s; write e.g. %s (the default)", key, v.Get(key), want, example))
		keys = append(keys, key)
	}
	if len(errs) == 0 {
		errs = append(errs, err)
	}
	return errs, keys
}

// ListenExample is an address to suggest for a listen key: its default,
// or the usual port when it has none.
func ListenExample(key string) string {
	for _, d := range defaults {
		if d.Key != key {
			continue
		}
		switch v := d.Value.(type) {
		case string:
			if v != "" {
				return v
			}
		case []string:
			if len(v) > 0 {
				return v[0]
			}
		}
	}
	if key == "syslog.tls.listen" {
		return "0.0.0.0:6514" // RFC 5425
	}
	if key == "beats.listen" {
		return "0.0.0.0:5044" // Logstash's beats input
	}
	return "127.0.0.1:0"
}

func orDefault(path string) string {
	if path == "" {
		return "(defaults and environment)"
	}
	return path
}

func (c *Config) applyAutos() {
	if c.Collector.Workers == 0 {
		c.Collector.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Pipeline.Workers == 0 {
		c.Pipeline.Workers = runtime.GOMAXPROCS(0)
	}
	// A comma inside one env value ("a:1,b:2") arrives as one element when
	// it came through a flag or YAML string; split it.
	c.NetFlow.Listen = splitList(c.NetFlow.Listen)
	c.NetFlow.AllowedExporters = splitList(c.NetFlow.AllowedExporters)
	c.IPFIX.Listen = splitList(c.IPFIX.Listen)
	c.SFlow.Listen = splitList(c.SFlow.Listen)
	c.Syslog.UDP.Listen = splitList(c.Syslog.UDP.Listen)
	c.Syslog.TCP.Listen = splitList(c.Syslog.TCP.Listen)
	c.Syslog.TLS.Listen = splitList(c.Syslog.TLS.Listen)
	c.Output.Elasticsearch.Addresses = splitList(c.Output.Elasticsearch.Addresses)
	c.Enrich.HomeNetworks = splitList(c.Enrich.HomeNetworks)
}

func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			out = append(out, p)
		}
	}
	return out
}

// FileMode parses output.file.file_mode.
func (c *Config) FileMode() (os.FileMode, error) {
	m, err := strconv.ParseUint(c.Output.File.FileMode, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("output.file.file_mode: %q is not an octal file mode; use e.g. \"0640\"", c.Output.File.FileMode)
	}
	return os.FileMode(m), nil
}

// Validate checks values that do not belong to one component. Component
// configs are validated by their packages when sluice builds them.
func (c *Config) Validate() error {
	var errs []error
	// checkAddr is what binding will need of a host:port: a numeric port
	// and a host that is an address or resolves.
	checkAddr := func(key, a string) bool {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port; write e.g. %q", key, a, ListenExample(key)))
			return false
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s: port %q of %q is not a number 0..65535; write e.g. %q", key, port, a, ListenExample(key)))
			return false
		}
		if host != "" && net.ParseIP(host) == nil {
			if _, err := net.LookupHost(host); err != nil {
				errs = append(errs, fmt.Errorf("%s: host %q of %q does not resolve; use an IP address, e.g. %q", key, host, a, ListenExample(key)))
				return false
			}
		}
		return true
	}
	// UDP and TCP ports are separate: syslog may use 5514 on both.
	udpSeen, tcpSeen := map[string]string{}, map[string]string{}
	for _, l := range []struct {
		key   string
		addrs []string
		seen  map[string]string
	}{
		{"netflow.listen", c.NetFlow.Listen, udpSeen}, {"ipfix.listen", c.IPFIX.Listen, udpSeen}, {"sflow.listen", c.SFlow.Listen, udpSeen},
		{"syslog.udp.listen", c.Syslog.UDP.Listen, udpSeen}, {"syslog.tcp.listen", c.Syslog.TCP.Listen, tcpSeen},
		{"syslog.tls.listen", c.Syslog.TLS.Listen, tcpSeen},
	} {
		for _, a := range l.addrs {
			if !checkAddr(l.key, a) {
				continue
			}
			if other, dup := l.seen[a]; dup && !strings.HasSuffix(a, ":0") {
				errs = append(errs, fmt.Errorf("%s: %q is also used by %s; give each listener its own port", l.key, a, other))
			}
			l.seen[a] = l.key
		}
	}
	if c.Beats.Listen != "" && checkAddr("beats.listen", c.Beats.Listen) {
		if other, dup := tcpSeen[c.Beats.Listen]; dup && !strings.HasSuffix(c.Beats.Listen, ":0") {
			errs = append(errs, fmt.Errorf("beats.listen: %q is also used by %s; give each listener its own port", c.Beats.Listen, other))
		}
	}
	if len(c.NetFlow.Listen)+len(c.IPFIX.Listen)+len(c.SFlow.Listen)+len(c.Syslog.UDP.Listen)+len(c.Syslog.TCP.Listen)+len(c.Syslog.TLS.Listen)+len(c.DNS.Capture.Interfaces) == 0 && c.Beats.Listen == "" {
		errs = append(errs, errors.New("netflow.listen, ipfix.listen, sflow.listen, syslog.*.listen, beats.listen, dns.capture.interfaces: all empty; configure at least one listener (or a capture interface)"))
	}
	if _, err := time.LoadLocation(c.Syslog.Timezone); err != nil || c.Syslog.Timezone == "" {
		errs = append(errs, fmt.Errorf("syslog.timezone: %q is not a time zone; use Local (this host's), UTC or an IANA name such as Europe/Berlin", c.Syslog.Timezone))
	}
	if c.Syslog.MaxMessageBytes < 480 || c.Syslog.MaxMessageBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("syslog.max_message_bytes: %d is out of range; use 480..1048576 (RFC 5424 asks for at least 480; default 65536)", c.Syslog.MaxMessageBytes))
	}
	if c.HTTP.Listen != "" && checkAddr("http.listen", c.HTTP.Listen) {
		errs = append(errs, c.validateHTTPSecurity()...)
	}
	if t := c.Console.QueryTimeout; t < 100*time.Millisecond || t > 10*time.Minute {
		errs = append(errs, fmt.Errorf("console.query_timeout: %s is out of range; use 100ms..10m (default 10s)", t))
	}
	if n := c.Console.MaxTailClients; n < 0 || n > 1000 {
		errs = append(errs, fmt.Errorf("console.max_tail_clients: %d is out of range; use 0..1000 (0 turns the live tail off; default 8)", n))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: empty; set a directory for sluice's state (templates), e.g. ./data"))
	}
	if !c.Output.File.Enabled && !c.Output.Stdout && len(c.Output.Elasticsearch.Addresses) == 0 {
		errs = append(errs, errors.New("output.file.enabled: false, output.stdout: false and no output.elasticsearch.addresses leave no output; enable one"))
	}
	if c.Output.File.Enabled && c.Output.File.Dir == "" {
		errs = append(errs, errors.New("output.file.dir: empty; set the directory for daily NDJSON files, e.g. ./data"))
	}
	if _, err := time.LoadLocation(c.Output.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("output.timezone: %q is not a time zone; use an IANA name such as UTC or Europe/Berlin", c.Output.Timezone))
	}
	if _, err := c.FileMode(); err != nil {
		errs = append(errs, err)
	}
	if a := c.Alerting; len(a.RulesDir) > 0 {
		if a.AlertTimeLimit < time.Second {
			errs = append(errs, fmt.Errorf("alerting.alert_time_limit: %s is below 1s; use e.g. 1h (how long a failing alerter is retried)", a.AlertTimeLimit))
		}
		if a.QueueSize < 1 || a.QueueSize > 1<<20 {
			errs = append(errs, fmt.Errorf("alerting.queue_size: %d is out of range; use 1..1048576 alerts", a.QueueSize))
		}
		if a.Workers < 1 || a.Workers > 64 {
			errs = append(errs, fmt.Errorf("alerting.workers: %d is out of range; use 1..64", a.Workers))
		}
		if a.MaxKeys < 1 || a.MaxKeys > 10_000_000 {
			errs = append(errs, fmt.Errorf("alerting.max_keys: %d is out of range; use 1..10000000 query_key values per rule", a.MaxKeys))
		}
	}
	if co := c.Console; co.Rollups != "auto" && co.Rollups != "on" && co.Rollups != "off" {
		errs = append(errs, fmt.Errorf("console.rollups: %q is not a choice; use auto (kept without Elasticsearch), on or off", co.Rollups))
	} // the other console.* keys: output/rollup's Config.Validate (checkComponents)
	if tz := c.Retention.Timezone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			errs = append(errs, fmt.Errorf("retention.timezone: %q is not a time zone; use an IANA name such as UTC, or \"\" for output.timezone", tz))
		}
	}
	// dns.* of the checks: enrich/dnscheck's Config.Validate (checkComponents).
	if c.Shutdown.Timeout < 100*time.Millisecond || c.Shutdown.Timeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("shutdown.timeout: %s is out of range; use 100ms..10m", c.Shutdown.Timeout))
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not a level; use debug, info, warn or error", c.Log.Level))
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not a format; use text or json", c.Log.Format))
	}
	if si := c.Log.SummaryInterval; si != 0 && si < time.Second {
		errs = append(errs, fmt.Errorf("log.summary_interval: %s is below 1s; use e.g. 5m, or 0 to turn the summary off", si))
	}
	for _, b := range []struct {
		key string
		v   time.Duration
	}{{"netflow.max_past", c.NetFlow.MaxPast}, {"netflow.max_future", c.NetFlow.MaxFuture},
		{"syslog.max_past", c.Syslog.MaxPast}, {"syslog.max_future", c.Syslog.MaxFuture},
		{"beats.max_past", c.Beats.MaxPast}, {"beats.max_future", c.Beats.MaxFuture}} {
		if b.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s is negative; use a positive duration such as 168h, or 0 for no bound", b.key, b.v))
		}
	}
	if c.NetFlow.Templates.PendingMaxAge < 0 {
		errs = append(errs, fmt.Errorf("netflow.templates.pending_max_age: %s must not be negative", c.NetFlow.Templates.PendingMaxAge))
	}
	for _, a := range c.NetFlow.AllowedExporters {
		_, perr := netip.ParsePrefix(strings.TrimSpace(a))
		_, aerr := netip.ParseAddr(strings.TrimSpace(a))
		if perr != nil && aerr != nil {
			errs = append(errs, fmt.Errorf("netflow.allowed_exporters: %q is not an IP address or CIDR prefix; write e.g. \"192.0.2.1\" or \"192.0.2.0/24\", or [] to accept every exporter", a))
		}
	}
	return errors.Join(errs...)
}

// validateHTTPSecurity checks http.auth.* and http.tls.* (reading the
// files they name, as sluice run will) and refuses an HTTP listener
// reachable from other hosts without credentials.
func (c *Config) validateHTTPSecurity() []error {
	var errs []error
	h := c.HTTP
	a := h.Auth
	if (a.BasicUser == "") != (a.BasicPasswordHash == "") {
		errs = append(errs, errors.New("http.auth.basic_user and http.auth.basic_password_hash: set both or neither; make the hash with `htpasswd -nbBC 10 '' PASSWORD | tr -d ':\\n'`"))
	} else if a.BasicPasswordHash != "" {
		if _, err := bcrypt.Cost([]byte(a.BasicPasswordHash)); err != nil {
			errs = append(errs, fmt.Errorf("http.auth.basic_password_hash: not a bcrypt hash (%v); make one with `htpasswd -nbBC 10 '' PASSWORD | tr -d ':\\n'`", err))
		}
	}
	if f := a.BearerTokenFile; f != "" {
		if raw, err := os.ReadFile(f); err != nil {
			errs = append(errs, fmt.Errorf("http.auth.bearer_token_file: %w; create it with e.g. `openssl rand -hex 32 > %s`", err, f))
		} else if n := len(strings.TrimSpace(string(raw))); n < 16 {
			errs = append(errs, fmt.Errorf("http.auth.bearer_token_file: %s holds %d characters; a token needs at least 16, e.g. `openssl rand -hex 32 > %s`", f, n, f))
		}
	}
	switch t := h.TLS; {
	case (t.CertFile == "") != (t.KeyFile == ""):
		errs = append(errs, fmt.Errorf("http.tls.cert_file %q and http.tls.key_file %q: set both (HTTPS) or neither (HTTP)", t.CertFile, t.KeyFile))
	case t.CertFile != "":
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			errs = append(errs, fmt.Errorf("http.tls.cert_file, http.tls.key_file: %v; give a PEM certificate and its private key", err))
		}
	}
	auth := a.BasicUser != "" || a.BearerTokenFile != ""
	if !auth && !h.AllowUnauthenticated && !loopbackListen(h.Listen) {
		errs = append(errs, fmt.Errorf("http.listen: %q is reachable from other hosts and the HTTP listener has no authentication; "+
			"set http.auth.basic_user and http.auth.basic_password_hash, or http.auth.bearer_token_file, "+
			"or bind it to 127.0.0.1, or accept the risk with http.allow_unauthenticated: true", h.Listen))
	}
	return errs
}

// loopbackListen reports whether host:port binds only loopback addresses.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return false // every interface
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, s := range addrs {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Unmap().IsLoopback() {
			return false
		}
	}
	return true
}
