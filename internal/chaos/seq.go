package chaos

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// doc is the part of a sluice document the checker reads: a flow's
// sequence number is its IN_BYTES, a syslog line's is the seq=N in its
// message.
type doc struct {
	Netflow struct {
		InBytes *json.Number `json:"in_bytes"`
	} `json:"netflow"`
	Message string `json:"message"`
}

// Seq returns the sequence number of one document (an NDJSON line of the
// file output or an Elasticsearch _source), false when it has none or is
// not a JSON object.
func Seq(line []byte) (uint64, bool) {
	if s, ok := fastFlowSeq(line); ok {
		return s, true
	}
	var d doc
	if err := json.Unmarshal(line, &d); err != nil {
		return 0, false
	}
	if d.Netflow.InBytes != nil {
		n, err := strconv.ParseUint(d.Netflow.InBytes.String(), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	return seqInMessage([]byte(d.Message))
}

func seqInMessage(m []byte) (uint64, bool) {
	i := bytes.Index(m, []byte("seq="))
	if i < 0 {
		return 0, false
	}
	m = m[i+4:]
	j := 0
	for j < len(m) && j < 20 && m[j] >= '0' && m[j] <= '9' {
		j++
	}
	n, err := strconv.ParseUint(string(m[:j]), 10, 64)
	if err != nil {
		return 0, false // ParseUint returns the maximum on overflow
	}
	return n, true
}

// Tally counts sequence numbers seen in one store (the files or
// Elasticsearch).
type Tally struct {
	seen    map[uint64]int
	NoSeq   int // documents without a sequence number
	Records int // documents read
}

// NewTally returns an empty Tally.
func NewTally() *Tally { return &Tally{seen: map[uint64]int{}} }

// AddLine counts one document.
func (t *Tally) AddLine(line []byte) {
	t.Records++
	s, ok := Seq(line)
	if !ok {
		t.NoSeq++
		return
	}
	t.seen[s]++
}

// AddNDJSON counts every non-empty line of an NDJSON body.
func (t *Tally) AddNDJSON(b []byte) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			t.AddLine(line)
		}
	}
}

// Distinct returns the number of distinct sequence numbers.
func (t *Tally) Distinct() int { return len(t.seen) }

// Dups returns the number of extra copies: documents beyond the first per
// sequence number.
func (t *Tally) Dups() int {
	n := 0
	for _, c := range t.seen {
		n += c - 1
	}
	return n
}

// Has reports whether seq was seen.
func (t *Tally) Has(seq uint64) bool { return t.seen[seq] > 0 }

// Missing returns how many of the sequence numbers in [from, to] were not
// seen, and up to max of them.
func (t *Tally) Missing(from, to uint64, max int) (int, []uint64) {
	n := 0
	var some []uint64
	for s := from; s <= to; s++ {
		if t.seen[s] == 0 {
			n++
			if len(some) < max {
				some = append(some, s)
			}
		}
	}
	return n, some
}

// Only returns how many sequence numbers t has that o has not, and up to
// max of them.
func (t *Tally) Only(o *Tally, max int) (int, []uint64) {
	n := 0
	var some []uint64
	for s := range t.seen {
		if o.seen[s] == 0 {
			n++
			if len(some) < max {
				some = append(some, s)
			}
		}
	}
	return n, some
}

var inBytesKey = []byte(`"in_bytes":`)

// fastFlowSeq reads a flow's IN_BYTES without decoding the whole document
// (the overload scenario reads millions): a key "in_bytes" (its quote not
// escaped, so not inside a string) followed by digits and a delimiter, in a
// line that ends like a complete object. Anything else goes the slow way.
func fastFlowSeq(line []byte) (uint64, bool) {
	line = bytes.TrimSpace(line)
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return 0, false
	}
	if !balanced(line) {
		return 0, false
	}
	i := bytes.Index(line, inBytesKey)
	if i <= 0 || line[i-1] == '\\' || bytes.Count(line, inBytesKey) != 1 {
		return 0, false
	}
	rest := line[i+len(inBytesKey):]
	j := 0
	for j < len(rest) && j < 20 && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j == 0 || j >= len(rest) || (rest[j] != ',' && rest[j] != '}') {
		return 0, false
	}
	n, err := strconv.ParseUint(string(rest[:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// balanced reports whether the braces and brackets outside strings of an
// object close exactly at its last byte: a line torn by a kill does not
// pass for a complete one.
func balanced(line []byte) bool {
	depth := 0
	inStr, esc := false, false
	for i, c := range line {
		switch {
		case esc:
			esc = false
		case inStr:
			if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth < 0 || depth == 0 && i != len(line)-1 {
				return false
			}
		}
	}
	return depth == 0 && !inStr
}
