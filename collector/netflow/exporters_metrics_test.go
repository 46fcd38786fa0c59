package netflow

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// TestExporterMetrics: after softflowd's v9 and IPFIX captures, each
// exporter stream has its series with the templates it announced and the
// receive time of its last datagram; an evicted stream's series go.
func TestExporterMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	d, err := New(Default(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	recv := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	bins, _ := filepath.Glob(filepath.Join("testdata", "*.bin"))
	if len(bins) == 0 {
		t.Fatal("no captures in testdata")
	}
	for _, p := range bins {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bt := event.NewBatch()
		if err := d.Decode(&collector.Packet{Data: data, Src: netip.MustParseAddrPort("127.0.0.1:4000"), Received: recv}, bt); err != nil {
			t.Fatal(err)
		}
	}
	series := func() map[string]map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				var key string
				for _, l := range m.GetLabel() {
					key += l.GetName() + "=" + l.GetValue() + " "
				}
				if out[mf.GetName()] == nil {
					out[mf.GetName()] = map[string]float64{}
				}
				out[mf.GetName()][key] = m.GetGauge().GetValue()
			}
		}
		return out
	}
	got := series()
	tm, seen := got["sluice_netflow_exporter_templates"], got["sluice_netflow_exporter_last_seen_timestamp_seconds"]
	if len(tm) == 0 || len(tm) != len(seen) {
		t.Fatalf("templates series %v, last seen series %v", tm, seen)
	}
	var total float64
	for k, v := range tm {
		total += v
		if s := seen[k]; s != float64(recv.Unix()) {
			t.Errorf("%s last seen %v, want %d", k, s, recv.Unix())
		}
	}
	if want := float64(d.nTmpl.Load()); total != want || total == 0 {
		t.Errorf("templates over the streams = %v, want %v (the decoder's count, not 0)", total, want)
	}
	d.mu.RLock()
	var ex *exporter
	for _, e := range d.exporters {
		ex = e
		break
	}
	d.mu.RUnlock()
	d.removeExporter(ex, func() bool { return true })
	if n := len(series()["sluice_netflow_exporter_templates"]); n != len(tm)-1 {
		t.Errorf("after evicting one stream: %d series, want %d", n, len(tm)-1)
	}
}
