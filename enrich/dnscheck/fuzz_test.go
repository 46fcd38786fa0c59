package dnscheck

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicelab/sluice/internal/event"
)

// FuzzCheck runs the checks on arbitrary names and record types, with a
// watch list and a blocklist, and checks that the document is valid JSON
// and the score within 0..100.
func FuzzCheck(f *testing.F) {
	for _, n := range append(readPopular(f)[:20], append(dgaNames(5), tunnelNames(5)...)...) {
		f.Add(n, "A", "NOERROR")
	}
	for _, n := range []string{"", ".", "..", "xn--", "xn--zz.com", "xn--pypal-4ve.com", "a.xn--.b", "bücher.de", "a\x00b.com", "\xff\xfe.com", "co.uk", "*.example.com", "a b.com"} {
		f.Add(n, "TXT", "NXDOMAIN")
	}
	dir := f.TempDir()
	list := filepath.Join(dir, "list")
	if err := os.WriteFile(list, []byte("evil.example\n203.0.113.0/24\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	cfg := Default()
	cfg.AllowedResolvers = []netip.Prefix{netip.MustParsePrefix("192.168.1.53/32")}
	cfg.WatchDomains = []string{"paypal.com", "bücher.de"}
	cfg.Blocklists = []Blocklist{{"l", list, "plain"}}
	cfg.NXDomainThreshold = 2
	s := newStage(f, cfg)
	f.Fuzz(func(t *testing.T, name, qtype, rcode string) {
		b := event.NewBatch()
		defer b.Release()
		e := dnsEvent{name: name, qtype: qtype, rcode: rcode, src: "192.0.2.1", dst: "198.51.100.1", ips: []string{"203.0.113.9"}}.add(b)
		e.Kind = event.KindSyslog
		if err := s.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		doc := e.AppendJSON(nil)
		if !json.Valid(doc) {
			t.Fatalf("invalid JSON for %q: %s", name, doc)
		}
		for _, fd := range e.Fields {
			if fd.Key == "sluice.dns.score" && fd.U > 100 {
				t.Fatalf("score %d for %q", fd.U, name)
			}
		}
	})
}

// FuzzReadSeen reads arbitrary seen-domains files (sluice reads its own
// file back as untrusted input): no panic, at most max entries, each a
// valid name, and what is read writes back and reads again the same.
func FuzzReadSeen(f *testing.F) {
	f.Add([]byte(seenHeader + "\n20000 20001 ok.example\n"))
	f.Add([]byte(seenHeader + "\nx y z\n20001 20000 bad.example\n20000 20000 BAD.example\n1 1 old.example\n20000 20000 ok.example\n20000 20002 ok.example\n"))
	f.Add([]byte(seenHeader + "\n20000 20000 " + string(bytes.Repeat([]byte("a"), 5000)) + "\n"))
	f.Add([]byte("something else\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _, err := readSeen(bytes.NewReader(data), 4, 20500)
		if err != nil {
			return
		}
		if len(s.m) > 4 {
			t.Fatalf("%d entries, max 4", len(s.m))
		}
		for k, e := range s.m {
			if d, err := NormalizeDomain(k); err != nil || d != k || e.first > e.last {
				t.Fatalf("bad entry %q %v", k, e)
			}
		}
		var buf bytes.Buffer
		if err := s.writeTo(&buf); err != nil {
			t.Fatal(err)
		}
		s2, bad, err := readSeen(&buf, 4, 20500)
		if err != nil || bad != 0 || len(s2.m) != len(s.m) {
			t.Fatalf("round trip: %v, %d bad, %d entries, want %d", err, bad, len(s2.m), len(s.m))
		}
		for k, e := range s.m {
			if s2.m[k] != e {
				t.Fatalf("round trip: %q %v became %v", k, e, s2.m[k])
			}
		}
	})
}

// FuzzListLine parses arbitrary blocklist lines in every format.
func FuzzListLine(f *testing.F) {
	for _, l := range []string{"0.0.0.0 ads.example tracker.example # c", "||x.example^$third-party", "@@||y^", "203.0.113.0/24", "::1", "bücher.de", "||", "#", "0.0.0.0"} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		l := &lists{domains: map[string]int{}, addrs: map[netip.Addr]int{}}
		for _, format := range []string{"hosts", "plain", "adblock"} {
			for _, e := range parseListLine(line, format) {
				l.add(e, 0)
			}
		}
		for d := range l.domains {
			if n, err := NormalizeDomain(d); err != nil || n != d {
				t.Fatalf("entry %q is not a normal name", d)
			}
		}
	})
}
