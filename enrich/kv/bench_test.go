package kv

import "testing"

// Sample lines written for these benchmarks in the vendors' formats (the
// F5 ASM one is 1.2 kB with 35 pairs, as remote-logging profiles send).
const (
	f5Line       = `unit_hostname="f5-dmz-01",management_ip_address="10.0.0.7",management_ip_address_2="",http_class_name="/Common/www",web_application_name="/Common/www",policy_name="/Common/www",policy_apply_date="2026-10-01 12:34:56",violations="Attack signature detected,Illegal meta character in value",support_id="4429861082520419386",request_status="blocked",response_code="0",ip_client="198.51.100.23",route_domain="0",method="POST",protocol="HTTPS",query_string="",x_forwarded_for_header_value="N/A",sig_ids="200010011",sig_names="Automated client access (\"curl\")",date_time="2026-11-22 08:00:26",severity="Error",attack_type="Non-browser Client",geo_location="N/A",ip_address_intelligence="N/A",username="N/A",session_id="081575cf928152a1",src_port="45347",dest_port="80",dest_ip="10.1.5.206",sub_violations="",virus_name="N/A",violation_rating="3",vs_name="/Common/vs_www",uri="/api/v2/items",request="POST /api/v2/items HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.4.0\r\nAccept: */*\r\nContent-Length: 42\r\n\r\n{\"name\":\"x\",\"q\":\"1 OR 1=1\"}"`
	iptablesLine = `IN=ens3 OUT= MAC=c7:a2:da:ab:3b:13:d5:41:1c:45:39:c9:08:00 SRC=198.51.100.184 DST=192.168.11.38 LEN=52 TOS=0x00 PREC=0x00 TTL=63 ID=3851 DF PROTO=TCP SPT=44308 DPT=23 WINDOW=14600 RES=0x00 ACK PSH URGP=0`
	merakiLine   = `src=192.168.1.10:51514 dst=93.184.216.34:443 mac=00:11:22:33:44:55 agent='Mozilla/5.0 (X11; Linux x86_64)' protocol=tcp sport=51514 dport=443`
)

func benchParse(b *testing.B, p *Parser, line string, wantPairs int) {
	l := []byte(line)
	pairs := 0
	emit := func(k, v []byte, q bool) { pairs++ }
	p.Parse(l, emit)
	if pairs != wantPairs {
		b.Fatalf("Parse found %d pairs, want %d", pairs, wantPairs)
	}
	b.SetBytes(int64(len(l)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p.Parse(l, emit)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkParseF5ASM(b *testing.B) {
	benchParse(b, &Parser{FieldSplit: ",", AllowEmpty: true}, f5Line, 35)
}

func BenchmarkParseIptables(b *testing.B) {
	benchParse(b, &Parser{AllowEmpty: true, BareKeys: true}, iptablesLine, 19)
}

func BenchmarkParseMeraki(b *testing.B) {
	benchParse(b, &Parser{}, merakiLine, 7)
}
