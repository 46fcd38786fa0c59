package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/sluicelab/sluice/internal/config"
	"github.com/sluicelab/sluice/internal/obs"
)

// statusCommand is `sluice status`: it scrapes the running service's
// /metrics twice and prints rates and state, once or refreshed.
func statusCommand() *cobra.Command {
	var cfgPath, url string
	var every time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the running sluice is doing: rates per input, output and exporter, drops, spool (asks its http.listen)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if every < 100*time.Millisecond {
				return fmt.Errorf("--watch: %s is below 100ms; use e.g. 2s", every)
			}
			base, key, err := statusURL(cmd, cfgPath, url)
			if err != nil {
				return err
			}
			if statusClient, err = statusHTTPClient(cmd, cfgPath); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runStatus(ctx, cmd.OutOrStdout(), base, key, every, once)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "config file of the running sluice: its http.listen is asked (default: defaults and SLUICE_* env)")
	cmd.Flags().StringVar(&url, "url", "", "base URL of the running sluice's HTTP endpoint, e.g. http://127.0.0.1:9155 (overrides --config)")
	cmd.Flags().DurationVar(&every, "watch", 2*time.Second, "refresh interval; also the interval rates are measured over")
	cmd.Flags().BoolVar(&once, "once", false, "print one report (two scrapes --watch apart) and exit")
	return cmd
}

// statusURL returns the base URL to ask and the key (or flag) it came from,
// for error messages.
func statusURL(cmd *cobra.Command, cfgPath, url string) (string, string, error) {
	if cmd.Flags().Changed("url") {
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			return "", "", fmt.Errorf("--url: %q is not an http:// or https:// URL; write e.g. http://127.0.0.1:9155", url)
		}
		return strings.TrimSuffix(url, "/"), "--url", nil
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		return "", "", err
	}
	l := cfg.HTTP.Listen
	if l == "" {
		return "", "", fmt.Errorf("http.listen is empty in %s: the service serves no /metrics to ask; set http.listen (e.g. 127.0.0.1:9155) and restart it", orDefaults(cfgPath))
	}
	host, port, err := net.SplitHostPort(l)
	if err != nil {
		return "", "", fmt.Errorf("http.listen: %q is not host:port", l)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http://"
	if cfg.HTTP.TLS.CertFile != "" {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port), "http.listen (" + l + " from " + orDefaults(cfgPath) + ")", nil
}

// statusHTTPClient is the client status asks with: with the config's
// http.auth.bearer_token_file it sends that token, and with http.tls.cert_file
// it trusts that certificate (a self-signed one included) besides the
// system's roots. Basic credentials go in --url (USER:PASSWORD@).
func statusHTTPClient(cmd *cobra.Command, cfgPath string) (*http.Client, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	if cmd.Flags().Changed("url") && cfgPath == "" {
		return c, nil
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if f := cfg.HTTP.TLS.CertFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("http.tls.cert_file: %w (status trusts the listener's certificate; run it as a user who can read the file)", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http.tls.cert_file: %s holds no PEM certificate", f)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c.Transport = tr
	if f := cfg.HTTP.Auth.BearerTokenFile; f != "" {
		tok, err := obs.ReadToken(f)
		if err != nil {
			return nil, fmt.Errorf("%w (status sends the token; run it as a user who can read the file)", err)
		}
		c.Transport = bearerTransport{token: tok, next: tr}
	}
	return c, nil
}

// bearerTransport adds an Authorization: Bearer header to every request.
type bearerTransport struct {
	token string
	next  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func orDefaults(path string) string {
	if path == "" {
		return "the defaults and SLUICE_* environment"
	}
	return path
}

// scrape is one read of /metrics.
type scrape struct {
	at  time.Time
	mfs map[string]*dto.MetricFamily
}

var statusClient = &http.Client{Timeout: 5 * time.Second}

func getMetrics(ctx context.Context, base, key string) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return scrape{}, err
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return scrape{}, ctx.Err()
		}
		return scrape{}, fmt.Errorf("cannot reach sluice at %s (from %s): %w; is the service running, and is this its http.listen? (--url or -c CONFIG name another)", base, key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return scrape{}, fmt.Errorf("%s/metrics answered %s: the HTTP listener asks for credentials (http.auth); with a bearer token, name the config that sets http.auth.bearer_token_file (-c CONFIG); with basic auth, give them in the URL, e.g. --url http://USER:PASSWORD@127.0.0.1:9155", base, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("%s/metrics answered %s; is %s sluice's http.listen?", base, resp.Status, base)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return scrape{}, fmt.Errorf("%s/metrics is not Prometheus text: %w", base, err)
	}
	if _, ok := mfs["sluice_collector_events_total"]; !ok {
		return scrape{}, fmt.Errorf("%s/metrics has no sluice_collector_events_total: not a sluice", base)
	}
	return scrape{at: time.Now(), mfs: mfs}, nil
}

func getReady(ctx context.Context, base string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return "unknown"
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	// The body is "ready" or "not ready: why", then one line per output
	// state worth knowing.
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	state := "ready"
	if resp.StatusCode != http.StatusOK {
		state = "NOT READY"
	}
	if len(lines) > 0 && (lines[0] == "ready" || lines[0] == "ok") {
		lines = lines[1:]
	}
	if len(lines) == 0 {
		return state
	}
	return state + " (" + strings.Join(lines, "; ") + ")"
}

func runStatus(ctx context.Context, w io.Writer, base, key string, every time.Duration, once bool) error {
	prev, err := getMetrics(ctx, base, key)
	if err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := getMetrics(ctx, base, key)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		var b strings.Builder
		if !once {
			b.WriteString("\x1b[H\x1b[2J") // home, clear: a refreshed screen
		}
		writeStatus(&b, base, getReady(ctx, base), prev, cur)
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		if once {
			return nil
		}
		prev = cur
	}
}

// series is one sample of a family: its labels and value.
type series struct {
	labels map[string]string
	v      float64
}

func (s scrape) series(name string) []series {
	mf := s.mfs[name]
	if mf == nil {
		return nil
	}
	var out []series
	for _, m := range mf.GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		var v float64
		switch {
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Untyped != nil:
			v = m.GetUntyped().GetValue()
		}
		out = append(out, series{l, v})
	}
	return out
}

// by sums name's series per value of label.
func (s scrape) by(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, x := range s.series(name) {
		out[x.labels[label]] += x.v
	}
	return out
}

func (s scrape) sum(name string) (float64, bool) {
	xs := s.series(name)
	var v float64
	for _, x := range xs {
		v += x.v
	}
	return v, xs != nil
}

// rate is the per-second advance of name per label value between a and b.
func rate(a, b scrape, name, label string) map[string]float64 {
	secs := b.at.Sub(a.at).Seconds()
	pa, pb := a.by(name, label), b.by(name, label)
	out := map[string]float64{}
	for k, v := range pb {
		d := v - pa[k]
		if d < 0 {
			d = v // restarted in between
		}
		out[k] = d / secs
	}
	return out
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func writeStatus(w io.Writer, base, ready string, a, b scrape) {
	secs := b.at.Sub(a.at).Seconds()
	up := ""
	if st, ok := b.sum("process_start_time_seconds"); ok {
		up = ", up " + time.Since(time.Unix(int64(st), 0)).Round(time.Second).String()
	}
	fmt.Fprintf(w, "sluice at %s%s; rates over %.1fs\nstate: %s\n\n", base, up, secs, ready)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "INPUT\tevents/s\tdatagrams/s\tdecode errors/s\tevents total\t")
	evRate := rate(a, b, "sluice_collector_events_total", "protocol")
	pkRate := rate(a, b, "sluice_collector_packets_received_total", "protocol")
	frRate := rate(a, b, "sluice_collector_tcp_frames_total", "protocol")
	errRate := rate(a, b, "sluice_collector_decode_errors_total", "protocol")
	evTotal := b.by("sluice_collector_events_total", "protocol")
	for _, p := range sortedKeys(evTotal) {
		pk := pkRate[p] + frRate[p]
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.0f\t\n", p, evRate[p], pk, errRate[p], evTotal[p])
	}
	tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OUTPUT\tevents/s\twrite errors/s\tevents total\t")
	outRate := rate(a, b, "sluice_output_events_total", "output")
	outErr := rate(a, b, "sluice_output_write_errors_total", "output")
	outTotal := b.by("sluice_output_events_total", "output")
	for _, o := range sortedKeys(outTotal) {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.0f\t\n", o, outRate[o], outErr[o], outTotal[o])
	}
	tw.Flush()
	if docs, ok := b.sum("sluice_output_elasticsearch_spool_documents"); ok {
		bytes, _ := b.sum("sluice_output_elasticsearch_spool_bytes")
		stalled, _ := b.sum("sluice_output_elasticsearch_stalled")
		dead, _ := b.sum("sluice_output_elasticsearch_dead_letter_documents_total")
		replay := rate(a, b, "sluice_output_elasticsearch_replayed_documents_total", "")[""]
		state := "delivering"
		if docs > 0 {
			state = "SPOOLING"
		}
		if stalled > 0 {
			state = "STALLED"
		}
		fmt.Fprintf(w, "elasticsearch spool: %s, %.0f documents (%.0f bytes) waiting, replaying %.1f/s, dead letters %.0f\n", state, docs, bytes, replay, dead)
	}
	fmt.Fprintln(w)

	// Exporters and senders: the busiest by datagrams/s (the label holds
	// the first 256 addresses, the rest as "other").
	type exp struct {
		proto, addr string
		rate, total float64
	}
	var exps []exp
	pa := map[string]float64{}
	for _, x := range a.series("sluice_collector_exporter_packets_total") {
		pa[x.labels["protocol"]+" "+x.labels["exporter"]] = x.v
	}
	for _, x := range b.series("sluice_collector_exporter_packets_total") {
		d := x.v - pa[x.labels["protocol"]+" "+x.labels["exporter"]]
		if d < 0 {
			d = x.v
		}
		exps = append(exps, exp{x.labels["protocol"], x.labels["exporter"], d / secs, x.v})
	}
	sort.Slice(exps, func(i, j int) bool {
		if exps[i].rate != exps[j].rate {
			return exps[i].rate > exps[j].rate
		}
		return exps[i].proto+exps[i].addr < exps[j].proto+exps[j].addr
	})
	fmt.Fprintf(w, "EXPORTERS AND SENDERS: %d", len(exps))
	if len(exps) > 10 {
		fmt.Fprint(w, ", the 10 busiest")
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(exps) > 0 {
		fmt.Fprintln(tw, "PROTOCOL\tADDRESS\tdatagrams/s\tdatagrams total\t")
	}
	for i, e := range exps {
		if i == 10 {
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.0f\t\n", e.proto, e.addr, e.rate, e.total)
	}
	tw.Flush()
	fmt.Fprintln(w)

	// Drops: every *_dropped_*_total counter that is not zero, by reason.
	type drop struct {
		name, reason string
		rate, total  float64
	}
	var drops []drop
	for name := range b.mfs {
		if !strings.Contains(name, "_dropped_") || !strings.HasSuffix(name, "_total") {
			continue
		}
		r := rate(a, b, name, "reason")
		for reason, total := range b.by(name, "reason") {
			if total > 0 {
				drops = append(drops, drop{strings.TrimSuffix(strings.TrimPrefix(name, "sluice_"), "_total"), reason, r[reason], total})
			}
		}
	}
	sort.Slice(drops, func(i, j int) bool { return drops[i].name+drops[i].reason < drops[j].name+drops[j].reason })
	if len(drops) == 0 {
		fmt.Fprintln(w, "DROPS: none since start")
	} else {
		fmt.Fprintln(w, "DROPS")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "COUNTER\tREASON\tper s\ttotal\t")
		for _, d := range drops {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.0f\t\n", d.name, d.reason, d.rate, d.total)
		}
		tw.Flush()
	}
	if k, ok := b.sum("sluice_collector_kernel_udp_rcvbuf_errors_total"); ok && k > 0 {
		fmt.Fprintf(w, "host-wide kernel UDP receive-buffer drops since start (any process): %.0f\n", k)
	}

	if dbs := b.by("sluice_geoip_database_up", "db"); len(dbs) > 0 {
		var parts []string
		for _, db := range sortedKeys(dbs) {
			st := "up"
			if dbs[db] == 0 {
				st = "DOWN"
			}
			parts = append(parts, db+" "+st)
		}
		fmt.Fprintf(w, "geoip: %s\n", strings.Join(parts, ", "))
	}
}
