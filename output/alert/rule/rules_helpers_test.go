package rule

// Test helpers of the loader, the simple types and the engine. Names start
// with "rl" so they do not collide with the other rule types' helpers in
// this package.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

// rlDoc is a test query.Doc: dotted paths to values.
type rlDoc struct {
	vals map[string][]query.Value
	raw  map[string]any
}

// rlDocOf builds a document from dotted paths (or nested maps) to string,
// number, bool, time.Time, netip.Addr or []any values.
func rlDocOf(fields map[string]any) *rlDoc {
	d := &rlDoc{vals: map[string][]query.Value{}, raw: fields}
	var conv func(v any) []query.Value
	conv = func(v any) []query.Value {
		switch x := v.(type) {
		case string:
			return []query.Value{{Kind: query.KindString, Str: x}}
		case int:
			return []query.Value{{Kind: query.KindNumber, Num: float64(x)}}
		case float64:
			return []query.Value{{Kind: query.KindNumber, Num: x}}
		case bool:
			return []query.Value{{Kind: query.KindBool, Bool: x}}
		case time.Time:
			return []query.Value{{Kind: query.KindTime, Time: x}}
		case netip.Addr:
			return []query.Value{{Kind: query.KindIP, IP: x}}
		case []any:
			var out []query.Value
			for _, e := range x {
				out = append(out, conv(e)...)
			}
			return out
		}
		panic(fmt.Sprintf("rlDocOf: unsupported %T", v))
	}
	var add func(prefix string, m map[string]any)
	add = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				add(prefix+k+".", sub)
				continue
			}
			d.vals[prefix+k] = append(d.vals[prefix+k], conv(v)...)
		}
	}
	add("", fields)
	return d
}

func (d *rlDoc) Values(path string, dst []query.Value) []query.Value {
	return append(dst, d.vals[path]...)
}

func (d *rlDoc) AppendJSON(dst []byte) []byte {
	b, err := json.Marshal(d.raw)
	if err != nil {
		panic(err)
	}
	return append(dst, b...)
}

// rlMatcher is the test filter: every term must hold (field equals value
// as text). No terms match everything.
type rlMatcher struct{ terms [][2]string }

func (m *rlMatcher) Match(d query.Doc) bool {
	for _, term := range m.terms {
		var vals []query.Value
		if rd, ok := d.(*rlDoc); ok {
			vals = rd.vals[term[0]] // no copy: keeps the benchmark about the engine
		} else {
			vals = d.Values(term[0], nil)
		}
		ok := false
		for _, v := range vals {
			if valueText(v) == term[1] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (m *rlMatcher) Fields() []string {
	var out []string
	for _, t := range m.terms {
		out = append(out, t[0])
	}
	sort.Strings(out)
	return out
}

// rlCompile is the loader's test filter compiler: term and terms (first
// value) compile to rlMatcher, with aliases applied; query/query_string
// and type clauses (ElastAlert's examples carry them) match everything
// here, since internal/query is not on this branch; anything else is an
// error.
func rlCompile(filters []any, aliases map[string]string) (query.Matcher, error) {
	m := &rlMatcher{}
	for i, f := range filters {
		clause, ok := f.(map[string]any)
		if !ok || len(clause) != 1 {
			return nil, fmt.Errorf("filter[%d]: not a clause", i)
		}
		for kind, body := range clause {
			switch kind {
			case "term", "terms":
				b, ok := body.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("filter[%d].%s: not a map", i, kind)
				}
				for field, v := range b {
					if a, ok := aliases[field]; ok {
						field = a
					}
					if l, ok := v.([]any); ok && len(l) > 0 {
						v = l[0]
					}
					s, ok := scalarText(v)
					if !ok {
						return nil, fmt.Errorf("filter[%d].%s.%s: not a value", i, kind, field)
					}
					m.terms = append(m.terms, [2]string{field, s})
				}
			case "query", "query_string", "type":
			default:
				return nil, fmt.Errorf("filter[%d]: unknown query %q", i, kind)
			}
		}
	}
	return m, nil
}

var rlAlerterKeys = []string{"email", "alert_subject", "alert_subject_args", "alert_text", "alert_text_args", "alert_text_type", "slack_webhook_url", "slack_username_override", "ms_teams_webhook_url"}

func rlOpts() LoadOptions {
	return LoadOptions{CompileFilters: rlCompile, ExtraKeys: rlAlerterKeys,
		Aliases: map[string]string{"violation_rating": "f5.asm.violation_rating"}}
}

// rlStub is a stand-in for the rule types another file of this package
// implements (spike, new_term, cardinality, metric_aggregation,
// percentage_match), registered only when the real one is absent, so the
// loader's tests of those types' keys run on this branch too.
type rlStub struct{}

func (rlStub) Add(*Event) []Match            { return nil }
func (rlStub) Tick(time.Time) []Match        { return nil }
func (rlStub) MarshalState() ([]byte, error) { return []byte("{}"), nil }
func (rlStub) UnmarshalState([]byte) error   { return nil }
func (rlStub) Evictions() uint64             { return 0 }

var rlStubOnce sync.Once

func rlEnsureTypes() {
	rlStubOnce.Do(func() {
		for _, name := range []string{"spike", "new_term", "cardinality", "metric_aggregation", "percentage_match"} {
			if Constructors[name] == nil {
				Constructors[name] = func(*Spec) (Type, error) { return rlStub{}, nil }
			}
		}
	})
}

// rlWrite writes files (name -> content) into dir.
func rlWrite(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rlLoadString loads one rule given as YAML text.
func rlLoadString(t testing.TB, yamlText string) (*Rule, error) {
	t.Helper()
	dir := t.TempDir()
	rlWrite(t, dir, map[string]string{"rule.yaml": yamlText})
	return Load(filepath.Join(dir, "rule.yaml"), rlOpts())
}

func rlMustLoad(t testing.TB, yamlText string) *Rule {
	t.Helper()
	r, err := rlLoadString(t, yamlText)
	if err != nil {
		t.Fatalf("Load() error: %v", err)
	}
	return r
}

// rlT0 is the tests' reference time.
var rlT0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
