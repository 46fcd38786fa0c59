package beats

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/sluicelab/sluice/internal/event"
)

// Sysmon event ID 22 (DNSEvent, a DNS query made through the Windows DNS
// client) as Winlogbeat ships it without its Sysmon module's processing
// (Winlogbeat 8 leaves that to an Elasticsearch ingest pipeline, which a
// Logstash-style receiver does not run): winlog.event_data.QueryName,
// QueryStatus, QueryResults, Image, ProcessId and ProcessGuid are mapped
// the way that module maps them, and where the DNS checks look:
//
//	QueryName    -> dns.question.name (lower-cased, no trailing dot)
//	QueryResults -> dns.answers ({type, data} each) and dns.resolved_ip (each address)
//	QueryStatus  -> sysmon.dns.status (its Windows name) and dns.response_code
//	Image        -> process.executable, process.name
//	ProcessId    -> process.pid; ProcessGuid -> process.entity_id
//	event.category [network], event.type [connection, protocol, info], network.protocol dns
//
// Values the document already has are kept (a Winlogbeat that ran its
// module has done the mapping itself); winlog.event_data stays as sent.
const sysmonChannel = "Microsoft-Windows-Sysmon/Operational"

// sysmonFacts are the values of one document the mapping needs.
type sysmonFacts struct {
	eventID                                  int64
	channel                                  string
	queryName, status, results, image, guid  string
	pid                                      int64
	pidOK                                    bool
	hasQuestion, hasResolved, hasAnswers     bool
	hasExecutable, hasProcName, hasPID       bool
	hasEntityID, hasCategory, hasType        bool
	hasProtocol, hasResponseCode, hasSysmonS bool
}

// see records a string value at path.
func (s *sysmonFacts) see(path, v string) {
	if strings.HasPrefix(path, "winlog.") {
		switch path {
		case "winlog.channel":
			s.channel = v
		case "winlog.event_id":
			if id, err := strconv.ParseInt(v, 10, 64); err == nil {
				s.eventID = id
			}
		case "winlog.event_data.QueryName":
			s.queryName = v
		case "winlog.event_data.QueryStatus":
			s.status = v
		case "winlog.event_data.QueryResults":
			s.results = v
		case "winlog.event_data.Image":
			s.image = v
		case "winlog.event_data.ProcessGuid":
			s.guid = v
		case "winlog.event_data.ProcessId":
			if id, err := strconv.ParseInt(v, 10, 64); err == nil {
				s.pid, s.pidOK = id, true
			}
		}
		return
	}
	switch path {
	case "process.executable":
		s.hasExecutable = true
	case "process.name":
		s.hasProcName = true
	case "process.entity_id":
		s.hasEntityID = true
	case "network.protocol":
		s.hasProtocol = true
	case "dns.response_code":
		s.hasResponseCode = true
	case "sysmon.dns.status":
		s.hasSysmonS = true
	case "event.category":
		s.hasCategory = true
	case "event.type":
		s.hasType = true
	}
}

func (s *sysmonFacts) isDNSQuery() bool {
	return s.eventID == 22 && s.channel == sysmonChannel
}

// dnsStatus maps a Sysmon QueryStatus (a Windows error code) to its
// Windows name and the DNS response code it stands for ("" when it is
// no response code: a timeout, a local error). The DNS_ERROR_RCODE_*
// codes are 9000 + the RCODE (winerror.h, "DNS error codes"); 9501
// (DNS_INFO_NO_RECORDS) is an answer without records of the type asked
// for, a NOERROR response.
func dnsStatus(code string) (name, rcode string) {
	switch code {
	case "0":
		return "SUCCESS", "NOERROR"
	case "9001":
		return "DNS_ERROR_RCODE_FORMAT_ERROR", "FORMERR"
	case "9002":
		return "DNS_ERROR_RCODE_SERVER_FAILURE", "SERVFAIL"
	case "9003":
		return "DNS_ERROR_RCODE_NAME_ERROR", "NXDOMAIN"
	case "9004":
		return "DNS_ERROR_RCODE_NOT_IMPLEMENTED", "NOTIMP"
	case "9005":
		return "DNS_ERROR_RCODE_REFUSED", "REFUSED"
	case "9006":
		return "DNS_ERROR_RCODE_YXDOMAIN", "YXDOMAIN"
	case "9007":
		return "DNS_ERROR_RCODE_YXRRSET", "YXRRSET"
	case "9008":
		return "DNS_ERROR_RCODE_NXRRSET", "NXRRSET"
	case "9009":
		return "DNS_ERROR_RCODE_NOTAUTH", "NOTAUTH"
	case "9010":
		return "DNS_ERROR_RCODE_NOTZONE", "NOTZONE"
	case "9501":
		return "DNS_INFO_NO_RECORDS", "NOERROR"
	case "1460":
		return "ERROR_TIMEOUT", ""
	case "87":
		return "ERROR_INVALID_PARAMETER", ""
	case "123":
		return "ERROR_INVALID_NAME", ""
	case "1214":
		return "ERROR_INVALID_NETNAME", ""
	case "9560":
		return "DNS_ERROR_INVALID_NAME_CHAR", ""
	case "9701":
		return "DNS_ERROR_RECORD_DOES_NOT_EXIST", ""
	case "9702":
		return "DNS_ERROR_RECORD_FORMAT", ""
	}
	return "", ""
}

// dnsTypeName is the mnemonic of a DNS record type number as Sysmon
// writes it in QueryResults ("type:  5 name").
func dnsTypeName(t string) string {
	switch t {
	case "1":
		return "A"
	case "2":
		return "NS"
	case "5":
		return "CNAME"
	case "6":
		return "SOA"
	case "12":
		return "PTR"
	case "15":
		return "MX"
	case "16":
		return "TXT"
	case "28":
		return "AAAA"
	case "33":
		return "SRV"
	case "64":
		return "SVCB"
	case "65":
		return "HTTPS"
	case "255":
		return "ANY"
	}
	return t
}

// apply adds the mapped fields a Sysmon DNS query event lacks.
func (s *sysmonFacts) apply(c *converter, b *event.Batch, e *event.Event) {
	str := func(k, v string) { c.add(e, event.Field{Key: k, Type: event.FieldString, S: v}) }
	js := func(k string, v []byte) { c.add(e, event.Field{Key: k, Type: event.FieldJSON, B: b.Bytes(v)}) }
	if !s.hasQuestion && s.queryName != "" {
		q := []byte(s.queryName)
		str("dns.question.name", string(normalizeName(q)))
	}
	if !s.hasResolved && !s.hasAnswers && s.results != "" {
		rest := s.results
		for rest != "" {
			var item string
			item, rest, _ = strings.Cut(rest, ";")
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			var typ, data string
			if t, ok := strings.CutPrefix(item, "type:"); ok {
				f := strings.Fields(t)
				if len(f) != 2 {
					continue // not the documented shape
				}
				typ, data = dnsTypeName(f[0]), f[1]
			} else {
				a, err := netip.ParseAddr(item)
				if err != nil {
					continue
				}
				a = a.Unmap()
				c.add(e, event.Field{Key: "dns.resolved_ip", Type: event.FieldIP, IP: a})
				typ, data = "A", a.String()
				if a.Is6() {
					typ = "AAAA"
				}
			}
			c.js = append(c.js[:0], `{"data":`...)
			c.js = appendJSONString(c.js, []byte(data))
			c.js = append(c.js, `,"type":`...)
			c.js = appendJSONString(c.js, []byte(typ))
			c.js = append(c.js, '}')
			js("dns.answers", c.js)
		}
	}
	if s.status != "" {
		name, rcode := dnsStatus(s.status)
		if !s.hasSysmonS {
			if name == "" {
				name = s.status
			}
			str("sysmon.dns.status", name)
		}
		if rcode != "" && !s.hasResponseCode {
			str("dns.response_code", rcode)
		}
	}
	if s.image != "" && s.image != "<unknown process>" {
		if !s.hasExecutable {
			str("process.executable", s.image)
		}
		if !s.hasProcName {
			str("process.name", baseName(s.image))
		}
	}
	if s.pidOK && !s.hasPID {
		c.add(e, event.Field{Key: "process.pid", Type: event.FieldInt, U: uint64(s.pid)})
	}
	if s.guid != "" && !s.hasEntityID {
		str("process.entity_id", s.guid)
	}
	if !s.hasCategory {
		js("event.category", []byte(`["network"]`))
	}
	if !s.hasType {
		js("event.type", []byte(`["connection","protocol","info"]`))
	}
	if !s.hasProtocol {
		str("network.protocol", "dns")
	}
}
