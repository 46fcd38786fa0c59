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
	for _, name := range []string{"flows-1m-2026-12-07.rlb", "syslog-1h-2026-12-07.rlb"} {
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
	})
}
