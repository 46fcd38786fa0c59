package parsers

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/collector/syslog"
	"github.com/sluicelab/sluice/internal/cputime"
	"github.com/sluicelab/sluice/internal/event"
)

// benchGroups splits the golden inputs by vendor (file name prefix).
// meraki holds the high-volume roles (flows, firewall, urls, IDS);
// meraki_events the event-log texts (mostly grok), which are rare.
func benchGroups(b *testing.B) map[string][]string {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil {
		b.Fatal(err)
	}
	g := map[string][]string{}
	for _, f := range files {
		base := filepath.Base(f)
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var gl golden
		if err := json.Unmarshal(raw, &gl); err != nil {
			b.Fatal(err)
		}
		var k string
		switch {
		case strings.HasPrefix(base, "meraki_events_"), strings.HasPrefix(base, "meraki_airmarshal"):
			k = "meraki_events"
		case strings.HasPrefix(base, "meraki_"):
			k = "meraki"
		case strings.HasPrefix(base, "f5_asm_unparsed"):
			continue
		case strings.HasPrefix(base, "f5_asm_cef"):
			k = "f5_asm_cef"
		case strings.HasPrefix(base, "f5_asm_splunk"):
			k = "f5_asm_splunk"
		case strings.HasPrefix(base, "f5_asm_secev"):
			k = "f5_asm_secev"
		case strings.HasPrefix(base, "fortinet_cef"):
			k = "fortinet_cef"
		case strings.HasPrefix(base, "f5_"):
			k = "f5_asm"
		case strings.HasPrefix(base, "netfilter_"):
			k = "netfilter"
		case strings.HasSuffix(base, "_unparsed.json"):
			continue
		case strings.HasPrefix(base, "pfsense_"):
			k = "pfsense"
		case strings.HasPrefix(base, "panw_"):
			k = "panw"
		case strings.HasPrefix(base, "mikrotik_"):
			k = "mikrotik"
		case strings.HasPrefix(base, "ubiquiti_"):
			k = "ubiquiti"
		case strings.HasPrefix(base, "cisco_ios_"):
			k = "cisco_ios"
		case strings.HasPrefix(base, "cisco_"):
			k = "cisco_asa"
		case strings.HasPrefix(base, "fortinet_"):
			k = "fortinet"
		case strings.HasPrefix(base, "juniper_"):
			k = "juniper"
		case strings.HasPrefix(base, "dnsmasq_"):
			k = "dnsmasq"
		case strings.HasPrefix(base, "bind_"):
			k = "bind"
		case strings.HasPrefix(base, "unbound_"):
			k = "unbound"
		default:
			k = "other"
		}
		g[k] = append(g[k], gl.Input)
	}
	return g
}

// BenchmarkParse is what one worker spends per line on the syslog header
// and the vendor fields: the real decoder and Process on a batch of one
// line (one UDP datagram), without JSON encoding.
func BenchmarkParse(b *testing.B) { benchParse(b, false) }

// BenchmarkParseJSON is BenchmarkParse plus the JSON encoding of the
// event (Batch.EncodeJSON, as the pipeline's Encode stage does).
func BenchmarkParseJSON(b *testing.B) { benchParse(b, true) }

func benchParse(b *testing.B, encode bool) {
	groups := benchGroups(b)
	s := newStage(b, Default())
	// As sluice runs by default: without event.original.
	d := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC})
	ctx := context.Background()
	src := netip.MustParseAddrPort("192.0.2.1:514")
	for _, k := range []string{"meraki", "meraki_events", "f5_asm", "f5_asm_cef", "f5_asm_splunk", "f5_asm_secev", "netfilter", "other", "cisco_asa", "cisco_ios", "fortinet", "fortinet_cef", "juniper", "pfsense", "panw", "mikrotik", "ubiquiti", "dnsmasq", "bind", "unbound"} {
		if len(groups[k]) == 0 {
			continue
		}
		pkts := packets(groups[k], src)
		b.Run(k, func(b *testing.B) {
			batch := event.NewBatch()
			defer batch.Release()
			b.ReportAllocs()
			n := 0
			cpu0 := cputime.Process()
			for b.Loop() {
				batch.Reset()
				_ = d.Decode(&pkts[n%len(pkts)], batch)
				_ = s.Process(ctx, batch)
				if encode {
					batch.EncodeJSON() // as the pipeline's Encode stage does
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			// CPU time per line: steadier than wall time on a shared
			// machine, where the host may take the CPU away.
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(n), "cpu-ns/op")
		})
	}
}

// BenchmarkHeader is the decoder alone on the same lines, to tell the
// stage's share.
func BenchmarkHeader(b *testing.B) {
	groups := benchGroups(b)
	d := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC, KeepOriginal: true})
	src := netip.MustParseAddrPort("192.0.2.1:514")
	for _, k := range []string{"meraki", "meraki_events", "f5_asm", "f5_asm_cef", "f5_asm_splunk", "f5_asm_secev", "netfilter", "cisco_asa", "cisco_ios", "fortinet", "fortinet_cef", "juniper", "pfsense", "panw", "mikrotik", "ubiquiti", "dnsmasq", "bind", "unbound"} {
		if len(groups[k]) == 0 {
			continue
		}
		pkts := packets(groups[k], src)
		b.Run(k, func(b *testing.B) {
			batch := event.NewBatch()
			defer batch.Release()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				batch.Reset()
				_ = d.Decode(&pkts[n%len(pkts)], batch)
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func packets(lines []string, src netip.AddrPort) []collector.Packet {
	pkts := make([]collector.Packet, len(lines))
	for i, l := range lines {
		pkts[i] = collector.Packet{Data: []byte(l), Src: src, Received: received}
	}
	return pkts
}

// BenchmarkParseFile is BenchmarkParse per golden file, to tell which
// lines of a vendor form cost most: go test -bench 'ParseFile/juniper_'.
func BenchmarkParseFile(b *testing.B) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil {
		b.Fatal(err)
	}
	s := newStage(b, Default())
	d := syslog.NewDecoder(syslog.DecoderConfig{Location: time.UTC})
	ctx := context.Background()
	src := netip.MustParseAddrPort("192.0.2.1:514")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var gl golden
		if err := json.Unmarshal(raw, &gl); err != nil {
			b.Fatal(err)
		}
		pkts := packets([]string{gl.Input}, src)
		b.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(b *testing.B) {
			batch := event.NewBatch()
			defer batch.Release()
			b.ReportAllocs()
			n := 0
			cpu0 := cputime.Process()
			for b.Loop() {
				batch.Reset()
				_ = d.Decode(&pkts[0], batch)
				_ = s.Process(ctx, batch)
				n++
			}
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(n), "cpu-ns/op")
		})
	}
}
