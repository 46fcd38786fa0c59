package collector

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Framing is how a syslog stream over TCP or TLS delimits messages (RFC 6587).
type Framing uint8

// Framings.
const (
	FramingUnknown      Framing = iota // not detected yet
	FramingOctetCounted                // "MSG-LEN SP SYSLOG-MSG" (RFC 6587 3.4.1, RFC 5425 4.3)
	FramingNewline                     // "SYSLOG-MSG LF", non-transparent framing (RFC 6587 3.4.2)
)

// String returns the metric label of f.
func (f Framing) String() string {
	switch f {
	case FramingOctetCounted:
		return "octet_counted"
	case FramingNewline:
		return "newline"
	default:
		return "unknown"
	}
}

const (
	// MaxOctetCount bounds MSG-LEN of an octet-counted frame. A larger
	// count (or one with more than maxCountDigits digits) is not a message
	// but a desynchronised or hostile stream: a framing error.
	MaxOctetCount = 64 << 20
	// maxCountDigits is len("67108864").
	maxCountDigits = 8
	// detectDigits is how long a leading digit run may be and still make
	// the first frame octet-counted (so that "99999999999 " is reported as
	// a bad count instead of being taken for a line).
	detectDigits = 20
)

// FrameError is a framing failure after which the stream cannot be
// resynchronised; the connection should be closed.
type FrameError struct {
	Reason string // bounded metric label: "bad_length", "incomplete"
	Detail string
}

func (e *FrameError) Error() string { return "framing: " + e.Reason + ": " + e.Detail }

// Frame is one message cut from the stream.
type Frame struct {
	// Data is the message without its framing (count or LF, a trailing CR,
	// and for octet-counted frames one trailing LF/CRLF). It is only valid
	// until the next call of Next.
	Data    []byte
	Framing Framing
	// Truncated is set when Data is not the whole message: it was longer
	// than the limit (the rest was discarded), or the stream ended inside it.
	Truncated bool
	// Incomplete is set (with Truncated) when the stream ended or failed
	// inside the frame. A newline frame ended by a clean EOF is complete.
	Incomplete bool
}

// FrameReader splits a syslog byte stream into frames.
//
// The framing is detected once per stream, on its first frame: octet
// counting when the frame starts with a nonzero digit run followed by a
// space, newline otherwise. The stream then stays with it: RFC 6587 has no
// way to switch, and detecting per frame would misread newline messages that
// begin with digits and a space. In octet-counted mode a frame that does not
// start with MSG-LEN SP is a *FrameError (the stream is out of step); in
// newline mode every line is a message. Empty lines, and LF/CR bytes
// between octet-counted frames (some senders end those with a newline), are
// skipped.
//
// Memory is bounded by the bufio.Reader's size plus max+2 bytes, whatever
// the input: the part of a message beyond max is discarded as it is read.
// A FrameReader is not safe for concurrent use.
type FrameReader struct {
	r       *bufio.Reader
	max     int
	framing Framing
	buf     []byte // frames that do not fit in r's buffer, or that were truncated
	discard int    // bytes of the last frame, handed out in place, still in r
	err     error  // sticky: the stream has ended or failed
	// partial is set while Next has taken bytes of a frame out of r
	// (MSG-LEN digits, the part of a long line read so far); see InFrame.
	partial bool
}

// NewFrameReader returns a reader of frames of at most max bytes from r.
// Detection peeks at up to 21 bytes, so a reader smaller than 64 bytes is
// wrapped in a bigger one.
func NewFrameReader(r *bufio.Reader, max int) *FrameReader {
	if max < 1 {
		max = 1
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 64), max: max}
}

// Framing returns the framing detected so far (FramingUnknown before the
// first frame).
func (fr *FrameReader) Framing() Framing { return fr.framing }

// InFrame reports whether bytes of a frame that Next has not returned yet
// have been read from the stream: a message has started and is not
// complete. Separators (LF, CR) between octet-counted frames do not start
// one. It is meant to be called by the underlying reader, from within Next,
// just before it waits for the network (the stream listener uses it to
// tell a silent connection from one that is stuck inside a message).
func (fr *FrameReader) InFrame() bool { return fr.partial || fr.r.Buffered() > 0 }

// Next returns the next frame. At the end of the stream it returns io.EOF; a
// read error (a deadline, a reset) is returned as it is, after any partial
// frame has been returned; a *FrameError means the stream is unusable. Every
// error is sticky.
func (fr *FrameReader) Next() (Frame, error) {
	if fr.discard > 0 {
		_, _ = fr.r.Discard(fr.discard) // buffered already: cannot fail
		fr.discard = 0
	}
	if fr.err != nil {
		return Frame{}, fr.err
	}
	if fr.framing == FramingUnknown {
		if err := fr.detect(); err != nil {
			fr.err = err
			return Frame{}, err
		}
	}
	if fr.framing == FramingOctetCounted {
		return fr.nextOctet()
	}
	return fr.nextLine()
}

// skipSeparators drops LF and CR bytes before a frame.
func (fr *FrameReader) skipSeparators() error {
	for {
		p, err := fr.r.Peek(1)
		if len(p) == 0 {
			return err
		}
		if p[0] != '\n' && p[0] != '\r' {
			return nil
		}
		_, _ = fr.r.Discard(1)
	}
}

func (fr *FrameReader) detect() error {
	if err := fr.skipSeparators(); err != nil {
		return err
	}
	fr.partial = true
	fr.framing = FramingNewline
	for i := 1; i <= detectDigits+1; i++ {
		p, _ := fr.r.Peek(i)
		if len(p) < i {
			return nil // a short first frame at the end of the stream: a line
		}
		c := p[i-1]
		switch {
		case c == ' ' && i > 1:
			fr.framing = FramingOctetCounted
			return nil
		case c < '0' || c > '9' || (i == 1 && c == '0'):
			return nil
		}
	}
	return nil
}

func isEOF(err error) bool { return err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) }

func (fr *FrameReader) nextOctet() (Frame, error) {
	for {
		f, err := fr.octetFrame()
		if err != nil || len(f.Data) > 0 || f.Truncated {
			return f, err
		}
		// "1 \n": an empty message, like an empty line; skip it.
		if fr.discard > 0 {
			_, _ = fr.r.Discard(fr.discard)
			fr.discard = 0
		}
	}
}

func (fr *FrameReader) octetFrame() (Frame, error) {
	fr.partial = false
	if err := fr.skipSeparators(); err != nil {
		fr.err = err
		return Frame{}, err
	}
	fr.partial = true // a byte of MSG-LEN is buffered
	n, digits := 0, 0
	for {
		c, err := fr.r.ReadByte()
		if err != nil {
			if isEOF(err) {
				err = &FrameError{Reason: "incomplete", Detail: "the stream ended inside MSG-LEN"}
			}
			fr.err = err
			return Frame{}, err
		}
		if c == ' ' && digits > 0 {
			break
		}
		if c < '0' || c > '9' || (digits == 0 && c == '0') {
			fr.err = &FrameError{Reason: "bad_length", Detail: fmt.Sprintf("octet-counted frame starts with byte 0x%02x, not MSG-LEN SP", c)}
			return Frame{}, fr.err
		}
		digits++
		n = n*10 + int(c-'0')
		if digits > maxCountDigits || n > MaxOctetCount {
			fr.err = &FrameError{Reason: "bad_length", Detail: fmt.Sprintf("MSG-LEN above %d", MaxOctetCount)}
			return Frame{}, fr.err
		}
	}
	f := Frame{Framing: FramingOctetCounted}
	keep := min(n, fr.max)
	var got int
	var err error
	if n == keep && n <= fr.r.Size() {
		// Common case: the whole message fits in r's buffer; hand it out in
		// place and skip it at the next call.
		var p []byte
		p, err = fr.r.Peek(n)
		fr.discard, got = len(p), len(p)
		f.Data = p
	} else {
		if cap(fr.buf) < keep {
			fr.buf = make([]byte, 0, fr.max+2)
		}
		got, err = io.ReadFull(fr.r, fr.buf[:keep])
		f.Data = fr.buf[:got]
		if err == nil && n > keep {
			f.Truncated = true
			_, err = fr.r.Discard(n - keep)
		}
	}
	f.Data = trimNewline(f.Data)
	if err == nil {
		return f, nil
	}
	if isEOF(err) {
		err = io.EOF
	}
	fr.err = err
	if got < keep {
		if got == 0 {
			if err == io.EOF {
				fr.err = &FrameError{Reason: "incomplete", Detail: "the stream ended after MSG-LEN"}
			}
			return Frame{}, fr.err
		}
		f.Truncated, f.Incomplete = true, true
	}
	return f, nil
}

func trimNewline(p []byte) []byte {
	if len(p) > 0 && p[len(p)-1] == '\n' {
		p = p[:len(p)-1]
	}
	if len(p) > 0 && p[len(p)-1] == '\r' {
		p = p[:len(p)-1]
	}
	return p
}

func (fr *FrameReader) nextLine() (Frame, error) {
	fr.partial = false // what ReadSlice has not returned stays buffered
	for {
		line, err := fr.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return fr.longLine(line)
		}
		f := Frame{Framing: FramingNewline}
		if err != nil {
			fr.err = err
			if !isEOF(err) {
				f.Truncated, f.Incomplete = true, true
			} else {
				fr.err = io.EOF
			}
		}
		// line stays valid: the next call reads again only after this one.
		f.Data = trimNewline(line)
		if len(f.Data) > fr.max {
			f.Data, f.Truncated = f.Data[:fr.max], true
		}
		if len(f.Data) == 0 {
			if err != nil {
				return Frame{}, fr.err
			}
			continue // empty line
		}
		return f, nil
	}
}

// longLine reads a line longer than r's buffer, keeping at most max+2 bytes
// (room for the message, CR and LF) and discarding the rest up to the LF.
func (fr *FrameReader) longLine(first []byte) (Frame, error) {
	fr.partial = true
	f := Frame{Framing: FramingNewline}
	limit := fr.max + 2
	if cap(fr.buf) < limit {
		fr.buf = make([]byte, 0, limit)
	}
	buf := fr.buf[:0]
	over := false
	add := func(p []byte) {
		if over {
			return
		}
		room := limit - len(buf)
		if len(p) > room {
			p, over = p[:room], true
		}
		buf = append(buf, p...)
	}
	add(first)
	var err error
	for {
		var line []byte
		line, err = fr.r.ReadSlice('\n')
		add(line)
		if err != bufio.ErrBufferFull {
			break
		}
	}
	fr.buf = buf[:0]
	if err != nil {
		if isEOF(err) {
			fr.err = io.EOF
		} else {
			fr.err = err
			f.Truncated, f.Incomplete = true, true
		}
	}
	if over {
		buf, f.Truncated = buf[:fr.max], true
	} else {
		buf = trimNewline(buf)
		if len(buf) > fr.max {
			buf, f.Truncated = buf[:fr.max], true
		}
	}
	f.Data = buf
	if len(buf) == 0 { // a long run of CRs? nothing to deliver
		if fr.err != nil {
			return Frame{}, fr.err
		}
		return fr.nextLine()
	}
	return f, nil
}
