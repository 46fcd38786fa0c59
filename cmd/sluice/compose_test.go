package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// No container engine runs where these tests run (the docker client has no
// compose plugin and there is no daemon), so docker-compose.yml and the
// Dockerfile are checked without one: the compose file's structure, the
// mounted config through sluice's own check-config with the image's
// environment, and the Dockerfile's go build command run as it is, in a
// git copy of the sources as the build context would hold them.

type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build struct {
			Context string            `yaml:"context"`
			Args    map[string]string `yaml:"args"`
		} `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Profiles    []string          `yaml:"profiles"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// dockerfileEnv returns the ENV settings of the Dockerfile's last stage.
func dockerfileEnv(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var env []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "FROM ") {
			env = nil
		}
		if rest, ok := strings.CutPrefix(line, "ENV "); ok {
			env = append(env, strings.Fields(rest)...)
		}
	}
	return env
}

// mountSource returns the host side of the bind or volume mount of target
// in vols ("src:target[:ro]"), and whether it is read-only.
func mountSource(vols []string, target string) (src string, ro, ok bool) {
	for _, v := range vols {
		f := strings.Split(v, ":")
		if len(f) >= 2 && f[1] == target {
			return f[0], len(f) == 3 && f[2] == "ro", true
		}
	}
	return "", false, false
}

func TestDockerCompose(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"elasticsearch", "kibana", "sluice", "geoipupdate"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml has no service %s", name)
		}
	}
	// Every named volume a service mounts is declared.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				continue
			}
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %s, which volumes: does not declare", name, src)
			}
		}
	}

	s := c.Services["sluice"]
	if _, ok := s.Build.Args["VERSION"]; !ok || s.Build.Context != "." {
		t.Errorf("sluice build = %+v, want context . and a VERSION argument", s.Build)
	}
	if s.Environment["TZ"] == "" {
		t.Errorf("sluice has no TZ in its environment")
	}
	// The command names the mounted config file.
	i := slices.Index(s.Command, "--config")
	if len(s.Command) == 0 || s.Command[0] != "run" || i < 0 || i+1 >= len(s.Command) {
		t.Fatalf("sluice command = %v, want run --config FILE", s.Command)
	}
	target := s.Command[i+1]
	src, ro, ok := mountSource(s.Volumes, target)
	if !ok || !ro || !strings.HasPrefix(src, "./") {
		t.Fatalf("sluice volumes %v: want a read-only bind mount of a file in the repository at %s", s.Volumes, target)
	}
	cfgPath := filepath.Join("../..", src)

	// The config passes sluice's own check-config, with the image's
	// environment, which the container adds to it.
	if out, code := runCLI(t, dockerfileEnv(t), "check-config", cfgPath); code != 0 {
		t.Errorf("sluice check-config %s with the Dockerfile's ENV = %d:\n%s", src, code, out)
	}

	var cfg struct {
		GeoIP struct {
			CityDB    string `yaml:"city_db"`
			ASNDB     string `yaml:"asn_db"`
			CountryDB string `yaml:"country_db"`
		} `yaml:"geoip"`
		Output struct {
			Elasticsearch struct {
				Addresses []string `yaml:"addresses"`
			} `yaml:"elasticsearch"`
		} `yaml:"output"`
		Retention struct {
			Schedule string `yaml:"schedule"`
			Policies []struct {
				Pattern string `yaml:"pattern"`
				MaxAge  string `yaml:"max_age"`
				Action  string `yaml:"action"`
			} `yaml:"policies"`
		} `yaml:"retention"`
	}
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	if !slices.Contains(cfg.Output.Elasticsearch.Addresses, "http://elasticsearch:9200") {
		t.Errorf("%s: output.elasticsearch.addresses = %v, want the elasticsearch service", src, cfg.Output.Elasticsearch.Addresses)
	}
	// Retention runs inside sluice and deletes old flows and syslog days.
	if cfg.Retention.Schedule == "" {
		t.Errorf("%s: retention.schedule is empty: nothing would ever be deleted", src)
	}
	for _, index := range []string{"sluice-flows-2026.01.02", "sluice-syslog-2026.01.02"} {
		found := false
		for _, p := range cfg.Retention.Policies {
			if m, _ := filepath.Match(p.Pattern, index); m && p.Action == "delete" && p.MaxAge != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no retention policy deletes %s by age", src, index)
		}
	}

	// GeoIP: the databases the config names are on a read-only mount that
	// the geoipupdate service writes, and geoipupdate fetches those editions.
	gu := c.Services["geoipupdate"]
	if !slices.Contains(gu.Profiles, "geoip") {
		t.Errorf("geoipupdate profiles = %v, want geoip (it needs a MaxMind account)", gu.Profiles)
	}
	editions := strings.Fields(gu.Environment["GEOIPUPDATE_EDITION_IDS"])
	for _, db := range []string{cfg.GeoIP.CityDB, cfg.GeoIP.ASNDB, cfg.GeoIP.CountryDB} {
		if db == "" {
			continue
		}
		vol, ro, ok := mountSource(s.Volumes, filepath.Dir(db))
		if !ok || !ro {
			t.Errorf("%s: %s is not on a read-only mount of the sluice service (%v)", src, db, s.Volumes)
			continue
		}
		if guDir, _, ok := mountSourceOf(gu.Volumes, vol); !ok || guDir != "/usr/share/GeoIP" {
			t.Errorf("volume %s: geoipupdate does not write it at /usr/share/GeoIP (%v)", vol, gu.Volumes)
		}
		if ed := strings.TrimSuffix(filepath.Base(db), ".mmdb"); !slices.Contains(editions, ed) {
			t.Errorf("%s names %s, but GEOIPUPDATE_EDITION_IDS is %v", src, db, editions)
		}
	}
	if cfg.GeoIP.CityDB == "" && cfg.GeoIP.CountryDB == "" {
		t.Errorf("%s: no geoip database configured", src)
	}
}

// docker-compose 1.29 (Debian's docker-compose, Python) validates the file
// against the Compose schema without a daemon. It predates the top-level
// name: key of Compose v2, so it checks a copy without that line.
func TestDockerComposeSchema(t *testing.T) {
	dc := requireTool(t, "docker-compose", "docker-compose")
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^name: .*\n`).ReplaceAllString(string(b), "")
	f := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(dc, append([]string{"-f", f, "--project-directory", root}, args...)...)
		cmd.Env = append(os.Environ(), "GEOIPUPDATE_ACCOUNT_ID=", "GEOIPUPDATE_LICENSE_KEY=", "TZ=", "SLUICE_VERSION=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker-compose %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	compose("config", "-q")
	// (1.29 lists services of every profile; TestDockerCompose checks profiles.)
	if got := strings.Fields(compose("config", "--services")); !slices.Contains(got, "sluice") || !slices.Contains(got, "geoipupdate") {
		t.Errorf("services = %v, want sluice and geoipupdate", got)
	}
	// TZ unset on the host: the default applies.
	if out := compose("config"); !strings.Contains(out, "TZ: Etc/UTC") {
		t.Errorf("docker-compose config: no TZ: Etc/UTC for an unset TZ:\n%s", out)
	}
}

// mountSourceOf returns the target where vols mount source.
func mountSourceOf(vols []string, source string) (target string, ro, ok bool) {
	for _, v := range vols {
		f := strings.Split(v, ":")
		if len(f) >= 2 && f[0] == source {
			return f[1], len(f) == 3 && f[2] == "ro", true
		}
	}
	return "", false, false
}

// The Dockerfile's go build command, run in a git copy of the sources (the
// build context keeps .git), stamps the version from git; with VERSION set
// it reports that version. .dockerignore leaves out no tracked file, which
// would make every image say +dirty.
func TestDockerfileBuildVersion(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("Dockerfile: no RUN CGO_ENABLED=0 go build line")
	}
	if !strings.Contains(m[1], " -o /sluice ") {
		t.Fatalf("Dockerfile build %q: want -o /sluice", m[1])
	}
	dir := gitCopy(t)
	head := gitIn(t, dir, "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "sluice")
	build := func(version string) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", strings.Replace(m[1], " -o /sluice ", " -o "+bin+" ", 1))
		cmd.Dir = dir
		// The golang image sets no GOFLAGS; ARG VERSION is in the environment of RUN.
		cmd.Env = append(os.Environ(), "GOFLAGS=", "VERSION="+version)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", m[1], err, out)
		}
		return strings.SplitN(mustOutput(t, exec.Command(bin, "version")), "\n", 2)[0]
	}
	if got, want := build(""), "sluice v0.0.0-20260102030405-"+head[:12]; got != want {
		t.Errorf("Dockerfile build without VERSION: sluice version = %q, want %q", got, want)
	}
	if got := build("v1.2.3"); got != "sluice v1.2.3" {
		t.Errorf("Dockerfile build with VERSION=v1.2.3: sluice version = %q", got)
	}

	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	tracked := strings.Split(strings.TrimSpace(gitIn(t, dir, "ls-files")), "\n")
	for _, line := range strings.Split(string(ignore), "\n") {
		pat := strings.TrimSpace(line)
		if pat == "" || strings.HasPrefix(pat, "#") {
			continue
		}
		pat = strings.TrimSuffix(strings.TrimPrefix(pat, "/"), "/")
		if pat == ".git" {
			t.Errorf(".dockerignore leaves out .git: the image cannot stamp its version")
		}
		for _, f := range tracked {
			if ok, _ := filepath.Match(pat, f); ok || strings.HasPrefix(f, pat+"/") {
				t.Errorf(".dockerignore %q leaves out tracked file %s: images would say +dirty", line, f)
			}
		}
	}
}
