package syslog

import (
	"encoding/binary"
	"math/bits"
)

// Structured data is scanned twice per RFC 5424 line (Parser.Parse
// validates it, the Decoder then makes the fields), and a Junos RT_FLOW
// line holds 20-34 parameters: these look at 8 bytes at a time for the
// byte that ends a name or a value, instead of one.
//
// Each mask below flags, in the high bit of each byte, the bytes of x that
// hold a value (zero8) or are below n (below8). A borrow can flag a byte
// above a flagged one, never below it, so the lowest flag (little-endian:
// the first byte) is exact, also in an OR of such masks.

const (
	ones8  = 0x0101010101010101
	highs8 = 0x8080808080808080
)

func zero8(x uint64) uint64          { return (x - ones8) &^ x & highs8 }
func eq8(x uint64, c byte) uint64    { return zero8(x ^ ones8*uint64(c)) }
func below8(x uint64, n byte) uint64 { return (x - ones8*uint64(n)) &^ x & highs8 }

// sdNameSpan returns the index of the first byte at or after i that
// cannot be in an SD-NAME (PRINTUSASCII but '=', ']', '"'), or len(b),
// looking at no more than max+8 bytes past i.
func sdNameSpan(b []byte, i, max int) int {
	j := i
	for j+8 <= len(b) && j-i <= max {
		x := binary.LittleEndian.Uint64(b[j:])
		if m := below8(x, 0x21) | x&highs8 | eq8(x, 0x7f) | eq8(x, '=') | eq8(x, ']') | eq8(x, '"'); m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
		j += 8
	}
	for j < len(b) && class[b[j]]&cSDName != 0 {
		j++
	}
	return j
}

// sdNameStop returns the index of the first ' ', ']', '=' or '"' at or
// after i (sdNameEnd), or len(b).
func sdNameStop(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := eq8(x, ' ') | eq8(x, ']') | eq8(x, '=') | eq8(x, '"'); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(b) && !sdNameEnd[b[i]] {
		i++
	}
	return i
}

// sdValueStop returns the index of the first '"' or '\\' at or after i,
// or len(b).
func sdValueStop(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := eq8(x, '"') | eq8(x, '\\'); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(b) && b[i] != '"' && b[i] != '\\' {
		i++
	}
	return i
}
