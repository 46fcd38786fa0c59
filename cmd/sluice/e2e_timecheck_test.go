package main_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTimeOutOfRange: devices with wrong clocks must not create daily files
// for wrong days. NetFlow v9 exporters whose clocks say 1970 and 2100, and
// syslog lines dated 1969-12-31 (RFC 5424 header, and an F5 ASM date the
// parser reads from the message), year 9999 and a Meraki epoch of 0, sent
// beside good ones: only the days sluice received them on get files, every
// bad event is dated with its receive time, tagged, keeps its own time in
// sluice.original_timestamp, and is counted per input and direction.
func TestTimeOutOfRange(t *testing.T) {
	ps := newPorts(t)
	// The parsers read F5 dates in syslog.timezone.
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_SYSLOG_TIMEZONE=UTC"}})
	start := time.Now().UTC()

	// NetFlow v9: one exporter per clock; the sysUptime-relative flow times
	// follow the header's clock. 2100 still fits v9's 32-bit unix seconds.
	const perExporter = 20
	clocks := []struct {
		name string
		now  time.Time
		bad  bool
	}{
		{"1970", time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), true},
		{"2100", time.Date(2100, 6, 1, 12, 0, 0, 0, time.UTC), true},
		{"good", start, false},
	}
	wantOrig := map[string]string{} // flow destination -> original time (bad ones)
	nfSender := newUDPSender(t)
	for i, c := range clocks {
		ex := &exporter{Boot: c.now.Add(-time.Hour), SourceID: uint32(100 + i)}
		flows := testFlows(perExporter, byte(10+i), c.now.Add(-time.Second))
		nfSender.send(ps.NetFlow, ex.v9Packet(c.now, 1+len(flows), templateSet(v9Template, 256, v9Fields4), ex.dataSet(256, v9Fields4, flows)))
		if c.bad {
			for _, f := range flows {
				wantOrig[f.Dst.String()] = f.End.UTC().Format("2006-01-02T15:04:05Z")
			}
		}
	}

	// Syslog over UDP.
	hdr := start.Format("Jan _2 15:04:05")
	lines := []struct {
		line, orig string // orig: the original time a bad line keeps; "" good
		dir        string
	}{
		{"<134>1 1969-12-31T23:59:59Z host1969 app - - - dated 1969", "1969-12-31T23:59:59Z", "past"},
		{"<134>1 9999-12-31T23:59:59.999Z host9999 app - - - dated 9999", "9999-12-31T23:59:59.999Z", "future"},
		{"<134>1 0.000000000 MX84 flows src=192.168.1.10:51514 dst=93.184.216.34:443 protocol=tcp sport=51514 dport=443 pattern: allow all", "1970-01-01T00:00:00Z", "past"},
		{`<131>` + hdr + ` bigip-dmz1 ASM:unit_hostname="bigip-dmz1",management_ip_address="10.0.0.7",request_status="blocked",ip_client="203.0.113.66",method="POST",date_time="1969-12-31 23:59:59",severity="Error",attack_type="SQL-Injection",src_port="51233",dest_port="443",dest_ip="10.1.2.3",uri="/products.php"`, "1969-12-31T23:59:59Z", "past"},
		{"<134>1 " + start.Format(time.RFC3339Nano) + " hostgood app - - - good RFC 5424 line", "", ""},
		{fmt.Sprintf("<134>1 %d.%09d MX84 flows src=192.168.1.11:51514 dst=93.184.216.34:443 protocol=tcp sport=51514 dport=443 pattern: allow all", start.Unix(), start.Nanosecond()), "", ""},
		{"<134>" + hdr + " hostgood3164 app: good RFC 3164 line", "", ""},
	}
	slSender := newUDPSender(t)
	for _, l := range lines {
		slSender.send(ps.SyslogUDP, []byte(l.line))
	}

	wantCounts := map[string]float64{
		`sluice_pipeline_events_time_out_of_range_total{direction="past",input="netflow"}`:   perExporter,
		`sluice_pipeline_events_time_out_of_range_total{direction="future",input="netflow"}`: perExporter,
		`sluice_pipeline_events_time_out_of_range_total{direction="past",input="syslog"}`:    3,
		`sluice_pipeline_events_time_out_of_range_total{direction="future",input="syslog"}`:  1,
	}
	total := float64(len(clocks)*perExporter + len(lines))
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := s.metrics()
		done := true
		for k, v := range wantCounts {
			if m[k] != v {
				done = false
			}
		}
		if out, _ := metricSum(m, `sluice_output_events_total{output="file"}`); out != total {
			done = false
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters not reached within 15s; want %v and %v events written, have:\n%s\n%s", wantCounts, total,
				metricLines(m, "sluice_pipeline_events_time_out_of_range_total"), metricLines(m, "sluice_output_events_total"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	end := time.Now().UTC()

	// Only the days the test ran on have files.
	days := map[string]bool{start.Format("2006.01.02"): true, end.Format("2006.01.02"): true}
	ents, err := os.ReadDir(s.opts.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	fileName := regexp.MustCompile(`^sluice-(flows|syslog)-(\d{4}\.\d{2}\.\d{2})\.ndjson$`)
	for _, e := range ents {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("output dir has %q, want only daily flows/syslog files", e.Name())
			continue
		}
		if !days[m[2]] {
			t.Errorf("output dir has %s, a day the test did not run on (%v)", e.Name(), days)
		}
	}

	check := func(d doc, orig string) {
		t.Helper()
		ts, err := d.time("@timestamp")
		if err != nil {
			t.Errorf("%s: @timestamp: %v", d.File, err)
			return
		}
		tagged := strings.Contains(d.str("tags"), "_time_out_of_range")
		if orig == "" {
			if tagged || d.str("sluice.original_timestamp") != "" {
				t.Errorf("good event tagged or with an original time: %s", d.Raw)
			}
			return
		}
		if !tagged || d.str("sluice.original_timestamp") != orig {
			t.Errorf("bad event: want tag _time_out_of_range and sluice.original_timestamp %s:\n%s", orig, d.Raw)
		}
		if d.str("@timestamp") != d.str("event.created") {
			t.Errorf("bad event: @timestamp %s is not the receive time (event.created %s)", d.str("@timestamp"), d.str("event.created"))
		}
		if ts.Before(start.Add(-time.Second)) || ts.After(end.Add(time.Second)) {
			t.Errorf("bad event: @timestamp %s not within the test's run %s..%s", ts, start, end)
		}
	}

	flows := readGlobDocs(t, s.opts.OutDir+"/sluice-flows-*.ndjson")
	if len(flows) != len(clocks)*perExporter {
		t.Errorf("%d flow documents, want %d", len(flows), len(clocks)*perExporter)
	}
	nBad := 0
	for _, d := range flows {
		orig := wantOrig[d.str("destination.ip")]
		if orig != "" {
			nBad++
		}
		check(d, orig)
	}
	if nBad != 2*perExporter {
		t.Errorf("%d bad flow documents found, want %d", nBad, 2*perExporter)
	}

	syslog := syslogDocs(t, s.opts.OutDir)
	if len(syslog) != len(lines) {
		t.Errorf("%d syslog documents, want %d", len(syslog), len(lines))
	}
	found := 0
	for _, l := range lines {
		for _, d := range syslog {
			msg := d.str("message")
			if msg == "" || !strings.Contains(l.line, msg) {
				continue
			}
			found++
			check(d, l.orig)
		}
	}
	if found != len(lines) {
		t.Errorf("matched %d of %d syslog lines to documents", found, len(lines))
	}

	// The warnings name the sender, its offset and the fix, once per sender
	// and input here (rate-limited).
	logText := s.logTail(1000)
	for _, want := range []string{"input=netflow", "input=syslog"} {
		re := regexp.MustCompile(`level=WARN msg="event time out of range[^\n]*sender=127\.0\.0\.1 ` + want + `[^\n]*offset=[^\n]*fix="check the device's clock and NTP, or raise (netflow|syslog)\.max_(past|future)"`)
		if n := len(re.FindAllString(logText, -1)); n != 1 {
			t.Errorf("%d warnings for sender 127.0.0.1 %s, want 1; log:\n%s", n, want, logText)
		}
	}
}
