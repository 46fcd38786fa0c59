package netflow

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestPersistenceRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "templates.json")
	cfg := Default()
	cfg.StatePath = path
	d, _ := newTestDecoder(t, cfg)
	tp, dp := benchV9Packets(3)
	hx := ipfixHeader{secs: testSecs, domain: 9}
	decodeOK(t, d, exporterA, tp)
	// IPFIX with an options template carrying a sampler and the system init time.
	decodeOK(t, d, "[2001:db8::1]:4739", ipfixPacket(hx,
		set(2, tmpl(256, fs(27, 16), fs(1, 8), fs(48, 1), fs(22, 4))),
		set(3, ipfixOptTmpl(300, 1, fs(48, 1), fs(50, 4), fs(160, 8))),
		set(300, cat(u8(4), u32(50), u64(uint64(testExport.Add(-time.Hour).UnixMilli()))))))
	if err := d.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state file: %v", err)
	}
	matches, _ := filepath.Glob(path + ".tmp*")
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}

	d2, reg := newTestDecoder(t, cfg)
	if got := counter(t, reg, "sluice_netflow_templates"); got != 3 {
		t.Errorf("templates after load = %v, want 3", got)
	}
	evs := decodeOK(t, d2, exporterA, dp)
	if len(evs) != 3 || evs[2].Src.Port != 1026 {
		t.Fatalf("data-only v9 packet after restart: %d events", len(evs))
	}
	evs = decodeOK(t, d2, "[2001:db8::1]:4739", ipfixPacket(hx,
		set(256, cat(ip("2001:db8::5"), u64(10), u8(4), u32(testUptimeMs-1000)))))
	if len(evs) != 1 {
		t.Fatalf("data-only ipfix packet after restart: %d events", len(evs))
	}
	e := &evs[0]
	if e.Flow.SamplingRate != 50 || e.Flow.Bytes != 500 {
		t.Errorf("sampling state not restored: %+v", e.Flow)
	}
	if want := testExport.Add(-time.Second); !e.Flow.End.Equal(want) && !e.Flow.Start.Equal(want) {
		t.Errorf("system init time not restored: start %v end %v", e.Flow.Start, e.Flow.End)
	}
}

func TestPersistenceCorruptFile(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":       "{not json",
		"wrong version": `{"version": 99, "exporters": []}`,
		"bad templates": `{"version": 1, "exporters": [{"addr": "192.0.2.1", "version": 9, "domain": 7,
			"templates": [{"id": 256, "fields": [{"id": 8, "len": 0}]}, {"id": 12, "fields": [{"id": 8, "len": 4}]},
			{"id": 257, "fields": [{"id": 8, "len": 4}]}]},
			{"addr": "192.0.2.2", "version": 5}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := Default()
			cfg.StatePath = path
			d, reg := newTestDecoder(t, cfg)
			want := 0.0
			if name == "bad templates" {
				want = 1 // only the valid template 257 survives
			}
			if got := counter(t, reg, "sluice_netflow_templates"); got != want {
				t.Errorf("templates = %v, want %v", got, want)
			}
			tp, dp := benchV9Packets(1)
			decodeOK(t, d, exporterA, tp)
			if evs := decodeOK(t, d, exporterA, dp); len(evs) != 1 {
				t.Errorf("decoder unusable after corrupt state: %d events", len(evs))
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		})
	}
}

// A template change is saved by Decode itself, at most once per second.
func TestSaveDebounced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	cfg := Default()
	cfg.StatePath = path
	d, _ := newTestDecoder(t, cfg)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	tp, _ := benchV9Packets(1)
	decodeOK(t, d, exporterA, tp)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("state not saved after the first template: %v", err)
	}
	first := info.Size()
	now = now.Add(100 * time.Millisecond)
	decodeOK(t, d, exporterA, v9Packet(v9Header{secs: testSecs, sourceID: 7}, set(0, tmpl(300, fs(8, 4)))))
	if info, _ := os.Stat(path); info.Size() != first {
		t.Errorf("state saved again within a second")
	}
	now = now.Add(time.Second)
	decodeOK(t, d, exporterA, tp) // no change, but the earlier one is still unsaved
	if info, _ := os.Stat(path); info.Size() == first {
		t.Errorf("pending change not saved after a second")
	}
}

func TestSaveUnwritable(t *testing.T) {
	cfg := Default()
	cfg.StatePath = filepath.Join(t.TempDir(), "missing-dir", "state.json")
	d, _ := newTestDecoder(t, cfg)
	tp, _ := benchV9Packets(1)
	decodeOK(t, d, exporterA, tp) // logs, does not fail decoding
	if err := d.Close(); err == nil {
		t.Errorf("Close() with an unwritable state path = nil, want error")
	}
}

// Decode runs concurrently for different exporters (run with -race).
func TestConcurrentExporters(t *testing.T) {
	cfg := Default()
	cfg.StatePath = filepath.Join(t.TempDir(), "state.json")
	d, reg := newTestDecoder(t, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(g)}), 2055).String()
			tp, dp := benchV9Packets(24)
			if g%2 == 1 {
				tp, dp = benchIPFIXPackets(24)
			}
			for i := range 200 {
				var pkt []byte
				switch {
				case i == 0:
					pkt = dp // held until the template arrives
				case i%50 == 1:
					pkt = tp
				default:
					pkt = dp
				}
				evs, err := decodeAt(d, src, pkt, testReceived.Add(time.Duration(i)*time.Millisecond))
				if err != nil {
					errs <- fmt.Errorf("exporter %d packet %d: %w", g, i, err)
					return
				}
				want := 24
				switch {
				case i == 0 || i%50 == 1 && i > 1:
					want = 0 // held; template re-sends carry no flow
				}
				if len(evs) != want {
					errs <- fmt.Errorf("exporter %d packet %d: %d events", g, i, len(evs))
					return
				}
			}
		}()
	}
	// A saver running alongside, as the debounced save would.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if err := d.Save(); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := counter(t, reg, "sluice_netflow_records_total", "version", "9"); got != 4*196*24 {
		t.Errorf("records_total{9} = %v, want %d", got, 4*196*24)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
