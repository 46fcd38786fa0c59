package event

import (
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the host's zoneinfo
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not available: %v", name, err)
	}
	return loc
}

func TestIndexNamerName(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	for _, tc := range []struct {
		pattern string
		loc     *time.Location
		t       time.Time
		want    string
	}{
		{"sluice-flows-%{+yyyy.MM.dd}", time.UTC, time.Date(2026, 8, 22, 13, 0, 0, 0, time.UTC), "sluice-flows-2026.08.22"},
		{"sluice-flows-%{+YYYY.MM.dd}", nil, time.Date(2026, 8, 22, 13, 0, 0, 0, time.UTC), "sluice-flows-2026.08.22"},
		{"logs-%{+yy-MM-dd}-x", time.UTC, time.Date(2007, 1, 2, 0, 0, 0, 0, time.UTC), "logs-07-01-02-x"},
		{"sluice-%{+yyyy}.%{+MM}", time.UTC, time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), "sluice-2026.12"},
		{"h-%{+yyyy.MM.dd.HH}", time.UTC, time.Date(2026, 3, 1, 7, 59, 59, 0, time.UTC), "h-2026.03.01.07"},
		// Berlin is UTC+1 in winter: 23:30 UTC is already the next day there.
		{"sluice-flows-%{+yyyy.MM.dd}", berlin, time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC), "sluice-flows-2026.11.25"},
		{"sluice-flows-%{+yyyy.MM.dd}", time.UTC, time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC), "sluice-flows-2026.11.24"},
		// Summer (UTC+2): 22:00 UTC is midnight in Berlin.
		{"sluice-flows-%{+yyyy.MM.dd}", berlin, time.Date(2026, 7, 1, 21, 59, 59, 0, time.UTC), "sluice-flows-2026.07.01"},
		{"sluice-flows-%{+yyyy.MM.dd}", berlin, time.Date(2026, 7, 1, 22, 0, 0, 0, time.UTC), "sluice-flows-2026.07.02"},
		// Year and month boundaries.
		{"sluice-flows-%{+yyyy.MM.dd}", time.UTC, time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC), "sluice-flows-2026.12.31"},
		{"sluice-flows-%{+yyyy.MM.dd}", time.UTC, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "sluice-flows-2027.01.01"},
		{"sluice-flows-%{+yyyy.MM.dd}", berlin, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "sluice-flows-2027.01.01"},
		{"sluice-flows-%{+yyyy.MM.dd}", time.UTC, time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), "sluice-flows-2028.02.29"},
		{"sluice-flows-%{+yyyy.MM.dd}", time.UTC, time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC), "sluice-flows-2026.04.30"},
		{"sluice-flows-%{+yyyy.MM.dd}", time.UTC, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "sluice-flows-2026.05.01"},
	} {
		n, err := NewIndexNamer(tc.pattern, tc.loc)
		if err != nil {
			t.Fatalf("NewIndexNamer(%q) error: %v", tc.pattern, err)
		}
		// Twice: the first call fills the cache, the second reads it.
		for i := 0; i < 2; i++ {
			if got := n.Name(tc.t); got != tc.want {
				t.Errorf("NewIndexNamer(%q, %v).Name(%v) call %d = %q, want %q", tc.pattern, tc.loc, tc.t, i+1, got, tc.want)
			}
		}
	}
}

// TestIndexNamerSequence walks across day boundaries with one namer so the
// cache must be invalidated at the right instant, in both directions.
func TestIndexNamerSequence(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	for _, loc := range []*time.Location{time.UTC, berlin} {
		n, err := NewIndexNamer("x-%{+yyyy.MM.dd.HH}", loc)
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewIndexNamer("x-%{+yyyy.MM.dd}", loc)
		if err != nil {
			t.Fatal(err)
		}
		// Covers the 2026 DST changes in Berlin (March 29, October 25).
		start := time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC)
		for tm := start; tm.Before(start.AddDate(0, 8, 0)); tm = tm.Add(7*time.Minute + 13*time.Second) {
			lt := tm.In(loc)
			if got, want := n.Name(tm), "x-"+lt.Format("2006.01.02.15"); got != want {
				t.Fatalf("%v: hourly Name(%v) = %q, want %q", loc, tm, got, want)
			}
			if got, want := d.Name(tm), "x-"+lt.Format("2006.01.02"); got != want {
				t.Fatalf("%v: daily Name(%v) = %q, want %q", loc, tm, got, want)
			}
			// A late event from the day before must not be served from the cache.
			back := tm.Add(-25 * time.Hour)
			if got, want := d.Name(back), "x-"+back.In(loc).Format("2006.01.02"); got != want {
				t.Fatalf("%v: daily Name(%v) = %q, want %q", loc, back, got, want)
			}
		}
	}
}

func TestNewIndexNamerErrors(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    string
	}{
		{"", "empty"},
		{"sluice-flows", "has no date"},
		{"sluice-%{+mm}", `unsupported date token "mm"`},
		{"sluice-%{+yyyy.MMM.dd}", `unsupported date token "MMM"`},
		{"sluice-%{+yyy}", `unsupported date token "yyy"`},
		{"sluice-%{+ww}", `unsupported date token "ww"`},
		{"sluice-%{[type]}-%{+yyyy}", "field reference"},
		{"sluice-%{+yyyy.MM.dd", "without closing }"},
		{"sluice-%{+}", "empty date format"},
		{"sluice-%{+yyyy'T'MM}", "quoted text"},
		{"Sluice-%{+yyyy.MM.dd}", "lowercase"},
		{"sluice/flows-%{+yyyy.MM.dd}", `character '/'`},
		{"sluice flows-%{+yyyy.MM.dd}", `character ' '`},
		{"sluice-%{+yyyy:MM}", `character ':'`},
		{"_sluice-%{+yyyy.MM.dd}", "must not start"},
		{".sluice-%{+yyyy.MM.dd}", "must not start"},
	} {
		_, err := NewIndexNamer(tc.pattern, time.UTC)
		if err == nil {
			t.Errorf("NewIndexNamer(%q) error = nil, want one containing %q", tc.pattern, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewIndexNamer(%q) error = %q, want it to contain %q", tc.pattern, err, tc.want)
		}
	}
}

func TestIndexNamerNoAllocOnHit(t *testing.T) {
	n, err := NewIndexNamer("sluice-flows-%{+yyyy.MM.dd}", mustLoc(t, "Europe/Berlin"))
	if err != nil {
		t.Fatal(err)
	}
	tm := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	n.Name(tm)
	if a := testing.AllocsPerRun(1000, func() { _ = n.Name(tm.Add(time.Hour)) }); a != 0 {
		t.Fatalf("Name() on a cache hit allocates %.1f times, want 0", a)
	}
}

func TestIndexNamerConcurrent(t *testing.T) {
	n, err := NewIndexNamer("sluice-flows-%{+yyyy.MM.dd}", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				tm := base.Add(time.Duration((i*7+g)%5-2) * 24 * time.Hour)
				if got, want := n.Name(tm), "sluice-flows-"+tm.Format("2006.01.02"); got != want {
					t.Errorf("Name(%v) = %q, want %q", tm, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkIndexNamerHit(b *testing.B) {
	n, err := NewIndexNamer("sluice-flows-%{+yyyy.MM.dd}", time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	tm := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		_ = n.Name(tm)
	}
}

// TestIndexNamerRecentPeriods: a namer serves the last indexRecentN days
// from its cache (flows of a few days mixed in one batch: exporters whose
// clocks lag, replayed captures) without allocating, and still names
// every day right when more days than that alternate.
func TestIndexNamerRecentPeriods(t *testing.T) {
	n, err := NewIndexNamer("sluice-flows-%{+yyyy.MM.dd}", mustLoc(t, "Europe/Berlin"))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 24, 18, 16, 0, 0, time.UTC)
	days := make([]time.Time, indexRecentN+2)
	for i := range days {
		days[i] = base.AddDate(0, 0, -3*i).Add(time.Duration(i) * time.Hour)
	}
	berlin := mustLoc(t, "Europe/Berlin")
	want := make([]string, len(days))
	for i, tm := range days {
		want[i] = "sluice-flows-" + tm.In(berlin).Format("2006.01.02")
	}
	for round := range 3 {
		for i, tm := range days {
			if got := n.Name(tm); got != want[i] {
				t.Fatalf("round %d: Name(%v) = %q, want %q", round, tm, got, want[i])
			}
		}
	}
	for _, tm := range days[:indexRecentN] {
		n.Name(tm)
	}
	if a := testing.AllocsPerRun(100, func() {
		for i, tm := range days[:indexRecentN] {
			if got := n.Name(tm); got != want[i] {
				t.Fatalf("Name(%v) = %q, want %q", tm, got, want[i])
			}
		}
	}); a != 0 {
		t.Errorf("Name() over %d recent days allocates %.1f times, want 0", indexRecentN, a)
	}
	if r := n.recent.Load(); r == nil || r.n != indexRecentN {
		t.Errorf("the namer remembers %v periods, want %d", r, indexRecentN)
	}
}
