package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The binary on a real full disk (a 1 MiB tmpfs): it keeps running, names
// the disk full, counts it, logs a bounded number of lines however many
// batches fail, and writes again once space is freed.
func TestDiskFullEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root; run the test as root")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (%v); run as root with CAP_SYS_ADMIN", mnt, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 512<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(mnt, "out")
	ps := newPorts(t)
	p := startSluice(t, sluiceOpts{Ports: ps, OutDir: outDir})
	snd := newUDPSender(t)
	pad := strings.Repeat("x", 400)
	seq := 0
	sendBurst := func(n int) {
		for range n {
			seq++
			snd.send(ps.SyslogUDP, fmt.Appendf(nil, "<14>1 2026-12-07T06:00:00Z host app - - - line %d %s", seq, pad))
		}
	}
	diskFull := func() float64 {
		v, _ := metricSum(p.metrics(), `sluice_output_disk_full_errors_total{output="file"}`)
		return v
	}
	// Fill the disk, then go on sending in many small bursts: every batch
	// that reaches the file output fails.
	deadline := time.Now().Add(20 * time.Second)
	for diskFull() == 0 && time.Now().Before(deadline) {
		sendBurst(200)
		time.Sleep(20 * time.Millisecond)
	}
	if diskFull() == 0 {
		t.Fatalf("no disk-full error after sending %d lines to a 1 MiB file system; metrics:\n%s", seq, metricLines(p.metrics(), "sluice_output"))
	}
	for range 100 {
		sendBurst(5)
		time.Sleep(5 * time.Millisecond)
	}
	waitUDPDrained(t, ps.SyslogUDP, 5*time.Second)
	failed := diskFull()
	if failed < 20 {
		t.Fatalf("only %v failed writes; the test wants many to check the log stays short", failed)
	}
	if resp, err := httpClient.Get(p.url("/readyz")); err != nil || resp.StatusCode == 200 {
		t.Errorf("GET /readyz on a full disk = %v, %v; want not ready", resp, err)
	} else {
		resp.Body.Close()
	}

	// Space comes back: writing resumes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	written := func() float64 {
		v, _ := metricSum(p.metrics(), `sluice_output_events_total{output="file"}`)
		return v
	}
	before := written()
	deadline = time.Now().Add(10 * time.Second)
	for written() == before && time.Now().Before(deadline) {
		sendBurst(1)
		time.Sleep(50 * time.Millisecond)
	}
	if written() == before {
		t.Fatalf("no event written within 10s after freeing space; metrics:\n%s", metricLines(p.metrics(), "sluice_output"))
	}
	p.stop()

	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(raw)
	errLines := strings.Count(log, "level=ERROR")
	diskLines := strings.Count(log, `msg="disk full: `)
	if diskLines < 1 || !strings.Contains(log, "disk full: "+outDir+" (") {
		t.Errorf("the log does not name the full disk %s:\n%s", outDir, log)
	}
	// The runner's per-batch line is held to 5 per 10s by the log limit; the
	// file output's own line to 1 per 10s. The test runs well under a
	// minute, so a flood would be hundreds of lines.
	if errLines > 30 {
		t.Errorf("%d ERROR lines for %v failed writes: the log is flooded", errLines, failed)
	}
	if !strings.Contains(log, "repeats_suppressed=") {
		t.Errorf("no repeats_suppressed summary in the log")
	}
	if !strings.Contains(log, "disk space available again") {
		t.Errorf("no recovery line in the log")
	}
	t.Logf("%v failed writes, %d ERROR lines (%d disk full), %d lines sent", failed, errLines, diskLines, seq)
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}
