package parsers

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/enrich/grok"
)

// writeDir writes files into a new temporary directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBadRuleFiles checks that each broken parser file fails New with an
// error naming the file, the line and what is wrong.
func TestBadRuleFiles(t *testing.T) {
	const ok = "name: t\nrules:\n  - dataset: t.x\n    kv: {}\n"
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"unknown top key", "name: t\nrulez: []\n", []string{"bad.yaml:2:", `unknown key "rulez"`}},
		{"unknown rule key", "name: t\nrules:\n  - dataset: t.x\n    kvv: {}\n", []string{"bad.yaml:4:", `unknown key "kvv"`, "rules[0]"}},
		{"unknown kv option", "name: t\nrules:\n  - dataset: t.x\n    kv: {field_spilt: \",\"}\n", []string{"bad.yaml:4:", `unknown key "field_spilt"`}},
		{"unknown condition key", "name: t\ndetect:\n  - program: [x]\nrules:\n  - dataset: t.x\n    kv: {}\n", []string{"bad.yaml:3:", `unknown key "program"`}},
		{"bad convert type", "name: t\nrules:\n  - dataset: t.x\n    convert: {a.b: integer}\n", []string{"bad.yaml:4:", `unknown type "integer"`}},
		{"bad kv field type", "name: t\nrules:\n  - dataset: t.x\n    kv: {fields: {a: x.y:long}}\n", []string{"bad.yaml:4:", `unknown type "long"`}},
		{"unknown grok pattern", "name: t\nrules:\n  - dataset: t.x\n    grok: ['%{NOPE:x}']\n", []string{"bad.yaml:4:", "NOPE"}},
		{"bad capture path", "name: t\nrules:\n  - dataset: t.x\n    grok: ['%{WORD:tags}']\n", []string{"bad.yaml:4:", `"tags" is written by sluice`}},
		{"missing dataset", "name: t\nrules:\n  - kv: {}\n", []string{"bad.yaml:3:", `missing key "dataset"`}},
		{"appname dataset without apps", "name: t\nrules:\n  - dataset: t.{appname}\n    kv: {}\n", []string{"bad.yaml:3:", "{appname}"}},
		{"bad path", "name: t\nrules:\n  - dataset: t.x\n    set: {a..b: 1}\n", []string{"bad.yaml:4:", `"a..b"`}},
		{"bad name", "name: My-Parser\nrules:\n  - dataset: t.x\n    kv: {}\n", []string{"bad.yaml:1:", "lower-case"}},
		{"no rules", "name: t\n", []string{"bad.yaml:1:", `"rules"`}},
		{"empty detect", "name: t\ndetect:\n  - {}\nrules:\n  - dataset: t.x\n    kv: {}\n", []string{"bad.yaml:3:", "every line"}},
		{"bad timezone", "name: t\nrules:\n  - dataset: t.x\n    date: {field: a, layouts: [UNIX], timezone: Mars/Olympus}\n", []string{"bad.yaml:4:", "Mars/Olympus"}},
		{"bad match", "name: t\nrules:\n  - dataset: t.x\n    map: {field: a, target: b, match: regex, values: {x: y}}\n", []string{"bad.yaml:4:", `"regex"`}},
		{"yaml syntax", "name: t\nrules: [\n", []string{"bad.yaml"}},
		{"keep_raw without prefix", "name: t\nrules:\n  - dataset: t.x\n    kv: {keep_raw: true}\n", []string{"bad.yaml:4:", "keep_raw needs a prefix"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"bad.yaml": tc.body, "ok.yml": strings.Replace(ok, "name: t", "name: t2", 1)})
			_, err := New(Config{RuleDirs: []string{dir}}, nil, nil)
			if err == nil {
				t.Fatalf("New() with %q = nil error, want one mentioning %q", tc.body, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("duplicate user parser", func(t *testing.T) {
		dir := writeDir(t, map[string]string{"a.yaml": ok, "b.yaml": ok})
		_, err := New(Config{RuleDirs: []string{dir}}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "parser t is already defined in") {
			t.Errorf("New() = %v, want a duplicate parser error", err)
		}
	})
	t.Run("route to unknown parser", func(t *testing.T) {
		_, err := New(Config{Routes: []Route{{Parser: "no_such_parser", Programs: []string{"x"}}}}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "syslog.parsers.routes[0].parser") || !strings.Contains(err.Error(), "meraki") {
			t.Errorf("New() = %v, want an error naming the key and the known parsers", err)
		}
	})
	t.Run("missing pattern dir", func(t *testing.T) {
		_, err := New(Config{PatternDirs: []string{filepath.Join(t.TempDir(), "nope")}}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "syslog.parsers.pattern_dirs[0]") {
			t.Errorf("New() = %v, want an error naming syslog.parsers.pattern_dirs[0]", err)
		}
	})
}

// TestUserFiles loads a user pattern directory and rule directory: a new
// parser using every step kind, and a replacement of a shipped parser.
func TestUserFiles(t *testing.T) {
	patterns := writeDir(t, map[string]string{"acme": "ACME_USER user=%{USERNAME:user.name}\n"})
	rules := writeDir(t, map[string]string{
		"acme.yaml": `
name: acme
detect:
  - appname: [acme]
rules:
  # A kv rule that fails at its required cut: nothing it committed stays.
  - name: strict
    dataset: acme.strict
    kv: {prefix: acme.}
    cut: {sep: "|", head: _x, required: true}
  - name: main
    when: {prefix: ["ACME "]}
    dataset: acme.main
    cut:
      - {sep: " -- ", head: _head, tail: acme.note}
      - {source: _head, sep: " ", head: _word, tail: _pairs}
    kv:
      source: _pairs
      prefix: acme.
      fields: {src: source.ip, when: _when, lvl: log.level:lower, n: acme.count:int, ratio: acme.ratio, up: acme.up, peer: acme.peer.ip, drop_me: ""}
      ignore_values: ["-"]
    grok:
      source: acme.note
      optional: true
      patterns: ['%{ACME_USER}']
    rename: {acme.old: acme.new}
    convert: {acme.ratio: float, acme.up: bool, acme.hex: lower}
    map:
      - {field: log.level, target: event.severity, values: {warn: 4, err: 3}, default: 6}
      - {field: acme.note, target: event.action, match: contains, ignore_case: true, values: {denied: deny}, default: other}
      # Enough keys for the hash index (mapIndexMin), a hit and a miss.
      - {field: _word, target: acme.word, values: {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, acme: 23, ACME: 24}, default: 0}
      - {field: acme.hex, target: acme.hexword, values: {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}, default: none}
    date:
      - {field: _when, layouts: ["2006-01-02 15:04:05", UNIX_MS], timezone: Europe/Berlin}
      - {field: acme.at, layouts: [UNIX], target: event.end}
    set: {event.category: network, acme.flag: true, acme.pi: 3.5}
    remove: [acme.secret, acme.tmp.*]
`,
		// A user file replaces the shipped netfilter parser.
		"netfilter.yaml": "name: netfilter\ndetect:\n  - prefix: [NF]\nrules:\n  - dataset: custom.netfilter\n    kv: {prefix: nf.}\n",
	})
	s := newStage(t, Config{Auto: true, PatternDirs: []string{patterns}, RuleDirs: []string{rules}})
	for _, tc := range []struct {
		name, line string
		want       map[string]string
	}{
		{"every step", `<14>2026-11-22T08:00:00Z h acme: ACME x src=192.0.2.9:8443 when="2026-11-22 09:30:00" lvl=WARN n=-42 ratio=0.25 up=yes peer=198.51.100.1 drop_me=1 old=o hex=ABC secret=s tmp.a=1 tmp.b=2 at=1795363200.5 empty=- -- Access DENIED user=alice`,
			map[string]string{"dataset": "acme.main", "source.ip": "192.0.2.9", "acme.note": "Access DENIED user=alice", "user.name": "alice",
				"log.level": "warn", "event.severity": "4", "acme.count": "18446744073709551574", "acme.ratio": "4598175219545276416", "acme.up": "1",
				"acme.peer.ip": "198.51.100.1", "acme.new": "o", "acme.hex": "abc", "event.action": "deny", "event.category": "network",
				"acme.flag": "1", "acme.pi": "4615063718147915776", "acme.word": "24", "acme.hexword": "none", "acme.at": "1795363200.5", "event.end": "1795363200500000000", "@timestamp": "2026-11-22T08:30:00Z"}},
		{"failed rule leaves nothing", `<14>2026-11-22T08:00:00Z h acme: other a=1`,
			map[string]string{"dataset": "acme.strict", "tags": "_grokparsefailure"}},
		{"replaced parser", "<14>2026-11-22T08:00:00Z h x: NF IN=eth0 SRC=192.0.2.1 OUT= DST=192.0.2.2",
			map[string]string{"dataset": "custom.netfilter", "nf.IN": "eth0", "nf.SRC": "192.0.2.1", "nf.DST": "192.0.2.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := decode(t, "192.0.2.1", tc.line)
			defer b.Release()
			if err := s.Process(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			e := &b.All()[0]
			got := fieldsOf(e)
			if _, ok := tc.want["@timestamp"]; ok {
				got["@timestamp"] = e.Timestamp.Format(time.RFC3339Nano)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Process(%q) (-got +want):\n%s", tc.line, diff)
			}
		})
	}
}

// TestPatternFiles compiles every pattern of the shipped library (base
// and vendor files) and matches the vendor patterns against samples.
func TestPatternFiles(t *testing.T) {
	lib, err := grok.BaseLibrary()
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.Check(); err != nil {
		t.Fatalf("Check():\n%v", err)
	}
	for _, tc := range []struct {
		pattern, line string
		want          map[string]string
	}{
		{"NETFILTER_LINE", "[ 12.5] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:1b:21:aa:bb:cc:08:00 SRC=198.51.100.9 DST=192.0.2.20 LEN=60",
			map[string]string{"netfilter.kernel_time": "12.5", "netfilter.prefix": "[UFW BLOCK]", "observer.ingress.interface.name": "eth0",
				"destination.mac": "52:54:00:12:34:56", "source.mac": "00:1b:21:aa:bb:cc", "netfilter.ether_type": "08:00",
				"source.ip": "198.51.100.9", "destination.ip": "192.0.2.20", "netfilter.rest": "LEN=60"}},
		{"F5_ASM_REQUEST_LINE", "GET /x?y=1 HTTP/1.1\r\nHost: a", map[string]string{"http.version": "1.1"}},
		{"F5_ASM_DATE_TIME", "2026-11-22 08:00:26", map[string]string{}},
		{"MERAKI_RACOON_SA", "IPsec-SA established: ESP/Tunnel 192.0.2.1[500]->198.51.100.7[4500] spi=1",
			map[string]string{"destination.ip": "192.0.2.1", "destination.port": "500", "source.ip": "198.51.100.7", "source.port": "4500"}},
		{"MERAKI_IKE_CHILD", "CHILD_SA net-1{272} established with SPIs c6abe8d0(inbound) 4f04c590(outbound) and TS 10.1.0.0/16 === 10.2.0.0/16",
			map[string]string{"meraki.vpn.child_sa": "net-1{272}", "meraki.vpn.local_ts": "10.1.0.0/16", "meraki.vpn.remote_ts": "10.2.0.0/16"}},
		{"MERAKI_STP_ROLE", "Port 1 changed STP role from disabled to designated",
			map[string]string{"meraki.port_id": "1", "meraki.stp_role.previous": "disabled", "meraki.stp_role.current": "designated"}},
		{"MERAKI_CARRIER", "carrier_change device port1 up true", map[string]string{"meraki.port_id": "port1", "meraki.carrier_up": "true"}},
	} {
		p, err := lib.Compile("%{" + tc.pattern + "}")
		if err != nil {
			t.Errorf("Compile(%s) = %v", tc.pattern, err)
			continue
		}
		got := map[string]string{}
		if !p.Match([]byte(tc.line), func(c grok.Capture) { got[c.Name] = string(c.Value) }) {
			t.Errorf("%s does not match %q", tc.pattern, tc.line)
			continue
		}
		if diff := cmp.Diff(got, tc.want); diff != "" {
			t.Errorf("%s on %q (-got +want):\n%s", tc.pattern, tc.line, diff)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"default", Default(), nil},
		{"routes", Config{Routes: []Route{{Parser: "meraki", Senders: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, {Parser: "netfilter", Programs: []string{"kernel"}}}, RuleDirs: []string{dir}, PatternDirs: []string{dir}}, nil},
		{"empty parser", Config{Routes: []Route{{Programs: []string{"x"}}}}, []string{"syslog.parsers.routes[0].parser: empty"}},
		{"no condition", Config{Routes: []Route{{Parser: "meraki"}}}, []string{"syslog.parsers.routes[0]: no senders, programs or listeners"}},
		{"zero prefix", Config{Routes: []Route{{Parser: "meraki", Senders: []netip.Prefix{{}}}}}, []string{"syslog.parsers.routes[0].senders[0]"}},
		{"empty program", Config{Routes: []Route{{Parser: "meraki", Programs: []string{""}}}}, []string{"syslog.parsers.routes[0].programs[0]"}},
		{"listeners", Config{KnownListeners: []string{"udp/0.0.0.0:5514", "tcp/0.0.0.0:5514"},
			Routes: []Route{{Parser: "meraki", Listeners: []string{"udp/0.0.0.0:5514", "0.0.0.0:5514"}, Index: "sluice-mx-%{+yyyy.MM.dd}"}}}, nil},
		{"unknown listener", Config{KnownListeners: []string{"udp/0.0.0.0:5514", "tcp/0.0.0.0:5514"},
			Routes: []Route{{Parser: "meraki", Listeners: []string{"udp/0.0.0.0:5515"}}}},
			[]string{`syslog.parsers.routes[0].listeners[0]: "udp/0.0.0.0:5515" is not a configured listener`, "udp/0.0.0.0:5514, tcp/0.0.0.0:5514"}},
		{"bad index", Config{Routes: []Route{{Parser: "meraki", Programs: []string{"x"}, Index: "Sluice-%{+yyyy}"}}}, []string{"syslog.parsers.routes[0].index:", "lowercase"}},
		{"missing dirs", Config{RuleDirs: []string{filepath.Join(dir, "nope")}, PatternDirs: []string{file}},
			[]string{"syslog.parsers.rule_dirs[0]", "syslog.parsers.pattern_dirs[0]", "is not a directory"}},
		{"all problems at once", Config{Routes: []Route{{}, {Parser: "x", Listeners: []string{""}}}}, []string{"routes[0].parser", "routes[0]: no senders", "routes[1].listeners[0]: empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, does not mention %q", err, w)
				}
			}
		})
	}
}
