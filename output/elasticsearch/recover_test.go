package elasticsearch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/estest"
)

// batchLines returns the documents of a flow batch as the file output
// writes them (one encoded line each, without the newline).
func batchLines(first, n int) [][]byte {
	b := flowBatch(first, n, day)
	defer b.Release()
	var out [][]byte
	for i := range b.All() {
		line, _ := b.JSONLine(i)
		out = append(out, bytes.Clone(bytes.TrimSuffix(line, []byte("\n"))))
	}
	return out
}

// TestRespoolAfterUncleanStop: a batch the files got and the spool did not
// (SIGKILL between the two outputs) is sent again from the files' lines at
// the next start, with the _ids Write gives, so the documents Elasticsearch
// has already are 409s and nothing is indexed twice. A real SIGKILL lands
// between the two writes too rarely to test on demand (internal/chaos
// runs it at random moments); here the state it leaves is made directly:
// the run marker stays, the spool lacks the last batch.
func TestRespoolAfterUncleanStop(t *testing.T) {
	url := estest.URL(t)
	f := newFixture(t, url)
	marker := filepath.Join(f.cfg.SpoolDir, runMarker)

	o := f.open(t)
	if o.Unclean() {
		t.Errorf("first start over an empty spool directory reports an unclean stop")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("run marker missing while the output is open: %v", err)
	}
	write(t, o, flowBatch(0, 300, day)) // in the files and in the spool
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("run marker still there after Close: %v", err)
	}
	o = f.open(t)
	if o.Unclean() {
		t.Errorf("start after a clean Close reports an unclean stop")
	}
	closeDelivered(t, o)

	// The killed run: its marker is left behind.
	if err := os.WriteFile(marker, []byte("4242"), 0o600); err != nil {
		t.Fatal(err)
	}
	o = f.open(t)
	if !o.Unclean() {
		t.Fatalf("start after a run that left its marker does not report an unclean stop")
	}
	// The files hold batch 0-299 (delivered) and 300-499 (the spool never
	// got it), plus lines no _id can be rebuilt for.
	lines := append(batchLines(0, 500), []byte(`{"no":"timestamp"}`), []byte(`not json`))
	spooled, skipped, err := o.Respool(context.Background(), f.index(day), lines)
	if err != nil {
		t.Fatal(err)
	}
	if spooled != 500 || skipped != 2 {
		t.Errorf("Respool = %d spooled, %d skipped; want 500, 2", spooled, skipped)
	}
	if _, _, err := o.Respool(context.Background(), "../etc", lines[:1]); err == nil {
		t.Errorf("Respool accepted an index name taken from a bad file name")
	}
	write(t, o, flowBatch(500, 100, day)) // and the run goes on
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)

	seqCheck(t, url, f.index(day), 600)
	if got := testutil.ToFloat64(o.m.duplicates); got != 300 {
		t.Errorf("duplicates (409) = %v, want 300: the documents Elasticsearch had", got)
	}
}

func TestDocMillis(t *testing.T) {
	for _, c := range []struct {
		doc  string
		ms   int64
		okay bool
	}{
		{`{"@timestamp":"2026-11-24T12:00:00Z","a":1}`, day.UnixMilli(), true},
		{`{"@timestamp":"2026-11-24T12:00:00.123Z"}`, day.UnixMilli() + 123, true},
		{`{"@timestamp":"2026-11-24T12:00:00.123Z"`, 0, false}, // cut
		{`{"a":1,"@timestamp":"2026-11-24T12:00:00Z"}`, 0, false},
		{`{"@timestamp":"yesterday"}`, 0, false},
		{`{"@timestamp":"`, 0, false},
		{`{`, 0, false},
	} {
		ms, ok := docMillis([]byte(c.doc))
		if ms != c.ms || ok != c.okay {
			t.Errorf("docMillis(%s) = %d, %v; want %d, %v", c.doc, ms, ok, c.ms, c.okay)
		}
	}
}

func FuzzDocMillis(f *testing.F) {
	f.Add([]byte(`{"@timestamp":"2026-11-24T12:00:00.123Z","a":1}`))
	f.Add([]byte(`{"@timestamp":"`))
	f.Add([]byte(`}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		docMillis(doc)
		_ = validIndexName(string(doc))
	})
}
