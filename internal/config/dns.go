package config

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

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

// validate checks the dns.* keys (the stage checks the rest again when
// it starts); blocklist files must be readable now.
func (d *DNSConfig) validate() []error {
	var errs []error
	for i, r := range d.AllowedResolvers {
		r = strings.TrimSpace(r)
		if _, err := netip.ParsePrefix(r); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(r); err == nil {
			continue
		}
		errs = append(errs, fmt.Errorf("dns.allowed_resolvers[%d]: %q is not a CIDR or an address; write e.g. 192.168.1.53/32 or 10.0.0.0/24", i, r))
	}
	names := map[string]bool{}
	for i, b := range d.Blocklists {
		key := fmt.Sprintf("dns.blocklists[%d]", i)
		if b.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: empty; name the list (it is written to threat.enrichments.indicator.provider)", key))
		} else if names[b.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q is used by another list; give each list its own name", key, b.Name))
		}
		names[b.Name] = true
		switch b.Format {
		case "hosts", "plain", "adblock":
		default:
			errs = append(errs, fmt.Errorf("%s.format: %q; use hosts, plain or adblock", key, b.Format))
		}
		if b.Path == "" {
			errs = append(errs, fmt.Errorf("%s.path: empty; give the list's file", key))
		} else if f, err := os.Open(b.Path); err != nil {
			errs = append(errs, fmt.Errorf("%s.path: %v; give a readable file", key, err))
		} else {
			f.Close()
		}
	}
	for _, n := range []struct {
		key string
		v   int
		min int
	}{
		{"dns.new_domain_days", d.NewDomainDays, 0}, {"dns.max_domains", d.MaxDomains, 1},
		{"dns.nxdomain.threshold", d.NXDomain.Threshold, 0}, {"dns.tunnel.max_queries", d.Tunnel.MaxQueries, 0},
		{"dns.tunnel.max_bytes", d.Tunnel.MaxBytes, 0}, {"dns.max_clients", d.MaxClients, 1},
	} {
		if n.v < n.min {
			errs = append(errs, fmt.Errorf("%s: %d is below %d; raise it (0 turns a check off where allowed)", n.key, n.v, n.min))
		}
	}
	if d.NewDomainDays > 3650 {
		errs = append(errs, fmt.Errorf("dns.new_domain_days: %d is more than ten years; use at most 3650", d.NewDomainDays))
	}
	for _, p := range []struct {
		key string
		v   time.Duration
	}{
		{"dns.blocklist_reload_interval", d.BlocklistReloadInterval}, {"dns.state_save_interval", d.StateSaveInterval},
		{"dns.nxdomain.window", d.NXDomain.Window}, {"dns.tunnel.window", d.Tunnel.Window},
	} {
		if p.v < time.Second {
			errs = append(errs, fmt.Errorf("%s: %v is below 1s; raise it or remove the key to use the default", p.key, p.v))
		}
	}
	return errs
}
