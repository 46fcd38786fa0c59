package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// Walker is a Doc that can list its fields; the all-fields search (a bare
// term) uses it. Docs that are not Walkers are searched through their
// AppendJSON.
type Walker interface {
	Doc
	// Each calls fn for every path with values, in no particular order,
	// until fn returns false. vals must not be kept.
	Each(fn func(path string, vals []Value) bool)
}

// String returns the value as text the way the JSON encoder writes it:
// strings as they are, numbers without exponent when whole, addresses
// without zone, times as RFC 3339 UTC with milliseconds when not whole.
func (v Value) String() string { return string(v.AppendText(nil)) }

// AppendText appends the text of v (see String).
func (v Value) AppendText(dst []byte) []byte {
	switch v.Kind {
	case KindString:
		return append(dst, v.Str...)
	case KindNumber:
		return appendNumber(dst, v.Num)
	case KindIP:
		return v.IP.WithZone("").AppendTo(dst)
	case KindTime:
		return appendTime(dst, v.Time)
	case KindBool:
		return strconv.AppendBool(dst, v.Bool)
	}
	return dst
}

func appendNumber(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if t.Nanosecond()/1e6 == 0 {
		return t.AppendFormat(dst, "2006-01-02T15:04:05Z")
	}
	return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z")
}

// JSONDoc is a stored document (a line of the daily NDJSON files or an
// Elasticsearch hit's _source), parsed once and flattened to dotted paths.
// It is safe for concurrent reads.
type JSONDoc struct {
	raw    []byte
	fields map[string][]Value
	paths  []string // sorted, for a stable Each
}

var _ Walker = (*JSONDoc)(nil)

// maxJSONDepth bounds the nesting of a document (encoding/json has its own
// much larger limit).
const maxJSONDepth = 64

// ErrNotObject is returned by NewJSONDoc for JSON that is not an object.
var ErrNotObject = errors.New("document is not a JSON object")

// NewJSONDoc parses doc. Nested objects give dotted paths, keys that
// contain dots name the same paths ({"a.b":1} is a.b, as in
// Elasticsearch), arrays give several values (arrays of objects flatten
// each object under the same paths); strings, numbers and booleans give
// KindString, KindNumber and KindBool values, null gives nothing. doc is
// kept (AppendJSON returns it): the caller must not change it.
func NewJSONDoc(doc []byte) (*JSONDoc, error) {
	d := &JSONDoc{raw: doc}
	if err := d.flattenJSON(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *JSONDoc) sortPaths() {
	d.paths = make([]string, 0, len(d.fields))
	for p := range d.fields {
		d.paths = append(d.paths, p)
	}
	sort.Strings(d.paths)
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// Values implements Doc.
func (d *JSONDoc) Values(path string, dst []Value) []Value {
	return append(dst, d.fields[path]...)
}

// AppendJSON implements Doc: it appends the document as it was given.
func (d *JSONDoc) AppendJSON(dst []byte) []byte { return append(dst, d.raw...) }

// Each implements Walker, in path order.
func (d *JSONDoc) Each(fn func(path string, vals []Value) bool) {
	for _, p := range d.paths {
		if !fn(p, d.fields[p]) {
			return
		}
	}
}

// Paths returns the document's paths in order.
func (d *JSONDoc) Paths() []string { return d.paths }

// NewMapDoc returns a Doc over a decoded document (from encoding/json or
// a YAML library: map[string]any or map[any]any objects, []any arrays,
// strings, numbers of any Go type, booleans). m is read once.
func NewMapDoc(m map[string]any) Doc {
	d := &JSONDoc{fields: make(map[string][]Value, 32)}
	plain := d.flattenAny("", m, 0)
	d.sortPaths()
	raw, err := json.Marshal(plain)
	if err != nil {
		raw = []byte("{}")
	}
	d.raw = raw
	return d
}

// flattenAny flattens a decoded value and returns it with map[any]any
// turned into map[string]any (for AppendJSON).
func (d *JSONDoc) flattenAny(path string, v any, depth int) any {
	if depth > maxJSONDepth {
		return nil
	}
	add := func(val Value) { d.fields[path] = append(d.fields[path], val) }
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		add(Value{Kind: KindString, Str: x})
	case bool:
		add(Value{Kind: KindBool, Bool: x})
	case map[string]any:
		out := make(map[string]any, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out[k] = d.flattenAny(join(path, k), x[k], depth+1)
		}
		return out
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = e
		}
		return d.flattenAny(path, m, depth)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = d.flattenAny(path, e, depth+1)
		}
		return out
	default:
		if f, ok := toFloat(v); ok {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil
			}
			add(Value{Kind: KindNumber, Num: f})
			return f
		}
		s := fmt.Sprint(v)
		add(Value{Kind: KindString, Str: s})
		return s
	}
	return v
}

// toFloat converts the numbers decoders produce.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// walkDoc calls fn for every path of d: directly for a Walker, else
// through its JSON.
func walkDoc(d Doc, fn func(path string, vals []Value) bool) {
	if w, ok := d.(Walker); ok {
		w.Each(fn)
		return
	}
	jd, err := NewJSONDoc(d.AppendJSON(nil))
	if err != nil {
		return
	}
	jd.Each(fn)
}

// parseIPText parses s as an address without allocating on failure (a
// cheap shape check first: netip's errors allocate).
func parseIPText(s string) (netip.Addr, bool) {
	if len(s) < 2 || len(s) > 64 {
		return netip.Addr{}, false
	}
	dots, colons := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			dots++
		case c == ':':
			colons++
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '%':
		default:
			if colons == 0 || !isZoneByte(c) {
				return netip.Addr{}, false
			}
		}
	}
	if colons == 0 && dots != 3 {
		return netip.Addr{}, false
	}
	if colons == 0 && dots == 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

func isZoneByte(c byte) bool {
	return c >= 'g' && c <= 'z' || c >= 'G' && c <= 'Z' || c == '_' || c == '-'
}

// parseNumberText parses s as a decimal number (JSON-like, with an
// optional '+'), without allocating on failure.
func parseNumberText(s string) (float64, bool) {
	if len(s) == 0 || len(s) > 64 {
		return 0, false
	}
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		ed := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			ed++
		}
		if ed == 0 || ed > 4 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
