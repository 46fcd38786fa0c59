package rule

import (
	"sort"

	"github.com/sluicelab/sluice/internal/closest"
)

// ruleKeys are the rule-file keys this package reads, with the rule types
// that use each type-specific one (nil: every type).
var ruleKeys = map[string][]string{
	"name":                 nil,
	"index":                nil,
	"filter":               nil,
	"type":                 nil,
	"query_key":            nil,
	"realert":              nil,
	"exponential_realert":  nil,
	"aggregation":          nil,
	"aggregation_key":      nil,
	"summary_table_fields": nil,
	"alert":                nil,
	"include":              nil,
	"top_count_keys":       nil,
	"timestamp_field":      nil,
	"timestamp_type":       nil,
	"field_aliases":        nil,
	"is_enabled":           nil,
	"alert_time_limit":     nil,
	"description":          nil,
	"owner":                nil,
	"priority":             nil,
	"category":             nil,
	"import":               nil,
	"max_keys":             nil,

	"timeframe":              {"frequency", "change", "flatline", "spike", "cardinality"},
	"num_events":             {"frequency"},
	"compare_key":            {"blacklist", "whitelist", "change"},
	"blacklist":              {"blacklist"},
	"whitelist":              {"whitelist"},
	"ignore_null":            {"whitelist", "change"},
	"threshold":              {"flatline"},
	"forget_keys":            {"flatline"},
	"fields":                 {"new_term"},
	"terms_window_size":      {"new_term"},
	"alert_on_missing_field": {"new_term"},
	"cardinality_field":      {"cardinality"},
	"max_cardinality":        {"cardinality"},
	"min_cardinality":        {"cardinality"},
	"metric_agg_key":         {"metric_aggregation"},
	"metric_agg_type":        {"metric_aggregation"},
	"max_threshold":          {"metric_aggregation"},
	"min_threshold":          {"metric_aggregation"},
	"buffer_time":            {"metric_aggregation", "percentage_match"},
	"bucket_interval":        {"metric_aggregation", "percentage_match"},
	"match_bucket_filter":    {"percentage_match"},
	"min_percentage":         {"percentage_match"},
	"max_percentage":         {"percentage_match"},
	"spike_height":           {"spike"},
	"spike_type":             {"spike"},
	"threshold_ref":          {"spike"},
	"threshold_cur":          {"spike"},
	"alert_on_new_data":      {"spike"},
	"field_value":            {"spike"},
}

// ignoredKeys are keys that ElastAlert rule files (its own examples among
// them) carry but that mean nothing when rules run on the stream: each is
// accepted and recorded in Rule.Notes with the reason.
var ignoredKeys = map[string]string{
	"es_host":                 "sluice evaluates rules on the documents it receives, not by querying a cluster",
	"es_port":                 "sluice evaluates rules on the documents it receives, not by querying a cluster",
	"use_ssl":                 "sluice evaluates rules on the documents it receives, not by querying a cluster",
	"verify_certs":            "sluice evaluates rules on the documents it receives, not by querying a cluster",
	"es_username":             "sluice evaluates rules on the documents it receives, not by querying a cluster",
	"es_password":             "sluice evaluates rules on the documents it receives, not by querying a cluster",
	"es_url_prefix":           "sluice evaluates rules on the documents it receives, not by querying a cluster",
	"es_send_get_body_as":     "sluice evaluates rules on the documents it receives, not by querying a cluster",
	"doc_type":                "Elasticsearch mapping types are gone since 7.0 and sluice does not query a cluster",
	"use_strftime_index":      "the index pattern's strftime fields (%Y, %m, %d, ...) are matched as wildcards against the document's index name",
	"run_every":               "rules are evaluated as each document arrives, there is no polling interval",
	"query_delay":             "rules are evaluated as each document arrives, there is no query to delay",
	"use_count_query":         "every document is seen as it arrives, so counting needs no count query",
	"use_terms_query":         "every document is seen as it arrives, so counting needs no terms query",
	"terms_size":              "every document is seen as it arrives, there is no terms query to size",
	"max_query_size":          "every document is seen as it arrives, there is no query to size",
	"scan_entire_timeframe":   "windows are kept in memory as documents arrive, there is no timeframe to scan",
	"use_local_time":          "times in alerts are the documents' own (UTC in sluice's documents)",
	"generate_kibana_link":    "sluice does not generate Kibana links",
	"kibana_url":              "sluice does not generate Kibana links",
	"use_kibana4_dashboard":   "sluice does not generate Kibana links",
	"kibana4_start_timedelta": "sluice does not generate Kibana links",
	"kibana4_end_timedelta":   "sluice does not generate Kibana links",
	"include_match_in_root":   "sluice's alert documents keep each match's document whole, in their own field",
}

// knownTypes are the rule types this loader knows the required keys of;
// a type is runnable when it is also in Constructors.
var knownTypes = []string{"any", "blacklist", "whitelist", "change", "frequency", "spike", "flatline", "new_term", "cardinality", "metric_aggregation", "percentage_match"}

// supportedTypes lists the types with a constructor, sorted.
func supportedTypes() []string {
	out := make([]string, 0, len(Constructors))
	for k := range Constructors {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggestKey names the known key closest to k when it is close enough to
// be a typo, else "".
func suggestKey(k string, known []string) string { return closest.Name(k, known) }
