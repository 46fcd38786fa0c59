package event

import "sync"

// Batch is a reusable group of events that moves through the pipeline as one
// unit (about one datagram or one read of a socket). A batch has exactly one
// owner at a time: whoever received it from a channel. The last owner returns
// it with Release.
type Batch struct {
	Events []Event
	n      int

	// arena is the chunk Bytes copies into; chunks are all chunks the
	// batch has had, reused from the first after Reset (next: the index of
	// the chunk after arena).
	arena  []byte
	chunks [][]byte
	next   int

	// json holds the NDJSON lines of all events after EncodeJSON; ends[i]
	// is where the line of event i ends. Any change of the events drops it.
	json []byte
	ends []int

	scratch *encodeScratch // EncodeJSON's, kept with the batch
}

const arenaChunk = 16 << 10

// maxKeptChunks bounds the arena a released batch keeps (1 MiB).
const maxKeptChunks = 64

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
	if cap(b.json) > 8<<20 {
		b.json, b.ends = nil, nil
	}
	if len(b.chunks) > maxKeptChunks {
		clear(b.chunks[maxKeptChunks:])
		b.chunks = b.chunks[:maxKeptChunks]
	}
	batchPool.Put(b)
}

// Reset empties b, keeping its memory.
func (b *Batch) Reset() {
	for i := 0; i < b.n; i++ {
		b.Events[i].reset()
	}
	b.n = 0
	b.arena, b.next = nil, 0
	b.json = b.json[:0]
	b.ends = b.ends[:0]
}

// Len returns the number of events in b.
func (b *Batch) Len() int { return b.n }

// All returns the events of b. The slice is valid until the next Add or Drop.
func (b *Batch) All() []Event { return b.Events[:b.n] }

// Add appends an empty event and returns it. The pointer is valid until the
// next Add (which may grow the backing array).
func (b *Batch) Add() *Event {
	b.ends = b.ends[:0]
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
	b.ends = b.ends[:0]
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
	b.ends = b.ends[:0]
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
		// Next chunk: one this batch had before its last Reset (whose
		// contents are dead by then), or a new one.
		if b.next < len(b.chunks) {
			b.arena = b.chunks[b.next][:0]
		} else {
			b.arena = make([]byte, 0, arenaChunk)
			b.chunks = append(b.chunks, b.arena)
		}
		b.next++
	}
	start := len(b.arena)
	b.arena = append(b.arena, p...)
	return b.arena[start:len(b.arena):len(b.arena)]
}

// EncodeJSON renders every event as one NDJSON line (AppendJSON + '\n') and
// keeps the lines in b, so that outputs copy bytes instead of encoding. The
// pipeline runs it in its stage workers, which spreads encoding over cores.
// Adding or dropping events afterwards discards the lines.
func (b *Batch) EncodeJSON() {
	b.json = b.json[:0]
	b.ends = b.ends[:0]
	if b.scratch == nil {
		b.scratch = new(encodeScratch)
	}
	for i := 0; i < b.n; i++ {
		b.json = b.Events[i].appendJSON(b.json, true, &b.scratch.dc, &b.scratch.own)
		b.json = append(b.json, '\n')
		b.ends = append(b.ends, len(b.json))
	}
}

// JSONLine returns the NDJSON line of event i (with its newline) from the
// last EncodeJSON, or false when the batch was not encoded or has changed.
// The bytes are only valid while the batch is.
func (b *Batch) JSONLine(i int) ([]byte, bool) {
	if len(b.ends) != b.n || i < 0 || i >= b.n {
		return nil, false
	}
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.json[start:b.ends[i]], true
}

// JSON returns all NDJSON lines of the last EncodeJSON at once, or false when
// the batch was not encoded or has changed since.
func (b *Batch) JSON() ([]byte, bool) {
	if len(b.ends) != b.n || b.n == 0 {
		return nil, false
	}
	return b.json, true
}
