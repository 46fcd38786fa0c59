package netflow

import "embed"

//go:embed testdata/*.bin
var testdataFS embed.FS
