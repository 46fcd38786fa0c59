package main_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

const (
	alertRules     = "../../configs/prometheus/sluice-alerts.yml"
	alertRulesTest = "../../configs/prometheus/sluice-alerts.test.yml"
)

// promGenerated are series Prometheus makes itself, not sluice.
var promGenerated = []string{"up"}

// boundedLabels are labels whose values sluice fixes (pre-created); a
// value the unit tests use must exist in a real scrape. exporter (an
// address) and the target labels job and instance are not.
var boundedLabels = []string{"protocol", "reason", "stage", "output", "db", "result"}

// TestAlertRules checks configs/prometheus/sluice-alerts.yml with promtool
// (Debian's prometheus package): the syntax (check rules), the alerts
// against series in time (test rules with sluice-alerts.test.yml), and that
// every metric the rules and their tests use, with its labels, exists in
// the /metrics of a real sluice run (Elasticsearch output to an address
// that refuses, GeoIP test databases, retention on a schedule, a syslog
// sender, a NetFlow v9 exporter).
func TestAlertRules(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	runCmd(t, "", time.Minute, false, promtool, "check", "rules", alertRules)
	dir, base := filepath.Split(alertRulesTest)
	out := runCmd(t, dir, 2*time.Minute, false, promtool, "test", "rules", base)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: no SUCCESS:\n%s", out)
	}

	// A real run.
	logger := requireTool(t, "logger", "bsdutils")
	city, asn := copyGeoDBs(t)
	cfg := writeConfig(t, "retention:\n  schedule: 24h\n  policies:\n    - {pattern: \"sluice-flows-*\", max_age: 30d, action: delete}\n")
	ps := newPorts(t)
	p := startSluice(t, sluiceOpts{Ports: ps, Args: []string{"--config", cfg}, Env: []string{
		"SLUICE_GEOIP_CITY_DB=" + city, "SLUICE_GEOIP_ASN_DB=" + asn,
		"SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES=http://127.0.0.1:" + strconv.Itoa(freeTCPPort(t)),
	}})
	runCmd(t, "", 10*time.Second, false, logger, "--rfc5424", "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), "alert rules test")
	now := time.Now()
	ex := &exporter{Boot: now.Add(-time.Hour), SourceID: 5}
	s := newUDPSender(t)
	for _, b := range v9Flows(ex, now, 300, testFlows(5, 1, now), true) {
		s.send(ps.NetFlow, b)
	}
	var scraped map[string]*dto.MetricFamily
	deadline := time.Now().Add(15 * time.Second)
	for {
		scraped = scrapeFamilies(t, p.url("/metrics"))
		if mf := scraped["sluice_collector_exporter_packets_total"]; mf != nil && len(mf.GetMetric()) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sluice_collector_exporter_packets_total has not 2 series (netflow, syslog) after both were sent:\n%s", seriesText(scraped["sluice_collector_exporter_packets_total"]))
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()

	// Every metric name in the rules' expressions.
	raw, err := os.ReadFile(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	ident := regexp.MustCompile(`\b(sluice_[a-z0-9_]+|up)\b`)
	used := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names := ident.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("alert %s uses no sluice metric: %s", r.Alert, r.Expr)
			}
			for _, n := range names {
				used++
				if slices.Contains(promGenerated, n) {
					continue
				}
				if scraped[n] == nil {
					t.Errorf("alert %s uses %s, which a real sluice does not expose", r.Alert, n)
				}
			}
		}
	}

	// Every input series of the unit tests: name, label names and bounded
	// label values as in the real scrape.
	raw, err = os.ReadFile(alertRulesTest)
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(raw, &tests); err != nil {
		t.Fatal(err)
	}
	seriesRE := regexp.MustCompile(`^([a-z_0-9]+)\{(.*)\}$`)
	labelRE := regexp.MustCompile(`([a-z_]+)="([^"]*)"`)
	for _, tc := range tests.Tests {
		for _, in := range tc.InputSeries {
			m := seriesRE.FindStringSubmatch(in.Series)
			if m == nil {
				t.Errorf("input series %q: not name{labels}", in.Series)
				continue
			}
			if slices.Contains(promGenerated, m[1]) {
				continue
			}
			mf := scraped[m[1]]
			if mf == nil {
				t.Errorf("input series %q: a real sluice has no %s", in.Series, m[1])
				continue
			}
			want := map[string]string{}
			for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
				if l[1] != "job" && l[1] != "instance" {
					want[l[1]] = l[2]
				}
			}
			if !hasSeries(mf, want) {
				t.Errorf("input series %q: no real %s series with these labels (bounded values must match); real ones:\n%s", in.Series, m[1], seriesText(mf))
			}
		}
	}
	t.Logf("%d metric uses in %s, all in a real scrape", used, alertRules)
}

func scrapeFamilies(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return mfs
}

// hasSeries reports whether mf has a series with exactly want's label
// names, and want's values for the bounded labels.
func hasSeries(mf *dto.MetricFamily, want map[string]string) bool {
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		ok := true
		for _, lp := range m.GetLabel() {
			v, present := want[lp.GetName()]
			if !present || (slices.Contains(boundedLabels, lp.GetName()) && v != lp.GetValue()) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func seriesText(mf *dto.MetricFamily) string {
	var b strings.Builder
	for _, m := range mf.GetMetric() {
		b.WriteString("  " + mf.GetName() + "{")
		for i, lp := range m.GetLabel() {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(lp.GetName() + "=\"" + lp.GetValue() + "\"")
		}
		b.WriteString("}\n")
	}
	return b.String()
}
