// Package rule loads ElastAlert-style rule files and evaluates them on the
// stream of documents: each rule has a filter, a type (any, blacklist,
// frequency, spike, flatline, new_term, ...) that keeps its own windows per
// query_key value, and the realert/aggregation logic that turns matches into
// alerts. It knows nothing of how alerts are sent (package alerter) or
// where documents come from (the alert stage, sluice test-rule).
//
// # Loading
//
// Load reads one rule file, LoadDirs a set of rules folders. Keys have
// ElastAlert's names and meanings; keys that only make sense when rules
// poll a cluster (es_host, run_every, use_count_query, ...) are accepted
// and listed in Rule.Notes with the reason they do nothing here; any other
// unknown key is an error naming the file, the key and a fix (with "did you
// mean" for typos), never silently ignored. Keys that other packages read
// (the alerters') are passed in LoadOptions.ExtraKeys and kept in
// Rule.Options. Filters are compiled once, at load, by the function in
// LoadOptions.CompileFilters (internal/query), with the effective field
// aliases (sluice's built-in Logstash-era names plus the rule's
// field_aliases); field names in query_key, compare_key and the other
// field keys go through the same aliases. ElastAlert 2's import: merges a
// base file under the rule. Loading is bounded: a rule file of at most
// 1 MiB (aliases may not expand it past 1,000,000 values), the !file lists
// of a blacklist or whitelist at most 10 MiB and 1,000,000 entries
// together, and at most 50 problems reported per file.
//
// # Evaluation
//
// An Engine holds the loaded rules. Process takes each document with its
// index name; for every rule whose index patterns and filter match, it
// reads the document's time (timestamp_field) and query_key value, calls
// the rule type's Add, and applies realert (per query_key value, with
// ElastAlert's exponential back-off) and aggregation to the matches before
// handing them to EngineConfig.Emit. Tick, about once a second, drives the
// time-driven types (flatline, and the bucketed statistical types), ends
// aggregation windows and expires silences.
//
// Most rules miss most documents, so a document's rules are found cheaply:
// a rule whose filter requires a term is found by the value of that field
// (one lookup for all the rules on that field), and its other required
// terms and numeric ranges are checked before the filter. A filter that
// reads only values every flow shares (event.action, event.kind,
// event.dataset, ...: query.FlowConstant) is evaluated once, when the rules
// are loaded, for all flows.
//
// Rules are independent: each has its own lock, held only while its type
// runs, and Emit is never called with a lock held. Windows use the
// documents' own times; realert silences and aggregation windows use the
// wall clock, as ElastAlert's do. Every per-rule structure is bounded: at
// most max_keys (default 10,000) query_key values with windows (the least
// recently seen is evicted and counted), as many silences and open
// aggregations, 1,000 matches kept per aggregation, and per-key windows
// bounded by the type (frequency keeps num_events-1 timestamps, flatline
// threshold, both at most 100,000).
//
// MarshalState and LoadState keep windows, silences and pending
// aggregations across a restart as versioned JSON; a rule whose file
// changed (its Hash) starts fresh, and SetRules does the same on reload.
package rule
