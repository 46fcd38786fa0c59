package alert

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/cputime"
	"github.com/sluicelab/sluice/internal/event"
)

// BenchmarkRuleCost is what one rule costs per event in the alert stage,
// over the same batches as BenchmarkStage: the stage with a rule of
// another index ("none": the stage's own cost), a rule found by its guard
// term that misses ("miss-guard": the term is looked up, no filter runs),
// a rule whose filter runs and misses ("miss-filter": an OR of terms on
// two fields has no guard), and a rule whose filter matches every event
// and whose frequency window counts it ("match": the volume rules' path).
// The rule's own cost is its row minus "none". (A rule that turns every
// event into an alert costs far more: each alert is decoded and written
// as a document, silenced or not.)
func BenchmarkRuleCost(b *testing.B) {
	rules := []struct{ name, yaml string }{
		{"none", "type: any\nindex: sluice-none-*\n"},
		{"miss-guard", "type: any\nfilter:\n- term: {host.hostname: no-such-host}\n"},
		{"miss-filter", "type: any\nfilter:\n- query: {query_string: {query: 'event.action:no-such-action OR host.hostname:no-such-host'}}\n"},
		{"match", "type: frequency\nnum_events: 100000\ntimeframe: {seconds: 10}\nquery_key: observer.ip\nfilter:\n- exists: {field: observer.ip}\n"},
	}
	for _, c := range []struct {
		name  string
		batch func(*testing.B) *event.Batch
	}{{"syslog", benchSyslog}, {"flows", benchFlows}} {
		for _, r := range rules {
			b.Run(c.name+"/"+r.name, func(b *testing.B) {
				dir := b.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("name: r\nalert: debug\n"+r.yaml), 0o644); err != nil {
					b.Fatal(err)
				}
				cfg := Default()
				cfg.RulesDirs = []string{dir}
				s, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				bt := c.batch(b)
				ctx := context.Background()
				st := s.Stage()
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cputime.Process()
				for range b.N {
					if err := st.Process(ctx, bt); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N*bt.Len()), "cpu-ns/event")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
