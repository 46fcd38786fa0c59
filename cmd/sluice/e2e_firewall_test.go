package main_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFirewallParsersEndToEnd sends one line per firewall of the pfsense,
// panw, mikrotik, ubiquiti and cisco_ios parsers (MikroTik's without a syslog header,
// as RouterOS sends it by default) to a running sluice over UDP and checks
// the documents it writes: each auto-detected, with its addresses, ports
// and action.
func TestFirewallParsersEndToEnd(t *testing.T) {
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps})
	now := time.Now().UTC()
	bsd := now.Format(time.Stamp)
	pan := now.Format("2006/01/02 15:04:05")
	lines := []string{
		"<134>" + bsd + " filterlog[31872]: 5,,,1000000103,igb1,match,block,in,4,0x0,,244,54321,0,none,6,tcp,40,203.0.113.9,192.0.2.1,48120,3389,0,S,1871233454,,1024,,",
		"<14>" + bsd + " PA-3220 1," + pan + ",012801012345,TRAFFIC,end,2561," + pan + ",10.1.20.15,93.184.216.34,203.0.113.10,93.184.216.34,allow-web-out,corp\\alice,,ssl,vsys1,trust,untrust,ethernet1/2,ethernet1/1,Forward-All," + pan + ",318765,1,51514,443,40012,443,0x40041a,tcp,allow,7312,2228,5084,22," + pan + ",16,computer-and-internet-info,,7253419119627122716,0x8000000000000000,10.0.0.0-10.255.255.255,United States,,12,10,tcp-fin,0,0,0,0,,PA-3220,from-policy",
		"<30>firewall,info DROP_WAN input: in:ether1 out:(unknown 0), src-mac 00:0c:42:aa:bb:cc, proto TCP (SYN), 198.51.100.5:4444->192.0.2.40:22, len 60",
		"<190>46: router1: *" + now.Format("Jan _2 15:04:05.000") + " UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp 198.51.100.7(51514) -> 10.0.0.2(22), 1 packet",
		"<4>" + bsd + " ubnt kernel: [WAN_LOCAL-default-D]IN=eth0 OUT= MAC=f0:9f:c2:11:22:33:00:1b:21:aa:bb:cc:08:00 SRC=198.51.100.9 DST=203.0.113.2 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=3851 DF PROTO=TCP SPT=44308 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0",
	}
	conn, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(ps.SyslogUDP))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, l := range lines {
		if _, err := conn.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	s.stop() // drains the pipeline and flushes the files
	docs := syslogDocs(t, s.opts.OutDir)
	want := map[string]map[string]string{
		"pfsense.log": {"source.ip": "203.0.113.9", "destination.port": "3389", "event.action": "block", "event.type": "denied",
			"rule.id": "1000000103", "observer.ingress.interface.name": "igb1", "network.transport": "tcp"},
		"panw.panos": {"source.ip": "10.1.20.15", "source.nat.ip": "203.0.113.10", "source.nat.port": "40012", "destination.port": "443",
			"event.action": "allow", "event.type": "allowed", "rule.name": "allow-web-out", "user.name": "corp\\alice",
			"observer.hostname": "PA-3220", "source.bytes": "2228", "destination.bytes": "5084"},
		"mikrotik.firewall": {"source.ip": "198.51.100.5", "source.port": "4444", "destination.ip": "192.0.2.40", "event.action": "drop",
			"mikrotik.chain": "input", "observer.ingress.interface.name": "ether1"},
		"ubiquiti.firewall": {"source.ip": "198.51.100.9", "destination.port": "22", "event.action": "drop", "rule.name": "WAN_LOCAL-default-D",
			"rule.ruleset": "WAN_LOCAL"},
		"cisco.ios": {"source.ip": "198.51.100.7", "source.port": "51514", "destination.port": "22", "event.action": "deny",
			"event.type": "denied", "event.code": "SEC-6-IPACCESSLOGP", "rule.name": "101", "host.hostname": "router1"},
	}
	seen := map[string]bool{}
	for _, d := range docs {
		ds := d.str("event.dataset")
		fields, ok := want[ds]
		if !ok {
			t.Errorf("document with dataset %q, want one of the firewall datasets: %s", ds, d.Raw)
			continue
		}
		seen[ds] = true
		if strings.Contains(d.Raw, "_grokparsefailure") {
			t.Errorf("%s: parse failure: %s", ds, d.Raw)
		}
		for path, w := range fields {
			if got := d.str(path); got != w {
				t.Errorf("%s: %s = %q, want %q\n%s", ds, path, got, w, d.Raw)
			}
		}
	}
	for ds := range want {
		if !seen[ds] {
			t.Errorf("no %s document among %d", ds, len(docs))
		}
	}
}
