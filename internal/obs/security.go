package obs

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Security configures who may use the HTTP listener and how
// (http.auth.*, http.tls.*).
type Security struct {
	// BasicUser and BasicPasswordHash (a bcrypt hash) enable HTTP basic
	// authentication.
	BasicUser         string
	BasicPasswordHash string
	// BearerTokenFile holds a token (read once, at start; surrounding
	// white space ignored) that "Authorization: Bearer <token>" must carry.
	BearerTokenFile string
	// CertFile and KeyFile (PEM) serve HTTPS instead of HTTP.
	CertFile, KeyFile string
}

// AuthEnabled reports whether any credential is configured.
func (s Security) AuthEnabled() bool {
	return s.BasicUser != "" || s.BearerTokenFile != ""
}

// ContentSecurityPolicy is sent with every response: the console's pages
// load only their own scripts, styles and images, and nothing may frame
// them.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// guard checks the credentials of requests.
type guard struct {
	user  string
	hash  []byte
	token []byte // sha256 of the bearer token; nil: none

	// ok remembers the sha256 of the last password that passed bcrypt,
	// so that a client sending the same credentials with every request
	// costs one hash, not one bcrypt (tens of milliseconds), each time.
	mu sync.Mutex
	ok []byte

	// bcrypts bounds the bcrypt comparisons running at once, so that a
	// client guessing passwords can take at most that many cores.
	bcrypts chan struct{}
}

// newGuard reads the token file and checks the hash. It returns nil when
// no credential is configured.
func newGuard(s Security) (*guard, error) {
	if !s.AuthEnabled() {
		return nil, nil
	}
	g := &guard{bcrypts: make(chan struct{}, 2)}
	var errs []error
	if s.BasicUser != "" || s.BasicPasswordHash != "" {
		if s.BasicUser == "" || s.BasicPasswordHash == "" {
			errs = append(errs, errors.New("http.auth.basic_user and http.auth.basic_password_hash: set both or neither"))
		} else if _, err := bcrypt.Cost([]byte(s.BasicPasswordHash)); err != nil {
			errs = append(errs, fmt.Errorf("http.auth.basic_password_hash: not a bcrypt hash (%v); make one with `htpasswd -nbBC 10 '' PASSWORD | tr -d ':\\n'`", err))
		}
		g.user, g.hash = s.BasicUser, []byte(s.BasicPasswordHash)
	}
	if s.BearerTokenFile != "" {
		tok, err := ReadToken(s.BearerTokenFile)
		if err != nil {
			errs = append(errs, err)
		} else {
			sum := sha256.Sum256([]byte(tok))
			g.token = sum[:]
		}
	}
	return g, errors.Join(errs...)
}

// ReadToken reads a bearer token file: its content without surrounding
// white space, at least 16 characters.
func ReadToken(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("http.auth.bearer_token_file: %w; create it with e.g. `openssl rand -hex 32 > %s`", err, path)
	}
	tok := strings.TrimSpace(string(raw))
	if len(tok) < 16 {
		return "", fmt.Errorf("http.auth.bearer_token_file: %s holds %d characters; a token needs at least 16, e.g. `openssl rand -hex 32 > %s`", path, len(tok), path)
	}
	return tok, nil
}

// allowed reports whether r carries valid credentials.
func (g *guard) allowed(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && g.token != nil {
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		return subtle.ConstantTimeCompare(sum[:], g.token) == 1
	}
	user, pass, ok := r.BasicAuth()
	if !ok || g.hash == nil {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(g.user)) == 1
	sum := sha256.Sum256([]byte(user + "\x00" + pass))
	g.mu.Lock()
	cached := g.ok != nil && subtle.ConstantTimeCompare(sum[:], g.ok) == 1
	g.mu.Unlock()
	if cached {
		return true
	}
	select {
	case g.bcrypts <- struct{}{}:
	case <-r.Context().Done():
		return false
	}
	passOK := bcrypt.CompareHashAndPassword(g.hash, []byte(pass)) == nil
	<-g.bcrypts
	if userOK && passOK {
		g.mu.Lock()
		g.ok = sum[:]
		g.mu.Unlock()
		return true
	}
	return false
}

// challenge is the WWW-Authenticate of a 401.
func (g *guard) challenge() string {
	if g.hash != nil {
		return `Basic realm="sluice", charset="UTF-8"`
	}
	return `Bearer realm="sluice"`
}

// secure wraps next with the security headers and, with g, authentication
// of every path but /healthz (which load balancers and service managers
// probe without credentials).
func secure(next http.Handler, g *guard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if g != nil && r.URL.Path != "/healthz" && !g.allowed(r) {
			w.Header().Set("WWW-Authenticate", g.challenge())
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "authentication required (http.auth)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loadTLS returns the TLS configuration of certFile and keyFile, or nil
// when neither is set. The certificate is read again by Reload.
func loadTLS(certFile, keyFile string) (*tlsFiles, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("http.tls.cert_file and http.tls.key_file: set both (HTTPS) or neither (HTTP)")
	}
	t := &tlsFiles{cert: certFile, key: keyFile}
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// tlsFiles holds the listener's certificate, replaced by reload.
type tlsFiles struct {
	cert, key string
	mu        sync.RWMutex
	c         *tls.Certificate
}

func (t *tlsFiles) reload() error {
	c, err := tls.LoadX509KeyPair(t.cert, t.key)
	if err != nil {
		return fmt.Errorf("http.tls: loading %s and %s: %w; give a PEM certificate and its key", t.cert, t.key, err)
	}
	t.mu.Lock()
	t.c = &c
	t.mu.Unlock()
	return nil
}

func (t *tlsFiles) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			t.mu.RLock()
			defer t.mu.RUnlock()
			return t.c, nil
		},
	}
}
