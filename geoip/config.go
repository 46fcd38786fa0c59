package geoip

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Config configures the GeoIP databases (config keys geoip.*). Any subset
// of the three databases may be set; an empty path leaves that one out.
type Config struct {
	// CountryDB, CityDB and ASNDB are paths of MaxMind DB files:
	// GeoLite2/GeoIP2 Country, City and ASN, or DB-IP lite files in the
	// same format. With both a city and a country database the city
	// database answers and the country one fills in where it has nothing.
	CountryDB string `mapstructure:"country_db"`
	CityDB    string `mapstructure:"city_db"`
	ASNDB     string `mapstructure:"asn_db"`
	// Language picks the names (country, region, city) written: one of
	// Languages. A name missing in it falls back to English.
	Language string `mapstructure:"language"`
	// CacheSize bounds the lookup cache (addresses); 0 disables it.
	CacheSize int `mapstructure:"cache_size"`
	// ReloadInterval is how often the files are checked for replacement
	// (os.Stat: inode, size, mtime); 0 checks only on SIGHUP.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
}

// Languages are the name languages of MaxMind and DB-IP databases.
var Languages = []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"}

// Limits of the numeric settings.
const (
	MaxCacheSize      = 1 << 24
	MinReloadInterval = 100 * time.Millisecond
)

// Default returns the defaults: no database, English names, 65536 cached
// addresses, a check for new files every minute.
func Default() Config {
	return Config{Language: "en", CacheSize: 65536, ReloadInterval: time.Minute}
}

// Enabled reports whether any database is configured.
func (c *Config) Enabled() bool {
	return c.CountryDB != "" || c.CityDB != "" || c.ASNDB != ""
}

// Validate checks the settings. A database file that is missing or not
// valid is not a configuration error: New logs it, and the file is loaded
// when it appears (geoipupdate may run after sluice starts).
func (c *Config) Validate() error {
	var errs []error
	if langIndex(c.Language) < 0 {
		errs = append(errs, fmt.Errorf("geoip.language: %q is not a database language; use one of %v (default en)", c.Language, Languages))
	}
	if c.CacheSize < 0 || c.CacheSize > MaxCacheSize {
		errs = append(errs, fmt.Errorf("geoip.cache_size: %d is out of range; use 0 (no cache) .. %d (default 65536)", c.CacheSize, MaxCacheSize))
	}
	if c.ReloadInterval < 0 || (c.ReloadInterval > 0 && c.ReloadInterval < MinReloadInterval) {
		errs = append(errs, fmt.Errorf("geoip.reload_interval: %s is out of range; use 0 (reload on SIGHUP only) or at least %s (default 1m)", c.ReloadInterval, MinReloadInterval))
	}
	for _, d := range c.paths() {
		if d.path == "" {
			continue
		}
		if fi, err := os.Stat(d.path); err == nil && fi.IsDir() {
			errs = append(errs, fmt.Errorf("%s: %q is a directory; name the .mmdb file in it, e.g. %s/GeoLite2-%s.mmdb", d.kind.key(), d.path, d.path, d.kind.maxmindName()))
		}
	}
	return errors.Join(errs...)
}

type kindPath struct {
	kind kind
	path string
}

func (c *Config) paths() [numKinds]kindPath {
	return [numKinds]kindPath{{kindCountry, c.CountryDB}, {kindCity, c.CityDB}, {kindASN, c.ASNDB}}
}

func langIndex(l string) int {
	for i, x := range Languages {
		if x == l {
			return i
		}
	}
	return -1
}
