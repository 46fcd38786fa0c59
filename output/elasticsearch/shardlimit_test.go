package elasticsearch

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/estest"
)

// TestShardLimitIsRetried runs a private node whose shard limit is used
// up, so the daily index cannot be created (item-level
// validation_exception "... maximum normal shards open"): the documents
// are retried and wait in the spool, none is dead-lettered, and they are
// delivered once the limit is raised.
func TestShardLimitIsRetried(t *testing.T) {
	node := estest.Start(t, estest.Options{})
	url := node.URL()
	if st, body := estest.Do(t, http.MethodPut, url+"/sluice-blocker",
		`{"settings":{"number_of_shards":1,"number_of_replicas":0}}`); st != 200 {
		t.Fatalf("create blocker index: %d %s", st, body)
	}
	st, body := estest.Do(t, http.MethodGet, url+"/_cluster/health?wait_for_status=green&timeout=30s", "")
	var h struct {
		ActiveShards int `json:"active_shards"`
	}
	if st != 200 || json.Unmarshal(body, &h) != nil || h.ActiveShards < 1 {
		t.Fatalf("cluster health: %d %s", st, body)
	}
	setLimit := func(n int) {
		t.Helper()
		if st, body := estest.Do(t, http.MethodPut, url+"/_cluster/settings",
			fmt.Sprintf(`{"persistent":{"cluster.max_shards_per_node":%d}}`, n)); st != 200 {
			t.Fatalf("cluster.max_shards_per_node=%d: %d %s", n, st, body)
		}
	}
	setLimit(h.ActiveShards)

	f := newFixture(t, url)
	f.cfg.SpoolAfter = time.Second
	f.cfg.MaxBackoff = 300 * time.Millisecond
	o := f.open(t)
	const n = 1500
	write(t, o, flowBatch(0, n, day))
	o.commit(t.Context(), true)
	deadline := time.Now().Add(time.Minute)
	for testutil.ToFloat64(o.m.retries.WithLabelValues("shard_limit")) < 2*n || testutil.ToFloat64(o.m.spooled) < n {
		if time.Now().After(deadline) {
			t.Fatalf("shard_limit retries %v, spooled %v; Status %q", testutil.ToFloat64(o.m.retries.WithLabelValues("shard_limit")),
				testutil.ToFloat64(o.m.spooled), o.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := testutil.ToFloat64(o.m.deadLetter); got != 0 {
		t.Errorf("%v documents dead-lettered while the shard limit was reached, want 0", got)
	}
	if _, err := os.Stat(f.cfg.DeadLetterPath); !os.IsNotExist(err) {
		t.Errorf("dead-letter file exists (%v)", err)
	}
	if p := o.Pending(); p != n {
		t.Errorf("Pending() = %d while the index cannot be created, want %d", p, n)
	}
	t.Logf("Status while blocked: %s", o.Status())
	setLimit(1000)
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)
	seqCheck(t, url, f.index(day), n)
}
