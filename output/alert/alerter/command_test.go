package alerter

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// syncBuffer is a log destination the command's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The command's program is /bin/sh in these tests only to capture what it
// gets: sluice itself runs argv without a shell.
func TestCommandArgvAndMatchJSON(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	a := newOne(t, Options{
		"alert": "command",
		"command": []any{"/bin/sh", "-c", `printf '%s\n' "$@" > "$0.argv"; cat > "$0.stdin"`, out,
			"ip=%(source.ip)s", "rating=%(f5.asm.violation_rating)s", "%(no.such)s", "100%%", "$(touch " + dir + "/pwned)"},
		"pipe_match_json": true,
	}, Env{})
	al := testAlert(t)
	al.Matches = append(al.Matches, Match{"n": json.Number("2")})
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send() error: %v", err)
	}
	argv, err := os.ReadFile(out + ".argv")
	if err != nil {
		t.Fatal(err)
	}
	want := "ip=10.0.0.1\nrating=4\n<MISSING VALUE>\n100%\n$(touch " + dir + "/pwned)\n"
	if diff := cmp.Diff(want, string(argv)); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("an argument was run by a shell")
	}
	stdin, err := os.ReadFile(out + ".stdin")
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	if err := json.Unmarshal(stdin, &got); err != nil || !bytes.HasSuffix(stdin, []byte("\n")) {
		t.Fatalf("stdin %q is not a JSON array and a newline: %v", stdin, err)
	}
	wantJSON := []any{jsonBody(t, []byte(asmDoc)), map[string]any{"n": 2.0}}
	if diff := cmp.Diff(wantJSON, got); diff != "" {
		t.Errorf("stdin matches (-want +got):\n%s", diff)
	}
}

func TestCommandPipeAlertText(t *testing.T) {
	out := filepath.Join(t.TempDir(), "body")
	a := newOne(t, Options{
		"alert": "command", "command": []any{"/bin/sh", "-c", `cat > "$0"`, out}, "pipe_alert_text": true,
		"alert_text": "日本語 {0}", "alert_text_args": []any{"source.ip"}, "alert_text_type": "alert_text_only",
	}, Env{})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatalf("Send() error: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "日本語 10.0.0.1\n\n" {
		t.Errorf("stdin = %q, want the rendered body", b)
	}
}

func TestCommandNonZeroExit(t *testing.T) {
	var logs syncBuffer
	env := Env{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	argv := []any{"/bin/sh", "-c", "echo 'first problem' >&2; echo second >&2; exit 3"}
	a := newOne(t, Options{"alert": "command", "command": argv}, env)
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Errorf("Send() = %v, want nil: fail_on_non_zero_exit defaults to false as in ElastAlert", err)
	}
	if l := logs.String(); !strings.Contains(l, "exit_status=3") || !strings.Contains(l, `stderr="first problem"`) {
		t.Errorf("log %q lacks the exit status and stderr's first line", l)
	}
	a = newOne(t, Options{"alert": "command", "command": argv, "fail_on_non_zero_exit": true}, env)
	err := a.Send(context.Background(), testAlert(t))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "exit status 3: first problem") {
		t.Errorf("Send() = %v, want a retryable error with the exit status and stderr", err)
	}
}

func TestCommandTimeoutKills(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// The shell starts a child that would outlive it; the whole process
	// group is killed.
	a := newOne(t, Options{"alert": "command", "command": []any{"/bin/sh", "-c", `sleep 300 & echo $! > "$0"; wait`, pidFile},
		"command_timeout": "300ms", "fail_on_non_zero_exit": true}, Env{})
	start := time.Now()
	err := a.Send(context.Background(), testAlert(t))
	if err == nil || !strings.Contains(err.Error(), "killed after 300ms") {
		t.Fatalf("Send() = %v, want a kill after the timeout", err)
	}
	if el := time.Since(start); el > 60*time.Second {
		t.Errorf("Send() returned after %s", el)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	proc := "/proc/" + strings.TrimSpace(string(raw))
	waitFor(t, "the child to be gone", 30*time.Second, func() bool {
		st, err := os.ReadFile(proc + "/stat")
		// gone, or a zombie waiting for init
		return err != nil || strings.Contains(string(st), ") Z ")
	})
}

func TestCommandMissingProgramIsPermanent(t *testing.T) {
	a := newOne(t, Options{"alert": "command", "command": []any{"/nonexistent/notify"}}, Env{})
	if err := a.Send(context.Background(), testAlert(t)); !IsPermanent(err) {
		t.Errorf("Send() = %v, want a permanent error", err)
	}
}

func TestPercentFormat(t *testing.T) {
	m := decode(t, asmDoc)
	for in, want := range map[string]string{
		"%(source.ip)s":          "10.0.0.1",
		"a%(num_hits)d b":        "a3 b",
		"%(x)s":                  "-",
		"50%":                    "50%",
		"%%(source.ip)s":         "%(source.ip)s",
		"%(source.ip":            "%(source.ip",
		"%(source.ip)q":          "%(source.ip)q",
		"%(f5.asm.attack_type)s": "SQL-Injection",
	} {
		if got := percentFormat(in, m, "-"); got != want {
			t.Errorf("percentFormat(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDebugLogs(t *testing.T) {
	var logs syncBuffer
	a := newOne(t, Options{"alert": "debug", "alert_subject": "S {0}", "alert_subject_args": []any{"source.ip"}},
		Env{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := a.Send(context.Background(), testAlert(t)); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); !strings.Contains(l, "level=INFO") || !strings.Contains(l, `subject="S 10.0.0.1"`) || !strings.Contains(l, "body=") {
		t.Errorf("debug log %q lacks the subject and body at INFO", l)
	}
}
