package scheduler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
)

func TestNewRefusesBadSettings(t *testing.T) {
	s := storagetest.NewStore(t)
	cal := storagetest.Calendar(t)
	for name, c := range map[string]struct {
		mod  func(*scheduler.Options)
		want string
	}{
		"no calendar":    {func(o *scheduler.Options) { o.Calendar = nil }, "Calendar"},
		"bad cron":       {func(o *scheduler.Options) { o.DigestCron = "30 8 * *" }, "scheduler.digest_cron"},
		"zero reminder":  {func(o *scheduler.Options) { o.Reminders.BeforeDue = []hotlinebot.Span{{}} }, "提醒时间"},
		"empty step":     {func(o *scheduler.Options) { o.Escalation = []scheduler.Step{{After: hotlinebot.Workdays(1)}} }, "没有 notify"},
		"unknown target": {func(o *scheduler.Options) { o.Escalation[1].Notify = []hotlinebot.Audience{"mayor"} }, `"mayor"`},
	} {
		o := standardOptions(cal)
		c.mod(&o)
		_, err := scheduler.New(s, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %s", name, err, c.want)
		}
	}
	if _, err := scheduler.New(s, standardOptions(cal)); err != nil {
		t.Errorf("the contract's example settings: %v", err)
	}
}

// Run ticks until its context ends; Healthy says whether ticks keep completing.
func TestRunTicksAndHealthy(t *testing.T) {
	s := storagetest.NewStore(t)
	o := standardOptions(storagetest.Calendar(t))
	o.Tick = 20 * time.Millisecond
	sc := newScheduler(t, s, o)
	if err := sc.Healthy(time.Now()); err == nil {
		t.Error("Healthy before Run = nil, want an error")
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for sc.Healthy(time.Now()) != nil || !ticked(sc, time.Now()) {
		if time.Now().After(deadline) {
			t.Fatalf("no healthy tick within 10s: %v", sc.Healthy(time.Now()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Three intervals without a completed tick: not ready.
	if err := sc.Healthy(time.Now().Add(time.Minute)); err == nil || !strings.Contains(err.Error(), "no tick completed") {
		t.Errorf("Healthy a minute on = %v, want no tick completed", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil when its context ends", err)
	}
	if err := sc.Healthy(time.Now()); err == nil {
		t.Error("Healthy after Run ended = nil")
	}
}

// Ready goes by the scheduler's clock: ticks that completed within three
// intervals keep it ready; past three, it is not.
func TestHealthyAllowsThreeIntervals(t *testing.T) {
	s := storagetest.NewStore(t)
	o := standardOptions(storagetest.Calendar(t))
	o.Tick = 20 * time.Millisecond
	last := at(2026, 12, 2, 9, 0)
	o.Clock = func() time.Time { return last } // every tick completes "at" 09:00
	sc := newScheduler(t, s, o)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for !ticked(sc, last) {
		if time.Now().After(deadline) {
			t.Fatal("no tick within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := sc.Healthy(last.Add(3 * o.Tick)); err != nil {
		t.Errorf("three intervals after the last tick: %v, want ready", err)
	}
	if err := sc.Healthy(last.Add(3*o.Tick + time.Millisecond)); err == nil {
		t.Error("past three intervals after the last tick: ready, want not")
	}
}

// ticked reports whether a tick has completed: Healthy far past the start
// fails with "last tick" once one did.
func ticked(sc *scheduler.Scheduler, now time.Time) bool {
	err := sc.Healthy(now.Add(time.Hour))
	return err != nil && strings.Contains(err.Error(), "last tick")
}

func TestJobsRecoverFromPanicsAndTimeOut(t *testing.T) {
	s := storagetest.NewStore(t)
	o := standardOptions(storagetest.Calendar(t))
	o.JobTimeout = 50 * time.Millisecond
	sc := newScheduler(t, s, o)
	err := sc.RunJob(bg, func(context.Context) error { panic("bad ticket") })
	if err == nil || !strings.Contains(err.Error(), "panic: bad ticket") {
		t.Errorf("panicking job = %v", err)
	}
	err = sc.RunJob(bg, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("job past its timeout = %v, want DeadlineExceeded", err)
	}
	// The loop goes on: the next tick works.
	if err := sc.Tick(bg, time.Now()); err != nil {
		t.Errorf("tick after a panicking job: %v", err)
	}
}

// A replica that starts after the digest's cron moment (a restart at 08:30)
// sends the morning's digest, once, however many replicas start.
func TestRunCatchesUpAMissedDigest(t *testing.T) {
	s := storagetest.NewStore(t)
	newDistrict(t, s)
	nine := at(2026, 12, 2, 9, 0)
	// run starts a replica and stops it after its second tick: the loop
	// checks the digest between the two.
	run := func(catchUp time.Duration) {
		reg := prometheus.NewRegistry()
		o := standardOptions(storagetest.Calendar(t))
		o.Tick = 20 * time.Millisecond
		o.Clock = func() time.Time { return nine }
		o.DigestCatchUp = catchUp
		o.Registerer = reg
		sc := newScheduler(t, s, o)
		ctx, cancel := context.WithCancel(bg)
		done := make(chan error, 1)
		go func() { done <- sc.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for gathered(t, reg)["hotlinebot_scheduler_ticks_total"] < 2 {
			if time.Now().After(deadline) {
				t.Fatal("Run did not tick twice within 10s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	digests := func() int {
		var n int
		if err := s.DB().GetContext(bg, &n, `SELECT count(*) FROM outbox WHERE kind = 'digest' AND digest_date = '2026-12-02'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	run(-1)
	if n := digests(); n != 0 {
		t.Fatalf("catch-up switched off, yet %d digests", n)
	}
	run(time.Hour) // 08:30 is within the hour
	run(time.Hour) // a second replica
	if n := digests(); n != 3 {
		t.Errorf("%d digests after two late starts, want one for each of 赵主任, 钱办事员, 孙区长", n)
	}
}

func TestTickMetrics(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	reg := prometheus.NewRegistry()
	o := standardOptions(storagetest.Calendar(t))
	o.Registerer = reg
	sc := newScheduler(t, s, o)
	tk := d.create(t, "M-1", "longshan", at(2026, 11, 2, 10, 0))
	for _, now := range []time.Time{at(2026, 11, 2, 10, 0), tk.SignDueAt.Add(-time.Hour)} {
		if err := sc.Tick(bg, now); err != nil {
			t.Fatal(err)
		}
	}
	got := gathered(t, reg)
	if got["hotlinebot_scheduler_ticks_total"] != 2 || got["hotlinebot_scheduler_tick_duration_seconds"] != 2 ||
		got["hotlinebot_scheduler_pushes_queued_total"] != 2 { // the 签收 reminder to 张三 and 李四
		t.Errorf("metrics = %v", got)
	}
}

// gathered sums each metric of reg over its labels (histograms: their counts).
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return got
}
