// Package query matches documents against the filters people write for
// Elasticsearch: the query DSL (term, terms, range, exists, prefix,
// wildcard, bool, query_string) and the Lucene query-string syntax of
// Kibana's search bar (field:value, quoted phrases, AND/OR/NOT, ranges,
// wildcards, CIDRs for address fields). Alert rules and the console use it
// on live events (EventDoc) and on stored documents (JSONDoc) alike, so a
// filter means the same thing on both.
//
// # Documents
//
// A Doc gives the values of a dotted path. JSONDoc flattens a stored
// document: nested objects give dotted paths, a key with dots is the same
// path ({"a.b":1} is a.b, as in Elasticsearch), arrays give several values
// (arrays of objects flatten each object under the same paths), null gives
// nothing. EventDoc reads a live *event.Event and gives exactly the values
// of the document the event encodes to (a property test checks every leaf
// path of every golden event); its common paths cost no allocation, the
// rest are answered from the event encoded once.
//
// # Matching
//
//   - A field matches if any of its values matches. A missing field
//     matches no term, range, wildcard, prefix or regexp; NOT of them
//     matches it.
//   - Strings are keywords: exact, case-sensitive equality. Text fields
//     (message, event.original, error.message, any path ending in ".text")
//     are analysed instead: values and query are split into words (runs of
//     letters, digits and underscores, kept whole across a period,
//     apostrophe or colon between letters and a period or comma between
//     digits, as Unicode word segmentation and so Elasticsearch's standard
//     tokenizer do: "example.com", "10.0.0.7"), compared
//     case-insensitively; a term or phrase matches its words appearing
//     consecutively; wildcards, prefixes and regexps match one word
//     (regexps against the lowercased word).
//   - Numbers: when the query value reads as a number and the document
//     value is a number or a string that reads as one, they compare as
//     numbers (destination.port:443 matches 443 and "443"). Ranges compare
//     numerically when both ends are numbers, otherwise as strings (byte
//     order) unless one of the next rules applies.
//   - Addresses: when the value reads as an IP address and the query is an
//     address or a CIDR prefix (10.0.0.0/8, 2001:db8::/32, quoted or not),
//     they compare as addresses or by prefix membership; ranges of
//     addresses compare addresses (source.ip:[10.0.0.1 TO 10.0.0.9]).
//     IPv4-mapped IPv6 addresses equal their IPv4 form.
//   - Times: values that read as dates (RFC 3339 / ISO 8601: 2026-01-02,
//     2026-01-02T15:04:05.123Z, with an offset or none for UTC) compare as
//     instants with range ends that are dates or date math: now, now-15m,
//     now/d, 2026-01-01||+1M/d (units y M w d h m s). As in Elasticsearch,
//     a rounded end is rounded up for lte and gt and down for gte and lt,
//     and a plain date as an lte/gt end means the end of that day. A
//     number as an end of a date range is epoch milliseconds. "now" is
//     read once per Match from Options.Now. A term that is a date matches
//     the same instant, and a plain date the whole day
//     (@timestamp:2026-11-22).
//   - Booleans: true and false.
//   - A term without a field searches every field (or Options.DefaultFields):
//     it matches when some value equals it (numbers numerically, addresses
//     as addresses) or a text field contains it as words.
//
// # Query strings
//
// ParseQueryString takes field:value, field:"phrase", bare terms and
// phrases, AND OR NOT && || !, +term -term, parentheses, field:(a OR b),
// field:(a b), ranges [a TO b] {a TO b} [a TO b} with * for an open end,
// field:>=5 >5 <5 <=5, wildcards * and ? in values (host.hostname:web-*),
// field:* and _exists_:field, regexps field:/re/ (Go syntax, anchored to
// the whole value as in Lucene; write \/ for a slash), backslash escapes
// (url.path:\/admin), boosts (^2, ignored). "", "*" and "*:*" match
// everything. Fuzzy and proximity searches (~) are refused.
//
// Precedence: when all clauses of a list are joined by explicit AND or OR
// and none carries + or -, NOT binds tightest, then AND, then OR. When
// clauses stand side by side (the default operator joins them) together
// with NOT, or carry + or -, Lucene's rules apply as in Elasticsearch:
// +x must match, -x and NOT x must not, the others should match (must,
// with the AND default operator), an explicit AND makes both sides must,
// and should clauses only count when there is no must clause ("a NOT b"
// is a AND NOT b; "+a b" is just a).
//
// An unquoted term on a text field that holds several words (message:foo-bar)
// matches them as a phrase.
//
// Errors give the 1-based byte position: `query_string: at 14: unbalanced
// parenthesis; close it with ")"`. Nesting is bounded (64 levels).
//
// A compiled Matcher also has String(), a canonical query string: parsing
// it with the same Options matches the same documents. Paths in it are
// already renamed by Options.Aliases. A bool query with a
// minimum_should_match above 1 is written as an OR of ANDs while that stays
// small (up to 64 combinations); beyond that the form does not parse back.
//
// # Query DSL
//
// CompileDSL takes one clause as decoded from YAML or JSON; CompileFilters
// takes an ElastAlert filter list (clauses ANDed; an empty list matches
// everything). Supported: term ({term: {f: v}} and {term: {f: {value: v,
// case_insensitive: true}}}), terms (any of a list), match (the words of
// the query, any of them or all with operator: and; equality on keyword
// fields), match_phrase (consecutive words; slop 0 only), range (gt, gte,
// lt, lte, from/to with include_lower/include_upper; numbers, strings,
// dates, date math; format is accepted and ignored, time_zone is refused),
// exists, prefix, wildcard, regexp, bool (must, filter, should, must_not,
// each a clause or a list; minimum_should_match as an integer, a negative
// integer or a percentage, by default 1 when there is no must or filter
// clause and 0 otherwise), query_string (query, default_field, fields,
// default_operator), match_all, match_none, the ElastAlert wrapper
// {query: {...}} and type ({type: {value: doc}}, which old ElastAlert rules
// carry: mapping types are gone since Elasticsearch 7, so it matches
// everything). ids is refused (live events have no document id). An unknown
// clause or parameter is an error that names where it is and what is
// supported: `filter[2]: unknown query "geo_distance"; supported: term, ...`.
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
