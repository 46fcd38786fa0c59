package collector

import (
	"net"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// overflowSocket makes the kernel drop datagrams on a socket nobody reads
// (its receive buffer as small as the kernel allows) and returns how many
// it dropped there.
func overflowSocket(t *testing.T, n int) uint32 {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if raw, err := c.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1) })
	}
	s, err := net.DialUDP("udp", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, 1000)
	for range n {
		_, _ = s.Write(buf)
	}
	d, err := kernelSocketDrops(c)
	if err != nil {
		t.Fatalf("kernelSocketDrops() = %v", err)
	}
	if d == 0 {
		t.Fatalf("%d datagrams into a 1-byte receive buffer: the kernel dropped none", n)
	}
	return d
}

// TestKernelRcvbufErrorsSinceStart: the host-wide counter already counts
// drops of before sluice started (made here on purpose); the metric starts
// below that and advances with drops made after.
func TestKernelRcvbufErrorsSinceStart(t *testing.T) {
	overflowSocket(t, 500)
	raw := KernelUDPRcvbufErrors()
	if raw == 0 {
		t.Fatal("/proc/net/snmp Udp RcvbufErrors is 0 after drops were made; cannot read the counter")
	}
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	metric := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "sluice_collector_kernel_udp_rcvbuf_errors_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("sluice_collector_kernel_udp_rcvbuf_errors_total not registered")
		return 0
	}
	// Other processes may drop meanwhile: only the drops made before
	// must be missing.
	before := metric()
	if before >= float64(raw) {
		t.Fatalf("at start the metric = %v, want below the host's total %d (it must count since start)", before, raw)
	}
	d := overflowSocket(t, 500)
	if after := metric(); after-before < float64(d) {
		t.Errorf("after %d drops on a socket the metric advanced %v -> %v, want +%d at least", d, before, after, d)
	}
}

func TestSinceBase(t *testing.T) {
	for _, tc := range []struct{ v, base, want uint64 }{{10, 4, 6}, {4, 4, 0}, {3, 10, 3}} {
		if got := sinceBase(tc.v, tc.base); got != tc.want {
			t.Errorf("sinceBase(%d, %d) = %d, want %d", tc.v, tc.base, got, tc.want)
		}
	}
}
