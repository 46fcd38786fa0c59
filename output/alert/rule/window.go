package rule

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

// Shared helpers of the statistical rule types (spike, new_term,
// cardinality, metric_aggregation, percentage_match). Every name here
// starts with "stat" so that it cannot collide with the helpers of the
// other rule types of this package.
//
// Clock: these types place documents by Event.Time and slide or close
// windows by the time given to Tick, so both must be on one clock: the
// wall clock on the live stream, and the documents' time when past
// documents are replayed (sluice test-rule). A Tick time far ahead of the
// documents makes them late: spike ignores documents older than both
// windows, metric_aggregation and percentage_match documents of a bucket
// already closed. A Tick time behind the latest one is ignored.

// statDefaultMaxKeys is the query_key bound when Spec.MaxKeys is 0.
const statDefaultMaxKeys = 10000

// statDistinctPerKey bounds the distinct values one query_key keeps
// (cardinality rule and metric_aggregation with metric_agg_type
// cardinality).
const statDistinctPerKey = 10000

// statDistinctPerRule bounds the distinct values of all query_keys of one
// rule together; beyond it the least recently seen query_key is evicted.
const statDistinctPerRule = 1000000

// statStateVersion is the version of the state documents of these types.
const statStateVersion = 1

// statUnset marks an unset time in nanoseconds.
const statUnset = math.MinInt64

// statMaxKeys returns the query_key bound of s.
func statMaxKeys(s *Spec) (int, error) {
	switch {
	case s.MaxKeys < 0:
		return 0, fmt.Errorf("max_keys: %d is negative; set a positive bound or leave it out for %d", s.MaxKeys, statDefaultMaxKeys)
	case s.MaxKeys == 0:
		return statDefaultMaxKeys, nil
	}
	return s.MaxKeys, nil
}

// statNanos returns t in Unix nanoseconds, clamped to the int64 range
// (time.Time.UnixNano is undefined outside it).
func statNanos(t time.Time) int64 {
	const maxSec = math.MaxInt64 / int64(time.Second)
	s := t.Unix()
	switch {
	case s >= maxSec:
		return math.MaxInt64 - 1
	case s <= -maxSec:
		return math.MinInt64 + 1
	}
	return t.UnixNano()
}

// statTime converts Unix nanoseconds back to a UTC time.
func statTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// statFloorDiv divides rounding towards minus infinity, so that bucket
// numbers of times before 1970 are right too.
func statFloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// statAddSat adds without overflowing.
func statAddSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// statMaxI returns the larger of a and b.
func statMaxI(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// statHash is a stable 64-bit FNV-1a hash of a field value (its kind and
// its text), so that windows and state files hold 8 bytes per value
// however long the value is. The hash is stable across restarts; two
// distinct values colliding is about 1 in 10^11 for 10,000 values.
func statHash(h uint64, v query.Value) uint64 {
	const prime = 1099511628211
	if h == 0 {
		h = 14695981039346656037
	}
	h ^= uint64(v.Kind)
	h *= prime
	var buf [64]byte
	for _, c := range statAppendValue(buf[:0], v) {
		h ^= uint64(c)
		h *= prime
	}
	// A separator so that composite values ("ab","c") and ("a","bc")
	// differ.
	h ^= 0xff
	h *= prime
	return h
}

// statAppendValue appends the text of a field value as it appears in
// match Extra values.
func statAppendValue(dst []byte, v query.Value) []byte {
	switch v.Kind {
	case query.KindString:
		return append(dst, v.Str...)
	case query.KindNumber:
		return strconv.AppendFloat(dst, v.Num, 'g', -1, 64)
	case query.KindIP:
		return v.IP.AppendTo(dst)
	case query.KindTime:
		return v.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	case query.KindBool:
		return strconv.AppendBool(dst, v.Bool)
	}
	return dst
}

// statValueString returns the text of a field value.
func statValueString(v query.Value) string { return string(statAppendValue(nil, v)) }

// statPresent reports whether v counts as a value: an empty string is a
// missing value, as in Elasticsearch's terms of a keyword field.
func statPresent(v query.Value) bool {
	switch v.Kind {
	case query.KindString:
		return v.Str != ""
	case query.KindNumber:
		return !math.IsNaN(v.Num)
	case query.KindIP:
		return v.IP.IsValid()
	case query.KindTime, query.KindBool:
		return true
	}
	return false
}

// statNumber returns the numeric value of v (numbers, and numeric strings
// as Elasticsearch coerces them).
func statNumber(v query.Value) (float64, bool) {
	switch v.Kind {
	case query.KindNumber:
		if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
			return 0, false
		}
		return v.Num, true
	case query.KindString:
		f, err := strconv.ParseFloat(v.Str, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// errStatState is wrapped by every error of UnmarshalState of these types.
var errStatState = errors.New("rule state")

// statStateErr formats an UnmarshalState error.
func statStateErr(typ, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", errStatState, typ, fmt.Sprintf(format, args...))
}

// statNode is an entry of a statLRU.
type statNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next *statNode[K, V] // prev is more recent, next older
}

// statLRU is a map that keeps its entries in least-recently-used order:
// get does not change the order, touch moves an entry to the front,
// oldest is the entry evicted first. The zero value is ready to use.
type statLRU[K comparable, V any] struct {
	m          map[K]*statNode[K, V]
	head, tail *statNode[K, V] // head most recent, tail oldest
}

func (l *statLRU[K, V]) len() int { return len(l.m) }

func (l *statLRU[K, V]) get(k K) *statNode[K, V] { return l.m[k] }

// insert adds k at the front; k must not be present.
func (l *statLRU[K, V]) insert(k K, v V) *statNode[K, V] {
	if l.m == nil {
		l.m = make(map[K]*statNode[K, V])
	}
	n := &statNode[K, V]{key: k, val: v}
	l.m[k] = n
	l.pushFront(n)
	return n
}

func (l *statLRU[K, V]) pushFront(n *statNode[K, V]) {
	n.prev = nil
	n.next = l.head
	if l.head != nil {
		l.head.prev = n
	}
	l.head = n
	if l.tail == nil {
		l.tail = n
	}
}

func (l *statLRU[K, V]) unlink(n *statNode[K, V]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

func (l *statLRU[K, V]) touch(n *statNode[K, V]) {
	if l.head == n {
		return
	}
	l.unlink(n)
	l.pushFront(n)
}

func (l *statLRU[K, V]) remove(n *statNode[K, V]) {
	l.unlink(n)
	delete(l.m, n.key)
}

func (l *statLRU[K, V]) oldest() *statNode[K, V] { return l.tail }

// each calls f from the oldest entry to the most recent; f may remove the
// entry it is given.
func (l *statLRU[K, V]) each(f func(n *statNode[K, V])) {
	for n := l.tail; n != nil; {
		prev := n.prev
		f(n)
		n = prev
	}
}

// statBucketed keeps, per query_key, the accumulator A of the key's open
// bucket of buffer_time (metric_aggregation, percentage_match). Buckets
// are aligned to multiples of the width since the Unix epoch. A bucket
// closes when a document of the key falls in a later bucket or when Tick
// passes its end; a document for a bucket that has closed already is
// ignored (late).
type statBucketed[A any] struct {
	width     int64 // ns
	maxKeys   int
	keys      statLRU[string, statOpen[A]]
	tick      int64 // latest Tick, ns
	evictions uint64
	onDrop    func(acc *A) // called for a bucket evicted without closing
}

// statOpen is the open bucket of one key.
type statOpen[A any] struct {
	idx int64 // bucket number: start = idx*width
	acc A
}

func newStatBucketed[A any](width time.Duration, maxKeys int) statBucketed[A] {
	return statBucketed[A]{width: int64(width), maxKeys: maxKeys, tick: statUnset}
}

// end returns the end of bucket idx in ns (saturated).
func (b *statBucketed[A]) end(idx int64) int64 {
	if idx >= math.MaxInt64/b.width {
		return math.MaxInt64
	}
	if idx < math.MinInt64/b.width+1 {
		return math.MinInt64
	}
	return (idx + 1) * b.width
}

// evictOldest drops the least recently seen key without closing its
// bucket.
func (b *statBucketed[A]) evictOldest() {
	o := b.keys.oldest()
	if b.onDrop != nil {
		b.onDrop(&o.val.acc)
	}
	b.keys.remove(o)
	b.evictions++
}

// at returns the accumulator of key for a document at t, closing the
// key's open bucket first (with closeFn) when t is in a later one. It
// returns nil for a late document.
func (b *statBucketed[A]) at(key string, t int64, closeFn func(key string, idx int64, acc *A)) *A {
	idx := statFloorDiv(t, b.width)
	if b.tick != statUnset && b.end(idx) <= b.tick {
		return nil
	}
	n := b.keys.get(key)
	if n == nil {
		if b.keys.len() >= b.maxKeys {
			b.evictOldest()
		}
		n = b.keys.insert(key, statOpen[A]{idx: idx})
		return &n.val.acc
	}
	b.keys.touch(n)
	switch {
	case idx > n.val.idx:
		closeFn(key, n.val.idx, &n.val.acc)
		n.val = statOpen[A]{idx: idx}
	case idx < n.val.idx:
		return nil
	}
	return &n.val.acc
}

// tickTo closes (with closeFn) and forgets every bucket that ends at or
// before now.
func (b *statBucketed[A]) tickTo(now int64, closeFn func(key string, idx int64, acc *A)) {
	if now > b.tick {
		b.tick = now
	}
	b.keys.each(func(n *statNode[string, statOpen[A]]) {
		if b.end(n.val.idx) <= b.tick {
			closeFn(n.key, n.val.idx, &n.val.acc)
			b.keys.remove(n)
		}
	})
}

type statBucketedState[S any] struct {
	V     int                     `json:"v"`
	Width int64                   `json:"bucket_ns"`
	Tick  int64                   `json:"tick"`
	Keys  []statBucketKeyState[S] `json:"keys"` // least recently seen first
}

type statBucketKeyState[S any] struct {
	K   string `json:"k"`
	Idx int64  `json:"b"`
	Acc S      `json:"a"`
}

// marshal writes the open buckets as JSON, each accumulator converted by
// toState.
func statMarshalBucketed[A, S any](b *statBucketed[A], toState func(*A) S) ([]byte, error) {
	st := statBucketedState[S]{V: statStateVersion, Width: b.width, Tick: b.tick, Keys: make([]statBucketKeyState[S], 0, b.keys.len())}
	b.keys.each(func(n *statNode[string, statOpen[A]]) {
		st.Keys = append(st.Keys, statBucketKeyState[S]{K: n.key, Idx: n.val.idx, Acc: toState(&n.val.acc)})
	})
	return json.Marshal(&st)
}

// statUnmarshalBucketed reads what statMarshalBucketed wrote, checking it
// as untrusted input: fromState converts and checks one accumulator, and
// the keys
// beyond maxKeys are evicted. b is changed only on success.
func statUnmarshalBucketed[A, S any](typ string, b *statBucketed[A], data []byte, fromState func(S) (A, error)) error {
	var st statBucketedState[S]
	if err := json.Unmarshal(data, &st); err != nil {
		return statStateErr(typ, "%v", err)
	}
	if st.V != statStateVersion {
		return statStateErr(typ, "version %d, want %d", st.V, statStateVersion)
	}
	if st.Width != b.width {
		return statStateErr(typ, "written for buffer_time %s, the rule has %s", time.Duration(st.Width), time.Duration(b.width))
	}
	tmp := statBucketed[A]{width: b.width, maxKeys: b.maxKeys, tick: st.Tick}
	for _, ks := range st.Keys {
		if tmp.keys.get(ks.K) != nil {
			return statStateErr(typ, "key %q twice", ks.K)
		}
		acc, err := fromState(ks.Acc)
		if err != nil {
			return statStateErr(typ, "key %q: %v", ks.K, err)
		}
		if tmp.keys.len() >= tmp.maxKeys {
			tmp.evictOldest()
		}
		tmp.keys.insert(ks.K, statOpen[A]{idx: ks.Idx, acc: acc})
	}
	b.keys, b.tick = tmp.keys, tmp.tick
	b.evictions += tmp.evictions
	return nil
}

// statBufferTime returns buffer_time of s (default 5 minutes) or an error.
func statBufferTime(s *Spec) (time.Duration, error) {
	d := s.BufferTime
	if d == 0 {
		d = 5 * time.Minute
	}
	if d < time.Second || d > statMaxTimeframe {
		return 0, fmt.Errorf("buffer_time: %s is out of range for %s; set it between 1s and %s, or leave it out for 5m", d, s.Type, statMaxTimeframe)
	}
	return d, nil
}

// statThreshold checks an optional float threshold.
func statThreshold(key string, p *float64) error {
	if p != nil && (math.IsNaN(*p) || math.IsInf(*p, 0)) {
		return fmt.Errorf("%s: %v is not a finite number; set a number", key, *p)
	}
	return nil
}

// statPlaceWalk bounds the walk of statPlaceByTime.
const statPlaceWalk = 1024

// statPlaceByTime moves n of a list of last-seen times so that the list
// stays ordered by time, newest first: the oldest entry is then the one to
// prune or evict first even when documents come out of order. A document
// in order costs one comparison; a late one a walk past the newer
// entries, at most statPlaceWalk of them (a document older than that many
// entries is placed there, so its entry may age out a little late).
func statPlaceByTime[K comparable](l *statLRU[K, int64], n *statNode[K, int64]) {
	if n.prev == nil || n.prev.val >= n.val {
		if n.next == nil || n.next.val <= n.val {
			return // already in place
		}
	}
	l.unlink(n)
	p := l.head
	for i := 0; p != nil && p.val > n.val && i < statPlaceWalk; i++ {
		p = p.next
	}
	if p == nil { // older than all: at the tail
		n.prev = l.tail
		if l.tail != nil {
			l.tail.next = n
		} else {
			l.head = n
		}
		l.tail = n
		return
	}
	// before p
	n.next = p
	n.prev = p.prev
	if p.prev != nil {
		p.prev.next = n
	} else {
		l.head = n
	}
	p.prev = n
}
