package rule

import (
	"strconv"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

// valueText renders one field value as text, the way it reads in the
// stored JSON document (numbers without a trailing .0, times in RFC 3339).
// A string value is the document's own: valid only while the document is
// (query.EventDoc reuses its bytes); use fieldText for text that is kept.
func valueText(v query.Value) string {
	if v.Kind == query.KindString {
		return v.Str
	}
	var buf [64]byte
	return string(appendValueText(buf[:0], &v))
}

// appendValueText appends valueText(v) to dst, without the string
// valueText allocates for a value that is not text.
func appendValueText(dst []byte, v *query.Value) []byte {
	switch v.Kind {
	case query.KindString:
		return append(dst, v.Str...)
	case query.KindNumber:
		return strconv.AppendFloat(dst, v.Num, 'f', -1, 64)
	case query.KindIP:
		if !v.IP.IsValid() {
			return append(dst, v.IP.String()...)
		}
		return v.IP.AppendTo(dst)
	case query.KindTime:
		return v.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	case query.KindBool:
		return strconv.AppendBool(dst, v.Bool)
	}
	return dst
}

// fieldText renders all values of a field, joined with "," when the field
// holds several; ok is false when the field is absent. borrowed: the text
// is the document's own string (valid only while the document is); copy
// it to keep it (a query_key value lives on in silences, windows and
// alerts). Otherwise it is the caller's.
func fieldText(vals []query.Value) (s string, borrowed, ok bool) {
	switch len(vals) {
	case 0:
		return "", false, false
	case 1:
		if vals[0].Kind == query.KindString {
			return vals[0].Str, true, true
		}
		return valueText(vals[0]), false, true
	}
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(valueText(v))
	}
	return b.String(), false, true
}

// wildcardMatch reports whether name matches pattern, where * matches any
// run of characters and ? one character (Elasticsearch index patterns).
func wildcardMatch(pattern, name string) bool {
	px, nx := 0, 0
	starPx, starNx := -1, 0
	for nx < len(name) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starPx, starNx = px, nx
				px++
				continue
			case '?':
				px++
				nx++
				continue
			default:
				if c == name[nx] {
					px++
					nx++
					continue
				}
			}
		}
		if starPx >= 0 {
			px = starPx + 1
			starNx++
			nx = starNx
			continue
		}
		return false
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// indexMatch reports whether an index name is one of the rule's patterns:
// empty patterns match every index; a pattern starting with "-" excludes
// what it matches, as in Elasticsearch's multi-target syntax.
func indexMatch(patterns []string, index string) bool {
	if len(patterns) == 0 {
		return true
	}
	in := false
	onlyExcludes := true
	for _, p := range patterns {
		if ex, ok := strings.CutPrefix(p, "-"); ok && ex != "" {
			if wildcardMatch(ex, index) {
				return false
			}
			continue
		}
		onlyExcludes = false
		if !in && wildcardMatch(p, index) {
			in = true
		}
	}
	return in || onlyExcludes
}
