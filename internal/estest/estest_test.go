package estest

import (
	"fmt"
	"net/http"
	"runtime"
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
