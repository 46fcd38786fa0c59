package dnscap

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"
)

// Test frames are built here byte by byte (the parser's input is
// untrusted bytes; building them independently of it is the check).

type frameOpts struct {
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
	seq          uint32
	flags        uint8 // TCP
	vlan         bool
	payload      []byte
}

func buildFrame(o frameOpts) []byte {
	var l4 []byte
	if o.proto == protoUDP {
		l4 = make([]byte, 8, 8+len(o.payload))
		binary.BigEndian.PutUint16(l4[0:], o.sport)
		binary.BigEndian.PutUint16(l4[2:], o.dport)
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(o.payload)))
	} else {
		l4 = make([]byte, 20, 20+len(o.payload))
		binary.BigEndian.PutUint16(l4[0:], o.sport)
		binary.BigEndian.PutUint16(l4[2:], o.dport)
		binary.BigEndian.PutUint32(l4[4:], o.seq)
		l4[12] = 5 << 4
		l4[13] = o.flags | 0x10 // ACK
	}
	l4 = append(l4, o.payload...)
	f := make([]byte, 12, 64+len(l4))
	if o.vlan {
		f = append(f, 0x81, 0x00, 0x00, 0x07)
	}
	if o.src.Is4() {
		f = append(f, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		ip[6] = 0x40 // DF
		ip[8] = 64
		ip[9] = o.proto
		s, d := o.src.As4(), o.dst.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		f = append(append(f, ip...), l4...)
	} else {
		f = append(f, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(l4)))
		ip[6] = o.proto
		ip[7] = 64
		s, d := o.src.As16(), o.dst.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		f = append(append(f, ip...), l4...)
	}
	return f
}

var (
	client = netip.MustParseAddr("10.0.0.5")
	server = netip.MustParseAddr("10.0.0.53")
)

func query(id uint16, name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Id = id
	return m
}

func answer(q *dns.Msg, rrs ...string) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(q)
	r.RecursionAvailable = true
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		r.Answer = append(r.Answer, rr)
	}
	return r
}

func pack(m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

// udpPair returns the frames of query q and its response r over UDP.
func udpPair(q, r *dns.Msg, cport uint16) (qf, rf []byte) {
	qf = buildFrame(frameOpts{src: client, dst: server, sport: cport, dport: 53, proto: protoUDP, payload: pack(q)})
	if r != nil {
		rf = buildFrame(frameOpts{src: server, dst: client, sport: 53, dport: cport, proto: protoUDP, payload: pack(r)})
	}
	return qf, rf
}

// tcpMsg is a DNS message with its 2-byte length prefix.
func tcpMsg(m *dns.Msg) []byte {
	b := pack(m)
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}
