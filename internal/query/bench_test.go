package query

import (
	"os"
	"path/filepath"
	"testing"

	"encoding/json"

	"github.com/sluicelab/sluice/internal/event"
)

// goldenEvent builds the event of one enrich/parsers golden file.
func goldenEvent(tb testing.TB, name string) *event.Event {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "enrich/parsers/testdata/golden", name))
	if err != nil {
		tb.Fatal(err)
	}
	var g struct{ Sender, Input string }
	if err := json.Unmarshal(raw, &g); err != nil {
		tb.Fatal(err)
	}
	return syslogEvents(tb, g.Sender, []string{g.Input})[0]
}

// flowEvent is the first flow of the softflowd IPFIX capture.
func flowEvent(tb testing.TB) *event.Event {
	tb.Helper()
	for _, ne := range goldenFlows(tb) {
		if ne.name == "softflowd_ipfix_0.bin#0" {
			return ne.e
		}
	}
	tb.Fatal("no softflowd_ipfix_0.bin flow")
	return nil
}

type matchBench struct {
	name  string
	event func(testing.TB) *event.Event
	q     string
	want  bool
}

var matchBenches = []matchBench{
	{"meraki/term-miss", func(tb testing.TB) *event.Event { return goldenEvent(tb, "meraki_flows_allow.json") }, "event.action:deny", false},
	{"meraki/term-match", func(tb testing.TB) *event.Event { return goldenEvent(tb, "meraki_flows_allow.json") }, "event.action:allow", true},
	{"meraki/absent-field", func(tb testing.TB) *event.Event { return goldenEvent(tb, "meraki_flows_allow.json") }, "meraki.pattern:nothing", false},
	{"f5/term-miss", func(tb testing.TB) *event.Event { return goldenEvent(tb, "f5_asm_blocked.json") }, "f5.asm.violation_rating:1", false},
	{"f5/term-match", func(tb testing.TB) *event.Event { return goldenEvent(tb, "f5_asm_blocked.json") }, "f5.asm.attack_type:SQL-Injection", true},
	{"f5/5-clauses", func(tb testing.TB) *event.Event { return goldenEvent(tb, "f5_asm_blocked.json") },
		"event.action:blocked AND destination.port:443 AND source.ip:203.0.113.0/24 AND host.hostname:bigip-* AND NOT f5.asm.violation_rating:[0 TO 2]", true},
	{"f5/message-word", func(tb testing.TB) *event.Event { return goldenEvent(tb, "f5_asm_blocked.json") }, "message:sqlmap", true},
	{"flow/term-miss", flowEvent, "destination.port:3389", false},
	{"flow/term-match", flowEvent, "network.transport:tcp OR network.transport:udp", true},
	{"flow/cidr-miss", flowEvent, "source.ip:203.0.113.0/24", false},
	{"flow/missing-field", flowEvent, "event.action:blocked", false},
}

// BenchmarkMatch matches a compiled query against one event through a
// reused EventDoc, as a rule does on the live stream.
func BenchmarkMatch(b *testing.B) {
	for _, bc := range matchBenches {
		b.Run(bc.name, func(b *testing.B) {
			e := bc.event(b)
			m, err := ParseQueryString(bc.q, Options{})
			if err != nil {
				b.Fatal(err)
			}
			var d EventDoc
			d.Reset(e)
			if got := m.Match(&d); got != bc.want {
				b.Fatalf("Match(%q) = %v, want %v", bc.q, got, bc.want)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				d.Reset(e)
				m.Match(&d)
				n++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
		})
	}
}

// TestMatchNoAllocs: the fast path allocates nothing, on a miss or a
// match.
func TestMatchNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race (sync.Pool drops items on purpose)")
	}
	for _, bc := range matchBenches {
		e := bc.event(t)
		m, err := ParseQueryString(bc.q, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var d EventDoc
		d.Reset(e)
		m.Match(&d)
		if n := testing.AllocsPerRun(200, func() {
			d.Reset(e)
			m.Match(&d)
		}); n != 0 {
			t.Errorf("%s: Match(%q) = %v allocations per event, want 0", bc.name, bc.q, n)
		}
	}
}

// BenchmarkJSONDoc parses a stored document of about 1 KB.
func BenchmarkJSONDoc(b *testing.B) {
	doc := goldenEvent(b, "meraki_urls.json").AppendJSON(nil) // 1.2 KB
	b.ReportMetric(float64(len(doc)), "bytes/doc")
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := NewJSONDoc(doc); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/doc")
}
