// Package geoip answers "where is this address and who owns it" from
// MaxMind DB files (GeoLite2/GeoIP2 Country, City and ASN, or DB-IP lite
// files in the same format), for the enrich/geo stage and for
// `sluice geoip lookup`.
//
// Lookups go through a bounded LRU cache of answers per address. The
// databases are reloaded without a restart when their files are replaced
// (checked by os.Stat every reload_interval) and on Reload (SIGHUP): the new
// file is read and verified completely first, then swapped in with one
// atomic store, together with a new empty cache. Lookups never wait for a
// reload, and lookups in flight finish on the old database. A missing or
// broken file is logged once, shown by sluice_geoip_database_up, and leaves
// the last good database of its kind (or none) in use.
//
// Addresses in private, loopback, link-local, CGNAT, multicast,
// documentation and other reserved ranges are never looked up (Classify).
package geoip

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
)

// Result says what a lookup found.
type Result uint8

// Lookup results (label values of sluice_geoip_lookups_total).
const (
	ResultFound      Result = iota // at least one database knew the address
	ResultNotFound                 // no loaded database knew it
	ResultSkipped                  // not a public address (see Classify); not looked up
	ResultNoDatabase               // no database is loaded
	ResultError                    // a record failed to decode (logged, rate-limited)
	numResults
)

var resultNames = [numResults]string{"found", "not_found", "skipped", "no_database", "error"}

// String returns the metric label of r.
func (r Result) String() string {
	if r < numResults {
		return resultNames[r]
	}
	return "unknown"
}

// Counts accumulates lookup statistics; callers that look up many
// addresses (a stage per batch) pass one to Find and hand it to Account
// once, instead of touching shared counters per address.
type Counts struct {
	hits, misses uint64
	results      [numResults]uint64
}

// DB is a set of GeoIP databases with a lookup cache. It is safe for
// concurrent use; Run, Reload and Check may run while others call Find.
type DB struct {
	cfg    Config
	lang   int
	logger *slog.Logger
	m      *metrics
	state  atomic.Pointer[state]
	errLog *obs.Limiter

	mu    sync.Mutex // serializes loads; guards files
	files [numKinds]fileState
	// startErr is what New's first load found (LoadErrors, joined).
	startErr error
}

// state is what lookups read: the loaded databases and the cache of
// their answers. It is replaced as a whole, never modified.
type state struct {
	r     [numKinds]*reader
	any   bool
	cache *cache
}

// fileState is what the loader knows of one configured file.
type fileState struct {
	path    string
	seen    fileID // the version last tried (loaded or failed)
	hasSeen bool
	missing bool // reported missing (logged once until it appears)
}

// New opens the configured databases. A database that cannot be loaded
// is logged with its path and the fix, counted in the metrics, and left
// out; New fails only for an invalid cfg or a metrics registration error.
// Call Run to pick up replaced files.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &DB{cfg: cfg, lang: langIndex(cfg.Language), logger: logger.With("component", "geoip"), errLog: obs.NewLimiter(time.Minute)}
	d.state.Store(&state{cache: newCache(cfg.CacheSize)})
	var configured []kind
	for _, kp := range cfg.paths() {
		d.files[kp.kind].path = kp.path
		if kp.path != "" {
			configured = append(configured, kp.kind)
		}
	}
	m, err := newMetrics(reg, configured, func() float64 { return float64(d.state.Load().cache.len()) })
	if err != nil {
		return nil, err
	}
	d.m = m
	d.startErr = d.load(false)
	return d, nil
}

// StartErr returns the LoadErrors of the databases New could not load
// (joined; nil when all loaded), so that a caller can refuse to start on a
// file that is there but unusable while it waits for one not there yet.
func (d *DB) StartErr() error { return d.startErr }

// Find looks ip up and adds what it did to c. It returns nil when the
// address is not public, no database is loaded, or no database knows it;
// the Geo returned is shared and must not be modified.
func (d *DB) Find(ip netip.Addr, c *Counts) (*event.Geo, Result) {
	if Classify(ip) != ClassPublic {
		c.results[ResultSkipped]++
		return nil, ResultSkipped
	}
	ip = ip.Unmap().WithZone("")
	st := d.state.Load()
	if !st.any {
		c.results[ResultNoDatabase]++
		return nil, ResultNoDatabase
	}
	if st.cache != nil {
		if g, ok := st.cache.get(ip); ok {
			c.hits++
			r := ResultFound
			if g == nil {
				r = ResultNotFound
			}
			c.results[r]++
			return g, r
		}
		c.misses++
	}
	g, err := st.query(ip, d.lang)
	if st.cache != nil {
		// A decode error is a property of the file: cache it too, and
		// count it on every lookup below.
		st.cache.put(ip, g)
	}
	r := ResultFound
	switch {
	case err != nil:
		r = ResultError
		if ok, n := d.errLog.Allow("lookup"); ok {
			d.logger.Error("GeoIP record does not decode; the database file may be damaged, replace it", "err", err, "suppressed", n)
		}
	case g == nil:
		r = ResultNotFound
	}
	c.results[r]++
	return g, r
}

// Account adds c to the metrics and resets it.
func (d *DB) Account(c *Counts) {
	if c.hits > 0 {
		d.m.hits.Add(float64(c.hits))
	}
	if c.misses > 0 {
		d.m.misses.Add(float64(c.misses))
	}
	for r, n := range c.results {
		if n > 0 {
			d.m.lookups[r].Add(float64(n))
		}
	}
	*c = Counts{}
}

// Lookup is Find for one address, counted at once.
func (d *DB) Lookup(ip netip.Addr) (*event.Geo, Result) {
	var c Counts
	g, r := d.Find(ip, &c)
	d.Account(&c)
	return g, r
}

// Loaded reports whether at least one database is in use.
func (d *DB) Loaded() bool { return d.state.Load().any }

// Status describes one configured database.
type Status struct {
	Key, Path string
	Loaded    bool
	Type      string    // database_type of the loaded file
	BuildTime time.Time // its build epoch
}

// Status returns the state of each configured database.
func (d *DB) Status() []Status {
	st := d.state.Load()
	var out []Status
	for k := range numKinds {
		path := d.files[k].path // set once in New
		if path == "" {
			continue
		}
		s := Status{Key: k.key(), Path: path}
		if r := st.r[k]; r != nil {
			s.Loaded, s.Type, s.BuildTime, s.Path = true, r.dbType, r.build, r.path
		}
		out = append(out, s)
	}
	return out
}

// Reload reads every configured file again, changed or not (SIGHUP), and
// swaps in each one that opens and verifies. It returns the load errors
// (also logged); a database that fails keeps the last good one in use.
func (d *DB) Reload() error { return d.load(true) }

// Check loads the configured files that changed (or appeared) since they
// were last tried; Run calls it every reload_interval.
func (d *DB) Check() error { return d.load(false) }

// Run checks the files every reload_interval and reloads all of them when
// hup delivers (SIGHUP), until ctx is done. It returns nil then.
func (d *DB) Run(ctx context.Context, hup <-chan os.Signal) error {
	var tick <-chan time.Time
	if d.cfg.ReloadInterval > 0 && d.cfg.Enabled() {
		t := time.NewTicker(d.cfg.ReloadInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			_ = d.Check()
		case <-hup:
			if d.cfg.Enabled() {
				d.logger.Info("reloading GeoIP databases (SIGHUP)")
				_ = d.Reload()
			}
		}
	}
}

// load tries the configured files: all of them when force, else those
// whose version differs from the one last tried.
func (d *DB) load(force bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for k := range numKinds {
		if err := d.loadOne(k, force); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *DB) loadOne(k kind, force bool) error {
	f := &d.files[k]
	if f.path == "" {
		return nil
	}
	cur := d.state.Load().r[k]
	fi, err := os.Stat(f.path)
	if err != nil {
		lerr := &LoadError{Key: k.key(), Path: f.path, Err: err, Fix: statFix(k, err)}
		f.hasSeen = false
		if !f.missing || force {
			f.missing = true
			d.m.reloads[k][1].Inc()
			if cur != nil && errors.Is(err, fs.ErrNotExist) {
				d.logger.Warn("GeoIP database file is gone; keeping the one loaded", "db", k.label(), "path", f.path, "loaded_build", cur.build)
			} else {
				d.logError(k, cur, lerr)
			}
		}
		return lerr
	}
	f.missing = false
	id := idOf(fi)
	if !force && f.hasSeen && id == f.seen {
		return nil
	}
	r, err := open(k, f.path)
	if errors.Is(err, errChanging) {
		d.logger.Debug("GeoIP database file changing while read; trying again at the next check", "db", k.label(), "path", f.path)
		return nil
	}
	f.seen, f.hasSeen = id, true
	if err != nil {
		d.m.reloads[k][1].Inc()
		d.logError(k, cur, err)
		return err
	}
	// Swap: a new state with this reader and an empty cache (the old
	// answers may be wrong now). Lookups that loaded the old state
	// finish on it and fill its cache, which is then dropped.
	old := d.state.Load()
	next := &state{r: old.r, cache: newCache(d.cfg.CacheSize)}
	next.r[k] = r
	next.any = next.r[kindCountry] != nil || next.r[kindCity] != nil || next.r[kindASN] != nil
	d.state.Store(next)
	d.m.reloads[k][0].Inc()
	d.m.up.WithLabelValues(k.label()).Set(1)
	d.m.build.WithLabelValues(k.label()).Set(float64(r.build.Unix()))
	msg := "GeoIP database loaded"
	if cur != nil {
		msg = "GeoIP database reloaded"
	}
	// The age tells an operator whether the monthly update arrives.
	d.logger.Info(msg, "db", k.label(), "path", f.path, "type", r.dbType, "build", r.build.UTC().Format(time.RFC3339),
		"age_days", int(time.Since(r.build).Hours()/24), "bytes", r.size)
	return nil
}

func (d *DB) logError(k kind, cur *reader, err error) {
	if cur != nil {
		d.logger.Error("GeoIP database not reloaded; keeping the one loaded", "db", k.label(), "err", err, "loaded_build", cur.build.UTC().Format(time.RFC3339))
		return
	}
	d.m.up.WithLabelValues(k.label()).Set(0)
	d.logger.Error("GeoIP database not loaded; going on without it", "db", k.label(), "err", err)
}
