package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
)

// Options configure a Scheduler. Calendar is required; the rest have defaults.
type Options struct {
	// Clock tells the time; nil means time.Now. Tests and the sandbox pass their own.
	Clock  func() time.Time
	Logger *slog.Logger // nil: slog.Default()
	// Tick is how often Run looks for due reminders and escalations
	// (scheduler.tick, default 30s).
	Tick time.Duration
	// DigestCron is when Run sends the daily digest, a standard five-field
	// cron spec in Location (scheduler.digest_cron, default "30 8 * * *").
	DigestCron string
	// Location is the district's time zone (calendar.timezone); nil means
	// the calendar's.
	Location  *time.Location
	Calendar  hotlinebot.Calendar
	Reminders Reminders
	// Escalation are the [[escalation]] steps, in order.
	Escalation []Step
	// JobTimeout bounds one job (a tick's planning, a tick's firing, one
	// digest run); default 1 minute.
	JobTimeout time.Duration
	// Batch is how many tickets one firing transaction holds (default 50;
	// planning takes four times as many). It bounds how long a handler's
	// 办结 may wait for the scheduler: well within WeChat's 5 seconds. Each
	// ticket fired takes a savepoint: keep it at 64 or less, the
	// subtransactions PostgreSQL keeps track of per transaction without
	// slowing every other session's snapshots.
	Batch int
	// DigestCatchUp is how long after its cron moment a replica that was
	// not running then (a restart at 08:30) still sends the day's digest;
	// 0 means 4 hours, negative never.
	DigestCatchUp time.Duration
	// Registerer receives the scheduler's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Reminders are the [reminders] settings: offsets before the 签收 and the 办理
// deadlines, in natural time or working days.
type Reminders struct {
	BeforeSign []hotlinebot.Span
	BeforeDue  []hotlinebot.Span
}

// Step is one [[escalation]] step: After the 办理 deadline, Notify these.
type Step struct {
	After  hotlinebot.Span
	Notify []hotlinebot.Audience
}

// DefaultEscalation is CONTRACT.md's example chain, used when the config has
// no [[escalation]] steps.
func DefaultEscalation() []Step {
	return []Step{
		{After: hotlinebot.Span{}, Notify: []hotlinebot.Audience{hotlinebot.AudienceAssignee, hotlinebot.AudienceDepartmentLeaders}},
		{After: hotlinebot.Workdays(1), Notify: []hotlinebot.Audience{hotlinebot.AudienceOffice}},
		{After: hotlinebot.Workdays(3), Notify: []hotlinebot.Audience{hotlinebot.AudienceDistrictLeaders}},
	}
}

// DefaultReminders are CONTRACT.md's [reminders] defaults.
func DefaultReminders() Reminders {
	return Reminders{
		BeforeSign: []hotlinebot.Span{{Duration: 2 * time.Hour}},
		BeforeDue:  []hotlinebot.Span{hotlinebot.Workdays(1), {Duration: 2 * time.Hour}},
	}
}

// Scheduler is the background work of `serve` besides sending: the tick that
// turns deadlines into reminders and escalations, and the daily digest.
// Every replica runs one; PostgreSQL makes sure each thing happens once.
type Scheduler struct {
	store    *storage.Store
	opts     Options
	log      *slog.Logger
	digest   cron.Schedule
	settings string // fingerprint of the reminder and escalation settings

	running  atomic.Bool
	started  atomic.Int64 // unix nanoseconds when Run began
	lastTick atomic.Int64 // unix nanoseconds when the last tick completed
	tickMu   sync.Mutex   // one tick at a time per process

	digestDone atomic.Value // string: the last day ("2006-01-02") this process saw the digest done

	ticks    *prometheus.CounterVec
	duration prometheus.Histogram
	queued   prometheus.Counter
	failed   prometheus.Counter
}

// New checks opts and returns a Scheduler over store.
func New(store *storage.Store, opts Options) (*Scheduler, error) {
	if store == nil {
		return nil, errors.New("scheduler: no store")
	}
	if opts.Calendar == nil {
		return nil, errors.New("scheduler: Options.Calendar is required")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Tick <= 0 {
		opts.Tick = 30 * time.Second
	}
	if opts.DigestCron == "" {
		opts.DigestCron = "30 8 * * *"
	}
	if opts.Location == nil {
		opts.Location = opts.Calendar.Location()
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = time.Minute
	}
	if opts.Batch <= 0 {
		opts.Batch = 50
	}
	if opts.DigestCatchUp == 0 {
		opts.DigestCatchUp = 4 * time.Hour
	}
	sched, err := cron.ParseStandard(opts.DigestCron)
	if err != nil {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "scheduler.digest_cron %q 无效：%v", opts.DigestCron, err)
	}
	for _, sp := range append(append([]hotlinebot.Span(nil), opts.Reminders.BeforeSign...), opts.Reminders.BeforeDue...) {
		if sp.IsZero() || sp.Duration < 0 || sp.Workdays < 0 {
			return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "提醒时间 %q 无效：应为正的时长，如 2h 或 1wd", sp.String())
		}
	}
	for i, st := range opts.Escalation {
		if st.After.Duration < 0 || st.After.Workdays < 0 {
			return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "第 %d 级督办（escalation）的 after %q 不能为负", i+1, st.After.String())
		}
		if len(st.Notify) == 0 {
			return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "第 %d 级督办（escalation）没有 notify", i+1)
		}
		for _, a := range st.Notify {
			if !validEscalationAudience(a) {
				return nil, hotlinebot.Errorf(hotlinebot.EINVALID,
					"第 %d 级督办（escalation）的 notify %q 无效：应为 assignee、department_handlers、department_leaders、office 或 district_leaders", i+1, a)
			}
		}
	}
	sc := &Scheduler{
		store:    store,
		opts:     opts,
		log:      opts.Logger.With("component", "scheduler"),
		digest:   sched,
		settings: fingerprint(opts),
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotlinebot_scheduler_ticks_total",
			Help: "Scheduler ticks, by result (ok, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hotlinebot_scheduler_tick_duration_seconds",
			Help:    "How long a scheduler tick took.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 8),
		}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotlinebot_scheduler_pushes_queued_total",
			Help: "Reminder, overdue and escalation pushes the scheduler queued.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotlinebot_scheduler_ticket_failures_total",
			Help: "Tickets whose alarms could not be planned or fired in a tick (logged with the ticket's id; tried again the next tick).",
		}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{sc.ticks, sc.duration, sc.queued, sc.failed} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("scheduler: register metrics: %w", err)
			}
		}
	}
	return sc, nil
}

func validEscalationAudience(a hotlinebot.Audience) bool {
	for _, b := range hotlinebot.EscalationAudiences {
		if a == b {
			return true
		}
	}
	return false
}

// fingerprint names the settings the alarms are planned from: when they
// change (a new config), every open ticket is planned again.
func fingerprint(o Options) string {
	var b strings.Builder
	b.WriteString("v1;sign=")
	for _, sp := range o.Reminders.BeforeSign {
		b.WriteString(sp.String() + ",")
	}
	b.WriteString(";due=")
	for _, sp := range o.Reminders.BeforeDue {
		b.WriteString(sp.String() + ",")
	}
	b.WriteString(";esc=")
	for _, st := range o.Escalation {
		b.WriteString(st.After.String() + ":")
		for _, a := range st.Notify {
			b.WriteString(string(a) + "+")
		}
		b.WriteString(",")
	}
	return b.String()
}

// Run ticks every Options.Tick and sends the digest at Options.DigestCron
// until ctx is done. It returns nil when ctx ends it.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("scheduler: already running")
	}
	defer s.running.Store(false)
	s.started.Store(s.opts.Clock().UnixNano())

	c := cron.New(
		cron.WithLocation(s.opts.Location),
		cron.WithChain(cron.Recover(cronLogger{s.log})),
	)
	c.Schedule(s.digest, cron.FuncJob(func() {
		if err := s.digestJob(ctx, s.opts.Clock()); err != nil {
			s.log.Error("daily digest failed", "err", err)
		}
	}))
	// Housekeeping at 03:00: WeChat retries a callback within seconds, so
	// the inbound dedupe rows are kept a week; expired cache rows go.
	if _, err := c.AddFunc("0 3 * * *", func() {
		if err := s.Housekeeping(ctx, s.opts.Clock()); err != nil {
			s.log.Error("housekeeping failed", "err", err)
		}
	}); err != nil {
		return fmt.Errorf("scheduler: housekeeping job: %w", err)
	}
	c.Start()
	defer func() { <-c.Stop().Done() }()

	s.log.Info("scheduler started", "tick", s.opts.Tick, "digest_cron", s.opts.DigestCron, "location", s.opts.Location.String())
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		now := s.opts.Clock()
		if err := s.Tick(ctx, now); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler tick failed", "err", err)
		}
		if err := s.catchUpDigest(ctx, now); err != nil && ctx.Err() == nil {
			s.log.Error("daily digest catch-up failed", "err", err)
		}
		select {
		case <-ctx.Done():
			s.log.Info("scheduler stopped")
			return nil
		case <-t.C:
		}
	}
}

// Healthy reports whether the scheduler keeps ticking: an error when Run is
// not running, or no tick has completed in three intervals (counted from the
// start while none has). cmd adds it to /readyz.
func (s *Scheduler) Healthy(now time.Time) error {
	if !s.running.Load() {
		return errors.New("scheduler: not running")
	}
	last := s.lastTick.Load()
	since := "start"
	if last == 0 {
		last = s.started.Load()
	} else {
		since = "last tick"
	}
	if d := now.Sub(time.Unix(0, last)); d > 3*s.opts.Tick {
		return fmt.Errorf("scheduler: no tick completed for %s (since %s; tick %s)", d.Round(time.Second), since, s.opts.Tick)
	}
	return nil
}

// job runs fn under JobTimeout, turning a panic into an error so one bad
// ticket cannot stop the loop.
func (s *Scheduler) job(ctx context.Context, name string, fn func(ctx context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.JobTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("scheduler job panicked", "job", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("scheduler: %s: panic: %v", name, r)
		}
	}()
	if err := fn(ctx); err != nil {
		return fmt.Errorf("scheduler: %s: %w", name, err)
	}
	return nil
}

// cronLogger gives cron.Recover our structured logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}

// Housekeeping prunes what only matters for a while: inbound dedupe rows
// older than a week and expired key/value rows. Every replica may run it;
// deleting twice is harmless.
func (s *Scheduler) Housekeeping(ctx context.Context, now time.Time) error {
	return s.job(ctx, "housekeeping", func(ctx context.Context) error {
		inbound, err := s.store.PruneInbound(ctx, now.Add(-7*24*time.Hour))
		if err != nil {
			return err
		}
		kv, err := s.store.PurgeKV(ctx, now)
		if err != nil {
			return err
		}
		s.log.Info("housekeeping done", "inbound_pruned", inbound, "kv_purged", kv)
		return nil
	})
}
