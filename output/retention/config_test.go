package retention

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := PolicyConfig{Name: "flows", Pattern: "sluice-flows-*", MaxAge: "30d", Action: "delete"}
	with := func(f func(*PolicyConfig)) []PolicyConfig {
		p := ok
		f(&p)
		return []PolicyConfig{p}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{name: "defaults", cfg: Default()},
		{name: "valid", cfg: Config{Timezone: "UTC", Schedule: "30 3 * * *", Elasticsearch: true, FilesDir: "d", Policies: []PolicyConfig{
			ok,
			{Pattern: "sluice-syslog-*", MaxAge: "36h", Action: "close", Exclude: []string{"*-2026.01.01"}},
			{Pattern: "sluice-flows-*", MaxAge: "7d", Action: "forcemerge", MaxNumSegments: 2, AgeSource: "creation_date"},
			{Pattern: "sluice-*", MaxAge: "2d", Action: "gzip", Timestring: "%Y.%m.%d"},
			{Pattern: "sluice-flows-*", MaxTotalSize: "50GB", Action: "delete", Targets: "elasticsearch"},
		}}},
		{name: "interval", cfg: Config{Timezone: "UTC", Schedule: "24h"}},
		{name: "empty pattern", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Pattern = "" })},
			want: []string{"retention.policies[0].pattern: empty"}},
		{name: "star", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Pattern = "*" })},
			want: []string{`retention.policies[0].pattern: "*" matches every index`}},
		{name: "only wildcards and punctuation", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Pattern = "*-*" })},
			want: []string{`retention.policies[0].pattern: "*-*" matches every index`}},
		{name: "question marks", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Pattern = "?*" })},
			want: []string{`"?*" matches every index`}},
		{name: "hidden", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Pattern = ".kibana*" })},
			want: []string{"retention.policies[0].pattern", "hidden or system"}},
		{name: "comma", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Pattern = "a-*,b-*" })},
			want: []string{"retention.policies[0].pattern", "one glob"}},
		{name: "bad glob", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Pattern = "sluice-[" })},
			want: []string{"retention.policies[0].pattern", "not a valid glob"}},
		{name: "bad exclude", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Exclude = []string{"ok-*", ""} })},
			want: []string{"retention.policies[0].exclude[1]: empty"}},
		{name: "no age, no size", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.MaxAge = "" })},
			want: []string{"retention.policies[0]: max_age and max_total_size are both empty"}},
		{name: "bad max_age", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.MaxAge = "30 days" })},
			want: []string{`retention.policies[0].max_age: "30 days"`}},
		{name: "max_age too small", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.MaxAge = "5m" })},
			want: []string{"retention.policies[0].max_age", "below 1h"}},
		{name: "bad size", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.MaxTotalSize = "lots" })},
			want: []string{`retention.policies[0].max_total_size: "lots" is not a size`}},
		{name: "size with gzip", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Action, p.MaxTotalSize = "gzip", "1GB" })},
			want: []string{"retention.policies[0].max_total_size: only applies to action delete"}},
		{name: "unknown action", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Action = "shrink" })},
			want: []string{`retention.policies[0].action: "shrink" is not an action`}},
		{name: "missing action", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Action = "" })},
			want: []string{"retention.policies[0].action: empty"}},
		{name: "close on files", cfg: Config{Timezone: "UTC", FilesDir: "d", Elasticsearch: true, Policies: with(func(p *PolicyConfig) { p.Action, p.Targets = "close", "files" })},
			want: []string{"retention.policies[0].targets: files: action close applies to Elasticsearch only"}},
		{name: "gzip on elasticsearch", cfg: Config{Timezone: "UTC", FilesDir: "d", Elasticsearch: true, Policies: with(func(p *PolicyConfig) { p.Action, p.Targets = "gzip", "both" })},
			want: []string{"retention.policies[0].targets: both: action gzip applies to files only"}},
		{name: "close without elasticsearch", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Action = "close" })},
			want: []string{"retention.policies[0].action: close needs output.elasticsearch.addresses"}},
		{name: "targets elasticsearch without it", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Targets = "elasticsearch" })},
			want: []string{"retention.policies[0].targets: elasticsearch, but output.elasticsearch.addresses is empty"}},
		{name: "targets files without the file output", cfg: Config{Timezone: "UTC", Elasticsearch: true, Policies: with(func(p *PolicyConfig) { p.Targets = "files" })},
			want: []string{"retention.policies[0].targets: files, but output.file.enabled is false"}},
		{name: "unknown target", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Targets = "s3" })},
			want: []string{`retention.policies[0].targets: "s3" is not a target`}},
		{name: "bad timestring", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.Timestring = "%d.%m" })},
			want: []string{"retention.policies[0].timestring", "no year"}},
		{name: "bad age source", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.AgeSource = "mtime" })},
			want: []string{`retention.policies[0].age_source: "mtime"`}},
		{name: "segments without forcemerge", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: with(func(p *PolicyConfig) { p.MaxNumSegments = 1 })},
			want: []string{"retention.policies[0].max_num_segments: only applies to action forcemerge"}},
		{name: "duplicate names", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: []PolicyConfig{ok, ok}},
			want: []string{`retention.policies[1].name: "flows" is also the name of retention.policies[0]`}},
		{name: "bad schedule", cfg: Config{Timezone: "UTC", Schedule: "daily at 3"},
			want: []string{`retention.schedule: "daily at 3" is neither an interval`}},
		{name: "interval too short", cfg: Config{Timezone: "UTC", Schedule: "10ms"},
			want: []string{"retention.schedule: 10ms is below 1s"}},
		{name: "bad zone", cfg: Config{Timezone: "Mars/Olympus"},
			want: []string{`retention.timezone: "Mars/Olympus"`}},
		{name: "every problem at once", cfg: Config{Timezone: "UTC", FilesDir: "d", Policies: []PolicyConfig{
			{Pattern: "*", MaxAge: "30d", Action: "delete"}, ok, {Pattern: "x-*", MaxAge: "1d", Action: "zap"}}},
			want: []string{"retention.policies[0].pattern", "retention.policies[2].action"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"50GB": 50 << 30, "50G": 50 << 30, "50GiB": 50 << 30, "500mb": 500 << 20, "1.5TB": 3 << 39,
		"1024": 1024, "10KB": 10 << 10, " 2 GB ": 2 << 30, "7B": 7,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GB", "-1GB", "0", "ten", "1PB", "1e30"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	every, sched, err := ParseSchedule("24h")
	if err != nil || every != 24*time.Hour || sched != nil {
		t.Errorf(`ParseSchedule("24h") = %v, %v, %v`, every, sched, err)
	}
	every, sched, err = ParseSchedule("")
	if err != nil || every != 0 || sched != nil {
		t.Errorf(`ParseSchedule("") = %v, %v, %v; want nothing`, every, sched, err)
	}
	every, sched, err = ParseSchedule("CRON_TZ=UTC 30 3 * * *")
	if err != nil || every != 0 || sched == nil {
		t.Fatalf(`ParseSchedule("CRON_TZ=UTC 30 3 * * *") = %v, %v, %v`, every, sched, err)
	}
	from := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if got, want := sched.Next(from), time.Date(2026, 11, 25, 3, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next(%s) = %s, want %s", from, got, want)
	}
	if _, _, err := ParseSchedule("61 3 * * *"); err == nil {
		t.Error(`ParseSchedule("61 3 * * *") = nil error, want one`)
	}
}

func TestParseAge(t *testing.T) {
	now := time.Date(2026, 3, 30, 12, 0, 0, 0, time.UTC)
	berlin := mustZone(t, "Europe/Berlin")
	// Days are calendar days in the zone: across the DST change of
	// 2026-03-29, 2d before 14:00 CEST is 14:00 CET, 47h earlier.
	a, err := parseAge("2d")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.cutoff(now, berlin), time.Date(2026, 3, 28, 14, 0, 0, 0, berlin); !got.Equal(want) {
		t.Errorf("2d cutoff = %s, want %s", got, want)
	}
	for _, bad := range []string{"0d", "-1d", "d", "1.5d", "30m", "abc"} {
		if _, err := parseAge(bad); err == nil {
			t.Errorf("parseAge(%q) = nil error, want one", bad)
		}
	}
}
