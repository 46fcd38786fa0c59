package alerter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

var slackKeys = []string{
	"slack_webhook_url", "slack_username_override", "slack_channel_override", "slack_emoji_override",
	"slack_icon_url_override", "slack_msg_color", "slack_title", "slack_title_link", "slack_timeout",
	"slack_text_string", "slack_parse_override", "slack_ca_certs", "slack_ignore_ssl_errors",
}

type slackAlerter struct {
	progress
	r                                                              *Renderer
	client                                                         *http.Client
	urls                                                           []string
	channels                                                       []string
	username, emoji, iconURL, color, title, titleLink, text, parse string
}

func newSlack(o *opts, env Env) (Alerter, error) {
	s := &slackAlerter{}
	s.urls = urls(o, "slack_webhook_url", "slack alerter needs the incoming-webhook URL")
	s.client = httpClient(o, env, "slack", 10*time.Second)
	s.channels = o.strs("slack_channel_override")
	s.username = o.str("slack_username_override", "sluice")
	s.emoji = o.str("slack_emoji_override", ":ghost:")
	s.iconURL = o.str("slack_icon_url_override", "")
	s.color = o.str("slack_msg_color", "danger")
	if s.color != "danger" && s.color != "warning" && s.color != "good" {
		o.fail("slack_msg_color: %q is not a Slack color; use danger, warning or good", s.color)
	}
	s.title = o.str("slack_title", "")
	s.titleLink = o.str("slack_title_link", "")
	s.text = o.str("slack_text_string", "")
	s.parse = o.str("slack_parse_override", "none")
	if s.parse != "none" && s.parse != "full" {
		o.fail("slack_parse_override: %q is not none or full; use one of them", s.parse)
	}
	r, err := NewRenderer(o.m)
	if err != nil {
		o.errs = append(o.errs, err)
	}
	s.r = r
	if err := o.err(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *slackAlerter) Kind() string { return "slack" }

// slackMaxText is Slack's limit for an attachment's text, as ElastAlert cuts it.
const slackMaxText = 40000

func (s *slackAlerter) Send(ctx context.Context, a *Alert) error {
	body := s.r.Body(a)
	if len(body) > slackMaxText {
		body = truncateUTF8(body, slackMaxText-50) + "\n *message was cropped according to slack message size limitations*"
	}
	attachment := map[string]any{
		"color": s.color, "title": s.r.Subject(a), "text": body,
		"mrkdwn_in": []string{"text", "pretext"}, "fields": []any{},
	}
	if s.title != "" {
		attachment["title"] = s.title
	}
	if s.titleLink != "" {
		attachment["title_link"] = s.titleLink
	}
	payload := map[string]any{
		"username": s.username, "parse": s.parse, "text": s.text,
		"attachments": []any{attachment},
	}
	if s.iconURL != "" {
		payload["icon_url"] = s.iconURL
	} else {
		payload["icon_emoji"] = s.emoji
	}
	channels := s.channels
	if len(channels) == 0 {
		channels = []string{""}
	}
	var errs []error
	for i, u := range s.urls {
		for k, ch := range channels {
			if ch != "" {
				payload["channel"] = ch
			}
			b, err := marshal(payload, false)
			if err != nil {
				return permanent(fmt.Errorf("slack payload: %w", err))
			}
			errs = append(errs, s.post(a, i*len(channels)+k, func() error { return postJSON(ctx, s.client, u, b, nil) }))
		}
	}
	return s.finish(a, errs)
}

// joinSendErrors joins the errors of several posts; the result is
// permanent only when every failure is.
func joinSendErrors(errs []error) error {
	var failed []error
	perm := true
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
			perm = perm && IsPermanent(err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	err := errors.Join(failed...)
	if perm {
		return permanent(err)
	}
	return err
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

var teamsKeys = []string{
	"ms_teams_webhook_url", "ms_teams_alert_summary", "ms_teams_theme_color",
	"ms_teams_alert_fixed_width", "ms_teams_alert_title", "ms_teams_timeout", "ms_teams_ca_certs", "ms_teams_ignore_ssl_errors",
}

type teamsAlerter struct {
	progress
	r                     *Renderer
	client                *http.Client
	urls                  []string
	summary, color, title string
	fixedWidth            bool
}

func newTeams(o *opts, env Env) (Alerter, error) {
	t := &teamsAlerter{}
	t.urls = urls(o, "ms_teams_webhook_url", "ms_teams alerter needs the incoming-webhook URL")
	t.client = httpClient(o, env, "ms_teams", 10*time.Second)
	t.summary = o.str("ms_teams_alert_summary", "sluice Message")
	t.color = o.str("ms_teams_theme_color", "")
	t.title = o.str("ms_teams_alert_title", "")
	t.fixedWidth = o.boolean("ms_teams_alert_fixed_width", false)
	r, err := NewRenderer(o.m)
	if err != nil {
		o.errs = append(o.errs, err)
	}
	t.r = r
	if err := o.err(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *teamsAlerter) Kind() string { return "ms_teams" }

func (t *teamsAlerter) Send(ctx context.Context, a *Alert) error {
	body := t.r.Body(a)
	if t.fixedWidth {
		// ElastAlert's trick: every line its own code span.
		body = strings.ReplaceAll(body, "`", "'")
		body = "```" + strings.Join(strings.Split(body, "\n"), "```\n\n```") + "```"
		body = strings.ReplaceAll(body, "\n``````", "")
	}
	title := t.r.Subject(a)
	if t.title != "" {
		title = t.title
	}
	payload := map[string]any{
		"@type": "MessageCard", "@context": "http://schema.org/extensions",
		"summary": t.summary, "title": title, "text": body,
	}
	if t.color != "" {
		payload["themeColor"] = t.color
	}
	b, err := marshal(payload, false)
	if err != nil {
		return permanent(fmt.Errorf("ms_teams payload: %w", err))
	}
	var errs []error
	for i, u := range t.urls {
		errs = append(errs, t.post(a, i, func() error { return postJSON(ctx, t.client, u, b, nil) }))
	}
	return t.finish(a, errs)
}

var postKeys = []string{
	"http_post_url", "http_post_payload", "http_post_static_payload", "http_post_all_values",
	"http_post_headers", "http_post_timeout", "http_post_ca_certs", "http_post_ignore_ssl_errors",
}

// postAlerter posts each match as JSON, as ElastAlert's post alerter does:
// the whole match (http_post_all_values), the static payload, then the
// payload keys looked up in the match.
type postAlerter struct {
	progress
	client    *http.Client
	urls      []string
	payload   map[string]string
	static    map[string]any
	allValues bool
	headers   map[string]string
}

func newPost(o *opts, env Env) (Alerter, error) {
	p := &postAlerter{}
	p.urls = urls(o, "http_post_url", "post alerter needs the URL to post to")
	p.client = httpClient(o, env, "http_post", 10*time.Second)
	p.payload = o.stringMap("http_post_payload")
	p.static = o.mapping("http_post_static_payload")
	p.allValues = o.boolean("http_post_all_values", len(p.payload) == 0)
	p.headers = o.stringMap("http_post_headers")
	if err := o.err(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *postAlerter) Kind() string { return "post" }

func (p *postAlerter) Send(ctx context.Context, a *Alert) error {
	headers := map[string]string{"Accept": "application/json;charset=utf-8"}
	for k, v := range p.headers {
		headers[k] = v
	}
	var errs []error
	for mi, m := range a.Matches {
		payload := map[string]any{}
		if p.allValues {
			for k, v := range m {
				payload[k] = v
			}
		}
		for k, v := range p.static {
			payload[k] = v
		}
		for k, path := range p.payload {
			v, _ := Lookup(m, path)
			payload[k] = v
		}
		b, err := marshal(payload, false)
		if err != nil {
			return permanent(fmt.Errorf("post payload: %w", err))
		}
		for i, u := range p.urls {
			errs = append(errs, p.post(a, mi*len(p.urls)+i, func() error { return postJSON(ctx, p.client, u, b, headers) }))
		}
	}
	return p.finish(a, errs)
}

var post2Keys = []string{
	"http_post2_url", "http_post2_payload", "http_post2_raw_fields", "http_post2_all_values",
	"http_post2_headers", "http_post2_timeout", "http_post2_ca_certs", "http_post2_ignore_ssl_errors",
}

// post2Alerter is ElastAlert2's post2: payload and headers whose keys and
// string values are templates ({{ field.path }}, {{ rule_name }}).
type post2Alerter struct {
	progress
	client    *http.Client
	urls      []string
	payload   any // the payload tree with *template in place of strings
	rawFields map[string]string
	allValues bool
	headers   map[*template]*template
}

func newPost2(o *opts, env Env) (Alerter, error) {
	p := &post2Alerter{}
	p.urls = urls(o, "http_post2_url", "post2 alerter needs the URL to post to")
	p.client = httpClient(o, env, "http_post2", 10*time.Second)
	payload := o.mapping("http_post2_payload")
	if payload != nil {
		t, err := compileTree(payload)
		if err != nil {
			o.fail("http_post2_payload: %v", err)
		}
		p.payload = t
	}
	p.rawFields = o.stringMap("http_post2_raw_fields")
	p.allValues = o.boolean("http_post2_all_values", payload == nil && p.rawFields == nil)
	p.headers = map[*template]*template{}
	for k, v := range o.stringMap("http_post2_headers") {
		kt, err := parseTemplate(k)
		if err != nil {
			o.fail("http_post2_headers: %v", err)
			continue
		}
		vt, err := parseTemplate(v)
		if err != nil {
			o.fail("http_post2_headers: %v", err)
			continue
		}
		p.headers[kt] = vt
	}
	if err := o.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// compileTree replaces every string (and map key) of a YAML tree with its
// template.
func compileTree(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return parseTemplate(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			t, err := compileTree(e)
			if err != nil {
				return nil, err
			}
			out[i] = t
		}
		return out, nil
	}
	if m, ok := toMap(v); ok {
		out := make(map[*template]any, len(m))
		for k, e := range m {
			kt, err := parseTemplate(k)
			if err != nil {
				return nil, err
			}
			t, err := compileTree(e)
			if err != nil {
				return nil, err
			}
			out[kt] = t
		}
		return out, nil
	}
	return v, nil
}

func renderTree(v any, rule string, m Match) any {
	switch x := v.(type) {
	case *template:
		return x.render(rule, m, noEscape)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = renderTree(e, rule, m)
		}
		return out
	case map[*template]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k.render(rule, m, noEscape)] = renderTree(e, rule, m)
		}
		return out
	}
	return v
}

func (p *post2Alerter) Kind() string { return "post2" }

func (p *post2Alerter) Send(ctx context.Context, a *Alert) error {
	var errs []error
	for mi, m := range a.Matches {
		payload := map[string]any{}
		if p.allValues {
			for k, v := range m {
				payload[k] = v
			}
		}
		if p.payload != nil {
			for k, v := range renderTree(p.payload, a.Rule, m).(map[string]any) {
				payload[k] = v
			}
		}
		for k, path := range p.rawFields {
			v, _ := Lookup(m, path)
			payload[k] = v
		}
		headers := map[string]string{"Accept": "application/json;charset=utf-8"}
		for k, v := range p.headers {
			headers[k.render(a.Rule, m, noEscape)] = v.render(a.Rule, m, noEscape)
		}
		b, err := marshal(payload, false)
		if err != nil {
			return permanent(fmt.Errorf("post2 payload: %w", err))
		}
		for i, u := range p.urls {
			errs = append(errs, p.post(a, mi*len(p.urls)+i, func() error { return postJSON(ctx, p.client, u, b, headers) }))
		}
	}
	return p.finish(a, errs)
}

var alertmanagerKeys = []string{
	"alertmanager_hosts", "alertmanager_api_version", "alertmanager_alertname", "alertmanager_labels",
	"alertmanager_annotations", "alertmanager_fields", "alertmanager_alert_subject_labelname",
	"alertmanager_alert_text_labelname", "alertmanager_resolve_time", "alertmanager_timeout",
	"alertmanager_ca_certs", "alertmanager_ignore_ssl_errors",
}

type alertmanagerAlerter struct {
	r                       *Renderer
	client                  *http.Client
	hosts                   []string
	alertname               string
	labels, annotations     map[string]*template
	fields                  map[string]string
	subjectLabel, textLabel string
	resolve                 time.Duration
	now                     func() time.Time
}

func newAlertmanager(o *opts, env Env) (Alerter, error) {
	am := &alertmanagerAlerter{now: env.now}
	am.hosts = urls(o, "alertmanager_hosts", "alertmanager alerter needs the base URLs of Alertmanager, e.g. [http://alertmanager:9093]")
	for i, h := range am.hosts {
		am.hosts[i] = strings.TrimSuffix(h, "/")
	}
	if v := o.str("alertmanager_api_version", "v2"); v != "v2" {
		o.fail("alertmanager_api_version: %q is not supported; sluice speaks Alertmanager's v2 API only (v1 was removed in Alertmanager 0.27): use v2", v)
	}
	am.client = httpClient(o, env, "alertmanager", 10*time.Second)
	am.alertname = o.str("alertmanager_alertname", "")
	tmpls := func(key string) map[string]*template {
		out := map[string]*template{}
		for k, v := range o.stringMap(key) {
			t, err := parseTemplate(v)
			if err != nil {
				o.fail("%s: %s: %v", key, k, err)
				continue
			}
			out[k] = t
		}
		return out
	}
	am.labels = tmpls("alertmanager_labels")
	am.annotations = tmpls("alertmanager_annotations")
	am.fields = o.stringMap("alertmanager_fields")
	am.subjectLabel = o.str("alertmanager_alert_subject_labelname", "summary")
	am.textLabel = o.str("alertmanager_alert_text_labelname", "description")
	am.resolve = o.duration("alertmanager_resolve_time", 5*time.Minute)
	r, err := NewRenderer(o.m)
	if err != nil {
		o.errs = append(o.errs, err)
	}
	am.r = r
	if err := o.err(); err != nil {
		return nil, err
	}
	return am, nil
}

func (am *alertmanagerAlerter) Kind() string { return "alertmanager" }

func (am *alertmanagerAlerter) Send(ctx context.Context, a *Alert) error {
	m := first(a)
	labels := map[string]string{}
	for k, t := range am.labels {
		labels[k] = t.render(a.Rule, m, noEscape)
	}
	for label, path := range am.fields {
		if v, ok := Lookup(m, path); ok && v != nil {
			labels[label] = pyStr(v)
		}
	}
	name := am.alertname
	if name == "" {
		name = a.Rule
	}
	labels["alertname"] = name
	labels["elastalert_rule"] = a.Rule
	annotations := map[string]string{}
	for k, t := range am.annotations {
		annotations[k] = t.render(a.Rule, m, noEscape)
	}
	annotations[am.subjectLabel] = am.r.Subject(a)
	annotations[am.textLabel] = am.r.Body(a)
	start := a.Time
	if start.IsZero() {
		start = am.now()
	}
	payload := []any{map[string]any{
		"labels": labels, "annotations": annotations,
		"startsAt": start.UTC().Format(time.RFC3339Nano),
		"endsAt":   am.now().Add(am.resolve).UTC().Format(time.RFC3339Nano),
	}}
	b, err := marshal(payload, false)
	if err != nil {
		return permanent(fmt.Errorf("alertmanager payload: %w", err))
	}
	var errs []error
	for _, h := range am.hosts {
		err := postJSON(ctx, am.client, h+"/api/v2/alerts", b, nil)
		if err == nil {
			return nil // one Alertmanager of a cluster is enough: they gossip
		}
		errs = append(errs, err)
	}
	return joinSendErrors(errs)
}
