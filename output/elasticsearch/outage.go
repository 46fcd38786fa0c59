package elasticsearch

import (
	"sync"
	"time"
)

// outage follows one period in which Elasticsearch took no documents, for
// the log pair "unavailable" (once per outage) and "available again" (how
// long, how many documents were spooled meanwhile), and the replay of what
// waited ("spool replayed"). Bulk workers call it concurrently.
type outage struct {
	mu        sync.Mutex
	since     time.Time // start of the current outage; zero while available
	spooled   int64     // documents that began waiting during it
	replaying bool      // after an outage, until the spool is empty again
	back      time.Time // when the outage ended
	replayed  int64     // waiting documents delivered since
}

// failed records a failed delivery that left spooled documents newly
// waiting; none means nothing of the segment was taken. It reports whether
// this starts an outage (a partly taken segment continues one but does
// not start it: the cluster answers).
func (u *outage) failed(now time.Time, spooled int64, none bool) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	start := u.since.IsZero() && none
	if start {
		u.since, u.spooled = now, 0
	}
	if !u.since.IsZero() {
		u.spooled += spooled
	}
	return start
}

// delivered records a delivery of a whole segment (replayed of its
// documents had waited) with waiting documents still in the spool. It
// returns the outage that ended, if any, and the replay that completed, if
// any (the spool is empty again after an outage).
func (u *outage) delivered(now time.Time, replayed, waiting int64) (ended bool, took time.Duration, spooled int64, replayDone bool, replayTook time.Duration, replayedTotal int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.since.IsZero() {
		ended, took, spooled = true, now.Sub(u.since), u.spooled
		u.since, u.replaying, u.back, u.replayed = time.Time{}, true, now, 0
	}
	if u.replaying {
		u.replayed += replayed
		if waiting == 0 {
			replayDone, replayTook, replayedTotal = true, now.Sub(u.back), u.replayed
			u.replaying = false
		}
	}
	return
}
