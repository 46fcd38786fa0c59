package main_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// runCLITimeout is runCLI bounded in time: a bad config that `run` wrongly
// accepted would otherwise collect until the test times out.
func runCLITimeout(t *testing.T, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBin, args...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("sluice %v still running after %v (it accepted the config); output:\n%s", args, timeout, out)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("sluice %v: %v", args, err)
	}
	return string(out), 0
}

// writeCheckConfig writes a config with every listener on 127.0.0.1 port 0 and
// the directories in a temp dir, with the YAML of extra merged over it.
func writeCheckConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	base := map[string]any{
		"data_dir": dir,
		"netflow":  map[string]any{"listen": []string{"127.0.0.1:0"}},
		"ipfix":    map[string]any{"listen": []string{"127.0.0.1:0"}},
		"sflow":    map[string]any{"listen": []string{"127.0.0.1:0"}},
		"syslog":   map[string]any{"udp": map[string]any{"listen": []string{"127.0.0.1:0"}}, "tcp": map[string]any{"listen": []string{"127.0.0.1:0"}}},
		"http":     map[string]any{"listen": "127.0.0.1:0"},
		"output":   map[string]any{"file": map[string]any{"dir": filepath.Join(dir, "out")}},
	}
	var over map[string]any
	if err := yaml.Unmarshal([]byte(extra), &over); err != nil {
		t.Fatalf("case YAML: %v", err)
	}
	merge(base, over)
	raw, err := yaml.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// Every config check-config rejects, run rejects, naming the same key, and
// before it binds anything; a good config passes both.
func TestCLICheckConfigMatchesRun(t *testing.T) {
	geodata, err := filepath.Abs("../../geoip/testdata")
	if err != nil {
		t.Fatal(err)
	}
	notMMDB := filepath.Join(t.TempDir(), "city.mmdb")
	if err := os.WriteFile(notMMDB, []byte("not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		yaml string
		want []string // substrings of both outputs
		once bool     // each want only once in check-config's output
	}{
		{"unknown parser", "syslog: {parsers: {routes: [{parser: f5asm, programs: [x]}]}}",
			[]string{`syslog.parsers.routes[0].parser: no parser "f5asm"`, "f5_asm"}, false},
		{"http port not a number", "http: {listen: 'localhost:9155x'}",
			[]string{"http.listen", `"9155x"`, `"127.0.0.1:9155"`}, false},
		{"country database as asn_db", "geoip: {asn_db: " + filepath.Join(geodata, "GeoLite2-Country-Test.mmdb") + "}",
			[]string{"geoip.asn_db", "GeoLite2-Country", "GeoLite2-ASN.mmdb"}, false},
		{"not a database", "geoip: {city_db: " + notMMDB + "}",
			[]string{"geoip.city_db", "not a valid MaxMind DB file"}, false},
		{"unknown key", "netflw: {listen: ['127.0.0.1:0']}",
			[]string{"netflw.listen: unknown key", "did you mean netflow.listen?"}, false},
		{"unknown key in a route", "syslog: {parsers: {routes: [{parsr: meraki}]}}",
			[]string{"syslog.parsers.routes[0].parsr: unknown key", "did you mean parser?"}, false},
		{"value of the wrong type", "collector: {sockets: many}",
			[]string{"collector.sockets: many is not a whole number", "write e.g. 1 (the default)"}, false},
		{"sflow hint names 6343", "sflow: {listen: ['0.0.0.0']}",
			[]string{"sflow.listen", `"0.0.0.0:6343"`}, false},
		{"ipfix port out of range", "ipfix: {listen: ['0.0.0.0:70000']}",
			[]string{"ipfix.listen", `"0.0.0.0:4739"`}, false},
		// Checked by config and by the collector: reported once.
		{"tls listen not host:port", "syslog: {tls: {listen: ['abc'], cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}}",
			[]string{`syslog.tls.listen: "abc" is not host:port`, `write e.g. "0.0.0.0:6514"`}, true},
		{"tls files missing", "syslog: {tls: {listen: ['127.0.0.1:0'], cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}}",
			[]string{"syslog.tls.cert_file"}, false},
		{"beats listen not host:port", "beats: {listen: 'abc'}",
			[]string{`beats.listen: "abc" is not host:port`, `"0.0.0.0:5044"`}, true},
		{"beats cert without key", "beats: {listen: '127.0.0.1:0', tls: {cert_file: /nonexistent/c.pem}}",
			[]string{"beats.tls.key_file: missing"}, false},
		{"beats client CA without TLS", "beats: {listen: '127.0.0.1:0', tls: {client_ca_file: /nonexistent/ca.pem}}",
			[]string{"beats.tls.client_ca_file", "cert_file and key_file"}, false},
		{"beats files missing", "beats: {listen: '127.0.0.1:0', tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}}",
			[]string{"beats.tls.cert_file, beats.tls.key_file"}, false},
		{"beats timeout", "beats: {listen: '127.0.0.1:0', timeout: 10ms}",
			[]string{"beats.timeout: 10ms is out of range"}, false},
		{"beats index", "beats: {listen: '127.0.0.1:0'}\noutput: {index: {beats: sluice-beats}}",
			[]string{"output.index.beats", "has no date"}, false},
		{"retention policy", "retention: {policies: [{name: old, pattern: 'sluice-*', max_age: forever, action: delete}]}",
			[]string{"retention.policies[0].max_age", `"forever"`}, false},
		{"dns resolver not a CIDR", "dns: {allowed_resolvers: ['10.0.0.0/33']}",
			[]string{"dns.allowed_resolvers[0]", `"10.0.0.0/33"`}, true},
		{"second dns resolver not an address", "dns: {allowed_resolvers: [192.168.1.53, 10.0.0.300/8]}",
			[]string{`dns.allowed_resolvers[1]: "10.0.0.300/8" is not a CIDR or an address`}, true},
		{"dns blocklist missing", "dns: {blocklists: [{name: ads, path: /nonexistent/ads.txt, format: hosts}]}",
			[]string{"dns.blocklists[0].path", "/nonexistent/ads.txt"}, true},
		{"dns blocklist format", "dns: {blocklists: [{name: ads, path: /etc/hosts, format: csv}]}",
			[]string{`dns.blocklists[0].format: "csv"; use hosts, plain or adblock`}, true},
		{"dns limits", "dns: {max_domains: 0, max_clients: -1, nxdomain: {window: 10ms}, state_save_interval: 0s}",
			[]string{"dns.max_domains: 0", "dns.max_clients: -1", "dns.nxdomain.window: 10ms is below 1s", "dns.state_save_interval: 0s is below 1s"}, true},
		{"unknown key in a dns blocklist", "dns: {blocklists: [{name: ads, file: /etc/hosts, format: hosts}]}",
			[]string{"dns.blocklists[0].file: unknown key", "dns.blocklists[0].path: empty"}, false},
		// Checked by the rollup store's Config.Validate: reported once.
		{"console keys out of range", "console: {top_k: 0, max_bytes: 1000, minute_retention: 10m, exact_rate: -1}",
			[]string{"console.top_k: 0 is out of range", "console.max_bytes: 1000 is below 1048576 (1MiB)", "console.minute_retention: 10m0s is below 1h",
				"console.exact_rate: -1 is below 0"}, true},
		{"console rollups not a choice", "console: {rollups: sometimes}",
			[]string{`console.rollups: "sometimes" is not a choice`}, true},
		// Unknown keys and bad values come out together, in one pass.
		{"everything at once", "outptu: {stdout: true}\nlog: {level: loud}\nsyslog: {parsers: {routes: [{parser: f5asm, programs: [x]}]}}\ngeoip: {asn_db: " + filepath.Join(geodata, "GeoLite2-City-Test.mmdb") + "}",
			[]string{"outptu.stdout: unknown key", "did you mean output.stdout?", "log.level", "syslog.parsers.routes[0].parser", "geoip.asn_db"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeCheckConfig(t, tc.yaml)
			for _, args := range [][]string{{"check-config", cfg}, {"check-config", "-c", cfg}, {"run", "--config", cfg}} {
				out, code := runCLITimeout(t, 20*time.Second, args...)
				if code == 0 {
					t.Errorf("sluice %s exited 0, want non-zero; output:\n%s", args[0], out)
				}
				for _, w := range tc.want {
					if n := strings.Count(out, w); tc.once && args[0] == "check-config" && n > 1 {
						t.Errorf("sluice %s output has %q %d times, want once:\n%s", args[0], w, n, out)
					}
					if !strings.Contains(out, w) {
						t.Errorf("sluice %s output does not contain %q:\n%s", strings.Join(args[:len(args)-1], " "), w, out)
					}
				}
				if args[0] == "run" && strings.Contains(out, "listening") {
					t.Errorf("run bound a listener before rejecting the config:\n%s", out)
				}
			}
		})
	}
}

// A GeoIP file that does not exist yet is a warning: check-config passes
// (and says so) unless --strict, and run starts without the database.
func TestCLICheckConfigWarning(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	cfg := writeCheckConfig(t, "geoip: {city_db: "+missing+"}")
	out, code := runCLITimeout(t, 20*time.Second, "check-config", cfg)
	if code != 0 || !strings.Contains(out, "warning: geoip.city_db") || !strings.Contains(out, "ok (1 warning(s))") {
		t.Errorf("check-config with a missing GeoIP file = %d, want 0 with a warning naming geoip.city_db:\n%s", code, out)
	}
	out, code = runCLITimeout(t, 20*time.Second, "check-config", "--strict", cfg)
	if code == 0 || !strings.Contains(out, "geoip.city_db") || !strings.Contains(out, "--strict") {
		t.Errorf("check-config --strict with a missing GeoIP file = %d, want non-zero:\n%s", code, out)
	}
	p := startSluice(t, sluiceOpts{Ports: newPorts(t), Args: []string{"--config", cfg}})
	p.stop()
}
