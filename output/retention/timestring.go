package retention

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Timestring is a Curator-style date format (strftime directives such as
// "%Y.%m.%d") compiled to find the date inside an index or file name.
// Supported directives: %Y (4-digit year), %y (2-digit year, 2000-2099),
// %m (month), %d (day of month), %j (day of year), %H (hour) and %% (a
// percent sign); any other text is literal.
type Timestring struct {
	src    string
	re     *regexp.Regexp
	fields []byte // directive letters in the order of the regexp's groups 2..
	period period
}

type period uint8

const (
	periodYear period = iota
	periodMonth
	periodDay
	periodHour
)

// ParseTimestring compiles s. It must hold a year and no directive twice;
// %d needs %m, %H needs a day, and %j excludes %m and %d.
func ParseTimestring(s string) (*Timestring, error) {
	if s == "" {
		return nil, errors.New("empty; use e.g. %Y.%m.%d")
	}
	var re strings.Builder
	// A date is not part of a longer number: "2026.11.240" has no date.
	re.WriteString(`(?:^|[^0-9])(`)
	ts := &Timestring{src: s}
	seen := map[byte]bool{}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			re.WriteString(regexp.QuoteMeta(string(c)))
			continue
		}
		if i+1 == len(s) {
			return nil, fmt.Errorf("%q ends with a lone %%; write %%%% for a percent sign", s)
		}
		i++
		d := s[i]
		var group string
		switch d {
		case '%':
			re.WriteString("%")
			continue
		case 'Y':
			group = `(\d{4})`
		case 'y', 'm', 'd', 'H':
			group = `(\d{2})`
		case 'j':
			group = `(\d{3})`
		default:
			return nil, fmt.Errorf("%q: %%%c is not supported; use %%Y, %%y, %%m, %%d, %%j, %%H or %%%%", s, d)
		}
		if seen[d] {
			return nil, fmt.Errorf("%q: %%%c appears twice", s, d)
		}
		seen[d] = true
		re.WriteString(group)
		ts.fields = append(ts.fields, d)
	}
	re.WriteString(`)(?:$|[^0-9])`)
	switch {
	case !seen['Y'] && !seen['y']:
		return nil, fmt.Errorf("%q has no year; add %%Y", s)
	case seen['Y'] && seen['y']:
		return nil, fmt.Errorf("%q has both %%Y and %%y; keep one", s)
	case seen['j'] && (seen['m'] || seen['d']):
		return nil, fmt.Errorf("%q mixes %%j (day of year) with %%m or %%d; keep one form", s)
	case seen['d'] && !seen['m']:
		return nil, fmt.Errorf("%q has %%d without %%m", s)
	case seen['H'] && !seen['d'] && !seen['j']:
		return nil, fmt.Errorf("%q has %%H without a day (%%d or %%j)", s)
	}
	switch {
	case seen['H']:
		ts.period = periodHour
	case seen['d'] || seen['j']:
		ts.period = periodDay
	case seen['m']:
		ts.period = periodMonth
	default:
		ts.period = periodYear
	}
	var err error
	if ts.re, err = regexp.Compile(re.String()); err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	return ts, nil
}

// String returns the timestring as written.
func (ts *Timestring) String() string { return ts.src }

// Find returns the period a name's date stands for, [start, end) in loc.
// ok is false when the name holds no valid date, or two different ones
// (ambiguous names are not guessed at).
func (ts *Timestring) Find(name string, loc *time.Location) (start, end time.Time, ok bool) {
	// Overlapping candidates ("x-2026.11.24.2026.11.25") need every
	// start position, not FindAll's non-overlapping matches.
	found := false
	for off := 0; off < len(name); {
		m := ts.re.FindStringSubmatchIndex(name[off:])
		if m == nil {
			break
		}
		s, e, valid := ts.build(name[off:], m, loc)
		if valid {
			if found && !s.Equal(start) {
				return time.Time{}, time.Time{}, false
			}
			start, end, found = s, e, true
		}
		off += m[2] + 1 // past the first character of this date
	}
	return start, end, found
}

// build turns one match (indices from FindStringSubmatchIndex) into a period.
func (ts *Timestring) build(s string, m []int, loc *time.Location) (start, end time.Time, ok bool) {
	year, month, day, yday, hour := 0, 1, 1, 0, 0
	for i, f := range ts.fields {
		v, err := strconv.Atoi(s[m[4+2*i]:m[5+2*i]])
		if err != nil {
			return start, end, false
		}
		switch f {
		case 'Y':
			year = v
		case 'y':
			year = 2000 + v
		case 'm':
			month = v
		case 'd':
			day = v
		case 'j':
			yday = v
		case 'H':
			hour = v
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || year < 1 {
		return start, end, false
	}
	if yday != 0 {
		if yday > 366 {
			return start, end, false
		}
		start = time.Date(year, 1, yday, hour, 0, 0, 0, loc)
		if start.Year() != year {
			return start, end, false // day 366 of a common year
		}
	} else {
		start = time.Date(year, time.Month(month), day, hour, 0, 0, 0, loc)
		if start.Day() != day { // 2026.02.30
			return start, end, false
		}
	}
	switch ts.period {
	case periodHour:
		end = start.Add(time.Hour)
	case periodDay:
		end = start.AddDate(0, 0, 1)
	case periodMonth:
		end = start.AddDate(0, 1, 0)
	default:
		end = start.AddDate(1, 0, 0)
	}
	return start, end, true
}
