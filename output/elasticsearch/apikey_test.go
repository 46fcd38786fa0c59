package elasticsearch

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAPIKeyHeader checks what sluice sends with output.elasticsearch.api_key.
// An in-process server stands in for Elasticsearch here, and only here: the
// test distribution cannot create API keys (it lacks the analysis-common
// module the security index needs; see TestSecurity/APIKey), so no real node
// can check one.
func TestAPIKeyHeader(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			http.Error(w, `{"error":{"type":"unexpected","reason":"`+r.URL.Path+`"}}`, 400)
			return
		}
		_ = body
		io.WriteString(w, `{"errors":false}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	c := Default()
	c.Addresses = []string{srv.URL}
	c.APIKey = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
	c.InstallTemplates = false
	c.Compress = false
	c.SpoolDir = filepath.Join(dir, "spool")
	c.DeadLetterPath = filepath.Join(dir, "dl.ndjson")
	o, err := New(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, o, flowBatch(0, 10, day))
	waitDelivered(t, o, 10*time.Second)
	closeDelivered(t, o)
	mu.Lock()
	defer mu.Unlock()
	if len(auth) == 0 {
		t.Fatal("no request reached the server")
	}
	for _, a := range auth {
		// The scheme is case-insensitive for Elasticsearch (the client
		// writes "APIKey").
		scheme, key, _ := strings.Cut(a, " ")
		if !strings.EqualFold(scheme, "ApiKey") || key != c.APIKey {
			t.Errorf("Authorization = %q, want ApiKey <key>", a)
		}
	}
}
