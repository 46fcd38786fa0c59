package main_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/output/rollup"
)

// TestRollupsSurviveSIGKILL: the console rollups of a real `sluice run`
// fed with the softflowd captures hold every flow of the minutes closed
// before a SIGKILL, and the next start reads them back (nothing moved
// aside). The wait is a minute's close (its end + 15 s).
func TestRollupsSurviveSIGKILL(t *testing.T) {
	data := t.TempDir()
	out := t.TempDir()
	ps := newPorts(t)
	p := startSluice(t, sluiceOpts{Ports: ps, DataDir: data, OutDir: out})
	bins, _ := filepath.Glob(filepath.Join("..", "..", "collector", "netflow", "testdata", "softflowd_*.bin"))
	if len(bins) == 0 {
		t.Fatal("no softflowd captures")
	}
	s := newUDPSender(t)
	t0 := time.Now()
	for _, b := range bins {
		pkt, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		s.send(ps.NetFlow, pkt)
	}
	t1 := time.Now()
	minutes := 1.0
	if t0.Truncate(time.Minute) != t1.Truncate(time.Minute) {
		minutes = 2
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		m := p.metrics()
		blocks, _ := metricSum(m, `sluice_rollup_blocks_written_total{resolution="1m"}`)
		if blocks >= minutes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rollup block written within 3 minutes:\n%s", metricLines(m, "sluice_rollup"))
		}
		time.Sleep(500 * time.Millisecond) // polling interval of a deadline loop
	}
	p.kill()

	docs := readDocs(t, out)
	if len(docs) == 0 {
		t.Fatal("no flow documents written")
	}
	cfg := rollup.Default()
	cfg.Dir = filepath.Join(data, "console")
	cfg.EventsDir = out
	query := func() console.Top {
		st, err := rollup.New(cfg, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		top, err := st.Top(context.Background(), console.TopRequest{
			Query:  console.Query{Kind: console.KindFlows, From: t0.Add(-time.Hour), To: t1.Add(time.Hour)},
			Metric: console.MetricFlows, Dim: "destination.port", Limit: 100,
		})
		if err != nil {
			t.Fatal(err)
		}
		return top
	}
	if top := query(); top.Total != float64(len(docs)) {
		t.Fatalf("after SIGKILL the rollups count %v flows, the files hold %d", top.Total, len(docs))
	}
	bad, _ := filepath.Glob(filepath.Join(data, "console", "*.bad-*"))
	if len(bad) > 0 {
		t.Fatalf("files moved aside after SIGKILL: %v", bad)
	}

	// The next start reads them back and keeps them.
	p2 := startSluice(t, sluiceOpts{Ports: newPorts(t), DataDir: data, OutDir: out})
	m := p2.metrics()
	if n, ok := metricSum(m, "sluice_rollup_bad_files_total"); !ok || n != 0 {
		t.Fatalf("restart: sluice_rollup_bad_files_total = %v (present %v)", n, ok)
	}
	p2.stop()
	if top := query(); top.Total != float64(len(docs)) {
		t.Fatalf("after a restart the rollups count %v flows, the files hold %d", top.Total, len(docs))
	}
}
