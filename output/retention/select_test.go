package retention

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// mustPolicy validates one policy (Elasticsearch and files configured).
func mustPolicy(t *testing.T, pc PolicyConfig) *policy {
	t.Helper()
	ps, err := Config{Timezone: "UTC", Policies: []PolicyConfig{pc}, Elasticsearch: true, FilesDir: "/x"}.parse()
	if err != nil {
		t.Fatalf("parse(%+v): %v", pc, err)
	}
	return ps[0]
}

func ids(ds []Decision) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestPolicyMatches(t *testing.T) {
	p := mustPolicy(t, PolicyConfig{Pattern: "sluice-flows-*", Exclude: []string{"*-2026.01.01", "sluice-flows-keep*"}, MaxAge: "1d", Action: "delete"})
	for name, want := range map[string]bool{
		"sluice-flows-2026.11.24":    true,
		"sluice-flows-2026.01.01":    false, // excluded
		"sluice-flows-keep-2026.1.1": false, // excluded
		"sluice-syslog-2026.11.24":   false, // other pattern
		"xsluice-flows-2026.11.24":   false, // the glob is anchored
		".sluice-flows-2026.11.24":   false, // never a dot name
		"":                           false,
	} {
		if got := p.matches(name); got != want {
			t.Errorf("matches(%q) = %v, want %v", name, got, want)
		}
	}
	// A pattern starting with * still never reaches dot (system) indices.
	q := mustPolicy(t, PolicyConfig{Pattern: "*-flows-*", MaxAge: "1d", Action: "delete"})
	if q.matches(".kibana-flows-1") || !q.matches("a-flows-1") {
		t.Errorf("*-flows-*: matches(.kibana-flows-1) = %v, matches(a-flows-1) = %v", q.matches(".kibana-flows-1"), q.matches("a-flows-1"))
	}
}

// daily returns an item per day, n days before now's day (0 = today),
// named sluice-flows-YYYY.MM.DD, of size bytes, created at noon that day.
func daily(now time.Time, size int64, days ...int) []Item {
	var out []Item
	for _, d := range days {
		day := now.AddDate(0, 0, -d)
		name := "sluice-flows-" + day.Format("2006.01.02")
		created := time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, time.UTC)
		out = append(out, Item{Name: name, ID: name, Size: size, Created: created})
	}
	return out
}

func TestChoose(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	in := selectInput{now: now, loc: time.UTC}
	all := append(daily(now, 100, 0, 1, 29, 30, 31, 45, -1),
		Item{Name: "sluice-flows-latest", ID: "sluice-flows-latest", Size: 100},
		Item{Name: "sluice-syslog-2020.01.01", ID: "sluice-syslog-2020.01.01", Size: 100})

	for _, tc := range []struct {
		name        string
		pc          PolicyConfig
		in          selectInput
		items       []Item
		act         []string
		unparseable []string
		kept        int
	}{
		{
			name: "max_age 30d keeps today and 30 whole days",
			pc:   PolicyConfig{Pattern: "sluice-flows-*", MaxAge: "30d", Action: "delete"},
			in:   in, items: all,
			act:         []string{"sluice-flows-2026.10.10", "sluice-flows-2026.10.24"},
			unparseable: []string{"sluice-flows-latest"},
			kept:        5, // today, tomorrow, 1, 29, 30 days ago
		},
		{
			name: "max_age in hours",
			pc:   PolicyConfig{Pattern: "sluice-flows-*", MaxAge: "24h", Action: "delete"},
			in:   in, items: daily(now, 1, 0, 1, 2),
			// Yesterday ended 10h ago; the day before 34h ago.
			act:  []string{"sluice-flows-2026.11.22"},
			kept: 2,
		},
		{
			name: "files keep yesterday too",
			pc:   PolicyConfig{Pattern: "sluice-flows-*", MaxAge: "1h", Action: "delete"},
			in:   selectInput{now: now, loc: time.UTC, protectDays: 1}, items: daily(now, 1, 0, 1, 2),
			act:  []string{"sluice-flows-2026.11.22"},
			kept: 2,
		},
		{
			name: "today's hourly indices are never touched",
			pc:   PolicyConfig{Pattern: "x-*", MaxAge: "1h", Timestring: "%Y.%m.%d.%H", Action: "delete"},
			in:   in,
			items: []Item{
				{Name: "x-2026.11.24.01", ID: "x-2026.11.24.01"}, // ended 8h ago, but today
				{Name: "x-2026.11.23.23", ID: "x-2026.11.23.23"},
			},
			act:  []string{"x-2026.11.23.23"},
			kept: 1,
		},
		{
			name: "today in the retention zone",
			// 2026-11-24 12:00 UTC is 2026-11-25 02:00 in Kiritimati (+14):
			// the 24th is yesterday there, and ended 2h ago.
			pc: PolicyConfig{Pattern: "sluice-flows-*", MaxAge: "1h", Action: "delete"},
			in: selectInput{now: now.Add(2 * time.Hour), loc: mustZone(t, "Pacific/Kiritimati")},
			items: []Item{
				{Name: "sluice-flows-2026.11.24", ID: "sluice-flows-2026.11.24"},
				{Name: "sluice-flows-2026.11.25", ID: "sluice-flows-2026.11.25"},
			},
			act:  []string{"sluice-flows-2026.11.24"},
			kept: 1,
		},
		{
			name: "size: oldest first until the rest fits, today kept",
			pc:   PolicyConfig{Pattern: "sluice-flows-*", MaxTotalSize: "250B", Action: "delete"},
			in:   in, items: daily(now, 100, 3, 0, 1, 2, 5),
			// 500 bytes: delete day-5, day-3, day-2 -> 200 left (yesterday, today).
			act:  []string{"sluice-flows-2026.11.19", "sluice-flows-2026.11.21", "sluice-flows-2026.11.22"},
			kept: 2,
		},
		{
			name: "size never deletes today, even when today alone is too big",
			pc:   PolicyConfig{Pattern: "sluice-flows-*", MaxTotalSize: "50B", Action: "delete"},
			in:   in, items: daily(now, 100, 0, 1),
			act:  []string{"sluice-flows-2026.11.23"},
			kept: 1,
		},
		{
			name: "age and size together",
			pc:   PolicyConfig{Pattern: "sluice-flows-*", MaxAge: "30d", MaxTotalSize: "300B", Action: "delete"},
			in:   in, items: daily(now, 100, 0, 1, 2, 3, 40),
			act:  []string{"sluice-flows-2026.10.15", "sluice-flows-2026.11.21"},
			kept: 3,
		},
		{
			name: "size ignores what does not parse",
			pc:   PolicyConfig{Pattern: "sluice-flows-*", MaxTotalSize: "250B", Action: "delete"},
			in:   in,
			items: append(daily(now, 100, 0, 1),
				Item{Name: "sluice-flows-big", ID: "sluice-flows-big", Size: 1 << 40}),
			unparseable: []string{"sluice-flows-big"},
			kept:        2,
		},
		{
			name: "creation_date: newest and created today kept, names not needed",
			pc:   PolicyConfig{Pattern: "c-*", MaxAge: "10d", AgeSource: "creation_date", Action: "delete"},
			in:   in,
			items: []Item{
				{Name: "c-a", ID: "c-a", Created: now.AddDate(0, 0, -40)},
				{Name: "c-b", ID: "c-b", Created: now.AddDate(0, 0, -20)},
				{Name: "c-c", ID: "c-c", Created: now.AddDate(0, 0, -15)}, // newest: kept
			},
			act:  []string{"c-a", "c-b"},
			kept: 1,
		},
		{
			name: "creation_date: a name dated today is kept whatever its creation date",
			pc:   PolicyConfig{Pattern: "c-*", MaxAge: "10d", AgeSource: "creation_date", Action: "delete"},
			in:   in,
			items: []Item{
				{Name: "c-2026.11.24", ID: "c-2026.11.24", Created: now.AddDate(0, 0, -40)},
				{Name: "c-old", ID: "c-old", Created: now.AddDate(0, 0, -30)},
				{Name: "c-new", ID: "c-new", Created: now.Add(-time.Hour)},
			},
			act:  []string{"c-old"},
			kept: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPolicy(t, tc.pc)
			sel := p.choose(tc.items, tc.in)
			got := ids(sel.act)
			sort.Strings(got)
			want := append([]string{}, tc.act...)
			if want == nil {
				want = []string{}
			}
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("choose() acts on (-want +got):\n%s", diff)
			}
			var unp []string
			for _, s := range sel.unparseable {
				unp = append(unp, s.ID)
				if !strings.Contains(s.Reason, p.timestring.String()) {
					t.Errorf("unparseable reason %q does not name the timestring", s.Reason)
				}
			}
			if diff := cmp.Diff(tc.unparseable, unp); diff != "" {
				t.Errorf("choose() unparseable (-want +got):\n%s", diff)
			}
			if sel.kept != tc.kept {
				t.Errorf("choose() kept %d, want %d", sel.kept, tc.kept)
			}
			for _, d := range sel.act {
				if d.Reason == "" {
					t.Errorf("decision on %s has no reason", d.ID)
				}
			}
		})
	}
}

// Size decisions are made oldest first: the report lists them in that order.
func TestChooseSizeOrder(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	p := mustPolicy(t, PolicyConfig{Pattern: "sluice-flows-*", MaxTotalSize: "1", Action: "delete"})
	sel := p.choose(daily(now, 10, 4, 9, 2, 7), selectInput{now: now, loc: time.UTC})
	want := []string{"sluice-flows-2026.11.15", "sluice-flows-2026.11.17", "sluice-flows-2026.11.20", "sluice-flows-2026.11.22"}
	if diff := cmp.Diff(want, ids(sel.act)); diff != "" {
		t.Errorf("choose() order (-want +got):\n%s", diff)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
