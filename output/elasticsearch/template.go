package elasticsearch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/sluicelab/sluice/configs"
	"github.com/sluicelab/sluice/internal/event"
)

// TemplateVersion is the version sluice writes into every template it
// installs. Raise it whenever a template changes in a way an older sluice
// must not undo: InstallTemplates leaves templates with a higher version
// alone, so an older sluice started against the same cluster does not
// downgrade the mappings of a newer one.
const TemplateVersion = 2 // 2: log.syslog.structured_data (flattened), the sluice-alert component

// Template kinds.
const (
	ComponentTemplate = "component" // PUT _component_template/<name>
	IndexTemplate     = "index"     // PUT _index_template/<name>
)

// templatePriority is the priority of sluice's index templates: above the
// built-in logs-*-*, metrics-*-* (100) and below what users pick to override.
const templatePriority = 200

// templateTotalFieldsLimit is index.mapping.total_fields.limit: the templates
// declare about 520 fields, and exporters add enterprise-specific netflow.*
// fields dynamically; past the limit Elasticsearch rejects whole documents.
const templateTotalFieldsLimit = 2000

// Template is one component or index template as sent to Elasticsearch.
type Template struct {
	Kind string // ComponentTemplate or IndexTemplate
	Name string
	Body []byte // JSON with version and _meta {managed_by, hash}
}

// TemplateConfig configures the index templates (keys under
// output.elasticsearch.template; the patterns come from output.index.*).
type TemplateConfig struct {
	Shards          int    // index.number_of_shards
	Replicas        int    // index.number_of_replicas
	RefreshInterval string // index.refresh_interval, an Elasticsearch time value ("5s", "-1")
	FlowsIndex      string // IndexNamer pattern, e.g. sluice-flows-%{+yyyy.MM.dd}
	SyslogIndex     string
	// SyslogIndices are further patterns of syslog documents: the own
	// indices of parser rules and routes (e.g. sluice-meraki-%{+yyyy.MM.dd}).
	// Their templates have a higher priority, so they may lie inside the
	// default ones (sluice-syslog-meraki-*), but not overlap each other.
	SyslogIndices []string
	// AlertsIndex is the pattern of the alert documents' index (the
	// alerting.index key) when alert rules run; "" for none.
	AlertsIndex string
}

// DefaultTemplateConfig returns the defaults: one shard, no replica (sluice
// is mostly run on a single node; raise replicas on a cluster), refresh every
// 5s, and the default index patterns.
func DefaultTemplateConfig() TemplateConfig {
	return TemplateConfig{
		Shards:          1,
		Replicas:        0,
		RefreshInterval: "5s",
		FlowsIndex:      "sluice-flows-%{+yyyy.MM.dd}",
		SyslogIndex:     "sluice-syslog-%{+yyyy.MM.dd}",
	}
}

// esTimeValue is what Elasticsearch's TimeValue parser accepts without
// fractions (which it refuses for most units).
var esTimeValue = regexp.MustCompile(`^[0-9]+(d|h|m|s|ms|micros|nanos)$`)

// Validate reports every problem of c, each naming its key and a fix.
// Index patterns that do not parse at all are left to the output.index.*
// validation (BuildTemplates still refuses them); Validate reports what only
// templates need: fixed text in each pattern and patterns that do not
// overlap.
func (c TemplateConfig) Validate() error {
	const p = "output.elasticsearch.template."
	var errs []error
	if c.Shards < 1 || c.Shards > 1024 {
		errs = append(errs, fmt.Errorf(p+"shards: %d is out of range; use 1..1024 (default 1; one shard holds tens of GB of flows per day)", c.Shards))
	}
	if c.Replicas < 0 {
		errs = append(errs, fmt.Errorf(p+"replicas: %d is negative; use 0 on a single node or 1 on a cluster (default 0)", c.Replicas))
	}
	if ri := c.RefreshInterval; ri != "-1" && (!esTimeValue.MatchString(ri) || !isNonzero(ri)) {
		errs = append(errs, fmt.Errorf(p+"refresh_interval: %q is not a positive Elasticsearch time value; use e.g. 1s or 30s, or -1 to refresh only on demand (default 5s)", ri))
	}
	var wild [2]string
	for i, k := range [2]struct{ key, pattern string }{{"output.index.flows", c.FlowsIndex}, {"output.index.syslog", c.SyslogIndex}} {
		if _, err := event.NewIndexNamer(k.pattern, time.UTC); err != nil {
			continue
		}
		w, err := IndexWildcard(k.pattern)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k.key, err))
			continue
		}
		wild[i] = w
	}
	if wild[0] != "" && wild[1] != "" && (globsOverlap(wild[0], wild[1]) || templateName(wild[0]) == templateName(wild[1])) {
		errs = append(errs, fmt.Errorf("output.index.syslog: its index template pattern %s overlaps %s of output.index.flows, so one template would set the mappings of both; give each its own name such as sluice-flows-%%{+yyyy.MM.dd} and sluice-syslog-%%{+yyyy.MM.dd}", wild[1], wild[0]))
	}
	if c.AlertsIndex != "" {
		w, err := IndexWildcard(c.AlertsIndex)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("alerting.index: %w", err))
		default:
			for i, k := range [2]string{"output.index.flows", "output.index.syslog"} {
				if wild[i] != "" && (globsOverlap(w, wild[i]) || templateName(w) == templateName(wild[i])) {
					errs = append(errs, fmt.Errorf("alerting.index: its index template pattern %s overlaps %s of %s, so one template would set the mappings of both; give the alerts an index of their own such as sluice-alerts-%%{+yyyy.MM.dd}", w, wild[i], k))
				}
			}
		}
	}
	var extra []string
	for _, p := range c.SyslogIndices {
		if p == c.SyslogIndex {
			continue
		}
		w, err := IndexWildcard(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("index %s of a syslog parser or route: %w", p, err))
			continue
		}
		name := templateName(w)
		if name == templateName(wild[0]) || name == templateName(wild[1]) {
			errs = append(errs, fmt.Errorf("index %s of a syslog parser or route: its template would be named %s like that of output.index.*; give it a name of its own such as sluice-meraki-%%{+yyyy.MM.dd}", p, name))
		}
		for _, o := range extra {
			if globsOverlap(w, o) || templateName(o) == name {
				errs = append(errs, fmt.Errorf("index %s of a syslog parser or route: its template pattern %s overlaps %s of another parser or route; give them names that do not contain each other, such as sluice-meraki-%%{+yyyy.MM.dd} and sluice-f5-%%{+yyyy.MM.dd}", p, w, o))
			}
		}
		extra = append(extra, w)
	}
	return errors.Join(errs...)
}

// isNonzero reports whether the number a time value starts with is not 0.
func isNonzero(v string) bool {
	v = strings.TrimLeft(v, "0")
	return v != "" && v[0] >= '1' && v[0] <= '9'
}

// IndexWildcard turns an index pattern into the wildcard an index template
// matches it with: sluice-flows-%{+yyyy.MM.dd} becomes sluice-flows-*. It
// fails for patterns IndexNamer refuses and for patterns without a letter or
// digit outside the date, whose wildcard (*, *-*) would match nearly every
// index of the cluster.
func IndexWildcard(pattern string) (string, error) {
	if _, err := event.NewIndexNamer(pattern, time.UTC); err != nil {
		return "", err
	}
	var b strings.Builder
	rest := pattern
	for {
		i := strings.Index(rest, "%{")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		if !strings.HasSuffix(b.String(), "*") {
			b.WriteByte('*')
		}
		// NewIndexNamer guarantees the closing brace.
		rest = rest[i+strings.IndexByte(rest[i:], '}')+1:]
	}
	w := b.String()
	if strings.IndexFunc(w, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' }) < 0 {
		return "", fmt.Errorf("index pattern %q has no fixed name, so its template would match every index as %s; add one such as sluice-flows-%%{+yyyy.MM.dd}", pattern, w)
	}
	return w, nil
}

// templateName names the index template of a wildcard: its fixed text
// without the separators around the dates (sluice-flows-* is sluice-flows).
// Names follow the patterns so that sluice instances writing to different
// indices of one cluster do not overwrite each other's templates.
func templateName(wildcard string) string {
	var parts []string
	for _, s := range strings.Split(wildcard, "*") {
		if s = strings.Trim(s, "-_.+"); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "-")
}

// globsOverlap reports whether some name matches both index patterns a and b,
// where * matches any text (as Elasticsearch refuses for two index templates
// of the same priority).
func globsOverlap(a, b string) bool {
	memo := make(map[[2]int]bool)
	var f func(i, j int) bool
	f = func(i, j int) bool {
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(a) && j == len(b):
			r = true
		case i < len(a) && a[i] == '*':
			// The star matches nothing, or one more character of b's name.
			r = f(i+1, j) || j < len(b) && f(i, j+1)
		case j < len(b) && b[j] == '*':
			r = f(i, j+1) || i < len(a) && f(i+1, j)
		case i < len(a) && j < len(b):
			r = a[i] == b[j] && f(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	return f(0, 0)
}

// BuildTemplates returns the templates for cfg in install order: the
// component templates sluice-ecs, sluice-netflow and one <name>@settings per
// kind, then the index templates named after the patterns (sluice-flows,
// sluice-syslog by default). Settings live in the @settings components, so
// changing cfg changes their hash and InstallTemplates applies it.
func BuildTemplates(cfg TemplateConfig) ([]Template, error) {
	return buildTemplates(cfg, "sluice")
}

// buildTemplates is BuildTemplates with the prefix of the shared component
// templates (tests use their own so they can run in parallel and clean up).
func buildTemplates(cfg TemplateConfig, shared string) ([]Template, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ecsName, netflowName, alertName := shared+"-ecs", shared+"-netflow", shared+"-alert"
	var comps, indices []Template
	files := []struct{ name, file string }{{ecsName, "sluice-ecs.json"}, {netflowName, "sluice-netflow.json"}}
	if cfg.AlertsIndex != "" {
		files = append(files, struct{ name, file string }{alertName, "sluice-alert.json"})
	}
	for _, f := range files {
		raw, err := configs.Templates.ReadFile("templates/" + f.file)
		if err != nil {
			return nil, fmt.Errorf("component template %s: %w", f.name, err)
		}
		body, err := decodeTemplateBody(raw)
		if err != nil {
			return nil, fmt.Errorf("component template %s: configs/templates/%s: %w", f.name, f.file, err)
		}
		t, err := finishTemplate(ComponentTemplate, f.name, body)
		if err != nil {
			return nil, err
		}
		comps = append(comps, t)
	}
	kinds := []struct {
		kind, key, pattern string
		composed           []string
		priority           int
	}{
		{"flows", "output.index.flows", cfg.FlowsIndex, []string{ecsName, netflowName}, templatePriority},
		{"syslog", "output.index.syslog", cfg.SyslogIndex, []string{ecsName}, templatePriority},
	}
	if cfg.AlertsIndex != "" {
		kinds = append(kinds, struct {
			kind, key, pattern string
			composed           []string
			priority           int
		}{"alert", "alerting.index", cfg.AlertsIndex, []string{ecsName, alertName}, templatePriority})
	}
	for _, p := range slices.Compact(slices.Sorted(slices.Values(cfg.SyslogIndices))) {
		if p == cfg.SyslogIndex {
			continue
		}
		kinds = append(kinds, struct {
			kind, key, pattern string
			composed           []string
			priority           int
		}{"syslog", "index of a syslog parser", p, []string{ecsName}, templatePriority + 1})
	}
	for _, k := range kinds {
		w, err := IndexWildcard(k.pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.key, err)
		}
		name := templateName(w)
		settingsName := name + "@settings"
		settings, err := finishTemplate(ComponentTemplate, settingsName, map[string]any{
			"template": map[string]any{"settings": map[string]any{"index": map[string]any{
				"number_of_shards":   cfg.Shards,
				"number_of_replicas": cfg.Replicas,
				"refresh_interval":   cfg.RefreshInterval,
				"mapping":            map[string]any{"total_fields": map[string]any{"limit": templateTotalFieldsLimit}},
			}}},
			"_meta": map[string]any{"description": "Index settings of sluice's " + k.kind + " indices, from output.elasticsearch.template.*"},
		})
		if err != nil {
			return nil, err
		}
		comps = append(comps, settings)
		index, err := finishTemplate(IndexTemplate, name, map[string]any{
			"index_patterns": []string{w},
			"composed_of":    append(k.composed, settingsName),
			"priority":       k.priority,
			"_meta":          map[string]any{"description": "sluice " + k.kind + " indices (" + k.pattern + ")"},
		})
		if err != nil {
			return nil, err
		}
		indices = append(indices, index)
	}
	return append(comps, indices...), nil
}

func decodeTemplateBody(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var body map[string]any
	if err := d.Decode(&body); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("data after the JSON object")
	}
	return body, nil
}

// finishTemplate sets the version and _meta of body and encodes it. The
// hash covers everything else, version included.
func finishTemplate(kind, name string, body map[string]any) (Template, error) {
	body["version"] = TemplateVersion
	meta, _ := body["_meta"].(map[string]any)
	if meta == nil {
		meta = make(map[string]any)
		body["_meta"] = meta
	}
	meta["managed_by"] = "sluice"
	delete(meta, "hash")
	// encoding/json sorts map keys, so equal bodies encode equally.
	b, err := json.Marshal(body)
	if err != nil {
		return Template{}, fmt.Errorf("%s template %s: %w", kind, name, err)
	}
	sum := sha256.Sum256(b)
	meta["hash"] = hex.EncodeToString(sum[:16])
	if b, err = json.Marshal(body); err != nil {
		return Template{}, fmt.Errorf("%s template %s: %w", kind, name, err)
	}
	return Template{Kind: kind, Name: name, Body: b}, nil
}

// templateStamp is what InstallTemplates compares: the version and
// _meta.managed_by/hash of a template.
type templateStamp struct {
	Version *int64 `json:"version"`
	Meta    struct {
		ManagedBy string `json:"managed_by"`
		Hash      string `json:"hash"`
	} `json:"_meta"`
	// Template holds the settings and mappings, for templateChanges.
	Template struct {
		Settings map[string]any  `json:"settings"`
		Mappings json.RawMessage `json:"mappings"`
	} `json:"template"`
}

// TemplateResult is what InstallTemplatesReport did with one template.
type TemplateResult struct {
	Kind, Name string
	// Action is "installed" (new), "updated" (replaced), "unchanged" or
	// "kept" (a newer sluice installed it).
	Action string
	// Changes lists, for "updated", what differs from the template that
	// was there: "index.number_of_shards: 1 -> 3", "mappings", "version: 3 -> 4".
	Changes []string
}

// InstallTemplates installs tpls in order (components before the index
// templates that use them). A template already on the cluster with the same
// version and hash is left as it is (unchanged); one with a higher version
// was installed by a newer sluice and is left too, with a warning; any other
// is created or replaced (installed). It stops at the first error, which
// names the template and carries Elasticsearch's reason. Running it again
// changes nothing, so it is safe at every start.
func InstallTemplates(ctx context.Context, c *elasticsearch.Client, tpls []Template, logger *slog.Logger) (installed, unchanged int, err error) {
	res, err := InstallTemplatesReport(ctx, c, tpls, logger)
	for _, r := range res {
		switch r.Action {
		case "installed", "updated":
			installed++
		default:
			unchanged++
		}
	}
	return installed, unchanged, err
}

// InstallTemplatesReport is InstallTemplates with what it did to each
// template, in order (up to the one that failed).
func InstallTemplatesReport(ctx context.Context, c *elasticsearch.Client, tpls []Template, logger *slog.Logger) ([]TemplateResult, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var out []TemplateResult
	for _, t := range tpls {
		var want templateStamp
		if err := json.Unmarshal(t.Body, &want); err != nil || want.Version == nil {
			return out, fmt.Errorf("%s template %s: body has no version (build it with BuildTemplates): %v", t.Kind, t.Name, err)
		}
		have, found, err := getTemplateStamp(ctx, c, t)
		if err != nil {
			return out, err
		}
		r := TemplateResult{Kind: t.Kind, Name: t.Name}
		log := logger.With("template", t.Name, "kind", t.Kind, "version", *want.Version)
		if found && have.Version != nil && *have.Version > *want.Version {
			log.Warn("a newer sluice installed this template; leaving it", "installed_version", *have.Version)
			r.Action = "kept"
			out = append(out, r)
			continue
		}
		if found && have.Version != nil && *have.Version == *want.Version && have.Meta.Hash == want.Meta.Hash {
			log.Debug("template up to date")
			r.Action = "unchanged"
			out = append(out, r)
			continue
		}
		if found && have.Meta.ManagedBy != "sluice" {
			log.Warn("replacing a template sluice did not install")
		}
		if err := putTemplate(ctx, c, t); err != nil {
			return out, err
		}
		if found {
			r.Action, r.Changes = "updated", templateChanges(have, want)
			log.Info("template updated", "previous_version", versionOrNil(have.Version), "changes", r.Changes)
		} else {
			r.Action = "installed"
			log.Info("template installed")
		}
		out = append(out, r)
	}
	return out, nil
}

// templateChanges lists the settings (flattened to index.x.y, values
// compared as text: Elasticsearch returns numbers as strings), the version
// and whether the mappings differ between have and want.
func templateChanges(have, want templateStamp) []string {
	var out []string
	if v := versionOrNil(have.Version); v != versionOrNil(want.Version) {
		out = append(out, fmt.Sprintf("version: %v -> %v", orNone(v), orNone(versionOrNil(want.Version))))
	}
	h, w := map[string]string{}, map[string]string{}
	flattenSettings("", have.Template.Settings, h)
	flattenSettings("", want.Template.Settings, w)
	keys := make([]string, 0, len(h)+len(w))
	for k := range h {
		keys = append(keys, k)
	}
	for k := range w {
		if _, ok := h[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		hv, hok := h[k]
		wv, wok := w[k]
		if hok && wok && hv == wv {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s -> %s", k, orNone(valueOr(hv, hok)), orNone(valueOr(wv, wok))))
	}
	if !jsonEqual(have.Template.Mappings, want.Template.Mappings) {
		out = append(out, "mappings")
	}
	return out
}

func valueOr(v string, ok bool) any {
	if !ok {
		return nil
	}
	return v
}

func orNone(v any) any {
	if v == nil {
		return "(none)"
	}
	return v
}

// flattenSettings writes m as dotted keys, each under "index." as
// Elasticsearch does ("number_of_shards" and "index.number_of_shards" are
// the same setting).
func flattenSettings(prefix string, m map[string]any, out map[string]string) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flattenSettings(key, sub, out)
			continue
		}
		if !strings.HasPrefix(key, "index.") {
			key = "index." + key
		}
		out[key] = fmt.Sprint(v)
	}
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func versionOrNil(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

// getTemplateStamp fetches the version and _meta of t's namesake on the
// cluster; found is false when there is none.
func getTemplateStamp(ctx context.Context, c *elasticsearch.Client, t Template) (stamp templateStamp, found bool, err error) {
	var res *esapi.Response
	switch t.Kind {
	case ComponentTemplate:
		res, err = c.Cluster.GetComponentTemplate(c.Cluster.GetComponentTemplate.WithContext(ctx),
			c.Cluster.GetComponentTemplate.WithName(t.Name))
	case IndexTemplate:
		res, err = c.Indices.GetIndexTemplate(c.Indices.GetIndexTemplate.WithContext(ctx),
			c.Indices.GetIndexTemplate.WithName(t.Name))
	default:
		return stamp, false, fmt.Errorf("template %s: unknown kind %q", t.Name, t.Kind)
	}
	if err != nil {
		return stamp, false, fmt.Errorf("get %s template %s: %w", t.Kind, t.Name, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, res.Body)
		return stamp, false, nil
	}
	if res.IsError() {
		return stamp, false, fmt.Errorf("get %s template %s: %w", t.Kind, t.Name, templateResponseError(res))
	}
	var got struct {
		Components []struct {
			Name     string        `json:"name"`
			Template templateStamp `json:"component_template"`
		} `json:"component_templates"`
		Indices []struct {
			Name     string        `json:"name"`
			Template templateStamp `json:"index_template"`
		} `json:"index_templates"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		return stamp, false, fmt.Errorf("get %s template %s: decode response: %w", t.Kind, t.Name, err)
	}
	for _, g := range got.Components {
		if g.Name == t.Name {
			return g.Template, true, nil
		}
	}
	for _, g := range got.Indices {
		if g.Name == t.Name {
			return g.Template, true, nil
		}
	}
	return stamp, false, nil
}

func putTemplate(ctx context.Context, c *elasticsearch.Client, t Template) error {
	var res *esapi.Response
	var err error
	switch t.Kind {
	case ComponentTemplate:
		res, err = c.Cluster.PutComponentTemplate(t.Name, bytes.NewReader(t.Body), c.Cluster.PutComponentTemplate.WithContext(ctx))
	case IndexTemplate:
		res, err = c.Indices.PutIndexTemplate(t.Name, bytes.NewReader(t.Body), c.Indices.PutIndexTemplate.WithContext(ctx))
	default:
		return fmt.Errorf("template %s: unknown kind %q", t.Name, t.Kind)
	}
	if err != nil {
		return fmt.Errorf("put %s template %s: %w", t.Kind, t.Name, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("put %s template %s: %w", t.Kind, t.Name, templateResponseError(res))
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return nil
}

// templateResponseError turns an error response into an error with
// Elasticsearch's error type and reason.
func templateResponseError(res *esapi.Response) error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var e struct {
		Error struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	}
	var err error
	switch s := strings.TrimSpace(string(body)); {
	case json.Unmarshal(body, &e) == nil && e.Error.Reason != "":
		err = fmt.Errorf("%s: %s (HTTP %d)", e.Error.Type, e.Error.Reason, res.StatusCode)
	case s != "":
		err = fmt.Errorf("HTTP %d: %s", res.StatusCode, s)
	default:
		err = fmt.Errorf("HTTP %d", res.StatusCode)
	}
	return &StatusError{Status: res.StatusCode, Err: err}
}

// StatusError is an Elasticsearch answer with an HTTP error status.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return e.Err.Error() + " " + credentialsHint
	}
	return e.Err.Error()
}

func (e *StatusError) Unwrap() error { return e.Err }

// credentialsHint is added to 401 and 403 errors.
const credentialsHint = "(check output.elasticsearch.username/password/api_key and the user's index and template privileges)"
