package rollup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"
	"unsafe"
)

// Resolutions of blocks.
const (
	resMinute uint8 = 1
	resHour   uint8 = 2
)

func resDuration(res uint8) time.Duration {
	if res == resHour {
		return time.Hour
	}
	return time.Minute
}

func resName(res uint8) string {
	if res == resHour {
		return "1h"
	}
	return "1m"
}

// Kinds in blocks.
const (
	kindFlows  uint8 = 1
	kindSyslog uint8 = 2
	kindDNS    uint8 = 3
	// numKinds is how many kinds there are (kinds are 1..numKinds).
	numKinds = 3
)

// kindNames are the console kinds by kind-1; they name the files too.
var kindNames = [numKinds]string{"flows", "syslog", "dns"}

// segKey is what splits a minute into segments.
type segKey struct {
	action, direction, dataset string
}

// segment holds the exact totals and the per-dimension top-K of the events
// of one segment key (Other: the segments beyond max_segments folded).
type segment struct {
	key   segKey
	other bool // the folded rest: its key fields are unknown
	m     [numMetrics]uint64
	dims  []summary // decoded blocks
}

// block is the rollup of one kind over one minute or hour.
type block struct {
	kind  uint8
	res   uint8
	start time.Time
	segs  []segment
}

// Framing: magic, version, 3 reserved zero bytes, payload length, CRC32C of
// the payload (all little endian), then the payload.
const (
	frameMagic   = "SLRB"
	frameVersion = 1
	headerLen    = 16
	// maxPayload bounds what a length field may claim (a block of 32
	// segments with 22 dimensions of 100 entries stays far below).
	maxPayload = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a block that does not decode; the file ends there.
var errCorrupt = errors.New("corrupt rollup block")

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendBlock appends b framed.
func appendBlock(dst []byte, b *block) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerLen)...)
	p := len(dst)
	dst = append(dst, b.kind, b.res)
	dst = binary.AppendVarint(dst, b.start.Unix())
	dst = binary.AppendUvarint(dst, uint64(len(b.segs)))
	var sec []byte
	for i := range b.segs {
		s := &b.segs[i]
		var fl byte
		if s.other {
			fl = 1
		}
		dst = append(dst, fl)
		dst = appendStr(dst, s.key.action)
		dst = appendStr(dst, s.key.direction)
		dst = appendStr(dst, s.key.dataset)
		for _, v := range s.m {
			dst = binary.AppendUvarint(dst, v)
		}
		dst = binary.AppendUvarint(dst, uint64(len(s.dims)))
		for j := range s.dims {
			d := &s.dims[j]
			dst = appendStr(dst, d.field)
			sec = sec[:0]
			fl = 0
			if d.overflow {
				fl = 1
			}
			sec = append(sec, fl)
			sec = binary.AppendUvarint(sec, d.min)
			sec = binary.AppendUvarint(sec, uint64(len(d.ents)))
			for k := range d.ents {
				e := &d.ents[k]
				sec = append(sec, e.vk)
				sec = appendStr(sec, e.key)
				for _, v := range e.m {
					sec = binary.AppendUvarint(sec, v)
				}
				sec = binary.AppendUvarint(sec, e.err)
				var lm byte
				for l, s := range e.labels {
					if s != "" {
						lm |= 1 << l
					}
				}
				sec = append(sec, lm)
				for _, s := range e.labels {
					if s != "" {
						sec = appendStr(sec, s)
					}
				}
			}
			// Length first, so a reader that wants other dimensions
			// skips this one without decoding it.
			dst = binary.AppendUvarint(dst, uint64(len(sec)))
			dst = append(dst, sec...)
		}
	}
	h := dst[start : start+headerLen]
	copy(h, frameMagic)
	h[4] = frameVersion
	binary.LittleEndian.PutUint32(h[8:], uint32(len(dst)-p))
	binary.LittleEndian.PutUint32(h[12:], crc32.Checksum(dst[p:], castagnoli))
	return dst
}

// readHeader checks a frame header and returns the payload length and
// checksum. It never trusts the length beyond maxPayload.
func readHeader(h []byte) (n int, sum uint32, err error) {
	if len(h) < headerLen {
		return 0, 0, fmt.Errorf("%w: short header", errCorrupt)
	}
	if string(h[:4]) != frameMagic {
		return 0, 0, fmt.Errorf("%w: bad magic %q", errCorrupt, h[:4])
	}
	if h[4] != frameVersion || h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return 0, 0, fmt.Errorf("%w: unknown version %d", errCorrupt, h[4])
	}
	l := binary.LittleEndian.Uint32(h[8:])
	if l == 0 || l > maxPayload {
		return 0, 0, fmt.Errorf("%w: length %d out of range", errCorrupt, l)
	}
	return int(l), binary.LittleEndian.Uint32(h[12:]), nil
}

// decoder reads a payload; every read is bounded by what is left.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
	d.p = nil
}

func (d *decoder) byte1() byte {
	if len(d.p) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.p[0]
	d.p = d.p[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) bytes() []byte {
	l := d.uvarint()
	if l > uint64(len(d.p)) {
		d.fail("length beyond block")
		return nil
	}
	s := d.p[:l]
	d.p = d.p[l:]
	return s
}

// str returns a string over the payload's bytes (no copy: a decoded
// block keeps the buffer it was decoded from, which is never reused).
func (d *decoder) str() string {
	b := d.bytes()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// count reads a count of items that take at least min bytes each.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.p)/min) {
		d.fail("count beyond block")
		return 0
	}
	return int(n)
}

// decodePayload decodes a block payload. want, when not nil, names the
// dimensions to decode; the others are skipped.
// decodeScratch is memory a reader of many blocks reuses for each: the
// blocks it decodes into it are valid until the next one.
type decodeScratch struct {
	b    block
	segs []segment
	dims []summary
	ents []entry
}

func decodePayload(p []byte, want func(field string) bool, sc *decodeScratch) (*block, error) {
	d := &decoder{p: p}
	var b *block
	if sc != nil {
		sc.b = block{}
		b = &sc.b
		sc.dims, sc.ents = sc.dims[:0], sc.ents[:0]
	} else {
		b = &block{}
	}
	b.kind, b.res = d.byte1(), d.byte1()
	if d.err == nil && (b.kind < 1 || b.kind > numKinds || b.res != resMinute && b.res != resHour) {
		return nil, fmt.Errorf("%w: kind %d resolution %d", errCorrupt, b.kind, b.res)
	}
	sec := d.varint()
	if sec < 0 || sec > 1<<40 {
		d.fail("time out of range")
	}
	b.start = time.Unix(sec, 0).UTC()
	nseg := d.count(7)
	if d.err == nil {
		if sc != nil {
			sc.segs = slices.Grow(sc.segs[:0], nseg)[:nseg]
			clear(sc.segs)
			b.segs = sc.segs
		} else {
			b.segs = make([]segment, nseg)
		}
	}
	for i := 0; i < nseg && d.err == nil; i++ {
		s := &b.segs[i]
		fl := d.byte1()
		if fl > 1 {
			d.fail("bad segment flags")
		}
		s.other = fl == 1
		s.key = segKey{d.str(), d.str(), d.str()}
		for j := range s.m {
			s.m[j] = d.uvarint()
		}
		nd := d.count(2)
		var dstart int
		if sc != nil {
			dstart = len(sc.dims)
		}
		for j := 0; j < nd && d.err == nil; j++ {
			field := d.str()
			body := d.bytes()
			if d.err != nil || (want != nil && !want(field)) {
				continue
			}
			sm, err := decodeSummary(field, body, sc)
			if err != nil {
				return nil, err
			}
			if sc != nil {
				// The dimensions of one segment are consecutive in sc.dims.
				sc.dims = append(sc.dims, sm)
				s.dims = sc.dims[dstart:len(sc.dims):len(sc.dims)]
			} else {
				s.dims = append(s.dims, sm)
			}
		}
	}
	if d.err == nil && len(d.p) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return b, nil
}

func decodeSummary(field string, body []byte, sc *decodeScratch) (summary, error) {
	d := &decoder{p: body}
	s := summary{field: field}
	fl := d.byte1()
	if fl > 1 {
		d.fail("bad summary flags")
	}
	s.overflow = fl == 1
	s.min = d.uvarint()
	n := d.count(8)
	if d.err == nil {
		if sc != nil {
			start := len(sc.ents)
			sc.ents = slices.Grow(sc.ents, n)[:start+n]
			clear(sc.ents[start:])
			s.ents = sc.ents[start : start+n : start+n]
		} else {
			s.ents = make([]entry, n)
		}
	}
	for i := 0; i < n && d.err == nil; i++ {
		e := &s.ents[i]
		e.vk = d.byte1()
		e.key = d.str()
		for j := range e.m {
			e.m[j] = d.uvarint()
		}
		e.err = d.uvarint()
		lm := d.byte1()
		if lm >= 1<<numLabels {
			d.fail("bad label mask")
		}
		for l := range e.labels {
			if lm&(1<<l) != 0 {
				e.labels[l] = d.str()
			}
		}
	}
	if d.err == nil && len(d.p) != 0 {
		d.fail("trailing bytes in summary")
	}
	return s, d.err
}

// decodeFrame decodes one framed block at the start of p and returns it
// with its framed length. The block's strings point into p, which must
// not change afterwards.
func decodeFrame(p []byte, want func(string) bool) (*block, int, error) {
	return decodeFrameScratch(p, want, nil)
}

// decodeFrameScratch is decodeFrame into sc's memory (nil: new memory).
func decodeFrameScratch(p []byte, want func(string) bool, sc *decodeScratch) (*block, int, error) {
	n, sum, err := readHeader(p)
	if err != nil {
		return nil, 0, err
	}
	if len(p)-headerLen < n {
		return nil, 0, fmt.Errorf("%w: torn block (%d of %d bytes)", errCorrupt, len(p)-headerLen, n)
	}
	pl := p[headerLen : headerLen+n]
	if crc32.Checksum(pl, castagnoli) != sum {
		return nil, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	b, err := decodePayload(pl, want, sc)
	if err != nil {
		return nil, 0, err
	}
	return b, headerLen + n, nil
}
