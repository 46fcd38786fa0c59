package event

import (
	"sync"
	"testing"
	"time"
)

func TestIndexNamesPerEventPattern(t *testing.T) {
	ref, err := RegisterIndex("sluice-meraki-%{+yyyy.MM.dd}")
	if err != nil || ref == 0 {
		t.Fatalf("RegisterIndex = %d, %v", ref, err)
	}
	if again, _ := RegisterIndex("sluice-meraki-%{+yyyy.MM.dd}"); again != ref {
		t.Errorf("registering the same pattern twice gave %d and %d", ref, again)
	}
	if _, err := RegisterIndex("Bad-%{+yyyy}"); err == nil {
		t.Error("an upper-case pattern was registered")
	}
	names, err := NewIndexNames("sluice-flows-%{+yyyy.MM.dd}", "sluice-syslog-%{+yyyy.MM.dd}", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC)
	for _, c := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: KindFlow}, "sluice-flows-2026.11.24"},
		{Event{Kind: KindSyslog}, "sluice-syslog-2026.11.24"},
		{Event{Kind: KindSyslog, Index: ref}, "sluice-meraki-2026.11.24"},
		{Event{Kind: KindSyslog, Index: 60000}, "sluice-syslog-2026.11.24"}, // unknown ref: the kind's
	} {
		if got := names.Name(&c.e, ts); got != c.want {
			t.Errorf("Name(kind %v, index %d) = %q, want %q", c.e.Kind, c.e.Index, got, c.want)
		}
	}
	// Concurrent first use of new refs.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := RegisterIndex("sluice-c" + string(rune('a'+i)) + "-%{+yyyy.MM}")
			if err != nil {
				t.Error(err)
				return
			}
			for range 100 {
				if got, want := names.Name(&Event{Kind: KindSyslog, Index: r}, ts), "sluice-c"+string(rune('a'+i))+"-2026.11"; got != want {
					t.Errorf("got %q, want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
