package estest

import (
	"crypto/rand"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartCluster starts a private cluster of n nodes (all master-eligible,
// all data nodes) from SLUICE_TEST_ES_HOME on free 127.0.0.1 ports, each
// with its own data directory and opt (HeapMB 0 means 256 here), and waits
// until all n have joined and health is green. Each node can be stopped,
// killed and restarted on its own; Start's cleanup applies to every node.
func StartCluster(t testing.TB, n int, opt Options) []*Node {
	t.Helper()
	if n < 1 {
		t.Fatalf("estest.StartCluster: %d nodes", n)
	}
	if opt.HeapMB == 0 {
		opt.HeapMB = 256
	}
	ports := make([]int, n)
	seeds := make([]string, n)
	names := make([]string, n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			t.Fatalf("estest.StartCluster: %v", err)
		}
		ports[i] = p
		seeds[i] = "127.0.0.1:" + strconv.Itoa(p)
		names[i] = "node-" + strconv.Itoa(i)
	}
	cluster := "sluice-test-" + strings.ToLower(rand.Text()[:8])
	nodes := make([]*Node, n)
	for i := range nodes {
		o := opt
		o.Settings = map[string]string{
			"discovery.type":               "multi-node",
			"cluster.name":                 cluster,
			"node.name":                    names[i],
			"discovery.seed_hosts":         strings.Join(seeds, ","),
			"cluster.initial_master_nodes": strings.Join(names, ","),
		}
		maps.Copy(o.Settings, opt.Settings)
		nodes[i] = newNode(t, o, ports[i])
	}
	// All at once: none of them elects a master alone.
	started := make([]time.Time, n)
	for i, node := range nodes {
		started[i] = node.launch(t)
	}
	for i, node := range nodes {
		node.waitGreen(t, started[i])
	}
	deadline := time.Now().Add(greenTimeout)
	for {
		status, body := Do(t, http.MethodGet, nodes[0].URL()+"/_cluster/health?wait_for_nodes="+strconv.Itoa(n)+"&wait_for_status=green&timeout=1s", "")
		if status == http.StatusOK {
			return nodes
		}
		if time.Now().After(deadline) {
			t.Fatalf("estest.StartCluster: %d nodes not joined and green within %s: status %d: %s", n, greenTimeout, status, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
