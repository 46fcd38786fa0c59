package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/fsutil"
)

// Tail is the end of one daily file: the index it stands for (the file
// name without .ndjson) and its last complete lines, oldest first, without
// their newlines.
type Tail struct {
	Index string
	Path  string
	Lines [][]byte
}

// RecentTails returns the last complete lines (at most maxLines, read from
// at most maxBytes at the end) of every daily file in dir written within
// window of the newest one.
//
// It is how a crash between the outputs is repaired: the pipeline writes a
// batch to the files first and then to the Elasticsearch output's spool, so
// after a SIGKILL only the last batch written can be in the files and not in
// the spool, and the files it went to are the most recently modified ones.
// The directory is sluice's own but read as untrusted input: only regular
// files named *.ndjson (no symlinks, FIFOs or devices) are opened, reads
// are bounded, a torn last line (no newline) is left out.
func RecentTails(dir string, window time.Duration, maxLines int, maxBytes int64) ([]Tail, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type cand struct {
		name  string
		mtime time.Time
	}
	var cands []cand
	var newest time.Time
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".ndjson") || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile (retention)
		}
		cands = append(cands, cand{name, fi.ModTime()})
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].name < cands[j].name })
	var tails []Tail
	var errs []error
	for _, c := range cands {
		if c.mtime.Before(newest.Add(-window)) {
			continue
		}
		path := filepath.Join(dir, c.name)
		lines, err := lastLines(path, maxLines, maxBytes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(lines) > 0 {
			tails = append(tails, Tail{Index: strings.TrimSuffix(c.name, ".ndjson"), Path: path, Lines: lines})
		}
	}
	return tails, errors.Join(errs...)
}

// lastLines reads the end of a regular file and returns its last complete
// lines.
func lastLines(path string, maxLines int, maxBytes int64) ([][]byte, error) {
	f, fi, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := fi.Size()
	// Read a window at the end, four times larger each round until it
	// holds maxLines lines: memory follows what is needed, not maxBytes.
	n := min(size, maxBytes, 256<<10)
	var buf []byte
	for {
		buf = make([]byte, n)
		if _, err := f.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the end of %s: %w", path, err)
		}
		if n == size || n >= maxBytes || bytes.Count(buf, []byte{'\n'}) > maxLines+1 {
			break
		}
		n = min(size, maxBytes, 4*n)
	}
	// A torn last line (a write cut short) is no document.
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		return nil, nil
	}
	buf = buf[:end]
	var lines [][]byte
	for len(lines) < maxLines && len(buf) > 0 {
		i := bytes.LastIndexByte(buf, '\n')
		if i < 0 {
			if n < size {
				break // the first line read may be cut: it starts before the window
			}
			i = -1
		}
		if line := buf[i+1:]; len(line) > 0 {
			lines = append(lines, line)
		}
		if i < 0 {
			break
		}
		buf = buf[:i]
	}
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	return lines, nil
}
