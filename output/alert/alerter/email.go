package alerter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.yaml.in/yaml/v3"
)

var emailKeys = []string{
	"email", "cc", "bcc", "from_addr", "email_reply_to", "email_add_domain", "smtp_host", "smtp_port",
	"smtp_ssl", "smtp_auth_file", "smtp_cert_file", "smtp_key_file", "smtp_ca_file", "email_format",
}

// emailAlerter sends one message per alert through an SMTP server with
// go-mail: implicit TLS (smtp_ssl), or STARTTLS whenever the server offers
// it, required when a password is to be sent.
type emailAlerter struct {
	r             *Renderer
	to, cc, bcc   []string
	from, replyTo string
	html          bool
	host          string
	port          int
	ssl           bool
	user, pass    string
	tlsConfig     *tls.Config
	queryKey      []string
}

func newEmail(o *opts, env Env) (Alerter, error) {
	e := &emailAlerter{}
	domain := o.str("email_add_domain", "")
	if domain != "" && !strings.HasPrefix(domain, "@") {
		domain = "@" + domain
	}
	addrs := func(key string) []string {
		list := o.strs(key)
		out := make([]string, 0, len(list))
		for _, a := range list {
			// ElastAlert accepts "a@x, b@y" in one string too.
			for _, one := range strings.Split(a, ",") {
				one = strings.TrimSpace(one)
				if one == "" {
					continue
				}
				if !strings.Contains(one, "@") && domain != "" {
					one += domain
				}
				if _, err := mail.ParseAddress(one); err != nil {
					o.fail("%s: %s is not an e-mail address (%v); fix it or set email_add_domain for bare names", key, short(one), err)
					continue
				}
				out = append(out, one)
			}
		}
		return out
	}
	e.to = addrs("email")
	if len(e.to) == 0 && !o.has("email") {
		o.fail("email: missing; the email alerter needs the recipients: email: [ops@example.com]")
	}
	e.cc = addrs("cc")
	e.bcc = addrs("bcc")
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	e.from = o.str("from_addr", "sluice@"+host)
	if _, err := mail.ParseAddress(e.from); err != nil {
		o.fail("from_addr: %s is not an e-mail address (%v); write from_addr: sluice@example.com", short(e.from), err)
	}
	e.replyTo = o.str("email_reply_to", "")
	if e.replyTo != "" {
		if _, err := mail.ParseAddress(e.replyTo); err != nil {
			o.fail("email_reply_to: %s is not an e-mail address (%v); fix it or remove it", short(e.replyTo), err)
		}
	}
	switch f := o.str("email_format", "text"); f {
	case "html":
		e.html = true
	case "text", "":
	default:
		o.fail("email_format: %q is not a format; use html or remove it for plain text", f)
	}
	e.host = o.str("smtp_host", "localhost")
	e.ssl = o.boolean("smtp_ssl", false)
	defPort := 25
	if e.ssl {
		defPort = 465
	}
	e.port = o.integer("smtp_port", defPort)
	if e.port < 1 || e.port > 65535 {
		o.fail("smtp_port: %d is not a port; use 1-65535 or remove it for %d", e.port, defPort)
	}
	if o.has("smtp_auth_file") {
		raw := o.readFile("smtp_auth_file", env)
		if raw != nil {
			var auth struct {
				User     any `yaml:"user"`
				Password any `yaml:"password"`
			}
			if err := yaml.Unmarshal(raw, &auth); err != nil {
				o.fail("smtp_auth_file: %s is not YAML (%v); write user: NAME and password: SECRET", o.path("smtp_auth_file", env), err)
			} else if auth.User == nil || auth.Password == nil {
				o.fail("smtp_auth_file: %s needs both user: and password:", o.path("smtp_auth_file", env))
			} else {
				e.user, e.pass = pyStr(auth.User), pyStr(auth.Password)
			}
		}
	}
	tc := &tls.Config{ServerName: e.host, MinVersion: tls.VersionTLS12}
	if pem := o.readFile("smtp_ca_file", env); pem != nil {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			o.fail("smtp_ca_file: %s holds no PEM certificate; point it at a PEM file of CA certificates", o.path("smtp_ca_file", env))
		}
		tc.RootCAs = pool
	}
	if o.has("smtp_cert_file") || o.has("smtp_key_file") {
		certFile, keyFile := o.path("smtp_cert_file", env), o.path("smtp_key_file", env)
		if keyFile == "" {
			keyFile = certFile // ElastAlert allows the key in the certificate's file
		}
		if certFile == "" {
			o.fail("smtp_key_file: set without smtp_cert_file; add the client certificate or remove the key")
		} else if cert, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			o.fail("smtp_cert_file: %v; point smtp_cert_file and smtp_key_file at a PEM certificate and its key", err)
		} else {
			tc.Certificates = []tls.Certificate{cert}
		}
	}
	e.tlsConfig = tc
	e.queryKey = o.strs("query_key")
	r, err := NewRenderer(o.m)
	if err != nil {
		o.errs = append(o.errs, err)
	}
	e.r = r
	if err := o.err(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *emailAlerter) Kind() string { return "email" }

// subject is alert_subject, or ElastAlert's e-mail default: the rule name and
// the query_key value.
func (e *emailAlerter) subject(a *Alert) string {
	if e.r.HasSubject() {
		return e.r.Subject(a)
	}
	s := "sluice: " + a.Rule
	if a.QueryKey != "" {
		s += " - " + a.QueryKey
	}
	return s
}

func (e *emailAlerter) message(a *Alert) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	if err := m.From(e.from); err != nil {
		return nil, err
	}
	if err := m.To(e.to...); err != nil {
		return nil, err
	}
	if len(e.cc) > 0 {
		if err := m.Cc(e.cc...); err != nil {
			return nil, err
		}
	}
	if len(e.bcc) > 0 {
		if err := m.Bcc(e.bcc...); err != nil {
			return nil, err
		}
	}
	if e.replyTo != "" {
		if err := m.ReplyTo(e.replyTo); err != nil {
			return nil, err
		}
	}
	m.Subject(e.subject(a))
	m.SetDate()
	m.SetMessageID()
	if e.html {
		m.SetBodyString(gomail.TypeTextHTML, e.r.BodyHTML(a))
	} else {
		m.SetBodyString(gomail.TypeTextPlain, e.r.Body(a))
	}
	return m, nil
}

func (e *emailAlerter) Send(ctx context.Context, a *Alert) error {
	msg, err := e.message(a)
	if err != nil {
		return permanent(fmt.Errorf("email: %w", err))
	}
	timeout := 30 * time.Second
	if deadline, ok := ctx.Deadline(); ok {
		if d := time.Until(deadline); d > 0 && d < timeout {
			timeout = d
		}
	}
	options := []gomail.Option{
		gomail.WithPort(e.port), gomail.WithTLSConfig(e.tlsConfig.Clone()), gomail.WithTimeout(timeout),
	}
	switch {
	case e.ssl:
		options = append(options, gomail.WithSSL())
	case e.user != "":
		options = append(options, gomail.WithTLSPolicy(gomail.TLSMandatory)) // never a password in clear
	default:
		options = append(options, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if e.user != "" {
		options = append(options, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(e.user), gomail.WithPassword(e.pass))
	}
	c, err := gomail.NewClient(e.host, options...)
	if err != nil {
		return permanent(fmt.Errorf("email: smtp client: %w", err))
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return permanent(fmt.Errorf("email via %s:%d: %w", e.host, e.port, err))
		}
		return fmt.Errorf("email via %s:%d: %w", e.host, e.port, err)
	}
	return nil
}
