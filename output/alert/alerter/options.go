package alerter

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// opts reads typed values from a rule's options, collecting one error per
// bad key (naming the key, the value and the fix).
type opts struct {
	m    Options
	errs []error
}

func (o *opts) fail(format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf(format, args...))
}

func (o *opts) err() error { return errors.Join(o.errs...) }

func (o *opts) has(key string) bool {
	v, ok := o.m[key]
	return ok && v != nil
}

// str reads a string; numbers and booleans are accepted as their text, as
// ElastAlert's str() does.
func (o *opts) str(key, def string) string {
	v, ok := o.m[key]
	if !ok || v == nil {
		return def
	}
	switch x := v.(type) {
	case string:
		return x
	case bool, int, int64, uint64, float64, json.Number:
		return pyStr(x)
	}
	o.fail("%s: %s is not a string; write %s: \"text\"", key, short(v), key)
	return def
}

// strs reads a string or a list of strings.
func (o *opts) strs(key string) []string {
	v, ok := o.m[key]
	if !ok || v == nil {
		return nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				o.fail("%s: item %s is not a string; write %s: [\"a\", \"b\"]", key, short(e), key)
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	o.fail("%s: %s is neither a string nor a list of strings; write %s: [\"a\", \"b\"]", key, short(v), key)
	return nil
}

func (o *opts) boolean(key string, def bool) bool {
	v, ok := o.m[key]
	if !ok || v == nil {
		return def
	}
	if b, ok := v.(bool); ok {
		return b
	}
	o.fail("%s: %s is not a boolean; write %s: true or false", key, short(v), key)
	return def
}

func (o *opts) integer(key string, def int) int {
	v, ok := o.m[key]
	if !ok || v == nil {
		return def
	}
	if f, ok := number(v); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int(f)
	}
	o.fail("%s: %s is not a whole number; write %s: %d", key, short(v), key, def)
	return def
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// duration reads a time span as ElastAlert writes it (a number of seconds,
// or a timedelta map such as {minutes: 5}) or as a Go duration ("30s").
func (o *opts) duration(key string, def time.Duration) time.Duration {
	v, ok := o.m[key]
	if !ok || v == nil {
		return def
	}
	d, err := parseDuration(v)
	if err != nil || d <= 0 {
		o.fail("%s: %s is not a positive duration; write a number of seconds, a duration like \"30s\", or {minutes: 5}", key, short(v))
		return def
	}
	return d
}

var timedeltaUnits = map[string]time.Duration{
	"weeks": 7 * 24 * time.Hour, "days": 24 * time.Hour, "hours": time.Hour, "minutes": time.Minute,
	"seconds": time.Second, "milliseconds": time.Millisecond,
}

func parseDuration(v any) (time.Duration, error) {
	if f, ok := number(v); ok {
		if f <= 0 || f > 1e9 {
			return 0, errors.New("out of range")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	if s, ok := v.(string); ok {
		return time.ParseDuration(s)
	}
	m, ok := toMap(v)
	if !ok || len(m) == 0 {
		return 0, errors.New("not a duration")
	}
	var d time.Duration
	for k, x := range m {
		unit, ok := timedeltaUnits[k]
		f, okn := number(x)
		if !ok || !okn || f < 0 || f > 1e6 {
			return 0, errors.New("not a duration")
		}
		d += time.Duration(f * float64(unit))
	}
	return d, nil
}

// mapping reads a map with string keys.
func (o *opts) mapping(key string) map[string]any {
	v, ok := o.m[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := toMap(v)
	if !ok {
		o.fail("%s: %s is not a map; write %s: {name: value}", key, short(v), key)
		return nil
	}
	return m
}

// stringMap reads a map whose values are strings (numbers and booleans
// are taken as their text).
func (o *opts) stringMap(key string) map[string]string {
	m := o.mapping(key)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v.(type) {
		case string, bool, int, int64, uint64, float64, json.Number:
			out[k] = pyStr(v)
		default:
			o.fail("%s: the value of %s is %s, not a string; write %s: {%s: \"text\"}", key, k, short(v), key, k)
		}
	}
	return out
}

// path resolves a file name from the options against the base directory.
func (o *opts) path(key string, env Env) string {
	p := o.str(key, "")
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(env.BaseDir, p)
}

// readFile reads the file named by key, failing with the key's name.
func (o *opts) readFile(key string, env Env) []byte {
	p := o.path(key, env)
	if p == "" {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		o.fail("%s: %v; fix the path (relative paths are from the rule's folder)", key, err)
		return nil
	}
	return b
}

// toMap converts the maps YAML and JSON decoders produce into map[string]any.
func toMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case Match:
		return x, true
	case Options:
		return x, true
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = e
		}
		return m, true
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return m, true
	}
	return nil, false
}

// short renders a value for an error message, cut to a readable length.
func short(v any) string {
	s := strconv.Quote(pyStr(v))
	if len(s) > 60 {
		s = s[:57] + "...\""
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// pyStr renders a value as ElastAlert's str() would for the scalars
// (True/False for booleans, integers without a decimal point); lists and
// maps are rendered as compact JSON.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return pyStr(float64(x))
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	}
	b, err := marshal(v, false)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// marshal encodes JSON without HTML escaping (alerts are read by people).
func marshal(v any, indent bool) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "    ")
	}
	if err := enc.Encode(normalize(v)); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n")), nil
}

// normalize turns map[any]any (from YAML) into map[string]any so it encodes.
func normalize(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m, _ := toMap(x)
		return normalize(m)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case Match:
		return normalize(map[string]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return pyStr(x)
		}
	}
	return v
}
