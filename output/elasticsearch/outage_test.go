package elasticsearch

import (
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/estest"
)

// relay accepts on l and copies bytes both ways to target until l is
// closed. It makes the output's address unreachable (nothing listens) and
// then reachable (the real node behind it) without restarting a node.
func relay(t *testing.T, l net.Listener, target string) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(u, c); u.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

// TestOutageIsLoggedOnceAndItsEnd: while nothing listens at the address the
// output spools and says so once; when the real node is reachable there,
// it logs "available again" with the outage's length and the documents
// spooled, then "spool replayed" with the documents replayed.
func TestOutageIsLoggedOnceAndItsEnd(t *testing.T) {
	url := estest.URL(t)
	target := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	if i := strings.IndexByte(target, '@'); i >= 0 {
		target = target[i+1:]
	}
	target = strings.TrimSuffix(target, "/")
	f := newFixture(t, url)
	addr := closedPort(t)
	f.cfg.Addresses = []string{strings.Replace(url, target, addr, 1)}
	f.cfg.SpoolAfter = 200 * time.Millisecond
	var logs syncBuffer
	o, err := New(f.cfg, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		write(t, o, flowBatch(i*1000, 1000, day))
	}
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(o.m.spooled) < 5000 {
		if err := o.Flush(t.Context()); err != nil { // seals the open segment after flush_interval
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("spooled %v of 5000 documents with the address refusing; log:\n%s", testutil.ToFloat64(o.m.spooled), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // several more failed attempts: still one line
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	relay(t, l, target)
	waitDelivered(t, o, time.Minute)
	closeDelivered(t, o)
	seqCheck(t, url, f.index(day), 5000)

	log := logs.String()
	if n := strings.Count(log, `msg="elasticsearch unavailable; documents wait in the spool"`); n != 1 {
		t.Errorf("%d \"unavailable\" lines for one outage, want 1; log:\n%s", n, log)
	}
	m := regexp.MustCompile(`msg="elasticsearch available again" component=\S+ unavailable_for=(\S+) documents_spooled=(\d+)`).FindAllStringSubmatch(log, -1)
	if len(m) != 1 {
		t.Fatalf("%d \"available again\" lines, want 1; log:\n%s", len(m), log)
	}
	if d, err := time.ParseDuration(m[0][1]); err != nil || d < 500*time.Millisecond {
		t.Errorf("unavailable_for=%s, want a duration of 500ms or more (the test waited that long)", m[0][1])
	}
	if m[0][2] != "5000" {
		t.Errorf("documents_spooled=%s, want 5000", m[0][2])
	}
	if !regexp.MustCompile(`msg="spool replayed: every document that waited is delivered" component=\S+ documents_replayed=5000 took=`).MatchString(log) {
		t.Errorf("no \"spool replayed\" line with documents_replayed=5000; log:\n%s", log)
	}
}

func TestOutageStartsOnlyWhenNothingIsTaken(t *testing.T) {
	var u outage
	t0 := time.Unix(1000, 0)
	if u.failed(t0, 10, false) {
		t.Error("failed(partly taken) started an outage")
	}
	if !u.failed(t0, 10, true) {
		t.Error("failed(nothing taken) did not start an outage")
	}
	if u.failed(t0.Add(time.Second), 5, false) || u.failed(t0.Add(time.Second), 5, true) {
		t.Error("a second failure started another outage")
	}
	ended, took, spooled, done, _, _ := u.delivered(t0.Add(3*time.Second), 0, 20)
	if !ended || took != 3*time.Second || spooled != 20 || done {
		t.Errorf("delivered() = ended %v took %v spooled %d replay done %v, want true 3s 20 false", ended, took, spooled, done)
	}
	_, _, _, done, rt, n := u.delivered(t0.Add(5*time.Second), 20, 0)
	if !done || rt != 2*time.Second || n != 20 {
		t.Errorf("delivered(spool empty) = replay done %v took %v replayed %d, want true 2s 20", done, rt, n)
	}
}
