// Package mailtest holds test helpers for e-mail: a certificate authority
// made for one test ([NewCA]) and a private Postfix instance
// ([StartPostfix]) that receives on a free port of 127.0.0.1 (STARTTLS, and
// implicit TLS on a second port) and delivers example.test to Maildirs the
// test reads back ([Postfix.WaitMail]).
//
// It is imported only by tests (the alerter package's and cmd/sluice's
// end-to-end tests); sluice itself never imports it. A private instance
// has its own config, queue and data directories under the test's temp dir
// and never touches the system's /etc/postfix or a system service. It needs
// Postfix installed and root; without them the test is skipped with the
// reason (and fails under CI=true, where the SMTP tests must run).
package mailtest
