package console

import (
	"net/url"
	"testing"
	"time"
)

// FuzzParseParams feeds raw query strings to every endpoint's parameter
// parser. The property: no panic, and a request that parses is within
// the documented bounds.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		"kind=flows",
		"kind=flows&from=now-7d&to=now-1h&by=destination.port&limit=50&step=1h",
		"kind=syslog&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00%2B01:00&metric=events",
		"kind=flows&from=now-32d",
		"kind=flows&from=now-99999d",
		"kind=flows&step=90s",
		"kind=flows&step=300&from=now-31d",
		"kind=flows&limit=0&dim=source.ip",
		"kind=syslog&filter=message:(a%20OR",
		"kind=syslog&filter=source.ip:10.0.0.0/8%20AND%20NOT%20event.action:allow",
		"kind=syslog&filter=@timestamp:[now-1d%20TO%20now]",
		"kind=flows&kind=syslog",
		"kind=syslog&dim=host.hostname&before=abc",
		"filter=a:%22b",
		"%zz=1",
		"from=now-9223372036854775807m",
		"from=now-1e9d",
		"step=-60",
		"step=9223372036854775807",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		check := func(q Query) {
			if q.Kind != KindFlows && q.Kind != KindSyslog {
				t.Fatalf("%q: kind %q accepted", raw, q.Kind)
			}
			if !q.From.Before(q.To) || q.To.Sub(q.From) > MaxRange {
				t.Fatalf("%q: range %s .. %s accepted", raw, q.From, q.To)
			}
			if len(q.Filter) > MaxFilterBytes {
				t.Fatalf("%q: filter of %d bytes accepted", raw, len(q.Filter))
			}
		}
		if r, err := ParseSeries(v, now); err == nil {
			check(r.Query)
			if r.Limit < 1 || r.Limit > 50 {
				t.Fatalf("%q: series limit %d", raw, r.Limit)
			}
			if r.Step != 0 && (r.Step < time.Minute || r.Step%time.Minute != 0 || r.To.Sub(r.From)/r.Step > maxBuckets) {
				t.Fatalf("%q: step %s accepted", raw, r.Step)
			}
			if r.Metric == "" {
				t.Fatalf("%q: no metric", raw)
			}
		}
		if r, err := ParseTop(v, now); err == nil {
			check(r.Query)
			if r.Limit < 1 || r.Limit > 100 || r.Dim == "" {
				t.Fatalf("%q: top limit %d dim %q", raw, r.Limit, r.Dim)
			}
		}
		if r, err := ParseEvents(v, now); err == nil {
			check(r.Query)
			if r.Limit < 1 || r.Limit > 500 || len(r.Before) > maxCursorBytes {
				t.Fatalf("%q: events limit %d cursor %d bytes", raw, r.Limit, len(r.Before))
			}
		}
		if r, err := ParseTail(v); err == nil && r.Filter != "" && r.Matcher == nil {
			t.Fatalf("%q: tail filter without matcher", raw)
		}
		if s := v.Get("from"); s != "" {
			if tm, err := ParseTime("from", s, now); err == nil && tm.After(now) && len(s) > 3 && s[:3] == "now" {
				t.Fatalf("%q: relative time %s after now", raw, tm)
			}
		}
	})
}
