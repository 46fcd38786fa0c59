// Package geo is the pipeline stage that adds GeoIP and network facts to
// events: source/destination geo and AS (from geoip.DB), their locality
// (internal or external, from enrich.home_networks) and network.direction.
// For syslog events it also adds <prefix>.geo.* and <prefix>.as.* next to
// every other address field a parser extracted (client.ip, server.ip,
// meraki.vpn.peer.ip, ...).
package geo

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/geoip"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// maxPrefixes bounds the cached field keys (one set per address field
// prefix such as "client"); prefixes come from parser rules, so a few
// dozen are expected.
const maxPrefixes = 256

// Stage enriches events in place. It is safe for concurrent use: its own
// state is read-only after New except the key cache, which is
// copy-on-write; lookups go through the concurrent geoip.DB.
type Stage struct {
	db       *geoip.DB // nil: locality and direction only
	home     homeSet
	keys     keyCache
	uncached prometheus.Counter
}

var _ pipeline.Stage = (*Stage)(nil)

// New returns the stage. db may be nil (no databases configured).
func New(cfg Config, db *geoip.DB, logger *slog.Logger, reg prometheus.Registerer) (*Stage, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, err := obs.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_enrich_geo_uncached_prefixes_total",
		Help: "Syslog address fields whose geo field names were built per event because more than 256 field prefixes were seen.",
	}))
	if err != nil {
		return nil, err
	}
	s := &Stage{db: db, home: newHomeSet(cfg.HomeNetworks), uncached: c}
	empty := map[string]*fieldKeys{}
	s.keys.m.Store(&empty)
	logger.With("component", "enrich/geo").Info("geo enrichment on", "home_networks", len(cfg.HomeNetworks), "databases", db != nil)
	return s, nil
}

// Name implements pipeline.Stage.
func (s *Stage) Name() string { return "geo" }

// Process implements pipeline.Stage. Values already set (by a parser) are
// kept: a Geo, a locality or a direction is only filled when empty.
func (s *Stage) Process(_ context.Context, b *event.Batch) error {
	var c geoip.Counts
	evs := b.All()
	for i := range evs {
		s.Enrich(&evs[i], &c)
	}
	if s.db != nil {
		s.db.Account(&c)
	}
	return nil
}

// Enrich enriches one event, counting lookups in c (see geoip.DB.Account).
func (s *Stage) Enrich(e *event.Event, c *geoip.Counts) {
	s.endpoint(e, &e.Src, c)
	s.endpoint(e, &e.Dst, c)
	if e.Direction == event.DirectionUnknown {
		e.Direction = event.DirectionOf(e.Src.Locality, e.Dst.Locality)
	}
	if s.db != nil && len(e.Fields) > 0 {
		switch e.Kind {
		case event.KindSyslog:
			s.fields(e, c)
			s.resolved(e, c)
		case event.KindDNS, event.KindBeats:
			s.resolved(e, c)
		}
	}
}

// maxResolvedGeo bounds the distinct countries, AS numbers and AS
// organizations written for one DNS answer.
const maxResolvedGeo = 16

// resolved adds where the addresses a DNS answer resolved to
// (dns.resolved_ip) are: their distinct countries, AS numbers and AS
// organizations, in answer order, as the arrays
// sluice.dns.resolved_country_iso_code, sluice.dns.resolved_as_number and
// sluice.dns.resolved_as_organization (ECS has no fields for them). An
// address with no answer in the databases (a private one) adds nothing and
// is not tagged as a miss: only source and destination are.
func (s *Stage) resolved(e *event.Event, c *geoip.Counts) {
	var countries, orgs [maxResolvedGeo]string
	var asns [maxResolvedGeo]uint32
	var nc, na, no int
	n := len(e.Fields)
	for j := 0; j < n; j++ {
		f := &e.Fields[j]
		if f.Type != event.FieldIP || f.Key != "dns.resolved_ip" {
			continue
		}
		g, _ := s.db.Find(f.IP, c)
		if g == nil {
			continue
		}
		if g.CountryISO != "" && nc < maxResolvedGeo && !slices.Contains(countries[:nc], g.CountryISO) {
			countries[nc] = g.CountryISO
			nc++
		}
		if g.ASN != 0 && na < maxResolvedGeo && !slices.Contains(asns[:na], g.ASN) {
			asns[na] = g.ASN
			na++
		}
		if g.ASOrg != "" && no < maxResolvedGeo && !slices.Contains(orgs[:no], g.ASOrg) {
			orgs[no] = g.ASOrg
			no++
		}
	}
	for _, v := range countries[:nc] {
		e.AddParsed(event.Field{Key: "sluice.dns.resolved_country_iso_code", Type: event.FieldString, S: v})
	}
	for _, v := range asns[:na] {
		e.AddParsed(event.Field{Key: "sluice.dns.resolved_as_number", Type: event.FieldUint, U: uint64(v)})
	}
	for _, v := range orgs[:no] {
		e.AddParsed(event.Field{Key: "sluice.dns.resolved_as_organization", Type: event.FieldString, S: v})
	}
}

func (s *Stage) endpoint(e *event.Event, p *event.Endpoint, c *geoip.Counts) {
	if !p.IP.IsValid() {
		return
	}
	if p.Locality == event.LocalityUnknown {
		p.Locality = s.home.locality(p.IP)
	}
	if s.db != nil && p.Geo == nil {
		g, r := s.db.Find(p.IP, c)
		p.Geo = g
		if r == geoip.ResultNotFound || r == geoip.ResultError {
			e.Tags |= event.TagGeoMiss
		}
	}
}

// fields adds geo and AS fields next to each address field of a syslog
// event other than source.ip and destination.ip (those are Src and Dst).
func (s *Stage) fields(e *event.Event, c *geoip.Counts) {
	n := len(e.Fields)
	for j := 0; j < n; j++ {
		f := &e.Fields[j] // AddParsed below may move the slice: do not keep f
		if f.Type != event.FieldIP || len(f.Key) <= len(".ip") || !strings.HasSuffix(f.Key, ".ip") ||
			f.Key == "source.ip" || f.Key == "destination.ip" {
			continue
		}
		prefix := f.Key[:len(f.Key)-len(".ip")]
		g, r := s.db.Find(f.IP, c)
		if r == geoip.ResultNotFound || r == geoip.ResultError {
			e.Tags |= event.TagGeoMiss
		}
		if g == nil {
			continue
		}
		k := s.keys.get(prefix)
		if k == nil {
			s.uncached.Inc()
			k = newFieldKeys(prefix)
		}
		str := func(key, v string) {
			if v != "" {
				e.AddParsed(event.Field{Key: key, Type: event.FieldString, S: v})
			}
		}
		str(k.countryISO, g.CountryISO)
		str(k.countryName, g.CountryName)
		str(k.continent, g.ContinentCode)
		str(k.regionISO, g.RegionISO)
		str(k.regionName, g.RegionName)
		str(k.city, g.CityName)
		if g.HasLocation {
			e.AddParsed(event.Field{Key: k.lat, Type: event.FieldFloat, U: math.Float64bits(g.Lat)})
			e.AddParsed(event.Field{Key: k.lon, Type: event.FieldFloat, U: math.Float64bits(g.Lon)})
		}
		if g.ASN != 0 {
			e.AddParsed(event.Field{Key: k.asn, Type: event.FieldUint, U: uint64(g.ASN)})
		}
		str(k.asOrg, g.ASOrg)
	}
}

// fieldKeys are the field names added for one address prefix.
type fieldKeys struct {
	countryISO, countryName, continent, regionISO, regionName, city string
	lat, lon, asn, asOrg                                            string
}

func newFieldKeys(prefix string) *fieldKeys {
	p := strings.Clone(prefix) // the key may point into a batch's arena
	return &fieldKeys{
		countryISO:  p + ".geo.country_iso_code",
		countryName: p + ".geo.country_name",
		continent:   p + ".geo.continent_code",
		regionISO:   p + ".geo.region_iso_code",
		regionName:  p + ".geo.region_name",
		city:        p + ".geo.city_name",
		lat:         p + ".geo.location.lat",
		lon:         p + ".geo.location.lon",
		asn:         p + ".as.number",
		asOrg:       p + ".as.organization.name",
	}
}

// keyCache maps a prefix to its field names. Readers load an immutable map;
// a new prefix copies it (at most maxPrefixes times).
type keyCache struct {
	m  atomic.Pointer[map[string]*fieldKeys]
	mu sync.Mutex
}

// get returns the keys of prefix, or nil when the cache is full.
func (kc *keyCache) get(prefix string) *fieldKeys {
	if k := (*kc.m.Load())[prefix]; k != nil {
		return k
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	old := *kc.m.Load()
	if k := old[prefix]; k != nil {
		return k
	}
	if len(old) >= maxPrefixes {
		return nil
	}
	k := newFieldKeys(prefix)
	next := make(map[string]*fieldKeys, len(old)+1)
	for p, v := range old {
		next[p] = v
	}
	next[strings.Clone(prefix)] = k
	kc.m.Store(&next)
	return k
}
