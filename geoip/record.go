package geoip

import (
	"fmt"

	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// Record decoding.
//
// geoip2-golang's City, Country and ASN methods decode every field of a
// record into a large struct, including the names in all eight languages
// of the continent, country, registered and represented country, city and
// every subdivision: about 30 allocations and several microseconds per
// address, most of it thrown away. sluice writes a dozen values, so a
// lookup walks the record with maxminddb's cursor API instead and reads
// only those.
//
// Walking is most of the cost (the strings mostly come from the Reader's
// string cache), so each map inside a record is walked only until what is
// wanted from it has been found (scan): the English name is the second of
// eight in a names map as MaxMind writes them (keys sorted), the latitude
// and longitude come before the time zone, and so on. The record itself
// is walked to its end (scanAll), as Decode wants its successor. A walk
// reaches the next key by Skip, which does not descend into a value
// stored as a pointer; MaxMind databases store repeated maps (continents,
// countries, names) once and point to them.
//
// The fields read are checked as geoip2-golang checks them (kind, the
// same maxsize limits), so a record it rejects for one of them is
// rejected here too. What is not read is not checked: a record whose only
// fault is, say, an overlong postal code, an unread language's name of
// the wrong kind, or a duplicated key now answers instead of failing
// (TestQueryUnreadFieldsUnchecked). Verify, in open, has checked the
// structure of every record already, so no walk can leave the data.

// Limits of the fields read, as geoip2-golang v2's struct tags set them.
const (
	maxCodeSize         = 16   // continent code, country and subdivision iso_code
	maxNameSize         = 1024 // every names.<lang>
	maxOrgSize          = 4096 // autonomous_system_organization
	maxSubdivisionCount = 32   // subdivisions
)

// placeRecord is the part of a City or Country record that sluice writes.
// It decodes itself from a cursor (mmdbdata.CursorUnmarshaler), so
// Result.Decode calls UnmarshalMaxMindDBCursor directly, no reflection.
type placeRecord struct {
	// Inputs.
	lang string // key of the configured language; "" for English alone
	city bool   // a City lookup: also the city, subdivisions and location

	// Outputs.
	continentCode  string
	countryISO     string
	countryName    string
	regionISO      string // first subdivision's iso_code
	regionName     string // first subdivision's name
	hasSubdivision bool
	cityName       string
	lat, lon       float64
	hasLat, hasLon bool
}

// UnmarshalMaxMindDBCursor decodes the record's map. The keys are those
// of geoip2.City (city) or geoip2.Country, which ignores the city keys.
func (p *placeRecord) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	return scanAll(c, func(key []byte, v mmdbdata.Cursor) (bool, error) {
		var err error
		switch string(key) {
		case "continent":
			err = p.continent(v)
		case "country":
			err = p.isoAndName(v, &p.countryISO, &p.countryName)
		case "city":
			if p.city {
				err = p.cityNames(v)
			}
		case "subdivisions":
			if p.city {
				err = p.subdivisions(v)
			}
		case "location":
			if p.city {
				err = p.location(v)
			}
		}
		if err != nil {
			return false, fieldError(key, err)
		}
		return false, nil
	})
}

// continent reads continent.code; the continent's names are not written.
func (p *placeRecord) continent(c mmdbdata.Cursor) error {
	return scan(c, func(key []byte, v mmdbdata.Cursor) (bool, error) {
		if string(key) != "code" {
			return false, nil
		}
		return true, readString(v, &p.continentCode, maxCodeSize, key)
	})
}

// isoAndName reads the iso_code and the name of a country or subdivision
// map.
func (p *placeRecord) isoAndName(c mmdbdata.Cursor, iso, name *string) error {
	var found uint8
	return scan(c, func(key []byte, v mmdbdata.Cursor) (bool, error) {
		var err error
		switch string(key) {
		case "iso_code":
			found |= 1
			err = readString(v, iso, maxCodeSize, key)
		case "names":
			found |= 2
			err = readNames(v, p.lang, name, key)
		}
		return found == 3, err
	})
}

// cityNames reads the city's name.
func (p *placeRecord) cityNames(c mmdbdata.Cursor) error {
	return scan(c, func(key []byte, v mmdbdata.Cursor) (bool, error) {
		if string(key) != "names" {
			return false, nil
		}
		return true, readNames(v, p.lang, &p.cityName, key)
	})
}

// subdivisions reads the first subdivision (the largest, as MaxMind
// orders them). Like geoip2-golang, it refuses more than
// maxSubdivisionCount.
func (p *placeRecord) subdivisions(c mmdbdata.Cursor) error {
	s, err := c.SliceMaxSize(maxSubdivisionCount)
	if err != nil {
		return mmdbdata.NormalizeUnmarshalError[[]struct{}](err)
	}
	_, v, ok := s.Next(mmdbdata.Cursor{})
	if !ok {
		return s.Err()
	}
	p.hasSubdivision = true
	if err := p.isoAndName(v, &p.regionISO, &p.regionName); err != nil {
		return fmt.Errorf("decoding index 0: %w", err)
	}
	return nil
}

// location reads the coordinates; accuracy, time zone and metro code are
// not written.
func (p *placeRecord) location(c mmdbdata.Cursor) error {
	return scan(c, func(key []byte, v mmdbdata.Cursor) (bool, error) {
		var dst *float64
		switch string(key) {
		case "latitude":
			dst, p.hasLat = &p.lat, true
		case "longitude":
			dst, p.hasLon = &p.lon, true
		default:
			return false, nil
		}
		f, _, err := v.ReadFloat()
		if err != nil {
			return false, fieldError(key, mmdbdata.NormalizeUnmarshalError[float64](err))
		}
		*dst = f
		return p.hasLat && p.hasLon, nil
	})
}

// asnRecord is the part of an ASN (or ISP) record that sluice writes.
type asnRecord struct {
	number uint64
	org    string
}

// UnmarshalMaxMindDBCursor decodes the record's map. The number is
// checked as geoip2.ASN's uint field is: a negative one is an error.
func (a *asnRecord) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	return scanAll(c, func(key []byte, v mmdbdata.Cursor) (bool, error) {
		switch string(key) {
		case "autonomous_system_number":
			n, signed, _, err := v.ReadInteger()
			if err == nil && signed && int64(n) < 0 {
				err = mmdbdata.NewUnmarshalTypeError[uint](int64(n))
			}
			if err != nil {
				return false, fieldError(key, mmdbdata.NormalizeUnmarshalError[uint](err))
			}
			a.number = n
		case "autonomous_system_organization":
			if err := readString(v, &a.org, maxOrgSize, key); err != nil {
				return false, err
			}
		}
		return false, nil
	})
}

// scan calls f with the keys and value cursors of the map at c, in order,
// until f reports that it has found all it wants from the map (or fails).
// f reads what it wants from v and need not consume it: scan finds the
// next key by skipping v, which costs little for a string or a pointer.
// Stopping early leaves the rest of the map unread.
func scan(c mmdbdata.Cursor, f func(key []byte, v mmdbdata.Cursor) (done bool, err error)) error {
	_, err := walk(c, false, f)
	return err
}

// scanAll is scan to the end of the map, whatever f reports, returning
// the map's successor. A record is walked so: Decode wants the successor,
// and skipping the record first only to walk it again would cost more
// than skipping its few top-level values.
func scanAll(c mmdbdata.Cursor, f func(key []byte, v mmdbdata.Cursor) (done bool, err error)) (mmdbdata.Cursor, error) {
	return walk(c, true, f)
}

func walk(c mmdbdata.Cursor, all bool, f func(key []byte, v mmdbdata.Cursor) (done bool, err error)) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	next := m.First()
	n := m.Len()
	for i := range n {
		key, v, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		done, err := f(key, v)
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		if done && !all {
			return mmdbdata.Cursor{}, nil
		}
		if all || i+1 < n {
			if next, err = v.Skip(); err != nil {
				return mmdbdata.Cursor{}, err
			}
		}
	}
	if !all {
		return mmdbdata.Cursor{}, nil
	}
	return m.End(next)
}

// readString reads the string value at v into dst. Strings of 2 to 100
// bytes come from the Reader's string cache when they repeat (country and
// region names, AS organizations), so most reads do not allocate.
func readString(v mmdbdata.Cursor, dst *string, maxSize uint64, key []byte) error {
	s, _, err := v.ReadStringMaxSize(maxSize)
	if err != nil {
		return fieldError(key, mmdbdata.NormalizeUnmarshalError[string](err))
	}
	*dst = s
	return nil
}

// fieldError adds the key of the field to err, as geoip2-golang does.
func fieldError(key []byte, err error) error {
	return fmt.Errorf("decoding field %s: %w", key, err)
}

// readNames reads the names map at c into dst: the name in language lang
// if there is one that is not empty, else the English one ("" for lang
// reads English alone). The English value is only remembered while the
// map is walked and read if needed, so a lookup in another language does
// not decode (and allocate) an English name it drops, and the walk stops
// as soon as the answer is known. field is the key of the map, for
// errors.
func readNames(c mmdbdata.Cursor, lang string, dst *string, field []byte) error {
	var en mmdbdata.Cursor
	hasEn, hasLang := false, false
	var name string
	err := scan(c, func(key []byte, v mmdbdata.Cursor) (bool, error) {
		switch {
		case lang != "" && string(key) == lang:
			hasLang = true
			if err := readString(v, &name, maxNameSize, key); err != nil {
				return false, err
			}
		case string(key) == "en":
			en, hasEn = v, true
		default:
			return false, nil
		}
		// Done with a name in lang, or with English once lang has been
		// passed empty (or is English).
		return name != "" || (hasEn && (hasLang || lang == "")), nil
	})
	if err == nil && name == "" && hasEn {
		// A cursor is a position in the immutable data section: reading
		// it after the walk moved on is allowed.
		if s, _, rerr := en.ReadStringMaxSize(maxNameSize); rerr != nil {
			err = fmt.Errorf("decoding field en: %w", mmdbdata.NormalizeUnmarshalError[string](rerr))
		} else {
			name = s
		}
	}
	if err != nil {
		return fieldError(field, err)
	}
	*dst = name
	return nil
}
