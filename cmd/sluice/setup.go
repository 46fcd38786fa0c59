package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicelab/sluice/enrich/parsers"
	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/output/elasticsearch"
)

// serviceConfig is the config file of the installed service
// (configs/sluice.service), which `sluice setup elasticsearch` reads when
// no --config is given. Tests set it with -ldflags -X.
var serviceConfig = "/etc/sluice/sluice.yaml"

// setupCommand is `sluice setup elasticsearch`: install the index templates
// and exit, without collecting anything.
func setupCommand(stderrW io.Writer) *cobra.Command {
	setup := &cobra.Command{
		Use:   "setup",
		Short: "Prepare external systems for sluice",
	}
	var cfgPath string
	var timeout time.Duration
	es := &cobra.Command{
		Use:   "elasticsearch",
		Short: "Install or update sluice's index and component templates, then exit",
		Long: "Installs or updates the index and component templates built from the config: --config, or else\n" +
			serviceConfig + " (the service's) when it exists, or else the built-in defaults. Prints which config\n" +
			"it used and, per template, installed, updated (with what changed) or unchanged.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			// Without --config, the running service's settings (shards,
			// replicas, refresh interval, index names): templates built
			// from the defaults would silently undo them.
			path := cfgPath
			switch _, err := os.Stat(serviceConfig); {
			case path != "":
				fmt.Fprintf(out, "using config %s\n", path)
			case err == nil:
				path = serviceConfig
				fmt.Fprintf(out, "using config %s (the service's; --config picks another)\n", path)
			default:
				fmt.Fprintf(out, "no config file (%s: %v): using built-in defaults, SLUICE_* variables and flags\n", serviceConfig, errors.Unwrap(err))
			}
			cfg, err := config.Load(path, cmd.Flags())
			if err != nil {
				return err
			}
			if len(cfg.Output.Elasticsearch.Addresses) == 0 {
				return errors.New("output.elasticsearch.addresses: empty; give the cluster with --output.elasticsearch.addresses=http://127.0.0.1:9200, the config file or SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES")
			}
			ec := esConfig(cfg)
			ec.InstallTemplates = true
			if err := ec.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			logger, err := obs.NewLogger(stderrW, cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return err
			}
			tc := ec.Template
			tc.FlowsIndex, tc.SyslogIndex = ec.FlowsIndex, ec.SyslogIndex
			// Parsers and routes may name indices of their own.
			cc, err := buildComponentConfigs(cfg)
			if err != nil {
				return err
			}
			vs, err := parsers.New(cc.vendor, logger, prometheus.NewRegistry())
			if err != nil {
				return fmt.Errorf("syslog.parsers: %w", err)
			}
			tc.SyslogIndices = vs.Indices()
			tpls, err := elasticsearch.BuildTemplates(tc)
			if err != nil {
				return err
			}
			client, err := elasticsearch.NewClient(ec)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			results, err := elasticsearch.InstallTemplatesReport(ctx, client, tpls, logger)
			installed, unchanged := 0, 0
			for _, r := range results {
				line := fmt.Sprintf("%s template %s: %s", r.Kind, r.Name, r.Action)
				switch r.Action {
				case "installed", "updated":
					installed++
				case "kept":
					line += " (a newer sluice installed it)"
					unchanged++
				default:
					unchanged++
				}
				if len(r.Changes) > 0 {
					line += " (" + strings.Join(r.Changes, ", ") + ")"
				}
				fmt.Fprintln(out, line)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "templates: %d installed or updated, %d unchanged (%s)\n",
				installed, unchanged, redactURLs(ec.Addresses))
			return nil
		},
	}
	es.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML config file (default: "+serviceConfig+" when it exists)")
	es.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	config.AddFlagsFor(es.Flags(), "output.elasticsearch.addresses", "log.level", "log.format")
	setup.AddCommand(es)
	return setup
}

// redactURLs drops user info (passwords) from URLs for logging.
func redactURLs(addrs []string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		if u, err := url.Parse(a); err == nil {
			out[i] = u.Redacted()
		} else {
			out[i] = "(invalid URL)"
		}
	}
	return out
}
