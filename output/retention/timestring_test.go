package retention

import (
	"strings"
	"testing"
	"time"
)

func TestTimestringFind(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int, m time.Month, d int, loc *time.Location) time.Time {
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
	for _, tc := range []struct {
		name, ts, in string
		loc          *time.Location
		ok           bool
		start, end   time.Time
	}{
		{"daily", "%Y.%m.%d", "sluice-flows-2026.11.24", time.UTC, true, day(2026, 11, 24, time.UTC), day(2026, 11, 25, time.UTC)},
		{"daily in a zone", "%Y.%m.%d", "sluice-flows-2026.11.24", berlin, true, day(2026, 11, 24, berlin), day(2026, 11, 25, berlin)},
		{"dashes, middle of the name", "%Y-%m-%d", "fw-2026-01-31-meraki", time.UTC, true, day(2026, 1, 31, time.UTC), day(2026, 2, 1, time.UTC)},
		{"hourly", "%Y.%m.%d.%H", "x-2026.11.24.07", time.UTC, true, time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)},
		{"monthly", "%Y.%m", "x-2026.02", time.UTC, true, day(2026, 2, 1, time.UTC), day(2026, 3, 1, time.UTC)},
		{"day of year", "%Y-%j", "x-2024-366", time.UTC, true, day(2024, 12, 31, time.UTC), day(2025, 1, 1, time.UTC)},
		{"two-digit year", "%y%m%d", "x-261124", time.UTC, true, day(2026, 11, 24, time.UTC), day(2026, 11, 25, time.UTC)},
		{"literal text", "flows-%Y%m%d", "a-flows-20261124", time.UTC, true, day(2026, 11, 24, time.UTC), day(2026, 11, 25, time.UTC)},
		{"literal text missing", "flows-%Y%m%d", "a-syslog-20261124", time.UTC, false, time.Time{}, time.Time{}},
		{"percent", "%%%Y", "x%2026", time.UTC, true, day(2026, 1, 1, time.UTC), day(2027, 1, 1, time.UTC)},
		{"same date twice", "%Y.%m.%d", "x-2026.11.24-2026.11.24", time.UTC, true, day(2026, 11, 24, time.UTC), day(2026, 11, 25, time.UTC)},
		{"two dates are ambiguous", "%Y.%m.%d", "x-2026.11.24-2026.11.25", time.UTC, false, time.Time{}, time.Time{}},
		{"overlapping dates are ambiguous", "%Y.%m.%d", "x-2026.11.24.2026.11.25", time.UTC, false, time.Time{}, time.Time{}},
		{"longer number", "%Y.%m.%d", "x-2026.11.240", time.UTC, false, time.Time{}, time.Time{}},
		{"leading digit", "%Y.%m.%d", "x-12026.11.24", time.UTC, false, time.Time{}, time.Time{}},
		{"no date", "%Y.%m.%d", "sluice-flows-latest", time.UTC, false, time.Time{}, time.Time{}},
		{"february 30", "%Y.%m.%d", "x-2026.02.30", time.UTC, false, time.Time{}, time.Time{}},
		{"month 13", "%Y.%m.%d", "x-2026.13.01", time.UTC, false, time.Time{}, time.Time{}},
		{"hour 24", "%Y.%m.%d.%H", "x-2026.11.24.24", time.UTC, false, time.Time{}, time.Time{}},
		{"day 366 of a common year", "%Y-%j", "x-2026-366", time.UTC, false, time.Time{}, time.Time{}},
		{"wrong separator", "%Y.%m.%d", "x-2026-11-24", time.UTC, false, time.Time{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := ParseTimestring(tc.ts)
			if err != nil {
				t.Fatalf("ParseTimestring(%q): %v", tc.ts, err)
			}
			start, end, ok := ts.Find(tc.in, tc.loc)
			if ok != tc.ok {
				t.Fatalf("Find(%q) ok = %v, want %v (start %s)", tc.in, ok, tc.ok, start)
			}
			if ok && (!start.Equal(tc.start) || !end.Equal(tc.end)) {
				t.Errorf("Find(%q) = [%s, %s), want [%s, %s)", tc.in, start, end, tc.start, tc.end)
			}
		})
	}
}

func TestParseTimestringErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"%Q", "%Q is not supported"},
		{"%m.%d", "no year"},
		{"%Y.%Y", "appears twice"},
		{"%Y.%y", "both %Y and %y"},
		{"%Y.%d", "%d without %m"},
		{"%Y-%j-%m", "mixes %j"},
		{"%Y.%H", "%H without a day"},
		{"%Y.%m.%d%", "lone %"},
	} {
		_, err := ParseTimestring(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTimestring(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

// FuzzTimestringFind: no panic; a found period is non-empty and at most a
// year, and its start is written in the name as the timestring says.
func FuzzTimestringFind(f *testing.F) {
	f.Add("%Y.%m.%d", "sluice-flows-2026.11.24")
	f.Add("%Y.%m.%d.%H", "x-2026.11.24.23-2026.11.24.23")
	f.Add("%Y-%j", "x-2024-366")
	f.Add("%y%m%d", "261124261125")
	f.Fuzz(func(t *testing.T, layout, name string) {
		ts, err := ParseTimestring(layout)
		if err != nil {
			return
		}
		start, end, ok := ts.Find(name, time.UTC)
		if !ok {
			return
		}
		if !start.Before(end) || end.Sub(start) > 366*24*time.Hour {
			t.Fatalf("Find(%q, %q) = [%s, %s)", layout, name, start, end)
		}
		if y := start.Format("2006"); !strings.Contains(name, y) && !strings.Contains(name, y[2:]) {
			t.Fatalf("Find(%q, %q) = %s, whose year is not in the name", layout, name, start)
		}
	})
}
