package dnscap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"

	"github.com/sluicelab/sluice/internal/event"
)

// testRingFrame is one frame of a hand-built block.
type testRingFrame struct {
	data    []byte
	wireLen uint32 // 0: len(data)
	sec     uint32
	nsec    uint32
	ifindex int32
	pkttype uint8
}

// blockMods change the headers of a hand-built block after layout.
type blockMods struct {
	numPkts  *uint32 // num_pkts, when not the number of frames
	firstPkt *uint32 // offset_to_first_pkt
	next     map[int]uint32
	mac      map[int]uint16
	snaplen  map[int]uint32
}

// buildBlock lays frames out in a size-byte block as the kernel does:
// the descriptor, then per frame a tpacket3_hdr, a sockaddr_ll and the
// data at tp_mac, each frame 16-byte aligned.
func buildBlock(size int, frames []testRingFrame, m blockMods) []byte {
	ne := binary.NativeEndian
	blk := make([]byte, size)
	ne.PutUint32(blk[blkStatusOff:], unix.TP_STATUS_USER)
	ne.PutUint32(blk[blkNumPktsOff:], uint32(len(frames)))
	ne.PutUint32(blk[blkFirstPktOff:], blkDescLen)
	off := blkDescLen
	const mac = 80 // TPACKET_ALIGN(48+20) + 2 (Ethernet header ending on 16)
	for i, f := range frames {
		h := blk[off:]
		wl := f.wireLen
		if wl == 0 {
			wl = uint32(len(f.data))
		}
		ne.PutUint32(h[pktSecOff:], f.sec)
		ne.PutUint32(h[pktNsecOff:], f.nsec)
		ne.PutUint32(h[pktSnaplenOff:], uint32(len(f.data)))
		ne.PutUint32(h[pktLenOff:], wl)
		ne.PutUint16(h[pktMacOff:], mac)
		ne.PutUint32(h[sllIfindexOff:], uint32(f.ifindex))
		h[sllPkttypeOff] = f.pkttype
		copy(h[mac:], f.data)
		step := (mac + len(f.data) + 15) &^ 15
		if i < len(frames)-1 {
			ne.PutUint32(h[pktNextOff:], uint32(step))
		}
		if v, ok := m.next[i]; ok {
			ne.PutUint32(h[pktNextOff:], v)
		}
		if v, ok := m.mac[i]; ok {
			ne.PutUint16(h[pktMacOff:], v)
		}
		if v, ok := m.snaplen[i]; ok {
			ne.PutUint32(h[pktSnaplenOff:], v)
		}
		off += step
	}
	if m.numPkts != nil {
		ne.PutUint32(blk[blkNumPktsOff:], *m.numPkts)
	}
	if m.firstPkt != nil {
		ne.PutUint32(blk[blkFirstPktOff:], *m.firstPkt)
	}
	return blk
}

func u32(v uint32) *uint32 { return &v }

// walked is what walkBlock delivered of a frame.
type walked struct {
	Data    []byte
	WireLen uint32
	TS      time.Time
	Ifindex int
	Pkttype uint8
}

func walkAll(blk []byte) ([]walked, error) {
	var got []walked
	err := walkBlock(blk, func(f *ringFrame) bool {
		got = append(got, walked{bytes.Clone(f.data), f.wireLen, f.ts, f.ifindex, f.pkttype})
		return true
	})
	return got, err
}

// TestWalkBlock: the walker delivers every frame of a well-formed block
// with its time, length, interface and packet type, and refuses every
// header that points outside the block (delivering the frames before
// it), without reading past the block.
func TestWalkBlock(t *testing.T) {
	q := query(1, "ring.example", dns.TypeA)
	qf, rf := udpPair(q, answer(q, "ring.example. 60 IN A 192.0.2.9"), 33000)
	three := []testRingFrame{
		{data: qf, sec: 1700000000, nsec: 5, ifindex: 1},
		{data: rf, wireLen: uint32(len(rf)) + 100, sec: 1700000001, nsec: 999999999, ifindex: 1, pkttype: unix.PACKET_OUTGOING},
		{data: []byte{1, 2, 3}, sec: 2, ifindex: 7},
	}
	want3 := []walked{
		{qf, uint32(len(qf)), time.Unix(1700000000, 5), 1, 0},
		{rf, uint32(len(rf)) + 100, time.Unix(1700000001, 999999999), 1, unix.PACKET_OUTGOING},
		{[]byte{1, 2, 3}, 3, time.Unix(2, 0), 7, 0},
	}
	for _, tc := range []struct {
		name    string
		blk     []byte
		want    []walked
		wantErr bool
	}{
		{name: "three frames", blk: buildBlock(4096, three, blockMods{}), want: want3},
		{name: "zero frames", blk: buildBlock(4096, nil, blockMods{}), want: nil},
		{name: "zero frames, garbage offset", blk: buildBlock(4096, nil, blockMods{firstPkt: u32(1 << 31)}), want: nil},
		{name: "next offset zero", blk: buildBlock(4096, three, blockMods{next: map[int]uint32{0: 0}}), want: want3[:1], wantErr: true},
		{name: "next offset inside the header", blk: buildBlock(4096, three, blockMods{next: map[int]uint32{1: 40}}), want: want3[:2], wantErr: true},
		{name: "next offset past the block", blk: buildBlock(4096, three, blockMods{next: map[int]uint32{0: 4090}}), want: want3[:1], wantErr: true},
		{name: "next offset huge", blk: buildBlock(4096, three, blockMods{next: map[int]uint32{1: 0xffffffff}}), want: want3[:2], wantErr: true},
		{name: "snaplen past the block end", blk: buildBlock(4096, three, blockMods{snaplen: map[int]uint32{2: 4000}}), want: want3[:2], wantErr: true},
		{name: "snaplen huge", blk: buildBlock(4096, three, blockMods{snaplen: map[int]uint32{0: 0xffffffff}}), wantErr: true},
		{name: "tp_mac inside the header", blk: buildBlock(4096, three, blockMods{mac: map[int]uint16{0: 10}}), wantErr: true},
		{name: "tp_mac past the block", blk: buildBlock(4096, three, blockMods{mac: map[int]uint16{1: 0xffff}}), want: want3[:1], wantErr: true},
		{name: "first offset in the descriptor", blk: buildBlock(4096, three, blockMods{firstPkt: u32(8)}), wantErr: true},
		{name: "first offset past the block", blk: buildBlock(4096, three, blockMods{firstPkt: u32(4080)}), wantErr: true},
		{name: "more frames claimed than written", blk: buildBlock(4096, three, blockMods{numPkts: u32(4)}), want: want3, wantErr: true},
		{name: "num_pkts cannot fit", blk: buildBlock(4096, three, blockMods{numPkts: u32(0xffffffff)}), wantErr: true},
		{name: "shorter than a descriptor", blk: make([]byte, 20), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := walkAll(tc.blk)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, errRing)) {
				t.Errorf("walkBlock() error = %v, want error %v (errRing)", err, tc.wantErr)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("walkBlock() frames (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("stop early", func(t *testing.T) {
		n := 0
		err := walkBlock(buildBlock(4096, three, blockMods{}), func(*ringFrame) bool { n++; return false })
		if err != nil || n != 1 {
			t.Errorf("walkBlock() with fn returning false: %d frames, %v; want 1, nil", n, err)
		}
	})
}

// FuzzWalkBlock: any block, hand-built ones as seeds: no panic, no read
// outside the block (the frames are sub-slices of it), every frame
// within it.
func FuzzWalkBlock(f *testing.F) {
	q := query(1, "ring.example", dns.TypeA)
	qf, rf := udpPair(q, answer(q, "ring.example. 60 IN A 192.0.2.9"), 33000)
	frames := []testRingFrame{{data: qf, ifindex: 1}, {data: rf, ifindex: 1}}
	f.Add(buildBlock(1024, frames, blockMods{}))
	f.Add(buildBlock(512, nil, blockMods{}))
	f.Add(buildBlock(1024, frames, blockMods{next: map[int]uint32{0: 3}}))
	f.Add(buildBlock(1024, frames, blockMods{snaplen: map[int]uint32{1: 900}}))
	f.Add(buildBlock(1024, frames, blockMods{numPkts: u32(9)}))
	f.Fuzz(func(t *testing.T, blk []byte) {
		n := 0
		err := walkBlock(blk, func(fr *ringFrame) bool {
			n++
			if len(fr.data) > 0 && len(blk) > 0 {
				start := uintptr(unsafePointer(fr.data)) - uintptr(unsafePointer(blk))
				if start+uintptr(len(fr.data)) > uintptr(len(blk)) {
					t.Fatalf("frame %d at %d+%d outside the %d-byte block", n, start, len(fr.data), len(blk))
				}
			}
			if cap(fr.data) != len(fr.data) {
				t.Fatalf("frame %d: cap %d beyond its length %d", n, cap(fr.data), len(fr.data))
			}
			return true
		})
		if err != nil && !errors.Is(err, errRing) {
			t.Fatalf("walkBlock() = %v, not errRing", err)
		}
		if n > len(blk)/(pktHdrLen+sllLen) {
			t.Fatalf("%d frames from %d bytes", n, len(blk))
		}
	})
}

// TestRingLayout: 1 MiB blocks for big rings, at least 8 smaller blocks
// otherwise, never a block smaller than a snaplen frame, at least 2.
func TestRingLayout(t *testing.T) {
	for _, tc := range []struct {
		ring, snaplen int
		want          string
		wantErr       bool
	}{
		{8 << 20, 65560, "8MiB (8 blocks of 1MiB)", false},
		{64 << 20, 65560, "64MiB (64 blocks of 1MiB)", false},
		{4 << 20, 65560, "4MiB (8 blocks of 512KiB)", false},
		{1 << 20, 65560, "1MiB (8 blocks of 128KiB)", false},
		{512 << 10, 65560, "476KiB (7 blocks of 68KiB)", false},
		{64 << 10, 256, "64KiB (8 blocks of 8KiB)", false},
		{16 << 10, 256, "16KiB (4 blocks of 4KiB)", false},
		{100000, 65560, "", true},
	} {
		g, err := ringLayout(tc.ring, tc.snaplen)
		if (err != nil) != tc.wantErr {
			t.Errorf("ringLayout(%d, %d) error = %v, want error %v", tc.ring, tc.snaplen, err, tc.wantErr)
			continue
		}
		if err == nil && g.String() != tc.want {
			t.Errorf("ringLayout(%d, %d) = %s, want %s", tc.ring, tc.snaplen, g, tc.want)
		}
	}
}

// TestRingKernelDrops: a burst larger than a tiny ring, sent while the
// reader is held up by a pipeline that takes nothing, shows up in
// sluice_dnscap_kernel_drops_total once the pipeline drains.
func TestRingKernelDrops(t *testing.T) {
	needRoot(t)
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := Default()
	cfg.Interfaces, cfg.Ports = []string{"lo"}, []uint16{uint16(srv.LocalAddr().(*net.UDPAddr).Port)}
	cfg.Snaplen, cfg.RingBytes = 256, 16<<10 // 4 blocks of 4 KiB: a few dozen frames
	c, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.socks[0].ring == nil {
		t.Fatalf("no ring: %s", c.Ring())
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *event.Batch) // nobody reads yet: the reader blocks on its first batch
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	cli, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// Responses alone become documents at once (response_only): the
	// reader soon waits on out, holding its block.
	cliAddr := cli.LocalAddr().(*net.UDPAddr)
	const burst = 2000
	for i := range burst {
		q := query(uint16(i), fmt.Sprintf("d%d.example", i), dns.TypeA)
		if _, err := srv.WriteToUDP(pack(answer(q, fmt.Sprintf("d%d.example. 1 IN A 192.0.2.1", i))), cliAddr); err != nil {
			t.Fatal(err)
		}
	}
	drained := make(chan int)
	go func() {
		n := 0
		for b := range out {
			n += b.Len()
			b.Release()
		}
		drained <- n
	}()
	drops := c.m.kernelDrops.WithLabelValues("lo")
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(drops) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	close(out)
	docs := <-drained
	d := testutil.ToFloat64(drops)
	frames := testutil.ToFloat64(c.m.frames.WithLabelValues("lo"))
	t.Logf("burst %d: %v frames read, %d documents, %v kernel drops", burst, frames, docs, d)
	if d == 0 {
		t.Errorf("kernel drops = 0 after a %d-frame burst into a %s ring", burst, c.Ring())
	}
	if frames+d > burst*1.01 {
		t.Errorf("frames read %v + dropped %v > %d sent", frames, d, burst)
	}
}

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }
