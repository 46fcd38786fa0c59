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
