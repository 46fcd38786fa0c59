// Command sluice collects NetFlow v5/v9, IPFIX and sFlow exports and writes
// ECS documents to daily NDJSON files (and, later, Elasticsearch).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // zone names for output.timezone even in minimal containers

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/collector/beats"
	"github.com/sluicelab/sluice/collector/dnscap"
	"github.com/sluicelab/sluice/collector/netflow"
	"github.com/sluicelab/sluice/collector/sflow"
	"github.com/sluicelab/sluice/collector/syslog"
	"github.com/sluicelab/sluice/enrich/dnscheck"
	"github.com/sluicelab/sluice/enrich/geo"
	"github.com/sluicelab/sluice/enrich/parsers"
	"github.com/sluicelab/sluice/enrich/timecheck"
	"github.com/sluicelab/sluice/geoip"
	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
	"github.com/sluicelab/sluice/output/alert"
	"github.com/sluicelab/sluice/output/elasticsearch"
	"github.com/sluicelab/sluice/output/file"
	"github.com/sluicelab/sluice/output/retention"
	"github.com/sluicelab/sluice/output/rollup"
	"github.com/sluicelab/sluice/output/stdout"
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

func execute(args []string, stdoutW, stderrW io.Writer) int {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "sluice collects NetFlow/IPFIX/sFlow and syslog, parses and GeoIP-enriches them, and writes daily ECS JSON documents (NDJSON files, Elasticsearch)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdoutW)
	root.SetErr(stderrW)

	var cfgPath string
	run := &cobra.Command{
		Use:   "run",
		Short: "Run the collector (no config file needed: listens on the default ports, writes ./data)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			// The components built by the check log with the configured
			// logger; with a bad log.* (reported) a default one.
			logger := slog.New(slog.DiscardHandler)
			p, err := checkConfigLogged(cfgPath, cmd.Flags(), reg, func(cfg *config.Config) *slog.Logger {
				l, err := obs.NewLogger(stderrW, cfg.Log.Level, cfg.Log.Format)
				if err != nil {
					l, _ = obs.NewLogger(stderrW, "info", "text")
				}
				logger = l
				return l
			})
			if err != nil {
				if p != nil {
					obs.FlushLogger(context.Background(), logger)
				}
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Emit the pending "repeats_suppressed" summaries of the log limit.
			defer obs.FlushLogger(context.Background(), logger)
			warnWritable(logger, cfgPath, p.cfg)
			return runCollector(ctx, p, logger, reg)
		},
	}
	run.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML config file (optional; see configs/sluice.yaml)")
	config.AddFlags(run.Flags())

	var checkPath string
	var strict bool
	check := &cobra.Command{
		Use:   "check-config [-c] FILE",
		Short: "Check a config file as `sluice run` would, without binding ports; exit non-zero with every problem found",
		Long: "Loads FILE (and SLUICE_* variables) and builds every component `sluice run` builds before it binds\n" +
			"its ports: parsers and routes, GeoIP databases, retention policies, TLS files, listen addresses.\n" +
			"Prints every problem at once, each with its key, value and fix. Warnings (a GeoIP file that does\n" +
			"not exist yet: run starts without it and loads it when it appears) fail only with --strict.",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return fmt.Errorf("check-config takes one FILE, got %d arguments\nusage: %s", len(args), cmd.UseLine())
			case len(args) == 1 && checkPath != "":
				return fmt.Errorf("check-config: give FILE or --config, not both\nusage: %s", cmd.UseLine())
			case len(args) == 0 && checkPath == "":
				return fmt.Errorf("check-config: missing FILE\nusage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := checkPath
			if len(args) == 1 {
				path = args[0]
			}
			p, err := checkConfig(path, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			out := cmd.OutOrStdout()
			if p != nil {
				for _, w := range p.warnings {
					fmt.Fprintf(out, "%s: warning: %v\n", path, w)
				}
			}
			if err != nil {
				return fmt.Errorf("invalid configuration %s:\n%w", path, err)
			}
			if n := len(p.warnings); n > 0 {
				if strict {
					return fmt.Errorf("%s: %d warning(s), and --strict makes them errors", path, n)
				}
				fmt.Fprintf(out, "%s: ok (%d warning(s))\n", path, n)
				return nil
			}
			fmt.Fprintf(out, "%s: ok\n", path)
			return nil
		},
	}
	check.Flags().StringVarP(&checkPath, "config", "c", "", "YAML config file (instead of FILE)")
	check.Flags().BoolVar(&strict, "strict", false, "fail on warnings too")

	ver := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprint(cmd.OutOrStdout(), versionText())
		},
	}
	// --version prints what `sluice version` prints.
	root.Version = versionString()
	root.SetVersionTemplate(versionText())
	root.AddCommand(run, check, ver, setupCommand(stderrW), geoipCommand(stderrW), retentionCommand(stderrW))
	root.AddCommand(statusCommand(), testRuleCommand(stdoutW, stderrW))
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderrW, "sluice:", err)
		return exitCode(err)
	}
	return 0
}

// componentConfigs maps the config file onto each component's Config.
type componentConfigs struct {
	netflow netflow.Config
	udp     collector.UDPConfig
	// syslog listeners
	syslogUDP collector.UDPConfig
	syslogTCP collector.TCPConfig
	syslogTLS collector.TCPConfig
	syslogDec syslog.DecoderConfig
	beats     beats.Config // on when Listen is set
	vendor    parsers.Config
	geoip     geoip.Config
	geo       geo.Config
	file      file.Config
	es        elasticsearch.Config
	pipe      pipeline.Config
	retention retention.Config
	timecheck timecheck.Config
	alert     alert.Config
	rollup    rollup.Config
	dnscap    dnscap.Config
}

// buildComponentConfigs maps cfg onto the components' configs. It goes on
// past a bad value (leaving that component's default) and returns every
// problem it met, so that one check reports them all.
func buildComponentConfigs(cfg *config.Config) (componentConfigs, error) {
	var cc componentConfigs
	var errs []error
	cc.netflow = netflow.Default()
	t := cfg.NetFlow.Templates
	cc.netflow.MaxTemplatesPerExporter = t.MaxPerExporter
	cc.netflow.MaxTemplates = t.MaxTotal
	cc.netflow.MaxExporters = t.MaxExporters
	cc.netflow.PendingMaxSets = t.PendingMaxSets
	cc.netflow.PendingMaxAge = t.PendingMaxAge
	cc.netflow.MaxAge = t.MaxAge
	cc.netflow.ExporterMaxIdle = t.ExporterMaxIdle
	cc.netflow.AllowedExporters = cfg.NetFlow.AllowedExporters
	if t.Persist {
		cc.netflow.StatePath = filepath.Join(cfg.DataDir, "netflow-templates.json")
	}

	cc.udp = collector.DefaultUDP()
	c := cfg.Collector
	cc.udp.Sockets, cc.udp.Workers, cc.udp.QueueSize = c.Sockets, c.Workers, c.QueueSize
	cc.udp.ReadBatch, cc.udp.MaxDatagram, cc.udp.ReceiveBuffer = c.ReadBatch, c.MaxDatagramBytes, c.ReceiveBufferBytes
	cc.udp.MaxBatchEvents = c.MaxBatchEvents

	sc := cfg.Syslog
	cc.syslogUDP = cc.udp
	cc.syslogUDP.Listen = sc.UDP.Listen
	cc.syslogUDP.MaxDatagram = min(sc.MaxMessageBytes, 65535)
	cc.syslogUDP.TruncateLarge = true
	cc.syslogTCP = collector.DefaultTCP()
	cc.syslogTCP.Listen = sc.TCP.Listen
	cc.syslogTCP.MaxMessageBytes = sc.MaxMessageBytes
	cc.syslogTCP.MaxConnections = sc.TCP.MaxConnections
	cc.syslogTCP.IdleTimeout = sc.TCP.IdleTimeout
	cc.syslogTCP.MaxBatchEvents = c.MaxBatchEvents
	cc.syslogTCP.MaxConnectionsPerSource = sc.TCP.MaxConnectionsPerSource
	cc.syslogTCP.FirstFrameTimeout = sc.TCP.FirstFrameTimeout
	cc.syslogTCP.FrameTimeout = sc.TCP.FrameTimeout
	cc.syslogTCP.Key, cc.syslogTCP.LimitsKey = "syslog.tcp", "syslog.tcp"
	cc.syslogTLS = cc.syslogTCP
	cc.syslogTLS.Listen = sc.TLS.Listen
	cc.syslogTLS.Key = "syslog.tls" // the limits stay syslog.tcp.*: shared
	if len(sc.TLS.Listen) > 0 {
		cc.syslogTLS.TLS = &collector.TLSConfig{CertFile: sc.TLS.CertFile, KeyFile: sc.TLS.KeyFile, CAFile: sc.TLS.CAFile, ClientAuth: sc.TLS.ClientAuth}
	}
	loc, err := time.LoadLocation(sc.Timezone)
	if err != nil {
		loc = time.UTC // config.Validate names syslog.timezone
	}
	cc.syslogDec = syslog.DecoderConfig{Location: loc, KeepOriginal: sc.KeepOriginal}
	cc.vendor = parsers.Default()
	cc.vendor.Auto = sc.Parsers.Auto
	cc.vendor.PatternDirs, cc.vendor.RuleDirs = sc.Parsers.PatternDirs, sc.Parsers.RuleDirs
	cc.vendor.Location = loc
	for _, l := range sc.UDP.Listen {
		cc.vendor.KnownListeners = append(cc.vendor.KnownListeners, "udp/"+l)
	}
	for _, l := range sc.TCP.Listen {
		cc.vendor.KnownListeners = append(cc.vendor.KnownListeners, "tcp/"+l)
	}
	for _, l := range sc.TLS.Listen {
		cc.vendor.KnownListeners = append(cc.vendor.KnownListeners, "tls/"+l)
	}
	for i, r := range sc.Parsers.Routes {
		vr := parsers.Route{Parser: r.Parser, Programs: r.Programs, Listeners: r.Listeners, Index: r.Index}
		for _, sn := range r.Senders {
			p, err := netip.ParsePrefix(sn)
			if err != nil {
				a, aerr := netip.ParseAddr(sn)
				if aerr != nil {
					errs = append(errs, fmt.Errorf("syslog.parsers.routes[%d].senders: %q is not an address or CIDR; write e.g. 192.0.2.1 or 10.0.0.0/8", i, sn))
					continue
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			vr.Senders = append(vr.Senders, p.Masked())
		}
		cc.vendor.Routes = append(cc.vendor.Routes, vr)
	}

	cc.dnscap = dnscap.Default()
	dc := cfg.DNS.Capture
	cc.dnscap.Interfaces, cc.dnscap.Snaplen, cc.dnscap.Timeout = dc.Interfaces, dc.Snaplen, dc.Timeout
	cc.dnscap.MaxPending, cc.dnscap.MaxTCPStreams, cc.dnscap.MaxAnswers = dc.MaxPending, dc.MaxTCPStreams, dc.MaxAnswers
	cc.dnscap.RingBytes, cc.dnscap.ReceiveBuffer, cc.dnscap.Index = dc.RingBytes, dc.ReceiveBufferBytes, cfg.Output.Index.DNS
	cc.dnscap.Ports = nil
	for _, p := range dc.Ports {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("dns.capture.ports: %d is not a port; use 1..65535", p))
			continue
		}
		cc.dnscap.Ports = append(cc.dnscap.Ports, uint16(p))
	}
	cc.beats = beats.Default()
	bc := cfg.Beats
	cc.beats.Listen, cc.beats.Timeout, cc.beats.MaxConnections = bc.Listen, bc.Timeout, bc.MaxConnections
	cc.beats.CertFile, cc.beats.KeyFile, cc.beats.ClientCAFile = bc.TLS.CertFile, bc.TLS.KeyFile, bc.TLS.ClientCAFile
	cc.beats.Index, cc.beats.MaxBatchEvents = cfg.Output.Index.Beats, c.MaxBatchEvents

	cc.geoip = geoipConfig(cfg)
	if cc.geo.HomeNetworks, err = geo.ParseHomeNetworks(cfg.Enrich.HomeNetworks); err != nil {
		errs = append(errs, err)
	}

	cc.file = file.Default()
	cc.file.Dir = cfg.Output.File.Dir
	cc.file.FlowsIndex = cfg.Output.Index.Flows
	cc.file.SyslogIndex = cfg.Output.Index.Syslog
	cc.file.Timezone = cfg.Output.Timezone
	cc.file.FsyncInterval = cfg.Output.File.FsyncInterval
	cc.file.MaxOpenFiles = cfg.Output.File.MaxOpenFiles
	if mode, err := cfg.FileMode(); err == nil { // else config.Validate names output.file.file_mode
		cc.file.FileMode = mode
	}

	cc.es = esConfig(cfg)
	cc.retention = retentionConfig(cfg)

	cc.timecheck = timecheck.Default()
	cc.timecheck.Flows = timecheck.Bounds{MaxPast: cfg.NetFlow.MaxPast, MaxFuture: cfg.NetFlow.MaxFuture}
	cc.timecheck.Syslog = timecheck.Bounds{MaxPast: cfg.Syslog.MaxPast, MaxFuture: cfg.Syslog.MaxFuture}
	cc.timecheck.Beats = timecheck.Bounds{MaxPast: cfg.Beats.MaxPast, MaxFuture: cfg.Beats.MaxFuture}

	cc.pipe = pipeline.Config{QueueSize: cfg.Pipeline.QueueSize, Workers: cfg.Pipeline.Workers, FlushInterval: cfg.Pipeline.FlushInterval}

	a := cfg.Alerting
	cc.alert = alert.Default()
	cc.alert.RulesDirs, cc.alert.Index, cc.alert.AlertTimeLimit = a.RulesDir, a.Index, a.AlertTimeLimit
	cc.alert.QueueSize, cc.alert.Workers, cc.alert.MaxKeys, cc.alert.Defaults = a.QueueSize, a.Workers, a.MaxKeys, a.Defaults
	cc.alert.StatePath = filepath.Join(cfg.DataDir, "alert-state.json")
	cc.alert.FlowsIndex, cc.alert.SyslogIndex = cfg.Output.Index.Flows, cfg.Output.Index.Syslog
	if outLoc, err := time.LoadLocation(cfg.Output.Timezone); err == nil { // else config.Validate names output.timezone
		cc.alert.Location = outLoc
	}
	co := cfg.Console
	cc.rollup = rollup.Default()
	cc.rollup.Dir = filepath.Join(cfg.DataDir, "console")
	cc.rollup.MaxSegments, cc.rollup.TopK, cc.rollup.TopKHigh = co.MaxSegments, co.TopK, 5*co.TopK
	cc.rollup.MinuteRetention, cc.rollup.Retention, cc.rollup.MaxBytes = co.MinuteRetention, co.Retention, co.MaxBytes
	cc.rollup.EventsScanLimit = co.EventsScanLimit
	cc.rollup.ExactRate = co.ExactRate
	cc.rollup.EventsDir = cfg.Output.File.Dir
	cc.rollup.FlowsIndex, cc.rollup.SyslogIndex = cfg.Output.Index.Flows, cfg.Output.Index.Syslog
	cc.rollup.DNSIndex, cc.rollup.BeatsIndex = cfg.Output.Index.DNS, cfg.Output.Index.Beats
	cc.rollup.Location = cc.alert.Location
	es := cc.es
	cc.alert.History = func(ctx context.Context, from, to time.Time, each func(alert.Doc) error) error {
		return readHistory(ctx, cfg, es, from, to, each)
	}
	return cc, errors.Join(errs...)
}

// checkComponents validates each component's config.
func checkComponents(cfg *config.Config, cc componentConfigs) error {
	errs := []error{cc.netflow.Validate(), cc.udp.Validate("collector"), cc.pipe.Validate(), cc.vendor.Validate(), cc.geoip.Validate(), cc.retention.Validate(), cc.timecheck.Validate()}
	if len(cc.syslogTCP.Listen) > 0 {
		errs = append(errs, cc.syslogTCP.Validate("syslog.tcp"))
	}
	if len(cc.syslogTLS.Listen) > 0 {
		tlsCheck := cc.syslogTLS
		if len(cc.syslogTCP.Listen) > 0 { // the shared limits were checked just above: name them once
			tlsCheck = collector.DefaultTCP()
			tlsCheck.Listen, tlsCheck.TLS, tlsCheck.Key = cc.syslogTLS.Listen, cc.syslogTLS.TLS, cc.syslogTLS.Key
		}
		errs = append(errs, tlsCheck.Validate("syslog.tls"))
	}
	if len(cc.dnscap.Interfaces) > 0 {
		errs = append(errs, cc.dnscap.Validate())
	}
	if cc.beats.Listen != "" {
		errs = append(errs, cc.beats.Validate())
	}
	if cfg.RollupsOn() {
		errs = append(errs, cc.rollup.Validate())
	}
	if cfg.DNS.Checks {
		dc, err := dnsCheckConfig(cfg)
		errs = append(errs, err, dc.Validate())
	}
	if cfg.Output.File.Enabled {
		errs = append(errs, cc.file.Validate())
	}
	if len(cfg.Output.Elasticsearch.Addresses) > 0 {
		errs = append(errs, cc.es.Validate())
	}
	return errors.Join(errs...)
}

// geoipConfig maps geoip.* onto the geoip package's Config.
func geoipConfig(cfg *config.Config) geoip.Config {
	g := geoip.Default()
	c := cfg.GeoIP
	g.CountryDB, g.CityDB, g.ASNDB = c.CountryDB, c.CityDB, c.ASNDB
	g.Language, g.CacheSize, g.ReloadInterval = c.Language, c.CacheSize, c.ReloadInterval
	return g
}

// esConfig maps output.elasticsearch (and the shared output keys) onto the
// Elasticsearch output's Config.
func esConfig(cfg *config.Config) elasticsearch.Config {
	e := cfg.Output.Elasticsearch
	c := elasticsearch.Default()
	c.Addresses, c.Username, c.Password, c.APIKey = e.Addresses, e.Username, e.Password, e.APIKey
	c.CAFile, c.CAFingerprint, c.InsecureSkipVerify = e.TLS.CAFile, e.TLS.CAFingerprint, e.TLS.InsecureSkipVerify
	c.Compress, c.Timeout = e.Compress, e.Timeout
	c.MaxDocs, c.MaxBytes, c.FlushInterval, c.Workers = e.Bulk.MaxDocs, e.Bulk.MaxBytes, e.Bulk.FlushInterval, e.Bulk.Workers
	c.InitialBackoff, c.MaxBackoff, c.SpoolAfter = e.Retry.InitialBackoff, e.Retry.MaxBackoff, e.Retry.SpoolAfter
	c.SpoolDir = e.Spool.Dir
	if c.SpoolDir == "" {
		c.SpoolDir = filepath.Join(cfg.DataDir, "elasticsearch-spool")
	}
	c.SpoolMaxBytes, c.SpoolWhenFull = e.Spool.MaxBytes, e.Spool.WhenFull
	c.SpoolFsync, c.StallTimeout = e.Spool.Fsync, e.Spool.StallTimeout
	c.SpoolWhenSlow = e.Spool.WhenSlow
	c.DeadLetterPath = e.DeadLetter.Path
	if c.DeadLetterPath == "" {
		c.DeadLetterPath = filepath.Join(cfg.DataDir, "elasticsearch-dead-letter.ndjson")
	}
	c.DeadLetterMaxBytes = e.DeadLetter.MaxBytes
	c.FlowsIndex, c.SyslogIndex, c.Timezone = cfg.Output.Index.Flows, cfg.Output.Index.Syslog, cfg.Output.Timezone
	c.InstallTemplates = e.Template.Install
	c.Template.Shards, c.Template.Replicas, c.Template.RefreshInterval = e.Template.Shards, e.Template.Replicas, e.Template.RefreshInterval
	if len(cfg.Alerting.RulesDir) > 0 {
		// The alert documents get a template of their own (their
		// sluice.alert.* fields; no replica on a single node).
		c.Template.AlertsIndex = cfg.Alerting.Index
	}
	return c
}

func runCollector(ctx context.Context, p *prepared, logger *slog.Logger, reg *prometheus.Registry) error {
	cfg, cc := p.cfg, p.cc
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: cannot create %s: %w", cfg.DataDir, err)
	}

	cm := collector.NewMetrics(reg)
	nfDec, err := netflow.New(cc.netflow, logger, reg)
	if err != nil {
		return fmt.Errorf("netflow: %w", err)
	}
	defer func() {
		if err := nfDec.Close(); err != nil {
			logger.Error("saving netflow template state", "err", err)
		}
	}()
	sfDec, err := sflow.New(sflow.Default(), logger, reg)
	if err != nil {
		return fmt.Errorf("sflow: %w", err)
	}

	var sources []pipeline.Source
	var udps []*collector.UDP
	for _, l := range []struct {
		name   string
		listen []string
		dec    collector.Decoder
	}{
		{"netflow", cfg.NetFlow.Listen, nfDec},
		{"ipfix", cfg.IPFIX.Listen, nfDec},
		{"sflow", cfg.SFlow.Listen, sfDec},
	} {
		if len(l.listen) == 0 {
			continue
		}
		uc := cc.udp
		uc.Listen = l.listen
		u, err := collector.NewUDP(l.name, uc, l.dec, cm, logger)
		if err != nil {
			return err
		}
		for _, a := range u.Addrs() {
			logger.Info("listening", "protocol", l.name, "listen", a.String())
		}
		sources = append(sources, u)
		udps = append(udps, u)
	}

	// Syslog: UDP datagrams through the same UDP plumbing; TCP and TLS
	// connections through collector.TCP. One decoder for all of them.
	slDec := syslog.NewDecoder(cc.syslogDec).WithLogger(logger)
	var tcps []*collector.TCP
	if len(cc.syslogUDP.Listen) > 0 {
		u, err := collector.NewUDP("syslog", cc.syslogUDP, slDec, cm, logger)
		if err != nil {
			return err
		}
		for _, a := range u.Addrs() {
			logger.Info("listening", "protocol", "syslog", "transport", "udp", "listen", a.String())
		}
		sources = append(sources, u)
		udps = append(udps, u)
	}
	for _, l := range []struct {
		name string
		cfg  collector.TCPConfig
	}{{"syslog-tcp", cc.syslogTCP}, {"syslog-tls", cc.syslogTLS}} {
		if len(l.cfg.Listen) == 0 {
			continue
		}
		t, err := collector.NewTCP(l.name, l.cfg, slDec, cm, logger)
		if err != nil {
			return err
		}
		for _, a := range t.Addrs() {
			logger.Info("listening", "protocol", "syslog", "transport", strings.TrimPrefix(l.name, "syslog-"), "listen", a.String())
		}
		sources = append(sources, t)
		tcps = append(tcps, t)
	}

	// Passive DNS capture: the sockets are opened here, so a missing
	// CAP_NET_RAW stops the start with a message that names it.
	if len(cc.dnscap.Interfaces) > 0 {
		dc, err := dnscap.New(cc.dnscap, logger, reg)
		if err != nil {
			return err
		}
		dc.CountEvents(cm.Events("dns"))
		logger.Info("capturing DNS", "interfaces", dc.Interfaces(), "ports", cc.dnscap.Ports, "ring", dc.Ring(), "index", cc.dnscap.Index)
		sources = append(sources, dc)
	}

	// Beats (Lumberjack v2): documents acknowledged once in the pipeline.
	var beatsIn *beats.Server
	if cc.beats.Listen != "" {
		if beatsIn, err = beats.New(cc.beats, logger, reg); err != nil {
			return err
		}
		beatsIn.CountEvents(cm.Events("beats"))
		sources = append(sources, beatsIn)
	}

	var outputs []pipeline.Output
	var fileOut *file.Output
	if cfg.Output.File.Enabled {
		fo, err := file.New(cc.file, logger, reg)
		if err != nil {
			return fmt.Errorf("output.file: %w", err)
		}
		fileOut = fo
		outputs = append(outputs, fo)
		logger.Info("writing daily NDJSON files", "dir", cc.file.Dir)
	}
	// The parsers (built by checkConfig): their own indices need
	// Elasticsearch templates.
	vs := p.parsers
	var esOut *elasticsearch.Output
	if len(cfg.Output.Elasticsearch.Addresses) > 0 {
		cc.es.Template.SyslogIndices = vs.Indices()
		if len(cc.dnscap.Interfaces) > 0 {
			// DNS transactions are ECS documents like syslog's.
			cc.es.Template.SyslogIndices = append(cc.es.Template.SyslogIndices, cc.dnscap.Index)
		}
		if beatsIn != nil { // the Beats documents are syslog-shaped too
			cc.es.Template.SyslogIndices = append(cc.es.Template.SyslogIndices, cc.beats.Index)
		}
		eo, err := elasticsearch.New(cc.es, logger, reg)
		if err != nil {
			return err
		}
		esOut = eo
		outputs = append(outputs, eo)
		if fileOut != nil && eo.Unclean() {
			respoolFileTails(ctx, logger, eo, cc.file.Dir, cfg.Collector.MaxBatchEvents)
		}
		logger.Info("writing to elasticsearch", "addresses", redactURLs(cc.es.Addresses), "spool", cc.es.SpoolDir)
	}
	if cfg.Output.Stdout {
		outputs = append(outputs, stdout.New(os.Stdout))
	}

	// GeoIP: the databases (reloaded when their files are replaced or on
	// SIGHUP) and the stage, when there is anything to add.
	geoDB := p.geoDB // opened by checkConfig
	// Vendor parsing of syslog messages, GeoIP and locality, then
	// encoding, last, in the stage workers, so it uses every core.
	stages := []pipeline.Stage{vs}
	if geoDB != nil || len(cc.geo.HomeNetworks) > 0 {
		gs, err := geo.New(cc.geo, geoDB, logger, reg)
		if err != nil {
			return fmt.Errorf("enrich: %w", err)
		}
		stages = append(stages, gs)
	}
	// Time sanity after every stage that may set the event time (the
	// parsers date syslog events from their messages), before encoding.
	tc, err := timecheck.New(cc.timecheck, logger, reg)
	if err != nil {
		return fmt.Errorf("time check: %w", err)
	}
	stages = append(stages, tc)
	// DNS checks on every DNS event (and flows to port 53/853), after the
	// parsers, GeoIP and the time check (their windows go by event time).
	var dnsChecks *dnscheck.Stage
	if cfg.DNS.Checks {
		dc, err := dnsCheckConfig(cfg)
		if err != nil {
			return err
		}
		if dnsChecks, err = dnscheck.New(dc, logger, reg); err != nil {
			return fmt.Errorf("dns: %w", err)
		}
		stages = append(stages, dnsChecks)
	}
	dnsCtx, stopDNS := context.WithCancel(context.WithoutCancel(ctx))
	dnsDone := make(chan struct{})
	go func() {
		defer close(dnsDone)
		if dnsChecks != nil {
			// Reloads blocklists and saves the seen domains until stopped,
			// then saves them once more (after the pipeline has drained).
			if err := dnsChecks.Run(dnsCtx); err != nil {
				logger.Error("saving the dns seen domains", "err", err)
			}
		}
	}()
	defer func() {
		stopDNS()
		<-dnsDone
	}()
	stages = append(stages, pipeline.Encode{})
	// The console's live tail reads the encoded documents; with no tail
	// client it costs one atomic load per batch.
	var tap *console.Tap
	if cfg.HTTP.Listen != "" && cfg.Console.MaxTailClients > 0 {
		if tap, err = console.NewTap(reg); err != nil {
			return fmt.Errorf("console: %w", err)
		}
		stages = append(stages, tap)
	}
	// Alert rules see every field the stages above add, after encoding:
	// they read the layout the encoder worked out for each syslog event
	// (query.EventDoc). The alert documents come in through a source of
	// their own.
	alerts := p.alerts
	if alerts != nil {
		if err := alerts.LoadState(); err != nil {
			return err
		}
		alerts.Seed(ctx)
		stages = append(stages, alerts.Stage())
		sources = append(sources, alerts.Source())
	}
	// Console rollups: after encoding (they read the encoded layout too);
	// closed minutes are written by their own goroutine, and what is
	// still open when the pipeline has drained is written on the way out.
	var rollups *rollup.Store
	if cfg.RollupsOn() {
		rollups, err = rollup.New(cc.rollup, logger, reg)
		if err != nil {
			return fmt.Errorf("console rollups: %w", err)
		}
		stages = append(stages, rollups.Stage())
		logger.Info("keeping console rollups", "dir", cc.rollup.Dir)
	}
	rollCtx, stopRollups := context.WithCancel(context.WithoutCancel(ctx))
	rollDone := make(chan struct{})
	go func() {
		defer close(rollDone)
		if rollups != nil {
			_ = rollups.Run(rollCtx)
		}
	}()
	defer func() {
		stopRollups()
		<-rollDone
		if rollups != nil {
			_ = rollups.Close(context.WithoutCancel(ctx))
		}
	}()
	runner := pipeline.New(cc.pipe, sources, stages, outputs, logger, reg)

	// SIGHUP reloads the GeoIP databases and the alert rules; without
	// either it is only logged (it must not end the process, its default
	// action).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	geoHup := make(chan os.Signal, 1)
	alertHup := make(chan struct{}, 1)
	geoCtx, stopGeo := context.WithCancel(context.WithoutCancel(ctx))
	geoDone := make(chan struct{}, 2)
	go func() {
		defer func() { geoDone <- struct{}{} }()
		for {
			select {
			case <-geoCtx.Done():
				return
			case sig := <-hup:
				if geoDB == nil && alerts == nil {
					logger.Info("SIGHUP: nothing to reload (no geoip databases or alert rules configured)")
				}
				select {
				case geoHup <- sig:
				default:
				}
				select {
				case alertHup <- struct{}{}:
				default:
				}
			}
		}
	}()
	go func() {
		defer func() { geoDone <- struct{}{} }()
		if geoDB != nil {
			_ = geoDB.Run(geoCtx, geoHup)
			return
		}
		<-geoCtx.Done()
	}()
	defer func() {
		stopGeo()
		<-geoDone
		<-geoDone
	}()

	// Alerting: the engine's clock, the alerter workers and rule reloads
	// run until the pipeline has drained (the alert stage may still match
	// during the drain); then unsent alerts and windows go to the state.
	alertCtx, stopAlerts := context.WithCancel(context.WithoutCancel(ctx))
	alertDone := make(chan struct{})
	go func() {
		defer close(alertDone)
		if alerts != nil {
			_ = alerts.Run(alertCtx, alertHup)
		}
	}()
	defer func() {
		stopAlerts()
		<-alertDone
	}()

	var httpSrv *obs.Server
	if cfg.HTTP.Listen != "" {
		ready := func() error {
			for _, u := range udps {
				if !u.Ready() {
					return fmt.Errorf("listener %s not reading yet", u.Name())
				}
			}
			for _, t := range tcps {
				if !t.Ready() {
					return fmt.Errorf("listener %s not accepting yet", t.Name())
				}
			}
			if beatsIn != nil && !beatsIn.Ready() {
				return errors.New("listener beats not accepting yet")
			}
			return runner.Ready()
		}
		httpSrv, err = obs.NewServer(cfg.HTTP.Listen, reg, ready, cfg.HTTP.Pprof, logger.With("component", "http"))
		if err != nil {
			return err
		}
		sec := cfg.HTTP
		if err := httpSrv.Secure(obs.Security{BasicUser: sec.Auth.BasicUser, BasicPasswordHash: sec.Auth.BasicPasswordHash,
			BearerTokenFile: sec.Auth.BearerTokenFile, CertFile: sec.TLS.CertFile, KeyFile: sec.TLS.KeyFile}); err != nil {
			return err
		}
		backend, err := consoleBackend(cfg, esOut, rollups)
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		api := console.NewAPI(console.APIConfig{QueryTimeout: cfg.Console.QueryTimeout, MaxTailClients: cfg.Console.MaxTailClients,
			Version: versionString()}, backend, tap, reg, logger.With("component", "console"))
		httpSrv.Handle(console.Prefix, api)
		if err := mountConsolePages(httpSrv); err != nil {
			return err
		}
		if tap != nil {
			httpSrv.OnShutdown(tap.Close)
		}
		httpSrv.SetStatus(func() string {
			st := runner.Status()
			if alerts != nil {
				st += "alerting: " + alerts.Status() + "\n"
			}
			return st
		})
		logger.Info("serving the console (/), /api/v1, /metrics, /healthz, /readyz", "listen", httpSrv.Addr(), "tls", httpSrv.TLS(), "auth", sec.Auth.BasicUser != "" || sec.Auth.BearerTokenFile != "")
	}
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	httpDone := make(chan error, 1)
	if httpSrv != nil {
		// SIGHUP also reads the HTTPS certificate again.
		tlsHup := make(chan os.Signal, 1)
		if httpSrv.TLS() {
			signal.Notify(tlsHup, syscall.SIGHUP)
		}
		go func() {
			defer signal.Stop(tlsHup)
			errc := make(chan error, 1)
			go func() { errc <- httpSrv.Run(httpCtx) }()
			for {
				select {
				case <-tlsHup:
					if err := httpSrv.ReloadTLS(); err != nil {
						logger.Error("SIGHUP: keeping the previous HTTPS certificate", "err", err)
					} else {
						logger.Info("SIGHUP: HTTPS certificate reloaded")
					}
				case err := <-errc:
					httpDone <- err
					return
				}
			}
		}()
	} else {
		httpDone <- nil
	}

	// Retention on retention.schedule, stopped (and waited for) on return.
	stopRetention := startRetention(ctx, p.retention, cc, logger)
	defer stopRetention()

	// One summary line every log.summary_interval (0: none).
	sumCtx, stopSum := context.WithCancel(ctx)
	sumDone := make(chan struct{})
	go func() {
		defer close(sumDone)
		obs.NewSummary(reg, logger).Run(sumCtx, cfg.Log.SummaryInterval)
	}()
	defer func() {
		stopSum()
		<-sumDone
	}()

	logger.Info("sluice started", "version", versionString())
	err = runner.Run(ctx, cfg.Shutdown.Timeout)
	stopHTTP()
	<-httpDone
	if err != nil {
		logger.Error("sluice stopped with errors", "err", err, "peak_rss_bytes", obs.PeakRSS())
		return err
	}
	logger.Info("sluice stopped cleanly", "peak_rss_bytes", obs.PeakRSS())
	return nil
}

// dnsCheckConfig builds the DNS checks' configuration from dns.*.
func dnsCheckConfig(cfg *config.Config) (dnscheck.Config, error) {
	d := cfg.DNS
	// A bad resolver is reported with the rest (Validate); the others are kept.
	res, err := dnscheck.ParseResolvers("dns.allowed_resolvers", d.AllowedResolvers)
	c := dnscheck.Config{
		AllowedResolvers: res,
		WatchDomains:     d.WatchDomains,
		ReloadInterval:   d.BlocklistReloadInterval,
		NewDomainDays:    d.NewDomainDays,
		StateDir:         filepath.Join(cfg.DataDir, "dns"),
		MaxDomains:       d.MaxDomains,
		SaveInterval:     d.StateSaveInterval,

		NXDomainWindow:    d.NXDomain.Window,
		NXDomainThreshold: d.NXDomain.Threshold,
		TunnelWindow:      d.Tunnel.Window,
		TunnelMaxQueries:  d.Tunnel.MaxQueries,
		TunnelMaxBytes:    d.Tunnel.MaxBytes,
		MaxClients:        d.MaxClients,
	}
	for _, b := range d.Blocklists {
		c.Blocklists = append(c.Blocklists, dnscheck.Blocklist{Name: b.Name, Path: b.Path, Format: b.Format})
	}
	return c, err
}
