package netflow

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Packet builders for tests: small, explicit, no magic.

func u8(v uint8) []byte   { return []byte{v} }
func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// un encodes v in n bytes (reduced-size encoding).
func un(v uint64, n int) []byte {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

func ip(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// fs is a field specifier shorthand.
func fs(id, l uint16) fieldSpec { return fieldSpec{ID: id, Len: l} }

// set wraps records in a set/flowset header with the right length.
func set(id uint16, records ...[]byte) []byte {
	body := cat(records...)
	return cat(u16(id), u16(uint16(4+len(body))), body)
}

// tmpl is a template record (v9 flowset 0 / IPFIX set 2).
func tmpl(id uint16, fields ...fieldSpec) []byte {
	out := cat(u16(id), u16(uint16(len(fields))))
	for _, f := range fields {
		if f.PEN != 0 {
			out = cat(out, u16(f.ID|0x8000), u16(f.Len), u32(f.PEN))
		} else {
			out = cat(out, u16(f.ID), u16(f.Len))
		}
	}
	return out
}

// ipfixOptTmpl is an IPFIX options template record (set 3).
func ipfixOptTmpl(id uint16, scope int, fields ...fieldSpec) []byte {
	t := tmpl(id, fields...)
	return cat(t[:4], u16(uint16(scope)), t[4:])
}

// v9OptTmpl is a NetFlow v9 options template record (flowset 1).
func v9OptTmpl(id uint16, scopes []fieldSpec, options []fieldSpec) []byte {
	out := cat(u16(id), u16(uint16(4*len(scopes))), u16(uint16(4*len(options))))
	for _, f := range append(append([]fieldSpec{}, scopes...), options...) {
		out = cat(out, u16(f.ID), u16(f.Len))
	}
	return out
}

type v9Header struct {
	count    uint16
	uptimeMs uint32
	secs     uint32
	seq      uint32
	sourceID uint32
}

// v9Packet builds a v9 packet; count 0 means "number of sets".
func v9Packet(h v9Header, sets ...[]byte) []byte {
	if h.count == 0 {
		h.count = uint16(len(sets))
	}
	return cat(u16(9), u16(h.count), u32(h.uptimeMs), u32(h.secs), u32(h.seq), u32(h.sourceID), cat(sets...))
}

type ipfixHeader struct {
	secs   uint32
	seq    uint32
	domain uint32
}

func ipfixPacket(h ipfixHeader, sets ...[]byte) []byte {
	body := cat(sets...)
	return cat(u16(10), u16(uint16(16+len(body))), u32(h.secs), u32(h.seq), u32(h.domain), body)
}

type v5Rec struct {
	src, dst, nextHop string
	in, out           uint16
	pkts, octets      uint32
	first, last       uint32
	sport, dport      uint16
	flags, proto, tos uint8
	srcAS, dstAS      uint16
	srcMask, dstMask  uint8
}

func v5Packet(count uint16, uptimeMs, secs, nsecs uint32, sampling uint16, recs ...v5Rec) []byte {
	out := cat(u16(5), u16(count), u32(uptimeMs), u32(secs), u32(nsecs), u32(1), u8(1), u8(2), u16(sampling))
	for _, r := range recs {
		out = cat(out, ip(r.src), ip(r.dst), ip(r.nextHop), u16(r.in), u16(r.out), u32(r.pkts), u32(r.octets),
			u32(r.first), u32(r.last), u16(r.sport), u16(r.dport), u8(0), u8(r.flags), u8(r.proto), u8(r.tos),
			u16(r.srcAS), u16(r.dstAS), u8(r.srcMask), u8(r.dstMask), u16(0))
	}
	return out
}

// The benchmark templates (see the task and shared/bench/flowgen).
var benchV9Fields = []fieldSpec{
	fs(8, 4), fs(12, 4), fs(7, 2), fs(11, 2), fs(4, 1), fs(1, 4), fs(2, 4), fs(22, 4), fs(21, 4),
	fs(10, 2), fs(14, 2), fs(6, 1), fs(16, 4), fs(17, 4),
}

var benchIPFIXFields = []fieldSpec{
	fs(8, 4), fs(12, 4), fs(7, 2), fs(11, 2), fs(4, 1), fs(1, 8), fs(2, 8), fs(152, 8), fs(153, 8),
	fs(10, 4), fs(14, 4), fs(6, 1), fs(16, 4), fs(17, 4),
}

// Fixed times shared by tests: export at 2026-03-01 12:00:00 UTC, exporter up 1 h.
var (
	testExport   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testSecs     = uint32(testExport.Unix())
	testUptimeMs = uint32(3_600_000)
	testReceived = testExport.Add(300 * time.Millisecond)
)

func benchV9Record(i int) []byte {
	return cat(ip("10.0.0.1"), netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)}).AsSlice(),
		u16(uint16(1024+i)), u16(443), u8(6), u32(uint32(1000+i)), u32(uint32(10+i)),
		u32(testUptimeMs-5000), u32(testUptimeMs-1000), u16(3), u16(4), u8(0x1b), u32(64500), u32(64501))
}

func benchIPFIXRecord(i int) []byte {
	ms := uint64(testExport.UnixMilli())
	return cat(ip("10.0.0.1"), netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)}).AsSlice(),
		u16(uint16(1024+i)), u16(443), u8(6), u64(uint64(1000+i)), u64(uint64(10+i)),
		u64(ms-5000), u64(ms-1000), u32(3), u32(4), u8(0x1b), u32(64500), u32(64501))
}

// benchV9Packets returns a template packet and a data packet of n records.
func benchV9Packets(n int) (tmplPkt, dataPkt []byte) {
	h := v9Header{uptimeMs: testUptimeMs, secs: testSecs, sourceID: 7}
	tmplPkt = v9Packet(h, set(0, tmpl(256, benchV9Fields...)))
	var recs [][]byte
	for i := range n {
		recs = append(recs, benchV9Record(i))
	}
	h.count = uint16(n)
	dataPkt = v9Packet(h, set(256, recs...))
	return tmplPkt, dataPkt
}

func benchIPFIXPackets(n int) (tmplPkt, dataPkt []byte) {
	h := ipfixHeader{secs: testSecs, domain: 7}
	tmplPkt = ipfixPacket(h, set(2, tmpl(256, benchIPFIXFields...)))
	var recs [][]byte
	for i := range n {
		recs = append(recs, benchIPFIXRecord(i))
	}
	dataPkt = ipfixPacket(h, set(256, recs...))
	return tmplPkt, dataPkt
}
