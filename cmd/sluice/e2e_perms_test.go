package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sluice warns at start, once per path, when its config file or a data
// directory is writable by other users, naming the path, mode and fix.
func TestWritablePathsWarned(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte("log:\n  format: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	dataDir := filepath.Join(dir, "state")
	for _, d := range []string{outDir, dataDir} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	// chmod, not the create mode: umask would narrow that.
	for p, m := range map[string]os.FileMode{cfgPath: 0o666, outDir: 0o777, dataDir: 0o770} {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	// data_dir group-writable by a group that is not sluice's: needs to
	// change the group, which only root may do freely.
	groupCase := os.Chown(dataDir, -1, 65534) == nil && os.Getegid() != 65534
	if !groupCase {
		t.Logf("cannot give %s another group (not root?); the group-writable case is not checked", dataDir)
	}

	p := startSluice(t, sluiceOpts{Ports: newPorts(t), OutDir: outDir, DataDir: dataDir, Args: []string{"--config", cfgPath}})
	p.stop()
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	warns := map[string]map[string]any{} // by path
	for _, line := range strings.Split(string(raw), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["level"] != "WARN" {
			continue
		}
		if path, ok := rec["path"].(string); ok && strings.Contains(rec["msg"].(string), "writable by") {
			if warns[path] != nil {
				t.Errorf("second warning for %s: %v", path, rec)
			}
			warns[path] = rec
		}
	}
	for _, want := range []struct{ path, key, mode, fix string }{
		{cfgPath, "config file", "0666", "chmod o-w " + cfgPath},
		{outDir, "output.file.dir", "0777", "chmod o-w " + outDir},
	} {
		rec := warns[want.path]
		if rec == nil || rec["key"] != want.key || rec["mode"] != want.mode || rec["fix"] != want.fix {
			t.Errorf("warning for %s = %v; want key %q, mode %s, fix %q", want.path, rec, want.key, want.mode, want.fix)
		}
	}
	if groupCase {
		rec := warns[dataDir]
		if rec == nil || rec["key"] != "data_dir" || rec["mode"] != "0770" || rec["fix"] != "chmod g-w "+dataDir || !strings.Contains(rec["group"].(string), "65534") {
			t.Errorf("warning for group-writable %s = %v; want key data_dir, mode 0770, its group and fix chmod g-w", dataDir, rec)
		}
	}
	if n := len(warns); n != 2 && !(groupCase && n == 3) {
		t.Errorf("%d permission warnings, want one per writable path: %v", n, warns)
	}
}
