package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestHandler: the index is not cached and names its assets under the
// build hash; those are cached for a year with an ETag that answers 304;
// an asset under another hash is served but not cached; unknown paths and
// methods other than GET and HEAD are refused.
func TestHandler(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, h, http.MethodGet, "/", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %v", resp.StatusCode, resp.Header)
	}
	if strings.Contains(string(body), "{{ASSETS}}") {
		t.Fatal("index still holds the {{ASSETS}} placeholder")
	}
	refs := regexp.MustCompile(`(?:src|href)="(assets/[^"]+)"`).FindAllStringSubmatch(string(body), -1)
	if len(refs) < 4 {
		t.Fatalf("index names %d assets, want the CSS, uPlot and app.js: %s", len(refs), body)
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], "assets/"+h.Hash()+"/") {
			t.Errorf("asset %s is not under the build hash %s", m[1], h.Hash())
		}
		resp := get(t, h, http.MethodGet, "/"+m[1], nil)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET /%s = %d %v", m[1], resp.StatusCode, resp.Header)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") && !strings.Contains(ct, "css") {
			t.Errorf("GET /%s: Content-Type %q", m[1], ct)
		}
		if r2 := get(t, h, http.MethodGet, "/"+m[1], map[string]string{"If-None-Match": resp.Header.Get("ETag")}); r2.StatusCode != http.StatusNotModified {
			t.Errorf("GET /%s with its ETag = %d, want 304", m[1], r2.StatusCode)
		}
	}
	// Modules import each other relatively: they must be served too.
	for _, name := range []string{"lib.js", "views.js", "thirdparty/uPlot.LICENSE"} {
		if resp := get(t, h, http.MethodGet, "/assets/"+h.Hash()+"/"+name, nil); resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", name, resp.StatusCode)
		}
	}
	if resp := get(t, h, http.MethodGet, "/assets/0000000000000000/app.js", nil); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET app.js of another build = %d %v, want 200 no-cache", resp.StatusCode, resp.Header)
	}
	for _, p := range []string{"/nope", "/assets/" + h.Hash() + "/nope.js", "/assets/app.js", "/assets/" + h.Hash() + "/../web.go"} {
		if resp := get(t, h, http.MethodGet, p, nil); resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
	if resp := get(t, h, http.MethodPost, "/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", resp.StatusCode)
	}
	if resp := get(t, h, http.MethodHead, "/", nil); resp.StatusCode != 200 {
		t.Errorf("HEAD / = %d", resp.StatusCode)
	}
}

// TestNoMarkupSinks: the page code never parses strings as markup or code
// (the CSP would stop eval, but innerHTML would not be stopped).
func TestNoMarkupSinks(t *testing.T) {
	for _, name := range []string{"static/app.js", "static/views.js", "static/lib.js", "static/index.html"} {
		b, err := static.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", "style=\""} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}
