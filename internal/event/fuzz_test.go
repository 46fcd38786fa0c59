package event

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzAppendJSON checks that any field values produce one valid JSON
// document without raw newlines.
func FuzzAppendJSON(f *testing.F) {
	f.Add("in_bytes", "https", uint64(1234), []byte{0, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}, uint16(443), uint8(6), uint32(0), int64(1795922529123456789), []byte{10, 1, 2, 3})
	f.Add("ke\"y\\", "a\x00b\xffc\u2028", uint64(0x7ff8000000000001), []byte{}, uint16(0x0800), uint8(1), uint32(0xffffffff), int64(-1), []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add("", "\xed\xa0\x80", uint64(1<<63), []byte{0xff}, uint16(0), uint8(253), uint32(3), int64(0), []byte{})
	f.Add("in_pkts", "", uint64(0xfc), []byte{}, uint16(0x0303), uint8(1), uint32(0), int64(1795922529123456789), []byte{10, 0, 0, 1})
	f.Fuzz(func(t *testing.T, key, s string, u uint64, b []byte, port uint16, proto uint8, tags uint32, ns int64, ip []byte) {
		addr, _ := netip.AddrFromSlice(ip)
		ts := time.Unix(0, ns)
		for _, kind := range []Kind{KindFlow, KindSyslog, Kind(99)} {
			e := &Event{
				Kind:      kind,
				Timestamp: ts,
				Created:   ts.Add(time.Duration(u % (1 << 40))),
				Observer:  addr,
				Src:       Endpoint{IP: addr, Port: port, Bytes: u, HasMAC: len(b) > 0},
				Dst:       Endpoint{IP: netip.AddrFrom4([4]byte{byte(u), 2, 3, 4}), Port: ^port},
				Flow: Flow{Protocol: proto, HasProtocol: proto != 0, Bytes: u, SamplingRate: u >> 60,
					Start: ts, End: time.Unix(0, int64(u)), SFlow: u&1 == 1, HasUptime: u&2 == 2, UptimeMillis: u},
				Tags: Tags(tags),
			}
			// Reported zero counts and ICMP type/code.
			e.Src.HasBytes, e.Src.HasPackets, e.Dst.HasBytes = u&4 == 4, u&8 == 8, u&16 == 16
			e.Flow.HasBytes, e.Flow.HasPackets = u&32 == 32, u&64 == 64
			e.Flow.ICMPType, e.Flow.ICMPCode, e.Flow.HasICMP = uint8(port>>8), uint8(port), u&128 == 128
			if tags&(1<<30) != 0 {
				e.OriginalTimestamp = time.UnixMilli(int64(u)) // any year
			}
			copy(e.Src.MAC[:], b)
			for ft := FieldType(0); ft <= FieldTimeMillis+1; ft++ {
				e.AddField(Field{Key: key, Type: ft, U: u, S: s, IP: addr, B: b})
				e.AddField(Field{Key: s, Type: ft, U: u, S: key, IP: addr, B: b})
			}
			out := e.AppendJSON([]byte("x"))
			doc := out[1:]
			if !json.Valid(doc) {
				t.Fatalf("AppendJSON() is not valid JSON:\n%q", doc)
			}
			for _, c := range doc {
				if c == '\n' || c == '\r' {
					t.Fatalf("AppendJSON() contains a raw newline:\n%q", doc)
				}
			}
			checkDuplicateKeys(t, doc)
		}
	})
}

// FuzzNewIndexNamer: any pattern either fails with an error or yields names
// that are safe as index and file names, for any time.
func FuzzNewIndexNamer(f *testing.F) {
	for _, p := range []string{"sluice-flows-%{+yyyy.MM.dd}", "x-%{+YYYY}-%{+MM}", "%{+yy.MM.dd.HH}", "a%{+", "%{host}", "sluice-%{+dd}"} {
		f.Add(p, int64(1764000000))
	}
	f.Fuzz(func(t *testing.T, pattern string, sec int64) {
		n, err := NewIndexNamer(pattern, time.UTC)
		if err != nil {
			return
		}
		name := n.Name(time.Unix(sec%(1<<34), 0))
		if name == "" || strings.ContainsAny(name, "/\\ \"*?<>|,#:") {
			t.Fatalf("NewIndexNamer(%q).Name() = %q: not a safe index/file name", pattern, name)
		}
	})
}
