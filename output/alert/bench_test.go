package alert

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/collector/netflow"
	"github.com/sluicelab/sluice/collector/syslog"
	"github.com/sluicelab/sluice/enrich/parsers"
	"github.com/sluicelab/sluice/internal/cputime"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
	"github.com/sluicelab/sluice/output/alert/rule"
)

// benchService loads the 50-rule benchmark mix of bench/alert-rules.
func benchService(b *testing.B) *Service {
	b.Helper()
	cfg := Default()
	cfg.RulesDirs = []string{filepath.Join("..", "..", "bench", "alert-rules")}
	s, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	if n := len(s.Rules()); n != 50 {
		b.Fatalf("%d rules, want the 50 of bench/alert-rules", n)
	}
	return s
}

// benchSyslog is a batch of the shared benchmark's mix of vendor lines
// (collector/syslog/testdata/mix_sample.log: Meraki, F5 ASM, netfilter,
// other), decoded and parsed as sluice does.
func benchSyslog(b *testing.B) *event.Batch { return benchSyslogT(b) }

func benchSyslogT(b testing.TB) *event.Batch {
	b.Helper()
	f, err := os.Open(filepath.Join("..", "..", "collector", "syslog", "testdata", "mix_sample.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cfg := parsers.Default()
	cfg.Location = time.UTC
	st, err := parsers.New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	d := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC})
	bt := event.NewBatch()
	sc := bufio.NewScanner(f)
	now := time.Now()
	for sc.Scan() {
		if err := d.Decode(&collector.Packet{Data: sc.Bytes(), Src: netip.MustParseAddrPort("192.0.2.10:514"), Received: now}, bt); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Process(context.Background(), bt); err != nil {
		b.Fatal(err)
	}
	// As in sluice run, the stage sees encoded events (twice: a key
	// sequence's layout is kept from its second sighting on).
	bt.EncodeJSON()
	bt.EncodeJSON()
	return bt
}

// benchFlows is a batch of the flows of the softflowd captures.
func benchFlows(b *testing.B) *event.Batch { return benchFlowsT(b) }

func benchFlowsT(b testing.TB) *event.Batch {
	b.Helper()
	bins, _ := filepath.Glob(filepath.Join("..", "..", "collector", "netflow", "testdata", "*.bin"))
	bt := event.NewBatch()
	for _, p := range bins {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		d, err := netflow.New(netflow.Default(), nil, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Decode(&collector.Packet{Data: data, Src: netip.MustParseAddrPort("127.0.0.1:4000"), Received: time.Now()}, bt); err != nil {
			b.Fatal(err)
		}
	}
	if bt.Len() == 0 {
		b.Fatal("no flows")
	}
	bt.EncodeJSON()
	return bt
}

// BenchmarkStage is the alert stage's cost per event with the 50-rule mix:
// what a document costs on top of sluice's path without rules (where the
// stage is absent). syslog: the vendor mix, which none of the rules'
// filters match except the volume rule's; flows: every flow matches the
// flow volume rule, the others miss.
func BenchmarkStage(b *testing.B) {
	for _, c := range []struct {
		name  string
		batch func(*testing.B) *event.Batch
	}{{"syslog", benchSyslog}, {"flows", benchFlows}} {
		b.Run(c.name, func(b *testing.B) {
			s := benchService(b)
			bt := c.batch(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Process()
			for range b.N {
				if err := s.Stage().Process(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			// The machine is shared: CPU time says more than wall time.
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N*bt.Len()), "cpu-ns/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bt.Len()), "ns/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkKeysMemory is the memory of one frequency rule keeping windows
// for 100,000 distinct query_key values.
func BenchmarkKeysMemory(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("name: r\ntype: frequency\nnum_events: 1000\ntimeframe: {minutes: 10}\nquery_key: source.ip\nmax_keys: 200000\nalert: debug\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	const keys = 100000
	for range b.N {
		cfg := Default()
		cfg.RulesDirs = []string{dir}
		s, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		bt := event.NewBatch()
		now := time.Now().UTC()
		for i := range keys {
			e := bt.Add()
			e.Kind = event.KindFlow
			e.Timestamp = now
			e.Src.IP = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := s.Stage().Process(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		bt.Release()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "bytes/key")
		runtime.KeepAlive(s)
	}
}

// TestGuardDispatchAgreesWithFilters: the engine finds guarded rules by
// the values of their guarded field; every rule must still see exactly
// the documents its filter matches. Rules with terms in every form
// (strings, numbers written otherwise, addresses, lists, AND with other
// clauses, query strings) over the benchmark's syslog and flow events.
func TestGuardDispatchAgreesWithFilters(t *testing.T) {
	var evs []*event.Event
	for _, bt := range []*event.Batch{benchSyslogT(t), benchFlowsT(t)} {
		for i := range bt.All() {
			evs = append(evs, &bt.Events[i])
		}
	}
	filters := []string{
		`event.action:network_flow`, `destination.port:53`, `destination.port:"053"`, `destination.port:(53 OR 443 OR 22)`,
		`network.transport:udp AND destination.port:53`, `source.ip:192.168.10.5`, `source.ip:"::ffff:192.168.10.5"`,
		`event.dataset:"f5.asm"`, `f5.asm.violation_rating:0`, `f5.asm.violation_rating:"4.0"`, `host.hostname:MX68`,
		`log.syslog.severity.code:6`, `event.type:denied`, `event.action:deny AND NOT source.ip:10.0.0.0/8`,
		`destination.port:[1 TO 1024]`, `process.name:kernel`, `network.iana_number:17`, `event.outcome:failure`,
		// Filters the engine decides once for all flows (query.FlowConstant).
		`event.kind:event AND event.category:network`, `NOT event.action:network_flow`, `event.dataset:sluice.fl*`,
		`_exists_:event.module AND event.type:connection`, `event.action:network_flow AND network.transport:udp`,
		`event.action:(deny OR network_flow) AND NOT event.module:sluice`,
	}
	var rules []*rule.Rule
	for i, f := range filters {
		m, err := query.ParseQueryString(f, query.Options{})
		if err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		r := &rule.Rule{File: fmt.Sprint(i), Spec: rule.Spec{Name: fmt.Sprint("r", i), Type: "any", MaxKeys: 10}, Filter: m, TimestampField: "@timestamp"}
		rules = append(rules, r)
	}
	eng := rule.NewEngine(rules, rule.EngineConfig{Now: time.Now})
	want := map[string]uint64{}
	d := query.NewEventDoc(nil)
	for _, e := range evs {
		d.Reset(e)
		for _, r := range rules {
			if r.Filter.Match(d) {
				want[r.Spec.Name]++
			}
		}
		d.Reset(e)
		eng.Process(d, "sluice-x-2026.12.07")
	}
	matched := 0
	for _, st := range eng.Stats() {
		if st.Docs != want[st.Name] {
			t.Errorf("rule %s: engine saw %d documents, its filter matches %d", st.Name, st.Docs, want[st.Name])
		}
		if st.Docs > 0 {
			matched++
		}
	}
	if matched < len(filters)/2 {
		t.Errorf("only %d of %d rules matched anything: the test exercises too little", matched, len(filters))
	}
}
