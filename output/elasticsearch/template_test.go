package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/collector/netflow"
	"github.com/sluicelab/sluice/configs"
	"github.com/sluicelab/sluice/internal/estest"
	"github.com/sluicelab/sluice/internal/event"
)

// -update rewrites configs/templates/sluice-netflow.json. The flag is
// registered here only when no other test file of the package did.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func tplUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const netflowTemplateFile = "../../configs/templates/sluice-netflow.json"

// generateNetflowTemplate builds sluice-netflow.json from the IE table.
// Unsigned 64-bit counters are mapped as long: values above 2^63-1 (hashes,
// mostly) are malformed for long and, with ignore_malformed, left out of the
// index but kept in _source instead of failing the whole document. So is a
// value of the wrong length, which the decoder writes as a hex string.
func generateNetflowTemplate() ([]byte, error) {
	tolerant := func(typ string) map[string]any { return map[string]any{"type": typ, "ignore_malformed": true} }
	keyword := map[string]any{"type": "keyword", "ignore_above": 1024}
	props := map[string]any{
		// Written by the encoder itself (internal/event/json.go).
		"type":          keyword,
		"sampling_rate": map[string]any{"type": "long"},
		"exporter": map[string]any{"properties": map[string]any{
			"address":       map[string]any{"type": "ip"},
			"source_id":     map[string]any{"type": "long"},
			"version":       map[string]any{"type": "long"},
			"uptime_millis": map[string]any{"type": "long"},
		}},
	}
	for _, f := range netflow.Fields() {
		if _, dup := props[f.Key]; dup {
			return nil, fmt.Errorf("IE %d: key %q is taken", f.ID, f.Key)
		}
		switch f.Type {
		case event.FieldUint, event.FieldInt:
			props[f.Key] = tolerant("long")
		case event.FieldFloat:
			props[f.Key] = tolerant("double")
		case event.FieldIP:
			props[f.Key] = tolerant("ip")
		case event.FieldTime:
			props[f.Key] = tolerant("date")
		case event.FieldBool:
			props[f.Key] = tolerant("boolean")
		case event.FieldMAC, event.FieldHex, event.FieldString:
			props[f.Key] = keyword
		default:
			return nil, fmt.Errorf("IE %d (%s): no mapping for field type %d", f.ID, f.Key, f.Type)
		}
	}
	dyn := func(name, mmt string, mapping map[string]any) map[string]any {
		return map[string]any{name: map[string]any{"path_match": "netflow.*", "match_mapping_type": mmt, "mapping": mapping}}
	}
	body := map[string]any{
		"_meta": map[string]any{"description": "netflow.* fields of sluice's flow documents. Generated from collector/netflow's IE table by go test ./output/elasticsearch -run TestNetflowTemplate -update; do not edit."},
		"template": map[string]any{"mappings": map[string]any{
			"dynamic_templates": []any{
				// Unknown IEs (ie_<id>, pen_<pen>_<id>) are hex strings.
				dyn("netflow_unknown_strings", "string", keyword),
				dyn("netflow_unknown_longs", "long", map[string]any{"type": "long", "ignore_malformed": true}),
				dyn("netflow_unknown_doubles", "double", map[string]any{"type": "double", "ignore_malformed": true}),
			},
			"properties": map[string]any{"netflow": map[string]any{"properties": props}},
		}},
	}
	b, err := json.MarshalIndent(body, "", "  ")
	return append(b, '\n'), err
}

func TestNetflowTemplate(t *testing.T) {
	want, err := generateNetflowTemplate()
	if err != nil {
		t.Fatalf("generateNetflowTemplate(): %v", err)
	}
	if tplUpdate() {
		if err := os.WriteFile(netflowTemplateFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(netflowTemplateFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(got), string(want)); diff != "" {
		t.Errorf("%s is out of date with the IE table; run go test ./output/elasticsearch -run TestNetflowTemplate -update (-file +generated):\n%s", filepath.Base(netflowTemplateFile), diff)
	}
	// The embedded copy is compiled in; after -update it is the old one.
	embedded, err := configs.Templates.ReadFile("templates/sluice-netflow.json")
	if !tplUpdate() && (err != nil || !bytes.Equal(embedded, got)) {
		t.Errorf("configs.Templates does not hold %s (err %v)", netflowTemplateFile, err)
	}
}

func TestIndexWildcard(t *testing.T) {
	tests := []struct {
		pattern, want string
		wantErr       string
	}{
		{pattern: "sluice-flows-%{+yyyy.MM.dd}", want: "sluice-flows-*"},
		{pattern: "sluice-%{+yyyy}.%{+MM}.%{+dd}-flows", want: "sluice-*.*.*-flows"},
		{pattern: "%{+yyyy.MM.dd}-flows", want: "*-flows"},
		{pattern: "flows%{+yyyy}%{+MM}", want: "flows*"},
		{pattern: "%{+yyyy.MM.dd}", wantErr: "no fixed name"},
		{pattern: "%{+yyyy}-%{+MM}", wantErr: "no fixed name"},
		{pattern: "sluice-flows", wantErr: "has no date"},
		{pattern: "", wantErr: "empty"},
		{pattern: "Sluice-%{+yyyy}", wantErr: "lowercase"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			got, err := IndexWildcard(tc.pattern)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("IndexWildcard(%q) = %q, %v; want error containing %q", tc.pattern, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("IndexWildcard(%q) = %q, %v; want %q", tc.pattern, got, err, tc.want)
			}
		})
	}
}

func TestGlobsOverlap(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"sluice-flows-*", "sluice-syslog-*", false},
		{"sluice-*", "sluice-syslog-*", true},
		{"*-flows", "sluice-*", true},
		{"*-flows", "*-syslog", false},
		{"a*b", "ab", true},
		{"a*b", "a", false},
		{"x-*-y", "x-*-z", false},
		{"*", "anything", true},
		{"flows-*", "flows-*", true},
	}
	for _, tc := range tests {
		if got := globsOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("globsOverlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := globsOverlap(tc.b, tc.a); got != tc.want {
			t.Errorf("globsOverlap(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestTemplateConfigValidate(t *testing.T) {
	if err := DefaultTemplateConfig().Validate(); err != nil {
		t.Fatalf("DefaultTemplateConfig().Validate() = %v", err)
	}
	tests := []struct {
		name    string
		mod     func(*TemplateConfig)
		wantErr []string // substrings, all required
	}{
		{"zero shards", func(c *TemplateConfig) { c.Shards = 0 }, []string{"output.elasticsearch.template.shards: 0", "1..1024"}},
		{"negative replicas", func(c *TemplateConfig) { c.Replicas = -1 }, []string{"output.elasticsearch.template.replicas: -1"}},
		{"go duration", func(c *TemplateConfig) { c.RefreshInterval = "1m30s" }, []string{"output.elasticsearch.template.refresh_interval: \"1m30s\"", "-1"}},
		{"zero refresh", func(c *TemplateConfig) { c.RefreshInterval = "0s" }, []string{"refresh_interval: \"0s\""}},
		{"fraction", func(c *TemplateConfig) { c.RefreshInterval = "1.5s" }, []string{"refresh_interval"}},
		{"empty refresh", func(c *TemplateConfig) { c.RefreshInterval = "" }, []string{"refresh_interval: \"\""}},
		{"all wildcard", func(c *TemplateConfig) { c.FlowsIndex = "%{+yyyy.MM.dd}" }, []string{"output.index.flows:", "no fixed name"}},
		{"overlap", func(c *TemplateConfig) { c.FlowsIndex = "sluice-%{+yyyy.MM.dd}" }, []string{"output.index.syslog:", "overlaps sluice-*"}},
		{"same name", func(c *TemplateConfig) { c.SyslogIndex = "sluice-flows-%{+yyyy}" }, []string{"output.index.syslog:", "overlaps"}},
		{"several", func(c *TemplateConfig) { c.Shards, c.RefreshInterval = 2000, "soon" }, []string{"shards: 2000", "refresh_interval: \"soon\""}},
		{"parser indices overlap", func(c *TemplateConfig) {
			c.SyslogIndices = []string{"sluice-meraki-%{+yyyy.MM.dd}", "sluice-f5-%{+yyyy}", "sluice-meraki-%{+yyyy}"}
		}, []string{"index sluice-meraki-%{+yyyy} of a syslog parser or route", "overlaps sluice-meraki-*"}},
		{"parser index named like a default", func(c *TemplateConfig) { c.SyslogIndices = []string{"sluice-flows-%{+yyyy}"} }, []string{"named sluice-flows like that of output.index"}},
		{"parser index without a name", func(c *TemplateConfig) { c.SyslogIndices = []string{"%{+yyyy}"} }, []string{"no fixed name"}},
		{"alerts inside syslog", func(c *TemplateConfig) { c.AlertsIndex = "sluice-syslog-alerts-%{+yyyy.MM.dd}" }, []string{"alerting.index:", "overlaps sluice-syslog-*"}},
		{"alerts without a name", func(c *TemplateConfig) { c.AlertsIndex = "%{+yyyy}" }, []string{"alerting.index:", "no fixed name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultTemplateConfig()
			tc.mod(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
	for _, ok := range []string{"1s", "100ms", "30s", "2m", "-1", "500micros"} {
		c := DefaultTemplateConfig()
		c.RefreshInterval = ok
		if err := c.Validate(); err != nil {
			t.Errorf("Validate() with refresh_interval %q = %v, want nil", ok, err)
		}
	}
}

// tplBody decodes a template body.
func tplBody(t *testing.T, tpl Template) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(tpl.Body, &m); err != nil {
		t.Fatalf("template %s: %v", tpl.Name, err)
	}
	return m
}

func tplByName(t *testing.T, tpls []Template, name string) Template {
	t.Helper()
	for _, tpl := range tpls {
		if tpl.Name == name {
			return tpl
		}
	}
	t.Fatalf("no template %s", name)
	return Template{}
}

func TestBuildTemplates(t *testing.T) {
	tpls, err := BuildTemplates(DefaultTemplateConfig())
	if err != nil {
		t.Fatalf("BuildTemplates() = %v", err)
	}
	var order []string
	for _, tpl := range tpls {
		order = append(order, tpl.Kind+":"+tpl.Name)
	}
	wantOrder := []string{"component:sluice-ecs", "component:sluice-netflow", "component:sluice-flows@settings",
		"component:sluice-syslog@settings", "index:sluice-flows", "index:sluice-syslog"}
	if diff := cmp.Diff(order, wantOrder); diff != "" {
		t.Fatalf("BuildTemplates() order (-got +want):\n%s", diff)
	}
	for _, tpl := range tpls {
		m := tplBody(t, tpl)
		if m["version"] != float64(TemplateVersion) {
			t.Errorf("%s: version = %v, want %d", tpl.Name, m["version"], TemplateVersion)
		}
		meta, _ := m["_meta"].(map[string]any)
		if meta["managed_by"] != "sluice" {
			t.Errorf("%s: _meta.managed_by = %v", tpl.Name, meta["managed_by"])
		}
		// The hash is of the body without it.
		hash, _ := meta["hash"].(string)
		delete(meta, "hash")
		again, err := finishTemplate(tpl.Kind, tpl.Name, m)
		if err != nil || !bytes.Equal(again.Body, tpl.Body) || len(hash) != 32 {
			t.Errorf("%s: _meta.hash %q does not match its body (err %v)", tpl.Name, hash, err)
		}
	}
	flows := tplBody(t, tplByName(t, tpls, "sluice-flows"))
	wantFlows := map[string]any{
		"index_patterns": []any{"sluice-flows-*"},
		"composed_of":    []any{"sluice-ecs", "sluice-netflow", "sluice-flows@settings"},
		"priority":       float64(200),
	}
	for k, v := range wantFlows {
		if diff := cmp.Diff(flows[k], v); diff != "" {
			t.Errorf("sluice-flows %s (-got +want):\n%s", k, diff)
		}
	}
	syslog := tplBody(t, tplByName(t, tpls, "sluice-syslog"))
	if diff := cmp.Diff(syslog["composed_of"], []any{"sluice-ecs", "sluice-syslog@settings"}); diff != "" {
		t.Errorf("sluice-syslog composed_of (-got +want):\n%s", diff)
	}
	settings := tplBody(t, tplByName(t, tpls, "sluice-flows@settings"))["template"].(map[string]any)["settings"].(map[string]any)["index"].(map[string]any)
	if settings["number_of_shards"] != float64(1) || settings["number_of_replicas"] != float64(0) || settings["refresh_interval"] != "5s" {
		t.Errorf("sluice-flows@settings index settings = %v", settings)
	}

	// Building twice gives the same bytes; each setting changes exactly the
	// two settings components.
	same, _ := BuildTemplates(DefaultTemplateConfig())
	if diff := cmp.Diff(same, tpls); diff != "" {
		t.Errorf("BuildTemplates() is not deterministic (-again +first):\n%s", diff)
	}
	for _, mod := range []func(*TemplateConfig){
		func(c *TemplateConfig) { c.Shards = 2 },
		func(c *TemplateConfig) { c.Replicas = 1 },
		func(c *TemplateConfig) { c.RefreshInterval = "30s" },
	} {
		c := DefaultTemplateConfig()
		mod(&c)
		changed, err := BuildTemplates(c)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for i := range tpls {
			if !bytes.Equal(changed[i].Body, tpls[i].Body) {
				names = append(names, changed[i].Name)
			}
		}
		if diff := cmp.Diff(names, []string{"sluice-flows@settings", "sluice-syslog@settings"}); diff != "" {
			t.Errorf("BuildTemplates(%+v) changed templates (-got +want):\n%s", c, diff)
		}
	}

	// Other patterns name their own templates.
	c := DefaultTemplateConfig()
	c.FlowsIndex, c.SyslogIndex = "%{+yyyy.MM.dd}-acme-netflow", "%{+yyyy.MM}-acme-logs"
	other, err := BuildTemplates(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := tplBody(t, tplByName(t, other, "acme-logs"))["index_patterns"]; !reflect.DeepEqual(got, []any{"*-acme-logs"}) {
		t.Errorf("acme-logs index_patterns = %v", got)
	}
	tplByName(t, other, "acme-netflow@settings")

	c.FlowsIndex = "x-%{+yyyy}%{+MM}"
	c.SyslogIndex = "x-%{+yyyy}"
	if _, err := BuildTemplates(c); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("BuildTemplates(overlapping patterns) = %v, want an overlap error", err)
	}
	if _, err := BuildTemplates(TemplateConfig{Shards: 1, RefreshInterval: "1s"}); err == nil || !strings.Contains(err.Error(), "output.index.flows") {
		t.Errorf("BuildTemplates(no patterns) = %v, want an output.index.flows error", err)
	}
}

// Mapping resolution: what an index created from the templates maps a path
// to, evaluated offline the way Elasticsearch does it for these templates.

type tplMappings struct {
	leaves   map[string]map[string]any // explicit field path -> its mapping
	dynamic  []tplDynamic
	settings map[string]any
}

type tplDynamic struct {
	name    string
	def     map[string]any
	mapping map[string]any
}

// tplMerge merges the component templates an index template is composed of,
// in order, as Elasticsearch does: later properties win, dynamic templates
// are concatenated.
func tplMerge(t *testing.T, tpls []Template, index string) tplMappings {
	t.Helper()
	m := tplMappings{leaves: make(map[string]map[string]any)}
	for _, c := range tplBody(t, tplByName(t, tpls, index))["composed_of"].([]any) {
		tmpl, _ := tplBody(t, tplByName(t, tpls, c.(string)))["template"].(map[string]any)
		if s, ok := tmpl["settings"].(map[string]any); ok {
			m.settings = s
		}
		mappings, _ := tmpl["mappings"].(map[string]any)
		if mappings == nil {
			continue
		}
		for _, d := range tplSlice(mappings["dynamic_templates"]) {
			for name, def := range d.(map[string]any) {
				def := def.(map[string]any)
				m.dynamic = slices.DeleteFunc(m.dynamic, func(x tplDynamic) bool { return x.name == name })
				m.dynamic = append(m.dynamic, tplDynamic{name: name, def: def, mapping: def["mapping"].(map[string]any)})
			}
		}
		if props, ok := mappings["properties"].(map[string]any); ok {
			tplWalkProps(props, "", m.leaves)
		}
	}
	return m
}

func tplSlice(v any) []any { s, _ := v.([]any); return s }

func tplWalkProps(props map[string]any, prefix string, out map[string]map[string]any) {
	for name, v := range props {
		f := v.(map[string]any)
		if sub, ok := f["properties"].(map[string]any); ok {
			tplWalkProps(sub, prefix+name+".", out)
			continue
		}
		out[prefix+name] = f
	}
}

// tplGlob matches Elasticsearch's simple wildcard patterns (* only) against
// a path, which has no *.
func tplGlob(pattern, path string) bool { return globsOverlap(pattern, path) }

type tplResolved struct {
	typ      string
	explicit bool
	dynamic  string // name of the dynamic template that applied
	// flattened is the path of the flattened field path lies in (its
	// leaves are keywords whatever they hold).
	flattened string
}

// resolve returns the type path gets for a JSON value of kind (string, long,
// double, boolean, geo). Without a matching dynamic template a string would
// become text, a number long or float (date and numeric detection are off).
func (m tplMappings) resolve(path, kind string) tplResolved {
	if f, ok := m.leaves[path]; ok {
		return tplResolved{typ: f["type"].(string), explicit: true}
	}
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if f, ok := m.leaves[path[:i]]; ok && f["type"] == "flattened" {
			return tplResolved{typ: "keyword", explicit: true, flattened: path[:i]}
		}
	}
	last := path[strings.LastIndexByte(path, '.')+1:]
	for _, d := range m.dynamic {
		if mmt, ok := d.def["match_mapping_type"].(string); ok && mmt != "*" && mmt != kind {
			continue
		}
		if p, ok := d.def["path_match"].(string); ok && !tplGlob(p, path) {
			continue
		}
		if p, ok := d.def["path_unmatch"].(string); ok && tplGlob(p, path) {
			continue
		}
		if p, ok := d.def["match"].(string); ok && !tplGlob(p, last) {
			continue
		}
		if p, ok := d.def["unmatch"].(string); ok && tplGlob(p, last) {
			continue
		}
		return tplResolved{typ: d.mapping["type"].(string), dynamic: d.name}
	}
	switch kind {
	case "string":
		return tplResolved{typ: "text"}
	case "double":
		return tplResolved{typ: "float"}
	}
	return tplResolved{typ: kind}
}

// tplLeaf is one value of a flattened document.
type tplLeaf struct {
	kind string // string, long, double, boolean, geo
	s    string
}

// tplFlatten returns the dotted paths of doc's values. Objects with just lat
// and lon are geo points; array elements share their array's path.
func tplFlatten(t *testing.T, doc []byte) map[string][]tplLeaf {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	out := make(map[string][]tplLeaf)
	var walk func(prefix string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, lat := v["lat"]; lat && len(v) == 2 {
				if _, lon := v["lon"]; lon {
					out[path] = append(out[path], tplLeaf{kind: "geo"})
					return
				}
			}
			for k, x := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x)
			}
		case []any:
			for _, x := range v {
				walk(path, x)
			}
		case json.Number:
			kind := "long"
			if strings.ContainsAny(string(v), ".eE") {
				kind = "double"
			}
			out[path] = append(out[path], tplLeaf{kind: kind, s: string(v)})
		case string:
			out[path] = append(out[path], tplLeaf{kind: "string", s: v})
		case bool:
			out[path] = append(out[path], tplLeaf{kind: "boolean"})
		case nil:
		default:
			t.Fatalf("%s: unexpected %T", path, v)
		}
	}
	walk("", v)
	return out
}

// tplWantType is the type a value must be indexed as, judged from the value
// alone: addresses ip, times date, numbers long (or double for fractions),
// message text and every other string keyword.
func tplWantType(path string, l tplLeaf) string {
	switch l.kind {
	case "string":
		if path == "message" {
			return "text"
		}
		if path == "dns.answers.data" {
			return "keyword" // an address, a name or text, by record type
		}
		if _, err := netip.ParseAddr(l.s); err == nil {
			return "ip"
		}
		if _, err := time.Parse(time.RFC3339Nano, l.s); err == nil {
			return "date"
		}
		return "keyword"
	case "geo":
		return "geo_point"
	}
	return l.kind
}

var tplTime = time.Date(2026, 11, 24, 3, 22, 9, 123e6, time.UTC)

// tplUnknownNetflow are netflow keys outside the IE table; the dynamic
// templates must map them.
var tplUnknownNetflow = map[string]event.Field{
	"ie_999":       {Type: event.FieldHex, B: []byte{1, 2}},
	"pen_9_12235":  {Type: event.FieldHex, B: []byte{3, 4, 5}},
	"vendor_note":  {Type: event.FieldString, S: "hello"},
	"vendor_count": {Type: event.FieldUint, U: 5},
	"vendor_ratio": {Type: event.FieldFloat, U: math.Float64bits(0.25)},
}

// tplKitchenSinkFlow returns a flow with every field set and one netflow
// field per IE, plus the unknown ones.
func tplKitchenSinkFlow(t *testing.T) *event.Event {
	t.Helper()
	e := &event.Event{
		Kind:      event.KindFlow,
		Timestamp: tplTime,
		Created:   tplTime.Add(time.Second),
		Observer:  netip.MustParseAddr("192.0.2.1"),
		Src: event.Endpoint{IP: netip.MustParseAddr("198.51.100.7"), Port: 51000, Bytes: 100, Packets: 2, MAC: [6]byte{0, 1, 2, 3, 4, 5}, HasMAC: true,
			Geo: tplGeo, Locality: event.LocalityExternal, HasBytes: true, HasPackets: true},
		Dst: event.Endpoint{IP: netip.MustParseAddr("203.0.113.5"), Port: 443, Bytes: 200, Packets: 3, MAC: [6]byte{6, 7, 8, 9, 10, 11}, HasMAC: true,
			Geo: tplGeo, Locality: event.LocalityInternal, HasBytes: true, HasPackets: true},
		Direction: event.DirectionInbound,
		Flow: event.Flow{Protocol: 6, HasProtocol: true, Bytes: 300, Packets: 5, SamplingRate: 10,
			Start: tplTime.Add(-2 * time.Second), End: tplTime.Add(-time.Second), Version: 10, SourceID: 7,
			UptimeMillis: 123456, HasUptime: true, SFlow: true, HasBytes: true, HasPackets: true,
			ICMPType: 3, ICMPCode: 1, HasICMP: true, // a TCP flow has none: here only to cover icmp.*
			UnsanctionedDNS: true}, // enrich/dnscheck: only for flows to port 53/853
		Tags: ^event.Tags(0),
	}
	e.OriginalTimestamp = tplTime.Add(-100 * 365 * 24 * time.Hour)
	for _, f := range netflow.Fields() {
		fl := event.Field{Key: f.Key, Type: f.Type}
		switch f.Type {
		case event.FieldUint:
			fl.U = 42
		case event.FieldInt:
			fl.U = uint64(math.MaxUint64 - 6) // -7
		case event.FieldFloat:
			fl.U = math.Float64bits(1.5)
		case event.FieldIP:
			fl.IP = netip.MustParseAddr("2001:db8::9")
		case event.FieldTime:
			fl.U = uint64(tplTime.UnixNano())
		case event.FieldBool:
			fl.U = 1
		case event.FieldMAC:
			fl.B = []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
		case event.FieldHex:
			fl.B = []byte{0x0a, 0x0b}
		case event.FieldString:
			fl.S = "eth0"
		default:
			t.Fatalf("IE %d %s: unknown field type %d", f.ID, f.Key, f.Type)
		}
		e.AddField(fl)
	}
	keys := make([]string, 0, len(tplUnknownNetflow))
	for k := range tplUnknownNetflow {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := tplUnknownNetflow[k]
		f.Key = k
		e.AddField(f)
	}
	// A new Event, Flow or Endpoint field must be set here, so that the
	// coverage test sees what it writes.
	tplRequireSet(t, reflect.ValueOf(*e), "Event", map[string]bool{"Event.KeysChecked": true,
		"Event.Syslog": true, "Event.Fields": true, // syslog only: tplKitchenSinkSyslog
		"Event.Index": true, "Event.Listener": true, // pick the index and parser, not written
		"Event.Raw": true}) // alert documents: written as they are, in an index of their own
	return e
}

func tplRequireSet(t *testing.T, v reflect.Value, name string, exempt map[string]bool) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, path := v.Field(i), name+"."+v.Type().Field(i).Name
		if exempt[path] || !v.Type().Field(i).IsExported() {
			continue
		}
		if f.IsZero() {
			t.Errorf("kitchen-sink flow: %s is not set; set it so the template coverage test sees it", path)
			continue
		}
		switch f.Type() {
		case reflect.TypeOf(event.Flow{}), reflect.TypeOf(event.Endpoint{}), reflect.TypeOf(event.Syslog{}):
			tplRequireSet(t, f, path, exempt)
		case reflect.TypeOf(&event.Geo{}):
			tplRequireSet(t, f.Elem(), path, exempt)
		}
	}
}

// tplGeo has every GeoIP value set, rendered as the GeoIP cache does.
var tplGeo = func() *event.Geo {
	g := &event.Geo{CountryISO: "SE", CountryName: "Sweden", ContinentCode: "EU", RegionISO: "SE-AB", RegionName: "Stockholm",
		CityName: "Stockholm", Lat: 59.33, Lon: 18.06, HasLocation: true, ASN: 64500, ASOrg: "Example AB"}
	g.Render()
	return g
}()

func tplKitchenSinkSyslog(t *testing.T) *event.Event {
	e := &event.Event{Kind: event.KindSyslog, Timestamp: tplTime, Created: tplTime.Add(time.Second),
		Observer: netip.MustParseAddr("192.0.2.2"), Tags: event.TagHeaderFailure,
		Syslog: event.Syslog{Priority: 134, HasPriority: true, Hostname: "MX84_HQ", AppName: "flows", ProcID: "a-12",
			MsgID: "ID47", Message: "allow src=192.168.1.10:51514", Original: "<134>1 ...", Dataset: "meraki.flows"},
		Src:       event.Endpoint{IP: netip.MustParseAddr("192.168.1.10"), Port: 51514, Bytes: 10, Packets: 1, Locality: event.LocalityInternal},
		Dst:       event.Endpoint{IP: netip.MustParseAddr("93.184.216.34"), Port: 443, Bytes: 20, Packets: 2, Geo: tplGeo, Locality: event.LocalityExternal},
		Direction: event.DirectionOutbound,
	}
	e.OriginalTimestamp = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	e.Flow.Protocol, e.Flow.HasProtocol = 6, true
	e.AddParsed(event.Field{Key: "event.action", Type: event.FieldString, S: "allow"})
	// RFC 5424 structured data, as the syslog decoder adds it.
	e.AddParsed(event.Field{Key: "log.syslog.structured_data.exampleSDID@32473.iut", Type: event.FieldString, S: "3"})
	tplRequireSet(t, reflect.ValueOf(e.Syslog), "Event.Syslog", nil)
	return e
}

// tplFutureDoc has the fields the syslog, vendor and geo stages will write,
// as the templates expect them.
func tplFutureDoc(t *testing.T) []byte {
	t.Helper()
	geo := func(city string) map[string]any {
		return map[string]any{"country_iso_code": "SE", "country_name": "Sweden", "continent_code": "EU",
			"region_iso_code": "SE-AB", "region_name": "Stockholm", "city_name": city,
			"location": map[string]any{"lat": 59.33, "lon": 18.06}}
	}
	endpoint := func(ip string) map[string]any {
		return map[string]any{"ip": ip, "port": 4242, "bytes": 10, "packets": 1, "mac": "00-01-02-03-04-05",
			"geo": geo("Stockholm"), "as": map[string]any{"number": 64500, "organization": map[string]any{"name": "Example AB"}}}
	}
	src, dst := endpoint("198.51.100.7"), endpoint("203.0.113.5")
	src["locality"], dst["locality"] = "external", "internal"
	// NAT addresses, as the firewall parsers write them.
	src["nat"] = map[string]any{"ip": "192.0.2.77", "port": 40000}
	dst["nat"] = map[string]any{"ip": "10.0.0.5", "port": 8443}
	doc := map[string]any{
		"@timestamp": "2026-11-24T03:22:09.123Z",
		"message":    "Failed password for alice from 198.51.100.7 port 4242 ssh2",
		"event": map[string]any{"original": "<38>Nov 24 03:22:09 fw1 sshd[1234]: Failed password", "action": "ssh_login",
			"outcome": "failure", "severity": 5, "kind": "event", "category": []string{"authentication"}, "type": []string{"start"},
			"module": "sluice", "dataset": "sluice.syslog", "created": "2026-11-24T03:22:10Z", "start": "2026-11-24T03:22:09Z",
			"end": "2026-11-24T03:22:09Z", "duration": 1000},
		"log": map[string]any{"syslog": map[string]any{"priority": 38, "facility": map[string]any{"code": 4, "name": "auth"},
			"severity": map[string]any{"code": 6, "name": "info"}}},
		"host":        map[string]any{"hostname": "fw1"},
		"process":     map[string]any{"name": "sshd", "pid": 1234},
		"http":        map[string]any{"request": map[string]any{"method": "POST"}, "response": map[string]any{"status_code": 403}},
		"url":         map[string]any{"path": "/login", "original": "https://fw1.example/login?next=/"},
		"rule":        map[string]any{"name": "block-ssh", "id": "r-17"},
		"user":        map[string]any{"name": "alice"},
		"network":     map[string]any{"transport": "tcp", "direction": "inbound", "iana_number": "6", "type": "ipv4", "community_id": "1:abc=", "bytes": 10, "packets": 1},
		"observer":    map[string]any{"ip": "192.0.2.1", "geo": geo("Kista"), "ingress": map[string]any{"interface": map[string]any{"name": "eth0"}}, "egress": map[string]any{"interface": map[string]any{"name": "eth1"}}},
		"source":      src,
		"destination": dst,
		"client":      endpoint("198.51.100.7"),
		"server":      endpoint("203.0.113.5"),
		"related":     map[string]any{"ip": []string{"198.51.100.7", "203.0.113.5"}},
		"flow":        map[string]any{"id": "AbCd"},
		"tags":        []string{"_grokparsefailure"},
		"ecs":         map[string]any{"version": event.ECSVersion},
		// DNS events (resolver query logs) and the DNS checks (enrich/dnscheck).
		"dns": map[string]any{"question": map[string]any{"name": "www.example.co.uk", "type": "A", "class": "IN",
			"registered_domain": "example.co.uk", "subdomain": "www", "top_level_domain": "co.uk"},
			"resolved_ip": "93.184.216.34", "response_code": "NOERROR", "type": "answer"},
		"threat": map[string]any{"enrichments": map[string]any{"indicator": map[string]any{"provider": "ads", "type": "domain-name"},
			"matched": map[string]any{"atomic": "example.co.uk", "field": "dns.question.name", "type": "indicator_match_rule"}}},
		"sluice": map[string]any{"dns": map[string]any{"question": map[string]any{"unicode_name": "bücher.example"},
			"entropy": 2.5, "dga_score": 12, "name_length": 17, "max_label_length": 7, "encoded_label": true,
			"unusual_type": true, "unsanctioned_resolver": true, "nxdomain_burst": true, "tunnel_suspect": true,
			"new_domain": true, "lookalike": "example.com", "lookalike_kind": "typo", "blocklist": "ads",
			"score": 100, "reasons": "blocklist lookalike", "score_band": "70+",
			"resolved_country_iso_code": []string{"US", "SE"}, "resolved_as_number": []int{15133, 29518},
			"resolved_as_organization": []string{"Edgecast", "Bredband2 AB"}}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tplDoc is a document and the index template its index uses.
type tplDoc struct {
	name, index string
	json        []byte
}

func tplDocs(t *testing.T, flowsTemplate, syslogTemplate string) []tplDoc {
	return []tplDoc{
		{"flow", flowsTemplate, tplKitchenSinkFlow(t).AppendJSON(nil)},
		{"syslog", syslogTemplate, tplKitchenSinkSyslog(t).AppendJSON(nil)},
		{"future", syslogTemplate, tplFutureDoc(t)},
		{"dns", syslogTemplate, tplKitchenSinkDNS().AppendJSON(nil)},
	}
}

// tplKitchenSinkDNS is a DNS transaction with every field passive capture
// (collector/dnscap) writes; its index (output.index.dns) gets the ECS
// template as the syslog indices do.
func tplKitchenSinkDNS() *event.Event {
	e := &event.Event{Kind: event.KindDNS, Timestamp: tplTime, Created: tplTime.Add(time.Second),
		Src:    event.Endpoint{IP: netip.MustParseAddr("192.168.1.10"), Port: 51514, Bytes: 40, Locality: event.LocalityInternal},
		Dst:    event.Endpoint{IP: netip.MustParseAddr("192.168.1.53"), Port: 53, Bytes: 90, Locality: event.LocalityInternal},
		Syslog: event.Syslog{Dataset: "sluice.dns"}}
	e.Flow.Protocol, e.Flow.HasProtocol = 17, true
	str := func(k, v string) { e.AddParsed(event.Field{Key: k, Type: event.FieldString, S: v}) }
	num := func(k string, v uint64) { e.AddParsed(event.Field{Key: k, Type: event.FieldUint, U: v}) }
	str("event.category", "network")
	str("event.type", "protocol")
	str("event.outcome", "unknown")
	str("error.message", "no response within dns.capture.timeout")
	str("network.protocol", "dns")
	str("observer.ingress.interface.name", "eth0")
	num("dns.id", 4242)
	str("dns.op_code", "QUERY")
	str("dns.question.name", "www.example.com")
	str("dns.question.type", "A")
	str("dns.question.class", "IN")
	str("dns.type", "answer")
	str("dns.response_code", "NOERROR")
	num("event.duration", 1500000)
	str("dns.header_flags", "RD")
	str("dns.header_flags", "RA")
	num("dns.answers_count", 2)
	num("dns.authorities_count", 0)
	num("dns.additionals_count", 1)
	for _, ip := range []string{"93.184.216.34", "2606:2800:220:1::1"} {
		e.AddParsed(event.Field{Key: "dns.answers", Type: event.FieldJSON,
			B: []byte(`{"name":"www.example.com","type":"A","class":"IN","ttl":300,"data":"` + ip + `"}`)})
		e.AddParsed(event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: netip.MustParseAddr(ip)})
	}
	num("dns.opt.udp_size", 1232)
	num("dns.opt.version", 0)
	e.AddParsed(event.Field{Key: "dns.opt.do", Type: event.FieldBool, U: 1})
	return e
}

// TestTemplateMappingCoverage checks that every path the encoder writes (and
// the fields announced for syslog and geo) is mapped explicitly, or for
// unknown netflow fields by a dynamic template, with the type its value
// calls for; and that every explicit mapping is used.
func TestTemplateMappingCoverage(t *testing.T) {
	tpls, err := BuildTemplates(DefaultTemplateConfig())
	if err != nil {
		t.Fatal(err)
	}
	merged := map[string]tplMappings{"sluice-flows": tplMerge(t, tpls, "sluice-flows"), "sluice-syslog": tplMerge(t, tpls, "sluice-syslog")}
	used := make(map[string]bool)
	for _, d := range tplDocs(t, "sluice-flows", "sluice-syslog") {
		m := merged[d.index]
		for path, leaves := range tplFlatten(t, d.json) {
			used[path] = true
			for _, l := range leaves {
				r := m.resolve(path, l.kind)
				_, unknown := tplUnknownNetflow[strings.TrimPrefix(path, "netflow.")]
				switch {
				case unknown && (r.explicit || r.dynamic == ""):
					t.Errorf("%s doc: %s should be mapped by a netflow dynamic template, got %+v", d.name, path, r)
				case !unknown && !r.explicit:
					t.Errorf("%s doc: %s (%s %q) has no explicit mapping in %s (resolves to %+v)", d.name, path, l.kind, l.s, d.index, r)
				}
				if r.flattened != "" {
					used[r.flattened] = true
					continue
				}
				if want := tplWantType(path, l); r.typ != want {
					t.Errorf("%s doc: %s = %s %q is mapped as %s, want %s", d.name, path, l.kind, l.s, r.typ, want)
				}
			}
		}
	}
	for _, f := range netflow.Fields() {
		if !used["netflow."+f.Key] {
			t.Errorf("the encoder did not write IE %d as netflow.%s", f.ID, f.Key)
		}
	}
	for index, m := range merged {
		for path, f := range m.leaves {
			if !used[path] {
				t.Errorf("%s maps %s, which no test document has; add it to the kitchen-sink or future document, or drop the mapping", index, path)
			}
			if f["type"] == "text" && path != "message" {
				t.Errorf("%s maps %s as text; only message is text", index, path)
			}
		}
		for _, d := range m.dynamic {
			if d.mapping["type"] == "text" {
				t.Errorf("%s: dynamic template %s maps to text", index, d.name)
			}
		}
		if orig := m.leaves["event.original"]; orig["index"] != false || orig["doc_values"] != false {
			t.Errorf("%s: event.original = %v, want index and doc_values false", index, orig)
		}
	}
}

// Tests against a real node.

func tplClient(t *testing.T) *elasticsearch.Client {
	t.Helper()
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{estest.URL(t)}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tplSetup returns a config whose templates and indices have a prefix of
// their own, so tests can share a node, and removes them (the indices of
// tplTime's day) when the test ends.
func tplSetup(t *testing.T, c *elasticsearch.Client, mod func(*TemplateConfig)) (prefix string, cfg TemplateConfig, build func(TemplateConfig) []Template) {
	t.Helper()
	prefix = fmt.Sprintf("sluicetest-%x", rand.Uint64())
	cfg = DefaultTemplateConfig()
	cfg.FlowsIndex = prefix + "-flows-%{+yyyy.MM.dd}"
	cfg.SyslogIndex = prefix + "-syslog-%{+yyyy.MM.dd}"
	if mod != nil {
		mod(&cfg)
	}
	build = func(cfg TemplateConfig) []Template {
		t.Helper()
		tpls, err := buildTemplates(cfg, prefix)
		if err != nil {
			t.Fatalf("buildTemplates() = %v", err)
		}
		return tpls
	}
	tpls := build(cfg)
	t.Cleanup(func() {
		ctx := context.Background()
		// Exact names: wildcards need action.destructive_requires_name=false.
		res, err := c.Indices.Delete([]string{prefix + "-flows-2026.11.24", prefix + "-syslog-2026.11.24"}, c.Indices.Delete.WithContext(ctx),
			c.Indices.Delete.WithIgnoreUnavailable(true), c.Indices.Delete.WithAllowNoIndices(true))
		tplClose(t, "delete indices", res, err)
		for i := len(tpls) - 1; i >= 0; i-- {
			tpl := tpls[i]
			if tpl.Kind == IndexTemplate {
				res, err = c.Indices.DeleteIndexTemplate(tpl.Name, c.Indices.DeleteIndexTemplate.WithContext(ctx))
			} else {
				res, err = c.Cluster.DeleteComponentTemplate(tpl.Name, c.Cluster.DeleteComponentTemplate.WithContext(ctx))
			}
			tplClose(t, "delete "+tpl.Name, res, err)
		}
	})
	return prefix, cfg, build
}

// tplClose checks a cleanup request; a missing template or index is fine.
func tplClose(t *testing.T, what string, res *esapi.Response, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	defer res.Body.Close()
	if res.IsError() && res.StatusCode != http.StatusNotFound {
		t.Errorf("%s: %s", what, res.String())
	}
}

// tplGet GETs path and decodes the JSON answer.
func tplGet(t *testing.T, c *elasticsearch.Client, path string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Perform(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d, %v %v", path, res.StatusCode, m, err)
	}
	return m
}

func TestInstallTemplates(t *testing.T) {
	c := tplClient(t)
	ctx := context.Background()
	prefix, cfg, build := tplSetup(t, c, nil)
	tpls := build(cfg)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	installed, unchanged, err := InstallTemplates(ctx, c, tpls, logger)
	if err != nil || installed != len(tpls) || unchanged != 0 {
		t.Fatalf("first InstallTemplates() = %d, %d, %v; want %d, 0, nil", installed, unchanged, err, len(tpls))
	}
	installed, unchanged, err = InstallTemplates(ctx, c, tpls, logger)
	if err != nil || installed != 0 || unchanged != len(tpls) {
		t.Fatalf("second InstallTemplates() = %d, %d, %v; want 0, %d, nil", installed, unchanged, err, len(tpls))
	}

	// A new refresh interval updates the two settings components.
	cfg.RefreshInterval = "30s"
	tpls = build(cfg)
	installed, unchanged, err = InstallTemplates(ctx, c, tpls, logger)
	if err != nil || installed != 2 || unchanged != len(tpls)-2 {
		t.Fatalf("InstallTemplates() after a refresh_interval change = %d, %d, %v; want 2, %d, nil", installed, unchanged, err, len(tpls)-2)
	}
	got := tplGet(t, c, "/_component_template/"+prefix+"-flows@settings")
	ri := got["component_templates"].([]any)[0].(map[string]any)["component_template"].(map[string]any)["template"].(map[string]any)["settings"].(map[string]any)["index"].(map[string]any)["refresh_interval"]
	if ri != "30s" {
		t.Errorf("%s-flows@settings refresh_interval = %v after the update, want 30s", prefix, ri)
	}

	// The report says what changed, in the terms of the settings.
	cfg.Shards = 3
	tpls = build(cfg)
	res0, err := InstallTemplatesReport(ctx, c, tpls, logger)
	if err != nil || len(res0) != len(tpls) {
		t.Fatalf("InstallTemplatesReport() after a shards change = %d results, %v; want %d", len(res0), err, len(tpls))
	}
	for _, r := range res0 {
		want := TemplateResult{Kind: r.Kind, Name: r.Name, Action: "unchanged"}
		if strings.HasSuffix(r.Name, "@settings") {
			want.Action, want.Changes = "updated", []string{"index.number_of_shards: 1 -> 3"}
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("InstallTemplatesReport() for %s (-want +got):\n%s", r.Name, diff)
		}
	}

	// A template a newer sluice installed is left alone.
	flows := tplByName(t, tpls, prefix+"-flows")
	newer := tplBody(t, flows)
	newer["version"] = TemplateVersion + 1
	newer["priority"] = 201
	body, _ := json.Marshal(newer)
	res, err := c.Indices.PutIndexTemplate(flows.Name, bytes.NewReader(body), c.Indices.PutIndexTemplate.WithContext(ctx))
	if err != nil || res.IsError() {
		t.Fatalf("PUT newer %s: %v %v", flows.Name, res, err)
	}
	res.Body.Close()
	logs.Reset()
	installed, unchanged, err = InstallTemplates(ctx, c, tpls, logger)
	if err != nil || installed != 0 || unchanged != len(tpls) {
		t.Fatalf("InstallTemplates() with a newer template = %d, %d, %v; want 0, %d, nil", installed, unchanged, err, len(tpls))
	}
	it := tplGet(t, c, "/_index_template/"+flows.Name)["index_templates"].([]any)[0].(map[string]any)["index_template"].(map[string]any)
	if it["version"] != float64(TemplateVersion+1) || it["priority"] != float64(201) {
		t.Errorf("%s on the cluster = version %v priority %v; the newer template was replaced", flows.Name, it["version"], it["priority"])
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "template="+flows.Name) {
		t.Errorf("no warning about the newer %s in the log:\n%s", flows.Name, logs.String())
	}

	// Errors name the template and carry Elasticsearch's reason.
	broken, err := finishTemplate(IndexTemplate, prefix+"-broken", map[string]any{
		"index_patterns": []string{prefix + "-broken-*"}, "composed_of": []string{prefix + "-missing"}, "priority": 200,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		res, err := c.Indices.DeleteIndexTemplate(broken.Name)
		tplClose(t, "delete "+broken.Name, res, err)
	})
	_, _, err = InstallTemplates(ctx, c, []Template{broken}, logger)
	if err == nil || !strings.Contains(err.Error(), broken.Name) || !strings.Contains(err.Error(), prefix+"-missing] that do not exist") {
		t.Errorf("InstallTemplates(broken) = %v, want an error naming %s and the missing component", err, broken.Name)
	}
}

// tplServerTypes flattens a GET _mapping answer to path -> field mapping.
func tplServerTypes(t *testing.T, c *elasticsearch.Client, index string) map[string]map[string]any {
	t.Helper()
	m := tplGet(t, c, "/"+index+"/_mapping")
	props := m[index].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	out := make(map[string]map[string]any)
	tplWalkProps(props, "", out)
	return out
}

func TestTemplateMappingsOnNode(t *testing.T) {
	c := tplClient(t)
	ctx := context.Background()
	prefix, cfg, build := tplSetup(t, c, nil)
	tpls := build(cfg)
	if _, _, err := InstallTemplates(ctx, c, tpls, nil); err != nil {
		t.Fatalf("InstallTemplates() = %v", err)
	}
	indexOf := func(pattern string) string {
		n, err := event.NewIndexNamer(pattern, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return n.Name(tplTime)
	}
	flowsIndex, syslogIndex := indexOf(cfg.FlowsIndex), indexOf(cfg.SyslogIndex)
	if flowsIndex != prefix+"-flows-2026.11.24" {
		t.Fatalf("flows index = %s", flowsIndex)
	}
	indexFor := map[string]string{prefix + "-flows": flowsIndex, prefix + "-syslog": syslogIndex}
	docs := tplDocs(t, prefix+"-flows", prefix+"-syslog")
	for _, d := range docs {
		res, err := c.Index(indexFor[d.index], bytes.NewReader(d.json), c.Index.WithContext(ctx), c.Index.WithRefresh("true"))
		if err != nil || res.IsError() {
			t.Fatalf("index %s document into %s: %v %v", d.name, indexFor[d.index], res, err)
		}
		res.Body.Close()
	}
	// ignore_malformed must not have hidden a value the encoder writes.
	for _, index := range []string{flowsIndex, syslogIndex} {
		res, err := c.Count(c.Count.WithContext(ctx), c.Count.WithIndex(index),
			c.Count.WithBody(strings.NewReader(`{"query":{"exists":{"field":"_ignored"}}}`)))
		if err != nil || res.IsError() {
			t.Fatalf("count _ignored in %s: %v %v", index, res, err)
		}
		var n struct{ Count int }
		err = json.NewDecoder(res.Body).Decode(&n)
		res.Body.Close()
		if err != nil || n.Count != 0 {
			t.Errorf("%s: %d documents have ignored (malformed) fields (err %v)", index, n.Count, err)
		}
	}

	for _, tmpl := range []string{prefix + "-flows", prefix + "-syslog"} {
		index := indexFor[tmpl]
		server := tplServerTypes(t, c, index)
		offline := tplMerge(t, tpls, tmpl)
		// Every declared field is in the index as declared.
		for path, f := range offline.leaves {
			if s := server[path]; s == nil || s["type"] != f["type"] {
				t.Errorf("%s: %s is %v on the node, declared %v", index, path, s, f)
			}
		}
		// Every written path has the type the offline resolution predicts.
		for _, d := range docs {
			if d.index != tmpl {
				continue
			}
			for path, leaves := range tplFlatten(t, d.json) {
				r := offline.resolve(path, leaves[0].kind)
				want := r.typ
				if r.flattened != "" { // its leaves have no mapping of their own
					path, want = r.flattened, "flattened"
				}
				if s := server[path]; s == nil || s["type"] != want {
					t.Errorf("%s: %s document: %s is %v on the node, want type %s", index, d.name, path, s, want)
				}
			}
		}
		if tmpl == prefix+"-flows" {
			for path, want := range map[string]string{"@timestamp": "date", "source.ip": "ip", "network.bytes": "long",
				"source.geo.location": "geo_point", "netflow.flow_start_milliseconds": "date", "netflow.source_ipv4_address": "ip",
				"netflow.in_bytes": "long", "netflow.vendor_note": "keyword", "netflow.pen_9_12235": "keyword", "netflow.vendor_count": "long"} {
				if got := server[path]["type"]; got != want {
					t.Errorf("%s: %s is %v, want %s", index, path, got, want)
				}
			}
		} else if got := server["message"]["type"]; got != "text" {
			t.Errorf("%s: message is %v, want text", index, got)
		}
	}

	settings := tplGet(t, c, "/"+flowsIndex+"/_settings")[flowsIndex].(map[string]any)["settings"].(map[string]any)["index"].(map[string]any)
	if settings["number_of_shards"] != "1" || settings["number_of_replicas"] != "0" || settings["refresh_interval"] != "5s" {
		t.Errorf("%s settings: shards %v replicas %v refresh_interval %v; want 1, 0, 5s", flowsIndex,
			settings["number_of_shards"], settings["number_of_replicas"], settings["refresh_interval"])
	}
}

// A parser's own index (inside the default syslog wildcard) gets the
// syslog mappings from its own, higher-priority template, on a real node.
func TestParserIndexTemplateOnNode(t *testing.T) {
	c := tplClient(t)
	ctx := context.Background()
	var vendorPattern string
	_, cfg, build := tplSetup(t, c, func(cfg *TemplateConfig) {
		vendorPattern = strings.TrimSuffix(cfg.SyslogIndex, "-%{+yyyy.MM.dd}") + "-meraki-%{+yyyy.MM.dd}"
		cfg.SyslogIndices = []string{vendorPattern, cfg.SyslogIndex}
	})
	tpls := build(cfg)
	if _, _, err := InstallTemplates(ctx, c, tpls, nil); err != nil {
		t.Fatalf("InstallTemplates() = %v", err)
	}
	n, err := event.NewIndexNamer(vendorPattern, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	index := n.Name(tplTime)
	t.Cleanup(func() {
		res, err := c.Indices.Delete([]string{index}, c.Indices.Delete.WithIgnoreUnavailable(true))
		tplClose(t, "delete "+index, res, err)
	})
	doc := `{"@timestamp":"2026-11-24T10:00:00Z","message":"allow src=192.0.2.1","source":{"ip":"192.0.2.1","port":51514},"event":{"dataset":"meraki.flows"},"meraki":{"pattern":"allow all"}}`
	res, err := c.Index(index, strings.NewReader(doc), c.Index.WithContext(ctx), c.Index.WithRefresh("true"))
	if err != nil || res.IsError() {
		t.Fatalf("index into %s: %v %v", index, res, err)
	}
	res.Body.Close()
	server := tplServerTypes(t, c, index)
	for path, want := range map[string]string{"source.ip": "ip", "source.port": "long", "message": "text", "event.dataset": "keyword", "@timestamp": "date"} {
		if got := server[path]["type"]; got != want {
			t.Errorf("%s: %s is %v, want %s", index, path, got, want)
		}
	}
	var names []string
	for _, tpl := range tpls {
		if tpl.Kind == IndexTemplate {
			names = append(names, tpl.Name)
		}
	}
	if len(names) != 3 {
		t.Errorf("index templates %v: want flows, syslog and the parser's (the default pattern listed again is not repeated)", names)
	}
}

// TestAlertIndexTemplateOnNode: with alert rules running, the alert
// documents' index gets its own template: typed sluice.alert.* fields,
// match_body (a copy of whatever a rule matched) kept in _source only,
// and no replica, so the index is green on a single node.
func TestAlertIndexTemplateOnNode(t *testing.T) {
	c := tplClient(t)
	ctx := context.Background()
	var alertPattern string
	_, cfg, build := tplSetup(t, c, func(cfg *TemplateConfig) {
		alertPattern = strings.TrimSuffix(cfg.SyslogIndex, "-syslog-%{+yyyy.MM.dd}") + "-alerts-%{+yyyy.MM.dd}"
		cfg.AlertsIndex = alertPattern
	})
	tpls := build(cfg)
	if _, _, err := InstallTemplates(ctx, c, tpls, nil); err != nil {
		t.Fatalf("InstallTemplates() = %v", err)
	}
	n, err := event.NewIndexNamer(alertPattern, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	index := n.Name(tplTime)
	t.Cleanup(func() {
		res, err := c.Indices.Delete([]string{index}, c.Indices.Delete.WithIgnoreUnavailable(true))
		tplClose(t, "delete "+index, res, err)
	})
	// The shape output/alert writes (document.go); match_body holds a
	// field whose type clashes with the ECS mapping (source.ip that is
	// no address): refused if it were mapped.
	doc := `{"@timestamp":"2026-11-24T10:00:00Z","event":{"kind":"alert","module":"sluice","dataset":"sluice.alert","created":"2026-11-24T10:00:00Z","outcome":"success"},` +
		`"rule":{"name":"Syslog volume","category":"frequency","ruleset":"/etc/sluice/rules/volume.yaml"},"message":"Syslog volume",` +
		`"sluice":{"alert":{"alert_sent":true,"silenced":false,"aggregated":false,"num_hits":100000,"num_matches":1,"query_key":"host.hostname","query_key_value":"mx84",` +
		`"subject":"Syslog volume","alerters":[{"type":"email","sent":true,"attempts":2,"error":"421 try later"}],` +
		`"matches":[{"_id":"AaJRVAC4gl6MTe5EFAEW","_index":"sluice-syslog-2026.11.24","@timestamp":"2026-11-24T09:59:59.5Z","summary":"host.hostname=mx84"}],` +
		`"match_body":{"source":{"ip":"not an address"},"anything":{"deep":[1,"two"]}}}}}`
	res, err := c.Index(index, strings.NewReader(doc), c.Index.WithContext(ctx), c.Index.WithRefresh("true"))
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError() {
		t.Fatalf("index into %s: %s", index, res)
	}
	res.Body.Close()
	server := tplServerTypes(t, c, index)
	for path, want := range map[string]string{
		"sluice.alert.alert_sent": "boolean", "sluice.alert.num_hits": "long", "sluice.alert.query_key_value": "keyword",
		"sluice.alert.alerters.attempts": "integer", "sluice.alert.matches.@timestamp": "date", "sluice.alert.matches._id": "keyword",
		"rule.name": "keyword", "event.kind": "keyword", "message": "text", "@timestamp": "date",
	} {
		if got := server[path]["type"]; got != want {
			t.Errorf("%s: %s is %v, want %s", index, path, got, want)
		}
	}
	for path := range server {
		if strings.HasPrefix(path, "sluice.alert.match_body.") {
			t.Errorf("%s: %s is mapped; match_body must stay in _source only", index, path)
		}
	}
	h := tplGet(t, c, "/_cluster/health/"+index+"?wait_for_status=green&timeout=10s")
	if h["status"] != "green" {
		t.Errorf("%s: health %v, want green (no replica on a single node)", index, h["status"])
	}
}
