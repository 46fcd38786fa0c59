package main_test

import (
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/output/alert/alerter/mailtest"
)

// asmEmailRule is the home-lab rule as an ElastAlert user has it:
// Logstash-era field names (violation_rating, ip_client), the e-mail
// alerter, a Japanese subject. SMTP is whatever the caller adds (the rule's
// own keys, or none: alerting.defaults).
const asmEmailRule = `name: F5 ASM attack
type: blacklist
index: sluice-syslog-*
compare_key: violation_rating
blacklist: [1, 2, 3, 4, 5]
query_key: ip_client
realert:
  minutes: 10
filter:
- query:
    query_string:
      query: 'event.dataset: "f5.asm"'
alert: email
email: ops@example.test
alert_subject: "F5 ASM: {0} からの攻撃を検知しました (評価 {1})"
alert_subject_args: [ip_client, violation_rating]
`

// TestAlertEmailF5 runs the home-lab blacklist rule through `sluice run`
// to a private Postfix over STARTTLS (the test CA in smtp_ca_file): F5 ASM
// lines over syslog UDP with logger(1), two matching events of one client
// (one e-mail: realert), one of another client (a second e-mail), a
// rating-0 event (none). The mails are read back from the Maildir, and the
// daily alerts file holds 2 sent and 1 silenced alert documents. In
// "rule" the SMTP keys are the rule's own; in "defaults" they come from
// the config file's alerting.defaults and the rule only names the
// alerter and the recipient.
func TestAlertEmailF5(t *testing.T) {
	ca := mailtest.NewCA(t)
	caFile := ca.WriteCert(t, t.TempDir(), "ca.pem")

	t.Run("rule", func(t *testing.T) {
		pf := mailtest.StartPostfix(t, ca, mailtest.Options{})
		rules := t.TempDir()
		writeRule(t, rules, "asm.yaml", asmEmailRule+fmt.Sprintf(`smtp_host: 127.0.0.1
smtp_port: %d
smtp_ca_file: %s
from_addr: sluice@example.test
`, pf.Port, caFile))
		ps := newPorts(t)
		s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"SLUICE_ALERTING_RULES_DIR=" + rules}})
		checkEmailAlerts(t, pf, s, "sluice@example.test")
	})

	t.Run("defaults", func(t *testing.T) {
		pf := mailtest.StartPostfix(t, ca, mailtest.Options{})
		rules := t.TempDir()
		writeRule(t, rules, "asm.yaml", asmEmailRule)
		// SLUICE_* env cannot set a map: the defaults come from a config
		// file. startSluice's env (ports, folders) wins over the file's.
		cfg := writeCheckConfig(t, fmt.Sprintf(`alerting:
  rules_dir: [%s]
  defaults:
    smtp_host: 127.0.0.1
    smtp_port: %d
    smtp_ca_file: %s
    from_addr: alerts@example.test
`, rules, pf.Port, caFile))
		ps := newPorts(t)
		s := startSluice(t, sluiceOpts{Ports: ps, Args: []string{"--config", cfg}})
		checkEmailAlerts(t, pf, s, "alerts@example.test")
	})
}

// checkEmailAlerts sends the F5 ASM lines to s and checks the mails pf
// receives (from from) and the alert documents s writes.
func checkEmailAlerts(t *testing.T, pf *mailtest.Postfix, s *sluiceProc, from string) {
	t.Helper()
	const rule = "F5 ASM attack"
	sendSyslog(t, s.opts.Ports.SyslogUDP, "ASM",
		f5Line("198.51.100.7", 4, "blocked"), // alert
		f5Line("198.51.100.7", 0, "passed"),  // rating 0: no match
		f5Line("198.51.100.7", 5, "blocked"), // same client within realert: silenced
		f5Line("198.51.100.8", 3, "blocked")) // another client: alert
	waitMetric(t, s, `sluice_alert_matches_total{rule="`+rule+`"}`, 3, 30*time.Second)
	// Every match is settled (sent, failed or silenced) before the stop,
	// so that the counts below are final.
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := s.metrics()
		settled := m[`sluice_alert_silenced_total{rule="`+rule+`"}`] +
			m[`sluice_alert_sent_total{alerter="email",rule="`+rule+`"}`] +
			m[`sluice_alert_failed_total{alerter="email",rule="`+rule+`"}`]
		if settled == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v of 3 matches settled after 60s\n%s", settled, metricLines(m, "sluice_alert"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	raws := pf.WaitMail(t, "ops", 2)
	// Stopping flushes the outputs: every alert document is in its daily
	// file once sluice has exited.
	s.stop()
	s.checkLog()
	if n := pf.MailCount("ops"); n != 2 {
		t.Errorf("%d mails delivered, want 2 (one per client; realert silences the third match)%s", n, pf.Log())
	}

	byClient := map[string]*mail.Message{}
	for _, raw := range raws {
		msg, body := mailtest.ReadMessage(t, raw)
		subject := mailtest.Subject(t, msg)
		var client string
		for _, c := range []string{"198.51.100.7", "198.51.100.8"} {
			if strings.Contains(subject, c) {
				client = c
			}
		}
		if client == "" || byClient[client] != nil {
			t.Errorf("Subject %q names no client, or one already mailed", subject)
			continue
		}
		byClient[client] = msg
		rating := map[string]string{"198.51.100.7": "4", "198.51.100.8": "3"}[client]
		if want := "F5 ASM: " + client + " からの攻撃を検知しました (評価 " + rating + ")"; subject != want {
			t.Errorf("Subject = %q, want %q", subject, want)
		}
		if raw := msg.Header.Get("Subject"); !strings.HasPrefix(raw, "=?UTF-8?") {
			t.Errorf("raw Subject %q is not an RFC 2047 encoded word", raw)
		}
		if got := msg.Header.Get("From"); got != "<"+from+">" {
			t.Errorf("From = %q, want <%s>", got, from)
		}
		if got := msg.Header.Get("To"); got != "<ops@example.test>" {
			t.Errorf("To = %q, want <ops@example.test>", got)
		}
		if recv := strings.Join(msg.Header["Received"], "\n"); !strings.Contains(recv, "using TLS") {
			t.Errorf("Received %q: want the message sent over STARTTLS", recv)
		}
		if !strings.Contains(body, client) || !strings.Contains(body, "violation_rating: "+rating+"\n") {
			t.Errorf("body lacks the client %s or violation_rating: %s:\n%s", client, rating, body)
		}
	}

	// The query_key value of each alert is its client's: sent for .7 and
	// .8, silenced for .7.
	var sent, silenced int
	keys := map[string]int{}
	ads := alertDocs(t, s.opts.OutDir)
	for _, d := range ads {
		key := d.str("sluice.alert.query_key_value")
		switch {
		case d.str("rule.name") != rule:
			t.Errorf("alert document of rule %q: %s", d.str("rule.name"), d.Raw)
		case d.str("sluice.alert.silenced") == "true":
			silenced++
			if key != "198.51.100.7" {
				t.Errorf("silenced alert of query_key_value %q, want 198.51.100.7: %s", key, d.Raw)
			}
		case d.str("sluice.alert.alert_sent") == "true":
			sent++
			keys[key]++
		default:
			t.Errorf("alert document neither sent nor silenced: %s", d.Raw)
		}
	}
	if keys["198.51.100.7"] != 1 || keys["198.51.100.8"] != 1 {
		t.Errorf("sent alerts by query_key_value %v, want one each for 198.51.100.7 and 198.51.100.8", keys)
	}
	if sent != 2 || silenced != 1 {
		t.Errorf("alert documents: %d sent, %d silenced; want 2 and 1", sent, silenced)
		for _, d := range ads {
			t.Logf("alert document: %s", d.Raw)
		}
	}
}
