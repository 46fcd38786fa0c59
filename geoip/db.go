package geoip

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/sluicelab/sluice/internal/event"
)

// kind is one of the three databases.
type kind uint8

const (
	kindCountry kind = iota
	kindCity
	kindASN
	numKinds
)

// label is the db label of the metrics.
func (k kind) label() string { return [...]string{"country", "city", "asn"}[k] }

// key is the config key naming the file.
func (k kind) key() string { return "geoip." + k.label() + "_db" }

func (k kind) maxmindName() string { return [...]string{"Country", "City", "ASN"}[k] }

// reader is one opened and verified database file. The whole file is read
// into memory (not mmap'ed), so a file truncated or rewritten in place
// cannot fault a lookup, and a replaced reader needs no Close: in-flight
// lookups keep it alive until they return.
type reader struct {
	kind   kind
	mr     *maxminddb.Reader // lookups (query); geoip2 only checks the type in open
	path   string
	id     fileID
	dbType string
	build  time.Time
	size   int
}

// fileID identifies one version of a file: a replacement by rename
// changes the inode, a rewrite in place the size or mtime.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

// LoadError is a database that could not be loaded: missing, unreadable,
// corrupt or of the wrong type. Its message names the config key, the path
// and the fix.
type LoadError struct {
	Key, Path string
	Err       error
	Fix       string
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("%s: %s: %v; %s", e.Key, e.Path, e.Err, e.Fix)
}

func (e *LoadError) Unwrap() error { return e.Err }

// errChanging means the file changed while it was read (a copy in
// progress); it is tried again at the next check, without an error.
var errChanging = errors.New("file changed while reading")

// ErrWrongType is wrapped by a LoadError for a valid database of another
// kind (an ASN file as geoip.city_db).
var ErrWrongType = errors.New("wrong database type")

// ErrCorrupt is wrapped by a LoadError for a file that is not a valid
// MaxMind DB.
var ErrCorrupt = errors.New("not a valid MaxMind DB file")

// open reads, verifies and opens the database of kind k at path.
func open(k kind, path string) (*reader, error) {
	lerr := func(err error, fix string) error {
		return &LoadError{Key: k.key(), Path: path, Err: err, Fix: fix}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, lerr(err, statFix(k, err))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, lerr(err, statFix(k, err))
	}
	fi2, err := os.Stat(path)
	if err != nil || idOf(fi) != idOf(fi2) || int64(len(data)) != fi.Size() {
		return nil, errChanging
	}
	corrupt := func(err error) error {
		return lerr(fmt.Errorf("%w: %v", ErrCorrupt, err),
			"replace it with a complete download (geoipupdate writes one), or fix "+k.key())
	}
	mr, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, corrupt(err)
	}
	if err := mr.Verify(); err != nil {
		return nil, corrupt(err)
	}
	wrong := func(dbType string) error {
		return lerr(fmt.Errorf("%w: it is a %q database", ErrWrongType, dbType),
			fmt.Sprintf("%s needs a %s database such as GeoLite2-%s.mmdb; point it at one", k.key(), k.maxmindName(), k.maxmindName()))
	}
	gr, err := geoip2.OpenBytes(data)
	if err != nil {
		var ute geoip2.UnknownDatabaseTypeError
		if errors.As(err, &ute) {
			return nil, wrong(mr.Metadata.DatabaseType)
		}
		return nil, corrupt(err)
	}
	// Probe the method this kind needs: it fails on a database of
	// another kind before any address is looked up.
	probe := netip.IPv6Unspecified()
	switch k {
	case kindCountry:
		_, err = gr.Country(probe)
	case kindCity:
		_, err = gr.City(probe)
	case kindASN:
		_, err = gr.ASN(probe)
	}
	var ime geoip2.InvalidMethodError
	if errors.As(err, &ime) {
		return nil, wrong(mr.Metadata.DatabaseType)
	}
	md := gr.Metadata()
	return &reader{kind: k, mr: mr, path: path, id: idOf(fi), dbType: md.DatabaseType, build: md.BuildTime(), size: len(data)}, nil
}

func statFix(k kind, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("download it with geoipupdate (GeoLite2-%s, see README \"GeoIP\") or correct %s; sluice goes on without it and loads the file when it appears", k.maxmindName(), k.key())
	case errors.Is(err, fs.ErrPermission):
		return "let the user sluice runs as read it (and its directory)"
	}
	return "check the file and " + k.key()
}

// langKey is the key of language l (an index into Languages) in the
// names maps of a record, or "" for English, which is read anyway as the
// fallback.
func langKey(l int) string {
	if l < 0 || l >= len(Languages) || Languages[l] == "en" {
		return ""
	}
	return Languages[l]
}

// query asks the loaded databases about ip. It returns nil when none
// knows anything. An error (a record that does not decode) comes with
// whatever the other databases answered.
//
// The records are decoded by placeRecord and asnRecord (record.go), which
// read only what is written, in one language and English, instead of
// geoip2-golang's complete structs; the answers are the same
// (TestQueryMatchesGeoIP2).
func (st *state) query(ip netip.Addr, lang int) (*event.Geo, error) {
	var g event.Geo
	var errs []error
	place := false
	// Result.Decode takes an interface, which moves its target to the
	// heap: the records are decoded into pooled scratch instead, so that
	// a lookup allocates only what it answers with.
	sc := scratchPool.Get().(*scratch)
	defer func() {
		*sc = scratch{} // hold no strings of the database while pooled
		scratchPool.Put(sc)
	}()
	p := &sc.p
	if r := st.r[kindCity]; r != nil {
		*p = placeRecord{lang: langKey(lang), city: true}
		if err := r.mr.Lookup(ip).Decode(p); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.kind.key(), ip, err))
		} else {
			place = p.fill(&g)
		}
	}
	if r := st.r[kindCountry]; r != nil && !place {
		// Country, not registered_country, as Logstash and
		// Elasticsearch do; the country db only when the city db had
		// no place at all.
		*p = placeRecord{lang: langKey(lang)}
		if err := r.mr.Lookup(ip).Decode(p); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.kind.key(), ip, err))
		} else {
			place = p.fill(&g)
		}
	}
	asn := false
	if r := st.r[kindASN]; r != nil {
		a := &sc.a
		if err := r.mr.Lookup(ip).Decode(a); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.kind.key(), ip, err))
		} else if a.number != 0 || a.org != "" {
			g.ASN = uint32(min(a.number, 1<<32-1))
			g.ASOrg = a.org
			asn = true
		}
	}
	if !place && !asn {
		return nil, errors.Join(errs...)
	}
	g.Render() // the answer is cached and shared: encode its JSON once
	return &g, errors.Join(errs...)
}

// scratch is what query decodes records into.
type scratch struct {
	p placeRecord
	a asnRecord
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// fill copies the decoded place into g and reports whether there was
// any. The region is the first subdivision; its ISO code is written as
// ECS has it, with the country's in front ("US-CA"), and only when both
// are known.
func (p *placeRecord) fill(g *event.Geo) bool {
	g.ContinentCode = p.continentCode
	g.CountryISO = p.countryISO
	g.CountryName = p.countryName
	place := g.ContinentCode != "" || g.CountryISO != "" || g.CountryName != ""
	if !p.city {
		return place
	}
	if p.hasSubdivision {
		if p.regionISO != "" && g.CountryISO != "" {
			g.RegionISO = g.CountryISO + "-" + p.regionISO
		}
		g.RegionName = p.regionName
	}
	g.CityName = p.cityName
	if p.hasLat && p.hasLon {
		g.Lat, g.Lon, g.HasLocation = p.lat, p.lon, true
	}
	return place || g.RegionISO != "" || g.RegionName != "" || g.CityName != "" || g.HasLocation
}
