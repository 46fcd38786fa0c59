package config

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/sluicelab/sluice/configs"
)

func flatten(prefix string, m map[string]any, out map[string]bool) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			flatten(key, sub, out)
			continue
		}
		out[key] = true
	}
}

// The sample config documents every key, and only known keys.
func TestSampleConfigDocumentsEveryKey(t *testing.T) {
	var m map[string]any
	if err := yaml.Unmarshal(configs.SampleConfig, &m); err != nil {
		t.Fatalf("yaml.Unmarshal(sluice.yaml): %v", err)
	}
	inFile := map[string]bool{}
	flatten("", m, inFile)
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
		if !inFile[k] {
			t.Errorf("configs/sluice.yaml does not document key %s", k)
		}
	}
	for k := range inFile {
		if !known[k] {
			t.Errorf("configs/sluice.yaml has key %s that sluice does not know", k)
		}
	}
}

// The sample file states the defaults: loading it equals loading nothing.
func TestSampleConfigEqualsDefaults(t *testing.T) {
	def, err := Load("", nil)
	if err != nil {
		t.Fatalf("Load(defaults): %v", err)
	}
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, configs.SampleConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load(sluice.yaml): %v", err)
	}
	if diff := cmp.Diff(def, got); diff != "" {
		t.Errorf("sluice.yaml differs from the defaults (-default +file):\n%s", diff)
	}
	if def.NetFlow.Listen[0] != "0.0.0.0:2055" || def.IPFIX.Listen[0] != "0.0.0.0:4739" || def.SFlow.Listen[0] != "0.0.0.0:6343" {
		t.Errorf("default ports changed: %v %v %v", def.NetFlow.Listen, def.IPFIX.Listen, def.SFlow.Listen)
	}
	if !strings.HasPrefix(def.HTTP.Listen, "127.0.0.1:") {
		t.Errorf("http.listen default %q is not on 127.0.0.1", def.HTTP.Listen)
	}
}

func TestEnvAndFlagsOverride(t *testing.T) {
	t.Setenv("SLUICE_NETFLOW_LISTEN", "127.0.0.1:1,127.0.0.1:2")
	t.Setenv("SLUICE_OUTPUT_FILE_DIR", "/tmp/x")
	t.Setenv("SLUICE_COLLECTOR_QUEUE_SIZE", "7")
	t.Setenv("SLUICE_SHUTDOWN_TIMEOUT", "3s")
	t.Setenv("SLUICE_HTTP_LISTEN", "127.0.0.1:1234")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse([]string{"--http.listen=127.0.0.1:999"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load("", fs)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff([]string{"127.0.0.1:1", "127.0.0.1:2"}, c.NetFlow.Listen); diff != "" {
		t.Errorf("netflow.listen from env (-want +got):\n%s", diff)
	}
	if c.Output.File.Dir != "/tmp/x" || c.Collector.QueueSize != 7 || c.Shutdown.Timeout != 3*time.Second {
		t.Errorf("env not applied: dir=%q queue=%d timeout=%s", c.Output.File.Dir, c.Collector.QueueSize, c.Shutdown.Timeout)
	}
	if c.HTTP.Listen != "127.0.0.1:999" {
		t.Errorf("flag should beat env: http.listen = %q", c.HTTP.Listen)
	}
}

// Each testdata/*.bad.yaml starts with "# want: <substring of the error>".
func TestBadConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.bad.yaml")
	}
	sort.Strings(files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(raw), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("%s: first line must be '# want: ...'", f)
			}
			c, err := Load(f, nil)
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("Load+Validate(%s) = nil error, want one containing %q", f, want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Load+Validate(%s) error:\n%v\nwant it to contain %q", f, err, want)
			}
		})
	}
}

// Read keeps going past unknown keys and bad values, so that one pass
// reports them together with what Validate finds.
func TestReadReportsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	raw := "outptu:\n  stdout: true\ncollector:\n  sockets: many\nlog:\n  level: loud\n"
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Read(path, nil)
	if c == nil {
		t.Fatalf("Read() = nil Config, %v", err)
	}
	all := errors.Join(err, c.Validate())
	if all == nil {
		t.Fatal("Read()+Validate() = nil error")
	}
	for _, want := range []string{"outptu.stdout: unknown key", "did you mean output.stdout?", "collector.sockets: many", "log.level"} {
		if !strings.Contains(all.Error(), want) {
			t.Errorf("Read()+Validate() error does not contain %q:\n%v", want, all)
		}
	}
	// The bad value was replaced by its default, not reported twice.
	if c.Collector.Sockets != 1 {
		t.Errorf("collector.sockets after a bad value = %d, want the default 1", c.Collector.Sockets)
	}
	if _, err := Load(path, nil); err == nil {
		t.Error("Load() = nil error for a file with an unknown key")
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"netflw.listen", "did you mean netflow.listen?"},
		{"http.listne", "did you mean http.listen?"},
		{"output.elasticsearch.adresses", "did you mean output.elasticsearch.addresses?"},
		{"foo", "remove it; configs/sluice.yaml lists every key"},
	} {
		if got := suggest(tc.key, Keys()); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
