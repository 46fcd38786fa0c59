package parsers

import (
	"strings"
	"testing"
)

var indexRareSeeds = [][2]string{
	{"<14>Nov 22 08:00:00 h asm[1]: [SECEV] Request blocked", "[SECEV] Request "},
	{`a request_status="x" request_status="y"`, `request_status="`}, {"devid=devid=", "devid="}, {"", "x"}, {"x", "x"},
	{"aaab", "ab"}, {"abab", "bab"}, {"qqq", "qq"}, {"q", "qq"}, {"xq", "q"}, {">date=1 date=2", ">date="}, {"\xff\x00", "\x00"},
}

// TestIndexRare compares indexRare at every offset with strings.Index,
// and checks that rareByte picks the rare byte of the detect strings.
func TestIndexRare(t *testing.T) {
	for _, tc := range indexRareSeeds {
		checkIndexRare(t, tc[0], tc[1])
	}
	for sep, want := range map[string]byte{"[SECEV] Request ": '[', `request_status="`: 'q', "devid=": 'v', " SRC=": 'S'} {
		if got := sep[rareByte(sep)]; got != want {
			t.Errorf("rareByte(%q) picks %q, want %q", sep, got, want)
		}
	}
}

// FuzzIndexRare checks indexRare against strings.Index for every offset
// of sep.
func FuzzIndexRare(f *testing.F) {
	for _, tc := range indexRareSeeds {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, s, sep string) {
		if sep == "" {
			return
		}
		checkIndexRare(t, s, sep)
	})
}

func checkIndexRare(t *testing.T, s, sep string) {
	t.Helper()
	want := strings.Index(s, sep)
	for off := range len(sep) {
		if got := indexRare(s, sep, off); got != want {
			t.Fatalf("indexRare(%q, %q, %d) = %d, strings.Index: %d", s, sep, off, got, want)
		}
	}
}
