package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// flowTuples renders hand-built flows as comparison tuples.
func flowTuples(fs ...[]flowRec) []flowTuple {
	var out []flowTuple
	for _, flows := range fs {
		for _, f := range flows {
			out = append(out, flowTuple{
				flowKey: normKey(flowKey{Src: f.Src.String(), Dst: f.Dst.String(), SPort: f.SPort, DPort: f.DPort, Proto: f.Proto}),
				Bytes:   f.Bytes, Pkts: f.Pkts,
			})
		}
	}
	return out
}

// docTuples returns the tuples of the documents whose destination address
// starts with one of the prefixes (the batch tags of testFlows).
func docTuples(t *testing.T, docs []doc, dstPrefixes ...string) []flowTuple {
	t.Helper()
	var out []flowTuple
	for _, d := range docs {
		dst := d.str("destination.ip")
		match := false
		for _, p := range dstPrefixes {
			match = match || strings.HasPrefix(dst, p)
		}
		if !match {
			continue
		}
		ft, err := docTuple(d)
		if err != nil {
			t.Errorf("document: %v: %.400s", err, d.Raw)
			continue
		}
		out = append(out, ft)
	}
	return out
}

// checkTuples diffs documents against the flows that were sent.
func checkTuples(t *testing.T, what string, got, want []flowTuple) {
	t.Helper()
	if diff := cmp.Diff(tupleLines(want), tupleLines(got)); diff != "" {
		t.Errorf("%s: %d documents, %d flows sent (-sent +documents):\n%s", what, len(got), len(want), diff)
	}
}

// dirListing names the files under dir, for failure messages.
func dirListing(dir string) string {
	var names []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return "[" + strings.Join(names, " ") + "]"
}

// TestTemplatesSurviveRestart sends templates and data to one sluice, stops
// it, starts another on the same data dir and ports, and sends data only:
// the second run must decode every record with the templates of the first.
func TestTemplatesSurviveRestart(t *testing.T) {
	ps := newPorts(t)
	dataDir := t.TempDir()
	now := time.Now().UTC()
	end := now.Add(-time.Second)

	// Three exporters, each its own socket (kept open across the restart,
	// like a router's): v9 and IPFIX on their ports, and IPFIX on the NetFlow
	// port, which auto-detects the version.
	v9s, ixs, ixAuto := newUDPSender(t), newUDPSender(t), newUDPSender(t)
	v9 := &exporter{Boot: now.Add(-time.Hour), SourceID: 42}
	ix := &exporter{SourceID: 43}
	ix2 := &exporter{SourceID: 44}
	const tmplV9, tmplIX, tmplIX2 = 260, 261, 262

	s1 := startSluice(t, sluiceOpts{Ports: ps, DataDir: dataDir})
	f1v9, f1ix, f1ix2 := testFlows(10, 11, end), testFlows(10, 12, end), testFlows(10, 13, end)
	v9s.send(ps.NetFlow, v9.v9Packet(now, 1+len(f1v9), templateSet(v9Template, tmplV9, v9Fields4), v9.dataSet(tmplV9, v9Fields4, f1v9)))
	ixs.send(ps.IPFIX, ix.ipfixPacket(now, len(f1ix), templateSet(ipfixTmpl, tmplIX, ipfixFields4), ix.dataSet(tmplIX, ipfixFields4, f1ix)))
	ixAuto.send(ps.NetFlow, ix2.ipfixPacket(now, len(f1ix2), templateSet(ipfixTmpl, tmplIX2, ipfixFields4), ix2.dataSet(tmplIX2, ipfixFields4, f1ix2)))
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	s1.stop()
	docs1 := readDocs(t, s1.opts.OutDir)
	checkTuples(t, "run 1 (template + data), v9", docTuples(t, docs1, "203.0.11."), flowTuples(f1v9))
	checkTuples(t, "run 1 (template + data), IPFIX", docTuples(t, docs1, "203.0.12."), flowTuples(f1ix))
	checkTuples(t, "run 1 (template + data), IPFIX on the NetFlow port", docTuples(t, docs1, "203.0.13."), flowTuples(f1ix2))
	if len(docs1) != 30 {
		t.Errorf("run 1 wrote %d documents, want 30", len(docs1))
	}
	if t.Failed() {
		t.FailNow() // run 2 means nothing when run 1 already lost flows
	}

	s2 := startSluice(t, sluiceOpts{Ports: ps, DataDir: dataDir})
	now2 := time.Now().UTC()
	end2 := now2.Add(-time.Second)
	f2v9, f2ix, f2ix2 := testFlows(30, 21, end2), testFlows(30, 22, end2), testFlows(30, 23, end2)
	for i := 0; i < 30; i += 10 {
		v9s.send(ps.NetFlow, v9.v9Packet(now2, 10, v9.dataSet(tmplV9, v9Fields4, f2v9[i:i+10])))
		ixs.send(ps.IPFIX, ix.ipfixPacket(now2, 10, ix.dataSet(tmplIX, ipfixFields4, f2ix[i:i+10])))
		ixAuto.send(ps.NetFlow, ix2.ipfixPacket(now2, 10, ix2.dataSet(tmplIX2, ipfixFields4, f2ix2[i:i+10])))
	}
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	s2.stop()
	docs2 := readDocs(t, s2.opts.OutDir)
	checkTuples(t, "run 2 (data only, templates from run 1), v9", docTuples(t, docs2, "203.0.21."), flowTuples(f2v9))
	checkTuples(t, "run 2 (data only, templates from run 1), IPFIX", docTuples(t, docs2, "203.0.22."), flowTuples(f2ix))
	checkTuples(t, "run 2 (data only, templates from run 1), IPFIX on the NetFlow port", docTuples(t, docs2, "203.0.23."), flowTuples(f2ix2))
	if len(docs2) != 90 {
		t.Errorf("run 2 wrote %d documents, want 90", len(docs2))
	}
	if t.Failed() {
		t.Logf("data dir after the runs: %s", dirListing(dataDir))
	}
	checkDaily(t, docs2)
}

// TestTemplatesSurviveKill is the crash case: sluice is killed with SIGKILL
// some time after it learnt the templates, so only state it wrote while
// running is there for the next start.
func TestTemplatesSurviveKill(t *testing.T) {
	ps := newPorts(t)
	dataDir := t.TempDir()
	now := time.Now().UTC()
	v9s, ixs := newUDPSender(t), newUDPSender(t)
	v9 := &exporter{Boot: now.Add(-time.Hour), SourceID: 52}
	ix := &exporter{SourceID: 53}

	s1 := startSluice(t, sluiceOpts{Ports: ps, DataDir: dataDir})
	v9s.send(ps.NetFlow, v9.v9Packet(now, 1, templateSet(v9Template, 270, v9Fields4)))
	ixs.send(ps.IPFIX, ix.ipfixPacket(now, 0, templateSet(ipfixTmpl, 271, ipfixFields4)))
	// Learnt: both templates counted by sluice.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := metricSum(s1.metrics(), "sluice_netflow_templates")
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sluice_netflow_templates = %v within 5s of sending 2 templates, want 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Saved: the state file holds both templates (it may have been written
	// before the metric showed them), while the exporters keep sending data
	// (sluice may save only when traffic arrives).
	deadline = time.Now().Add(10 * time.Second)
	for i := 0; !stateHasTemplates(dataDir, 270, 271); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no file in the data dir written within 10s of learning templates, with traffic flowing (%s): a crash would lose them", dirListing(dataDir))
		}
		keep := testFlows(1, 73, time.Now().UTC())
		v9s.send(ps.NetFlow, v9.v9Packet(time.Now(), 1, v9.dataSet(270, v9Fields4, keep)))
		ixs.send(ps.IPFIX, ix.ipfixPacket(time.Now(), 1, ix.dataSet(271, ipfixFields4, keep)))
		time.Sleep(100 * time.Millisecond) // exporter pacing
	}
	s1.kill()

	s2 := startSluice(t, sluiceOpts{Ports: ps, DataDir: dataDir})
	end := time.Now().UTC().Add(-time.Second)
	fv9, fix := testFlows(10, 71, end), testFlows(10, 72, end)
	v9s.send(ps.NetFlow, v9.v9Packet(time.Now(), 10, v9.dataSet(270, v9Fields4, fv9)))
	ixs.send(ps.IPFIX, ix.ipfixPacket(time.Now(), 10, ix.dataSet(271, ipfixFields4, fix)))
	waitUDPDrained(t, ps.NetFlow, 5*time.Second)
	waitUDPDrained(t, ps.IPFIX, 5*time.Second)
	s2.stop()
	docs := readDocs(t, s2.opts.OutDir)
	checkTuples(t, "after SIGKILL and restart (data only), v9", docTuples(t, docs, "203.0.71."), flowTuples(fv9))
	checkTuples(t, "after SIGKILL and restart (data only), IPFIX", docTuples(t, docs, "203.0.72."), flowTuples(fix))
	if t.Failed() {
		t.Logf("data dir: %s", dirListing(dataDir))
	}
}

// stateWrittenSince reports whether a non-empty file under dir was modified after since.
// stateHasTemplates reports whether the netflow state file in dir holds
// templates with all the given IDs.
func stateHasTemplates(dir string, ids ...int) bool {
	b, err := os.ReadFile(filepath.Join(dir, "netflow-templates.json"))
	if err != nil {
		return false
	}
	var st struct {
		Exporters []struct {
			Templates []struct {
				ID int `json:"id"`
			} `json:"templates"`
		} `json:"exporters"`
	}
	if json.Unmarshal(b, &st) != nil {
		return false
	}
	have := map[int]bool{}
	for _, e := range st.Exporters {
		for _, tp := range e.Templates {
			have[tp.ID] = true
		}
	}
	for _, id := range ids {
		if !have[id] {
			return false
		}
	}
	return true
}
