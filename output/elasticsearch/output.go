package elasticsearch

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/obs"
	"github.com/sluicelab/sluice/internal/pipeline"
)

var (
	_ pipeline.Output  = (*Output)(nil)
	_ pipeline.Flusher = (*Output)(nil)
	_ pipeline.Readier = (*Output)(nil)
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("elasticsearch output is closed")

// closeWait is how long Close lets in-flight bulk requests finish before
// it cancels them and spools their documents.
const closeWait = 5 * time.Second

// filterPath keeps bulk responses small: only what classifying items needs.
var filterPath = []string{"errors", "items.*.status", "items.*.error.type", "items.*.error.reason",
	"items.*.error.caused_by.type", "items.*.error.caused_by.reason"}

// Output sends events to Elasticsearch. Write, Flush and Close are called
// from one goroutine (pipeline.Output); bulk workers and spool replayers run
// in their own goroutines.
type Output struct {
	cfg    Config
	client *elasticsearch.Client
	logger *slog.Logger
	warn   *obs.Limiter
	m      *metrics
	names  *event.IndexNames
	now    func() time.Time

	// Owned by the pipeline goroutine.
	cur     *bulk
	seen    map[[16]byte]uint32
	scratch []byte
	closed  bool

	work      chan *bulk
	workers   sync.WaitGroup
	replayers sync.WaitGroup
	spool     *spool
	dlq       *deadLetter
	bulks     sync.Pool

	runCtx    context.Context // cancelled when Close gives up waiting
	cancelRun context.CancelFunc
	closing   chan struct{} // closed when Close starts: no more backoff

	templates []Template
	setupMu   sync.Mutex
	setupDone atomic.Bool

	lastErr  atomic.Pointer[error] // last delivery failure, nil once a request succeeds
	spoolErr atomic.Pointer[error] // the spool could not take the last bulk, nil when it could
	inflight *atomic.Int64         // documents handed to workers and not yet delivered or spooled
}

// New validates cfg, opens the spool and the dead-letter file, and starts
// the bulk workers and spool replayers. It does not contact Elasticsearch:
// templates are installed before the first bulk request, so sluice starts
// (and spools) while the cluster is down. A nil logger discards; a nil reg
// registers no metrics.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	logger = logger.With("component", "output/elasticsearch")
	loc, _ := time.LoadLocation(cfg.Timezone)
	if _, err := event.NewIndexNamer(cfg.FlowsIndex, loc); err != nil {
		return nil, fmt.Errorf("output.index.flows: %w", err)
	}
	if _, err := event.NewIndexNamer(cfg.SyslogIndex, loc); err != nil {
		return nil, fmt.Errorf("output.index.syslog: %w", err)
	}
	names, err := event.NewIndexNames(cfg.FlowsIndex, cfg.SyslogIndex, loc)
	if err != nil {
		return nil, err
	}
	client, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	var tpls []Template
	if cfg.InstallTemplates {
		tc := cfg.Template
		tc.FlowsIndex, tc.SyslogIndex = cfg.FlowsIndex, cfg.SyslogIndex
		if tpls, err = BuildTemplates(tc); err != nil {
			return nil, err
		}
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes, cfg.SpoolWhenFull, logger)
	if err != nil {
		return nil, err
	}
	inflight := new(atomic.Int64)
	m, err := newMetrics(reg, sp.stats, inflight.Load)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch output metrics: %w", err)
	}
	sp.m = m
	dlq, err := openDeadLetter(cfg.DeadLetterPath, cfg.DeadLetterMaxBytes)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	o := &Output{
		cfg: cfg, client: client, logger: logger, warn: obs.NewLimiter(10 * time.Second), m: m,
		names: names, now: time.Now,
		seen: make(map[[16]byte]uint32),
		work: make(chan *bulk), spool: sp, dlq: dlq,
		runCtx: runCtx, cancelRun: cancel, closing: make(chan struct{}),
		templates: tpls, inflight: inflight,
	}
	o.cur = o.newBulk()
	if b, d := sp.stats(); d > 0 {
		logger.Info("spool holds documents from an earlier run; replaying them when Elasticsearch answers", "documents", d, "bytes", b)
	}
	for range cfg.Workers {
		o.workers.Add(1)
		go o.worker()
		o.replayers.Add(1)
		go o.replayer()
	}
	return o, nil
}

// NewClient returns a client for cfg's cluster, with sluice's transport
// settings (TLS, compression, no client-side retries).
func NewClient(cfg Config) (*elasticsearch.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Workers * 2
	tr.ResponseHeaderTimeout = cfg.Timeout
	if cfg.InsecureSkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it (output.elasticsearch.tls.insecure_skip_verify)
	}
	ec := elasticsearch.Config{
		Addresses: cfg.Addresses, Username: cfg.Username, Password: cfg.Password, APIKey: cfg.APIKey,
		// Elasticsearch prints the fingerprint with colons; the client wants bare hex.
		CertificateFingerprint: strings.ReplaceAll(cfg.CAFingerprint, ":", ""),
		// BestSpeed: JSON still shrinks about 8x, at a third of the CPU of
		// the default level; on a Pi, compression would otherwise cost more
		// than everything else sluice does per document.
		CompressRequestBody: cfg.Compress, CompressRequestBodyLevel: gzip.BestSpeed, PoolCompressor: true,
		// The client only retries a request that could not be sent, on
		// the next node (a dead node is then skipped until it is
		// resurrected); statuses and items are retried below, with backoff.
		MaxRetries:    len(cfg.Addresses),
		RetryOnStatus: []int{},
		RetryOnError: func(_ *http.Request, err error) bool {
			return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
		},
		Transport: tr,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("output.elasticsearch.tls.ca_file: %w", err)
		}
		ec.CACert = pem
	}
	c, err := elasticsearch.NewClient(ec)
	if err != nil {
		return nil, fmt.Errorf("output.elasticsearch: %w", err)
	}
	return c, nil
}

// Client returns the Elasticsearch client (for `sluice setup elasticsearch`).
func (o *Output) Client() *elasticsearch.Client { return o.client }

// Name returns "elasticsearch".
func (o *Output) Name() string { return "elasticsearch" }

func (o *Output) newBulk() *bulk {
	if b, ok := o.bulks.Get().(*bulk); ok {
		return b
	}
	return &bulk{body: make([]byte, 0, o.cfg.MaxBytes+o.cfg.MaxBytes/4)}
}

func (o *Output) putBulk(b *bulk) {
	if b == nil || cap(b.body) > 2*o.cfg.MaxBytes+64<<10 {
		return
	}
	b.reset()
	o.bulks.Put(b)
}

// Write adds the events of b to the current bulk request, sending it when
// it is full. It returns once the events are with a bulk worker or in the
// spool; it blocks while all workers are busy (backpressure).
func (o *Output) Write(ctx context.Context, b *event.Batch) error {
	if o.closed {
		return ErrClosed
	}
	clear(o.seen)
	var id [idLen]byte
	var now time.Time
	for i := range b.All() {
		e := &b.Events[i]
		line, ok := b.JSONLine(i)
		if !ok {
			o.scratch = e.AppendJSON(o.scratch[:0])
			line = o.scratch
		}
		doc := bytes.TrimSuffix(line, []byte("\n"))
		ms := e.Timestamp.UnixMilli()
		if e.Timestamp.IsZero() {
			ms = e.Created.UnixMilli()
		}
		key := docID(&id, ms, doc, 0)
		if n, dup := o.seen[key]; dup {
			o.seen[key] = n + 1
			docID(&id, ms, doc, n+1)
		} else {
			o.seen[key] = 0
		}
		if o.cur.len() == 0 {
			o.cur.first = o.now()
		}
		o.cur.add(o.indexName(e, &now), id[:], doc)
		if o.cur.len() >= o.cfg.MaxDocs || len(o.cur.body) >= o.cfg.MaxBytes {
			if err := o.dispatch(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *Output) indexName(e *event.Event, now *time.Time) string {
	t := e.Timestamp
	if t.IsZero() {
		t = e.Created
	}
	if t.IsZero() {
		if now.IsZero() {
			*now = o.now()
		}
		t = *now
	}
	return o.names.Name(e, t)
}

// Flush sends the current bulk once it is older than the flush interval.
func (o *Output) Flush(ctx context.Context) error {
	if o.closed || o.cur.len() == 0 || o.now().Sub(o.cur.first) < o.cfg.FlushInterval {
		return nil
	}
	return o.dispatch(ctx)
}

// dispatch hands the current bulk to a worker, or to the spool while the
// spool holds older documents (so they stay in order).
func (o *Output) dispatch(ctx context.Context) error {
	b := o.cur
	o.cur = o.newBulk()
	if !o.spool.empty() {
		o.toSpool(ctx, b)
		return nil
	}
	o.inflight.Add(int64(b.len()))
	select {
	case o.work <- b:
		return nil
	case <-ctx.Done():
		o.inflight.Add(-int64(b.len()))
		o.toSpool(context.Background(), b)
		return nil
	}
}

// Pending returns the documents buffered, in flight and spooled: zero
// means everything written so far is in Elasticsearch (or dead-lettered).
func (o *Output) Pending() int64 {
	_, spooled := o.spool.stats()
	return int64(o.cur.len()) + o.inflight.Load() + spooled
}

// toSpool stores b in the spool; what the spool cannot take is counted and
// logged. b is returned to the pool.
func (o *Output) toSpool(ctx context.Context, b *bulk) {
	defer o.putBulk(b)
	select {
	case <-o.closing:
		// Never wait for space at shutdown.
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	default:
	}
	n := b.len()
	lost, reason, err := o.spool.put(ctx, b)
	if err != nil {
		e := fmt.Errorf("spool (%s) cannot take documents: %w", o.cfg.SpoolDir, err)
		o.spoolErr.Store(&e)
	} else {
		o.spoolErr.Store(nil)
	}
	if lost > 0 {
		o.m.spoolDropped.WithLabelValues(reason).Add(float64(lost))
		o.logger.Error("spool full: documents dropped", "count", lost, "policy", reason,
			"spool_max_bytes", o.cfg.SpoolMaxBytes, "fix", "raise output.elasticsearch.spool.max_bytes or bring Elasticsearch back")
	}
	if err == nil {
		o.m.spooled.Add(float64(n))
	} else if reason != DropNewest && reason != "shutdown" {
		o.m.writeErrors.Inc()
		o.logger.Error("spooling documents failed; they are lost", "count", n, "err", err)
	}
}

func (o *Output) worker() {
	defer o.workers.Done()
	for b := range o.work {
		n := int64(b.len())
		rest, err := o.deliver(b, o.cfg.SpoolAfter)
		if rest != nil {
			if ok, muted := o.warn.Allow("spooling"); ok {
				o.logger.Warn("elasticsearch unavailable; spooling documents to disk", "count", rest.len(), "err", err, "suppressed", muted)
			}
			o.toSpool(context.Background(), rest)
			o.inflight.Add(-n)
			if rest != b {
				o.putBulk(b)
			}
			continue
		}
		o.inflight.Add(-n)
		o.putBulk(b)
	}
}

// replayer sends spooled segments, oldest first, while Elasticsearch takes
// them, backing off while it does not.
func (o *Output) replayer() {
	defer o.replayers.Done()
	backoff := o.cfg.InitialBackoff
	for {
		seg, wait := o.spool.claim()
		if seg == nil {
			select {
			case <-wait:
				continue
			case <-o.closing:
				return
			}
		}
		if o.isClosing() {
			o.spool.release(seg)
			return
		}
		ok := o.replay(seg)
		if ok {
			backoff = o.cfg.InitialBackoff
			continue
		}
		if !o.sleep(backoff) {
			return
		}
		backoff = min(backoff*2, o.cfg.MaxBackoff)
	}
}

// replay tries to deliver one claimed segment once; it reports whether the
// segment is done (deleted or quarantined).
func (o *Output) replay(seg *segment) bool {
	body, err := o.spool.read(seg)
	var b *bulk
	if err == nil {
		b, err = parseBulk(body)
	}
	if err != nil {
		o.logger.Error("spool segment cannot be read; moved aside as .damaged, its documents are not replayed",
			"segment", seg.seq, "documents", seg.docs, "err", err)
		o.m.spoolDropped.WithLabelValues("damaged").Add(float64(seg.docs))
		o.spool.quarantine(seg)
		return true
	}
	n := b.len()
	rest, err := o.deliver(b, 0)
	if rest == nil {
		o.m.replayed.Add(float64(n))
		if err := o.spool.done(seg); err != nil {
			o.logger.Error("removing a replayed spool segment", "segment", seg.seq, "err", err)
		}
		return true
	}
	if rest.len() < n {
		o.m.replayed.Add(float64(n - rest.len()))
		if err := o.spool.rewrite(seg, rest); err != nil {
			o.logger.Error("rewriting a partly replayed spool segment (the replayed part will be sent again and counted as duplicates)", "segment", seg.seq, "err", err)
		}
	}
	o.spool.release(seg)
	return false
}

func (o *Output) isClosing() bool {
	select {
	case <-o.closing:
		return true
	default:
		return false
	}
}

// sleep waits d with ±20% jitter; false when Close interrupted it.
func (o *Output) sleep(d time.Duration) bool {
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-o.closing:
		return false
	}
}

func (o *Output) setErr(err error) {
	if err == nil {
		o.lastErr.Store(nil)
		return
	}
	o.lastErr.Store(&err)
}

// ensureSetup installs the index templates once, before the first bulk.
func (o *Output) ensureSetup() error {
	if len(o.templates) == 0 || o.setupDone.Load() {
		return nil
	}
	o.setupMu.Lock()
	defer o.setupMu.Unlock()
	if o.setupDone.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(o.runCtx, o.cfg.Timeout)
	defer cancel()
	installed, unchanged, err := InstallTemplates(ctx, o.client, o.templates, o.logger)
	if err != nil {
		o.m.templates.WithLabelValues("failed").Inc()
		return fmt.Errorf("installing index templates: %w", err)
	}
	o.m.templates.WithLabelValues("installed").Add(float64(installed))
	o.m.templates.WithLabelValues("unchanged").Add(float64(unchanged))
	o.logger.Info("index templates ready", "installed", installed, "unchanged", unchanged)
	o.setupDone.Store(true)
	return nil
}

// Setup installs the index templates now (for `sluice setup elasticsearch`).
func (o *Output) Setup(ctx context.Context) (installed, unchanged int, err error) {
	if len(o.templates) == 0 {
		return 0, 0, errors.New("output.elasticsearch.template.install is false; nothing to install")
	}
	return InstallTemplates(ctx, o.client, o.templates, o.logger)
}

// deliver sends b until every item is indexed, a duplicate or dead-lettered.
// Items that failed with a retriable status are retried with backoff for at
// most patience (none after Close started); what is still undelivered then,
// or the whole bulk after a connection error, is returned as rest with the
// last error, for the caller to spool.
func (o *Output) deliver(b *bulk, patience time.Duration) (rest *bulk, err error) {
	start := o.now()
	backoff := o.cfg.InitialBackoff
	for {
		retry, reason, err := o.attempt(b)
		if err != nil && retry == nil {
			return b, err // connection error or a cluster refusing everything: spool it
		}
		if retry == nil || retry.len() == 0 {
			o.setErr(nil)
			return nil, nil
		}
		o.m.retries.WithLabelValues(reason).Add(float64(retry.len()))
		if err == nil {
			err = fmt.Errorf("elasticsearch answered %s for %d documents", reason, retry.len())
		}
		o.setErr(err)
		if o.isClosing() || o.now().Sub(start)+backoff > patience {
			return retry, err
		}
		if !o.sleep(backoff) {
			return retry, err
		}
		backoff = min(backoff*2, o.cfg.MaxBackoff)
		b = retry
	}
}

// attempt sends b once. It returns the items to try again (a new bulk, or b
// itself when the whole request is to be retried) and why, or a nil retry
// and an error when the request could not be made or the cluster refused it
// as a whole in a way retrying will not fix soon (the caller spools b).
func (o *Output) attempt(b *bulk) (retry *bulk, reason string, err error) {
	if err := o.ensureSetup(); err != nil {
		o.setErr(err)
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(o.runCtx, o.cfg.Timeout)
	defer cancel()
	t0 := time.Now()
	res, err := esapi.BulkRequest{Body: bytes.NewReader(b.body), FilterPath: filterPath}.Do(ctx, o.client)
	if err != nil {
		o.m.latency.Observe(time.Since(t0).Seconds())
		o.m.requests.WithLabelValues("transport_error").Inc()
		err = fmt.Errorf("bulk request: %w", err)
		o.setErr(err)
		return nil, "", err
	}
	body, rerr := io.ReadAll(res.Body)
	res.Body.Close()
	o.m.latency.Observe(time.Since(t0).Seconds())
	if rerr != nil {
		o.m.requests.WithLabelValues("transport_error").Inc()
		err = fmt.Errorf("reading bulk response: %w", rerr)
		o.setErr(err)
		return nil, "", err
	}
	o.m.bytes.Add(float64(len(b.body)))
	switch st := res.StatusCode; {
	case retriableStatus(st):
		o.m.requests.WithLabelValues("retriable").Inc()
		return b, statusLabel(st), fmt.Errorf("bulk request: HTTP %d: %s", st, trim(body))
	case st == http.StatusRequestEntityTooLarge && b.len() > 1:
		// The cluster's http.max_content_length is below bulk.max_bytes:
		// deliver the halves separately.
		o.m.requests.WithLabelValues("failed").Inc()
		o.logger.Warn("bulk request too large for the cluster; splitting it (lower output.elasticsearch.bulk.max_bytes)", "bytes", len(b.body))
		return o.split(b)
	case st == http.StatusUnauthorized || st == http.StatusForbidden || st >= 500:
		o.m.requests.WithLabelValues("failed").Inc()
		err := fmt.Errorf("bulk request: HTTP %d: %s", st, trim(body))
		if st < 500 {
			err = fmt.Errorf("%w %s", err, credentialsHint)
		}
		o.setErr(err)
		return nil, "", err
	case st >= 300:
		// The whole request was refused (400 on the request itself, 413 for
		// one document): nothing in it will ever be accepted as it is.
		o.m.requests.WithLabelValues("failed").Inc()
		reason := fmt.Sprintf("bulk request refused: HTTP %d: %s", st, trim(body))
		for i := range b.len() {
			o.deadLetter(b.item(i), st, "request_refused", reason)
		}
		return nil, "", nil
	}
	var r bulkResponse
	if err := parseResponse(body, b.len(), &r); err != nil {
		// A response we cannot read: the items may or may not be indexed.
		// Sending them again is safe (create with fixed _ids).
		o.m.requests.WithLabelValues("failed").Inc()
		return b, "bad_response", err
	}
	if !r.Errors {
		o.m.requests.WithLabelValues("ok").Inc()
		o.m.indexed.Add(float64(b.len()))
		return nil, "", nil
	}
	o.m.requests.WithLabelValues("item_errors").Inc()
	var indexed int
	for i, m := range r.Items {
		it := itemOf(m)
		switch classifyItem(it.Status) {
		case outcomeIndexed:
			indexed++
		case outcomeDuplicate:
			indexed++
			o.m.duplicates.Inc()
		case outcomeRetry:
			if retry == nil {
				retry = o.newBulk()
			}
			retry.addItem(b.item(i))
			reason = statusLabel(it.Status)
			o.m.itemFailures.WithLabelValues(o.m.reason(errType(it.Error))).Inc()
		case outcomeReject:
			o.m.itemFailures.WithLabelValues(o.m.reason(errType(it.Error))).Inc()
			o.deadLetter(b.item(i), it.Status, errType(it.Error), it.Error.String())
		}
	}
	o.m.indexed.Add(float64(indexed))
	return retry, reason, nil
}

func errType(e *itemError) string {
	if e == nil {
		return ""
	}
	return e.Type
}

// split delivers the two halves of b on their own; whatever they could not
// deliver comes back as one bulk to retry.
func (o *Output) split(b *bulk) (*bulk, string, error) {
	h := b.len() / 2
	var rest *bulk
	var lastErr error
	for _, r := range [][2]int{{0, h}, {h, b.len()}} {
		part := o.newBulk()
		for i := r[0]; i < r[1]; i++ {
			part.addItem(b.item(i))
		}
		left, err := o.deliver(part, 0)
		if left != nil {
			if rest == nil {
				rest = o.newBulk()
			}
			for i := range left.len() {
				rest.addItem(left.item(i))
			}
			lastErr = err
		}
		o.putBulk(part)
	}
	if rest == nil {
		return nil, "", nil
	}
	return rest, "413", lastErr
}

// deadLetter writes one refused item to the dead-letter file.
func (o *Output) deadLetter(it []byte, status int, typ, reason string) {
	index, id, doc := splitItem(it)
	err := o.dlq.write(o.now(), index, id, status, reason, doc)
	if err != nil {
		o.m.deadLetterLost.Inc()
		if ok, muted := o.warn.Allow("dead_letter_lost"); !ok {
			return
		} else if muted > 0 {
			o.logger.Error("more refused documents were lost without a log line", "count", muted)
		}
		o.logger.Error("document refused by elasticsearch and not written to the dead-letter file",
			"index", index, "id", id, "status", status, "reason", reason, "err", err, "document", string(doc))
		return
	}
	o.m.deadLetter.Inc()
	if ok, muted := o.warn.Allow("dead_letter"); ok {
		o.logger.Warn("elasticsearch refused a document; written to the dead-letter file",
			"index", index, "status", status, "error_type", typ, "reason", reason, "file", o.cfg.DeadLetterPath, "suppressed", muted)
	}
}

func trim(b []byte) string {
	if len(b) > 512 {
		b = b[:512]
	}
	return string(bytes.TrimSpace(b))
}

// Ready reports an error only when the output cannot take documents: the
// spool is full under the block policy, or writing to it fails. An
// unreachable cluster is not an error here: documents are spooled, and
// Status says so (a readiness probe that failed then would make an
// orchestrator stop sending, and the data would be lost instead).
func (o *Output) Ready() error {
	if p := o.spoolErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Status describes a delivery problem for /readyz: the last failure and
// what waits in the spool; "" while everything is delivered.
func (o *Output) Status() string {
	_, d := o.spool.stats()
	p := o.lastErr.Load()
	switch {
	case p != nil && d > 0:
		return fmt.Sprintf("spooling, %d documents waiting: %v", d, *p)
	case p != nil:
		return fmt.Sprintf("retrying: %v", *p)
	case d > 0:
		return fmt.Sprintf("replaying the spool, %d documents waiting", d)
	}
	return ""
}

// Close sends what is buffered and waits for the workers: in-flight
// requests get closeWait to finish (bounded by ctx); after that they are
// cancelled and their documents spooled, as is everything that fails now.
// Replayers stop; the spool keeps what they did not send for the next start.
func (o *Output) Close(ctx context.Context) error {
	if o.closed {
		return nil
	}
	if o.cur.len() > 0 {
		_ = o.dispatch(ctx)
	}
	o.closed = true
	close(o.closing)
	close(o.work)
	done := make(chan struct{})
	go func() {
		o.workers.Wait()
		o.replayers.Wait()
		close(done)
	}()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		o.cancelRun()
		<-done
	case <-ctx.Done():
		o.cancelRun()
		<-done
	}
	o.cancelRun()
	o.spool.close()
	if b, d := o.spool.stats(); d > 0 {
		o.logger.Warn("documents left in the spool; they are replayed at the next start", "documents", d, "bytes", b, "dir", o.cfg.SpoolDir)
	}
	return o.dlq.close()
}
