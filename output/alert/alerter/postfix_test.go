package alerter

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postfix is a private Postfix instance for one test: its own
// config_directory, queue and data directories under a temp dir, smtpd on a
// free port of 127.0.0.1 with STARTTLS (a certificate of the test's CA), and
// virtual(8) delivery of example.test to Maildirs the test reads back. It
// never touches the system's /etc/postfix or a system service.
type postfix struct {
	dir, conf, mail string
	port            int // smtpd with STARTTLS
	smtpsPort       int // smtpd with implicit TLS (smtps)
}

// needPostfix skips (or, under CI=true, fails) when Postfix cannot run here.
func needPostfix(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("postfix")
	if err != nil {
		bin = "/usr/sbin/postfix"
		if _, err = os.Stat(bin); err != nil {
			unavailable(t, "postfix is not installed (scripts/test installs it: apt-get install postfix)")
		}
	}
	if os.Geteuid() != 0 {
		unavailable(t, "a private postfix instance needs root (postfix checks its directories' owners)")
	}
	return bin
}

func unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; the SMTP tests must run in CI", why)
	}
	t.Skipf("skipping: %s", why)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// postfixOptions selects the instance's extras.
type postfixOptions struct {
	// sasl enables SMTP AUTH (Cyrus SASL with a sasldb of these users),
	// only over TLS; unauthenticated clients are rejected.
	sasl map[string]string
}

func startPostfix(t *testing.T, ca *testCA, po postfixOptions) *postfix {
	t.Helper()
	bin := needPostfix(t)
	pu, err := user.Lookup("postfix")
	if err != nil {
		unavailable(t, "the postfix user does not exist ("+err.Error()+")")
	}
	uid, _ := strconv.Atoi(pu.Uid)
	gid, _ := strconv.Atoi(pu.Gid)

	dir := t.TempDir()
	p := &postfix{dir: dir, conf: filepath.Join(dir, "conf"), mail: filepath.Join(dir, "mail"), port: freePort(t), smtpsPort: freePort(t)}
	for _, d := range []string{p.conf, filepath.Join(dir, "queue"), filepath.Join(dir, "data"), p.mail} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// postfix's daemons run as the postfix user: they must reach the
	// instance's directories.
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if d == os.TempDir() {
			break
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{filepath.Join(dir, "data"), p.mail} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	certPEM, keyPEM, _ := ca.issue(t, 10)
	cert := writeFile(t, p.conf, "server.pem", certPEM)
	key := writeFile(t, p.conf, "server.key", keyPEM)
	caFile := writeFile(t, p.conf, "ca.pem", ca.certPEM)
	writeFile(t, p.conf, "vmailbox", []byte("ops@example.test ops/\ncc@example.test cc/\nbcc@example.test bcc/\n"))

	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = example.test
virtual_mailbox_base = %[2]s
virtual_mailbox_maps = texthash:%[3]s/vmailbox
virtual_uid_maps = static:%[4]d
virtual_gid_maps = static:%[5]d
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
smtputf8_enable = yes
biff = no
smtpd_tls_cert_file = %[6]s
smtpd_tls_key_file = %[7]s
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_tls_ask_ccert = yes
smtpd_tls_CAfile = %[8]s
`, dir, p.mail, p.conf, uid, gid, cert, key, caFile)
	if po.sasl != nil {
		saslDir := filepath.Join(p.conf, "sasl")
		if err := os.MkdirAll(saslDir, 0o755); err != nil {
			t.Fatal(err)
		}
		db := filepath.Join(saslDir, "sasldb2")
		writeFile(t, saslDir, "smtpd.conf", []byte("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: "+db+"\nmech_list: PLAIN LOGIN\n"))
		for u, pw := range po.sasl {
			cmd := exec.Command("saslpasswd2", "-f", db, "-c", "-p", "-u", "example.test", u)
			cmd.Stdin = strings.NewReader(pw)
			if out, err := cmd.CombinedOutput(); err != nil {
				unavailable(t, fmt.Sprintf("saslpasswd2 (Debian sasl2-bin) could not make the SASL user database: %v: %s", err, out))
			}
		}
		if err := os.Chown(db, uid, gid); err != nil {
			t.Fatal(err)
		}
		mainCF += fmt.Sprintf(`smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = %s
smtpd_sasl_local_domain = example.test
smtpd_tls_auth_only = yes
smtpd_client_restrictions = permit_sasl_authenticated, reject
`, saslDir)
	}
	writeFile(t, p.conf, "main.cf", []byte(mainCF))
	writeFile(t, p.conf, "master.cf", []byte(fmt.Sprintf(`%d      inet  n       -       n       -       -       smtpd
%d      inet  n       -       n       -       -       smtpd -o smtpd_tls_wrappermode=yes
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
`, p.port, p.smtpsPort)))
	for _, f := range []string{"main.cf", "master.cf", "vmailbox", "server.pem", "ca.pem"} {
		if err := os.Chmod(filepath.Join(p.conf, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	run := func(args ...string) error {
		out, err := exec.Command(bin, append([]string{"-c", p.conf}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("postfix %s: %v: %s%s", strings.Join(args, " "), err, out, p.log())
		}
		return nil
	}
	if err := run("start"); err != nil {
		// check says what is wrong with the instance (start only logs it)
		t.Fatal(err, run("check"))
	}
	t.Cleanup(func() { p.stop(t, run) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix did not listen on %s: %v%s", p.addr(), err, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func (p *postfix) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// log is the instance's mail log, for failure messages.
func (p *postfix) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return "\nmaillog:\n" + string(b)
}

// stop stops the instance and waits until its master process is gone
// (killing it, by its pid, if it does not go).
func (p *postfix) stop(t *testing.T, run func(...string) error) {
	pidRaw, _ := os.ReadFile(filepath.Join(p.dir, "queue", "pid", "master.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidRaw)))
	if err := run("stop"); err != nil {
		t.Log(err)
	}
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Logf("postfix master %d still running after stop; killing it", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMail waits for the messages of a mailbox to arrive and returns them.
func (p *postfix) waitMail(t *testing.T, box string, n int) [][]byte {
	t.Helper()
	newDir := filepath.Join(p.mail, box, "new")
	deadline := time.Now().Add(60 * time.Second)
	for {
		entries, _ := os.ReadDir(newDir)
		if len(entries) >= n {
			var out [][]byte
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(newDir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages arrived in %s%s", len(entries), n, box, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mailCount is how many messages a mailbox holds now.
func (p *postfix) mailCount(box string) int {
	entries, _ := os.ReadDir(filepath.Join(p.mail, box, "new"))
	return len(entries)
}
