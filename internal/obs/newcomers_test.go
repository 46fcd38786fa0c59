package obs

import (
	"fmt"
	"testing"
	"time"
)

func TestNewcomers(t *testing.T) {
	now := time.Unix(1000, 0)
	n := NewNewcomers[string](100, 3, 10*time.Second)
	n.now = func() time.Time { return now }
	logged := 0
	for i := range 5 {
		if v := n.Admit(fmt.Sprint("a", i)); v.Log {
			logged++
		}
	}
	if logged != 3 {
		t.Errorf("5 new keys in one interval with burst 3: %d logged, want 3", logged)
	}
	if v := n.Admit("a0"); v.Log || v.Full {
		t.Errorf("Admit(seen key) = %+v, want nothing", v)
	}
	now = now.Add(11 * time.Second)
	if v := n.Admit("b"); !v.Log || v.Unlogged != 2 {
		t.Errorf("Admit(new key, next interval) = %+v, want Log with Unlogged 2", v)
	}
	if v := n.Admit("a4"); v.Log {
		t.Errorf("a key held back by the rate is logged later: %+v", v)
	}

	// An address flood: memory stays at max keys, one Full, then silence.
	fulls, logs := 0, 0
	for i := range 100000 {
		now = now.Add(time.Second)
		v := n.Admit(fmt.Sprint("flood", i))
		if v.Full {
			fulls++
		}
		if v.Log {
			logs++
		}
	}
	if n.Len() != 100 {
		t.Errorf("after a flood of 100000 keys the set holds %d, want the bound 100", n.Len())
	}
	if fulls != 1 || logs > 100 {
		t.Errorf("flood: %d Full verdicts (want 1), %d lines (want at most 100)", fulls, logs)
	}
}
