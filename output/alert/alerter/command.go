package alerter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/sluicelab/sluice/internal/obs"
)

var commandKeys = []string{"command", "pipe_match_json", "pipe_alert_text", "fail_on_non_zero_exit", "command_timeout"}

// commandAlerter runs a program with an argv list (never a shell), with
// %(field.path)s substituted from the first match.
type commandAlerter struct {
	r         *Renderer
	argv      []string
	pipeJSON  bool
	pipeText  bool
	failOnErr bool
	timeout   time.Duration
	missing   string
	logger    *slog.Logger
	limit     *obs.Limiter
}

func newCommand(o *opts, env Env) (Alerter, error) {
	c := &commandAlerter{logger: env.logger().With("alerter", "command"), limit: obs.NewLimiter(time.Minute)}
	switch v := o.m["command"].(type) {
	case nil:
		o.fail("command: missing; the command alerter needs the program and its arguments as a list, e.g. command: [/usr/local/bin/notify, \"%%(source.ip)s\"]")
	case string:
		o.fail("command: %s is a string; use a list; sluice runs no shell: command: [\"/path/to/program\", \"arg\"]", short(v))
	default:
		c.argv = o.strs("command")
		if len(c.argv) == 0 && len(o.errs) == 0 {
			o.fail("command: empty; name the program to run")
		}
	}
	c.pipeJSON = o.boolean("pipe_match_json", false)
	c.pipeText = o.boolean("pipe_alert_text", false)
	if c.pipeJSON && c.pipeText {
		o.fail("pipe_alert_text: set together with pipe_match_json; stdin can carry one of them: remove one")
	}
	c.failOnErr = o.boolean("fail_on_non_zero_exit", false)
	c.timeout = o.duration("command_timeout", 30*time.Second)
	c.missing = o.str("alert_missing_value", "<MISSING VALUE>")
	r, err := NewRenderer(o.m)
	if err != nil {
		o.errs = append(o.errs, err)
	}
	c.r = r
	if err := o.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *commandAlerter) Kind() string { return "command" }

func (c *commandAlerter) Send(ctx context.Context, a *Alert) error {
	m := first(a)
	argv := make([]string, len(c.argv))
	for i, s := range c.argv {
		argv[i] = percentFormat(s, m, c.missing)
	}
	var stdin []byte
	switch {
	case c.pipeJSON:
		b, err := marshal(a.Matches, false)
		if err != nil {
			return permanent(fmt.Errorf("command: matches as JSON: %w", err))
		}
		stdin = append(b, '\n')
	case c.pipeText:
		stdin = []byte(c.r.Body(a))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// The program's children are killed with it (a process group), and a
	// child that keeps stdout open does not hold Wait past WaitDelay.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	cmd.Stdout = io.Discard
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) {
		return permanent(fmt.Errorf("command %s: %w", argv[0], err))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("command %s: killed after %s: %w", argv[0], c.timeout, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		line, _, _ := bufio.NewReader(&stderr).ReadLine()
		if ok, suppressed := c.limit.Allow(a.Rule); ok {
			c.logger.Warn("alert command exited with an error", "rule", a.Rule, "command", argv[0],
				"exit_status", ee.ExitCode(), "stderr", string(line), "suppressed", suppressed)
		}
		if !c.failOnErr {
			return nil
		}
		return fmt.Errorf("command %s: exit status %d: %s", argv[0], ee.ExitCode(), line)
	}
	return fmt.Errorf("command %s: %w", argv[0], err)
}

// limitedWriter keeps the first n bytes and discards the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// percentFormat substitutes Python's %(name)s fields from the match (dotted
// paths allowed); "%%" is a percent sign; anything else stays as written.
func percentFormat(s string, m Match, missing string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			sb.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			sb.WriteByte('%')
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '(' {
			j := strings.IndexByte(s[i+2:], ')')
			if j >= 0 && i+2+j+1 < len(s) && strings.IndexByte("sdir", s[i+2+j+1]) >= 0 {
				name := s[i+2 : i+2+j]
				if v, ok := Lookup(m, name); ok && v != nil {
					sb.WriteString(pyStr(v))
				} else {
					sb.WriteString(missing)
				}
				i += 2 + j + 1
				continue
			}
		}
		sb.WriteByte('%')
	}
	return sb.String()
}
