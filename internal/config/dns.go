package config

import "time"

// DNSConfig configures the DNS checks (enrich/dnscheck) run on every DNS
// event (one with a dns.question.name field) and on flows to port 53/853.
type DNSConfig struct {
	// Checks turns the DNS checks stage on.
	Checks bool `mapstructure:"checks"`
	// AllowedResolvers are CIDRs or addresses of the sanctioned DNS
	// servers; empty turns the unsanctioned-resolver check off.
	AllowedResolvers []string `mapstructure:"allowed_resolvers"`
	// WatchDomains are registered domains whose look-alikes are flagged.
	WatchDomains            []string       `mapstructure:"watch_domains"`
	Blocklists              []DNSBlocklist `mapstructure:"blocklists"`
	BlocklistReloadInterval time.Duration  `mapstructure:"blocklist_reload_interval"`
	// NewDomainDays: a registered domain first seen within this many days
	// is new (0 = off); the seen set lives in data_dir/dns.
	NewDomainDays     int           `mapstructure:"new_domain_days"`
	MaxDomains        int           `mapstructure:"max_domains"`
	StateSaveInterval time.Duration `mapstructure:"state_save_interval"`
	NXDomain          struct {
		Window    time.Duration `mapstructure:"window"`
		Threshold int           `mapstructure:"threshold"`
	} `mapstructure:"nxdomain"`
	Tunnel struct {
		Window     time.Duration `mapstructure:"window"`
		MaxQueries int           `mapstructure:"max_queries"`
		MaxBytes   int           `mapstructure:"max_bytes"`
	} `mapstructure:"tunnel"`
	MaxClients int `mapstructure:"max_clients"`
	// Capture is passive DNS capture (collector/dnscap).
	Capture DNSCaptureConfig `mapstructure:"capture"`
}

// DNSBlocklist is one entry of dns.blocklists.
type DNSBlocklist struct {
	Name   string `mapstructure:"name"`
	Path   string `mapstructure:"path"`
	Format string `mapstructure:"format"` // hosts, plain or adblock
}
