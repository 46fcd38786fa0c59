package dnscap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A TPACKET_V3 RX ring is a run of equal blocks the kernel fills with
// frames and hands over whole (block_status TP_STATUS_USER); the reader
// walks a block's frames and gives it back (TP_STATUS_KERNEL). A burst
// costs no syscall per frame: the reader waits (epoll, through the
// socket's SyscallConn) only when the next block is still the kernel's.
//
// The offsets below are those of linux/if_packet.h (the same on every
// architecture: the structures are made of fixed-size fields).
const (
	// struct tpacket_block_desc: version u32, offset_to_priv u32, then
	// struct tpacket_hdr_v1: block_status u32 (8), num_pkts u32 (12),
	// offset_to_first_pkt u32 (16), blk_len u32 (20), seq_num u64 (24),
	// ts_first_pkt (32), ts_last_pkt (40); 48 bytes.
	blkStatusOff   = 8
	blkNumPktsOff  = 12
	blkFirstPktOff = 16
	blkDescLen     = 48
	// struct tpacket3_hdr: tp_next_offset u32 (0), tp_sec u32 (4),
	// tp_nsec u32 (8), tp_snaplen u32 (12), tp_len u32 (16), tp_status
	// u32 (20), tp_mac u16 (24), tp_net u16 (26), hv1 (28..40),
	// padding (40..48): 48 bytes (unix.SizeofTpacket3Hdr).
	pktNextOff    = 0
	pktSecOff     = 4
	pktNsecOff    = 8
	pktSnaplenOff = 12
	pktLenOff     = 16
	pktMacOff     = 24
	pktHdrLen     = unix.SizeofTpacket3Hdr
	// struct sockaddr_ll follows the header at TPACKET_ALIGN(48) = 48:
	// sll_family u16, sll_protocol u16, sll_ifindex i32 (4), sll_hatype
	// u16 (8), sll_pkttype u8 (10), sll_halen u8, sll_addr [8]: 20 bytes.
	sllOff        = pktHdrLen
	sllIfindexOff = sllOff + 4
	sllPkttypeOff = sllOff + 10
	sllLen        = 20
)

// Ring geometry.
const (
	// ringBlockMax is the block size of rings of 8 blocks or more.
	ringBlockMax = 1 << 20
	// ringFrameSize only has to divide the block size: TPACKET_V3 packs
	// frames of any length into a block, but the kernel still checks
	// tp_frame_nr = block_nr * block_size / frame_size.
	ringFrameSize = 2048
	// ringOverhead is room in a block for its descriptor and one frame's
	// header, link-layer address and alignment, on top of snaplen.
	ringOverhead = 512
	// ringRetire is how long the kernel fills a block before handing it
	// over anyway (retire_blk_tov, ms): a quiet link still delivers
	// within it.
	ringRetire = 50
)

// errRing marks a block or frame header the walker refused.
var errRing = errors.New("bad TPACKET_V3 block")

// ringGeometry is the block size and count of a ring.
type ringGeometry struct{ blockSize, blockNr int }

func (g ringGeometry) bytes() int { return g.blockSize * g.blockNr }

func (g ringGeometry) String() string {
	return fmt.Sprintf("%s (%d blocks of %s)", sizeString(g.bytes()), g.blockNr, sizeString(g.blockSize))
}

// ringLayout splits ringBytes into blocks: 1 MiB blocks, smaller ones
// (whole pages) when that makes fewer than 8, but never smaller than one
// snaplen frame with its headers; at least 2 blocks.
func ringLayout(ringBytes, snaplen int) (ringGeometry, error) {
	page := os.Getpagesize()
	minBlock := (snaplen + ringOverhead + page - 1) / page * page
	bs := ringBlockMax
	if ringBytes/bs < 8 {
		bs = ringBytes / 8 / page * page
	}
	bs = max(bs, minBlock)
	g := ringGeometry{blockSize: bs, blockNr: ringBytes / bs}
	if g.blockNr < 2 {
		return g, fmt.Errorf("dns.capture.ring_bytes: %d holds fewer than 2 blocks of %d bytes (one snaplen %d frame each); raise it to at least %d, lower dns.capture.snaplen, or set 0 to read without a ring",
			ringBytes, bs, snaplen, 2*bs)
	}
	return g, nil
}

// sizeString writes n as MiB or KiB when it is a whole number of them.
func sizeString(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// ring is a mapped TPACKET_V3 RX ring. Only its reader touches it.
type ring struct {
	geo   ringGeometry
	mem   []byte
	next  int // the block to read next
	unmap sync.Once
}

// setupRing switches fd to TPACKET_V3 and maps an RX ring of g on it. On
// error the socket may be left half set up: the caller closes it. A var
// so that a test can make the ring unavailable.
var setupRing = func(fd int, g ringGeometry) (*ring, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("PACKET_VERSION TPACKET_V3: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(g.blockSize),
		Block_nr:       uint32(g.blockNr),
		Frame_size:     ringFrameSize,
		Frame_nr:       uint32(g.blockSize / ringFrameSize * g.blockNr),
		Retire_blk_tov: ringRetire,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("PACKET_RX_RING %s: %w", g, err)
	}
	mem, err := unix.Mmap(fd, 0, g.bytes(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping the %s ring: %w", sizeString(g.bytes()), err)
	}
	return &ring{geo: g, mem: mem}, nil
}

// block returns block i of the ring.
func (r *ring) block(i int) []byte {
	return r.mem[i*r.geo.blockSize : (i+1)*r.geo.blockSize]
}

// status points at block i's block_status, which the kernel and the
// reader hand back and forth (blocks start on a page: it is aligned).
func (r *ring) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[i*r.geo.blockSize+blkStatusOff]))
}

// ready reports whether the next block is the reader's.
func (r *ring) ready() bool {
	return atomic.LoadUint32(r.status(r.next))&unix.TP_STATUS_USER != 0
}

// release gives the next block back to the kernel and moves on.
func (r *ring) release() {
	atomic.StoreUint32(r.status(r.next), unix.TP_STATUS_KERNEL)
	r.next = (r.next + 1) % r.geo.blockNr
}

// close unmaps the ring (once; nothing may read it afterwards).
func (r *ring) close() {
	r.unmap.Do(func() { _ = unix.Munmap(r.mem) })
}

// ringFrame is one frame of a block. data points into the block: it is
// valid during the callback only.
type ringFrame struct {
	data    []byte    // tp_snaplen bytes from tp_mac
	wireLen uint32    // tp_len, the frame's length on the wire
	ts      time.Time // tp_sec, tp_nsec: the kernel's receive time
	ifindex int       // sll_ifindex
	pkttype uint8     // sll_pkttype (PACKET_OUTGOING, ...)
}

// walkBlock calls fn for each frame of a TPACKET_V3 block, in order,
// until fn returns false. The
// block is untrusted input: every count, offset and length is checked
// against the block before use, and the first bad one stops the walk
// with an error wrapping errRing (the frames before it were delivered).
func walkBlock(blk []byte, fn func(f *ringFrame) bool) error {
	ne := binary.NativeEndian
	if len(blk) < blkDescLen {
		return fmt.Errorf("%w: %d bytes, shorter than its descriptor", errRing, len(blk))
	}
	n := uint64(ne.Uint32(blk[blkNumPktsOff:]))
	if n == 0 {
		return nil
	}
	size := uint64(len(blk))
	if n > size/(pktHdrLen+sllLen) {
		return fmt.Errorf("%w: num_pkts %d cannot fit in %d bytes", errRing, n, size)
	}
	off := uint64(ne.Uint32(blk[blkFirstPktOff:]))
	var f ringFrame
	for i := uint64(0); ; i++ {
		if off < blkDescLen || off+pktHdrLen+sllLen > size {
			return fmt.Errorf("%w: frame %d at offset %d outside %d..%d", errRing, i, off, blkDescLen, size-pktHdrLen-sllLen)
		}
		h := blk[off:]
		mac := uint64(ne.Uint16(h[pktMacOff:]))
		snap := uint64(ne.Uint32(h[pktSnaplenOff:]))
		if mac < pktHdrLen+sllLen || off+mac+snap > size {
			return fmt.Errorf("%w: frame %d at offset %d: tp_mac %d, tp_snaplen %d past the block's %d bytes", errRing, i, off, mac, snap, size)
		}
		f = ringFrame{
			data:    blk[off+mac : off+mac+snap : off+mac+snap],
			wireLen: ne.Uint32(h[pktLenOff:]),
			ts:      time.Unix(int64(ne.Uint32(h[pktSecOff:])), int64(ne.Uint32(h[pktNsecOff:]))),
			ifindex: int(int32(ne.Uint32(h[sllIfindexOff:]))),
			pkttype: h[sllPkttypeOff],
		}
		next := uint64(ne.Uint32(h[pktNextOff:]))
		if !fn(&f) || i+1 == n {
			return nil
		}
		if next < pktHdrLen+sllLen {
			return fmt.Errorf("%w: frame %d at offset %d: tp_next_offset %d", errRing, i, off, next)
		}
		off += next
	}
}
