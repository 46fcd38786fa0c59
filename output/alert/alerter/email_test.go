package alerter

import (
	"bytes"
	"context"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/output/alert/alerter/mailtest"
)

func TestEmailThroughPostfixWithSTARTTLS(t *testing.T) {
	ca := mailtest.NewCA(t)
	pf := mailtest.StartPostfix(t, ca, mailtest.Options{})
	dir := t.TempDir()
	ca.WriteCert(t, dir, "ca.pem")
	opts := Options{
		"alert": "email", "email": []any{"ops"}, "email_add_domain": "example.test",
		"cc": "cc@example.test", "bcc": []any{"bcc@example.test"},
		"from_addr": "sluice@example.test", "email_reply_to": "noc@example.test",
		"smtp_host": "127.0.0.1", "smtp_port": pf.Port, "smtp_ca_file": "ca.pem",
		"alert_subject":      "攻撃を検知しました: {0} (評価 {1})",
		"alert_subject_args": []any{"source.ip", "f5.asm.violation_rating"},
		"alert_text":         "F5 ASM がブロックしました。\n送信元: {0}",
		"alert_text_args":    []any{"source.ip"},
	}
	a := newOne(t, opts, Env{BaseDir: dir})
	al := testAlert(t)
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send() error: %v%s", err, pf.Log())
	}
	raw := pf.WaitMail(t, "ops", 1)[0]
	msg, body := mailtest.ReadMessage(t, raw)
	h := msg.Header
	for name, want := range map[string]string{
		"From": "<sluice@example.test>", "To": "<ops@example.test>", "Cc": "<cc@example.test>",
		"Reply-To": "<noc@example.test>", "Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if got := h.Get("Bcc"); got != "" {
		t.Errorf("Bcc header %q is visible to the recipients", got)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("Content-Type = %q, want text/plain; charset=UTF-8", h.Get("Content-Type"))
	}
	rawSubject := h.Get("Subject")
	if !strings.HasPrefix(rawSubject, "=?UTF-8?") {
		t.Errorf("raw Subject %q is not an RFC 2047 encoded word", rawSubject)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(rawSubject)
	if err != nil || subject != "攻撃を検知しました: 10.0.0.1 (評価 4)" {
		t.Errorf("Subject = %q (%v), want the Japanese subject", subject, err)
	}
	r, _ := NewRenderer(opts)
	if diff := cmp.Diff(r.Body(al), body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if !strings.Contains(body, "F5 ASM がブロックしました。\n送信元: 10.0.0.1\n\n") {
		t.Errorf("body %q lacks the Japanese alert_text", body)
	}
	// postfix notes the TLS session in its Received header.
	if recv := strings.Join(h["Received"], "\n"); !strings.Contains(recv, "using TLS") || strings.Contains(recv, "Client CN") {
		t.Errorf("Received %q: want STARTTLS and no client certificate", recv)
	}
	// Cc and Bcc recipients get it too.
	pf.WaitMail(t, "cc", 1)
	pf.WaitMail(t, "bcc", 1)

	// Implicit TLS (smtp_ssl) on postfix's smtps port, and a client
	// certificate (smtp_cert_file/smtp_key_file) that postfix verifies
	// against the test CA.
	certPEM, keyPEM, _ := ca.Issue(t, 20)
	writeFile(t, dir, "client.pem", certPEM)
	writeFile(t, dir, "client.key", keyPEM)
	for _, o := range []Options{
		{"alert": "email", "email": "ops@example.test", "smtp_host": "127.0.0.1", "smtp_ca_file": "ca.pem",
			"smtp_ssl": true, "smtp_port": pf.SMTPSPort, "alert_subject": "smtps"},
		{"alert": "email", "email": "ops@example.test", "smtp_host": "127.0.0.1", "smtp_ca_file": "ca.pem",
			"smtp_port": pf.Port, "alert_subject": "client cert", "smtp_cert_file": "client.pem", "smtp_key_file": "client.key"},
	} {
		if err := newOne(t, o, Env{BaseDir: dir}).Send(context.Background(), al); err != nil {
			t.Fatalf("Send() %v error: %v%s", o["alert_subject"], err, pf.Log())
		}
	}
	received := map[string]string{}
	for _, raw := range pf.WaitMail(t, "ops", 3) {
		msg, _ := mailtest.ReadMessage(t, raw)
		received[msg.Header.Get("Subject")] = strings.Join(msg.Header["Received"], "\n")
	}
	if r := received["smtps"]; !strings.Contains(r, "using TLS") {
		t.Errorf("smtps message Received %q, want TLS", r)
	}
	if r := received["client cert"]; !strings.Contains(r, `Client CN "localhost"`) || !strings.Contains(r, "verified OK") {
		t.Errorf("client cert message Received %q, want the verified client certificate", r)
	}
}

func TestEmailThroughPostfixErrors(t *testing.T) {
	ca := mailtest.NewCA(t)
	pf := mailtest.StartPostfix(t, ca, mailtest.Options{})
	dir := t.TempDir()
	ca.WriteCert(t, dir, "ca.pem")
	base := Options{"alert": "email", "email": "ops@example.test", "smtp_host": "127.0.0.1", "smtp_port": pf.Port}

	// Without smtp_ca_file the server's certificate is not trusted: no
	// fallback to clear text.
	if err := newOne(t, base, Env{}).Send(context.Background(), testAlert(t)); err == nil {
		t.Error("Send() to a server with an unknown CA = nil error, want a certificate error")
	}
	// A recipient the server refuses is permanent.
	o := Options{"smtp_ca_file": "ca.pem", "email": "nobody@example.test"}
	for k, v := range base {
		if k != "email" {
			o[k] = v
		}
	}
	err := newOne(t, o, Env{BaseDir: dir}).Send(context.Background(), testAlert(t))
	if err == nil || !IsPermanent(err) {
		t.Errorf("Send() to an unknown recipient = %v, want a permanent error", err)
	}
	// A port where nothing listens is worth retrying.
	o["email"], o["smtp_port"] = "ops@example.test", mailtest.FreePort(t)
	if err := newOne(t, o, Env{BaseDir: dir}).Send(context.Background(), testAlert(t)); err == nil || IsPermanent(err) {
		t.Errorf("Send() to a closed port = %v, want a retryable error", err)
	}
	if n := pf.MailCount("ops"); n != 0 {
		t.Errorf("ops got %d messages, want none", n)
	}
}

func TestEmailThroughPostfixWithAuthAndHTML(t *testing.T) {
	ca := mailtest.NewCA(t)
	pf := mailtest.StartPostfix(t, ca, mailtest.Options{SASL: map[string]string{"alice": "s3cret pass"}})
	dir := t.TempDir()
	ca.WriteCert(t, dir, "ca.pem")
	writeFile(t, dir, "auth.yaml", []byte("user: alice@example.test\npassword: s3cret pass\n"))
	writeFile(t, dir, "wrong.yaml", []byte("user: alice@example.test\npassword: nope\n"))
	opts := Options{
		"alert": "email", "email": "ops@example.test", "smtp_host": "127.0.0.1", "smtp_port": pf.Port,
		"smtp_ca_file": "ca.pem", "smtp_auth_file": "auth.yaml", "email_format": "html",
		"alert_text": "<h1>{0}</h1>", "alert_text_args": []any{"f5.asm.attack_type"},
	}
	al := testAlert(t)
	al.Matches[0]["message"] = "<script>alert(1)</script>"
	if err := newOne(t, opts, Env{BaseDir: dir}).Send(context.Background(), al); err != nil {
		t.Fatalf("Send() with smtp_auth_file error: %v%s", err, pf.Log())
	}
	msg, body := mailtest.ReadMessage(t, pf.WaitMail(t, "ops", 1)[0])
	if mt, _, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); mt != "text/html" {
		t.Errorf("Content-Type = %q, want text/html", msg.Header.Get("Content-Type"))
	}
	if !strings.Contains(body, "<h1>SQL-Injection</h1>") || !strings.Contains(body, "message: &lt;script&gt;") {
		t.Errorf("HTML body %q: want the alert_text markup and the document's values escaped", body)
	}
	if recv := strings.Join(msg.Header["Received"], "\n"); !strings.Contains(recv, "using TLS") || !strings.Contains(recv, "SMTPSA") {
		t.Errorf("Received %q: want the password sent over TLS (SMTPSA: authenticated, TLS)", recv)
	} else {
		t.Logf("Received: %s", recv)
	}

	// Unauthenticated and wrongly authenticated clients are refused.
	delete(opts, "smtp_auth_file")
	if err := newOne(t, opts, Env{BaseDir: dir}).Send(context.Background(), al); err == nil || !strings.Contains(err.Error(), "554") {
		t.Errorf("Send() without auth = %v, want the server's refusal (554)", err)
	} else {
		t.Logf("without auth: %v", err)
	}
	opts["smtp_auth_file"] = "wrong.yaml"
	if err := newOne(t, opts, Env{BaseDir: dir}).Send(context.Background(), al); err == nil || !strings.Contains(err.Error(), "535") {
		t.Errorf("Send() with a wrong password = %v, want an authentication error (535)", err)
	} else {
		t.Logf("wrong password: %v", err)
	}
	if n := pf.MailCount("ops"); n != 1 {
		t.Errorf("ops holds %d messages, want only the authenticated one", n)
	}
}

func TestEmailDefaults(t *testing.T) {
	a := newOne(t, Options{"alert": "email", "email": "a@example.test, b@example.test", "smtp_ssl": true}, Env{}).(*emailAlerter)
	if a.port != 465 || a.host != "localhost" || len(a.to) != 2 || !strings.HasPrefix(a.from, "sluice@") {
		t.Errorf("defaults: port %d host %q to %v from %q; want 465 localhost [a b] sluice@<hostname>", a.port, a.host, a.to, a.from)
	}
	if got := a.subject(&Alert{Rule: "r", QueryKey: "10.0.0.1"}); got != "sluice: r - 10.0.0.1" {
		t.Errorf("default subject = %q, want ElastAlert's form", got)
	}
	if p := newOne(t, Options{"alert": "email", "email": "a@example.test"}, Env{}).(*emailAlerter).port; p != 25 {
		t.Errorf("default port = %d, want 25", p)
	}
}

func TestEmailHeaderInjection(t *testing.T) {
	a := newOne(t, Options{"alert": "email", "email": "ops@example.test", "alert_subject": "x {0}", "alert_subject_args": []any{"evil"}}, Env{}).(*emailAlerter)
	msg, err := a.message(&Alert{Rule: "r", Matches: []Match{{"evil": "a\r\nBcc: victim@example.test\r\nX-Evil: 1"}}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	parsed, err := mail.ReadMessage(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header.Get("X-Evil") != "" || parsed.Header.Get("Bcc") != "" {
		t.Errorf("a document value injected headers: %v", parsed.Header)
	}
}

// writeFile writes a file a rule names (relative to Env.BaseDir).
func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}
