// Package configs embeds the sample configuration so the binary and tests
// can check it (and later the pattern files and index templates).
package configs

import _ "embed"

// SampleConfig is configs/sluice.yaml: every key with its default and a comment.
//
//go:embed sluice.yaml
var SampleConfig []byte
