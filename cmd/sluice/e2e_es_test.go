package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/internal/estest"
)

// esEnv points a sluice run at url with indices and templates of its own.
func esEnv(url, prefix string) []string {
	return []string{
		"SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES=" + url,
		"SLUICE_OUTPUT_INDEX_FLOWS=" + prefix + "-flows-%{+yyyy.MM.dd}",
		"SLUICE_OUTPUT_INDEX_SYSLOG=" + prefix + "-syslog-%{+yyyy.MM.dd}",
		"SLUICE_OUTPUT_ELASTICSEARCH_TEMPLATE_REFRESH_INTERVAL=1s",
		"SLUICE_OUTPUT_ELASTICSEARCH_RETRY_MAX_BACKOFF=1s",
	}
}

func esCleanup(t *testing.T, url, prefix string) {
	t.Cleanup(func() {
		estest.DeleteIndex(t, url, prefix+"-*")
		estest.Do(t, http.MethodDelete, url+"/_index_template/"+prefix+"-*", "")
		estest.Do(t, http.MethodDelete, url+"/_component_template/"+prefix+"-*", "")
	})
}

// esDocs returns every document of the indices matching pattern, by index.
func esDocs(t *testing.T, url, pattern string) map[string][]doc {
	t.Helper()
	estest.Refresh(t, url, pattern)
	status, body := estest.Do(t, http.MethodPost, url+"/"+pattern+"/_search?size=10000", `{"query":{"match_all":{}}}`)
	if status != 200 {
		t.Fatalf("search %s: %d %s", pattern, status, body)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				Index  string          `json:"_index"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	out := map[string][]doc{}
	for _, h := range r.Hits.Hits {
		dec := json.NewDecoder(bytes.NewReader(h.Source))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		// File as the default file output would name it, for checkFlowDocs.
		file := "sluice-flows-" + h.Index[strings.LastIndex(h.Index, "-")+1:] + ".ndjson"
		out[h.Index] = append(out[h.Index], doc{File: file, M: m, Raw: string(h.Source)})
	}
	return out
}

// TestSoftflowdToElasticsearch: softflowd's flows reach the real node
// through sluice, one document per flow in the daily index of its day,
// the same documents as the file output's, with the template's mapping.
func TestSoftflowdToElasticsearch(t *testing.T) {
	url := estest.URL(t)
	softflowd := requireTool(t, "softflowd", "softflowd")
	prefix := estest.IndexName(t, "sluicee2e")
	esCleanup(t, url, prefix)

	dir := t.TempDir()
	want := buildCapture(t, filepath.Join(dir, "v6.pcap"), true)
	want = append(want, buildCapture(t, filepath.Join(dir, "v4.pcap"), false)...)
	ps := newPorts(t)
	s := startSluice(t, sluiceOpts{Ports: ps, Env: append(esEnv(url, prefix), pcapTimesEnv)})
	records := 0
	for _, p := range []string{"v6.pcap", "v4.pcap"} {
		out := runCmd(t, dir, 20*time.Second, false, softflowd, "-r", p, "-v", "9", "-a", "-d",
			"-n", fmt.Sprintf("127.0.0.1:%d", ps.NetFlow), "-p", "sf.pid", "-c", "sf.ctl")
		m := exportedRecords.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("softflowd output has no %q line:\n%s", exportedRecords, out)
		}
		n, _ := strconv.Atoi(m[1])
		records += n
	}
	if records != len(want) {
		t.Errorf("softflowd exported %d records, the captures have %d flows", records, len(want))
	}
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	estest.WaitCount(t, url, prefix+"-flows-*", records, 30*time.Second)
	m := s.metrics()
	if v, _ := metricSum(m, `sluice_output_events_total{output="elasticsearch"}`); int(v) != records {
		t.Errorf("sluice_output_events_total{output=elasticsearch} = %v, want %d", v, records)
	}
	s.stop()

	fileDocs := readPrefixedDocs(t, s.opts.OutDir, prefix)
	byIndex := esDocs(t, url, prefix+"-flows-*")
	total := 0
	for index, docs := range byIndex {
		total += len(docs)
		if !regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `-flows-\d{4}\.\d{2}\.\d{2}$`).MatchString(index) {
			t.Errorf("unexpected index %s", index)
		}
		// The index is the day of @timestamp (UTC), as the file name is.
		for _, d := range docs {
			ts, err := d.time("@timestamp")
			if err != nil {
				t.Fatal(err)
			}
			if day := ts.UTC().Format("2006.01.02"); !strings.HasSuffix(index, day) {
				t.Errorf("document of %s in index %s", day, index)
			}
		}
	}
	if total != records {
		t.Errorf("Elasticsearch holds %d documents, softflowd sent %d flows", total, records)
	}
	var esAll []doc
	for _, docs := range byIndex {
		esAll = append(esAll, docs...)
	}
	if diff := cmp.Diff(rawSorted(fileDocs), rawSorted(esAll)); diff != "" {
		t.Errorf("Elasticsearch documents differ from the file output's (-file +es):\n%s", diff)
	}
	checkFlowDocs(t, esAll, want, "9")

	var index string
	for index = range byIndex {
		break
	}
	status, body := estest.Do(t, http.MethodGet, url+"/"+index+"/_mapping", "")
	if status != 200 {
		t.Fatalf("mapping: %d %s", status, body)
	}
	for field, typ := range map[string]string{
		"source.ip": "ip", "destination.ip": "ip", "observer.ip": "ip", "source.geo.location": "geo_point",
		"destination.geo.location": "geo_point", "network.bytes": "long", "source.port": "long",
		"network.packets": "long", "@timestamp": "date", "event.start": "date", "netflow.in_bytes": "long",
		"netflow.source_ipv6_address": "ip", "network.community_id": "keyword",
	} {
		if got := mappedType(t, body, index, field); got != typ {
			t.Errorf("%s is mapped as %q, want %q", field, got, typ)
		}
	}
}

// readPrefixedDocs reads the file output's documents written under the
// index pattern <prefix>-flows-%{+yyyy.MM.dd}.
func readPrefixedDocs(t *testing.T, dir, prefix string) []doc {
	t.Helper()
	docs := readGlobDocs(t, filepath.Join(dir, prefix+"-flows-*.ndjson"))
	if len(docs) == 0 {
		t.Fatalf("no documents in %s-flows-*.ndjson files in %s:\n%s", prefix, dir, dirListing(dir))
	}
	return docs
}

// rawSorted returns the documents' JSON with keys in a fixed order.
func rawSorted(docs []doc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		b, _ := json.Marshal(d.M)
		out[i] = string(b)
	}
	sort.Strings(out)
	return out
}

// mappedType finds a dotted field's type in a GET _mapping answer.
func mappedType(t *testing.T, body []byte, index, field string) string {
	t.Helper()
	var r map[string]struct {
		Mappings map[string]any `json:"mappings"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	node := r[index].Mappings
	parts := strings.Split(field, ".")
	for i, p := range parts {
		props, _ := node["properties"].(map[string]any)
		next, ok := props[p].(map[string]any)
		if !ok {
			return ""
		}
		if i == len(parts)-1 {
			typ, _ := next["type"].(string)
			return typ
		}
		node = next
	}
	return ""
}

// TestElasticsearchSpoolAcrossRestart: flows arrive while Elasticsearch is
// unreachable; sluice spools them and stops; started again with the
// cluster back, it replays the spool and nothing is lost or doubled.
func TestElasticsearchSpoolAcrossRestart(t *testing.T) {
	url := estest.URL(t)
	softflowd := requireTool(t, "softflowd", "softflowd")
	prefix := estest.IndexName(t, "sluicee2e")
	esCleanup(t, url, prefix)

	dir := t.TempDir()
	want := buildCapture(t, filepath.Join(dir, "v6.pcap"), true)
	data := t.TempDir()
	ps := newPorts(t)
	down := "http://127.0.0.1:" + strconv.Itoa(freeTCPPort(t))
	s := startSluice(t, sluiceOpts{Ports: ps, DataDir: data, Env: esEnv(down, prefix)})
	runCmd(t, dir, 20*time.Second, false, softflowd, "-r", "v6.pcap", "-v", "9", "-a", "-d",
		"-n", fmt.Sprintf("127.0.0.1:%d", ps.NetFlow), "-p", "sf.pid", "-c", "sf.ctl")
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := httpClient.Get(s.url("/readyz"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && bytes.Contains(body, []byte("output elasticsearch: spooling")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz while Elasticsearch is down: %d %q, want 200 and the spooling state", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	segs, _ := filepath.Glob(filepath.Join(data, "elasticsearch-spool", "*.bulk"))
	if len(segs) == 0 {
		t.Fatalf("no spool segments after a run with Elasticsearch down; data dir:\n%s", dirListing(data))
	}
	if log, _ := os.ReadFile(s.logPath); !bytes.Contains(log, []byte("documents left in the spool")) {
		t.Errorf("the log does not say documents were left in the spool")
	}

	s2 := startSluice(t, sluiceOpts{Ports: newPorts(t), DataDir: data, Env: esEnv(url, prefix)})
	estest.WaitCount(t, url, prefix+"-flows-*", len(want), time.Minute)
	m := s2.metrics()
	if v, _ := metricSum(m, "sluice_output_elasticsearch_replayed_documents_total"); int(v) != len(want) {
		t.Errorf("replayed = %v, want %d", v, len(want))
	}
	s2.stop()
	if left, _ := filepath.Glob(filepath.Join(data, "elasticsearch-spool", "*.bulk")); len(left) != 0 {
		t.Errorf("spool not empty after replay: %v", left)
	}
	if n := estest.Count(t, url, prefix+"-flows-*"); n != len(want) {
		t.Errorf("after replay Elasticsearch holds %d documents, want %d", n, len(want))
	}
}
