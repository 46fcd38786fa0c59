// Package stdout writes events as ECS JSON lines to a writer, normally
// os.Stdout, for debugging (output.stdout: true).
package stdout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/pipeline"
)

// ErrClosed is returned by Write and Ready after Close.
var ErrClosed = errors.New("stdout output is closed")

var (
	_ pipeline.Output  = (*Output)(nil)
	_ pipeline.Flusher = (*Output)(nil)
	_ pipeline.Readier = (*Output)(nil)
)

// maxKeptBuffer is the largest buffer kept between batches.
const maxKeptBuffer = 4 << 20

// Output writes one NDJSON line per event, one Write call per batch. Write,
// Flush and Close are called from one goroutine, as pipeline.Output requires;
// Ready may be called from any goroutine. The writer is not closed.
type Output struct {
	w      io.Writer
	buf    []byte
	closed atomic.Bool
}

// New returns an output writing to w.
func New(w io.Writer) *Output { return &Output{w: w} }

// Name returns "stdout".
func (o *Output) Name() string { return "stdout" }

// Write writes every event of b as one JSON line.
func (o *Output) Write(ctx context.Context, b *event.Batch) error {
	if o.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	buf := o.buf[:0]
	events := b.All()
	for i := range events {
		if line, ok := b.JSONLine(i); ok { // encoded by the pipeline's Encode stage
			buf = append(buf, line...)
			continue
		}
		buf = events[i].AppendJSON(buf)
		buf = append(buf, '\n')
	}
	if cap(buf) <= maxKeptBuffer {
		o.buf = buf[:0]
	} else {
		o.buf = nil
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := o.w.Write(buf); err != nil {
		return fmt.Errorf("stdout output: %w", err)
	}
	return nil
}

// Flush flushes the writer when it buffers (has a Flush() error method, as
// *bufio.Writer does).
func (o *Output) Flush(ctx context.Context) error {
	if f, ok := o.w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return fmt.Errorf("stdout output: %w", err)
		}
	}
	return nil
}

// Ready returns ErrClosed after Close, else nil.
func (o *Output) Ready() error {
	if o.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Close flushes the writer (see Flush) and makes later writes fail. It does
// not close the writer.
func (o *Output) Close(ctx context.Context) error {
	if o.closed.Swap(true) {
		return nil
	}
	return o.Flush(ctx)
}
