package netflow

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// limitedState builds a hand-made state file: 8 exporters 10.0.0.0-7 of 5
// templates (256-260, the first two used), saved at testReceived, plus
// entries a loader must drop.
func limitedState() stateFile {
	saved := testReceived
	st := stateFile{Version: stateVersion, Saved: saved}
	for i := range 8 {
		es := exporterState{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Version: 9, Domain: 1,
			LastSeen: saved.Add(-time.Duration(i) * time.Minute), Decoded: i%2 == 0}
		if i == 7 {
			es.LastSeen = saved.Add(1000 * time.Hour) // a clock in the future counts as the save time
		}
		for j := range 5 {
			es.Templates = append(es.Templates, templateState{ID: uint16(256 + j), Fields: benchV9Fields,
				LastSeen: saved.Add(-time.Duration(100-10*j-i) * time.Second), Used: j < 2})
		}
		st.Exporters = append(st.Exporters, es)
	}
	st.Exporters = append(st.Exporters,
		exporterState{Addr: netip.MustParseAddr("10.0.1.1"), Version: 9, Domain: 1, LastSeen: saved.Add(-25 * time.Hour), Decoded: true,
			Templates: []templateState{{ID: 256, Fields: benchV9Fields, Used: true}}}, // idle too long
		exporterState{Addr: netip.MustParseAddr("10.0.1.2"), Version: 9, Domain: 1, LastSeen: saved.Add(-30 * time.Minute),
			Templates: []templateState{{ID: 256, Fields: benchV9Fields, Used: true, LastSeen: saved.Add(-3 * time.Hour)}}}, // template too old
		exporterState{Addr: netip.MustParseAddr("10.0.0.0"), Version: 9, Domain: 1, Decoded: true}, // duplicate
		exporterState{Addr: netip.MustParseAddr("10.0.1.3"), Version: 5, Decoded: true},            // no templates in v5
	)
	return st
}

func TestStateFileLimits(t *testing.T) {
	cfg := Default()
	cfg.MaxTemplatesPerExporter = 3
	cfg.MaxTemplates = 10
	cfg.MaxExporters = 5
	cfg.StatePath = filepath.Join(t.TempDir(), "state.json")
	data, err := json.Marshal(limitedState())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.StatePath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d, reg := newTestDecoder(t, cfg)
	// Kept: the decoded exporters 0, 2, 4, 6 and the most recently seen of
	// the others, 7 (its future time counts as the save time); of their
	// templates the used ones, 256 and 257 (10 = max_total).
	var got []string
	d.mu.RLock()
	for k, ex := range d.exporters {
		ids := templateIDsOf(ex)
		got = append(got, k.addr.String())
		if !slices.Equal(ids, []uint16{256, 257}) {
			t.Errorf("exporter %s templates %v, want [256 257]", k.addr, ids)
		}
	}
	d.mu.RUnlock()
	slices.Sort(got)
	if want := []string{"10.0.0.0", "10.0.0.2", "10.0.0.4", "10.0.0.6", "10.0.0.7"}; !slices.Equal(got, want) {
		t.Errorf("loaded exporters %v, want %v", got, want)
	}
	if n := counter(t, reg, "sluice_netflow_templates"); n != 10 || d.nTmpl.Load() != 10 {
		t.Errorf("templates = %v (nTmpl %d), want 10", n, d.nTmpl.Load())
	}
	if n := counter(t, reg, "sluice_netflow_exporters"); n != 5 {
		t.Errorf("exporters = %v, want 5", n)
	}
	// The loaded state leaves room: a new exporter decodes from its first template.
	if n := legitFlows(t, d, "192.0.2.10:2055", 5, testReceived.Add(time.Second)); n != 100 {
		t.Errorf("new exporter after loading a full state decoded %d of 100 flows", n)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkStateFile(t, cfg)

	// The same limits when saving: a decoder with larger limits saves more
	// than this one may load, and this one's save trims to its own.
	big := cfg
	big.MaxTemplatesPerExporter, big.MaxTemplates, big.MaxExporters = 1000, 100000, 10000
	if err := os.WriteFile(cfg.StatePath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d2, _ := newTestDecoder(t, big)
	if d2.nTmpl.Load() != 8*5 {
		t.Fatalf("with large limits %d templates loaded, want 40", d2.nTmpl.Load())
	}
	d2.cfg = cfg // as if restarted with smaller limits, before the state is trimmed in memory
	if err := d2.Save(); err != nil {
		t.Fatal(err)
	}
	checkStateFile(t, cfg)
}

func templateIDsOf(ex *exporter) []uint16 {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	var ids []uint16
	for id := range ex.templates {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func TestStateFileTooLarge(t *testing.T) {
	cfg := Default()
	cfg.MaxTemplates = 10
	cfg.StatePath = filepath.Join(t.TempDir(), "state.json")
	st := limitedState()
	data, _ := json.Marshal(st)
	// Valid JSON, padded with spaces past the limit.
	pad := make([]byte, maxStateBytes(cfg)+1-int64(len(data)))
	for i := range pad {
		pad[i] = ' '
	}
	if err := os.WriteFile(cfg.StatePath, append(data, pad...), 0o600); err != nil {
		t.Fatal(err)
	}
	d, _ := newTestDecoder(t, cfg)
	if n := len(d.exporters); n != 0 {
		t.Errorf("a state file over %d bytes loaded %d exporters, want 0", maxStateBytes(cfg), n)
	}
	// One byte less loads.
	if err := os.WriteFile(cfg.StatePath, append(data, pad[1:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	d2, _ := newTestDecoder(t, cfg)
	if n := len(d2.exporters); n == 0 {
		t.Errorf("a state file of exactly %d bytes was not loaded", maxStateBytes(cfg))
	}
}

// FuzzLoadState: the state file is untrusted input. Loading must not panic,
// must obey the limits, keep its counters consistent, and leave a decoder
// that still decodes a new exporter.
func FuzzLoadState(f *testing.F) {
	ls, _ := json.Marshal(limitedState())
	f.Add(ls)
	f.Add([]byte(`{"version": 1, "exporters": [{"addr": "192.0.2.1", "version": 9, "domain": 7,
		"templates": [{"id": 256, "fields": [{"id": 8, "len": 0}]}, {"id": 12, "fields": [{"id": 8, "len": 4}]},
		{"id": 257, "fields": [{"id": 8, "len": 4}]}]}, {"addr": "192.0.2.2", "version": 5}]}`))
	f.Add([]byte(`{"version": 1, "saved": "2026-03-01T12:00:00Z", "exporters": [{"addr": "::ffff:192.0.2.1", "version": 10, "domain": 1,
		"last_seen": "9999-01-01T00:00:00Z", "templates": [{"id": 300, "options": true, "scope": 1, "fields": [{"id": 48, "len": 1}, {"id": 34, "len": 4}],
		"last_seen": "0001-01-01T00:00:01Z", "used": true}], "samplers": [{"ie": 48, "id": 1, "rate": 100}], "sampling_rate": 10}]}`))
	f.Add([]byte(`{"version": 1, "exporters": [{"addr": "fe80::1%eth0", "version": 9}, {"addr": "192.0.2.1", "version": 9, "templates": [{"id": 256, "fields": [{"id": 1, "len": 65535, "pen": 9}]}]}]}`))
	f.Add([]byte(`{not json`))
	cfg := Default()
	cfg.MaxTemplatesPerExporter = 3
	cfg.MaxTemplates = 10
	cfg.MaxExporters = 5
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := newDecoder(cfg, nil, prometheus.NewRegistry(), func() time.Time { return testReceived })
		if err != nil {
			t.Fatal(err)
		}
		d.loadData(data)
		total := 0
		for k, ex := range d.exporters {
			if k != ex.key || !k.addr.IsValid() || k.addr.Is4In6() || (k.version != 9 && k.version != 10) {
				t.Fatalf("loaded exporter key %+v", k)
			}
			if len(ex.templates) > cfg.MaxTemplatesPerExporter {
				t.Fatalf("exporter %v: %d templates", k, len(ex.templates))
			}
			total += len(ex.templates)
			if ex.lastSeen.Load() > testReceived.UnixNano() {
				t.Fatalf("exporter %v seen in the future", k)
			}
		}
		if len(d.exporters) > cfg.MaxExporters || total > cfg.MaxTemplates || int64(total) != d.nTmpl.Load() {
			t.Fatalf("loaded %d exporters, %d templates (nTmpl %d)", len(d.exporters), total, d.nTmpl.Load())
		}
		// What it would save reloads the same templates.
		st := d.snapshot()
		trimState(&st, d.cfg)
		saved, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("json.Marshal(snapshot) = %v", err)
		}
		d2, _ := newDecoder(cfg, nil, prometheus.NewRegistry(), func() time.Time { return testReceived })
		d2.loadData(saved)
		if d2.nTmpl.Load() != int64(total) {
			t.Fatalf("saved and reloaded: %d templates, had %d", d2.nTmpl.Load(), total)
		}
		tp, dp := benchV9Packets(24)
		evs, err := decodeAt(d, "192.0.2.200:2055", cat(tp, dp[20:]), testReceived.Add(time.Second))
		if len(evs) != 24 || err != nil {
			t.Fatalf("new exporter after loading: %d of 24 flows, err %v", len(evs), err)
		}
	})
}
