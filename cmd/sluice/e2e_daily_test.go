package main_test

import (
	"strings"
	"testing"
	"time"
)

// TestDailyFilesAndLateTemplate sends flows that end just before and just
// after midnight UTC, with sluice's local time zone far from UTC, and sends
// each exporter's data before its template (as after a collector restart
// without state): the data is held, decoded when the template arrives, and
// every document lands in the file of the UTC day of its flow end.
func TestDailyFilesAndLateTemplate(t *testing.T) {
	ps := newPorts(t)
	// UTC+9: local midnight is 15:00 UTC, so a local-time file name is caught.
	// The flows are dated in March 2026 on purpose: netflow.max_past 0
	// lets their own times through (TestTimeOutOfRange covers the bound).
	s := startSluice(t, sluiceOpts{Ports: ps, Env: []string{"TZ=Asia/Tokyo", "SLUICE_NETFLOW_MAX_PAST=0"}})

	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	export := midnight.Add(5 * time.Second)
	before, after := midnight.Add(-500*time.Millisecond), midnight.Add(500*time.Millisecond)
	v9Before, v9After := testFlows(7, 61, before), testFlows(5, 62, after)
	ixBefore, ixAfter := testFlows(4, 63, midnight.Add(-time.Millisecond)), testFlows(6, 64, midnight)

	v9 := &exporter{Boot: export.Add(-time.Hour), SourceID: 61}
	v9s := newUDPSender(t)
	v9s.send(ps.NetFlow, v9.v9Packet(export, len(v9Before)+len(v9After), v9.dataSet(256, v9Fields4, v9Before), v9.dataSet(256, v9Fields4, v9After)))
	ix := &exporter{SourceID: 62}
	ixs := newUDPSender(t)
	ixs.send(ps.IPFIX, ix.ipfixPacket(export, len(ixBefore)+len(ixAfter), ix.dataSet(256, ipfixFields4, ixBefore), ix.dataSet(256, ipfixFields4, ixAfter)))
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	// Templates second.
	v9s.send(ps.NetFlow, v9.v9Packet(export, 1, templateSet(v9Template, 256, v9Fields4)))
	ixs.send(ps.IPFIX, ix.ipfixPacket(export, 0, templateSet(ipfixTmpl, 256, ipfixFields4)))
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	s.stop()

	docs := readDocs(t, s.opts.OutDir)
	checkDaily(t, docs)
	byFile := map[string][]doc{}
	for _, d := range docs {
		byFile[d.File] = append(byFile[d.File], d)
	}
	day1, day2 := byFile["sluice-flows-2026.03.01.ndjson"], byFile["sluice-flows-2026.03.02.ndjson"]
	checkTuples(t, "v9 data before template, flows ending 23:59:59.5Z, in sluice-flows-2026.03.01.ndjson", docTuples(t, day1, "203.0.61."), flowTuples(v9Before))
	checkTuples(t, "v9 data before template, flows ending 00:00:00.5Z, in sluice-flows-2026.03.02.ndjson", docTuples(t, day2, "203.0.62."), flowTuples(v9After))
	checkTuples(t, "IPFIX data before template, flows ending 23:59:59.999Z, in sluice-flows-2026.03.01.ndjson", docTuples(t, day1, "203.0.63."), flowTuples(ixBefore))
	checkTuples(t, "IPFIX data before template, flows ending 00:00:00.000Z, in sluice-flows-2026.03.02.ndjson", docTuples(t, day2, "203.0.64."), flowTuples(ixAfter))
	if len(docs) != 22 {
		t.Errorf("%d documents in %s, want 22", len(docs), dirListing(s.opts.OutDir))
	}
	for _, d := range docs {
		end, err := d.time("event.end")
		if err != nil {
			t.Errorf("event.end: %v in %.300s", err, d.Raw)
			continue
		}
		dst := d.str("destination.ip")
		want, ok := map[string]time.Time{
			"203.0.61": before, "203.0.62": after,
			"203.0.63": midnight.Add(-time.Millisecond), "203.0.64": midnight,
		}[dst[:max(0, strings.LastIndexByte(dst, '.'))]]
		if ok && !end.Equal(want) {
			t.Errorf("event.end = %s, want %s: %.300s", end.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), d.Raw)
		}
	}
}
