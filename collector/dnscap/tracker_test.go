package dnscap

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicelab/sluice/internal/event"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func testTracker(t testing.TB, mod func(*Config)) (*tracker, *metrics) {
	t.Helper()
	cfg := Default()
	cfg.Timeout = time.Second
	if mod != nil {
		mod(&cfg)
	}
	m, err := newMetrics(prometheus.NewRegistry(), []string{"test0"})
	if err != nil {
		t.Fatal(err)
	}
	return newTracker(cfg, "test0", 0, m), m
}

type step struct {
	frame []byte
	at    time.Duration // after t0
}

// run feeds the frames, then expires everything, and returns each
// event's document.
func run(t testing.TB, tr *tracker, steps []step) []map[string]any {
	t.Helper()
	b := event.NewBatch()
	defer b.Release()
	last := t0
	for _, s := range steps {
		last = t0.Add(s.at)
		tr.frame(s.frame, last, b)
	}
	tr.expire(last.Add(time.Hour), b)
	var docs []map[string]any
	for i := range b.All() {
		raw := b.All()[i].AppendJSON(nil)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("event %d: invalid JSON %v: %s", i, err, raw)
		}
		docs = append(docs, m)
	}
	return docs
}

func get(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// pick returns the values of paths in d as text.
func pick(d map[string]any, paths ...string) map[string]string {
	out := map[string]string{}
	for _, p := range paths {
		if v := get(d, p); v != nil {
			b, _ := json.Marshal(v)
			out[p] = string(b)
		}
	}
	return out
}

var checked = []string{"source.ip", "source.port", "source.bytes", "destination.ip", "destination.port", "destination.bytes",
	"network.transport", "network.bytes", "dns.id", "dns.type", "dns.question.name", "dns.question.type", "dns.question.class",
	"dns.response_code", "dns.resolved_ip", "dns.answers", "dns.header_flags", "dns.answers_count", "event.duration",
	"event.outcome", "dns.opt.udp_size", "dns.opt.do", "@timestamp"}

func TestTracker(t *testing.T) {
	qA := query(100, "WWW.Example.COM", dns.TypeA)
	rA := answer(qA, "www.example.com. 300 IN A 192.0.2.1", "www.example.com. 300 IN A 192.0.2.2")
	qAf, rAf := udpPair(qA, rA, 40000)

	qNX := query(101, "nope.example.com", dns.TypeAAAA)
	rNX := answer(qNX)
	rNX.Rcode = dns.RcodeNameError
	qNXf, rNXf := udpPair(qNX, rNX, 40001)

	qE := query(102, "txt.example.com", dns.TypeTXT)
	qE.SetEdns0(1232, true)
	rE := answer(qE, `txt.example.com. 60 IN TXT "v=spf1 \"x\"" "two"`)
	rE.Truncated = true
	rE.SetEdns0(1232, true)
	qEf, rEf := udpPair(qE, rE, 40002)

	qT := query(103, "gone.example.com", dns.TypeA)
	qTf, _ := udpPair(qT, nil, 40003)

	// TCP: the query in two segments after the handshake; two responses
	// in one segment (the second for a second query on the connection).
	q1, q2 := query(200, "mx.example.com", dns.TypeMX), query(201, "v6.example.com", dns.TypeAAAA)
	r1 := answer(q1, "mx.example.com. 60 IN MX 10 Mail.Example.com.")
	r2 := answer(q2, "v6.example.com. 60 IN AAAA 2001:db8::1")
	qs := append(tcpMsg(q1), tcpMsg(q2)...)
	rs := append(tcpMsg(r1), tcpMsg(r2)...)
	tcpc := func(seq uint32, flags uint8, p []byte) []byte {
		return buildFrame(frameOpts{src: client, dst: server, sport: 50000, dport: 53, proto: protoTCP, seq: seq, flags: flags, payload: p})
	}
	tcps := func(seq uint32, flags uint8, p []byte) []byte {
		return buildFrame(frameOpts{src: server, dst: client, sport: 53, dport: 50000, proto: protoTCP, seq: seq, flags: flags, payload: p})
	}
	// IPv6 with a VLAN tag, a response with no query seen.
	c6, s6 := netip.MustParseAddr("2001:db8::5"), netip.MustParseAddr("2001:db8::53")
	q6 := query(300, "six.example.com", dns.TypeA)
	r6 := answer(q6, "six.example.com. 5 IN A 198.51.100.7")
	r6f := buildFrame(frameOpts{src: s6, dst: c6, sport: 53, dport: 41000, proto: protoUDP, vlan: true, payload: pack(r6)})
	n := func(m *dns.Msg) string { return fmt.Sprint(len(pack(m))) }

	tr, m := testTracker(t, nil)
	docs := run(t, tr, []step{
		{qAf, 0}, {qAf, time.Millisecond}, // a retransmission
		{rAf, 2 * time.Millisecond},
		{qNXf, 3 * time.Millisecond}, {rNXf, 4 * time.Millisecond},
		{qEf, 5 * time.Millisecond}, {rEf, 7 * time.Millisecond},
		{qTf, 8 * time.Millisecond},
		{tcpc(1000, tcpSYN, nil), 9 * time.Millisecond},
		{tcps(5000, tcpSYN, nil), 9 * time.Millisecond},
		{tcpc(1001, 0, qs[:10]), 10 * time.Millisecond},
		{tcpc(1001, 0, qs[:10]), 10 * time.Millisecond}, // retransmitted
		{tcpc(1011, 0, qs[10:]), 11 * time.Millisecond},
		{tcps(5001, tcpFIN, rs), 15 * time.Millisecond},
		{r6f, 20 * time.Millisecond},
		{[]byte{1, 2, 3}, 21 * time.Millisecond}, // malformed frame
		{buildFrame(frameOpts{src: client, dst: server, sport: 40009, dport: 53, proto: protoUDP, payload: []byte("not dns at all")}), 22 * time.Millisecond},
		{buildFrame(frameOpts{src: client, dst: server, sport: 40009, dport: 80, proto: protoUDP, payload: pack(qA)}), 23 * time.Millisecond},
	})
	var got []map[string]string
	for _, d := range docs {
		got = append(got, pick(d, checked...))
	}
	want := []map[string]string{
		{"@timestamp": `"2026-12-07T10:00:00Z"`, "source.ip": `"10.0.0.5"`, "source.port": "40000", "source.bytes": n(qA), "destination.ip": `"10.0.0.53"`,
			"destination.port": "53", "destination.bytes": n(rA), "network.transport": `"udp"`, "dns.id": "100", "dns.type": `"answer"`,
			"dns.question.name": `"www.example.com"`, "dns.question.type": `"A"`, "dns.question.class": `"IN"`, "dns.response_code": `"NOERROR"`,
			"dns.resolved_ip":  `["192.0.2.1","192.0.2.2"]`,
			"dns.answers":      `[{"class":"IN","data":"192.0.2.1","name":"www.example.com","ttl":300,"type":"A"},{"class":"IN","data":"192.0.2.2","name":"www.example.com","ttl":300,"type":"A"}]`,
			"dns.header_flags": `["RD","RA"]`, "dns.answers_count": "2", "event.duration": "2000000"},
		{"@timestamp": `"2026-12-07T10:00:00.003Z"`, "source.ip": `"10.0.0.5"`, "source.port": "40001", "source.bytes": n(qNX), "destination.ip": `"10.0.0.53"`,
			"destination.port": "53", "destination.bytes": n(rNX), "network.transport": `"udp"`, "dns.id": "101", "dns.type": `"answer"`,
			"dns.question.name": `"nope.example.com"`, "dns.question.type": `"AAAA"`, "dns.question.class": `"IN"`, "dns.response_code": `"NXDOMAIN"`,
			"dns.header_flags": `["RD","RA"]`, "dns.answers_count": "0", "event.duration": "1000000"},
		{"@timestamp": `"2026-12-07T10:00:00.005Z"`, "source.ip": `"10.0.0.5"`, "source.port": "40002", "source.bytes": n(qE), "destination.ip": `"10.0.0.53"`,
			"destination.port": "53", "destination.bytes": n(rE), "network.transport": `"udp"`, "dns.id": "102", "dns.type": `"answer"`,
			"dns.question.name": `"txt.example.com"`, "dns.question.type": `"TXT"`, "dns.question.class": `"IN"`, "dns.response_code": `"NOERROR"`,
			"dns.answers":      `{"class":"IN","data":"v=spf1 \\\"x\\\" two","name":"txt.example.com","ttl":60,"type":"TXT"}`,
			"dns.header_flags": `["TC","RD","RA","DO"]`, "dns.answers_count": "1", "event.duration": "2000000",
			"dns.opt.udp_size": "1232", "dns.opt.do": "true"},
		{"@timestamp": `"2026-12-07T10:00:00.011Z"`, "source.ip": `"10.0.0.5"`, "source.port": "50000", "source.bytes": n(q1), "destination.ip": `"10.0.0.53"`,
			"destination.port": "53", "destination.bytes": n(r1), "network.transport": `"tcp"`, "dns.id": "200", "dns.type": `"answer"`,
			"dns.question.name": `"mx.example.com"`, "dns.question.type": `"MX"`, "dns.question.class": `"IN"`, "dns.response_code": `"NOERROR"`,
			"dns.answers":      `{"class":"IN","data":"10 mail.example.com","name":"mx.example.com","ttl":60,"type":"MX"}`,
			"dns.header_flags": `["RD","RA"]`, "dns.answers_count": "1", "event.duration": "4000000"},
		{"@timestamp": `"2026-12-07T10:00:00.011Z"`, "source.ip": `"10.0.0.5"`, "source.port": "50000", "source.bytes": n(q2), "destination.ip": `"10.0.0.53"`,
			"destination.port": "53", "destination.bytes": n(r2), "network.transport": `"tcp"`, "dns.id": "201", "dns.type": `"answer"`,
			"dns.question.name": `"v6.example.com"`, "dns.question.type": `"AAAA"`, "dns.question.class": `"IN"`, "dns.response_code": `"NOERROR"`,
			"dns.resolved_ip":  `"2001:db8::1"`,
			"dns.answers":      `{"class":"IN","data":"2001:db8::1","name":"v6.example.com","ttl":60,"type":"AAAA"}`,
			"dns.header_flags": `["RD","RA"]`, "dns.answers_count": "1", "event.duration": "4000000"},
		{"@timestamp": `"2026-12-07T10:00:00.020Z"`, "source.ip": `"2001:db8::5"`, "source.port": "41000", "destination.ip": `"2001:db8::53"`,
			"destination.port": "53", "destination.bytes": n(r6), "network.transport": `"udp"`, "dns.id": "300", "dns.type": `"answer"`,
			"dns.question.name": `"six.example.com"`, "dns.question.type": `"A"`, "dns.question.class": `"IN"`, "dns.response_code": `"NOERROR"`,
			"dns.resolved_ip":  `"198.51.100.7"`,
			"dns.answers":      `{"class":"IN","data":"198.51.100.7","name":"six.example.com","ttl":5,"type":"A"}`,
			"dns.header_flags": `["RD","RA"]`, "dns.answers_count": "1"},
		{"@timestamp": `"2026-12-07T10:00:00.008Z"`, "source.ip": `"10.0.0.5"`, "source.port": "40003", "source.bytes": n(qT), "destination.ip": `"10.0.0.53"`,
			"destination.port": "53", "network.transport": `"udp"`, "dns.id": "103", "dns.type": `"query"`,
			"dns.question.name": `"gone.example.com"`, "dns.question.type": `"A"`, "dns.question.class": `"IN"`,
			"dns.header_flags": `"RD"`, "event.outcome": `"unknown"`},
	}
	// network.bytes is both directions: the sum of the two sizes.
	for _, w := range want {
		sum := 0
		for _, k := range []string{"source.bytes", "destination.bytes"} {
			if v, ok := w[k]; ok {
				x, err := strconv.Atoi(v)
				if err != nil {
					t.Fatal(err)
				}
				sum += x
			}
		}
		if sum > 0 {
			w["network.bytes"] = strconv.Itoa(sum)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("documents (-want +got):\n%s", diff)
	}
	for name, c := range map[string]prometheus.Collector{
		"duplicates": m.duplicates, "answered": m.transactions[resultAnswered], "no_response": m.transactions[resultNoResponse],
		"response_only": m.transactions[resultResponseOnly], "malformed frame": m.malformed[malformedFrame],
		"malformed dns": m.malformed[malformedDNS], "ignored port": m.ignored[ignoredPort],
	} {
		want := map[string]float64{"duplicates": 1, "answered": 5, "no_response": 1, "response_only": 1, "malformed frame": 1, "malformed dns": 1, "ignored port": 1}[name]
		if got := testutil.ToFloat64(c); got != want {
			t.Errorf("counter %s = %v, want %v", name, got, want)
		}
	}
	if len(tr.pending) != 0 || len(tr.streams) != 0 {
		t.Errorf("left %d pending queries and %d TCP streams", len(tr.pending), len(tr.streams))
	}
}

// TestTrackerBounds: a full pending table writes its oldest query
// without a response; out-of-order TCP is dropped and counted; a full
// stream table is counted; answers are capped.
func TestTrackerBounds(t *testing.T) {
	tr, m := testTracker(t, func(c *Config) { c.MaxPending = 16; c.MaxTCPStreams = 1; c.MaxAnswers = 2 })
	var steps []step
	for i := range 20 {
		qf, _ := udpPair(query(uint16(i), fmt.Sprintf("n%d.example", i), dns.TypeA), nil, uint16(30000+i))
		steps = append(steps, step{qf, time.Duration(i) * time.Millisecond})
	}
	docs := run(t, tr, steps)
	if len(docs) != 20 {
		t.Fatalf("%d documents, want 20", len(docs))
	}
	if got := testutil.ToFloat64(m.transactions[resultEvicted]); got != 4 {
		t.Errorf("evicted = %v, want 4", got)
	}
	if got := get(docs[0], "dns.question.name"); got != "n0.example" {
		t.Errorf("first evicted = %v, want n0.example", got)
	}

	q := query(7, "many.example", dns.TypeA)
	r := answer(q, "many.example. 1 IN A 192.0.2.1", "many.example. 1 IN A 192.0.2.2", "many.example. 1 IN A 192.0.2.3")
	msg := append(tcpMsg(q), 0) // one byte of a next message
	other := netip.MustParseAddr("10.0.0.6")
	docs = run(t, tr, []step{
		{buildFrame(frameOpts{src: client, dst: server, sport: 1, dport: 53, proto: protoTCP, seq: 10, payload: msg}), 0},
		{buildFrame(frameOpts{src: client, dst: server, sport: 1, dport: 53, proto: protoTCP, seq: 500, payload: msg}), 0}, // after a gap
		{buildFrame(frameOpts{src: other, dst: server, sport: 2, dport: 53, proto: protoTCP, seq: 10, payload: msg}), 0},   // table full
		{buildFrame(frameOpts{src: client, dst: server, sport: 3, dport: 53, proto: protoUDP, payload: pack(q)}), 0},
		{buildFrame(frameOpts{src: server, dst: client, sport: 53, dport: 3, proto: protoUDP, payload: pack(r)}), 0},
	})
	if got := testutil.ToFloat64(m.tcpDrops[tcpOutOfOrder]); got != 1 {
		t.Errorf("out_of_order = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.tcpDrops[tcpTableFull]); got != 1 {
		t.Errorf("table_full = %v, want 1", got)
	}
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2 (the TCP query unanswered, the UDP one answered)", len(docs))
	}
	ips, _ := json.Marshal(get(docs[0], "dns.resolved_ip"))
	if string(ips) != `["192.0.2.1","192.0.2.2"]` || get(docs[0], "dns.answers_count") != 3.0 {
		t.Errorf("capped answers: resolved_ip %s, answers_count %v", ips, get(docs[0], "dns.answers_count"))
	}
}
