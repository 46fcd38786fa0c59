// Package estest gives tests a real Elasticsearch node. It is imported only
// from _test.go files.
//
// scripts/test starts one shared node and exports its URL as
// SLUICE_TEST_ES_URL. Tests that need a node of their own (to stop and
// restart it, or with special settings) start one with Start, from the
// distribution in SLUICE_TEST_ES_HOME.
package estest

import (
	"os"
	"testing"
)

// URL returns the shared test node's URL (SLUICE_TEST_ES_URL). Without it the
// test is skipped with a printed reason, except under CI=true, where a
// missing node is a failure: the Elasticsearch tests must run in CI.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SLUICE_TEST_ES_URL")
	if u == "" {
		Unavailable(t, "SLUICE_TEST_ES_URL is not set; run ./scripts/test, which starts a real Elasticsearch node")
	}
	return u
}

// Unavailable skips the test with reason, or fails it under CI=true.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("Elasticsearch test cannot run in CI: %s", reason)
	}
	t.Skipf("skipping Elasticsearch test: %s", reason)
}
