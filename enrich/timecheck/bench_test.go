package timecheck

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// benchBatch returns a batch of n flows received now, every bad-th of
// them dated 1970 (bad 0: none).
func benchBatch(n, bad int) *event.Batch {
	b := event.NewBatch()
	t := time.Now()
	for i := range n {
		e := b.Add()
		e.Kind, e.Created, e.Timestamp = event.KindFlow, t, t.Add(-time.Duration(i)*time.Millisecond).UTC()
		e.Observer = netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 8)})
		if bad > 0 && i%bad == 0 {
			e.Timestamp = time.Unix(int64(i), 0).UTC()
		}
	}
	return b
}

func benchProcess(b *testing.B, bad int) {
	s, err := New(Default(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	const n = 512
	batch := benchBatch(n, bad)
	evs := batch.All()
	orig := make([]time.Time, n)
	for i := range evs {
		orig[i] = evs[i].Timestamp
	}
	ctx := context.Background()
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		if bad > 0 {
			for i := range evs { // undo the stage's changes, as if new events came
				evs[i].Timestamp, evs[i].OriginalTimestamp, evs[i].Tags = orig[i], time.Time{}, 0
			}
		}
		if err := s.Process(ctx, batch); err != nil {
			b.Fatal(err)
		}
		events += n
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkProcess: every event in range (the usual case).
func BenchmarkProcess(b *testing.B) { benchProcess(b, 0) }

// BenchmarkProcessBad16: one event in 16 out of range, from 8 senders.
func BenchmarkProcessBad16(b *testing.B) { benchProcess(b, 16) }

// BenchmarkProcessAllBad: a device whose clock is wrong for everything.
func BenchmarkProcessAllBad(b *testing.B) { benchProcess(b, 1) }
