package rule

import (
	"net/netip"
	"testing"

	"github.com/sluicelab/sluice/internal/query"
)

// TestQueryKeyAddresses: a query_key address is rendered from the
// scratch's cache of addresses when it has it; the key is the text the
// uncached path gives, for addresses that share a cache slot, IPv6, and
// IPv4-mapped IPv6, in any order and again.
func TestQueryKeyAddresses(t *testing.T) {
	addrs := []string{"127.0.0.1", "10.0.0.17", "192.0.2.1", "192.0.2.17", "2001:db8::1", "2001:db8::11",
		"::ffff:192.0.2.1", "::ffff:10.0.0.17", "::", "0.0.0.0", "fe80::1"}
	eng := NewEngine(nil, EngineConfig{})
	sc := eng.scratch.Get().(*processScratch)
	paths := []query.Path{query.NewPath("observer.ip")}
	var buf []query.Value
	n := 0
	for round := range 3 {
		for i := range addrs {
			a := netip.MustParseAddr(addrs[(i*7+round)%len(addrs)])
			doc := query.NewMapDoc(map[string]any{"observer": map[string]any{"ip": a.String()}})
			// The MapDoc answers text; the cache is for address values.
			ed := addrDoc{a}
			want, ok := queryKeyOf(doc, paths, &buf, nil)
			if !ok || want != a.String() {
				t.Fatalf("queryKeyOf(%s) uncached = %q, %v", a, want, ok)
			}
			got, ok := queryKeyOf(ed, paths, &buf, sc)
			if !ok || got != want {
				t.Errorf("round %d: queryKeyOf(%s) = %q, %v; want %q", round, a, got, ok, want)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no addresses")
	}
}

// addrDoc answers every path with one address value.
type addrDoc struct{ a netip.Addr }

func (d addrDoc) Values(_ string, dst []query.Value) []query.Value {
	return append(dst, query.Value{Kind: query.KindIP, IP: d.a})
}
func (d addrDoc) AppendJSON(dst []byte) []byte { return append(dst, "{}"...) }
