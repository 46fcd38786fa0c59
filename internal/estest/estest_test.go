package estest

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestSharedNode uses the node that scripts/test starts.
func TestSharedNode(t *testing.T) {
	u := URL(t)
	if h := Health(t, u); h != "green" && h != "yellow" {
		t.Fatalf("Health(%s) = %q, want green or yellow", u, h)
	}
	index := IndexName(t, "estest")
	t.Cleanup(func() { DeleteIndex(t, u, index) })
	createIndex(t, u, index)

	bulk := fmt.Sprintf("{\"index\":{\"_index\":%q}}\n{\"message\":\"one\"}\n{\"index\":{\"_index\":%q}}\n{\"message\":\"two\"}\n", index, index)
	if status, body := Do(t, http.MethodPost, u+"/_bulk", bulk); status != http.StatusOK || strings.Contains(string(body), `"errors":true`) {
		t.Fatalf("POST /_bulk: status %d: %s", status, body)
	}
	if got := Count(t, u, index); got != 2 {
		t.Errorf("Count(%s) = %d, want 2", index, got)
	}
	WaitCount(t, u, index, 2, 0)
	WaitCount(t, u, index+"-never-created", 0, 0)

	if msg := fatalOf(t, func(tb testing.TB) { Count(tb, u, index+"-missing") }); !strings.Contains(msg, "404") {
		t.Errorf("Count of a missing index: fatal %q, want one naming status 404", msg)
	}

	DeleteIndex(t, u, index+"*")
	if status, body := Do(t, http.MethodGet, u+"/"+index, ""); status != http.StatusNotFound {
		t.Errorf("GET %s after DeleteIndex: status %d, want 404: %s", index, status, body)
	}
	DeleteIndex(t, u, index) // nothing left: not an error
}

// TestNodeLifecycle starts a private node and checks that a document
// survives a graceful restart and a SIGKILL.
func TestNodeLifecycle(t *testing.T) {
	n := Start(t, Options{Settings: map[string]string{"node.name": "estest-lifecycle"}})
	u := n.URL()
	if status, body := Do(t, http.MethodGet, u+"/_cat/nodes?h=name", ""); status != http.StatusOK || strings.TrimSpace(string(body)) != "estest-lifecycle" {
		t.Errorf("GET /_cat/nodes?h=name: status %d, body %q; want 200 and the node.name from Options.Settings", status, body)
	}
	if h := Health(t, u); h != "green" {
		t.Errorf("Health after Start = %q, want green", h)
	}

	const index = "estest-lifecycle"
	createIndex(t, u, index)
	if status, body := Do(t, http.MethodPut, u+"/"+index+"/_doc/1", `{"message":"kept"}`); status != http.StatusCreated {
		t.Fatalf("PUT %s/_doc/1: status %d: %s", index, status, body)
	}

	n.Restart(t)
	if n.URL() != u {
		t.Errorf("URL after Restart = %s, want %s", n.URL(), u)
	}
	if got := Count(t, u, index); got != 1 {
		t.Errorf("Count after Restart = %d, want 1", got)
	}

	n.Kill(t)
	if portOpen(n.httpPort) {
		t.Errorf("port %d still open after Kill", n.httpPort)
	}
	n.Restart(t)
	if got := Count(t, u, index); got != 1 {
		t.Errorf("Count after Kill and Restart = %d, want 1", got)
	}

	pgid := n.cmd.Process.Pid
	n.Stop(t)
	if groupAlive(pgid) {
		t.Errorf("process group %d still runs after Stop", pgid)
	}
	if portOpen(n.httpPort) {
		t.Errorf("port %d still open after Stop", n.httpPort)
	}
	n.Stop(t) // stopping a stopped node does nothing
}

// TestUnavailable checks that a missing node skips locally and fails in CI.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name, ci string
		wantFail bool
	}{
		{"local", "", false},
		{"ci", "true", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("SLUICE_TEST_ES_URL", "")
			t.Setenv("SLUICE_TEST_ES_HOME", "")
			for name, f := range map[string]func(testing.TB){
				"URL":   func(tb testing.TB) { URL(tb) },
				"Start": func(tb testing.TB) { Start(tb, Options{}) },
			} {
				r := run(t, f)
				if r.failed != tc.wantFail || r.skipped == tc.wantFail {
					t.Errorf("%s with CI=%q: failed=%v skipped=%v (%q), want failed=%v", name, tc.ci, r.failed, r.skipped, r.msg, tc.wantFail)
				}
				if !strings.Contains(r.msg, "SLUICE_TEST_ES_") {
					t.Errorf("%s with CI=%q: message %q does not name the variable to set", name, tc.ci, r.msg)
				}
			}
		})
	}
}

func createIndex(t *testing.T, u, index string) {
	t.Helper()
	// A single node cannot place replicas; with none the index is green.
	if status, body := Do(t, http.MethodPut, u+"/"+index, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`); status != http.StatusOK {
		t.Fatalf("PUT %s: status %d: %s", index, status, body)
	}
}

// recorder stands in for a test to observe Fatalf and Skipf, which end the
// goroutine that calls them.
type recorder struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func run(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func fatalOf(t *testing.T, f func(testing.TB)) string {
	r := run(t, f)
	if !r.failed {
		t.Errorf("want a fatal failure, got none")
	}
	return r.msg
}

// TestSecureClients checks the clients of a node started with a CA and a
// user, against a TLS server that stands in for the node and echoes the
// Authorization header it got.
func TestSecureClients(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.Header.Get("Authorization")))
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	n := &Node{httpPort: port, url: "http://127.0.0.1:" + u.Port(), tlsClient: client, client: client}
	if err := n.secure(Options{CACertPEM: caPEM, Username: "writer", Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	if n.URL() != srv.URL {
		t.Fatalf("URL() = %s, want %s", n.URL(), srv.URL)
	}
	if msg := fatalOf(t, func(tb testing.TB) { Do(tb, http.MethodGet, n.URL()+"/", "") }); !strings.Contains(msg, "certificate") {
		t.Errorf("Do before the node's client is registered: fatal %q, want a certificate error", msg)
	}
	registerClient(n.url, n.client)
	t.Cleanup(func() { unregisterClient(n.url) })

	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("writer:secret"))
	for _, tc := range []struct {
		name string
		do   func() (int, []byte)
		want string
	}{
		{"Do", func() (int, []byte) { return Do(t, http.MethodGet, n.URL()+"/", "") }, basic},
		{"DoAs ApiKey", func() (int, []byte) { return n.DoAs(t, "ApiKey abc", http.MethodGet, n.URL()+"/", "") }, "ApiKey abc"},
		{"DoAs none", func() (int, []byte) { return n.DoAs(t, "", http.MethodGet, n.URL()+"/", "") }, ""},
		{"Client", func() (int, []byte) {
			resp, err := n.Client().Get(n.URL() + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}, basic},
	} {
		if status, body := tc.do(); status != http.StatusOK || string(body) != tc.want {
			t.Errorf("%s: status %d, Authorization %q; want 200 and %q", tc.name, status, body, tc.want)
		}
	}
	if err := n.secure(Options{CACertPEM: []byte("not PEM")}); err == nil {
		t.Error("secure with a CACertPEM that holds no certificate: no error")
	}
}

// TestConfigFiles checks that Options.ConfigFiles land in the node's config
// directory, private to the node, and that paths out of it are refused.
func TestConfigFiles(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"jvm.options": "-Xlog:gc*:file=logs/gc.log\n", "users": "shipped:x\n"} {
		if err := os.WriteFile(filepath.Join(home, "config", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{"certs/node.pem": []byte("PEM"), "users": []byte("writer:hash\n")}
	n := &Node{home: home, base: t.TempDir()}
	if err := n.prepareDirs(files); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		path := filepath.Join(n.base, "config", name)
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("config/%s = %q, %v; want %q", name, got, err, want)
		}
		if fi, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("config/%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}

	for _, bad := range []string{"../escape", "/etc/escape"} {
		n := &Node{home: home, base: t.TempDir()}
		if err := n.prepareDirs(map[string][]byte{bad: nil}); err == nil || !strings.Contains(err.Error(), "Options.ConfigFiles") {
			t.Errorf("prepareDirs with %q: %v, want an error naming Options.ConfigFiles", bad, err)
		}
	}
}
