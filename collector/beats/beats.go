// Package beats receives documents from Elastic Beats (Filebeat,
// Packetbeat, Winlogbeat, Auditbeat, ...) over Lumberjack v2, the
// protocol of Logstash's beats input, with Elastic's go-lumber server.
//
// A lumberjack batch (window) is acknowledged only once every event of it
// is in the pipeline's input channel: sending blocks while the pipeline is
// full, which holds the acknowledgement back and the Beat with it. Each
// document becomes a KindBeats event whose Fields are the document's
// leaves by dotted path; Sysmon DNS query events (event ID 22) get the
// dns.* and process.* fields the DNS checks read (sysmon.go).
package beats

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-lumber/lj"
	lumberlog "github.com/elastic/go-lumber/log"
	v2 "github.com/elastic/go-lumber/server/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// Server is the Beats input. It implements pipeline.Source.
type Server struct {
	cfg     Config
	tlsConf *tls.Config
	ln      net.Listener
	index   event.IndexRef
	logger  *slog.Logger
	limiter *obs.Limiter
	m       *metrics
	open    atomic.Int64
	ready   atomic.Bool
	events  prometheus.Counter
}

// CountEvents sets the counter the documents accepted into the pipeline
// are added to (sluice_collector_events_total{protocol="beats"}), beside
// sluice_beats_events_total by Beat type; call it before Run.
func (s *Server) CountEvents(events prometheus.Counter) { s.events = events }

var _ pipeline.Source = (*Server)(nil)

// go-lumber logs every connection and error through a package-level
// logger (to the standard logger by default): silenced, sluice counts.
var quietLumber sync.Once

type discardLogger struct{}

func (discardLogger) Printf(string, ...interface{}) {}
func (discardLogger) Println(...interface{})        {}
func (discardLogger) Print(...interface{})          {}

// New validates cfg, loads the TLS files and binds the listen address.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	conf, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		return nil, errors.New("beats.listen: empty; set it (e.g. 0.0.0.0:5044) to turn the Beats input on")
	}
	idx, err := event.RegisterIndex(cfg.Index)
	if err != nil {
		return nil, fmt.Errorf("output.index.beats: %w", err)
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	quietLumber.Do(func() { lumberlog.Logger = discardLogger{} })
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("beats.listen: %w", err)
	}
	s := &Server{cfg: cfg, tlsConf: conf, ln: ln, index: idx, logger: logger.With("component", "collector/beats"),
		limiter: obs.NewLimiter(time.Minute)}
	s.m = newMetrics(reg, func() float64 { return float64(s.open.Load()) })
	return s, nil
}

// Name is the source's name.
func (s *Server) Name() string { return "beats" }

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Ready reports whether connections are being accepted.
func (s *Server) Ready() bool { return s.ready.Load() }

// TLS reports whether the input speaks TLS.
func (s *Server) TLS() bool { return s.tlsConf != nil }

func (s *Server) logLimited(key, msg string, args ...any) {
	if ok, n := s.limiter.Allow(key); ok {
		if n > 0 {
			args = append(args, "suppressed", n)
		}
		s.logger.Warn(msg, args...)
	}
}

// classify names why a connection's read failed (and logs the reasons
// worth a line, rate-limited).
func (s *Server) classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "eof"
	case errors.Is(err, errFrame):
		s.logLimited("framing", "beats connection closed", "err", err)
		return "framing"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	s.logLimited("conn_error", "beats connection failed", "err", err)
	return "error"
}

// closed accounts for a guarded connection that ended.
func (s *Server) closed(reason string) {
	s.open.Add(-1)
	s.m.closed.WithLabelValues(reason).Inc()
}

// Run serves until ctx is done, then closes the listener and every
// connection and returns once the workers have ended. Batches not yet
// wholly in out are not acknowledged: the Beats send them again. It
// never closes out.
func (s *Server) Run(ctx context.Context, out chan<- *event.Batch) error {
	ch := make(chan *lj.Batch, s.cfg.Workers)
	srv, err := v2.NewWithListener(&listener{Listener: s.ln, s: s},
		v2.Timeout(s.cfg.Timeout), v2.Channel(ch), v2.JSONDecoder(decodeRaw))
	if err != nil {
		_ = s.ln.Close()
		return fmt.Errorf("beats: %w", err)
	}
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx, ch, out)
		}()
	}
	s.ready.Store(true)
	s.logger.Info("listening", "protocol", "beats", "listen", s.ln.Addr().String(), "tls", s.tlsConf != nil)
	<-ctx.Done()
	s.ready.Store(false)
	_ = srv.Close() // the listener, then every connection; waits for their readers
	close(ch)       // no reader sends any more
	wg.Wait()
	return nil
}

// rawEvent is one document as the guard passed it: the peer prefix, then
// the JSON.
type rawEvent struct{ b []byte }

// decodeRaw is go-lumber's JSON decoder: it keeps a copy of the bytes
// (the reader reuses its buffer) for the workers to parse.
func decodeRaw(p []byte, v interface{}) error {
	if len(p) < peerPrefixLen {
		return errFrame
	}
	dst, ok := v.(*interface{})
	if !ok {
		return errFrame
	}
	*dst = &rawEvent{b: append([]byte(nil), p...)}
	return nil
}

// work converts lumberjack batches and acknowledges each once all its
// events are in out.
func (s *Server) work(ctx context.Context, ch <-chan *lj.Batch, out chan<- *event.Batch) {
	c := &converter{index: s.index}
	var counts [len(beatNames)]int
	for lb := range ch {
		if ctx.Err() != nil {
			s.m.unacked.Inc()
			continue
		}
		clear(counts[:])
		if !s.deliver(ctx, c, lb, out, &counts) {
			s.m.unacked.Inc()
			continue
		}
		lb.ACK()
		s.m.batches.Inc()
		total := 0
		for i, n := range counts {
			if n > 0 {
				s.m.events.WithLabelValues(beatNames[i]).Add(float64(n))
				total += n
			}
		}
		if s.events != nil && total > 0 {
			s.events.Add(float64(total))
		}
	}
}

// deliver sends the events of lb to out; false when ctx ended first.
func (s *Server) deliver(ctx context.Context, c *converter, lb *lj.Batch, out chan<- *event.Batch, counts *[len(beatNames)]int) bool {
	now := time.Now().UTC()
	listener := "beats/" + s.cfg.Listen
	b := event.NewBatch()
	send := func() bool {
		select {
		case out <- b:
			b = nil
			return true
		case <-ctx.Done():
			b.Release()
			b = nil
			return false
		}
	}
	for _, x := range lb.Events {
		r, ok := x.(*rawEvent)
		if !ok || len(r.b) < peerPrefixLen {
			s.m.decodeErrors.Inc()
			continue
		}
		e := b.Add()
		beat, err := c.convert(b, e, r.b[peerPrefixLen:], peerOf(r.b), now)
		if err != nil {
			b.Unadd()
			s.m.decodeErrors.Inc()
			s.logLimited("decode", "beats document skipped: not a JSON object", "err", err, "peer", peerOf(r.b).String())
			continue
		}
		e.Listener = listener
		counts[beatIndex(beat)]++
		if b.Len() >= s.cfg.MaxBatchEvents {
			if !send() {
				return false
			}
			b = event.NewBatch()
		}
	}
	if b.Len() == 0 {
		b.Release()
		return true
	}
	return send()
}
