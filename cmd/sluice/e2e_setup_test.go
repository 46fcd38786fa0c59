package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicelab/sluice/internal/estest"
)

// `sluice setup elasticsearch` without --config reads the service's config
// (here a temp file: the binary is linked with main.serviceConfig set to
// it) and so keeps the settings the service's config changed; it says
// which config it used and what each template got, with what changed.
func TestSetupElasticsearchUsesServiceConfig(t *testing.T) {
	url := estest.URL(t)
	prefix := estest.IndexName(t, "sluicesetup")
	esCleanup(t, url, prefix)

	dir := t.TempDir()
	svc := filepath.Join(dir, "sluice.yaml")
	bin := filepath.Join(dir, "sluice")
	build := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-ldflags", "-X main.serviceConfig="+svc, "-o", bin, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -X main.serviceConfig: %v\n%s", err, out)
	}
	writeSvc := func(shards int) {
		cfg := fmt.Sprintf("output:\n  elasticsearch:\n    addresses: [%q]\n    template:\n      shards: %d\n  index:\n    flows: %s-flows-%%{+yyyy.MM.dd}\n    syslog: %s-syslog-%%{+yyyy.MM.dd}\n",
			url, shards, prefix, prefix)
		if err := os.WriteFile(svc, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setup := func(env ...string) string {
		t.Helper()
		cmd := exec.Command(bin, "setup", "elasticsearch")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output() // the report; logs go to stderr
		if err != nil {
			t.Fatalf("sluice setup elasticsearch: %v\n%s", err, out)
		}
		return string(out)
	}
	wantLines := func(step, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w+"\n") {
				t.Errorf("%s: output lacks the line %q:\n%s", step, w, out)
			}
		}
	}

	writeSvc(1)
	out := setup()
	wantLines("first run", out, "using config "+svc+" (the service's; --config picks another)",
		"component template "+prefix+"-flows@settings: installed", "index template "+prefix+"-flows: installed")

	writeSvc(3)
	out = setup()
	wantLines("shards 1 -> 3", out,
		"component template "+prefix+"-flows@settings: updated (index.number_of_shards: 1 -> 3)",
		"component template "+prefix+"-syslog@settings: updated (index.number_of_shards: 1 -> 3)",
		"index template "+prefix+"-flows: unchanged")

	// Again without --config: the service's 3 shards stay.
	out = setup()
	wantLines("again", out, "component template "+prefix+"-flows@settings: unchanged", "index template "+prefix+"-flows: unchanged")
	if strings.Contains(out, ": updated") {
		t.Errorf("a second run without --config changed templates:\n%s", out)
	}

	// Without the service's file: the defaults (1 shard), and it says so.
	if err := os.Remove(svc); err != nil {
		t.Fatal(err)
	}
	out = setup("SLUICE_OUTPUT_ELASTICSEARCH_ADDRESSES="+url,
		"SLUICE_OUTPUT_INDEX_FLOWS="+prefix+"-flows-%{+yyyy.MM.dd}", "SLUICE_OUTPUT_INDEX_SYSLOG="+prefix+"-syslog-%{+yyyy.MM.dd}")
	if !strings.HasPrefix(out, "no config file ("+svc+": no such file or directory): using built-in defaults") {
		t.Errorf("without the service's config, first line is not 'no config file (...)':\n%s", out)
	}
	wantLines("defaults", out, "component template "+prefix+"-flows@settings: updated (index.number_of_shards: 3 -> 1)")
}
