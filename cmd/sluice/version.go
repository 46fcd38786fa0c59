package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3" (the
// Dockerfile's VERSION build argument). Left at "dev", the main module's
// version stamped by the go command is used: the tag, or a pseudo-version
// such as v0.0.0-20261207112909-34c676a1b2c3+dirty when built from a git
// checkout.
var version = "dev"

// buildInfo is what `sluice version` reports.
type buildInfo struct {
	Version   string // -X main.version, else the module version, else "dev"
	Module    string // the main module's version as stamped ("" or "(devel)" without VCS)
	Revision  string // vcs.revision
	Time      string // vcs.time
	Modified  string // vcs.modified: "true", "false" or ""
	GoVersion string
	Platform  string // GOOS/GOARCH
}

// readBuildInfo collects the version from the linker flag and the build
// information the go command embedded (the same that `go version -m` shows).
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Module = bi.Main.Version
	if (b.Version == "" || b.Version == "dev") && b.Module != "" && b.Module != "(devel)" {
		b.Version = b.Module
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	b.GoVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value
		}
	}
	return b
}

// versionString is the one-line version for logs: the version, the short
// revision with its time (and "dirty" when built from a modified tree), the
// Go version and the platform.
func versionString() string {
	b := readBuildInfo()
	var sb strings.Builder
	sb.WriteString(b.Version)
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		var parts []string
		parts = append(parts, rev)
		if b.Time != "" {
			parts = append(parts, b.Time)
		}
		if b.Modified == "true" {
			parts = append(parts, "dirty")
		}
		fmt.Fprintf(&sb, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&sb, " %s %s", b.GoVersion, b.Platform)
	return sb.String()
}

// versionText is the output of `sluice version` and `sluice --version`: the
// version on the first line, then the module version (when the linker flag
// set another one) and the VCS settings under the names `go version -m`
// gives them.
func versionText() string {
	b := readBuildInfo()
	var sb strings.Builder
	fmt.Fprintf(&sb, "sluice %s\n", b.Version)
	if b.Module != "" && b.Module != b.Version {
		fmt.Fprintf(&sb, "  module        %s\n", b.Module)
	}
	if b.Revision != "" {
		fmt.Fprintf(&sb, "  vcs.revision  %s\n", b.Revision)
		fmt.Fprintf(&sb, "  vcs.time      %s\n", b.Time)
		fmt.Fprintf(&sb, "  vcs.modified  %s\n", b.Modified)
	} else {
		sb.WriteString("  vcs           none (built without version control information)\n")
	}
	fmt.Fprintf(&sb, "  go            %s %s\n", b.GoVersion, b.Platform)
	return sb.String()
}
