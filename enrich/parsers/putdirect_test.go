package parsers

import (
	"bytes"
	"context"
	"testing"
)

// withoutPutDirect turns off the direct commit of grok captures and set
// constants in every rule of s: they go through the scratch list (put,
// then commit), as before putDirect.
func withoutPutDirect(s *Stage) {
	for _, p := range s.parsers {
		for _, r := range p.rules {
			for i := range r.putDirect {
				if r.putDirect[i] {
					r.putDirect[i] = false
					r.used[i] = true
					r.direct[i], r.directField[i] = false, false
				}
			}
		}
	}
}

// FuzzPutDirect checks that grok captures and set constants committed to
// the event at once (putDirect) give the document the scratch list gives,
// byte for byte, for every golden input and what the fuzzer makes of them.
func FuzzPutDirect(f *testing.F) {
	for _, l := range sampleLines(f) {
		f.Add(l)
	}
	f.Add("<14>Nov 22 08:00:40 srx RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed : 1.2.3.4/1->5.6.7.8/99999 0x0 x 1.2.3.4/1->5.6.7.8/2 a b c d e f g 6 p z z 1 1(1) 1( 99:99")
	f.Add("<166>Nov 22 2026 08:00:01: %ASA-6-302013: Built outbound TCP connection 1 for outside:[::1]/1 (::/0) to :/ ( /)")
	direct, scratch := newStage(f, Default()), newStage(f, Default())
	withoutPutDirect(scratch)
	n := 0
	for _, p := range direct.parsers {
		for _, r := range p.rules {
			for _, d := range r.putDirect {
				if d {
					n++
				}
			}
		}
	}
	if n == 0 {
		f.Fatal("no rule commits grok captures or set constants directly: nothing to compare")
	}
	f.Fuzz(func(t *testing.T, line string) {
		var docs [2][]byte
		for i, s := range []*Stage{direct, scratch} {
			b := decode(t, "192.0.2.1", line)
			if err := s.Process(context.Background(), b); err != nil {
				t.Fatalf("Process(%q) = %v", line, err)
			}
			for j := range b.All() {
				docs[i] = b.All()[j].AppendJSON(docs[i])
			}
			b.Release()
		}
		if !bytes.Equal(docs[0], docs[1]) {
			t.Fatalf("%q: direct grok captures and set constants give\n%s\nthe scratch list\n%s", line, docs[0], docs[1])
		}
	})
}
