package query

import (
	"testing"

	"github.com/sluicelab/sluice/internal/event"
)

// TestFlowConstant: FlowConstant says yes only for filters whose result
// is the same on every flow event, and then Match on a bare flow event
// gives every flow's result (the rule engine evaluates such filters once).
func TestFlowConstant(t *testing.T) {
	flows := append(goldenFlows(t), syntheticEvents()...)
	for _, tc := range []struct {
		q     string
		want  bool
		flows bool // Match on flows, when constant
	}{
		{`event.action:network_flow`, true, true},
		{`event.action:deny`, true, false},
		{`NOT event.action:network_flow`, true, false},
		{`event.kind:event AND event.category:network AND event.type:connection`, true, true},
		{`event.module:sluice OR event.dataset:nope`, true, true},
		{`event.dataset:sluice.fl*`, true, true},
		{`event.dataset:/sluice\.f.*/`, true, true},
		{`_exists_:event.action`, true, true},
		{`_exists_:event.module AND NOT _exists_:event.dataset`, true, false},
		{`*:*`, true, true},
		{`event.action:network_flow AND destination.port:53`, false, false},
		{`event.action:network_flow OR network.transport:udp`, false, false},
		{`event.action:[a TO z]`, false, false},         // a range: not taken as constant
		{`network_flow`, false, false},                  // every field
		{`_exists_:event`, false, false},                // an object path
		{`event.created:[now-1d TO now]`, false, false}, // differs per flow
		{`observer.ip:192.0.2.1`, false, false},
	} {
		m, err := ParseQueryString(tc.q, Options{})
		if err != nil {
			t.Fatalf("ParseQueryString(%q): %v", tc.q, err)
		}
		if got := FlowConstant(m); got != tc.want {
			t.Errorf("FlowConstant(%q) = %v, want %v", tc.q, got, tc.want)
			continue
		}
		if !tc.want {
			continue
		}
		bare := NewEventDoc(&event.Event{Kind: event.KindFlow})
		if got := m.Match(bare); got != tc.flows {
			t.Errorf("%q matches a bare flow: %v, want %v", tc.q, got, tc.flows)
		}
		n := 0
		var d EventDoc
		for _, ne := range flows {
			if ne.e.Kind != event.KindFlow {
				continue
			}
			d.Reset(ne.e)
			if !d.IsFlow() {
				t.Fatalf("%s: IsFlow() = false for a flow event", ne.name)
			}
			if got := m.Match(&d); got != tc.flows {
				t.Errorf("%q on %s: Match = %v, want %v as on every flow", tc.q, ne.name, got, tc.flows)
			}
			n++
		}
		if n < 10 {
			t.Fatalf("only %d flow events", n)
		}
	}
	// A DSL filter compiles to the same nodes; another package's matcher
	// is never constant.
	m, err := CompileDSL(map[string]any{"term": map[string]any{"event.action": "network_flow"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !FlowConstant(m) {
		t.Errorf("FlowConstant(term event.action) = false, want true")
	}
	if FlowConstant(otherMatcher{}) {
		t.Errorf("FlowConstant(another package's matcher) = true, want false")
	}
	var d EventDoc
	if d.IsFlow() {
		t.Errorf("IsFlow() of an EventDoc over no event = true")
	}
}

type otherMatcher struct{}

func (otherMatcher) Match(Doc) bool   { return true }
func (otherMatcher) Fields() []string { return []string{"event.action"} }
