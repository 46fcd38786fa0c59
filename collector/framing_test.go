package collector

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// gotFrame is a Frame with its data copied, for comparisons.
type gotFrame struct {
	Data       string
	Framing    Framing
	Truncated  bool
	Incomplete bool
}

// readFrames reads r to the end; the string is the FrameError reason, the
// error's text for other errors, or "" at io.EOF.
func readFrames(t testing.TB, r io.Reader, bufSize, max int) ([]gotFrame, string) {
	t.Helper()
	fr := NewFrameReader(bufio.NewReaderSize(r, bufSize), max)
	var out []gotFrame
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("Next() did not end")
		}
		f, err := fr.Next()
		if err != nil {
			if _, err2 := fr.Next(); err2 != err {
				t.Fatalf("Next() after %v = %v: errors must be sticky", err, err2)
			}
			var fe *FrameError
			switch {
			case err == io.EOF:
				return out, ""
			case errors.As(err, &fe):
				return out, fe.Reason
			default:
				return out, err.Error()
			}
		}
		if len(f.Data) > max {
			t.Fatalf("frame of %d bytes, max %d", len(f.Data), max)
		}
		if f.Incomplete && !f.Truncated {
			t.Fatalf("frame %q is Incomplete but not Truncated", f.Data)
		}
		out = append(out, gotFrame{string(f.Data), f.Framing, f.Truncated, f.Incomplete})
	}
}

// refFrames is the framing specification written plainly over the whole
// input; the streaming FrameReader must agree with it for any input and
// any buffer size.
func refFrames(in []byte, max int) ([]gotFrame, string) {
	isSep := func(c byte) bool { return c == '\n' || c == '\r' }
	for len(in) > 0 && isSep(in[0]) {
		in = in[1:]
	}
	if len(in) == 0 {
		return nil, ""
	}
	d := 0
	for d < len(in) && in[d] >= '0' && in[d] <= '9' {
		d++
	}
	octet := in[0] != '0' && d >= 1 && d <= detectDigits && d < len(in) && in[d] == ' '
	var out []gotFrame
	if !octet {
		for len(in) > 0 {
			line, rest, found := bytes.Cut(in, []byte{'\n'})
			in = rest
			line = bytes.TrimSuffix(line, []byte{'\r'})
			f := gotFrame{Framing: FramingNewline}
			if len(line) > max {
				line, f.Truncated = line[:max], true
			}
			f.Data = string(line)
			if len(line) > 0 {
				out = append(out, f)
			}
			if !found {
				break
			}
		}
		return out, ""
	}
	for {
		for len(in) > 0 && isSep(in[0]) {
			in = in[1:]
		}
		if len(in) == 0 {
			return out, ""
		}
		n, i := 0, 0
		for ; ; i++ {
			if i == len(in) {
				return out, "incomplete"
			}
			c := in[i]
			if c == ' ' && i > 0 {
				break
			}
			if c < '0' || c > '9' || (i == 0 && c == '0') {
				return out, "bad_length"
			}
			n = n*10 + int(c-'0')
			if i+1 > maxCountDigits || n > MaxOctetCount {
				return out, "bad_length"
			}
		}
		in = in[i+1:]
		keep := min(n, max)
		f := gotFrame{Framing: FramingOctetCounted}
		if len(in) < keep {
			if len(in) == 0 {
				return out, "incomplete"
			}
			f.Data = string(trimNewline(in))
			f.Truncated, f.Incomplete = true, true
			return append(out, f), ""
		}
		f.Data = string(trimNewline(in[:keep]))
		f.Truncated = n > keep
		if f.Data != "" || f.Truncated {
			out = append(out, f)
		}
		if len(in) < n {
			return out, ""
		}
		in = in[n:]
	}
}

func TestFrameReader(t *testing.T) {
	long := strings.Repeat("x", 3000)
	tests := []struct {
		name string
		in   string
		max  int
		want []gotFrame
		err  string
	}{
		{name: "empty", in: "", max: 100},
		{name: "newline", in: "<13>a\n<13>b\r\n\n\n<13>c", max: 100, want: []gotFrame{
			{"<13>a", FramingNewline, false, false}, {"<13>b", FramingNewline, false, false}, {"<13>c", FramingNewline, false, false}}},
		{name: "octet counted", in: "5 <13>a6 <13>bc\n\n4 <1>x", max: 100, want: []gotFrame{
			{"<13>a", FramingOctetCounted, false, false}, {"<13>bc", FramingOctetCounted, false, false}, {"<1>x", FramingOctetCounted, false, false}}},
		{name: "octet count includes LF", in: "6 <13>a\n6 <13>b\n", max: 100, want: []gotFrame{
			{"<13>a", FramingOctetCounted, false, false}, {"<13>b", FramingOctetCounted, false, false}}},
		{name: "octet message with LF inside", in: "6 <1>a\nb", max: 100, want: []gotFrame{{"<1>a\nb", FramingOctetCounted, false, false}}},
		{name: "newline stream keeps digit lines", in: "<1>a\n12 b\n", max: 100, want: []gotFrame{
			{"<1>a", FramingNewline, false, false}, {"12 b", FramingNewline, false, false}}},
		{name: "leading zero is not a count", in: "05 hello\n", max: 100, want: []gotFrame{{"05 hello", FramingNewline, false, false}}},
		{name: "digits without space", in: "2024-01-01 x\n", max: 100, want: []gotFrame{{"2024-01-01 x", FramingNewline, false, false}}},
		{name: "huge count", in: "99999999999 <13>a", max: 100, err: "bad_length"},
		{name: "count above bound", in: "67108865 <13>a", max: 100, err: "bad_length"},
		{name: "garbage after octet frame", in: "3 abcxyz\n", max: 100, want: []gotFrame{{"abc", FramingOctetCounted, false, false}}, err: "bad_length"},
		{name: "octet frame cut by EOF", in: "10 abc", max: 100, want: []gotFrame{{"abc", FramingOctetCounted, true, true}}},
		{name: "EOF after count", in: "3 abc10 ", max: 100, want: []gotFrame{{"abc", FramingOctetCounted, false, false}}, err: "incomplete"},
		{name: "EOF inside count", in: "3 abc1", max: 100, want: []gotFrame{{"abc", FramingOctetCounted, false, false}}, err: "incomplete"},
		{name: "line truncated", in: "abcdefghij\nnext\n", max: 4, want: []gotFrame{
			{"abcd", FramingNewline, true, false}, {"next", FramingNewline, false, false}}},
		{name: "line of exactly max with CRLF", in: "abcd\r\nx", max: 4, want: []gotFrame{
			{"abcd", FramingNewline, false, false}, {"x", FramingNewline, false, false}}},
		{name: "octet truncated", in: "10 abcdefghij4 next", max: 4, want: []gotFrame{
			{"abcd", FramingOctetCounted, true, false}, {"next", FramingOctetCounted, false, false}}},
		{name: "long line beyond buffer", in: long + "\nnext\n", max: 2048, want: []gotFrame{
			{long[:2048], FramingNewline, true, false}, {"next", FramingNewline, false, false}}},
		{name: "long line fits max", in: long + "\r\nnext", max: 4000, want: []gotFrame{
			{long, FramingNewline, false, false}, {"next", FramingNewline, false, false}}},
		{name: "long octet frame", in: "3000 " + long + "4 next", max: 4000, want: []gotFrame{
			{long, FramingOctetCounted, false, false}, {"next", FramingOctetCounted, false, false}}},
		{name: "binary and invalid UTF-8", in: "\x00\xff\xfe\xc3\x28 \x01\n\xed\xa0\x80\n", max: 100, want: []gotFrame{
			{"\x00\xff\xfe\xc3\x28 \x01", FramingNewline, false, false}, {"\xed\xa0\x80", FramingNewline, false, false}}},
		{name: "empty octet frames skipped", in: "1 \n2 \r\n3 abc", max: 100, want: []gotFrame{{"abc", FramingOctetCounted, false, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, refErr := refFrames([]byte(tc.in), tc.max)
			if diff := cmp.Diff(ref, tc.want); diff != "" || refErr != tc.err {
				t.Fatalf("refFrames() error %q, want %q (-got +want):\n%s", refErr, tc.err, diff)
			}
			for _, size := range []int{16, 64, 4096} {
				got, err := readFrames(t, strings.NewReader(tc.in), size, tc.max)
				if diff := cmp.Diff(got, tc.want); diff != "" || err != tc.err {
					t.Fatalf("buffer %d: frames with error %q, want %q (-got +want):\n%s", size, err, tc.err, diff)
				}
			}
		})
	}
}

// A read error other than EOF inside a frame delivers what was read, marked
// incomplete, then the error.
func TestFrameReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		in   string
		want []gotFrame
	}{
		{"<1>a\n<1>partial", []gotFrame{{"<1>a", FramingNewline, false, false}, {"<1>partial", FramingNewline, true, true}}},
		{"4 <1>a9 <1>part", []gotFrame{{"<1>a", FramingOctetCounted, false, false}, {"<1>part", FramingOctetCounted, true, true}}},
		{"<1>a\n", []gotFrame{{"<1>a", FramingNewline, false, false}}},
	} {
		r := io.MultiReader(strings.NewReader(tc.in), iotest.ErrReader(boom))
		got, err := readFrames(t, r, 16, 100)
		if diff := cmp.Diff(got, tc.want); diff != "" || err != "boom" {
			t.Errorf("%q: frames with error %q, want boom (-got +want):\n%s", tc.in, err, diff)
		}
	}
}

// A 1 MB line costs the reader max+2 bytes, not 1 MB.
func TestFrameReaderBoundedMemory(t *testing.T) {
	const max = 64 << 10
	for _, in := range []string{
		strings.Repeat("y", 1<<20) + "\n<1>next\n",
		"1048576 " + strings.Repeat("y", 1<<20) + "7 <1>next",
	} {
		fr := NewFrameReader(bufio.NewReaderSize(strings.NewReader(in), readBufferSize), max)
		f, err := fr.Next()
		if err != nil || len(f.Data) != max || !f.Truncated || f.Incomplete {
			t.Fatalf("Next() = %d bytes truncated=%v incomplete=%v, %v; want %d bytes truncated", len(f.Data), f.Truncated, f.Incomplete, err, max)
		}
		if cap(fr.buf) > max+2 {
			t.Errorf("frame buffer grew to %d bytes for a %d byte limit", cap(fr.buf), max)
		}
		f, err = fr.Next()
		if err != nil || string(f.Data) != "<1>next" || f.Truncated {
			t.Fatalf("Next() after the long frame = %q truncated=%v, %v; want <1>next intact", f.Data, f.Truncated, err)
		}
	}
}

func FuzzFrameReader(f *testing.F) {
	for _, s := range []string{
		"", "\n", "<13>a\n<13>b\r\n", "5 <13>a6 <13>bc\n", "99999999999 x", "10 abc", "3 abc1",
		"12 b\n<1>x\n", "05 x\n", "7 <1>a\nb", "1 \n2 \r\n3 abc", "\x00\xff\xfe\n",
		strings.Repeat("z", 70) + "\nok\n", "80 " + strings.Repeat("q", 80) + "2 ok",
	} {
		f.Add([]byte(s), uint8(30))
	}
	f.Fuzz(func(t *testing.T, in []byte, maxByte uint8) {
		max := int(maxByte)%200 + 1
		want, wantErr := refFrames(in, max)
		for _, r := range []io.Reader{
			bytes.NewReader(in),
			iotest.OneByteReader(bytes.NewReader(in)),
			iotest.HalfReader(bytes.NewReader(in)),
		} {
			for _, size := range []int{16, 64, 4096} {
				got, err := readFrames(t, r, size, max)
				if diff := cmp.Diff(got, want); diff != "" || err != wantErr {
					t.Fatalf("buffer %d max %d: error %q, want %q (-got +want):\n%s", size, max, err, wantErr, diff)
				}
				// The reader was consumed; make a fresh one for the next size.
				r = bytes.NewReader(in)
			}
		}
	})
}

// probeReader hands out in chunks and calls check, with how many bytes it
// handed out so far, at every Read: the moments a stream listener would
// wait for the network.
type probeReader struct {
	in    []byte
	pos   int
	chunk int
	check func(delivered int)
}

func (r *probeReader) Read(p []byte) (int, error) {
	r.check(r.pos)
	if r.pos >= len(r.in) {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.in)-r.pos)
	copy(p, r.in[r.pos:r.pos+n])
	r.pos += n
	return n, nil
}

// inFrameTrace reads in, chunk bytes at a time, and returns InFrame at
// each read as T/F.
func inFrameTrace(in string, chunk int) string {
	var fr *FrameReader
	var trace []byte
	pr := &probeReader{in: []byte(in), chunk: chunk, check: func(int) {
		c := byte('F')
		if fr.InFrame() {
			c = 'T'
		}
		trace = append(trace, c)
	}}
	fr = NewFrameReader(bufio.NewReaderSize(pr, 16), 100)
	for {
		if _, err := fr.Next(); err != nil {
			return string(trace)
		}
	}
}

// InFrame tells a stream waiting between messages from one stuck inside a
// message, byte by byte.
func TestFrameReaderInFrame(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<1>a\n<1>b", "FTTTTFTTTT"},       // the last read (EOF) is inside <1>b
		{"<1>a\n\n<1>b\n", "FTTTTFFTTTTF"}, // an empty line is no message
		{"3 abc\n4 defg", "FTTTTFFTTTTTF"}, // the LF between octet frames is no message
		{"\n\n12 abcdefghijkl", "FFF" + strings.Repeat("T", 14) + "F"},
		// A line longer than the buffer is in progress across reads too.
		{strings.Repeat("x", 40) + "\n", "F" + strings.Repeat("T", 40) + "F"},
	} {
		if got := inFrameTrace(tc.in, 1); got != tc.want {
			t.Errorf("%q read byte by byte: InFrame at each read %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzFrameReaderInFrame: whenever InFrame reports no message in progress,
// what the stream delivered so far is exactly the frames Next returned
// (and separators): framing that prefix alone ends cleanly with as many
// frames. A wrong "no" would let a slowloris hold its slot for idle_timeout
// instead of frame_timeout.
func FuzzFrameReaderInFrame(f *testing.F) {
	for _, s := range []string{
		"", "\n", "<13>a\n<13>b\r\n", "5 <13>a6 <13>bc\n", "99999999999 x", "10 abc", "3 abc1",
		"12 b\n<1>x\n", "05 x\n", "7 <1>a\nb", "1 \n2 \r\n3 abc", "\x00\xff\xfe\n", "abc\r\n\r\ndef",
		strings.Repeat("z", 70) + "\nok\n", "80 " + strings.Repeat("q", 80) + "2 ok",
	} {
		f.Add([]byte(s), uint8(30), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, maxByte, chunkByte uint8) {
		max := int(maxByte)%200 + 1
		chunk := int(chunkByte)%24 + 1
		var fr *FrameReader
		frames := 0
		pr := &probeReader{in: in, chunk: chunk, check: func(delivered int) {
			if fr.InFrame() {
				return
			}
			ref, refErr := refFrames(in[:delivered], max)
			incomplete := false
			for _, g := range ref {
				incomplete = incomplete || g.Incomplete
			}
			if refErr != "" || incomplete || len(ref) != frames {
				t.Fatalf("chunk %d max %d: InFrame() = false after %d bytes and %d frames, but those bytes frame as %d frames (error %q, incomplete %v)",
					chunk, max, delivered, frames, len(ref), refErr, incomplete)
			}
		}}
		fr = NewFrameReader(bufio.NewReaderSize(pr, 16), max)
		for i := 0; ; i++ {
			if i > 1<<20 {
				t.Fatal("Next() did not end")
			}
			if _, err := fr.Next(); err != nil {
				break
			}
			frames++
		}
	})
}

// BenchmarkFrameReader is the framing cost alone, over a 16 KiB buffer as
// a connection reads (no sockets: steadier than BenchmarkTCP*).
func BenchmarkFrameReader(b *testing.B) {
	for _, octet := range []bool{false, true} {
		name := "newline"
		if octet {
			name = "octet_counted"
		}
		b.Run(name, func(b *testing.B) {
			const perOp = 1000
			var payload []byte
			for i := range perOp {
				msg := fmt.Sprintf("<134>1 2026-03-01T10:00:05.123Z fw01 filterlog 1234 - - 5,,,1000000103,igb0,match,pass,in,4,0x0,,64,%d,0,DF,6,tcp,60", i)
				if octet {
					payload = fmt.Appendf(payload, "%d %s", len(msg), msg)
				} else {
					payload = append(append(payload, msg...), '\n')
				}
			}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			r := bytes.NewReader(payload)
			br := bufio.NewReaderSize(r, readBufferSize)
			n := 0
			for b.Loop() {
				r.Reset(payload)
				br.Reset(r)
				fr := NewFrameReader(br, DefaultMaxMessageBytes)
				for {
					if _, err := fr.Next(); err != nil {
						break
					}
					n++
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
