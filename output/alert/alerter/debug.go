package alerter

import (
	"context"
	"log/slog"
)

// debugAlerter logs the subject and body at INFO, as ElastAlert's debug
// alerter does.
type debugAlerter struct {
	r      *Renderer
	logger *slog.Logger
}

func newDebug(o *opts, env Env) (Alerter, error) {
	r, err := NewRenderer(o.m)
	if err != nil {
		return nil, err
	}
	return &debugAlerter{r: r, logger: env.logger().With("alerter", "debug")}, nil
}

func (d *debugAlerter) Kind() string { return "debug" }

func (d *debugAlerter) Send(ctx context.Context, a *Alert) error {
	d.logger.InfoContext(ctx, "alert", "rule", a.Rule, "query_key", a.QueryKey,
		"matches", len(a.Matches), "subject", d.r.Subject(a), "body", d.r.Body(a))
	return nil
}
