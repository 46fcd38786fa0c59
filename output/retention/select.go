package retention

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Item is one index or file a target lists.
type Item struct {
	// Name is the index name (for a file: its name without .ndjson or
	// .ndjson.gz); patterns and timestrings apply to it.
	Name string
	// ID is what the target acts on and reports: the index name or the
	// file name.
	ID string
	// Size in bytes; 0 when unknown (a closed index).
	Size int64
	// Created is the index's creation date, or the file's modification
	// time (its last write); the creation_date age source uses it.
	Created time.Time
	// Closed: an Elasticsearch index that is closed. Gzipped: a .ndjson.gz file.
	Closed, Gzipped bool
}

// Decision is an item a policy acts on, and why.
type Decision struct {
	Item
	Reason string
}

// Skip is an item a policy matched but leaves alone, and why.
type Skip struct {
	Item
	Reason string
}

// selection is what a policy picks from a listing.
type selection struct {
	act         []Decision
	unparseable []Skip
	kept        int // matched, parsed and not acted on (today's, young, within size)
}

// selectInput is the clock and the safety margin of one selection.
type selectInput struct {
	now time.Time
	loc *time.Location
	// protectDays keeps this many days before today too (files: 1, the
	// file output may still write yesterday's file).
	protectDays int
}

// matches reports whether the policy's pattern takes name and no exclude
// pattern does. Names starting with a dot (system indices, temporary
// files) never match.
func (p *policy) matches(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") {
		return false
	}
	if ok, _ := path.Match(p.pattern, name); !ok {
		return false
	}
	for _, x := range p.exclude {
		if ok, _ := path.Match(x, name); ok {
			return false
		}
	}
	return true
}

// choose picks the items p acts on. Only items its pattern matches are
// considered. Protected, never acted on: an item whose name's date is in
// the protected days (today, plus protectDays before) or later; with the
// creation_date age source also the newest item and any created in the
// protected days. With the name age source, names without a date are
// skipped and reported. An item is too old when its whole period (the day
// of its name) ended at least max_age ago, or, with creation_date, when it
// was created at least max_age ago. Then, with max_total_size, the oldest
// unprotected items are picked until the total of the rest fits.
func (p *policy) choose(items []Item, in selectInput) selection {
	var sel selection
	now := in.now.In(in.loc)
	y, m, d := now.Date()
	protectFrom := time.Date(y, m, d-in.protectDays, 0, 0, 0, 0, in.loc)

	type cand struct {
		Item
		ageAt     time.Time // when its data ends (name) or it was created
		desc      string    // the date it is judged by, for reasons
		protected bool
	}
	var cands []cand
	var newest *cand
	for _, it := range items {
		if !p.matches(it.Name) {
			continue
		}
		start, end, ok := p.timestring.Find(it.Name, in.loc)
		c := cand{Item: it}
		switch p.ageSource {
		case AgeFromCreationDate:
			c.ageAt = it.Created
			c.desc = "created " + it.Created.In(in.loc).Format("2006-01-02 15:04")
			c.protected = !it.Created.Before(protectFrom) || ok && !start.Before(protectFrom)
		default:
			if !ok {
				sel.unparseable = append(sel.unparseable, Skip{Item: it, Reason: fmt.Sprintf("no date matching %s in the name; left alone", p.timestring)})
				continue
			}
			c.ageAt = end
			c.desc = "dated " + start.Format(periodLayout(p.timestring.period))
			c.protected = !start.Before(protectFrom)
		}
		cands = append(cands, c)
	}
	if p.ageSource == AgeFromCreationDate {
		for i := range cands {
			if newest == nil || cands[i].Created.After(newest.Created) {
				newest = &cands[i]
			}
		}
		if newest != nil {
			newest.protected = true
		}
	}
	// Oldest first; equal ages by name, so runs are repeatable.
	sort.SliceStable(cands, func(i, j int) bool {
		if !cands[i].ageAt.Equal(cands[j].ageAt) {
			return cands[i].ageAt.Before(cands[j].ageAt)
		}
		return cands[i].ID < cands[j].ID
	})
	picked := make([]bool, len(cands))
	if p.maxAge.set() {
		cut := p.maxAge.cutoff(in.now, in.loc)
		for i, c := range cands {
			if c.protected || c.ageAt.After(cut) {
				continue
			}
			picked[i] = true
			what := "ended"
			if p.ageSource == AgeFromCreationDate {
				what = "was created"
			}
			sel.act = append(sel.act, Decision{Item: c.Item, Reason: fmt.Sprintf("max_age %s: %s, %s %s ago", p.maxAge, c.desc, what, ageText(in.now.Sub(c.ageAt)))})
		}
	}
	if p.maxTotalSize > 0 {
		var total int64
		for i, c := range cands {
			if !picked[i] {
				total += c.Size
			}
		}
		for i, c := range cands {
			if total <= p.maxTotalSize {
				break
			}
			if picked[i] || c.protected {
				continue
			}
			picked[i] = true
			sel.act = append(sel.act, Decision{Item: c.Item, Reason: fmt.Sprintf("max_total_size %s: %s, %s of the matching total %s", sizeText(p.maxTotalSize), c.desc, sizeText(c.Size), sizeText(total))})
			total -= c.Size
		}
	}
	for i := range cands {
		if !picked[i] {
			sel.kept++
		}
	}
	return sel
}

func periodLayout(p period) string {
	switch p {
	case periodHour:
		return "2006-01-02 15h"
	case periodMonth:
		return "2006-01"
	case periodYear:
		return "2006"
	}
	return "2006-01-02"
}

func ageText(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	return d.Truncate(time.Minute).String()
}

func sizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit && exp < 3; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGT"[exp])
}
