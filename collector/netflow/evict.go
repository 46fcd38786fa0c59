package netflow

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Eviction and expiry keep the template state bounded without letting a
// flood lock out new exporters: a full table makes room by evicting its
// least recently used entries (first those never used by a data set), and
// entries that are not refreshed expire (netflow.templates.max_age,
// exporter_max_idle).
//
// Lock order: d.mu before ex.mu, never the other way round, and never two
// exporter locks at once. That is why the global template limit is enforced
// after a message, with no exporter lock held (reclaimTotal).

// evictChunk is how many entries beyond the minimum a full table evicts at
// once. Choosing victims sorts the table, so evicting 1/32 of it at a time
// keeps the cost per new entry constant during a flood.
func evictChunk(limit int) int { return max(1, limit/32) }

// evictOrder orders eviction candidates: never used before used, then least
// recently seen first.
func evictOrder(aUsed bool, aLast int64, bUsed bool, bLast int64) int {
	if aUsed != bUsed {
		if !aUsed {
			return -1
		}
		return 1
	}
	return cmp.Compare(aLast, bLast)
}

// evictTemplates removes the n least recently used templates of ex to make
// room in its full table. ex.mu is held.
func (d *Decoder) evictTemplates(ex *exporter, n int) {
	cands := make([]*template, 0, len(ex.templates))
	for _, t := range ex.templates {
		cands = append(cands, t)
	}
	slices.SortFunc(cands, func(a, b *template) int {
		if c := evictOrder(a.used, a.lastSeen, b.used, b.lastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	n = min(n, len(cands))
	for _, t := range cands[:n] {
		delete(ex.templates, t.id)
	}
	d.nTmpl.Add(-int64(n))
	d.m.templates.Sub(float64(n))
	d.m.tmplEvictPerExporter.Add(float64(n))
	d.dirty.Store(true)
	d.logEviction("templates", "max_per_exporter", n, ex.key)
}

// evictExporters removes the n least recently seen exporters, those that
// never sent a decodable data set first. d.mu is held for writing.
func (d *Decoder) evictExporters(n int) {
	type cand struct {
		ex      *exporter
		decoded bool
		last    int64
	}
	cands := make([]cand, 0, len(d.exporters))
	for _, ex := range d.exporters {
		cands = append(cands, cand{ex, ex.decoded.Load(), ex.lastSeen.Load()})
	}
	slices.SortFunc(cands, func(a, b cand) int { return evictOrder(a.decoded, a.last, b.decoded, b.last) })
	// The snapshot was taken without the exporters' locks: a worker may be
	// decoding a message of a candidate right now (its first data set, which
	// makes it decoded). removeExporter waits for that message and then
	// skips the candidate if it changed, rather than evicting an exporter
	// that has just become one to keep; the next candidate takes its turn.
	removed := 0
	var first exporterKey
	for _, c := range cands {
		if removed == n {
			break
		}
		if _, ok := d.removeExporter(c.ex, func() bool {
			return c.ex.decoded.Load() == c.decoded && c.ex.lastSeen.Load() == c.last
		}); ok {
			if removed == 0 {
				first = c.ex.key
			}
			removed++
		}
	}
	d.m.exporterEvictLimit.Add(float64(removed))
	if removed > 0 {
		d.logEviction("exporters", "max_exporters", removed, first)
	}
}

// removeExporter drops ex with its templates and held sets if still(),
// called with ex.mu held, reports true (nil means always), and returns the
// number of templates it had. d.mu is held for writing.
func (d *Decoder) removeExporter(ex *exporter, still func() bool) (int, bool) {
	ex.mu.Lock()
	if still != nil && !still() {
		ex.mu.Unlock()
		return 0, false
	}
	delete(d.exporters, ex.key)
	ex.removed = true
	nt := len(ex.templates)
	clear(ex.templates)
	np := len(ex.pending)
	for i := range ex.pending {
		d.releasePending(&ex.pending[i])
	}
	ex.pending = nil
	ex.npending.Store(0)
	ex.mu.Unlock()
	d.nTmpl.Add(-int64(nt))
	d.m.templates.Sub(float64(nt))
	d.m.tmplEvictExporterGone.Add(float64(nt))
	d.m.pendingEvicted.Add(float64(np))
	d.m.exporters.Dec()
	d.dirty.Store(true)
	return nt, true
}

// reclaimTotal evicts the least recently used templates of all exporters
// when there are more than MaxTemplates. It runs with no exporter lock held;
// a concurrent call returns at once (the running one makes the room, and a
// later message calls again if needed), so the total can exceed the limit
// by the templates of one message per decode worker for a moment. The
// templates that the message of trigger received at nowNs just announced
// go last: they are the newest, not the least recently used.
func (d *Decoder) reclaimTotal(trigger *exporter, nowNs int64) {
	if !d.reclaimMu.TryLock() {
		return
	}
	defer d.reclaimMu.Unlock()
	excess := d.nTmpl.Load() - int64(d.cfg.MaxTemplates)
	if excess <= 0 {
		return
	}
	type cand struct {
		ex      *exporter
		t       *template
		used    bool
		last    int64
		justNow bool
	}
	var cands []cand
	d.mu.RLock()
	for _, ex := range d.exporters {
		ex.mu.Lock()
		for _, t := range ex.templates {
			cands = append(cands, cand{ex, t, t.used, t.lastSeen, ex == trigger && !t.used && t.lastSeen >= nowNs})
		}
		ex.mu.Unlock()
	}
	d.mu.RUnlock()
	slices.SortFunc(cands, func(a, b cand) int {
		if a.justNow != b.justNow {
			if b.justNow {
				return -1
			}
			return 1
		}
		return evictOrder(a.used, a.last, b.used, b.last)
	})
	// The excess has been added already; the chunk leaves room for more.
	n := min(int(excess)+evictChunk(d.cfg.MaxTemplates)-1, len(cands))
	evicted := 0
	for _, c := range cands[:n] {
		c.ex.mu.Lock()
		// Skip what changed since the scan: a used or re-announced template
		// is no longer among the least recently used.
		if !c.ex.removed && c.ex.templates[c.t.id] == c.t && c.t.lastSeen == c.last && c.t.used == c.used {
			delete(c.ex.templates, c.t.id)
			evicted++
		}
		c.ex.mu.Unlock()
	}
	d.nTmpl.Add(-int64(evicted))
	d.m.templates.Sub(float64(evicted))
	d.m.tmplEvictTotal.Add(float64(evicted))
	if evicted > 0 {
		d.dirty.Store(true)
		d.logEviction("templates", "max_total", evicted, cands[0].ex.key)
	}
}

// expireInterval is how often the tables are scanned for expired entries: a
// sixteenth of the shorter lifetime, between 1s and 1m.
func expireInterval(c Config) time.Duration {
	return min(max(min(c.MaxAge, c.ExporterMaxIdle)/16, time.Second), time.Minute)
}

// expireDue reports whether an expiry scan is due at nowNs after one at
// last. A clock that went back by more than the interval rescans (and
// restarts the interval) rather than waiting for the old time to come back.
func (d *Decoder) expireDue(nowNs, last int64) bool {
	since := nowNs - last
	return since >= d.expireEvery || since < -d.expireEvery
}

// expire removes templates not announced or used for MaxAge and exporters
// not heard from for ExporterMaxIdle, judged at nowNs (receive-time clock).
// It scans at most once per expireInterval; Decode and Tick both call it.
func (d *Decoder) expire(nowNs int64) {
	last := d.lastExpire.Load()
	if !d.expireDue(nowNs, last) || !d.lastExpire.CompareAndSwap(last, nowNs) {
		return
	}
	tmplCutoff := nowNs - int64(d.cfg.MaxAge)
	idleCutoff := nowNs - int64(d.cfg.ExporterMaxIdle)
	var idle []*exporter
	templates := 0
	d.mu.RLock()
	for _, ex := range d.exporters {
		if ex.lastSeen.Load() < idleCutoff {
			idle = append(idle, ex)
			continue
		}
		ex.mu.Lock()
		for id, t := range ex.templates {
			if t.lastSeen < tmplCutoff {
				delete(ex.templates, id)
				templates++
			}
		}
		ex.mu.Unlock()
	}
	d.mu.RUnlock()
	if templates > 0 {
		d.nTmpl.Add(-int64(templates))
		d.m.templates.Sub(float64(templates))
		d.m.tmplEvictExpired.Add(float64(templates))
		d.dirty.Store(true)
	}
	exporters, gone := 0, 0
	if len(idle) > 0 {
		d.mu.Lock()
		for _, ex := range idle {
			if d.exporters[ex.key] != ex {
				continue
			}
			// Checked under ex.mu: a worker that looked ex up before this
			// scan stores lastSeen under that lock.
			nt, ok := d.removeExporter(ex, func() bool { return ex.lastSeen.Load() < idleCutoff })
			if !ok {
				continue // heard from again meanwhile
			}
			gone += nt
			exporters++
		}
		d.mu.Unlock()
		d.m.exporterEvictIdle.Add(float64(exporters))
	}
	if templates+exporters > 0 {
		if ok, sup := d.limiter.Allow("expired"); ok {
			d.log.Info("expired netflow template state", "templates", templates, "exporters", exporters,
				"exporter_templates", gone, "max_age", d.cfg.MaxAge, "exporter_max_idle", d.cfg.ExporterMaxIdle, "suppressed", sup)
		}
	}
}

// logEviction logs evictions at most once per limiter interval per kind
// and reason; the metrics count every one.
func (d *Decoder) logEviction(what, reason string, n int, k exporterKey) {
	if ok, sup := d.limiter.Allow("evict_" + what + "_" + reason); ok {
		d.log.Warn("netflow "+what+" table full, evicted the least recently used",
			"reason", reason, "count", n, "exporter", k.addr.String(), "domain", k.domain, "suppressed", sup)
	}
}

// allows reports whether a datagram from a may be decoded.
func (d *Decoder) allows(a netip.Addr) bool {
	for _, p := range d.allowed {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (d *Decoder) notAllowed(a netip.Addr) {
	d.m.notAllowed.Inc()
	if ok, sup := d.limiter.Allow("exporter_not_allowed"); ok {
		d.log.Warn("dropped datagram from a sender not in netflow.allowed_exporters", "exporter", a.String(), "suppressed", sup)
	}
}
