package dnscap

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// filterProgram builds the classic BPF program the kernel runs on every
// frame before it is copied to sluice: IPv4 or IPv6 UDP/TCP with one of
// ports as source or destination port (IPv4 non-first fragments, which
// carry no ports, are refused). VLAN-tagged frames are all accepted and
// checked in Go. It is built from the port list, not compiled from a pcap
// expression (that needs libpcap).
//
// With dropOutgoing (loopback, where every frame is seen twice: sent and
// received) frames of type PACKET_OUTGOING are refused first.
func filterProgram(ports []uint16, snaplen int, dropOutgoing bool) ([]bpfRaw, error) {
	var a asm
	accept := "accept"
	if dropOutgoing {
		a.op(bpf.LoadExtension{Num: bpf.ExtType})
		a.jeq(4, "drop") // PACKET_OUTGOING
	}
	a.op(bpf.LoadAbsolute{Off: 12, Size: 2})
	for _, vlan := range []uint32{0x8100, 0x88a8, 0x9100} {
		a.jeq(vlan, accept)
	}
	a.jeq(0x0800, "v4")
	a.jeq(0x86dd, "v6")
	a.op(bpf.RetConstant{Val: 0})

	a.label("v4")
	a.op(bpf.LoadAbsolute{Off: 23, Size: 1})
	a.jeq(17, "v4l4")
	a.jeq(6, "v4l4")
	a.op(bpf.RetConstant{Val: 0})
	a.label("v4l4")
	a.op(bpf.LoadAbsolute{Off: 20, Size: 2})
	a.jset(0x1fff, "drop")
	a.op(bpf.LoadMemShift{Off: 14})
	a.op(bpf.LoadIndirect{Off: 14, Size: 2})
	for _, p := range ports {
		a.jeq(uint32(p), accept)
	}
	a.op(bpf.LoadIndirect{Off: 16, Size: 2})
	for _, p := range ports {
		a.jeq(uint32(p), accept)
	}
	a.op(bpf.RetConstant{Val: 0})

	a.label("v6")
	a.op(bpf.LoadAbsolute{Off: 20, Size: 1})
	a.jeq(17, "v6l4")
	a.jeq(6, "v6l4")
	a.op(bpf.RetConstant{Val: 0})
	a.label("v6l4")
	a.op(bpf.LoadAbsolute{Off: 54, Size: 2})
	for _, p := range ports {
		a.jeq(uint32(p), accept)
	}
	a.op(bpf.LoadAbsolute{Off: 56, Size: 2})
	for _, p := range ports {
		a.jeq(uint32(p), accept)
	}
	a.label("drop")
	a.op(bpf.RetConstant{Val: 0})
	a.label(accept)
	a.op(bpf.RetConstant{Val: uint32(snaplen)})
	ins, err := a.resolve()
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(ins)
}

// asm assembles instructions with forward jumps to named labels.
type asm struct {
	ins    []bpf.Instruction
	jumps  map[int]string // instruction index -> label of its true branch
	labels map[string]int
}

func (a *asm) op(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *asm) label(l string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[l] = len(a.ins)
}

func (a *asm) jump(cond bpf.JumpTest, val uint32, l string) {
	if a.jumps == nil {
		a.jumps = map[int]string{}
	}
	a.jumps[len(a.ins)] = l
	a.ins = append(a.ins, bpf.JumpIf{Cond: cond, Val: val})
}

func (a *asm) jeq(val uint32, l string)  { a.jump(bpf.JumpEqual, val, l) }
func (a *asm) jset(val uint32, l string) { a.jump(bpf.JumpBitsSet, val, l) }

func (a *asm) resolve() ([]bpf.Instruction, error) {
	for i, l := range a.jumps {
		to, ok := a.labels[l]
		if !ok || to <= i || to-i-1 > 255 {
			return nil, fmt.Errorf("bpf: jump from %d to label %q (%d) cannot be encoded", i, l, to)
		}
		j := a.ins[i].(bpf.JumpIf)
		j.SkipTrue = uint8(to - i - 1)
		a.ins[i] = j
	}
	return a.ins, nil
}

type bpfRaw = bpf.RawInstruction
