package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the built binary with args and returns its combined output
// and exit code.
func runCLI(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("%v: %v", args, err)
	}
	return string(out), 0
}

func TestCLIVersion(t *testing.T) {
	out, code := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "sluice ") {
		t.Fatalf("sluice version = %d %q", code, out)
	}
}

func TestCLICheckConfig(t *testing.T) {
	sample, err := filepath.Abs("../../configs/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, nil, "check-config", sample)
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check-config configs/sluice.yaml = %d %q, want 0 and ok", code, out)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("netflow:\n  listen: [\"2055\"]\n  templates:\n    max_per_exporter: 0\nlog:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, nil, "check-config", bad)
	if code == 0 {
		t.Fatalf("check-config on a bad file exited 0: %q", out)
	}
	// Every problem is reported at once, each naming its key.
	for _, key := range []string{"netflow.listen", "log.level"} {
		if !strings.Contains(out, key) {
			t.Errorf("check-config output does not name %s:\n%s", key, out)
		}
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("outptu:\n  stdout: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code = runCLI(t, nil, "check-config", typo); code == 0 || !strings.Contains(out, "outptu") {
		t.Errorf("check-config with an unknown key = %d %q, want non-zero naming outptu", code, out)
	}
	// A component-level value (checked by the netflow package).
	comp := filepath.Join(dir, "comp.yaml")
	if err := os.WriteFile(comp, []byte("netflow:\n  templates:\n    max_per_exporter: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code = runCLI(t, nil, "check-config", comp); code == 0 || !strings.Contains(out, "netflow.templates.max_per_exporter") {
		t.Errorf("check-config max_per_exporter 0 = %d %q, want non-zero naming the key", code, out)
	}
}

// A bad value in the environment stops `run` before it listens, naming the key.
func TestCLIRunRejectsBadEnv(t *testing.T) {
	out, code := runCLI(t, []string{"SLUICE_NETFLOW_LISTEN=nonsense", "SLUICE_OUTPUT_FILE_DIR=" + t.TempDir(), "SLUICE_DATA_DIR=" + t.TempDir()}, "run")
	if code == 0 || !strings.Contains(out, "netflow.listen") {
		t.Fatalf("run with SLUICE_NETFLOW_LISTEN=nonsense = %d %q, want non-zero naming netflow.listen", code, out)
	}
}
