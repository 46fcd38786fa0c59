package rare

import (
	"strings"
	"testing"
)

var seeds = [][2]string{
	{"<14>Nov 22 08:00:00 h asm[1]: [SECEV] Request blocked", "[SECEV] Request "},
	{`a request_status="x" request_status="y"`, `request_status="`}, {"devid=devid=", "devid="}, {"", "x"}, {"x", "x"},
	{"aaab", "ab"}, {"abab", "bab"}, {"qqq", "qq"}, {"q", "qq"}, {"xq", "q"}, {">date=1 date=2", ">date="}, {"\xff\x00", "\x00"},
}

// TestIndex compares Index at every offset with strings.Index,
// and checks that Byte picks the rare byte of the detect strings.
func TestIndex(t *testing.T) {
	for _, tc := range seeds {
		checkIndex(t, tc[0], tc[1])
	}
	for sep, want := range map[string]byte{"[SECEV] Request ": '[', `request_status="`: 'q', "devid=": 'v', " SRC=": 'S'} {
		if got := sep[Byte(sep)]; got != want {
			t.Errorf("Byte(%q) picks %q, want %q", sep, got, want)
		}
	}
}

// FuzzIndex checks Index against strings.Index for every offset
// of sep.
func FuzzIndex(f *testing.F) {
	for _, tc := range seeds {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, s, sep string) {
		if sep == "" {
			return
		}
		checkIndex(t, s, sep)
	})
}

func checkIndex(t *testing.T, s, sep string) {
	t.Helper()
	want := strings.Index(s, sep)
	for off := range len(sep) {
		if got := Index(s, sep, off); got != want {
			t.Fatalf("Index(%q, %q, %d) = %d, strings.Index: %d", s, sep, off, got, want)
		}
	}
}
