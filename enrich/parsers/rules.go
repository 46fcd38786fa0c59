package parsers

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluicelab/sluice/configs"
	"github.com/sluicelab/sluice/enrich/grok"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/rare"
)

// ruleFile is one parser file as read, before compiling.
type ruleFile struct {
	path string // for errors: "parsers/meraki.yaml" or a file of a rule dir
	data []byte
}

// loadRuleFiles returns the embedded parser files followed by those of
// dirs (*.yaml and *.yml, in lexical order per directory).
func loadRuleFiles(dirs []string) ([]ruleFile, []ruleFile, error) {
	var embedded, user []ruleFile
	names, err := fs.Glob(configs.Parsers, "parsers/*.yaml")
	if err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		data, err := fs.ReadFile(configs.Parsers, n)
		if err != nil {
			return nil, nil, err
		}
		embedded = append(embedded, ruleFile{path: n, data: data})
	}
	for i, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, nil, fmt.Errorf("syslog.parsers.rule_dirs[%d]: %w", i, err)
		}
		for _, en := range entries {
			n := en.Name()
			if en.IsDir() || strings.HasPrefix(n, ".") || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
				continue
			}
			p := filepath.Join(d, n)
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, fmt.Errorf("syslog.parsers.rule_dirs[%d]: %w", i, err)
			}
			user = append(user, ruleFile{path: p, data: data})
		}
	}
	return embedded, user, nil
}

// compiler turns parser files into parsers; it holds what compiling needs
// and gathers the metric series to create.
type compiler struct {
	lib     *grok.Library
	loc     *time.Location
	kvSteps int // kvStep ids, for the per-worker name caches
	file    string
}

// errorf formats an error located in the current file at node n.
func (c *compiler) errorf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return fmt.Errorf("%s:%d: %s", c.file, line, fmt.Sprintf(format, args...))
}

// pair is one key and value of a YAML mapping, in written order.
type pair struct {
	key   string
	kNode *yaml.Node
	val   *yaml.Node
}

// mapping returns the pairs of a mapping node, refusing keys not in known
// (when known is not nil) with an error naming the key and the known ones.
func (c *compiler) mapping(n *yaml.Node, what string, known ...string) ([]pair, error) {
	if n.Kind != yaml.MappingNode {
		return nil, c.errorf(n, "%s: want a mapping (key: value lines)", what)
	}
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			return nil, c.errorf(k, "%s: keys must be plain strings", what)
		}
		if known != nil && !contains(known, k.Value) {
			return nil, c.errorf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
		}
		out = append(out, pair{key: k.Value, kNode: k, val: n.Content[i+1]})
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *compiler) str(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", c.errorf(n, "%s: want a string", what)
	}
	return n.Value, nil
}

func (c *compiler) boolean(n *yaml.Node, what string) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, c.errorf(n, "%s: want true or false", what)
	}
	return n.Value == "true", nil
}

// strs accepts a list of strings or a single string.
func (c *compiler) strs(n *yaml.Node, what string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		s, err := c.str(n, what)
		return []string{s}, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, c.errorf(n, "%s: want a list of strings", what)
	}
	out := make([]string, 0, len(n.Content))
	for _, x := range n.Content {
		s, err := c.str(x, what)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// constant reads a scalar as a typed constant (string, integer, float or
// boolean, as YAML types it).
func (c *compiler) constant(n *yaml.Node, what string) (value, error) {
	if n.Kind != yaml.ScalarNode {
		return value{}, c.errorf(n, "%s: want a string, number or boolean", what)
	}
	switch n.ShortTag() {
	case "!!str":
		return value{s: n.Value, typ: tString}, nil
	case "!!int":
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return value{}, c.errorf(n, "%s: %v", what, err)
		}
		return value{s: n.Value, typ: tInt, num: uint64(v), hasNum: true}, nil
	case "!!float":
		v, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return value{}, c.errorf(n, "%s: %v", what, err)
		}
		return value{s: n.Value, typ: tFloat, num: floatBits(v), hasNum: true}, nil
	case "!!bool":
		b := uint64(0)
		if n.Value == "true" {
			b = 1
		}
		return value{s: n.Value, typ: tBool, num: b, hasNum: true}, nil
	}
	return value{}, c.errorf(n, "%s: want a string, number or boolean, not %s", what, n.ShortTag())
}

// path checks a dotted field path.
func (c *compiler) path(n *yaml.Node, what string) (string, error) {
	s, err := c.str(n, what)
	if err != nil {
		return "", err
	}
	if err := checkPath(s); err != nil {
		return "", c.errorf(n, "%s: %v", what, err)
	}
	return s, nil
}

func checkPath(p string) error {
	if p == "" || p[0] == '.' || p[len(p)-1] == '.' || strings.Contains(p, "..") {
		return fmt.Errorf("%q is not a dotted field path like source.ip", p)
	}
	switch {
	case p == "@timestamp", p == "tags", p == "ecs", strings.HasPrefix(p, "ecs."), strings.HasPrefix(p, "tags."):
		return fmt.Errorf("%q is written by sluice itself; pick another field", p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return fmt.Errorf("%q: use printable ASCII without quotes, backslashes or spaces", p)
		}
	}
	return nil
}

var nameOK = func(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// compileFile compiles one parser file.
func (c *compiler) compileFile(f ruleFile) (*parser, error) {
	c.file = f.path
	var doc yaml.Node
	if err := yaml.Unmarshal(f.data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("%s: empty file; a parser file holds one parser (name, detect, rules)", f.path)
	}
	resolveAliases(&doc, 0)
	top, err := c.mapping(doc.Content[0], "parser", "name", "description", "index", "detect", "rules")
	if err != nil {
		return nil, err
	}
	p := &parser{}
	var rulesNode *yaml.Node
	for _, kv := range top {
		switch kv.key {
		case "name":
			if p.name, err = c.str(kv.val, "name"); err != nil {
				return nil, err
			}
			if !nameOK(p.name) {
				return nil, c.errorf(kv.val, "name %q: use lower-case letters, digits and _", p.name)
			}
		case "description":
			if _, err = c.str(kv.val, "description"); err != nil {
				return nil, err
			}
		case "index":
			if p.indexRef, err = c.index(kv.val, "index"); err != nil {
				return nil, err
			}
		case "detect":
			if kv.val.Kind != yaml.SequenceNode {
				return nil, c.errorf(kv.val, "detect: want a list of conditions (any of them detects the parser)")
			}
			for _, cn := range kv.val.Content {
				cd, err := c.cond(cn, "detect")
				if err != nil {
					return nil, err
				}
				if cd.empty() {
					return nil, c.errorf(cn, "detect: an empty condition would claim every line")
				}
				p.detect = append(p.detect, cd)
			}
		case "rules":
			rulesNode = kv.val
		}
	}
	if p.name == "" {
		return nil, c.errorf(doc.Content[0], "parser: missing key \"name\"")
	}
	if rulesNode == nil || rulesNode.Kind != yaml.SequenceNode || len(rulesNode.Content) == 0 {
		return nil, c.errorf(doc.Content[0], "parser %s: \"rules\" must be a non-empty list", p.name)
	}
	for i, rn := range rulesNode.Content {
		r, err := c.rule(rn, fmt.Sprintf("rules[%d]", i))
		if err != nil {
			return nil, err
		}
		r.unconverted = p.name + ".unconverted."
		p.rules = append(p.rules, r)
	}
	p.index()
	return p, nil
}

// resolveAliases replaces YAML aliases (*name) by the nodes their anchors
// (&name) mark, so that rules can share a table; errors inside name the
// anchor's line. Aliases nested deeper than 64 (a loop) are left alone and
// fail as an unexpected node.
func resolveAliases(n *yaml.Node, depth int) {
	if depth > 64 {
		return
	}
	for i, c := range n.Content {
		if c.Kind == yaml.AliasNode && c.Alias != nil {
			n.Content[i] = c.Alias
			c = c.Alias
		}
		resolveAliases(c, depth+1)
	}
}

func (c *compiler) cond(n *yaml.Node, what string) (cond, error) {
	var cd cond
	pairs, err := c.mapping(n, what, "appname", "prefix", "contains")
	if err != nil {
		return cd, err
	}
	for _, kv := range pairs {
		list, err := c.strs(kv.val, what+"."+kv.key)
		if err != nil {
			return cd, err
		}
		for _, s := range list {
			if s == "" {
				return cd, c.errorf(kv.val, "%s.%s: empty string", what, kv.key)
			}
		}
		switch kv.key {
		case "appname":
			// "%ASA-*": app names starting with %ASA- (detect only: the
			// rules of a parser are indexed by exact app names).
			for _, a := range list {
				if p, ok := strings.CutSuffix(a, "*"); ok && what == "detect" && p != "" {
					cd.appPrefixes = append(cd.appPrefixes, p)
				} else if strings.Contains(a, "*") {
					return cd, c.errorf(kv.val, "%s.appname: %q; a * may only end an app name of a detect condition", what, a)
				} else {
					cd.apps = append(cd.apps, a)
				}
			}
		case "prefix":
			cd.prefixes = list
		case "contains":
			cd.contains = list
			for _, w := range list {
				cd.rare = append(cd.rare, rare.Byte(w))
			}
		}
	}
	return cd, nil
}

var ruleKeys = []string{"name", "when", "dataset", "index", "cut", "csv", "grok", "kv", "set", "rename", "convert", "map", "date", "remove"}

func (c *compiler) rule(n *yaml.Node, what string) (*rule, error) {
	pairs, err := c.mapping(n, what, ruleKeys...)
	if err != nil {
		return nil, err
	}
	r := &rule{}
	for _, kv := range pairs {
		if kv.key == "name" {
			if r.name, err = c.str(kv.val, what+".name"); err != nil {
				return nil, err
			}
			what = fmt.Sprintf("%s (%s)", what, r.name)
		}
	}
	for _, kv := range pairs {
		w := what + "." + kv.key
		var st step
		switch kv.key {
		case "name":
			continue
		case "when":
			if r.when, err = c.cond(kv.val, w); err != nil {
				return nil, err
			}
			continue
		case "index":
			if r.indexRef, err = c.index(kv.val, w); err != nil {
				return nil, err
			}
			continue
		case "dataset":
			if r.dataset, err = c.str(kv.val, w); err != nil {
				return nil, err
			}
			ds := strings.ReplaceAll(r.dataset, "{appname}", "x")
			if checkPath(ds) != nil || strings.ContainsAny(ds, "{}") {
				return nil, c.errorf(kv.val, "%s: %q is not a dataset name like vendor.type (with {appname} standing for the app name)", w, r.dataset)
			}
			continue
		case "cut":
			st, err = c.cutSteps(kv.val, w)
		case "csv":
			st, err = c.csvSteps(kv.val, w)
		case "grok":
			st, err = c.grokStep(kv.val, w)
		case "kv":
			st, err = c.kvStep(kv.val, w)
		case "set":
			st, err = c.setStep(kv.val, w)
		case "rename":
			st, err = c.renameStep(kv.val, w)
		case "convert":
			st, err = c.convertStep(kv.val, w)
		case "map":
			st, err = c.mapSteps(kv.val, w)
		case "date":
			st, err = c.dateSteps(kv.val, w)
		case "remove":
			st, err = c.removeStep(kv.val, w)
		}
		if err != nil {
			return nil, err
		}
		r.steps = append(r.steps, st)
	}
	if r.dataset == "" {
		return nil, c.errorf(n, "%s: missing key \"dataset\"", what)
	}
	// Twice: kv steps give symbols to the keys under their prefix that
	// any step names, so they need the whole list.
	for _, st := range r.steps {
		if rs, ok := st.(*removeStep); ok && len(rs.prefixes) > 0 {
			r.noDirect = true
		}
	}
	for range 2 {
		r.resolved = 0 // the same step ids in both passes
		multiStep(r.steps).resolve(r)
	}
	r.finish()
	if strings.Contains(r.dataset, "{appname}") {
		if len(r.when.apps) == 0 {
			return nil, c.errorf(n, "%s: dataset %q uses {appname} but when.appname lists no app names", what, r.dataset)
		}
		r.byApp = make(map[string]string, len(r.when.apps))
		for _, a := range r.when.apps {
			r.byApp[a] = strings.ReplaceAll(r.dataset, "{appname}", a)
		}
	}
	return r, nil
}

// index reads an index pattern (what: its key) and registers it.
func (c *compiler) index(n *yaml.Node, what string) (event.IndexRef, error) {
	pattern, err := c.str(n, what)
	if err != nil {
		return 0, err
	}
	ref, err := event.RegisterIndex(pattern)
	if err != nil {
		return 0, c.errorf(n, "%s: %v", what, err)
	}
	return ref, nil
}

// source reads an optional "source" key: "" (the message) or a field path.
func (c *compiler) source(kv pair, what string) (string, error) {
	if kv.val.Kind == yaml.ScalarNode && kv.val.Value == "message" {
		return "", nil
	}
	if kv.val.Kind == yaml.ScalarNode && kv.val.Value == "process.name" {
		return appNameSource, nil
	}
	if kv.val.Kind == yaml.ScalarNode && kv.val.Value == "log.syslog.msgid" {
		return msgIDSource, nil
	}
	return c.path(kv.val, what+".source")
}

func (c *compiler) cutSteps(n *yaml.Node, what string) (step, error) {
	if n.Kind != yaml.SequenceNode {
		n = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}, Line: n.Line}
	}
	var steps multiStep
	for i, cn := range n.Content {
		w := fmt.Sprintf("%s[%d]", what, i)
		pairs, err := c.mapping(cn, w, "source", "sep", "head", "tail", "required", "missing", "head_chars")
		if err != nil {
			return nil, err
		}
		s := &cutStep{}
		for _, kv := range pairs {
			switch kv.key {
			case "source":
				s.source, err = c.source(kv, w)
			case "sep":
				s.sep, err = c.str(kv.val, w+".sep")
				if err == nil && s.sep == "" {
					err = c.errorf(kv.val, "%s.sep: empty", w)
				}
			case "head":
				s.head, err = c.path(kv.val, w+".head")
			case "tail":
				s.tail, err = c.path(kv.val, w+".tail")
			case "required":
				s.required, err = c.boolean(kv.val, w+".required")
			case "missing":
				var m string
				m, err = c.str(kv.val, w+".missing")
				switch {
				case err != nil:
				case m == "head":
				case m == "tail":
					s.missingTail = true
				default:
					err = c.errorf(kv.val, "%s.missing: %q; use head or tail", w, m)
				}
			case "head_chars":
				var chars string
				chars, err = c.str(kv.val, w+".head_chars")
				if err == nil {
					s.headChars = new([256]bool)
					for i := 0; i < len(chars); i++ {
						s.headChars[chars[i]] = true
					}
				}
			}
			if err != nil {
				return nil, err
			}
		}
		if s.sep == "" {
			return nil, c.errorf(cn, "%s: missing key \"sep\"", w)
		}
		if s.head == "" && s.tail == "" {
			return nil, c.errorf(cn, "%s: needs head or tail (or both)", w)
		}
		steps = append(steps, s)
	}
	if len(steps) == 1 {
		return steps[0], nil
	}
	return steps, nil
}

func (c *compiler) csvSteps(n *yaml.Node, what string) (step, error) {
	if n.Kind != yaml.SequenceNode {
		n = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}, Line: n.Line}
	}
	var steps multiStep
	for i, cn := range n.Content {
		w := fmt.Sprintf("%s[%d]", what, i)
		pairs, err := c.mapping(cn, w, "source", "separator", "quote", "columns", "rest", "min_columns", "if", "ignore_values")
		if err != nil {
			return nil, err
		}
		s := &csvStep{sep: ',', quote: '"'}
		for _, kv := range pairs {
			switch kv.key {
			case "source":
				s.source, err = c.source(kv, w)
			case "separator", "quote":
				var v string
				if v, err = c.str(kv.val, w+"."+kv.key); err != nil {
					break
				}
				switch {
				case kv.key == "quote" && v == "":
					s.quote = 0
				case len(v) != 1:
					err = c.errorf(kv.val, "%s.%s: %q; use one character", w, kv.key, v)
				case kv.key == "quote":
					s.quote = v[0]
				default:
					s.sep = v[0]
				}
			case "columns":
				var cols []string
				if kv.val.Kind != yaml.SequenceNode {
					err = c.errorf(kv.val, "%s.columns: want a list of paths (\"\" skips a column)", w)
					break
				}
				if cols, err = c.strs(kv.val, w+".columns"); err != nil {
					break
				}
				for j, col := range cols {
					typ := tAuto
					if p, t, ok := strings.Cut(col, ":"); ok {
						if typ, ok = convertTypes[t]; !ok {
							return nil, c.errorf(kv.val.Content[j], "%s.columns[%d]: unknown type %q; use string, int, float, bool, ip, ipport, mac, lower or duration", w, j, t)
						}
						col = p
					}
					if col != "" {
						if perr := checkPath(col); perr != nil {
							return nil, c.errorf(kv.val.Content[j], "%s.columns[%d]: %v", w, j, perr)
						}
					}
					s.columns = append(s.columns, col)
					s.types = append(s.types, typ)
				}
			case "rest":
				s.rest, err = c.path(kv.val, w+".rest")
			case "ignore_values":
				s.ignore, err = c.strs(kv.val, w+".ignore_values")
			case "min_columns":
				if kv.val.Kind != yaml.ScalarNode || kv.val.ShortTag() != "!!int" {
					err = c.errorf(kv.val, "%s.min_columns: want a whole number", w)
					break
				}
				s.minColumns, err = strconv.Atoi(kv.val.Value)
				if err != nil || s.minColumns < 0 {
					err = c.errorf(kv.val, "%s.min_columns: %q; want a whole number from 0", w, kv.val.Value)
				}
			case "if":
				var ip []pair
				if ip, err = c.mapping(kv.val, w+".if"); err != nil {
					break
				}
				for _, x := range ip {
					if perr := checkPath(x.key); perr != nil {
						return nil, c.errorf(x.kNode, "%s.if: %v", w, perr)
					}
					vals, verr := c.strs(x.val, w+".if."+x.key)
					if verr != nil {
						return nil, verr
					}
					s.ifPaths = append(s.ifPaths, x.key)
					s.ifVals = append(s.ifVals, vals)
				}
			}
			if err != nil {
				return nil, err
			}
		}
		if s.quote == s.sep {
			return nil, c.errorf(cn, "%s: quote and separator are both %q", w, s.sep)
		}
		if len(s.columns) == 0 && s.rest == "" {
			return nil, c.errorf(cn, "%s: needs columns (or rest)", w)
		}
		if s.minColumns > len(s.columns) {
			return nil, c.errorf(cn, "%s: min_columns %d is more than the %d columns listed", w, s.minColumns, len(s.columns))
		}
		steps = append(steps, s)
	}
	if len(steps) == 1 {
		return steps[0], nil
	}
	return steps, nil
}

func (c *compiler) grokStep(n *yaml.Node, what string) (step, error) {
	s := &grokStep{}
	var exprs []string
	var err error
	exprNode := n
	if n.Kind == yaml.SequenceNode {
		exprs, err = c.strs(n, what)
	} else {
		pairs, perr := c.mapping(n, what, "source", "patterns", "optional")
		if perr != nil {
			return nil, perr
		}
		for _, kv := range pairs {
			switch kv.key {
			case "source":
				s.source, err = c.source(kv, what)
			case "patterns":
				exprs, err = c.strs(kv.val, what+".patterns")
				exprNode = kv.val
			case "optional":
				s.optional, err = c.boolean(kv.val, what+".optional")
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if len(exprs) == 0 {
		return nil, c.errorf(n, "%s: no patterns", what)
	}
	pats := make([]*grok.Pattern, len(exprs))
	for i, e := range exprs {
		p, err := c.lib.Compile(e)
		if err != nil {
			return nil, c.errorf(exprNode, "%s[%d]: %v", what, i, err)
		}
		for _, f := range p.Fields() {
			if err := checkPath(f.Name); err != nil {
				return nil, c.errorf(exprNode, "%s[%d]: capture %v", what, i, err)
			}
		}
		pats[i] = p
		for _, f := range p.Fields() {
			if !contains(s.names, f.Name) {
				s.names = append(s.names, f.Name)
			}
		}
		for name := range ipCaptures(c.lib, e, 0) {
			if s.ipNames == nil {
				s.ipNames = map[string]bool{}
			}
			s.ipNames[name] = true
		}
	}
	s.set = grok.NewSet(pats...)
	return s, nil
}

// ipCaptures returns the names captured with %{IP:...}, %{IPV4:...} or
// %{IPV6:...} in expr or in the library patterns it refers to, so that
// they become address fields whatever their name.
func ipCaptures(lib *grok.Library, expr string, depth int) map[string]bool {
	out := map[string]bool{}
	if depth > 16 {
		return out
	}
	for rest := expr; ; {
		i := strings.Index(rest, "%{")
		if i < 0 {
			break
		}
		rest = rest[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			break
		}
		ref := rest[:j]
		rest = rest[j+1:]
		name, capName, hasCap := strings.Cut(ref, ":")
		capName, _, _ = strings.Cut(capName, ":")
		switch name {
		case "IP", "IPV4", "IPV6":
			if hasCap && capName != "" {
				out[capName] = true
			}
			continue
		}
		if def, ok := lib.Lookup(name); ok {
			for k := range ipCaptures(lib, def, depth+1) {
				out[k] = true
			}
		}
	}
	return out
}

func (c *compiler) kvStep(n *yaml.Node, what string) (step, error) {
	pairs, err := c.mapping(n, what, "source", "field_split", "value_split", "trim_key", "trim_value", "allow_empty",
		"no_quotes", "bare_keys", "leading", "prefix", "keep_raw", "fields", "ignore_values", "optional", "cef", "cef_labels", "cef_header")
	if err != nil {
		return nil, err
	}
	s := &kvStep{id: c.kvSteps, fields: map[string]*kvField{}}
	// Empty values are always reported so that the leading text ends at
	// the first key; kvStep drops them unless allow_empty.
	s.p.AllowEmpty = true
	c.kvSteps++
	var fieldsNode *yaml.Node
	for _, kv := range pairs {
		w := what + "." + kv.key
		switch kv.key {
		case "source":
			if kv.val.Kind == yaml.ScalarNode && kv.val.Value == sdPrefix[:len(sdPrefix)-1] {
				s.sd = true // the decoder's RFC 5424 structured data (runSD)
				continue
			}
			s.source, err = c.source(kv, what)
		case "field_split":
			s.p.FieldSplit, err = c.str(kv.val, w)
		case "value_split":
			s.p.ValueSplit, err = c.str(kv.val, w)
		case "trim_key":
			s.p.TrimKey, err = c.str(kv.val, w)
		case "trim_value":
			s.p.TrimValue, err = c.str(kv.val, w)
		case "allow_empty":
			s.allowEmpty, err = c.boolean(kv.val, w)
		case "no_quotes":
			s.p.NoQuotes, err = c.boolean(kv.val, w)
		case "bare_keys":
			s.bare, err = c.path(kv.val, w)
			s.p.BareKeys = true
		case "leading":
			s.leading, err = c.path(kv.val, w)
		case "prefix":
			s.prefix, err = c.str(kv.val, w)
			if err == nil && (s.prefix == "" || s.prefix[len(s.prefix)-1] != '.' || checkPath(s.prefix+"x") != nil) {
				err = c.errorf(kv.val, "%s: %q; use a path ending in a dot, like meraki.", w, s.prefix)
			}
		case "keep_raw":
			s.keepRaw, err = c.boolean(kv.val, w)
		case "fields":
			fieldsNode = kv.val
		case "ignore_values":
			s.ignore, err = c.strs(kv.val, w)
		case "optional":
			s.optional, err = c.boolean(kv.val, w)
		case "cef":
			s.cef, err = c.boolean(kv.val, w)
		case "cef_labels":
			s.cefLabels, err = c.boolean(kv.val, w)
		case "cef_header":
			if s.cefHeader, err = c.strs(kv.val, w); err == nil && len(s.cefHeader) > 7 {
				err = c.errorf(kv.val, "%s: %d paths; CEF has 7 header fields (version, vendor, product, version, signature id, name, severity)", w, len(s.cefHeader))
			}
			for _, h := range s.cefHeader {
				if err == nil && h != "" {
					if perr := checkPath(h); perr != nil {
						err = c.errorf(kv.val, "%s: %v", w, perr)
					}
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if s.sd && s.cef {
		return nil, c.errorf(n, "%s: the structured data is no CEF; remove cef or the source", what)
	}
	if (s.cefLabels || s.cefHeader != nil) && !s.cef {
		return nil, c.errorf(n, "%s: cef_labels and cef_header need cef: true", what)
	}
	if fieldsNode != nil {
		fp, err := c.mapping(fieldsNode, what+".fields")
		if err != nil {
			return nil, err
		}
		for _, kv := range fp {
			f := &kvField{typ: tAuto}
			w := what + ".fields." + kv.key
			if kv.val.Kind == yaml.ScalarNode && kv.val.Value == "" {
				f.drop = true
			} else if kv.val.Kind == yaml.ScalarNode && strings.Contains(kv.val.Value, ":") {
				// path:type, as in grok's %{PATTERN:path:type}
				p, t, _ := strings.Cut(kv.val.Value, ":")
				typ, ok := convertTypes[t]
				if !ok {
					return nil, c.errorf(kv.val, "%s: unknown type %q; use string, int, float, bool, ip, ipport, mac, lower or duration", w, t)
				}
				if err := checkPath(p); err != nil {
					return nil, c.errorf(kv.val, "%s: %v", w, err)
				}
				f.path, f.typ = p, typ
			} else if f.path, err = c.path(kv.val, w); err != nil {
				return nil, err
			}
			if s.prefix != "" {
				f.raw = s.prefix + kv.key
			}
			s.fields[kv.key] = f
		}
	}
	if s.keepRaw && s.prefix == "" {
		return nil, c.errorf(n, "%s: keep_raw needs a prefix", what)
	}
	return s, nil
}

func (c *compiler) setStep(n *yaml.Node, what string) (step, error) {
	pairs, err := c.mapping(n, what)
	if err != nil {
		return nil, err
	}
	s := &setStep{}
	for _, kv := range pairs {
		if err := checkPath(kv.key); err != nil {
			return nil, c.errorf(kv.kNode, "%s: %v", what, err)
		}
		v, err := c.constant(kv.val, what+"."+kv.key)
		if err != nil {
			return nil, err
		}
		s.paths = append(s.paths, kv.key)
		s.vals = append(s.vals, v)
	}
	return s, nil
}

func (c *compiler) renameStep(n *yaml.Node, what string) (step, error) {
	pairs, err := c.mapping(n, what)
	if err != nil {
		return nil, err
	}
	s := &renameStep{}
	for _, kv := range pairs {
		if err := checkPath(kv.key); err != nil {
			return nil, c.errorf(kv.kNode, "%s: %v", what, err)
		}
		to, err := c.path(kv.val, what+"."+kv.key)
		if err != nil {
			return nil, err
		}
		s.from = append(s.from, kv.key)
		s.to = append(s.to, to)
	}
	return s, nil
}

var convertTypes = map[string]vtype{"string": tString, "int": tInt, "float": tFloat, "ip": tIP, "ipport": tIPPort, "mac": tMAC, "lower": tLower, "bool": tBool, "duration": tDur}

func (c *compiler) convertStep(n *yaml.Node, what string) (step, error) {
	pairs, err := c.mapping(n, what)
	if err != nil {
		return nil, err
	}
	s := &convertStep{}
	for _, kv := range pairs {
		if err := checkPath(kv.key); err != nil {
			return nil, c.errorf(kv.kNode, "%s: %v", what, err)
		}
		name, err := c.str(kv.val, what+"."+kv.key)
		if err != nil {
			return nil, err
		}
		t, ok := convertTypes[name]
		if !ok {
			return nil, c.errorf(kv.val, "%s.%s: unknown type %q; use string, int, float, bool, ip, ipport, mac, lower or duration", what, kv.key, name)
		}
		s.paths = append(s.paths, kv.key)
		s.types = append(s.types, t)
	}
	return s, nil
}

func (c *compiler) mapSteps(n *yaml.Node, what string) (step, error) {
	if n.Kind != yaml.SequenceNode {
		n = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}, Line: n.Line}
	}
	var steps multiStep
	for i, mn := range n.Content {
		w := fmt.Sprintf("%s[%d]", what, i)
		pairs, err := c.mapping(mn, w, "field", "target", "match", "ignore_case", "values", "default")
		if err != nil {
			return nil, err
		}
		s := &mapStep{}
		var valuesNode *yaml.Node
		for _, kv := range pairs {
			switch kv.key {
			case "field":
				s.field, err = c.path(kv.val, w+".field")
			case "target":
				s.target, err = c.path(kv.val, w+".target")
			case "match":
				var m string
				m, err = c.str(kv.val, w+".match")
				switch {
				case err != nil:
				case m == "exact":
					s.match = matchExact
				case m == "prefix":
					s.match = matchPrefix
				case m == "contains":
					s.match = matchContains
				default:
					err = c.errorf(kv.val, "%s.match: %q; use exact, prefix or contains", w, m)
				}
			case "ignore_case":
				s.fold, err = c.boolean(kv.val, w+".ignore_case")
			case "values":
				valuesNode = kv.val
			case "default":
				var v value
				v, err = c.constant(kv.val, w+".default")
				s.def = &v
			}
			if err != nil {
				return nil, err
			}
		}
		if s.field == "" || s.target == "" || valuesNode == nil {
			return nil, c.errorf(mn, "%s: needs field, target and values", w)
		}
		vp, err := c.mapping(valuesNode, w+".values")
		if err != nil {
			return nil, err
		}
		for _, kv := range vp {
			v, err := c.constant(kv.val, w+".values."+kv.key)
			if err != nil {
				return nil, err
			}
			k := kv.key
			if s.fold {
				k = strings.ToLower(k)
			}
			s.keys = append(s.keys, k)
			s.vals = append(s.vals, v)
		}
		steps = append(steps, s)
	}
	if len(steps) == 1 {
		return steps[0], nil
	}
	return steps, nil
}

func (c *compiler) dateSteps(n *yaml.Node, what string) (step, error) {
	if n.Kind != yaml.SequenceNode {
		n = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}, Line: n.Line}
	}
	var steps multiStep
	for i, dn := range n.Content {
		w := fmt.Sprintf("%s[%d]", what, i)
		pairs, err := c.mapping(dn, w, "field", "layouts", "target", "timezone")
		if err != nil {
			return nil, err
		}
		s := &dateStep{target: "@timestamp", loc: c.loc}
		for _, kv := range pairs {
			switch kv.key {
			case "field":
				s.field, err = c.path(kv.val, w+".field")
			case "layouts":
				s.layouts, err = c.strs(kv.val, w+".layouts")
			case "target":
				s.target, err = c.str(kv.val, w+".target")
				if err == nil && s.target != "@timestamp" {
					err = checkPath(s.target)
					if err != nil {
						err = c.errorf(kv.val, "%s.target: %v", w, err)
					}
				}
			case "timezone":
				var tz string
				if tz, err = c.str(kv.val, w+".timezone"); err == nil {
					if s.loc, err = time.LoadLocation(tz); err != nil {
						err = c.errorf(kv.val, "%s.timezone: %q is not a time zone; use UTC, Local or an IANA name", w, tz)
					}
				}
			}
			if err != nil {
				return nil, err
			}
		}
		if s.field == "" || len(s.layouts) == 0 {
			return nil, c.errorf(dn, "%s: needs field and layouts", w)
		}
		if s.loc == nil {
			s.loc = time.UTC
		}
		steps = append(steps, s)
	}
	if len(steps) == 1 {
		return steps[0], nil
	}
	return steps, nil
}

func (c *compiler) removeStep(n *yaml.Node, what string) (step, error) {
	list, err := c.strs(n, what)
	if err != nil {
		return nil, err
	}
	s := &removeStep{}
	for _, p := range list {
		base := strings.TrimSuffix(p, ".*")
		if err := checkPath(base); err != nil {
			return nil, c.errorf(n, "%s: %v", what, err)
		}
		if base != p {
			s.prefixes = append(s.prefixes, base+".")
		} else {
			s.paths = append(s.paths, p)
		}
	}
	return s, nil
}

// compileAll compiles the embedded parser files and those of dirs; a user
// parser replaces an embedded one of the same name (keeping its place in
// the detection order), other user parsers come after the embedded ones.
func compileAll(c *compiler, dirs []string, logger *slog.Logger) ([]*parser, error) {
	embedded, user, err := loadRuleFiles(dirs)
	if err != nil {
		return nil, err
	}
	var out []*parser
	seen := map[string]string{}
	for _, f := range embedded {
		p, err := c.compileFile(f)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[p.name]; ok {
			return nil, fmt.Errorf("%s: parser %s is already defined in %s", f.path, p.name, prev)
		}
		seen[p.name] = f.path
		out = append(out, p)
	}
	userSeen := map[string]string{}
	for _, f := range user {
		p, err := c.compileFile(f)
		if err != nil {
			return nil, err
		}
		if prev, ok := userSeen[p.name]; ok {
			return nil, fmt.Errorf("%s: parser %s is already defined in %s", f.path, p.name, prev)
		}
		userSeen[p.name] = f.path
		replaced := false
		for i, q := range out {
			if q.name == p.name {
				out[i], replaced = p, true
				logger.Info("parser file replaces a shipped parser", "parser", p.name, "file", f.path)
			}
		}
		if !replaced {
			out = append(out, p)
		}
	}
	return out, nil
}

// names returns the parser names, sorted, for error messages.
func names(ps []*parser) string {
	n := make([]string, len(ps))
	for i, p := range ps {
		n[i] = p.name
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}
