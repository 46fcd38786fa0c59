package rollup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
)

// closeDelay is how long after its end a minute stays open for events
// that arrive late (a flow's time is its end; exporters send it after).
// Events of a minute already closed go into another block of that minute:
// blocks of the same minute add up.
const closeDelay = 15 * time.Second

// memWindow is how far back decoded blocks stay in memory; older ones are
// read from their file when a query needs them.
const memWindow = 2 * time.Hour

// blockFile is one file of blocks: one kind, resolution and UTC day.
type blockFile struct {
	name string
	kind uint8
	res  uint8
	day  time.Time
	size int64
}

// blockRef is where a block is; b is the decoded block while it is recent
// (or when it could not be written).
type blockRef struct {
	start  time.Time
	file   *blockFile
	off    int64
	n      int
	b      *block
	rolled bool // a minute block merged into an hour block
}

// Store keeps the rollups: the open minutes (in shards, fed by Stage), the
// blocks on disk and in memory, and answers console queries (Backend).
type Store struct {
	cfg    Config
	logger *slog.Logger
	m      *metrics
	limit  *obs.Limiter
	plans  [numKinds]*kindPlan
	names  *event.IndexNames
	// dnsFiles name the daily files that may hold DNS events, in the
	// order Events reads them within a day.
	dnsFiles []*event.IndexNamer

	shards []*shard
	next   atomic.Uint32
	rate   [numKinds]rateMeter // events per second per kind, for the top-K sample
	// fixedRatio, when not 0, is the sampling ratio of every kind
	// instead of the measured one (benchmarks).
	fixedRatio uint64

	tickMu sync.Mutex // one closer at a time

	mu     sync.RWMutex
	refs   [numKinds][2][]*blockRef // [kind-1][res-1], by start
	files  map[string]*blockFile
	rolled [numKinds]map[int64]bool // hours with an hour block, per kind
}

var fileRE = regexp.MustCompile(`^(flows|syslog|dns)-(1m|1h)-([0-9]{4}-[0-9]{2}-[0-9]{2})\.rlb$`)

// New opens the rollups in cfg.Dir (created when missing) and reads back
// the blocks there. Corrupt files are moved aside, never fatal.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TopKHigh < cfg.TopK {
		cfg.TopKHigh = cfg.TopK
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	names, err := event.NewIndexNames(cfg.FlowsIndex, cfg.SyslogIndex, cfg.Location)
	if err != nil {
		return nil, fmt.Errorf("console events: %w", err)
	}
	var dnsFiles []*event.IndexNamer
	seenPat := map[string]bool{}
	for _, p := range []string{cfg.DNSIndex, cfg.BeatsIndex, cfg.SyslogIndex} {
		if p == "" || seenPat[p] {
			continue
		}
		seenPat[p] = true
		n, err := event.NewIndexNamer(p, cfg.Location)
		if err != nil {
			return nil, fmt.Errorf("console events: %w", err)
		}
		dnsFiles = append(dnsFiles, n)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("console rollups: %w", err)
	}
	s := &Store{
		cfg:      cfg,
		logger:   logger.With("component", "output/rollup"),
		limit:    obs.NewLimiter(time.Minute),
		plans:    newPlans(cfg),
		names:    names,
		dnsFiles: dnsFiles,
		files:    map[string]*blockFile{},
		rolled:   [numKinds]map[int64]bool{{}, {}, {}},
	}
	s.m = newMetrics(reg, s.diskBytes, func(ki int) float64 { return float64(s.rate[ki].ratioNow(s.cfg.ExactRate, time.Now().Unix())) })
	n := runtime.GOMAXPROCS(0)
	for range n {
		s.shards = append(s.shards, &shard{open: [numKinds]map[int64]*acc{{}, {}, {}}})
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Stage returns the pipeline stage that feeds the rollups.
func (s *Store) Stage() *Stage { return (*Stage)(s) }

func (s *Store) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now().UTC()
	}
	return time.Now().UTC()
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func (s *Store) diskBytes() float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for _, f := range s.files {
		n += f.size
	}
	return float64(n)
}

func fileName(kind, res uint8, day time.Time) string {
	return fmt.Sprintf("%s-%s-%s.rlb", kindNames[kind-1], resName(res), day.Format("2006-01-02"))
}

// load reads every block file back.
func (s *Store) load() error {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("console rollups: %w", err)
	}
	for _, de := range ents {
		m := fileRE.FindStringSubmatch(de.Name())
		if m == nil {
			continue
		}
		day, err := time.Parse("2006-01-02", m[3])
		if err != nil {
			continue
		}
		kind := kindFlows
		switch m[1] {
		case "syslog":
			kind = kindSyslog
		case "dns":
			kind = kindDNS
		}
		res := resMinute
		if m[2] == "1h" {
			res = resHour
		}
		s.loadFile(&blockFile{name: de.Name(), kind: kind, res: res, day: day})
	}
	for k := range s.refs {
		for r := range s.refs[k] {
			refs := s.refs[k][r]
			sort.SliceStable(refs, func(a, b int) bool { return refs[a].start.Before(refs[b].start) })
		}
		for _, ref := range s.refs[k][1] {
			s.rolled[k][ref.start.Unix()] = true
		}
		for _, ref := range s.refs[k][0] {
			ref.rolled = s.rolled[k][ref.start.Unix()-ref.start.Unix()%3600]
		}
	}
	return nil
}

// loadFile reads the blocks of one file; a bad block ends it: the file is
// moved aside and its good blocks are written back under its name.
func (s *Store) loadFile(bf *blockFile) {
	path := filepath.Join(s.cfg.Dir, bf.name)
	fi, err := os.Lstat(path)
	if err != nil {
		return
	}
	if !fi.Mode().IsRegular() {
		s.moveAside(bf, 0, fmt.Errorf("not a regular file (%s)", fi.Mode().Type()))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.moveAside(bf, 0, err)
		return
	}
	defer f.Close()
	size := fi.Size()
	recent := s.now().Add(-memWindow)
	var refs []*blockRef
	var off int64
	var bad error
	hdr := make([]byte, headerLen)
	var buf []byte
	if size == 0 {
		bad = errors.New("empty file")
	}
	for off < size {
		if _, err := f.ReadAt(hdr, off); err != nil {
			bad = fmt.Errorf("at %d: %w: short header", off, errCorrupt)
			break
		}
		n, _, err := readHeader(hdr)
		if err != nil {
			bad = fmt.Errorf("at %d: %w", off, err)
			break
		}
		if int64(n) > size-off-headerLen {
			bad = fmt.Errorf("at %d: %w: torn block (%d bytes claimed, %d left)", off, errCorrupt, n, size-off-headerLen)
			break
		}
		// A new buffer per block: a decoded block's strings point into it.
		buf = make([]byte, headerLen+n)
		if _, err := f.ReadAt(buf, off); err != nil {
			bad = fmt.Errorf("at %d: %w", off, err)
			break
		}
		b, fl, err := decodeFrame(buf, nil)
		if err == nil && (b.kind != bf.kind || b.res != bf.res) {
			err = fmt.Errorf("%w: block of kind %d resolution %d in this file", errCorrupt, b.kind, b.res)
		}
		if err != nil {
			bad = fmt.Errorf("at %d: %w", off, err)
			break
		}
		ref := &blockRef{start: b.start, file: bf, off: off, n: fl}
		if !b.start.Before(recent) {
			ref.b = b
		}
		refs = append(refs, ref)
		off += int64(fl)
	}
	if bad != nil {
		if err := s.moveAside(bf, off, bad); err != nil {
			return
		}
	}
	bf.size = off
	if off == 0 {
		return
	}
	s.files[bf.name] = bf
	s.refs[bf.kind-1][bf.res-1] = append(s.refs[bf.kind-1][bf.res-1], refs...)
}

// moveAside renames a bad file to <name>.bad-<time> and writes its first
// good bytes back under its name.
func (s *Store) moveAside(bf *blockFile, good int64, why error) error {
	path := filepath.Join(s.cfg.Dir, bf.name)
	aside := path + ".bad-" + s.now().Format("20060102T150405Z")
	s.m.badFiles.Inc()
	s.logger.Warn("console rollup file is corrupt; moved aside, the blocks before the damage are kept",
		"file", path, "moved_to", aside, "good_bytes", good, "err", why)
	if err := os.Rename(path, aside); err != nil {
		s.logger.Error("console rollup file cannot be moved aside; it is ignored", "file", path, "err", err)
		return err
	}
	if good == 0 {
		return nil
	}
	src, err := os.Open(aside)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".tmp"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, io.LimitReader(src, good))
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		s.logger.Error("console rollup file: the good blocks cannot be restored", "file", path, "err", err)
	}
	return err
}

// write appends b to its file and records it. A block that cannot be
// written stays in memory (counted, logged at most once a minute).
func (s *Store) write(b *block) {
	name := fileName(b.kind, b.res, b.start)
	buf := appendBlock(nil, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	bf := s.files[name]
	if bf == nil {
		bf = &blockFile{name: name, kind: b.kind, res: b.res, day: b.start.Truncate(24 * time.Hour)}
	}
	ref := &blockRef{start: b.start, b: b, n: len(buf)}
	if err := s.appendFile(bf, buf); err != nil {
		s.m.writeErrors.Inc()
		if ok, sup := s.limit.Allow("write"); ok {
			s.logger.Error("console rollup block not written; kept in memory until sluice stops", "file", name, "err", err, "suppressed", sup)
		}
	} else {
		s.files[name] = bf
		ref.file, ref.off = bf, bf.size
		bf.size += int64(len(buf))
		s.m.blocks.WithLabelValues(resName(b.res)).Inc()
	}
	list := &s.refs[b.kind-1][b.res-1]
	i := sort.Search(len(*list), func(i int) bool { return (*list)[i].start.After(b.start) })
	*list = append(*list, nil)
	copy((*list)[i+1:], (*list)[i:])
	(*list)[i] = ref
}

func (s *Store) appendFile(bf *blockFile, buf []byte) error {
	path := filepath.Join(s.cfg.Dir, bf.name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	// Written at the end we know (not O_APPEND): a torn write of an
	// earlier failure is cut off first.
	if _, err = f.WriteAt(buf, bf.size); err != nil {
		_ = f.Truncate(bf.size)
	} else {
		err = f.Truncate(bf.size + int64(len(buf)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Run closes minutes and hours as they end, and applies retention, until
// ctx is done. Close flushes what is still open.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := s.now()
			s.Tick(now, false)
			if now.Sub(last) >= time.Minute {
				s.Retain(now)
				last = now
			}
		}
	}
}

// Close writes the open minutes as blocks (a later start adds the rest of
// the minute as another block).
func (s *Store) Close(context.Context) error {
	s.Tick(s.now(), true)
	return nil
}

// Tick closes the minutes that ended closeDelay before now (all when
// force) and rolls hours that ended into hour blocks.
func (s *Store) Tick(now time.Time, force bool) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	due := now.Add(-time.Minute - closeDelay).Unix()
	type key struct {
		ki    int
		start int64
	}
	closing := map[key][]*acc{}
	for _, sh := range s.shards {
		sh.mu.Lock()
		closed := false
		for ki := range sh.open {
			for start, a := range sh.open[ki] {
				if force || start <= due {
					closing[key{ki, start}] = append(closing[key{ki, start}], a)
					delete(sh.open[ki], start)
					closed = true
					if sh.lastAcc[ki] == a {
						sh.lastAcc[ki] = nil // closed: the stage must not add to it
					}
				}
			}
		}
		if closed {
			// Its memos may name closed minutes: let them go.
			sh.memo = [memoSlots]segMemo{}
		}
		sh.mu.Unlock()
	}
	keys := make([]key, 0, len(closing))
	for k := range closing {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].start != keys[b].start {
			return keys[a].start < keys[b].start
		}
		return keys[a].ki < keys[b].ki
	})
	for _, k := range keys {
		s.write(s.mergeAccs(s.plans[k.ki], resMinute, k.start, closing[k]))
	}
	if !force {
		s.rollHours(now)
	}
}

// rollHours merges the minute blocks of every hour that ended (and has
// minute blocks not yet rolled) into an hour block.
func (s *Store) rollHours(now time.Time) {
	due := now.Add(-time.Hour - 2*closeDelay - time.Minute).Unix()
	for ki, p := range s.plans {
		s.mu.RLock()
		groups := map[int64][]*blockRef{}
		for _, ref := range s.refs[ki][0] {
			h := ref.start.Unix() - ref.start.Unix()%3600
			if !ref.rolled && h <= due {
				groups[h] = append(groups[h], ref)
			}
		}
		s.mu.RUnlock()
		hours := make([]int64, 0, len(groups))
		for h := range groups {
			hours = append(hours, h)
		}
		sort.Slice(hours, func(a, b int) bool { return hours[a] < hours[b] })
		for _, h := range hours {
			var blocks []*block
			for _, ref := range groups[h] {
				b, err := s.readRef(snapshot(&s.mu, ref), nil)
				if err != nil {
					continue
				}
				blocks = append(blocks, b)
			}
			if len(blocks) > 0 {
				s.write(s.mergeBlocks(p, resHour, h, blocks))
			}
			s.mu.Lock()
			for _, ref := range groups[h] {
				ref.rolled = true
			}
			s.rolled[ki][h] = true
			s.mu.Unlock()
		}
	}
}

// Retain drops decoded blocks older than memWindow from memory and
// removes files past their retention or beyond max_bytes, oldest first.
func (s *Store) Retain(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recent := now.Add(-memWindow)
	for k := range s.refs {
		for r := range s.refs[k] {
			for _, ref := range s.refs[k][r] {
				if ref.b != nil && ref.file != nil && ref.start.Before(recent) {
					ref.b = nil
				}
			}
		}
	}
	files := make([]*blockFile, 0, len(s.files))
	var total int64
	for _, f := range s.files {
		files = append(files, f)
		total += f.size
	}
	sort.Slice(files, func(a, b int) bool {
		if !files[a].day.Equal(files[b].day) {
			return files[a].day.Before(files[b].day)
		}
		if files[a].res != files[b].res {
			return files[a].res < files[b].res
		}
		return files[a].kind < files[b].kind
	})
	for _, f := range files {
		keep := s.cfg.MinuteRetention
		if f.res == resHour {
			keep = s.cfg.Retention
		}
		reason := ""
		switch {
		case !f.day.Add(24 * time.Hour).After(now.Add(-keep)):
			reason = "age"
		case total > s.cfg.MaxBytes:
			reason = "size"
		default:
			continue
		}
		if err := os.Remove(filepath.Join(s.cfg.Dir, f.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			if ok, sup := s.limit.Allow("remove"); ok {
				s.logger.Error("console rollup file not removed", "file", f.name, "err", err, "suppressed", sup)
			}
			continue
		}
		s.logger.Info("console rollup file removed", "file", f.name, "reason", reason)
		s.m.removedFiles.WithLabelValues(reason).Inc()
		total -= f.size
		delete(s.files, f.name)
		list := &s.refs[f.kind-1][f.res-1]
		kept := (*list)[:0]
		for _, ref := range *list {
			if ref.file != f {
				kept = append(kept, ref)
			}
		}
		clear((*list)[len(kept):])
		*list = kept
		if f.res == resHour {
			for h := range s.rolled[f.kind-1] {
				if !unixTime(h).Before(f.day) && unixTime(h).Before(f.day.Add(24*time.Hour)) {
					delete(s.rolled[f.kind-1], h)
				}
			}
		}
	}
	// Blocks kept only in memory (not written) go by age too.
	for k := range s.refs {
		for r := range s.refs[k] {
			keep := s.cfg.MinuteRetention
			if r == 1 {
				keep = s.cfg.Retention
			}
			list := &s.refs[k][r]
			kept := (*list)[:0]
			for _, ref := range *list {
				if ref.file != nil || ref.start.After(now.Add(-keep)) {
					kept = append(kept, ref)
				}
			}
			clear((*list)[len(kept):])
			*list = kept
		}
	}
}

// refCopy is a block reference read under the lock.
type refCopy struct {
	start time.Time
	path  string
	off   int64
	n     int
	b     *block
}

func snapshot(mu *sync.RWMutex, ref *blockRef) refCopy {
	mu.RLock()
	defer mu.RUnlock()
	return refCopyOf(ref)
}

func refCopyOf(ref *blockRef) refCopy {
	c := refCopy{start: ref.start, off: ref.off, n: ref.n, b: ref.b}
	if ref.file != nil {
		c.path = ref.file.name
	}
	return c
}

// readRef returns the block of c, from memory or from its file.
func (s *Store) readRef(c refCopy, want func(string) bool) (*block, error) {
	if c.b != nil {
		return c.b, nil
	}
	if c.path == "" {
		return nil, errors.New("block not kept")
	}
	f, err := os.Open(filepath.Join(s.cfg.Dir, c.path))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAt(f, c, want, nil, nil)
}

// readAt reads and decodes the block of c, into buf when it is large
// enough (the block's strings then point into buf: a caller that reuses
// it must copy what it keeps).
func readAt(f *os.File, c refCopy, want func(string) bool, buf *[]byte, sc *decodeScratch) (*block, error) {
	if c.n < headerLen || c.n > headerLen+maxPayload {
		return nil, fmt.Errorf("%w: bad reference", errCorrupt)
	}
	var p []byte
	if buf != nil && cap(*buf) >= c.n {
		p = (*buf)[:c.n]
	} else {
		p = make([]byte, c.n)
		if buf != nil {
			*buf = p
		}
	}
	if _, err := f.ReadAt(p, c.off); err != nil {
		return nil, err
	}
	b, _, err := decodeFrameScratch(p, want, sc)
	return b, err
}

// mergeBlocks merges blocks of one kind into one block starting at start.
func (s *Store) mergeBlocks(p *kindPlan, res uint8, start int64, blocks []*block) *block {
	type group struct {
		m    [numMetrics]uint64
		dims [][]*summary
	}
	groups := map[segKey]*group{}
	var other *group
	var order []segKey
	for _, b := range blocks {
		for i := range b.segs {
			sg := &b.segs[i]
			var g *group
			if sg.other {
				if other == nil {
					other = &group{dims: make([][]*summary, len(p.dims))}
				}
				g = other
			} else {
				g = groups[sg.key]
				if g == nil {
					g = &group{dims: make([][]*summary, len(p.dims))}
					groups[sg.key] = g
					order = append(order, sg.key)
				}
			}
			for j := range sg.m {
				g.m[j] += sg.m[j]
			}
			for j := range sg.dims {
				if di, ok := p.byField[sg.dims[j].field]; ok {
					g.dims[di] = append(g.dims[di], &sg.dims[j])
				}
			}
		}
	}
	segs := make([]segment, 0, len(groups)+1)
	for _, k := range order {
		g := groups[k]
		segs = append(segs, s.finishGroup(p, k, false, g.m, g.dims))
	}
	if other != nil {
		segs = append(segs, s.finishGroup(p, segKey{}, true, other.m, other.dims))
	}
	return &block{kind: p.kind, res: res, start: unixTime(start), segs: s.capSegments(p, segs)}
}
