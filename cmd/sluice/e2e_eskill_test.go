package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/estest"
)

// TestElasticsearchSurvivesKill: sluice with the Elasticsearch and file
// outputs takes n sequence-numbered syslog lines, is killed with SIGKILL
// once both outputs accepted all of them (the file output has n and the
// pipeline counted n handed to elasticsearch), and is started again on the
// same data dir: the index then holds each line exactly once. The first run
// seals segments at 1000 documents and never by time, so the kill finds
// delivered, sealed and open segments.
func TestElasticsearchSurvivesKill(t *testing.T) {
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluicekill")
	esCleanup(t, url, prefix)
	const n = 5500
	data, out := t.TempDir(), t.TempDir()
	ps := newPorts(t)
	env := append(esEnv(url, prefix),
		"SLUICE_OUTPUT_ELASTICSEARCH_BULK_MAX_DOCS=1000",
		"SLUICE_OUTPUT_ELASTICSEARCH_BULK_FLUSH_INTERVAL=1h")
	s := startSluice(t, sluiceOpts{Ports: ps, DataDir: data, OutDir: out, Env: env})

	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ps.SyslogTCP))
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for i := range n {
		buf = fmt.Appendf(buf, "<13>Dec  7 06:00:00 killhost app[1]: kill9 seq=%06d\n", i)
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	c.Close()

	deadline := time.Now().Add(time.Minute)
	for {
		files := completeLines(t, filepath.Join(out, "*.ndjson"))
		m := s.metrics()
		toES := 0.0
		for k, v := range m {
			if strings.HasPrefix(k, "sluice_pipeline_events_out_total{") && strings.Contains(k, `"elasticsearch"`) {
				toES += v
			}
		}
		if files == n && int(toES) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepted: %d lines in the file output, %v handed to elasticsearch; want %d", files, toES, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	spool := filepath.Join(data, "elasticsearch-spool")
	t.Logf("spool after SIGKILL: %s; index holds %d", dirListing(spool), estest.Count(t, url, prefix+"-syslog-*"))
	if open, _ := filepath.Glob(filepath.Join(spool, "*.open")); len(open) == 0 {
		t.Errorf("no open segment in the spool after SIGKILL; the test did not catch documents that were only accepted")
	}

	s2 := startSluice(t, sluiceOpts{Ports: newPorts(t), DataDir: data, OutDir: t.TempDir(), Env: esEnv(url, prefix)})
	estest.WaitCount(t, url, prefix+"-syslog-*", n, time.Minute)
	s2.stop()
	estest.Refresh(t, url, prefix+"-syslog-*")
	status, body := estest.Do(t, http.MethodPost, url+"/"+prefix+"-syslog-*/_search",
		fmt.Sprintf(`{"size":%d,"_source":["message"],"query":{"match_all":{}}}`, n+100))
	if status != 200 {
		t.Fatalf("search: %d %s", status, body)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				Source struct {
					Message string `json:"message"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]int)
	re := regexp.MustCompile(`seq=(\d{6})`)
	for _, h := range r.Hits.Hits {
		if m := re.FindStringSubmatch(h.Source.Message); m != nil {
			seen[m[1]]++
		}
	}
	var missing, dup int
	for i := range n {
		switch seen[fmt.Sprintf("%06d", i)] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if len(r.Hits.Hits) != n || missing != 0 || dup != 0 {
		t.Errorf("index holds %d documents: %d sequence numbers missing, %d duplicated; want %d, each once", len(r.Hits.Hits), missing, dup, n)
	}
	if left, _ := filepath.Glob(filepath.Join(spool, "*")); len(left) != 0 {
		t.Errorf("spool not empty after the restart delivered everything: %v", left)
	}
	if dl, err := os.ReadFile(filepath.Join(data, "elasticsearch-dead-letter.ndjson")); err == nil && len(dl) > 0 {
		t.Errorf("dead letters after a kill: %.1000s", dl)
	}
}

// completeLines counts the newline-terminated lines of the files matching
// pattern (a file being written may end in half a line).
func completeLines(t *testing.T, pattern string) int {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n += bytes.Count(b, []byte("\n"))
	}
	return n
}

// The new spool keys are read from the environment and checked at start.
func TestCLIRunRejectsBadSpoolFsync(t *testing.T) {
	out, code := runCLI(t, []string{"SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES=http://127.0.0.1:1", "SLUICE_OUTPUT_ELASTICSEARCH_SPOOL_FSYNC=sometimes",
		"SLUICE_OUTPUT_FILE_DIR=" + t.TempDir(), "SLUICE_DATA_DIR=" + t.TempDir()}, "run")
	if code == 0 || !strings.Contains(out, "output.elasticsearch.spool.fsync") {
		t.Fatalf("run with SLUICE_OUTPUT_ELASTICSEARCH_SPOOL_FSYNC=sometimes = %d %q, want non-zero naming the key", code, out)
	}
}
