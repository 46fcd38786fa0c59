package cputime

import (
	"runtime"
	"testing"
	"time"
)

// Both clocks advance while the thread burns CPU, and not by more than
// the wall time (the thread's) or the cores times the wall time (the
// process's).
func TestClocksAdvance(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0, t0, w0 := Process(), Thread(), time.Now()
	x := 0
	for time.Since(w0) < 50*time.Millisecond {
		x++
	}
	wall := time.Since(w0)
	dp, dt := Process()-p0, Thread()-t0
	if dt <= 0 || dp <= 0 {
		t.Fatalf("thread CPU +%v, process CPU +%v after %v of a busy loop (%d turns): want both > 0", dt, dp, wall, x)
	}
	if dt > wall+10*time.Millisecond {
		t.Errorf("thread CPU +%v exceeds the wall time %v", dt, wall)
	}
	if limit := time.Duration(runtime.NumCPU())*wall + 20*time.Millisecond; dp > limit {
		t.Errorf("process CPU +%v exceeds %d cores x %v", dp, runtime.NumCPU(), wall)
	}
}
