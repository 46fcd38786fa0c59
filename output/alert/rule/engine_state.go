package rule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// stateVersion is the version of the engine's state format.
const stateVersion = 1

// engineState is the saved form of the engine: per rule, the type's
// windows, the realert silences and the pending aggregations.
type engineState struct {
	Version int              `json:"version"`
	Saved   time.Time        `json:"saved"`
	Rules   []ruleStateSaved `json:"rules"`
}

type ruleStateSaved struct {
	Name string `json:"name"`
	// Hash ties the state to the rule file's content: a changed rule
	// starts fresh.
	Hash         string         `json:"hash"`
	Type         string         `json:"type"`
	State        []byte         `json:"state"` // the Type's own MarshalState
	Silences     []silenceSaved `json:"silences,omitempty"`
	Aggregations []aggSaved     `json:"aggregations,omitempty"`
}

type silenceSaved struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until"`
	Exp   int       `json:"exp,omitempty"`
}

type aggSaved struct {
	Key       string       `json:"key"`
	AlertTime time.Time    `json:"alert_time"`
	Hits      int          `json:"hits"`
	Matches   []matchSaved `json:"matches"`
}

type matchSaved struct {
	Time  time.Time       `json:"time"`
	Key   string          `json:"key,omitempty"`
	Doc   []byte          `json:"doc,omitempty"`
	Extra json.RawMessage `json:"extra,omitempty"`
}

// MarshalState saves what must survive a restart: each running rule's
// windows (its Type's state, flatline's start time among them), realert
// silences with their back-off level, and pending aggregations, as
// versioned JSON.
func (e *Engine) MarshalState() ([]byte, error) {
	s := e.snap.Load()
	st := engineState{Version: stateVersion, Saved: e.cfg.Now().UTC(), Rules: make([]ruleStateSaved, 0, len(s.rules))}
	for _, rs := range s.rules {
		c := rs.core
		c.mu.Lock()
		ts, err := c.typ.MarshalState()
		saved := ruleStateSaved{Name: rs.rule.Spec.Name, Hash: rs.rule.Hash, Type: rs.rule.Spec.Type, State: ts}
		for k, v := range c.silences {
			saved.Silences = append(saved.Silences, silenceSaved{Key: k, Until: v.until, Exp: v.exp})
		}
		for _, p := range c.aggs {
			a := aggSaved{Key: p.key, AlertTime: p.alertTime, Hits: p.hits}
			for _, m := range p.matches {
				a.Matches = append(a.Matches, saveMatch(m))
			}
			saved.Aggregations = append(saved.Aggregations, a)
		}
		c.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", rs.rule.Spec.Name, err)
		}
		sort.Slice(saved.Silences, func(i, j int) bool { return saved.Silences[i].Key < saved.Silences[j].Key })
		sort.Slice(saved.Aggregations, func(i, j int) bool { return saved.Aggregations[i].Key < saved.Aggregations[j].Key })
		st.Rules = append(st.Rules, saved)
	}
	return json.Marshal(st)
}

func saveMatch(m Match) matchSaved {
	ms := matchSaved{Time: m.Time, Key: m.Key, Doc: m.Doc}
	if len(m.Extra) > 0 {
		b, err := json.Marshal(m.Extra)
		if err != nil {
			// A value JSON cannot hold (NaN): keep the rest readable.
			b, _ = json.Marshal(map[string]string{"state_error": err.Error()})
		}
		ms.Extra = b
	}
	return ms
}

// LoadState restores what MarshalState saved, for the rules loaded now
// with the same name, hash and type; state of other rules is dropped. The
// data is treated as untrusted: anything malformed is an error and then
// nothing is changed; the bounds (max_keys, the aggregation size) hold
// after loading.
func (e *Engine) LoadState(data []byte) error {
	e.setMu.Lock()
	defer e.setMu.Unlock()
	var st engineState
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("alert rule state: %w", err)
	}
	if dec.More() {
		return errors.New("alert rule state: data after the state object")
	}
	if st.Version != stateVersion {
		return fmt.Errorf("alert rule state: version %d, this sluice reads version %d", st.Version, stateVersion)
	}
	s := e.snap.Load()
	type restore struct {
		core     *ruleCore
		typ      Type
		silences map[string]silence
		aggs     map[string]*pendingAgg
	}
	var todo []restore
	seen := map[string]bool{}
	for i, rr := range st.Rules {
		if seen[rr.Name] {
			return fmt.Errorf("alert rule state: rules[%d]: rule %q appears twice", i, rr.Name)
		}
		seen[rr.Name] = true
		rs := s.byName[rr.Name]
		if rs == nil || rs.core == nil || rs.rule.Hash != rr.Hash || rs.rule.Spec.Type != rr.Type {
			continue // the rule is gone or changed: its state goes
		}
		typ, err := newType(rs.rule)
		if err != nil {
			return fmt.Errorf("alert rule state: rule %q: %w", rr.Name, err)
		}
		if err := typ.UnmarshalState(rr.State); err != nil {
			return fmt.Errorf("alert rule state: rule %q: %w", rr.Name, err)
		}
		limit := maxKeysOf(rs.rule)
		sils := make(map[string]silence, min(len(rr.Silences), limit))
		// Keep the latest-ending silences when there are too many.
		sort.SliceStable(rr.Silences, func(a, b int) bool { return rr.Silences[a].Until.After(rr.Silences[b].Until) })
		for _, sv := range rr.Silences {
			if len(sils) >= limit {
				break
			}
			sils[sv.Key] = silence{until: sv.Until, exp: min(max(sv.Exp, 0), 62)}
		}
		aggs := make(map[string]*pendingAgg, min(len(rr.Aggregations), limit))
		for j, a := range rr.Aggregations {
			if len(aggs) >= limit {
				break
			}
			if _, dup := aggs[a.Key]; dup {
				return fmt.Errorf("alert rule state: rule %q: aggregations[%d]: key %q appears twice", rr.Name, j, a.Key)
			}
			p := &pendingAgg{key: a.Key, alertTime: a.AlertTime}
			for k, m := range a.Matches {
				if len(p.matches) >= maxAggMatches {
					break
				}
				mm := Match{Time: m.Time, Key: m.Key, Doc: m.Doc}
				if len(m.Extra) > 0 {
					if err := json.Unmarshal(m.Extra, &mm.Extra); err != nil {
						return fmt.Errorf("alert rule state: rule %q: aggregations[%d].matches[%d].extra: %w", rr.Name, j, k, err)
					}
				}
				p.matches = append(p.matches, mm)
			}
			p.hits = min(max(a.Hits, len(p.matches)), 1<<30)
			aggs[a.Key] = p
		}
		todo = append(todo, restore{core: rs.core, typ: typ, silences: sils, aggs: aggs})
	}
	for _, r := range todo {
		r.core.mu.Lock()
		r.core.typ, r.core.silences, r.core.aggs = r.typ, r.silences, r.aggs
		r.core.mu.Unlock()
	}
	return nil
}

// jsonFieldText reads a field of a JSON document by its dotted path (nested
// objects, or keys that contain dots themselves) as text; "" when absent.
// It serves the rare lookups on matches (aggregation_key), not the hot
// path.
func jsonFieldText(doc []byte, path string) string {
	if len(doc) == 0 {
		return ""
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return ""
	}
	v, ok := lookupPath(m, path, 0)
	if !ok {
		return ""
	}
	return anyText(v)
}

func lookupPath(m map[string]any, path string, depth int) (any, bool) {
	if depth > 32 {
		return nil, false
	}
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		sub, ok := m[path[:i]].(map[string]any)
		if !ok {
			continue
		}
		if v, ok := lookupPath(sub, path[i+1:], depth+1); ok {
			return v, true
		}
	}
	return nil, false
}

func anyText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = anyText(e)
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}
