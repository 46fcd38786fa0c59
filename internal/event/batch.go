package event

import "sync"

// Batch is a reusable group of events that moves through the pipeline as one
// unit (about one datagram or one read of a socket). A batch has exactly one
// owner at a time: whoever received it from a channel. The last owner returns
// it with Release.
type Batch struct {
	Events []Event
	n      int

	arena []byte
}

const arenaChunk = 16 << 10

var batchPool = sync.Pool{New: func() any { return &Batch{} }}

// NewBatch returns an empty batch from the pool.
func NewBatch() *Batch {
	b := batchPool.Get().(*Batch)
	return b
}

// Release resets b and returns it to the pool. b must not be used afterwards.
func (b *Batch) Release() {
	if b == nil {
		return
	}
	b.Reset()
	if cap(b.Events) > 4096 { // do not pin huge batches forever
		b.Events = nil
	}
	batchPool.Put(b)
}

// Reset empties b, keeping its memory.
func (b *Batch) Reset() {
	for i := 0; i < b.n; i++ {
		b.Events[i].reset()
	}
	b.n = 0
	b.arena = b.arena[:0]
}

// Len returns the number of events in b.
func (b *Batch) Len() int { return b.n }

// All returns the events of b. The slice is valid until the next Add or Drop.
func (b *Batch) All() []Event { return b.Events[:b.n] }

// Add appends an empty event and returns it. The pointer is valid until the
// next Add (which may grow the backing array).
func (b *Batch) Add() *Event {
	if b.n < len(b.Events) {
		b.n++
		return &b.Events[b.n-1]
	}
	b.Events = append(b.Events, Event{})
	b.n++
	return &b.Events[b.n-1]
}

// Unadd removes the event returned by the last Add (for a record that turned
// out to be unusable half-way through decoding).
func (b *Batch) Unadd() {
	if b.n > 0 {
		b.n--
		b.Events[b.n].reset()
	}
}

// Drop removes event i, keeping the order of the others.
func (b *Batch) Drop(i int) {
	if i < 0 || i >= b.n {
		return
	}
	dropped := b.Events[i]
	copy(b.Events[i:b.n], b.Events[i+1:b.n])
	b.n--
	dropped.reset()
	b.Events[b.n] = dropped // keep its slice capacity for reuse
}

// Bytes returns a copy of p held in b's arena; it lives as long as the batch.
func (b *Batch) Bytes(p []byte) []byte {
	if len(p) > arenaChunk/4 {
		return append([]byte(nil), p...)
	}
	if cap(b.arena)-len(b.arena) < len(p) {
		b.arena = make([]byte, 0, arenaChunk) // old chunk stays alive through earlier slices
	}
	start := len(b.arena)
	b.arena = append(b.arena, p...)
	return b.arena[start:len(b.arena):len(b.arena)]
}
