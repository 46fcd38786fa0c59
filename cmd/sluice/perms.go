package main

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sluicelab/sluice/internal/config"
)

// writablePath is a path sluice trusts that other users may write to.
type writablePath struct {
	keys  []string // config keys (or "config file") that name the path
	path  string
	mode  fs.FileMode
	world bool   // writable by every user
	group string // the owning group, when it is group-writable by a group other than sluice's
}

// trustedPaths returns the paths whose contents sluice trusts: the config
// file (when given), data_dir, output.file.dir (when the file output is on)
// and the Elasticsearch spool directory (when Elasticsearch is configured),
// each with the keys that name it.
func trustedPaths(cfgPath string, cfg *config.Config) [][2]string {
	var out [][2]string
	if cfgPath != "" {
		out = append(out, [2]string{"config file", cfgPath})
	}
	out = append(out, [2]string{"data_dir", cfg.DataDir})
	if cfg.Output.File.Enabled {
		out = append(out, [2]string{"output.file.dir", cfg.Output.File.Dir})
	}
	if len(cfg.Output.Elasticsearch.Addresses) > 0 {
		out = append(out, [2]string{"output.elasticsearch.spool.dir", esConfig(cfg).SpoolDir})
	}
	return out
}

// writablePaths returns the paths of named (key, path pairs) that other
// users may write to: world-writable, or group-writable by a group that is
// not sluice's own (effective) group. A path named by several keys is
// reported once; missing paths are skipped (sluice creates them 0750).
func writablePaths(named [][2]string) []writablePath {
	var out []writablePath
	seen := map[string]int{}
	for _, kp := range named {
		key, p := kp[0], kp[1]
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		if i, ok := seen[abs]; ok {
			if i >= 0 {
				out[i].keys = append(out[i].keys, key)
			}
			continue
		}
		seen[abs] = -1
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		w := writablePath{keys: []string{key}, path: p, mode: fi.Mode()}
		perm := fi.Mode().Perm()
		w.world = perm&0o002 != 0
		if !w.world && perm&0o020 != 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) != os.Getegid() {
				w.group = groupName(st.Gid)
			}
		}
		if w.world || w.group != "" {
			seen[abs] = len(out)
			out = append(out, w)
		}
	}
	return out
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name + " (gid " + id + ")"
	}
	return "gid " + id
}

// warnWritable logs one WARN line per trusted path other users may write
// to, naming the path, its mode and the fix.
func warnWritable(logger *slog.Logger, cfgPath string, cfg *config.Config) {
	for _, w := range writablePaths(trustedPaths(cfgPath, cfg)) {
		mode := fmt.Sprintf("%04o", uint32(w.mode.Perm()))
		if w.world {
			logger.Warn("a path sluice trusts is writable by every user on the host: anyone could change its configuration or its data; remove the write permission for others",
				"key", strings.Join(w.keys, ","), "path", w.path, "mode", mode, "fix", "chmod o-w "+w.path)
			continue
		}
		logger.Warn("a path sluice trusts is writable by a group other than sluice's own; fine if only trusted users are in that group, otherwise remove the group write permission",
			"key", strings.Join(w.keys, ","), "path", w.path, "mode", mode, "group", w.group, "fix", "chmod g-w "+w.path)
	}
}
