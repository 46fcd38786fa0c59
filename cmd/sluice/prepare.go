package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/sluicelab/sluice/enrich/parsers"
	"github.com/sluicelab/sluice/geoip"
	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/output/alert"
	"github.com/sluicelab/sluice/output/elasticsearch"
	"github.com/sluicelab/sluice/output/retention"
)

// prepared is what checkConfig built from the configuration before any
// socket is bound. `sluice run` goes on from it and `sluice check-config`
// stops there, so the two accept the same configurations.
type prepared struct {
	cfg       *config.Config
	cc        componentConfigs
	parsers   *parsers.Stage
	geoDB     *geoip.DB         // nil without databases
	retention *retention.Runner // nil without retention.schedule
	alerts    *alert.Service    // nil without alerting.rules_dir
	// warnings are problems that do not stop sluice: a GeoIP database
	// not there yet (it is loaded when it appears).
	warnings []error
}

// checkConfig loads the configuration (the file at path, SLUICE_*
// variables, the flags of fs, which may be nil), validates it and builds
// every component that can be built without binding a port: the syslog
// parsers and routes, the GeoIP databases (opened, their type checked),
// the retention policies and the Elasticsearch client (TLS files);
// config.Validate has checked and resolved the listen addresses. It reports every problem found in one
// error, one line each. logger gets the components' own logs, reg their
// metrics. The warnings are returned with the error too.
func checkConfig(path string, flags *pflag.FlagSet, logger *slog.Logger, reg prometheus.Registerer) (*prepared, error) {
	return checkConfigLogged(path, flags, reg, func(*config.Config) *slog.Logger { return logger })
}

// checkConfigLogged is checkConfig with a logger made from the
// configuration (log.*) once it is read.
func checkConfigLogged(path string, flags *pflag.FlagSet, reg prometheus.Registerer, newLogger func(*config.Config) *slog.Logger) (*prepared, error) {
	cfg, err := config.Read(path, flags)
	if cfg == nil {
		return nil, err
	}
	logger := newLogger(cfg)
	p := &prepared{cfg: cfg}
	errs := []error{err, cfg.Validate()}
	cc, err := buildComponentConfigs(cfg)
	p.cc = cc
	errs = append(errs, err, checkComponents(cfg, cc))

	if cc.vendor.Validate() == nil {
		if p.parsers, err = parsers.New(cc.vendor, logger, reg); err != nil {
			if !strings.HasPrefix(err.Error(), "syslog.parsers") { // most name their key already
				err = fmt.Errorf("syslog.parsers: %w", err)
			}
			errs = append(errs, err)
		}
	}
	if cc.geoip.Enabled() && cc.geoip.Validate() == nil {
		if p.geoDB, err = geoip.New(cc.geoip, logger, reg); err != nil {
			errs = append(errs, fmt.Errorf("geoip: %w", err))
		} else {
			// A file not there yet is a warning (geoipupdate may run
			// later); one that is there but is not a database of its
			// key's type, or not readable, is an error.
			for _, e := range unjoin(p.geoDB.StartErr()) {
				if errors.Is(e, fs.ErrNotExist) {
					p.warnings = append(p.warnings, e)
				} else {
					errs = append(errs, e)
				}
			}
		}
	}
	if len(cfg.Output.Elasticsearch.Addresses) > 0 && cc.es.Validate() == nil {
		if _, err := elasticsearch.NewClient(cc.es); err != nil {
			errs = append(errs, err)
		}
	}
	if cc.retention.Validate() == nil && (cc.retention.Schedule != "" || len(cc.retention.Policies) > 0) {
		rreg := reg
		if cc.retention.Schedule == "" { // built to check the policies only (`sluice retention` runs them)
			rreg = prometheus.NewRegistry()
		}
		r, err := newRetention(cc, logger, rreg)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: %w", err))
		} else if cc.retention.Schedule != "" {
			p.retention = r
		}
	}
	if len(cc.alert.RulesDirs) > 0 && cc.alert.Validate() == nil {
		// The rules (each file, key by key) and their alerters.
		if p.alerts, err = alert.New(cc.alert, logger, reg); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(dedupe(errs)...); err != nil {
		return p, err
	}
	return p, nil
}

// dedupe flattens errs and drops a problem already reported by an earlier
// check with another fix: the same text up to the first "; " (key, value
// and what is wrong).
func dedupe(errs []error) []error {
	var out []error
	seen := map[string]bool{}
	var add func(err error)
	add = func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				add(e)
			}
			return
		}
		head, _, _ := strings.Cut(err.Error(), "; ")
		if !seen[head] {
			seen[head] = true
			out = append(out, err)
		}
	}
	for _, err := range errs {
		add(err)
	}
	return out
}

// unjoin splits an errors.Join error into its errors.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
