// Package query matches documents against the filters people write for
// Elasticsearch: the query DSL (term, terms, range, exists, prefix,
// wildcard, bool, query_string) and the Lucene query-string syntax of
// Kibana's search bar (field:value, quoted phrases, AND/OR/NOT, ranges,
// wildcards, CIDRs for address fields). Alert rules and the console use it
// on live events (EventDoc) and on stored documents (JSONDoc) alike, so a
// filter means the same thing on both.
package query

import (
	"net/netip"
	"time"
)

// ValueKind says which member of a Value is set.
type ValueKind uint8

// Value kinds.
const (
	KindString ValueKind = iota + 1
	KindNumber           // Num (integers up to 2^53 exactly; larger ones rounded)
	KindIP
	KindTime
	KindBool
)

// Value is one value of a document field (a field with an array holds
// several).
type Value struct {
	Kind ValueKind
	Str  string
	Num  float64
	IP   netip.Addr
	Time time.Time
	Bool bool
}

// Doc is a document a Matcher reads. Paths are dotted ECS paths as they
// appear in the stored JSON document ("source.ip", "event.action",
// "f5.asm.violation_rating", "@timestamp").
type Doc interface {
	// Values appends the values of the field at path to dst (none when the
	// field is absent) and returns the extended slice.
	Values(path string, dst []Value) []Value
	// AppendJSON appends the whole document as JSON.
	AppendJSON(dst []byte) []byte
}

// Matcher is a compiled filter. Match must be safe for concurrent use.
type Matcher interface {
	Match(d Doc) bool
	// Fields lists the paths the filter reads (with "*" for a query that
	// searches every field).
	Fields() []string
}
