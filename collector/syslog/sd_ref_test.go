package syslog

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/internal/event"
)

// structuredDataRef is structuredData as it was before its scans used
// memchr and a byte table: FuzzStructuredDataRef checks they agree.
func structuredDataRef(b *event.Batch, e *event.Event, sd []byte, sub func([]byte) string) {
	// Scratch on the stack for the usual lengths (the arena keeps copies).
	var kbuf, vbuf [128]byte
	key, val := kbuf[:0], vbuf[:0]
	n := 0
	for i := 0; i < len(sd) && sd[i] == '[' && n < maxSDParams; {
		i++
		j := i
		for j < len(sd) && sd[j] != ' ' && sd[j] != ']' && sd[j] != '=' && sd[j] != '"' {
			j++
		}
		if j == i || j == len(sd) {
			return
		}
		id := sd[i:j]
		i = j
		for i < len(sd) && sd[i] == ' ' && n < maxSDParams {
			i++
			j = i
			for j < len(sd) && sd[j] != '=' && sd[j] != ' ' && sd[j] != ']' && sd[j] != '"' {
				j++
			}
			if j == i || j+1 >= len(sd) || sd[j] != '=' || sd[j+1] != '"' {
				return
			}
			name := sd[i:j]
			i = j + 2
			start, escaped := i, false
			for i < len(sd) && sd[i] != '"' {
				if sd[i] == '\\' && i+1 < len(sd) {
					escaped = true
					i++
				}
				i++
			}
			if i >= len(sd) {
				return
			}
			raw := sd[start:i]
			i++ // the closing quote
			var v string
			if escaped {
				val = val[:0]
				for k := 0; k < len(raw); k++ {
					if c := raw[k]; c == '\\' && k+1 < len(raw) && (raw[k+1] == '"' || raw[k+1] == '\\' || raw[k+1] == ']') {
						k++
						val = append(val, raw[k])
						continue
					}
					val = append(val, raw[k])
				}
				if len(val) > 0 {
					c := b.Bytes(val)
					v = unsafe.String(&c[0], len(c))
				}
			} else {
				v = sub(raw)
			}
			key = append(append(append(append(key[:0], sdPrefix...), id...), '.'), name...)
			k := b.Bytes(key)
			e.Fields = append(e.Fields, event.Field{Key: unsafe.String(&k[0], len(k)), Type: event.FieldString, S: v})
			n++
		}
		if i >= len(sd) || sd[i] != ']' {
			return
		}
		i++
	}
}

var sdRefSeeds = []string{
	`[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
	`[junos@2636.1.1.1.2.129 source-address="10.0.0.1" q="a\"b\\c\]d"]`, `[a b="x\"]`, `[a b="x\\"]`, `[a b="\`, `[a b="x\" c"]`,
	`[a b="`, `[a b="c"`, `[a b=c]`, `[ a="b"]`, `[a.b c="d"][a b.c="e"]`, `[a b=""]`, "[\xff \xfe=\"\xfd\"]", `[a b="x"c="y"]`,
}

// TestStructuredDataRef compares structuredData with the reference on
// escapes, unclosed values and malformed elements.
func TestStructuredDataRef(t *testing.T) {
	for _, sd := range sdRefSeeds {
		checkSDRef(t, sd)
	}
}

// FuzzStructuredDataRef checks that structuredData gives the fields of
// the reference on any structured data.
func FuzzStructuredDataRef(f *testing.F) {
	for _, sd := range sdRefSeeds {
		f.Add(sd)
	}
	f.Fuzz(func(t *testing.T, sd string) { checkSDRef(t, sd) })
}

func checkSDRef(t *testing.T, sd string) {
	t.Helper()
	line := []byte(sd)
	sub := func(x []byte) string {
		if len(x) == 0 {
			return ""
		}
		return unsafe.String(&x[0], len(x))
	}
	fields := func(fn func(*event.Batch, *event.Event, []byte, func([]byte) string)) []event.Field {
		b := event.NewBatch()
		e := b.Add()
		fn(b, e, line, sub)
		return e.Fields
	}
	got, want := fields(structuredData), fields(structuredDataRef)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("structuredData(%q) (-ref +got):\n%s", sd, diff)
	}
}
