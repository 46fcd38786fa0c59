// Package grok compiles Logstash-style grok expressions and matches them
// against log lines without allocating.
//
// # Expressions
//
// An expression is an RE2 regular expression (Go's regexp syntax) in which
//
//   - %{NAME} is replaced by the library's definition of NAME,
//   - %{NAME:field} also captures it as field,
//   - %{NAME:field:int} and %{NAME:field:float} ask for a number,
//   - (?<field>...) and (?P<field>...) capture a group as field.
//
// Field names are written as dotted ECS names (source.ip); Logstash's
// [source][ip] is accepted and reported as source.ip. Named captures inside
// referenced patterns are reported too (%{SYSLOGPROG} yields process.name
// and process.pid). The match is searched anywhere in the line unless the
// expression starts with ^.
//
// A Library holds named patterns: BaseLibrary loads configs/patterns/*.grok
// (IP, IPV4, IPV6, HOSTNAME, NUMBER, INT, WORD, NOTSPACE, DATA, GREEDYDATA,
// QUOTEDSTRING, MAC, URI, SYSLOGTIMESTAMP, TIMESTAMP_ISO8601, ...), LoadDir
// adds a user directory in Logstash's pattern-file format, whose
// definitions replace earlier ones. Library.Compile turns an expression
// into a Pattern, once, at start; a Set tries several patterns in order.
// Compile errors name the unknown pattern, the referenced pattern whose
// definition is bad with its file and line, or the offset in the
// expression.
//
// # Differences from Logstash (Oniguruma)
//
// Go's regexp implements leftmost-first matching: among the matches that
// start leftmost, it reports the one a backtracking engine such as
// Oniguruma (Joni in Logstash) would find, with the same submatches, rather
// than the longest one (POSIX). So an expression both accept captures the
// same text in both, apart from the cases below:
//
//   - Lookahead, lookbehind, atomic groups, possessive quantifiers and
//     backreferences do not exist in RE2. Compile rejects them with an error
//     naming the construct. The base library is written without them, so
//     where Logstash's patterns use a lookaround ours use \b or nothing:
//     IPV4 needs a word boundary on both sides ("x1.2.3.4" holds no
//     address here, it does in Logstash), NUMBER may start right after a
//     digit or a dot, TIME does not check for a digit after the seconds.
//   - ^ and $ match at the start and end of the line (RE2's \A and \z),
//     where Ruby's match at every line break; add (?m) for that. Syslog
//     messages are one line.
//   - \s is [\t\n\f\r ] (no \v); \w, \d and \b are ASCII-only, which can
//     differ from Logstash on non-ASCII text; . does not match \n in
//     either. An invalid UTF-8 byte matches as U+FFFD; captures are the raw
//     bytes.
//
// # Captures
//
// Match reports each named capture that took part in the match and is not
// empty (Logstash's keep_empty_captures => false), in the order of the
// captures in the expression; a name that matched twice is reported twice.
// A capture typed :int holds Int64 when its text is [+-]?[0-9]+ within
// int64, one typed :float holds Float64 when its text is a finite decimal
// number (1, -2.5, .5, 6.02e23; not NaN, Inf or hex). Otherwise it is
// reported with Type String and its text, as Logstash keeps the string
// when a conversion fails; the field mapper decides what to do with it.
// The match itself never fails on a conversion.
//
// # The fast matcher
//
// Grok is slow in every implementation that runs it as one big regexp: Go's
// regexp simulates all alternatives at once, and a pattern referencing IP
// carries the whole IPv6 expression. Compile therefore also builds a
// backtracking program from RE2's parse tree. Backtracking in the order the
// tree prescribes (alternatives left to right, greedy repetitions longest
// first, lazy ones shortest first) reproduces leftmost-first exactly, so
// both give the same result; the tests compare them on every base pattern
// in several contexts, on mutated sample lines, and the fuzz targets
// FuzzMatch and FuzzCompile on random lines and random expressions.
//
// It is faster because repetitions of one character class run as byte
// loops; a run followed by a literal only considers ends where the literal
// begins (memchr; a lazy run's ends are where the whole literal starts,
// searched by its rarest byte, also when that literal is optional before
// the end: `.*?(?: reason=(.*))?$`), one followed by optional parts or
// alternatives only the ends before a byte they can start with (or the
// end of the line); a split
// does not recurse into an alternative that
// cannot start with the next byte; literal prefixes, first-byte sets and
// required substrings skip start positions; and the base library's IPV4,
// IPV6, MAC, WORD and QUOTEDSTRING run as Go code (used only while their
// definitions are exactly the base ones; a user override runs as a
// regexp). It covers every RE2 construct except case folding that reaches
// non-ASCII runes ((?i)k matches the Kelvin sign), character classes
// holding some but not all non-ASCII runes (\pL, [à-ÿ]), and repetitions of
// an expression that can match the empty string; expressions using those
// always run on Go's regexp (Pattern.Fast reports which). Work per line is
// bounded: past a budget proportional to the line the program records
// failed states, as Go's own backtracker does, and past a second budget the
// line is matched by Go's regexp, so no expression can hang it.
//
// A Set checks before each pattern that the line starts with the pattern's
// literal prefix (anchored patterns), that its first byte can start a match
// (a table built once), and that the longest literals every match must
// contain are present (each literal searched once per line, by its rarest
// byte (internal/rare), and after a
// few searches a Bloom filter of the line's byte pairs rules most out
// without a search). These checks are derived from the parse tree and only
// skip patterns that cannot match; Pattern.Match makes the same checks
// except the substring ones for anchored patterns on the fast matcher,
// which fail as fast without them.
package grok
