package syslog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestKeyValueWithoutHeader checks that the fast path gives FortiOS's
// header-less "<PRI>key=value ..." lines exactly what go-syslog's
// fallback gives them (BadHeader, the whole line, the PRI), without
// running go-syslog, and leaves other header-less lines to go-syslog.
func TestKeyValueWithoutHeader(t *testing.T) {
	p := &Parser{Location: newYork, Now: fixedNow(received)}
	for _, line := range []string{
		`<189>date=2026-11-22 time=08:00:16 devname="FGT60F" devid="FGT60FTK1" logid="0000000013" type="traffic"`,
		`<189>date=2026-11-22,time=08:00:16,devname="FGT60F",devid="FGT60FTK1"`,
		`<13>a=b`,
		`<13>log_id-2=`,
	} {
		var f, l Header
		if !p.parseFast([]byte(line), &f) {
			t.Errorf("parseFast(%q) = false, want the key=value shortcut", line)
			continue
		}
		p.parseLib([]byte(line), &l)
		if f.Problems&BadHeader == 0 {
			t.Errorf("parseFast(%q): problems %v, want BadHeader", line, f.Problems)
		}
		if diff := cmp.Diff(viewOf(&f), viewOf(&l)); diff != "" {
			t.Errorf("line %q: fast path (-) and go-syslog (+) disagree:\n%s", line, diff)
		}
	}
	for _, line := range []string{"<13>Date=x", "<13>a b=c", "<13>=x", "<13>a", "<13>a:b=c d"} {
		var f Header
		if p.parseFast([]byte(line), &f) && f.Problems&BadHeader != 0 {
			t.Errorf("parseFast(%q) took the key=value shortcut", line)
		}
	}
}
