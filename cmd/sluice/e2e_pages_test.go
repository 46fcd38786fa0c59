package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sluicelab/sluice/internal/estest"
)

// The console's pages in a real browser (Debian's chromium, headless,
// through chromedp) against a real `sluice run` fed with NetFlow v5 and
// vendor syslog over UDP: each view loads without a JavaScript error, its
// numbers equal counts computed from the NDJSON files sluice wrote, filters
// and time ranges change them, a bad filter shows the API's message, the
// live tail shows a line sent after the page opened, and hostile values
// stay text. Once with the rollups as the console's store, once with
// Elasticsearch.

// hostileHost is a syslog HOSTNAME (no spaces allowed there) that is
// markup; hostileMsg a message that closes a script and opens an image.
const (
	hostileHost = `<img/src=x/onerror=alert(1)>`
	hostileMsg  = `hostile </script><img src=x onerror=alert(2)> end`
)

// requireChromium returns the browser's path; without it the test fails
// under CI=true and skips (saying why) otherwise.
func requireChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found in PATH; install Debian package chromium (scripts/test does: apt-get install chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("skipped, the console's browser tests need a browser (CI=true makes this a failure): " + msg)
	return ""
}

// artifactsDir is where screenshots go: $SLUICE_TEST_ARTIFACTS/<test>, or
// a temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SLUICE_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots of the console in %s", dir)
	return dir
}

// browser is one headless chromium tab that records every JavaScript
// exception, console error, error log entry and dialog.
type browser struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
	mu        sync.Mutex
	problems  []string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := requireChromium(t)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900), chromedp.DisableGPU)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run its sandbox as root
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, base: base, artifacts: artifactsDir(t)}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	return b
}

func (b *browser) listen(ev any) {
	var p string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		p = "exception: " + d.Text
		if d.Exception != nil {
			p += " " + d.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			p = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
		}
	case *cdplog.EventEntryAdded:
		en := e.Entry
		// The API's 400 for a bad filter is an answer the page shows.
		if (en.Level == cdplog.EntryLevelError || en.Level == cdplog.EntryLevelWarning) && !(en.Source == cdplog.EntrySourceNetwork && strings.Contains(en.Text, "status of 400")) {
			p = fmt.Sprintf("log %s %s: %s %s", en.Source, en.Level, en.Text, en.URL)
		}
	case *page.EventJavascriptDialogOpening:
		p = "a dialog opened (script ran): " + e.Message
		go chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false}) //nolint:errcheck // the test fails anyway
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// checkClean fails the test for every problem recorded since the last call.
func (b *browser) checkClean(step string) {
	b.t.Helper()
	b.mu.Lock()
	ps := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, p := range ps {
		b.t.Errorf("%s: %s", step, p)
	}
}

// open shows the console with the state in hash (view=...&range=...).
func (b *browser) open(hash string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+"/#"+hash), chromedp.WaitVisible("main#view .panel")); err != nil {
		b.t.Fatalf("open #%s: %v", hash, err)
	}
}

// wait polls the JavaScript expression until it is truthy and returns its
// value; it fails the test after 20 s, showing what diag evaluates to.
func wait[T any](b *browser, what, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('main') ? document.querySelector('main').innerText.slice(0, 3000) : ''`))
		ferr, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('filter-error').textContent`))
		b.t.Fatalf("%s: waiting for %s: %v\nfilter error: %q\npage:\n%s", what, expr, err, ferr, body)
	}
	return v
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// statValue waits for the stat card id of the view shown and returns its
// raw number.
func (b *browser) statValue(id string) float64 {
	b.t.Helper()
	s := wait[string](b, "stat "+id, fmt.Sprintf(`(document.querySelector('[data-stat=%q]') || {dataset: {}}).dataset.value`, id))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		b.t.Fatalf("stat %s = %q", id, s)
	}
	return f
}

// topRow is the first row of a table panel.
type topRow struct {
	Key   string  `json:"key"`
	Value float64 `json:"value,string"`
	Rows  int     `json:"rows"`
	Total float64 `json:"total,string"`
	Msg   string  `json:"msg"` // the panel's message when it has no rows
}

// firstRow waits for the top table of panel and returns its first row.
func (b *browser) firstRow(panel string) topRow {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const p = document.querySelector('[data-panel=%q]');
		if (!p) return null;
		const tr = p.querySelector('table.top tbody tr');
		if (!tr) {
			const e = p.querySelector('.perr') || p.querySelector('.note');
			if (!e || e.textContent.startsWith('loading')) return null;
			return {key: '', value: '0', rows: 0, total: '0', msg: e.textContent};
		}
		return {key: tr.dataset.key, value: tr.querySelector('td.num').dataset.value, rows: p.querySelectorAll('table.top tbody tr').length,
			total: p.querySelector('[data-total]').dataset.value};
	})()`, panel)
	return wait[topRow](b, "table "+panel, js)
}

// screenshot writes the page as name.png, at the desktop width and at a
// phone's.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	for _, vp := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"", 1280, 900, false}, {"-phone", 390, 844, true}} {
		opts := []chromedp.EmulateViewportOption{}
		if vp.mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(1))
		}
		if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(vp.w, vp.h, opts...)); err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		// The charts take the width of their panel when drawn: draw them
		// again at this width (a resize of the window does the same).
		if err := chromedp.Do(b.ctx, chromedp.Reload(), chromedp.WaitVisible("main#view .panel")); err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		wait[bool](b, "screenshot "+name, `document.documentElement.dataset.pending === '0'`)
		if vp.mobile {
			// The narrow layout: one column, nothing wider than the screen.
			if w := eval[int](b, `document.documentElement.scrollWidth`); w > int(vp.w) {
				b.t.Errorf("%s at %d px wide: the page is %d px wide", name, vp.w, w)
			}
			if cols := eval[string](b, `getComputedStyle(document.getElementById('view')).gridTemplateColumns`); strings.Contains(strings.TrimSpace(cols), " ") {
				b.t.Errorf("%s at %d px wide: %q columns, want one", name, vp.w, cols)
			}
		}
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(b.artifacts, name+vp.suffix+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		b.t.Fatal(err)
	}
}

// pagesData is what the test sends: NetFlow v5 flows and syslog lines,
// most 3 minutes old (so the rollups have closed their minute), some 3
// hours old (outside a 1 h range, inside 6 h).
func sendPagesData(t *testing.T, ps ports, now time.Time) (nFlows, nLines int) {
	t.Helper()
	recent, old := now.Add(-3*time.Minute), now.Add(-3*time.Hour)
	e := &exporter{Boot: now.Add(-5 * time.Hour)}
	s := newUDPSender(t)
	ports := []uint16{443, 443, 53, 22, 443, 8443}
	var flows []flowRec
	for i := range 60 {
		src := [4]byte{198, 51, 100, 1}
		switch {
		case i%6 >= 5:
			src[3] = 3
		case i%6 >= 3:
			src[3] = 2
		}
		proto := uint8(6)
		if ports[i%len(ports)] == 53 {
			proto = 17
		}
		flows = append(flows, flowRec{Src: netip.AddrFrom4(src), Dst: netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i%4)}),
			SPort: uint16(40000 + i), DPort: ports[i%len(ports)], Proto: proto, Bytes: uint64(1000 + 10*i), Pkts: uint64(1 + i%7),
			Start: recent.Add(-5 * time.Second), End: recent})
	}
	for i := 0; i < len(flows); i += 20 {
		s.send(ps.NetFlow, e.v5Packet(recent, 0, flows[i:i+20]))
	}
	var oldFlows []flowRec
	for i := range 7 {
		oldFlows = append(oldFlows, flowRec{Src: netip.MustParseAddr("192.0.2.99"), Dst: netip.MustParseAddr("203.0.113.99"),
			SPort: uint16(50000 + i), DPort: 8080, Proto: 6, Bytes: 500, Pkts: 2, Start: old.Add(-time.Second), End: old})
	}
	s.send(ps.NetFlow, e.v5Packet(old, 0, oldFlows))

	epoch := func(tm time.Time) string { return fmt.Sprintf("%d.%09d", tm.Unix(), tm.Nanosecond()) }
	rfc := func(tm time.Time) string { return tm.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }
	bsd := recent.UTC().Format(time.Stamp)
	f5dt := recent.UTC().Format("2006-01-02 15:04:05")
	var lines []string
	for range 3 {
		lines = append(lines, "<134>1 "+epoch(recent)+" MX84 flows src=203.0.113.77 dst=192.0.2.10 protocol=tcp sport=40112 dport=23 pattern: 1 all")
	}
	for range 2 {
		lines = append(lines, "<134>1 "+epoch(recent)+" MX84 flows deny src=198.51.100.50 dst=192.0.2.10 mac=00:1A:2B:3C:4D:5E protocol=tcp sport=51000 dport=22")
	}
	for range 4 {
		lines = append(lines, "<134>1 "+epoch(recent)+" MX84 flows allow src=10.20.30.40 dst=198.51.100.25 mac=00:1A:2B:3C:4D:5E protocol=tcp sport=51514 dport=443")
	}
	for range 2 {
		lines = append(lines, "<4>"+rfc(recent)+" fw01 kernel: [1715634.194782] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:1b:21:aa:bb:cc:08:00 SRC=198.51.100.9 DST=192.0.2.20 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=3851 DF PROTO=TCP SPT=44308 DPT=3389 WINDOW=64240 RES=0x00 SYN URGP=0")
	}
	asm := func(status, attack, rating, client, uri string) string {
		return "<131>" + bsd + ` bigip-dmz1 ASM:unit_hostname="bigip-dmz1",management_ip_address="10.0.0.7",http_class_name="/Common/shop",web_application_name="/Common/shop",policy_name="/Common/shop",violations="Attack signature detected",support_id="4429861082520419386",request_status="` + status +
			`",response_code="0",ip_client="` + client + `",route_domain="0",method="POST",protocol="HTTPS",query_string="id=1",x_forwarded_for_header_value="N/A",sig_ids="200002147",sig_names="SQL-INJ expressions like or 1=1 (3)",date_time="` + f5dt +
			`",severity="Error",attack_type="` + attack + `",geo_location="NL",ip_address_intelligence="N/A",username="N/A",session_id="9d2c0a17b5e4f301",src_port="51233",dest_port="443",dest_ip="10.1.2.3",sub_violations="",virus_name="N/A",violation_rating="` + rating +
			`",vs_name="/Common/vs_shop_443",uri="` + uri + `",request="POST ` + uri + ` HTTP/1.1\r\nHost: shop.example.com\r\n"`
	}
	lines = append(lines,
		asm("blocked", "SQL-Injection", "5", "203.0.113.66", "/products.php"),
		asm("blocked", "SQL-Injection", "5", "203.0.113.66", "/products.php"),
		asm("blocked", "Cross Site Scripting (XSS)", "4", "203.0.113.67", "/search"),
		asm("passed", "SQL-Injection", "2", "10.20.0.5", "/products.php"),
		"<14>1 "+rfc(recent)+" "+hostileHost+" app - - - "+hostileMsg,
		"<131>"+bsd+" bigip-dmz1 ASM: remote logging profile restarted", // no ASM fields: a parse failure
		"<11>1 "+rfc(recent)+" web01 nginx - - - upstream timed out",
		"<14>1 "+rfc(old)+" web01 nginx - - - an old line",
		"<14>1 "+rfc(old)+" web01 nginx - - - another old line",
	)
	// Resolver query logs (dnsmasq, unbound, BIND): DNS events that are
	// syslog lines too. login.evil.example is on the blocklist, the
	// random name scores as a DGA, 8.8.8.8 is no allowed resolver.
	for i := range 6 {
		lines = append(lines, fmt.Sprintf("<30>%s pihole dnsmasq[1234]: query[A] www.example.com from 10.9.0.%d", bsd, 1+i%2))
	}
	for range 3 {
		lines = append(lines, "<30>"+bsd+" pihole dnsmasq[1234]: query[AAAA] mail.example.com from 10.9.0.2")
	}
	for range 2 {
		lines = append(lines, "<30>"+bsd+" pihole dnsmasq[1234]: query[A] login.evil.example from 10.9.0.3")
	}
	for i := range 4 {
		lines = append(lines, fmt.Sprintf("<30>%s resolver unbound: [1234:0] info: 10.9.0.2 xkqjzvbwplmnrtd%d.com. A IN NXDOMAIN 0.000123 0 45", bsd, i))
	}
	lines = append(lines, "<30>"+bsd+" resolver unbound: [1234:0] info: 10.9.0.4 nope.example.org. A IN NXDOMAIN 0.000123 0 45")
	for i := range 3 {
		lines = append(lines, fmt.Sprintf("<30>%s ns1 named[555]: client @0x7f3a2c0a1b50 10.9.0.5#5321%d (example.org): query: example.org IN A +E(0)K (8.8.8.8)", bsd, i))
	}
	for _, l := range lines {
		s.send(ps.SyslogUDP, []byte(l))
	}
	return len(flows) + len(oldFlows), len(lines)
}

// pagesCounts are the numbers the pages must show, from the files.
type pagesCounts struct {
	flows1h, flowsAll    int
	bytes1h, flowsOld    int
	srcBytes             map[string]int
	topSrc               string
	topSrcN              int
	port53               int
	syslog1h, syslogAll  int
	meraki1h             int
	denied, allowed      int
	deniedPorts          map[string]int
	waf                  int
	attackTypes          map[string]int
	failTags             map[string]int
	failDatasets         map[string]int
	hostileSeen          bool
	topHostN             int
	topHosts             []string
	newestSyslogMessages []string
	// DNS events (syslog resolver logs and Beats) of the last hour
	dns1h, nx                               int
	regDomains, nxClients, suspicious       map[string]int
	unsanctioned, dnsDatasets, dnsProcesses map[string]int
	rcodes                                  map[string]int
	reasons                                 map[string]string // of the suspicious names
	beatsAll                                int
}

var (
	deniedActions  = []string{"deny", "denied", "block", "blocked", "drop", "dropped", "reject", "rejected"}
	allowedActions = []string{"allow", "allowed", "accept", "accepted", "pass", "passed", "permit", "permitted"}
)

func countPages(t *testing.T, out, index string, now time.Time) pagesCounts {
	t.Helper()
	c := pagesCounts{deniedPorts: map[string]int{}, attackTypes: map[string]int{}, failTags: map[string]int{}, failDatasets: map[string]int{}, srcBytes: map[string]int{},
		regDomains: map[string]int{}, nxClients: map[string]int{}, suspicious: map[string]int{}, unsanctioned: map[string]int{},
		dnsDatasets: map[string]int{}, dnsProcesses: map[string]int{}, rcodes: map[string]int{}, reasons: map[string]string{}}
	// Each file is read once: the counts of one call agree.
	syslogDocs := readGlobDocs(t, filepath.Join(out, index+"-syslog-*.ndjson"))
	beats := readGlobDocs(t, filepath.Join(out, index+"-beats-*.ndjson"))
	c.beatsAll = len(beats)
	for _, d := range append(slices.Clone(syslogDocs), beats...) {
		name := d.str("dns.question.name")
		ts, err := d.time("@timestamp")
		if err != nil {
			t.Fatal(err)
		}
		if name == "" || ts.Before(now.Add(-time.Hour)) {
			continue
		}
		c.dns1h++
		c.regDomains[d.str("dns.question.registered_domain")]++
		c.rcodes[d.str("dns.response_code")]++
		if d.str("dns.response_code") == "NXDOMAIN" {
			c.nx++
			c.nxClients[d.str("source.ip")]++
		}
		if score, _ := d.num("sluice.dns.score"); score >= 50 {
			c.suspicious[name]++
			c.reasons[name] = d.str("sluice.dns.reasons")
		}
		if d.str("sluice.dns.unsanctioned_resolver") == "true" {
			c.unsanctioned[d.str("destination.ip")]++
		}
		c.dnsDatasets[d.str("event.dataset")]++
		if p := d.str("process.name"); p != "" {
			c.dnsProcesses[p]++
		}
	}
	from := now.Add(-time.Hour)
	srcs := map[string]int{}
	for _, d := range readGlobDocs(t, filepath.Join(out, index+"-flows-*.ndjson")) {
		c.flowsAll++
		ts, err := d.time("@timestamp")
		if err != nil {
			t.Fatal(err)
		}
		if ts.Before(from) {
			c.flowsOld++
			continue
		}
		c.flows1h++
		if n, ok := d.num("network.bytes"); ok {
			c.bytes1h += int(n)
			c.srcBytes[d.str("source.ip")] += int(n)
		}
		srcs[d.str("source.ip")]++
		if d.str("destination.port") == "53" {
			c.port53++
		}
	}
	for k, n := range srcs {
		if n > c.topSrcN {
			c.topSrc, c.topSrcN = k, n
		}
	}
	hosts := map[string]int{}
	for _, d := range syslogDocs {
		c.syslogAll++
		ts, err := d.time("@timestamp")
		if err != nil {
			t.Fatal(err)
		}
		if ts.Before(from) {
			continue
		}
		c.syslog1h++
		hosts[d.str("host.hostname")]++
		if d.str("host.hostname") == hostileHost {
			c.hostileSeen = true
		}
		if d.str("event.dataset") == "meraki.flows" {
			c.meraki1h++
		}
		a := d.str("event.action")
		switch {
		case slices.Contains(deniedActions, a):
			c.denied++
			c.deniedPorts[d.str("destination.port")]++
		case slices.Contains(allowedActions, a):
			c.allowed++
		}
		if tags, ok := d.get("tags"); ok {
			for _, tag := range tags.([]any) {
				if s, _ := tag.(string); slices.Contains([]string{"_grokparsefailure", "_syslogheaderfailure", "_field_conversion_failure"}, s) {
					c.failTags[s]++
					c.failDatasets[d.str("event.dataset")]++
				}
			}
		}
		if d.str("event.dataset") == "f5.asm" {
			c.waf++
			if at := d.str("f5.asm.attack_type"); at != "" {
				c.attackTypes[at]++
			}
		}
	}
	for h, n := range hosts {
		switch {
		case n > c.topHostN:
			c.topHostN, c.topHosts = n, []string{h}
		case n == c.topHostN:
			c.topHosts = append(c.topHosts, h)
		}
	}
	return c
}

// sum returns the sum of m's counts.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// maxKeys returns the keys of m with the largest count, and that count.
func maxKeys(m map[string]int) ([]string, int) {
	var keys []string
	best := 0
	for k, n := range m {
		switch {
		case n > best:
			best, keys = n, []string{k}
		case n == best:
			keys = append(keys, k)
		}
	}
	return keys, best
}

// waitPagesData polls the files until every document sent is there (the
// file output flushes every second).
func waitPagesData(t *testing.T, out, index string, now time.Time, nFlows, nLines, nBeats int) pagesCounts {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := countPages(t, out, index, now)
		if c.flowsAll == nFlows && c.syslogAll == nLines && c.beatsAll == nBeats {
			return c
		}
		if time.Now().After(deadline) {
			var got []string
			for _, d := range readGlobDocs(t, filepath.Join(out, index+"-syslog-*.ndjson")) {
				got = append(got, d.str("event.dataset")+" "+d.str("host.hostname")+" "+d.str("@timestamp"))
			}
			t.Fatalf("after 20 s the files hold %d flows (sent %d), %d syslog lines (sent %d) and %d Beats documents (sent %d):\n%s", c.flowsAll, nFlows, c.syslogAll, nLines, c.beatsAll, nBeats, strings.Join(got, "\n"))
		}
		time.Sleep(100 * time.Millisecond) // polling interval of a deadline loop
	}
}

// waitStoreTotal polls /api/v1/top over the last 6 hours until its total
// of kind is want.
func waitStoreTotal(t *testing.T, s *sluiceProc, kind, metric, dim string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var top struct{ Total float64 }
		resp, err := httpClient.Get(s.url("/api/v1/top?kind=" + kind + "&metric=" + metric + "&dim=" + dim + "&from=now-6h&to=now"))
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&top)
			resp.Body.Close()
		}
		if err == nil && top.Total == float64(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console's store counts %v %s (%v) after 30 s, sent %d", top.Total, kind, err, want)
		}
		time.Sleep(100 * time.Millisecond) // polling interval of a deadline loop
	}
}

// apiError returns the API's error message for path.
func apiError(t *testing.T, base, path string) string {
	t.Helper()
	resp, err := httpClient.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != 400 {
		t.Fatalf("GET %s = %d %s, want 400 with an error", path, resp.StatusCode, b)
	}
	return e.Error
}

// pagesDNSConfig writes the DNS checks' configuration of the pages tests:
// a blocklist and the one allowed resolver.
func pagesDNSConfig(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "blocklist.txt")
	writeTestFile(t, list, "evil.example\n")
	conf := filepath.Join(dir, "sluice.yaml")
	writeTestFile(t, conf, fmt.Sprintf("dns:\n  allowed_resolvers: [192.0.2.53/32]\n  blocklists:\n    - {name: pages, path: %q, format: plain}\n", list))
	return []string{"--config", conf}
}

func TestConsolePagesRollups(t *testing.T) {
	requireChromium(t)
	ps := newPorts(t)
	bp := freeTCPPort(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Args: pagesDNSConfig(t), Env: []string{fmt.Sprintf("SLUICE_BEATS_LISTEN=127.0.0.1:%d", bp)}})
	runPagesSuite(t, s, ps, fmt.Sprintf("127.0.0.1:%d", bp), "rollups", "sluice", nil)
}

func TestConsolePagesElasticsearch(t *testing.T) {
	requireChromium(t)
	esURL := estest.URL(t)
	prefix := fmt.Sprintf("sluice-pages-%d", time.Now().UnixNano())
	esCleanup(t, esURL, prefix)
	ps := newPorts(t)
	bp := freeTCPPort(t)
	env := append(esEnv(esURL, prefix), fmt.Sprintf("SLUICE_BEATS_LISTEN=127.0.0.1:%d", bp),
		"SLUICE_OUTPUT_INDEX_BEATS="+prefix+"-beats-%{+yyyy.MM.dd}", "SLUICE_OUTPUT_INDEX_DNS="+prefix+"-dns-%{+yyyy.MM.dd}")
	s := startSluice(t, sluiceOpts{Ports: ps, Args: pagesDNSConfig(t), Env: env})
	// The file output names its files after the indices.
	runPagesSuite(t, s, ps, fmt.Sprintf("127.0.0.1:%d", bp), "elasticsearch", prefix, func(n int) {
		// Documents reach the index after its template is installed
		// (spooled until then) and a refresh.
		estest.WaitCount(t, esURL, prefix+"-*", n, 30*time.Second)
	})
}

func runPagesSuite(t *testing.T, s *sluiceProc, ps ports, beatsAddr, backend, index string, stored func(n int)) {
	now := time.Now().UTC()
	nFlows, nLines := sendPagesData(t, ps, now)
	// Sysmon DNS queries (event 22) of two programs over the Beats input,
	// and a Beat's document that is no DNS.
	var beats []any
	for i := range 5 {
		ev := maps.Clone(winlogbeatSysmon22)
		ev["@timestamp"] = now.Add(-3 * time.Minute).Format(time.RFC3339Nano)
		w := maps.Clone(ev["winlog"].(map[string]any))
		ed := maps.Clone(w["event_data"].(map[string]any))
		ed["Image"] = []string{`C:\Program Files\Mozilla Firefox\firefox.exe`, `C:\Windows\System32\svchost.exe`}[min(i/3, 1)]
		w["event_data"] = ed
		ev["winlog"] = w
		beats = append(beats, ev)
	}
	fb := maps.Clone(filebeatLine)
	fb["@timestamp"] = now.Add(-3 * time.Minute).Format(time.RFC3339Nano)
	beats = append(beats, fb)
	if err := sendBeats(t, beatsAddr, beats, nil); err != nil {
		t.Fatalf("lumberjack Send() = %v", err)
	}
	c := waitPagesData(t, s.opts.OutDir, index, now, nFlows, nLines, len(beats))
	if stored != nil {
		stored(nFlows + nLines + len(beats))
	}
	// The store answers for every document (the rollups close a minute on
	// their next tick) before a page asks: a page does not poll.
	waitStoreTotal(t, s, "flows", "flows", "observer.ip", nFlows)
	waitStoreTotal(t, s, "syslog", "events", "observer.ip", nLines)
	waitStoreTotal(t, s, "dns", "queries", "dns.response_code", c.dns1h)
	if !c.hostileSeen {
		t.Fatalf("the hostile hostname %q is in no document", hostileHost)
	}
	base := strings.TrimSuffix(s.url(""), "/")
	// The page runs under sluice's CSP (the browser would record a
	// violation) and is never cached.
	resp, err := httpClient.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET / = %d, headers %v", resp.StatusCode, resp.Header)
	}
	b := newBrowser(t, base)

	b.open("view=traffic&range=1h&unit=flows")
	wait[bool](b, "backend", fmt.Sprintf(`document.getElementById('backend').textContent.includes(%q)`, "store: "+backend))
	if got := b.statValue("flows"); got != float64(c.flows1h) {
		t.Errorf("traffic, 1 h: %v flows shown, the files hold %d", got, c.flows1h)
	}
	// The stores reach the same numbers by different roads: the rollups
	// sum their per-minute blocks, Elasticsearch aggregates documents.
	// Both are exact here, so the test holds them to the same counts:
	// the rollups' top-K keeps every value of this small data set, and a
	// terms aggregation over one shard is exact. With more values than
	// the top-K (rollups) or several shards (Elasticsearch) a per-value
	// number may be low; the API then says approx and the page notes it.
	if got := b.statValue("bytes"); got != float64(c.bytes1h) {
		t.Errorf("traffic, 1 h: %v bytes shown, the files hold %d", got, c.bytes1h)
	}
	row := b.firstRow("source.ip")
	if row.Key != c.topSrc || row.Value != float64(c.topSrcN) {
		t.Errorf("traffic, top talkers: first row %s = %v, the files say %s = %d", row.Key, row.Value, c.topSrc, c.topSrcN)
	}
	if row.Total != float64(c.flows1h) {
		t.Errorf("traffic, top talkers: total %v, want %d", row.Total, c.flows1h)
	}
	wait[bool](b, "chart", `document.querySelector('[data-panel=chart] canvas') !== null && document.querySelectorAll('[data-panel=chart] .legend tr').length > 0`)
	// The units: bytes instead of flows, picked in the page.
	eval[bool](b, `(() => { const u = document.getElementById('unit'); u.value = 'bytes'; u.dispatchEvent(new Event('change')); return true; })()`)
	wait[bool](b, "unit bytes", `location.hash.includes('unit=bytes') && (document.querySelector('[data-panel="source.ip"] th.num') || {}).textContent === 'bytes'`)
	srcs, n := maxKeys(c.srcBytes)
	row = b.firstRow("source.ip")
	if !slices.Contains(srcs, row.Key) || row.Value != float64(n) {
		t.Errorf("traffic in bytes: first talker %s = %v, the files say %v = %d", row.Key, row.Value, srcs, n)
	}
	eval[bool](b, `(() => { const u = document.getElementById('unit'); u.value = 'flows'; u.dispatchEvent(new Event('change')); return true; })()`)
	wait[bool](b, "unit flows", `location.hash.includes('unit=flows')`)
	b.screenshot("traffic")
	b.checkClean("traffic")

	// A wider range takes in the old flows.
	b.open("view=traffic&range=6h&unit=flows")
	if got := b.statValue("flows"); got != float64(c.flowsAll) {
		t.Errorf("traffic, 6 h: %v flows shown, the files hold %d", got, c.flowsAll)
	}
	// The previous period of 90-150 minutes ago is 150-210 minutes ago,
	// where the old flows are.
	b.open("view=traffic&range=custom&from=now-150m&to=now-90m&unit=flows")
	prev := wait[string](b, "previous period", `(document.querySelector('[data-panel=chart] [data-prev] td.num') || {dataset: {}}).dataset.value`)
	if prev != strconv.Itoa(c.flowsOld) {
		t.Errorf("traffic, previous period of 90-150 min ago: %s flows shown, the files hold %d", prev, c.flowsOld)
	}
	b.checkClean("traffic, previous period")
	b.open("view=traffic&range=6h&unit=flows")
	// Clicking a value filters on it.
	wait[bool](b, "click", fmt.Sprintf(`(() => { const v = document.querySelector('[data-panel="destination.port"] .val[data-value="53"]'); if (v) v.click(); return !!v; })()`))
	wait[bool](b, "filter set", `document.getElementById('filter').value === 'destination.port:"53"' && location.hash.includes('filter=')`)
	row = b.firstRow("destination.port")
	if row.Key != "53" || row.Value != float64(c.port53) || row.Rows != 1 {
		t.Errorf("traffic filtered on destination.port 53: first row %+v, want 53 = %d alone", row, c.port53)
	}
	b.checkClean("traffic, filtered")

	b.open("view=firewall&range=1h")
	if got := b.statValue("denied"); got != float64(c.denied) {
		t.Errorf("firewall: %v denied shown, the files hold %d", got, c.denied)
	}
	if got := b.statValue("allowed"); got != float64(c.allowed) {
		t.Errorf("firewall: %v allowed shown, the files hold %d", got, c.allowed)
	}
	ports, n := maxKeys(c.deniedPorts)
	row = b.firstRow("deny-destination.port")
	if !slices.Contains(ports, row.Key) || row.Value != float64(n) {
		t.Errorf("firewall: first denied port %s = %v, the files say %v = %d", row.Key, row.Value, ports, n)
	}
	wait[bool](b, "ratio", `!['…', '-'].includes(document.querySelector('[data-stat=ratio]').textContent)`)
	wait[bool](b, "allow/deny chart", `document.querySelector('[data-panel=allowdeny] canvas') !== null && document.querySelector('[data-panel=denyratio] canvas') !== null`)
	b.screenshot("firewall")
	b.checkClean("firewall")

	b.open("view=waf&range=1h")
	if got := b.statValue("total"); got != float64(c.waf) {
		t.Errorf("waf: %v ASM requests shown, the files hold %d", got, c.waf)
	}
	types, n := maxKeys(c.attackTypes)
	row = b.firstRow("waf-f5.asm.attack_type")
	if !slices.Contains(types, row.Key) || row.Value != float64(n) {
		t.Errorf("waf: first attack type %s = %v, the files say %v = %d", row.Key, row.Value, types, n)
	}
	b.screenshot("waf")
	b.checkClean("waf")
	// A range with nothing says so.
	b.open("view=waf&range=custom&from=now-30d&to=now-20d")
	wait[bool](b, "waf empty", `document.querySelector('[data-empty=waf]') !== null`)
	b.checkClean("waf, empty range")

	b.open("view=syslog&range=1h&unit=flows")
	if got := b.statValue("total"); got != float64(c.syslog1h) {
		t.Errorf("syslog: %v lines shown, the files hold %d", got, c.syslog1h)
	}
	row = b.firstRow("host.hostname")
	if !slices.Contains(c.topHosts, row.Key) || row.Value != float64(c.topHostN) {
		t.Errorf("syslog: first host %s = %v, the files say %v = %d", row.Key, row.Value, c.topHosts, c.topHostN)
	}
	tags, n := maxKeys(c.failTags)
	row = b.firstRow("parse-failures")
	if n == 0 || !slices.Contains(tags, row.Key) || row.Value != float64(n) {
		t.Errorf("syslog: first parse failure %s = %v, the files say %v = %d", row.Key, row.Value, tags, n)
	}
	if backend == "elasticsearch" {
		// Only Elasticsearch filters on tags while grouping by dataset;
		// the rollups filter on the field grouped by only.
		sets, n := maxKeys(c.failDatasets)
		row = b.firstRow("parse-failures-vendor")
		if !slices.Contains(sets, row.Key) || row.Value != float64(n) {
			t.Errorf("syslog: first parse failure by dataset %s = %v, the files say %v = %d", row.Key, row.Value, sets, n)
		}
	}
	// The hostile hostname is a value in the hosts table, as text.
	wait[bool](b, "hostile host shown", fmt.Sprintf(`[...document.querySelectorAll('[data-panel="host.hostname"] .val')].some(e => e.textContent === %q)`, hostileHost))
	checkNoInjection(b, "syslog")
	b.screenshot("syslog")
	b.checkClean("syslog")
	// The controls: a filter typed and applied, then a range picked; the
	// URL holds both, so a reload shows the same numbers.
	eval[bool](b, `(() => { document.getElementById('filter').value = 'event.dataset:"meraki.flows"'; document.getElementById('apply').click(); return true; })()`)
	wait[bool](b, "filter applied", `decodeURIComponent(location.hash).includes('meraki.flows')`)
	if got := b.statValue("total"); got != float64(c.meraki1h) {
		t.Errorf("syslog filtered on meraki.flows: %v lines shown, the files hold %d", got, c.meraki1h)
	}
	eval[bool](b, `(() => { document.getElementById('filter').value = ''; document.getElementById('apply').click();
		const r = document.getElementById('range'); r.value = '6h'; r.dispatchEvent(new Event('change')); return true; })()`)
	wait[bool](b, "range picked", `location.hash.includes('range=6h') && !location.hash.includes('filter=')`)
	if got := b.statValue("total"); got != float64(c.syslogAll) {
		t.Errorf("syslog, 6 h: %v lines shown, the files hold %d", got, c.syslogAll)
	}
	if err := chromedp.Do(b.ctx, chromedp.Reload(), chromedp.WaitVisible("main#view .panel")); err != nil {
		t.Fatal(err)
	}
	if got := b.statValue("total"); got != float64(c.syslogAll) || eval[string](b, `document.getElementById('range').value`) != "6h" {
		t.Errorf("syslog, 6 h, reloaded: %v lines shown, the files hold %d", got, c.syslogAll)
	}
	b.checkClean("syslog, filtered")

	// A bad filter: the API's message next to the box, not a blank page.
	const bad = `destination.port:(`
	want := apiError(t, base, "/api/v1/top?kind=syslog&metric=events&dim=log.syslog.severity.name&limit=1&from=now-1h&to=now&filter="+url.QueryEscape(bad))
	b.open("view=syslog&range=1h&filter=" + url.QueryEscape(bad))
	got := wait[string](b, "bad filter", `document.getElementById('filter-error').textContent`)
	if got != want {
		t.Errorf("bad filter: the page says %q, the API %q", got, want)
	}
	if n := eval[int](b, `document.querySelectorAll('main .panel').length`); n == 0 {
		t.Error("bad filter: the view has no panels left")
	}
	b.checkClean("syslog, bad filter")

	// DNS: resolver-log lines and Sysmon queries (Beats), with the DNS
	// checks' verdicts.
	if c.dns1h == 0 || len(c.suspicious) == 0 || len(c.unsanctioned) == 0 || c.nx == 0 || len(c.dnsProcesses) == 0 {
		t.Fatalf("the DNS test data lacks what the page shows: %+v", c)
	}
	b.open("view=dns&range=1h")
	for id, want := range map[string]int{"total": c.dns1h, "nxdomain": c.nx, "suspicious": sum(c.suspicious), "unsanctioned": sum(c.unsanctioned)} {
		if got := b.statValue(id); got != float64(want) {
			t.Errorf("dns: stat %s shows %v, the files hold %d", id, got, want)
		}
	}
	for _, p := range []struct {
		panel string
		want  map[string]int
	}{
		{"dns.question.registered_domain", c.regDomains}, {"nxdomain-clients", c.nxClients}, {"suspicious", c.suspicious},
		{"unsanctioned", c.unsanctioned}, {"dns-event.dataset", c.dnsDatasets}, {"dns-process.name", c.dnsProcesses},
		{"blocklisted", map[string]int{"login.evil.example": 2}},
	} {
		keys, n := maxKeys(p.want)
		row := b.firstRow(p.panel)
		if !slices.Contains(keys, row.Key) || row.Value != float64(n) {
			t.Errorf("dns: panel %s: first row %s = %v, the files say %v = %d", p.panel, row.Key, row.Value, keys, n)
		}
	}
	// Suspicious names show their reasons.
	why := wait[string](b, "reasons", `(document.querySelector('[data-panel=suspicious] tbody tr [data-label=reasons]') || {}).textContent`)
	first := b.firstRow("suspicious").Key
	if why != c.reasons[first] {
		t.Errorf("dns: suspicious %s shows reasons %q, the files say %q", first, why, c.reasons[first])
	}
	wait[bool](b, "dns chart", `document.querySelector('[data-panel=queries] canvas') !== null && document.querySelectorAll('[data-panel=queries] .legend tr').length > 0`)
	b.screenshot("dns")
	b.checkClean("dns")
	// Stacked by query type instead, chosen in the page.
	eval[bool](b, `(() => { const s = document.querySelector('[data-panel=queries] select'); s.value = 'dns.question.type'; s.dispatchEvent(new Event('change')); return true; })()`)
	wait[bool](b, "stack by type", `location.hash.includes('by=dns.question.type') && [...document.querySelectorAll('[data-panel=queries] .legend .val')].some((e) => e.textContent === 'AAAA')`)
	// Clicking a response code filters the page on it.
	wait[bool](b, "click NXDOMAIN", `(() => { const v = document.querySelector('[data-panel="dns.response_code"] .val[data-value="NXDOMAIN"]'); if (v) v.click(); return !!v; })()`)
	wait[bool](b, "filter set", `document.getElementById('filter').value === 'dns.response_code:"NXDOMAIN"'`)
	if got := b.statValue("total"); got != float64(c.nx) {
		t.Errorf("dns filtered on NXDOMAIN: %v queries shown, the files hold %d", got, c.nx)
	}
	b.checkClean("dns, filtered")
	b.open("view=dns&range=custom&from=now-30d&to=now-20d")
	wait[bool](b, "dns empty", `document.querySelector('[data-empty=dns]') !== null`)
	b.checkClean("dns, empty range")
	b.open("view=events&kind=dns&range=1h")
	if n := wait[int](b, "dns events", `+((document.getElementById('events-info') || {dataset: {}}).dataset.count || 0)`); n != min(50, c.dns1h) {
		t.Errorf("events, dns: %d documents shown, the files hold %d DNS events in the last hour", n, c.dns1h)
	}
	wait[bool](b, "dns event summary", `[...document.querySelectorAll('#docs td.msg')].some(e => e.textContent.includes('login.evil.example'))`)
	b.checkClean("events, dns")

	// Events: the newest syslog documents, every field a click away, and
	// the live tail.
	b.open("view=events&kind=syslog&range=1h")
	nDocs := wait[int](b, "events", `+((document.getElementById('events-info') || {dataset: {}}).dataset.count || 0)`)
	if nDocs != min(50, c.syslog1h) {
		t.Errorf("events: %d syslog documents shown, the files hold %d in the last hour", nDocs, c.syslog1h)
	}
	wait[bool](b, "hostile message shown", fmt.Sprintf(`[...document.querySelectorAll('#docs td.msg')].some(e => e.textContent.includes(%q))`, hostileMsg))
	// Expand the hostile document: its fields are text too.
	wait[bool](b, "expand", fmt.Sprintf(`(() => { const td = [...document.querySelectorAll('#docs td.msg')].find(e => e.textContent.includes(%q)); td.click(); return true; })()`, hostileMsg))
	wait[bool](b, "fields", fmt.Sprintf(`[...document.querySelectorAll('#docs .fieldtab td')].some(e => e.textContent === %q)`, hostileHost))
	checkNoInjection(b, "events")
	b.screenshot("events")
	b.checkClean("events")

	wait[bool](b, "live on", `(() => { const c = document.getElementById('live'); c.click(); return true; })()`)
	wait[bool](b, "live connected", `document.getElementById('live-note').textContent === 'live'`)
	nonce := fmt.Sprintf("tail-%d", time.Now().UnixNano())
	tl := fmt.Sprintf("<14>1 %s tailhost app - - - %s", time.Now().UTC().Format(time.RFC3339Nano), nonce)
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", ps.SyslogUDP))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(tl)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	wait[bool](b, "tailed line", fmt.Sprintf(`[...document.querySelectorAll('#live-docs td.msg')].some(e => e.textContent.includes(%q))`, nonce))
	b.checkClean("events, live tail")

	// Paging: 60 recent flows are two pages of 50.
	b.open("view=events&kind=flows&range=1h")
	if n := wait[int](b, "flows page 1", `+((document.getElementById('events-info') || {dataset: {}}).dataset.count || 0)`); n != 50 {
		t.Errorf("events, flows: first page has %d documents, want 50", n)
	}
	wait[bool](b, "older", `(() => { const o = document.getElementById('older'); if (o.disabled) return false; o.click(); return true; })()`)
	wait[bool](b, "page 2", `location.hash.includes('before=')`)
	if n := wait[int](b, "flows page 2", `+((document.getElementById('events-info') || {dataset: {}}).dataset.count || 0)`); n != c.flows1h-50 {
		t.Errorf("events, flows: second page has %d documents, want %d", n, c.flows1h-50)
	}
	b.checkClean("events, paging")

	b.open("view=health")
	in := wait[string](b, "health", `(document.querySelector('[data-stat=events_in]') || {dataset: {}}).dataset.value`)
	// Every input counts in sluice_collector_events_total, which this
	// sums: flows, syslog lines (+ the tailed one) and Beats documents.
	want1 := float64(c.flowsAll + c.syslogAll + c.beatsAll + 1)
	if f, _ := strconv.ParseFloat(in, 64); f != want1 {
		t.Errorf("health: events in %s, sent %v", in, want1)
	}
	wait[bool](b, "health listeners", `document.querySelectorAll('[data-panel=health-listeners] tbody tr').length > 0`)
	b.screenshot("health")
	b.checkClean("health")
}

// checkNoInjection: no element came from a value (the page itself has no
// img), and no script ran (a dialog would have been recorded).
func checkNoInjection(b *browser, step string) {
	b.t.Helper()
	if n := eval[int](b, `document.querySelectorAll('img, main script, main iframe').length`); n != 0 {
		b.t.Errorf("%s: %d img/script/iframe elements in the page: a value was parsed as markup", step, n)
	}
}
