package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// checkNoDuplicateKeys fails when doc is not one JSON object or has an
// object with the same key twice (Elasticsearch refuses those).
func checkNoDuplicateKeys(t testing.TB, doc []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return fmt.Errorf("duplicate key %q", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	if err := walk(); err != nil {
		t.Fatalf("%v in %s", err, doc)
	}
	if dec.More() {
		t.Fatalf("trailing data after the document: %s", doc)
	}
}

func syslogEvent() *Event {
	e := &Event{Kind: KindSyslog,
		Timestamp: time.Date(2026, 11, 22, 8, 0, 12, 0, time.UTC),
		Created:   time.Date(2026, 11, 22, 8, 0, 12, 500e6, time.UTC),
		Observer:  netip.MustParseAddr("192.0.2.1"),
		Syslog: Syslog{Priority: 134, HasPriority: true, Hostname: "MX84_HQ", AppName: "flows", ProcID: "123",
			Message: `allow src=192.168.1.10:51514 dst=93.184.216.34:443 "x"`, Dataset: "meraki.flows"},
	}
	e.Src = Endpoint{IP: netip.MustParseAddr("192.168.1.10"), Port: 51514}
	e.Dst = Endpoint{IP: netip.MustParseAddr("93.184.216.34"), Port: 443}
	e.Flow.Protocol, e.Flow.HasProtocol = 6, true
	e.AddParsed(Field{Key: "event.action", Type: FieldString, S: "allow"})
	e.AddParsed(Field{Key: "source.mac", Type: FieldString, S: "00-11-22-33-44-55"})
	e.AddParsed(Field{Key: "meraki.pattern", Type: FieldString, S: "allow all"})
	return e
}

func TestSyslogJSON(t *testing.T) {
	got := string(checkPlanned(t, syslogEvent()))
	want := `{"@timestamp":"2026-11-22T08:00:12Z",` +
		`"destination":{"ip":"93.184.216.34","port":443},` +
		`"event":{"action":"allow","created":"2026-11-22T08:00:12.500Z","dataset":"meraki.flows","kind":"event","module":"sluice"},` +
		`"host":{"hostname":"MX84_HQ"},` +
		`"log":{"syslog":{"facility":{"code":16,"name":"local0"},"priority":134,"severity":{"code":6,"name":"informational"}}},` +
		`"meraki":{"pattern":"allow all"},` +
		`"message":"allow src=192.168.1.10:51514 dst=93.184.216.34:443 \"x\"",` +
		`"network":{"iana_number":"6","transport":"tcp"},` +
		`"observer":{"ip":"192.0.2.1"},` +
		`"process":{"name":"flows","pid":123},` +
		`"source":{"ip":"192.168.1.10","mac":"00-11-22-33-44-55","port":51514},` +
		`"ecs":{"version":"` + ECSVersion + `"}}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	checkNoDuplicateKeys(t, []byte(got))
}

func TestSyslogJSONConflicts(t *testing.T) {
	e := &Event{Kind: KindSyslog, Syslog: Syslog{Message: "m"}}
	e.Observer = netip.MustParseAddr("192.0.2.1")
	for _, k := range []string{
		"observer.ip",           // sluice's own wins
		"observer",              // leaf where sluice has an object
		"event.kind",            // own wins
		"a.b", "a.b-x", "a.b.c", // a.b is a leaf and a parent: left out
		"x.y", "x.y", // duplicate: the first wins
		"", ".", "a..b", "z.", // invalid paths
		"@timestamp", "ecs.version", "tags",
		"deep.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18", // too deep
		`q"uote.k\ey`,
	} {
		e.AddParsed(Field{Key: k, Type: FieldString, S: "v-" + k})
	}
	doc := checkPlanned(t, e)
	checkNoDuplicateKeys(t, doc)
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if m["observer"].(map[string]any)["ip"] != "192.0.2.1" {
		t.Errorf("a parsed value replaced sluice's observer.ip: %s", doc)
	}
	a := m["a"].(map[string]any)
	if _, ok := a["b"].(map[string]any)["c"]; !ok || a["b-x"] != "v-a.b-x" {
		t.Errorf("a.b.c / a.b-x not written as expected: %s", doc)
	}
	if m["x"].(map[string]any)["y"] != "v-x.y" {
		t.Errorf("x.y: %s", doc)
	}
	if m["log"] != nil {
		t.Errorf("log.syslog written without a priority: %s", doc)
	}
	for _, bad := range []string{`"z"`, `"deep"`, `"v-@timestamp"`, `"v-tags"`} {
		if strings.Contains(string(doc), bad) {
			t.Errorf("document has %s: %s", bad, doc)
		}
	}
}

func FuzzSyslogJSON(f *testing.F) {
	f.Add("event.action", "allow", "source.ip", "a.b", "x")
	f.Add("a", "b", "a.b", "a.b.c", "\xff")
	f.Add("sluice", "x", "sluice.original_timestamp", "sluice.original_timestamp.x", "y") // against sluice's own
	f.Fuzz(func(t *testing.T, k1, v1, k2, k3, v2 string) {
		e := syslogEvent()
		if len(v2)%2 == 1 {
			e.OriginalTimestamp = time.Unix(int64(len(v1))<<40, 0)
		}
		e.Syslog.Message = v1
		e.Syslog.Hostname = v2
		e.AddParsed(Field{Key: k1, Type: FieldString, S: v1})
		e.AddParsed(Field{Key: k2, Type: FieldUint, U: 7})
		e.AddParsed(Field{Key: k3, Type: FieldIP, IP: netip.MustParseAddr("2001:db8::1")})
		e.AddParsed(Field{Key: k1 + "." + k2, Type: FieldString, S: v2})
		doc := checkPlanned(t, e)
		if !json.Valid(doc) {
			t.Fatalf("invalid JSON: %q", doc)
		}
		checkNoDuplicateKeys(t, doc)
	})
}

// checkPlanned encodes e the long way and then often enough through the
// plan cache for a plan to be stored and replayed, fails unless all are
// the same, and returns the document.
func checkPlanned(t testing.TB, e *Event) []byte {
	t.Helper()
	// One scratch for all, holding junk: what an earlier event left in it
	// must not show.
	sc := new(encodeScratch)
	for i := range sc.own {
		sc.own[i] = Field{Key: "junk.key", Type: FieldString, S: "junk"}
	}
	want := e.appendJSON([]byte("x"), false, &sc.dc, &sc.own)[1:]
	for i := range 3 {
		if got := e.appendJSON([]byte("x"), true, &sc.dc, &sc.own)[1:]; !bytes.Equal(got, want) {
			t.Fatalf("encoding %d through the plan cache differs:\ngot  %s\nwant %s", i, got, want)
		}
	}
	// Without a timestamp the first value follows '{' directly.
	ts := e.Timestamp
	e.Timestamp = time.Time{}
	want2 := e.appendJSON(nil, false, &sc.dc, &sc.own)
	for i := range 3 {
		if got := e.appendJSON(nil, true, &sc.dc, &sc.own); !bytes.Equal(got, want2) {
			t.Fatalf("encoding %d without @timestamp through the plan cache differs:\ngot  %s\nwant %s", i, got, want2)
		}
	}
	e.Timestamp = ts
	if got := e.AppendJSON([]byte("x"))[1:]; !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON differs from the long way:\ngot  %s\nwant %s", got, want)
	}
	return want
}

// TestSyslogPlans checks that replayed plans write what the long way
// writes, also when different sequences share a cache slot and when the
// values of the same sequence change.
func TestSyslogPlans(t *testing.T) {
	e := syslogEvent()
	checkPlanned(t, e)
	// Same keys, other values (and an IP that is now invalid: a different sequence).
	e.Syslog.Message = "other \"message\""
	e.Src.Port = 1
	e.Fields[0].S = "deny"
	checkPlanned(t, e)
	e.Fields[1] = Field{Key: "source.mac", Type: FieldIP}
	checkPlanned(t, e)
	// Many sequences: more than the cache holds, so slots are reused.
	for i := range 3 * planSlots {
		e := syslogEvent()
		e.AddParsed(Field{Key: fmt.Sprintf("k%d.v", i), Type: FieldUint, U: uint64(i)})
		e.AddParsed(Field{Key: fmt.Sprintf("k%d", i%7), Type: FieldString, S: "leaf or parent"})
		checkPlanned(t, e)
	}
	// The own/parsed split is part of the sequence: the same keys with
	// one more own value must not reuse a plan where a parsed value won.
	a := &Event{Kind: KindSyslog, Syslog: Syslog{Message: "m"}}
	a.AddParsed(Field{Key: "host.hostname", Type: FieldString, S: "parsed"})
	checkPlanned(t, a)
	b := &Event{Kind: KindSyslog, Syslog: Syslog{Message: "m", Hostname: "own"}}
	checkPlanned(t, b)
	if doc := string(checkPlanned(t, a)); !strings.Contains(doc, `"hostname":"parsed"`) {
		t.Errorf("parsed host.hostname lost: %s", doc)
	}
}

func BenchmarkSyslogJSON(b *testing.B) {
	e := syslogEvent()
	for _, k := range []string{"meraki.type", "url.original", "rule.name", "observer.ingress.interface.name", "event.outcome"} {
		e.AddParsed(Field{Key: k, Type: FieldString, S: "value"})
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for range b.N {
		buf = e.AppendJSON(buf[:0])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func geoEvent() *Event {
	e := syslogEvent()
	g := &Geo{CountryISO: "US", CountryName: "United States", ContinentCode: "NA", RegionISO: "US-CA", RegionName: "California",
		CityName: "Los Angeles", Lat: 34.0544, Lon: -118.244, HasLocation: true, ASN: 15133, ASOrg: "Edgecast \"Inc\""}
	e.Dst.Geo, e.Dst.Locality = g, LocalityExternal
	e.Src.Locality = LocalityInternal
	e.Src.Bytes, e.Src.Packets, e.Dst.Bytes, e.Dst.Packets = 1, 2, 3, 4
	e.Direction = DirectionOutbound
	e.Syslog.MsgID, e.Syslog.ProcID = "ID1", "x7"
	// A parser's field under the geo of an endpoint: sluice's own wins.
	e.AddParsed(Field{Key: "destination.geo.country_iso_code", Type: FieldString, S: "parsed"})
	e.AddParsed(Field{Key: "client.geo.country_iso_code", Type: FieldString, S: "DE"})
	return e
}

// Geo, locality and direction of the endpoints are written where ECS has
// them, merged with parsed fields.
func TestSyslogJSONGeo(t *testing.T) {
	doc := checkPlanned(t, geoEvent())
	checkNoDuplicateKeys(t, doc)
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	dst := m["destination"].(map[string]any)
	want := `{"as":{"number":15133,"organization":{"name":"Edgecast \"Inc\""}},"bytes":3,` +
		`"geo":{"city_name":"Los Angeles","continent_code":"NA","country_iso_code":"US","country_name":"United States",` +
		`"location":{"lat":34.0544,"lon":-118.244},"region_iso_code":"US-CA","region_name":"California"},` +
		`"ip":"93.184.216.34","locality":"external","packets":4,"port":443}`
	if got, _ := json.Marshal(dst); string(got) != want {
		t.Errorf("destination:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(string(doc), `"destination":{"as":{"number":15133,`) {
		t.Errorf("destination not written in path order: %s", doc)
	}
	if src := m["source"].(map[string]any); src["locality"] != "internal" || src["geo"] != nil {
		t.Errorf("source: %v", src)
	}
	if m["network"].(map[string]any)["direction"] != "outbound" {
		t.Errorf("network.direction: %s", doc)
	}
	if m["client"].(map[string]any)["geo"].(map[string]any)["country_iso_code"] != "DE" {
		t.Errorf("client.geo: %s", doc)
	}
}

// sluice's own values must come in path order: the merge relies on it.
func TestOwnSyslogFieldsInPathOrder(t *testing.T) {
	e := geoEvent()
	e.Src.Geo = e.Dst.Geo
	e.Src.HasMAC = true
	e.Flow.Protocol, e.Flow.HasProtocol = 17, true
	e.Syslog.Original = "orig"
	var own [maxOwnFields]Field
	n := e.ownSyslogFields(&own)
	if n < 40 {
		t.Fatalf("only %d own values; the test event should set nearly all", n)
	}
	for i := 1; i < n; i++ {
		if !pathLess(own[i-1].Key, own[i].Key) {
			t.Errorf("own values out of order: %q before %q", own[i-1].Key, own[i].Key)
		}
	}
}

// An out-of-range original time goes under sluice, between process and
// source in path order, through the plan cache too, at any year.
func TestSyslogJSONOriginalTimestamp(t *testing.T) {
	for _, orig := range []time.Time{
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Unix(0, 0).UTC(),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), // clamped like every time
	} {
		e := syslogEvent()
		e.OriginalTimestamp = orig
		e.Tags |= TagTimeOutOfRange
		got := string(checkPlanned(t, e))
		checkNoDuplicateKeys(t, []byte(got))
		want := `"process":{"name":"flows","pid":123},"sluice":{"original_timestamp":` + string(appendTime(nil, orig)) + `},"source":{`
		if !strings.Contains(got, want) {
			t.Errorf("original %s: want %s in\n%s", orig, want, got)
		}
		if !strings.Contains(got, `"tags":["_time_out_of_range"]`) {
			t.Errorf("original %s: no _time_out_of_range tag in\n%s", orig, got)
		}
	}
	var sb strings.Builder
	sb.Write(appendTime(nil, time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)))
	if sb.String() != `"9999-12-31T23:59:59.999Z"` {
		t.Errorf("appendTime(9999-12-31T23:59:59.999) = %s", sb.String())
	}
}

// TestSyslogJSONArrays: repeated values of an ArrayKey are one JSON array
// in field order (also through a plan); a single one stays a value; other
// repeated keys keep the first.
func TestSyslogJSONArrays(t *testing.T) {
	for _, kind := range []Kind{KindSyslog, KindDNS} {
		e := &Event{Kind: kind, Syslog: Syslog{Message: "m"}}
		e.AddParsed(Field{Key: "dns.resolved_ip", Type: FieldIP, IP: netip.MustParseAddr("192.0.2.1")})
		e.AddParsed(Field{Key: "dns.answers", Type: FieldJSON, B: []byte(`{"data":"192.0.2.1","ttl":60}`)})
		e.AddParsed(Field{Key: "x.y", Type: FieldString, S: "first"})
		e.AddParsed(Field{Key: "dns.resolved_ip", Type: FieldIP}) // invalid: not written
		e.AddParsed(Field{Key: "dns.resolved_ip", Type: FieldIP, IP: netip.MustParseAddr("2001:db8::1")})
		e.AddParsed(Field{Key: "dns.answers", Type: FieldJSON, B: []byte(`{"data":"2001:db8::1","ttl":60}`)})
		e.AddParsed(Field{Key: "dns.header_flags", Type: FieldString, S: "RD"})
		e.AddParsed(Field{Key: "x.y", Type: FieldString, S: "second"})
		e.AddParsed(Field{Key: "dns.question.name", Type: FieldString, S: "example.com"})
		doc := checkPlanned(t, e)
		checkNoDuplicateKeys(t, doc)
		want := `"dns":{"answers":[{"data":"192.0.2.1","ttl":60},{"data":"2001:db8::1","ttl":60}],"header_flags":"RD","question":{"name":"example.com"},"resolved_ip":["192.0.2.1","2001:db8::1"]}`
		if !strings.Contains(string(doc), want) {
			t.Errorf("%v: AppendJSON() = %s\nwant it to hold %s", kind, doc, want)
		}
		if !strings.Contains(string(doc), `"x":{"y":"first"}`) {
			t.Errorf("%v: x.y is not the first value: %s", kind, doc)
		}
	}
}

// TestBeatsJSON: a Beat's document keeps its own event.kind and
// event.module (sluice writes none), its dataset, and its tags after
// sluice's own.
func TestBeatsJSON(t *testing.T) {
	for _, own := range []Tags{0, TagTimeFromReceive} {
		e := &Event{Kind: KindBeats, Tags: own, Syslog: Syslog{Dataset: "dns"}}
		e.AddParsed(Field{Key: "event.kind", Type: FieldString, S: "metric"})
		e.AddParsed(Field{Key: "tags", Type: FieldJSON, B: []byte(`["beat","x"]`)})
		e.AddParsed(Field{Key: "message", Type: FieldString, S: "m"})
		doc := checkPlanned(t, e)
		checkNoDuplicateKeys(t, doc)
		for _, want := range []string{`"event":{"dataset":"dns","kind":"metric"}`, `"message":"m"`} {
			if !strings.Contains(string(doc), want) {
				t.Errorf("AppendJSON() = %s\nwant it to hold %s", doc, want)
			}
		}
		wantTags := `"tags":["beat","x"]`
		if own != 0 {
			wantTags = `"tags":["_time_from_receive","beat","x"]`
		}
		if !strings.Contains(string(doc), wantTags) || strings.Contains(string(doc), `"module"`) {
			t.Errorf("AppendJSON() = %s\nwant %s and no event.module", doc, wantTags)
		}
	}
}

// A document with more parsed values than fit keeps the first ones, says
// _truncated and counts the rest; one with fewer (but more than the old
// bound of 96: a FortiOS traffic line with GeoIP on both ends) keeps all.
func TestSyslogFieldsLeftOut(t *testing.T) {
	build := func(parsed int) *Event {
		e := &Event{Kind: KindSyslog, Syslog: Syslog{Message: "m", Hostname: "fw"}}
		e.Observer = netip.MustParseAddr("192.0.2.1")
		for i := range parsed {
			e.AddParsed(Field{Key: fmt.Sprintf("fortinet.k%03d", i), Type: FieldString, S: "v"})
		}
		return e
	}
	count := func(doc []byte) (int, []any) {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%v: %s", err, doc)
		}
		tags, _ := m["tags"].([]any)
		f, _ := m["fortinet"].(map[string]any)
		return len(f), tags
	}

	before := FieldsLeftOut()
	doc := checkPlanned(t, build(120))
	if n, tags := count(doc); n != 120 || len(tags) != 0 {
		t.Errorf("120 parsed fields: %d written, tags %v; want all 120 and no tag", n, tags)
	}
	if d := FieldsLeftOut() - before; d != 0 {
		t.Errorf("FieldsLeftOut grew by %d for a document that fits", d)
	}

	e := build(MaxSyslogFields + 10)
	var own [maxOwnFields]Field
	nOwn := e.ownSyslogFields(&own)
	before = FieldsLeftOut()
	doc = e.AppendJSON(nil)
	n, tags := count(doc)
	if want := MaxSyslogFields - nOwn; n != want {
		t.Errorf("%d parsed fields: %d written, want %d (the bound %d less %d own)", MaxSyslogFields+10, n, want, MaxSyslogFields, nOwn)
	}
	if len(tags) != 1 || tags[0] != "_truncated" {
		t.Errorf("tags = %v, want [_truncated]", tags)
	}
	if d := FieldsLeftOut() - before; d != uint64(MaxSyslogFields+10-n) {
		t.Errorf("FieldsLeftOut grew by %d, want %d", d, MaxSyslogFields+10-n)
	}
	checkNoDuplicateKeys(t, doc)
	if MaxParsedFields < 120 {
		t.Errorf("MaxParsedFields = %d: a syslog document must have room for at least 120 parsed values", MaxParsedFields)
	}
}
