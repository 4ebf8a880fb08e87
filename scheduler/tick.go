package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// Tick does what is due at now: it plans the alarms of tickets whose
// deadlines changed since the last tick, then fires the alarms that are due
// (reminders, the missed 签收 deadline, the first crossing of the 办理
// deadline, escalation steps), queueing their pushes in the outbox. Run calls
// it every Options.Tick with the clock's time; tests call it with any now.
// Several schedulers may tick at once against one database: each alarm fires
// once.
func (s *Scheduler) Tick(ctx context.Context, now time.Time) error {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	began := time.Now() // for the duration metric only; what is due goes by now
	planErr := s.job(ctx, "plan alarms", func(ctx context.Context) error { return s.planAll(ctx, now) })
	fireErr := s.job(ctx, "fire alarms", func(ctx context.Context) error { return s.fireAll(ctx, now) })
	s.duration.Observe(time.Since(began).Seconds())
	if err := errors.Join(planErr, fireErr); err != nil {
		s.ticks.WithLabelValues("error").Inc()
		return err
	}
	s.ticks.WithLabelValues("ok").Inc()
	s.lastTick.Store(s.opts.Clock().UnixNano())
	return nil
}

// planAll plans batch after batch, in ticket id order, until no ticket
// waits: each batch starts after the last ticket of the one before.
func (s *Scheduler) planAll(ctx context.Context, now time.Time) error {
	var after int64
	for {
		res, err := s.store.PlanAlarms(ctx, s.settings, now, after, 4*s.opts.Batch, s.plan)
		if err != nil {
			return err
		}
		s.failed.Add(float64(res.Failed))
		if !res.More {
			return nil
		}
		after = res.Last
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// fireAll fires batch after batch, in ticket id order, until nothing is
// due: each ticket once per tick, so a ticket whose alarms fail (logged by
// the store, rolled back, tried again next tick) delays only itself.
func (s *Scheduler) fireAll(ctx context.Context, now time.Time) error {
	var after int64
	for {
		res, err := s.store.FireAlarms(ctx, now, after, s.opts.Batch, func(tx *storage.AlarmTx, due storage.DueTicket) ([]storage.AlarmOutcome, error) {
			return s.fire(tx, due, now)
		})
		if err != nil {
			return err
		}
		s.queued.Add(float64(res.Queued))
		s.failed.Add(float64(res.Failed))
		if res.Alarms > 0 || res.Failed > 0 {
			s.log.Info("alarms fired", "tickets", res.Tickets, "alarms", res.Alarms, "pushes", res.Queued, "failed", res.Failed)
		}
		if !res.More {
			return nil
		}
		after = res.Last
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// plan computes a ticket's alarms from its deadlines. It is pure: what may
// fire is decided when the moment comes (fire), from the ticket as it is then.
func (s *Scheduler) plan(t hotlinebot.Ticket) []storage.Alarm {
	var out []storage.Alarm
	out = append(out, s.planReminders(t)...)
	out = append(out, s.planEscalation(t)...)
	return out
}

// fire decides, for a locked ticket, what each of its due alarms does, and
// does it through tx. Alarms come oldest first.
func (s *Scheduler) fire(tx *storage.AlarmTx, due storage.DueTicket, now time.Time) ([]storage.AlarmOutcome, error) {
	outcomes := make([]storage.AlarmOutcome, len(due.Alarms))
	applies := make([]bool, len(due.Alarms))
	for i, a := range due.Alarms {
		applies[i] = s.applies(due.Ticket, a, now)
	}
	latest := latestReminders(due.Alarms, applies)
	for i, a := range due.Alarms {
		if !applies[i] {
			outcomes[i] = storage.AlarmVoid
			continue
		}
		var err error
		switch a.Stage {
		case storage.StageSign, storage.StageDue:
			if latest[a.Stage] != i {
				outcomes[i] = storage.AlarmSkipped
				continue
			}
			err = s.remind(tx, due, a)
		case storage.StageSignMissed:
			err = s.signMissed(tx, due, a)
		case storage.StageOverdue:
			err = s.overdue(tx, due, a)
		case storage.StageEscalate:
			err = s.escalate(tx, due, a)
		}
		if err != nil {
			return nil, err
		}
		outcomes[i] = storage.AlarmQueued
	}
	return outcomes, nil
}

// applies reports whether alarm a still means something for t at now: it
// belongs to the ticket's current deadline, the ticket is in the state the
// alarm is about, and an escalation step is still in the settings.
func (s *Scheduler) applies(t hotlinebot.Ticket, a storage.Alarm, now time.Time) bool {
	working := t.Status == hotlinebot.StatusDispatched || t.Status == hotlinebot.StatusAccepted
	switch a.Stage {
	case storage.StageSign:
		return t.Status == hotlinebot.StatusDispatched && a.Deadline.Equal(t.SignDueAt) && now.Before(t.SignDueAt)
	case storage.StageSignMissed:
		return t.Status == hotlinebot.StatusDispatched && a.Deadline.Equal(t.SignDueAt)
	case storage.StageDue:
		return working && a.Deadline.Equal(t.DueAt) && now.Before(t.DueAt)
	case storage.StageOverdue:
		return working && a.Deadline.Equal(t.DueAt)
	case storage.StageEscalate:
		// A step no longer in the settings (planned by a replica with
		// other settings, or just before a restart) sends nothing: void.
		_, _, ok := s.step(a)
		return ok && working && a.Deadline.Equal(t.DueAt)
	}
	return false
}

// latestReminders picks, per reminder stage, the index of the latest due
// reminder: when several reminders of one stage are due at once (the
// scheduler was stopped, or the ticket came in late), only the last one is
// sent, so a handler gets one reminder, not a flood of outdated ones.
func latestReminders(alarms []storage.Alarm, applies []bool) map[storage.AlarmStage]int {
	latest := map[storage.AlarmStage]int{storage.StageSign: -1, storage.StageDue: -1}
	for i, a := range alarms {
		if !applies[i] || (a.Stage != storage.StageSign && a.Stage != storage.StageDue) {
			continue
		}
		j := latest[a.Stage]
		if j < 0 || !a.FireAt.Before(alarms[j].FireAt) {
			latest[a.Stage] = i
		}
	}
	return latest
}
