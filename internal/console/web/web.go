// Package web serves the console's pages: one page (index.html) and its
// assets (ES modules, CSS, the bundled uPlot), embedded in the binary so
// the console works on a network without internet. The pages are clients
// of the JSON API under /api/v1 (package console); they hold no data of
// their own.
//
// The index is served at / with Cache-Control: no-store. Assets are served
// under /assets/<hash>/, where <hash> is a digest of every embedded file:
// a new build changes the path, so assets can be cached for a year
// (immutable); each also carries an ETag of its own content.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// AssetsPrefix is where the assets are served, followed by the build hash.
const AssetsPrefix = "/assets/"

type asset struct {
	body  []byte
	etag  string
	ctype string
}

// Handler serves the index at / and the assets under /assets/. Mount it
// at "/" (it answers 404 for any other path). It is safe for concurrent
// use.
type Handler struct {
	hash   string
	index  []byte
	assets map[string]asset
}

// New reads the embedded files.
func New() (*Handler, error) {
	h := &Handler{assets: map[string]asset{}}
	var names []string
	all := sha256.New()
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console pages: %w", err)
	}
	sort.Strings(names)
	var index []byte
	for _, p := range names {
		b, err := static.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("console pages: %w", err)
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(b)
		all.Write([]byte(name))
		all.Write(sum[:])
		if name == "index.html" {
			index = b
			continue
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		switch path.Ext(name) {
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".png":
			ctype = "image/png"
		case "", ".LICENSE", ".txt":
			ctype = "text/plain; charset=utf-8"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		h.assets[name] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
	}
	if index == nil {
		return nil, fmt.Errorf("console pages: no index.html embedded")
	}
	h.hash = hex.EncodeToString(all.Sum(nil)[:8])
	h.index = bytes.ReplaceAll(index, []byte("{{ASSETS}}"), []byte(strings.TrimPrefix(AssetsPrefix, "/")+h.hash))
	return h, nil
}

// Hash is the build hash in the assets' paths.
func (h *Handler) Hash() string { return h.hash }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed; the console is read-only", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "/" || p == "/index.html" {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index))
		return
	}
	rest, ok := strings.CutPrefix(p, AssetsPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	hash, name, ok := strings.Cut(rest, "/")
	a, found := h.assets[name]
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	if hash == h.hash {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// A page of an earlier build: serve what this build has, but do
		// not let it be cached under the old path.
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", a.etag)
	w.Header().Set("Content-Type", a.ctype)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
