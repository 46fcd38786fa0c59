package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/output/elasticsearch"
	"github.com/sluicelab/sluice/output/retention"
)

// Exit codes of `sluice retention` (other commands exit 1 on any error).
const (
	exitFailed = 1 // some action failed (the others were still tried)
	exitConfig = 2 // bad configuration or usage
)

const retentionHelp = `Apply the retention.policies of the configuration once, then exit (for cron).

For each policy, in order: list the indices (Elasticsearch) and daily
files (output.file.dir) its pattern matches, keep today's (and, for files,
yesterday's), report and leave alone names without a date, and delete,
close, force-merge or gzip the old ones (max_age) and, for max_total_size,
delete the oldest until the rest fits. Standard output gets one line per
index or file acted on or skipped, a summary per policy and target, and a
last line with the totals; logs go to standard error.

Exit codes:
  0  done, or nothing to do (also: no policies configured)
  1  some action or listing failed; the others were still tried (see the FAILED lines)
  2  configuration or usage error (the message names the key and the fix)`

// codeError carries an exit code other than 1.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// exitCode is the process exit code for an error returned by a command.
func exitCode(err error) int {
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitFailed
}

func configError(err error) error { return &codeError{code: exitConfig, err: err} }

// retentionCommand is `sluice retention`.
func retentionCommand(stderrW io.Writer) *cobra.Command {
	var cfgPath string
	var dryRun bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Delete, close, force-merge or gzip old daily indices and files once, then exit (cron)",
		Long:  retentionHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return configError(fmt.Errorf("retention takes no arguments, got %q; use --config FILE\nusage: %s", args, cmd.UseLine()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath, cmd.Flags())
			if err != nil {
				return configError(err)
			}
			if err := cfg.Validate(); err != nil {
				return configError(fmt.Errorf("invalid configuration:\n%w", err))
			}
			cc, err := buildComponentConfigs(cfg)
			if err != nil {
				return configError(err)
			}
			if err := cc.retention.Validate(); err != nil {
				return configError(fmt.Errorf("invalid configuration:\n%w", err))
			}
			logger, err := obs.NewLogger(stderrW, cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return configError(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			r, err := newRetention(cc, logger, prometheus.NewRegistry())
			if err != nil {
				return configError(err)
			}
			if r.Policies() == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "retention: no retention.policies configured; nothing to do")
				return nil
			}
			if _, err := r.Run(ctx, dryRun, cmd.OutOrStdout()); err != nil {
				return err
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return configError(err) })
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML config file (optional; see configs/sluice.yaml)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be done and change nothing")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: no limit; force merges can take long)")
	config.AddFlagsFor(cmd.Flags(), "output.file.dir", "output.elasticsearch.addresses", "log.level", "log.format")
	return cmd
}

// retentionConfig maps retention.* (and the outputs it acts on) onto the
// retention package's Config.
func retentionConfig(cfg *config.Config) retention.Config {
	c := retention.Default()
	c.Schedule = cfg.Retention.Schedule
	c.Timezone = cfg.Retention.Timezone
	if c.Timezone == "" {
		c.Timezone = cfg.Output.Timezone
	}
	for _, p := range cfg.Retention.Policies {
		c.Policies = append(c.Policies, retention.PolicyConfig{
			Name: p.Name, Pattern: p.Pattern, Exclude: p.Exclude, MaxAge: p.MaxAge, AgeSource: p.AgeSource,
			Timestring: p.Timestring, Action: p.Action, MaxNumSegments: p.MaxNumSegments,
			MaxTotalSize: p.MaxTotalSize, Targets: p.Targets,
		})
	}
	c.Elasticsearch = len(cfg.Output.Elasticsearch.Addresses) > 0
	if cfg.Output.File.Enabled {
		c.FilesDir = cfg.Output.File.Dir
	}
	return c
}

// newRetention builds the runner, with an Elasticsearch client of its own
// when the output is configured.
func newRetention(cc componentConfigs, logger *slog.Logger, reg prometheus.Registerer) (*retention.Runner, error) {
	var deps retention.Deps
	if cc.retention.Elasticsearch {
		client, err := elasticsearch.NewClient(cc.es)
		if err != nil {
			return nil, err
		}
		deps.ES = client
	}
	return retention.New(cc.retention, deps, logger, reg)
}

// startRetention runs r (built by checkConfig for retention.schedule; nil
// without one) inside `sluice run` in a goroutine that ends with ctx; the
// returned stop cancels it and waits for it (a run in progress is
// cancelled between, or inside, its requests).
func startRetention(ctx context.Context, r *retention.Runner, cc componentConfigs, logger *slog.Logger) (stop func()) {
	if r == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Schedule(ctx); err != nil {
			logger.Error("retention schedule stopped", "err", err)
		}
	}()
	logger.Info("retention scheduled", "schedule", cc.retention.Schedule, "policies", r.Policies())
	return func() {
		cancel()
		<-done
	}
}
