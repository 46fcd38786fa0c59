package sflow

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/internal/event"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenEvent is a stable, readable view of a decoded event for want.json.
// It does not use event's ECS encoder so that these files change only when
// the decoder does.
type goldenEvent struct {
	Observer string         `json:"observer"`
	Src      goldenEndpoint `json:"src"`
	Dst      goldenEndpoint `json:"dst"`
	Flow     event.Flow     `json:"flow"`
	Tags     event.Tags     `json:"tags,omitempty"`
	NetFlow  map[string]any `json:"netflow"`
}

type goldenEndpoint struct {
	IP      string `json:"ip,omitempty"`
	Port    uint16 `json:"port,omitempty"`
	MAC     string `json:"mac,omitempty"`
	Bytes   uint64 `json:"bytes,omitempty"`
	Packets uint64 `json:"packets,omitempty"`
}

func toGoldenEndpoint(p event.Endpoint) goldenEndpoint {
	g := goldenEndpoint{Port: p.Port, Bytes: p.Bytes, Packets: p.Packets}
	if p.IP.IsValid() {
		g.IP = p.IP.String()
	}
	if p.HasMAC {
		g.MAC = net.HardwareAddr(p.MAC[:]).String()
	}
	return g
}

func toGolden(t *testing.T, events []event.Event) []goldenEvent {
	t.Helper()
	out := []goldenEvent{}
	for _, e := range events {
		if e.Kind != event.KindFlow || !e.Timestamp.Equal(received) || !e.Created.Equal(received) {
			t.Errorf("event kind %v, timestamp %v, created %v; want flows at %v", e.Kind, e.Timestamp, e.Created, received)
		}
		g := goldenEvent{
			Observer: e.Observer.String(),
			Src:      toGoldenEndpoint(e.Src),
			Dst:      toGoldenEndpoint(e.Dst),
			Flow:     e.Flow,
			Tags:     e.Tags,
			NetFlow:  map[string]any{},
		}
		for _, f := range e.NetFlow {
			if _, dup := g.NetFlow[f.Key]; dup {
				t.Errorf("netflow key %q appears twice", f.Key)
			}
			switch f.Type {
			case event.FieldUint:
				g.NetFlow[f.Key] = f.U
			case event.FieldIP:
				g.NetFlow[f.Key] = f.IP.String()
			case event.FieldMAC:
				g.NetFlow[f.Key] = net.HardwareAddr(f.B).String()
			default:
				g.NetFlow[f.Key] = fmt.Sprintf("unexpected type %d", f.Type)
			}
		}
		out = append(out, g)
	}
	return out
}

// TestGolden decodes datagrams captured from a real exporter (see
// testdata/README.md) and compares the events with want.json.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.bin")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no testdata/*/input.bin: %v", err)
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := newTestDecoder(t)
			events, err := decode(t, d, data)
			if err != nil {
				t.Fatalf("Decode() error: %v", err)
			}
			got, err := json.MarshalIndent(toGolden(t, events), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(wantPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Decode() %s (-want +got):\n%s", dir, diff)
			}
		})
	}
}
