package parsers

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/sluicelab/sluice/internal/event"
)

// FuzzProcess sends random lines through the syslog decoder and the stage,
// once with auto-detection and once forced through each shipped parser
// (so every rule sees arbitrary text), and checks that every document is
// valid JSON without duplicate keys. Seeds: the golden inputs.
func FuzzProcess(f *testing.F) {
	for _, l := range sampleLines(f) {
		f.Add(l)
	}
	f.Add("<134>1 1795363216.2 MX flows src=[2001:db8::1]:80 dst=1.2.3.4:99999 protocol=999 pattern: ")
	f.Add(`<131>Nov 22 08:01:04 b ASM:a="\"",b="\\",="x",c="unterminated`)
	f.Add("<4>Nov 22 08:01:04 k kernel: [ 1.0] IN= OUT= SRC=::ffff:1.2.3.4 DST= PROTO=ICMPv6 DF DF SYN")
	all := netip.MustParsePrefix("::/0")
	all4 := netip.MustParsePrefix("0.0.0.0/0")
	stages := []*Stage{newStage(f, Default())}
	// Cisco ASA/FTD: the id in the app name or the message, broken headers
	// and texts cut short.
	f.Add("<166>Nov 22 2026 08:00:01: %ASA-6-302013: Built outbound TCP connection 1 for outside:[::1]/1 (::/0) to :/ ( /)")
	f.Add("<166>%ASA--: ")
	f.Add(": %FTD-1-430002: EventPriority: , : x, SrcIP: 1.2.3.4:5, ConnectionDuration: 99:99:99, FirstPacketSecond: 2026-13-01T00:00:00Z")
	f.Add("<166>Nov 22 2026 08:00:01 %ASA-4-106023: Deny tcp src a:1.2.3.4/99999(x dst b:::1/0 by access-group \"")
	// Cisco IOS: headers with counters, zone words, markers; ACL texts
	// cut short, odd mnemonics.
	f.Add("<190>46: router1: 000046: .Nov 22 08:00:10.517 CET: %SEC-6-IPACCESSLOGP: list 101 denied tcp 1.2.3.4(99999) (Gi0/1 zz) -> ::1(x), 1 packet")
	f.Add("<190>%SEC-6-IPACCESSLOGDP: list  denied icmp 1.2.3.4 -> 5.6.7.8 (999/-1), packets")
	f.Add("<190>1: *Nov 22 08:00:10.5 XYZ: %A-B-9-C: x")
	f.Add("<190>Nov 22 08:00:10 r 46: Nov 22 08:00:10.123 UTC: %-6-: ")
	f.Add("%SEC-6-IPACCESSLOGS: list 10 permitted 1.2.3.4 (x ) 1 packet")
	// F5 ASM: CEF with escapes and labels cut short, Splunk, [SECEV].
	f.Add(`<131>Nov 22 08:01:04 b ASM:CEF:0|F5|ASM|1|2|a\|b|5|cs1=x cs1Label= cs2Label=policy_name cs2= rt=99999999999999999999 src=1.2.3.4 a\= =b`)
	f.Add("<131>Nov 22 08:01:04 b CEF:0|F5|ASM|1|2|n|5|cs1Label=cs1 cs1=cs1Label spt=99999 request=\\")
	f.Add(`<131>b f5_asm=Splunk-F5-ASM,ip_client="x",src_port="-1"`)
	f.Add("<131>Nov 22 08:04:00 b asm[1]: [SECEV] Request blocked, violations: . HTTP protocol compliance sub violations: . Evasion techniques sub violations: . Web services security sub violations: . Virus name: . Support id: 1, source ip: ::1, xff ip: N/A, source port: 99999, destination ip: 1.2.3.4, destination port: 0, route_domain: 0, HTTP classifier: , scheme x, request: <")
	// FortiGate: header-less, CSV, CEF, epochs of every length, quotes.
	f.Add(`<189>date=2026-02-30,time=25:00:00,devid="x,eventtime=99999999999999999999 duration=1:2 srcip=::ffff:1.2.3.4`)
	f.Add(`<><189>date= devid= tz=""" eventtime=1795334416123 action="" status=failed`)
	f.Add("<189>Nov 22 08:00:27 F CEF:0|Fortinet|Fortigate|||||FTNTFGT=1 =x FTNTFGTeventtime=1 act=DENY")
	f.Add("<189>CEF:0|Fortinet|FortiGate|v7|1|x|notanumber|")
	// Juniper: RT_FLOW texts cut short, NetScreen keys with spaces.
	f.Add("<14>Nov 22 08:00:40 srx RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed : 1.2.3.4/1->5.6.7.8/99999 0x0 x 1.2.3.4/1->5.6.7.8/2 a b c d e f g 6 p z z 1 1(1) 1( 99:99")
	f.Add("<134>NetScreen device_id=x  [Root]system-notification-00257(traffic): src zone= dst zone= src-xlated ip= port= reason=")
	// Lines of the pfsense, panw, mikrotik and ubiquiti kinds: filterlog
	// layouts cut short, PAN-OS types with missing or extra columns,
	// RouterOS without a header.
	for _, l := range []string{
		"<134>Nov 22 08:00:00 filterlog[1]: 5,,,1,igb1,match,block,in,4,0x0,,244,1,0,none,6,tcp,40,203.0.113.9,192.0.2.1",
		"<134>Nov 22 08:00:00 filterlog[1]: 5,,,1,igb1,match,block,in,6,0x00,0x00000,57,tcp,6,40,::1,::2,1,99999,x",
		"<134>Nov 22 08:00:00 filterlog[1]: 5,,,1,igb1,match,pass,in,4,0x0,,64,1,0,none,1,icmp,84,1.2.3.4,5.6.7.8,tstampreply,1",
		`<134>Nov 22 08:00:00 filterlog[1]: "5,,,1,"igb1",match,pass,in,4`,
		"<14>Nov 22 08:00:00 PA 1,2026/11/22 08:00:00,0128,TRAFFIC,end,2561,2026/13/45 99:00:00,10.0.0.1,::1,0.0.0.0,x,r,,,ssl,vsys1,a,b,c,d,e,,1,1,70000,-1,0,0,0x0,tcp,allow,x,y",
		`<14>Nov 22 08:00:00 PA 1,2026/11/22 08:00:00,0128,THREAT,url,0,2026/11/22 08:00:00,1.1.1.1,2.2.2.2,,,r,,,web,v,a,b,c,d,e,,1,1,1,1,0,0,0,tcp,alert,"a""b,c`,
		"<14>Nov 22 08:00:00 PA 1,2026/11/22 08:00:00,0128,SYSTEM,general,0,2026/11/22 08:00:00,,general,,0,0,general,high",
		"<30>firewall,info x input: in:e out:(unknown 0), src-mac zz, proto TCP (, 1.2.3.4:99999->[::1]:1, NAT (a->b:c)->d, len x",
		"<30>firewall,info input: in:e out:e, connection-state:, proto ICMP (type 999, code -1), a->(b->c:), len 1",
		"<4>Nov 22 08:00:00 u kernel: [A-B-C-D]IN= OUT= SRC=x DST= DESCR=\"unterminated",
		"<4>Nov 22 08:00:00 u kernel: [] DESCR= IN=",
		// DNS resolver logs: answers that are not addresses, names with
		// spaces, BIND lines cut short, Unbound replies with bad numbers.
		"<30>Dec  7 19:40:01 p dnsmasq[1]: reply x is <SRV> is 1.2.3.4",
		"<30>Dec  7 19:40:01 p dnsmasq[1]: query[] from ",
		"<30>Dec  7 19:40:01 p dnsmasq[1]: gravity blocked  is ",
		"<30>Dec  7 19:40:01 p dnsmasq[1]: / is NODATA",
		"<30>Dec  7 19:40:01 n named[1]: client @0x 1.2.3.4#99999 (x): view : query: x IN A +T (",
		"<30>Dec  7 19:40:01 n named[1]: client #: query:",
		"<30>Dec  7 19:40:01 u unbound: [1:0] info: ::1@x a. A IN NOERROR -1.5 2 99999999999999999999",
		"<30>Dec  7 19:40:01 u unbound: [1:0] info: 1.2.3.4 . ",
	} {
		f.Add(l)
	}
	for _, p := range []string{"meraki", "f5_asm", "netfilter", "cisco_asa", "cisco_ios", "fortinet", "juniper", "pfsense", "panw", "mikrotik", "ubiquiti", "dnsmasq", "bind", "unbound"} {
		stages = append(stages, newStage(f, Config{Routes: []Route{{Parser: p, Senders: []netip.Prefix{all, all4}}}}))
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, s := range stages {
			b := decode(t, "192.0.2.1", line)
			if err := s.Process(context.Background(), b); err != nil {
				t.Fatalf("Process(%q) = %v", line, err)
			}
			for i := range b.All() {
				doc := b.All()[i].AppendJSON(nil)
				if !json.Valid(doc) {
					t.Fatalf("invalid JSON for %q: %s", line, doc)
				}
				if err := noDuplicateKeys(doc); err != nil {
					t.Fatalf("%v for %q: %s", err, line, doc)
				}
			}
			b.Release()
		}
	})
}

// FuzzDNSLogs is FuzzProcess for the resolver query-log parsers only
// (dnsmasq, bind, unbound; auto-detected and forced), with their golden
// inputs as seeds: FuzzProcess's many stages and seeds leave little time
// for these rules in a short run. A DNS event must keep its question name
// a string.
func FuzzDNSLogs(f *testing.F) {
	for _, l := range sampleLines(f) {
		if strings.Contains(l, "dnsmasq[") || strings.Contains(l, "named[") || strings.Contains(l, "unbound") || strings.Contains(l, "pihole") {
			f.Add(l)
		}
	}
	all := netip.MustParsePrefix("::/0")
	all4 := netip.MustParsePrefix("0.0.0.0/0")
	stages := []*Stage{newStage(f, Default())}
	for _, p := range []string{"dnsmasq", "bind", "unbound"} {
		stages = append(stages, newStage(f, Config{Routes: []Route{{Parser: p, Senders: []netip.Prefix{all, all4}}}}))
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, s := range stages {
			b := decode(t, "192.0.2.1", line)
			if err := s.Process(context.Background(), b); err != nil {
				t.Fatalf("Process(%q) = %v", line, err)
			}
			for i := range b.All() {
				e := &b.All()[i]
				doc := e.AppendJSON(nil)
				if !json.Valid(doc) {
					t.Fatalf("invalid JSON for %q: %s", line, doc)
				}
				if err := noDuplicateKeys(doc); err != nil {
					t.Fatalf("%v for %q: %s", err, line, doc)
				}
				for _, fd := range e.Fields {
					if fd.Key == "dns.question.name" && fd.Type != event.FieldString {
						t.Fatalf("dns.question.name of type %d for %q", fd.Type, line)
					}
				}
			}
			b.Release()
		}
	})
}
