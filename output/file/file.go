// Package file writes events as ECS JSON lines into daily files
// (Dir/<index name>.ndjson), one per event kind and day.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/fsutil"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// diskFullFix is the advice of a disk-full error.
const diskFullFix = "free space there (retention.policies, or delete old files) or point output.file.dir at a larger disk; writing resumes by itself"

// ErrClosed is returned by Write and Ready after Close.
var ErrClosed = errors.New("file output is closed")

var (
	_ pipeline.Output  = (*Output)(nil)
	_ pipeline.Flusher = (*Output)(nil)
	_ pipeline.Readier = (*Output)(nil)
)

// maxKeptBuffer is the largest per-file buffer kept between batches.
const maxKeptBuffer = 4 << 20

// Output appends events to daily NDJSON files. Files are opened append-only
// and never truncated (except to cut off the partial line of a failed
// write), so a restart continues the same day's file.
//
// Write, Flush and Close are called from one goroutine, as pipeline.Output
// requires; Ready may be called from any goroutine.
type Output struct {
	cfg    Config
	logger *slog.Logger
	m      *metrics
	names  *event.IndexNames
	now    func() time.Time

	files    map[string]*dayFile // by index name
	touched  []*dayFile          // files with data in the current batch
	tick     uint64              // LRU clock, advanced per batch
	lastSync time.Time
	closed   bool

	readyErr atomic.Pointer[error] // last write failure, nil when healthy
	isClosed atomic.Bool

	limiter  *obs.Limiter
	diskFull bool // the last batch failed for want of space
}

// dayFile is one open daily file and the batch data pending for it.
type dayFile struct {
	name    string
	path    string
	f       *os.File
	size    int64 // bytes in the file as far as this output knows
	buf     []byte
	events  int
	lastUse uint64
	batch   uint64 // tick of the last batch that added to buf
	dirty   bool   // written since the last fsync
	needNL  bool   // the file does not end with a newline
}

// New validates cfg, creates cfg.Dir (0750) and returns the output. No file
// is opened until the first event of its day arrives. A nil logger discards;
// a nil reg registers no metrics.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	loc, err := loadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("output.file.timezone: %w", err)
	}
	if _, err := event.NewIndexNamer(cfg.FlowsIndex, loc); err != nil {
		return nil, fmt.Errorf("output.file.flows_index: %w", err)
	}
	if _, err := event.NewIndexNamer(cfg.SyslogIndex, loc); err != nil {
		return nil, fmt.Errorf("output.file.syslog_index: %w", err)
	}
	names, err := event.NewIndexNames(cfg.FlowsIndex, cfg.SyslogIndex, loc)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("file output: create output.file.dir: %w", err)
	}
	m, err := newMetrics(reg, "file")
	if err != nil {
		return nil, fmt.Errorf("file output metrics: %w", err)
	}
	o := &Output{
		cfg:    cfg,
		logger: logger.With("component", "output/file"),
		m:      m,
		names:  names,
		now:    time.Now,
		files:  make(map[string]*dayFile, cfg.MaxOpenFiles),

		limiter: obs.NewLimiter(10 * time.Second),
	}
	o.lastSync = o.now()
	return o, nil
}

// Name returns "file".
func (o *Output) Name() string { return "file" }

// Write appends every event of b to the file of its kind and day (the
// @timestamp in the configured time zone; event.created or the current time
// when it is zero). Each file gets one write per batch. A non-nil error means
// some events may not have been written; events of other files in the batch
// may have been.
func (o *Output) Write(ctx context.Context, b *event.Batch) error {
	if o.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	o.tick++
	o.touched = o.touched[:0]
	events := b.All()
	// Fast path: an encoded batch whose events all go to one file is written
	// as it is, without copying its lines into the file's buffer.
	if js, ok := b.JSON(); ok {
		if name, same := o.singleIndex(events); same {
			if err := o.writeWhole(name, js, len(events)); err != errSlowPath {
				return o.finishWrite(err)
			}
		}
	}
	var now time.Time
	for i := range events {
		e := &events[i]
		t := o.eventTime(e, &now)
		df, err := o.file(o.names.Name(e, t))
		if err != nil {
			o.discardPending()
			o.m.writeErrors.Inc()
			o.setReady(err)
			return err
		}
		if df.batch != o.tick {
			df.batch = o.tick
			df.buf = df.buf[:0]
			df.events = 0
			if df.needNL {
				df.buf = append(df.buf, '\n')
			}
			o.touched = append(o.touched, df)
		}
		df.lastUse = o.tick
		if line, ok := b.JSONLine(i); ok { // encoded by the pipeline's Encode stage
			df.buf = append(df.buf, line...)
		} else {
			df.buf = e.AppendJSON(df.buf)
			df.buf = append(df.buf, '\n')
		}
		df.events++
	}

	var errs []error
	for _, df := range o.touched {
		if df.f == nil { // evicted (and written) during this batch
			continue
		}
		if err := o.flushFile(df); err != nil {
			errs = append(errs, err)
		}
	}
	return o.finishWrite(errors.Join(errs...))
}

// errSlowPath tells Write to route the batch event by event.
var errSlowPath = errors.New("use the per-event path")

// eventTime is the time that picks an event's daily file.
func (o *Output) eventTime(e *event.Event, now *time.Time) time.Time {
	t := e.Timestamp
	if t.IsZero() {
		t = e.Created
	}
	if t.IsZero() {
		if now.IsZero() {
			*now = o.now()
		}
		t = *now
	}
	return t
}

// singleIndex reports whether every event goes to the same daily file, and
// its name.
func (o *Output) singleIndex(events []event.Event) (string, bool) {
	var now time.Time
	name := ""
	for i := range events {
		n := o.names.Name(&events[i], o.eventTime(&events[i], &now))
		if i == 0 {
			name = n
		} else if n != name {
			return "", false
		}
	}
	return name, len(events) > 0
}

// writeWhole writes the encoded lines of a whole batch to one file with one
// write. It returns errSlowPath when the file first needs a newline after a
// partial line.
func (o *Output) writeWhole(name string, js []byte, n int) error {
	df, err := o.file(name)
	if err != nil {
		o.m.writeErrors.Inc()
		return err
	}
	if df.needNL {
		return errSlowPath
	}
	df.batch, df.lastUse = o.tick, o.tick
	df.events = n
	o.touched = append(o.touched, df)
	return o.writeBuf(df, js)
}

// finishWrite fsyncs as configured after a batch and records readiness.
func (o *Output) finishWrite(err error) error {
	if o.cfg.FsyncInterval == 0 {
		for _, df := range o.touched {
			if df.f != nil && df.dirty {
				if serr := o.sync(df); serr != nil {
					err = errors.Join(err, serr)
				}
			}
		}
		o.lastSync = o.now()
	} else if serr := o.syncIfDue(); serr != nil {
		err = errors.Join(err, serr)
	}
	o.setReady(err)
	return err
}

// Flush fsyncs written data when the fsync interval has passed. Data is
// written to the files at the end of every Write, so nothing else is pending.
func (o *Output) Flush(ctx context.Context) error {
	if o.closed {
		return nil
	}
	return o.syncIfDue()
}

// Ready returns nil while the output can write: it reports ErrClosed after
// Close and the last write failure until a write succeeds again.
func (o *Output) Ready() error {
	if o.isClosed.Load() {
		return ErrClosed
	}
	if p := o.readyErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close fsyncs and closes every open file. Closing twice is a no-op. When ctx
// ends first, the remaining files are closed without fsync.
func (o *Output) Close(ctx context.Context) error {
	if o.closed {
		return nil
	}
	o.closed = true
	o.isClosed.Store(true)
	var errs []error
	for name, df := range o.files {
		if df.dirty && ctx.Err() == nil {
			if err := o.sync(df); err != nil {
				errs = append(errs, err)
			}
		}
		if err := df.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", df.path, err))
		}
		df.f = nil
		delete(o.files, name)
	}
	o.m.openFiles.Set(0)
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("file output close: files closed without fsync: %w", err))
	}
	return errors.Join(errs...)
}

// file returns the open file for index name, opening it (and closing the
// least recently written file when MaxOpenFiles are open) if needed.
func (o *Output) file(name string) (*dayFile, error) {
	if df, ok := o.files[name]; ok {
		return df, nil
	}
	if len(o.files) >= o.cfg.MaxOpenFiles {
		if err := o.evict(); err != nil {
			return nil, err
		}
	}
	df, err := o.open(name)
	if err != nil {
		return nil, err
	}
	o.files[name] = df
	o.m.openFiles.Set(float64(len(o.files)))
	return df, nil
}

func (o *Output) open(name string) (*dayFile, error) {
	path := filepath.Join(o.cfg.Dir, name+".ndjson")
	// Create with O_EXCL first so that only a file created here gets the
	// configured mode (umask may have narrowed it); an existing file keeps
	// its mode and is appended to.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, o.cfg.FileMode)
	created := err == nil
	if errors.Is(err, os.ErrExist) {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	}
	if err != nil {
		return nil, o.checkDiskFull(fmt.Errorf("open %s: %w", path, err))
	}
	df := &dayFile{name: name, path: path, f: f}
	if created {
		if err := f.Chmod(o.cfg.FileMode); err != nil {
			f.Close()
			return nil, fmt.Errorf("chmod %s: %w", path, err)
		}
		o.logger.Info("created file", "index", name, "path", path)
		return df, nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	df.size = st.Size()
	if df.size > 0 {
		df.needNL = !endsWithNewline(path, df.size)
	}
	o.logger.Info("reopened file", "index", name, "path", path, "size", df.size)
	return df, nil
}

// endsWithNewline reports whether the last byte of the file is '\n'. The
// file handle is write-only, so it is read through a second one; when that
// fails the answer is "yes": an extra empty line would be worse than none.
func endsWithNewline(path string, size int64) bool {
	r, err := os.Open(path)
	if err != nil {
		return true
	}
	defer r.Close()
	var b [1]byte
	if _, err := r.ReadAt(b[:], size-1); err != nil {
		return true
	}
	return b[0] == '\n'
}

// evict closes the least recently written file, writing out its pending
// data first.
func (o *Output) evict() error {
	var victim *dayFile
	for _, df := range o.files {
		if victim == nil || df.lastUse < victim.lastUse {
			victim = df
		}
	}
	if victim == nil {
		return nil
	}
	var errs []error
	if victim.batch == o.tick && len(victim.buf) > 0 {
		if err := o.flushFile(victim); err != nil {
			errs = append(errs, err)
		}
	}
	if victim.dirty {
		if err := o.sync(victim); err != nil {
			errs = append(errs, err)
		}
	}
	if err := victim.f.Close(); err != nil {
		o.m.writeErrors.Inc()
		errs = append(errs, fmt.Errorf("close %s: %w", victim.path, err))
	}
	victim.f = nil
	delete(o.files, victim.name)
	o.m.openFiles.Set(float64(len(o.files)))
	o.logger.Debug("closed file", "index", victim.name, "path", victim.path)
	return errors.Join(errs...)
}

// flushFile writes the pending buffer of df in one write. On failure it cuts
// the file back to its previous size so no partial line stays behind.
func (o *Output) flushFile(df *dayFile) error {
	buf := df.buf
	df.buf = df.buf[:0]
	if cap(df.buf) > maxKeptBuffer {
		df.buf = nil
	}
	return o.writeBuf(df, buf)
}

// writeBuf writes buf (whole lines) to df; on a failed write it cuts the
// file back to its previous size so no partial line stays behind.
func (o *Output) writeBuf(df *dayFile, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	n, err := df.f.Write(buf)
	if err != nil {
		o.m.writeErrors.Inc()
		if n > 0 {
			if terr := df.f.Truncate(df.size); terr != nil {
				df.size += int64(n)
				df.needNL = buf[n-1] != '\n'
				df.dirty = true
			}
		}
		return o.checkDiskFull(fmt.Errorf("write %s: %w", df.path, err))
	}
	df.size += int64(n)
	df.needNL = false
	df.dirty = true
	o.m.events.Add(float64(df.events))
	o.m.bytes.Add(float64(n))
	return nil
}

// discardPending drops the data built for the current batch.
func (o *Output) discardPending() {
	for _, df := range o.touched {
		df.buf = df.buf[:0]
		df.events = 0
	}
	o.touched = o.touched[:0]
}

// syncIfDue fsyncs every dirty file when FsyncInterval has passed since the
// last sync.
func (o *Output) syncIfDue() error {
	now := o.now()
	if now.Sub(o.lastSync) < o.cfg.FsyncInterval {
		return nil
	}
	o.lastSync = now
	var errs []error
	for _, df := range o.files {
		if df.dirty {
			if err := o.sync(df); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (o *Output) sync(df *dayFile) error {
	start := time.Now()
	err := df.f.Sync()
	o.m.fsync.Observe(time.Since(start).Seconds())
	if err != nil {
		o.m.writeErrors.Inc()
		return o.checkDiskFull(fmt.Errorf("fsync %s: %w", df.path, err))
	}
	df.dirty = false
	return nil
}

// checkDiskFull names a full disk (ENOSPC, EDQUOT) in err, counts it and
// logs it at most once per 10s; other errors pass unchanged.
func (o *Output) checkDiskFull(err error) error {
	if !fsutil.IsDiskFull(err) {
		return err
	}
	err = fsutil.DiskFull(o.cfg.Dir, diskFullFix, err)
	o.m.diskFull.Inc()
	o.diskFull = true
	if ok, sup := o.limiter.Allow("disk_full"); ok {
		var dfe *fsutil.DiskFullError
		free := uint64(0)
		if errors.As(err, &dfe) {
			free = dfe.FreeBytes
		}
		o.logger.Error("disk full: batches cannot be written and are counted as dropped until there is space (see sluice_output_disk_full_errors_total); "+diskFullFix,
			"dir", o.cfg.Dir, "free_bytes", free, "err", err, "suppressed", sup)
	}
	return err
}

func (o *Output) setReady(err error) {
	if err == nil {
		if o.readyErr.Load() != nil {
			o.readyErr.Store(nil)
		}
		if o.diskFull {
			o.diskFull = false
			free, _ := fsutil.FreeBytes(o.cfg.Dir)
			o.logger.Info("disk space available again; writing resumed", "dir", o.cfg.Dir, "free_bytes", free)
		}
		return
	}
	wrapped := fmt.Errorf("file output: %w", err)
	o.readyErr.Store(&wrapped)
}
