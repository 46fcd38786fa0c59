package obs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// startServer runs a Server on 127.0.0.1 with sec and an /api/v1/ handler
// that answers "api".
func startServer(t *testing.T, sec Security) *Server {
	t.Helper()
	s, err := NewServer("127.0.0.1:0", prometheus.NewRegistry(), func() error { return nil }, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Secure(sec); err != nil {
		t.Fatalf("Secure(%+v): %v", sec, err)
	}
	s.Handle("/api/v1/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "api")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

type reply struct {
	status int
	body   string
	h      http.Header
}

func do(t *testing.T, c *http.Client, method, url string, set func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header}
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
}

func TestSecurityHeadersWithoutAuth(t *testing.T) {
	s := startServer(t, Security{})
	base := "http://" + s.Addr()
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/api/v1/meta", "/nope"} {
		r := do(t, http.DefaultClient, http.MethodGet, base+path, nil)
		want := 200
		if path == "/nope" {
			want = 404
		}
		if r.status != want {
			t.Errorf("GET %s = %d, want %d", path, r.status, want)
		}
		checkSecurityHeaders(t, "GET "+path, r.h)
	}
}

func TestBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Security{BasicUser: "admin", BasicPasswordHash: string(hash)})
	base := "http://" + s.Addr()
	for _, tc := range []struct {
		name, user, pass string
		set              bool
		want             int
	}{
		{"right", "admin", "s3cret pass", true, 200},
		{"right again (cached)", "admin", "s3cret pass", true, 200},
		{"wrong password", "admin", "s3cret", true, 401},
		{"wrong user", "root", "s3cret pass", true, 401},
		{"missing", "", "", false, 401},
	} {
		for _, path := range []string{"/metrics", "/readyz", "/api/v1/meta", "/nope"} {
			r := do(t, http.DefaultClient, http.MethodGet, base+path, func(r *http.Request) {
				if tc.set {
					r.SetBasicAuth(tc.user, tc.pass)
				}
			})
			want := tc.want
			if want == 200 && path == "/nope" {
				want = 404
			}
			if r.status != want {
				t.Errorf("%s: GET %s = %d %s, want %d", tc.name, path, r.status, r.body, want)
			}
			if want == 401 && !strings.HasPrefix(r.h.Get("WWW-Authenticate"), `Basic realm="sluice"`) {
				t.Errorf("%s: GET %s 401 with WWW-Authenticate %q", tc.name, path, r.h.Get("WWW-Authenticate"))
			}
			checkSecurityHeaders(t, tc.name+" GET "+path, r.h)
		}
	}
	// /healthz stays open for probes.
	if r := do(t, http.DefaultClient, http.MethodGet, base+"/healthz", nil); r.status != 200 {
		t.Errorf("GET /healthz without credentials = %d, want 200", r.status)
	}
	// A bearer token is no use when only basic is configured.
	if r := do(t, http.DefaultClient, http.MethodGet, base+"/metrics", func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer s3cret pass")
	}); r.status != 401 {
		t.Errorf("bearer against basic-only = %d, want 401", r.status)
	}
}

func TestBearerAuth(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Security{BearerTokenFile: path})
	base := "http://" + s.Addr()
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"right", "Bearer " + token, 200},
		{"wrong", "Bearer " + token[:31] + "0", 401},
		{"prefix", "Bearer " + token[:16], 401},
		{"basic", "Basic YWRtaW46cGFzcw==", 401},
		{"missing", "", 401},
	} {
		r := do(t, http.DefaultClient, http.MethodGet, base+"/api/v1/meta", func(r *http.Request) {
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
		})
		if r.status != tc.want {
			t.Errorf("%s: GET /api/v1/meta = %d, want %d", tc.name, r.status, tc.want)
		}
		if tc.want == 401 && r.h.Get("WWW-Authenticate") != `Bearer realm="sluice"` {
			t.Errorf("%s: WWW-Authenticate %q", tc.name, r.h.Get("WWW-Authenticate"))
		}
	}
}

func TestSecureRefusesBadSettings(t *testing.T) {
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sec  Security
		want string
	}{
		{"missing token file", Security{BearerTokenFile: "/nonexistent/token"}, "http.auth.bearer_token_file: open /nonexistent/token"},
		{"short token", Security{BearerTokenFile: short}, "holds 3 characters; a token needs at least 16"},
		{"not bcrypt", Security{BasicUser: "a", BasicPasswordHash: "plain"}, "http.auth.basic_password_hash: not a bcrypt hash"},
		{"half tls", Security{CertFile: "x.pem"}, "http.tls.cert_file and http.tls.key_file: set both"},
		{"missing cert", Security{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}, "http.tls: loading /nonexistent/c.pem"},
	} {
		s, err := NewServer("127.0.0.1:0", prometheus.NewRegistry(), func() error { return nil }, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Secure(tc.sec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Secure() = %v, want an error containing %q", tc.name, err, tc.want)
		}
		s.ln.Close()
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 named cn and
// its key, and returns their paths and the certificate.
func writeCert(t *testing.T, dir, cn string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := writeCert(t, dir, "first")
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	s := startServer(t, Security{CertFile: certFile, KeyFile: keyFile, BasicUser: "u", BasicPasswordHash: string(hash)})
	if !s.TLS() {
		t.Fatal("TLS() = false with a certificate")
	}
	client := func(c *x509.Certificate) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(c)
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	}
	base := "https://" + s.Addr()
	r := do(t, client(cert), http.MethodGet, base+"/api/v1/meta", func(r *http.Request) { r.SetBasicAuth("u", "pw") })
	if r.status != 200 || r.body != "api" {
		t.Fatalf("GET over TLS = %d %q", r.status, r.body)
	}
	checkSecurityHeaders(t, "TLS", r.h)
	if r := do(t, client(cert), http.MethodGet, base+"/api/v1/meta", nil); r.status != 401 {
		t.Errorf("TLS without credentials = %d, want 401", r.status)
	}
	// Plain HTTP on the TLS port does not get the API.
	if r := do(t, http.DefaultClient, http.MethodGet, "http://"+s.Addr()+"/api/v1/meta", nil); r.status != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS listener = %d, want 400", r.status)
	}
	// A new certificate is served after ReloadTLS.
	_, _, cert2 := writeCert(t, dir, "second")
	if err := s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	c2 := client(cert2)
	c2.Transport.(*http.Transport).DisableKeepAlives = true
	if r := do(t, c2, http.MethodGet, base+"/healthz", nil); r.status != 200 {
		t.Errorf("GET after reload = %d", r.status)
	}
	// A broken file keeps the previous certificate.
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadTLS(); err == nil {
		t.Error("ReloadTLS of a broken certificate = nil error")
	}
	if r := do(t, c2, http.MethodGet, base+"/healthz", nil); r.status != 200 {
		t.Errorf("GET after a failed reload = %d", r.status)
	}
}
