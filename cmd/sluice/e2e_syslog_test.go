package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// syslogDocs reads the syslog daily files of dir.
func syslogDocs(t *testing.T, dir string) []doc {
	t.Helper()
	return readGlobDocs(t, filepath.Join(dir, "sluice-syslog-*.ndjson"))
}

// readGlobDocs reads every NDJSON document of the files matching pattern.
func readGlobDocs(t *testing.T, pattern string) []doc {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	var docs []doc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("%s: %v: %s", f, err, line)
			}
			docs = append(docs, doc{File: filepath.Base(f), M: m, Raw: string(line)})
		}
	}
	return docs
}

// TestLoggerToSyslog sends with util-linux logger over UDP, TCP
// (newline) and TCP (octet counting), in RFC 3164 and RFC 5424, and checks
// every message becomes one document with its header fields.
func TestLoggerToSyslog(t *testing.T) {
	logger := requireTool(t, "logger", "bsdutils")
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_SYSLOG_KEEP_ORIGINAL=true"}})
	type sent struct{ mode, format, msg string }
	var all []sent
	for _, mode := range []string{"udp", "tcp", "octet"} {
		for _, format := range []string{"rfc3164", "rfc5424"} {
			for i := range 5 {
				msg := fmt.Sprintf("hello %s %s %d \u00e9", mode, format, i)
				args := []string{"--" + format, "--server", "127.0.0.1", "-t", "sluicetest", "--id=4242", "-p", "local3.warning"}
				switch mode {
				case "udp":
					args = append(args, "--udp", "--port", strconv.Itoa(ps.SyslogUDP))
				case "tcp":
					args = append(args, "--tcp", "--port", strconv.Itoa(ps.SyslogTCP))
				case "octet":
					args = append(args, "--tcp", "--octet-count", "--port", strconv.Itoa(ps.SyslogTCP))
				}
				runCmd(t, t.TempDir(), 10*time.Second, false, logger, append(args, msg)...)
				all = append(all, sent{mode, format, msg})
			}
		}
	}
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	time.Sleep(300 * time.Millisecond) // TCP frames in flight
	s.stop()
	docs := syslogDocs(t, s.opts.OutDir)
	byMsg := map[string]doc{}
	for _, d := range docs {
		byMsg[d.str("message")] = d
	}
	if len(docs) != len(all) {
		t.Errorf("%d documents, sent %d messages", len(docs), len(all))
	}
	host, _ := os.Hostname()
	for _, m := range all {
		d, ok := byMsg[m.msg]
		if !ok {
			t.Errorf("%s/%s: message %q not found", m.mode, m.format, m.msg)
			continue
		}
		for path, want := range map[string]string{
			"process.name": "sluicetest", "process.pid": "4242", "log.syslog.priority": strconv.Itoa(19*8 + 4),
			"log.syslog.facility.name": "local3", "log.syslog.severity.name": "warning", "observer.ip": "127.0.0.1",
			"event.dataset": "sluice.syslog", "host.hostname": host,
		} {
			if got := d.str(path); got != want {
				t.Errorf("%s/%s %q: %s = %q, want %q", m.mode, m.format, m.msg, path, got, want)
			}
		}
		ts, err := d.time("@timestamp")
		if err != nil || time.Since(ts) > time.Minute || time.Since(ts) < -time.Minute {
			t.Errorf("%s/%s: @timestamp %v (%v), want about now", m.mode, m.format, ts, err)
		}
		if !strings.Contains(d.str("event.original"), m.msg) {
			t.Errorf("%s/%s: event.original %q lacks the message", m.mode, m.format, d.str("event.original"))
		}
		if d.get("tags"); strings.Contains(d.Raw, "_syslogheaderfailure") {
			t.Errorf("%s/%s: header failure: %s", m.mode, m.format, d.Raw)
		}
	}
}

// TestVendorParsingEndToEnd: a UFW line and a Meraki flows line sent with
// logger come out with their vendor fields (auto-detected parsers).
func TestVendorParsingEndToEnd(t *testing.T) {
	logger := requireTool(t, "logger", "bsdutils")
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})
	port := strconv.Itoa(ps.SyslogUDP)
	runCmd(t, t.TempDir(), 10*time.Second, false, logger, "--rfc3164", "--udp", "--server", "127.0.0.1", "--port", port, "-t", "kernel",
		"[UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.9 DST=192.168.1.10 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=4242 DF PROTO=TCP SPT=51000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0")
	runCmd(t, t.TempDir(), 10*time.Second, false, logger, "--rfc5424", "--udp", "--server", "127.0.0.1", "--port", port, "-t", "flows",
		"src=192.168.1.10:51514 dst=93.184.216.34:443 mac=00:11:22:33:44:55 protocol=tcp sport=51514 dport=443 pattern: allow all")
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	s.stop()
	docs := syslogDocs(t, s.opts.OutDir)
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2", len(docs))
	}
	byDataset := map[string]doc{}
	for _, d := range docs {
		byDataset[d.str("event.dataset")] = d
		if strings.Contains(d.Raw, "_grokparsefailure") {
			t.Errorf("parse failure: %s", d.Raw)
		}
		if _, ok := d.get("event.original"); ok {
			t.Errorf("event.original written although syslog.keep_original is off by default: %s", d.Raw)
		}
	}
	var ufw doc
	for ds, d := range byDataset {
		if strings.HasPrefix(ds, "netfilter") {
			ufw = d
		}
	}
	if ufw.M == nil {
		t.Fatalf("no netfilter document: %v", docs)
	}
	for path, want := range map[string]string{"source.ip": "203.0.113.9", "destination.ip": "192.168.1.10", "destination.port": "22",
		"network.transport": "tcp", "event.action": "block", "observer.ingress.interface.name": "eth0"} {
		if got := ufw.str(path); got != want {
			t.Errorf("netfilter %s = %q, want %q\n%s", path, got, want, ufw.Raw)
		}
	}
	var flows doc
	for ds, d := range byDataset {
		if strings.HasPrefix(ds, "meraki") {
			flows = d
		}
	}
	if flows.M == nil {
		t.Fatalf("no meraki document: %v", byDataset)
	}
	for path, want := range map[string]string{"source.ip": "192.168.1.10", "source.port": "51514", "destination.ip": "93.184.216.34", "destination.port": "443"} {
		if got := flows.str(path); got != want {
			t.Errorf("meraki %s = %q, want %q\n%s", path, got, want, flows.Raw)
		}
	}
}

// TestRouteByListenerToOwnIndex: a route sends what the TCP listener
// receives to the meraki parser and its own daily index; the same line over
// UDP is auto-detected and stays in the default syslog index.
func TestRouteByListenerToOwnIndex(t *testing.T) {
	logger := requireTool(t, "logger", "bsdutils")
	ps := newPorts(t)
	cfgFile := filepath.Join(t.TempDir(), "sluice.yaml")
	conf := fmt.Sprintf(`syslog:
  parsers:
    routes:
      - parser: meraki
        listeners: ["tcp/127.0.0.1:%d"]
        index: "sluice-mx-%%{+yyyy.MM.dd}"
`, ps.SyslogTCP)
	if err := os.WriteFile(cfgFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSluice(t, sluiceOpts{Ports: ps, Args: []string{"--config", cfgFile}})
	line := "src=192.168.1.10:51514 dst=93.184.216.34:443 mac=00:11:22:33:44:55 protocol=tcp sport=51514 dport=443 pattern: allow all"
	runCmd(t, t.TempDir(), 10*time.Second, false, logger, "--rfc5424", "--udp", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogUDP), "-t", "flows", line)
	runCmd(t, t.TempDir(), 10*time.Second, false, logger, "--rfc5424", "--tcp", "--octet-count", "--server", "127.0.0.1", "--port", strconv.Itoa(ps.SyslogTCP), "-t", "flows", line)
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	s.stop()
	def := syslogDocs(t, s.opts.OutDir)
	own := readGlobDocs(t, filepath.Join(s.opts.OutDir, "sluice-mx-*.ndjson"))
	if len(def) != 1 || len(own) != 1 {
		t.Fatalf("%d documents in sluice-syslog-*, %d in sluice-mx-*; want 1 and 1", len(def), len(own))
	}
	for _, d := range []doc{def[0], own[0]} {
		if d.str("event.dataset") != "meraki.flows" || d.str("source.ip") != "192.168.1.10" {
			t.Errorf("%s: not parsed as Meraki flows: %s", d.File, d.Raw)
		}
	}
}
