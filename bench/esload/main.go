// Command esload measures an Elasticsearch node's raw bulk capacity for the
// sluice benchmark (bench/es.sh): it sends pre-serialized documents (an
// NDJSON file sluice wrote) as bulk create requests of the same size, with
// the same concurrency and compression as sluice's Elasticsearch output, and
// prints documents indexed per second. Every document gets a fresh _id, so
// the node indexes each one (no 409 shortcuts).
//
//	esload -url http://127.0.0.1:9250 -file docs.ndjson -index bench-raw -duration 30s
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:9200", "node URL")
	file := flag.String("file", "", "NDJSON documents (one per line)")
	index := flag.String("index", "bench-raw", "target index")
	docs := flag.Int("docs", 2000, "documents per bulk request (output.elasticsearch.bulk.max_docs)")
	maxBytes := flag.Int("bytes", 4<<20, "bytes per bulk request at most (bulk.max_bytes)")
	workers := flag.Int("workers", 2, "concurrent bulk requests (bulk.workers)")
	compress := flag.Bool("gzip", true, "gzip request bodies at BestSpeed (compress)")
	duration := flag.Duration("duration", 30*time.Second, "how long to send")
	flag.Parse()
	if *file == "" {
		log.Fatal("-file is required")
	}
	corpus, err := readLines(*file)
	if err != nil {
		log.Fatal(err)
	}
	if len(corpus) == 0 {
		log.Fatalf("%s has no documents", *file)
	}

	var next atomic.Int64 // document counter: ids and corpus position
	var indexed, failed, requests atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers * 2}}
	start := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body, zbody bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&zbody, gzip.BestSpeed)
			for ctx.Err() == nil {
				body.Reset()
				n := 0
				for n < *docs && body.Len() < *maxBytes {
					i := next.Add(1)
					doc := corpus[int(i)%len(corpus)]
					body.WriteString(`{"create":{"_index":"`)
					body.WriteString(*index)
					body.WriteString(`","_id":"`)
					body.WriteString(strconv.FormatInt(i, 36))
					body.WriteString("\"}}\n")
					body.Write(doc)
					body.WriteByte('\n')
					n++
				}
				payload := body.Bytes()
				req, _ := http.NewRequest(http.MethodPost, *url+"/_bulk?filter_path=errors,items.*.status,items.*.error.type", nil)
				req.Header.Set("Content-Type", "application/x-ndjson")
				if *compress {
					zbody.Reset()
					zw.Reset(&zbody)
					zw.Write(payload)
					zw.Close()
					payload = zbody.Bytes()
					req.Header.Set("Content-Encoding", "gzip")
				}
				req.Body = io.NopCloser(bytes.NewReader(payload))
				req.ContentLength = int64(len(payload))
				resp, err := client.Do(req)
				if err != nil {
					log.Printf("bulk: %v", err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				rb, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				requests.Add(1)
				var r struct {
					Errors bool `json:"errors"`
					Items  []map[string]struct {
						Status int `json:"status"`
					} `json:"items"`
				}
				if resp.StatusCode != 200 || json.Unmarshal(rb, &r) != nil {
					log.Printf("bulk: HTTP %d: %.200s", resp.StatusCode, rb)
					failed.Add(int64(n))
					continue
				}
				if !r.Errors {
					indexed.Add(int64(n))
					continue
				}
				for _, it := range r.Items {
					for _, v := range it {
						if v.Status < 300 {
							indexed.Add(1)
						} else {
							failed.Add(1)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	out, _ := json.Marshal(map[string]any{
		"indexed": indexed.Load(), "failed": failed.Load(), "requests": requests.Load(),
		"seconds": secs, "docs_per_sec": float64(indexed.Load()) / secs,
		"docs_per_request": *docs, "workers": *workers, "gzip": *compress,
	})
	fmt.Println(string(out))
}

func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	return out, sc.Err()
}
