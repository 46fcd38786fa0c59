package grok

import (
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type capture struct {
	Name  string
	Type  Type
	Value string
	Int   int64
	Float float64
}

func captures(t *testing.T, p *Pattern, line string) ([]capture, bool) {
	t.Helper()
	var fast, slow []capture
	fields := p.Fields()
	collect := func(dst *[]capture) func(Capture) {
		return func(c Capture) {
			if c.Index < 0 || c.Index >= len(fields) || fields[c.Index].Name != c.Name {
				t.Fatalf("pattern %q on %q: capture %q has Index %d, Fields %v", p.expr, line, c.Name, c.Index, fields)
			}
			*dst = append(*dst, capture{c.Name, c.Type, string(c.Value), c.Int64, c.Float64})
		}
	}
	ok := p.Match([]byte(line), collect(&fast))
	okRE := p.matchRegexp([]byte(line), collect(&slow))
	if ok != okRE || !cmp.Equal(fast, slow) {
		t.Fatalf("pattern %q on %q: Match %v %+v, regexp %v %+v", p.expr, line, ok, fast, okRE, slow)
	}
	return fast, ok
}

func TestMatchCaptures(t *testing.T) {
	lib := baseLibrary(t)
	for _, tc := range []struct {
		name, expr, line string
		want             []capture
		noMatch          bool
	}{
		{
			name: "meraki flows, nested ECS names, int",
			expr: merakiExpr,
			line: merakiLine,
			want: []capture{
				{Name: "meraki.type", Value: "flows"}, {Name: "source.ip", Value: "192.168.1.10"},
				{Name: "destination.ip", Value: "93.184.216.34"}, {Name: "source.mac", Value: "00:11:22:33:44:55"},
				{Name: "network.transport", Value: "tcp"}, {Name: "source.port", Type: Int, Value: "51514", Int: 51514},
				{Name: "destination.port", Type: Int, Value: "443", Int: 443}, {Name: "rule.name", Value: "allow all"},
			},
		},
		{
			name: "named groups, Logstash field references",
			expr: `(?<[source][ip]>%{IP}):(?P<source.port>\d+) (?<event.action>\w+)`,
			line: "x 10.0.0.1:514 allow",
			want: []capture{{Name: "source.ip", Value: "10.0.0.1"}, {Name: "source.port", Value: "514"}, {Name: "event.action", Value: "allow"}},
		},
		{
			name: "nested captures of referenced patterns",
			expr: `^%{SYSLOGLINE}`,
			line: "Nov 22 08:00:12 web02 sshd[44454]: Failed password",
			want: []capture{
				{Name: "timestamp", Value: "Nov 22 08:00:12"}, {Name: "host.hostname", Value: "web02"},
				{Name: "process.name", Value: "sshd"}, {Name: "process.pid", Type: Int, Value: "44454", Int: 44454},
				{Name: "message", Value: "Failed password"},
			},
		},
		{
			name: "float, negative int, int64 limits",
			expr: `%{NUMBER:a:float} %{INT:b:int} %{INT:c:int} %{INT:d:int}`,
			line: "-2.5 -17 9223372036854775807 -9223372036854775808",
			want: []capture{
				{Name: "a", Type: Float, Value: "-2.5", Float: -2.5}, {Name: "b", Type: Int, Value: "-17", Int: -17},
				{Name: "c", Type: Int, Value: "9223372036854775807", Int: math.MaxInt64},
				{Name: "d", Type: Int, Value: "-9223372036854775808", Int: math.MinInt64},
			},
		},
		{
			name: "values that do not convert stay strings",
			expr: `%{WORD:a:int} %{INT:b:int} %{NUMBER:c:int} %{WORD:d:float} %{NOTSPACE:e:float}`,
			line: "abc 9223372036854775808 1.5 NaN 1e999",
			want: []capture{
				{Name: "a", Value: "abc"}, {Name: "b", Value: "9223372036854775808"}, {Name: "c", Value: "1.5"},
				{Name: "d", Value: "NaN"}, {Name: "e", Value: "1e999"},
			},
		},
		{
			name: "an int is a float",
			expr: `%{INT:a:float} %{NOTSPACE:b:float}`,
			line: "42 6.02e23",
			want: []capture{{Name: "a", Type: Float, Value: "42", Float: 42}, {Name: "b", Type: Float, Value: "6.02e23", Float: 6.02e23}},
		},
		{
			name: "empty and non-participating captures are not reported",
			expr: `^a=%{DATA:a} b=%{DATA:b}(?: c=%{INT:c})?$`,
			line: "a= b=x",
			want: []capture{{Name: "b", Value: "x"}},
		},
		{
			name: "a name captured in two alternatives is reported where it matched",
			expr: `(?:%{IPV4:client}|%{HOSTNAME:client}) says`,
			line: "db01.lan says hi",
			want: []capture{{Name: "client", Value: "db01.lan"}},
		},
		{
			name: "a name captured twice is reported twice",
			expr: `%{INT:n} %{INT:n}`,
			line: "1 2",
			want: []capture{{Name: "n", Value: "1"}, {Name: "n", Value: "2"}},
		},
		{
			name: "unanchored search finds the leftmost match",
			expr: `src=%{IP:ip}`,
			line: "dst=10.0.0.2 src=10.0.0.1 src=10.0.0.3",
			want: []capture{{Name: "ip", Value: "10.0.0.1"}},
		},
		{
			name:    "anchored expression does not search",
			expr:    `^src=%{IP:ip}`,
			line:    "dst=10.0.0.2 src=10.0.0.1",
			noMatch: true,
		},
		{
			name:    "no match",
			expr:    `%{IPV4:ip} port %{POSINT:port}`,
			line:    "Failed password for root from 2001:db8::1 port 22",
			noMatch: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := lib.MustCompile(tc.expr)
			got, ok := captures(t, p, tc.line)
			if ok == tc.noMatch {
				t.Fatalf("Match(%q) = %v", tc.line, ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Match(%q) captures (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestAppendMatchAndFields(t *testing.T) {
	p := baseLibrary(t).MustCompile(`%{IP:source.ip}:%{INT:source.port:int}`)
	want := []Field{{"source.ip", String}, {"source.port", Int}}
	if diff := cmp.Diff(want, p.Fields()); diff != "" {
		t.Errorf("Fields() (-want +got):\n%s", diff)
	}
	buf := make([]Capture, 0, 8)
	line := []byte("from 10.1.2.3:8080")
	caps, ok := p.AppendMatch(buf, line)
	if !ok || len(caps) != 2 || caps[1].Int64 != 8080 || string(caps[0].Value) != "10.1.2.3" {
		t.Fatalf("AppendMatch() = %+v, %v", caps, ok)
	}
	allocs := testing.AllocsPerRun(100, func() { caps, _ = p.AppendMatch(buf[:0], line) })
	if allocs != 0 && !raceEnabled {
		t.Errorf("AppendMatch allocates %v times per line", allocs)
	}
	if caps, ok := p.AppendMatch(buf[:0], []byte("nothing")); ok || len(caps) != 0 {
		t.Errorf("AppendMatch(no match) = %+v, %v", caps, ok)
	}
}

// TestSetOrder checks that a Set tries its patterns in order, returns the
// first that matches, and reports only that pattern's captures.
func TestSetOrder(t *testing.T) {
	s, err := baseLibrary(t).CompileSet(
		`^ids-alerts signature=%{NOTSPACE:rule.id}`,
		`^%{WORD:meraki.type} src=%{IP:source.ip}`,
		`^flows src=%{IP:never}`, // shadowed by the previous one
		`src=%{IP:any.ip}`,
		`%{GREEDYDATA:message}`,
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line  string
		want  int
		names []string
	}{
		{"ids-alerts signature=1:2:3 src=10.0.0.1", 0, []string{"rule.id"}},
		{"flows src=10.0.0.1 dst=10.0.0.2", 1, []string{"meraki.type", "source.ip"}},
		{"ids-alerts src=10.0.0.9", 3, []string{"any.ip"}}, // WORD stops at -
		{"urls src=10.0.0.9", 1, []string{"meraki.type", "source.ip"}},
		{"[UFW BLOCK] src=10.0.0.1", 3, []string{"any.ip"}},
		{"anything else", 4, []string{"message"}},
		{"", 4, nil},
	} {
		var names []string
		got := s.Match([]byte(tc.line), func(c Capture) { names = append(names, c.Name) })
		if got != tc.want || !cmp.Equal(names, tc.names) {
			t.Errorf("Set.Match(%q) = %d %v, want %d %v", tc.line, got, names, tc.want, tc.names)
		}
		checkSet(t, s, []byte(tc.line))
	}
	if s.Len() != 5 || s.Pattern(3).String() != `src=%{IP:any.ip}` {
		t.Errorf("Len() = %d, Pattern(3) = %q", s.Len(), s.Pattern(3))
	}
	caps, i := s.AppendMatch(nil, []byte("flows src=10.0.0.1"))
	if i != 1 || len(caps) != 2 {
		t.Errorf("AppendMatch() = %+v, %d", caps, i)
	}
}

// TestConcurrentMatch shares one Pattern and one Set between goroutines
// (run with -race).
func TestConcurrentMatch(t *testing.T) {
	lib := baseLibrary(t)
	p := lib.MustCompile(merakiExpr)
	s := NewSet(lib.MustCompile(`^urls src=%{IP:ip}`), p)
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			buf := make([]Capture, 0, 16)
			for i := 0; i < 200; i++ {
				caps, ok := p.AppendMatch(buf[:0], []byte(merakiLine))
				if !ok || len(caps) != 8 {
					err = fmt.Errorf("AppendMatch() = %d captures, %v", len(caps), ok)
				}
				if _, j := s.AppendMatch(buf[:0], []byte(merakiLine)); j != 1 {
					err = fmt.Errorf("Set.AppendMatch() = %d", j)
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
