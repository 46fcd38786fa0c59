package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestHTTPListenNeedsAuth: a listener beyond loopback is refused without
// credentials and accepted with either kind of them or the opt-out.
func TestHTTPListenNeedsAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		set     func(h *HTTPConfig)
		refused bool
	}{
		{"loopback v4", func(h *HTTPConfig) { h.Listen = "127.0.0.1:9155" }, false},
		{"loopback v6", func(h *HTTPConfig) { h.Listen = "[::1]:9155" }, false},
		{"localhost", func(h *HTTPConfig) { h.Listen = "localhost:9155" }, false},
		{"any v4", func(h *HTTPConfig) { h.Listen = "0.0.0.0:9155" }, true},
		{"any v6", func(h *HTTPConfig) { h.Listen = "[::]:9155" }, true},
		{"no host", func(h *HTTPConfig) { h.Listen = ":9155" }, true},
		{"lan", func(h *HTTPConfig) { h.Listen = "192.0.2.1:9155" }, true},
		{"opt-out", func(h *HTTPConfig) { h.Listen, h.AllowUnauthenticated = "0.0.0.0:9155", true }, false},
		{"basic", func(h *HTTPConfig) {
			h.Listen, h.Auth.BasicUser, h.Auth.BasicPasswordHash = "0.0.0.0:9155", "admin", string(hash)
		}, false},
		{"bearer", func(h *HTTPConfig) { h.Listen, h.Auth.BearerTokenFile = "0.0.0.0:9155", tok }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load("", nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.set(&c.HTTP)
			err = c.Validate()
			refused := err != nil && strings.Contains(err.Error(), "http.allow_unauthenticated: true")
			if refused != tc.refused {
				t.Errorf("Validate() with http %+v = %v, want refused %v", c.HTTP, err, tc.refused)
			}
			if !tc.refused && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}
