// Package collector holds the listener plumbing shared by every protocol:
// UDP sockets (SO_REUSEPORT, batch reads, receive buffer sizing), the decode
// worker pool and the contract decoders implement.
package collector

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// Packet is one received datagram, or one message framed out of a TCP/TLS
// stream.
type Packet struct {
	// Data is only valid during Decode; decoders copy what they keep.
	Data     []byte
	Src      netip.AddrPort // sender (exporter) address
	Received time.Time      // when sluice read it
	// Truncated says Data is not the whole message: it was longer than the
	// listener's limit, or the connection ended inside it. Decoders should
	// tag the events event.TagTruncated (the TCP listener also sets the tag
	// on every event Decode added for such a packet).
	Truncated bool
	// Listener names the listener that received it: transport and the
	// address as configured, e.g. "udp/0.0.0.0:5514", "tls/[::]:6514".
	Listener string
}

// Decoder turns datagrams into events.
//
// The collector calls Decode for all packets of one exporter address from the
// same goroutine, in arrival order (packets are sharded to workers by source
// address); different exporters may be decoded concurrently, so shared state
// (template caches) must be safe for concurrent use. The TCP listener calls
// Decode from one goroutine per connection, in stream order; two connections
// from the same address may be decoded concurrently.
//
// Decode appends the events it could decode to b even when it also returns an
// error (one bad set must not cost the packet's good sets). Errors should be
// *DecodeError so the collector can count them by reason.
type Decoder interface {
	Decode(p *Packet, b *event.Batch) error
}

// Closer is implemented by decoders with state to save at shutdown
// (templates) or held data to account for (pending sets).
type Closer interface {
	Close() error
}

// Ticker is implemented by decoders with periodic work (expiring held data,
// saving state). The collector calls Tick about once a second while it runs.
type Ticker interface {
	Tick(now time.Time) error
}

// DecodeError is a counted, bounded-label decode failure.
type DecodeError struct {
	Reason string // short, bounded label: "truncated", "bad_version", "template_unknown", ...
	Err    error
	// Dropped is how many records (or sets, when records cannot be counted) were lost.
	Dropped int
}

func (e *DecodeError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Errorf builds a DecodeError with a formatted message.
func Errorf(reason string, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// JoinDecodeErrors combines several per-set errors of one packet; nil entries are skipped.
func JoinDecodeErrors(errs ...error) error { return errors.Join(errs...) }

// Reasons returns the reasons of every DecodeError inside err (which may be
// joined), or "other" for errors of another type.
func Reasons(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var de *DecodeError
		if errors.As(e, &de) {
			out = append(out, de.Reason)
			return
		}
		out = append(out, "other")
	}
	walk(err)
	return out
}
