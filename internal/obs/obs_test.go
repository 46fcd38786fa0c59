package obs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(time.Hour)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first Allow(a) = false")
	}
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); ok {
			t.Fatal("repeated Allow(a) within the interval = true")
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("Allow(b) = false: keys must be independent")
	}
	l.last["a"] = time.Now().Add(-2 * time.Hour)
	ok, sup := l.Allow("a")
	if !ok || sup != 3 {
		t.Fatalf("Allow(a) after the interval = %v, suppressed %d; want true, 3", ok, sup)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), `"msg":"shown"`) {
		t.Fatalf("log output = %q", buf.String())
	}
	if _, err := NewLogger(&buf, "loud", "text"); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("NewLogger(bad level) error = %v, want one naming log.level", err)
	}
	if _, err := NewLogger(&buf, "info", "xml"); err == nil || !strings.Contains(err.Error(), "log.format") {
		t.Fatalf("NewLogger(bad format) error = %v, want one naming log.format", err)
	}
}

func TestServerEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	var readyErr error = errors.New("warming up")
	s, err := NewServer("127.0.0.1:0", reg, func() error { return readyErr }, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "warming up") {
		t.Errorf("/readyz while not ready = %d %q", code, body)
	}
	readyErr = nil
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "sluice_test_total 1") {
		t.Errorf("/metrics = %d, body lacks the counter", code)
	}
	if code, _ := get("/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ with pprof on = %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if _, err := NewServer("256.0.0.1:1", reg, func() error { return nil }, false, nil); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("NewServer(bad addr) error = %v, want one naming http.listen", err)
	}
}

func TestPeakRSS(t *testing.T) {
	if PeakRSS() <= 0 {
		t.Fatal("PeakRSS() <= 0 on Linux")
	}
}
