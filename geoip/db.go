package geoip

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
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
	r      *geoip2.Reader
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
	return &reader{kind: k, r: gr, path: path, id: idOf(fi), dbType: md.DatabaseType, build: md.BuildTime(), size: len(data)}, nil
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

// names returns n's name in language l (an index into Languages), else
// the English one.
func names(n *geoip2.Names, l int) string {
	var s string
	switch l {
	case 0:
		s = n.German
	case 2:
		s = n.Spanish
	case 3:
		s = n.French
	case 4:
		s = n.Japanese
	case 5:
		s = n.BrazilianPortuguese
	case 6:
		s = n.Russian
	case 7:
		s = n.SimplifiedChinese
	}
	if s == "" {
		s = n.English
	}
	return s
}

// query asks the loaded databases about ip. It returns nil when none
// knows anything. An error (a record that does not decode) comes with
// whatever the other databases answered.
func (st *state) query(ip netip.Addr, lang int) (*event.Geo, error) {
	var g event.Geo
	var errs []error
	place := false
	if r := st.r[kindCity]; r != nil {
		rec, err := r.r.City(ip)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.kind.key(), ip, err))
		} else if rec.HasData() {
			place = fillCountry(&g, &rec.Continent, &rec.Country, lang)
			if len(rec.Subdivisions) > 0 {
				sd := &rec.Subdivisions[0]
				if sd.ISOCode != "" && g.CountryISO != "" {
					g.RegionISO = g.CountryISO + "-" + sd.ISOCode
				}
				g.RegionName = names(&sd.Names, lang)
			}
			g.CityName = names(&rec.City.Names, lang)
			if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
				g.Lat, g.Lon, g.HasLocation = *rec.Location.Latitude, *rec.Location.Longitude, true
			}
			place = place || g.RegionISO != "" || g.RegionName != "" || g.CityName != "" || g.HasLocation
		}
	}
	if r := st.r[kindCountry]; r != nil && !place {
		rec, err := r.r.Country(ip)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.kind.key(), ip, err))
		} else if rec.HasData() {
			place = fillCountry(&g, &rec.Continent, &rec.Country, lang)
		}
	}
	asn := false
	if r := st.r[kindASN]; r != nil {
		rec, err := r.r.ASN(ip)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.kind.key(), ip, err))
		} else if rec.AutonomousSystemNumber != 0 || rec.AutonomousSystemOrganization != "" {
			g.ASN = uint32(min(rec.AutonomousSystemNumber, 1<<32-1))
			g.ASOrg = rec.AutonomousSystemOrganization
			asn = true
		}
	}
	if !place && !asn {
		return nil, errors.Join(errs...)
	}
	g.Render() // the answer is cached and shared: encode its JSON once
	return &g, errors.Join(errs...)
}

// fillCountry copies the country-level facts (country, not the registered
// country, as Logstash and Elasticsearch do) and reports whether there
// were any.
func fillCountry(g *event.Geo, c *geoip2.Continent, co *geoip2.CountryRecord, lang int) bool {
	g.ContinentCode = c.Code
	g.CountryISO = co.ISOCode
	g.CountryName = names(&co.Names, lang)
	return g.ContinentCode != "" || g.CountryISO != "" || g.CountryName != ""
}
