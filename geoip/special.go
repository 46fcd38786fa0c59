package geoip

import "net/netip"

// Class says why an address is or is not looked up.
type Class uint8

// Address classes. Only ClassPublic addresses are looked up: the others
// are in no GeoIP database, or their answer would be wrong (documentation
// and benchmarking ranges, 6to4 and Teredo).
const (
	ClassInvalid       Class = iota // not an address
	ClassPublic                     // looked up
	ClassPrivate                    // RFC 1918, fc00::/7
	ClassLoopback                   // 127.0.0.0/8, ::1
	ClassLinkLocal                  // 169.254.0.0/16, fe80::/10
	ClassCGNAT                      // 100.64.0.0/10 (RFC 6598)
	ClassMulticast                  // 224.0.0.0/4, ff00::/8
	ClassDocumentation              // 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20
	ClassReserved                   // the rest of the special-purpose registries
)

var classNames = [...]string{"invalid", "public", "private", "loopback", "link_local", "cgnat", "multicast", "documentation", "reserved"}

// String returns the class name used by `sluice geoip lookup`.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// v4Special are the IPv4 special-purpose ranges (IANA registry, RFC 6890
// and successors) besides 0/8, 10/8, 127/8 and 224/3, which Classify
// decides from the first byte.
var v4Special = []struct {
	net, mask uint32
	class     Class
}{
	{0x64400000, 0xffc00000, ClassCGNAT},         // 100.64.0.0/10
	{0xa9fe0000, 0xffff0000, ClassLinkLocal},     // 169.254.0.0/16
	{0xac100000, 0xfff00000, ClassPrivate},       // 172.16.0.0/12
	{0xc0000000, 0xffffff00, ClassReserved},      // 192.0.0.0/24 IETF protocol assignments
	{0xc0000200, 0xffffff00, ClassDocumentation}, // 192.0.2.0/24 TEST-NET-1
	{0xc0586300, 0xffffff00, ClassReserved},      // 192.88.99.0/24 6to4 relay anycast
	{0xc0a80000, 0xffff0000, ClassPrivate},       // 192.168.0.0/16
	{0xc6120000, 0xfffe0000, ClassReserved},      // 198.18.0.0/15 benchmarking
	{0xc6336400, 0xffffff00, ClassDocumentation}, // 198.51.100.0/24 TEST-NET-2
	{0xcb007100, 0xffffff00, ClassDocumentation}, // 203.0.113.0/24 TEST-NET-3
}

// v6Special are the special-purpose ranges inside 2000::/3 (everything
// outside 2000::/3 is not global unicast and is classified by prefix).
var v6Special = []struct {
	p     netip.Prefix
	class Class
}{
	{netip.MustParsePrefix("2001:db8::/32"), ClassDocumentation},
	{netip.MustParsePrefix("3fff::/20"), ClassDocumentation},
	{netip.MustParsePrefix("2001::/23"), ClassReserved}, // IETF protocol assignments, Teredo
	{netip.MustParsePrefix("2002::/16"), ClassReserved}, // 6to4: the IPv4 address inside is the host
}

// Classify returns the class of ip. IPv4-mapped IPv6 addresses are
// classified as IPv4.
func Classify(ip netip.Addr) Class {
	if !ip.IsValid() {
		return ClassInvalid
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		b := ip.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		switch {
		case b[0] == 10:
			return ClassPrivate
		case b[0] == 127:
			return ClassLoopback
		case b[0] == 0:
			return ClassReserved // "this network"
		case b[0] >= 240:
			return ClassReserved // 240/4 and the broadcast address
		case b[0] >= 224:
			return ClassMulticast
		}
		for _, s := range v4Special {
			if v&s.mask == s.net {
				return s.class
			}
		}
		return ClassPublic
	}
	b := ip.As16()
	if b[0]&0xe0 != 0x20 { // outside 2000::/3, global unicast
		switch {
		case b[0] == 0xff:
			return ClassMulticast
		case b[0]&0xfe == 0xfc:
			return ClassPrivate
		case b[0] == 0xfe && b[1]&0xc0 == 0x80:
			return ClassLinkLocal
		case ip == netip.IPv6Loopback():
			return ClassLoopback
		}
		return ClassReserved
	}
	for _, s := range v6Special {
		if s.p.Contains(ip) {
			return s.class
		}
	}
	return ClassPublic
}
