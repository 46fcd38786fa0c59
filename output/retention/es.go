package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Performer sends a request to the cluster; *elasticsearch.Client (from
// output/elasticsearch.NewClient) is one. Requests carry only the path and
// query; the client picks the node.
type Performer interface {
	Perform(*http.Request) (*http.Response, error)
}

// esTarget acts on Elasticsearch indices. Indices are always named one by
// one (never by wildcard), so clusters with
// action.destructive_requires_name=true accept the requests.
type esTarget struct {
	c Performer
	// pollTimeout is how long one _tasks wait lasts before it is repeated.
	pollTimeout time.Duration
}

// maxNamesBytes bounds the comma-separated names of one request: the
// request line must stay below http.max_initial_line_length (4 KB).
const maxNamesBytes = 3000

func (t *esTarget) name() string { return TargetElasticsearch }

// list returns every open and closed index (hidden ones are not listed).
func (t *esTarget) list(ctx context.Context) ([]Item, error) {
	var rows []struct {
		Index   string  `json:"index"`
		Status  string  `json:"status"`
		Created string  `json:"creation.date"`
		Size    *string `json:"store.size"`
	}
	q := url.Values{
		"format":           {"json"},
		"h":                {"index,status,creation.date,store.size"},
		"bytes":            {"b"},
		"expand_wildcards": {"open,closed"},
	}
	if err := t.do(ctx, http.MethodGet, "/_cat/indices", q, &rows); err != nil {
		return nil, fmt.Errorf("listing indices: %w", err)
	}
	items := make([]Item, 0, len(rows))
	for _, r := range rows {
		it := Item{Name: r.Index, ID: r.Index, Closed: r.Status == "close"}
		ms, err := strconv.ParseInt(r.Created, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("listing indices: index %s: creation.date %q is not a number", r.Index, r.Created)
		}
		it.Created = time.UnixMilli(ms)
		if r.Size != nil {
			if it.Size, err = strconv.ParseInt(*r.Size, 10, 64); err != nil {
				return nil, fmt.Errorf("listing indices: index %s: store.size %q is not a number", r.Index, *r.Size)
			}
		}
		items = append(items, it)
	}
	return items, nil
}

// prepare drops what needs no action: closing a closed index, merging a
// closed index (it cannot be merged) or one already at the segment count.
func (t *esTarget) prepare(ctx context.Context, p *policy, ds []Decision) (todo []Decision, done int, skipped []Skip, err error) {
	for _, d := range ds {
		switch p.action {
		case ActionClose:
			if d.Closed {
				done++
				continue
			}
		case ActionForcemerge:
			if d.Closed {
				done++
				continue
			}
			n, err := t.maxSegments(ctx, d.ID)
			if err != nil {
				return nil, 0, nil, err
			}
			if n <= p.segments {
				done++
				continue
			}
		}
		todo = append(todo, d)
	}
	return todo, done, nil, nil
}

// apply performs p's action on ds, calling report once per decision.
func (t *esTarget) apply(ctx context.Context, p *policy, ds []Decision, report func(Decision, error)) error {
	switch p.action {
	case ActionDelete, ActionClose:
		for _, batch := range batches(ds) {
			err := t.batch(ctx, p.action, batch)
			if err != nil && len(batch) > 1 && ctx.Err() == nil {
				// Find out which ones failed.
				for _, d := range batch {
					report(d, t.batch(ctx, p.action, []Decision{d}))
				}
				continue
			}
			for _, d := range batch {
				report(d, err)
			}
		}
	case ActionForcemerge:
		for _, d := range ds {
			report(d, t.forcemerge(ctx, d.ID, p.segments))
		}
	default:
		for _, d := range ds {
			report(d, fmt.Errorf("action %s does not apply to Elasticsearch", p.action))
		}
	}
	return nil
}

func batches(ds []Decision) [][]Decision {
	var out [][]Decision
	start, n := 0, 0
	for i, d := range ds {
		if i > start && n+len(d.ID)+1 > maxNamesBytes {
			out = append(out, ds[start:i])
			start, n = i, 0
		}
		n += len(d.ID) + 1
	}
	if start < len(ds) {
		out = append(out, ds[start:])
	}
	return out
}

// batch deletes or closes the named indices in one request. An index that
// is already gone counts as done (another run may have deleted it).
func (t *esTarget) batch(ctx context.Context, action string, ds []Decision) error {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.ID
	}
	joined := strings.Join(names, ",")
	q := url.Values{"ignore_unavailable": {"true"}}
	if action == ActionDelete {
		var r struct {
			Acknowledged bool `json:"acknowledged"`
		}
		if err := t.do(ctx, http.MethodDelete, "/"+joined, q, &r); err != nil {
			return err
		}
		if !r.Acknowledged {
			return errors.New("not acknowledged by the cluster in time; it may still complete, check on the next run")
		}
		return nil
	}
	var r struct {
		Indices map[string]struct {
			Closed    bool            `json:"closed"`
			Exception json.RawMessage `json:"exception"`
		} `json:"indices"`
	}
	if err := t.do(ctx, http.MethodPost, "/"+joined+"/_close", q, &r); err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if res, ok := r.Indices[n]; ok && !res.Closed {
			errs = append(errs, fmt.Errorf("%s not closed: %s", n, res.Exception))
		}
	}
	return errors.Join(errs...)
}

// maxSegments returns the most search segments of any shard copy of index.
func (t *esTarget) maxSegments(ctx context.Context, index string) (int, error) {
	var r struct {
		Indices map[string]struct {
			Shards map[string][]struct {
				N int `json:"num_search_segments"`
			} `json:"shards"`
		} `json:"indices"`
	}
	q := url.Values{"filter_path": {"indices.*.shards.*.num_search_segments"}}
	if err := t.do(ctx, http.MethodGet, "/"+index+"/_segments", q, &r); err != nil {
		return 0, fmt.Errorf("segments of %s: %w", index, err)
	}
	most := 0
	for _, idx := range r.Indices {
		for _, copies := range idx.Shards {
			for _, c := range copies {
				most = max(most, c.N)
			}
		}
	}
	return most, nil
}

// forcemerge merges index down to segments per shard. It runs as a task
// and is waited for in bounded polls, so a merge taking longer than the
// client's request timeout is still followed to its end (or ctx's).
func (t *esTarget) forcemerge(ctx context.Context, index string, segments int) error {
	var started struct {
		Task string `json:"task"`
	}
	q := url.Values{"max_num_segments": {strconv.Itoa(segments)}, "wait_for_completion": {"false"}}
	if err := t.do(ctx, http.MethodPost, "/"+index+"/_forcemerge", q, &started); err != nil {
		return err
	}
	if started.Task == "" {
		return errors.New("the cluster returned no task for the force merge")
	}
	wait := t.pollTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	for {
		var r struct {
			Completed bool            `json:"completed"`
			Error     json.RawMessage `json:"error"`
			Response  struct {
				Shards struct {
					Failed int             `json:"failed"`
					Errors json.RawMessage `json:"failures"`
				} `json:"_shards"`
			} `json:"response"`
		}
		q := url.Values{"wait_for_completion": {"true"}, "timeout": {wait.String()}}
		err := t.do(ctx, http.MethodGet, "/_tasks/"+started.Task, q, &r)
		var se *statusError
		switch {
		case err == nil && r.Completed:
			if len(r.Error) > 0 {
				return fmt.Errorf("force merge task %s failed: %s", started.Task, r.Error)
			}
			if r.Response.Shards.Failed > 0 {
				return fmt.Errorf("force merge failed on %d shards: %s", r.Response.Shards.Failed, r.Response.Shards.Errors)
			}
			return nil
		case err == nil, errors.As(err, &se) && se.timeout():
			// Still running; wait again.
		default:
			return fmt.Errorf("waiting for force merge task %s: %w", started.Task, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("force merge task %s still running: %w", started.Task, ctx.Err())
		case <-time.After(time.Second): // never a tight loop
		}
	}
}

// statusError is a non-2xx answer.
type statusError struct {
	status int
	typ    string
	reason string
	body   string
}

func (e *statusError) Error() string {
	if e.typ != "" {
		return fmt.Sprintf("status %d: %s: %s", e.status, e.typ, e.reason)
	}
	return fmt.Sprintf("status %d: %.300s", e.status, e.body)
}

// timeout reports whether a wait for a task ran out (the task goes on).
func (e *statusError) timeout() bool {
	return e.status == http.StatusRequestTimeout || strings.Contains(e.typ, "timeout")
}

// do sends one request and decodes a 2xx JSON answer into out.
func (t *esTarget) do(ctx context.Context, method, path string, q url.Values, out any) error {
	u := &url.URL{Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := t.c.Perform(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &statusError{status: resp.StatusCode, body: string(body)}
		var e struct {
			Error struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil {
			se.typ, se.reason = e.Error.Type, e.Error.Reason
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("unexpected answer %.200s: %w", body, err)
	}
	return nil
}
