package rule

import (
	"math/rand/v2"
	"testing"
)

func TestStatPlaceByTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l statLRU[int, int64]
	for i := range statPlaceWalk / 2 {
		var n *statNode[int, int64]
		if i > 10 && rng.IntN(3) == 0 {
			if n = l.get(rng.IntN(i)); n == nil {
				continue
			}
			n.val = max(n.val, rng.Int64N(3000))
		} else {
			n = l.insert(i, rng.Int64N(3000))
			if l.len() > statPlaceWalk {
				t.Fatalf("the test list grew beyond statPlaceWalk")
			}
		}
		statPlaceByTime(&l, n)
		if rng.IntN(10) == 0 {
			l.remove(l.oldest())
		}
		// newest first from the head, and the links agree both ways
		count := 0
		var prev *statNode[int, int64]
		for p := l.head; p != nil; p = p.next {
			if p.prev != prev || (prev != nil && prev.val < p.val) {
				t.Fatalf("step %d: list out of order or mislinked at key %d (val %d after %v)", i, p.key, p.val, prev)
			}
			prev = p
			count++
		}
		if prev != l.tail || count != l.len() {
			t.Fatalf("step %d: tail %v, walked %d of %d", i, l.tail, count, l.len())
		}
	}
}
