package geo

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sluicelab/sluice/geoip"
	"github.com/sluicelab/sluice/internal/event"
)

// FuzzStage: arbitrary source/destination addresses and an address field
// under an arbitrary key never panic; the direction always follows the
// localities, and only keys ending in .ip gain fields.
func FuzzStage(f *testing.F) {
	f.Add(netip.MustParseAddr("81.2.69.142").AsSlice(), netip.MustParseAddr("192.168.1.1").AsSlice(), "client.ip", netip.MustParseAddr("1.0.0.1").AsSlice())
	f.Add(netip.MustParseAddr("2001:218::1").AsSlice(), []byte{}, ".ip", netip.MustParseAddr("fe80::1").AsSlice())
	f.Add([]byte{1, 2, 3}, netip.MustParseAddr("::ffff:10.0.0.1").AsSlice(), "source.ip", netip.MustParseAddr("89.160.20.128").AsSlice())
	s := newTestStage(f, true)
	f.Fuzz(func(t *testing.T, src, dst []byte, key string, fip []byte) {
		e := &event.Event{Kind: event.KindSyslog}
		e.Src.IP, _ = netip.AddrFromSlice(src)
		e.Dst.IP, _ = netip.AddrFromSlice(dst)
		ip, _ := netip.AddrFromSlice(fip)
		e.AddParsed(event.Field{Key: key, Type: event.FieldIP, IP: ip})
		s.Enrich(e, &geoip.Counts{})
		if e.Direction != event.DirectionOf(e.Src.Locality, e.Dst.Locality) {
			t.Fatalf("direction %s for localities %s/%s", e.Direction, e.Src.Locality, e.Dst.Locality)
		}
		if (e.Src.Geo != nil) && geoip.Classify(e.Src.IP) != geoip.ClassPublic {
			t.Fatalf("non-public %s got geo", e.Src.IP)
		}
		added := len(e.Fields) - 1
		if added > 0 && (!strings.HasSuffix(key, ".ip") || key == "source.ip" || key == "destination.ip" || key == ".ip") {
			t.Fatalf("key %q gained %d fields", key, added)
		}
		for _, fl := range e.Fields[1:] {
			if !strings.HasPrefix(fl.Key, strings.TrimSuffix(key, ".ip")+".") {
				t.Fatalf("added %q for key %q", fl.Key, key)
			}
		}
	})
}
