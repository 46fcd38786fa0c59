package rule

import (
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Bounds of decoding one rule file's YAML. Aliases can make a small file
// expand into a huge tree ("billion laughs"), so the decoder counts every
// value it produces, aliases expanded, and refuses a file past the bound.
const (
	maxYAMLValues = 1_000_000
	maxYAMLDepth  = 100
)

var errYAMLTooBig = errors.New("the YAML expands to more than 1,000,000 values (aliases?); a rule file is small: write the values out")

// yamlDecoder turns a parsed yaml.Node tree into plain Go values
// (map[string]any, []any, string, int, float64, bool, nil), which is what
// the filter compiler and the alerters read. It resolves aliases and merge
// keys itself so that it can bound the work, keeps `!file PATH` items (a
// YAML local tag when unquoted) as the string "!file PATH", and records the
// line of each top-level key for messages.
type yamlDecoder struct {
	values int
}

func (d *yamlDecoder) value(n *yaml.Node, depth int) (any, error) {
	d.values++
	if d.values > maxYAMLValues {
		return nil, errYAMLTooBig
	}
	if depth > maxYAMLDepth {
		return nil, fmt.Errorf("line %d: nested more than %d levels deep", n.Line, maxYAMLDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: alias without an anchor", n.Line)
		}
		return d.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		switch n.Tag {
		case "!file":
			return "!file " + n.Value, nil
		case "!!timestamp":
			// Dates stay text: the filter compiler and the alerters parse them
			// where they need a time.
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		m, _, err := d.mapping(n, depth)
		return m, err
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// mapping decodes a mapping node; lines holds the line of each key.
func (d *yamlDecoder) mapping(n *yaml.Node, depth int) (map[string]any, map[string]int, error) {
	m := make(map[string]any, len(n.Content)/2)
	lines := make(map[string]int, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return nil, nil, fmt.Errorf("line %d: a key must be a plain name, not a list or a map", k.Line)
		}
		if k.Tag == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if _, dup := m[k.Value]; dup {
			return nil, nil, fmt.Errorf("line %d: key %q appears twice; keep one", k.Line, k.Value)
		}
		v, err := d.value(vn, depth+1)
		if err != nil {
			return nil, nil, err
		}
		m[k.Value] = v
		lines[k.Value] = k.Line
	}
	// Merge keys (<<: *base) fill in what the mapping does not set itself.
	for _, mn := range merges {
		var srcs []*yaml.Node
		if mn.Kind == yaml.SequenceNode {
			srcs = mn.Content
		} else {
			srcs = []*yaml.Node{mn}
		}
		for _, s := range srcs {
			v, err := d.value(s, depth+1)
			if err != nil {
				return nil, nil, err
			}
			sm, ok := v.(map[string]any)
			if !ok {
				return nil, nil, fmt.Errorf("line %d: a merge (<<) needs a map", s.Line)
			}
			for k, v := range sm {
				if _, set := m[k]; !set {
					m[k] = v
					lines[k] = s.Line
				}
			}
		}
	}
	return m, lines, nil
}

// decodeRuleYAML parses a rule file into its top-level map and the line of
// each top-level key.
func decodeRuleYAML(data []byte) (map[string]any, map[string]int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil, errors.New("the file is empty; a rule needs at least name, type and alert")
	}
	root := doc.Content[0]
	if root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("line %d: a rule file is a map of keys (name: ..., type: ...), not a list or a single value", root.Line)
	}
	var d yamlDecoder
	return d.mapping(root, 0)
}
