package alerter

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/output/alert/alerter/mailtest"
)

// request is what a recorder received.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// recorder is a real HTTP server on 127.0.0.1 that records requests and
// answers with the given statuses in turn (the last one repeats).
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	reqs     []request
	statuses []int
	hang     bool // never answer (until the client gives up)
}

func newRecorder(t *testing.T, statuses ...int) *recorder {
	r := &recorder{statuses: statuses}
	r.Server = httptest.NewUnstartedServer(r)
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, request{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
	status := http.StatusOK
	if n := len(r.reqs) - 1; len(r.statuses) > 0 {
		status = r.statuses[min(n, len(r.statuses)-1)]
	}
	hang := r.hang
	r.mu.Unlock()
	if hang {
		<-req.Context().Done()
		return
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "ok")
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

func (r *recorder) only(t *testing.T) request {
	t.Helper()
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func jsonBody(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	return v
}

func newOne(t *testing.T, o Options, env Env) Alerter {
	t.Helper()
	as, err := New(o, env)
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	if len(as) != 1 {
		t.Fatalf("New() gave %d alerters, want 1", len(as))
	}
	return as[0]
}

func testAlert(t *testing.T) *Alert {
	return &Alert{Rule: "F5 ASM", Matches: []Match{decode(t, asmDoc)}, Time: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
}

func TestSlack(t *testing.T) {
	srv := newRecorder(t)
	a := newOne(t, Options{
		"alert": "slack", "slack_webhook_url": srv.URL + "/services/T/B/X", "slack_channel_override": "#sec",
		"slack_msg_color": "warning", "alert_subject": "攻撃 {0}", "alert_subject_args": []any{"source.ip"},
		"alert_text": "rated {0}", "alert_text_args": []any{"f5.asm.violation_rating"}, "alert_text_type": "alert_text_only",
		"slack_title_link": "https://kibana.example/x",
	}, Env{})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() error: %v", err)
	}
	req := srv.only(t)
	if req.Method != http.MethodPost || req.Path != "/services/T/B/X" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %q, want POST /services/T/B/X application/json", req.Method, req.Path, req.Header.Get("Content-Type"))
	}
	want := map[string]any{
		"username": "sluice", "parse": "none", "text": "", "icon_emoji": ":ghost:", "channel": "#sec",
		"attachments": []any{map[string]any{
			"color": "warning", "title": "攻撃 10.0.0.1", "text": "rated 4\n\n", "title_link": "https://kibana.example/x",
			"mrkdwn_in": []any{"text", "pretext"}, "fields": []any{},
		}},
	}
	if diff := cmp.Diff(want, jsonBody(t, req.Body)); diff != "" {
		t.Errorf("slack payload (-want +got):\n%s", diff)
	}
}

func TestTeams(t *testing.T) {
	srv := newRecorder(t)
	a := newOne(t, Options{
		"alert": []any{"ms_teams"}, "ms_teams_webhook_url": []any{srv.URL + "/a", srv.URL + "/b"},
		"ms_teams_theme_color": "#ff0000", "ms_teams_alert_summary": "ASM", "alert_text": "x", "alert_text_type": "alert_text_only",
	}, Env{})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() error: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 || reqs[0].Path != "/a" || reqs[1].Path != "/b" {
		t.Fatalf("got %d requests (%v), want one to each of /a and /b", len(reqs), reqs)
	}
	want := map[string]any{
		"@type": "MessageCard", "@context": "http://schema.org/extensions", "summary": "ASM",
		"title": "F5 ASM", "text": "x\n\n", "themeColor": "#ff0000",
	}
	if diff := cmp.Diff(want, jsonBody(t, reqs[1].Body)); diff != "" {
		t.Errorf("teams payload (-want +got):\n%s", diff)
	}
}

func TestPost(t *testing.T) {
	srv := newRecorder(t)
	a := newOne(t, Options{
		"alert": "post", "http_post_url": srv.URL + "/hook",
		"http_post_payload":        map[string]any{"ip": "source.ip", "rating": "f5.asm.violation_rating", "none": "no.such"},
		"http_post_static_payload": map[string]any{"origin": "sluice", "n": 1},
		"http_post_headers":        map[string]any{"Authorization": "Bearer s3cret"},
	}, Env{})
	al := testAlert(t)
	al.Matches = append(al.Matches, decode(t, `{"source":{"ip":"10.0.0.2"}}`))
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send() error: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want one per match (2)", len(reqs))
	}
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q, want the configured header", got)
	}
	if got := reqs[0].Header.Get("Accept"); got != "application/json;charset=utf-8" {
		t.Errorf("Accept = %q, want ElastAlert's", got)
	}
	want := map[string]any{"ip": "10.0.0.1", "rating": 4.0, "none": nil, "origin": "sluice", "n": 1.0}
	if diff := cmp.Diff(want, jsonBody(t, reqs[0].Body)); diff != "" {
		t.Errorf("post payload (-want +got):\n%s", diff)
	}
	if got := jsonBody(t, reqs[1].Body).(map[string]any)["ip"]; got != "10.0.0.2" {
		t.Errorf("second post ip = %v, want the second match's", got)
	}

	// Without a payload the whole match is posted.
	all := newRecorder(t)
	a = newOne(t, Options{"alert": "post", "http_post_url": all.URL}, Env{})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() error: %v", err)
	}
	if diff := cmp.Diff(jsonBody(t, []byte(asmDoc)), jsonBody(t, all.only(t).Body)); diff != "" {
		t.Errorf("http_post_all_values payload (-want +got):\n%s", diff)
	}
}

func TestPost2(t *testing.T) {
	srv := newRecorder(t)
	a := newOne(t, Options{
		"alert": "post2", "http_post2_url": srv.URL,
		"http_post2_payload": map[string]any{
			"summary": "{{ rule_name }}: {{ source.ip }} 評価 {{f5.asm.violation_rating}}",
			"nested":  map[string]any{"{{ f5.asm.attack_type }}": []any{"{{source.ip}}", 7}},
		},
		"http_post2_raw_fields": map[string]any{"raw": "f5.asm.violation_rating"},
		"http_post2_headers":    map[string]any{"X-Source": "{{ source.ip }}"},
	}, Env{})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() error: %v", err)
	}
	req := srv.only(t)
	want := map[string]any{
		"summary": "F5 ASM: 10.0.0.1 評価 4",
		"nested":  map[string]any{"SQL-Injection": []any{"10.0.0.1", 7.0}},
		"raw":     4.0,
	}
	if diff := cmp.Diff(want, jsonBody(t, req.Body)); diff != "" {
		t.Errorf("post2 payload (-want +got):\n%s", diff)
	}
	if got := req.Header.Get("X-Source"); got != "10.0.0.1" {
		t.Errorf("X-Source = %q, want the templated 10.0.0.1", got)
	}
}

func TestAlertmanager(t *testing.T) {
	down := newRecorder(t, http.StatusServiceUnavailable)
	up := newRecorder(t)
	now := time.Date(2026, 12, 7, 10, 1, 0, 0, time.UTC)
	a := newOne(t, Options{
		"alert": "alertmanager", "alertmanager_hosts": []any{down.URL, up.URL + "/"},
		"alertmanager_labels":       map[string]any{"severity": "critical", "src": "{{ source.ip }}"},
		"alertmanager_annotations":  map[string]any{"runbook": "https://wiki/asm"},
		"alertmanager_fields":       map[string]any{"attack": "f5.asm.attack_type"},
		"alertmanager_resolve_time": map[string]any{"minutes": 10},
		"alert_subject":             "ASM {0}", "alert_subject_args": []any{"source.ip"},
		"alert_text": "rated {0}", "alert_text_args": []any{"f5.asm.violation_rating"}, "alert_text_type": "alert_text_only",
	}, Env{Now: func() time.Time { return now }})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() error: %v (one host up is success)", err)
	}
	if n := len(down.requests()); n != 1 {
		t.Errorf("the down host got %d requests, want 1", n)
	}
	req := up.only(t)
	if req.Path != "/api/v2/alerts" {
		t.Errorf("path %q, want /api/v2/alerts", req.Path)
	}
	want := []any{map[string]any{
		"labels": map[string]any{"alertname": "F5 ASM", "elastalert_rule": "F5 ASM", "severity": "critical",
			"src": "10.0.0.1", "attack": "SQL-Injection"},
		"annotations": map[string]any{"summary": "ASM 10.0.0.1", "description": "rated 4\n\n", "runbook": "https://wiki/asm"},
		"startsAt":    "2026-12-07T10:00:00Z",
		"endsAt":      "2026-12-07T10:11:00Z",
	}}
	if diff := cmp.Diff(want, jsonBody(t, req.Body)); diff != "" {
		t.Errorf("alertmanager payload (-want +got):\n%s", diff)
	}
}

func TestHTTPStatusClasses(t *testing.T) {
	for _, tc := range []struct {
		status    int
		permanent bool
	}{{400, true}, {404, true}, {408, false}, {429, false}, {500, false}, {503, false}} {
		srv := newRecorder(t, tc.status)
		a := newOne(t, Options{"alert": "post", "http_post_url": srv.URL}, Env{})
		err := a.Send(context.Background(), testAlert(t))
		if err == nil {
			t.Fatalf("status %d: Send() = nil, want an error", tc.status)
		}
		if IsPermanent(err) != tc.permanent {
			t.Errorf("status %d: permanent = %v, want %v (%v)", tc.status, IsPermanent(err), tc.permanent, err)
		}
	}
}

func TestPostTLSWithTestCA(t *testing.T) {
	ca := mailtest.NewCA(t)
	_, _, pair := ca.Issue(t, 2)
	srv := &recorder{}
	srv.Server = httptest.NewUnstartedServer(srv)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted client's handshake failure is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca.WriteCert(t, dir, "ca.pem")

	// Relative to the rule's folder.
	a := newOne(t, Options{"alert": "post", "http_post_url": srv.URL, "http_post_ca_certs": "ca.pem"}, Env{BaseDir: dir})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() with http_post_ca_certs error: %v", err)
	}
	// Without the CA the server is not trusted.
	a = newOne(t, Options{"alert": "post", "http_post_url": srv.URL}, Env{})
	if err := a.Send(context.Background(), testAlert(t)); err == nil {
		t.Fatal("Send() without the CA = nil error, want a certificate error")
	}
	a = newOne(t, Options{"alert": "post", "http_post_url": srv.URL, "http_post_ignore_ssl_errors": true}, Env{})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() with http_post_ignore_ssl_errors error: %v", err)
	}
	if n := len(srv.requests()); n != 2 {
		t.Errorf("server got %d requests, want 2", n)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"no alert", Options{}, []string{"alert: missing"}},
		{"unknown alerter", Options{"alert": []any{"jira", "debug"}}, []string{`alert: "jira" is not an alerter sluice has; use one of alertmanager, command, debug, email,`}},
		{"slack without url", Options{"alert": "slack"}, []string{"slack_webhook_url: missing; the slack alerter needs the incoming-webhook URL"}},
		{"bad url", Options{"alert": "post", "http_post_url": "ftp://x"}, []string{"http_post_url: \"ftp://x\" is not an http:// or https:// URL"}},
		{"command string", Options{"alert": "command", "command": "notify-send hi"}, []string{"use a list; sluice runs no shell"}},
		{"alertmanager v1", Options{"alert": "alertmanager", "alertmanager_hosts": []any{"http://am:9093"}, "alertmanager_api_version": "v1"}, []string{"alertmanager_api_version: \"v1\" is not supported"}},
		{"post2 filter", Options{"alert": "post2", "http_post2_url": "http://x", "http_post2_payload": map[string]any{"a": "{{ x | upper }}"}}, []string{"http_post2_payload:", "no filters"}},
		{"post2 control flow", Options{"alert": "post2", "http_post2_url": "http://x", "http_post2_headers": map[string]any{"a": "{% if x %}"}}, []string{"http_post2_headers:", "no control flow"}},
		{"email without recipients", Options{"alert": "email"}, []string{"email: missing"}},
		{"email bad address", Options{"alert": "email", "email": []any{"not an address"}}, []string{"email: \"not an address\" is not an e-mail address"}},
		{"email auth file missing", Options{"alert": "email", "email": "a@b.c", "smtp_auth_file": "/nonexistent/auth.yaml"}, []string{"smtp_auth_file:"}},
		{"override key unknown", Options{"alert": []any{map[string]any{"slack": map[string]any{"slack_webhook_url": "http://x", "slak_channel": "#a"}}}}, []string{"alert: slack: slak_channel is not an option sluice reads"}},
		{"several problems at once", Options{"alert": "slack", "slack_msg_color": "red"}, []string{"slack_webhook_url: missing", "slack_msg_color: \"red\""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts, Env{})
			if err == nil {
				t.Fatalf("New(%v) = nil error, want %q", tc.opts, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewListOfMapsOverrides(t *testing.T) {
	srv := newRecorder(t)
	as, err := New(Options{
		"alert_subject": "top", "slack_webhook_url": "http://127.0.0.1:1/unused",
		"alert": []any{
			map[string]any{"slack": map[string]any{"slack_webhook_url": srv.URL, "alert_subject": "inner"}},
			"debug",
		},
	}, Env{})
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	if len(as) != 2 || as[0].Kind() != "slack" || as[1].Kind() != "debug" {
		t.Fatalf("New() kinds = %v, want [slack debug]", as)
	}
	if err := as[0].Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() error: %v", err)
	}
	att := jsonBody(t, srv.only(t).Body).(map[string]any)["attachments"].([]any)[0].(map[string]any)
	if att["title"] != "inner" {
		t.Errorf("title = %v, want the per-alerter alert_subject 'inner'", att["title"])
	}
}

func TestKeysCoverEveryOption(t *testing.T) {
	keys := Keys()
	for _, want := range []string{"alert", "alert_subject", "email", "smtp_ca_file", "slack_webhook_url", "ms_teams_webhook_url",
		"http_post_url", "http_post2_headers", "alertmanager_hosts", "command", "pipe_match_json", "top_count_keys"} {
		found := false
		for _, k := range keys {
			found = found || k == want
		}
		if !found {
			t.Errorf("Keys() lacks %q", want)
		}
	}
}

func TestPermanentErrorAs(t *testing.T) {
	err := errors.Join(errors.New("x"), permanent(errors.New("y")))
	var pe *PermanentError
	if !errors.As(err, &pe) || pe.Error() != "y" {
		t.Errorf("errors.As(%v) did not find the PermanentError", err)
	}
}

// A retry posts only to the destinations that did not accept the alert yet.
func TestRetryPostsOnlyToFailedDestinations(t *testing.T) {
	flaky := newRecorder(t, 500, 200)
	steady := newRecorder(t)
	a := newOne(t, Options{"alert": "slack", "slack_webhook_url": []any{steady.URL, flaky.URL},
		"slack_channel_override": []any{"#a", "#b"}}, Env{})
	al := testAlert(t)
	if err := a.Send(context.Background(), al); err == nil || IsPermanent(err) {
		t.Fatalf("first Send() = %v, want a retryable error", err)
	}
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("second Send() error: %v", err)
	}
	if n := len(steady.requests()); n != 2 {
		t.Errorf("the steady webhook got %d posts, want 2 (one per channel, not repeated)", n)
	}
	// flaky: #a fails then succeeds, #b succeeds at once
	if n := len(flaky.requests()); n != 3 {
		t.Errorf("the flaky webhook got %d posts, want 3", n)
	}
	// A new alert goes everywhere again.
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(steady.requests()); n != 4 {
		t.Errorf("the steady webhook got %d posts after a new alert, want 4", n)
	}
	if n := len(a.(*slackAlerter).done); n != 0 {
		t.Errorf("%d alerts remembered after full delivery, want 0", n)
	}
}

func TestProgressIsBounded(t *testing.T) {
	var p progress
	for range progressMax + 100 {
		p.mark(&Alert{}, 0)
	}
	if len(p.done) != progressMax || len(p.order) != progressMax {
		t.Errorf("progress holds %d/%d alerts, want %d", len(p.done), len(p.order), progressMax)
	}
}
