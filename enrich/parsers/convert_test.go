package parsers

import (
	"strings"
	"testing"
	"time"
)

// TestParseDateTime checks the fast path of parseTime against
// time.ParseInLocation: same times, same failures.
func TestParseDateTime(t *testing.T) {
	locs := []*time.Location{time.UTC, time.FixedZone("X", -7*3600)}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		locs = append(locs, ny) // 2026-03-08 02:30 falls in the DST gap
	}
	var inputs []string
	for _, d := range []string{"2026-11-22", "2024-02-29", "2023-02-29", "2000-02-29", "1900-02-29", "2026-04-31",
		"2026-12-31", "2026-13-01", "2026-00-10", "2026-01-00", "0000-01-01", "9999-12-31", "2026-03-08", "20x6-01-01", "2026-1-011"} {
		for _, tm := range []string{"08:01:03", "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "02:30:00", "1:2:3456", "08:01:0x"} {
			inputs = append(inputs, d+" "+tm, d+"T"+tm)
		}
	}
	inputs = append(inputs, "", "2026-11-22 08:01:03.123", "2026-11-22 08:01", "2026-11-22  8:01:03", "+026-11-22 08:01:03", "2026-11-22 08:01:03Z")
	for _, v := range inputs[:len(inputs):len(inputs)] {
		if len(v) > 7 {
			inputs = append(inputs, v[:4]+strings.ReplaceAll(v[4:8], "-", "/")+v[8:]) // PAN-OS dates
		}
		if len(v) > 11 { // FortiOS: date=... time=... or date=...,time=...
			inputs = append(inputs, "date="+v[:10]+" time="+v[11:], "date="+v[:10]+",time="+v[11:], "date="+v[:10]+"  time="+v[11:], "Date="+v[:10]+" time="+v[11:])
		}
	}
	// F5 ASM's rt: "Nov 22 2026 08:01:03".
	for _, d := range []string{"Nov 22", "Nov  2", "Nov 2", "Nov 02", "Feb 29", "Feb 30", "Apr 31", "Dec 31", "Jan 0", "Jan 00", "Jan 123",
		"nov 22", "Nox 22", "Nov   2", "Nov 2x", "May 1", "Sep 9"} {
		for _, y := range []string{"2026", "2024", "2023", "0000", "20x6", "202", "20266"} {
			for _, tm := range []string{"08:01:03", "8:01:03", "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "02:30:00",
				"08:01:03.5", "08:01", "08:1:03", "008:01:03", " 08:01:03"} {
				inputs = append(inputs, d+" "+y+" "+tm)
			}
		}
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006/01/02 15:04:05", "date=2006-01-02 time=15:04:05", "date=2006-01-02,time=15:04:05",
		"Jan 2 2006 15:04:05", "Jan _2 2006 15:04:05"} {
		for _, loc := range locs {
			for _, v := range inputs {
				got, gotOK := parseTime(layout, v, loc)
				want, err := time.ParseInLocation(layout, v, loc)
				if gotOK != (err == nil) || !got.Equal(want) || got.Location() != want.Location() {
					t.Errorf("parseTime(%q, %q, %v) = %v, %v; time.ParseInLocation: %v, %v", layout, v, loc, got, gotOK, want, err)
				}
			}
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"30", 30e9, true},
		{"1.5", 1.5e9, true},
		{"0", 0, true},
		{"0:01:02", 62e9, true},
		{"25:00:00", 90000e9, true},
		{"1:2:3", 0, false},
		{"0:60:00", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"x", 0, false},
		{"1e300", 0, false},
		{"::", 0, false},
	} {
		got, ok := parseDuration(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseDuration(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseUnixAuto(t *testing.T) {
	want := time.Date(2026, 11, 22, 8, 0, 16, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1795334416", want, true},
		{"1795334416123", want.Add(123 * time.Millisecond), true},
		{"1795334416123456", want.Add(123456 * time.Microsecond), true},
		{"1795334416123456789", want.Add(123456789), true},
		{"17953344161234567890", time.Time{}, false},
		{"", time.Time{}, false},
		{"-1", time.Time{}, false},
		{"1.5", time.Time{}, false},
	} {
		got, ok := parseTime("UNIX_AUTO", tc.in, time.UTC)
		if !got.Equal(tc.want) || ok != tc.ok {
			t.Errorf("parseTime(UNIX_AUTO, %q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestParseUnixMillis checks UNIX and UNIX_MS with today's values:
// milliseconds since the epoch are past 2^40.
func TestParseUnixMillis(t *testing.T) {
	for _, tc := range []struct {
		layout, in string
		want       time.Time
		ok         bool
	}{
		{"UNIX_MS", "1795334529000", time.Date(2026, 11, 22, 8, 2, 9, 0, time.UTC), true},
		{"UNIX_MS", "1795334529123.5", time.Date(2026, 11, 22, 8, 2, 9, 123500000, time.UTC), true},
		{"UNIX", "1795334529", time.Date(2026, 11, 22, 8, 2, 9, 0, time.UTC), true},
		{"UNIX", "1795334529000", time.Time{}, false}, // past 2^40 seconds
		{"UNIX_MS", "99999999999999999999", time.Time{}, false},
	} {
		got, ok := parseTime(tc.layout, tc.in, time.UTC)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseTime(%s, %q) = %v, %v; want %v, %v", tc.layout, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
