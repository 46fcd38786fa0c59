package file

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRecentTails(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	// Written by the last batch: two files within the window.
	write("sluice-flows-2026.12.07.ndjson", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4", now)
	write("sluice-syslog-2026.12.07.ndjson", "{\"s\":1}\n", now.Add(-200*time.Millisecond))
	// Older: not in the window.
	write("sluice-flows-2026.12.06.ndjson", "{\"old\":1}\n", now.Add(-time.Hour))
	// Not daily files, or not regular files: never read.
	write("notes.txt", "x\n", now)
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.ndjson")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.ndjson"), 0o600); err != nil {
		t.Fatal(err)
	}

	tails, err := RecentTails(dir, time.Second, 2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tl := range tails {
		var parts []string
		for _, l := range tl.Lines {
			parts = append(parts, string(l))
		}
		got[tl.Index] = strings.Join(parts, ",")
	}
	want := map[string]string{
		// The torn last line is left out; at most 2 lines, the last ones.
		"sluice-flows-2026.12.07":  `{"n":2},{"n":3}`,
		"sluice-syslog-2026.12.07": `{"s":1}`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RecentTails = %v, want %v", got, want)
	}

	// A byte budget that cuts a line: the cut line is left out.
	tails, err = RecentTails(dir, time.Second, 100, int64(len("2}\n{\"n\":3}\n{\"n\":4")))
	if err != nil {
		t.Fatal(err)
	}
	if len(tails) == 0 || tails[0].Index != "sluice-flows-2026.12.07" || len(tails[0].Lines) != 1 || string(tails[0].Lines[0]) != `{"n":3}` {
		t.Errorf("with a byte budget inside a line: %+v, want only {\"n\":3} from the flows file", tails)
	}

	// A directory that does not exist yet: nothing, no error.
	if tails, err := RecentTails(filepath.Join(dir, "none"), time.Second, 10, 1<<20); err != nil || len(tails) != 0 {
		t.Errorf("missing directory: %v, %v", tails, err)
	}
}

// TestRecentTailsLargeFile: the last lines of a file larger than the first
// read window come back whole and in order, and the byte budget bounds
// what is read.
func TestRecentTailsLargeFile(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "{\"n\":%d,\"pad\":\"%s\"}\n", i, strings.Repeat("x", 100))
	}
	if err := os.WriteFile(filepath.Join(dir, "big.ndjson"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tails, err := RecentTails(dir, time.Second, 5000, 64<<20)
	if err != nil || len(tails) != 1 {
		t.Fatalf("RecentTails = %v, %v", tails, err)
	}
	ls := tails[0].Lines
	if len(ls) != 5000 || !strings.HasPrefix(string(ls[0]), `{"n":15000,`) || !strings.HasPrefix(string(ls[4999]), `{"n":19999,`) {
		t.Errorf("got %d lines from %.12s to %.12s, want 5000 from n 15000 to 19999", len(ls), ls[0], ls[len(ls)-1])
	}
	tails, err = RecentTails(dir, time.Second, 5000, 100<<10)
	if err != nil || len(tails) != 1 || len(tails[0].Lines) >= 1000 || len(tails[0].Lines) < 800 {
		t.Errorf("a 100 KiB budget gave %d lines, want the 800-1000 whole lines it holds", len(tails[0].Lines))
	}
}
