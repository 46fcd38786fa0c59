package beats

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// compressedFrame wraps raw (data frames or anything) in a compressed
// frame.
func compressedFrame(raw []byte) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	var out bytes.Buffer
	out.Write([]byte{'2', 'C'})
	_ = binary.Write(&out, binary.BigEndian, uint32(z.Len()))
	out.Write(z.Bytes())
	return out.Bytes()
}

// TestGuardDeclaredSizes: a peer declaring a huge window, data frame or
// compressed frame, or sending a compressed frame that inflates beyond
// the bound, has its connection closed (counted as framing) without
// sluice allocating what was declared.
func TestGuardDeclaredSizes(t *testing.T) {
	window1 := []byte("2W\x00\x00\x00\x01")
	// 70 data frames of 1 MiB each: within every per-frame bound, but
	// inflating beyond MaxCompressedBytes.
	var many bytes.Buffer
	for i := range 70 {
		many.Write([]byte{'2', 'J'})
		_ = binary.Write(&many, binary.BigEndian, uint32(i+1))
		_ = binary.Write(&many, binary.BigEndian, uint32(1<<20))
		many.Write(make([]byte, 1<<20))
	}
	bomb := append([]byte("2W\x00\x00\x00\x46"), compressedFrame(many.Bytes())...)
	zeros := compressedFrame(make([]byte, MaxCompressedBytes+1024))
	hugeInner := compressedFrame([]byte("2J\x00\x00\x00\x01\xff\xff\xff\xf0{}"))
	twoInOne := compressedFrame(append([]byte("2J\x00\x00\x00\x01\x00\x00\x00\x02{}"), "2J\x00\x00\x00\x02\x00\x00\x00\x02{}"...))
	cases := []struct {
		name     string
		stream   []byte
		maxAlloc uint64
	}{
		{"window of 2^32-1 events", []byte("2W\xff\xff\xff\xff"), 8 << 20},
		{"data frame of 4 GiB", append(window1, "2J\x00\x00\x00\x01\xff\xff\xff\xff"...), 8 << 20},
		{"compressed frame of 4 GiB", append(window1, "2C\xff\xff\xff\xff"...), 8 << 20},
		{"compressed frame inflating beyond the bound", bomb, 3 * MaxCompressedBytes},
		{"compressed zeros", append(window1, zeros...), 8 << 20},
		{"data frame of 4 GiB inside a compressed one", append(window1, hugeInner...), 8 << 20},
		{"more data frames than the window", append(window1, twoInOne...), 8 << 20},
		{"not a window", []byte("2Q\x00\x00\x00\x01"), 8 << 20},
		{"version 1", []byte("1W\x00\x00\x00\x01"), 8 << 20},
	}
	s, _, _ := start(t, defaultTestConfig())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(s.m.closed.WithLabelValues("framing"))
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			alloc0 := ms.TotalAlloc
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(tc.stream); err != nil {
				t.Logf("write: %v (the server closed early)", err)
			}
			// Not half-closed: the server must close by itself.
			// (A reset is a close too: the server closed with input unread.)
			if n, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("reading until the server closes: %v (after %d bytes)", err, n)
			}
			deadline := time.Now().Add(10 * time.Second)
			for testutil.ToFloat64(s.m.closed.WithLabelValues("framing")) == before && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := testutil.ToFloat64(s.m.closed.WithLabelValues("framing")); got != before+1 {
				t.Errorf("closed{reason=framing} = %v, want %v", got, before+1)
			}
			runtime.ReadMemStats(&ms)
			if d := ms.TotalAlloc - alloc0; d > tc.maxAlloc {
				t.Errorf("allocated %d bytes, want at most %d", d, tc.maxAlloc)
			}
		})
	}
}

// TestGuardTimeouts: a window started but not finished, and a connection
// that never starts one, are closed after the timeouts.
func TestGuardTimeouts(t *testing.T) {
	cfg := defaultTestConfig()
	cfg.Timeout, cfg.IdleTimeout = time.Second, time.Second
	s, _, _ := start(t, cfg)
	for _, stream := range [][]byte{nil, []byte("2W"), []byte("2W\x00\x00\x00\x022J\x00\x00")} {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = c.Write(stream)
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("stream %q: the server did not close the connection: %v", stream, err)
		}
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(s.m.closed.WithLabelValues("timeout")) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(s.m.closed.WithLabelValues("timeout")); got != 3 {
		t.Errorf("closed{reason=timeout} = %v, want 3", got)
	}
}
