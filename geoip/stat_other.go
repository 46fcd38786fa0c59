//go:build !unix

package geoip

import "os"

func idOf(fi os.FileInfo) fileID {
	return fileID{size: fi.Size(), mtime: fi.ModTime()}
}
