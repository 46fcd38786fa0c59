package main_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/estest"
	"github.com/sluicelab/sluice/output/elasticsearch"
)

// hookRecorder is a real HTTP server on 127.0.0.1 that records the JSON
// bodies the post alerter sends it.
type hookRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	status int // answer with this (0: 200)
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			m = map[string]any{"_raw": string(b)}
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, m)
		st := h.status
		h.mu.Unlock()
		if st != 0 {
			w.WriteHeader(st)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookRecorder) got() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.bodies...)
}

// waitHooks polls until the recorder has n bodies (or the deadline).
func (h *hookRecorder) waitHooks(t *testing.T, n int, within time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := h.got()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alert(s) received after %v, want %d: %v", len(got), within, n, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeRule writes a rule file into dir.
func writeRule(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// f5Line is an F5 ASM remote log line of now (the parser dates the event
// from date_time) from client with the given violation rating.
func f5Line(client string, rating int, status string) string {
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	return fmt.Sprintf(`unit_hostname="bigip1",management_ip_address="10.0.0.8",policy_name="/Common/www",violations="Attack signature detected",support_id="%d",request_status="%s",response_code="0",ip_client="%s",method="GET",protocol="HTTP",date_time="%s",severity="Error",attack_type="SQL-Injection",src_port="40000",dest_port="443",dest_ip="10.1.2.3",violation_rating="%d",uri="/login"`,
		time.Now().UnixNano(), status, client, now, rating)
}

// sendSyslog sends lines as program tag over UDP with logger(1).
func sendSyslog(t *testing.T, port int, tag string, lines ...string) {
	t.Helper()
	logger := requireTool(t, "logger", "bsdutils")
	for _, l := range lines {
		runCmd(t, t.TempDir(), 10*time.Second, false, logger, "--rfc3164", "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(port), "-t", tag, l)
	}
}

// alertDocs reads the alert documents sluice wrote to its daily files.
func alertDocs(t *testing.T, dir string) []doc {
	t.Helper()
	return readGlobDocs(t, filepath.Join(dir, "sluice-alerts-*.ndjson"))
}

// TestAlertBlacklistF5 is the home-lab rule of the issue, written as an
// ElastAlert user has it (Logstash-era field names): F5 ASM events over
// syslog whose violation_rating is 1-5 alert once per client (realert),
// through the post alerter to a real HTTP receiver; every alert, sent or
// silenced, is a document in the daily alerts file with the _id of the
// matching document.
func TestAlertBlacklistF5(t *testing.T) {
	hook := newHookRecorder(t)
	rules := t.TempDir()
	writeRule(t, rules, "asm.yaml", `name: F5 ASM attack
type: blacklist
index: sluice-syslog-*
compare_key: violation_rating
blacklist: ["1", "2", "3", "4", "5"]
query_key: ip_client
realert:
  minutes: 10
filter:
- query:
    query_string:
      query: 'event.dataset: "f5.asm"'
alert:
- post
http_post_url: `+hook.srv.URL+`
alert_subject: "ASM {0} from {1}"
alert_subject_args: [request_status, ip_client]
`)
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_ALERTING_RULES_DIR=" + rules}})
	sendSyslog(t, ps.SyslogUDP, "ASM",
		f5Line("198.51.100.7", 4, "blocked"), // alert
		f5Line("198.51.100.7", 0, "passed"),  // rating 0: no match
		f5Line("198.51.100.7", 5, "blocked"), // same client within realert: silenced
		f5Line("198.51.100.8", 3, "blocked"), // another client: alert
		f5Line("198.51.100.9", 9, "blocked")) // 9 is not in the list
	got := hook.waitHooks(t, 2, 15*time.Second)
	clients := map[string]bool{}
	for _, b := range got {
		clients[fmt.Sprint(nested(b, "f5.asm.ip_client"))] = true
	}
	if !clients["198.51.100.7"] || !clients["198.51.100.8"] {
		t.Errorf("alerts for clients %v, want 198.51.100.7 and 198.51.100.8: %v", clients, got)
	}
	// The silenced match and the others are written when the alerter is
	// done; give the outputs a flush.
	time.Sleep(1500 * time.Millisecond)
	m := s.metrics()
	if v := m[`sluice_alert_silenced_total{rule="F5 ASM attack"}`]; v != 1 {
		t.Errorf("sluice_alert_silenced_total = %v, want 1\n%s", v, metricLines(m, "sluice_alert"))
	}
	s.stop()
	s.checkLog()
	if n := len(hook.got()); n != 2 {
		t.Errorf("%d alerts sent, want 2 (one per client; realert silences the third match)", n)
	}
	ads := alertDocs(t, s.opts.OutDir)
	var sent, silenced int
	stored := map[string]bool{} // the _ids the Elasticsearch output would give the syslog documents
	for _, d := range readGlobDocs(t, filepath.Join(s.opts.OutDir, "sluice-syslog-*.ndjson")) {
		stored[docIDOf(t, d)] = true
	}
	for _, d := range ads {
		if d.str("rule.name") != "F5 ASM attack" {
			t.Errorf("alert document of rule %q: %s", d.str("rule.name"), d.Raw)
		}
		switch {
		case d.str("sluice.alert.silenced") == "true":
			silenced++
		case d.str("sluice.alert.alert_sent") == "true":
			sent++
		default:
			t.Errorf("alert document neither sent nor silenced: %s", d.Raw)
		}
		ms, _ := d.get("sluice.alert.matches")
		list, _ := ms.([]any)
		if len(list) != 1 {
			t.Errorf("alert document with %d matches, want 1: %s", len(list), d.Raw)
			continue
		}
		m, _ := list[0].(map[string]any)
		if id, _ := m["_id"].(string); !stored[id] {
			t.Errorf("match _id %q is not the id of a stored syslog document: %s", id, d.Raw)
		}
		if idx, _ := m["_index"].(string); !strings.HasPrefix(idx, "sluice-syslog-") {
			t.Errorf("match _index %q, want sluice-syslog-*: %s", idx, d.Raw)
		}
	}
	if sent != 2 || silenced != 1 {
		t.Errorf("alert documents: %d sent, %d silenced; want 2 and 1", sent, silenced)
	}
}

// nested reads a dotted path from a decoded JSON object (nested objects
// or flat dotted keys).
func nested(m map[string]any, path string) any {
	v, _ := lookup(m, path)
	return v
}

// TestAlertFrequencyMerakiDenies: a frequency rule on Meraki firewall
// denies per source IP alerts for the source that reached num_events in
// the timeframe and not for the one that did not.
func TestAlertFrequencyMerakiDenies(t *testing.T) {
	hook := newHookRecorder(t)
	rules := t.TempDir()
	writeRule(t, rules, "denies.yaml", `name: Many denies
type: frequency
index: sluice-syslog-*
num_events: 5
timeframe:
  minutes: 1
query_key: source.ip
filter:
- term:
    event.action: deny
alert: post
http_post_url: `+hook.srv.URL+`
`)
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_ALERTING_RULES_DIR=" + rules}})
	var lines []string
	for i := range 5 {
		lines = append(lines, fmt.Sprintf("src=203.0.113.77 dst=192.0.2.10 protocol=tcp sport=%d dport=23 pattern: 1 all", 40000+i))
	}
	for i := range 3 {
		lines = append(lines, fmt.Sprintf("src=203.0.113.78 dst=192.0.2.10 protocol=tcp sport=%d dport=23 pattern: 1 all", 41000+i))
	}
	lines = append(lines, "src=203.0.113.77 dst=192.0.2.10 protocol=tcp sport=42000 dport=443 pattern: 0 all") // allowed
	logger := requireTool(t, "logger", "bsdutils")
	for _, l := range lines {
		runCmd(t, t.TempDir(), 10*time.Second, false, logger, "--rfc5424", "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), "-t", "flows", l)
	}
	got := hook.waitHooks(t, 1, 15*time.Second)
	time.Sleep(time.Second)
	s.stop()
	s.checkLog()
	if len(hook.got()) != 1 {
		t.Fatalf("%d alerts, want 1: %v", len(hook.got()), hook.got())
	}
	if ip := fmt.Sprint(nested(got[0], "source.ip")); ip != "203.0.113.77" {
		t.Errorf("alert for source %s, want 203.0.113.77: %v", ip, got[0])
	}
	if n := fmt.Sprint(got[0]["num_hits"]); n != "5" {
		t.Errorf("num_hits %s, want 5: %v", n, got[0])
	}
}

// TestAlertFlatlineWhenSenderStops: a flatline rule per host alerts once
// the host has sent nothing for the timeframe.
func TestAlertFlatlineWhenSenderStops(t *testing.T) {
	hook := newHookRecorder(t)
	rules := t.TempDir()
	writeRule(t, rules, "quiet.yaml", `name: Router went quiet
type: flatline
threshold: 1
timeframe:
  seconds: 3
query_key: host.hostname
forget_keys: true
alert: post
http_post_url: `+hook.srv.URL+`
`)
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_ALERTING_RULES_DIR=" + rules}})
	logger := requireTool(t, "logger", "bsdutils")
	start := time.Now()
	for range 3 {
		runCmd(t, t.TempDir(), 10*time.Second, false, logger, "--rfc3164", "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), "-t", "dnsmasq", "-s", "query[A] example.com from 192.168.1.20")
		time.Sleep(200 * time.Millisecond)
	}
	got := hook.waitHooks(t, 1, 20*time.Second)
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("flatline alert after %v, before the 3s timeframe passed", d)
	}
	s.stop()
	s.checkLog()
	if k := fmt.Sprint(got[0]["key"]); k == "" || k == "<nil>" {
		t.Errorf("flatline alert without the quiet key: %v", got[0])
	}
}

// TestAlertStateSurvivesRestart: a frequency window half full when sluice
// stops completes after the restart, and a realert silence outlives the
// restart too.
func TestAlertStateSurvivesRestart(t *testing.T) {
	hook := newHookRecorder(t)
	rules := t.TempDir()
	writeRule(t, rules, "denies.yaml", `name: Denies
type: frequency
num_events: 4
timeframe:
  minutes: 10
realert:
  minutes: 30
query_key: source.ip
filter:
- term: {event.action: deny}
alert: post
http_post_url: `+hook.srv.URL+`
`)
	ps := newPorts(t)
	data := t.TempDir()
	opts := sluiceOpts{Ports: ps, DataDir: data, Env: []string{"SLUICE_ALERTING_RULES_DIR=" + rules}}
	deny := func(n int) {
		logger := requireTool(t, "logger", "bsdutils")
		for i := range n {
			runCmd(t, t.TempDir(), 10*time.Second, false, logger, "--rfc5424", "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), "-t", "flows",
				fmt.Sprintf("src=203.0.113.99 dst=192.0.2.10 protocol=tcp sport=%d dport=22 pattern: 1 all", 50000+i))
		}
		waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	}
	s1 := startSluice(t, opts)
	deny(2)
	time.Sleep(500 * time.Millisecond)
	s1.stop()
	s1.checkLog()
	if n := len(hook.got()); n != 0 {
		t.Fatalf("%d alerts after 2 of 4 events", n)
	}
	s2 := startSluice(t, opts)
	deny(2)
	hook.waitHooks(t, 1, 15*time.Second)
	time.Sleep(500 * time.Millisecond)
	s2.stop()
	s2.checkLog()

	// Within realert, also after a restart: the next full window is
	// silenced, not sent.
	s3 := startSluice(t, opts)
	deny(4)
	time.Sleep(1500 * time.Millisecond)
	s3.stop()
	s3.checkLog()
	if n := len(hook.got()); n != 1 {
		t.Errorf("%d alerts, want 1 (the second window falls in the realert silence, also after a restart)", n)
	}
	var silenced int
	for _, d := range alertDocs(t, s3.opts.OutDir) {
		if d.str("sluice.alert.silenced") == "true" {
			silenced++
		}
	}
	if silenced != 1 {
		t.Errorf("%d silenced alert documents after the restart, want 1", silenced)
	}
}

// TestAlertRulesReload: a rule added while sluice runs takes effect
// (fsnotify); a rule file broken later keeps its previous version running
// and is logged; SIGHUP reloads too; check-config names a broken rule's
// file and key.
func TestAlertRulesReload(t *testing.T) {
	hook := newHookRecorder(t)
	rules := t.TempDir()
	writeRule(t, rules, "a.yaml", "name: A\ntype: any\nfilter:\n- term: {process.name: app-a}\nalert: post\nhttp_post_url: "+hook.srv.URL+"\n")
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_ALERTING_RULES_DIR=" + rules}})
	writeRule(t, rules, "b.yaml", "name: B\ntype: any\nrealert: {minutes: 0}\nfilter:\n- term: {process.name: app-b}\nalert: post\nhttp_post_url: "+hook.srv.URL+"\n")
	waitMetric(t, s, "sluice_alert_rules", 2, 10*time.Second)
	sendSyslog(t, ps.SyslogUDP, "app-b", "hello from b")
	hook.waitHooks(t, 1, 10*time.Second)

	// Broken: a typo'd key. B keeps running in its last good version.
	writeRule(t, rules, "b.yaml", "name: B\ntype: any\nrealret: {minutes: 0}\nalert: post\nhttp_post_url: "+hook.srv.URL+"\n")
	waitMetric(t, s, "sluice_alert_rule_errors", 1, 10*time.Second)
	sendSyslog(t, ps.SyslogUDP, "app-b", "hello again from b")
	hook.waitHooks(t, 2, 10*time.Second)

	out, code := runCLI(t, nil, "check-config", writeCheckConfig(t, "alerting:\n  rules_dir: ["+rules+"]\n"))
	if code != 1 || !strings.Contains(out, "b.yaml") || !strings.Contains(out, "realret") || !strings.Contains(out, "did you mean realert") {
		t.Errorf("check-config with a broken rule: exit %d, output:\n%s\nwant exit 1 naming b.yaml and realret, with a suggestion", code, out)
	}

	// Fixed, and a SIGHUP.
	writeRule(t, rules, "b.yaml", "name: B\ntype: any\nrealert: {minutes: 0}\nfilter:\n- term: {process.name: app-b}\nalert: post\nhttp_post_url: "+hook.srv.URL+"\n")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, s, "sluice_alert_rule_errors", 0, 10*time.Second)
	s.stop()
	s.checkLog()
}

// waitMetric polls /metrics until series == want.
func waitMetric(t *testing.T, p *sluiceProc, series string, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := p.metrics()[series]
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %v, want %v\n%s", series, got, within, want, metricLines(p.metrics(), "sluice_alert"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// docIDOf is the _id the Elasticsearch output gives a stored document.
func docIDOf(t *testing.T, d doc) string {
	t.Helper()
	ts, err := d.time("@timestamp")
	if err != nil {
		t.Fatalf("@timestamp: %v", err)
	}
	created, _ := d.time("event.created")
	return elasticsearch.DocumentID(ts, created, []byte(d.Raw))
}

// TestAlertFailingAlerter: a webhook that keeps failing is retried until
// alert_time_limit, shows on /readyz meanwhile, and then the alert counts
// as failed, with the error in its alert document.
func TestAlertFailingAlerter(t *testing.T) {
	hook := newHookRecorder(t)
	hook.status = http.StatusInternalServerError
	rules := t.TempDir()
	writeRule(t, rules, "a.yaml", "name: Fails\ntype: any\nalert_time_limit: {seconds: 4}\nfilter:\n- term: {process.name: app-f}\nalert: post\nhttp_post_url: "+hook.srv.URL+"\n")
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_ALERTING_RULES_DIR=" + rules}})
	sendSyslog(t, ps.SyslogUDP, "app-f", "this will not be delivered")
	hook.waitHooks(t, 2, 10*time.Second) // retried
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := httpClient.Get(s.url("/readyz"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "failing alerters") && strings.Contains(string(b), "Fails") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not list the failing alerter:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitMetric(t, s, `sluice_alert_failed_total{alerter="post",rule="Fails"}`, 1, 15*time.Second)
	time.Sleep(1500 * time.Millisecond) // the alert document's flush
	s.stop()
	s.checkLog()
	ads := alertDocs(t, s.opts.OutDir)
	if len(ads) != 1 {
		t.Fatalf("%d alert documents, want 1", len(ads))
	}
	if d := ads[0]; d.str("sluice.alert.alert_sent") != "false" || !strings.Contains(d.str("sluice.alert.alert_exception"), "500") {
		t.Errorf("alert document of a failed alert: %s", d.Raw)
	}
}

const testRuleASM = `name: ASM attacks
type: blacklist
compare_key: violation_rating
blacklist: ["1", "2", "3", "4", "5"]
query_key: ip_client
realert: {minutes: 10}
filter:
- query: {query_string: {query: 'event.dataset:"f5.asm"'}}
alert: [post]
http_post_url: HOOK
`

// TestTestRule: sluice test-rule runs a rule over the daily files a run
// wrote (given with --file, and found in output.file.dir of --config),
// prints the matches and alerts without sending them, and sends with
// --alert; bad rules exit 2 with the file and key.
func TestTestRule(t *testing.T) {
	hook := newHookRecorder(t)
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})
	sendSyslog(t, ps.SyslogUDP, "ASM",
		f5Line("198.51.100.7", 4, "blocked"),
		f5Line("198.51.100.7", 0, "passed"),
		f5Line("198.51.100.7", 5, "blocked"),
		f5Line("198.51.100.8", 3, "blocked"))
	sendSyslog(t, ps.SyslogUDP, "other", "an unrelated line")
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	s.stop()
	rules := t.TempDir()
	rule := writeRule(t, rules, "asm.yaml", strings.ReplaceAll(testRuleASM, "HOOK", hook.srv.URL))

	out, code := runCLI(t, nil, "test-rule", "--file", filepath.Join(s.opts.OutDir, "sluice-syslog-*.ndjson"), rule)
	if code != 0 {
		t.Fatalf("test-rule exit %d:\n%s", code, out)
	}
	for _, want := range []string{"5 documents read", "3 matches, 2 alerts, 1 silenced by realert", "198.51.100.7", "198.51.100.8"} {
		if !strings.Contains(out, want) {
			t.Errorf("test-rule output lacks %q:\n%s", want, out)
		}
	}
	if n := len(hook.got()); n != 0 {
		t.Errorf("test-rule without --alert sent %d alerts", n)
	}

	// The same from gzipped files (what retention's gzip action leaves).
	gzDir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(s.opts.OutDir, "sluice-syslog-*.ndjson"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		if err := os.WriteFile(filepath.Join(gzDir, filepath.Base(f)+".gz"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code = runCLI(t, nil, "test-rule", "--file", filepath.Join(gzDir, "*.ndjson.gz"), rule)
	if code != 0 || !strings.Contains(out, "5 documents read") || !strings.Contains(out, "3 matches, 2 alerts, 1 silenced by realert") {
		t.Errorf("test-rule over .gz files: exit %d:\n%s", code, out)
	}

	// From the config's output.file.dir, the last day; and sent.
	cfg := writeCheckConfig(t, "output:\n  file:\n    dir: "+s.opts.OutDir+"\n")
	out, code = runCLI(t, nil, "test-rule", "-c", cfg, "--alert", rule)
	if code != 0 || !strings.Contains(out, "2 sent, 0 failed") {
		t.Errorf("test-rule --alert: exit %d:\n%s", code, out)
	}
	if n := len(hook.got()); n != 2 {
		t.Errorf("test-rule --alert sent %d alerts, want 2", n)
	}

	bad := writeRule(t, rules, "bad.yaml", "name: x\ntype: frequency\ntimeframe: {minutes: 1}\nalert: debug\n")
	out, code = runCLI(t, nil, "test-rule", "--file", filepath.Join(s.opts.OutDir, "sluice-syslog-*.ndjson"), bad)
	if code != 2 || !strings.Contains(out, "bad.yaml") || !strings.Contains(out, "num_events") {
		t.Errorf("test-rule with a rule missing num_events: exit %d:\n%s\nwant exit 2 naming bad.yaml and num_events", code, out)
	}
	out, code = runCLI(t, nil, "test-rule", rule, rule)
	if code != 2 || !strings.Contains(out, "usage:") {
		t.Errorf("test-rule with two arguments: exit %d:\n%s", code, out)
	}
}

// TestTestRuleElasticsearch: test-rule --es reads the documents a run
// indexed in the real cluster of the config.
func TestTestRuleElasticsearch(t *testing.T) {
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluicerule")
	esCleanup(t, url, prefix)
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: esEnv(url, prefix)})
	sendSyslog(t, ps.SyslogUDP, "ASM",
		f5Line("198.51.100.7", 4, "blocked"),
		f5Line("198.51.100.7", 5, "blocked"),
		f5Line("198.51.100.8", 3, "blocked"))
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	s.stop()
	s.checkLog()
	n := 0
	for _, ds := range esDocs(t, url, prefix+"-syslog-*") {
		n += len(ds)
	}
	if n != 3 {
		t.Fatalf("%d documents indexed, want 3", n)
	}
	rules := t.TempDir()
	rule := writeRule(t, rules, "asm.yaml", "index: "+prefix+"-syslog-*\n"+strings.ReplaceAll(testRuleASM, "HOOK", "http://127.0.0.1:9/"))
	cfg := writeCheckConfig(t, "output:\n  elasticsearch:\n    addresses: ["+url+"]\n")
	out, code := runCLI(t, nil, "test-rule", "-c", cfg, "--es", "--days", "1", rule)
	if code != 0 {
		t.Fatalf("test-rule --es exit %d:\n%s", code, out)
	}
	for _, want := range []string{"3 documents read", "3 matches, 2 alerts, 1 silenced by realert"} {
		if !strings.Contains(out, want) {
			t.Errorf("test-rule --es output lacks %q:\n%s", want, out)
		}
	}
}

// TestAlertDocumentsInElasticsearch: the alert documents go through the
// Elasticsearch output too, into the daily alerts index.
func TestAlertDocumentsInElasticsearch(t *testing.T) {
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluicealert")
	esCleanup(t, url, prefix)
	hook := newHookRecorder(t)
	rules := t.TempDir()
	writeRule(t, rules, "a.yaml", "name: To ES\ntype: any\nfilter:\n- term: {process.name: app-es}\nalert: post\nhttp_post_url: "+hook.srv.URL+"\n")
	ps := newPorts(t)
	env := append(esEnv(url, prefix), "SLUICE_ALERTING_RULES_DIR="+rules, "SLUICE_ALERTING_INDEX="+prefix+"-alerts-%{+yyyy.MM.dd}")
	s := startSluice(t, sluiceOpts{Ports: ps, Env: env})
	sendSyslog(t, ps.SyslogUDP, "app-es", "an event that alerts")
	hook.waitHooks(t, 1, 15*time.Second)
	time.Sleep(1500 * time.Millisecond) // the alert document's flush
	s.stop()
	s.checkLog()
	byIndex := esDocs(t, url, prefix+"-alerts-*")
	n := 0
	for idx, ds := range byIndex {
		if !strings.HasPrefix(idx, prefix+"-alerts-") {
			t.Errorf("alert document in index %s", idx)
		}
		for _, d := range ds {
			n++
			if d.str("rule.name") != "To ES" || d.str("sluice.alert.alert_sent") != "true" {
				t.Errorf("alert document in Elasticsearch: %s", d.Raw)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d alert documents in Elasticsearch, want 1", n)
	}
	syslog := 0
	for _, ds := range esDocs(t, url, prefix+"-syslog-*") {
		syslog += len(ds)
	}
	if syslog != 1 {
		t.Errorf("%d syslog documents in Elasticsearch, want 1", syslog)
	}
}
