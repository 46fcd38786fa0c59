// Package enrich holds the stages that run between decoding and output:
// grok/vendor parsing, GeoIP and flow direction. They plug into the
// pipeline as pipeline.Stage values; the list is empty until those land.
package enrich

import "github.com/sluicelab/sluice/internal/pipeline"

// Stages returns the enrich stages to run, in order.
func Stages() []pipeline.Stage { return nil }
