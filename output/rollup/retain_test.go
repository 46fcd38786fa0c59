package rollup

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
)

// TestRetention: minute files go after minute_retention, hour files after
// retention, and the oldest files first beyond max_bytes.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	s := newTestStore(t, dir, base)
	p := s.plans[0]
	for d := range 5 {
		day := base.AddDate(0, 0, -d)
		s.write(syntheticMinute(p, day, d))
		hb := syntheticMinute(p, day, d)
		hb.res = resHour
		s.write(hb)
	}
	names := func() map[string]bool {
		m := map[string]bool{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			m[e.Name()] = true
		}
		return m
	}
	s.Retain(base.Add(time.Hour))
	got := names()
	for d := range 5 {
		day := base.AddDate(0, 0, -d).Format("2006-01-02")
		wantMin := d <= 1 // the day before base still holds the last 24 h
		if got["flows-1m-"+day+".rlb"] != wantMin {
			t.Errorf("day -%d: minute file kept = %v, want %v", d, got["flows-1m-"+day+".rlb"], wantMin)
		}
		if !got["flows-1h-"+day+".rlb"] {
			t.Errorf("day -%d: hour file removed within retention", d)
		}
	}
	if n := testutil.ToFloat64(s.m.removedFiles.WithLabelValues("age")); n != 3 {
		t.Errorf("removed by age: %v, want 3", n)
	}
	from, to, _ := s.Range(context.Background(), console.KindFlows)
	if !from.Equal(base.AddDate(0, 0, -4)) || !to.Equal(base.Add(time.Hour)) {
		t.Errorf("Range = %s .. %s", from, to)
	}
	// Size: keep about two files' worth; the oldest go.
	fi, _ := os.Stat(filepath.Join(dir, "flows-1h-"+base.Format("2006-01-02")+".rlb"))
	s.cfg.MaxBytes = 2*fi.Size() + 1
	s.Retain(base.Add(time.Hour))
	got = names()
	if len(got) != 2 || !got["flows-1h-"+base.Format("2006-01-02")+".rlb"] {
		t.Errorf("after max_bytes: %v, want the two newest files", got)
	}
	if s.diskBytes() > float64(s.cfg.MaxBytes) {
		t.Errorf("disk bytes %v over max_bytes %d", s.diskBytes(), s.cfg.MaxBytes)
	}
}

// TestConcurrentStage: workers feeding the stage while minutes close
// lose nothing: the flows total is exact.
func TestConcurrentStage(t *testing.T) {
	now := base.Add(30 * time.Minute)
	s := newTestStore(t, t.TempDir(), now)
	const workers, batches, per = 4, 200, 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bt := event.NewBatch()
			defer bt.Release()
			for i := range batches {
				bt.Reset()
				for j := range per {
					e := bt.Add()
					e.Kind = event.KindFlow
					e.Timestamp = base.Add(time.Duration((i*per+j)%25) * time.Minute)
					e.Src.IP = netip.AddrFrom4([4]byte{10, byte(w), byte(i), byte(j)})
					e.Flow.Bytes, e.Flow.Packets = 100, 1
				}
				if err := s.Stage().Process(context.Background(), bt); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			s.Tick(now, false)
		}
	}()
	wg.Wait()
	<-done
	s.Tick(now, false)
	top, err := s.Top(context.Background(), console.TopRequest{Query: console.Query{Kind: console.KindFlows, From: base, To: now}, Metric: console.MetricFlows, Dim: "source.ip"})
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(workers * batches * per); top.Total != want {
		t.Fatalf("Total = %v flows, want %v", top.Total, want)
	}
}
