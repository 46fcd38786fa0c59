package alerter

import (
	"context"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// An ElastAlert rule file decoded as the rule loader does (yaml.v3 into a
// map) builds its alerters unchanged.
func TestNewFromElastAlertRuleFile(t *testing.T) {
	srv := newRecorder(t)
	rule := `
name: F5 ASM blocked
type: blacklist
index: sluice-syslog-*
compare_key: f5.asm.violation_rating
blacklist: ["1", "2", "3", "4", "5"]
alert:
  - "email"
  - "slack"
  - post2:
      http_post2_url: "` + srv.URL + `/asm"
      http_post2_payload:
        text: "{{ rule_name }} {{ source.ip }}"
  - alertmanager:
      alertmanager_hosts: ["` + srv.URL + `"]
      alertmanager_resolve_time:
        minutes: 5
  - command:
      command: ["/bin/true", "%(source.ip)s"]
      pipe_match_json: true
  - debug
email:
  - "secops@example.com"
smtp_host: "mail.example.com"
smtp_port: 587
from_addr: "elastalert@example.com"
slack_webhook_url: "` + srv.URL + `/slack"
slack_timeout: 2.5
alert_subject: "ASM: {0} blocked from {1}"
alert_subject_args:
  - f5.asm.attack_type
  - source.ip
alert_text: "評価 {0}"
alert_text_args: [f5.asm.violation_rating]
alert_text_type: alert_text_only
`
	var o Options
	if err := yaml.Unmarshal([]byte(rule), &o); err != nil {
		t.Fatal(err)
	}
	as, err := New(o, Env{})
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	var kinds []string
	for _, a := range as {
		kinds = append(kinds, a.Kind())
	}
	want := []string{"email", "slack", "post2", "alertmanager", "command", "debug"}
	if len(kinds) != len(want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("kinds = %v, want %v", kinds, want)
		}
	}
	if c := as[1].(*slackAlerter).client.Timeout; c != 2500*time.Millisecond {
		t.Errorf("slack_timeout 2.5 = %s, want 2.5s", c)
	}
	if e := as[0].(*emailAlerter); e.port != 587 || e.host != "mail.example.com" {
		t.Errorf("email server %s:%d, want mail.example.com:587", e.host, e.port)
	}
	for _, a := range as[1:] {
		if err := a.Send(context.Background(), testAlert(t)); err != nil {
			t.Errorf("%s Send() error: %v", a.Kind(), err)
		}
	}
	if n := len(srv.requests()); n != 3 {
		t.Errorf("server got %d requests, want slack, post2 and alertmanager", n)
	}
}
