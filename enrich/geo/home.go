package geo

import (
	"net/netip"

	"github.com/sluicelab/sluice/internal/event"
)

// homeSet matches addresses against the home networks; IPv4 prefixes as
// masks, for speed.
type homeSet struct {
	v4 []struct{ net, mask uint32 }
	v6 []netip.Prefix
}

func newHomeSet(ps []netip.Prefix) homeSet {
	var h homeSet
	for _, p := range ps {
		p = p.Masked()
		if p.Addr().Is4() {
			b := p.Addr().As4()
			var mask uint32
			if p.Bits() > 0 {
				mask = ^uint32(0) << (32 - p.Bits())
			}
			h.v4 = append(h.v4, struct{ net, mask uint32 }{be32(b), mask})
			continue
		}
		h.v6 = append(h.v6, p)
	}
	return h
}

func (h *homeSet) empty() bool { return len(h.v4) == 0 && len(h.v6) == 0 }

// locality returns internal for an address in the home networks, external
// for any other valid one, unknown for none or when there are no home
// networks.
func (h *homeSet) locality(ip netip.Addr) event.Locality {
	if !ip.IsValid() || h.empty() {
		return event.LocalityUnknown
	}
	ip = ip.Unmap()
	if ip.Is4() {
		v := be32(ip.As4())
		for _, n := range h.v4 {
			if v&n.mask == n.net {
				return event.LocalityInternal
			}
		}
		return event.LocalityExternal
	}
	ip = ip.WithZone("")
	for _, p := range h.v6 {
		if p.Contains(ip) {
			return event.LocalityInternal
		}
	}
	return event.LocalityExternal
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
