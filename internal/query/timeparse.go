package query

import "time"

// parseTimeText parses the date forms Elasticsearch's default date format
// (strict_date_optional_time) accepts, plus a space for the 'T':
// "2026-01-02", "2026-01-02T15:04", "2026-01-02T15:04:05",
// "2026-01-02T15:04:05.123456789", each optionally followed by "Z" or
// "+01:00"/"-0100". Without a zone the time is UTC. dateOnly reports that
// no time of day was given (range ends round it). It does not allocate.
func parseTimeText(s string) (t time.Time, dateOnly bool, ok bool) {
	if len(s) < 10 || len(s) > 40 {
		return time.Time{}, false, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false, false
	}
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return time.Time{}, false, false
	}
	if len(s) == 10 {
		return time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC), true, true
	}
	if s[10] != 'T' && s[10] != 't' && s[10] != ' ' {
		return time.Time{}, false, false
	}
	rest := s[11:]
	if len(rest) < 5 || rest[2] != ':' {
		return time.Time{}, false, false
	}
	hh, ok1 := num(11, 13)
	mm, ok2 := num(14, 16)
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return time.Time{}, false, false
	}
	i := 16
	ss, ns := 0, 0
	if i < len(s) && s[i] == ':' {
		if i+3 > len(s) {
			return time.Time{}, false, false
		}
		v, ok := num(i+1, i+3)
		if !ok || v > 60 {
			return time.Time{}, false, false
		}
		ss = v
		if ss == 60 {
			ss = 59 // leap second: as Elasticsearch, the last second
		}
		i += 3
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			i++
			digits := 0
			scale := 100000000
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				if digits < 9 {
					ns += int(s[i]-'0') * scale
					scale /= 10
				}
				digits++
				i++
			}
			if digits == 0 {
				return time.Time{}, false, false
			}
		}
	}
	offset := 0
	if i < len(s) {
		switch s[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			sign := 1
			if s[i] == '-' {
				sign = -1
			}
			i++
			if i+2 > len(s) {
				return time.Time{}, false, false
			}
			oh, ok := num(i, i+2)
			if !ok || oh > 23 {
				return time.Time{}, false, false
			}
			i += 2
			om := 0
			if i < len(s) && s[i] == ':' {
				i++
			}
			if i < len(s) {
				if i+2 > len(s) {
					return time.Time{}, false, false
				}
				v, ok := num(i, i+2)
				if !ok || v > 59 {
					return time.Time{}, false, false
				}
				om = v
				i += 2
			}
			offset = sign * (oh*3600 + om*60)
		default:
			return time.Time{}, false, false
		}
	}
	if i != len(s) {
		return time.Time{}, false, false
	}
	t = time.Date(y, time.Month(mo), d, hh, mm, ss, ns, time.UTC).Add(-time.Duration(offset) * time.Second)
	return t, false, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
