package elasticsearch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func testBulk(t *testing.T, n int, tag string) *bulk {
	t.Helper()
	b := &bulk{}
	var id [idLen]byte
	for i := range n {
		doc := []byte(fmt.Sprintf(`{"tag":%q,"i":%d}`, tag, i))
		docID(&id, 1764000000000, doc, 0)
		b.add("sluice-flows-2026.11.24", id[:], doc)
	}
	return b
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSpoolFIFOAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 1<<20, DropOldest, discard())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if lost, _, err := s.put(context.Background(), testBulk(t, 10+i, fmt.Sprint(i))); err != nil || lost != 0 {
			t.Fatalf("put %d: lost %d, %v", i, lost, err)
		}
	}
	// A half-written segment from a crash and a stranger's file.
	os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("half"), 0o640)
	os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o640)

	s2, err := openSpool(dir, 1<<20, DropOldest, discard())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); !os.IsNotExist(err) {
		t.Error("leftover temporary file not removed at open")
	}
	if _, d := s2.stats(); d != 10+11+12 {
		t.Fatalf("reopened spool holds %d documents, want 33", d)
	}
	for i := range 3 {
		seg, _ := s2.claim()
		if seg == nil {
			t.Fatalf("claim %d: nothing", i)
		}
		body, err := s2.read(seg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseBulk(body)
		if err != nil || b.len() != 10+i {
			t.Fatalf("segment %d: %d items, %v (want %d, in order)", i, b.len(), err, 10+i)
		}
		if err := s2.done(seg); err != nil {
			t.Fatal(err)
		}
	}
	if !s2.empty() {
		t.Error("spool not empty after replaying everything")
	}
	if seg, wait := s2.claim(); seg != nil || wait == nil {
		t.Error("claim on an empty spool must return a wait channel")
	}
}

func TestSpoolWhenFull(t *testing.T) {
	one := testBulk(t, 20, "x")
	size := int64(len(one.body))
	for _, tc := range []struct {
		policy   string
		wantLost int
		wantKept []int // documents of the segments left, oldest first
	}{
		{DropOldest, 20, []int{21, 22}},
		{DropNewest, 22, []int{20, 21}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			s, err := openSpool(t.TempDir(), 2*size+size/2+64, tc.policy, discard())
			if err != nil {
				t.Fatal(err)
			}
			lost := 0
			for i := range 3 {
				n, _, _ := s.put(context.Background(), testBulk(t, 20+i, "x"))
				lost += n
			}
			if lost != tc.wantLost {
				t.Errorf("lost %d documents, want %d", lost, tc.wantLost)
			}
			var kept []int
			for _, g := range s.segs {
				kept = append(kept, g.docs)
			}
			if fmt.Sprint(kept) != fmt.Sprint(tc.wantKept) {
				t.Errorf("kept segments %v, want %v", kept, tc.wantKept)
			}
			if b, _ := s.stats(); b > s.maxBytes {
				t.Errorf("spool holds %d bytes, above its bound %d", b, s.maxBytes)
			}
		})
	}
	t.Run(Block, func(t *testing.T) {
		s, err := openSpool(t.TempDir(), size+size/2, Block, discard())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.put(context.Background(), testBulk(t, 20, "a")); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := s.put(context.Background(), testBulk(t, 20, "b"))
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("put into a full spool with block returned at once: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		seg, _ := s.claim()
		if err := s.done(seg); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("blocked put after space was freed: %v", err)
		}
		// With the spool closed, a blocked put gives up and counts.
		s.close()
		lost, reason, err := s.put(context.Background(), testBulk(t, 20, "c"))
		if err == nil || lost != 20 || reason != "shutdown" {
			t.Errorf("put into a full closed spool: lost %d, reason %q, err %v", lost, reason, err)
		}
	})
}

func TestSpoolRewriteAndQuarantine(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 1<<20, DropOldest, discard())
	if err != nil {
		t.Fatal(err)
	}
	s.put(context.Background(), testBulk(t, 10, "a"))
	s.put(context.Background(), testBulk(t, 5, "b"))
	seg, _ := s.claim()
	rest := &bulk{}
	full := testBulk(t, 10, "a")
	rest.addItem(full.item(3))
	rest.addItem(full.item(7))
	if err := s.rewrite(seg, rest); err != nil {
		t.Fatal(err)
	}
	s.release(seg)
	if _, d := s.stats(); d != 2+5 {
		t.Errorf("after rewrite: %d documents, want 7", d)
	}
	s2, _ := openSpool(dir, 1<<20, DropOldest, discard())
	if _, d := s2.stats(); d != 7 {
		t.Errorf("reopened after rewrite: %d documents, want 7", d)
	}
	seg, _ = s2.claim()
	s2.quarantine(seg)
	matches, _ := filepath.Glob(filepath.Join(dir, "*.damaged"))
	if len(matches) != 1 {
		t.Errorf("quarantined files: %v", matches)
	}
	if _, d := s2.stats(); d != 5 {
		t.Errorf("after quarantine: %d documents, want 5", d)
	}
}

func TestDeadLetterBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dl", "dead.ndjson")
	d, err := openDeadLetter(p, 300)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC)
	if err := d.write(now, "i", "id1", 400, "document_parsing_exception: bad", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.write(now, "i", "id2", 400, "x", []byte("not json\n")); err != nil {
		t.Fatal(err)
	}
	if err := d.write(now, "i", "id3", 400, string(make([]byte, 300)), nil); err != errDeadLetterFull {
		t.Errorf("write beyond max_bytes: %v", err)
	}
	d.close()
	got, _ := os.ReadFile(p)
	want := `{"@timestamp":"2026-11-24T01:02:03Z","index":"i","id":"id1","status":400,"error":"document_parsing_exception: bad","document":{"a":1}}` + "\n" +
		`{"@timestamp":"2026-11-24T01:02:03Z","index":"i","id":"id2","status":400,"error":"x","document":"not json\n"}` + "\n"
	if string(got) != want {
		t.Errorf("dead-letter file:\n%s\nwant:\n%s", got, want)
	}
}
