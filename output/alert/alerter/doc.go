// Package alerter renders alerts and sends them, the notification half of
// sluice's ElastAlert-style rules (package rule decides when a rule alerts;
// this package knows nothing of rules beyond their options).
//
// ElastAlert users copy their rule files over, so the options are read with
// ElastAlert's key names from the rule file's top level ([Options]), and an
// alerter of ElastAlert2's list form (`alert: [{email: {email: ...}}]`) may
// override them. [New] builds the alerters named by `alert` and reports every
// bad key at once, naming the key and the fix; [Keys] lists every key this
// package reads, for the rule loader's check of unknown keys.
//
// Supported alerters: email (SMTP through github.com/wneessen/go-mail, with
// STARTTLS whenever offered and required with smtp_auth_file, or implicit
// TLS with smtp_ssl), slack, ms_teams, post, post2, alertmanager (API v2),
// command (argv, never a shell) and debug. Any other name is an error.
//
// # Rendering
//
// [Renderer] renders subjects and bodies as ElastAlert does: alert_subject
// and alert_text are Python format strings filled from alert_subject_args /
// alert_text_args (looked up in the first match by dotted path, a literal
// dotted key too, then among the rule's own keys) or alert_text_kw, with
// alert_missing_value (default "<MISSING VALUE>") for what is missing.
// `{}` auto-numbering, `{0}` and `{name}` are supported; format specs and
// conversions (`{0:>10}`, `{0!r}`) are accepted and ignored: the value is
// printed plainly. Without args a format is printed literally, as in
// ElastAlert. The body is the aggregation summary table (with aggregation and
// summary_table_fields), then per match: the rule name (when there is no
// alert_text), alert_text, top counts (top_count_keys, from Alert.TopCounts)
// and the match's fields as `field: value` lines sorted by field, nested
// objects flattened with dots, lists as indented JSON; several matches are
// separated by a line of dashes. alert_text_type selects alert_text_only,
// exclude_fields, aggregation_summary_only or alert_text_jinja (the template
// subset below).
//
// Matches are documents decoded with encoding/json; numbers may be
// json.Number (UseNumber, recommended: counters stay exact) or float64, and
// both print the same (integers without a decimal point). Booleans print as
// True/False as ElastAlert's str() does.
//
// # Templates
//
// post2's payload and headers, alertmanager's labels and annotations and
// alert_text_jinja use a subset of Jinja: literal text with
// `{{ field.path }}` substitutions from the first match and `{{ rule_name }}`.
// There are no filters, tests, expressions or control flow; templates with
// `{%`, `{#` or a `|` filter are refused when the rule loads. A missing field
// renders as the empty string (Jinja's undefined).
//
// # Delivery
//
// [Sender] is a bounded queue served by worker goroutines: [Sender.Enqueue]
// never blocks (a full queue drops and counts). Each alerter of a job is
// retried on its own with exponential backoff (SenderConfig.Backoff doubling
// up to MaxBackoff) until the job's TimeLimit (alert_time_limit, default 1h)
// from its first attempt; a [PermanentError] (HTTP 4xx other than 408 and
// 429, a refused recipient, a missing program) is not retried. Retries wait
// in a timer queue, not in a worker. A send attempt may hold a worker up to
// the alerter's own timeout (slack_timeout, http_post_timeout, ...; 30 s for
// SMTP and commands) or the job's time limit, whichever comes first, so
// Workers bounds how many slow destinations can be waited on at once.
// Alerters render the alert themselves from their own options; Job.Subject
// and Job.Body are only for the caller's records.
//
// Metrics: sluice_alert_sent_total{rule,alerter},
// sluice_alert_failed_total{rule,alerter},
// sluice_alert_retries_total{rule,alerter},
// sluice_alert_queue_dropped_total, sluice_alert_queue_depth,
// sluice_alert_retry_pending and
// sluice_alert_send_duration_seconds{alerter}.
package alerter
