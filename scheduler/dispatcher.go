package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// Sender sends one push as a WeChat template message, with p.OutboxID as its
// client_msg_id, and returns WeChat's msgid. A failure is a
// *hotlinebot.PushError saying whether to retry (transient), give up
// (permanent), pause (quota) or resend only within the client_msg_id window
// (cut_off); any other error counts as transient. The sender refreshes the
// access token and retries once on 40001/42001 itself.
type Sender interface {
	Send(ctx context.Context, p hotlinebot.Push) (msgID int64, err error)
}

// DispatcherOptions configure a Dispatcher. Zero fields take the defaults.
type DispatcherOptions struct {
	Clock  func() time.Time // time.Now
	Logger *slog.Logger     // slog.Default()
	Batch  int              // pushes claimed at a time: 10
	Poll   time.Duration    // how often to look without being woken: 3s
	// Registerer receives the dispatcher's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Backoff is the wait after the nth failed attempt (the last repeats):
	// 10s, 30s, 1m, 5m, 15m, 30m, 1h.
	Backoff []time.Duration
	// GiveUp is how long a push failing transiently is retried, counted
	// along the backoff from its first attempt (or from the office's
	// `outbox retry`), before it is given up as dead and the office is
	// told: 24h.
	GiveUp time.Duration
	// SendTimeout bounds one Send: 30s.
	SendTimeout time.Duration
	// QuotaPause says until when sending stops after WeChat's 45009 (daily
	// quota reached): the next full hour.
	QuotaPause func(now time.Time) time.Time
}

var defaultBackoff = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour,
}

// leaseMargin: a claimed push not sent this close to the end of its lease is
// given back rather than sent, since another dispatcher may claim it then.
const leaseMargin = 30 * time.Second

// Dispatcher sends the outbox's pushes. Run it in every replica.
type Dispatcher struct {
	store  *storage.Store
	sender Sender
	opts   DispatcherOptions
	log    *slog.Logger
	wake   chan struct{}

	mu          sync.Mutex
	pausedUntil time.Time

	sent   *prometheus.CounterVec
	failed *prometheus.CounterVec
}

// NewDispatcher makes a dispatcher sending store's pushes through sender and
// registers its metrics: hotlinebot_pushes_sent_total{kind},
// hotlinebot_pushes_failed_total{kind,failure} and, read from the database
// at each scrape, hotlinebot_outbox_pushes{status} for the rows not sent
// (pending, sending, dead, uncertain).
func NewDispatcher(store *storage.Store, sender Sender, opts DispatcherOptions) (*Dispatcher, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Batch <= 0 {
		opts.Batch = 10
	}
	if opts.Poll <= 0 {
		opts.Poll = 3 * time.Second
	}
	if len(opts.Backoff) == 0 {
		opts.Backoff = defaultBackoff
	}
	if opts.GiveUp <= 0 {
		opts.GiveUp = 24 * time.Hour
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 30 * time.Second
	}
	if opts.QuotaPause == nil {
		opts.QuotaPause = func(now time.Time) time.Time { return now.Truncate(time.Hour).Add(time.Hour) }
	}
	d := &Dispatcher{
		store:  store,
		sender: sender,
		opts:   opts,
		log:    opts.Logger.With("component", "dispatcher"),
		wake:   make(chan struct{}, 1),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotlinebot_pushes_sent_total",
			Help: "Pushes WeChat accepted, by kind.",
		}, []string{"kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotlinebot_pushes_failed_total",
			Help: "Failed push attempts, by kind and failure (transient, permanent, quota, cut_off, gave_up).",
		}, []string{"kind", "failure"}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{d.sent, d.failed, outboxCollector{d}} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("scheduler: register dispatcher metrics: %w", err)
			}
		}
	}
	return d, nil
}

// Wake asks the dispatcher to look for pushes now; it never blocks, and
// wakes that come while it is busy fold into one. Wire Store's
// Options.OutboxAdded to it.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends pushes until ctx is done: whenever woken, every Poll regardless,
// and at once again while full batches keep coming.
func (d *Dispatcher) Run(ctx context.Context) error {
	ticker := time.NewTicker(d.opts.Poll)
	defer ticker.Stop()
	for {
		n, err := d.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.log.Error("outbox round failed", "err", err)
		} else if n >= d.opts.Batch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-ticker.C:
		}
	}
}

// RunOnce claims one batch of due pushes and sends them; it returns how many
// it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	now := d.opts.Clock()
	if d.paused(now) {
		return 0, nil
	}
	pushes, err := d.store.ClaimPushes(ctx, now, d.opts.Batch)
	if err != nil {
		return 0, err
	}
	leaseEnd := now.Add(storage.PushLease - leaseMargin)
	for i, p := range pushes {
		t := d.opts.Clock()
		if ctx.Err() != nil || d.paused(t) || t.After(leaseEnd) {
			// Not attempted: give the rest back, due as soon as sending may resume.
			d.mu.Lock()
			next := maxTime(t, d.pausedUntil)
			d.mu.Unlock()
			for _, q := range pushes[i:] {
				if err := d.store.ReleasePush(context.WithoutCancel(ctx), q.OutboxID, q.Attempt, next); err != nil {
					d.log.Error("give back push", "outbox_id", q.OutboxID, "err", err)
				}
			}
			break
		}
		d.dispatch(ctx, p)
	}
	return len(pushes), nil
}

func (d *Dispatcher) paused(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return now.Before(d.pausedUntil)
}

// dispatch sends p and records the outcome.
func (d *Dispatcher) dispatch(ctx context.Context, p hotlinebot.Push) {
	msgID, err := d.send(ctx, p)
	// The outcome is recorded even when ctx ends meanwhile: the send happened.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := d.opts.Clock()
	log := d.log.With("outbox_id", p.OutboxID, "kind", p.Kind, "person_id", p.PersonID, "attempt", p.Attempt)
	if err == nil {
		d.sent.WithLabelValues(string(p.Kind)).Inc()
		if err := d.store.MarkSent(mctx, p.OutboxID, msgID, now); err != nil {
			log.Error("push sent but not recorded", "msg_id", msgID, "err", err)
			return
		}
		log.Info("push sent", "msg_id", msgID)
		return
	}
	var pe *hotlinebot.PushError
	if !errors.As(err, &pe) {
		pe = &hotlinebot.PushError{Failure: hotlinebot.PushTransient, Message: err.Error()}
	}
	text := redact(pe.Error())
	failure := string(pe.Failure)
	var rerr error
	switch pe.Failure {
	case hotlinebot.PushPermanent:
		reason := storage.DeadRejected
		switch pe.ErrCode {
		case 43004, 40003:
			reason = storage.DeadUserGone
		case 43101:
			reason = storage.DeadBlocked
		}
		log.Warn("push failed for good; telling the office", "errcode", pe.ErrCode, "err", text)
		rerr = d.store.MarkDead(mctx, p.OutboxID, reason, text, now)
	case hotlinebot.PushQuota:
		until := d.opts.QuotaPause(now)
		d.mu.Lock()
		d.pausedUntil = maxTime(d.pausedUntil, until)
		d.mu.Unlock()
		log.Warn("WeChat quota reached; pausing all pushes", "until", until, "err", text)
		if err := d.store.PauseOutbox(mctx, until, text); err != nil {
			log.Error("pause outbox for the other replicas", "err", err)
		}
		rerr = d.store.MarkRetry(mctx, p.OutboxID, p.Attempt, until, text)
	case hotlinebot.PushCutOff:
		var st storage.PushStatus
		st, rerr = d.store.MarkCutOff(mctx, p.OutboxID, p.Attempt, now.Add(d.backoff(p.Attempt)), text)
		if st == storage.PushUncertain {
			log.Warn("push cut off past the client_msg_id window; not resent, marked uncertain", "err", text)
		} else {
			log.Warn("push cut off; resending with the same client_msg_id", "err", text)
		}
	default:
		failure = string(hotlinebot.PushTransient)
		if d.retried(p.Attempt) >= d.opts.GiveUp {
			failure = "gave_up"
			log.Warn("push failing for a day; giving up", "err", text)
			rerr = d.store.MarkDead(mctx, p.OutboxID, storage.DeadGaveUp, text, now)
		} else {
			next := now.Add(d.backoff(p.Attempt))
			log.Info("push failed; will retry", "next_attempt_at", next, "err", text)
			rerr = d.store.MarkRetry(mctx, p.OutboxID, p.Attempt, next, text)
		}
	}
	d.failed.WithLabelValues(string(p.Kind), failure).Inc()
	if rerr != nil {
		log.Error("record push failure", "err", rerr)
	}
}

// send calls the sender with a timeout. A panic is recovered and counted as
// a cut-off send: it may have struck after the request went out, so the push
// is resent only within the client_msg_id window.
func (d *Dispatcher) send(ctx context.Context, p hotlinebot.Push) (msgID int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.SendTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("sender panicked", "outbox_id", p.OutboxID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			msgID, err = 0, &hotlinebot.PushError{Failure: hotlinebot.PushCutOff, Message: fmt.Sprintf("sender panicked: %v", r)}
		}
	}()
	return d.sender.Send(ctx, p)
}

// backoff is the wait after the attempt-th attempt failed.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	i := attempt - 1
	if i < 0 {
		i = 0
	}
	if i >= len(d.opts.Backoff) {
		i = len(d.opts.Backoff) - 1
	}
	return d.opts.Backoff[i]
}

// retried is how long the backoff has waited before the attempt-th attempt.
func (d *Dispatcher) retried(attempt int) time.Duration {
	var total time.Duration
	for i := 1; i < attempt; i++ {
		total += d.backoff(i)
	}
	return total
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// The SDK's errors carry request URLs with the AppSecret or the access token.
var secretParam = regexp.MustCompile(`(?i)(secret|access_token)=[^&\s"']*`)

func redact(s string) string { return secretParam.ReplaceAllString(s, "$1=REDACTED") }

// outboxCollector reports the outbox's rows by status at scrape time.
type outboxCollector struct{ d *Dispatcher }

var outboxDesc = prometheus.NewDesc("hotlinebot_outbox_pushes",
	"Outbox rows not sent, by status (pending, sending, dead, uncertain); dead and uncertain rows need the office (hotlinebot outbox list).",
	[]string{"status"}, nil)

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- outboxDesc }

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	counts, err := c.d.store.OutboxCounts(ctx)
	if err != nil {
		// Leave the gauge out rather than fail the whole scrape.
		c.d.log.Warn("outbox metrics: count rows", "err", err)
		return
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n), st)
	}
}
