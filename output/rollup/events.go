package rollup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/console"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/query"
)

const readChunk = 64 << 10

// maxLine bounds a line the Events view reads (a longer one is skipped,
// counted as scanned); a variable for tests.
var maxLine = 4 << 20

// Events implements console.Backend: it reads the daily NDJSON files of
// the file output backwards, newest day first, and returns the lines
// whose @timestamp is in range and that match the filter. The cursor is
// "<file>:<offset>" (the start of the last line returned). Gzipped days
// (*.ndjson.gz, retention's gzip action) are skipped: reading them
// backwards would mean decompressing whole days.
//
// Kind dns reads, day by day, the DNS, Beats and syslog files (in that
// order) and keeps the documents with a dns.question.name: within a day
// the documents are newest first per file, not across the files.
func (s *Store) Events(ctx context.Context, r console.EventsRequest) (console.Events, error) {
	var out console.Events
	if _, _, err := s.plan(r.Kind); err != nil {
		return out, err
	}
	if err := checkRange(r.Query); err != nil {
		return out, err
	}
	limit := r.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 0 || limit > 500 {
		return out, fmt.Errorf("%w: limit %d is out of range; use 1..500", console.ErrBadRequest, r.Limit)
	}
	var m query.Matcher
	if strings.TrimSpace(r.Filter) != "" {
		var err error
		if m, err = console.ParseFilter(r.Filter); err != nil {
			return out, fmt.Errorf("%w: filter: %v", console.ErrBadRequest, err)
		}
	}
	kind := event.KindFlow
	if r.Kind == console.KindSyslog {
		kind = event.KindSyslog
	}
	dns := r.Kind == console.KindDNS
	// The day files of the range, newest first.
	var names []string
	probe := event.Event{Kind: kind}
	loc := s.cfg.Location
	for d := dayStart(r.To.Add(-time.Nanosecond).In(loc)); !d.Before(dayStart(r.From.In(loc))); d = d.AddDate(0, 0, -1) {
		if !dns {
			names = append(names, s.names.Name(&probe, d))
			continue
		}
		for _, n := range s.dnsFiles {
			if name := n.Name(d); !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	startFile, startOff := 0, int64(-1)
	if r.Before != "" {
		name, off, ok := parseCursor(r.Before)
		idx := -1
		for i, n := range names {
			if n == name {
				idx = i
			}
		}
		if !ok || idx < 0 {
			return out, fmt.Errorf("%w: cursor %q is not one this range gave; start again without before", console.ErrBadRequest, r.Before)
		}
		startFile, startOff = idx, off
	}
	for i := startFile; i < len(names); i++ {
		off := int64(-1)
		if i == startFile {
			off = startOff
		}
		done, err := s.scanFile(ctx, names[i], off, r, m, dns, limit, &out)
		if err != nil {
			return console.Events{}, err
		}
		if done {
			return out, nil
		}
	}
	return out, nil
}

func dayStart(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, t.Location())
}

func parseCursor(c string) (string, int64, bool) {
	i := strings.LastIndexByte(c, ':')
	if i <= 0 {
		return "", 0, false
	}
	off, err := strconv.ParseInt(c[i+1:], 10, 64)
	if err != nil || off < 0 {
		return "", 0, false
	}
	return c[:i], off, true
}

// scanFile reads the lines of one day file before off (-1: the end),
// newest first. done: the page is full or the bound was reached.
func (s *Store) scanFile(ctx context.Context, name string, off int64, r console.EventsRequest, m query.Matcher, dns bool, limit int, out *console.Events) (done bool, err error) {
	f, err := os.Open(filepath.Join(s.cfg.EventsDir, name+".ndjson"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("events: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	end := fi.Size()
	if off >= 0 && off < end {
		end = off
	}
	rr := &revLines{f: f, winStart: end}
	if off < 0 {
		// A last line without its newline is still being written.
		if err := rr.trimPartial(); err != nil {
			return false, fmt.Errorf("events: %s: %w", name, err)
		}
	}
	for {
		if out.Scanned%1024 == 0 {
			if err := ctx.Err(); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					return false, fmt.Errorf("%w: events scan: %w", console.ErrTimeout, err)
				}
				return false, err
			}
		}
		if out.Scanned >= s.cfg.EventsScanLimit {
			out.Truncated = true
			out.Next = name + ":" + strconv.FormatInt(rr.winStart+int64(len(rr.win)), 10)
			return true, nil
		}
		line, start, ok, err := rr.prev()
		if err != nil {
			return false, fmt.Errorf("events: %s: %w", name, err)
		}
		if !ok {
			return false, nil
		}
		out.Scanned++
		if line == nil {
			continue // too long
		}
		d, err := query.NewJSONDoc(line)
		if err != nil {
			continue
		}
		ts := d.Values("@timestamp", nil)
		if len(ts) != 1 {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, ts[0].Str)
		if err != nil || at.Before(r.From) || !at.Before(r.To) {
			continue
		}
		if dns && len(d.Values("dns.question.name", nil)) == 0 {
			continue
		}
		if m != nil && !m.Match(d) {
			continue
		}
		out.Docs = append(out.Docs, withIndex(line, name))
		if len(out.Docs) == limit {
			out.Next = name + ":" + strconv.FormatInt(start, 10)
			return true, nil
		}
	}
}

// withIndex copies a JSON object line and adds "_index".
func withIndex(line []byte, index string) json.RawMessage {
	q, _ := json.Marshal(index)
	out := make([]byte, 0, len(line)+len(q)+12)
	out = append(out, `{"_index":`...)
	out = append(out, q...)
	rest := bytes.TrimSpace(line[1:])
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// revLines reads a file's lines backwards. win holds the file's bytes
// [winStart, winStart+len(win)), which end with a newline (or are empty).
type revLines struct {
	f        *os.File
	chunk    int64 // read size (readChunk when 0)
	winStart int64
	win      []byte
	skipping bool // inside a line longer than maxLine
}

func (r *revLines) fill() error {
	n := int64(readChunk)
	if r.chunk > 0 {
		n = r.chunk
	}
	if r.winStart < n {
		n = r.winStart
	}
	chunk := make([]byte, n, int(n)+len(r.win))
	if _, err := r.f.ReadAt(chunk, r.winStart-n); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	r.winStart -= n
	r.win = append(chunk, r.win...)
	return nil
}

// trimPartial drops the bytes after the last newline.
func (r *revLines) trimPartial() error {
	for r.winStart > 0 {
		if err := r.fill(); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(r.win, '\n'); i >= 0 {
			r.win = r.win[:i+1]
			return nil
		}
		if len(r.win) > maxLine {
			r.win = r.win[:0]
		}
	}
	r.win = r.win[:0]
	return nil
}

// prev returns the line before the window's end (without its newline)
// and where it starts; line is nil for a line too long to keep.
func (r *revLines) prev() (line []byte, start int64, ok bool, err error) {
	for {
		if len(r.win) > 0 {
			body := r.win[:len(r.win)-1]
			if r.win[len(r.win)-1] != '\n' {
				body = r.win
			}
			if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
				line = body[i+1:]
				start = r.winStart + int64(i+1)
				r.win = r.win[:i+1]
				if r.skipping {
					r.skipping = false
					return nil, start, true, nil
				}
				return line, start, true, nil
			}
			if r.winStart == 0 {
				line = body
				r.win = r.win[:0]
				if r.skipping {
					r.skipping = false
					return nil, 0, true, nil
				}
				return line, 0, true, nil
			}
		} else if r.winStart == 0 {
			return nil, 0, false, nil
		}
		if len(r.win) > maxLine {
			// Keep reading backwards for its start, without the bytes.
			r.skipping = true
			r.win = append(r.win[:0], 'x')
		}
		if err := r.fill(); err != nil {
			return nil, 0, false, err
		}
	}
}
