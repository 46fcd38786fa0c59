package fsutil

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// IsDiskFull reports whether err is a full file system (ENOSPC: no space or
// no inodes left) or an exhausted disk quota (EDQUOT).
func IsDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// FreeBytes returns the bytes available to unprivileged users on the file
// system that holds path (statfs f_bavail * f_bsize).
func FreeBytes(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// DiskFullError is a write that failed for want of space in Dir. Its text
// names the directory, the space left and the fix; errors.Is(err,
// syscall.ENOSPC) (or EDQUOT) still holds through Unwrap.
type DiskFullError struct {
	Dir       string
	FreeBytes uint64 // at the time of the failure; 0 when statfs failed too
	Fix       string // what to do, e.g. "free space there or point output.file.dir at a larger disk"
	Err       error
}

func (e *DiskFullError) Error() string {
	what := "disk full"
	if errors.Is(e.Err, syscall.EDQUOT) {
		what = "disk quota exceeded"
	}
	return fmt.Sprintf("%s: %s (%d bytes free); %s: %v", what, e.Dir, e.FreeBytes, e.Fix, e.Err)
}

func (e *DiskFullError) Unwrap() error { return e.Err }

// DiskFull returns err as a *DiskFullError for dir when IsDiskFull(err), and
// err unchanged otherwise (nil stays nil).
func DiskFull(dir, fix string, err error) error {
	if err == nil || !IsDiskFull(err) {
		return err
	}
	var already *DiskFullError
	if errors.As(err, &already) {
		return err
	}
	free, _ := FreeBytes(dir)
	return &DiskFullError{Dir: dir, FreeBytes: free, Fix: fix, Err: err}
}
