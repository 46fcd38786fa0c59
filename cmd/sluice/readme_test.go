package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluicelab/sluice/configs"
	"github.com/sluicelab/sluice/internal/config"
)

// TestReadmeCommandsExist: every `sluice ...` command line in README.md's
// shell blocks names a command that exists, with flags that command has.
// A README that shows what the binary does not do is a bug.
func TestReadmeCommandsExist(t *testing.T) {
	lines := readmeShellLines(t)
	checked := 0
	for _, line := range lines {
		words := strings.Fields(line)
		switch {
		case len(words) > 0 && words[0] == "sluice":
			words = words[1:]
		case len(words) > 3 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/sluice":
			words = words[3:]
		default:
			continue
		}
		if i := slices.Index(words, "#"); i >= 0 {
			words = words[:i]
		}
		// The command path: the words before the first flag.
		var path, flags []string
		for _, w := range words {
			if strings.HasPrefix(w, "-") {
				name, _, _ := strings.Cut(w, "=")
				flags = append(flags, name)
			} else if len(flags) == 0 {
				path = append(path, w)
			}
		}
		// Try the longest path that is a command (the rest are arguments).
		found := false
		for n := len(path); n >= min(1, len(path)) && !found; n-- {
			var out, errOut bytes.Buffer
			args := append(append([]string{}, path[:n]...), "--help")
			if code := execute(args, &out, &errOut); code != 0 {
				continue
			}
			help := out.String()
			if !strings.Contains(help, "sluice "+strings.Join(path[:n], " ")) {
				continue
			}
			found = true
			for _, f := range flags {
				if !strings.Contains(help, f+" ") && !strings.Contains(help, f+"=") && !strings.Contains(help, ", "+f) {
					t.Errorf("README line %q: `sluice %s --help` does not list the flag %s", line, strings.Join(path[:n], " "), f)
				}
			}
		}
		if !found {
			t.Errorf("README line %q: no such sluice command", line)
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("checked %d sluice command lines in README.md; the extraction is broken", checked)
	}
}

// keyRe matches a dotted config key in backquotes.
var keyRe = regexp.MustCompile("`([a-z][a-z0-9_]*(?:\\.[a-z0-9_]+)+)`")

// TestReadmeKeysExist: every config key README.md names in backquotes is a
// key sluice knows (or a section of keys), written in full or relative to
// its section (`spool.max_bytes` under output.elasticsearch).
func TestReadmeKeysExist(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := config.Keys()
	sections := map[string]bool{}
	for _, k := range keys {
		for i := range k {
			if k[i] == '.' {
				sections[k[:i]] = true
			}
		}
	}
	fields := templateFields(t)
	known := func(s string) bool {
		for _, k := range keys {
			if k == s || strings.HasSuffix(k, "."+s) || strings.HasPrefix(k, s+".") || strings.Contains(k, "."+s+".") {
				return true
			}
		}
		return false
	}
	checked := 0
	for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
		k := m[1]
		// File names and hosts (sluice.yaml, geoip.mmdb, 127.0.0.1) are not keys.
		if strings.Contains(k, "yaml") || strings.HasSuffix(k, ".mmdb") || strings.HasSuffix(k, ".ndjson") ||
			strings.HasSuffix(k, ".json") || strings.HasSuffix(k, ".service") || strings.HasSuffix(k, ".go") || strings.HasSuffix(k, ".md") {
			continue
		}
		top, _, _ := strings.Cut(k, ".")
		if fields[k] && !known(k) {
			continue // an event field (netflow.sampling_rate), not a key
		}
		if !sections[top] && !known(k) {
			// Not in a config section and not a relative key: not a key
			// (e.g. a metric label or a Go identifier).
			continue
		}
		checked++
		if !known(k) {
			t.Errorf("README.md names the config key `%s`, which sluice does not know", k)
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d config keys in README.md; the extraction is broken", checked)
	}
}

// templateFields returns the event fields the index templates map, and
// their parents (log.syslog), and fields the dynamic templates allow
// (fields named after them in README).
func templateFields(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	var walk func(prefix string, props map[string]any)
	walk = func(prefix string, props map[string]any) {
		for name, v := range props {
			full := prefix + name
			out[full] = true
			if m, ok := v.(map[string]any); ok {
				if sub, ok := m["properties"].(map[string]any); ok {
					walk(full+".", sub)
				}
			}
		}
	}
	var find func(v any)
	find = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if p, ok := x["properties"].(map[string]any); ok {
				walk("", p)
			}
			for _, c := range x {
				find(c)
			}
		case []any:
			for _, c := range x {
				find(c)
			}
		}
	}
	ents, err := configs.Templates.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := configs.Templates.ReadFile("templates/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		find(v)
	}
	if len(out) < 50 {
		t.Fatalf("found %d fields in the index templates; the walk is broken", len(out))
	}
	return out
}

// readmeShellLines returns the lines of README.md's sh code blocks.
func readmeShellLines(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "```"):
			in = !in && (l == "```sh" || l == "```bash" || l == "```shell")
		case in:
			out = append(out, l)
		}
	}
	return out
}
