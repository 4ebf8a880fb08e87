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
	for sc.Healthy(time.Now()) != nil || !ticked(sc) {
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

// ticked reports whether a tick has completed: Healthy far past the start
// fails with "last tick" once one did.
func ticked(sc *scheduler.Scheduler) bool {
	err := sc.Healthy(time.Now().Add(time.Hour))
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
