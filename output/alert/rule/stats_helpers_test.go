package rule

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

// Test-only documents and matchers for the statistical rule types: the
// real query package is being written in parallel, and these types only
// need query.Doc's two methods.

// statDoc is a document as a map from path to values.
type statDoc map[string][]query.Value

func (d statDoc) Values(path string, dst []query.Value) []query.Value {
	return append(dst, d[path]...)
}

func (d statDoc) AppendJSON(dst []byte) []byte {
	m := make(map[string]any, len(d))
	for k, vs := range d {
		out := make([]any, 0, len(vs))
		for _, v := range vs {
			switch v.Kind {
			case query.KindNumber:
				out = append(out, v.Num)
			case query.KindBool:
				out = append(out, v.Bool)
			default:
				out = append(out, statValueString(v))
			}
		}
		if len(out) == 1 {
			m[k] = out[0]
		} else {
			m[k] = out
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return append(dst, b...)
}

// statD builds a statDoc from path, value pairs; a value may be a string,
// an int, a float64, a bool, a netip.Addr or a []any of those.
func statD(kv ...any) statDoc {
	d := statDoc{}
	for i := 0; i+1 < len(kv); i += 2 {
		p := kv[i].(string)
		vs := []any{kv[i+1]}
		if l, ok := kv[i+1].([]any); ok {
			vs = l
		}
		for _, v := range vs {
			d[p] = append(d[p], statV(v))
		}
	}
	return d
}

func statV(v any) query.Value {
	switch v := v.(type) {
	case string:
		return query.Value{Kind: query.KindString, Str: v}
	case int:
		return query.Value{Kind: query.KindNumber, Num: float64(v)}
	case float64:
		return query.Value{Kind: query.KindNumber, Num: v}
	case bool:
		return query.Value{Kind: query.KindBool, Bool: v}
	case netip.Addr:
		return query.Value{Kind: query.KindIP, IP: v}
	}
	panic(fmt.Sprintf("statV: %T", v))
}

// statMatcher matches a document whose field path has the string value
// want.
type statMatcher struct{ path, want string }

func (m statMatcher) Match(d query.Doc) bool {
	for _, v := range d.Values(m.path, nil) {
		if v.Kind == query.KindString && v.Str == m.want {
			return true
		}
	}
	return false
}

func (m statMatcher) Fields() []string { return []string{m.path} }

// statT0 is the start of the test clock, on an hour.
var statT0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// statMin returns statT0 + m minutes + 5 s: the middle of a 10 s bucket.
func statMin(m int) time.Time { return statT0.Add(time.Duration(m)*time.Minute + 5*time.Second) }

// statStep is one step of a scenario: n documents (default 1) of key at
// time at, or a Tick at at.
type statStep struct {
	at   time.Time
	key  string
	doc  statDoc
	n    int
	tick bool
}

func statAdd(at time.Time, key string, doc statDoc) statStep {
	return statStep{at: at, key: key, doc: doc, n: 1}
}

func statAddN(n int, at time.Time, key string, doc statDoc) statStep {
	return statStep{at: at, key: key, doc: doc, n: n}
}

func statTick(at time.Time) statStep { return statStep{at: at, tick: true} }

// statGot is a match as the tests compare it: where it came from (step
// index and, for documents, which of the step's n), its key, time and
// Extra, and whether it carried a document.
type statGot struct {
	Step, Doc int
	Key       string
	Time      time.Time
	Extra     map[string]any
	HasDoc    bool
}

// statRun feeds steps to typ from step index from and returns the matches.
func statRun(t testing.TB, typ Type, from int, steps []statStep) []statGot {
	t.Helper()
	var got []statGot
	for i, s := range steps {
		if s.tick {
			for _, m := range typ.Tick(s.at) {
				got = append(got, statToGot(t, from+i, -1, m))
			}
			continue
		}
		n := s.n
		if n == 0 {
			n = 1
		}
		for j := range n {
			ev := &Event{Doc: s.doc, Time: s.at, Key: s.key}
			for _, m := range typ.Add(ev) {
				got = append(got, statToGot(t, from+i, j, m))
			}
		}
	}
	return got
}

func statToGot(t testing.TB, step, doc int, m Match) statGot {
	t.Helper()
	if m.Doc != nil && !json.Valid(m.Doc) {
		t.Fatalf("match of step %d: Doc is not JSON: %q", step, m.Doc)
	}
	return statGot{Step: step, Doc: doc, Key: m.Key, Time: m.Time, Extra: m.Extra, HasDoc: m.Doc != nil}
}

// statNew builds a rule type through Constructors, as the loader does.
func statNew(t testing.TB, s Spec) Type {
	t.Helper()
	c, ok := Constructors[s.Type]
	if !ok {
		t.Fatalf("Constructors[%q] is not registered", s.Type)
	}
	typ, err := c(&s)
	if err != nil {
		t.Fatalf("Constructors[%q](%+v) = %v", s.Type, s, err)
	}
	return typ
}

func statF(f float64) *float64 { return &f }
func statI(i int) *int         { return &i }

// statPerMin is n documents of key at each minute from a to b (inclusive).
func statPerMin(a, b, n int, key string, doc statDoc) []statStep {
	var s []statStep
	for m := a; m <= b; m++ {
		s = append(s, statAddN(n, statMin(m), key, doc))
	}
	return s
}

func statCat(parts ...any) []statStep {
	var s []statStep
	for _, p := range parts {
		switch p := p.(type) {
		case statStep:
			s = append(s, p)
		case []statStep:
			s = append(s, p...)
		}
	}
	return s
}
