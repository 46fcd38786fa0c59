package chaos

import "testing"

// BenchmarkTallyFlow: the checker reads millions of documents in the
// overload scenario.
func BenchmarkTallyFlow(b *testing.B) {
	line := []byte(`{"@timestamp":"2026-11-24T03:22:09.123Z","event":{"kind":"event","category":["network"],"type":["connection"],"action":"network_flow","created":"2026-11-24T03:22:10.623Z","start":"2026-11-24T03:21:39.123Z","end":"2026-11-24T03:22:09.123Z","duration":30000000000,"module":"sluice","dataset":"sluice.flow"},"source":{"ip":"10.1.2.3","port":51234,"bytes":1234,"packets":10},"destination":{"ip":"93.184.216.34","port":443},"network":{"transport":"tcp","iana_number":"6","bytes":1234,"packets":10,"type":"ipv4","community_id":"1:rzhrQhBQgtLl6UQh54zcShmSoIc="},"observer":{"ip":"192.0.2.1"},"netflow":{"ipv4_src_addr":"10.1.2.3","ipv4_dst_addr":"93.184.216.34","l4_src_port":51234,"l4_dst_port":443,"protocol":6,"in_bytes":1234,"in_pkts":10,"type":"netflow_flow","exporter":{"address":"192.0.2.1","source_id":256,"version":9,"uptime_millis":123456789}},"ecs":{"version":"8.11.0"}}`)
	tl := NewTally()
	b.ReportAllocs()
	for b.Loop() {
		tl.AddLine(line)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
