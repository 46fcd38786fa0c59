package elasticsearch

import (
	"bytes"
	"fmt"
	"testing"
)

func TestBulkRoundTrip(t *testing.T) {
	var b bulk
	var id [idLen]byte
	docs := []string{`{"a":1}`, `{"b":"x\ny"}` + "\n", `{}`}
	for i, d := range docs {
		docID(&id, 1764000000000, []byte(d), 0)
		b.add(fmt.Sprintf("idx-%d", i), id[:], []byte(d))
	}
	if b.len() != 3 {
		t.Fatalf("len %d", b.len())
	}
	p := &bulk{}
	if dmg := salvage(append([]byte(nil), b.body...), p, true); len(dmg) != 0 {
		t.Fatalf("salvage found damage in a bulk made by add: %+v", dmg)
	}
	if p.len() != 3 {
		t.Fatalf("parsed %d items, want 3", p.len())
	}
	for i := range docs {
		if !bytes.Equal(p.item(i), b.item(i)) {
			t.Errorf("item %d: %q != %q", i, p.item(i), b.item(i))
		}
		index, gotID, doc := splitItem(p.item(i))
		if index != fmt.Sprintf("idx-%d", i) || len(gotID) != idLen || string(doc) != string(bytes.TrimSuffix([]byte(docs[i]), []byte("\n"))) {
			t.Errorf("item %d split into %q %q %q", i, index, gotID, doc)
		}
	}
	var c bulk
	c.addItem(b.item(2))
	c.addItem(b.item(0))
	q := &bulk{}
	if dmg := salvage(c.body, q, true); len(dmg) != 0 || q.len() != 2 {
		t.Fatalf("re-assembled bulk: %d items, damage %+v", q.len(), dmg)
	}
}

func TestDocID(t *testing.T) {
	var a, b, c, d [idLen]byte
	docID(&a, 1764000000000, []byte(`{"x":1}`), 0)
	docID(&b, 1764000000000, []byte(`{"x":1}`), 0)
	docID(&c, 1764000000000, []byte(`{"x":2}`), 0)
	docID(&d, 1764000000000, []byte(`{"x":1}`), 1)
	if a != b {
		t.Error("same document, different _id")
	}
	if a == c || a == d || c == d {
		t.Errorf("distinct documents share an _id: %s %s %s", a, c, d)
	}
	// Documents close in time share a prefix (cheap id lookups in Lucene).
	var e, f [idLen]byte
	docID(&e, 1764000000000, []byte(`{"x":1}`), 0)
	docID(&f, 1764000000999, []byte(`{"y":2}`), 0)
	if string(e[:5]) != string(f[:5]) {
		t.Errorf("ids 1 s apart share no prefix: %s %s", e, f)
	}
	for _, ch := range a {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			t.Fatalf("_id %q has %q, not URL-safe base64", a, ch)
		}
	}
}

func TestParseResponse(t *testing.T) {
	var r bulkResponse
	if err := parseResponse([]byte(`{"errors":false,"items":[{"create":{"status":201}}]}`), 1, &r); err != nil || r.Errors {
		t.Fatalf("ok response: %v %+v", err, r)
	}
	body := `{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},` +
		`{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},` +
		`{"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"bad ip","caused_by":{"type":"illegal_argument_exception","reason":"'x' is not an IP string literal."}}}},` +
		`{"create":{"status":400,"error":{"type":"validation_exception","reason":"Validation Failed: 1: this action would add [1] shards, but this cluster currently has [3]/[3] maximum normal shards open;"}}},` +
		`{"create":{"status":403,"error":{"type":"cluster_block_exception","reason":"index [x] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block];"}}},` +
		`{"create":{"status":400,"error":{"type":"validation_exception","reason":"Validation Failed: 1: something else;"}}},` +
		`{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse"}}}]}`
	if err := parseResponse([]byte(body), 8, &r); err != nil {
		t.Fatal(err)
	}
	want := []itemOutcome{outcomeIndexed, outcomeDuplicate, outcomeRetry, outcomeReject, outcomeRetry, outcomeRetry, outcomeReject, outcomeReject}
	wantLabel := []string{"201", "409", "429", "400", "shard_limit", "cluster_block", "400", "400"}
	for i, m := range r.Items {
		it := itemOf(m)
		if got := classifyItem(it.Status, it.Error); got != want[i] {
			t.Errorf("item %d: outcome %d, want %d", i, got, want[i])
		}
		if got := itemRetryLabel(it.Status, it.Error); got != wantLabel[i] {
			t.Errorf("item %d: label %q, want %q", i, got, wantLabel[i])
		}
		if got := classifyItem(it.Status, it.Error); got != want[i] {
			t.Errorf("item %d: outcome %d, want %d", i, got, want[i])
		}
	}
	if s := itemOf(r.Items[3]).Error.String(); s != "document_parsing_exception: bad ip (caused by illegal_argument_exception: 'x' is not an IP string literal.)" {
		t.Errorf("error string %q", s)
	}
	if err := parseResponse([]byte(body), 7, &r); err == nil {
		t.Error("item count mismatch accepted")
	}
	if err := parseResponse([]byte(`<html>`), 1, &r); err == nil {
		t.Error("non-JSON response accepted")
	}
}

// FuzzParseResponse: whatever a server answers, parsing must not panic and
// a response it accepts with errors=true has exactly the requested items.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"errors":false,"items":[{"create":{"status":201}}]}`), 1)
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":400,"error":{"type":"t","reason":"r","caused_by":{"type":"c"}}}}]}`), 1)
	f.Add([]byte(`{"errors":true,"items":[{}]}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		var r bulkResponse
		if err := parseResponse(body, n, &r); err != nil {
			return
		}
		if r.Errors && len(r.Items) != n {
			t.Fatalf("accepted %d items for %d", len(r.Items), n)
		}
		for _, m := range r.Items {
			it := itemOf(m)
			classifyItem(it.Status, it.Error)
			_ = it.Error.String()
		}
	})
}
