package file

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/fsutil"
	"github.com/sluicelab/sluice/internal/obs"
)

// mountTmpfs mounts a tmpfs of size (e.g. "1m") on a new directory and
// unmounts it at cleanup. It skips, saying why, when that is not possible.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root; run the test as root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (%v); run as root with CAP_SYS_ADMIN", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// lockedBuffer collects log output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

// A real full file system: the output fills it, reports the disk as full
// (error text, Ready, metric, one log line rather than one per batch),
// leaves no partial line behind, and resumes once there is space again.
func TestDiskFullTmpfs(t *testing.T) {
	mnt := mountTmpfs(t, "1m")
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Dir = filepath.Join(mnt, "data")
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	o, err := New(cfg, slog.New(slog.NewJSONHandler(logs, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close(context.Background()) })
	o.limiter = obs.NewLimiter(time.Hour) // one line per test run, however slow the machine

	ts := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	batch := func() *event.Batch {
		evs := make([]ev, 20)
		for i := range evs {
			evs[i] = ev{event.KindFlow, ts}
		}
		return batchOf(evs...)
	}
	written := 0
	var werr error
	for i := 0; i < 10000 && werr == nil; i++ {
		b := batch()
		if werr = o.Write(context.Background(), b); werr == nil {
			written += b.Len()
		}
		b.Release()
	}
	if !fsutil.IsDiskFull(werr) {
		t.Fatalf("Write() on a filled 1 MiB tmpfs = %v after %d events; want ENOSPC", werr, written)
	}
	failures := 1
	for i := 0; i < 300; i++ {
		b := batch()
		err := o.Write(context.Background(), b)
		b.Release()
		if !fsutil.IsDiskFull(err) {
			t.Fatalf("Write() %d on the full disk = %v; want ENOSPC", i, err)
		}
		failures++
	}
	msg := werr.Error()
	if !strings.HasPrefix(msg, "disk full: "+cfg.Dir+" (") || !strings.Contains(msg, "bytes free); free space there") {
		t.Errorf("Write() error = %q; want it to name the disk full, %s, the space left and the fix", msg, cfg.Dir)
	}
	if err := o.Ready(); err == nil || !strings.Contains(err.Error(), "disk full: "+cfg.Dir) {
		t.Errorf("Ready() on the full disk = %v; want the disk-full error (backpressure)", err)
	}
	if got := testutil.ToFloat64(o.m.diskFull); got != float64(failures) {
		t.Errorf("sluice_output_disk_full_errors_total = %v, want %d", got, failures)
	}
	if got := testutil.ToFloat64(o.m.writeErrors); got != float64(failures) {
		t.Errorf("sluice_output_write_errors_total = %v, want %d", got, failures)
	}
	if n := strings.Count(strings.Join(logs.lines(), "\n"), `"level":"ERROR"`); n != 1 {
		t.Errorf("%d ERROR lines for %d failed batches, want 1:\n%s", n, failures, strings.Join(logs.lines(), "\n"))
	}

	// Space comes back: the next batch is written and the output is ready.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	b := batch()
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatalf("Write() after freeing space = %v", err)
	}
	written += b.Len()
	b.Release()
	if err := o.Ready(); err != nil {
		t.Errorf("Ready() after freeing space = %v, want nil", err)
	}
	if !strings.Contains(strings.Join(logs.lines(), "\n"), "disk space available again") {
		t.Errorf("no recovery line in the log:\n%s", strings.Join(logs.lines(), "\n"))
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	// Every line is whole JSON (readLines checks) and exactly the accepted
	// events are there: failed batches left nothing behind.
	if got := counts(readLines(t, cfg.Dir))["sluice-flows-2026.12.07.ndjson"]; got != written {
		t.Errorf("file has %d lines, want the %d events of accepted batches", got, written)
	}
	t.Logf("accepted %d events, then %d batches refused with %q; 1 log line", written, failures, msg)
}

func TestDiskFullErrorOnlyForSpace(t *testing.T) {
	o := newOutput(t, testConfig(t), nil)
	plain := errors.New("write x: input/output error")
	if err := o.checkDiskFull(plain); err != plain || o.diskFull {
		t.Errorf("checkDiskFull(EIO-like) = %v, diskFull %v; want it unchanged", err, o.diskFull)
	}
}
