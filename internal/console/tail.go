package console

import (
	"fmt"
	"net/http"
	"time"
)

// tail streams the documents that pass the Tap as server-sent events:
//
//	data: {...one document...}
//
//	: heartbeat           (a comment every TailHeartbeat while idle)
//
//	event: dropped
//	data: {"dropped":12}  (documents this client missed, at most once a second)
//
// The stream ends when the client goes away or sluice shuts down.
func (a *API) tail(w http.ResponseWriter, r *http.Request) {
	req, err := ParseTail(r.URL.Query())
	if a.parseFailed(w, err) {
		return
	}
	if a.tap == nil {
		writeError(w, http.StatusServiceUnavailable, "the live tail is off (console.max_tail_clients: 0)")
		return
	}
	if n := a.tails.Add(1); int(n) > a.cfg.MaxTailClients {
		a.tails.Add(-1)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%d live tails are open already (console.max_tail_clients); close one or raise the limit", a.cfg.MaxTailClients))
		return
	}
	defer a.tails.Add(-1)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no") // proxies: do not buffer the stream
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	sub, err := a.tap.Subscribe(req.Kind, req.Matcher, a.cfg.TailBuffer)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer a.tap.Unsubscribe(sub)
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": sluice live tail\nretry: 5000\n\n"); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}

	heartbeat := time.NewTicker(a.cfg.TailHeartbeat)
	defer heartbeat.Stop()
	second := time.NewTicker(time.Second)
	defer second.Stop()
	var (
		sentThisSecond int
		rateDropped    uint64 // since the last dropped message
		sent, wrote    int
	)
	defer func() { a.tap.countSent(sent) }()
	flush := func() bool {
		if wrote == 0 {
			return true
		}
		wrote = 0
		return rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.tap.Done():
			_, _ = fmt.Fprint(w, "event: end\ndata: {\"reason\":\"sluice is shutting down\"}\n\n")
			_ = rc.Flush()
			return
		case doc := <-sub.C:
			if sentThisSecond >= a.cfg.TailRate {
				rateDropped++
				a.tap.countRateDrops(1)
				continue
			}
			sentThisSecond++
			sent++
			if _, err := fmt.Fprintf(w, "data: %s\n\n", htmlSafe(doc)); err != nil {
				return
			}
			wrote++
			// Flush when nothing more is waiting: one write per burst.
			if len(sub.C) == 0 && !flush() {
				return
			}
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			wrote++
			if !flush() {
				return
			}
		case <-second.C:
			sentThisSecond = 0
			if d := rateDropped + sub.Dropped(); d > 0 {
				rateDropped = 0
				if _, err := fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", d); err != nil {
					return
				}
				wrote++
			}
			if !flush() {
				return
			}
		}
	}
}
