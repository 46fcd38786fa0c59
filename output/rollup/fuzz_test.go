package rollup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecodeBlock: the block decoder reads files sluice wrote but that
// may be torn or damaged. Property: no panic, no hang; a block that
// decodes encodes to bytes that decode to the same block.
func FuzzDecodeBlock(f *testing.F) {
	g := setupGolden(f, f.TempDir())
	g.s.Close(context.Background())
	for _, name := range []string{"flows-1m-2026-12-07.rlb", "syslog-1h-2026-12-07.rlb", "dns-1m-2026-12-07.rlb", "dns-1h-2026-12-07.rlb"} {
		p, err := os.ReadFile(filepath.Join(g.s.cfg.Dir, name))
		if err != nil {
			f.Fatal(err)
		}
		_, n, err := decodeFrame(p, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p[:n])
		f.Add(p[:n/2])
	}
	f.Add(appendBlock(nil, &block{kind: kindFlows, res: resMinute, start: time.Unix(0, 0).UTC()}))
	f.Add([]byte("SLRB\x01\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, p []byte) {
		b, n, err := decodeFrame(p, nil)
		if err != nil {
			return
		}
		_ = n
		re := appendBlock(nil, b)
		b2, _, err := decodeFrame(re, nil)
		if err != nil {
			t.Fatalf("a decoded block, encoded again, does not decode: %v", err)
		}
		if !bytes.Equal(appendBlock(nil, b2), re) {
			t.Fatalf("encode(decode(encode(b))) differs from encode(b)")
		}
		// Skipping dimensions must agree on the rest.
		if _, _, err := decodeFrame(p, func(string) bool { return false }); err != nil {
			t.Fatalf("decodes fully but not with dimensions skipped: %v", err)
		}
		// Decoding into reused memory (as the queries do, after another
		// block) gives the same block.
		var sc decodeScratch
		if _, _, err := decodeFrameScratch(re, nil, &sc); err != nil {
			t.Fatalf("decodes but not into scratch memory: %v", err)
		}
		b3, _, err := decodeFrameScratch(p, nil, &sc)
		if err != nil {
			t.Fatalf("decodes but not into reused scratch memory: %v", err)
		}
		if !bytes.Equal(appendBlock(nil, b3), re) {
			t.Fatalf("a block decoded into reused memory encodes differently")
		}
	})
}

// FuzzReverseLines: the Events view reads NDJSON files backwards in
// chunks. Property: the lines it returns, newest first, are the file's
// complete lines in reverse, with their offsets; a last line without
// newline is left out.
func FuzzReverseLines(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\n"), uint16(3))
	f.Add([]byte("one\n\ntwo\nthree"), uint16(1))
	f.Add([]byte("\n\n\n"), uint16(2))
	f.Add(bytes.Repeat([]byte("x"), 200), uint16(7))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		path := filepath.Join(t.TempDir(), "f.ndjson")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		rr := &revLines{f: fh, winStart: int64(len(data)), chunk: int64(chunk%512) + 1}
		if err := rr.trimPartial(); err != nil {
			t.Fatal(err)
		}
		// Forward: complete lines and where they start.
		type line struct {
			s     string
			start int64
		}
		var want []line
		for off := 0; ; {
			i := bytes.IndexByte(data[off:], '\n')
			if i < 0 {
				break
			}
			want = append(want, line{string(data[off : off+i]), int64(off)})
			off += i + 1
		}
		for i := len(want) - 1; i >= 0; i-- {
			got, start, ok, err := rr.prev()
			if err != nil || !ok {
				t.Fatalf("line %d: ok %v err %v", i, ok, err)
			}
			if len(want[i].s) > maxLine {
				continue
			}
			if string(got) != want[i].s || start != want[i].start {
				t.Fatalf("line %d = %q at %d, want %q at %d", i, got, start, want[i].s, want[i].start)
			}
		}
		if _, _, ok, _ := rr.prev(); ok {
			t.Fatal("a line beyond the file's")
		}
	})
}
