package alerter

import (
	"fmt"
	"strings"
)

// template is the subset of Jinja that sluice supports in post2 payloads and
// headers, alertmanager labels and annotations and alert_text_jinja:
// literal text with {{ field.path }} substitutions from the first match and
// {{ rule_name }}. There are no filters, tests, expressions or control flow;
// a missing field renders as "" (Jinja's undefined).
type template struct {
	parts []tmplPart
}

type tmplPart struct {
	text  string // literal text, or the field path when field is true
	field bool
}

// parseTemplate compiles s, rejecting what the subset does not have with an
// error that says so.
func parseTemplate(s string) (*template, error) {
	t := &template{}
	if i := strings.Index(s, "{%"); i >= 0 {
		return nil, fmt.Errorf("template %s uses {%% ... %%}: sluice's templates have no control flow (if, for, set); only {{ field.path }} and {{ rule_name }}", short(s))
	}
	if strings.Contains(s, "{#") {
		return nil, fmt.Errorf("template %s has a {# comment #}, which sluice's templates do not have; remove it", short(s))
	}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				return nil, fmt.Errorf("template %s has }} without {{; fix the braces", short(s))
			}
			if rest != "" {
				t.parts = append(t.parts, tmplPart{text: rest})
			}
			return t, nil
		}
		if i > 0 {
			if strings.Contains(rest[:i], "}}") {
				return nil, fmt.Errorf("template %s has }} without {{; fix the braces", short(s))
			}
			t.parts = append(t.parts, tmplPart{text: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("template %s has {{ without }}; close it", short(s))
		}
		expr := strings.TrimSpace(rest[i+2 : i+2+j])
		if strings.Contains(expr, "|") {
			return nil, fmt.Errorf("template %s uses a filter ({{ %s }}): sluice's templates have no filters; write {{ field.path }}", short(s), expr)
		}
		if !isFieldPath(expr) {
			return nil, fmt.Errorf("template %s: {{ %s }} is not a field path; sluice's templates only substitute {{ field.path }} and {{ rule_name }}", short(s), expr)
		}
		t.parts = append(t.parts, tmplPart{text: expr, field: true})
		rest = rest[i+2+j+2:]
	}
}

// isFieldPath accepts the field names of documents: letters, digits, '_',
// '@', '-' and dots between non-empty segments.
func isFieldPath(s string) bool {
	if s == "" {
		return false
	}
	for _, seg := range strings.Split(s, ".") {
		if seg == "" {
			return false
		}
		for _, c := range seg {
			ok := c == '_' || c == '@' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c > 127
			if !ok {
				return false
			}
		}
	}
	return true
}

// render fills the template from m; esc is applied to substituted values.
func (t *template) render(rule string, m Match, esc func(string) string) string {
	var sb strings.Builder
	for _, p := range t.parts {
		if !p.field {
			sb.WriteString(p.text)
			continue
		}
		v, ok := Lookup(m, p.text)
		if !ok && p.text == "rule_name" {
			v, ok = rule, true
		}
		if ok && v != nil {
			sb.WriteString(esc(pyStr(v)))
		}
	}
	return sb.String()
}

// isConst reports whether the template has no substitutions.
func (t *template) isConst() bool {
	for _, p := range t.parts {
		if p.field {
			return false
		}
	}
	return true
}
