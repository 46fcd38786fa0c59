package chaos

import (
	"strconv"
	"time"
)

// SyslogLine returns an RFC 5424 line (no trailing newline) with timestamp
// ts (already formatted: the clock-skew scenario sends years 1969 and 9999,
// which time.Time formats but sluice must cope with) whose message carries
// seq=N.
func SyslogLine(seq uint64, ts string) []byte {
	b := make([]byte, 0, 96)
	b = append(b, "<134>1 "...)
	b = append(b, ts...)
	b = append(b, " chaos-host chaos 42 - - chaos line seq="...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, " end"...)
	return b
}

// SyslogTime formats t as an RFC 5424 timestamp.
func SyslogTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
