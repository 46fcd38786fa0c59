package dnscheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// seenFile is the seen-domains file in Config.StateDir.
const seenFile = "seen-domains"

// seenHeader starts the file: the format and its version.
const seenHeader = "sluice-dns-seen 1"

// seenEntry is what the set keeps of a registered domain: the days (Unix
// time / 86400) it was first and last seen.
type seenEntry struct{ first, last uint32 }

// seenSet is the set of registered domains seen, bounded: when full, the
// least recently seen of a few random entries is evicted. Not safe for
// concurrent use (the stage holds its lock).
type seenSet struct {
	m     map[string]seenEntry
	max   int
	dirty bool
}

func newSeenSet(limit int) *seenSet { return &seenSet{m: map[string]seenEntry{}, max: limit} }

// see records domain on day and reports the day it was first seen and
// whether an entry had to be evicted to make room.
func (s *seenSet) see(domain string, day uint32) (first uint32, evicted bool) {
	if e, ok := s.m[domain]; ok {
		if day > e.last || day < e.first {
			e.last = max(e.last, day)
			e.first = min(e.first, day) // an event older than the first sighting
			s.m[domain] = e
			s.dirty = true
		}
		return e.first, false
	}
	if len(s.m) >= s.max {
		s.evict()
		evicted = true
	}
	// The key is cloned: domain points into the batch's memory.
	s.m[string(append([]byte(nil), domain...))] = seenEntry{day, day}
	s.dirty = true
	return day, evicted
}

// evict removes the least recently seen of up to 8 entries (map
// iteration order is random).
func (s *seenSet) evict() {
	var victim string
	var oldest uint32 = ^uint32(0)
	n := 0
	for k, e := range s.m {
		if e.last < oldest {
			victim, oldest = k, e.last
		}
		if n++; n == 8 {
			break
		}
	}
	delete(s.m, victim)
}

// writeTo writes the set: the header, then "first last domain" lines.
func (s *seenSet) writeTo(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(seenHeader + "\n")
	var line []byte
	for k, e := range s.m {
		line = strconv.AppendUint(line[:0], uint64(e.first), 10)
		line = append(line, ' ')
		line = strconv.AppendUint(line, uint64(e.last), 10)
		line = append(line, ' ')
		line = append(line, k...)
		line = append(line, '\n')
		bw.Write(line)
	}
	return bw.Flush()
}

// errSeenFormat is returned for a file that is not a seen-domains file.
var errSeenFormat = errors.New("not a sluice seen-domains file (version 1)")

// readSeen reads a file writeTo wrote, as untrusted input: lines that are
// not "day day name" with plausible days and a valid name are skipped
// and counted, and at most max entries are kept.
func readSeen(r io.Reader, limit int, today uint32) (*seenSet, int, error) {
	s := newSeenSet(limit)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	if !sc.Scan() || sc.Text() != seenHeader {
		if err := sc.Err(); err != nil {
			return s, 0, err
		}
		return s, 0, errSeenFormat
	}
	bad := 0
	for sc.Scan() {
		first, last, name, ok := parseSeenLine(sc.Bytes(), today)
		if !ok {
			bad++
			continue
		}
		if len(s.m) >= limit {
			bad++
			continue
		}
		if e, dup := s.m[name]; dup {
			first = min(first, e.first)
			last = max(last, e.last)
		}
		s.m[name] = seenEntry{first, last}
	}
	if err := sc.Err(); err != nil {
		return s, bad, err
	}
	return s, bad, nil
}

func parseSeenLine(l []byte, today uint32) (first, last uint32, name string, ok bool) {
	a, rest, ok1 := bytes.Cut(l, []byte{' '})
	b, n, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 {
		return 0, 0, "", false
	}
	f, err1 := strconv.ParseUint(string(a), 10, 32)
	la, err2 := strconv.ParseUint(string(b), 10, 32)
	// Days before 2000 or after tomorrow are not ours.
	if err1 != nil || err2 != nil || f > la || f < 10957 || la > uint64(today)+1 {
		return 0, 0, "", false
	}
	d, err := NormalizeDomain(string(n))
	if err != nil || d != string(n) {
		return 0, 0, "", false
	}
	return uint32(f), uint32(la), d, true
}

// saveSeen writes the set crash-safely: a temporary file in dir, synced,
// renamed over the old one, and the directory synced.
func saveSeen(dir string, s *seenSet) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, seenFile+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := s.writeTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, seenFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loadSeen reads dir's file; a missing file is an empty set.
func loadSeen(dir string, limit int, now time.Time) (*seenSet, int, error) {
	f, err := os.Open(filepath.Join(dir, seenFile))
	if errors.Is(err, os.ErrNotExist) {
		return newSeenSet(limit), 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	s, bad, err := readSeen(f, limit, dayOf(now))
	if err != nil {
		return nil, bad, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return s, bad, nil
}

func dayOf(t time.Time) uint32 {
	if t.Unix() < 0 {
		return 0
	}
	return uint32(t.Unix() / 86400)
}

// window counts within a fixed time window.
type window struct {
	start time.Time
	n     int
	bytes int
}

// add counts one event of size bytes at t. A window starts at its first
// event and lasts length; an event past it starts a new one. An event
// before the start (arriving late: a DNS transaction is written when it
// ends or times out) counts in the current window.
func (w *window) add(t time.Time, size int, length time.Duration) {
	if w.start.IsZero() || t.Sub(w.start) >= length {
		*w = window{start: t}
	}
	w.n++
	w.bytes += size
}

// windows is a bounded map of windows; when full, one of a few random
// entries with the oldest start is evicted.
type windows[K comparable] struct {
	m   map[K]*window
	max int
}

func newWindows[K comparable](limit int) *windows[K] {
	return &windows[K]{m: map[K]*window{}, max: limit}
}

// get returns k's window, creating it (and evicting one) if needed.
func (ws *windows[K]) get(k K) (w *window, evicted bool) {
	if w, ok := ws.m[k]; ok {
		return w, false
	}
	if len(ws.m) >= ws.max {
		var victim K
		var oldest *window
		n := 0
		for k, w := range ws.m {
			if oldest == nil || w.start.Before(oldest.start) {
				victim, oldest = k, w
			}
			if n++; n == 8 {
				break
			}
		}
		delete(ws.m, victim)
		evicted = true
	}
	w = &window{}
	ws.m[k] = w
	return w, evicted
}

// tunnelKey is a client and a registered domain, hashed so the key holds
// no pointer into the batch.
type tunnelKey struct {
	client netip.Addr
	domain uint64
}
