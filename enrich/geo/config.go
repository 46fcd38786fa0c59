package geo

import (
	"fmt"
	"net/netip"
	"strings"
)

// Config configures the stage (config key enrich.home_networks).
type Config struct {
	// HomeNetworks are the networks whose addresses are "internal":
	// source.locality / destination.locality and network.direction come
	// from them. Empty: no locality and no direction.
	HomeNetworks []netip.Prefix
}

// DefaultHomeNetworks are the defaults of enrich.home_networks: RFC 1918
// and IPv6 unique local addresses.
var DefaultHomeNetworks = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// ParseHomeNetworks parses enrich.home_networks entries: CIDR prefixes or
// single addresses. Errors name the key, the entry and the fix.
func ParseHomeNetworks(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range list {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("enrich.home_networks[%d]: %q is not a CIDR prefix or address; write e.g. 10.0.0.0/8, 2001:db8:1::/48 or 192.0.2.7", i, s)
			}
			a = a.Unmap().WithZone("")
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Zone() != "" {
			return nil, fmt.Errorf("enrich.home_networks[%d]: %q has a zone; remove the %%zone part", i, s)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("enrich.home_networks[%d]: %q is an IPv4-mapped prefix shorter than /96; write the IPv4 prefix instead", i, s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
