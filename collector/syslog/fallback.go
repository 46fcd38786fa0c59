package syslog

import (
	"bytes"
	"sync"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/ciscoios"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

// The go-syslog machines, in best-effort mode, for the lines the fast path
// declines: Cisco IOS counters and sequence numbers, and everything broken,
// where best effort recovers the fields before the break. A machine is not
// safe for concurrent use, hence the pools. Cisco IOS parsing gets its own
// machine because with those components on, go-syslog v4.6.0 returns an
// empty message without an error for RFC 3339 timestamps.
var (
	pool5424 = sync.Pool{New: func() any {
		return rfc5424.NewMachine(rfc5424.WithBestEffort(), rfc5424.WithOptionalPriority())
	}}
	pool3164 = sync.Pool{New: func() any {
		return rfc3164.NewMachine(rfc3164.WithBestEffort(), rfc3164.WithOptionalPriority(),
			rfc3164.WithRFC3339(), rfc3164.WithSecondFractions(), rfc3164.WithLenientDay())
	}}
	poolCisco = sync.Pool{New: func() any {
		return rfc3164.NewMachine(rfc3164.WithBestEffort(), rfc3164.WithLenientDay(),
			rfc3164.WithCiscoIOSComponents(ciscoios.All))
	}}
)

// parseLib parses line with go-syslog. When go-syslog cannot parse the
// whole line, h gets BadHeader, Message = line, and the fields go-syslog
// read before the error. It reports whether go-syslog parsed the line.
func (p *Parser) parseLib(line []byte, h *Header) bool {
	reset(h)
	pool, is5424 := pickMachine(line)
	m := pool.Get().(gosyslog.Machine)
	msg, err := m.Parse(line)
	pool.Put(m)
	ok := err == nil
	switch v := msg.(type) {
	case *rfc5424.SyslogMessage:
		if v != nil && is5424 {
			ok = p.from5424(line, v, h) && ok
		} else {
			ok = false
		}
	case *rfc3164.SyslogMessage:
		if v != nil && !is5424 {
			ok = p.from3164(line, v, h) && ok
		} else {
			ok = false
		}
	default:
		ok = false
	}
	if ok {
		return true
	}
	h.Format = FormatUnknown
	h.Problems |= BadHeader
	h.Message = line
	h.StructuredData = nil
	// go-syslog's partial PRI of "<999>" is 99: trust only a whole PRI.
	h.Priority, h.Facility, h.Severity = -1, -1, -1
	h.Problems &^= NoPRI
	if pri, _, valid := parsePRI(line); valid {
		h.setPriority(pri)
	} else {
		h.Problems |= NoPRI
	}
	if h.Timestamp.IsZero() {
		h.Problems |= NoTimestamp
	}
	if h.Hostname == nil {
		h.Problems |= NoHostname
	}
	return false
}

// pickMachine chooses the go-syslog machine by what follows the PRI:
// "1 " is RFC 5424, "123: ", ": " or "*" is Cisco IOS, the rest RFC 3164.
func pickMachine(line []byte) (*sync.Pool, bool) {
	i := 0
	if _, n, ok := parsePRI(line); ok {
		i = n
	} else if len(line) > 0 && line[0] == '<' {
		if j := bytes.IndexByte(line, '>'); j > 0 {
			i = j + 1
		}
	}
	j := i
	for j < len(line) && isDigit(line[j]) {
		j++
	}
	switch {
	case j > i && j-i <= 3 && j < len(line) && line[j] == ' ' && line[i] != '0':
		return &pool5424, true
	case j < len(line) && (line[j] == ':' || (j == i && line[j] == '*')):
		return &poolCisco, false
	}
	return &pool3164, false
}

func (p *Parser) base(b *gosyslog.Base, h *Header) {
	if b.Priority != nil {
		h.setPriority(int(*b.Priority))
	} else {
		h.Problems |= NoPRI
	}
}

// from5424 maps go-syslog's RFC 5424 result onto h, as slices of line.
// RFC 5424 fields are single-space separated, so they are found by walking
// the tokens after "<PRI>VERSION ".
func (p *Parser) from5424(line []byte, m *rfc5424.SyslogMessage, h *Header) bool {
	p.base(&m.Base, h)
	h.Format = FormatRFC5424
	if m.Timestamp != nil {
		h.Timestamp = m.Timestamp.UTC()
	} else {
		h.Problems |= NoTimestamp
	}
	i := 0
	if _, n, ok := parsePRI(line); ok {
		i = n
	}
	i = bytes.IndexByte(line[i:], ' ') + i + 1 // past VERSION
	var tok [5][]byte                          // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
	for k := range tok {
		if i <= 0 || i > len(line) {
			break
		}
		j := bytes.IndexByte(line[i:], ' ')
		if j < 0 {
			j = len(line) - i
		}
		tok[k] = line[i : i+j]
		i += j + 1
	}
	ok := true
	field := func(s *string, t []byte) []byte {
		if s == nil {
			return nil
		}
		if string(t) != *s {
			ok = false
			return nil
		}
		return t
	}
	h.Hostname = field(m.Hostname, tok[1])
	h.AppName = field(m.Appname, tok[2])
	h.ProcID = field(m.ProcID, tok[3])
	h.MsgID = field(m.MsgID, tok[4])
	if h.Hostname == nil {
		h.Problems |= NoHostname
	}
	end := len(line)
	if m.Message != nil {
		s := *m.Message
		if !bytes.HasSuffix(line, []byte(s)) || len(s) >= len(line) || line[len(line)-len(s)-1] != ' ' {
			return false
		}
		end = len(line) - len(s) - 1
		h.Message = stripBOM(line[end+1:])
	}
	if m.StructuredData != nil && i > 0 && i <= end {
		h.StructuredData = bytes.TrimRight(line[i:end], " ")
	}
	return ok
}

// from3164 maps go-syslog's RFC 3164 result onto h. MSG is the end of the
// line; PID, tag and hostname are found backwards from it, and each must
// sit where the grammar puts it, or the line is a BadHeader. go-syslog
// v4.6.0 sometimes reports a tag or a hostname that it left in MSG ("host
// ASM:a=1" gives tag "ASM" and MSG "ASM:a=1"): those are dropped.
func (p *Parser) from3164(line []byte, m *rfc3164.SyslogMessage, h *Header) bool {
	p.base(&m.Base, h)
	// The grammar needs a timestamp and a MSG, yet with RFC 3339 or Cisco
	// IOS components on, go-syslog v4.6.0 returns an empty message and no
	// error for some lines ("<13>1", "<0>1990 Oct 22 ...").
	if m.Timestamp == nil || m.Message == nil {
		return false
	}
	h.Format = FormatRFC3164
	if m.MessageCounter != nil || m.Sequence != nil {
		h.Format = FormatCiscoIOS
	}
	if t := *m.Timestamp; t.Year() == 0 && (h.Format == FormatCiscoIOS || !digitAfterPRI(line)) {
		// A Stamp timestamp, parsed with no year and no zone (RFC 3339
		// timestamps start with a digit; Cisco IOS ones are Stamps).
		h.Problems |= ZoneAssumed
		if g, ok := p.guessYear(t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()); ok {
			h.Timestamp = g
			h.Problems |= YearGuessed
		} else {
			h.Problems |= NoTimestamp | BadTimestamp
		}
	} else {
		h.Timestamp = t.UTC()
	}
	// MSG runs to the end of the line and follows a space. go-syslog
	// v4.6.0 cuts some short: "Nov 01 00:00:00 0[0" gives MSG "0".
	end := len(line) - len(*m.Message)
	if !bytes.HasSuffix(line, []byte(*m.Message)) || end < 1 || line[end-1] != ' ' {
		return false
	}
	if len(bytes.TrimLeft(line[end:], " ")) > 0 { // blanks are no MSG, as in the fast path
		h.Message = line[end:]
	}
	// TAG[PID]: right before MSG.
	r := bytes.TrimRight(line[:end], " ")
	if m.Appname == nil && bytes.HasSuffix(r, []byte(" -:")) { // go-syslog drops a "-" tag
		r = bytes.TrimRight(r[:len(r)-2], " ")
	}
	if m.Appname != nil {
		if len(r) == 0 || r[len(r)-1] != ':' {
			m.Appname, m.ProcID = nil, nil // a leaked tag
		} else {
			r = r[:len(r)-1]
			if m.ProcID != nil {
				pid := "[" + *m.ProcID + "]"
				if !bytes.HasSuffix(r, []byte(pid)) {
					return false
				}
				h.ProcID = r[len(r)-len(pid)+1 : len(r)-1]
				r = r[:len(r)-len(pid)]
			} else {
				r = bytes.TrimSuffix(bytes.TrimSuffix(r, []byte("[]")), []byte("[-]"))
			}
			if !bytes.HasSuffix(r, []byte(*m.Appname)) {
				return false
			}
			h.AppName = r[len(r)-len(*m.Appname):]
			r = bytes.TrimRight(r[:len(r)-len(*m.Appname)], " ")
		}
	}
	// HOSTNAME: before the tag, between spaces; for Cisco IOS before the
	// timestamp. go-syslog also leaks a hostname into MSG ("Feb 01
	// 00:00:00 0 " gives hostname "0" and MSG "0 "): it is dropped.
	if m.Hostname != nil {
		host := []byte(*m.Hostname)
		switch n := len(r) - len(host); {
		case h.Format == FormatCiscoIOS:
			i := bytes.LastIndex(r, append(host, ':'))
			if i < 0 {
				return false
			}
			h.Hostname = r[i : i+len(host)]
		case n > 0 && n+len(host) < end && bytes.HasSuffix(r, host) && r[n-1] == ' ':
			h.Hostname = r[n:]
		case bytes.HasPrefix(h.Message, host) && bytes.IndexByte(r[bytes.LastIndexByte(r, ' ')+1:], ':') >= 0:
			// A leaked hostname: MSG follows the timestamp, whose last
			// word has a ':' as no hostname does. Otherwise go-syslog
			// split a word ("ab[c def" gives hostname "c", tag "ab").
		default:
			return false
		}
	}
	if h.Hostname == nil {
		h.Problems |= NoHostname
	}
	return true
}

func digitAfterPRI(line []byte) bool {
	i := 0
	if _, n, ok := parsePRI(line); ok {
		i = n
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	return i < len(line) && isDigit(line[i])
}
