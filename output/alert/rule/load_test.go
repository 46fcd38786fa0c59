package rule

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func rlIntp(n int) *int           { return &n }
func rlFloatp(f float64) *float64 { return &f }

// TestLoadElastAlertExamples loads ElastAlert's own example rule files
// (testdata/elastalert, as the projects ship them) unchanged.
func TestLoadElastAlertExamples(t *testing.T) {
	rlEnsureTypes()
	dir := filepath.Join("testdata", "elastalert")
	tests := []struct {
		file  string
		check func(t *testing.T, r *Rule)
		notes []string // keys that must be noted as without effect
	}{
		{file: "example_frequency.yaml", check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "Example frequency rule", Type: "frequency", NumEvents: 50, Timeframe: 4 * time.Hour}
			rlCheckSpec(t, r, want, "NumEvents", "Timeframe")
			if !slices.Equal(r.Index, []string{"logstash-*"}) {
				t.Errorf("Index = %q", r.Index)
			}
			if r.Filter == nil || !slices.Equal(r.Filter.Fields(), []string{"some_field"}) {
				t.Errorf("Filter = %v, want a term on some_field", r.Filter)
			}
			if r.Realert != time.Minute || r.AlertTimeLimit != time.Hour || r.TimestampField != "@timestamp" {
				t.Errorf("defaults: realert %v, alert_time_limit %v, timestamp_field %q", r.Realert, r.AlertTimeLimit, r.TimestampField)
			}
			if got := r.Options["email"]; !cmp.Equal(got, []any{"elastalert@example.com"}) {
				t.Errorf("Options[email] = %v", got)
			}
		}},
		{file: "example_change.yaml", check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "New country login", Type: "change", CompareKey: []string{"country_name"}, IgnoreNull: true, QueryKey: []string{"username"}, Timeframe: 24 * time.Hour}
			rlCheckSpec(t, r, want, "CompareKey", "IgnoreNull", "QueryKey", "Timeframe")
		}},
		{file: "example_new_term.yaml", notes: []string{"es_host", "es_port"}, check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "Example rule", Type: "new_term", Fields: [][]string{{"ip_address"}}, TermsWindowSize: 90 * 24 * time.Hour}
			rlCheckSpec(t, r, want, "Fields", "TermsWindowSize")
		}},
		{file: "example_spike.yaml", check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "Event spike", Type: "spike", ThresholdCur: 5, Timeframe: 2 * time.Hour, SpikeHeight: 3, SpikeType: "up"}
			rlCheckSpec(t, r, want, "ThresholdCur", "ThresholdRef", "Timeframe", "SpikeHeight", "SpikeType")
		}},
		{file: "example_cardinality.yaml", check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "Example cardinality rule", Type: "cardinality", CardinalityField: "Hostname", MinCardinality: rlIntp(15), Timeframe: 4 * time.Hour}
			rlCheckSpec(t, r, want, "CardinalityField", "MinCardinality", "MaxCardinality", "Timeframe")
		}},
		{file: "example_single_metric_agg.yaml", notes: []string{"doc_type", "es_host", "es_port"}, check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "Metricbeat CPU Spike Rule", Type: "metric_aggregation", MetricAggKey: "system.cpu.user.pct", MetricAggType: "avg",
				QueryKey: []string{"beat.hostname"}, MinThreshold: rlFloatp(0.1), MaxThreshold: rlFloatp(0.8), BufferTime: 5 * time.Minute}
			rlCheckSpec(t, r, want, "MetricAggKey", "MetricAggType", "QueryKey", "MinThreshold", "MaxThreshold", "BufferTime")
		}},
		{file: "example_percentage_match.yaml", notes: []string{"doc_type", "es_host", "es_port"}, check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "Example Percentage Match", Type: "percentage_match", QueryKey: []string{"Hostname.keyword"}, MinPercentage: rlFloatp(95), BufferTime: 5 * time.Minute}
			rlCheckSpec(t, r, want, "QueryKey", "MinPercentage", "MaxPercentage", "BufferTime")
			if r.Spec.MatchBucketFilter == nil || !slices.Equal(r.Spec.MatchBucketFilter.Fields(), []string{"ResponseStatus"}) {
				t.Errorf("MatchBucketFilter = %v", r.Spec.MatchBucketFilter)
			}
			if r.Description != "95% of all http requests should be successful" {
				t.Errorf("Description = %q", r.Description)
			}
		}},
		{file: "example_blacklist.yaml", check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "Example blacklist rule", Type: "blacklist", CompareKey: []string{"request"},
				Blacklist: []string{"/index.html", "/admin", "/wp-login.php", "/.env"}}
			rlCheckSpec(t, r, want, "CompareKey", "Blacklist")
		}},
		{file: "example_whitelist.yaml", check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "Example whitelist rule", Type: "whitelist", CompareKey: []string{"request"}, IgnoreNull: true,
				Whitelist: []string{"/index.html", "/admin", "/wp-login.php"}}
			rlCheckSpec(t, r, want, "CompareKey", "IgnoreNull", "Whitelist")
		}},
		{file: "elastalert2_ssh.yaml", notes: []string{"include_match_in_root"}, check: func(t *testing.T, r *Rule) {
			want := Spec{Name: "SSH abuse (ElastAlert 3.0.1) - 2", Type: "frequency", NumEvents: 20, Timeframe: time.Hour, QueryKey: []string{"source.ip"}}
			rlCheckSpec(t, r, want, "NumEvents", "Timeframe", "QueryKey")
			if !slices.Equal(r.Include, []string{"host.hostname", "user.name", "source.ip"}) {
				t.Errorf("Include = %q", r.Include)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			r, err := Load(filepath.Join(dir, tc.file), rlOpts())
			if err != nil {
				t.Fatalf("Load(%s) error: %v", tc.file, err)
			}
			if r.Hash == "" || r.Disabled {
				t.Errorf("Hash %q, Disabled %v", r.Hash, r.Disabled)
			}
			tc.check(t, r)
			for _, k := range tc.notes {
				if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.HasPrefix(n, k+" ") || strings.HasPrefix(n, k+":") }) {
					t.Errorf("Notes %q lack %s", r.Notes, k)
				}
			}
		})
	}

	// The opsgenie example needs keys no package of sluice reads: the
	// documented error names each of them.
	_, err := Load(filepath.Join(dir, "example_opsgenie_frequency.yaml"), rlOpts())
	if err == nil {
		t.Fatal("Load(example_opsgenie_frequency.yaml) = nil error, want unknown opsgenie keys")
	}
	for _, want := range []string{"example_opsgenie_frequency.yaml: opsgenie_key: unknown key", "opsgenie_tags: unknown key", "remove it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load(opsgenie) error %q lacks %q", err, want)
		}
	}
	// With an alerter package that reads them, it loads.
	o := rlOpts()
	o.ExtraKeys = append(o.ExtraKeys, "opsgenie_key", "opsgenie_tags")
	if _, err := Load(filepath.Join(dir, "example_opsgenie_frequency.yaml"), o); err != nil {
		t.Errorf("Load(opsgenie) with the opsgenie keys accepted: %v", err)
	}
}

// rlCheckSpec compares the named Spec fields (and Name, Type).
func rlCheckSpec(t *testing.T, r *Rule, want Spec, fields ...string) {
	t.Helper()
	got := r.Spec
	if got.Name != want.Name || got.Type != want.Type {
		t.Errorf("Name, Type = %q, %q; want %q, %q", got.Name, got.Type, want.Name, want.Type)
	}
	for _, f := range fields {
		var g, w any
		switch f {
		case "NumEvents":
			g, w = got.NumEvents, want.NumEvents
		case "Timeframe":
			g, w = got.Timeframe, want.Timeframe
		case "CompareKey":
			g, w = got.CompareKey, want.CompareKey
		case "IgnoreNull":
			g, w = got.IgnoreNull, want.IgnoreNull
		case "QueryKey":
			g, w = got.QueryKey, want.QueryKey
		case "Fields":
			g, w = got.Fields, want.Fields
		case "TermsWindowSize":
			g, w = got.TermsWindowSize, want.TermsWindowSize
		case "ThresholdCur":
			g, w = got.ThresholdCur, want.ThresholdCur
		case "ThresholdRef":
			g, w = got.ThresholdRef, want.ThresholdRef
		case "SpikeHeight":
			g, w = got.SpikeHeight, want.SpikeHeight
		case "SpikeType":
			g, w = got.SpikeType, want.SpikeType
		case "CardinalityField":
			g, w = got.CardinalityField, want.CardinalityField
		case "MinCardinality":
			g, w = got.MinCardinality, want.MinCardinality
		case "MaxCardinality":
			g, w = got.MaxCardinality, want.MaxCardinality
		case "MetricAggKey":
			g, w = got.MetricAggKey, want.MetricAggKey
		case "MetricAggType":
			g, w = got.MetricAggType, want.MetricAggType
		case "MinThreshold":
			g, w = got.MinThreshold, want.MinThreshold
		case "MaxThreshold":
			g, w = got.MaxThreshold, want.MaxThreshold
		case "BufferTime":
			g, w = got.BufferTime, want.BufferTime
		case "MinPercentage":
			g, w = got.MinPercentage, want.MinPercentage
		case "MaxPercentage":
			g, w = got.MaxPercentage, want.MaxPercentage
		case "Blacklist":
			g, w = got.Blacklist, want.Blacklist
		case "Whitelist":
			g, w = got.Whitelist, want.Whitelist
		default:
			t.Fatalf("rlCheckSpec: unknown field %s", f)
		}
		if diff := cmp.Diff(g, w); diff != "" {
			t.Errorf("Spec.%s (-got +want):\n%s", f, diff)
		}
	}
}

const rlBase = "name: r\nalert: [debug]\n"

// TestLoadErrors: each bad rule gives an error naming the file, the key,
// the value and the fix.
func TestLoadErrors(t *testing.T) {
	rlEnsureTypes()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"typo", rlBase + "type: any\nrealret: {minutes: 5}\n", []string{"rule.yaml: realret: unknown key; did you mean realert?"}},
		{"match_enhancements", rlBase + "type: any\nmatch_enhancements: [x.y.Z]\n", []string{"match_enhancements: unknown key: sluice does not support it", "remove it"}},
		{"alerter key nobody reads", rlBase + "type: any\njira_project: OPS\n", []string{"jira_project: unknown key"}},
		{"no name", "type: any\nalert: debug\n", []string{"name: missing; every rule needs a unique name"}},
		{"no type", "name: r\nalert: debug\n", []string{"type: missing; name the rule type: type: any | blacklist"}},
		{"no alert", "name: r\ntype: any\n", []string{"alert: missing; name at least one alerter"}},
		{"unknown type", rlBase + "type: frequncy\n", []string{`type: unknown rule type "frequncy"; did you mean frequency? supported: any, blacklist, cardinality, change, flatline, frequency`}},
		{"python type", rlBase + "type: elastalert_modules.my_rules.AwesomeRule\n", []string{"custom Python rule types do not run in sluice", "supported: any,"}},
		{"frequency needs", rlBase + "type: frequency\n", []string{"num_events: missing; type frequency needs num_events, timeframe", "timeframe: missing"}},
		{"blacklist needs", rlBase + "type: blacklist\n", []string{"compare_key: missing; type blacklist needs compare_key, blacklist", "blacklist: missing"}},
		{"whitelist needs", rlBase + "type: whitelist\ncompare_key: a\nwhitelist: [x]\n", []string{"ignore_null: missing; type whitelist needs compare_key, whitelist, ignore_null"}},
		{"change needs", rlBase + "type: change\ncompare_key: a\nignore_null: true\n", []string{"query_key: missing; type change needs compare_key, ignore_null, query_key"}},
		{"flatline needs", rlBase + "type: flatline\ntimeframe: {minutes: 5}\n", []string{"threshold: missing; type flatline needs threshold, timeframe"}},
		{"spike needs", rlBase + "type: spike\nspike_height: 2\n", []string{"spike_type: missing", "timeframe: missing"}},
		{"new_term needs", rlBase + "type: new_term\n", []string{"fields: missing; type new_term needs fields (or query_key)"}},
		{"cardinality needs", rlBase + "type: cardinality\ncardinality_field: a\ntimeframe: {hours: 1}\n", []string{"max_cardinality: missing; type cardinality needs max_cardinality or min_cardinality"}},
		{"metric needs", rlBase + "type: metric_aggregation\nmetric_agg_key: a\n", []string{"metric_agg_type: missing", "max_threshold: missing; type metric_aggregation needs max_threshold or min_threshold"}},
		{"percentage needs", rlBase + "type: percentage_match\nmin_percentage: 5\n", []string{"match_bucket_filter: missing"}},
		{"negative num_events", rlBase + "type: frequency\nnum_events: -3\ntimeframe: {minutes: 1}\n", []string{"num_events: -3 is negative; use a number from 1 to 100000"}},
		{"num_events too big", rlBase + "type: frequency\nnum_events: 100001\ntimeframe: {minutes: 1}\n", []string{"num_events: 100001 is out of range"}},
		{"fractional", rlBase + "type: frequency\nnum_events: 2.5\ntimeframe: {minutes: 1}\n", []string{"num_events: 2.5 is not a whole number"}},
		{"negative duration", rlBase + "type: any\nrealert: {minutes: -5}\n", []string{"realert: map[minutes:-5] is negative; use a duration of zero or more"}},
		{"bad unit", rlBase + "type: any\nrealert: {minuts: 5}\n", []string{`realert: unknown unit "minuts"; did you mean minutes?`}},
		{"bad duration text", rlBase + "type: any\nrealert: soon\n", []string{`realert: "soon" is not a duration; write {minutes: 5} or "5m"`}},
		{"duration number", rlBase + "type: any\nrealert: 5\n", []string{`realert: 5 is not a duration`}},
		{"huge duration", rlBase + "type: any\nrealert: {weeks: 1e300}\n", []string{`realert: map[weeks:1e+300] is not a usable duration (too long)`}},
		{"zero timeframe", rlBase + "type: frequency\nnum_events: 2\ntimeframe: {minutes: 0}\n", []string{"timeframe: 0 is an empty window"}},
		{"timestamp_type", rlBase + "type: any\ntimestamp_type: unix\n", []string{`timestamp_type: "unix" is not supported; sluice's documents carry ISO 8601 times`}},
		{"spike_type", rlBase + "type: spike\nspike_height: 2\nspike_type: sideways\ntimeframe: {hours: 1}\n", []string{`spike_type: "sideways" is not a spike direction; write up, down or both`}},
		{"metric_agg_type", rlBase + "type: metric_aggregation\nmetric_agg_key: a\nmetric_agg_type: percentiles\nmax_threshold: 1\n", []string{`metric_agg_type: "percentiles" is not supported; use min, max, avg, sum, cardinality or value_count`}},
		{"percentage range", rlBase + "type: percentage_match\nmatch_bucket_filter: [{term: {a: b}}]\nmin_percentage: 120\n", []string{"min_percentage: 120 is out of range; use a number from 0 to 100"}},
		{"compare_key list on blacklist", rlBase + "type: blacklist\ncompare_key: [a, b]\nblacklist: [x]\n", []string{"compare_key: [a b] names several fields; type blacklist compares one field"}},
		{"missing !file", rlBase + "type: blacklist\ncompare_key: a\nblacklist: [\"!file nothere.txt\"]\n", []string{"blacklist[0]: cannot read the list file", "nothere.txt", "create it or fix the path"}},
		{"bad filter", rlBase + "type: any\nfilter:\n- geo_distance: {distance: 5km}\n", []string{`filter: filter[0]: unknown query "geo_distance"`}},
		{"filter not a list", rlBase + "type: any\nfilter: yes please\n", []string{`filter: "yes please" is not a list of filters`}},
		{"bool", rlBase + "type: any\nis_enabled: maybe\n", []string{`is_enabled: "maybe" is not true or false`}},
		{"schedule", rlBase + "type: any\naggregation: {schedule: \"every tuesday\"}\n", []string{"aggregation.schedule: \"every tuesday\" is not a cron schedule"}},
		{"list", "- name: r\n", []string{"a rule file is a map of keys"}},
		{"empty", "", []string{"the file is empty"}},
		{"yaml syntax", "name: [\n", []string{"rule.yaml: yaml:"}},
		{"duplicate key", rlBase + "type: any\ntype: any\n", []string{`key "type" appears twice`}},
		{"field_aliases", rlBase + "type: any\nfield_aliases: [a]\n", []string{"field_aliases: [a] is not a map"}},
		{"import missing", rlBase + "type: any\nimport: base.yaml\n", []string{"import base.yaml:", "base.yaml: no such file"}},
		{"alias bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", []string{"expands to more than 1,000,000 values"}},
		{"all problems at once", "type: frequency\nnum_events: -1\nbogus: 1\n", []string{"name: missing", "alert: missing", "num_events: -1 is negative", "bogus: unknown key", "timeframe: missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := rlLoadString(t, tc.yaml)
			if err == nil {
				t.Fatalf("Load() = %+v, nil error; want an error with %q", r, tc.want)
			}
			if !strings.Contains(err.Error(), "rule.yaml") {
				t.Errorf("Load() error %q does not name the file", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load() error:\n%v\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadKeys(t *testing.T) {
	rlEnsureTypes()
	r := rlMustLoad(t, `
name: F5 ASM blocks
alert: [email]
type: blacklist
index: "sluice-syslog-*, sluice-f5-*"
compare_key: violation_rating
blacklist: [3, 4, 5]
query_key: [source.ip, host.hostname]
realert: "90s"
exponential_realert: {hours: 1, minutes: 30}
aggregation: {minutes: 10}
aggregation_key: host.hostname
summary_table_fields: [source.ip]
include: [violation_rating, message]
top_count_keys: [source.ip]
timestamp_field: event.created
timestamp_type: iso
field_aliases: {hostname: host.hostname}
filter:
- term:
    violation_rating: 3
alert_time_limit: {days: 2}
is_enabled: false
owner: noc
priority: 1
category: f5
timeframe: {minutes: 5}
es_host: es.example.com
es_password: hunter2
run_every: {minutes: 1}
`)
	if !slices.Equal(r.Index, []string{"sluice-syslog-*", "sluice-f5-*"}) {
		t.Errorf("Index = %q", r.Index)
	}
	if !slices.Equal(r.Spec.CompareKey, []string{"f5.asm.violation_rating"}) {
		t.Errorf("CompareKey = %q; want the built-in alias applied", r.Spec.CompareKey)
	}
	if !slices.Equal(r.Spec.Blacklist, []string{"3", "4", "5"}) {
		t.Errorf("Blacklist = %q", r.Spec.Blacklist)
	}
	if !slices.Equal(r.Spec.QueryKey, []string{"source.ip", "host.hostname"}) {
		t.Errorf("QueryKey = %q", r.Spec.QueryKey)
	}
	if r.Realert != 90*time.Second || r.ExponentialRealert != 90*time.Minute || r.Aggregation != 10*time.Minute {
		t.Errorf("Realert %v, ExponentialRealert %v, Aggregation %v", r.Realert, r.ExponentialRealert, r.Aggregation)
	}
	if !slices.Equal(r.AggregationKey, []string{"host.hostname"}) || !slices.Equal(r.Include, []string{"f5.asm.violation_rating", "message"}) {
		t.Errorf("AggregationKey %q, Include %q", r.AggregationKey, r.Include)
	}
	if r.TimestampField != "event.created" || r.AlertTimeLimit != 48*time.Hour || !r.Disabled || r.Owner != "noc" || r.Priority != 1 || r.Category != "f5" {
		t.Errorf("TimestampField %q AlertTimeLimit %v Disabled %v Owner %q Priority %d Category %q", r.TimestampField, r.AlertTimeLimit, r.Disabled, r.Owner, r.Priority, r.Category)
	}
	if r.Aliases["hostname"] != "host.hostname" || r.Aliases["violation_rating"] != "f5.asm.violation_rating" {
		t.Errorf("Aliases = %v", r.Aliases)
	}
	if r.Filter == nil || !slices.Equal(r.Filter.Fields(), []string{"f5.asm.violation_rating"}) {
		t.Errorf("Filter fields = %v; want the alias applied by the compiler", r.Filter.Fields())
	}
	wantNotes := []string{
		"es_host (\"es.example.com\"): sluice evaluates rules on the documents it receives, not by querying a cluster",
		"es_password: sluice evaluates rules on the documents it receives, not by querying a cluster",
		"run_every (map[minutes:1]): rules are evaluated as each document arrives, there is no polling interval",
		"timeframe (map[minutes:5]): type blacklist does not use it (it is read by frequency, change, flatline, spike, cardinality)",
	}
	if diff := cmp.Diff(r.Notes, wantNotes); diff != "" {
		t.Errorf("Notes (-got +want):\n%s", diff)
	}

	// A schedule, strftime indices, a disabled realert.
	r = rlMustLoad(t, rlBase+"type: any\nindex: logstash-%Y.%m.%d\nuse_strftime_index: true\nrealert: {minutes: 0}\naggregation: {schedule: '2 4 * * mon,fri'}\n")
	if !slices.Equal(r.Index, []string{"logstash-*.*.*"}) || r.Realert != 0 || r.AggregationSchedule != "2 4 * * mon,fri" || r.schedule == nil {
		t.Errorf("Index %q Realert %v AggregationSchedule %q", r.Index, r.Realert, r.AggregationSchedule)
	}
}

func TestLoadImportAndFiles(t *testing.T) {
	rlEnsureTypes()
	dir := t.TempDir()
	rlWrite(t, dir, map[string]string{
		"base/common.yaml":    "index: sluice-*\nrealert: {minutes: 5}\nalert: [debug]\nfilter:\n- term: {event.kind: event}\n",
		"rules/deny.yaml":     "import: ../base/common.yaml\nname: denies\ntype: frequency\nnum_events: 3\ntimeframe: {minutes: 1}\nrealert: {minutes: 2}\nfilter:\n- term: {event.action: deny}\n",
		"rules/bl.yaml":       "name: bad ips\ntype: blacklist\ncompare_key: source.ip\nblacklist: [\"!file lists/ips.txt\", 10.0.0.9]\nalert: debug\n",
		"rules/lists/ips.txt": "# known scanners\n198.51.100.7\n\n  203.0.113.1  \n",
		"loop/a.yaml":         "import: b.yaml\nname: a\n",
		"loop/b.yaml":         "import: a.yaml\n",
	})
	r, err := Load(filepath.Join(dir, "rules", "deny.yaml"), rlOpts())
	if err != nil {
		t.Fatalf("Load(deny.yaml): %v", err)
	}
	if r.Realert != 2*time.Minute || !slices.Equal(r.Index, []string{"sluice-*"}) {
		t.Errorf("the importing file overrides, the base fills in: Realert %v Index %q", r.Realert, r.Index)
	}
	if !slices.Equal(r.Filter.Fields(), []string{"event.action", "event.kind"}) {
		t.Errorf("Filter fields %q: both files' filters apply", r.Filter.Fields())
	}
	if want, _ := filepath.Abs(filepath.Join(dir, "base", "common.yaml")); !slices.Equal(r.Imports, []string{want}) {
		t.Errorf("Imports = %q", r.Imports)
	}
	// Changing the base changes the hash.
	h := r.Hash
	rlWrite(t, dir, map[string]string{"base/common.yaml": "index: sluice-*\nrealert: {minutes: 6}\nalert: [debug]\n"})
	r2, err := Load(filepath.Join(dir, "rules", "deny.yaml"), rlOpts())
	if err != nil || r2.Hash == h {
		t.Errorf("after the base changed: err %v, hash unchanged %v", err, r2 != nil && r2.Hash == h)
	}

	r, err = Load(filepath.Join(dir, "rules", "bl.yaml"), rlOpts())
	if err != nil {
		t.Fatalf("Load(bl.yaml): %v", err)
	}
	if want := []string{"198.51.100.7", "203.0.113.1", "10.0.0.9"}; !slices.Equal(r.Spec.Blacklist, want) {
		t.Errorf("Blacklist = %q, want %q", r.Spec.Blacklist, want)
	}

	if _, err := Load(filepath.Join(dir, "loop", "a.yaml"), rlOpts()); err == nil || !strings.Contains(err.Error(), "import loop") {
		t.Errorf("Load(loop) error = %v, want an import loop", err)
	}
}

func TestLoadLimits(t *testing.T) {
	rlEnsureTypes()
	dir := t.TempDir()
	big := rlBase + "type: any\ndescription: \"" + strings.Repeat("x", MaxRuleFileBytes) + "\"\n"
	rlWrite(t, dir, map[string]string{
		"big.yaml":  big,
		"list.yaml": rlBase + "type: blacklist\ncompare_key: a\nblacklist: [\"!file many.txt\"]\n",
	})
	if _, err := Load(filepath.Join(dir, "big.yaml"), rlOpts()); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("Load(big) error = %v", err)
	}
	// More than 1e6 entries (in fewer than 10 MiB).
	f, err := os.Create(filepath.Join(dir, "many.txt"))
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("1\n")
	buf := make([]byte, 0, 2*(MaxListEntries+1))
	for range MaxListEntries + 1 {
		buf = append(buf, line...)
	}
	f.Write(buf)
	f.Close()
	if _, err := Load(filepath.Join(dir, "list.yaml"), rlOpts()); err == nil || !strings.Contains(err.Error(), "blacklist: more than 1000000 entries") {
		t.Errorf("Load(list) error = %v", err)
	}
	// A list file over 10 MiB.
	if err := os.WriteFile(filepath.Join(dir, "many.txt"), make([]byte, MaxListFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "list.yaml"), rlOpts()); err == nil || !strings.Contains(err.Error(), "larger than 10485760 bytes, the limit of the !file lists of blacklist (together)") {
		t.Errorf("Load(list over 10 MiB) error = %v", err)
	}
	// The bound holds for the lists together: 6 MiB named twice.
	if err := os.WriteFile(filepath.Join(dir, "many.txt"), bytes.Repeat([]byte("1234567\n"), 6<<20/8), 0o644); err != nil {
		t.Fatal(err)
	}
	rlWrite(t, dir, map[string]string{"list.yaml": rlBase + "type: blacklist\ncompare_key: a\nblacklist: [\"!file many.txt\", \"!file many.txt\"]\n"})
	if _, err := Load(filepath.Join(dir, "list.yaml"), rlOpts()); err == nil || !strings.Contains(err.Error(), "blacklist[1]: cannot read the list file") {
		t.Errorf("Load(two lists over 10 MiB together) error = %v", err)
	}
}

func TestLoadDirs(t *testing.T) {
	rlEnsureTypes()
	a, b := t.TempDir(), t.TempDir()
	rlWrite(t, a, map[string]string{
		"one.yaml":     "name: one\ntype: any\nalert: debug\n",
		"sub/two.yml":  "import: ../base.yaml\nname: two\ntype: any\n",
		"base.yaml":    "alert: debug\nindex: x-*\n",
		"bad.yaml":     "name: bad\ntype: any\n",
		".hidden.yaml": "junk: [",
		".git/x.yaml":  "junk: [",
		"notes.txt":    "not a rule",
	})
	rlWrite(t, b, map[string]string{"dup.yaml": "name: one\ntype: any\nalert: debug\n"})
	rules, errs := LoadDirs([]string{a, b}, rlOpts())
	var names []string
	for _, r := range rules {
		names = append(names, r.Spec.Name)
	}
	if !slices.Equal(names, []string{"one", "two"}) {
		t.Errorf("LoadDirs() rules = %q, want one and two (base.yaml is imported, not a rule)", names)
	}
	if len(errs) != 2 {
		t.Fatalf("LoadDirs() errors = %v, want bad.yaml's and the duplicate name", errs)
	}
	if !strings.Contains(errs[0].Error(), "bad.yaml: alert: missing") {
		t.Errorf("errs[0] = %v", errs[0])
	}
	if !strings.Contains(errs[1].Error(), `dup.yaml: name: "one" is already the name of the rule in `) {
		t.Errorf("errs[1] = %v", errs[1])
	}
	if _, errs := LoadDirs([]string{filepath.Join(a, "nothere")}, rlOpts()); len(errs) != 1 {
		t.Errorf("LoadDirs(missing folder) errors = %v, want one", errs)
	}
}

// TestLoadManyProblems: a file full of junk gets a bounded report, fast.
func TestLoadManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString(rlBase + "type: any\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "junk_key_number_%d_with_a_longer_name: 1\n", i)
	}
	_, err := rlLoadString(t, b.String())
	if err == nil {
		t.Fatal("Load() = nil error")
	}
	if n := strings.Count(err.Error(), "unknown key"); n != maxLoadErrors {
		t.Errorf("%d unknown-key errors reported, want %d", n, maxLoadErrors)
	}
	if !strings.Contains(err.Error(), "19950 more problems not shown") {
		t.Errorf("Load() error ends %q", err.Error()[max(0, len(err.Error())-200):])
	}
}

func TestLoadDefaults(t *testing.T) {
	rlEnsureTypes()
	dir := t.TempDir()
	rlWrite(t, dir, map[string]string{
		"a.yaml": "name: a\ntype: any\n",
		"b.yaml": "name: b\ntype: any\nalert: [email]\nrealert: {minutes: 3}\nalert_time_limit: {minutes: 10}\n",
	})
	o := rlOpts()
	o.Defaults = map[string]any{"alert": []any{"debug"}, "realert": map[string]any{"minutes": 7}, "email": "noc@example.com"}
	o.AlertTimeLimit = 2 * time.Hour
	a, err := Load(filepath.Join(dir, "a.yaml"), o)
	if err != nil {
		t.Fatalf("Load(a): %v", err)
	}
	if a.Realert != 7*time.Minute || a.AlertTimeLimit != 2*time.Hour || a.Options["email"] != "noc@example.com" {
		t.Errorf("a: Realert %v AlertTimeLimit %v email %v; want the defaults", a.Realert, a.AlertTimeLimit, a.Options["email"])
	}
	b, err := Load(filepath.Join(dir, "b.yaml"), o)
	if err != nil {
		t.Fatalf("Load(b): %v", err)
	}
	if b.Realert != 3*time.Minute || b.AlertTimeLimit != 10*time.Minute || !cmp.Equal(b.Options["alert"], []any{"email"}) {
		t.Errorf("b: Realert %v AlertTimeLimit %v alert %v; want the file's own", b.Realert, b.AlertTimeLimit, b.Options["alert"])
	}
	// Other defaults give another hash: the rule starts fresh.
	o2 := o
	o2.Defaults = map[string]any{"alert": []any{"debug"}, "realert": map[string]any{"minutes": 8}}
	a2, err := Load(filepath.Join(dir, "a.yaml"), o2)
	if err != nil || a2.Hash == a.Hash {
		t.Errorf("Load(a) with other defaults: err %v, same hash %v", err, a2 != nil && a2.Hash == a.Hash)
	}
	// A bad default is named as one.
	o.Defaults = map[string]any{"alert": "debug", "realret": 5, "num_events": -1}
	_, err = Load(filepath.Join(dir, "a.yaml"), o)
	for _, want := range []string{"a.yaml: alerting.defaults.realret: unknown key; did you mean realert?", "a.yaml: alerting.defaults.num_events: -1 is negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(a) with bad defaults: error %v lacks %q", err, want)
		}
	}
}

// TestLoadAliasesInAlertOptions: the field names the alerters' renderer
// reads from Options go through the aliases as filters and query_key do,
// also when they come from alerting.defaults (whose values stay as they
// were: every rule shares them).
func TestLoadAliasesInAlertOptions(t *testing.T) {
	rlEnsureTypes()
	dir := t.TempDir()
	rlWrite(t, dir, map[string]string{
		"a.yaml": `name: a
type: any
alert: debug
field_aliases: {ip_client: f5.asm.ip_client}
alert_subject: "{0} from {1} ({2})"
alert_subject_args: [violation_rating, ip_client, source.ip]
alert_text_args: violation_rating
alert_text_kw: {violation_rating: rating, host.name: host}
include: [ip_client, "@timestamp"]
`,
	})
	o := rlOpts()
	o.ExtraKeys = append(o.ExtraKeys, "alert_text_kw") // an alerter key the helpers' list lacks
	shared := []any{"violation_rating"}
	o.Defaults = map[string]any{"top_count_keys": shared}
	r, err := Load(filepath.Join(dir, "a.yaml"), o)
	if err != nil {
		t.Fatalf("Load(a): %v", err)
	}
	for key, want := range map[string]any{
		"alert_subject_args": []any{"f5.asm.violation_rating", "f5.asm.ip_client", "source.ip"},
		"alert_text_args":    "f5.asm.violation_rating",
		"alert_text_kw":      map[string]any{"f5.asm.violation_rating": "rating", "host.name": "host"},
		"include":            []any{"f5.asm.ip_client", "@timestamp"},
		"top_count_keys":     []any{"f5.asm.violation_rating"},
	} {
		if diff := cmp.Diff(want, r.Options[key]); diff != "" {
			t.Errorf("Options[%s] (-want +got):\n%s", key, diff)
		}
	}
	if !cmp.Equal(shared, []any{"violation_rating"}) {
		t.Errorf("the alerting.defaults value was changed: %v", shared)
	}
}
