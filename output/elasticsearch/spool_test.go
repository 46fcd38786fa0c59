package elasticsearch

import (
	"context"
	"fmt"
	"github.com/sluicelab/sluice/internal/obs"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
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

type lostRec struct {
	docs   int
	reason string
	file   string
}

// testSpool opens a spool on dir as New does and records what scan counts
// as lost.
func testSpool(t *testing.T, dir string, maxBytes int64, policy string) (*spool, *[]lostRec) {
	t.Helper()
	s, err := newSpool(spoolConfig{dir: dir, maxBytes: maxBytes, policy: policy, fileCap: 1 << 20}, discard(), obs.NewLimiter(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var lost []lostRec
	if err := s.scan(func(docs int, reason, file string, _ error) {
		lost = append(lost, lostRec{docs, reason, filepath.Base(file)})
	}); err != nil {
		t.Fatal(err)
	}
	return s, &lost
}

// putSeg appends b to the open segment and seals it, as Write does for a
// full bulk.
func putSeg(t *testing.T, s *spool, b *bulk) (lost int, reason string, err error) {
	t.Helper()
	drops, reason, err := s.append(context.Background(), b.body, b.len())
	for _, d := range drops {
		lost += d.docs
		reason = d.reason
	}
	if err != nil {
		return lost + b.len(), reason, err
	}
	s.seal(b)
	return lost, reason, nil
}

// loadAll claims, loads and deletes every segment, oldest first, and
// returns the documents of each and the damage reported.
func loadAll(t *testing.T, s *spool) (docs []int, dmg []damage) {
	t.Helper()
	for {
		seg, _ := s.claim()
		if seg == nil {
			return docs, dmg
		}
		b, err := s.load(seg, func(_ *segment, _ []byte, d damage) { dmg = append(dmg, d) })
		if err != nil {
			docs = append(docs, -1)
			continue
		}
		docs = append(docs, b.len())
		if _, err := s.done(seg); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSpoolFIFOAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, _ := testSpool(t, dir, 1<<20, DropOldest)
	for i := range 3 {
		if lost, _, err := putSeg(t, s, testBulk(t, 10+i, fmt.Sprint(i))); err != nil || lost != 0 {
			t.Fatalf("put %d: lost %d, %v", i, lost, err)
		}
	}
	// An open segment, as a crash leaves it: appended, never sealed.
	open := testBulk(t, 4, "open")
	if _, _, err := s.append(context.Background(), open.body, open.len()); err != nil {
		t.Fatal(err)
	}
	// A half-written rewrite and a stranger's file.
	os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("half"), 0o640)
	os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o640)

	s2, lost := testSpool(t, dir, 1<<20, DropOldest)
	if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); !os.IsNotExist(err) {
		t.Error("leftover temporary file not removed at open")
	}
	if _, err := os.Stat(filepath.Join(dir, "README")); err != nil {
		t.Error("a stranger's file was touched")
	}
	if _, d := s2.stats(); d != 10+11+12 { // the open segment's count is in its content only
		t.Fatalf("reopened spool holds %d documents by name, want 33", d)
	}
	docs, dmg := loadAll(t, s2)
	if fmt.Sprint(docs) != "[10 11 12 4]" || len(dmg) != 0 || len(*lost) != 0 {
		t.Fatalf("replayed segments %v, damage %+v, lost %+v; want [10 11 12 4] in order, none", docs, dmg, *lost)
	}
	if _, d := s2.stats(); d != 0 {
		t.Errorf("spool holds %d documents after replaying everything", d)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.*")); len(left) != 0 {
		t.Errorf("files left: %v", left)
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
			s, _ := testSpool(t, t.TempDir(), 2*size+size/2+64, tc.policy)
			lost := 0
			for i := range 3 {
				n, _, _ := putSeg(t, s, testBulk(t, 20+i, "x"))
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
		s, _ := testSpool(t, t.TempDir(), size+size/2, Block)
		if _, _, err := putSeg(t, s, testBulk(t, 20, "a")); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := s.append(context.Background(), testBulk(t, 20, "b").body, 20)
			done <- err
		}()
		// The append must still be waiting once the test has claimed the
		// segment (it cannot have returned: there was no room).
		seg, _ := s.claim()
		select {
		case err := <-done:
			t.Fatalf("append into a full spool with block returned: %v", err)
		default:
		}
		if _, err := s.done(seg); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("blocked append after space was freed: %v", err)
		}
		// With the spool closed, a blocked append gives up.
		s.close()
		_, reason, err := s.append(context.Background(), testBulk(t, 20, "c").body, 20)
		if err == nil || reason != "shutdown" {
			t.Errorf("append into a full closed spool: reason %q, err %v", reason, err)
		}
	})
}

func TestSpoolRewrite(t *testing.T) {
	dir := t.TempDir()
	s, _ := testSpool(t, dir, 1<<20, DropOldest)
	putSeg(t, s, testBulk(t, 10, "a"))
	putSeg(t, s, testBulk(t, 5, "b"))
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
	s2, _ := testSpool(t, dir, 1<<20, DropOldest)
	if _, d := s2.stats(); d != 7 {
		t.Errorf("reopened after rewrite: %d documents, want 7", d)
	}
	if docs, _ := loadAll(t, s2); fmt.Sprint(docs) != "[2 5]" {
		t.Errorf("replayed %v, want [2 5]", docs)
	}
}

// TestSpoolDirectoryEntries puts every kind of entry into the spool
// directory: nothing panics, blocks or reads without bound; segments are
// replayed with the count of their content, the rest is moved aside,
// removed or left alone as documented, and losses are counted.
func TestSpoolDirectoryEntries(t *testing.T) {
	dir := t.TempDir()
	w := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	seg := func(seq, docs int) string { return sealedName(uint64(seq), docs) }
	w(seg(1, 3), goodItems(0, 3))                              // fine
	w("2--5.bulk", goodItems(10, 2))                           // negative count: adopted, counted from content
	w("3-1.bulk", goodItems(20, 4))                            // not zero-padded: adopted
	w("4-99999999999999999999999.bulk", goodItems(30, 1))      // count overflows: adopted
	w("99999999999999999999-1.bulk", goodItems(40, 1))         // seq overflows uint64: moved aside
	w(seg(5, 100), goodItems(50, 2))                           // 98 fewer than the name claims: counted lost
	w(seg(6, 7), "")                                           // zero-length: removed, 7 lost
	w(seg(7, 9), string(make([]byte, 1<<20+1)))                // beyond the cap: moved aside, 9 lost
	w(seg(8, 2), "\x00random\xff bytes\n\n")                   // random bytes: dead-lettered
	w(seg(9, 2), goodItems(60, 1)+goodItem(61)[:30])           // truncated tail
	w(seg(10, 1), goodItems(70, 1)+"\n")                       // stray newline: rewritten, nothing lost
	w("x-y.bulk", goodItems(80, 1))                            // not a segment name: moved aside
	w("notes.txt", "hello")                                    // foreign: left alone
	w(".tmp-00000000000000000001-3.bulk-123", goodItems(0, 3)) // interrupted rewrite: removed
	if err := os.Symlink("/dev/zero", filepath.Join(dir, seg(11, 3))); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, seg(12, 3)), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, seg(13, 3)), 0o750); err != nil {
		t.Fatal(err)
	}

	s, lost := testSpool(t, dir, 1<<30, DropOldest)
	docs, dmg := loadAll(t, s)
	// Canonical names in seq order, then the adopted ones (2, 3, 4).
	if want := "[3 2 0 1 1 2 4 1]"; fmt.Sprint(docs) != want {
		t.Errorf("replayed documents per segment %v, want %s", docs, want)
	}
	// The name's count is what the segment held when sealed: what neither
	// replays nor lies in a damaged span was cut away and is lost too.
	var got []string
	for _, d := range dmg {
		got = append(got, fmt.Sprintf("%s:%d", d.reason, d.docs))
	}
	if want := "[documents_missing:98 bad_action:2 truncated:1]"; fmt.Sprint(got) != want {
		t.Errorf("damage %+v, want %s (seg 5 claims 100 and holds 2, seg 8 claims 2 of random bytes, seg 9 a torn tail; seg 10's stray newline loses nothing)", dmg, want)
	}
	if want := fmt.Sprint([]lostRec{{7, "empty", seg(6, 7)}, {9, "too_large", seg(7, 9)}}); fmt.Sprint(*lost) != want {
		t.Errorf("lost %v, want %s", *lost, want)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{
		"00000000000000000007-9.bulk.aside", "00000000000000000011-3.bulk.aside", "00000000000000000012-3.bulk.aside",
		"00000000000000000013-3.bulk.aside", "99999999999999999999-1.bulk.aside", "notes.txt", "x-y.bulk.aside",
	}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("directory after replay:\n%v\nwant\n%v", names, want)
	}
	// Moved-aside entries are not looked at again.
	s2, lost2 := testSpool(t, dir, 1<<30, DropOldest)
	if _, d := s2.stats(); d != 0 || len(*lost2) != 0 || len(s2.segs) != 0 {
		t.Errorf("second open: %d documents, %d segments, lost %v; want nothing", d, len(s2.segs), *lost2)
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

// TestSpoolDiskFull: when the kernel answers ENOSPC (the open segment's
// file is swapped for /dev/full, which always does), the failure is
// reported as a full disk naming the directory, not as a full spool, the
// documents are kept in memory with the sealed segment, and the next
// segment gets a file again.
func TestSpoolDiskFull(t *testing.T) {
	var logs syncBuffer
	s, err := newSpool(spoolConfig{dir: t.TempDir(), maxBytes: 1 << 20, policy: DropOldest, fileCap: 1 << 20},
		slog.New(slog.NewTextHandler(&logs, nil)), obs.NewLimiter(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	b := testBulk(t, 10, "a")
	half := b.offs[5]
	if _, _, err := s.append(context.Background(), b.body[:half], 5); err != nil {
		t.Fatal(err)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("skipped: /dev/full is not available here (%v)", err)
	}
	s.f.Close()
	s.f = full
	if _, _, err := s.append(context.Background(), b.body[half:], 5); err != nil {
		t.Fatalf("append on a full disk refused the documents: %v (they must be kept in memory)", err)
	}
	if !s.openBroke {
		t.Fatal("a failed write did not mark the open segment as kept in memory")
	}
	log := logs.String()
	if !strings.Contains(log, "disk full") || !strings.Contains(log, s.dir) || strings.Contains(log, "spool full") {
		t.Errorf("log does not report a full disk naming the directory:\n%s", log)
	}
	if kept, _ := s.seal(b); !kept {
		t.Error("the sealed segment's documents were not kept in memory")
	}
	if _, d := s.stats(); d != 10 {
		t.Errorf("spool holds %d documents, want 10", d)
	}
	c := testBulk(t, 3, "c")
	if _, _, err := s.append(context.Background(), c.body, 3); err != nil || s.f == nil || s.openBroke {
		t.Errorf("the next segment has no file again: %v", err)
	}
	s.seal(c)
	docs, _ := loadAll(t, s)
	if fmt.Sprint(docs) != "[10 3]" {
		t.Errorf("segments %v, want [10 3]", docs)
	}
}

func TestConfigValidateSpoolKeys(t *testing.T) {
	c := Default()
	c.Addresses = []string{"http://127.0.0.1:9200"}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.SpoolFsync = "sometimes"
	c.StallTimeout = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() accepted spool.fsync sometimes and spool.stall_timeout 0")
	}
	for _, want := range []string{`output.elasticsearch.spool.fsync: "sometimes" is not a policy; use segment (default), always or never`,
		"output.elasticsearch.spool.stall_timeout: 0s is below 1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, want)
		}
	}
}

// TestReadFileUntrusted: an entry that turns into something else after the
// directory scan is still never followed, blocked on or read without bound.
func TestReadFileUntrusted(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("ok"), []byte("hello"), 0o640)
	os.WriteFile(p("big"), make([]byte, 101), 0o640)
	os.Symlink("/dev/zero", p("link"))
	syscall.Mkfifo(p("fifo"), 0o640)
	os.Mkdir(p("dir"), 0o750)
	if b, err := readFile(p("ok"), 100); err != nil || string(b) != "hello" {
		t.Errorf("readFile(regular) = %q, %v", b, err)
	}
	for _, n := range []string{"big", "link", "fifo", "dir", "missing"} {
		done := make(chan error, 1)
		go func() {
			_, err := readFile(p(n), 100)
			done <- err
		}()
		// A FIFO without a writer would block a plain open for ever; the
		// test fails by its own timeout if readFile does.
		if err := <-done; err == nil {
			t.Errorf("readFile(%s) accepted it", n)
		}
	}
}

// TestSpoolBackpressureWhileAnswering: while the cluster answers, at most
// memCap more than waited before may wait: append then waits (the pipeline
// slows down) until a delivery makes room, and gives up waiting (spools)
// as soon as the cluster stops answering or ctx ends; at start, the
// backlog found on disk does not count against the new data.
func TestSpoolBackpressureWhileAnswering(t *testing.T) {
	dir := t.TempDir()
	backlog := goodItems(0, 50) // an earlier run's
	if err := os.WriteFile(filepath.Join(dir, sealedName(1, 50)), []byte(backlog), 0o640); err != nil {
		t.Fatal(err)
	}
	s, _ := testSpool(t, dir, 1<<30, DropOldest)
	item := []byte(goodItem(1000))
	s.memCap = int64(10 * len(item))
	var answering atomic.Bool
	answering.Store(true)
	s.answering = answering.Load
	waits := func() int64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.bpWaits
	}
	appendN := func(n int) {
		t.Helper()
		for range n {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _, err := s.append(ctx, item, 1)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	// The earlier backlog is the base: memCap (ten items) more go in
	// without waiting.
	appendN(10)
	if w := waits(); w != 0 || s.bytes != int64(len(backlog))+s.memCap {
		t.Fatalf("after memCap of new data: %d waits, %d bytes; want 0 waits and the backlog plus memCap", w, s.bytes)
	}
	// The eleventh waits until ctx ends, then is taken (never lost).
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, _, err := s.append(ctx, item, 1)
	cancel()
	if err != nil || waits() == 0 {
		t.Fatalf("append with the backlog over memCap while answering: err %v, %d waits; want it to wait, then take it", err, waits())
	}
	// The next waits until the cluster stops answering, then spools.
	done := make(chan error, 1)
	go func() {
		_, _, err := s.append(context.Background(), item, 1)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("append returned (%v) while the cluster answers and the backlog is over memCap, want it to wait", err)
	case <-time.After(200 * time.Millisecond):
	}
	answering.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("append still waits after the cluster stopped answering")
	}
	// Answering again: the base is what waited then, so new data goes in
	// (up to memCap) without waiting for the old backlog to drain.
	before := waits()
	appendN(9)
	if w := waits(); w != before {
		t.Errorf("append waited %d times after the cluster came back although the backlog grew by less than memCap", w-before)
	}
}
