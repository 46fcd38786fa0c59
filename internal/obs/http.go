package obs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves /metrics, /healthz and /readyz, and what Handle adds
// (the console's API). Every response carries the security headers
// (ContentSecurityPolicy, nosniff, no-referrer, DENY framing); Secure adds
// authentication and TLS.
type Server struct {
	ln     net.Listener
	srv    *http.Server
	mux    *http.ServeMux
	logger *slog.Logger
	status func() string
	tls    *tlsFiles
}

// Handle serves pattern (an http.ServeMux pattern) with h. Call it before
// Run.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// OnShutdown registers f to be called when Run stops serving (long-lived
// responses such as the live tail end themselves then).
func (s *Server) OnShutdown(f func()) { s.srv.RegisterOnShutdown(f) }

// Secure applies sec: it reads the bearer token file, checks the password
// hash and loads the certificate now, so that a problem fails at start.
// Call it before Run.
func (s *Server) Secure(sec Security) error {
	g, err := newGuard(sec)
	t, terr := loadTLS(sec.CertFile, sec.KeyFile)
	if err = errors.Join(err, terr); err != nil {
		return err
	}
	s.tls = t
	s.srv.Handler = secure(s.mux, g)
	if t != nil {
		s.srv.TLSConfig = t.config()
	}
	return nil
}

// TLS reports whether the server serves HTTPS.
func (s *Server) TLS() bool { return s.tls != nil }

// ReloadTLS reads the certificate and key files again (on SIGHUP); on an
// error the previous certificate stays in use.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return nil
	}
	return s.tls.reload()
}

// SetStatus adds f's text (one line per component, e.g. an output that is
// spooling) to the /readyz answer. Call it before Run.
func (s *Server) SetStatus(f func() string) { s.status = f }

// NewServer binds addr now (so a bad address fails at start) and serves once
// Run is called. ready reports nil when sluice can accept and deliver data.
// With pprof, /debug/pprof/ is served too (for profiling; keep the listener on localhost).
func NewServer(addr string, gatherer prometheus.Gatherer, ready func() error, pprofOn bool, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen: cannot listen on %s: %w; choose a free host:port", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	s := &Server{}
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		var detail string
		if s.status != nil {
			detail = s.status()
		}
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error()+"\n"+detail, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n" + detail))
	})
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.ln = ln
	s.mux = mux
	s.srv = &http.Server{Handler: secure(mux, nil), ReadHeaderTimeout: 5 * time.Second}
	s.logger = logger
	return s, nil
}

// Addr returns the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			errc <- s.srv.ServeTLS(s.ln, "", "")
			return
		}
		errc <- s.srv.Serve(s.ln)
	}()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(sctx); err != nil {
			_ = s.srv.Close() // streams that did not end in time
		}
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	}
}
