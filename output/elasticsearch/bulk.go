package elasticsearch

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// bulk is one bulk request body in the making: pairs of an action line and
// a document line. offs[i] is where item i's action line starts.
type bulk struct {
	body  []byte
	offs  []int
	first time.Time // when the first item was added
}

func (b *bulk) len() int { return len(b.offs) }

func (b *bulk) reset() {
	b.body = b.body[:0]
	b.offs = b.offs[:0]
	b.first = time.Time{}
}

// sparse reports whether b holds much less than its buffer's capacity, so
// that keeping it in memory (a sealed segment waiting for delivery) would
// hold on to memory it does not use.
func (b *bulk) sparse() bool { return cap(b.body) > 2*len(b.body)+64<<10 }

// compact returns a copy of b in buffers of its size.
func (b *bulk) compact() *bulk {
	return &bulk{body: append(make([]byte, 0, len(b.body)), b.body...), offs: append(make([]int, 0, len(b.offs)), b.offs...), first: b.first}
}

// item returns the action and document lines of item i (with newlines).
func (b *bulk) item(i int) []byte {
	end := len(b.body)
	if i+1 < len(b.offs) {
		end = b.offs[i+1]
	}
	return b.body[b.offs[i]:end]
}

// add appends one document (a JSON object, with or without its newline)
// for index under id.
func (b *bulk) add(index string, id []byte, doc []byte) {
	b.offs = append(b.offs, len(b.body))
	b.body = append(b.body, `{"create":{"_index":"`...)
	b.body = append(b.body, index...) // index names never need escaping (IndexNamer)
	b.body = append(b.body, `","_id":"`...)
	b.body = append(b.body, id...)
	b.body = append(b.body, "\"}}\n"...)
	b.body = append(b.body, doc...)
	if len(doc) == 0 || doc[len(doc)-1] != '\n' {
		b.body = append(b.body, '\n')
	}
}

// addItem appends an item taken from another bulk.
func (b *bulk) addItem(it []byte) {
	b.offs = append(b.offs, len(b.body))
	b.body = append(b.body, it...)
}

// splitItem returns the index, the _id and the document of an item made by add.
func splitItem(it []byte) (index, id string, doc []byte) {
	nl := bytes.IndexByte(it, '\n')
	if nl < 0 {
		return "", "", it
	}
	action := it[:nl]
	doc = bytes.TrimSuffix(it[nl+1:], []byte("\n"))
	var a struct {
		Create struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		} `json:"create"`
	}
	_ = json.Unmarshal(action, &a) // made by add; a damaged line leaves the fields empty
	return a.Create.Index, a.Create.ID, doc
}

// idLen is the length of a document _id: 120 bits, base64url.
const idLen = 20

// docID writes the _id of a document into dst: 48 bits of the document's
// time in milliseconds, then 72 bits of a SHA-256 of the document's JSON,
// which holds its identity (time, exporter, addresses, counters and the time
// sluice received it). The time prefix keeps a day's ids roughly in order,
// which makes Elasticsearch's id lookups for op_type create much cheaper
// than with random ids; the hash makes collisions within a millisecond
// negligible. seq tells apart byte-identical documents of the same batch
// (two samples of identical packets in one datagram) and is 0 for the first
// of them, so a document's _id does not depend on how it was batched. The
// returned key identifies the document within a batch.
func docID(dst *[idLen]byte, ms int64, doc []byte, seq uint32) [16]byte {
	h := sha256.New()
	h.Write(doc)
	if seq > 0 {
		var s [5]byte
		binary.BigEndian.PutUint32(s[1:], seq)
		h.Write(s[:])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var raw [15]byte
	if ms < 0 {
		ms = 0
	}
	raw[0], raw[1], raw[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	raw[3], raw[4], raw[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	copy(raw[6:], sum[:9])
	base64.RawURLEncoding.Encode(dst[:], raw[:])
	var key [16]byte
	copy(key[:], sum[:16])
	return key
}

// bulkResponse is the part of a bulk response sluice reads (the request
// asks for only these fields with filter_path).
type bulkResponse struct {
	Errors bool                      `json:"errors"`
	Items  []map[string]itemResponse `json:"items"`
}

type itemResponse struct {
	Status int        `json:"status"`
	Error  *itemError `json:"error"`
}

type itemError struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *itemError `json:"caused_by"`
}

func (e *itemError) String() string {
	if e == nil {
		return ""
	}
	s := e.Type + ": " + e.Reason
	if e.CausedBy != nil {
		s += " (caused by " + e.CausedBy.String() + ")"
	}
	return s
}

// itemOutcome classifies one item of a bulk response.
type itemOutcome uint8

const (
	outcomeIndexed   itemOutcome = iota
	outcomeDuplicate             // 409: already indexed by an earlier attempt
	outcomeRetry                 // 429, 502, 503, 504
	outcomeReject                // anything else: dead letter
)

// classifyItem sorts an item result. Conditions of the cluster are
// retried, never dead-lettered: 429/502/503/504, a cluster block
// (read-only, flood stage), and the shard limit refusing to create a new
// daily index (validation_exception "... maximum normal shards open").
func classifyItem(status int, e *itemError) itemOutcome {
	switch {
	case status >= 200 && status < 300:
		return outcomeIndexed
	case status == 409:
		return outcomeDuplicate
	case retriableStatus(status), isClusterBlock(e), isShardLimit(e):
		return outcomeRetry
	default:
		return outcomeReject
	}
}

// itemRetryLabel is the reason label of a retried item.
func itemRetryLabel(status int, e *itemError) string {
	switch {
	case isShardLimit(e):
		return "shard_limit"
	case isClusterBlock(e):
		return "cluster_block"
	}
	return statusLabel(status)
}

func isClusterBlock(e *itemError) bool {
	for ; e != nil; e = e.CausedBy {
		if e.Type == "cluster_block_exception" {
			return true
		}
	}
	return false
}

func isShardLimit(e *itemError) bool {
	for ; e != nil; e = e.CausedBy {
		if e.Type == "validation_exception" && strings.Contains(e.Reason, "shards, but this cluster currently has") {
			return true
		}
	}
	return false
}

// responseErrorType returns error.type of an error response body, "" when
// there is none.
func responseErrorType(body []byte) string {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &r) != nil || len(r.Error) == 0 {
		return ""
	}
	var e struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(r.Error, &e) != nil {
		return ""
	}
	return e.Type
}

// parseErrorType reports whether an error type says the request body
// could not be read: a refusal of the content, not a condition of the
// cluster.
func parseErrorType(typ string) bool {
	switch typ {
	case "json_parse_exception", "x_content_parse_exception", "parse_exception", "illegal_argument_exception",
		"not_x_content_exception", "json_e_o_f_exception", "action_request_validation_exception":
		return true
	}
	return false
}

func retriableStatus(status int) bool {
	switch status {
	case 429, 502, 503, 504:
		return true
	}
	return false
}

// errNoItems is returned for a response whose item count does not match.
var errNoItems = errors.New("bulk response has a different number of items than the request")

// parseResponse decodes body into r, checking the item count against n.
// When errors is false the items are not needed and not checked.
func parseResponse(body []byte, n int, r *bulkResponse) error {
	*r = bulkResponse{}
	if err := json.Unmarshal(body, r); err != nil {
		return fmt.Errorf("decoding bulk response: %w", err)
	}
	if r.Errors && len(r.Items) != n {
		return fmt.Errorf("%w (%d, want %d)", errNoItems, len(r.Items), n)
	}
	return nil
}

// itemOf returns the single action result of a response item.
func itemOf(m map[string]itemResponse) itemResponse {
	for _, v := range m {
		return v
	}
	return itemResponse{Status: 500, Error: &itemError{Type: "empty_item", Reason: "bulk response item without an action"}}
}

func statusLabel(status int) string {
	return strconv.Itoa(status)
}

// DocumentID returns the _id this output gives the document doc (an
// event's JSON, without newline) of time ts (event.created when ts is
// zero), when doc is the first document with these bytes in its bulk,
// which is every document but exact duplicates. Alert documents use it to
// point at the documents that matched.
func DocumentID(ts, created time.Time, doc []byte) string {
	ms := ts.UnixMilli()
	if ts.IsZero() {
		ms = created.UnixMilli()
	}
	var id [idLen]byte
	docID(&id, ms, doc, 0)
	return string(id[:])
}
