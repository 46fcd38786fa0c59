package estest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeouts of a private node's life cycle.
const (
	greenTimeout = 120 * time.Second // start or restart until health is green
	stopTimeout  = 30 * time.Second  // SIGTERM until SIGKILL
	goneTimeout  = 10 * time.Second  // after SIGKILL or exit, until the group and port are gone
)

// Options configure a private node started with Start.
type Options struct {
	// Settings are extra node settings, passed as -E key=value. They override
	// Start's own (for example "xpack.security.enabled").
	Settings map[string]string
	// HeapMB is the JVM heap in MiB; 0 means 512.
	HeapMB int
	// ConfigFiles are written into the node's config directory before it
	// starts, readable by the node's user only: certificates and keys the
	// Settings name (relative paths such as "certs/node.pem" are resolved
	// against that directory), the file realm's "users" and "users_roles".
	// Names must be local paths; a file the distribution ships is replaced.
	ConfigFiles map[string][]byte
	// CACertPEM is the CA that signed the node's HTTP certificate. When set,
	// the node is reached over https (the Settings must turn on
	// xpack.security.http.ssl) and its certificate is verified with it.
	CACertPEM []byte
	// Username and Password, when set, are sent as basic auth by Start's
	// health wait, by Node.Client, and by Do and the helpers built on it for
	// requests to this node (the Settings must turn on xpack.security and
	// ConfigFiles define the user).
	Username, Password string
}

// Node is a private single-node Elasticsearch cluster started by Start, or
// one member of a cluster started by StartCluster. Its methods must be
// called from the test's goroutine.
type Node struct {
	home     string // the distribution
	base     string // config/, data/, logs/, tmp/ of this node
	url      string
	httpPort int
	args     []string
	env      []string
	cred     *syscall.Credential // nil unless the test runs as root

	// tlsClient trusts Options.CACertPEM and sends no credentials;
	// client adds Options.Username's. Both are the package's client for a
	// node without them.
	tlsClient *http.Client
	client    *http.Client

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Start starts a private single-node cluster from the distribution in
// SLUICE_TEST_ES_HOME on free 127.0.0.1 ports, with its own data directory,
// and waits until its health is green. Without the distribution (or, as root,
// without the user SLUICE_TEST_ES_USER, default sluicees, that it runs as,
// since Elasticsearch refuses to run as root) the test is skipped, or fails
// under CI=true. scripts/es-node/ensure provides both. A node that is not
// green within two minutes fails the test with the tail of its log. Start
// registers a cleanup that stops the node and removes its directories.
func Start(t testing.TB, opt Options) *Node {
	t.Helper()
	n := newNode(t, opt, 0)
	n.start(t)
	return n
}

// newNode prepares a node as Start does, without starting it, on
// transportPort (a free one when 0).
func newNode(t testing.TB, opt Options, transportPort int) *Node {
	t.Helper()
	home := os.Getenv("SLUICE_TEST_ES_HOME")
	if home == "" {
		Unavailable(t, "SLUICE_TEST_ES_HOME is not set; run ./scripts/test, or export the directory that scripts/es-node/ensure prints")
	}
	if _, err := os.Stat(filepath.Join(home, "bin", "elasticsearch")); err != nil {
		Unavailable(t, fmt.Sprintf("SLUICE_TEST_ES_HOME=%s holds no Elasticsearch distribution (%v); run scripts/es-node/ensure", home, err))
	}
	javaHome, err := findJavaHome()
	if err != nil {
		Unavailable(t, err.Error())
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		name := os.Getenv("SLUICE_TEST_ES_USER")
		if name == "" {
			name = "sluicees"
		}
		cred, err = credential(name)
		if err != nil {
			Unavailable(t, fmt.Sprintf("running as root, and Elasticsearch refuses to: %v; run scripts/es-node/ensure as root, which creates the user", err))
		}
	}

	// t.TempDir is private to root when root runs the test, so the node's
	// user could not enter it: use a directory of our own and hand it over.
	base, err := os.MkdirTemp("", "sluice-es-")
	if err != nil {
		t.Fatalf("estest.Start: %v", err)
	}
	n := &Node{home: home, base: base, cred: cred, tlsClient: client, client: client}
	t.Cleanup(func() {
		n.stop(t, stopTimeout)
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("estest: removing %s: %v", base, err)
		}
	})
	if err := n.prepareDirs(opt.ConfigFiles); err != nil {
		t.Fatalf("estest.Start: %v", err)
	}

	httpPort, err := freePort()
	if err != nil {
		t.Fatalf("estest.Start: %v", err)
	}
	if transportPort == 0 {
		if transportPort, err = freePort(); err != nil {
			t.Fatalf("estest.Start: %v", err)
		}
	}
	n.httpPort = httpPort
	n.url = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	if opt.CACertPEM != nil || opt.Username != "" {
		if err := n.secure(opt); err != nil {
			t.Fatalf("estest.Start: %v", err)
		}
		registerClient(n.url, n.client)
		t.Cleanup(func() { unregisterClient(n.url) })
	}

	settings := map[string]string{
		"discovery.type":         "single-node",
		"xpack.security.enabled": "false",
		"http.host":              "127.0.0.1",
		"transport.host":         "127.0.0.1",
		"http.port":              strconv.Itoa(httpPort),
		"transport.port":         strconv.Itoa(transportPort),
		"path.data":              filepath.Join(base, "data"),
		"path.logs":              filepath.Join(base, "logs"),
		// Test machines have full disks now and then; the node must not
		// turn indices read-only because of it.
		"cluster.routing.allocation.disk.threshold_enabled": "false",
		// Tests delete their indices by pattern.
		"action.destructive_requires_name": "false",
	}
	maps.Copy(settings, opt.Settings)
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		n.args = append(n.args, "-E", k+"="+settings[k])
	}
	heap := opt.HeapMB
	if heap == 0 {
		heap = 512
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JAVA_HOME=") && !strings.HasPrefix(kv, "JAVA_TOOL_OPTIONS=") {
			n.env = append(n.env, kv)
		}
	}
	n.env = append(n.env,
		"HOME="+base,
		"ES_JAVA_HOME="+javaHome,
		"ES_PATH_CONF="+filepath.Join(base, "config"),
		"ES_TMPDIR="+filepath.Join(base, "tmp"),
		fmt.Sprintf("ES_JAVA_OPTS=-Xms%dm -Xmx%dm", heap, heap),
	)

	return n
}

// URL returns the node's base URL, http://127.0.0.1:PORT, or
// https://127.0.0.1:PORT with Options.CACertPEM.
func (n *Node) URL() string { return n.url }

// Client returns an HTTP client for the node: it trusts Options.CACertPEM and
// authenticates as Options.Username unless a request carries its own
// Authorization header. Do uses it for URLs of this node.
func (n *Node) Client() *http.Client { return n.client }

// DoAs is Do with authorization as the request's Authorization header
// ("Basic ...", "ApiKey ..."; none when empty) instead of the node's user.
func (n *Node) DoAs(t testing.TB, authorization, method, url, body string) (status int, respBody []byte) {
	t.Helper()
	return do(t, n.tlsClient, "DoAs", authorization, method, url, body)
}

// secure sets up https and credentials for the node's clients.
func (n *Node) secure(opt Options) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if opt.CACertPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(opt.CACertPEM) {
			return errors.New("no PEM certificate in Options.CACertPEM")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		n.url = "https://127.0.0.1:" + strconv.Itoa(n.httpPort)
	}
	n.tlsClient = &http.Client{Timeout: client.Timeout, Transport: tr}
	var rt http.RoundTripper = tr
	if opt.Username != "" {
		rt = basicAuth{user: opt.Username, password: opt.Password, next: tr}
	}
	n.client = &http.Client{Timeout: client.Timeout, Transport: rt}
	return nil
}

// basicAuth adds basic auth to requests without an Authorization header.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		return b.next.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper must not modify the request
	req.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(req)
}

// Stop stops the node gracefully (SIGTERM, SIGKILL after 30 s) and returns
// once all its processes are gone and its HTTP port is closed. The data
// stays for Restart.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	n.stop(t, stopTimeout)
}

// Kill kills the node's processes with SIGKILL, as a crash or an OOM killer
// would, and returns once they are gone and its HTTP port is closed.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	n.stop(t, 0)
}

// Restart stops the node if it runs, starts it again on the same ports with
// the same data and waits until its health is green.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.stop(t, stopTimeout)
	n.start(t)
}

func (n *Node) start(t testing.TB) {
	t.Helper()
	n.waitGreen(t, n.launch(t))
}

// launch starts the node's processes and returns when they were started.
func (n *Node) launch(t testing.TB) time.Time {
	t.Helper()
	logPath := filepath.Join(n.base, "logs", "console.log")
	console, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("estest: %v", err)
	}
	defer console.Close()
	cmd := exec.Command(filepath.Join(n.home, "bin", "elasticsearch"), n.args...)
	cmd.Dir = n.base
	cmd.Env = n.env
	cmd.Stdout = console
	cmd.Stderr = console
	// Its own process group, so that signals reach the launcher JVM and the
	// server JVM it spawns alike. Pdeathsig kills the launcher if the test
	// binary dies without cleanup (a -timeout panic, SIGKILL); the server
	// exits when its launcher does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: n.cred, Pdeathsig: syscall.SIGKILL}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("estest: starting %s: %v", cmd.Path, err)
	}
	n.cmd = cmd
	n.done = make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status shows in console.log
		close(n.done)
	}()
	return started
}

// waitGreen waits until the node's health is green.
func (n *Node) waitGreen(t testing.TB, started time.Time) {
	t.Helper()
	logPath := filepath.Join(n.base, "logs", "console.log")
	// Connections to the node's previous run are dead.
	client.CloseIdleConnections()
	n.tlsClient.CloseIdleConnections()
	n.client.CloseIdleConnections()
	deadline := time.Now().Add(greenTimeout)
	probe := &http.Client{Timeout: 5 * time.Second, Transport: n.client.Transport}
	last := "no answer"
	for {
		select {
		case <-n.done:
			t.Fatalf("estest: the node exited before it was ready; tail of %s:\n%s", logPath, tail(logPath, 40))
		default:
		}
		resp, err := probe.Get(n.url + "/_cluster/health?wait_for_status=green&timeout=1s")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("estest: node %s green after %s", n.url, time.Since(started).Round(100*time.Millisecond))
				return
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("estest: the node at %s was not green within %s (last health check: %s); tail of %s:\n%s", n.url, greenTimeout, last, logPath, tail(logPath, 40))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// stop sends SIGTERM, or SIGKILL at once when grace is 0, and escalates to
// SIGKILL after grace. It does nothing when the node does not run.
func (n *Node) stop(t testing.TB, grace time.Duration) {
	t.Helper()
	if n.cmd == nil {
		return
	}
	pgid := n.cmd.Process.Pid
	sig := syscall.SIGTERM
	if grace == 0 {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-pgid, sig)
	if grace > 0 {
		select {
		case <-n.done:
		case <-time.After(grace):
			t.Logf("estest: the node did not stop within %s of SIGTERM; killing it", grace)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
	// The launcher exits when the server JVM does; a server left behind by a
	// killed launcher is caught by the group checks below.
	select {
	case <-n.done:
	case <-time.After(goneTimeout):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-n.done
	}
	n.cmd = nil
	deadline := time.Now().Add(goneTimeout)
	for groupAlive(pgid) || portOpen(n.httpPort) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatalf("estest: the node (process group %d, port %d) is still there %s after it was stopped", pgid, n.httpPort, goneTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// prepareDirs creates config/ (a copy of the distribution's, which the node
// writes its keystore into, with files added or replaced), data/, logs/ and
// tmp/ under base and gives them to the node's user.
func (n *Node) prepareDirs(files map[string][]byte) error {
	for _, d := range []string{"data", "logs", "tmp"} {
		if err := os.Mkdir(filepath.Join(n.base, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.CopyFS(filepath.Join(n.base, "config"), os.DirFS(filepath.Join(n.home, "config"))); err != nil {
		return fmt.Errorf("copying the node's config: %w", err)
	}
	// The stock jvm.options write the GC log, error files and heap dumps
	// relative to the working directory; keep them in base.
	jvmOptions := filepath.Join(n.base, "config", "jvm.options")
	b, err := os.ReadFile(jvmOptions)
	if err != nil {
		return err
	}
	b = bytes.ReplaceAll(b, []byte("=logs/"), []byte("="+filepath.Join(n.base, "logs")+"/"))
	b = bytes.ReplaceAll(b, []byte("HeapDumpPath=data"), []byte("HeapDumpPath="+filepath.Join(n.base, "data")))
	if err := os.WriteFile(jvmOptions, b, 0o644); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("config file %q (Options.ConfigFiles) is not a path inside the config directory", name)
		}
		path := filepath.Join(n.base, "config", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		// Keys and password hashes: for the node's user only (it gets the
		// whole tree below).
		if err := os.WriteFile(path, files[name], 0o600); err != nil {
			return err
		}
		if err := os.Chmod(path, 0o600); err != nil { // WriteFile keeps a replaced file's mode
			return err
		}
	}
	if n.cred == nil {
		return nil
	}
	if err := os.Chmod(n.base, 0o755); err != nil {
		return err
	}
	return filepath.WalkDir(n.base, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(n.cred.Uid), int(n.cred.Gid))
	})
}

// findJavaHome returns ES_JAVA_HOME, or the home of the java on PATH
// (the distribution has no bundled JDK and ignores JAVA_HOME).
func findJavaHome() (string, error) {
	if h := os.Getenv("ES_JAVA_HOME"); h != "" {
		return h, nil
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("no java on PATH for Elasticsearch (%v); run scripts/es-node/ensure, which installs it", err)
	}
	real, err := filepath.EvalSymlinks(java)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", java, err)
	}
	return filepath.Dir(filepath.Dir(real)), nil
}

func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	// No Groups: the node gets no supplementary groups (root's included).
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("picking a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// groupAlive reports whether a process of group pgid still runs. Zombies do
// not count: the server JVM is reparented when the launcher exits, and
// whoever inherits it may reap it late. Without /proc it falls back to kill 0,
// which counts zombies.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			return true
		}
	}
	return false
}

// tail returns the last n lines of the file at path, or why it cannot.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
