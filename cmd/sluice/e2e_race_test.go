//go:build race

package main_test

// Under `go test -race` the binary under test is built with the race
// detector too; a report in its log fails the test that ran it.
func init() { buildFlags = append(buildFlags, "-race") }
