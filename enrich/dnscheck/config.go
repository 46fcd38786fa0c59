// Package dnscheck is the pipeline stage that checks DNS events: every
// event carrying a dns.question.name field (resolver query logs parsed
// from syslog, captured DNS, Beats), whatever its kind. It adds the
// public-suffix parts of the name, randomness and encoding facts,
// unusual record types, resolvers outside dns.allowed_resolvers (also for
// flows to port 53/853), NXDOMAIN bursts and query volume per client,
// newly seen domains, look-alikes of dns.watch_domains and blocklist
// hits, and a combined score with its reasons. See README.md.
package dnscheck

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Blocklist is one list of bad names and addresses.
type Blocklist struct {
	Name   string // threat.enrichments.indicator.provider, sluice.dns.blocklist
	Path   string
	Format string // hosts, plain or adblock
}

// Config configures the checks. The zero value of a bound turns its
// check off where documented.
type Config struct {
	// AllowedResolvers are the sanctioned DNS servers; empty turns the
	// check off.
	AllowedResolvers []netip.Prefix
	// WatchDomains are registered domains (example.com) whose look-alikes
	// are flagged.
	WatchDomains []string
	Blocklists   []Blocklist
	// ReloadInterval is how often the blocklists' files are checked for
	// changes (modification time and size).
	ReloadInterval time.Duration

	// NewDomainDays: a registered domain first seen within this many days
	// is new; 0 turns the check (and its state) off.
	NewDomainDays int
	// StateDir holds the seen-domains file (data_dir/dns); "" keeps the
	// set in memory only.
	StateDir string
	// MaxDomains bounds the seen set; beyond it the least recently seen
	// of a sample are evicted (counted).
	MaxDomains int
	// SaveInterval is how often the seen set is written (and at Close).
	SaveInterval time.Duration

	// NXDomainWindow and NXDomainThreshold: a client with at least
	// Threshold NXDOMAIN answers within a window is bursting; 0 turns it off.
	NXDomainWindow    time.Duration
	NXDomainThreshold int
	// TunnelWindow, TunnelMaxQueries, TunnelMaxBytes: a client sending at
	// least MaxQueries queries, or MaxBytes of names and answers, for one
	// registered domain within a window is a tunnel suspect; 0 turns each
	// off.
	TunnelWindow     time.Duration
	TunnelMaxQueries int
	TunnelMaxBytes   int
	// MaxClients bounds the per-client and per-client-and-domain windows
	// (each); beyond it the oldest windows are evicted (counted).
	MaxClients int
}

// Default returns the defaults (the same as configs/sluice.yaml).
func Default() Config {
	return Config{
		ReloadInterval:    30 * time.Second,
		NewDomainDays:     7,
		MaxDomains:        200000,
		SaveInterval:      5 * time.Minute,
		NXDomainWindow:    time.Minute,
		NXDomainThreshold: 20,
		TunnelWindow:      5 * time.Minute,
		TunnelMaxQueries:  300,
		TunnelMaxBytes:    30000,
		MaxClients:        50000,
	}
}

// ParseResolvers reads dns.allowed_resolvers: CIDRs or single addresses.
func ParseResolvers(key string, vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for i, v := range vals {
		v = strings.TrimSpace(v)
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("%s[%d]: %q is not a CIDR or an address; write e.g. 192.168.1.53/32 or 10.0.0.0/24", key, i, v))
	}
	return out, errors.Join(errs...)
}

// NormalizeDomain returns a watch domain or blocklist name as the checks
// compare it: lower case, no trailing dot, IDN labels in punycode.
func NormalizeDomain(s string) (string, error) {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if s == "" {
		return "", errors.New("empty name")
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", fmt.Errorf("%q is not allowed in a name", c)
		}
	}
	if ascii {
		if len(s) > 253 || strings.Contains(s, "..") || s[0] == '.' || s[len(s)-1] == '.' {
			return "", errors.New("not a name")
		}
		return s, nil
	}
	a, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", err
	}
	return a, nil
}

// Validate reports every problem, naming the dns.* key; it also checks
// that each blocklist file can be read.
func (c Config) Validate() error {
	var errs []error
	for i, d := range c.WatchDomains {
		if _, err := NormalizeDomain(d); err != nil {
			errs = append(errs, fmt.Errorf("dns.watch_domains[%d]: %q is not a domain name (%v); write e.g. example.com", i, d, err))
		}
	}
	names := map[string]bool{}
	for i, b := range c.Blocklists {
		key := fmt.Sprintf("dns.blocklists[%d]", i)
		switch {
		case b.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: empty; name the list (it is written to threat.enrichments.indicator.provider)", key))
		case names[b.Name]:
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
	for _, d := range []struct {
		key string
		v   time.Duration
		min time.Duration
	}{
		{"dns.blocklist_reload_interval", c.ReloadInterval, time.Second},
		{"dns.state_save_interval", c.SaveInterval, time.Second},
	} {
		if d.v < d.min {
			errs = append(errs, fmt.Errorf("%s: %v is below %v; raise it", d.key, d.v, d.min))
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"dns.new_domain_days", c.NewDomainDays}, {"dns.nxdomain.threshold", c.NXDomainThreshold},
		{"dns.tunnel.max_queries", c.TunnelMaxQueries}, {"dns.tunnel.max_bytes", c.TunnelMaxBytes},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative; use 0 to turn the check off", n.key, n.v))
		}
	}
	if c.NewDomainDays > 3650 {
		errs = append(errs, fmt.Errorf("dns.new_domain_days: %d is more than ten years; use at most 3650", c.NewDomainDays))
	}
	if c.NXDomainThreshold > 0 && c.NXDomainWindow < time.Second {
		errs = append(errs, fmt.Errorf("dns.nxdomain.window: %v is below 1s; use e.g. 1m (the default)", c.NXDomainWindow))
	}
	if (c.TunnelMaxQueries > 0 || c.TunnelMaxBytes > 0) && c.TunnelWindow < time.Second {
		errs = append(errs, fmt.Errorf("dns.tunnel.window: %v is below 1s; use e.g. 5m (the default)", c.TunnelWindow))
	}
	if c.MaxDomains < 1 {
		errs = append(errs, fmt.Errorf("dns.max_domains: %d; use at least 1", c.MaxDomains))
	}
	if c.MaxClients < 1 {
		errs = append(errs, fmt.Errorf("dns.max_clients: %d; use at least 1", c.MaxClients))
	}
	return errors.Join(errs...)
}
