// Package chaos is sluice's chaos suite: it runs the real binary against
// real Elasticsearch nodes, breaks things (SIGKILL, SIGTERM, Elasticsearch
// down, a node lost, 429 storms, a damaged spool, a full disk, floods of
// templates, connections and datagrams, clocks far off) and accounts
// exactly for what it sent. Every NetFlow flow carries a unique sequence
// number in its IN_BYTES field and every syslog line carries "seq=N", so the
// checker counts distinct sequence numbers and duplicates in the daily
// NDJSON files and in Elasticsearch and prints one figures line per
// scenario:
//
//	chaos: scenario=kill9-es-up rounds=5 sent=50000 accepted=... files=49830 es=49830 lost=0 dup_files=0 dup_es=0 dropped_counted=170 rss_max_mb=61 duration=24s
//
// The short form runs with the rest of the tests (./scripts/test, a few
// seconds to half a minute per scenario). The long form multiplies rounds
// and durations (100 kills, 1,000 spool corruptions, ...):
//
//	CHAOS_LONG=1 go test -run Chaos -timeout 3h ./internal/chaos -v
//
// CHAOS_PPS sets the NetFlow load rate in datagrams per second (30 flows
// each; default 50).
//
// Both need a real Elasticsearch: SLUICE_TEST_ES_URL (the shared node that
// ./scripts/test starts) and SLUICE_TEST_ES_HOME (the distribution private
// nodes are started from); without them the suite is skipped with the
// reason printed, and fails under CI=true. Some scenarios need root (a
// tmpfs for disk-full) and say so when they skip.
//
// The non-test files hold the traffic generators and the sequence-number
// extractor; they use the standard library only.
package chaos
