package rule

import (
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

// Event is what a rule type sees of one document that passed the rule's
// filter (and index).
type Event struct {
	Doc  query.Doc
	Time time.Time // the value of the rule's timestamp_field
	// Key is the query_key value ("" when the rule has none); the values of
	// a multi-field query_key are joined with ", " as ElastAlert does.
	Key string
}

// Match is one match of a rule type.
type Match struct {
	Time time.Time
	Key  string // the query_key value, "" when none
	// Doc is the matching document as JSON (nil for a match that has no
	// document, such as flatline's).
	Doc []byte
	// Index is where Doc is stored: the index (or daily file) name the
	// engine's Process was given with it; "" without a document.
	Index string
	// Extra holds the values a rule type adds to the match as ElastAlert
	// does (num_hits, num_matches, spike_count, reference_count,
	// new_field, cardinality, metric_<key>_<type>, percentage, ...).
	Extra map[string]any
}

// Type is the evaluation of one rule type with its windows. The engine
// calls Add for every document that passed the rule's filter and Tick about
// once a second with the wall clock; it serializes the calls of one rule,
// so a Type needs no locking of its own.
type Type interface {
	Add(ev *Event) []Match
	// Tick lets time-driven types (flatline, spike, metric_aggregation,
	// percentage_match) close windows with no new documents.
	Tick(now time.Time) []Match
	// MarshalState and UnmarshalState keep the windows over a restart.
	// UnmarshalState reads a file sluice wrote but must treat it as
	// untrusted: an error (never a panic) for anything malformed, and the
	// type's memory bounds hold after loading.
	MarshalState() ([]byte, error)
	UnmarshalState(data []byte) error
	// Evictions is how many query_key windows were dropped to stay within
	// MaxKeys since start.
	Evictions() uint64
}

// Spec holds the rule-type options of a rule file, parsed and checked by
// the loader. Zero values mean "not set" except where a default is noted.
type Spec struct {
	Name      string
	Type      string   // any, blacklist, whitelist, change, frequency, spike, flatline, new_term, cardinality, metric_aggregation, percentage_match
	QueryKey  []string // query_key (one or several fields)
	Timeframe time.Duration
	// MaxKeys bounds the query_key values one rule keeps windows for; the
	// least recently seen is evicted beyond it (default 10000).
	MaxKeys int

	// frequency
	NumEvents     int  // num_events (frequency; default 1 when unset)
	UseCountQuery bool // use_count_query / use_terms_query: accepted, no effect in the stream

	// blacklist, whitelist, change
	CompareKey []string // compare_key (change: one or several fields)
	Blacklist  []string // entries after expanding "!file PATH" items
	Whitelist  []string
	IgnoreNull bool // ignore_null

	// spike
	SpikeHeight    float64 // spike_height
	SpikeType      string  // spike_type: up, down, both (default both)
	ThresholdRef   int     // threshold_ref
	ThresholdCur   int     // threshold_cur
	AlertOnNewData bool    // alert_on_new_data
	FieldValue     string  // field_value: spike on the sum of this field instead of counts

	// flatline
	Threshold  int  // threshold
	ForgetKeys bool // forget_keys

	// new_term
	Fields              [][]string    // fields: each entry one field or a composite of several
	TermsWindowSize     time.Duration // terms_window_size (default 30 days)
	AlertOnMissingField bool          // alert_on_missing_field

	// cardinality
	CardinalityField string // cardinality_field
	MaxCardinality   *int   // max_cardinality
	MinCardinality   *int   // min_cardinality

	// metric_aggregation
	MetricAggKey  string        // metric_agg_key
	MetricAggType string        // metric_agg_type: min, max, avg, sum, cardinality, value_count
	MaxThreshold  *float64      // max_threshold
	MinThreshold  *float64      // min_threshold
	BufferTime    time.Duration // buffer_time: the bucket length of metric_aggregation and percentage_match (default 5 minutes)

	// percentage_match
	MatchBucketFilter query.Matcher // match_bucket_filter (compiled)
	MinPercentage     *float64      // min_percentage
	MaxPercentage     *float64      // max_percentage
}

// Constructors maps a rule type name to the function that builds it from
// a checked Spec. The files of each type register theirs in init.
var Constructors = map[string]func(s *Spec) (Type, error){}
