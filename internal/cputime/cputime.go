// Package cputime reads CPU time, for benchmarks on a shared machine: CPU
// time per event says more than wall time when other work competes for
// the cores. Benchmarks report it with b.ReportMetric (cpu-ns/op,
// cpu-ns/event).
package cputime

import (
	"time"

	"golang.org/x/sys/unix"
)

// Process is the process's user and system CPU time so far (0 if the
// kernel does not say).
func Process() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Thread is the calling thread's CPU time so far; the caller must stay on
// its thread (runtime.LockOSThread) between two readings.
func Thread() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}
