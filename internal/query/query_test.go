package query

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"encoding/json"

	"github.com/sluicelab/sluice/internal/event"
)

// fixedNow is the clock of the tests' date math.
var fixedNow = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// testDocs returns the documents the semantics tests run on, each as
// the Docs that must agree: an EventDoc and a JSONDoc of its encoding
// for events, a JSONDoc and a MapDoc for the hand-written document.
func testDocs(t testing.TB) map[string][]Doc {
	t.Helper()
	out := map[string][]Doc{}
	addEvent := func(name string, e *event.Event) {
		jd, err := NewJSONDoc(e.AppendJSON(nil))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = []Doc{NewEventDoc(e), jd}
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "enrich/parsers/testdata/golden/f5_asm_blocked.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Sender, Input string }
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	addEvent("f5", syslogEvents(t, g.Sender, []string{g.Input})[0])
	for _, ne := range syntheticEvents() {
		if ne.name == "flow-geo" {
			addEvent("flow", ne.e)
		}
	}
	doc := []byte(`{"@timestamp":"2026-11-22T08:30:00.500Z","user":{"name":"Alice","roles":["admin","ops"]},
		"a.b":1,"a":{"b":2},"ok":true,"none":null,"n":[1,2.5,"3"],
		"hosts":[{"ip":"10.1.1.1","name":"x"},{"ip":"2001:db8::5","name":"y"}],
		"error":{"message":"Connection reset by peer (errno 104)"},"title":{"text":"The Quick Brown Fox"},
		"url":{"path":"/admin/login"},"empty":"","esc":"a:b (c) \"d\" \\e"}`)
	jd, err := NewJSONDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	out["doc"] = []Doc{jd, NewMapDoc(m)}
	return out
}

type matchCase struct {
	q    string
	doc  string
	want bool
}

// queryStringCases are checked on every Doc of their document.
var queryStringCases = []matchCase{
	// everything
	{"", "f5", true}, {"*", "f5", true}, {"*:*", "flow", true}, {"  ", "doc", true},
	// keyword terms: exact, case-sensitive
	{"event.action:blocked", "f5", true},
	{"event.action:Blocked", "f5", false},
	{"event.action:block", "f5", false},
	{`event.action:"blocked"`, "f5", true},
	{"host.hostname:bigip-dmz1", "f5", true},
	{"event.action:allowed", "f5", false},
	{"nope:blocked", "f5", false},
	// numbers: numeric on numbers and numeric strings
	{"destination.port:443", "f5", true},
	{"destination.port:443.0", "f5", true},
	{"f5.asm.dest_port:443", "f5", true},
	{"f5.asm.dest_port:444", "f5", false},
	{"destination.port:>=443", "f5", true},
	{"destination.port:>443", "f5", false},
	{"destination.port:<1024", "f5", true},
	{"destination.port:<=442", "f5", false},
	{"destination.port:[400 TO 500]", "f5", true},
	{"destination.port:{443 TO 500]", "f5", false},
	{"destination.port:[443 TO 443]", "f5", true},
	{"destination.port:[100 TO 443}", "f5", false},
	{"destination.port:[* TO 443]", "f5", true},
	{"f5.asm.violation_rating:>=4", "f5", true},
	{"event.risk_score:5", "f5", true},
	{"source.port:51000", "flow", true},
	{"network.bytes:>1000 AND network.packets:<5", "flow", true},
	{"n:3", "doc", true}, {"n:2.5", "doc", true}, {"n:[2 TO 2.9]", "doc", true}, {"n:4", "doc", false},
	// IPs and CIDRs
	{"source.ip:203.0.113.66", "f5", true},
	{"source.ip:203.0.113.0/24", "f5", true},
	{`source.ip:"203.0.113.0/24"`, "f5", true},
	{"source.ip:10.0.0.0/8", "f5", false},
	{"destination.ip:10.0.0.0/8", "f5", true},
	{"f5.asm.ip_client:203.0.113.64/30", "f5", true},
	{"source.ip:[203.0.113.1 TO 203.0.113.100]", "f5", true},
	{"source.ip:[203.0.113.67 TO 203.0.113.100]", "f5", false},
	{"source.ip:10.0.0.5", "flow", true},
	{"destination.ip:203.0.113.0/25", "flow", true},
	{"hosts.ip:2001\\:db8\\:\\:/32", "doc", true},
	{`hosts.ip:"2001:db8::/32"`, "doc", true},
	{`hosts.ip:"2001:db8::5"`, "doc", true},
	{`hosts.ip:"2001:db9::/32"`, "doc", false},
	{"observer.ip:198.51.100.200", "f5", true},
	// arrays: any value
	{"user.roles:ops", "doc", true}, {"user.roles:dev", "doc", false},
	{"hosts.name:y", "doc", true}, {"a.b:1", "doc", true}, {"a.b:2", "doc", true},
	{"tags:_geoip_lookup_failure", "flow", true}, {"tags:_truncated", "flow", false},
	// booleans
	{"ok:true", "doc", true}, {"ok:false", "doc", false},
	// missing fields and exists
	{"_exists_:user.name", "doc", true}, {"_exists_:none", "doc", false}, {"none:*", "doc", false},
	{"empty:*", "doc", true}, {"user.name:*", "doc", true}, {"NOT _exists_:nope", "doc", true},
	{"NOT nope:x", "doc", true}, {"-nope:x", "doc", true}, {"nope:[1 TO 2]", "doc", false},
	{"source.geo.country_iso_code:NL", "flow", false}, {"destination.geo.country_iso_code:NL", "flow", true},
	{"destination.as.number:64500", "flow", true}, {"_exists_:source.mac", "flow", true},
	{"source.mac:AA-BB-CC-01-02-03", "flow", true},
	// wildcards and regexps: whole value
	{"host.hostname:bigip-*", "f5", true}, {"host.hostname:bigip-dmz?", "f5", true},
	{"host.hostname:bigip", "f5", false}, {"host.hostname:*dmz*", "f5", true}, {"host.hostname:BIGIP*", "f5", false},
	{"source.ip:203.0.113.*", "f5", true}, {"url.path:/\\/products\\.php/", "f5", true}, {"url.path:/products\\.php/", "f5", false},
	{"url.path:\\/products.php", "f5", true}, {`url.path:"/products.php"`, "f5", true},
	{"event.action:/bl.*d/", "f5", true}, {"event.action:/bl/", "f5", false},
	{"event.action:/BLOCKED/", "f5", false}, {"url.path:/\\/admin\\/.*/", "doc", true},
	{`esc:a\:b\ \(c\)\ \"d\"\ \\e`, "doc", true}, {`esc:"a:b (c) \"d\" \\e"`, "doc", true},
	{`esc:a\:b*`, "doc", true},
	// text fields: words, case-insensitive; phrases consecutive
	{"message:blocked", "f5", true},
	{"message:BLOCKED", "f5", true},
	{"message:block", "f5", false},
	{`message:"status blocked"`, "f5", false}, {`message:"request_status blocked"`, "f5", true},
	{"message:shop.example.com", "f5", true}, {"message:10.0.0.7", "f5", true}, {"message:example", "f5", false},
	{`message:"attack signature detected"`, "f5", true},
	{`message:"signature attack"`, "f5", false},
	{"message:sql*", "f5", true}, {"message:sqlmap*", "f5", true}, {"message:/sqlm.p/", "f5", true},
	{"error.message:reset", "doc", true}, {"error.message:RESET", "doc", true}, {`error.message:"by peer"`, "doc", true},
	{"error.message:Connection\\ reset", "doc", true}, {"title.text:quick", "doc", true}, {"title.text:qui", "doc", false},
	{"user.name:alice", "doc", false}, {"user.name:Alice", "doc", true},
	// bare terms: every field
	{"blocked", "f5", true}, {"bigip-dmz1", "f5", true}, {"443", "f5", true}, {"nothing-here", "f5", false},
	{"sqlmap", "f5", true}, {"Alice", "doc", true}, {"alice", "doc", false}, {"reset", "doc", true},
	{`"attack signature"`, "f5", true}, {"203.0.113.66", "f5", true}, {"network_flow", "flow", true},
	// boolean logic
	{"event.action:blocked AND destination.port:443", "f5", true},
	{"event.action:blocked && destination.port:80", "f5", false},
	{"event.action:allowed OR destination.port:443", "f5", true},
	{"event.action:allowed || destination.port:80", "f5", false},
	{"NOT event.action:allowed", "f5", true}, {"!event.action:blocked", "f5", false},
	{"event.action:(allowed OR blocked)", "f5", true}, {"event.action:(allowed denied)", "f5", false},
	{"event.action:(blocked denied)", "f5", true},
	{"+event.action:blocked -source.ip:10.0.0.0/8", "f5", true},
	{"+event.action:blocked -source.ip:203.0.113.0/24", "f5", false},
	{"event.action:blocked NOT source.ip:203.0.113.66", "f5", false},
	{"event.action:x OR NOT source.ip:1.2.3.4", "f5", true},
	{"(event.action:x OR event.action:blocked) AND (destination.port:443 OR destination.port:80)", "f5", true},
	{"event.action:x OR event.action:blocked AND destination.port:80", "f5", false},
	{"event.action:blocked OR event.action:x AND destination.port:80", "f5", true},
	{"event.action:blocked^2", "f5", true},
	{"NOT NOT event.action:blocked", "f5", true},
	// dates and date math (now = 2026-11-22T09:00Z)
	{"@timestamp:[2026-11-22 TO now]", "f5", true},
	{"@timestamp:[now-1h TO now]", "f5", true},
	{"@timestamp:[now-30m TO now]", "f5", false},
	{"@timestamp:>now-1h", "f5", true},
	{"@timestamp:<2026-11-22", "f5", false},
	{"@timestamp:[* TO 2026-11-22]", "f5", true}, // lte a date: up to the end of that day
	{"@timestamp:{2026-11-21 TO 2026-11-22}", "f5", false},
	{"@timestamp:[now/d TO now]", "f5", true},
	{"@timestamp:[now-1d/d TO now-1d/d]", "f5", false},
	{`@timestamp:["2026-11-22T08:01:03Z" TO "2026-11-22T08:01:03Z"]`, "f5", true},
	{"@timestamp:[2026-11-22T08:01:03.001Z TO *]", "f5", false},
	{`@timestamp:"2026-11-22T08:01:03Z"`, "f5", true},
	{"@timestamp:2026-11-22", "f5", true}, {"@timestamp:2026-11-21", "f5", false}, {"event.created:2026-11-22", "f5", true},
	{"@timestamp:[2026-11-22T08:30:00.500Z TO 2026-11-22T08:30:00.500Z]", "doc", true},
	{"@timestamp:[2026-11-22T09:30:00+01:00 TO 2026-11-22T09:30:01+01:00]", "doc", true},
	{"event.created:[now-2h TO now-1h]", "f5", false}, {"event.created:[now-1h TO now]", "f5", true},
	{"@timestamp:[now-1h TO now]", "flow", true},
	// lexical ranges on strings
	{"event.action:[a TO c]", "f5", true}, {"event.action:[c TO z]", "f5", false},
	{"user.name:{Alice TO *]", "doc", false}, {"user.name:[Alice TO *]", "doc", true},
}

func TestQueryString(t *testing.T) {
	docs := testDocs(t)
	opts := Options{Now: func() time.Time { return fixedNow }}
	for _, tc := range queryStringCases {
		t.Run(tc.doc+"/"+tc.q, func(t *testing.T) {
			ds, ok := docs[tc.doc]
			if !ok {
				t.Fatalf("no document %q", tc.doc)
			}
			m, err := ParseQueryString(tc.q, opts)
			if err != nil {
				t.Fatalf("ParseQueryString(%q) = %v", tc.q, err)
			}
			s := m.(interface{ String() string }).String()
			m2, err := ParseQueryString(s, opts)
			if err != nil {
				t.Fatalf("ParseQueryString(String() = %q) = %v", s, err)
			}
			for i, d := range ds {
				if got := m.Match(d); got != tc.want {
					t.Errorf("ParseQueryString(%q).Match(doc %d: %T) = %v, want %v (String %s)", tc.q, i, d, got, tc.want, s)
				}
				if got := m2.Match(d); got != tc.want {
					t.Errorf("ParseQueryString(%q).Match(doc %d: %T) = %v, want %v", s, i, d, got, tc.want)
				}
			}
		})
	}
}

func TestQueryStringOptions(t *testing.T) {
	docs := testDocs(t)
	f5 := docs["f5"]
	for _, tc := range []struct {
		q    string
		opts Options
		want bool
	}{
		{"blocked 80", Options{}, true},
		{"blocked 80", Options{DefaultOperator: "AND"}, false},
		{"event.action:blocked destination.port:443", Options{DefaultOperator: "and"}, true},
		{"blocked", Options{DefaultFields: []string{"event.action"}}, true},
		{"blocked", Options{DefaultFields: []string{"event.type"}}, false},
		{"blocked", Options{DefaultFields: []string{"event.type", "*"}}, true},
		{"blocked", Options{DefaultFields: []string{"action"}, Aliases: map[string]string{"action": "event.action"}}, true},
		{"violation_rating:5", Options{Aliases: map[string]string{"violation_rating": "f5.asm.violation_rating"}}, true},
		{"_exists_:violation_rating", Options{Aliases: map[string]string{"violation_rating": "f5.asm.violation_rating"}}, true},
		{"@timestamp:[now-1h TO now]", Options{Now: func() time.Time { return fixedNow.AddDate(0, 0, 1) }}, false},
		// Juxtaposed clauses are joined by the default operator, which
		// binds like an explicit one: (x AND blocked) OR 443.
		{"event.action:x event.action:blocked OR destination.port:443", Options{DefaultOperator: "AND"}, true},
		{"event.action:x event.action:blocked OR destination.port:80", Options{DefaultOperator: "AND"}, false},
		{"event.action:blocked -destination.port:443", Options{DefaultOperator: "AND"}, false},
		{"event.action:blocked +destination.port:443 x:y", Options{}, true}, // should clauses do not count next to a must
		{"event.action:blocked +destination.port:443 x:y", Options{DefaultOperator: "AND"}, false},
		{"NOT event.action:x event.action:blocked", Options{}, true},
		{"NOT event.action:blocked event.action:blocked", Options{}, false},
	} {
		m, err := ParseQueryString(tc.q, tc.opts)
		if err != nil {
			t.Fatalf("ParseQueryString(%q, %+v) = %v", tc.q, tc.opts, err)
		}
		for _, d := range f5 {
			if got := m.Match(d); got != tc.want {
				t.Errorf("ParseQueryString(%q, %+v).Match(%T) = %v, want %v", tc.q, tc.opts, d, got, tc.want)
			}
		}
	}
	if _, err := ParseQueryString("a", Options{DefaultOperator: "XOR"}); err == nil || !strings.Contains(err.Error(), "XOR") {
		t.Errorf("DefaultOperator XOR: err = %v", err)
	}
}

func TestQueryStringFields(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want string
	}{
		{"event.action:blocked AND source.ip:10.0.0.0/8", "event.action source.ip"},
		{"blocked", "*"},
		{"_exists_:a OR b:[1 TO 2] OR a:x", "a b"},
		{"*", ""},
	} {
		m, err := ParseQueryString(tc.q, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(m.Fields(), " "); got != tc.want {
			t.Errorf("ParseQueryString(%q).Fields() = %q, want %q", tc.q, got, tc.want)
		}
	}
}

func TestQueryStringErrors(t *testing.T) {
	deep := strings.Repeat("(", 10000) + "a" + strings.Repeat(")", 10000)
	for _, tc := range []struct {
		q, want string
	}{
		{"(a OR b", `query_string: at 1: unbalanced parenthesis; close it with ")"`},
		{"event.action:(a OR b", `query_string: at 14: unbalanced parenthesis; close it with ")"`},
		{"a OR b)", `query_string: at 7: unbalanced parenthesis; remove this ")" or open it with "("`},
		{`a:"open`, `query_string: at 3: unterminated quoted phrase; close it with "`},
		{"a:/open", "query_string: at 3: unterminated regular expression"},
		{"a:/(/", "query_string: at 3: regular expression /(/"},
		{"a:[1 TO 2", `query_string: at 3: unterminated range; close it with "]" or "}"`},
		{"a:[1 2]", "a range needs TO"},
		{"AND a", "AND needs a clause before it"},
		{"a AND", "an operator needs a clause after it"},
		{"a AND OR b", "OR follows another operator"},
		{"a:", "needs a value after the colon"},
		{"a~2", "fuzzy and proximity searches (~) are not supported"},
		{`a\`, "a backslash at the end escapes nothing"},
		{"a*b:c", "has a wildcard"},
		{"a:(b:c)", "a field inside a:( )"},
		{"()", "empty group"},
		{"_exists_:", "needs a value"},
		{"a:>", "> needs a value"},
		{"@timestamp:[now-1x TO now]", ""}, // not a date: compares as strings, no error
		{deep, "parentheses nested deeper than 64"},
		{"a:" + strings.Repeat("(", 10000), "parentheses nested deeper than 64"},
		{"\xff", "not valid UTF-8"},
	} {
		_, err := ParseQueryString(tc.q, Options{})
		if tc.want == "" {
			if err != nil {
				t.Errorf("ParseQueryString(%.40q) = %v, want no error", tc.q, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseQueryString(%.40q) error = %v, want %q", tc.q, err, tc.want)
		}
	}
	// A long NOT chain is not recursion.
	if _, err := ParseQueryString(strings.Repeat("NOT ", 10000)+"a", Options{}); err != nil {
		t.Errorf("NOT chain: %v", err)
	}
}

// TestMatchConcurrent shares one Matcher between goroutines, each with
// its own EventDoc, as rule workers do (run with -race).
func TestMatchConcurrent(t *testing.T) {
	docs := testDocs(t)
	m, err := ParseQueryString("event.action:blocked AND @timestamp:[now-1h TO now] AND message:sqlmap", Options{Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	e := docs["f5"][0].(*EventDoc).Event()
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			var d EventDoc
			for i := 0; i < 200; i++ {
				d.Reset(e)
				if !m.Match(&d) || !m.Match(docs["f5"][1]) {
					errs <- fmt.Errorf("no match in round %d", i)
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
