package alert

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/query"
	"github.com/sluicelab/sluice/output/alert/alerter"
	"github.com/sluicelab/sluice/output/alert/rule"
)

// Doc is one stored document for TestRule: its JSON and the index (or
// daily file) it is stored in.
type Doc struct {
	JSON  []byte
	Index string
}

// TestOptions control TestRule.
type TestOptions struct {
	// Send sends the alerts (test-rule --alert); otherwise they are only
	// printed.
	Send bool
	// End is the end of the time range tested: time-driven rules
	// (flatline, windows closing) are evaluated up to it. Zero: the last
	// document's time.
	End time.Time
	// Out gets the report as it goes.
	Out io.Writer
}

// TestReport is what TestRule found.
type TestReport struct {
	Documents int // read
	Invalid   int // not JSON objects (counted, skipped)
	Matches   int // rule-type matches
	Alerts    int // alerts that would be (or were) sent
	Silenced  int // matches realert kept quiet
	Sent      int // alerters that delivered (with Send)
	Failed    int // alerters that gave up (with Send)
	Notes     []string
}

// TestRule runs the rule file at path over the documents next returns
// (io.EOF ends them), in their order, with the rule's clock following the
// documents' times, like elastalert-test-rule. It prints each match and
// each alert as it would be sent; with o.Send it sends them too.
func TestRule(ctx context.Context, cfg Config, path string, next func() (Doc, error), o TestOptions, logger *slog.Logger) (*TestReport, error) {
	r, err := rule.Load(path, loadOptions(cfg))
	if err != nil {
		return nil, err
	}
	l, err := build(cfg, r, logger)
	if err != nil {
		return nil, err
	}
	rep := &TestReport{Notes: r.Notes}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "rule %q (%s) from %s\n", r.Spec.Name, r.Spec.Type, path)
	for _, n := range r.Notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}

	var clock time.Time // the documents' time
	var mu sync.Mutex   // Emit may come from the sender's Done too
	var sender *alerter.Sender
	var wg sync.WaitGroup
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	if o.Send {
		sender = alerter.NewSender(alerter.SenderConfig{QueueSize: cfg.QueueSize, Workers: cfg.Workers}, prometheus.NewRegistry(), logger)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sender.Run(sctx)
		}()
	}
	var pending sync.WaitGroup
	emit := func(f *rule.Fired) {
		mu.Lock()
		defer mu.Unlock()
		rep.Matches += len(f.Matches)
		a := toAlert(f, clock)
		if f.Silenced {
			rep.Silenced++
			fmt.Fprintf(out, "\nmatch at %s (key %q): silenced by realert\n", matchTime(f), f.Key)
			return
		}
		rep.Alerts++
		subject, body := l.render.Subject(a), l.render.Body(a)
		kinds := make([]string, len(l.alerters))
		for i, al := range l.alerters {
			kinds[i] = al.Kind()
		}
		fmt.Fprintf(out, "\nalert %d at %s (key %q, %d match(es)), to %s\nsubject: %s\n%s\n", rep.Alerts, matchTime(f), f.Key, len(f.Matches), strings.Join(kinds, ", "), subject, indent(body))
		if sender == nil {
			return
		}
		pending.Add(1)
		job := &alerter.Job{Alert: a, Alerters: l.alerters, Subject: subject, Body: body, TimeLimit: l.limit}
		job.Done = func(results []alerter.Result) {
			defer pending.Done()
			mu.Lock()
			defer mu.Unlock()
			for _, res := range results {
				if res.Err != nil {
					rep.Failed++
					fmt.Fprintf(out, "alert %q: %s failed after %d attempt(s): %v\n", subject, res.Alerter, res.Attempts, res.Err)
				} else {
					rep.Sent++
					fmt.Fprintf(out, "alert %q: sent by %s\n", subject, res.Alerter)
				}
			}
		}
		if !sender.Enqueue(job) {
			pending.Done()
			rep.Failed += len(l.alerters)
			fmt.Fprintf(out, "alert %q: queue full, not sent\n", subject)
		}
	}
	eng := rule.NewEngine([]*rule.Rule{r}, rule.EngineConfig{Now: func() time.Time { return clock }, EventClock: true, Emit: emit})
	var lastTick time.Time
	tickTo := func(t time.Time) {
		// Whole seconds, as the running engine ticks; a gap of days is
		// ticked once per minute (the windows close all the same).
		step := time.Second
		if t.Sub(lastTick) > time.Hour {
			step = time.Minute
		}
		for !lastTick.IsZero() && lastTick.Add(step).Before(t) {
			lastTick = lastTick.Add(step)
			mu.Lock()
			clock = lastTick
			mu.Unlock()
			eng.Tick(lastTick)
		}
		if lastTick.IsZero() {
			lastTick = t
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		d, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, err
		}
		rep.Documents++
		jd, err := query.NewJSONDoc(d.JSON)
		if err != nil {
			rep.Invalid++
			continue
		}
		if t, ok := docTime(jd, r.TimestampField); ok {
			tickTo(t)
			mu.Lock()
			if t.After(clock) {
				clock = t
			}
			mu.Unlock()
		}
		eng.Process(jd, d.Index)
	}
	end := o.End
	if end.IsZero() {
		end = clock
	}
	tickTo(end)
	if sender != nil {
		pending.Wait()
		stop()
		wg.Wait()
	}
	fmt.Fprintf(out, "\n%d documents read (%d not JSON objects), %d matches, %d alerts, %d silenced by realert", rep.Documents, rep.Invalid, rep.Matches, rep.Alerts, rep.Silenced)
	if o.Send {
		fmt.Fprintf(out, ", %d sent, %d failed", rep.Sent, rep.Failed)
	}
	fmt.Fprintln(out)
	return rep, nil
}

// docTime reads a document's time from field.
func docTime(d query.Doc, field string) (time.Time, bool) {
	if field == "" {
		field = "@timestamp"
	}
	var buf [2]query.Value
	for _, v := range d.Values(field, buf[:0]) {
		switch v.Kind {
		case query.KindTime:
			return v.Time, true
		case query.KindString:
			if t, err := time.Parse(time.RFC3339Nano, v.Str); err == nil {
				return t, true
			}
		case query.KindNumber:
			return time.UnixMilli(int64(v.Num)), true
		}
	}
	return time.Time{}, false
}

func matchTime(f *rule.Fired) string {
	if len(f.Matches) > 0 && !f.Matches[0].Time.IsZero() {
		return f.Matches[0].Time.UTC().Format(time.RFC3339)
	}
	return "-"
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
