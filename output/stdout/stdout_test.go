package stdout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

func batch(n int) *event.Batch {
	b := event.NewBatch()
	ts := time.Date(2026, 11, 24, 3, 22, 9, 0, time.UTC)
	for i := 0; i < n; i++ {
		e := b.Add()
		e.Kind = event.KindFlow
		e.Timestamp = ts
		e.Src.IP = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		e.Dst.IP = netip.MustParseAddr("10.0.1.1")
		e.Flow.Protocol, e.Flow.HasProtocol = 17, true
		e.AddField(event.Field{Key: "msg", Type: event.FieldString, S: "line\nbreak"})
	}
	return b
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	o := New(&buf)
	if o.Name() != "stdout" {
		t.Errorf("Name() = %q, want stdout", o.Name())
	}
	b := batch(3)
	defer b.Release()
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatalf("Write() error: %v", err)
	}
	if err := o.Write(context.Background(), event.NewBatch()); err != nil {
		t.Fatalf("Write(empty) error: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		var doc map[string]any
		if err := json.Unmarshal([]byte(l), &doc); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if got := doc["netflow"].(map[string]any)["msg"]; got != "line\nbreak" {
			t.Errorf("line %d netflow.msg = %q, want %q", i, got, "line\nbreak")
		}
	}
}

type countingWriter struct {
	writes int
	err    error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func TestOneWritePerBatch(t *testing.T) {
	w := &countingWriter{}
	o := New(w)
	b := batch(100)
	defer b.Release()
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if w.writes != 1 {
		t.Fatalf("writes = %d, want 1 per batch", w.writes)
	}
}

func TestWriteError(t *testing.T) {
	boom := errors.New("boom")
	o := New(&countingWriter{err: boom})
	b := batch(1)
	defer b.Release()
	if err := o.Write(context.Background(), b); !errors.Is(err, boom) {
		t.Fatalf("Write() = %v, want boom", err)
	}
}

func TestFlushAndClose(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriterSize(&out, 1<<16)
	o := New(bw)
	b := batch(2)
	defer b.Release()
	if err := o.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("bufio writer flushed early")
	}
	if err := o.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Fatalf("after Flush: %d lines, want 2", n)
	}
	if err := o.Ready(); err != nil {
		t.Fatalf("Ready() = %v", err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatalf("second Close() = %v", err)
	}
	if err := o.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready() after Close = %v, want ErrClosed", err)
	}
	if err := o.Write(context.Background(), b); !errors.Is(err, ErrClosed) {
		t.Errorf("Write() after Close = %v, want ErrClosed", err)
	}
}

func TestWriteCanceled(t *testing.T) {
	o := New(&countingWriter{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := batch(1)
	defer b.Release()
	if err := o.Write(ctx, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write(canceled) = %v, want context.Canceled", err)
	}
}
