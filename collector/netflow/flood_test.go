package netflow

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The contract under test: whatever a sender floods the template state
// with, a new legitimate exporter decodes from its first template (100 of
// 100 flows), also after a restart with the persisted state; full tables
// evict the least recently used entries and unrefreshed entries expire.

// legitFlows sends, as src at recv, a v9 packet with template 256 and 25
// records, then three data-only packets of 25 records, and returns how many
// of the 100 flows came out.
func legitFlows(t *testing.T, d *Decoder, src string, sourceID uint32, recv time.Time) int {
	t.Helper()
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: sourceID}
	got := 0
	for p := range 4 {
		var recs [][]byte
		for i := range 25 {
			recs = append(recs, benchV9Record(25*p+i))
		}
		var pkt []byte
		if p == 0 {
			pkt = v9Packet(h, set(0, tmpl(256, benchV9Fields...)), set(256, recs...))
		} else {
			pkt = v9Packet(h, set(256, recs...))
		}
		evs, err := decodeAt(d, src, pkt, recv.Add(time.Duration(p)*time.Millisecond))
		if err != nil {
			t.Errorf("legit exporter %s packet %d: Decode() error = %v", src, p, err)
		}
		got += len(evs)
	}
	return got
}

// legitDataOnly sends 100 flows in four data-only packets (no template).
func legitDataOnly(t *testing.T, d *Decoder, src string, sourceID uint32, recv time.Time) int {
	t.Helper()
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: sourceID, count: 25}
	got := 0
	for p := range 4 {
		var recs [][]byte
		for i := range 25 {
			recs = append(recs, benchV9Record(25*p+i))
		}
		evs, _ := decodeAt(d, src, v9Packet(h, set(256, recs...)), recv.Add(time.Duration(p)*time.Millisecond))
		got += len(evs)
	}
	return got
}

// floodTemplates sends n template records from src/sourceID in packets of
// 100, template IDs from first on, each a distinct one-field layout.
func floodTemplates(t *testing.T, d *Decoder, src string, version uint16, sourceID uint32, first, n int, recv time.Time) {
	t.Helper()
	for off := 0; off < n; off += 100 {
		var recs [][]byte
		for i := off; i < min(off+100, n); i++ {
			recs = append(recs, tmpl(uint16(first+i), fs(uint16(1+i%80), 4)))
		}
		var pkt []byte
		if version == 9 {
			pkt = v9Packet(v9Header{secs: testSecs, sourceID: sourceID}, set(0, recs...))
		} else {
			pkt = ipfixPacket(ipfixHeader{secs: testSecs, domain: sourceID}, set(2, recs...))
		}
		if _, err := decodeAt(d, src, pkt, recv); err != nil {
			t.Fatalf("flood packet from %s domain %d: Decode() error = %v", src, sourceID, err)
		}
	}
}

// checkStateFile checks that the saved state obeys the limits of cfg.
func checkStateFile(t *testing.T, cfg Config) stateFile {
	t.Helper()
	data, err := os.ReadFile(cfg.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, es := range st.Exporters {
		if len(es.Templates) > cfg.MaxTemplatesPerExporter {
			t.Errorf("saved exporter %s domain %d has %d templates, limit %d", es.Addr, es.Domain, len(es.Templates), cfg.MaxTemplatesPerExporter)
		}
		total += len(es.Templates)
	}
	if len(st.Exporters) > cfg.MaxExporters || total > cfg.MaxTemplates {
		t.Errorf("saved state: %d exporters, %d templates; limits %d, %d", len(st.Exporters), total, cfg.MaxExporters, cfg.MaxTemplates)
	}
	return st
}

func TestFloodsDoNotLockOutNewExporters(t *testing.T) {
	at := testReceived
	small := func(c *Config) { c.MaxTemplatesPerExporter = 50; c.MaxTemplates = 500; c.MaxExporters = 40 }
	tests := []struct {
		name  string
		cfg   func(*Config)
		flood func(t *testing.T, d *Decoder)
		evict string // the eviction counter the flood must have moved
		once  bool   // no second flood after the restart (slow under -race)
	}{
		{"template IDs from one address", small, func(t *testing.T, d *Decoder) {
			floodTemplates(t, d, "198.51.100.66:2055", 9, 1, 256, 5000, at)
			floodTemplates(t, d, "198.51.100.66:2055", 10, 1, 256, 5000, at)
		}, "max_per_exporter", false},
		{"source IDs from one address", small, func(t *testing.T, d *Decoder) {
			for id := range uint32(400) {
				floodTemplates(t, d, "198.51.100.66:2055", 9+uint16(id%2), id, 256, 20, at.Add(time.Duration(id)*time.Millisecond))
			}
		}, "max_exporters", false},
		{"source IDs below the exporter limit", func(c *Config) { small(c); c.MaxExporters = 1000 }, func(t *testing.T, d *Decoder) {
			for id := range uint32(400) {
				floodTemplates(t, d, "198.51.100.66:2055", 9, id, 256, 20, at.Add(time.Duration(id)*time.Millisecond))
			}
		}, "max_total", false},
		{"exporter addresses", small, func(t *testing.T, d *Decoder) {
			for i := range 2000 {
				src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)}), 2055).String()
				floodTemplates(t, d, src, 9, 0, 256, 3, at)
			}
		}, "max_exporters", false},
		{"source IDs at the default limits", func(*Config) {}, func(t *testing.T, d *Decoder) {
			for id := range uint32(12000) {
				floodTemplates(t, d, "198.51.100.66:2055", 10, id, 256, 10, at)
			}
		}, "max_exporters", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			tc.cfg(&cfg)
			cfg.StatePath = filepath.Join(t.TempDir(), "state.json")
			d, reg := newTestDecoder(t, cfg)
			tc.flood(t, d)
			var evicted float64
			if tc.evict == "max_exporters" {
				evicted = counter(t, reg, "sluice_netflow_exporter_evictions_total", "reason", tc.evict)
			} else {
				evicted = counter(t, reg, "sluice_netflow_template_evictions_total", "reason", tc.evict)
			}
			if evicted == 0 {
				t.Errorf("flood evicted nothing by %s: the test did not fill the table", tc.evict)
			}
			if n := d.nTmpl.Load(); n > int64(cfg.MaxTemplates) {
				t.Errorf("templates after the flood = %d, limit %d", n, cfg.MaxTemplates)
			}
			if n := counter(t, reg, "sluice_netflow_exporters"); n > float64(cfg.MaxExporters) {
				t.Errorf("exporters after the flood = %v, limit %d", n, cfg.MaxExporters)
			}
			later := at.Add(time.Second)
			if got := legitFlows(t, d, "192.0.2.10:2055", 5, later); got != 100 {
				t.Errorf("new exporter after the flood decoded %d of 100 flows", got)
			}
			if err := d.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			checkStateFile(t, cfg)

			// Restart with the persisted state: the exporter seen before
			// decodes without a template, and a new one from its first.
			d2, _ := newTestDecoder(t, cfg)
			if got := legitDataOnly(t, d2, "192.0.2.10:2055", 5, later.Add(time.Second)); got != 100 {
				t.Errorf("after restart, the known exporter decoded %d of 100 data-only flows", got)
			}
			if got := legitFlows(t, d2, "192.0.2.11:2055", 6, later.Add(2*time.Second)); got != 100 {
				t.Errorf("after restart, a new exporter decoded %d of 100 flows", got)
			}
			// The flood resumes after the restart; the legitimate exporters,
			// in use, keep their templates.
			if !tc.once {
				tc.flood(t, d2)
			}
			for _, src := range []struct {
				addr string
				id   uint32
			}{{"192.0.2.10:2055", 5}, {"192.0.2.11:2055", 6}} {
				if got := legitDataOnly(t, d2, src.addr, src.id, later.Add(3*time.Second)); got != 100 {
					t.Errorf("after a second flood, %s decoded %d of 100 data-only flows", src.addr, got)
				}
			}
			if err := d2.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			checkStateFile(t, cfg)
		})
	}
}

func templateIDs(d *Decoder, src string, version uint16, domain uint32) []uint16 {
	d.mu.RLock()
	ex := d.exporters[exporterKey{addr: netip.MustParseAddrPort(src).Addr(), version: version, domain: domain}]
	d.mu.RUnlock()
	if ex == nil {
		return nil
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	var ids []uint16
	for id := range ex.templates {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func TestEvictionOrderTemplatesPerExporter(t *testing.T) {
	cfg := Default()
	cfg.MaxTemplatesPerExporter = 3
	d, reg := newTestDecoder(t, cfg)
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 7}
	step := 0
	send := func(sets ...[]byte) {
		t.Helper()
		step++
		if _, err := decodeAt(d, exporterA, v9Packet(h, sets...), testReceived.Add(time.Duration(step)*time.Second)); err != nil {
			t.Fatalf("step %d: Decode() error = %v", step, err)
		}
	}
	announce := func(id uint16) { send(set(0, tmpl(id, benchV9Fields...))) }
	use := func(id uint16) { send(set(id, benchV9Record(0))) }
	want := func(ids ...uint16) {
		t.Helper()
		if got := templateIDs(d, exporterA, 9, 7); !slices.Equal(got, ids) {
			t.Fatalf("step %d: templates %v, want %v", step, got, ids)
		}
	}
	announce(256)
	announce(257)
	announce(258)
	use(256)
	announce(259) // evicts 257: never used, and older than 258
	want(256, 258, 259)
	announce(258) // a re-announcement refreshes 258
	announce(260) // evicts 259, now the oldest never used
	want(256, 258, 260)
	use(258)
	use(260)
	use(256)
	announce(261) // all used: evicts the least recently used, 258
	want(256, 260, 261)
	if got := counter(t, reg, "sluice_netflow_template_evictions_total", "reason", "max_per_exporter"); got != 3 {
		t.Errorf("evictions{max_per_exporter} = %v, want 3", got)
	}
	if got := counter(t, reg, "sluice_netflow_templates"); got != 3 {
		t.Errorf("templates = %v, want 3", got)
	}
	if got := counter(t, reg, "sluice_netflow_template_changes_total", "action", "refused"); got != 0 {
		t.Errorf("refused = %v, want 0", got)
	}
}

func TestEvictionOrderExporters(t *testing.T) {
	cfg := Default()
	cfg.MaxExporters = 3
	d, reg := newTestDecoder(t, cfg)
	tp, dp := benchV9Packets(1)
	step := 0
	send := func(i byte, pkt []byte) {
		t.Helper()
		step++
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, i}), 2055).String()
		if _, err := decodeAt(d, src, pkt, testReceived.Add(time.Duration(step)*time.Second)); err != nil {
			t.Fatalf("step %d: Decode() error = %v", step, err)
		}
	}
	want := func(addrs ...byte) {
		t.Helper()
		var got []byte
		d.mu.RLock()
		for k := range d.exporters {
			got = append(got, k.addr.As4()[3])
		}
		d.mu.RUnlock()
		slices.Sort(got)
		if !slices.Equal(got, addrs) {
			t.Fatalf("step %d: exporters 10.0.0.%v, want %v", step, got, addrs)
		}
	}
	send(1, tp)
	send(2, tp)
	send(3, tp)
	send(1, dp) // 1 sent decodable data
	send(4, tp) // evicts 2: never decoded, least recently seen
	want(1, 3, 4)
	send(3, tp) // heard from again
	send(5, tp) // evicts 4
	want(1, 3, 5)
	send(3, dp)
	send(5, dp)
	send(1, dp)
	send(6, tp) // all decoded: evicts the least recently seen, 3
	want(1, 5, 6)
	if got := counter(t, reg, "sluice_netflow_exporter_evictions_total", "reason", "max_exporters"); got != 3 {
		t.Errorf("evictions{max_exporters} = %v, want 3", got)
	}
	if got := counter(t, reg, "sluice_netflow_template_evictions_total", "reason", "exporter_removed"); got != 3 {
		t.Errorf("template evictions{exporter_removed} = %v, want 3", got)
	}
	if got := counter(t, reg, "sluice_netflow_templates"); got != 3 {
		t.Errorf("templates = %v, want 3", got)
	}
	if got := counter(t, reg, "sluice_netflow_exporters"); got != 3 {
		t.Errorf("exporters = %v, want 3", got)
	}
}

func TestEvictionOrderTotal(t *testing.T) {
	cfg := Default()
	cfg.MaxTemplates = 4
	d, reg := newTestDecoder(t, cfg)
	step := 0
	send := func(src string, sets ...[]byte) {
		t.Helper()
		step++
		h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 1}
		if _, err := decodeAt(d, src, v9Packet(h, sets...), testReceived.Add(time.Duration(step)*time.Second)); err != nil {
			t.Fatalf("step %d: Decode() error = %v", step, err)
		}
	}
	const x, y, z = "10.0.0.1:9", "10.0.0.2:9", "10.0.0.3:9"
	send(x, set(0, tmpl(256, benchV9Fields...), tmpl(257, benchV9Fields...)))
	send(y, set(0, tmpl(256, benchV9Fields...), tmpl(257, benchV9Fields...)))
	send(x, set(256, benchV9Record(0)), set(257, benchV9Record(1)))
	send(z, set(0, tmpl(300, benchV9Fields...))) // evicts one of y's (never used)
	if got := len(templateIDs(d, y, 9, 1)); got != 1 {
		t.Errorf("y keeps %d templates, want 1", got)
	}
	send(y, set(0, tmpl(258, benchV9Fields...))) // evicts y's other old one
	send(z, set(300, benchV9Record(2)))
	send(y, set(258, benchV9Record(3)))
	send(x, set(257, benchV9Record(4)))
	send(z, set(0, tmpl(301, benchV9Fields...))) // all used: evicts x's 256, least recently used
	for _, c := range []struct {
		src  string
		want []uint16
	}{{x, []uint16{257}}, {y, []uint16{258}}, {z, []uint16{300, 301}}} {
		if got := templateIDs(d, c.src, 9, 1); !slices.Equal(got, c.want) {
			t.Errorf("%s templates %v, want %v", c.src, got, c.want)
		}
	}
	if got := counter(t, reg, "sluice_netflow_template_evictions_total", "reason", "max_total"); got != 3 {
		t.Errorf("evictions{max_total} = %v, want 3", got)
	}
	if got := counter(t, reg, "sluice_netflow_templates"); got != 4 {
		t.Errorf("templates = %v, want 4", got)
	}
}

// Expiry runs on the receive-time clock of the packets and on Tick's; no
// test here waits for real time.
func TestExpiry(t *testing.T) {
	cfg := Default() // max_age 2h, exporter_max_idle 24h
	cfg.StatePath = filepath.Join(t.TempDir(), "state.json")
	d, reg := newTestDecoder(t, cfg)
	t0 := testReceived
	const a, b, c = "192.0.2.1:2055", "192.0.2.2:2055", "192.0.2.3:2055"
	tp, dp := benchV9Packets(2)
	decode := func(src string, pkt []byte, at time.Time) int {
		t.Helper()
		evs, _ := decodeAt(d, src, pkt, at)
		return len(evs)
	}
	decode(a, tp, t0)
	decode(b, tp, t0)
	decode(c, tp, t0)
	if n := decode(a, dp, t0.Add(110*time.Minute)); n != 2 { // a's template used: refreshed
		t.Fatalf("a at +110m decoded %d flows", n)
	}
	decode(c, tp, t0.Add(115*time.Minute)) // c's re-announced: refreshed
	if err := d.Tick(t0.Add(125 * time.Minute)); err != nil {
		t.Fatalf("Tick() = %v", err)
	}
	if ids := templateIDs(d, b, 9, 7); len(ids) != 0 {
		t.Errorf("b's template not expired after 2h: %v", ids)
	}
	if n := decode(b, dp, t0.Add(126*time.Minute)); n != 0 {
		t.Errorf("b decoded %d flows with an expired template", n)
	}
	for _, src := range []string{a, c} {
		if n := decode(src, dp, t0.Add(127*time.Minute)); n != 2 {
			t.Errorf("%s decoded %d flows at +127m, want 2 (template refreshed)", src, n)
		}
	}
	if got := counter(t, reg, "sluice_netflow_template_evictions_total", "reason", "max_age"); got != 1 {
		t.Errorf("evictions{max_age} = %v, want 1", got)
	}
	// Exporters: b was last heard at +126m, a at +127m; c keeps sending. A datagram (not Tick) triggers the scan this time.
	decode(c, tp, t0.Add(24*time.Hour))
	decode(c, tp, t0.Add(24*time.Hour+128*time.Minute))
	d.mu.RLock()
	var left []string
	for k := range d.exporters {
		left = append(left, k.addr.String())
	}
	d.mu.RUnlock()
	if !slices.Equal(left, []string{"192.0.2.3"}) {
		t.Errorf("exporters after a day = %v, want only 192.0.2.3", left)
	}
	if got := counter(t, reg, "sluice_netflow_exporter_evictions_total", "reason", "exporter_max_idle"); got != 2 {
		t.Errorf("evictions{exporter_max_idle} = %v, want 2", got)
	}
	if got := counter(t, reg, "sluice_netflow_templates"); got != 1 {
		t.Errorf("templates = %v, want 1", got)
	}
	if got := d.nTmpl.Load(); got != 1 {
		t.Errorf("nTmpl = %d, want 1", got)
	}
}

// Expiry is judged at save and at load; the time sluice was down does not
// count against the exporters.
func TestExpiryOfState(t *testing.T) {
	cfg := Default()
	cfg.StatePath = filepath.Join(t.TempDir(), "state.json")
	t0 := testReceived
	now := t0
	reg1 := prometheus.NewRegistry()
	d, err := newDecoder(cfg, nil, reg1, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tp, dp := benchV9Packets(1)
	decodeAt(d, "192.0.2.1:2055", tp, t0)
	decodeAt(d, "192.0.2.2:2055", tp, t0.Add(100*time.Minute))
	now = t0.Add(110 * time.Minute)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Down for a week; the templates were 110 and 10 minutes old then.
	now = t0.Add(7 * 24 * time.Hour)
	d2, err := newDecoder(cfg, nil, prometheus.NewRegistry(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"192.0.2.1:2055", "192.0.2.2:2055"} {
		if evs, _ := decodeAt(d2, src, dp, now); len(evs) != 1 {
			t.Errorf("%s after restart decoded %d flows, want 1", src, len(evs))
		}
	}
	// 192.0.2.1's template was used right now; 192.0.2.2's too. Age both
	// past max_age except one refresh, then save: the saved file drops the
	// expired one even though no expiry scan ran.
	decodeAt(d2, "192.0.2.2:2055", tp, now.Add(90*time.Minute))
	d2.lastExpire.Store(now.Add(125 * time.Minute).UnixNano()) // no scan
	now = now.Add(125 * time.Minute)
	if err := d2.Save(); err != nil {
		t.Fatal(err)
	}
	st := checkStateFile(t, cfg)
	var kept []string
	for _, es := range st.Exporters {
		if len(es.Templates) > 0 {
			kept = append(kept, es.Addr.String())
		}
	}
	if !slices.Equal(kept, []string{"192.0.2.2"}) {
		t.Errorf("saved exporters with templates = %v, want [192.0.2.2]", kept)
	}
}

func TestAllowedExporters(t *testing.T) {
	cfg := Default()
	cfg.AllowedExporters = []string{"192.0.2.0/24", "2001:db8::1"}
	d, reg := newTestDecoder(t, cfg)
	tp, dp := benchV9Packets(2)
	pkt := cat(tp, dp[20:]) // template and data in one datagram
	for _, tc := range []struct {
		src   string
		flows int
	}{
		{"192.0.2.5:2055", 2},
		{"[::ffff:192.0.2.6]:2055", 2}, // IPv4-mapped, as a dual-stack socket reports it
		{"[2001:db8::1]:4739", 2},
		{"[2001:db8::2]:4739", 0},
		{"198.51.100.1:2055", 0},
		{"192.0.3.1:2055", 0},
	} {
		evs, err := decodeAt(d, tc.src, pkt, testReceived)
		if len(evs) != tc.flows || err != nil {
			t.Errorf("from %s: %d flows, err %v; want %d, nil", tc.src, len(evs), err, tc.flows)
		}
	}
	if got := counter(t, reg, "sluice_netflow_packets_dropped_total", "reason", "exporter_not_allowed"); got != 3 {
		t.Errorf("packets dropped{exporter_not_allowed} = %v, want 3", got)
	}
	if got := counter(t, reg, "sluice_netflow_exporters"); got != 3 {
		t.Errorf("exporters = %v, want 3 (none for the senders not allowed)", got)
	}
}

// TestEvictionSparesExporterDecodingNow is the race the end-to-end flood
// test met under load: a worker decodes the first data set of exporter A
// (holding A's lock) while another worker, making room for a new exporter,
// has already chosen A as never decoded. The eviction must wait for A's
// message and then spare A, which is now decoded, and evict the next
// candidate. Without the re-check under A's lock, A lost its template and
// the rest of its flows until it announced the template again.
func TestEvictionSparesExporterDecodingNow(t *testing.T) {
	for round := range 20 {
		cfg := Default()
		cfg.MaxExporters = 2
		d, _ := newTestDecoder(t, cfg)
		tp, dp := benchV9Packets(1)
		src := func(i byte) string {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, i}), 2055).String()
		}
		at := func(s int) time.Time { return testReceived.Add(time.Duration(s) * time.Second) }
		if _, err := decodeAt(d, src(1), tp, at(1)); err != nil { // A: template only, oldest
			t.Fatal(err)
		}
		if _, err := decodeAt(d, src(2), tp, at(2)); err != nil { // C: template only
			t.Fatal(err)
		}
		var a *exporter
		d.mu.RLock()
		for k, ex := range d.exporters {
			if k.addr.As4()[3] == 1 {
				a = ex
			}
		}
		d.mu.RUnlock()
		// A worker is in the middle of A's data message: it holds A's lock.
		a.mu.Lock()
		done := make(chan error, 1)
		go func() { // another worker: a new exporter B needs room
			_, err := decodeAt(d, src(3), tp, at(3))
			done <- err
		}()
		// Wait until B's worker holds the table lock (it has taken its
		// snapshot, or is about to, and will block on A's lock).
		for d.mu.TryRLock() {
			d.mu.RUnlock()
			runtime.Gosched()
		}
		time.Sleep(time.Duration(round%4) * time.Millisecond)
		// A's message decodes its first data set.
		a.decoded.Store(true)
		a.lastSeen.Store(int64(at(3).UnixNano()))
		a.mu.Unlock()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		d.mu.RLock()
		_, aKept := d.exporters[a.key]
		d.mu.RUnlock()
		if !aKept || a.removed {
			t.Fatalf("round %d: exporter A was evicted while its first data set was being decoded", round)
		}
		if _, err := decodeAt(d, src(1), dp, at(4)); err != nil {
			t.Fatalf("round %d: A's next data message: %v", round, err)
		}
	}
}
