package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/estest"
)

// wrongClocks is what sendWrongClocks sent and what sluice must make of it.
type wrongClocks struct {
	start    time.Time                     // receive times are after it
	flowOrig map[string]string             // flow destination.ip (one per exporter) -> sluice.original_timestamp (bad flows)
	lines    []struct{ line, orig string } // syslog lines; orig "" for good ones
	counts   map[string]float64            // the time check's counters
	flows    int
	badFlows int
}

// sendWrongClocks sends NetFlow v9 from exporters whose clocks say 1970,
// 2100 and now, NetFlow v5 from 1970 and IPFIX from 2100, and syslog lines dated 1969-12-31 (RFC 5424 header, and an
// F5 ASM date the parser reads from the message), year 9999, a Meraki epoch
// of 0 and now (RFC 5424, Meraki, RFC 3164).
func sendWrongClocks(t *testing.T, ps ports) wrongClocks {
	t.Helper()
	w := wrongClocks{start: time.Now().UTC(), flowOrig: map[string]string{}}

	// One exporter per clock; the sysUptime-relative flow times follow the
	// header's clock. 2100 still fits v9's 32-bit unix seconds.
	const perExporter = 20
	// Beside them a NetFlow v5 exporter in 1970 and an IPFIX one (absolute
	// flow times) in 2100 on the ipfix listener.
	clocks := []struct {
		now   time.Time
		bad   bool
		proto string
	}{
		{time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), true, "v9"},
		{time.Date(2100, 6, 1, 12, 0, 0, 0, time.UTC), true, "v9"},
		{w.start, false, "v9"},
		{time.Date(1970, 1, 3, 0, 0, 0, 0, time.UTC), true, "v5"},
		{time.Date(2100, 6, 2, 12, 0, 0, 0, time.UTC), true, "ipfix"},
	}
	nf := newUDPSender(t)
	for i, c := range clocks {
		ex := &exporter{Boot: c.now.Add(-time.Hour), SourceID: uint32(100 + i)}
		flows := testFlows(perExporter, byte(10+i), c.now.Add(-time.Second))
		switch c.proto {
		case "v9":
			nf.send(ps.NetFlow, ex.v9Packet(c.now, 1+len(flows), templateSet(v9Template, 256, v9Fields4), ex.dataSet(256, v9Fields4, flows)))
		case "v5":
			nf.send(ps.NetFlow, ex.v5Packet(c.now, 0, flows))
		case "ipfix":
			nf.send(ps.IPFIX, ex.ipfixPacket(c.now, len(flows), templateSet(ipfixTmpl, 256, ipfixFields4), ex.dataSet(256, ipfixFields4, flows)))
		}
		if c.bad {
			for _, f := range flows {
				w.flowOrig[f.Dst.String()] = f.End.UTC().Format("2006-01-02T15:04:05Z")
			}
			w.badFlows += len(flows)
		}
		w.flows += len(flows)
	}

	hdr := w.start.Format("Jan _2 15:04:05")
	w.lines = []struct{ line, orig string }{
		{"<134>1 1969-12-31T23:59:59Z host1969 app - - - dated 1969", "1969-12-31T23:59:59Z"},
		{"<134>1 9999-12-31T23:59:59.999Z host9999 app - - - dated 9999", "9999-12-31T23:59:59.999Z"},
		{"<134>1 0.000000000 MX84 flows src=192.168.1.10:51514 dst=93.184.216.34:443 protocol=tcp sport=51514 dport=443 pattern: allow all", "1970-01-01T00:00:00Z"},
		{`<131>` + hdr + ` bigip-dmz1 ASM:unit_hostname="bigip-dmz1",management_ip_address="10.0.0.7",request_status="blocked",ip_client="203.0.113.66",method="POST",date_time="1969-12-31 23:59:59",severity="Error",attack_type="SQL-Injection",src_port="51233",dest_port="443",dest_ip="10.1.2.3",uri="/products.php"`, "1969-12-31T23:59:59Z"},
		{"<134>1 " + w.start.Format(time.RFC3339Nano) + " hostgood app - - - good RFC 5424 line", ""},
		{fmt.Sprintf("<134>1 %d.%09d MX84 flows src=192.168.1.11:51514 dst=93.184.216.34:443 protocol=tcp sport=51514 dport=443 pattern: allow all", w.start.Unix(), w.start.Nanosecond()), ""},
		{"<134>" + hdr + " hostgood3164 app: good RFC 3164 line", ""},
	}
	sl := newUDPSender(t)
	for _, l := range w.lines {
		sl.send(ps.SyslogUDP, []byte(l.line))
	}
	w.counts = map[string]float64{
		`sluice_pipeline_events_time_out_of_range_total{direction="past",input="netflow"}`:   2 * perExporter,
		`sluice_pipeline_events_time_out_of_range_total{direction="future",input="netflow"}`: 2 * perExporter,
		`sluice_pipeline_events_time_out_of_range_total{direction="past",input="syslog"}`:    3,
		`sluice_pipeline_events_time_out_of_range_total{direction="future",input="syslog"}`:  1,
	}
	return w
}

// waitCounted polls /metrics until the time check's counters and the
// output's event count (output "file" or "elasticsearch") are reached.
func (w wrongClocks) waitCounted(t *testing.T, s *sluiceProc, output string) {
	t.Helper()
	total := float64(w.flows + len(w.lines))
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := s.metrics()
		done := true
		for k, v := range w.counts {
			if m[k] != v {
				done = false
			}
		}
		if out, _ := metricSum(m, `sluice_output_events_total{output="`+output+`"}`); out != total {
			done = false
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters not reached within 30s; want %v and %v events written, have:\n%s\n%s", w.counts, total,
				metricLines(m, "sluice_pipeline_events_time_out_of_range_total"), metricLines(m, "sluice_output_events_total"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkDays fails for every name (file or index) whose day is not one the
// test ran on.
func (w wrongClocks) checkDays(t *testing.T, end time.Time, names []string, pattern *regexp.Regexp) {
	t.Helper()
	days := map[string]bool{w.start.Format("2006.01.02"): true, end.Format("2006.01.02"): true}
	if len(names) == 0 {
		t.Errorf("no files or indices at all")
	}
	for _, n := range names {
		m := pattern.FindStringSubmatch(n)
		if m == nil {
			t.Errorf("unexpected file or index %q (want %s)", n, pattern)
			continue
		}
		if !days[m[len(m)-1]] {
			t.Errorf("%s is for a day the test did not run on (%v)", n, days)
		}
	}
}

// checkDocs checks every flow and syslog document: bad ones dated with
// their receive time, tagged, their own time kept; good ones untouched.
func (w wrongClocks) checkDocs(t *testing.T, end time.Time, flows, syslog []doc) {
	t.Helper()
	check := func(d doc, orig string) {
		t.Helper()
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
		ts, err := d.time("@timestamp")
		if err != nil || ts.Before(w.start.Add(-time.Second)) || ts.After(end.Add(time.Second)) {
			t.Errorf("bad event: @timestamp %s (%v) not within the test's run %s..%s", d.str("@timestamp"), err, w.start, end)
		}
	}
	if len(flows) != w.flows {
		t.Errorf("%d flow documents, want %d", len(flows), w.flows)
	}
	nBad := 0
	for _, d := range flows {
		orig := w.flowOrig[d.str("destination.ip")]
		if orig != "" {
			nBad++
		}
		check(d, orig)
	}
	if nBad != w.badFlows {
		t.Errorf("%d bad flow documents found, want %d", nBad, w.badFlows)
	}
	if len(syslog) != len(w.lines) {
		t.Errorf("%d syslog documents, want %d", len(syslog), len(w.lines))
	}
	found := 0
	for _, l := range w.lines {
		for _, d := range syslog {
			if msg := d.str("message"); msg != "" && strings.Contains(l.line, msg) {
				found++
				check(d, l.orig)
			}
		}
	}
	if found != len(w.lines) {
		t.Errorf("matched %d of %d syslog lines to documents", found, len(w.lines))
	}
}

// TestTimeOutOfRange: devices with wrong clocks must not create daily files
// for wrong days. Only the days sluice received the events on get files,
// every bad event is dated with its receive time, tagged, keeps its own
// time in sluice.original_timestamp and is counted per input and
// direction, and the sender is named in one warning per input.
func TestTimeOutOfRange(t *testing.T) {
	ps := newPorts(t)
	// The parsers read F5 dates in syslog.timezone.
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_SYSLOG_TIMEZONE=UTC"}})
	w := sendWrongClocks(t, ps)
	w.waitCounted(t, s, "file")
	s.stop()
	end := time.Now().UTC()

	ents, err := os.ReadDir(s.opts.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	w.checkDays(t, end, names, regexp.MustCompile(`^sluice-(?:flows|syslog)-(\d{4}\.\d{2}\.\d{2})\.ndjson$`))
	w.checkDocs(t, end, readGlobDocs(t, filepath.Join(s.opts.OutDir, "sluice-flows-*.ndjson")), syslogDocs(t, s.opts.OutDir))

	logText := s.logTail(1000)
	for _, want := range []string{"input=netflow", "input=syslog"} {
		re := regexp.MustCompile(`level=WARN msg="event time out of range[^\n]*sender=127\.0\.0\.1 ` + want + `[^\n]*offset=[^\n]*fix="check the device's clock and NTP, or raise (netflow|syslog)\.max_(past|future)"`)
		if n := len(re.FindAllString(logText, -1)); n != 1 {
			t.Errorf("%d warnings for sender 127.0.0.1 %s, want 1; log:\n%s", n, want, logText)
		}
	}
}

// TestTimeOutOfRangeElasticsearch: the same through a real node: only
// today's indices are created, and the node takes sluice.original_timestamp
// (years 1969 to 9999) as the date the template maps.
func TestTimeOutOfRangeElasticsearch(t *testing.T) {
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluicetime")
	esCleanup(t, url, prefix)
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: append(esEnv(url, prefix), "SLUICE_SYSLOG_TIMEZONE=UTC")})
	w := sendWrongClocks(t, ps)
	w.waitCounted(t, s, "elasticsearch")
	s.stop()
	end := time.Now().UTC()

	status, body := estest.Do(t, http.MethodGet, url+"/_cat/indices/"+prefix+"-*?h=index&format=json", "")
	if status != http.StatusOK {
		t.Fatalf("_cat/indices: %d %s", status, body)
	}
	var cat []struct{ Index string }
	if err := json.Unmarshal(body, &cat); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cat {
		names = append(names, c.Index)
	}
	sort.Strings(names)
	w.checkDays(t, end, names, regexp.MustCompile(`^`+regexp.QuoteMeta(prefix)+`-(?:flows|syslog)-(\d{4}\.\d{2}\.\d{2})$`))

	var flows, syslog []doc
	for _, docs := range esDocs(t, url, prefix+"-flows-*") {
		flows = append(flows, docs...)
	}
	for _, docs := range esDocs(t, url, prefix+"-syslog-*") {
		syslog = append(syslog, docs...)
	}
	w.checkDocs(t, end, flows, syslog)

	// A range query on the field finds the 1969/1970 events: it is a date.
	status, body = estest.Do(t, http.MethodPost, url+"/"+prefix+"-*/_count",
		`{"query":{"range":{"sluice.original_timestamp":{"lt":"1971-01-01T00:00:00Z"}}}}`)
	if status != http.StatusOK {
		t.Fatalf("_count: %d %s", status, body)
	}
	var c struct{ Count int }
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if want := 2*w.flows/5 + 3; c.Count != want {
		t.Errorf("documents with sluice.original_timestamp before 1971: %d, want %d (v9 and v5 1970 flows, 1969 and epoch-0 lines)", c.Count, want)
	}
}
