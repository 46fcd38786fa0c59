package event

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// IndexRef names an index pattern other than the kind's default, chosen
// per event by a stage (a parser rule or route with its own index, e.g.
// one per vendor). 0 means the default of the event's kind. Refs come from
// RegisterIndex, are small and stable for the life of the process, so an
// event carries two bytes instead of a pattern.
type IndexRef uint16

var indexRegistry struct {
	mu       sync.Mutex
	patterns atomic.Pointer[[]string] // [0] unused
}

// RegisterIndex returns the ref of an index pattern, registering it on
// first use. Patterns are checked as NewIndexNamer checks them. Stages
// register their patterns when they are built, before events flow.
func RegisterIndex(pattern string) (IndexRef, error) {
	if _, err := NewIndexNamer(pattern, time.UTC); err != nil {
		return 0, err
	}
	r := &indexRegistry
	r.mu.Lock()
	defer r.mu.Unlock()
	var cur []string
	if p := r.patterns.Load(); p != nil {
		cur = *p
	}
	for i, p := range cur {
		if i > 0 && p == pattern {
			return IndexRef(i), nil
		}
	}
	if len(cur) == 0 {
		cur = []string{""}
	}
	if len(cur) > 1<<16-1 {
		return 0, fmt.Errorf("index pattern %q: too many index patterns (%d)", pattern, len(cur)-1)
	}
	next := append(cur[:len(cur):len(cur)], pattern)
	r.patterns.Store(&next)
	return IndexRef(len(next) - 1), nil
}

// IndexPattern returns the pattern of r ("" for 0 or an unknown ref).
func IndexPattern(r IndexRef) string {
	if p := indexRegistry.patterns.Load(); p != nil && int(r) < len(*p) {
		return (*p)[r]
	}
	return ""
}

// IndexNames picks the index (or daily file) name of each event: the
// event's own pattern when a stage set one, else its kind's. It is safe
// for concurrent use; names are cached per pattern (IndexNamer).
type IndexNames struct {
	loc           *time.Location
	flows, syslog *IndexNamer
	mu            sync.Mutex
	refs          atomic.Pointer[[]*IndexNamer] // by IndexRef, built on first use
}

// NewIndexNames builds the namers of the kinds' default patterns; dates
// are taken in loc (UTC when nil).
func NewIndexNames(flows, syslog string, loc *time.Location) (*IndexNames, error) {
	f, err := NewIndexNamer(flows, loc)
	if err != nil {
		return nil, err
	}
	s, err := NewIndexNamer(syslog, loc)
	if err != nil {
		return nil, err
	}
	return &IndexNames{loc: loc, flows: f, syslog: s}, nil
}

// Name returns the name of e's index for time t.
func (n *IndexNames) Name(e *Event, t time.Time) string {
	if e.Index != 0 {
		if ns := n.refs.Load(); ns != nil && int(e.Index) < len(*ns) && (*ns)[e.Index] != nil {
			return (*ns)[e.Index].Name(t)
		}
		if nm := n.forRef(e.Index); nm != nil {
			return nm.Name(t)
		}
	}
	if e.Kind == KindSyslog {
		return n.syslog.Name(t)
	}
	return n.flows.Name(t)
}

// forRef builds the namer of a registered ref (nil for an unknown one,
// which falls back to the kind's pattern).
func (n *IndexNames) forRef(r IndexRef) *IndexNamer {
	pattern := IndexPattern(r)
	if pattern == "" {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var cur []*IndexNamer
	if p := n.refs.Load(); p != nil {
		cur = *p
	}
	if int(r) < len(cur) && cur[r] != nil {
		return cur[r]
	}
	nm, err := NewIndexNamer(pattern, n.loc)
	if err != nil {
		return nil // RegisterIndex checked it
	}
	next := make([]*IndexNamer, max(len(cur), int(r)+1))
	copy(next, cur)
	next[r] = nm
	n.refs.Store(&next)
	return nm
}
