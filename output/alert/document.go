package alert

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluicelab/sluice/output/alert/alerter"
	"github.com/sluicelab/sluice/output/alert/rule"
	"github.com/sluicelab/sluice/output/elasticsearch"
)

// maxDocMatches bounds the matches one alert document lists (an
// aggregation of thousands); num_matches still says how many there were.
const maxDocMatches = 100

// alertDoc is the document written to the alerts index for every alert,
// like ElastAlert's writeback index: which rule, what matched (with the
// ids of the matching documents), and whether it was sent.
type alertDoc struct {
	Timestamp time.Time `json:"@timestamp"`
	Event     struct {
		Kind     string    `json:"kind"`
		Module   string    `json:"module"`
		Dataset  string    `json:"dataset"`
		Created  time.Time `json:"created"`
		Outcome  string    `json:"outcome"`
		Severity int       `json:"severity,omitempty"`
	} `json:"event"`
	Rule struct {
		Name        string `json:"name"`
		Category    string `json:"category"` // the rule type
		Description string `json:"description,omitempty"`
		Ruleset     string `json:"ruleset"` // the rule file
	} `json:"rule"`
	Message string `json:"message,omitempty"`
	Sluice  struct {
		Alert alertFields `json:"alert"`
	} `json:"sluice"`
}

type alertFields struct {
	Sent          bool            `json:"alert_sent"`
	Silenced      bool            `json:"silenced"`
	Aggregated    bool            `json:"aggregated"`
	Exception     string          `json:"alert_exception,omitempty"`
	NumHits       int             `json:"num_hits"`
	NumMatches    int             `json:"num_matches"`
	QueryKey      string          `json:"query_key,omitempty"`       // the rule's query_key field(s)
	QueryKeyValue string          `json:"query_key_value,omitempty"` // the value this alert is for
	Subject       string          `json:"subject,omitempty"`
	Alerters      []alerterResult `json:"alerters,omitempty"`
	Matches       []matchRef      `json:"matches,omitempty"`
	MatchBody     map[string]any  `json:"match_body,omitempty"` // the first match, as ElastAlert keeps it
}

type alerterResult struct {
	Type     string `json:"type"`
	Sent     bool   `json:"sent"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
}

type matchRef struct {
	ID        string    `json:"_id,omitempty"`
	Index     string    `json:"_index,omitempty"`
	Timestamp time.Time `json:"@timestamp,omitzero"`
	Summary   string    `json:"summary,omitempty"`
}

// summaryFields are shown in a match's one-line summary when present and
// the rule names no include: fields.
var summaryFields = []string{"event.action", "source.ip", "source.port", "destination.ip", "destination.port",
	"network.transport", "host.hostname", "f5.asm.attack_type", "f5.asm.violation_rating", "message"}

// writeDoc queues the alert document of fired rule f; results are the
// alerters' outcomes (nil when nothing was sent), exception why not.
func (s *Service) writeDoc(l *loaded, f *rule.Fired, a *alerter.Alert, subject, body string, results []alerter.Result, exception string) {
	now := s.now().UTC()
	var d alertDoc
	d.Timestamp = now
	d.Event.Kind, d.Event.Module, d.Event.Dataset, d.Event.Created = "alert", "sluice", "sluice.alert", now
	d.Rule.Name, d.Rule.Category, d.Rule.Ruleset = f.Rule.Spec.Name, f.Rule.Spec.Type, f.Rule.File
	if desc, ok := f.Rule.Options["description"].(string); ok {
		d.Rule.Description = desc
	}
	d.Message = subject
	af := &d.Sluice.Alert
	af.Silenced, af.Aggregated, af.NumHits, af.NumMatches = f.Silenced, f.Aggregated, f.NumHits, len(a.Matches)
	af.QueryKey, af.QueryKeyValue, af.Subject = strings.Join(f.Rule.Spec.QueryKey, ","), f.Key, subject
	af.Exception = exception
	sent, failed := 0, []string{}
	for _, r := range results {
		ar := alerterResult{Type: r.Alerter, Sent: r.Err == nil, Attempts: r.Attempts}
		if r.Err != nil {
			ar.Error = r.Err.Error()
			failed = append(failed, r.Alerter+": "+r.Err.Error())
		} else {
			sent++
		}
		af.Alerters = append(af.Alerters, ar)
	}
	af.Sent = len(results) > 0 && sent == len(results)
	if len(failed) > 0 && af.Exception == "" {
		af.Exception = strings.Join(failed, "; ")
	}
	switch {
	case af.Silenced:
		d.Event.Outcome = "unknown"
	case af.Sent:
		d.Event.Outcome = "success"
	default:
		d.Event.Outcome = "failure"
	}
	for i, m := range f.Matches {
		if i == maxDocMatches {
			break
		}
		ref := matchRef{Timestamp: m.Time.UTC(), Index: m.Index}
		if len(m.Doc) > 0 {
			ref.ID = elasticsearch.DocumentID(m.Time, m.Time, m.Doc)
		}
		if i < len(a.Matches) {
			ref.Summary = summary(a.Matches[i], f.Rule.Include)
		}
		af.Matches = append(af.Matches, ref)
	}
	if len(a.Matches) > 0 && len(f.Matches) > 0 && len(f.Matches[0].Doc) > 0 {
		af.MatchBody = a.Matches[0]
	}
	data, err := json.Marshal(&d)
	if err != nil {
		// A match value encoding/json cannot write (NaN from a metric):
		// keep the alert document without the body.
		af.MatchBody = nil
		data, err = json.Marshal(&d)
	}
	if err != nil {
		s.logger.Error("cannot encode an alert document", "rule", f.Rule.Spec.Name, "err", err)
		return
	}
	s.docs.add(doc{Time: now, JSON: data})
}

// summary is a one-line "field=value" digest of a match.
func summary(m alerter.Match, include []string) string {
	fields := include
	if len(fields) == 0 || (len(fields) == 1 && fields[0] == "*") {
		fields = summaryFields
	}
	var sb strings.Builder
	for _, f := range fields {
		v, ok := alerter.Lookup(m, f)
		if !ok {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%s=%v", f, v)
		if sb.Len() > 1000 {
			break
		}
	}
	if sb.Len() == 0 {
		// Nothing of the usual fields: the match's own top-level keys.
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			fmt.Fprintf(&sb, "%s=%v", k, m[k])
			if sb.Len() > 300 {
				break
			}
		}
	}
	return sb.String()
}
