package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicelab/sluice/enrich/parsers"
	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/output/elasticsearch"
)

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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath, cmd.Flags())
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
			installed, unchanged, err := elasticsearch.InstallTemplates(ctx, client, tpls, logger)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "templates: %d installed or updated, %d unchanged (%s)\n",
				installed, unchanged, redactURLs(ec.Addresses))
			return nil
		},
	}
	es.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML config file (optional)")
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
