package query

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// dateExpr is a date or date-math expression: "now", "now-15m", "now/d",
// "2026-01-01", "2026-01-01||+1M/d".
type dateExpr struct {
	now      bool
	anchor   time.Time
	dateOnly bool // a plain date without time of day or math
	ops      []dateOp
}

type dateOp struct {
	op   byte // '+', '-', '/'
	n    int
	unit byte // y M w d h H m s
}

// parseDateMath parses s as a date or date math expression.
func parseDateMath(s string) (*dateExpr, error) {
	var e dateExpr
	var rest string
	switch {
	case strings.HasPrefix(s, "now"):
		e.now = true
		rest = s[3:]
	default:
		anchor, math, hasMath := strings.Cut(s, "||")
		t, dateOnly, ok := parseTimeText(anchor)
		if !ok {
			return nil, fmt.Errorf("%q is not a date (use 2026-01-02, 2026-01-02T15:04:05Z or now-1h)", s)
		}
		e.anchor = t
		e.dateOnly = dateOnly && !hasMath
		rest = math
	}
	for rest != "" {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case '+', '-':
			n, i := 0, 0
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && i < 7 {
				n = n*10 + int(rest[i]-'0')
				i++
			}
			if i == 0 {
				n = 1
			}
			rest = rest[i:]
			if rest == "" || !strings.ContainsRune("yMwdhHms", rune(rest[0])) {
				return nil, fmt.Errorf("date math %q: want a unit (y, M, w, d, h, m, s) after %c%d", s, c, n)
			}
			e.ops = append(e.ops, dateOp{op: c, n: n, unit: rest[0]})
			rest = rest[1:]
		case '/':
			if rest == "" || !strings.ContainsRune("yMwdhHms", rune(rest[0])) {
				return nil, fmt.Errorf("date math %q: want a unit (y, M, w, d, h, m, s) after /", s)
			}
			e.ops = append(e.ops, dateOp{op: '/', unit: rest[0]})
			rest = rest[1:]
		default:
			return nil, fmt.Errorf("date math %q: unexpected %q; write now-1h, now/d or 2026-01-01||+1d", s, c)
		}
		if len(e.ops) > 16 {
			return nil, fmt.Errorf("date math %q: too many operations", s)
		}
	}
	return &e, nil
}

// eval returns the instant; roundUp rounds to the last millisecond of a
// rounded unit (for lte and gt ends, as Elasticsearch does), and a plain
// date to the end of its day.
func (e *dateExpr) eval(now time.Time, roundUp bool) time.Time {
	t := e.anchor
	if e.now {
		t = now
	}
	t = t.UTC()
	for _, o := range e.ops {
		n := o.n
		if o.op == '-' {
			n = -n
		}
		switch o.op {
		case '+', '-':
			switch o.unit {
			case 'y':
				t = t.AddDate(n, 0, 0)
			case 'M':
				t = t.AddDate(0, n, 0)
			case 'w':
				t = t.AddDate(0, 0, 7*n)
			case 'd':
				t = t.AddDate(0, 0, n)
			case 'h', 'H':
				t = t.Add(time.Duration(n) * time.Hour)
			case 'm':
				t = t.Add(time.Duration(n) * time.Minute)
			case 's':
				t = t.Add(time.Duration(n) * time.Second)
			}
		case '/':
			t = roundDate(t, o.unit, roundUp)
		}
	}
	if e.dateOnly && roundUp {
		t = roundDate(t, 'd', true)
	}
	return t
}

func roundDate(t time.Time, unit byte, up bool) time.Time {
	y, m, d := t.Date()
	var start, next time.Time
	switch unit {
	case 'y':
		start = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		next = start.AddDate(1, 0, 0)
	case 'M':
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		next = start.AddDate(0, 1, 0)
	case 'w':
		wd := (int(t.Weekday()) + 6) % 7 // weeks start on Monday
		start = time.Date(y, m, d-wd, 0, 0, 0, 0, time.UTC)
		next = start.AddDate(0, 0, 7)
	case 'd':
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		next = start.AddDate(0, 0, 1)
	case 'h', 'H':
		start = t.Truncate(time.Hour)
		next = start.Add(time.Hour)
	case 'm':
		start = t.Truncate(time.Minute)
		next = start.Add(time.Minute)
	case 's':
		start = t.Truncate(time.Second)
		next = start.Add(time.Second)
	default:
		return t
	}
	if up {
		return next.Add(-time.Millisecond)
	}
	return start
}

// bound is one end of a range.
type bound struct {
	open   bool
	raw    string
	num    float64
	hasNum bool
	ip     netip.Addr
	hasIP  bool
	date   *dateExpr
}

func newBound(raw string, open bool) bound {
	b := bound{raw: raw, open: open}
	if open {
		return b
	}
	b.num, b.hasNum = parseNumberText(raw)
	b.ip, b.hasIP = parseIPText(raw)
	if d, err := parseDateMath(raw); err == nil {
		b.date = d
	} else if b.hasNum {
		b.date = &dateExpr{anchor: time.UnixMilli(int64(b.num)).UTC()} // epoch milliseconds
	}
	return b
}

// rangePred matches values between two bounds: as numbers when both
// bounds and the value are numbers, as addresses, as instants, else as
// strings (byte order).
type rangePred struct {
	lo, hi               bound
	loIncl, hiIncl       bool
	numeric, ipOK, dates bool
}

func newRangePred(lo, hi bound, loIncl, hiIncl bool) *rangePred {
	p := &rangePred{lo: lo, hi: hi, loIncl: loIncl, hiIncl: hiIncl}
	p.numeric = (lo.open || lo.hasNum) && (hi.open || hi.hasNum)
	p.ipOK = (lo.open || lo.hasIP) && (hi.open || hi.hasIP)
	p.dates = (lo.open || lo.date != nil) && (hi.open || hi.date != nil)
	return p
}

func (p *rangePred) test(v *Value, text bool, c *matchCtx) bool {
	if p.lo.open && p.hi.open {
		return true
	}
	switch v.Kind {
	case KindNumber:
		return p.numeric && p.cmpNum(v.Num)
	case KindIP:
		if p.ipOK {
			return p.cmpIP(v.IP.WithZone("").Unmap())
		}
		// As the address's text in a stored document would compare.
		return p.cmpString(c.valueText(v))
	case KindTime:
		if p.dates {
			return p.cmpTime(v.Time, c)
		}
		return p.cmpString(c.valueText(v))
	case KindString:
		s := v.Str
		if p.numeric {
			if f, ok := parseNumberText(s); ok {
				return p.cmpNum(f)
			}
		}
		if p.ipOK {
			if a, ok := parseIPText(s); ok {
				return p.cmpIP(a)
			}
		}
		if p.dates {
			if t, _, ok := parseTimeText(s); ok {
				return p.cmpTime(t, c)
			}
		}
		return p.cmpString(s)
	}
	return false
}

func within(c int, incl bool, low bool) bool {
	if low {
		return c > 0 || c == 0 && incl
	}
	return c < 0 || c == 0 && incl
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (p *rangePred) cmpNum(f float64) bool {
	return (p.lo.open || within(cmpF(f, p.lo.num), p.loIncl, true)) &&
		(p.hi.open || within(cmpF(f, p.hi.num), p.hiIncl, false))
}

func (p *rangePred) cmpIP(a netip.Addr) bool {
	return (p.lo.open || within(a.Compare(p.lo.ip), p.loIncl, true)) &&
		(p.hi.open || within(a.Compare(p.hi.ip), p.hiIncl, false))
}

func (p *rangePred) cmpTime(t time.Time, c *matchCtx) bool {
	if !p.lo.open {
		var now time.Time
		if p.lo.date.now {
			now = c.nowTime()
		}
		// gt rounds up, gte down.
		if !within(t.Compare(p.lo.date.eval(now, !p.loIncl)), p.loIncl, true) {
			return false
		}
	}
	if !p.hi.open {
		var now time.Time
		if p.hi.date.now {
			now = c.nowTime()
		}
		// lte rounds up, lt down.
		if !within(t.Compare(p.hi.date.eval(now, p.hiIncl)), p.hiIncl, false) {
			return false
		}
	}
	return true
}

func (p *rangePred) cmpString(s string) bool {
	return (p.lo.open || within(strings.Compare(s, p.lo.raw), p.loIncl, true)) &&
		(p.hi.open || within(strings.Compare(s, p.hi.raw), p.hiIncl, false))
}

func (p *rangePred) write(b *strings.Builder) {
	if p.loIncl {
		b.WriteByte('[')
	} else {
		b.WriteByte('{')
	}
	writeBound(b, p.lo)
	b.WriteString(" TO ")
	writeBound(b, p.hi)
	if p.hiIncl {
		b.WriteByte(']')
	} else {
		b.WriteByte('}')
	}
}

func writeBound(b *strings.Builder, x bound) {
	if x.open {
		b.WriteByte('*')
		return
	}
	writeQuoted(b, x.raw)
}
