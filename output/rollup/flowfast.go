package rollup

import (
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

// Flows are read from the event's fields directly, which costs a
// fraction of a path lookup; the values are those the encoder writes
// (the golden tests compare every dimension with the documents).
const (
	ffOther = iota // read through the EventDoc
	ffSrcIP
	ffDstIP
	ffDstPort
	ffTransport
	ffDirection
	ffSrcCountry
	ffDstCountry
	ffSrcAS
	ffDstAS
	ffObserver
	ffIngress
	ffEgress
	ffAction
)

var flowFast = map[string]uint8{
	"source.ip": ffSrcIP, "destination.ip": ffDstIP, "destination.port": ffDstPort,
	"network.transport": ffTransport, "network.direction": ffDirection,
	"source.geo.country_iso_code": ffSrcCountry, "destination.geo.country_iso_code": ffDstCountry,
	"source.as.number": ffSrcAS, "destination.as.number": ffDstAS, "observer.ip": ffObserver,
	"netflow.ingress_interface": ffIngress, "netflow.egress_interface": ffEgress, "event.action": ffAction,
}

// bstr is a string over buf's bytes (only looked up and cloned by a
// top-K, never kept).
func bstr(buf []byte) string {
	if len(buf) == 0 {
		return ""
	}
	return unsafe.String(&buf[0], len(buf))
}

func portAlways(f *event.Flow) (always, never bool) {
	if f.HasProtocol {
		switch f.Protocol {
		case 6, 17, 132:
			return true, false
		case 1, 58:
			return false, true
		}
	}
	return false, false
}

func netflowUint(e *event.Event, key string) (uint64, bool) {
	for i := range e.NetFlow {
		if f := &e.NetFlow[i]; f.Key == key && f.Type == event.FieldUint {
			return f.U, true
		}
	}
	return 0, false
}

// flowAdd counts fast dimension id of flow e in tk and returns the entry
// (nil when the document has no such field).
func flowAdd(id uint8, e *event.Event, tk *topK, m *[numMetrics]uint64) (*entry, bool) {
	ip := func(a netip.Addr) (*entry, bool) {
		if !a.IsValid() {
			return nil, false
		}
		return tk.addAddr(a.WithZone(""), m)
	}
	str := func(s string) (*entry, bool) {
		if s == "" || !utf8.ValidString(s) {
			return nil, false
		}
		return tk.add(s, uint8(query.KindString), m)
	}
	switch id {
	case ffSrcIP:
		return ip(e.Src.IP)
	case ffDstIP:
		return ip(e.Dst.IP)
	case ffObserver:
		return ip(e.Observer)
	case ffDstPort:
		always, never := portAlways(&e.Flow)
		if (e.Dst.Port != 0 && !never) || always {
			return tk.addNum(uint64(e.Dst.Port), m)
		}
	case ffTransport:
		if e.Flow.HasProtocol {
			return str(event.TransportName(e.Flow.Protocol))
		}
	case ffDirection:
		return str(e.Direction.String())
	case ffSrcCountry:
		if e.Src.Geo != nil {
			return str(e.Src.Geo.CountryISO)
		}
	case ffDstCountry:
		if e.Dst.Geo != nil {
			return str(e.Dst.Geo.CountryISO)
		}
	case ffSrcAS:
		if e.Src.Geo != nil && e.Src.Geo.ASN != 0 {
			return tk.addNum(uint64(e.Src.Geo.ASN), m)
		}
	case ffDstAS:
		if e.Dst.Geo != nil && e.Dst.Geo.ASN != 0 {
			return tk.addNum(uint64(e.Dst.Geo.ASN), m)
		}
	case ffIngress:
		if v, ok := netflowUint(e, "ingress_interface"); ok && v < 1<<53 {
			return tk.addNum(v, m)
		}
	case ffEgress:
		if v, ok := netflowUint(e, "egress_interface"); ok && v < 1<<53 {
			return tk.addNum(v, m)
		}
	case ffAction:
		return tk.add("network_flow", uint8(query.KindString), m)
	}
	return nil, false
}

// flowLabels returns the labels of a flow's address or AS value.
func flowLabels(id uint8, e *event.Event) (l [numLabels]string) {
	var g *event.Geo
	switch id {
	case ffSrcIP, ffSrcAS:
		g = e.Src.Geo
	case ffDstIP, ffDstAS:
		g = e.Dst.Geo
	}
	if g == nil {
		return l
	}
	switch id {
	case ffSrcIP, ffDstIP:
		l[lCountry] = g.CountryISO
		if g.ASN != 0 {
			l[lAS] = strconv.FormatUint(uint64(g.ASN), 10)
		}
	case ffSrcAS, ffDstAS:
		l[lOrg] = g.ASOrg
	}
	return l
}

// appendNumberText writes a number as the documents' text does (integers
// without a fraction).
func appendNumberText(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return query.Value{Kind: query.KindNumber, Num: f}.AppendText(dst)
}
