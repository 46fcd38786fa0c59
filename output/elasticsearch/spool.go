package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluicelab/sluice/internal/fsutil"
	"github.com/sluicelab/sluice/internal/obs"
)

// spool is the write-ahead queue of the output: every document Write
// accepts is appended to the open segment file (one write(2) per batch)
// before Write returns, so it survives a crash of the process. A segment is
// sealed (fsynced per the fsync policy and renamed) when it holds a bulk
// request's worth or the flush interval passed; workers send sealed
// segments oldest first and delete a segment's file only once
// Elasticsearch acknowledged every item of it.
//
// Files in the directory:
//
//	<seq>.open         the open segment (seq is %020d)
//	<seq>-<docs>.bulk  a sealed segment; docs is a hint, the content counts
//	.tmp-*             an interrupted rewrite (removed at open)
//	*.aside            an entry that is not a usable segment, moved aside once
//	running            exists while sluice runs (recover.go)
//
// The directory is untrusted input: only regular files are read (opened
// with O_NOFOLLOW|O_NONBLOCK and checked with fstat), each up to a size cap,
// and their content is salvaged item by item (salvage).
type spool struct {
	dir      string
	maxBytes int64
	policy   string
	fsync    string
	fileCap  int64 // largest segment file read back
	memCap   int64 // bytes of segment bodies kept in memory
	// answering, when set, reports whether Elasticsearch answers and
	// delivery progresses: then append lets at most memCap more than
	// bpBase wait (backpressure) instead of spooling what the cluster is
	// too slow to take.
	answering func() bool
	aside     func(name, why string) // moveAside during scan (bounded logging)
	logger    *slog.Logger
	warn      *obs.Limiter
	m         *metrics

	mu       sync.Mutex
	segs     []*segment // sealed, ascending seq
	nextSeq  uint64
	bytes    int64 // sealed and open
	docs     int64
	memBytes int64
	bpBase   int64         // what waited when the cluster last stopped answering (or at start), ratcheting down
	bpWaits  int64         // times append waited for the cluster (backpressure)
	changed  chan struct{} // closed and replaced on every change
	closed   bool

	// The open segment, owned by the writer goroutine (Write, Flush,
	// Close); its bytes and documents are in bytes and docs.
	f         *os.File
	openSeq   uint64
	openName  string
	openSize  int64
	openDocs  int
	openBroke bool // a write failed: the file does not hold the whole segment, its body stays in memory
}

type segment struct {
	seq      uint64
	name     string // file name in dir; "" when the segment could not be written at all
	docs     int    // from the name until the content was read
	size     int64
	claimed  bool
	body     *bulk // in memory, or nil: read (and salvaged) from the file
	fromDisk bool  // found at start: its content is still to be checked
	waited   bool  // a delivery attempt failed or a restart came between (counted as spooled)
}

const (
	segSuffix  = ".bulk"
	openSuffix = ".open"
	asideExt   = ".aside"
)

// Fsync policies (output.elasticsearch.spool.fsync).
const (
	FsyncSegment = "segment"
	FsyncAlways  = "always"
	FsyncNever   = "never"
)

func sealedName(seq uint64, docs int) string {
	return fmt.Sprintf("%020d-%d%s", seq, docs, segSuffix)
}

func openName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, openSuffix) }

// maxSeq keeps sequence numbers far from overflow whatever names the
// directory holds; a bigger one is renumbered.
const maxSeq = 1 << 60

type spoolConfig struct {
	dir      string
	maxBytes int64
	policy   string
	fsync    string
	fileCap  int64
	memCap   int64
}

// newSpool creates the directory; scan reads what is in it.
func newSpool(c spoolConfig, logger *slog.Logger, warn *obs.Limiter) (*spool, error) {
	if err := os.MkdirAll(c.dir, 0o750); err != nil {
		return nil, fmt.Errorf("output.elasticsearch.spool.dir: %w", err)
	}
	if c.fsync == "" {
		c.fsync = FsyncSegment
	}
	if c.fileCap <= 0 {
		c.fileCap = 64 << 20
	}
	if c.memCap <= 0 {
		c.memCap = 64 << 20
	}
	return &spool{dir: c.dir, maxBytes: c.maxBytes, policy: c.policy, fsync: c.fsync, fileCap: c.fileCap, memCap: c.memCap,
		logger: logger, warn: warn, changed: make(chan struct{}), nextSeq: 1}, nil
}

// lostFunc counts documents lost for a reason (metrics and a log line).
type lostFunc func(docs int, reason, file string, err error)

// scan registers the segments found in the directory. Entries that are not
// usable segments are moved aside (or, for foreign names, left alone) with
// one warning each; zero-length and oversized segments are counted as lost
// through lost. It never reads file contents (that happens on replay).
func (s *spool) scan(lost lostFunc) error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("output.elasticsearch.spool.dir: %w", err)
	}
	type adopt struct {
		seq  uint64
		name string
		docs int
		size int64
	}
	var adopts []adopt
	// One warning per entry, but not thousands of lines for a directory
	// someone filled with junk.
	const maxWarn = 20
	warned := 0
	warn := func(msg string, args ...any) {
		if warned++; warned <= maxWarn {
			s.logger.Warn(msg, args...)
		}
	}
	defer func() {
		if warned > maxWarn {
			s.logger.Warn("more spool directory entries were not usable segments; not logged one by one", "count", warned-maxWarn, "dir", s.dir)
		}
	}()
	s.aside = func(name, why string) {
		p := filepath.Join(s.dir, name)
		if err := os.Rename(p, p+asideExt); err != nil {
			warn("spool directory entry is not a usable segment and cannot be moved aside; ignored", "file", p, "why", why, "err", err)
			return
		}
		warn("spool directory entry is not a usable segment; moved aside", "file", p, "moved_to", p+asideExt, "why", why)
	}
	defer func() { s.aside = nil }()
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(s.dir, name)
		if strings.HasPrefix(name, fsutil.TempPrefix) {
			// An interrupted rewrite; the segment it was to replace is still there.
			if e.Type().IsRegular() {
				_ = os.Remove(p)
			} else {
				s.moveAside(name, "not a regular file")
			}
			continue
		}
		if strings.HasSuffix(name, asideExt) || strings.HasSuffix(name, ".damaged") {
			continue // moved aside earlier (.damaged by older versions)
		}
		if name == runMarker {
			continue // recover.go
		}
		isOpen := strings.HasSuffix(name, openSuffix)
		if !isOpen && !strings.HasSuffix(name, segSuffix) {
			warn("leaving alone a file in the spool directory that is not a spool segment", "file", p)
			continue
		}
		if !e.Type().IsRegular() {
			s.moveAside(name, "not a regular file (symlink, FIFO, device or directory)")
			continue
		}
		info, err := e.Info()
		if err != nil { // gone meanwhile
			continue
		}
		seq, docs, canonical, ok := parseSegName(name)
		if !ok {
			s.moveAside(name, "the name is not <number>-<number>.bulk")
			continue
		}
		size := info.Size()
		switch {
		case size == 0:
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.moveAside(name, "empty segment that cannot be removed")
			}
			if !isOpen {
				lost(docs, "empty", p, nil)
			}
			continue
		case size > s.fileCap:
			s.moveAside(name, fmt.Sprintf("larger (%d bytes) than any segment sluice writes (%d)", size, s.fileCap))
			lost(docs, "too_large", p, nil)
			continue
		}
		if !canonical && !isOpen {
			adopts = append(adopts, adopt{seq, name, docs, size})
			continue
		}
		s.segs = append(s.segs, &segment{seq: seq, name: name, docs: docs, size: size, fromDisk: true, waited: true})
		s.bytes += size
		s.docs += int64(docs)
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return cmpU64(a.seq, b.seq) })
	// Non-canonical names get fresh sequence numbers after the others, in
	// their own order, so they cannot collide.
	slices.SortFunc(adopts, func(a, b adopt) int { return cmpU64(a.seq, b.seq) })
	for _, a := range adopts {
		seq := s.nextSeq
		s.nextSeq++
		nn := sealedName(seq, a.docs)
		if err := os.Rename(filepath.Join(s.dir, a.name), filepath.Join(s.dir, nn)); err != nil {
			warn("cannot adopt a spool segment with a non-canonical name; left alone", "file", filepath.Join(s.dir, a.name), "err", err)
			continue
		}
		warn("adopted a spool segment with a non-canonical name", "file", filepath.Join(s.dir, a.name), "new_name", nn)
		s.segs = append(s.segs, &segment{seq: seq, name: nn, docs: a.docs, size: a.size, fromDisk: true, waited: true})
		s.bytes += a.size
		s.docs += int64(a.docs)
	}
	s.bpBase = s.bytes
	return nil
}

// parseSegName parses <seq>-<docs>.bulk or <seq>.open. A document count
// that does not parse or is negative is taken as 0 (it is only a hint);
// canonical reports whether the name is exactly what sluice writes.
func parseSegName(name string) (seq uint64, docs int, canonical, ok bool) {
	if base, found := strings.CutSuffix(name, openSuffix); found {
		seq, err := strconv.ParseUint(base, 10, 64)
		if err != nil || seq >= maxSeq {
			return 0, 0, false, false
		}
		return seq, 0, name == openName(seq), true
	}
	base := strings.TrimSuffix(name, segSuffix)
	seqS, docsS, found := strings.Cut(base, "-")
	if !found {
		return 0, 0, false, false
	}
	seq, err := strconv.ParseUint(seqS, 10, 64)
	if err != nil {
		return 0, 0, false, false
	}
	d, err := strconv.ParseInt(docsS, 10, 64)
	if err != nil || d < 0 || d > 1<<31 {
		d = 0
	}
	docs = int(d)
	return seq, docs, seq < maxSeq && name == sealedName(seq, docs), true
}

// moveAside renames an entry so that it is never looked at again, with one
// warning.
func (s *spool) moveAside(name, why string) {
	if s.aside != nil { // during scan
		s.aside(name, why)
		return
	}
	p := filepath.Join(s.dir, name)
	if err := os.Rename(p, p+asideExt); err != nil {
		s.logger.Warn("spool directory entry is not a usable segment and cannot be moved aside; ignored", "file", p, "why", why, "err", err)
		return
	}
	s.logger.Warn("spool directory entry is not a usable segment; moved aside", "file", p, "moved_to", p+asideExt, "why", why)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stats returns the bytes and documents held (open segment included).
func (s *spool) stats() (int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes, s.docs
}

// waiting returns the sealed segments and their documents.
func (s *spool) waiting() (segs int, docs int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.segs {
		docs += int64(g.docs)
	}
	return len(s.segs), docs
}

// waitedDocs returns the documents of segments that waited for a later
// attempt (and are not delivered yet).
func (s *spool) waitedDocs() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var docs int64
	for _, g := range s.segs {
		if g.waited {
			docs += int64(g.docs)
		}
	}
	return docs
}

func (s *spool) hasWaited(seg *segment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seg.waited
}

// markWaiting marks every queued segment as one that waited for a later
// attempt and returns the documents newly marked.
func (s *spool) markWaiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.segs {
		if !g.waited {
			g.waited = true
			n += g.docs
		}
	}
	return n
}

func (s *spool) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

var (
	errSpoolFull = errors.New("spool is full")
	// errDiskFull wraps ENOSPC and EDQUOT.
	errDiskFull = errors.New("disk full")
)

// diskError describes a write failure; ENOSPC and EDQUOT as disk full,
// with the free space of the directory.
func (s *spool) diskError(op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		var st syscall.Statfs_t
		free := "unknown"
		if syscall.Statfs(s.dir, &st) == nil {
			free = strconv.FormatUint(st.Bavail*uint64(st.Bsize), 10) + " bytes"
		}
		return fmt.Errorf("%w: %s in %s (free: %s): %v", errDiskFull, op, s.dir, free, err)
	}
	return fmt.Errorf("%s in %s: %w", op, s.dir, err)
}

// dropped is what append had to give up to make room.
type dropped struct {
	docs   int
	reason string
}

// append writes p (items documents) to the open segment with one write.
// When the spool is full it applies the policy: drop_oldest removes the
// oldest sealed segments nobody is sending, drop_newest refuses p, block
// waits for room until ctx is done or the spool closes. It returns what was
// dropped to make room, and an error when p itself was not taken (then
// reason says why). A failed write does not refuse p: the open segment then
// lives on in memory (openBroke) until delivered, up to memCap.
func (s *spool) append(ctx context.Context, p []byte, items int) (drops []dropped, reason string, err error) {
	n := int64(len(p))
	s.mu.Lock()
	for {
		over := s.bytes+n > s.maxBytes
		memOver := s.openBroke && s.memBytes+s.openSize+n > s.memCap
		if !over && !memOver {
			if s.answering == nil || s.closed || ctx.Err() != nil {
				break
			}
			if !s.answering() {
				s.bpBase = s.bytes
				break
			}
			s.bpBase = min(s.bpBase, s.bytes)
			if s.bytes+n <= s.bpBase+s.memCap {
				break
			}
			// The cluster takes documents, more slowly than they come:
			// wait for it rather than spool what it cannot keep up with.
			ch := s.changed
			s.bpWaits++
			s.mu.Unlock()
			started := time.Now()
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-ch:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			if s.m != nil {
				s.m.backpressure.Add(time.Since(started).Seconds())
			}
			s.mu.Lock()
			continue
		}
		switch {
		case memOver && s.policy != Block:
			s.mu.Unlock()
			return drops, "disk_full", errDiskFull
		case over && (s.policy == DropNewest || n > s.maxBytes):
			s.mu.Unlock()
			return drops, DropNewest, errSpoolFull
		case over && s.policy == DropOldest:
			i := slices.IndexFunc(s.segs, func(g *segment) bool { return !g.claimed })
			if i < 0 { // everything is being sent right now
				s.mu.Unlock()
				return drops, DropNewest, errSpoolFull
			}
			old := s.segs[i]
			s.forgetLocked(old)
			if old.name != "" {
				_ = os.Remove(filepath.Join(s.dir, old.name))
			}
			drops = append(drops, dropped{old.docs, DropOldest})
		default: // Block
			if s.closed {
				s.mu.Unlock()
				return drops, "shutdown", errSpoolFull
			}
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return drops, "shutdown", errSpoolFull
			}
			s.mu.Lock()
		}
	}
	s.bytes += n
	s.docs += int64(items)
	s.mu.Unlock()

	if s.openSeq == 0 {
		s.mu.Lock()
		s.openSeq = s.nextSeq
		s.nextSeq++
		s.mu.Unlock()
		s.openName = openName(s.openSeq)
		s.openBroke = false
		f, err := os.OpenFile(filepath.Join(s.dir, s.openName), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND|syscall.O_NOFOLLOW, 0o640)
		if err != nil {
			s.broke(s.diskError("creating a spool segment", err))
		} else {
			s.f = f
		}
	}
	if s.f != nil {
		if _, err := s.f.Write(p); err != nil {
			// Cut a partial write off so the file ends at an item boundary.
			_ = s.f.Truncate(s.openSize)
			s.broke(s.diskError("writing the spool segment", err))
		} else if s.fsync == FsyncAlways {
			if err := s.f.Sync(); err != nil {
				s.broke(s.diskError("syncing the spool segment", err))
			}
		}
	}
	s.openSize += n
	s.openDocs += items
	return drops, "", nil
}

// broke records that the open segment's file cannot hold it; the segment
// is kept in memory from now on. The file keeps what was written before.
func (s *spool) broke(err error) {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	s.openBroke = true
	if s.m != nil {
		s.m.spoolWriteErrors.Inc()
	}
	if ok, muted := s.warn.Allow("spool_write"); ok {
		s.logger.Error("cannot write to the spool; documents are kept in memory until delivered and are lost if sluice dies",
			"err", err, "suppressed", muted)
	}
}

// seal closes the open segment holding b (the same documents, in memory)
// and queues it for the workers. It returns whether the spool keeps b
// (the caller must not reuse it then) and whether the queue was empty.
func (s *spool) seal(b *bulk) (kept, wasEmpty bool) {
	if s.openSeq == 0 {
		return false, false
	}
	name := s.openName
	if s.f != nil {
		var err error
		if s.fsync != FsyncNever {
			err = s.f.Sync()
		}
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
		s.f = nil
		if err != nil {
			s.broke(s.diskError("sealing the spool segment", err))
		} else {
			nn := sealedName(s.openSeq, s.openDocs)
			if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, nn)); err == nil {
				name = nn
				if s.fsync != FsyncNever {
					_ = syncDir(s.dir)
				}
			}
		}
	}
	seg := &segment{seq: s.openSeq, name: name, docs: s.openDocs, size: s.openSize}
	s.mu.Lock()
	wasEmpty = len(s.segs) == 0
	if s.keepsLocked(seg.size) {
		seg.body = b
		s.memBytes += seg.size
		kept = true
	}
	s.segs = append(s.segs, seg)
	s.notifyLocked()
	s.mu.Unlock()
	s.openSeq, s.openName, s.openSize, s.openDocs, s.openBroke = 0, "", 0, 0, false
	return kept, wasEmpty
}

// wouldKeep reports whether a segment of size bytes sealed now would be
// kept in memory (a hint: the workers may change it meanwhile).
func (s *spool) wouldKeep(size int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keepsLocked(size)
}

// keepsLocked reports whether a sealed segment of size bytes stays in
// memory: always when its file is broken, else within memCap.
func (s *spool) keepsLocked(size int64) bool { return s.openBroke || s.memBytes+size <= s.memCap }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// forgetLocked removes seg from the queue and the counts.
func (s *spool) forgetLocked(seg *segment) {
	if i := slices.Index(s.segs, seg); i >= 0 {
		s.segs = slices.Delete(s.segs, i, i+1)
		s.bytes -= seg.size
		s.docs -= int64(seg.docs)
		if seg.body != nil {
			s.memBytes -= seg.size
		}
	}
	s.notifyLocked()
}

// claim returns the oldest segment nobody sends, or nil and a channel that
// is closed on the next change.
func (s *spool) claim() (*segment, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.segs {
		if !g.claimed {
			g.claimed = true
			return g, nil
		}
	}
	return nil, s.changed
}

func (s *spool) release(seg *segment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seg.claimed = false
	s.notifyLocked()
}

var errNotRegular = fsutil.ErrNotRegular

// readFile reads a segment file without following symlinks or blocking on
// FIFOs, up to limit bytes.
func readFile(path string, limit int64) ([]byte, error) {
	f, st, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, fmt.Errorf("%d bytes, more than the %d a segment may hold", st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("grew beyond the %d bytes a segment may hold", limit)
	}
	return data, nil
}

// load returns the documents of a claimed segment: its body in memory, or
// the file salvaged. Damage found is handed to dead (raw spans) and the
// file is rewritten with what is good, so it is reported once. A segment
// that cannot be read at all is moved aside and reported with err.
func (s *spool) load(seg *segment, dead func(seg *segment, body []byte, d damage)) (*bulk, error) {
	if seg.body != nil {
		return seg.body, nil
	}
	p := filepath.Join(s.dir, seg.name)
	data, err := readFile(p, s.fileCap)
	if err != nil {
		s.mu.Lock()
		s.forgetLocked(seg)
		s.mu.Unlock()
		if !errors.Is(err, os.ErrNotExist) {
			s.moveAside(seg.name, err.Error())
		}
		return nil, err
	}
	good := &bulk{body: make([]byte, 0, len(data))}
	dmg := salvage(data, good, seg.fromDisk)
	// Blank lines lose nothing: the file is rewritten without them, not
	// reported.
	rewrite := len(dmg) > 0
	dmg = slices.DeleteFunc(dmg, func(d damage) bool { return d.reason == damageBlank })
	// A sealed segment's name says how many documents it held: what is
	// neither good nor in a damaged span was cut away (a truncated file,
	// random bytes over several items) and is lost too.
	found := good.len()
	for _, d := range dmg {
		found += d.docs
	}
	if short := seg.docs - found; short > 0 {
		if n := len(dmg); n > 0 && dmg[n-1].end == len(data) {
			dmg[n-1].docs += short
		} else {
			dmg = append(dmg, damage{off: len(data), end: len(data), docs: short, reason: damageMissing})
		}
	}
	if len(dmg) > 0 && s.m != nil {
		s.m.damagedSegments.Inc()
	}
	for _, d := range dmg {
		dead(seg, data, d)
	}
	name := seg.name
	if rewrite || len(dmg) > 0 || good.len() != seg.docs || strings.HasSuffix(name, openSuffix) {
		nn := sealedName(seg.seq, good.len())
		if good.len() == 0 {
			_ = os.Remove(p)
			name = ""
		} else if err := fsutil.WriteFileAtomic(filepath.Join(s.dir, nn), good.body, 0o640); err == nil {
			if nn != name {
				_ = os.Remove(p)
			}
			name = nn
		} else if len(dmg) > 0 {
			// The damage would be reported again after a restart; keep
			// the good part in memory and move the file aside.
			s.moveAside(name, "damaged and cannot be rewritten: "+err.Error())
			name = ""
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += int64(len(good.body)) - seg.size
	s.docs += int64(good.len() - seg.docs)
	seg.size, seg.docs, seg.name, seg.fromDisk = int64(len(good.body)), good.len(), name, false
	if name == "" && good.len() > 0 {
		seg.body = good
		s.memBytes += seg.size
	}
	return good, nil
}

// done deletes a delivered segment; it returns the in-memory body, if any,
// for reuse.
func (s *spool) done(seg *segment) (*bulk, error) {
	var err error
	if seg.name != "" {
		err = os.Remove(filepath.Join(s.dir, seg.name))
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	body := seg.body
	s.forgetLocked(seg)
	seg.body = nil
	return body, err
}

// rewrite replaces a claimed segment's contents with what is left of it.
// The new file is complete before the old one goes. When it cannot be
// written the rest is kept in memory (the old file stays: after a crash the
// delivered part is sent again, harmless with create).
func (s *spool) rewrite(seg *segment, rest *bulk) error {
	nn := sealedName(seg.seq, rest.len())
	err := fsutil.WriteFileAtomic(filepath.Join(s.dir, nn), rest.body, 0o640)
	if err == nil && seg.name != "" && seg.name != nn {
		if rerr := os.Remove(filepath.Join(s.dir, seg.name)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	size := int64(len(rest.body))
	s.bytes += size - seg.size
	s.docs += int64(rest.len() - seg.docs)
	if seg.body != nil {
		s.memBytes -= seg.size
	}
	seg.size, seg.docs = size, rest.len()
	seg.body = nil
	if err == nil {
		seg.name = nn
	}
	if err != nil || s.memBytes+size <= s.memCap {
		seg.body = rest
		s.memBytes += size
	}
	if err != nil {
		return s.diskError("rewriting a partly delivered spool segment", err)
	}
	return nil
}

// close wakes everyone waiting for room: nothing more will come.
func (s *spool) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.notifyLocked()
}
