package mailtest

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

// Postfix is a private Postfix instance for one test: its own
// config_directory, queue and data directories under a temp dir, smtpd on a
// free port of 127.0.0.1 with STARTTLS (a certificate of the test's CA), and
// virtual(8) delivery of example.test to Maildirs the test reads back. It
// never touches the system's /etc/postfix or a system service.
//
// The mailboxes are ops@, cc@ and bcc@example.test (boxes "ops", "cc" and
// "bcc"); mail to other addresses of example.test bounces.
type Postfix struct {
	Port      int // smtpd with STARTTLS offered (required for SASL AUTH)
	SMTPSPort int // smtpd with implicit TLS (smtps)

	dir, conf, mail string
}

// needPostfix skips (or, under CI=true, fails) when Postfix cannot run here.
func needPostfix(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("postfix")
	if err != nil {
		bin = "/usr/sbin/postfix"
		if _, err = os.Stat(bin); err != nil {
			Unavailable(t, "postfix is not installed (scripts/test installs it: apt-get install postfix)")
		}
	}
	if os.Geteuid() != 0 {
		Unavailable(t, "a private postfix instance needs root (postfix checks its directories' owners)")
	}
	return bin
}

// Unavailable skips the test with the reason, or fails it under CI=true
// (where the SMTP tests must run).
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; the SMTP tests must run in CI", why)
	}
	t.Skipf("skipping: %s", why)
}

// FreePort is a TCP port of 127.0.0.1 free at the time of the call: a port
// where nothing listens.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Options selects the instance's extras.
type Options struct {
	// SASL enables SMTP AUTH (Cyrus SASL with a sasldb of these users and
	// passwords, in the realm example.test), only over TLS;
	// unauthenticated clients are rejected.
	SASL map[string]string
}

// StartPostfix starts a private instance with a server certificate of ca
// and waits until it listens; it is stopped when the test ends. It skips
// the test (fails it under CI=true) when Postfix cannot run here.
func StartPostfix(t testing.TB, ca *CA, po Options) *Postfix {
	t.Helper()
	bin := needPostfix(t)
	pu, err := user.Lookup("postfix")
	if err != nil {
		Unavailable(t, "the postfix user does not exist ("+err.Error()+")")
	}
	uid, _ := strconv.Atoi(pu.Uid)
	gid, _ := strconv.Atoi(pu.Gid)

	dir := t.TempDir()
	p := &Postfix{dir: dir, conf: filepath.Join(dir, "conf"), mail: filepath.Join(dir, "mail"), Port: FreePort(t), SMTPSPort: FreePort(t)}
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
	// Files the daemons read as the postfix user are 0644; the key and
	// the SASL config stay 0600.
	put := func(dir, name string, data []byte, perm os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil { // past the umask
			t.Fatal(err)
		}
		return path
	}
	certPEM, keyPEM, _ := ca.Issue(t, 10)
	cert := put(p.conf, "server.pem", certPEM, 0o644)
	key := put(p.conf, "server.key", keyPEM, 0o600)
	caFile := ca.WriteCert(t, p.conf, "ca.pem")
	put(p.conf, "vmailbox", []byte("ops@example.test ops/\ncc@example.test cc/\nbcc@example.test bcc/\n"), 0o644)

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
	if po.SASL != nil {
		saslDir := filepath.Join(p.conf, "sasl")
		if err := os.MkdirAll(saslDir, 0o755); err != nil {
			t.Fatal(err)
		}
		db := filepath.Join(saslDir, "sasldb2")
		put(saslDir, "smtpd.conf", []byte("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: "+db+"\nmech_list: PLAIN LOGIN\n"), 0o600)
		for u, pw := range po.SASL {
			cmd := exec.Command("saslpasswd2", "-f", db, "-c", "-p", "-u", "example.test", u)
			cmd.Stdin = strings.NewReader(pw)
			if out, err := cmd.CombinedOutput(); err != nil {
				Unavailable(t, fmt.Sprintf("saslpasswd2 (Debian sasl2-bin) could not make the SASL user database: %v: %s", err, out))
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
	put(p.conf, "main.cf", []byte(mainCF), 0o644)
	put(p.conf, "master.cf", []byte(fmt.Sprintf(`%d      inet  n       -       n       -       -       smtpd
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
`, p.Port, p.SMTPSPort)), 0o644)
	run := func(args ...string) error {
		out, err := exec.Command(bin, append([]string{"-c", p.conf}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("postfix %s: %v: %s%s", strings.Join(args, " "), err, out, p.Log())
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
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix did not listen on %s: %v%s", p.Addr(), err, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// Addr is the STARTTLS listener's host:port.
func (p *Postfix) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Log is the instance's mail log, preceded by a newline and a title: for
// failure messages.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return "\nmaillog:\n" + string(b)
}

// stop stops the instance and waits until its master process is gone
// (killing it, by its pid, if it does not go).
func (p *Postfix) stop(t testing.TB, run func(...string) error) {
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

// WaitMail waits (up to a minute) until a mailbox holds at least n messages
// and returns all it holds, raw, in the order of their file names.
func (p *Postfix) WaitMail(t testing.TB, box string, n int) [][]byte {
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
			t.Fatalf("%d of %d messages arrived in %s%s", len(entries), n, box, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MailCount is how many messages a mailbox holds now.
func (p *Postfix) MailCount(box string) int {
	entries, _ := os.ReadDir(filepath.Join(p.mail, box, "new"))
	return len(entries)
}
