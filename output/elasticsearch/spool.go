package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicelab/sluice/internal/fsutil"
)

// spool is a bounded FIFO of bulk bodies on disk, one file per segment,
// named <seq>-<docs>.bulk. A segment is written to a temporary file, synced
// and renamed, so a crash never leaves half a segment under a segment name;
// leftovers of an interrupted write are removed at open. Segments are
// replayed oldest first and deleted once Elasticsearch has them.
type spool struct {
	dir      string
	maxBytes int64
	policy   string
	logger   *slog.Logger
	m        *metrics

	mu      sync.Mutex
	segs    []*segment // ascending seq
	nextSeq uint64
	bytes   int64 // including reserved space of segments being written
	docs    int64
	changed chan struct{} // closed and replaced on every change
	closed  bool
}

type segment struct {
	seq     uint64
	docs    int
	size    int64
	claimed bool
}

const segSuffix = ".bulk"

func (s *spool) path(seg *segment) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d-%d%s", seg.seq, seg.docs, segSuffix))
}

func openSpool(dir string, maxBytes int64, policy string, logger *slog.Logger) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("output.elasticsearch.spool.dir: %w", err)
	}
	s := &spool{dir: dir, maxBytes: maxBytes, policy: policy, logger: logger, changed: make(chan struct{}), nextSeq: 1}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("output.elasticsearch.spool.dir: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, fsutil.TempPrefix) {
			_ = os.Remove(filepath.Join(dir, name)) // an interrupted write; its bulk was not acknowledged to anyone
			continue
		}
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		seqS, docsS, ok := strings.Cut(strings.TrimSuffix(name, segSuffix), "-")
		seq, err1 := strconv.ParseUint(seqS, 10, 64)
		docs, err2 := strconv.Atoi(docsS)
		info, err3 := e.Info()
		if !ok || err1 != nil || err2 != nil || err3 != nil {
			logger.Warn("ignoring a file in the spool directory that is not a spool segment", "file", name)
			continue
		}
		s.segs = append(s.segs, &segment{seq: seq, docs: docs, size: info.Size()})
		s.bytes += info.Size()
		s.docs += int64(docs)
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return cmpU64(a.seq, b.seq) })
	return s, nil
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

// stats returns the bytes and documents held.
func (s *spool) stats() (int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes, s.docs
}

func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.segs) == 0
}

// notifyLocked wakes everyone waiting for a change.
func (s *spool) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

var errSpoolFull = errors.New("spool is full")

// put stores b as a new segment. When the spool is full it applies the
// policy: drop_oldest removes the oldest unclaimed segments, drop_newest
// discards b, block waits for space until ctx is done or the spool closes
// (then b is discarded). It returns how many documents were lost and why.
func (s *spool) put(ctx context.Context, b *bulk) (lost int, reason string, err error) {
	size := int64(len(b.body))
	s.mu.Lock()
	for s.bytes+size > s.maxBytes {
		switch {
		case s.policy == DropNewest || size > s.maxBytes:
			s.mu.Unlock()
			return b.len(), DropNewest, errSpoolFull
		case s.policy == DropOldest:
			i := slices.IndexFunc(s.segs, func(g *segment) bool { return !g.claimed })
			if i < 0 { // everything is being replayed right now
				s.mu.Unlock()
				return b.len(), DropNewest, errSpoolFull
			}
			old := s.segs[i]
			if err := os.Remove(s.path(old)); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.mu.Unlock()
				return b.len(), DropNewest, fmt.Errorf("removing the oldest spool segment: %w", err)
			}
			s.segs = slices.Delete(s.segs, i, i+1)
			s.bytes -= old.size
			s.docs -= int64(old.docs)
			lost += old.docs
			reason = DropOldest
		default: // Block
			if s.closed {
				s.mu.Unlock()
				return lost + b.len(), "shutdown", errSpoolFull
			}
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return lost + b.len(), "shutdown", errSpoolFull
			}
			s.mu.Lock()
		}
	}
	seg := &segment{seq: s.nextSeq, docs: b.len(), size: size, claimed: true}
	s.nextSeq++
	s.bytes += size
	s.docs += int64(seg.docs)
	s.segs = append(s.segs, seg) // claimed until written, so nobody replays or drops it early
	s.mu.Unlock()

	werr := fsutil.WriteFileAtomic(s.path(seg), b.body, 0o640)

	s.mu.Lock()
	defer s.mu.Unlock()
	seg.claimed = false
	if werr != nil {
		s.removeLocked(seg)
		return lost + b.len(), "write_error", fmt.Errorf("writing spool segment: %w", werr)
	}
	s.notifyLocked()
	return lost, reason, nil
}

func (s *spool) removeLocked(seg *segment) {
	if i := slices.Index(s.segs, seg); i >= 0 {
		s.segs = slices.Delete(s.segs, i, i+1)
		s.bytes -= seg.size
		s.docs -= int64(seg.docs)
	}
	s.notifyLocked()
}

// claim returns the oldest segment nobody replays, or nil and a channel
// that is closed on the next change.
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

func (s *spool) read(seg *segment) ([]byte, error) {
	return os.ReadFile(s.path(seg))
}

// done deletes a replayed segment.
func (s *spool) done(seg *segment) error {
	err := os.Remove(s.path(seg))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(seg)
	return err
}

// rewrite replaces a claimed segment's contents with what is left of it.
func (s *spool) rewrite(seg *segment, rest *bulk) error {
	s.mu.Lock()
	oldPath := s.path(seg)
	s.mu.Unlock()
	newSeg := &segment{seq: seg.seq, docs: rest.len(), size: int64(len(rest.body))}
	if err := fsutil.WriteFileAtomic(s.path(newSeg), rest.body, 0o640); err != nil {
		return err
	}
	if s.path(newSeg) != oldPath {
		if err := os.Remove(oldPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += newSeg.size - seg.size
	s.docs += int64(newSeg.docs - seg.docs)
	seg.docs, seg.size = newSeg.docs, newSeg.size
	return nil
}

// quarantine renames a segment that cannot be parsed out of the way (kept
// for inspection, never replayed) and forgets it.
func (s *spool) quarantine(seg *segment) {
	s.mu.Lock()
	p := s.path(seg)
	s.removeLocked(seg)
	s.mu.Unlock()
	if err := os.Rename(p, p+".damaged"); err != nil {
		s.logger.Error("moving a damaged spool segment aside", "file", p, "err", err)
	}
}

func (s *spool) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.notifyLocked()
}
