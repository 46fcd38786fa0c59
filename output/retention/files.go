package retention

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sluicelab/sluice/internal/fsutil"
)

const (
	ndjsonExt = ".ndjson"
	gzipExt   = ".ndjson.gz"
	// fileProtectDays: besides today's, yesterday's file is never touched:
	// the file output keeps recent days open for late events.
	fileProtectDays = 1
	// gzipQuietFor: a file written to more recently than this is not
	// compressed (late events may still be appended to it).
	gzipQuietFor = time.Hour
)

// errRecentlyWritten marks a file left alone because it may still be written.
var errRecentlyWritten = errors.New("written in the last hour; left for a later run")

// fileTarget acts on the daily NDJSON files of the file output.
type fileTarget struct {
	dir string
	now func() time.Time
}

func (t *fileTarget) name() string { return TargetFiles }

// list returns the dir's <name>.ndjson and <name>.ndjson.gz files; other
// files, directories and names starting with a dot (temporary files) are
// not listed.
func (t *fileTarget) list(ctx context.Context) ([]Item, error) {
	ents, err := os.ReadDir(t.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			abs, _ := filepath.Abs(t.dir)
			return nil, fmt.Errorf("output.file.dir %s (%s) does not exist; run from sluice's working directory or set an absolute output.file.dir", t.dir, abs)
		}
		return nil, fmt.Errorf("listing output.file.dir: %w", err)
	}
	var items []Item
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !e.Type().IsRegular() {
			continue
		}
		it := Item{ID: n}
		switch {
		case strings.HasSuffix(n, gzipExt):
			it.Name, it.Gzipped = strings.TrimSuffix(n, gzipExt), true
		case strings.HasSuffix(n, ndjsonExt):
			it.Name = strings.TrimSuffix(n, ndjsonExt)
		default:
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("listing output.file.dir: %w", err)
		}
		it.Size, it.Created = fi.Size(), fi.ModTime()
		items = append(items, it)
	}
	return items, ctx.Err()
}

// prepare drops files already compressed for gzip and leaves recently
// written ones for a later run.
func (t *fileTarget) prepare(_ context.Context, p *policy, ds []Decision) (todo []Decision, done int, skipped []Skip, err error) {
	for _, d := range ds {
		if p.action == ActionGzip {
			if d.Gzipped {
				done++
				continue
			}
			if t.now().Sub(d.Created) < gzipQuietFor {
				skipped = append(skipped, Skip{Item: d.Item, Reason: errRecentlyWritten.Error()})
				continue
			}
		}
		todo = append(todo, d)
	}
	return todo, done, skipped, nil
}

// apply performs p's action on ds, calling report once per decision; the
// error is for the directory's fsync after all of them.
func (t *fileTarget) apply(ctx context.Context, p *policy, ds []Decision, report func(Decision, error)) error {
	if len(ds) == 0 {
		return nil
	}
	// One run at a time per directory (`sluice retention` from cron
	// beside retention.schedule): two gzips of one file could otherwise
	// both append it to the .gz.
	unlock, err := lockDir(t.dir)
	if err != nil {
		for _, d := range ds {
			report(d, err)
		}
		return nil
	}
	defer unlock()
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			report(d, err)
			continue
		}
		path := filepath.Join(t.dir, d.ID)
		var err error
		switch p.action {
		case ActionDelete:
			err = os.Remove(path)
			if errors.Is(err, fs.ErrNotExist) {
				err = nil // gone already (another run)
			}
		case ActionGzip:
			err = gzipFile(ctx, path)
		default:
			err = fmt.Errorf("action %s does not apply to files", p.action)
		}
		report(d, err)
	}
	if err := syncDir(t.dir); err != nil {
		return fmt.Errorf("fsync %s: %w", t.dir, err)
	}
	return nil
}

// gzipFile compresses path (x.ndjson) to x.ndjson.gz through a temporary
// file that is synced and renamed into place; then path is removed. When
// x.ndjson.gz exists (late events wrote x.ndjson again after an earlier
// run), the new data is appended to it as another gzip member: gzip, zcat
// and Go's gzip.Reader read multi-member files as one stream. If path
// changes while it is compressed, nothing is replaced.
func gzipFile(ctx context.Context, path string) (err error) {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	before, err := src.Stat()
	if err != nil {
		return err
	}
	dst := strings.TrimSuffix(path, ndjsonExt) + gzipExt
	tmp, err := os.CreateTemp(filepath.Dir(path), fsutil.TempPrefix+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if old, oerr := os.Open(dst); oerr == nil {
		_, err = io.Copy(tmp, old)
		old.Close()
		if err != nil {
			return fmt.Errorf("copying the existing %s: %w", filepath.Base(dst), err)
		}
	} else if !errors.Is(oerr, fs.ErrNotExist) {
		return oerr
	}
	zw, _ := gzip.NewWriterLevel(tmp, gzip.DefaultCompression)
	zw.Name = filepath.Base(path)
	zw.ModTime = before.ModTime()
	if _, err := io.Copy(zw, ctxReader{ctx, src}); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(before.Mode().Perm()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	after, err := os.Stat(path)
	if err != nil {
		return err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return errRecentlyWritten
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	tmp = nil
	// The .gz must be durable before the original goes.
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	return os.Remove(path)
}

// ctxReader stops a long copy when ctx ends (shutdown of sluice run).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// lockDir takes an exclusive flock on dir, without waiting.
func lockDir(dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another retention run is working in %s; try again later", dir)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
		d.Close()
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
