package main_test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// scratchRoot returns a new directory to install into, seeded with this
// host's user and group files (so the new user's ids do not collide with the
// host's), and traversable by every user, as / is.
func scratchRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "scripts/install creates a user and sets owners: run as root"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipped (CI=true makes this a failure): " + msg)
	}
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		b, err := os.ReadFile("/etc/" + f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc", f), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// runInstall runs scripts/install into root as user name and returns its output.
func runInstall(t *testing.T, root, name string, env ...string) string {
	t.Helper()
	cmd := exec.Command("bash", "../../scripts/install", "--root", root, "--user", name, "--bin", sluiceBin)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/install --root %s --user %s: %v\n%s", root, name, err, out)
	}
	return string(out)
}

// ids returns the uid and gid of name in root's etc/passwd.
func ids(t *testing.T, root, name string) (uid, gid int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && f[0] == name {
			uid, _ = strconv.Atoi(f[2])
			gid, _ = strconv.Atoi(f[3])
			if f[5] != "/var/lib/sluice" || f[6] != "/usr/sbin/nologin" {
				t.Errorf("passwd entry %q: want home /var/lib/sluice and shell /usr/sbin/nologin", line)
			}
			return uid, gid
		}
	}
	t.Fatalf("user %s not in %s/etc/passwd", name, root)
	return 0, 0
}

// asUser runs a program with the uid and gid (and no supplementary groups).
func asUser(uid, gid int, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("setpriv", append([]string{"--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--clear-groups"}, args...)...)
	cmd.Dir = dir
	return cmd
}

// snapshot describes every path under root: owner, mode, size, mtime and
// the content's hash.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		v := fmt.Sprintf("%d:%d %v %d %d", st.Uid, st.Gid, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		m[strings.TrimPrefix(p, root)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// unitCommand returns the argument list of key (ExecStartPre, ExecStart) in
// the unit, with the installed paths moved into root.
func unitCommand(t *testing.T, unit, key, root string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + key + `=(.+)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatalf("the unit has no %s=", key)
	}
	var args []string
	for _, a := range strings.Fields(m[1]) {
		if strings.HasPrefix(a, "/") {
			a = root + a
		}
		args = append(args, a)
	}
	return args
}

// TestInstallScript runs scripts/install into a scratch root, then checks
// what the issue found broken: the user exists before anything is chowned
// to it, /etc/sluice exists, the config is root:<group> 0640 so the user
// reads it and others do not, the unit passes systemd-analyze verify, and
// the unit's ExecStartPre and ExecStart, run as that user (setpriv), succeed:
// check-config says ok, run starts, takes a syslog message and writes it
// under /var/lib/sluice. A second run changes nothing; an edited config with
// the old steps' root:root owner keeps its content and gets its group back.
// The user is created in the scratch root's etc/passwd only (the host's user
// database is untouched), so there is nothing to clean up.
func TestInstallScript(t *testing.T) {
	requireTool(t, "setpriv", "util-linux")
	requireTool(t, "systemd-sysusers", "systemd")
	root := scratchRoot(t)
	name := fmt.Sprintf("sluicet%d", os.Getpid()%100000)

	out := runInstall(t, root, name)
	t.Logf("scripts/install:\n%s", out)
	// The user comes first: every owner below depends on it.
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasPrefix(first, "created    user "+name) {
		t.Errorf("first step = %q, want the user created", first)
	}
	if !strings.Contains(out, "checked    check-config as "+name) {
		t.Errorf("scripts/install did not run check-config as %s:\n%s", name, out)
	}
	uid, gid := ids(t, root, name)
	if uid == 0 || gid == 0 {
		t.Fatalf("user %s has uid %d gid %d", name, uid, gid)
	}

	for _, tc := range []struct {
		path     string
		uid, gid int
		mode     fs.FileMode
	}{
		{"/usr/local/bin/sluice", 0, 0, 0o755},
		{"/etc/sluice", 0, gid, fs.ModeDir | 0o750},
		{"/etc/sluice/sluice.yaml", 0, gid, 0o640},
		{"/var/lib/sluice", uid, gid, fs.ModeDir | 0o750},
		{"/etc/systemd/system/sluice.service", 0, 0, 0o644},
		{"/etc/sysusers.d/sluice.conf", 0, 0, 0o644},
	} {
		fi, err := os.Stat(root + tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != tc.uid || int(st.Gid) != tc.gid || fi.Mode() != tc.mode {
			t.Errorf("%s: %d:%d %v, want %d:%d %v", tc.path, st.Uid, st.Gid, fi.Mode(), tc.uid, tc.gid, tc.mode)
		}
	}
	cfgPath := root + "/etc/sluice/sluice.yaml"
	cfgText, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\ndata_dir: /var/lib/sluice\n", "\n  file:\n", "\n    dir: /var/lib/sluice\n"} {
		if !strings.Contains(string(cfgText), want) {
			t.Errorf("installed config lacks %q", want)
		}
	}

	// The user reads the config; another unprivileged user (nobody) does not.
	if b, err := asUser(uid, gid, "/", "cat", cfgPath).CombinedOutput(); err != nil {
		t.Errorf("cat %s as %s: %v %s", cfgPath, name, err, b)
	}
	if b, err := asUser(65534, 65534, "/", "cat", cfgPath).CombinedOutput(); err == nil || !strings.Contains(string(b), "Permission denied") {
		t.Errorf("cat %s as nobody = %v %q, want Permission denied", cfgPath, err, b)
	}

	unitPath := root + "/etc/systemd/system/sluice.service"
	unitB, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(unitB)
	for _, want := range []string{"\nUser=" + name + "\n", "\nGroup=" + name + "\n", "syslog", "5514 UDP and TCP", "scripts/install"} {
		if !strings.Contains(unit, want) {
			t.Errorf("installed unit lacks %q", want)
		}
	}

	// systemd-analyze verify checks that ExecStart's program exists on this
	// host: it verifies a copy whose absolute program paths are in root.
	if sa, err := exec.LookPath("systemd-analyze"); err != nil {
		msg := "systemd-analyze not found; install Debian package systemd"
		if os.Getenv("CI") == "true" {
			t.Error(msg)
		} else {
			t.Log("not verified: " + msg)
		}
	} else {
		verify := filepath.Join(t.TempDir(), "sluice.service")
		text := strings.ReplaceAll(unit, "=/usr/local/bin/sluice ", "="+root+"/usr/local/bin/sluice ")
		if err := os.WriteFile(verify, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := exec.Command(sa, "verify", "--man=no", verify).CombinedOutput()
		if err != nil || strings.Contains(string(b), "sluice.service") {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unitPath, err, b)
		}
	}

	// ExecStartPre as the user, in WorkingDirectory with the unit's UMask.
	pre := unitCommand(t, unit, "ExecStartPre", root)
	cmd := asUser(uid, gid, root+"/var/lib/sluice", append([]string{"sh", "-c", `umask 0027 && exec "$@"`, "sh"}, pre...)...)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), ": ok") {
		t.Errorf("ExecStartPre %v as %s: %v\n%s", pre, name, err, b)
	}

	// ExecStart as the user: listen on loopback ports (the unit's are the
	// defaults) and keep data_dir and output.file.dir in root.
	start := unitCommand(t, unit, "ExecStart", root)
	if len(start) < 2 || start[1] != "run" {
		t.Fatalf("ExecStart = %v, want <binary> run ...", start)
	}
	pt := newPorts(t)
	state := root + "/var/lib/sluice"
	p := startSluice(t, sluiceOpts{
		Ports: pt, OutDir: state, DataDir: state, Dir: state,
		Bin:  start[0],
		Args: start[2:],
		Wrap: []string{"setpriv", "--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--clear-groups"},
	})
	newUDPSender(t).send(pt.SyslogUDP, []byte("<14>1 2026-12-07T10:00:00Z host app - - - installed by scripts/install"))
	deadline := time.Now().Add(10 * time.Second)
	for len(syslogDocs(t, state)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	files, _ := filepath.Glob(state + "/sluice-syslog-*.ndjson")
	if len(files) != 1 {
		t.Fatalf("syslog files in %s: %v, want 1", state, files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
		t.Errorf("%s: %v, want owned by %s (uid %d)", files[0], err, name, uid)
	}
	if docs := syslogDocs(t, state); len(docs) != 1 || docs[0].str("message") != "installed by scripts/install" {
		t.Errorf("syslog documents = %v, want the one message sent", docs)
	}

	// A second run changes nothing.
	before := snapshot(t, root)
	out = runInstall(t, root, name)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "unchanged ") && !strings.HasPrefix(line, "checked ") {
			t.Errorf("second run: %q, want only unchanged", line)
		}
	}
	if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
		t.Errorf("second run changed the root (-before +after):\n%s", diff)
	}

	// An edited config, left root:root 0640 by the old steps, keeps its
	// content and gets its group back.
	edited := append(cfgText, "# edited by the admin\n"...)
	if err := os.WriteFile(cfgPath, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cfgPath, 0, 0); err != nil {
		t.Fatal(err)
	}
	if out = runInstall(t, root, name); !strings.Contains(out, "fixed      /etc/sluice/sluice.yaml") {
		t.Errorf("run on a root:root config did not report it fixed:\n%s", out)
	}
	if out = runInstall(t, root, name); !strings.Contains(out, "kept       /etc/sluice/sluice.yaml") {
		t.Errorf("run on an edited config did not report it kept:\n%s", out)
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != string(edited) {
		t.Errorf("the edited config was replaced")
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Sys().(*syscall.Stat_t).Gid != uint32(gid) || fi.Mode() != 0o640 {
		t.Errorf("config after the fix: %v %v, want root:%d 0640", fi.Mode(), err, gid)
	}
}

// TestInstallScriptUseradd is TestInstallScript's first step without
// systemd-sysusers: the user is made by useradd --system (--prefix root).
func TestInstallScriptUseradd(t *testing.T) {
	requireTool(t, "setpriv", "util-linux")
	requireTool(t, "useradd", "passwd")
	root := scratchRoot(t)
	name := fmt.Sprintf("sluiceu%d", os.Getpid()%100000)
	out := runInstall(t, root, name, "SLUICE_INSTALL_USERADD=1")
	if !strings.Contains(out, "created    user "+name) || !strings.Contains(out, "checked    check-config as "+name) {
		t.Errorf("scripts/install with useradd:\n%s", out)
	}
	uid, gid := ids(t, root, name)
	g, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(g), "\n"+name+":x:"+strconv.Itoa(gid)+":") {
		t.Errorf("group %s (gid %d) not in %s/etc/group", name, gid, root)
	}
	if uid >= 1000 {
		t.Errorf("uid %d: want a system user (below 1000)", uid)
	}
}
