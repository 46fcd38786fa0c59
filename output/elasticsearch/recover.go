package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// runMarker is a file in the spool directory that exists while sluice
// runs: found at start, it says the previous run ended without Close (a
// crash, SIGKILL, power loss).
const runMarker = "running"

// markRunning records whether the previous run ended without Close and
// creates the marker for this one.
func (o *Output) markRunning() {
	p := filepath.Join(o.cfg.SpoolDir, runMarker)
	if fi, err := os.Lstat(p); err == nil {
		o.unclean = true
		if !fi.Mode().IsRegular() {
			_ = os.Remove(p) // not ours: a regular file replaces it
		}
	}
	if err := os.WriteFile(p, strconv.AppendInt(nil, int64(os.Getpid()), 10), 0o640); err != nil {
		o.logger.Warn("cannot write the spool's run marker; after a crash the documents of the last batch may be in the files and not in Elasticsearch",
			"file", p, "err", err)
	}
}

// clearRunning removes the marker at a clean stop.
func (o *Output) clearRunning() {
	p := filepath.Join(o.cfg.SpoolDir, runMarker)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		o.logger.Warn("cannot remove the spool's run marker; the next start re-sends the last batch of the files (no duplicates)", "file", p, "err", err)
	}
}

// Unclean reports whether the previous run over the same spool directory
// ended without a clean stop.
func (o *Output) Unclean() bool { return o.unclean }

// Respool adds documents that another output holds (the daily files'
// last lines after a crash) to the spool, with the _id Write gives them, so
// a document Elasticsearch already has is answered 409 and counted as
// done, and one it lacks is indexed. lines are whole documents as Write
// encodes them, in their order in the index's file. It must be called
// before the first Write. It returns how many documents it spooled and how
// many it skipped (no @timestamp to rebuild the _id from, or not JSON).
func (o *Output) Respool(ctx context.Context, index string, lines [][]byte) (spooled, skipped int, err error) {
	if o.closed {
		return 0, 0, ErrClosed
	}
	if err := validIndexName(index); err != nil {
		return 0, len(lines), err
	}
	clear(o.seen)
	for _, doc := range lines {
		ms, ok := docMillis(doc)
		if !ok {
			skipped++
			continue
		}
		o.addDoc(ctx, index, ms, doc)
		spooled++
	}
	o.commit(ctx, true)
	if p := o.spoolErr.Load(); p != nil && *p != nil {
		return spooled, skipped, *p
	}
	return spooled, skipped, nil
}

// validIndexName accepts what an IndexNamer makes (lower case letters,
// digits, '-', '_', '.', '+'), since Respool takes the name from a file
// name, which bulk lines do not escape.
func validIndexName(s string) error {
	if s == "" || len(s) > 255 || s[0] == '-' || s[0] == '_' || s[0] == '+' || s == "." || s == ".." {
		return fmt.Errorf("%q is not an index name", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return fmt.Errorf("%q is not an index name", s)
		}
	}
	return nil
}

// docMillis reads the @timestamp that starts every document sluice
// encodes, as Write's _id uses it (UnixMilli of the event's time).
func docMillis(doc []byte) (int64, bool) {
	const prefix = `{"@timestamp":"`
	if !bytes.HasPrefix(doc, []byte(prefix)) || doc[len(doc)-1] != '}' {
		return 0, false
	}
	rest := doc[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}
