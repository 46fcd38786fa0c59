package obs

import (
	"sync"
	"sync/atomic"
	"time"
)

// Newcomers decides which first sightings (a new exporter, a new syslog
// sender) get a log line, bounded in memory and in lines: it remembers at
// most maxKeys keys (past that, new keys are neither remembered nor logged, and
// Full reports it once) and lets at most burst lines through per interval;
// keys over the rate are remembered and counted, and the next line that
// passes carries their number. Safe for concurrent use; a seen key costs
// one lock-free sync.Map lookup (it is asked once per datagram).
type Newcomers[K comparable] struct {
	max, burst int
	interval   time.Duration
	now        func() time.Time

	seen atomicSeen[K]

	mu       sync.Mutex
	n        int       // keys in seen
	start    time.Time // of the current rate interval
	passed   int       // lines let through in it
	unlogged int       // new keys not logged since the last line
}

// NewNewcomers returns a Newcomers; max and burst below 1 are taken as 1.
func NewNewcomers[K comparable](maxKeys, burst int, interval time.Duration) *Newcomers[K] {
	return &Newcomers[K]{max: max(maxKeys, 1), burst: max(burst, 1), interval: interval, now: time.Now}
}

// Verdict is what Admit decided about a key.
type Verdict struct {
	Log      bool // the key is new and its line may be logged now
	Unlogged int  // new keys not logged (over the rate) before this one; with Log only
	Full     bool // the set just became full: log once that further newcomers are not logged
}

// Admit records a sighting of key.
func (n *Newcomers[K]) Admit(key K) Verdict {
	if n.seen.has(key) || n.seen.full.Load() {
		return Verdict{}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen.has(key) || n.seen.full.Load() {
		return Verdict{}
	}
	if n.n >= n.max {
		n.seen.full.Store(true)
		return Verdict{Full: true}
	}
	n.seen.m.Store(key, struct{}{})
	n.n++
	now := n.now()
	if now.Sub(n.start) >= n.interval {
		n.start, n.passed = now, 0
	}
	if n.passed >= n.burst {
		n.unlogged++
		return Verdict{}
	}
	n.passed++
	v := Verdict{Log: true, Unlogged: n.unlogged}
	n.unlogged = 0
	return v
}

// atomicSeen is the seen-set, readable without the lock.
type atomicSeen[K comparable] struct {
	m    sync.Map // K -> struct{}
	full atomic.Bool
}

func (s *atomicSeen[K]) has(key K) bool {
	_, ok := s.m.Load(key)
	return ok
}

// Len returns the number of keys remembered.
func (n *Newcomers[K]) Len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.n
}
