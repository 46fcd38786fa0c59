package syslog

import "testing"

var sdScanSeeds = []string{
	`[junos@2636.1.1.1.2.26 source-address="10.20.30.41" reason="idle Timeout"]`,
	"abcdefgh=", "abcdefghijklmnopq\x7fr", "é=x", "a b", `x\"y"`, "\x00\x01\x02\x20\x21\x80\xff", "", "abcdefghabcdefghabcdefghabcdefghabcdefgh=",
}

// FuzzSDScan compares the 8-bytes-at-a-time scans with byte loops at
// every start offset.
func FuzzSDScan(f *testing.F) {
	for _, s := range sdScanSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkSDScan(t, []byte(s)) })
}

func TestSDScan(t *testing.T) {
	for _, s := range sdScanSeeds {
		checkSDScan(t, []byte(s))
	}
}

func checkSDScan(t *testing.T, b []byte) {
	t.Helper()
	for i := 0; i <= len(b); i++ {
		j := i
		for j < len(b) && class[b[j]]&cSDName != 0 {
			j++
		}
		if got := sdNameSpan(b, i, 32); got != j {
			t.Fatalf("sdNameSpan(%q, %d) = %d, want %d", b, i, got, j)
		}
		j = i
		for j < len(b) && !sdNameEnd[b[j]] {
			j++
		}
		if got := sdNameStop(b, i); got != j {
			t.Fatalf("sdNameStop(%q, %d) = %d, want %d", b, i, got, j)
		}
		j = i
		for j < len(b) && b[j] != '"' && b[j] != '\\' {
			j++
		}
		if got := sdValueStop(b, i); got != j {
			t.Fatalf("sdValueStop(%q, %d) = %d, want %d", b, i, got, j)
		}
	}
}
