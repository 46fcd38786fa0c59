package rollup

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

// answers is a fixed set of queries over the golden data.
func answers(t *testing.T, s *Store) []any {
	t.Helper()
	ctx := context.Background()
	var out []any
	for _, kind := range console.Kinds {
		metric := metricsOf(kind)[0]
		for _, dim := range dimsOf(kind) {
			for _, rng := range [][2]time.Time{{base, base.Add(time.Hour)}, {base.Add(2 * time.Minute), base.Add(9 * time.Minute)}} {
				top, err := s.Top(ctx, console.TopRequest{Query: console.Query{Kind: kind, From: rng[0], To: rng[1]}, Metric: metric, Dim: dim, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, top)
			}
			for _, step := range []time.Duration{time.Minute, time.Hour} {
				ser, err := s.Series(ctx, console.SeriesRequest{Query: console.Query{Kind: kind, From: base, To: base.Add(2 * time.Hour)}, Metric: metric, By: dim, Step: step})
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, ser)
			}
		}
	}
	return out
}

var cmpOpts = cmp.Options{cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })}

func TestReopenSameAnswers(t *testing.T) {
	dir := t.TempDir()
	g := setupGolden(t, dir)
	before := answers(t, g.s)
	// Blocks older than memWindow are read from their files from now on.
	g.s.Retain(g.s.now())
	if diff := cmp.Diff(before, answers(t, g.s), cmpOpts); diff != "" {
		t.Fatalf("answers from the files differ from those from memory (-memory +files):\n%s", diff)
	}
	if err := g.s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2 := newTestStore(t, dir, g.s.now())
	if diff := cmp.Diff(before, answers(t, s2), cmpOpts); diff != "" {
		t.Fatalf("answers after reopening differ (-before +after):\n%s", diff)
	}
	// Reopened within memWindow: decoded at load.
	s3 := newTestStore(t, dir, base.Add(time.Hour+5*time.Minute))
	s3.cfg.Now = g.s.cfg.Now
	if diff := cmp.Diff(before, answers(t, s3), cmpOpts); diff != "" {
		t.Fatalf("answers after reopening (in memory) differ (-before +after):\n%s", diff)
	}
}

// TestCloseWritesOpenMinute: stopping writes the open minute; the next
// start adds more of the same minute as another block.
func TestCloseWritesOpenMinute(t *testing.T) {
	dir := t.TempDir()
	now := base.Add(30 * time.Second)
	s := newTestStore(t, dir, now)
	fb := flowBatch(t)
	spread(fb, 0, 1)
	feed(t, s, fb)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2 := newTestStore(t, dir, now)
	feed(t, s2, fb)
	s2.Close(context.Background())
	s3 := newTestStore(t, dir, base.Add(10*time.Minute))
	ds := docs(t, fb)
	ds = append(ds, ds...)
	checkTop(t, s3, ds, console.KindFlows, console.MetricBytes, "destination.port", "", base, base.Add(time.Minute))
}

// blockOffsets lists where the blocks of a file start.
func blockOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	p, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := 0; off < len(p); {
		_, n, err := decodeFrame(p[off:], nil)
		if err != nil {
			t.Fatalf("%s at %d: %v", path, off, err)
		}
		offs = append(offs, int64(off))
		off += n
	}
	return offs
}

func TestCorruptFiles(t *testing.T) {
	minuteFile := "flows-1m-2026-12-07.rlb"
	for _, c := range []struct {
		name string
		// damage breaks the file; it returns how many blocks stay good.
		damage func(t *testing.T, path string, offs []int64) int
	}{
		{"truncated mid-block", func(t *testing.T, path string, offs []int64) int {
			if err := os.Truncate(path, offs[3]+headerLen+5); err != nil {
				t.Fatal(err)
			}
			return 3
		}},
		{"flipped byte", func(t *testing.T, path string, offs []int64) int {
			p, _ := os.ReadFile(path)
			p[offs[2]+headerLen+3] ^= 0x40
			os.WriteFile(path, p, 0o640)
			return 2
		}},
		{"giant length", func(t *testing.T, path string, offs []int64) int {
			p, _ := os.ReadFile(path)
			copy(p[offs[4]+8:], []byte{0xff, 0xff, 0xff, 0x7f})
			os.WriteFile(path, p, 0o640)
			return 4
		}},
		{"length past the end", func(t *testing.T, path string, offs []int64) int {
			p, _ := os.ReadFile(path)
			copy(p[offs[5]+8:], []byte{0x00, 0x00, 0x10, 0x00})
			os.WriteFile(path, p, 0o640)
			return 5
		}},
		{"garbage appended", func(t *testing.T, path string, offs []int64) int {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("not a block at all"))
			f.Close()
			return len(offs)
		}},
		{"empty", func(t *testing.T, path string, offs []int64) int {
			os.Truncate(path, 0)
			return 0
		}},
		{"directory", func(t *testing.T, path string, offs []int64) int {
			os.Remove(path)
			os.Mkdir(path, 0o750)
			return 0
		}},
		{"fifo", func(t *testing.T, path string, offs []int64) int {
			os.Remove(path)
			if err := syscall.Mkfifo(path, 0o640); err != nil {
				t.Fatal(err)
			}
			return 0
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			g := setupGolden(t, dir)
			g.s.Close(context.Background())
			path := filepath.Join(dir, minuteFile)
			offs := blockOffsets(t, path)
			if len(offs) != 7 {
				t.Fatalf("%d flow minute blocks, want 7", len(offs))
			}
			good := c.damage(t, path, offs)
			reg := prometheus.NewRegistry()
			cfg := g.s.cfg
			s, err := New(cfg, nil, reg)
			if err != nil {
				t.Fatalf("New() with a damaged file: %v", err)
			}
			bad, _ := filepath.Glob(path + ".bad-*")
			if len(bad) != 1 {
				t.Errorf("%d files moved aside, want 1", len(bad))
			}
			if n := testutil.ToFloat64(s.m.badFiles); n != 1 {
				t.Errorf("sluice_rollup_bad_files_total = %v, want 1", n)
			}
			// The good blocks answer; the damaged minutes are empty.
			var ds []*query.JSONDoc
			for _, d := range g.flows {
				ts := d.Values("@timestamp", nil)
				at, _ := time.Parse(time.RFC3339Nano, ts[0].Str)
				if at.Before(base.Add(time.Duration(good) * time.Minute)) {
					ds = append(ds, d)
				}
			}
			checkSeries(t, s, ds, console.KindFlows, console.MetricBytes, "destination.ip", "", time.Minute, base, base.Add(time.Hour))
			// The hour file and the syslog files are untouched.
			checkTop(t, s, g.flows, console.KindFlows, console.MetricBytes, "source.ip", "", base, base.Add(time.Hour))
			checkTop(t, s, g.syslog, console.KindSyslog, console.MetricEvents, "host.hostname", "", base.Add(3*time.Minute), base.Add(9*time.Minute))
			// New blocks go on after the good ones.
			fb := flowBatch(t)
			spread(fb, 20, 1)
			feed(t, s, fb)
			s.Close(context.Background())
			s2, err := New(cfg, nil, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			if n := testutil.ToFloat64(s2.m.badFiles); n != 0 {
				t.Errorf("second start: %v bad files, want 0", n)
			}
			checkSeries(t, s2, append(ds, docs(t, fb)...), console.KindFlows, console.MetricFlows, "", "", time.Minute, base, base.Add(time.Hour))
		})
	}
}

// TestSpaceSavingBound: with more distinct values than K, Top is
// approximate and every row is within the Space-Saving error of the true
// count (at most total/K per minute block merged); the total is exact.
func TestSpaceSavingBound(t *testing.T) {
	dir := t.TempDir()
	cfg := Default()
	cfg.Dir = dir
	cfg.TopK, cfg.TopKHigh = 10, 10
	now := base.Add(3 * time.Hour)
	cfg.Now = func() time.Time { return now }
	s, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	bt := event.NewBatch()
	truth := map[string]float64{}
	var total float64
	for i := range 5000 {
		e := bt.Add()
		e.Kind = event.KindFlow
		e.Timestamp = base.Add(time.Duration(i%10) * time.Minute)
		// A few heavy sources and a long tail.
		v := i % 7
		if i%3 == 0 {
			v = 100 + i
		}
		e.Src.IP = netip.AddrFrom4([4]byte{10, 0, byte(v >> 8), byte(v)})
		e.Flow.Bytes = uint64(1000 + (i%5)*100)
		if v < 7 {
			e.Flow.Bytes *= 20
		}
		e.Flow.Packets = 1
		truth[e.Src.IP.String()] += float64(e.Flow.Bytes)
		total += float64(e.Flow.Bytes)
	}
	bt.EncodeJSON()
	feed(t, s, bt)
	top, err := s.Top(context.Background(), console.TopRequest{Query: console.Query{Kind: "flows", From: base, To: base.Add(10 * time.Minute)}, Metric: "bytes", Dim: "source.ip", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !top.Approx {
		t.Error("Approx = false with 1,700 distinct sources and K = 10")
	}
	if top.Total != total {
		t.Errorf("Total = %v, want exactly %v", top.Total, total)
	}
	// Per minute block the error is at most total/K; 10 minute blocks.
	bound := total / 10
	for _, r := range top.Rows {
		if d := r.Value - truth[r.Key]; d < 0 || d > bound {
			t.Errorf("row %s = %v, true %v: error %v outside [0, %v]", r.Key, r.Value, truth[r.Key], d, bound)
		}
	}
	// The heavy sources are all found.
	for v := range 7 {
		k := netip.AddrFrom4([4]byte{10, 0, 0, byte(v)}).String()
		found := false
		for _, r := range top.Rows {
			found = found || r.Key == k
		}
		if !found {
			t.Errorf("heavy source %s missing from %v", k, top.Rows)
		}
	}
}

func TestFilters(t *testing.T) {
	g := setupGolden(t, t.TempDir())
	rng := [2]time.Time{base, base.Add(time.Hour)}
	for _, c := range []struct {
		kind, dim, filter string
	}{
		{console.KindFlows, "destination.port", "event.action:network_flow"},
		{console.KindFlows, "destination.port", "NOT event.dataset:netfilter.log"},
		{console.KindFlows, "destination.port", "destination.port:53"},
		{console.KindFlows, "destination.port", "destination.port:[1 TO 1024] AND event.action:network_flow"},
		{console.KindFlows, "source.ip", "source.ip:192.0.2.0/24"},
		{console.KindFlows, "network.transport", "network.transport:(tcp OR icmp)"},
		{console.KindSyslog, "host.hostname", "event.action:deny"},
		{console.KindSyslog, "destination.port", "NOT event.action:allow AND network.direction:(ingress OR egress)"},
		{console.KindSyslog, "event.dataset", `event.dataset:meraki.* AND NOT event.action:allow`},
		{console.KindSyslog, "destination.port", "event.dataset:netfilter.log AND destination.port:>1000"},
		{console.KindSyslog, "f5.asm.attack_type", "f5.asm.attack_type:*"},
		{console.KindSyslog, "source.ip", "event.dataset:f5.asm AND NOT source.ip:10.0.0.0/8"},
	} {
		t.Run(c.kind+" "+c.filter, func(t *testing.T) {
			ds := g.flows
			if c.kind == console.KindSyslog {
				ds = g.syslog
			}
			metric := metricsOf(c.kind)[0]
			m, _ := query.ParseQueryString(c.filter, query.Options{})
			total, _ := want(t, ds, metric, "", m, rng[0], rng[1])
			if total == 0 {
				t.Fatalf("filter %q matches no document: the case tests nothing", c.filter)
			}
			checkTop(t, g.s, ds, c.kind, metric, c.dim, c.filter, rng[0], rng[1])
			checkSeries(t, g.s, ds, c.kind, metric, c.dim, c.filter, time.Minute, rng[0], rng[1])
			if !strings.Contains(c.filter, c.dim) {
				checkSeries(t, g.s, ds, c.kind, metric, "", c.filter, 5*time.Minute, rng[0], rng[1])
			}
		})
	}
}
