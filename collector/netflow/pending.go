package netflow

import (
	"bytes"
	"fmt"
	"time"

	"github.com/sluicelab/sluice/collector"
	"github.com/sluicelab/sluice/internal/event"
)

// hold keeps a data set whose template is unknown so that it can be decoded
// when the template arrives. ex.mu is held.
func (d *Decoder) hold(ex *exporter, h *header, id uint16, body []byte, el *errList) {
	if !d.reservePending(len(body)) {
		d.m.pendingOverflow.Inc()
		el.add(&collector.DecodeError{Reason: "template_unknown",
			Err:     fmt.Errorf("data set %d from %s domain %d: %w; pending buffer full", id, ex.key.addr, ex.key.domain, ErrTemplateNotFound),
			Dropped: 1})
		return
	}
	ex.pending = append(ex.pending, pendingSet{id: id, data: bytes.Clone(body), h: *h})
	ex.npending.Store(int32(len(ex.pending)))
	d.m.pendingSets.Inc()
}

// reservePending takes one slot and size bytes of the pending budget.
func (d *Decoder) reservePending(size int) bool {
	limit := int64(d.cfg.PendingMaxSets)
	for {
		n := d.pendingSets.Load()
		if n >= limit {
			return false
		}
		if d.pendingSets.CompareAndSwap(n, n+1) {
			break
		}
	}
	if d.pendingBytes.Add(int64(size)) > pendingMaxBytes {
		d.pendingBytes.Add(-int64(size))
		d.pendingSets.Add(-1)
		return false
	}
	return true
}

func (d *Decoder) releasePending(ps *pendingSet) {
	d.pendingSets.Add(-1)
	d.pendingBytes.Add(-int64(len(ps.data)))
	d.m.pendingSets.Dec()
}

// resolvePending decodes the held sets of ex whose template is now known
// into b and returns the number of flow records decoded. ex.mu is held.
func (d *Decoder) resolvePending(ex *exporter, b *event.Batch) int {
	flows := 0
	keep := ex.pending[:0]
	for i := range ex.pending {
		ps := &ex.pending[i]
		t := ex.templates[ps.id]
		if t == nil {
			keep = append(keep, *ps)
			continue
		}
		n := d.decodeRecords(ex, &ps.h, t, ps.data, b)
		if !t.options {
			flows += n
		}
		if n > 0 {
			t.used = true
			ex.decoded.Store(true)
		}
		d.releasePending(ps)
	}
	clear(ex.pending[len(keep):])
	ex.pending = keep
	ex.npending.Store(int32(len(keep)))
	return flows
}

// sweep drops held sets older than PendingMaxAge, at most a few times per
// max age, and reports them as one DecodeError.
func (d *Decoder) sweep(now time.Time) error {
	every := min(d.cfg.PendingMaxAge/4, time.Second)
	nowNs := now.UnixNano()
	last := d.lastSweep.Load()
	if nowNs-last < int64(every) || !d.lastSweep.CompareAndSwap(last, nowNs) {
		return nil
	}
	cutoff := now.Add(-d.cfg.PendingMaxAge)
	dropped := d.dropPending(func(ps *pendingSet) bool { return ps.h.received.Before(cutoff) })
	if dropped == 0 {
		return nil
	}
	d.m.pendingExpired.Add(float64(dropped))
	return &collector.DecodeError{Reason: "template_unknown",
		Err:     fmt.Errorf("%d held data sets expired after %s: %w", dropped, d.cfg.PendingMaxAge, ErrTemplateNotFound),
		Dropped: dropped}
}

// dropPending removes the held sets for which drop is true across all
// exporters and returns how many. It must not be called with an exporter
// lock held.
func (d *Decoder) dropPending(drop func(*pendingSet) bool) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	dropped := 0
	for _, ex := range d.exporters {
		if ex.npending.Load() == 0 {
			continue
		}
		ex.mu.Lock()
		keep := ex.pending[:0]
		for i := range ex.pending {
			ps := &ex.pending[i]
			if drop(ps) {
				d.releasePending(ps)
				dropped++
				continue
			}
			keep = append(keep, *ps)
		}
		clear(ex.pending[len(keep):])
		ex.pending = keep
		ex.npending.Store(int32(len(keep)))
		ex.mu.Unlock()
	}
	return dropped
}
