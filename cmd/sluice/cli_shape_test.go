package main_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// helpSections parses `--help`: the subcommands and the long flag names.
func helpSections(out string) (cmds, flags []string, usage string) {
	section := ""
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " "):
			section = line
			continue
		case strings.TrimSpace(line) == "":
			section = ""
			continue
		}
		f := strings.Fields(line)
		switch section {
		case "Usage:":
			if usage == "" {
				usage = strings.TrimSpace(line)
			}
		case "Available Commands:":
			cmds = append(cmds, f[0])
		case "Flags:":
			for _, w := range f {
				if strings.HasPrefix(w, "--") {
					flags = append(flags, strings.TrimPrefix(w, "--"))
					break
				}
			}
		}
	}
	return cmds, flags, usage
}

// configFlags are the flags each command other than run shows for config
// keys; run shows them all. A command that is not listed shows none.
var configFlags = map[string][]string{
	"geoip lookup":        {"geoip.country_db", "geoip.city_db", "geoip.asn_db", "enrich.home_networks"},
	"retention":           {"output.file.dir", "output.elasticsearch.addresses", "log.level", "log.format"},
	"setup elasticsearch": {"output.elasticsearch.addresses", "log.level", "log.format"},
	"check-config":        nil,
	"version":             nil,
}

// noConfig are the commands that read no configuration.
var noConfig = []string{"version", "help", "completion"}

// Walks the command tree through --help: every command that reads the
// config has -c/--config, shows no config-key flag beyond its own (run
// shows them all), and a missing argument prints the usage line.
func TestCLIShape(t *testing.T) {
	var walk func(path []string)
	seen := 0
	walk = func(path []string) {
		out, code := runCLITimeout(t, 20*time.Second, append(slices.Clone(path), "--help")...)
		if code != 0 {
			t.Errorf("sluice %s --help = %d:\n%s", strings.Join(path, " "), code, out)
			return
		}
		cmds, flags, usage := helpSections(out)
		for _, c := range cmds {
			if c == "help" || c == "completion" {
				continue
			}
			walk(append(slices.Clone(path), c))
		}
		if len(cmds) > 0 || len(path) == 0 {
			return // a group: its leaves are checked
		}
		seen++
		name := strings.Join(path, " ")
		if !slices.Contains(noConfig, path[0]) && !slices.Contains(flags, "config") {
			t.Errorf("sluice %s has no -c/--config flag; flags: %v", name, flags)
		}
		if name != "run" {
			for _, f := range flags {
				if (strings.Contains(f, ".") || f == "data_dir") && !slices.Contains(configFlags[name], f) {
					t.Errorf("sluice %s --help shows --%s, a flag of sluice run", name, f)
				}
			}
		}
		// An argument placeholder (FILE, IP...) in the usage line: without
		// it the command says what is missing and prints that line.
		if regexp.MustCompile(`\b[A-Z]{2,}\b`).MatchString(usage) {
			out, code := runCLITimeout(t, 20*time.Second, path...)
			if code == 0 || !strings.Contains(out, "usage: "+usage) {
				t.Errorf("sluice %s without its argument = %d, want non-zero with the line %q:\n%s", name, code, "usage: "+usage, out)
			}
		}
	}
	walk(nil)
	if seen < 5 {
		t.Errorf("walked %d commands, want at least run, check-config, setup elasticsearch, geoip lookup, retention", seen)
	}
}
