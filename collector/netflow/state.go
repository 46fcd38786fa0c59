package netflow

import (
	"encoding/json"
	"errors"
	"fmt"
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
	Templates     []templateState `json:"templates,omitempty"`
	SamplingRate  uint64          `json:"sampling_rate,omitempty"`
	Samplers      []samplerState  `json:"samplers,omitempty"`
	SysInitMillis uint64          `json:"sys_init_millis,omitempty"`
}

type templateState struct {
	ID      uint16      `json:"id"`
	Options bool        `json:"options,omitempty"`
	Scope   int         `json:"scope,omitempty"`
	Fields  []fieldSpec `json:"fields"`
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
		es := exporterState{Addr: ex.key.addr, Version: ex.key.version, Domain: ex.key.domain,
			SamplingRate: ex.rate, SysInitMillis: ex.sysInitMs}
		for _, t := range ex.templates {
			es.Templates = append(es.Templates, templateState{ID: t.id, Options: t.options, Scope: t.scope, Fields: t.fields})
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

// load restores the state file. A missing file is normal; an unreadable or
// corrupt one is logged and the decoder starts empty.
func (d *Decoder) load() {
	data, err := os.ReadFile(d.cfg.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		d.log.Warn("cannot read template state, starting empty", "path", d.cfg.StatePath, "err", err)
		return
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		d.log.Warn("corrupt template state, starting empty", "path", d.cfg.StatePath, "err", err)
		return
	}
	if st.Version != stateVersion {
		d.log.Warn("template state has an unknown version, starting empty", "path", d.cfg.StatePath, "version", st.Version)
		return
	}
	templates, skipped := 0, 0
	for _, es := range st.Exporters {
		if !es.Addr.IsValid() || (es.Version != 9 && es.Version != 10) {
			skipped++
			continue
		}
		if len(d.exporters) >= d.cfg.MaxExporters {
			skipped++
			continue
		}
		ex := newExporter(exporterKey{addr: es.Addr, version: es.Version, domain: es.Domain})
		for _, ts := range es.Templates {
			if len(ex.templates) >= d.cfg.MaxTemplatesPerExporter || templates >= d.cfg.MaxTemplates {
				skipped++
				continue
			}
			t, err := compile(es.Version, ts.ID, ts.Options, ts.Scope, ts.Fields)
			if err != nil {
				skipped++
				continue
			}
			ex.templates[t.id] = t
			templates++
		}
		ex.rate = es.SamplingRate
		ex.sysInitMs = es.SysInitMillis
		for _, s := range es.Samplers {
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
	if d.dirty.Load() && d.cfg.StatePath != "" {
		d.maybeSave()
	}
	return err
}
