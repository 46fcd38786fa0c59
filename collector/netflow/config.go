package netflow

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config sets the limits and persistence of the NetFlow/IPFIX decoder.
type Config struct {
	// MaxTemplatesPerExporter caps the templates (data and options) one
	// exporter stream (address + source ID/observation domain + version) may
	// define; a new template beyond it evicts that stream's least recently
	// used ones (never-used first).
	MaxTemplatesPerExporter int
	// MaxTemplates caps the templates of all exporters together, so that a
	// flood from many (spoofed) source addresses cannot exhaust memory; beyond
	// it the least recently used templates of all exporters are evicted.
	MaxTemplates int
	// MaxExporters caps the exporter streams tracked at once; a new stream
	// beyond it evicts the least recently seen ones (first those that never
	// sent a decodable data set).
	MaxExporters int
	// MaxAge expires a template that was neither re-announced nor used by a
	// data set for this long.
	MaxAge time.Duration
	// ExporterMaxIdle expires an exporter stream (with its templates and
	// sampling state) not heard from for this long.
	ExporterMaxIdle time.Duration
	// AllowedExporters lists the addresses or CIDR prefixes datagrams are
	// accepted from; empty accepts every sender. Others are dropped before
	// any parsing and counted (sluice_netflow_packets_dropped_total).
	AllowedExporters []string
	// PendingMaxSets caps the data sets held, across all exporters, while
	// waiting for their template. 0 disables holding: such sets are dropped.
	PendingMaxSets int
	// PendingMaxAge is how long a held data set waits for its template before
	// it is dropped and counted (reason "template_unknown").
	PendingMaxAge time.Duration
	// StatePath is the file where templates and options/sampling state
	// persist across restarts; "" disables persistence.
	StatePath string
}

// Default returns the default configuration.
func Default() Config {
	return Config{
		MaxTemplatesPerExporter: 1000,
		MaxTemplates:            100000,
		MaxExporters:            10000,
		PendingMaxSets:          10000,
		PendingMaxAge:           10 * time.Second,
		MaxAge:                  2 * time.Hour,
		ExporterMaxIdle:         24 * time.Hour,
	}
}

// Validate reports every problem in c; each error names the config key.
func (c Config) Validate() error {
	var errs []error
	if c.MaxTemplatesPerExporter < 1 {
		errs = append(errs, fmt.Errorf("netflow.templates.max_per_exporter: %d must be >= 1", c.MaxTemplatesPerExporter))
	}
	if c.MaxTemplatesPerExporter > 65280 {
		errs = append(errs, fmt.Errorf("netflow.templates.max_per_exporter: %d must be <= 65280 (template IDs 256-65535)", c.MaxTemplatesPerExporter))
	}
	if c.MaxTemplates < 1 {
		errs = append(errs, fmt.Errorf("netflow.templates.max_total: %d must be >= 1", c.MaxTemplates))
	}
	if c.MaxExporters < 1 {
		errs = append(errs, fmt.Errorf("netflow.templates.max_exporters: %d must be >= 1", c.MaxExporters))
	}
	if c.PendingMaxSets < 0 {
		errs = append(errs, fmt.Errorf("netflow.templates.pending_max_sets: %d must be >= 0 (0 disables holding sets for late templates)", c.PendingMaxSets))
	}
	if c.PendingMaxSets > 0 && c.PendingMaxAge <= 0 {
		errs = append(errs, fmt.Errorf("netflow.templates.pending_max_age: %s must be > 0 when netflow.templates.pending_max_sets is set; use e.g. 10s", c.PendingMaxAge))
	}
	if c.MaxAge < time.Minute {
		errs = append(errs, fmt.Errorf("netflow.templates.max_age: %s is below 1m; exporters resend templates every few minutes (Cisco: 30m), so use at least 3x that, e.g. 2h", c.MaxAge))
	}
	if c.ExporterMaxIdle < time.Minute {
		errs = append(errs, fmt.Errorf("netflow.templates.exporter_max_idle: %s is below 1m; use e.g. 24h", c.ExporterMaxIdle))
	}
	if _, err := parseAllowed(c.AllowedExporters); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseAllowed parses AllowedExporters; nil means everyone is allowed.
func parseAllowed(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("netflow.allowed_exporters: %q is not a CIDR prefix; write e.g. \"192.0.2.0/24\" or \"2001:db8::/32\"", s))
				continue
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("netflow.allowed_exporters: %q is not an IP address or CIDR prefix; write e.g. \"192.0.2.1\" or \"192.0.2.0/24\"", s))
			continue
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errors.Join(errs...)
}
