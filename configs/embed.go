// Package configs embeds the sample configuration so the binary and tests
// can check it, the Elasticsearch index templates, the grok pattern files
// and the vendor parser files.
package configs

import "embed"

// SampleConfig is configs/sluice.yaml: every key with its default and a comment.
//
//go:embed sluice.yaml
var SampleConfig []byte

// Templates holds the Elasticsearch component templates as
// templates/<name>.json: sluice-ecs.json (the ECS fields) and
// sluice-netflow.json (the netflow.* fields, generated from the IE table by
// go test ./output/elasticsearch -run TestNetflowTemplate -update).
// output/elasticsearch adds the version, _meta and settings when it installs
// them.
//
//go:embed templates/*.json
var Templates embed.FS

// Patterns holds the grok pattern files as patterns/*.grok (Logstash
// pattern-file syntax, RE2 regexps): base.grok, the common library, and the
// vendor files; grok.BaseLibrary loads them before any user pattern
// directory.
//
//go:embed patterns/*.grok
var Patterns embed.FS

// Parsers holds the vendor parser files as parsers/*.yaml (Cisco Meraki,
// F5 BIG-IP ASM, Linux netfilter); enrich/parsers compiles them before any
// syslog.parsers.rule_dirs file. parsers/README.md describes the format.
//
//go:embed parsers/*.yaml
var Parsers embed.FS
