package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sluicelab/sluice/internal/event"
)

// Config sizes the pipeline.
type Config struct {
	QueueSize     int           // batches buffered between sources, stages and outputs
	Workers       int           // stage (enrich) workers
	FlushInterval time.Duration // how often buffering outputs are flushed when idle
}

// Default returns the pipeline defaults.
func Default() Config {
	return Config{QueueSize: 8, Workers: runtime.GOMAXPROCS(0), FlushInterval: time.Second}
}

// Validate checks c; keys are named as in the config file.
func (c Config) Validate() error {
	var errs []error
	if c.QueueSize < 1 || c.QueueSize > 1<<16 {
		errs = append(errs, fmt.Errorf("pipeline.queue_size: %d is out of range; use 1..65536 batches", c.QueueSize))
	}
	if c.Workers < 1 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("pipeline.workers: %d is out of range; use 1..256", c.Workers))
	}
	if c.FlushInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("pipeline.flush_interval: %s is below 10ms; raise it or remove it to use 1s", c.FlushInterval))
	}
	return errors.Join(errs...)
}

// Runner owns the goroutines and channels of one pipeline.
type Runner struct {
	cfg     Config
	sources []Source
	stages  []Stage
	outputs []Output
	logger  *slog.Logger
	m       *metrics

	srcCh chan *event.Batch
	outCh chan *event.Batch
}

type metrics struct {
	events       *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	writeLatency *prometheus.HistogramVec
	batchLatency prometheus.Histogram
	writeErrors  *prometheus.CounterVec
}

// New builds a runner. Nothing runs until Run.
func New(cfg Config, sources []Source, stages []Stage, outputs []Output, logger *slog.Logger, reg prometheus.Registerer) *Runner {
	r := &Runner{
		cfg: cfg, sources: sources, stages: stages, outputs: outputs,
		logger: logger.With("component", "pipeline"),
		srcCh:  make(chan *event.Batch, cfg.QueueSize),
		outCh:  make(chan *event.Batch, cfg.QueueSize),
	}
	r.m = &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_events_out_total", Help: "Events handed to each output.",
		}, []string{"output"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_events_dropped_total", Help: "Events dropped inside the pipeline by stage and reason.",
		}, []string{"stage", "reason"}),
		writeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_output_write_duration_seconds", Help: "Time an output took to accept one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"output"}),
		batchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sluice_pipeline_batch_latency_seconds", Help: "From receiving the first event of a batch to all outputs accepting it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_output_errors_total", Help: "Batches an output failed to accept.",
		}, []string{"output"}),
	}
	reg.MustRegister(r.m.events, r.m.dropped, r.m.writeLatency, r.m.batchLatency, r.m.writeErrors)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_pipeline_queue_depth", Help: "Batches waiting between stages.", ConstLabels: prometheus.Labels{"queue": "stages"},
	}, func() float64 { return float64(len(r.srcCh)) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_pipeline_queue_depth", Help: "Batches waiting between stages.", ConstLabels: prometheus.Labels{"queue": "outputs"},
	}, func() float64 { return float64(len(r.outCh)) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sluice_pipeline_fields_left_out_total",
		Help: fmt.Sprintf("Parsed fields the encoder left out of documents with more values than fit (%d in all, sluice's own included); such a document is tagged _truncated.", event.MaxSyslogFields),
	}, func() float64 { return float64(event.FieldsLeftOut()) }))
	for _, o := range outputs {
		r.m.events.WithLabelValues(o.Name())
		r.m.writeErrors.WithLabelValues(o.Name())
		r.m.dropped.WithLabelValues("output", "write_error")
	}
	r.m.dropped.WithLabelValues("shutdown", "timeout")
	return r
}

// Ready reports nil when every output that can tell is ready.
func (r *Runner) Ready() error {
	for _, o := range r.outputs {
		if rd, ok := o.(Readier); ok {
			if err := rd.Ready(); err != nil {
				return fmt.Errorf("output %s: %w", o.Name(), err)
			}
		}
	}
	return nil
}

// Status returns one line per output that reports a state.
func (r *Runner) Status() string {
	var sb strings.Builder
	for _, o := range r.outputs {
		if rp, ok := o.(Reporter); ok {
			if st := rp.Status(); st != "" {
				fmt.Fprintf(&sb, "output %s: %s\n", o.Name(), st)
			}
		}
	}
	return sb.String()
}

// Run runs until ctx is done, then drains: sources stop reading and hand on
// what they hold, stages finish, outputs write and Close. The drain is bounded
// by grace; what is still queued when it runs out is counted as dropped.
func (r *Runner) Run(ctx context.Context, grace time.Duration) error {
	// Sources: cancelled by ctx. Everything downstream runs on its own context
	// so it can drain after ctx is done.
	drainCtx, cancelDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDrain()

	// A failing source stops the others too (sctx), then everything drains.
	sctx, cancelSources := context.WithCancel(ctx)
	defer cancelSources()
	var srcs errgroup.Group
	for _, s := range r.sources {
		srcs.Go(func() error {
			if err := s.Run(sctx, r.srcCh); err != nil {
				cancelSources()
				return fmt.Errorf("source %s: %w", s.Name(), err)
			}
			return nil
		})
	}
	var srcErr error
	var srcDone = make(chan struct{})
	go func() {
		srcErr = srcs.Wait()
		close(r.srcCh)
		close(srcDone)
	}()

	var stageWG sync.WaitGroup
	stageErrs := make(chan error, r.cfg.Workers)
	for i := 0; i < r.cfg.Workers; i++ {
		stageWG.Add(1)
		go func() {
			defer stageWG.Done()
			if err := r.stageWorker(drainCtx); err != nil {
				stageErrs <- err
			}
		}()
	}
	go func() {
		stageWG.Wait()
		close(r.outCh)
	}()

	outDone := make(chan error, 1)
	go func() { outDone <- r.outputLoop(drainCtx) }()

	// Wait for shutdown, or for a component to fail.
	var runErr error
	select {
	case <-ctx.Done():
	case <-srcDone:
		runErr = srcErr
	case err := <-stageErrs:
		runErr = err
	}
	cancelSources()
	r.logger.Info("draining", "grace", grace.String())
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-outDone:
		<-srcDone
		return errors.Join(runErr, srcErr, err)
	case <-timer.C:
		n := r.discardQueued()
		r.logger.Error("shutdown grace ran out before the pipeline drained; queued events are lost", "count", n, "grace", grace.String())
		r.m.dropped.WithLabelValues("shutdown", "timeout").Add(float64(n))
		cancelDrain()
		return errors.Join(runErr, fmt.Errorf("drain did not finish within %s (shutdown.timeout)", grace))
	}
}

// discardQueued empties the queues without blocking and returns how many
// events the batches in them held.
func (r *Runner) discardQueued() int {
	n := 0
	for _, ch := range []chan *event.Batch{r.srcCh, r.outCh} {
	drain:
		for {
			select {
			case b, ok := <-ch:
				if !ok {
					break drain
				}
				n += b.Len()
				b.Release()
			default:
				break drain
			}
		}
	}
	return n
}

func (r *Runner) stageWorker(ctx context.Context) error {
	for b := range r.srcCh {
		for _, s := range r.stages {
			if err := s.Process(ctx, b); err != nil {
				b.Release()
				// Keep draining so upstream never blocks forever.
				for b2 := range r.srcCh {
					r.m.dropped.WithLabelValues(s.Name(), "stage_failed").Add(float64(b2.Len()))
					b2.Release()
				}
				return fmt.Errorf("stage %s: %w", s.Name(), err)
			}
		}
		if b.Len() == 0 {
			b.Release()
			continue
		}
		r.outCh <- b
	}
	return nil
}

func (r *Runner) outputLoop(ctx context.Context) error {
	ticker := time.NewTicker(r.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case b, ok := <-r.outCh:
			if !ok {
				return r.closeOutputs(ctx)
			}
			r.write(ctx, b)
		case <-ticker.C:
			r.flush(ctx)
		}
	}
}

func (r *Runner) write(ctx context.Context, b *event.Batch) {
	var first time.Time
	if b.Len() > 0 {
		first = b.Events[0].Created
	}
	for _, o := range r.outputs {
		t0 := time.Now()
		err := o.Write(ctx, b)
		r.m.writeLatency.WithLabelValues(o.Name()).Observe(time.Since(t0).Seconds())
		if err != nil {
			r.m.writeErrors.WithLabelValues(o.Name()).Inc()
			r.m.dropped.WithLabelValues("output", "write_error").Add(float64(b.Len()))
			r.logger.Error("output failed to accept a batch; its events are counted as dropped", "output", o.Name(), "count", b.Len(), "err", err)
			continue
		}
		r.m.events.WithLabelValues(o.Name()).Add(float64(b.Len()))
	}
	if !first.IsZero() {
		r.m.batchLatency.Observe(time.Since(first).Seconds())
	}
	b.Release()
}

func (r *Runner) flush(ctx context.Context) {
	for _, o := range r.outputs {
		if f, ok := o.(Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				r.logger.Error("flushing output", "output", o.Name(), "err", err)
			}
		}
	}
}

func (r *Runner) closeOutputs(ctx context.Context) error {
	var errs []error
	for i := len(r.outputs) - 1; i >= 0; i-- {
		o := r.outputs[i]
		if err := o.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing output %s: %w", o.Name(), err))
		}
	}
	return errors.Join(errs...)
}
