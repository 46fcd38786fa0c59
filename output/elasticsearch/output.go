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
	"path/filepath"
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

	// Owned by the pipeline goroutine. cur holds the open segment's
	// documents; the first written bytes (items) of it are in its file.
	cur          *bulk
	written      int
	writtenItems int
	seen         map[[16]byte]uint32
	scratch      []byte
	closed       bool
	shutdown     bool // Close started: never wait for room
	unclean      bool // the previous run ended without Close (recover.go)

	workers sync.WaitGroup
	spool   *spool
	dlq     *deadLetter
	bulks   sync.Pool

	runCtx    context.Context // cancelled when Close gives up waiting
	cancelRun context.CancelFunc
	closing   chan struct{} // closed when Close starts: no more backoff
	stopping  chan struct{} // closed when Close's grace is over: send nothing more

	lastProgress atomic.Int64 // unix nanoseconds of the last delivery, or of the queue becoming non-empty
	outage       outage       // for the unavailable / available again log lines
	stallWarn    *obs.Limiter

	templates []Template
	setupMu   sync.Mutex
	setupDone atomic.Bool

	lastErr  atomic.Pointer[error] // last delivery failure, nil once a request succeeds
	spoolErr atomic.Pointer[error] // the spool could not take the last bulk, nil when it could
	inflight *atomic.Int64         // documents of segments being sent
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
	warn := obs.NewLimiter(10 * time.Second)
	sp, err := newSpool(spoolConfig{
		dir: cfg.SpoolDir, maxBytes: cfg.SpoolMaxBytes, policy: cfg.SpoolWhenFull, fsync: cfg.SpoolFsync,
		fileCap: cfg.segmentCap(), memCap: int64(cfg.Workers+2) * int64(cfg.MaxBytes) * 2,
	}, logger, warn)
	if err != nil {
		return nil, err
	}
	inflight := new(atomic.Int64)
	runCtx, cancel := context.WithCancel(context.Background())
	o := &Output{
		cfg: cfg, client: client, logger: logger, warn: warn, stallWarn: obs.NewLimiter(time.Minute),
		names: names, now: time.Now,
		seen:   make(map[[16]byte]uint32),
		spool:  sp,
		runCtx: runCtx, cancelRun: cancel, closing: make(chan struct{}), stopping: make(chan struct{}),
		templates: tpls, inflight: inflight,
	}
	o.lastProgress.Store(time.Now().UnixNano())
	m, err := newMetrics(reg, sp.stats, inflight.Load, o.stallState, func() int64 { return o.lastProgress.Load() })
	if err != nil {
		cancel()
		return nil, fmt.Errorf("elasticsearch output metrics: %w", err)
	}
	o.m, sp.m = m, m
	if cfg.SpoolWhenSlow == WhenSlowBackpressure {
		sp.answering = o.answering
	}
	if o.dlq, err = openDeadLetter(cfg.DeadLetterPath, cfg.DeadLetterMaxBytes); err != nil {
		cancel()
		return nil, err
	}
	if err := sp.scan(o.countLost); err != nil {
		cancel()
		return nil, err
	}
	o.cur = o.newBulk()
	o.markRunning()
	if b, d := sp.stats(); d > 0 {
		logger.Info("spool holds documents from an earlier run; replaying them when Elasticsearch answers", "documents", d, "bytes", b)
	}
	for range cfg.Workers {
		o.workers.Add(1)
		go o.worker()
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

// sizedBulk returns an empty bulk for at most n bytes taken from another
// (retries, split halves): not a pooled buffer sized for a full bulk, which
// under a 429 storm with small segments multiplied the heap.
func sizedBulk(n int) *bulk { return &bulk{body: make([]byte, 0, n)} }

func (o *Output) putBulk(b *bulk) {
	if b == nil || cap(b.body) > 2*o.cfg.MaxBytes+64<<10 {
		return
	}
	b.reset()
	o.bulks.Put(b)
}

// Write adds the events of b to the open spool segment: their bulk lines
// are appended to the segment file with one write(2) before Write returns,
// so what Write accepted survives a crash of the process. A full segment
// (bulk.max_docs or bulk.max_bytes) is sealed and queued for the workers.
// Write blocks only when the spool is full under the block policy.
func (o *Output) Write(ctx context.Context, b *event.Batch) error {
	if o.closed {
		return ErrClosed
	}
	clear(o.seen)
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
		o.addDoc(ctx, o.indexName(e, &now), ms, doc)
	}
	o.commit(ctx, false)
	return nil
}

// addDoc adds one document to the open segment with its _id: a digest of
// the document and its time, and for the n-th identical document of the
// same Write (o.seen) the digest with n, so equal events stay apart and a
// resend of the same batch gets the same _ids.
func (o *Output) addDoc(ctx context.Context, index string, ms int64, doc []byte) {
	var id [idLen]byte
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
	o.cur.add(index, id[:], doc)
	if o.cur.len() >= o.cfg.MaxDocs || len(o.cur.body) >= o.cfg.MaxBytes {
		o.commit(ctx, true)
	}
}

// commit writes what cur holds beyond the segment file's end to the
// spool, then seals the segment when seal is set. Documents the spool
// cannot take are removed from cur, counted and logged.
func (o *Output) commit(ctx context.Context, seal bool) {
	if pending := o.cur.body[o.written:]; len(pending) > 0 {
		if o.shutdown {
			// Never wait for room at shutdown.
			c, cancel := context.WithCancel(ctx)
			cancel()
			ctx = c
		}
		items := o.cur.len() - o.writtenItems
		drops, reason, err := o.spool.append(ctx, pending, items)
		for _, d := range drops {
			o.countLost(d.docs, d.reason, "", nil)
		}
		if err != nil {
			o.cur.body = o.cur.body[:o.written]
			o.cur.offs = o.cur.offs[:o.writtenItems]
			o.countLost(items, reason, "", err)
			e := fmt.Errorf("spool (%s) cannot take documents: %w", o.cfg.SpoolDir, err)
			o.spoolErr.Store(&e)
		} else {
			o.written, o.writtenItems = len(o.cur.body), o.cur.len()
			o.spoolErr.Store(nil)
		}
	}
	if seal && o.cur.len() > 0 {
		// A segment sealed small (the flush interval, few events) keeps a
		// copy of its size in memory, not the buffer sized for a full
		// bulk: memory while Elasticsearch lags follows what waits.
		sealed, copied := o.cur, false
		if o.cur.sparse() && o.spool.wouldKeep(int64(len(o.cur.body))) {
			sealed, copied = o.cur.compact(), true
		}
		kept, wasEmpty := o.spool.seal(sealed)
		if wasEmpty {
			o.lastProgress.Store(time.Now().UnixNano())
		}
		if kept && !copied {
			o.cur = o.newBulk()
		} else {
			o.cur.reset()
		}
		o.written, o.writtenItems = 0, 0
	}
}

// countLost counts documents lost for reason and logs it (rate-limited).
func (o *Output) countLost(docs int, reason, file string, err error) {
	if docs < 0 {
		docs = 0
	}
	switch reason {
	case "empty", "too_large", "unreadable":
		o.m.damagedSegments.Inc()
		o.m.damagedDocs.Add(float64(docs))
		if ok, muted := o.warn.Allow("spool_damaged"); ok {
			o.logger.Error("spool segment unusable; the documents its name claims are lost", "file", file, "reason", reason,
				"documents", docs, "err", err, "suppressed", muted)
		}
		return
	}
	o.m.spoolDropped.WithLabelValues(reason).Add(float64(docs))
	if docs == 0 {
		return
	}
	if ok, muted := o.warn.Allow("spool_dropped_" + reason); ok {
		switch {
		case errors.Is(err, errDiskFull) || reason == "disk_full":
			o.logger.Error("disk full: documents dropped", "count", docs, "dir", o.cfg.SpoolDir, "err", err,
				"fix", "free space on the spool's file system", "suppressed", muted)
		case reason == DropOldest || reason == DropNewest:
			o.logger.Error("spool full: documents dropped", "count", docs, "policy", reason, "spool_max_bytes", o.cfg.SpoolMaxBytes,
				"fix", "raise output.elasticsearch.spool.max_bytes or bring Elasticsearch back", "suppressed", muted)
		default:
			o.logger.Error("documents dropped", "count", docs, "reason", reason, "err", err, "suppressed", muted)
		}
	}
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

// Flush seals the open segment once it is older than the flush interval,
// so the workers send it.
func (o *Output) Flush(ctx context.Context) error {
	if o.closed || o.cur.len() == 0 || o.now().Sub(o.cur.first) < o.cfg.FlushInterval {
		return nil
	}
	o.commit(ctx, true)
	return nil
}

// Pending returns the documents buffered, being sent and spooled: zero
// means everything written so far is in Elasticsearch (or dead-lettered).
func (o *Output) Pending() int64 {
	_, spooled := o.spool.stats()
	return int64(o.cur.len()-o.writtenItems) + spooled
}

// worker sends sealed segments, oldest first, backing off while
// Elasticsearch does not take them. After Close started it goes on only
// while deliveries succeed, until the grace is over.
func (o *Output) worker() {
	defer o.workers.Done()
	backoff := o.cfg.InitialBackoff
	for {
		select {
		case <-o.stopping:
			return
		default:
		}
		seg, wait := o.spool.claim()
		if seg == nil {
			if o.isClosing() {
				return
			}
			select {
			case <-wait:
			case <-o.closing:
			}
			continue
		}
		if o.send(seg) {
			backoff = o.cfg.InitialBackoff
			continue
		}
		o.checkStall()
		if o.isClosing() || !o.sleep(backoff) {
			return
		}
		backoff = min(backoff*2, o.cfg.MaxBackoff)
	}
}

// send tries to deliver one claimed segment; it reports whether the
// segment is done (delivered, or unreadable and moved aside). Otherwise
// what is left of it stays in the spool, released for the next attempt.
func (o *Output) send(seg *segment) bool {
	file := filepath.Join(o.cfg.SpoolDir, seg.name)
	b, err := o.spool.load(seg, o.deadDamage)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			o.countLost(seg.docs, "unreadable", file, err)
		}
		return true
	}
	n := b.len()
	if n == 0 {
		_, _ = o.spool.done(seg)
		return true
	}
	o.inflight.Add(int64(n))
	rest, err := o.deliver(b, o.cfg.SpoolAfter)
	o.inflight.Add(-int64(n))
	left := 0
	if rest != nil {
		left = rest.len()
	}
	waited := o.spool.hasWaited(seg)
	if waited {
		o.m.replayed.Add(float64(n - left))
	}
	if left < n {
		o.lastProgress.Store(time.Now().UnixNano())
	}
	if rest == nil {
		body, err := o.spool.done(seg)
		o.logRecovery(waited, n)
		if err != nil {
			if ok, muted := o.warn.Allow("spool_remove"); ok {
				o.logger.Error("removing a delivered spool segment (its documents will be sent again, counted as duplicates)",
					"file", file, "err", err, "suppressed", muted)
			}
		}
		if body != nil && body != b {
			o.putBulk(body)
		}
		o.putBulk(b)
		return true
	}
	// This segment and every one queued behind it now wait for a later
	// attempt: count them as spooled (once).
	newlyWaiting := o.spool.markWaiting()
	o.m.spooled.Add(float64(newlyWaiting))
	if o.outage.failed(time.Now(), int64(newlyWaiting), left == n) {
		// Once per outage; the limit only guards against a flapping cluster.
		if ok, muted := o.warn.Allow("spooling"); ok {
			_, waiting := o.spool.waiting()
			o.logger.Warn("elasticsearch unavailable; documents wait in the spool", "documents_waiting", waiting, "err", err, "suppressed", muted)
		}
	}
	if left < n {
		if err := o.spool.rewrite(seg, rest); err != nil {
			if ok, muted := o.warn.Allow("spool_rewrite"); ok {
				o.logger.Error("rewriting a partly delivered spool segment (kept in memory; after a crash the delivered part is sent again)",
					"file", file, "err", err, "suppressed", muted)
			}
		}
		if seg.body != rest {
			o.putBulk(rest)
		}
		if b != seg.body {
			o.putBulk(b)
		}
	} else if rest != b {
		o.putBulk(rest)
	}
	o.spool.release(seg)
	return false
}

// logRecovery logs the end of an outage at the first whole segment
// delivered after it, and the end of the replay when the spool is empty
// again. waited tells whether the segment's n documents had waited.
func (o *Output) logRecovery(waited bool, n int) {
	var replayed int64
	if waited {
		replayed = int64(n)
	}
	waiting := o.spool.waitedDocs()
	ended, took, spooled, replayDone, replayTook, replayedTotal := o.outage.delivered(time.Now(), replayed, int64(waiting))
	if ended {
		o.logger.Info("elasticsearch available again", "unavailable_for", took.Round(time.Millisecond).String(),
			"documents_spooled", spooled, "documents_waiting", waiting)
	}
	if replayDone {
		o.logger.Info("spool replayed: every document that waited is delivered", "documents_replayed", replayedTotal,
			"took", replayTook.Round(time.Millisecond).String())
	}
}

// deadDamage writes a damaged span of a spool segment to the dead-letter
// file (in pieces of at most maxDeadLetterSpan bytes), counts and logs it.
func (o *Output) deadDamage(seg *segment, body []byte, d damage) {
	file := filepath.Join(o.cfg.SpoolDir, seg.name)
	o.m.damagedDocs.Add(float64(d.docs))
	for off := d.off; off < d.end; off += maxDeadLetterSpan {
		end := min(off+maxDeadLetterSpan, d.end)
		o.deadLetterRaw(body[off:end], "spool_damaged", fmt.Sprintf("spool_damaged: %s at bytes %d-%d of %s", d.reason, off, end, seg.name))
	}
	if ok, muted := o.warn.Allow("spool_damaged"); ok {
		o.logger.Error("damaged spool segment: the damaged part went to the dead-letter file, the rest is replayed",
			"file", file, "reason", d.reason, "documents", d.docs, "bytes", d.end-d.off, "dead_letter", o.cfg.DeadLetterPath, "suppressed", muted)
	}
}

// answerGrace is how long delivery may make no progress and still count
// as a cluster that answers (spool.when_slow: backpressure).
const answerGrace = 5 * time.Second

// answering reports whether Elasticsearch answers and delivery progresses:
// the last request did not fail (setErr) and a segment was delivered
// lately.
func (o *Output) answering() bool {
	return o.lastErr.Load() == nil && time.Since(time.Unix(0, o.lastProgress.Load())) < answerGrace
}

// stallState reports whether delivery made no progress for the stall
// timeout while segments wait, and for how long.
func (o *Output) stallState() (bool, time.Duration) {
	segs, _ := o.spool.waiting()
	now := time.Now()
	if segs == 0 {
		o.lastProgress.Store(now.UnixNano())
		return false, 0
	}
	d := now.Sub(time.Unix(0, o.lastProgress.Load()))
	return d >= o.cfg.StallTimeout, d
}

func (o *Output) checkStall() {
	stalled, d := o.stallState()
	if !stalled {
		return
	}
	if ok, muted := o.stallWarn.Allow("stalled"); ok {
		_, docs := o.spool.waiting()
		var reason any = "unknown"
		if p := o.lastErr.Load(); p != nil {
			reason = *p
		}
		o.logger.Warn("elasticsearch delivery stalled: no progress", "for", d.Round(time.Second), "documents_waiting", docs,
			"reason", reason, "suppressed", muted)
	}
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
	if st := res.StatusCode; st >= 300 {
		return o.refused(b, st, body)
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
		switch classifyItem(it.Status, it.Error) {
		case outcomeIndexed:
			indexed++
		case outcomeDuplicate:
			indexed++
			o.m.duplicates.Inc()
		case outcomeRetry:
			if retry == nil {
				retry = sizedBulk(len(b.body))
			}
			retry.addItem(b.item(i))
			reason = itemRetryLabel(it.Status, it.Error)
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
func (o *Output) split(b *bulk, label string) (*bulk, string, error) {
	h := b.len() / 2
	var rest *bulk
	var lastErr error
	for _, r := range [][2]int{{0, h}, {h, b.len()}} {
		part := sizedBulk(len(b.body))
		for i := r[0]; i < r[1]; i++ {
			part.addItem(b.item(i))
		}
		left, err := o.deliver(part, 0)
		if left != nil {
			if rest == nil {
				rest = sizedBulk(len(b.body))
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
	return rest, label, lastErr
}

// refused handles a bulk request Elasticsearch answered with an error
// status as a whole. Conditions of the cluster (429, 408, 5xx other than
// parse errors, 401/403, cluster blocks) are retried and then spooled,
// never dead-lettered. A refusal of the content (other 4xx, a parse error
// in a 5xx, 413) is split in halves until the documents it is about are
// alone; those are dead-lettered and the others delivered, so one bad
// document cannot hold up the rest.
func (o *Output) refused(b *bulk, st int, body []byte) (retry *bulk, reason string, err error) {
	typ := responseErrorType(body)
	err = fmt.Errorf("bulk request: HTTP %d: %s", st, trim(body))
	switch {
	case typ == "cluster_block_exception":
		o.m.requests.WithLabelValues("retriable").Inc()
		o.setErr(err)
		return b, "cluster_block", err
	case retriableStatus(st) || st == http.StatusRequestTimeout:
		o.m.requests.WithLabelValues("retriable").Inc()
		return b, statusLabel(st), err
	case st == http.StatusUnauthorized || st == http.StatusForbidden || (st >= 500 && !parseErrorType(typ)):
		o.m.requests.WithLabelValues("failed").Inc()
		if st < 500 {
			err = fmt.Errorf("%w %s", err, credentialsHint)
		}
		o.setErr(err)
		return nil, "", err
	}
	o.m.requests.WithLabelValues("failed").Inc()
	if b.len() > 1 {
		if st == http.StatusRequestEntityTooLarge {
			if ok, muted := o.warn.Allow("too_large"); ok {
				o.logger.Warn("bulk request too large for the cluster; splitting it (lower output.elasticsearch.bulk.max_bytes)",
					"bytes", len(b.body), "suppressed", muted)
			}
			return o.split(b, "413")
		}
		if ok, muted := o.warn.Allow("content_refused"); ok {
			o.logger.Warn("elasticsearch refused a bulk request for its content; splitting it to isolate the bad documents",
				"status", st, "error_type", typ, "documents", b.len(), "suppressed", muted)
		}
		return o.split(b, "content")
	}
	if typ == "" {
		typ = "request_refused"
	}
	o.m.itemFailures.WithLabelValues(o.m.reason(typ)).Inc()
	o.deadLetter(b.item(0), st, typ, "bulk request refused: "+err.Error())
	return nil, "", nil
}

// deadLetterRaw writes bytes that are not an item (damage found in the
// spool) to the dead-letter file.
func (o *Output) deadLetterRaw(raw []byte, typ, reason string) {
	if err := o.dlq.write(o.now(), "", "", 0, reason, raw); err != nil {
		o.m.deadLetterLost.Inc()
		if ok, muted := o.warn.Allow("dead_letter_lost"); ok {
			o.logger.Error("damaged spool bytes not written to the dead-letter file", "reason", reason, "bytes", len(raw),
				"err", err, "suppressed", muted)
		}
		return
	}
	// Not counted in dead_letter_documents_total: the documents of a
	// damaged span are counted in spool_damaged_documents_total.
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

// Ready reports an error when the output cannot take documents (the
// spool is full under the block policy, or the disk is) or when delivery
// is stalled: segments wait and nothing was delivered for
// spool.stall_timeout. An unreachable cluster alone is not an error here:
// documents are spooled, and Status says so (a readiness probe that failed
// then would make an orchestrator stop sending, and the data would be lost
// instead).
func (o *Output) Ready() error {
	if p := o.spoolErr.Load(); p != nil {
		return *p
	}
	if stalled, d := o.stallState(); stalled {
		_, docs := o.spool.waiting()
		reason := "no answer yet"
		if p := o.lastErr.Load(); p != nil {
			reason = (*p).Error()
		}
		return fmt.Errorf("delivery stalled: nothing delivered for %s, %d documents waiting in the spool: %s", d.Round(time.Second), docs, reason)
	}
	return nil
}

// Status describes a delivery problem for /readyz: the last failure and
// what waits in the spool; "" while everything is delivered.
func (o *Output) Status() string {
	_, d := o.spool.waiting()
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

// Close seals the open segment (fsynced unless spool.fsync is never) and
// lets the workers go on sending while deliveries succeed, for closeWait
// (bounded by ctx); then in-flight requests are cancelled. What is not
// delivered stays in the spool for the next start.
func (o *Output) Close(ctx context.Context) error {
	if o.closed {
		return nil
	}
	// Seal before the workers learn of the close: one that finds nothing
	// to send after it returns.
	o.shutdown = true
	o.commit(ctx, true)
	o.closed = true
	close(o.closing)
	done := make(chan struct{})
	go func() {
		o.workers.Wait()
		close(done)
	}()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	close(o.stopping)
	o.cancelRun()
	<-done
	o.spool.close()
	o.m.spooled.Add(float64(o.spool.markWaiting()))
	if b, d := o.spool.stats(); d > 0 {
		o.logger.Warn("documents left in the spool; they are replayed at the next start", "documents", d, "bytes", b, "dir", o.cfg.SpoolDir)
	}
	o.clearRunning()
	return o.dlq.close()
}
