package sflow

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// fuzzSeeds are the hand-built datagrams of the table tests plus the
// captured ones in testdata.
func fuzzSeeds(t testing.TB) [][]byte {
	gw := netip.MustParseAddr("192.0.2.254")
	seeds := [][]byte{
		simpleDatagram(),
		mixedDatagram(3),
		sfDatagram(agent6, 1, 2, 3,
			expandedFlowSample(10, 0, 7, 512, 5120, 0, 0, 7, 0, 9,
				rawHeaderRecord(headerEthernet, 1518, 4, tcpFrame()),
				switchRecord(10, 0, 20, 0),
				routerRecord(gw, 24, 16),
				gatewayRecord(gw, 64500, 64496, 64497, []uint32{64510, 65000}, []uint32{1}, 100))),
		sfDatagram(agent4, 0, 1, 0,
			compactFlowSample(1, 1, 1, 1, 0, 1, 2, rawHeaderRecord(headerEthernet, 64, 0,
				ethernet(macB, macA, []uint32{etherQinQ<<16 | 100, etherVLAN<<16 | 200}, etherIPv6,
					ipv6(44, 0, 64, host6A, host6B, append([]byte{protoUDP, 0, 0, 0, 0, 0, 0, 1}, udp(1, 2, nil)...)))))),
		sfDatagram(agent4, 0, 1, 0,
			compactFlowSample(1, 1, 100, 100, 0, 1, 2, sampledIPv4Record(1500, protoTCP, hostA, hostB, 80, 40000, 0x18, 0x10))),
		sfDatagram(agent4, 0, 1, 0, counterSample(false, 1, 7, ifCountersRecord(7, 1, 2)), counterSample(true, 2, 8, ifCountersRecord(8, 1, 2))),
		simpleDatagram()[:60],
	}
	files, _ := filepath.Glob("testdata/*/input.bin")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

var knownReasons = []string{ReasonTruncated, ReasonBadVersion, ReasonDecode}

// FuzzDecodeSFlow checks that any datagram gives events, an error with a
// known reason, or both, and never a panic (Decode recovers panics, so the
// "panic" reason counts as a failure here).
func FuzzDecodeSFlow(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	d, err := New(Default(), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := event.NewBatch()
		defer b.Release()
		err := d.Decode(&collector.Packet{Data: data, Src: sender, Received: received}, b)
		if err != nil {
			var de *collector.DecodeError
			if !errors.As(err, &de) || !slices.Contains(knownReasons, de.Reason) {
				t.Fatalf("Decode() error = %v, want a *collector.DecodeError with a known reason", err)
			}
		}
		for _, e := range b.All() {
			if e.Kind != event.KindFlow || !e.Flow.SFlow || e.Flow.Version != 5 || !e.Observer.IsValid() {
				t.Fatalf("Decode() event %+v is not an sFlow flow event", e)
			}
			seen := map[string]bool{}
			for _, fl := range e.NetFlow {
				if seen[fl.Key] {
					t.Fatalf("Decode() event has netflow key %q twice", fl.Key)
				}
				seen[fl.Key] = true
				if fl.Type == event.FieldMAC && len(fl.B) != 6 {
					t.Fatalf("Decode() MAC field %q has %d bytes", fl.Key, len(fl.B))
				}
			}
		}
	})
}
