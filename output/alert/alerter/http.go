package alerter

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// httpClient builds the client of one HTTP alerter: its timeout, the CAs of
// <prefix>_ca_certs besides the system's, and <prefix>_ignore_ssl_errors.
func httpClient(o *opts, env Env, prefix string, defTimeout time.Duration) *http.Client {
	timeout := o.duration(prefix+"_timeout", defTimeout)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	// ElastAlert's *_ca_certs is a path, or true to verify with the
	// system's CAs (what sluice always does).
	if v, ok := o.m[prefix+"_ca_certs"].(bool); !ok || !v {
		if pem := o.readFile(prefix+"_ca_certs", env); pem != nil {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				o.fail("%s_ca_certs: %s holds no PEM certificate; point it at a PEM file of CA certificates", prefix, o.path(prefix+"_ca_certs", env))
			}
			tc.RootCAs = pool
		}
	}
	if o.boolean(prefix+"_ignore_ssl_errors", false) {
		tc.InsecureSkipVerify = true
	}
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: timeout}
}

// urls reads a URL or a list of URLs, which must be http(s) with a host.
func urls(o *opts, key, what string) []string {
	us := o.strs(key)
	if len(us) == 0 && len(o.errs) == 0 {
		o.fail("%s: missing; the %s", key, what)
		return nil
	}
	for _, u := range us {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			o.fail("%s: %s is not an http:// or https:// URL; write the full URL", key, short(u))
		}
	}
	return us
}

// postJSON posts body to u and classifies the outcome: 2xx is success,
// 408, 429 and 5xx are errors worth retrying, any other status is permanent.
func postJSON(ctx context.Context, c *http.Client, u string, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("post %s: %w", redact(u), err))
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold a secret (webhook token)
		}
		return fmt.Errorf("post %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("post %s: %s: %q", redact(u), resp.Status, snippet)
	if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return permanent(err)
}

// redact keeps a URL's scheme, host and the start of its path for messages:
// webhook URLs carry their secret in the path or query.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(bad URL)"
	}
	path := p.Path
	if len(path) > 12 {
		path = path[:12] + "..."
	}
	return p.Scheme + "://" + p.Host + path
}
