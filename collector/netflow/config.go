package netflow

import (
	"errors"
	"fmt"
	"time"
)

// Config sets the limits and persistence of the NetFlow/IPFIX decoder.
type Config struct {
	// MaxTemplatesPerExporter caps the templates (data and options) one
	// exporter stream (address + source ID/observation domain + version) may
	// define; more are refused and counted (reason "template_limit").
	MaxTemplatesPerExporter int
	// MaxTemplates caps the templates of all exporters together, so that a
	// flood from many (spoofed) source addresses cannot exhaust memory.
	MaxTemplates int
	// MaxExporters caps the exporter streams tracked at once; packets of new
	// streams beyond it are refused (reason "exporter_limit").
	MaxExporters int
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
	return errors.Join(errs...)
}
