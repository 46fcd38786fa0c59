package event

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// IndexNamer turns an event time into an index (or file) name from a
// Logstash-style pattern such as "sluice-flows-%{+yyyy.MM.dd}". It is safe for
// concurrent use. Name caches the last periods (days, or hours when the
// pattern has HH; indexRecentN of them), so the common case neither formats
// nor allocates.
type IndexNamer struct {
	pattern string
	loc     *time.Location
	parts   []indexPart
	hourly  bool
	recent  atomic.Pointer[indexRecent]
}

// indexCache is the name for every time in [start, end) (Unix seconds).
type indexCache struct {
	start, end int64
	name       string
}

// indexRecent are the periods Name worked out last, the latest first;
// it is replaced, never changed.
type indexRecent struct {
	n int
	c [indexRecentN]indexCache
}

// indexRecentN is how many periods a namer remembers: the day that just
// began, the one before (exporters whose clocks lag, flows that end after
// midnight) and a few more (replayed captures, test traffic of other
// days), without the allocation and the date arithmetic of a miss.
const indexRecentN = 4

type indexToken uint8

const (
	tokLiteral indexToken = iota
	tokYear4              // yyyy, YYYY
	tokYear2              // yy
	tokMonth              // MM
	tokDay                // dd
	tokHour               // HH
)

type indexPart struct {
	tok indexToken
	lit string
}

// NewIndexNamer parses pattern. Text outside %{+...} is literal; inside, the
// Joda-style tokens yyyy, YYYY (year of era, as in Logstash), yy, MM, dd and
// HH are replaced and any non-letter is literal. Dates are taken in loc (UTC
// when nil). The pattern must contain at least one date, and its literal
// text must be valid in both an Elasticsearch index name and a file name.
func NewIndexNamer(pattern string, loc *time.Location) (*IndexNamer, error) {
	if loc == nil {
		loc = time.UTC
	}
	n := &IndexNamer{pattern: pattern, loc: loc}
	if pattern == "" {
		return nil, errors.New("index pattern is empty; use e.g. sluice-flows-%{+yyyy.MM.dd}")
	}
	hasDate := false
	rest := pattern
	for rest != "" {
		i := strings.Index(rest, "%{")
		if i < 0 {
			n.parts = append(n.parts, indexPart{lit: rest})
			break
		}
		if i > 0 {
			n.parts = append(n.parts, indexPart{lit: rest[:i]})
		}
		rest = rest[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return nil, fmt.Errorf("index pattern %q: %%{ without closing }", pattern)
		}
		inner := rest[:j]
		rest = rest[j+1:]
		if !strings.HasPrefix(inner, "+") {
			return nil, fmt.Errorf("index pattern %q: %%{%s} is a field reference, only dates %%{+yyyy.MM.dd} are supported", pattern, inner)
		}
		format := inner[1:]
		if format == "" {
			return nil, fmt.Errorf("index pattern %q: empty date format %%{+}", pattern)
		}
		for format != "" {
			c := format[0]
			if !isLetter(c) {
				k := 1
				for k < len(format) && !isLetter(format[k]) {
					k++
				}
				if strings.ContainsRune(format[:k], '\'') {
					return nil, fmt.Errorf("index pattern %q: quoted text in a date format is not supported; put it outside %%{+...}", pattern)
				}
				n.parts = append(n.parts, indexPart{lit: format[:k]})
				format = format[k:]
				continue
			}
			k := 1
			for k < len(format) && format[k] == c {
				k++
			}
			var tok indexToken
			switch format[:k] {
			case "yyyy", "YYYY":
				tok = tokYear4
			case "yy":
				tok = tokYear2
			case "MM":
				tok = tokMonth
			case "dd":
				tok = tokDay
			case "HH":
				tok = tokHour
				n.hourly = true
			default:
				return nil, fmt.Errorf("index pattern %q: unsupported date token %q; use yyyy, YYYY, yy, MM, dd or HH", pattern, format[:k])
			}
			n.parts = append(n.parts, indexPart{tok: tok})
			hasDate = true
			format = format[k:]
		}
	}
	if !hasDate {
		return nil, fmt.Errorf("index pattern %q has no date; add one such as %%{+yyyy.MM.dd}", pattern)
	}
	for _, p := range n.parts {
		if p.tok != tokLiteral {
			continue
		}
		if i := strings.IndexAny(p.lit, "\\/*?\"<>| ,#:\x00"); i >= 0 {
			return nil, fmt.Errorf("index pattern %q: character %q is not allowed in index or file names", pattern, p.lit[i])
		}
		for _, r := range p.lit {
			if r >= 'A' && r <= 'Z' {
				return nil, fmt.Errorf("index pattern %q: Elasticsearch index names must be lowercase", pattern)
			}
			if r < 0x20 || r == 0x7f {
				return nil, fmt.Errorf("index pattern %q: control characters are not allowed", pattern)
			}
		}
	}
	if first := n.parts[0]; first.tok == tokLiteral && strings.ContainsAny(first.lit[:1], "-_+.") {
		return nil, fmt.Errorf("index pattern %q: index names must not start with -, _, + or .", pattern)
	}
	return n, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Pattern returns the pattern n was built from.
func (n *IndexNamer) Pattern() string { return n.pattern }

// Name returns the index name for t.
func (n *IndexNamer) Name(t time.Time) string {
	s := t.Unix()
	if r := n.recent.Load(); r != nil {
		for i := range r.n {
			if c := &r.c[i]; s >= c.start && s < c.end {
				return c.name
			}
		}
	}
	return n.miss(t)
}

func (n *IndexNamer) miss(t time.Time) string {
	lt := t.In(n.loc)
	y, mo, d := lt.Date()
	h := lt.Hour()
	var buf [64]byte
	b := buf[:0]
	for _, p := range n.parts {
		switch p.tok {
		case tokLiteral:
			b = append(b, p.lit...)
		case tokYear4:
			yy := y
			if yy < 0 {
				yy = -yy // year of era
			}
			b = appendPadded(b, yy, 4)
		case tokYear2:
			yy := y % 100
			if yy < 0 {
				yy = -yy
			}
			b = appendPadded(b, yy, 2)
		case tokMonth:
			b = appendPadded(b, int(mo), 2)
		case tokDay:
			b = appendPadded(b, d, 2)
		case tokHour:
			b = appendPadded(b, h, 2)
		}
	}
	name := string(b)

	var start, end time.Time
	if n.hourly {
		start = time.Date(y, mo, d, h, 0, 0, 0, n.loc)
		end = start.Add(time.Hour)
	} else {
		start = time.Date(y, mo, d, 0, 0, 0, 0, n.loc)
		end = time.Date(y, mo, d+1, 0, 0, 0, 0, n.loc)
	}
	// Around DST changes time.Date may pick the other instance of an
	// ambiguous wall time; only cache a period that really holds t.
	if s := t.Unix(); start.Unix() <= s && s < end.Unix() {
		next := &indexRecent{n: 1}
		next.c[0] = indexCache{start: start.Unix(), end: end.Unix(), name: name}
		if old := n.recent.Load(); old != nil {
			for _, c := range old.c[:old.n] {
				if c.start != next.c[0].start && next.n < indexRecentN {
					next.c[next.n] = c
					next.n++
				}
			}
		}
		n.recent.Store(next)
	}
	return name
}

func appendPadded(b []byte, v, width int) []byte {
	var d [20]byte
	i := len(d)
	for v >= 10 {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	d[i] = byte('0' + v)
	for k := len(d) - i; k < width; k++ {
		b = append(b, '0')
	}
	return append(b, d[i:]...)
}
