package elasticsearch

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// deadLetter appends documents Elasticsearch refused for good to an NDJSON
// file, one line per document:
//
//	{"@timestamp":"...","index":"...","id":"...","status":400,"error":"type: reason","document":{...}}
//
// document is the JSON document, or a JSON string when it is not JSON;
// bytes that are not UTF-8 (damage found in the spool) are kept exactly as
// document_base64 instead. Damage found in the spool has status 0, empty
// index and id, and an error starting with "spool_damaged".
//
// The file is bounded; beyond MaxBytes documents are counted and logged, not
// written.
type deadLetter struct {
	path     string
	maxBytes int64

	mu   sync.Mutex
	f    *os.File
	size int64
	line []byte
}

func openDeadLetter(path string, maxBytes int64) (*deadLetter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("output.elasticsearch.dead_letter.path: %w", err)
	}
	return &deadLetter{path: path, maxBytes: maxBytes}, nil
}

var errDeadLetterFull = fmt.Errorf("dead-letter file is full (output.elasticsearch.dead_letter.max_bytes)")

// write records one refused document. The file is opened on first use.
func (d *deadLetter) write(now time.Time, index, id string, status int, reason string, doc []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		d.f, d.size = f, st.Size()
	}
	l := d.line[:0]
	l = append(l, `{"@timestamp":"`...)
	l = now.UTC().AppendFormat(l, time.RFC3339Nano)
	l = append(l, `","index":`...)
	l = strconv.AppendQuote(l, index)
	l = append(l, `,"id":`...)
	l = strconv.AppendQuote(l, id)
	l = append(l, `,"status":`...)
	l = strconv.AppendInt(l, int64(status), 10)
	l = append(l, `,"error":`...)
	rs, _ := json.Marshal(reason)
	l = append(l, rs...)
	switch {
	case utf8.Valid(doc) && json.Valid(doc):
		l = append(l, `,"document":`...)
		l = append(l, doc...)
	case utf8.Valid(doc):
		l = append(l, `,"document":`...)
		ds, _ := json.Marshal(string(doc))
		l = append(l, ds...)
	default: // bytes as they were, which a JSON string cannot hold
		l = append(l, `,"document_base64":"`...)
		l = base64.StdEncoding.AppendEncode(l, doc)
		l = append(l, '"')
	}
	l = append(l, "}\n"...)
	d.line = l
	if d.size+int64(len(l)) > d.maxBytes {
		return errDeadLetterFull
	}
	n, err := d.f.Write(l)
	d.size += int64(n)
	return err
}

func (d *deadLetter) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Sync()
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	d.f = nil
	return err
}
