package alerter

import "sync"

// progress remembers which destinations (URL, channel, match) of an alert
// already accepted it, so that a retry of the alert posts only to the
// others. It is keyed by the *Alert the Sender retries, and bounded: the
// oldest entries (alerts given up on) are forgotten first.
type progress struct {
	mu    sync.Mutex
	done  map[*Alert]map[int]bool
	order []*Alert
}

const progressMax = 1024

func (p *progress) sent(a *Alert, dest int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done[a][dest]
}

func (p *progress) mark(a *Alert, dest int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[*Alert]map[int]bool{}
	}
	m, ok := p.done[a]
	if !ok {
		for len(p.order) >= progressMax {
			delete(p.done, p.order[0])
			p.order = p.order[1:]
		}
		m = map[int]bool{}
		p.done[a] = m
		p.order = append(p.order, a)
	}
	m[dest] = true
}

// forget drops an alert that every destination accepted.
func (p *progress) forget(a *Alert) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.done[a]; !ok {
		return
	}
	delete(p.done, a)
	for i, x := range p.order {
		if x == a {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
}

// post sends to destination dest unless an earlier attempt did, and records
// a success.
func (p *progress) post(a *Alert, dest int, send func() error) error {
	if p.sent(a, dest) {
		return nil
	}
	err := send()
	if err == nil {
		p.mark(a, dest)
	}
	return err
}

// finish forgets a when every destination accepted it and joins the errors.
func (p *progress) finish(a *Alert, errs []error) error {
	err := joinSendErrors(errs)
	if err == nil {
		p.forget(a)
	}
	return err
}
