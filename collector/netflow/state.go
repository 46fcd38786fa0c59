package netflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/sluicelab/sluice/internal/fsutil"
)

// stateVersion is bumped when the file layout changes incompatibly.
const stateVersion = 1

type stateFile struct {
	Version   int             `json:"version"`
	Saved     time.Time       `json:"saved"`
	Exporters []exporterState `json:"exporters"`
}

type exporterState struct {
	Addr          netip.Addr      `json:"addr"`
	Version       uint16          `json:"version"`
	Domain        uint32          `json:"domain"`
	LastSeen      time.Time       `json:"last_seen,omitzero"` // zero (older files): as of Saved
	Decoded       bool            `json:"decoded,omitempty"`
	Templates     []templateState `json:"templates,omitempty"`
	SamplingRate  uint64          `json:"sampling_rate,omitempty"`
	Samplers      []samplerState  `json:"samplers,omitempty"`
	SysInitMillis uint64          `json:"sys_init_millis,omitempty"`
}

type templateState struct {
	ID       uint16      `json:"id"`
	Options  bool        `json:"options,omitempty"`
	Scope    int         `json:"scope,omitempty"`
	Fields   []fieldSpec `json:"fields"`
	LastSeen time.Time   `json:"last_seen,omitzero"` // zero (older files): as of Saved
	Used     bool        `json:"used,omitempty"`
}

type samplerState struct {
	IE   uint16 `json:"ie"`
	ID   uint64 `json:"id"`
	Rate uint64 `json:"rate"`
}

// Save writes templates and sampling state to cfg.StatePath atomically
// (temporary file + rename). It is a no-op without a StatePath.
func (d *Decoder) Save() error {
	if d.cfg.StatePath == "" {
		return nil
	}
	d.saveMu.Lock()
	defer d.saveMu.Unlock()
	d.lastSave.Store(d.now().UnixNano())
	d.dirty.Store(false) // changes from here on mark it again
	st := d.snapshot()
	trimState(&st, d.cfg)
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("netflow state: %w", err)
	}
	if err := fsutil.WriteFileAtomic(d.cfg.StatePath, data, 0o640); err != nil {
		d.dirty.Store(true)
		return fmt.Errorf("netflow state: %w", err)
	}
	return nil
}

func (d *Decoder) snapshot() stateFile {
	st := stateFile{Version: stateVersion, Saved: d.now().UTC()}
	d.mu.RLock()
	exs := make([]*exporter, 0, len(d.exporters))
	for _, ex := range d.exporters {
		exs = append(exs, ex)
	}
	d.mu.RUnlock()
	for _, ex := range exs {
		ex.mu.Lock()
		if ex.removed {
			ex.mu.Unlock()
			continue
		}
		es := exporterState{Addr: ex.key.addr, Version: ex.key.version, Domain: ex.key.domain,
			LastSeen: time.Unix(0, ex.lastSeen.Load()).UTC(), Decoded: ex.decoded.Load(),
			SamplingRate: ex.rate, SysInitMillis: ex.sysInitMs}
		for _, t := range ex.templates {
			es.Templates = append(es.Templates, templateState{ID: t.id, Options: t.options, Scope: t.scope, Fields: t.fields,
				LastSeen: time.Unix(0, t.lastSeen).UTC(), Used: t.used})
		}
		for k, r := range ex.samplers {
			es.Samplers = append(es.Samplers, samplerState{IE: k.ie, ID: k.id, Rate: r})
		}
		ex.mu.Unlock()
		if len(es.Templates) == 0 && len(es.Samplers) == 0 && es.SamplingRate == 0 && es.SysInitMillis == 0 {
			continue
		}
		slices.SortFunc(es.Templates, func(a, b templateState) int { return int(a.ID) - int(b.ID) })
		slices.SortFunc(es.Samplers, func(a, b samplerState) int {
			if a.IE != b.IE {
				return int(a.IE) - int(b.IE)
			}
			switch {
			case a.ID < b.ID:
				return -1
			case a.ID > b.ID:
				return 1
			}
			return 0
		})
		st.Exporters = append(st.Exporters, es)
	}
	slices.SortFunc(st.Exporters, func(a, b exporterState) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		if a.Version != b.Version {
			return int(a.Version) - int(b.Version)
		}
		switch {
		case a.Domain < b.Domain:
			return -1
		case a.Domain > b.Domain:
			return 1
		}
		return 0
	})
	return st
}

// maxStateBytes bounds the state file load reads: the file is untrusted
// (hand-edited, damaged), and decoding JSON takes memory in proportion. A
// template takes a few hundred bytes in the file; this leaves room for
// MaxTemplates templates of about 2 KiB each.
func maxStateBytes(c Config) int64 { return 16<<20 + int64(c.MaxTemplates)*2048 }

// load restores the state file. A missing file is normal; an unreadable,
// oversized or corrupt one is logged and the decoder starts empty. What it
// loads obeys the same limits and expiry as the running decoder.
func (d *Decoder) load() {
	f, err := os.Open(d.cfg.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		d.log.Warn("cannot read template state, starting empty", "path", d.cfg.StatePath, "err", err)
		return
	}
	limit := maxStateBytes(d.cfg)
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	f.Close()
	if err != nil {
		d.log.Warn("cannot read template state, starting empty", "path", d.cfg.StatePath, "err", err)
		return
	}
	if int64(len(data)) > limit {
		d.log.Warn("template state file too large, starting empty", "path", d.cfg.StatePath, "max_bytes", limit)
		return
	}
	d.loadData(data)
}

// loadData restores the state from the contents of a state file.
func (d *Decoder) loadData(data []byte) {
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		d.log.Warn("corrupt template state, starting empty", "path", d.cfg.StatePath, "err", err)
		return
	}
	if st.Version != stateVersion {
		d.log.Warn("template state has an unknown version, starting empty", "path", d.cfg.StatePath, "version", st.Version)
		return
	}
	now := d.now()
	// Ages are judged as of the save: the time sluice was down is not held
	// against exporters it could not hear. A save time in the future (a
	// wrong clock, an edited file) counts as now.
	if st.Saved.IsZero() || st.Saved.After(now) {
		st.Saved = now
	}
	skipped := trimState(&st, d.cfg)
	// Rebase saved times onto this run's clock by their age at the save,
	// which trimState bounded by the expiry limits.
	rebase := func(t time.Time) int64 { return now.Add(-st.Saved.Sub(t)).UnixNano() }
	templates := 0
	for _, es := range st.Exporters {
		ex := newExporter(exporterKey{addr: es.Addr, version: es.Version, domain: es.Domain}, rebase(es.LastSeen))
		if es.Decoded {
			ex.decoded.Store(true)
		}
		for _, ts := range es.Templates {
			t, err := compile(es.Version, ts.ID, ts.Options, ts.Scope, ts.Fields)
			if err != nil {
				skipped++
				continue
			}
			t.lastSeen = rebase(ts.LastSeen)
			t.used = ts.Used
			ex.templates[t.id] = t
			templates++
		}
		ex.rate = es.SamplingRate
		ex.sysInitMs = es.SysInitMillis
		for _, s := range es.Samplers {
			if len(ex.samplers) >= maxSamplers {
				skipped++
				break
			}
			if s.Rate > 0 && (s.IE == 48 || s.IE == 302) {
				ex.setSampler(samplerKey{s.IE, s.ID}, s.Rate, nil)
			}
		}
		d.exporters[ex.key] = ex
	}
	d.m.templates.Add(float64(templates))
	d.nTmpl.Store(int64(templates))
	d.m.exporters.Set(float64(len(d.exporters)))
	d.log.Info("loaded template state", "path", d.cfg.StatePath, "exporters", len(d.exporters), "templates", templates, "skipped", skipped)
}

// trimState makes st obey the decoder's limits and expiry as of st.Saved
// and returns how many exporters and templates it dropped: invalid
// exporters and duplicates, expired entries (times after st.Saved count as
// st.Saved, zero times as st.Saved), and beyond the limits the least
// recently used, as a running decoder would have evicted them.
func trimState(st *stateFile, c Config) int {
	ref := st.Saved
	dropped := 0
	seen := make(map[exporterKey]bool, len(st.Exporters))
	clamp := func(t time.Time) time.Time {
		if t.IsZero() || t.After(ref) {
			return ref
		}
		return t
	}
	keep := st.Exporters[:0]
	for _, es := range st.Exporters {
		k := exporterKey{addr: es.Addr.Unmap(), version: es.Version, domain: es.Domain}
		es.Addr = k.addr
		es.LastSeen = clamp(es.LastSeen)
		if !es.Addr.IsValid() || es.Addr.Zone() != "" || (es.Version != 9 && es.Version != 10) || seen[k] ||
			ref.Sub(es.LastSeen) > c.ExporterMaxIdle {
			dropped += 1 + len(es.Templates)
			continue
		}
		seen[k] = true
		ids := make(map[uint16]bool, len(es.Templates))
		tk := es.Templates[:0]
		for _, ts := range es.Templates {
			ts.LastSeen = clamp(ts.LastSeen)
			if ids[ts.ID] || ref.Sub(ts.LastSeen) > c.MaxAge {
				dropped++
				continue
			}
			ids[ts.ID] = true
			tk = append(tk, ts)
		}
		clear(es.Templates[len(tk):])
		es.Templates = tk
		if len(es.Templates) > c.MaxTemplatesPerExporter {
			sortTemplatesByKeep(es.Templates)
			dropped += len(es.Templates) - c.MaxTemplatesPerExporter
			es.Templates = es.Templates[:c.MaxTemplatesPerExporter]
		}
		keep = append(keep, es)
	}
	clear(st.Exporters[len(keep):])
	st.Exporters = keep
	if len(st.Exporters) > c.MaxExporters {
		slices.SortStableFunc(st.Exporters, func(a, b exporterState) int {
			return keepOrder(a.Decoded, a.LastSeen, b.Decoded, b.LastSeen)
		})
		for _, es := range st.Exporters[c.MaxExporters:] {
			dropped += 1 + len(es.Templates)
		}
		st.Exporters = st.Exporters[:c.MaxExporters]
	}
	total := 0
	for _, es := range st.Exporters {
		total += len(es.Templates)
	}
	if total > c.MaxTemplates {
		// Keep the MaxTemplates most recently used across all exporters.
		type pos struct{ e, t int }
		all := make([]pos, 0, total)
		for i, es := range st.Exporters {
			for j := range es.Templates {
				all = append(all, pos{i, j})
			}
		}
		tsOf := func(r pos) *templateState { return &st.Exporters[r.e].Templates[r.t] }
		slices.SortStableFunc(all, func(a, b pos) int {
			x, y := tsOf(a), tsOf(b)
			return keepOrder(x.Used, x.LastSeen, y.Used, y.LastSeen)
		})
		drop := make(map[pos]bool, total-c.MaxTemplates)
		for _, r := range all[c.MaxTemplates:] {
			drop[r] = true
		}
		for i := range st.Exporters {
			es := &st.Exporters[i]
			tk := es.Templates[:0]
			for j, ts := range es.Templates {
				if !drop[pos{i, j}] {
					tk = append(tk, ts)
				}
			}
			dropped += len(es.Templates) - len(tk)
			es.Templates = tk
		}
	}
	return dropped
}

// keepOrder orders saved entries most worth keeping first: used (or
// decoded) before not, then most recently seen.
func keepOrder(aUsed bool, aLast time.Time, bUsed bool, bLast time.Time) int {
	if aUsed != bUsed {
		if aUsed {
			return -1
		}
		return 1
	}
	return bLast.Compare(aLast)
}

// sortTemplatesByKeep orders templates most worth keeping first: used, then
// most recently seen, then by ID.
func sortTemplatesByKeep(ts []templateState) {
	slices.SortFunc(ts, func(a, b templateState) int {
		if c := keepOrder(a.Used, a.LastSeen, b.Used, b.LastSeen); c != 0 {
			return c
		}
		return int(a.ID) - int(b.ID)
	})
}

// maybeSave saves the state when it changed, at most once per saveInterval.
func (d *Decoder) maybeSave() {
	now := d.now().UnixNano()
	if now-d.lastSave.Load() < int64(saveInterval) {
		return
	}
	if err := d.Save(); err != nil {
		d.log.Warn("cannot save template state", "path", d.cfg.StatePath, "err", err)
	}
}

// Close accounts held sets as dropped (reason shutdown) and saves the state.
// The decoder must not be used afterwards.
func (d *Decoder) Close() error {
	if n := d.dropPending(func(*pendingSet) bool { return true }); n > 0 {
		d.m.pendingShutdown.Add(float64(n))
		d.log.Info("dropped data sets still waiting for their template", "count", n)
	}
	return d.Save()
}

// Tick does the periodic work that must not wait for the next datagram:
// expiring held data sets and saving changed state on a quiet link. The
// collector calls it about once a second; expired sets come back as a
// DecodeError to be counted.
func (d *Decoder) Tick(now time.Time) error {
	err := d.sweep(now)
	if nowNs := now.UnixNano(); d.expireDue(nowNs, d.lastExpire.Load()) {
		d.expire(nowNs)
	}
	if d.dirty.Load() && d.cfg.StatePath != "" {
		d.maybeSave()
	}
	return err
}
