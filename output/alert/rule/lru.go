package rule

// keyLRU holds per-query_key state for at most max keys; adding a key
// beyond that evicts the least recently touched one and counts it. It is
// not safe for concurrent use (a rule's calls are serialized).
type keyLRU[V any] struct {
	max       int
	m         map[string]*lruEntry[V]
	head      *lruEntry[V] // most recently touched
	tail      *lruEntry[V] // least recently touched
	evictions uint64
}

type lruEntry[V any] struct {
	key        string
	val        V
	prev, next *lruEntry[V]
}

func newKeyLRU[V any](max int) *keyLRU[V] {
	if max <= 0 {
		max = DefaultMaxKeys
	}
	return &keyLRU[V]{max: max, m: make(map[string]*lruEntry[V])}
}

func (l *keyLRU[V]) len() int { return len(l.m) }

// get returns the key's value without touching it.
func (l *keyLRU[V]) get(key string) (*V, bool) {
	e, ok := l.m[key]
	if !ok {
		return nil, false
	}
	return &e.val, true
}

// touch returns the key's value, inserting a zero value if absent, and
// makes it the most recent. created says whether it was inserted.
func (l *keyLRU[V]) touch(key string) (v *V, created bool) {
	// Consecutive documents mostly share their key (one exporter's
	// flows): the most recent one is found without hashing it.
	if h := l.head; h != nil && h.key == key {
		return &h.val, false
	}
	if e, ok := l.m[key]; ok {
		l.unlink(e)
		l.pushFront(e)
		return &e.val, false
	}
	if len(l.m) >= l.max && l.tail != nil {
		old := l.tail
		l.unlink(old)
		delete(l.m, old.key)
		l.evictions++
	}
	e := &lruEntry[V]{key: key}
	l.m[key] = e
	l.pushFront(e)
	return &e.val, true
}

func (l *keyLRU[V]) remove(key string) {
	if e, ok := l.m[key]; ok {
		l.unlink(e)
		delete(l.m, key)
	}
}

// each calls f from the least to the most recently touched key; f must
// not add keys, and may remove only the key it is given (through the
// returned flag: true removes it).
func (l *keyLRU[V]) each(f func(key string, v *V) (remove bool)) {
	for e := l.tail; e != nil; {
		prev := e.prev
		if f(e.key, &e.val) {
			l.unlink(e)
			delete(l.m, e.key)
		}
		e = prev
	}
}

func (l *keyLRU[V]) unlink(e *lruEntry[V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (l *keyLRU[V]) pushFront(e *lruEntry[V]) {
	e.next = l.head
	if l.head != nil {
		l.head.prev = e
	}
	l.head = e
	if l.tail == nil {
		l.tail = e
	}
}
