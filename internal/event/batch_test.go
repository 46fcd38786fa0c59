package event

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

func TestBatchAddDropReuse(t *testing.T) {
	b := NewBatch()
	defer b.Release()
	for i := 0; i < 5; i++ {
		e := b.Add()
		e.Src.Port = uint16(i)
		e.AddUint("in_bytes", uint64(i))
	}
	b.Drop(1)
	b.Drop(2) // the event that was at index 3
	if b.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", b.Len())
	}
	var ports []uint16
	for _, e := range b.All() {
		ports = append(ports, e.Src.Port)
	}
	if ports[0] != 0 || ports[1] != 2 || ports[2] != 4 {
		t.Fatalf("after Drop ports = %v, want [0 2 4]", ports)
	}
	b.Reset()
	e := b.Add()
	if e.Src.Port != 0 || len(e.NetFlow) != 0 || cap(e.NetFlow) == 0 {
		t.Fatalf("reused event not reset or lost capacity: port=%d len=%d cap=%d", e.Src.Port, len(e.NetFlow), cap(e.NetFlow))
	}
	b.Unadd()
	if b.Len() != 0 {
		t.Fatalf("Unadd left Len() = %d", b.Len())
	}
}

func TestBatchBytesIsACopy(t *testing.T) {
	b := NewBatch()
	defer b.Release()
	src := []byte{1, 2, 3}
	got := b.Bytes(src)
	src[0] = 9
	if got[0] != 1 {
		t.Fatal("Bytes() did not copy")
	}
	big := make([]byte, arenaChunk)
	if len(b.Bytes(big)) != arenaChunk {
		t.Fatal("Bytes() of a large slice lost data")
	}
	// Appending to a returned slice must not overwrite the next allocation.
	a := b.Bytes([]byte{1})
	c := b.Bytes([]byte{2})
	_ = append(a, 7)
	if c[0] != 2 {
		t.Fatal("append to an arena slice overwrote its neighbour")
	}
}

func TestFieldByKey(t *testing.T) {
	var e Event
	e.AddIP("source_ipv4_address", netip.MustParseAddr("10.0.0.1"))
	if f, ok := e.FieldByKey("source_ipv4_address"); !ok || f.IP.String() != "10.0.0.1" {
		t.Fatalf("FieldByKey = %+v, %v", f, ok)
	}
	if _, ok := e.FieldByKey("nope"); ok {
		t.Fatal("FieldByKey found a missing key")
	}
}

func TestBatchEncodeJSON(t *testing.T) {
	b := NewBatch()
	defer b.Release()
	for i := 0; i < 3; i++ {
		e := b.Add()
		e.Kind = KindFlow
		e.Src.IP = netip.MustParseAddr("10.0.0.1")
		e.Src.Port = uint16(1000 + i)
	}
	if _, ok := b.JSONLine(0); ok {
		t.Fatal("JSONLine before EncodeJSON = ok")
	}
	b.EncodeJSON()
	for i, e := range b.All() {
		line, ok := b.JSONLine(i)
		want := string(e.AppendJSON(nil)) + "\n"
		if !ok || string(line) != want {
			t.Fatalf("JSONLine(%d) = %q, %v; want %q", i, line, ok, want)
		}
	}
	all, ok := b.JSON()
	var want string
	for _, e := range b.All() {
		want += string(e.AppendJSON(nil)) + "\n"
	}
	if !ok || string(all) != want {
		t.Fatalf("JSON() = %q, %v; want %q", all, ok, want)
	}
	b.Drop(1)
	if _, ok := b.JSON(); ok {
		t.Fatal("JSON after Drop = ok")
	}
	if _, ok := b.JSONLine(0); ok {
		t.Fatal("JSONLine after Drop = ok; the lines no longer match the events")
	}
	b.EncodeJSON()
	b.Add()
	if _, ok := b.JSONLine(0); ok {
		t.Fatal("JSONLine after Add = ok")
	}
}

// A batch reuses its arena chunks after Reset instead of allocating new
// ones, and what Bytes returned within one use stays intact.
func TestBatchArenaReuse(t *testing.T) {
	b := NewBatch()
	defer b.Release()
	line := bytes.Repeat([]byte("x"), 300)
	out := make([][]byte, 200)
	fill := func(round byte) [][]byte {
		for i := range out { // ~60 KB: several chunks
			line[0] = round
			out[i] = b.Bytes(line)
		}
		return out
	}
	fill(1)
	b.Reset()
	allocs := testing.AllocsPerRun(20, func() {
		b.Reset()
		fill(2)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per refill after Reset, want 0", allocs)
	}
	b.Reset()
	got := fill(3)
	for i, s := range got {
		if s[0] != 3 || len(s) != 300 {
			t.Fatalf("slice %d was overwritten: %q...", i, s[:2])
		}
	}
}

// TestRawDocument: an event with Raw (an alert document) is written as it
// is by both encoders, and a reused slot forgets it.
func TestRawDocument(t *testing.T) {
	b := NewBatch()
	defer b.Release()
	e := b.Add()
	e.Kind = KindAlert
	e.Timestamp = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	e.Raw = []byte(`{"@timestamp":"2026-12-07T10:00:00Z","rule":{"name":"r"}}`)
	if got := string(e.AppendJSON(nil)); got != string(e.Raw) {
		t.Errorf("AppendJSON = %s", got)
	}
	b.EncodeJSON()
	line, ok := b.JSONLine(0)
	if !ok || string(line) != string(e.Raw)+"\n" {
		t.Errorf("JSONLine = %q, %v", line, ok)
	}
	if KindAlert.String() != "alerts" {
		t.Errorf("KindAlert.String() = %q", KindAlert.String())
	}
	b.Reset()
	e = b.Add()
	if e.Raw != nil || e.Kind != KindUnknown {
		t.Errorf("reused event kept Raw %q / kind %v", e.Raw, e.Kind)
	}
}
