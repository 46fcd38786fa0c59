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
	checkSeqOnce(t, url, prefix+"-syslog-*", n)
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

// TestKillBetweenOutputs: the pipeline writes a batch to the daily files
// first and to the Elasticsearch spool second, so a SIGKILL between the two
// leaves that batch in the files only. The next start sees that the run did
// not stop cleanly and sends the last lines of the files written last
// again: the index then holds every line of the files exactly once. A kill
// lands in that window too rarely to aim for (internal/chaos's kill9
// scenarios meet it at random), so after a real SIGKILL the test appends
// the batch the spool did not get to the daily file itself.
func TestKillBetweenOutputs(t *testing.T) {
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluicekillio")
	esCleanup(t, url, prefix)
	const n, extra = 500, 40
	data, out := t.TempDir(), t.TempDir()
	s := startSluice(t, sluiceOpts{Ports: newPorts(t), DataDir: data, OutDir: out, Env: esEnv(url, prefix)})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.opts.Ports.SyslogTCP))
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for i := range n {
		buf = fmt.Appendf(buf, "<13>Dec  7 06:00:00 killhost app[1]: between seq=%06d\n", i)
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	c.Close()
	estest.WaitCount(t, url, prefix+"-syslog-*", n, time.Minute)
	s.kill()

	// The batch that reached the files and not the spool: lines like the
	// last one, with new sequence numbers.
	files, _ := filepath.Glob(filepath.Join(out, prefix+"-syslog-*.ndjson"))
	if len(files) != 1 {
		t.Fatalf("daily syslog files: %v, want one", files)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	if len(lines) != n {
		t.Fatalf("the daily file holds %d lines, want %d", len(lines), n)
	}
	last := string(lines[len(lines)-1])
	seqRe := regexp.MustCompile(`seq=\d{6}`)
	if !seqRe.MatchString(last) {
		t.Fatalf("last line of the file has no sequence number: %s", last)
	}
	var add []byte
	for i := n; i < n+extra; i++ {
		add = append(add, seqRe.ReplaceAllString(last, fmt.Sprintf("seq=%06d", i))...)
		add = append(add, '\n')
	}
	add = append(add, `{"@timestamp":"2026-12-07T06:00:00Z","message":"torn`...) // a write cut short
	f, err := os.OpenFile(files[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(add); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s2 := startSluice(t, sluiceOpts{Ports: newPorts(t), DataDir: data, OutDir: out, Env: esEnv(url, prefix)})
	estest.WaitCount(t, url, prefix+"-syslog-*", n+extra, time.Minute)
	s2.stop()
	if log := s2.logTail(200); !strings.Contains(log, "did not stop cleanly") {
		t.Errorf("the restart does not say it re-sent the files' last lines; log:\n%s", log)
	}
	checkSeqOnce(t, url, prefix+"-syslog-*", n+extra)

	// A clean stop leaves nothing to re-send: the next start says nothing.
	s3 := startSluice(t, sluiceOpts{Ports: newPorts(t), DataDir: data, OutDir: out, Env: esEnv(url, prefix)})
	s3.stop()
	if log := s3.logTail(200); strings.Contains(log, "did not stop cleanly") {
		t.Errorf("a start after a clean stop re-sends the files' last lines; log:\n%s", log)
	}
}

// checkSeqOnce asserts that the indices matching pattern hold n documents
// whose messages carry seq=000000 to n-1, each exactly once, and nothing
// else.
func checkSeqOnce(t *testing.T, url, pattern string, n int) {
	t.Helper()
	estest.Refresh(t, url, pattern)
	status, body := estest.Do(t, http.MethodPost, url+"/"+pattern+"/_search",
		fmt.Sprintf(`{"size":%d,"_source":["message"],"query":{"match_all":{}}}`, n+100))
	if status != 200 {
		t.Fatalf("search: %d %s", status, body)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]int)
	re := regexp.MustCompile(`seq=(\d{6})`)
	var other []string
	for _, h := range r.Hits.Hits {
		var src struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(h.Source, &src)
		if m := re.FindStringSubmatch(src.Message); m != nil {
			seen[m[1]]++
		} else if len(other) < 5 {
			other = append(other, string(h.Source))
		}
	}
	if len(other) > 0 {
		t.Errorf("documents in %s that were not sent: %s", pattern, other)
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
		t.Errorf("%s holds %d documents: %d sequence numbers missing, %d duplicated; want %d, each once", pattern, len(r.Hits.Hits), missing, dup, n)
	}
}
