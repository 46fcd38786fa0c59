package alert

// FieldAliases maps the field names of the Logstash-era pipelines sluice
// replaces (grok captures of the Meraki, F5 ASM and netfilter patterns
// people ran, Logstash's netflow codec) to the ECS paths sluice writes, so
// an old rule's filter, query_key or compare_key still works. A rule's
// field_aliases add to these and win over them.
var FieldAliases = map[string]string{
	// F5 BIG-IP ASM: the key="value" names of the remote log, which the
	// Logstash kv filter made top-level fields; sluice keeps every pair
	// under f5.asm.<key> (and fills ECS fields from some of them).
	"violation_rating":             "f5.asm.violation_rating",
	"attack_type":                  "f5.asm.attack_type",
	"request_status":               "f5.asm.request_status",
	"violations":                   "f5.asm.violations",
	"sig_names":                    "f5.asm.sig_names",
	"sig_ids":                      "f5.asm.sig_ids",
	"policy_name":                  "f5.asm.policy_name",
	"support_id":                   "f5.asm.support_id",
	"ip_client":                    "f5.asm.ip_client",
	"dest_ip":                      "f5.asm.dest_ip",
	"dest_port":                    "f5.asm.dest_port",
	"src_port":                     "f5.asm.src_port",
	"uri":                          "f5.asm.uri",
	"method":                       "f5.asm.method",
	"response_code":                "f5.asm.response_code",
	"geo_location":                 "f5.asm.geo_location",
	"sub_violations":               "f5.asm.sub_violations",
	"unit_hostname":                "f5.asm.unit_hostname",
	"management_ip_address":        "f5.asm.management_ip_address",
	"x_forwarded_for_header_value": "f5.asm.x_forwarded_for_header_value",
	"username":                     "f5.asm.username",
	"query_string":                 "f5.asm.query_string",
	"http_class_name":              "f5.asm.http_class_name",
	"protocol_info":                "f5.asm.protocol_info",
	// Logstash's netflow codec
	"netflow.ipv4_src_addr": "source.ip",
	"netflow.ipv4_dst_addr": "destination.ip",
	"netflow.ipv6_src_addr": "source.ip",
	"netflow.ipv6_dst_addr": "destination.ip",
	"netflow.l4_src_port":   "source.port",
	"netflow.l4_dst_port":   "destination.port",
	"netflow.protocol":      "network.iana_number",
	// Logstash's syslog input and the classic syslog grok
	"logsource":       "host.hostname",
	"program":         "process.name",
	"syslog_hostname": "host.hostname",
	"syslog_program":  "process.name",
	"syslog_pid":      "process.pid",
	"syslog_message":  "message",
	"syslog_severity": "log.syslog.severity.name",
	"syslog_facility": "log.syslog.facility.name",
}
