package main_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	lumber "github.com/elastic/go-lumber/client/v2"

	"github.com/sluicelab/sluice/internal/estest"
)

// beatsDocs reads the Beats daily files of dir.
func beatsDocs(t *testing.T, dir string) []doc {
	t.Helper()
	return readGlobDocs(t, filepath.Join(dir, "sluice-beats-*.ndjson"))
}

// Documents shaped as the Beats ship them to Logstash.
var (
	packetbeatDNS = map[string]any{
		"@timestamp": "2026-12-06T21:10:11.345Z",
		"@metadata":  map[string]any{"beat": "packetbeat", "type": "_doc", "version": "8.15.0"},
		"type":       "dns", "status": "OK",
		"event":       map[string]any{"dataset": "dns", "kind": "event", "category": []string{"network"}, "type": []string{"connection", "protocol"}, "duration": 1520000},
		"network":     map[string]any{"transport": "udp", "protocol": "dns", "type": "ipv4", "bytes": 152},
		"source":      map[string]any{"ip": "10.1.2.3", "port": 53211, "bytes": 40},
		"destination": map[string]any{"ip": "10.1.0.53", "port": 53, "bytes": 112},
		"client":      map[string]any{"ip": "10.1.2.3", "port": 53211},
		"dns": map[string]any{"id": 4711, "type": "answer", "op_code": "QUERY", "response_code": "NOERROR",
			"header_flags": []string{"RD", "RA"},
			"question":     map[string]any{"name": "Edge.Example.NET", "type": "A", "class": "IN"},
			"answers": []any{map[string]any{"name": "edge.example.net", "type": "CNAME", "class": "IN", "ttl": "60", "data": "cdn.example.net"},
				map[string]any{"name": "cdn.example.net", "type": "A", "class": "IN", "ttl": "60", "data": "192.0.2.10"}},
			"answers_count": 2, "resolved_ip": []string{"192.0.2.10", "192.0.2.11"}},
		"agent": map[string]any{"type": "packetbeat", "name": "resolver1", "version": "8.15.0"},
		"ecs":   map[string]any{"version": "8.0.0"},
	}
	winlogbeatSysmon22 = map[string]any{
		"@timestamp": "2026-12-06T21:10:12.001Z",
		"@metadata":  map[string]any{"beat": "winlogbeat", "type": "_doc", "version": "8.15.0"},
		"event":      map[string]any{"code": "22", "kind": "event", "provider": "Microsoft-Windows-Sysmon", "created": "2026-12-06T21:10:12.500Z"},
		"host":       map[string]any{"name": "WS-042"},
		"winlog": map[string]any{"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "22", "computer_name": "WS-042",
			"provider_name": "Microsoft-Windows-Sysmon", "record_id": 918273,
			"event_data": map[string]any{"RuleName": "-", "UtcTime": "2026-12-06 21:10:12.001", "ProcessGuid": "{8f1a7c3e-1c2b-6570-1200-000000001f00}",
				"ProcessId": "4312", "QueryName": "Edge.Example.net", "QueryStatus": "0",
				"QueryResults": "type:  5 edge.example.net;::ffff:93.184.216.34;2001:db8::34;",
				"Image":        `C:\Program Files\Mozilla Firefox\firefox.exe`, "User": `CORP\alice`}},
		"agent": map[string]any{"type": "winlogbeat", "name": "WS-042"},
	}
	winlogbeatSysmon22NX = map[string]any{
		"@timestamp": "2026-12-06T21:10:13.000Z",
		"@metadata":  map[string]any{"beat": "winlogbeat"},
		"winlog": map[string]any{"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 22,
			"event_data": map[string]any{"ProcessId": "77", "QueryName": "nx.example.org.", "QueryStatus": "9003", "QueryResults": "", "Image": `C:\x\y.exe`}},
	}
	filebeatLine = map[string]any{
		"@timestamp": "2026-12-06T21:10:14.000Z",
		"@metadata":  map[string]any{"beat": "filebeat", "type": "_doc", "version": "8.15.0"},
		"message":    "GET /index.html 200",
		"log":        map[string]any{"offset": 1234, "file": map[string]any{"path": "/var/log/nginx/access.log"}},
		"input":      map[string]any{"type": "filestream"},
		"host":       map[string]any{"name": "web1"},
		"fields":     map[string]any{"env": "prod", "weight": 1.5, "on": true},
	}
)

// sendBeats sends evs in one window over a new lumberjack connection and
// waits for the acknowledgement.
func sendBeats(t *testing.T, addr string, evs []any, dial func(string, string) (net.Conn, error)) error {
	t.Helper()
	var c *lumber.SyncClient
	var err error
	if dial != nil {
		c, err = lumber.SyncDialWith(dial, addr, lumber.Timeout(20*time.Second), lumber.CompressionLevel(3))
	} else {
		c, err = lumber.SyncDial(addr, lumber.Timeout(20*time.Second), lumber.CompressionLevel(3))
	}
	if err != nil {
		return err
	}
	defer c.Close()
	n, err := c.Send(evs)
	if err == nil && n != len(evs) {
		err = fmt.Errorf("acknowledged %d of %d", n, len(evs))
	}
	return err
}

// TestBeatsInput: Packetbeat DNS, Winlogbeat Sysmon 22 and Filebeat
// documents over lumberjack to the binary; the daily file of their day
// holds them with their fields, the Sysmon ones mapped into dns.* and
// process.*.
func TestBeatsInput(t *testing.T) {
	ps := newPorts(t)
	bp := freeTCPPort(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{fmt.Sprintf("SLUICE_BEATS_LISTEN=127.0.0.1:%d", bp)}})
	if err := sendBeats(t, fmt.Sprintf("127.0.0.1:%d", bp), []any{packetbeatDNS, winlogbeatSysmon22, winlogbeatSysmon22NX, filebeatLine}, nil); err != nil {
		t.Fatalf("lumberjack Send() = %v", err)
	}
	m := s.metrics()
	s.stop()
	docs := beatsDocs(t, s.opts.OutDir)
	if len(docs) != 4 {
		t.Fatalf("%d documents in sluice-beats-*.ndjson, want 4; metrics:\n%s", len(docs), metricLines(m, "sluice_beats"))
	}
	by := map[string]doc{}
	for _, d := range docs {
		if d.File != "sluice-beats-2026.12.06.ndjson" {
			t.Errorf("document in %s, want sluice-beats-2026.12.06.ndjson: %s", d.File, d.Raw)
		}
		by[d.str("@timestamp")] = d
	}
	js := func(d doc, p string) string {
		v, _ := d.get(p)
		b, _ := json.Marshal(v)
		return string(b)
	}
	check := func(name string, d doc, want map[string]string) {
		t.Helper()
		for p, w := range want {
			if g := js(d, p); g != w {
				t.Errorf("%s: %s = %s, want %s\n%s", name, p, g, w, d.Raw)
			}
		}
	}
	check("packetbeat", by["2026-12-06T21:10:11.345Z"], map[string]string{
		"dns.question.name": `"edge.example.net"`, "dns.resolved_ip": `["192.0.2.10","192.0.2.11"]`,
		"dns.answers":      `[{"class":"IN","data":"cdn.example.net","name":"edge.example.net","ttl":"60","type":"CNAME"},{"class":"IN","data":"192.0.2.10","name":"cdn.example.net","ttl":"60","type":"A"}]`,
		"dns.header_flags": `["RD","RA"]`, "dns.id": `4711`, "dns.response_code": `"NOERROR"`, "event.dataset": `"dns"`,
		"event.kind": `"event"`, "event.category": `["network"]`, "source.ip": `"10.1.2.3"`, "source.port": `53211`,
		"destination.ip": `"10.1.0.53"`, "destination.port": `53`, "agent.name": `"resolver1"`, "observer.ip": `"127.0.0.1"`,
		"ecs.version": `"8.11.0"`, "@metadata": `null`, "event.module": `null`,
	})
	check("sysmon 22", by["2026-12-06T21:10:12.001Z"], map[string]string{
		"dns.question.name": `"edge.example.net"`, "dns.resolved_ip": `["93.184.216.34","2001:db8::34"]`,
		"dns.answers":       `[{"data":"edge.example.net","type":"CNAME"},{"data":"93.184.216.34","type":"A"},{"data":"2001:db8::34","type":"AAAA"}]`,
		"dns.response_code": `"NOERROR"`, "sysmon.dns.status": `"SUCCESS"`,
		"process.executable": `"C:\\Program Files\\Mozilla Firefox\\firefox.exe"`, "process.name": `"firefox.exe"`, "process.pid": `4312`,
		"process.entity_id": `"{8f1a7c3e-1c2b-6570-1200-000000001f00}"`, "event.category": `["network"]`,
		"event.type": `["connection","protocol","info"]`, "network.protocol": `"dns"`, "event.created": `"2026-12-06T21:10:12.500Z"`,
		"winlog.event_data.QueryName": `"Edge.Example.net"`, "agent.type": `"winlogbeat"`, "host.name": `"WS-042"`,
	})
	check("sysmon 22 NXDOMAIN", by["2026-12-06T21:10:13Z"], map[string]string{
		"dns.question.name": `"nx.example.org"`, "dns.response_code": `"NXDOMAIN"`, "sysmon.dns.status": `"DNS_ERROR_RCODE_NAME_ERROR"`,
		"dns.resolved_ip": `null`, "process.name": `"y.exe"`, "process.pid": `77`, "agent.type": `"winlogbeat"`,
	})
	check("filebeat", by["2026-12-06T21:10:14Z"], map[string]string{
		"message": `"GET /index.html 200"`, "log.offset": `1234`, "log.file.path": `"/var/log/nginx/access.log"`,
		"fields.env": `"prod"`, "fields.weight": `1.5`, "fields.on": `true`, "agent.type": `"filebeat"`,
		"event.dataset": `"sluice.beats"`, "dns": `null`,
	})
	if v, _ := metricSum(m, `sluice_beats_events_total{beat="winlogbeat"}`); v != 2 {
		t.Errorf("sluice_beats_events_total{beat=winlogbeat} = %v, want 2:\n%s", v, metricLines(m, "sluice_beats"))
	}
	// Every input counts in sluice_collector_events_total (status, start
	// summary, console health).
	all, _ := metricSum(m, "sluice_beats_events_total")
	if v, _ := metricSum(m, `sluice_collector_events_total{protocol="beats"}`); all == 0 || v != all {
		t.Errorf("sluice_collector_events_total{protocol=beats} = %v, want %v (sluice_beats_events_total):\n%s", v, all, metricLines(m, "sluice_collector_events_total"))
	}
}

// writePEM writes one PEM block.
func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testPKI makes a CA and, signed by it, a server certificate for
// 127.0.0.1 and a client certificate; it returns the file paths.
func testPKI(t *testing.T) (caFile, certFile, keyFile string, client tls.Certificate, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	caFile = filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	srvDER, srvKey := issue(2, "sluice", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	writePEM(t, certFile, "CERTIFICATE", srvDER)
	kb, _ := x509.MarshalECPrivateKey(srvKey)
	writePEM(t, keyFile, "EC PRIVATE KEY", kb)
	cliDER, cliKey := issue(3, "winlogbeat WS-042", x509.ExtKeyUsageClientAuth, nil)
	client = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	return caFile, certFile, keyFile, client, pool
}

// TestBeatsTLSClientCert: with beats.tls.client_ca_file a Beat with a
// certificate of that CA is served; one without a certificate is refused
// and nothing of it is stored.
func TestBeatsTLSClientCert(t *testing.T) {
	caFile, certFile, keyFile, cert, pool := testPKI(t)
	ps := newPorts(t)
	bp := freeTCPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", bp)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_BEATS_LISTEN=" + addr,
		"SLUICE_BEATS_TLS_CERT_FILE=" + certFile, "SLUICE_BEATS_TLS_KEY_FILE=" + keyFile, "SLUICE_BEATS_TLS_CLIENT_CA_FILE=" + caFile}})
	dialWith := func(certs []tls.Certificate) func(string, string) (net.Conn, error) {
		return func(network, a string) (net.Conn, error) {
			d := &net.Dialer{Timeout: 10 * time.Second}
			return tls.DialWithDialer(d, network, a, &tls.Config{RootCAs: pool, Certificates: certs, ServerName: "127.0.0.1"})
		}
	}
	with := map[string]any{"@timestamp": "2026-12-06T10:00:00Z", "message": "with certificate", "@metadata": map[string]any{"beat": "filebeat"}}
	if err := sendBeats(t, addr, []any{with}, dialWith([]tls.Certificate{cert})); err != nil {
		t.Fatalf("Send() with a client certificate = %v", err)
	}
	without := map[string]any{"@timestamp": "2026-12-06T10:00:01Z", "message": "without certificate"}
	if err := sendBeats(t, addr, []any{without}, dialWith(nil)); err == nil {
		t.Fatal("Send() without a client certificate succeeded, want it refused")
	}
	// Plain TCP to the TLS port is refused too.
	if err := sendBeats(t, addr, []any{without}, nil); err == nil {
		t.Fatal("Send() over plain TCP to the TLS listener succeeded")
	}
	s.stop()
	docs := beatsDocs(t, s.opts.OutDir)
	if len(docs) != 1 || docs[0].str("message") != "with certificate" {
		t.Fatalf("stored %d documents, want only the one with a certificate: %v", len(docs), docs)
	}
}

// TestBeatsRestartAtLeastOnce: a client streams sequence-numbered events
// in windows of 200, as a Beat does: it resends a window until it is
// acknowledged, reconnecting after errors. sluice is stopped (SIGTERM)
// and started again mid-stream. Every acknowledged event must be in the
// files; duplicates (resent windows part of which was stored) are
// counted and reported, as the Beats' at-least-once contract allows.
func TestBeatsRestartAtLeastOnce(t *testing.T) {
	ps := newPorts(t)
	bp := freeTCPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", bp)
	out := t.TempDir()
	env := []string{"SLUICE_BEATS_LISTEN=" + addr}
	s := startSluice(t, sluiceOpts{Ports: ps, OutDir: out, Env: env})

	const windows, size = 100, 200
	acked := make(chan int, windows) // the last seq of each acknowledged window
	done := make(chan error, 1)
	retries := 0 // windows sent again (read after done)
	halfway := make(chan struct{})
	go func() {
		var c *lumber.SyncClient
		seq := 0
		for w := 0; w < windows; w++ {
			if w == windows/4 {
				close(halfway) // and go on sending: the stop falls inside the stream
			}
			evs := make([]any, size)
			for i := range evs {
				evs[i] = map[string]any{"@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "@metadata": map[string]any{"beat": "filebeat"},
					"message": "seq " + strconv.Itoa(seq+i), "seq": seq + i}
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				var err error
				if c == nil {
					c, err = lumber.SyncDial(addr, lumber.Timeout(10*time.Second))
				}
				if err == nil {
					var n int
					n, err = c.Send(evs)
					if err == nil && n == size {
						break
					}
					c.Close()
					c = nil
				}
				retries++
				if time.Now().After(deadline) {
					done <- fmt.Errorf("window %d not acknowledged within 60s: %v", w, err)
					return
				}
				time.Sleep(50 * time.Millisecond) // a Beat's backoff
			}
			seq += size
			acked <- seq
			time.Sleep(20 * time.Millisecond) // paced, so that the restart falls inside the stream
		}
		if c != nil {
			c.Close()
		}
		done <- nil
	}()
	<-halfway
	s.stop()
	s2 := startSluice(t, sluiceOpts{Ports: ps, OutDir: out, DataDir: s.opts.DataDir, Env: env})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s2.stop()
	close(acked)
	last := 0
	for a := range acked {
		last = a
	}
	seen := map[int]int{}
	for _, d := range beatsDocs(t, out) {
		n, ok := d.num("seq")
		if !ok {
			t.Fatalf("document without seq: %s", d.Raw)
		}
		seen[int(n)]++
	}
	missing, dups := 0, 0
	for i := 0; i < last; i++ {
		switch c := seen[i]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("acknowledged %d events; stored %d distinct, %d duplicates, %d acknowledged but missing; %d sends retried", last, len(seen), dups, missing, retries)
	if retries == 0 {
		t.Error("no send failed: the restart did not fall inside the stream")
	}
	if missing > 0 {
		t.Errorf("%d acknowledged events are not in the files", missing)
	}
	if last != windows*size {
		t.Errorf("acknowledged %d events, want %d", last, windows*size)
	}
}

// TestBeatsToElasticsearch: the Beats documents are indexed by a real node
// under the syslog (ECS) template, none refused (a field whose type
// clashed with the template would be dead-lettered), and the DNS fields
// are searchable there.
func TestBeatsToElasticsearch(t *testing.T) {
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluicee2e")
	esCleanup(t, url, prefix)
	ps := newPorts(t)
	bp := freeTCPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", bp)
	env := append(esEnv(url, prefix), "SLUICE_BEATS_LISTEN="+addr, "SLUICE_OUTPUT_INDEX_BEATS="+prefix+"-beats-%{+yyyy.MM.dd}")
	s := startSluice(t, sluiceOpts{Ports: ps, Env: env})
	if err := sendBeats(t, addr, []any{packetbeatDNS, winlogbeatSysmon22, winlogbeatSysmon22NX, filebeatLine}, nil); err != nil {
		t.Fatalf("lumberjack Send() = %v", err)
	}
	estest.WaitCount(t, url, prefix+"-beats-*", 4, 30*time.Second)
	m := s.metrics()
	s.stop()
	for _, name := range []string{"sluice_output_elasticsearch_dead_letter_documents_total", "sluice_output_elasticsearch_item_failures_total"} {
		if v, _ := metricSum(m, name); v != 0 {
			t.Errorf("%s = %v, want 0:\n%s", name, v, metricLines(m, "sluice_output_elasticsearch"))
		}
	}
	status, body := estest.Do(t, http.MethodPost, url+"/"+prefix+"-beats-*/_search",
		`{"query":{"bool":{"filter":[{"term":{"dns.question.name":"edge.example.net"}},{"term":{"dns.resolved_ip":"93.184.216.34"}}]}}}`)
	if status != 200 || !bytes.Contains(body, []byte(`"total":{"value":1,`)) {
		t.Errorf("search for the Sysmon query by name and resolved address: %d %s", status, body)
	}
}
