package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitCopy copies the checkout this test runs in (tracked and untracked,
// not ignored files, as they are now) into a new git repository and commits
// it with a fixed date, so the copy is a clean checkout at a known revision.
// The go command stamps VCS information only where .git is a directory, which
// a git worktree's is not, hence the copy. It returns the directory.
func gitCopy(t *testing.T) string {
	t.Helper()
	requireTool(t, "git", "git")
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		msg := "not a git checkout (git rev-parse: " + err.Error() + "); the version test needs one"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipped (CI=true makes this a failure): " + msg)
	}
	src := strings.TrimSpace(string(top))
	list, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "src")
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		from := filepath.Join(src, name)
		fi, err := os.Lstat(from)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a plain file
		}
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	gitIn(t, dst, "init", "-q")
	gitIn(t, dst, "add", "-A")
	gitIn(t, dst, "-c", "user.name=sluice test", "-c", "user.email=test@example.invalid", "commit", "-q", "--no-gpg-sign", "-m", "copy")
	return dst
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// buildIn builds ./cmd/sluice in dir with VCS stamping forced on (GOFLAGS
// may say -buildvcs=false) and returns the binary.
func buildIn(t *testing.T, dir, name string, extra ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	args := append([]string{"build", "-buildvcs=true", "-o", bin}, extra...)
	cmd := exec.Command("go", append(args, "./cmd/sluice")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in %s: %v\n%s", dir, err, out)
	}
	return bin
}

// goVersionM returns the main module's version and the build settings that
// `go version -m` prints for bin.
func goVersionM(t *testing.T, bin string) (mod string, settings map[string]string) {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", bin, err)
	}
	settings = map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case len(f) >= 3 && f[0] == "mod":
			mod = f[2]
		case len(f) == 2 && f[0] == "build":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				settings[k] = v
			}
		}
	}
	return mod, settings
}

// wantVersionText is what `sluice version` must print for a binary that
// `go version -m` describes with mod and settings.
func wantVersionText(version, mod string, s map[string]string, goVersion string) string {
	want := "sluice " + version + "\n"
	if mod != version {
		want += "  module        " + mod + "\n"
	}
	want += "  vcs.revision  " + s["vcs.revision"] + "\n" +
		"  vcs.time      " + s["vcs.time"] + "\n" +
		"  vcs.modified  " + s["vcs.modified"] + "\n" +
		"  go            " + goVersion + " " + s["GOOS"] + "/" + s["GOARCH"] + "\n"
	return want
}

// `sluice version` and `sluice --version` print the module version, the VCS
// revision, time and modified flag and the Go version exactly as `go version
// -m` reads them from the same binary: for a clean checkout, a modified one,
// and with the version set by -ldflags (as the Dockerfile does).
func TestVersionMatchesGoVersionM(t *testing.T) {
	dir := gitCopy(t)
	head := gitIn(t, dir, "rev-parse", "HEAD")
	goVersion := strings.TrimSpace(mustOutput(t, exec.Command("go", "env", "GOVERSION")))

	check := func(t *testing.T, bin, wantVersion string) (mod string, s map[string]string) {
		t.Helper()
		mod, s = goVersionM(t, bin)
		if wantVersion == "" {
			wantVersion = mod
		}
		want := wantVersionText(wantVersion, mod, s, goVersion)
		for _, args := range [][]string{{"version"}, {"--version"}} {
			out, err := exec.Command(bin, args...).Output()
			if err != nil {
				t.Fatalf("sluice %v: %v", args, err)
			}
			if string(out) != want {
				t.Errorf("sluice %v printed\n%s\nwant (from go version -m)\n%s", args, out, want)
			}
		}
		return mod, s
	}

	t.Run("clean", func(t *testing.T) {
		mod, s := check(t, buildIn(t, dir, "clean"), "")
		// go version -m itself: the revision and time of the commit.
		if s["vcs.revision"] != head || s["vcs.time"] != "2026-01-02T03:04:05Z" || s["vcs.modified"] != "false" {
			t.Errorf("go version -m settings = %v, want revision %s, time 2026-01-02T03:04:05Z, not modified", s, head)
		}
		if want := "v0.0.0-20260102030405-" + head[:12]; mod != want {
			t.Errorf("module version = %q, want %q", mod, want)
		}
	})
	t.Run("ldflags", func(t *testing.T) {
		mod, _ := check(t, buildIn(t, dir, "ldflags", "-ldflags=-X main.version=v9.8.7"), "v9.8.7")
		if mod == "v9.8.7" || mod == "" {
			t.Errorf("module version = %q, want the VCS pseudo-version", mod)
		}
	})
	t.Run("modified", func(t *testing.T) {
		f, err := os.OpenFile(filepath.Join(dir, "README.md"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("\nmodified by TestVersionMatchesGoVersionM\n")
		f.Close()
		mod, s := check(t, buildIn(t, dir, "modified"), "")
		if s["vcs.modified"] != "true" || !strings.HasSuffix(mod, "+dirty") {
			t.Errorf("go version -m of a modified tree: module %q, vcs.modified %q; want +dirty and true", mod, s["vcs.modified"])
		}
	})
}

func mustOutput(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return string(out)
}
