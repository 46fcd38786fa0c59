package rollup

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/output/file"
)

// eventsSetup writes the syslog mix with the real file output over two
// days (one event every 4 minutes from 23:00 of day 1), and returns the
// store reading them and the documents' timestamps in write order.
func eventsSetup(t *testing.T, scanLimit int) (*Store, []string) {
	t.Helper()
	dir := t.TempDir()
	fcfg := file.Default()
	fcfg.Dir = dir
	out, err := file.New(fcfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	bt := syslogBatch(t)
	start := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	var stamps []string
	for i := range bt.All() {
		bt.Events[i].Timestamp = start.Add(time.Duration(i) * 4 * time.Minute)
		stamps = append(stamps, bt.Events[i].Timestamp.Format(time.RFC3339Nano))
	}
	bt.EncodeJSON()
	if err := out.Write(context.Background(), bt); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Dir = filepath.Join(dir, "console")
	cfg.EventsDir = dir
	cfg.EventsScanLimit = scanLimit
	s, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s, stamps
}

func docTime(t *testing.T, raw json.RawMessage) (string, string) {
	t.Helper()
	var d struct {
		TS    string `json:"@timestamp"`
		Index string `json:"_index"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("document %s: %v", raw, err)
	}
	return d.TS, d.Index
}

var evRange = console.Query{Kind: console.KindSyslog, From: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC)}

func TestEventsNewestFirstPaging(t *testing.T) {
	s, stamps := eventsSetup(t, 200000)
	var got []string
	before := ""
	pages := 0
	for {
		ev, err := s.Events(context.Background(), console.EventsRequest{Query: evRange, Limit: 37, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range ev.Docs {
			ts, idx := docTime(t, d)
			if want := "sluice-syslog-" + ts[:4] + "." + ts[5:7] + "." + ts[8:10]; idx != want {
				t.Fatalf("_index %q, want %q", idx, want)
			}
			got = append(got, ts)
		}
		if ev.Truncated {
			t.Fatal("Truncated with no bound reached")
		}
		if ev.Next == "" {
			break
		}
		before = ev.Next
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != len(stamps) {
		t.Fatalf("%d documents over all pages, want %d", len(got), len(stamps))
	}
	for i := range got {
		if got[i] != stamps[len(stamps)-1-i] {
			t.Fatalf("document %d has @timestamp %s, want %s (newest first)", i, got[i], stamps[len(stamps)-1-i])
		}
	}
	if pages < 10 {
		t.Fatalf("%d pages of 37 for %d documents", pages, len(got))
	}
}

func TestEventsFilterAndRange(t *testing.T) {
	s, _ := eventsSetup(t, 200000)
	q := evRange
	q.Filter = "event.action:deny"
	q.From = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	q.To = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	ev, err := s.Events(context.Background(), console.EventsRequest{Query: q, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Docs) == 0 {
		t.Fatal("no deny on day 2")
	}
	for _, d := range ev.Docs {
		var doc struct {
			TS    string `json:"@timestamp"`
			Event struct {
				Action string `json:"action"`
			} `json:"event"`
		}
		json.Unmarshal(d, &doc)
		if doc.Event.Action != "deny" || doc.TS < "2026-12-07" || doc.TS >= "2026-12-08" {
			t.Errorf("document %s outside the filter or range", d)
		}
	}
	if _, err := s.Events(context.Background(), console.EventsRequest{Query: evRange, Before: "../../etc/passwd:10"}); !errors.Is(err, console.ErrBadRequest) {
		t.Errorf("foreign cursor: %v, want ErrBadRequest", err)
	}
}

func TestEventsBoundAndCancel(t *testing.T) {
	s, stamps := eventsSetup(t, 50)
	ev, err := s.Events(context.Background(), console.EventsRequest{Query: evRange, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Truncated || ev.Scanned != 50 || len(ev.Docs) != 50 || ev.Next == "" {
		t.Fatalf("bound 50: Truncated %v Scanned %d docs %d next %q", ev.Truncated, ev.Scanned, len(ev.Docs), ev.Next)
	}
	total := len(ev.Docs)
	for ev.Next != "" {
		if ev, err = s.Events(context.Background(), console.EventsRequest{Query: evRange, Limit: 500, Before: ev.Next}); err != nil {
			t.Fatal(err)
		}
		total += len(ev.Docs)
	}
	if total != len(stamps) {
		t.Fatalf("resuming after the bound: %d documents, want %d", total, len(stamps))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Events(ctx, console.EventsRequest{Query: evRange}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestEventsSkipsGzip: a day gzipped by retention is not read; the
// other days are.
func TestEventsSkipsGzip(t *testing.T) {
	s, _ := eventsSetup(t, 200000)
	p := filepath.Join(s.cfg.EventsDir, "sluice-syslog-2026.12.06.ndjson")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Create(p + ".gz")
	zw := gzip.NewWriter(f)
	zw.Write(data)
	zw.Close()
	f.Close()
	os.Remove(p)
	ev, err := s.Events(context.Background(), console.EventsRequest{Query: evRange, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Docs) == 0 {
		t.Fatal("no documents from the plain day")
	}
	for _, d := range ev.Docs {
		if ts, _ := docTime(t, d); ts < "2026-12-07" {
			t.Fatalf("document of the gzipped day: %s", d)
		}
	}
}

// TestEventsPartialLastLine: a line being written (no newline yet) is not
// returned.
func TestEventsPartialLastLine(t *testing.T) {
	s, stamps := eventsSetup(t, 200000)
	p := filepath.Join(s.cfg.EventsDir, "sluice-syslog-2026.12.08.ndjson")
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"@timestamp":"2026-12-08T23:00:00Z","mess`)
	f.Close()
	ev, err := s.Events(context.Background(), console.EventsRequest{Query: evRange, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ts, _ := docTime(t, ev.Docs[0]); ts != stamps[len(stamps)-1] {
		t.Fatalf("newest document %s, want %s", ts, stamps[len(stamps)-1])
	}
}

// TestReverseLinesLongLine: a line longer than maxLine is returned as nil
// (skipped) and the lines around it are intact.
func TestReverseLinesLongLine(t *testing.T) {
	old := maxLine
	maxLine = 16
	t.Cleanup(func() { maxLine = old })
	long := strings.Repeat("L", 100)
	data := "first\n" + long + "\nlast\n"
	path := filepath.Join(t.TempDir(), "f.ndjson")
	os.WriteFile(path, []byte(data), 0o600)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rr := &revLines{f: fh, winStart: int64(len(data)), chunk: 7}
	var got []string
	for {
		line, start, ok, err := rr.prev()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%q@%d", line, start))
	}
	want := []string{`"last"@107`, `""@6`, `"first"@0`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("lines %v, want %v", got, want)
	}
}
