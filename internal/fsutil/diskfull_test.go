package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestIsDiskFull(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{syscall.ENOSPC, true},
		{syscall.EDQUOT, true},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("fsync: %w", &fs.PathError{Op: "sync", Path: "/x", Err: syscall.EDQUOT}), true},
		{syscall.EIO, false},
		{errors.New("no space left on device"), false}, // text is not the error
	} {
		if got := IsDiskFull(tc.err); got != tc.want {
			t.Errorf("IsDiskFull(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestFreeBytes(t *testing.T) {
	free, err := FreeBytes(t.TempDir())
	if err != nil || free == 0 {
		t.Fatalf("FreeBytes(temp dir) = %d, %v; want > 0, nil", free, err)
	}
	if _, err := FreeBytes("/does/not/exist"); err == nil {
		t.Fatal("FreeBytes(missing dir) = nil error")
	}
}

func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	werr := &fs.PathError{Op: "write", Path: dir + "/f", Err: syscall.ENOSPC}
	err := DiskFull(dir, "free space there", werr)
	var dfe *DiskFullError
	if !errors.As(err, &dfe) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("DiskFull(ENOSPC) = %#v; want a *DiskFullError wrapping ENOSPC", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "disk full: "+dir+" (") || !strings.Contains(msg, "bytes free); free space there: write ") {
		t.Errorf("DiskFull(ENOSPC).Error() = %q", msg)
	}
	if dfe.FreeBytes == 0 {
		t.Errorf("FreeBytes = 0 for a temp dir with space")
	}
	if again := DiskFull(dir, "x", fmt.Errorf("batch: %w", err)); !errors.As(again, &dfe) || strings.Count(again.Error(), "disk full") != 1 {
		t.Errorf("DiskFull of a wrapped DiskFullError = %q; want it unchanged", again)
	}
	if msg := DiskFull(dir, "fix", syscall.EDQUOT).Error(); !strings.HasPrefix(msg, "disk quota exceeded: ") {
		t.Errorf("DiskFull(EDQUOT) = %q", msg)
	}
	if err := DiskFull(dir, "fix", os.ErrPermission); err != os.ErrPermission {
		t.Errorf("DiskFull(other) = %v; want it unchanged", err)
	}
	if err := DiskFull(dir, "fix", nil); err != nil {
		t.Errorf("DiskFull(nil) = %v", err)
	}
}
