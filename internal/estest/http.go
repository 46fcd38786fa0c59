package estest

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var client = &http.Client{Timeout: time.Minute}

// nodeClients holds the clients of running nodes started with TLS or
// credentials, by base URL, so that Do reaches them.
var nodeClients sync.Map // string -> *http.Client

func registerClient(baseURL string, c *http.Client) { nodeClients.Store(baseURL, c) }
func unregisterClient(baseURL string)               { nodeClients.Delete(baseURL) }

// clientFor returns the client for rawURL: its node's when Start registered
// one for the URL's scheme and host, else the package's.
func clientFor(rawURL string) *http.Client {
	if u, err := url.Parse(rawURL); err == nil {
		if c, ok := nodeClients.Load(u.Scheme + "://" + u.Host); ok {
			return c.(*http.Client)
		}
	}
	return client
}

// Do sends one request with body (none when empty) as JSON, or as NDJSON to
// a _bulk URL, and returns the status and the response body. Only transport
// errors fail the test; the caller checks the status. Requests to a node
// that Start gave Options.CACertPEM or Options.Username use its Client.
func Do(t testing.TB, method, url, body string) (status int, respBody []byte) {
	t.Helper()
	return do(t, clientFor(url), "Do", "", method, url, body)
}

func do(t testing.TB, c *http.Client, fn, authorization, method, url, body string) (status int, respBody []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("estest.%s(%s %s): %v", fn, method, url, err)
	}
	if body != "" {
		ct := "application/json"
		if strings.Contains(req.URL.Path, "_bulk") {
			ct = "application/x-ndjson"
		}
		req.Header.Set("Content-Type", ct)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("estest.%s(%s %s): %v", fn, method, url, err)
	}
	defer resp.Body.Close()
	respBody, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("estest.%s(%s %s): reading the response: %v", fn, method, url, err)
	}
	return resp.StatusCode, respBody
}

// Refresh makes everything indexed into index (a name or pattern) visible
// to searches. A missing index fails the test.
func Refresh(t testing.TB, url, index string) {
	t.Helper()
	status, body := Do(t, http.MethodPost, url+"/"+index+"/_refresh", "")
	if status != http.StatusOK {
		t.Fatalf("estest.Refresh(%s): status %d: %s", index, status, body)
	}
}

// Count refreshes index (a name or pattern) and returns its number of
// documents. A missing index fails the test (a pattern matching no index
// counts 0); use WaitCount to wait for an index that is still to come.
func Count(t testing.TB, url, index string) int {
	t.Helper()
	Refresh(t, url, index)
	n, status, body := count(t, url, index, "")
	if status != http.StatusOK {
		t.Fatalf("estest.Count(%s): status %d: %s", index, status, body)
	}
	return n
}

// WaitCount polls index until it holds want documents, treating a missing
// index as empty, and fails the test with the last count after timeout.
func WaitCount(t testing.TB, url, index string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		Do(t, http.MethodPost, url+"/"+index+"/_refresh?ignore_unavailable=true", "")
		got, status, body := count(t, url, index, "?ignore_unavailable=true")
		// 503: a new index whose shard is not started yet; keep waiting.
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Fatalf("estest.WaitCount(%s): status %d: %s", index, status, body)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("estest.WaitCount(%s): %d documents after %s, want %d", index, got, timeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func count(t testing.TB, url, index, query string) (n, status int, body []byte) {
	t.Helper()
	status, body = Do(t, http.MethodGet, url+"/"+index+"/_count"+query, "")
	if status != http.StatusOK {
		return 0, status, body
	}
	var r struct {
		Count *int `json:"count"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Count == nil {
		t.Fatalf("estest: _count of %s: unexpected answer %s (%v)", index, body, err)
	}
	return *r.Count, status, body
}

// DeleteIndex deletes the indices matching pattern (a name, a wildcard
// pattern, or several separated by commas). Nothing to delete is fine.
func DeleteIndex(t testing.TB, url, pattern string) {
	t.Helper()
	status, body := Do(t, http.MethodDelete, url+"/"+pattern+"?ignore_unavailable=true&expand_wildcards=all", "")
	if status != http.StatusOK {
		t.Fatalf("estest.DeleteIndex(%s): status %d: %s", pattern, status, body)
	}
}

// Health returns the cluster's health status: green, yellow or red.
func Health(t testing.TB, url string) string {
	t.Helper()
	status, body := Do(t, http.MethodGet, url+"/_cluster/health", "")
	var r struct {
		Status string `json:"status"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &r) != nil || r.Status == "" {
		t.Fatalf("estest.Health: status %d: %s", status, body)
	}
	return r.Status
}

// IndexName returns an index name that no other test uses: prefix, the
// test's name in lower case, and a random suffix. Tests on the shared node
// run in parallel with other packages' tests, so each keeps to its own
// indices (and deletes only those).
func IndexName(t testing.TB, prefix string) string {
	t.Helper()
	var sb strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('-')
		}
	}
	name := sb.String()
	if len(name) > 100 {
		name = name[:100]
	}
	return prefix + "-" + name + "-" + strings.ToLower(rand.Text()[:8])
}
