package event

// Geo is what the GeoIP databases say about one address: ECS *.geo.* and
// *.as.*. A Geo is immutable once built and shared (the lookup cache hands
// out the same pointer to every event of that address), so encoding it
// allocates nothing. Empty strings and a zero ASN are left out.
type Geo struct {
	CountryISO    string // geo.country_iso_code
	CountryName   string // geo.country_name
	ContinentCode string // geo.continent_code
	RegionISO     string // geo.region_iso_code ("US-CA": country and subdivision, as ECS has it)
	RegionName    string // geo.region_name
	CityName      string // geo.city_name
	Lat, Lon      float64
	HasLocation   bool   // geo.location {lat, lon} (a geo_point)
	ASN           uint32 // as.number
	ASOrg         string // as.organization.name

	// rendered is the "geo" and "as" members as JSON (Render), written
	// as they are into flow documents.
	rendered []byte
}

// Render encodes g's "geo" and "as" members once, so that each flow
// document copies them instead of encoding a dozen values again. Call it
// after filling g and before sharing it (the GeoIP cache does); changing g
// afterwards is not allowed. Without it, g is encoded each time.
func (g *Geo) Render() {
	g.rendered = nil
	b := g.appendJSON(append(make([]byte, 0, 384), '{')) // as if first in an object: no comma
	g.rendered = b[1:]
}

// Locality says whether an address is in the home networks
// (enrich.home_networks): ECS-style source.locality / destination.locality.
type Locality uint8

// Localities.
const (
	LocalityUnknown  Locality = iota // not written
	LocalityInternal                 // "internal"
	LocalityExternal                 // "external"
)

// String returns the value written to the document ("" when unknown).
func (l Locality) String() string {
	switch l {
	case LocalityInternal:
		return "internal"
	case LocalityExternal:
		return "external"
	}
	return ""
}

// Direction is network.direction, from the localities of source and
// destination (as Filebeat's network direction processor decides it).
type Direction uint8

// Directions.
const (
	DirectionUnknown  Direction = iota // not written
	DirectionInbound                   // external source, internal destination
	DirectionOutbound                  // internal source, external destination
	DirectionInternal                  // both internal
	DirectionExternal                  // both external
)

// String returns the value written to the document ("" when unknown).
func (d Direction) String() string {
	switch d {
	case DirectionInbound:
		return "inbound"
	case DirectionOutbound:
		return "outbound"
	case DirectionInternal:
		return "internal"
	case DirectionExternal:
		return "external"
	}
	return ""
}

// DirectionOf returns the direction of traffic from an endpoint of
// locality src to one of locality dst.
func DirectionOf(src, dst Locality) Direction {
	switch {
	case src == LocalityUnknown || dst == LocalityUnknown:
		return DirectionUnknown
	case src == LocalityInternal && dst == LocalityInternal:
		return DirectionInternal
	case src == LocalityExternal && dst == LocalityExternal:
		return DirectionExternal
	case src == LocalityInternal:
		return DirectionOutbound
	}
	return DirectionInbound
}
