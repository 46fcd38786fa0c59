package closest

import "testing"

func TestName(t *testing.T) {
	known := []string{"realert", "realert_key", "num_events", "timeframe", "alert"}
	for _, c := range []struct{ k, want string }{
		{"realret", "realert"}, {"num_event", "num_events"}, {"timefram", "timeframe"},
		{"alret", "alert"}, {"compltely_different_key", ""}, {"", ""},
	} {
		if got := Name(c.k, known); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.k, got, c.want)
		}
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance(kitten, sitting) = %d, want 3", d)
	}
}
