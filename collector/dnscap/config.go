// Package dnscap captures DNS traffic passively (what Packetbeat's DNS
// module does): it reads frames from AF_PACKET sockets in pure Go (through
// a TPACKET_V3 ring shared with the kernel, or one recvmsg per frame), parses
// Ethernet/VLAN/IPv4/IPv6/UDP/TCP itself, decodes DNS messages with
// github.com/miekg/dns, reassembles DNS over TCP, and pairs each query with
// its response into one KindDNS event (a transaction document).
package dnscap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// Config configures passive DNS capture (dns.capture.*).
type Config struct {
	// Interfaces to capture on; empty disables capture.
	Interfaces []string
	// Ports are the DNS server ports: a packet is DNS when its source or
	// destination port is one of them. They are checked by a classic BPF
	// program in the kernel (built from this list, not a pcap expression)
	// and again in Go.
	Ports []uint16
	// Snaplen is the largest frame read; longer frames are counted as
	// malformed (truncated) and skipped.
	Snaplen int
	// Timeout is how long a query waits for its response; then it is
	// written as a transaction with no response.
	Timeout time.Duration
	// MaxPending bounds the queries waiting for a response (per
	// interface); when full the oldest is written without a response and
	// counted as evicted.
	MaxPending int
	// MaxTCPStreams bounds the TCP connections being reassembled (per
	// interface); when full a new connection is not followed (counted).
	MaxTCPStreams int
	// MaxAnswers bounds the dns.answers (and dns.resolved_ip) written per
	// transaction; dns.answers_count has the full count.
	MaxAnswers int
	// RingBytes is the size of each interface's TPACKET_V3 RX ring
	// (memory-mapped, shared with the kernel); 0 reads one frame per
	// recvmsg from the socket's receive buffer instead.
	RingBytes int
	// ReceiveBuffer is the socket's receive buffer (SO_RCVBUF) in bytes,
	// used when there is no ring (RingBytes 0, or the kernel refused it).
	ReceiveBuffer int
	// Index is the index pattern of the transaction documents
	// (output.index.dns).
	Index string
}

// DefaultIndex is the default index pattern of DNS transaction documents.
const DefaultIndex = "sluice-dns-%{+yyyy.MM.dd}"

// Default returns the default configuration (capture off).
func Default() Config {
	return Config{
		Ports:         []uint16{53},
		Snaplen:       65560, // the largest IP packet plus Ethernet and two VLAN tags
		Timeout:       5 * time.Second,
		MaxPending:    65536,
		MaxTCPStreams: 4096,
		MaxAnswers:    20,
		RingBytes:     8 << 20,
		ReceiveBuffer: 8 << 20,
		Index:         DefaultIndex,
	}
}

// Validate reports every problem with the configuration, each naming its
// key, value and fix. It checks that the interfaces exist on this host.
func (c Config) Validate() error {
	if len(c.Interfaces) == 0 {
		return nil
	}
	var errs []error
	seen := map[string]bool{}
	for _, name := range c.Interfaces {
		if seen[name] {
			errs = append(errs, fmt.Errorf("dns.capture.interfaces: %q is listed twice; list each interface once", name))
			continue
		}
		seen[name] = true
		if _, err := net.InterfaceByName(name); err != nil {
			errs = append(errs, fmt.Errorf("dns.capture.interfaces: %q is not a network interface of this host (%v); use a name `ip link` shows, such as eth0", name, err))
		} else if lt, ok := linkType(name); ok && lt != arphrdEther && lt != arphrdLoopback {
			errs = append(errs, fmt.Errorf("dns.capture.interfaces: %q has link type %d, not Ethernet (1) or loopback (772): frames without an Ethernet header "+
				"(tun, WireGuard, ...) cannot be parsed; capture on the Ethernet interface the traffic crosses", name, lt))
		}
	}
	if len(c.Ports) == 0 {
		errs = append(errs, errors.New("dns.capture.ports: empty; list the DNS server ports, e.g. [53]"))
	}
	if len(c.Ports) > 16 {
		errs = append(errs, fmt.Errorf("dns.capture.ports: %d ports; list at most 16", len(c.Ports)))
	}
	for _, p := range c.Ports {
		if p == 0 {
			errs = append(errs, errors.New("dns.capture.ports: 0 is not a port; use 1..65535"))
		}
	}
	if c.Snaplen < 256 || c.Snaplen > 262144 {
		errs = append(errs, fmt.Errorf("dns.capture.snaplen: %d is out of range; use 256..262144 (default 65560)", c.Snaplen))
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("dns.capture.timeout: %s is out of range; use 100ms..10m (default 5s)", c.Timeout))
	}
	if c.MaxPending < 16 || c.MaxPending > 1<<24 {
		errs = append(errs, fmt.Errorf("dns.capture.max_pending: %d is out of range; use 16..16777216 (default 65536)", c.MaxPending))
	}
	if c.MaxTCPStreams < 1 || c.MaxTCPStreams > 1<<20 {
		errs = append(errs, fmt.Errorf("dns.capture.max_tcp_streams: %d is out of range; use 1..1048576 (default 4096)", c.MaxTCPStreams))
	}
	if c.MaxAnswers < 0 || c.MaxAnswers > 30 {
		errs = append(errs, fmt.Errorf("dns.capture.max_answers: %d is out of range; use 0..30 (default 20)", c.MaxAnswers))
	}
	if c.ReceiveBuffer < 0 || c.ReceiveBuffer > 1<<30 {
		errs = append(errs, fmt.Errorf("dns.capture.receive_buffer_bytes: %d is out of range; use 0 (the system's) ..1073741824 (default 8388608)", c.ReceiveBuffer))
	}
	if c.RingBytes < 0 || c.RingBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("dns.capture.ring_bytes: %d is out of range; use 0 (no ring: one recvmsg per frame) ..1073741824 (default 8388608)", c.RingBytes))
	} else if c.RingBytes > 0 && c.Snaplen >= 256 && c.Snaplen <= 262144 {
		if _, err := ringLayout(c.RingBytes, c.Snaplen); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := event.NewIndexNamer(c.Index, time.UTC); err != nil {
		errs = append(errs, fmt.Errorf("output.index.dns: %w", err))
	}
	return errors.Join(errs...)
}

// Link types (ARPHRD_*) sluice parses.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// linkType reads an interface's link type from sysfs; ok is false when
// it cannot be read (then the frames tell).
func linkType(name string) (int, bool) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return v, err == nil
}
