package elasticsearch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/estest"
)

// flowItems returns the bulk lines of flows first..first+n-1 for index, as
// Write makes them.
func flowItems(t *testing.T, index string, first, n int) string {
	t.Helper()
	b := flowBatch(first, n, day)
	defer b.Release()
	var bk bulk
	var id [idLen]byte
	for i := range b.All() {
		line, _ := b.JSONLine(i)
		doc := bytes.TrimSuffix(line, []byte("\n"))
		docID(&id, day.UnixMilli(), doc, 0)
		bk.add(index, id[:], doc)
	}
	return string(bk.body)
}

// TestDamagedSpoolIsReplayed starts an output on a spool directory holding
// every kind of entry and damage: it starts, replays exactly the good
// documents into a real node, dead-letters the damaged spans, counts what
// is lost, and leaves only the moved-aside entries and the stranger's file.
func TestDamagedSpoolIsReplayed(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	idx := f.index(day)
	dir := f.cfg.SpoolDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	w := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	item := flowItems(t, idx, 900, 1)
	w(sealedName(1, 100), flowItems(t, idx, 0, 100))                                 // 100 good
	w("2--5.bulk", flowItems(t, idx, 100, 50))                                       // 50 good, adopted
	w("3-1.bulk", flowItems(t, idx, 150, 50))                                        // 50 good, adopted
	w(sealedName(4, 7), "")                                                          // 7 claimed, lost
	w(sealedName(5, 60), flowItems(t, idx, 200, 50)+item[:len(item)/2])              // 50 good, torn tail, 10 lost
	w(sealedName(6, 50), flowItems(t, idx, 250, 25)+"\n"+flowItems(t, idx, 275, 25)) // 50 good, stray newline (nothing lost)
	w(sealedName(7, 3), "\x00\x01 random bytes \xff\n\n")                            // 1 damaged span, 3 lost
	w(sealedName(8, 1), string(make([]byte, f.cfg.segmentCap()+1)))                  // too large: aside, 1 lost
	w("notes.txt", "hello")
	if err := os.Symlink("/dev/zero", filepath.Join(dir, sealedName(9, 3))); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, sealedName(10, 3)), 0o640); err != nil {
		t.Fatal(err)
	}
	o := f.open(t)
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)
	seqCheck(t, url, idx, 300)

	if got := testutil.ToFloat64(o.m.damagedDocs); got != 7+1+10+3 {
		t.Errorf("spool_damaged_documents_total = %v, want 21 (7 empty, 1 too large, 10 of the torn segment's 60, the 3 random bytes stand for)", got)
	}
	if got := testutil.ToFloat64(o.m.damagedSegments); got != 4 {
		t.Errorf("spool_damaged_segments_total = %v, want 4 (empty, too large, torn, random bytes)", got)
	}
	dl, err := os.ReadFile(f.cfg.DeadLetterPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(dl, []byte("\n")); n != 2 || bytes.Count(dl, []byte("spool_damaged")) != 2 ||
		!bytes.Contains(dl, []byte("document_base64")) {
		t.Errorf("dead-letter file has %d lines, want 2 spool_damaged ones (torn tail; random bytes as document_base64):\n%.3000s", n, dl)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := fmt.Sprint([]string{sealedName(8, 1) + asideExt, sealedName(9, 3) + asideExt, sealedName(10, 3) + asideExt, "notes.txt"})
	if fmt.Sprint(names) != want {
		t.Errorf("spool directory after replay: %v, want %s", names, want)
	}
}

// TestSmallSegmentsKeepLittleMemory: with Elasticsearch unreachable (a
// closed port), many segments sealed small by the flush interval are kept
// in memory in buffers of their size, not in buffers sized for a full bulk
// (4 MiB each: 300 of them held 1.5 GB of capacity before).
func TestSmallSegmentsKeepLittleMemory(t *testing.T) {
	f := newFixture(t, estest.URL(t))
	f.cfg.Addresses = []string{"http://" + closedPort(t)}
	o := f.open(t)
	var clock atomic.Int64
	clock.Store(day.UnixNano())
	o.now = func() time.Time { return time.Unix(0, clock.Load()) }
	ctx := t.Context()
	for i := range 300 {
		b := flowBatch(i*5, 5, day)
		if err := o.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		b.Release()
		clock.Add(int64(time.Second)) // past the flush interval
		if err := o.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s := o.spool
	s.mu.Lock()
	var kept, capacity, used int64
	for _, g := range s.segs {
		if g.body != nil {
			kept++
			capacity += int64(cap(g.body.body))
			used += int64(len(g.body.body))
		}
	}
	segs, memCap := len(s.segs), s.memCap
	s.mu.Unlock()
	if segs != 300 || kept == 0 {
		t.Fatalf("%d segments, %d kept in memory; want 300 sealed and some kept", segs, kept)
	}
	if capacity > 2*used+64<<10 || capacity > memCap {
		t.Errorf("%d segments kept in memory hold %d bytes of buffers for %d bytes of documents (memory cap %d), want at most twice what they hold",
			kept, capacity, used, memCap)
	}
	_ = o.Close(ctx) // what waits stays in the spool
}
