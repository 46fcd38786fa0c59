package elasticsearch

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Reasons a span of a spool segment could not be replayed (damage.reason).
const (
	damageBadAction   = "bad_action"        // a line that is not one of our create actions
	damageMissingDoc  = "missing_document"  // an action not followed by its document
	damageInvalidDoc  = "invalid_document"  // a document line that is not a JSON object in UTF-8
	damageTruncated   = "truncated"         // a tail without its final newline (torn write)
	damageMissing     = "documents_missing" // fewer documents than the segment's name claims
	damageBlank       = "blank_lines"       // only blank lines: nothing lost (docs is 0)
	maxDeadLetterSpan = 64 << 10            // raw bytes per dead-letter line
)

// damage is a span [off, end) of a segment that salvage could not replay.
// docs is how many documents it stood for: the create actions in it, and at
// least one, except for a span of blank lines only (damageBlank, 0).
type damage struct {
	off, end int
	docs     int
	reason   string
}

// salvage splits a spool segment read back from disk into what can be
// replayed, appended to good item by item with the bytes as they were, and
// what cannot. A good item is an action line that is a create action as add
// writes it followed by a line that is a JSON object in valid UTF-8. Anything
// else is damage; parsing resynchronizes at the next line that is a valid
// action. Every byte of body ends up in exactly one good item or one damage
// span, in order; the spans of adjacent damage are merged.
//
// With checkDocs false a document line is only checked to be a non-empty
// line starting with '{' (for segments this process sealed and reads back
// because too many wait to keep them in memory: checking their JSON again
// would cost the CPU the node needs; a document Elasticsearch cannot parse is
// still isolated and dead-lettered by the split on refusal).
func salvage(body []byte, good *bulk, checkDocs bool) []damage {
	var out []damage
	mark := func(off, end, docs int, reason string) {
		if n := len(out); n > 0 && out[n-1].end == off {
			out[n-1].end = end
			out[n-1].docs += docs
			return
		}
		out = append(out, damage{off: off, end: end, docs: docs, reason: reason})
	}
	pos := 0
	for pos < len(body) {
		nl := bytes.IndexByte(body[pos:], '\n')
		if nl < 0 {
			mark(pos, len(body), 0, damageTruncated)
			break
		}
		aEnd := pos + nl + 1
		if !validAction(body[pos : aEnd-1]) {
			mark(pos, aEnd, 0, damageBadAction)
			pos = aEnd
			continue
		}
		if aEnd == len(body) {
			mark(pos, aEnd, 1, damageMissingDoc)
			break
		}
		nl2 := bytes.IndexByte(body[aEnd:], '\n')
		if nl2 < 0 {
			mark(pos, len(body), 1, damageTruncated)
			break
		}
		dEnd := aEnd + nl2 + 1
		doc := body[aEnd : dEnd-1]
		switch {
		case validAction(doc):
			// The document is missing; the next line starts the next
			// item (an action line is a JSON object too, so this comes
			// first; no event sluice writes looks like an action).
			mark(pos, aEnd, 1, damageMissingDoc)
			pos = aEnd
		case checkDocs && validDoc(doc), !checkDocs && len(doc) >= 2 && doc[0] == '{':
			good.addItem(body[pos:dEnd])
			pos = dEnd
		default:
			mark(pos, dEnd, 1, damageInvalidDoc)
			pos = dEnd
		}
	}
	for i := range out {
		if out[i].docs == 0 && len(bytes.Trim(body[out[i].off:out[i].end], " \t\r\n")) == 0 {
			// Blank lines alone: no document was there.
			out[i].reason = damageBlank
			continue
		}
		out[i].docs = max(out[i].docs, 1)
	}
	return out
}

var (
	actionHead = []byte(`{"create":{"_index":"`)
	actionMid  = []byte(`","_id":"`)
	actionTail = []byte(`"}}`)
)

// validAction reports whether line (without its newline) is a create
// action exactly as bulk.add writes it: a non-empty index and _id with no
// characters that would need escaping.
func validAction(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, actionHead)
	if !ok {
		return false
	}
	index, rest, ok := bytes.Cut(rest, actionMid)
	if !ok || !plainField(index) {
		return false
	}
	id, ok := bytes.CutSuffix(rest, actionTail)
	return ok && plainField(id)
}

func plainField(b []byte) bool {
	if len(b) == 0 || len(b) > 512 {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c == '"' || c == '\\' || c >= 0x7f {
			return false
		}
	}
	return true
}

// validDoc reports whether line is a JSON object in valid UTF-8 (json.Valid
// alone lets invalid UTF-8 through, which Elasticsearch refuses).
func validDoc(line []byte) bool {
	return len(line) >= 2 && line[0] == '{' && utf8.Valid(line) && json.Valid(line)
}
