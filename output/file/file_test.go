package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/event"
)

func testConfig(t testing.TB) Config {
	cfg := Default()
	cfg.Dir = filepath.Join(t.TempDir(), "data")
	cfg.FsyncInterval = time.Hour
	return cfg
}

func newOutput(t testing.TB, cfg Config, reg *prometheus.Registry) *Output {
	t.Helper()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	o, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	t.Cleanup(func() { o.Close(context.Background()) })
	return o
}

// fillFlow makes e a realistic NetFlow v9 flow with id i at time ts.
func fillFlow(e *event.Event, ts time.Time, i int) {
	e.Kind = event.KindFlow
	e.Timestamp = ts
	e.Created = ts.Add(time.Second)
	e.Observer = netip.MustParseAddr("192.0.2.1")
	e.Src = event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: uint16(40000 + i%20000), Bytes: 1500, Packets: 3}
	e.Dst = event.Endpoint{IP: netip.MustParseAddr("93.184.216.34"), Port: 443}
	e.Flow = event.Flow{Protocol: 6, HasProtocol: true, Bytes: 1500, Packets: 3,
		Start: ts.Add(-10 * time.Second), End: ts, Version: 9, SourceID: 1, UptimeMillis: 1234567, HasUptime: true}
	e.AddIP("ipv4_src_addr", e.Src.IP)
	e.AddIP("ipv4_dst_addr", e.Dst.IP)
	e.AddUint("l4_src_port", uint64(e.Src.Port))
	e.AddUint("l4_dst_port", 443)
	e.AddUint("protocol", 6)
	e.AddUint("in_bytes", 1500)
	e.AddUint("in_pkts", 3)
	e.AddUint("tcp_flags", 0x1b)
	e.AddUint("src_tos", 0)
	e.AddUint("input_snmp", 3)
	e.AddUint("output_snmp", 5)
	e.AddIP("ipv4_next_hop", netip.MustParseAddr("10.1.255.254"))
	e.AddUint("src_as", 0)
	e.AddUint("dst_as", 15133)
	e.AddUint("flow_sampler_id", 0)
}

type ev struct {
	kind event.Kind
	ts   time.Time
}

func batchOf(evs ...ev) *event.Batch {
	b := event.NewBatch()
	for i, x := range evs {
		e := b.Add()
		if x.kind == event.KindFlow {
			fillFlow(e, x.ts, i)
			continue
		}
		e.Kind = x.kind
		e.Timestamp = x.ts
		e.Observer = netip.MustParseAddr("10.9.9.9")
	}
	return b
}

func write(t testing.TB, o *Output, b *event.Batch) {
	t.Helper()
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatalf("Write() error: %v", err)
	}
	b.Release()
}

// readLines returns the NDJSON documents of every file in dir, by file name,
// checking that each line is valid JSON.
func readLines(t testing.TB, dir string) map[string][]map[string]any {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]map[string]any{}
	for _, de := range entries {
		f, err := os.Open(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var doc map[string]any
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				t.Fatalf("%s: line %q is not JSON: %v", de.Name(), sc.Text(), err)
			}
			out[de.Name()] = append(out[de.Name()], doc)
		}
		f.Close()
		if _, ok := out[de.Name()]; !ok {
			out[de.Name()] = nil
		}
	}
	return out
}

func counts(docs map[string][]map[string]any) map[string]int {
	c := map[string]int{}
	for k, v := range docs {
		c[k] = len(v)
	}
	return c
}

func TestConfigValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"empty dir", func(c *Config) { c.Dir = "" }, []string{"output.file.dir:"}},
		{"bad flows index", func(c *Config) { c.FlowsIndex = "flows" }, []string{"output.file.flows_index:", "has no date"}},
		{"bad syslog index", func(c *Config) { c.SyslogIndex = "s-%{+mm}" }, []string{"output.file.syslog_index:", `"mm"`}},
		{"same index", func(c *Config) { c.SyslogIndex = c.FlowsIndex }, []string{"output.file.syslog_index:", "same as output.file.flows_index"}},
		{"bad timezone", func(c *Config) { c.Timezone = "Mars/Olympus" }, []string{"output.file.timezone:", "Mars/Olympus"}},
		{"empty timezone", func(c *Config) { c.Timezone = "" }, []string{"output.file.timezone:"}},
		{"negative fsync", func(c *Config) { c.FsyncInterval = -time.Second }, []string{"output.file.fsync_interval:", "negative"}},
		{"mode not writable", func(c *Config) { c.FileMode = 0o440 }, []string{"output.file.file_mode:", "0440"}},
		{"mode with type bits", func(c *Config) { c.FileMode = os.ModeDir | 0o640 }, []string{"output.file.file_mode:"}},
		{"max open files", func(c *Config) { c.MaxOpenFiles = 0 }, []string{"output.file.max_open_files:", "below 1"}},
		{"several at once", func(c *Config) { c.Dir = ""; c.MaxOpenFiles = -1 }, []string{"output.file.dir:", "output.file.max_open_files:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mod(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			if _, err := New(c, nil, prometheus.NewRegistry()); err == nil {
				t.Errorf("New() with invalid config succeeded")
			}
		})
	}
}

func TestWriteRoutesByDayKindAndZone(t *testing.T) {
	for _, tc := range []struct {
		zone string
		want map[string]int
	}{
		{"UTC", map[string]int{
			"sluice-flows-2026.11.23.ndjson":  1,
			"sluice-flows-2026.11.24.ndjson":  3,
			"sluice-syslog-2026.11.24.ndjson": 1,
			"sluice-flows-2026.11.25.ndjson":  1,
		}},
		// Berlin is UTC+1 in November: 23:30 UTC on the 24th is the 25th there.
		{"Europe/Berlin", map[string]int{
			"sluice-flows-2026.11.24.ndjson":  3,
			"sluice-syslog-2026.11.25.ndjson": 1,
			"sluice-flows-2026.11.25.ndjson":  2,
		}},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Timezone = tc.zone
			o := newOutput(t, cfg, nil)
			day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
			write(t, o, batchOf(
				ev{event.KindFlow, day.Add(-30 * time.Minute)}, // 23.: 23:30 UTC = 00:30 Berlin on the 24th
				ev{event.KindFlow, day.Add(10 * time.Hour)},
				ev{event.KindFlow, day.Add(12 * time.Hour)},
				ev{event.KindSyslog, day.Add(23*time.Hour + 30*time.Minute)},
				ev{event.KindFlow, day.Add(23*time.Hour + 30*time.Minute)},
				ev{event.KindFlow, day.Add(24*time.Hour + time.Minute)},
			))
			docs := readLines(t, cfg.Dir)
			if diff := cmp.Diff(tc.want, counts(docs)); diff != "" {
				t.Errorf("lines per file (-want +got):\n%s", diff)
			}
		})
	}
}

// A stage can give an event its own index pattern (a vendor's): it gets
// its own daily file, in the output's zone; the rest keep the kind's.
func TestWriteEventIndex(t *testing.T) {
	ref, err := event.RegisterIndex("sluice-meraki-%{+yyyy.MM.dd}")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Timezone = "Europe/Berlin"
	o := newOutput(t, cfg, nil)
	ts := time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC)
	b := batchOf(ev{event.KindSyslog, ts}, ev{event.KindSyslog, ts}, ev{event.KindFlow, ts})
	b.All()[1].Index = ref
	write(t, o, b)
	want := map[string]int{
		"sluice-syslog-2026.11.25.ndjson": 1,
		"sluice-meraki-2026.11.25.ndjson": 1,
		"sluice-flows-2026.11.25.ndjson":  1,
	}
	if diff := cmp.Diff(want, counts(readLines(t, cfg.Dir))); diff != "" {
		t.Errorf("lines per file (-want +got):\n%s", diff)
	}
}

func TestWriteZeroTimestamp(t *testing.T) {
	cfg := testConfig(t)
	o := newOutput(t, cfg, nil)
	o.now = func() time.Time { return time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC) }
	b := event.NewBatch()
	e := b.Add()
	e.Kind = event.KindSyslog
	e.Created = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e = b.Add()
	e.Kind = event.KindUnknown
	write(t, o, b)
	want := map[string]int{"sluice-syslog-2026.01.01.ndjson": 1, "sluice-flows-2026.02.03.ndjson": 1}
	if diff := cmp.Diff(want, counts(readLines(t, cfg.Dir))); diff != "" {
		t.Errorf("lines per file (-want +got):\n%s", diff)
	}
}

func TestReopenAppends(t *testing.T) {
	cfg := testConfig(t)
	ts := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for run := 0; run < 3; run++ {
		o, err := New(cfg, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		write(t, o, batchOf(ev{event.KindFlow, ts}, ev{event.KindFlow, ts}))
		if err := o.Close(context.Background()); err != nil {
			t.Fatalf("Close() error: %v", err)
		}
	}
	if got := counts(readLines(t, cfg.Dir))["sluice-flows-2026.11.24.ndjson"]; got != 6 {
		t.Fatalf("after 3 runs of 2 events the file has %d lines, want 6", got)
	}
}

func TestReopenAfterPartialLine(t *testing.T) {
	cfg := testConfig(t)
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.Dir, "sluice-flows-2026.11.24.ndjson")
	// A crash mid-write left a partial line behind.
	if err := os.WriteFile(path, []byte("{\"ok\":1}\n{\"trunc"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, cfg, nil)
	b := batchOf(ev{event.KindFlow, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)})
	b.EncodeJSON() // the one-file fast path must still start a new line
	write(t, o, b)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 || lines[1] != `{"trunc` || !json.Valid([]byte(lines[2])) {
		t.Fatalf("file after reopen:\n%s\nwant the old lines kept and the new document on its own line", data)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("existing file mode = %#o, want 0600 kept", st.Mode().Perm())
	}
}

func TestFileMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o664, 0o600} {
		cfg := testConfig(t)
		cfg.FileMode = mode
		o := newOutput(t, cfg, nil)
		write(t, o, batchOf(ev{event.KindFlow, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}))
		st, err := os.Stat(filepath.Join(cfg.Dir, "sluice-flows-2026.11.24.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("file mode = %#o, want %#o", st.Mode().Perm(), mode)
		}
		dst, err := os.Stat(cfg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if dst.Mode().Perm()&^0o750 != 0 {
			t.Errorf("dir mode = %#o, want at most 0750", dst.Mode().Perm())
		}
	}
}

func fsyncCount(t testing.TB, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "sluice_output_fsync_duration_seconds" {
			var n uint64
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "output" && l.GetValue() == "file" {
						n += m.GetHistogram().GetSampleCount()
					}
				}
			}
			return n
		}
	}
	return 0
}

func TestFsync(t *testing.T) {
	ts := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	two := func() *event.Batch { return batchOf(ev{event.KindFlow, ts}, ev{event.KindSyslog, ts}) }

	t.Run("on close", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		o := newOutput(t, testConfig(t), reg)
		write(t, o, two())
		if n := fsyncCount(t, reg); n != 0 {
			t.Fatalf("fsyncs before Close = %d, want 0 (interval 1h)", n)
		}
		if err := o.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := fsyncCount(t, reg); n != 2 {
			t.Fatalf("fsyncs after Close = %d, want 2 (one per file)", n)
		}
	})

	t.Run("on interval", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		cfg := testConfig(t)
		cfg.FsyncInterval = time.Second
		o := newOutput(t, cfg, reg)
		clock := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		o.now = func() time.Time { return clock }
		o.lastSync = clock
		write(t, o, two())
		if n := fsyncCount(t, reg); n != 0 {
			t.Fatalf("fsyncs within the interval = %d, want 0", n)
		}
		clock = clock.Add(999 * time.Millisecond)
		if err := o.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := fsyncCount(t, reg); n != 0 {
			t.Fatalf("fsyncs by Flush within the interval = %d, want 0", n)
		}
		clock = clock.Add(time.Millisecond)
		if err := o.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := fsyncCount(t, reg); n != 2 {
			t.Fatalf("fsyncs by Flush after the interval = %d, want 2", n)
		}
		// Nothing new written: no more fsyncs.
		clock = clock.Add(time.Hour)
		if err := o.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := fsyncCount(t, reg); n != 2 {
			t.Fatalf("fsyncs of clean files = %d, want still 2", n)
		}
		// Write checks the interval too.
		clock = clock.Add(time.Hour)
		write(t, o, batchOf(ev{event.KindFlow, ts}))
		if n := fsyncCount(t, reg); n != 3 {
			t.Fatalf("fsyncs by Write after the interval = %d, want 3", n)
		}
	})

	t.Run("every batch", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		cfg := testConfig(t)
		cfg.FsyncInterval = 0
		o := newOutput(t, cfg, reg)
		write(t, o, two())
		write(t, o, batchOf(ev{event.KindFlow, ts}))
		if n := fsyncCount(t, reg); n != 3 {
			t.Fatalf("fsyncs = %d, want 3 (2 files, then 1)", n)
		}
	})
}

func TestLRUClosesOldDays(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig(t)
	cfg.MaxOpenFiles = 2
	o := newOutput(t, cfg, reg)
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var want = map[string]int{}
	name := func(d int) string { return "sluice-flows-" + day.AddDate(0, 0, d).Format("2006.01.02") + ".ndjson" }

	// One batch touching five days, interleaved: files must be evicted (and
	// their pending lines written) within the batch.
	var evs []ev
	for i := 0; i < 20; i++ {
		evs = append(evs, ev{event.KindFlow, day.AddDate(0, 0, i%5)})
		want[name(i%5)]++
	}
	write(t, o, batchOf(evs...))
	if got := testutil.ToFloat64(o.m.openFiles); got > 2 {
		t.Fatalf("open files = %v, want at most 2", got)
	}
	// Then many batches walking forward through days, with a late event
	// for an old day now and then.
	for d := 5; d < 40; d++ {
		b := batchOf(ev{event.KindFlow, day.AddDate(0, 0, d)}, ev{event.KindFlow, day.AddDate(0, 0, d)})
		want[name(d)] += 2
		if d%7 == 0 {
			fillFlow(b.Add(), day.AddDate(0, 0, d-6), 99)
			want[name(d-6)]++
		}
		write(t, o, b)
		if got := testutil.ToFloat64(o.m.openFiles); got > 2 {
			t.Fatalf("open files = %v, want at most 2", got)
		}
		if len(o.files) > 2 {
			t.Fatalf("%d files in the map, want at most 2", len(o.files))
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(o.m.openFiles); got != 0 {
		t.Errorf("open files after Close = %v, want 0", got)
	}
	if diff := cmp.Diff(want, counts(readLines(t, cfg.Dir))); diff != "" {
		t.Errorf("lines per file (-want +got):\n%s", diff)
	}
	var total int
	for _, n := range want {
		total += n
	}
	if got := testutil.ToFloat64(o.m.events); got != float64(total) {
		t.Errorf("sluice_output_events_total = %v, want %d", got, total)
	}
}

func TestLineOrderKeptWithinFile(t *testing.T) {
	cfg := testConfig(t)
	o := newOutput(t, cfg, nil)
	ts := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	b := event.NewBatch()
	for i := 0; i < 300; i++ {
		fillFlow(b.Add(), ts.Add(time.Duration(i)*time.Millisecond), i)
	}
	write(t, o, b)
	docs := readLines(t, cfg.Dir)["sluice-flows-2026.11.24.ndjson"]
	var got []float64
	for _, d := range docs {
		got = append(got, d["source"].(map[string]any)["port"].(float64))
	}
	if !sort.Float64sAreSorted(got) || len(got) != 300 {
		t.Fatalf("lines out of order or missing: %v", got)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig(t)
	o := newOutput(t, cfg, reg)
	ts := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	write(t, o, batchOf(ev{event.KindFlow, ts}, ev{event.KindFlow, ts}, ev{event.KindSyslog, ts}))
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var size int64
	entries, _ := os.ReadDir(cfg.Dir)
	for _, de := range entries {
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	if got := testutil.ToFloat64(o.m.events); got != 3 {
		t.Errorf("sluice_output_events_total = %v, want 3", got)
	}
	if got := testutil.ToFloat64(o.m.bytes); got != float64(size) {
		t.Errorf("sluice_output_bytes_total = %v, want %d (file sizes)", got, size)
	}
	if got := testutil.ToFloat64(o.m.writeErrors); got != 0 {
		t.Errorf("sluice_output_write_errors_total = %v, want 0", got)
	}
	// The families carry the output label, so other outputs can share them.
	if n, err := testutil.GatherAndCount(reg, "sluice_output_events_total", "sluice_output_bytes_total",
		"sluice_output_write_errors_total", "sluice_output_open_files", "sluice_output_fsync_duration_seconds"); err != nil || n != 5 {
		t.Errorf("GatherAndCount() = %d, %v; want 5 series", n, err)
	}
	// A second output on the same registry reuses the families.
	if _, err := New(testConfig(t), nil, reg); err != nil {
		t.Errorf("second New() on the same registry: %v", err)
	}
}

func TestWriteErrorDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("/dev/full not available")
	}
	reg := prometheus.NewRegistry()
	cfg := testConfig(t)
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		t.Fatal(err)
	}
	// Every write to /dev/full fails with ENOSPC, like a full disk.
	if err := os.Symlink("/dev/full", filepath.Join(cfg.Dir, "sluice-flows-2026.11.24.ndjson")); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, cfg, reg)
	ts := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	err := o.Write(context.Background(), batchOf(ev{event.KindFlow, ts}, ev{event.KindSyslog, ts}))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write() error = %v, want ENOSPC", err)
	}
	if got := testutil.ToFloat64(o.m.writeErrors); got != 1 {
		t.Errorf("sluice_output_write_errors_total = %v, want 1", got)
	}
	if got := testutil.ToFloat64(o.m.events); got != 1 {
		t.Errorf("sluice_output_events_total = %v, want 1 (the syslog event in its own file)", got)
	}
	if err := o.Ready(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Ready() = %v, want the ENOSPC write error", err)
	}
	// A batch for a healthy file makes the output ready again.
	write(t, o, batchOf(ev{event.KindSyslog, ts}))
	if err := o.Ready(); err != nil {
		t.Errorf("Ready() after a good write = %v, want nil", err)
	}
}

func TestWriteErrorOpen(t *testing.T) {
	cfg := testConfig(t)
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "sluice-flows-2026.11.24.ndjson"), 0o750); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, cfg, nil)
	ts := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	err := o.Write(context.Background(), batchOf(ev{event.KindSyslog, ts}, ev{event.KindFlow, ts}))
	if err == nil || !strings.Contains(err.Error(), "sluice-flows-2026.11.24.ndjson") {
		t.Fatalf("Write() error = %v, want an open error naming the file", err)
	}
	// Nothing of the failed batch was written.
	if got := counts(readLines(t, cfg.Dir))["sluice-syslog-2026.11.24.ndjson"]; got != 0 {
		t.Errorf("syslog file has %d lines after a failed batch, want 0", got)
	}
	if got := testutil.ToFloat64(o.m.writeErrors); got != 1 {
		t.Errorf("sluice_output_write_errors_total = %v, want 1", got)
	}
}

func TestClosed(t *testing.T) {
	o := newOutput(t, testConfig(t), nil)
	if err := o.Ready(); err != nil {
		t.Fatalf("Ready() = %v, want nil", err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}
	if err := o.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready() after Close = %v, want ErrClosed", err)
	}
	b := batchOf(ev{event.KindFlow, time.Now()})
	defer b.Release()
	if err := o.Write(context.Background(), b); !errors.Is(err, ErrClosed) {
		t.Errorf("Write() after Close = %v, want ErrClosed", err)
	}
}

func TestWriteCanceledContext(t *testing.T) {
	o := newOutput(t, testConfig(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := batchOf(ev{event.KindFlow, time.Now()})
	defer b.Release()
	if err := o.Write(ctx, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write(canceled) = %v, want context.Canceled", err)
	}
}

func TestNewCreatesDir(t *testing.T) {
	cfg := testConfig(t)
	cfg.Dir = filepath.Join(cfg.Dir, "a", "b")
	newOutput(t, cfg, nil)
	st, err := os.Stat(cfg.Dir)
	if err != nil || !st.IsDir() {
		t.Fatalf("New() did not create %s: %v", cfg.Dir, err)
	}
}

func TestWriteDoesNotAllocateSteadyState(t *testing.T) {
	for _, pre := range []bool{false, true} {
		cfg := testConfig(t)
		o := newOutput(t, cfg, nil)
		ts := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		b := event.NewBatch()
		for i := 0; i < 64; i++ {
			fillFlow(b.Add(), ts, i)
		}
		if pre {
			b.EncodeJSON()
		}
		ctx := context.Background()
		if err := o.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(20, func() {
			if err := o.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Write() (pre-encoded %v) allocates %.1f times per batch in steady state, want 0", pre, n)
		}
		b.Release()
	}
}

func BenchmarkFileWrite(b *testing.B) {
	cfg := testConfig(b)
	o, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close(context.Background())
	const batchSize = 256
	ts := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	batch := event.NewBatch()
	for i := 0; i < batchSize; i++ {
		fillFlow(batch.Add(), ts.Add(time.Duration(i)*time.Millisecond), i)
	}
	defer batch.Release()
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := o.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n += batchSize
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(testutil.ToFloat64(o.m.bytes)/float64(n), "bytes/event")
}

// A batch encoded by the pipeline's Encode stage must produce the same files
// as one the output encodes itself.
func TestPreEncodedBatchSameFiles(t *testing.T) {
	day1 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	mixed := []ev{{event.KindFlow, day1}, {event.KindSyslog, day1}, {event.KindFlow, day2}, {event.KindFlow, day1}}
	oneDay := []ev{{event.KindFlow, day1}, {event.KindFlow, day1.Add(time.Hour)}, {event.KindFlow, day1}}
	dirs := make([]string, 2)
	for n, pre := range []bool{false, true} {
		cfg := testConfig(t)
		dirs[n] = cfg.Dir
		o := newOutput(t, cfg, nil)
		for _, evs := range [][]ev{mixed, oneDay} {
			b := batchOf(evs...)
			if pre {
				b.EncodeJSON()
				if _, ok := b.JSONLine(0); !ok {
					t.Fatal("EncodeJSON left no lines")
				}
			}
			write(t, o, b)
		}
		if err := o.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"sluice-flows-2026.03.01.ndjson", "sluice-flows-2026.03.02.ndjson", "sluice-syslog-2026.03.01.ndjson"} {
		a, errA := os.ReadFile(filepath.Join(dirs[0], name))
		b, errB := os.ReadFile(filepath.Join(dirs[1], name))
		if errA != nil || errB != nil {
			t.Fatalf("reading %s: %v %v", name, errA, errB)
		}
		if string(a) != string(b) || len(a) == 0 {
			t.Errorf("%s differs between self-encoded and pre-encoded batches:\n%s\n---\n%s", name, a, b)
		}
	}
}
