package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/output/alert"
	"github.com/sluicelab/sluice/output/elasticsearch"
)

const testRuleHelp = `Runs one alert rule over stored documents and prints what it would do,
like elastalert-test-rule: how many documents it read, each match, and each
alert as it would be sent (subject and text), without sending anything
unless --alert is given. The rule's clock follows the documents' times, so
windows (frequency, spike, flatline, aggregation) behave as they would have.

Documents come from:
  --file PATH...   daily NDJSON files (plain or .gz; globs allowed), read
                   merged in time order
  --es             the Elasticsearch cluster of the config
                   (output.elasticsearch.*): the rule's index: patterns, or
                   every sluice index but the alerts
  (neither)        the daily files in output.file.dir
--days N (default 1: the last 24 hours) or --start/--end (RFC 3339 times
or dates such as 2026-12-01) choose the time range of --es, and of the
files of output.file.dir by the date in their names; --file reads the
files whole.

Alerter settings (smtp_host, ...) come from the rule and from
alerting.defaults of the config (--config).

Exit codes:
  0  the rule ran (with or without matches; with --alert, every alert sent)
  1  documents could not be read, or with --alert some alert was not sent
  2  usage error, a bad config or a rule that does not load (the message
     names the file, the key and the fix)`

func testRuleCommand(stdoutW, stderrW io.Writer) *cobra.Command {
	var cfgPath, start, end string
	var files []string
	var useES, send bool
	var days int
	cmd := &cobra.Command{
		Use:   "test-rule [-c CONFIG] RULE.yaml",
		Short: "Run one alert rule over stored documents (files or Elasticsearch) and print its matches and alerts",
		Long:  testRuleHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return configError(fmt.Errorf("test-rule takes one rule file, got %d arguments\nusage: %s", len(args), cmd.UseLine()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(cfgPath, nil)
			if err != nil {
				return configError(err)
			}
			cc, err := buildComponentConfigs(cfg)
			if err != nil {
				return configError(err)
			}
			logger, err := obs.NewLogger(stderrW, cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return configError(err)
			}
			from, to, err := timeRange(start, end, days, time.Now())
			if err != nil {
				return configError(err)
			}
			if useES && len(files) > 0 {
				return configError(errors.New("test-rule: give --file or --es, not both"))
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ac := cc.alert
			var next func() (alert.Doc, error)
			var closeSrc func()
			switch {
			case useES:
				if len(cfg.Output.Elasticsearch.Addresses) == 0 {
					return configError(errors.New("test-rule --es: output.elasticsearch.addresses is empty in the config; give --config with the cluster"))
				}
				next, closeSrc, err = esDocs(ctx, cc.es, ruleIndices(args[0]), from, to)
			default:
				paths := files
				if len(paths) == 0 {
					paths, err = dailyFiles(cfg.Output.File.Dir, from, to, time.Now())
				} else {
					paths, err = expandGlobs(paths)
				}
				if err == nil {
					alertsPrefix, _, _ := strings.Cut(ac.Index, "%{")
					paths = slices.DeleteFunc(paths, func(p string) bool { return alertsPrefix != "" && strings.HasPrefix(filepath.Base(p), alertsPrefix) })
					fmt.Fprintf(stdoutW, "reading %d file(s)\n", len(paths))
					next, closeSrc, err = fileDocs(paths)
				}
			}
			if err != nil {
				return err
			}
			defer closeSrc()
			o := alert.TestOptions{Send: send, Out: stdoutW}
			if files == nil || useES {
				o.End = to
				if now := time.Now(); o.End.After(now) {
					o.End = now
				}
			}
			rep, err := alert.TestRule(ctx, ac, args[0], next, o, logger)
			if err != nil {
				if rep == nil {
					return configError(err)
				}
				return err
			}
			if send && rep.Failed > 0 {
				return fmt.Errorf("%d alert(s) not sent", rep.Failed)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML config file (alerting.defaults, output.file.dir, output.elasticsearch)")
	cmd.Flags().StringSliceVar(&files, "file", nil, "daily NDJSON files to read (plain or .gz; globs allowed; repeat or comma-separate)")
	cmd.Flags().BoolVar(&useES, "es", false, "read from the Elasticsearch cluster of the config")
	cmd.Flags().IntVar(&days, "days", 1, "how many days back from now to read (with --es or output.file.dir)")
	cmd.Flags().StringVar(&start, "start", "", "start of the time range (RFC 3339 or YYYY-MM-DD); overrides --days")
	cmd.Flags().StringVar(&end, "end", "", "end of the time range (RFC 3339 or YYYY-MM-DD; default now)")
	cmd.Flags().BoolVar(&send, "alert", false, "send the alerts for real (default: print them only)")
	return cmd
}

// timeRange resolves --start/--end/--days.
func timeRange(start, end string, days int, now time.Time) (time.Time, time.Time, error) {
	parse := func(flag, s string) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("--%s: %q is not a time; write e.g. 2026-12-01 or 2026-12-01T08:00:00Z", flag, s)
	}
	to := now
	if end != "" {
		t, err := parse("end", end)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		to = t
	}
	if days < 1 {
		return time.Time{}, time.Time{}, fmt.Errorf("--days: %d must be >= 1", days)
	}
	from := to.Add(-time.Duration(days) * 24 * time.Hour)
	if start != "" {
		t, err := parse("start", start)
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		from = t
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, fmt.Errorf("--start %s is not before --end %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return from, to, nil
}

func expandGlobs(in []string) ([]string, error) {
	var out []string
	for _, p := range in {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, configError(fmt.Errorf("--file %q: %w", p, err))
		}
		if len(m) == 0 {
			return nil, configError(fmt.Errorf("--file %q: no such file", p))
		}
		out = append(out, m...)
	}
	return out, nil
}

// dailyFiles lists the daily files of dir whose name holds a date
// (yyyy.MM.dd) from the days of [from, to].
func dailyFiles(dir string, from, to, now time.Time) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("output.file.dir %s: %w (give --file or --es)", dir, err)
	}
	var dates []string
	for d := from.UTC().Truncate(24 * time.Hour); !d.After(to); d = d.Add(24 * time.Hour) {
		dates = append(dates, d.Format("2006.01.02"))
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(n, ".ndjson") || strings.HasSuffix(n, ".ndjson.gz")) {
			continue
		}
		if slices.ContainsFunc(dates, func(d string) bool { return strings.Contains(n, d) }) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out, nil
}

// fileReader is one NDJSON file with its next line read ahead.
type fileReader struct {
	f     *os.File
	sc    *bufio.Scanner
	index string
	line  []byte
	ts    string // the line's @timestamp, as written
	done  bool
}

func (r *fileReader) advance() error {
	if !r.sc.Scan() {
		r.done = true
		return r.sc.Err()
	}
	r.line = bytes.Clone(r.sc.Bytes())
	r.ts = quickTimestamp(r.line)
	return nil
}

// quickTimestamp is the @timestamp string of a sluice document (written
// first, RFC 3339 UTC, so strings sort as times); "" when not there.
func quickTimestamp(line []byte) string {
	const key = `{"@timestamp":"`
	if !bytes.HasPrefix(line, []byte(key)) {
		return ""
	}
	rest := line[len(key):]
	if i := bytes.IndexByte(rest, '"'); i > 0 {
		return string(rest[:i])
	}
	return ""
}

// fileDocs reads paths merged in @timestamp order (each file is in
// arrival order, nearly time order already).
func fileDocs(paths []string) (func() (alert.Doc, error), func(), error) {
	var rs []*fileReader
	closeAll := func() {
		for _, r := range rs {
			r.f.Close()
		}
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		var src io.Reader = f
		name := filepath.Base(p)
		if strings.HasSuffix(name, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				closeAll()
				return nil, nil, fmt.Errorf("%s: %w", p, err)
			}
			src = gz
			name = strings.TrimSuffix(name, ".gz")
		}
		sc := bufio.NewScanner(src)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		r := &fileReader{f: f, sc: sc, index: strings.TrimSuffix(name, ".ndjson")}
		if err := r.advance(); err != nil {
			f.Close()
			closeAll()
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		rs = append(rs, r)
	}
	next := func() (alert.Doc, error) {
		var best *fileReader
		for _, r := range rs {
			if r.done {
				continue
			}
			if best == nil || r.ts < best.ts {
				best = r
			}
		}
		if best == nil {
			return alert.Doc{}, io.EOF
		}
		d := alert.Doc{JSON: best.line, Index: best.index}
		if err := best.advance(); err != nil {
			return alert.Doc{}, fmt.Errorf("%s: %w", best.f.Name(), err)
		}
		return d, nil
	}
	return next, closeAll, nil
}

// ruleIndices reads the index: of a rule file for --es (every sluice
// index but the alerts when it has none or cannot be read here; the rule
// itself is checked by TestRule).
func ruleIndices(path string) string {
	const all = "sluice-*,-sluice-alerts-*"
	data, err := os.ReadFile(path)
	if err != nil {
		return all
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "index:"); ok {
			v = strings.Trim(strings.TrimSpace(v), `"'`)
			if v != "" {
				return v
			}
		}
	}
	return all
}

// esDocs reads the documents of indices in [from, to] in time order with
// a scroll.
func esDocs(ctx context.Context, cfg elasticsearch.Config, indices string, from, to time.Time) (func() (alert.Doc, error), func(), error) {
	es, err := elasticsearch.NewClient(cfg)
	if err != nil {
		return nil, nil, configError(err)
	}
	body, _ := json.Marshal(map[string]any{
		"size": 1000,
		"sort": []any{map[string]any{"@timestamp": "asc"}},
		"query": map[string]any{"range": map[string]any{"@timestamp": map[string]any{
			"gte": from.UTC().Format(time.RFC3339Nano), "lte": to.UTC().Format(time.RFC3339Nano)}}},
	})
	res, err := es.Search(es.Search.WithContext(ctx), es.Search.WithIndex(indices), es.Search.WithBody(bytes.NewReader(body)),
		es.Search.WithScroll(2*time.Minute), es.Search.WithIgnoreUnavailable(true), es.Search.WithAllowNoIndices(true))
	if err != nil {
		return nil, nil, fmt.Errorf("elasticsearch search %s: %w", indices, err)
	}
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				Index  string          `json:"_index"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	read := func(body io.ReadCloser, isErr bool, status string) (*page, error) {
		defer body.Close()
		data, err := io.ReadAll(io.LimitReader(body, 512<<20))
		if err != nil {
			return nil, err
		}
		if isErr {
			return nil, fmt.Errorf("elasticsearch search %s: %s: %.300s", indices, status, data)
		}
		var p page
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("elasticsearch search %s: %w", indices, err)
		}
		return &p, nil
	}
	cur, err := read(res.Body, res.IsError(), res.Status())
	if err != nil {
		return nil, nil, err
	}
	i := 0
	next := func() (alert.Doc, error) {
		for i >= len(cur.Hits.Hits) {
			if len(cur.Hits.Hits) == 0 || cur.ScrollID == "" {
				return alert.Doc{}, io.EOF
			}
			res, err := es.Scroll(es.Scroll.WithContext(ctx), es.Scroll.WithScrollID(cur.ScrollID), es.Scroll.WithScroll(2*time.Minute))
			if err != nil {
				return alert.Doc{}, err
			}
			p, err := read(res.Body, res.IsError(), res.Status())
			if err != nil {
				return alert.Doc{}, err
			}
			cur, i = p, 0
		}
		h := cur.Hits.Hits[i]
		i++
		return alert.Doc{JSON: h.Source, Index: h.Index}, nil
	}
	closeFn := func() {
		if cur != nil && cur.ScrollID != "" {
			if res, err := es.ClearScroll(es.ClearScroll.WithScrollID(cur.ScrollID)); err == nil {
				res.Body.Close()
			}
		}
	}
	return next, closeFn, nil
}

// readHistory reads the stored documents of [from, to] for the alert
// rules' history: the daily files of output.file.dir when the file output
// is on, else the cluster's indices.
func readHistory(ctx context.Context, cfg *config.Config, es elasticsearch.Config, from, to time.Time, each func(alert.Doc) error) error {
	var next func() (alert.Doc, error)
	var closeSrc func()
	var err error
	alertsPrefix, _, _ := strings.Cut(cfg.Alerting.Index, "%{")
	switch {
	case cfg.Output.File.Enabled:
		var paths []string
		paths, err = dailyFiles(cfg.Output.File.Dir, from, to, time.Now())
		if errors.Is(err, os.ErrNotExist) {
			return nil // nothing written yet
		}
		if err != nil {
			return err
		}
		paths = slices.DeleteFunc(paths, func(p string) bool { return alertsPrefix != "" && strings.HasPrefix(filepath.Base(p), alertsPrefix) })
		next, closeSrc, err = fileDocs(paths)
	case len(es.Addresses) > 0:
		var idx []string
		for _, p := range []string{cfg.Output.Index.Flows, cfg.Output.Index.Syslog} {
			pre, _, _ := strings.Cut(p, "%{")
			idx = append(idx, pre+"*")
		}
		if alertsPrefix != "" {
			idx = append(idx, "-"+alertsPrefix+"*")
		}
		next, closeSrc, err = esDocs(ctx, es, strings.Join(idx, ","), from, to)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	defer closeSrc()
	for {
		d, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := each(d); err != nil {
			return err
		}
	}
}
