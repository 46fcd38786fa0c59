package main_test

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVendorFormsEndToEnd sends one line per further form of a vendor
// (F5 ASM's CEF, ASM:CEF, Splunk and local [SECEV] lines; FortiGate's CEF
// with a value holding spaces; Meraki MS blocks and a VPN event naming
// its peer; Juniper RT_FLOW with only structured data) to a running sluice over UDP, with the MaxMind test city
// database, and checks the documents it writes, each found by its
// source address.
func TestVendorFormsEndToEnd(t *testing.T) {
	ps := newPorts(t)
	city, err := filepath.Abs("../../geoip/testdata/GeoLite2-City-Test.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_GEOIP_CITY_DB=" + city}})
	bsd := time.Now().UTC().Format(time.Stamp)
	lines := []string{
		"<131>" + bsd + " bigip1 ASM:CEF:0|F5|ASM|16.1.4|200002147|SQL-INJ expressions like or 1\\=1|5|dvchost=bigip1 cs1=/Common/shop cs1Label=policy_name externalId=5000000000000000001 act=blocked src=203.0.113.66 spt=51233 dst=10.1.2.3 dpt=443 requestMethod=POST app=HTTPS cs4=SQL-Injection cs4Label=attack_type request=/products.php?id\\=1",
		"<131>" + bsd + " bigip1 CEF:0|F5|ASM|16.1.4|200000098|Automated client access|3|cs1=/Common/api cs1Label=policy_name cs5=5000000000000000002 cs5Label=support_id act=alerted src=203.0.113.67 spt=40000 dst=10.1.2.4 dpt=80 requestMethod=GET app=HTTP",
		"<131>" + bsd + " bigip1 ASM:f5_asm=Splunk-F5-ASM,policy_name=\"/Common/shop\",support_id=\"5000000000000000003\",request_status=\"blocked\",ip_client=\"203.0.113.68\",src_port=\"50001\",dest_ip=\"10.1.2.3\",dest_port=\"443\",method=\"GET\",protocol=\"HTTPS\",attack_type=\"Path Traversal\"",
		"<131>" + bsd + " bigip1 asm[5932]: [SECEV] Request blocked, violations: Attack signature detected. HTTP protocol compliance sub violations: N/A. Evasion techniques sub violations: N/A. Web services security sub violations: N/A. Virus name: N/A. Support id: 5000000000000000004, source ip: 203.0.113.69, xff ip: N/A, source port: 51299, destination ip: 10.1.2.3, destination port: 443, route_domain: 0, HTTP classifier: /Common/shop, scheme HTTPS, geographic location: <NL>, request: <GET / HTTP/1.1\\r\\n>, username: <N/A>, session_id: <1>",
		"<134>1 " + strconv.FormatInt(time.Now().Unix(), 10) + ".100000000 MS225_core events type=arp_packet_blocked port='9' vlan='20' mac='00:18:0A:AB:CD:EF' ip='203.0.113.71'",
		"<134>1 " + strconv.FormatInt(time.Now().Unix(), 10) + ".200000000 MX84_HQ events Non-Meraki / Client VPN negotiation: msg: initiate new phase 2 negotiation: 192.0.2.1[500]<=>81.2.69.142[500]",
		"<14>1 " + time.Now().UTC().Format(time.RFC3339) + " srx01 RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636.1.1.1.2.129 source-address=\"203.0.113.72\" source-port=\"51514\" destination-address=\"192.0.2.30\" destination-port=\"22\" protocol-id=\"6\" policy-name=\"deny-ssh\" source-zone-name=\"untrust\" destination-zone-name=\"trust\" reason=\"policy reject\"]",
		"<189>" + bsd + " FGT60F CEF:0|Fortinet|Fortigate|v7.2.5|32002|event:system login failed|7|FTNTFGTlogid=0100032002 cat=event:system src=203.0.113.70 duser=admin act=login msg=Administrator admin login failed from ssh(203.0.113.70) FTNTFGTvd=root",
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
	want := map[string]map[string]string{ // by source.ip ("" for the ARP block, which has none)
		"203.0.113.66": {"event.dataset": "f5.asm", "source.port": "51233", "destination.port": "443", "event.action": "blocked",
			"event.type": "denied", "rule.ruleset": "/Common/shop", "rule.category": "SQL-Injection", "rule.name": "SQL-INJ expressions like or 1=1",
			"http.request.id": "5000000000000000001", "url.original": "/products.php?id=1"},
		"203.0.113.67": {"event.dataset": "f5.asm", "event.action": "alerted", "event.type": "allowed", "rule.ruleset": "/Common/api",
			"http.request.id": "5000000000000000002", "destination.port": "80"},
		"203.0.113.68": {"event.dataset": "f5.asm", "event.action": "blocked", "event.type": "denied", "rule.ruleset": "/Common/shop",
			"http.request.id": "5000000000000000003", "rule.category": "Path Traversal"},
		"203.0.113.69": {"event.dataset": "f5.asm", "event.action": "blocked", "event.type": "denied", "source.port": "51299",
			"http.request.id": "5000000000000000004", "f5.asm.violations": "Attack signature detected"},
		"": {"event.dataset": "meraki.events", "event.action": "arp_packet_blocked", "event.type": "denied", "client.ip": "203.0.113.71",
			"network.vlan.id": "20"},
		"81.2.69.142": {"event.dataset": "meraki.events", "event.action": "site_to_site_vpn", "source.geo.country_iso_code": "GB",
			"source.geo.city_name": "London", "destination.ip": "192.0.2.1"},
		"203.0.113.72": {"event.dataset": "juniper.srx", "event.action": "deny", "event.type": "denied", "event.code": "RT_FLOW_SESSION_DENY",
			"destination.port": "22", "rule.name": "deny-ssh", "observer.ingress.zone": "untrust"},
		"203.0.113.70": {"event.dataset": "fortinet.firewall", "event.action": "login",
			"fortinet.firewall.msg": "Administrator admin login failed from ssh(203.0.113.70)"},
	}
	seen := map[string]bool{}
	for _, d := range docs {
		ip := d.str("source.ip")
		fields, ok := want[ip]
		if !ok {
			t.Errorf("document with source.ip %q, want one of the lines sent: %s", ip, d.Raw)
			continue
		}
		seen[ip] = true
		if strings.Contains(d.Raw, "_grokparsefailure") {
			t.Errorf("%s: parse failure: %s", ip, d.Raw)
		}
		for path, w := range fields {
			if got := d.str(path); got != w {
				t.Errorf("%s: %s = %q, want %q\n%s", ip, path, got, w, d.Raw)
			}
		}
	}
	for ip := range want {
		if !seen[ip] {
			t.Errorf("no document for the line from %s among %d", ip, len(docs))
		}
	}
}
