package storage_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// oneAlarm plans an hour-before reminder on the 办理 deadline.
func oneAlarm(t hotlinebot.Ticket) []storage.Alarm {
	return []storage.Alarm{{TicketID: t.ID, Stage: storage.StageDue, Span: "1h", Deadline: t.DueAt, FireAt: t.DueAt.Add(-time.Hour)}}
}

func TestPlanAlarmsFollowsTheDeadlines(t *testing.T) {
	f := newFixture(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "P-1", Department: "longshan"})
	res, err := f.s.PlanAlarms(ctx, "v1", t0, 0, 10, oneAlarm)
	if err != nil || res.Planned != 1 {
		t.Fatalf("PlanAlarms = %+v, %v; want the new ticket planned", res, err)
	}
	if res, _ := f.s.PlanAlarms(ctx, "v1", t0, 0, 10, oneAlarm); res.Planned != 0 {
		t.Errorf("planning again changed %d tickets", res.Planned)
	}
	// New settings plan again; an extension's new deadline replaces the unfired alarm.
	if res, _ := f.s.PlanAlarms(ctx, "v2", t0, 0, 10, oneAlarm); res.Planned != 1 {
		t.Errorf("new settings planned %d tickets, want 1", res.Planned)
	}
	if _, err := f.s.DB().ExecContext(ctx, `UPDATE tickets SET due_at = due_at + interval '2 days' WHERE id = $1`, tk.ID); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.s.PlanAlarms(ctx, "v2", t0, 0, 10, oneAlarm); res.Planned != 1 {
		t.Errorf("a moved deadline planned %d tickets, want 1", res.Planned)
	}
	alarms, err := f.s.Alarms(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(alarms) != 1 || !alarms[0].Deadline.Equal(tk.DueAt.Add(48*time.Hour)) {
		t.Fatalf("alarms after the move = %+v", alarms)
	}
	if k := alarms[0].DedupeKey(); k != "remind:"+itoa(tk.ID)+":due:1h:"+itoa(tk.DueAt.Add(48*time.Hour).Unix()) {
		t.Errorf("dedupe key %q", k)
	}
	// Completed: the unfired alarm and the plan go.
	if _, err := f.s.Act(ctx, tk.Ref(), f.handler(f.zhang), hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已办"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.PlanAlarms(ctx, "v2", t0, 0, 10, oneAlarm); err != nil {
		t.Fatal(err)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_alarms WHERE ticket_id = $1`, tk.ID); n != 0 {
		t.Errorf("%d alarms left on a completed ticket", n)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_alarm_plans WHERE ticket_id = $1`, tk.ID); n != 0 {
		t.Errorf("the plan of a completed ticket is left")
	}
}

// A ticket another transaction holds (a handler's 办结 in progress, the
// other replica) is skipped, not waited for, and fired on the next call.
func TestFireAlarmsSkipsTicketsLockedElsewhere(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, storage.NewTicket{ExternalID: "F-1", Department: "longshan"})
	b := f.create(t, storage.NewTicket{ExternalID: "F-2", Department: "longshan"})
	if _, err := f.s.PlanAlarms(ctx, "v1", t0, 0, 10, oneAlarm); err != nil {
		t.Fatal(err)
	}
	tx, err := f.s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT id FROM tickets WHERE id = $1 FOR UPDATE`, a.ID); err != nil {
		t.Fatal(err)
	}
	var seen []int64
	handle := func(at *storage.AlarmTx, due storage.DueTicket) ([]storage.AlarmOutcome, error) {
		seen = append(seen, due.Ticket.ID)
		if due.DepartmentName != "龙山管理处" || len(due.Alarms) != 1 {
			t.Errorf("due = %+v", due)
		}
		if err := at.Record(hotlinebot.Event{TicketID: due.Ticket.ID, Action: hotlinebot.ActionRemind, Note: "test"}); err != nil {
			return nil, err
		}
		return []storage.AlarmOutcome{storage.AlarmQueued}, nil
	}
	late := a.DueAt.Add(time.Minute)
	res, err := f.s.FireAlarms(ctx, late, 0, 10, handle)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tickets != 1 || len(seen) != 1 || seen[0] != b.ID {
		t.Fatalf("with #%d locked: %+v, saw %v", a.ID, res, seen)
	}
	tx.Rollback()
	seen = nil
	if res, err = f.s.FireAlarms(ctx, late, 0, 10, handle); err != nil || res.Tickets != 1 || seen[0] != a.ID {
		t.Fatalf("after the lock is gone: %+v, %v, saw %v", res, err, seen)
	}
	if res, _ = f.s.FireAlarms(ctx, late, 0, 10, handle); res.Tickets != 0 {
		t.Errorf("fired alarms fire again: %+v", res)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_events WHERE action = 'remind' AND channel = 'scheduler'`); n != 2 {
		t.Errorf("%d remind events, want one per ticket", n)
	}
}

// A ticket whose alarms fail (an error or a panic) is rolled back to its
// savepoint and skipped; the others of the batch fire, and the failed ones
// stay due for the next call.
func TestFireAlarmsContainsAFailingTicket(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, storage.NewTicket{ExternalID: "C-1", Department: "longshan"})
	b := f.create(t, storage.NewTicket{ExternalID: "C-2", Department: "longshan"})
	c := f.create(t, storage.NewTicket{ExternalID: "C-3", Department: "longshan"})
	if _, err := f.s.PlanAlarms(ctx, "v1", t0, 0, 10, oneAlarm); err != nil {
		t.Fatal(err)
	}
	broken := map[int64]bool{a.ID: true, b.ID: true}
	handle := func(at *storage.AlarmTx, due storage.DueTicket) ([]storage.AlarmOutcome, error) {
		if err := at.Record(hotlinebot.Event{TicketID: due.Ticket.ID, Action: hotlinebot.ActionRemind, Note: "test"}); err != nil {
			return nil, err
		}
		switch {
		case broken[due.Ticket.ID] && due.Ticket.ID == a.ID:
			return nil, errors.New("broken ticket")
		case broken[due.Ticket.ID]:
			panic("broken ticket")
		}
		return []storage.AlarmOutcome{storage.AlarmQueued}, nil
	}
	late := a.DueAt.Add(time.Minute)
	res, err := f.s.FireAlarms(ctx, late, 0, 10, handle)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tickets != 1 || res.Failed != 2 || res.Alarms != 1 || res.Last != c.ID || res.More {
		t.Errorf("FireAlarms = %+v, want #%d fired and two failed", res, c.ID)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_events WHERE action = 'remind' AND channel = 'scheduler'`); n != 1 {
		t.Errorf("%d remind events, want the one of #%d (the failed ones rolled back)", n, c.ID)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_alarms WHERE fired_at IS NULL`); n != 2 {
		t.Errorf("%d alarms still due, want the failed tickets' two", n)
	}
	// Repaired, they fire on the next call.
	broken = nil
	if res, err = f.s.FireAlarms(ctx, late, 0, 10, handle); err != nil || res.Tickets != 2 || res.Failed != 0 {
		t.Errorf("the next call: %+v, %v", res, err)
	}
}

// FireAlarms goes on above after, in id order, a batch at a time.
func TestFireAlarmsPagesByID(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, storage.NewTicket{ExternalID: "K-1", Department: "longshan"})
	b := f.create(t, storage.NewTicket{ExternalID: "K-2", Department: "longshan"})
	if _, err := f.s.PlanAlarms(ctx, "v1", t0, 0, 10, oneAlarm); err != nil {
		t.Fatal(err)
	}
	var seen []int64
	handle := func(at *storage.AlarmTx, due storage.DueTicket) ([]storage.AlarmOutcome, error) {
		seen = append(seen, due.Ticket.ID)
		return nil, errors.New("broken ticket") // stays due: only after moves on
	}
	late := a.DueAt.Add(time.Minute)
	res, err := f.s.FireAlarms(ctx, late, 0, 1, handle)
	if err != nil || res.Last != a.ID || !res.More {
		t.Fatalf("first batch: %+v, %v", res, err)
	}
	if res, err = f.s.FireAlarms(ctx, late, res.Last, 1, handle); err != nil || res.Last != b.ID {
		t.Fatalf("second batch: %+v, %v", res, err)
	}
	if res, err = f.s.FireAlarms(ctx, late, res.Last, 1, handle); err != nil || res.Last != 0 || res.More {
		t.Fatalf("third batch: %+v, %v", res, err)
	}
	if len(seen) != 2 || seen[0] != a.ID || seen[1] != b.ID {
		t.Errorf("handled %v", seen)
	}
}

// PlanAlarms goes on above after, a batch at a time, and a ticket whose plan
// panics is skipped (its plan not saved, so it is tried again) while the
// others of its batch are planned.
func TestPlanAlarmsPagesAndSkipsAFailingPlan(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, storage.NewTicket{ExternalID: "Q-1", Department: "longshan"})
	b := f.create(t, storage.NewTicket{ExternalID: "Q-2", Department: "longshan"})
	c := f.create(t, storage.NewTicket{ExternalID: "Q-3", Department: "longshan"})
	broken := true
	plan := func(tk hotlinebot.Ticket) []storage.Alarm {
		if broken && tk.ID == a.ID {
			panic("a calendar without this year")
		}
		return oneAlarm(tk)
	}
	res, err := f.s.PlanAlarms(ctx, "v1", t0, 0, 2, plan)
	if err != nil || res.Planned != 1 || res.Failed != 1 || res.Last != b.ID || !res.More {
		t.Fatalf("first batch: %+v, %v", res, err)
	}
	if res, err = f.s.PlanAlarms(ctx, "v1", t0, res.Last, 2, plan); err != nil || res.Planned != 1 || res.Last != c.ID || res.More {
		t.Fatalf("second batch: %+v, %v", res, err)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_alarm_plans WHERE ticket_id = $1`, a.ID); n != 0 {
		t.Errorf("the failed ticket's plan was saved")
	}
	broken = false
	if res, err = f.s.PlanAlarms(ctx, "v1", t0, 0, 2, plan); err != nil || res.Planned != 1 || res.Last != a.ID {
		t.Errorf("once repaired: %+v, %v", res, err)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_alarms`); n != 3 {
		t.Errorf("%d alarms, want one per ticket", n)
	}
}

// What a scheduler's push about a ticket shows (built once per ticket from
// the row it holds) is what any other push about that ticket shows.
func TestAlarmPushShowsWhatAnyPushShows(t *testing.T) {
	f := newFixture(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "D-1", Title: "噪音扰民", Category: "环境保护", Department: "longshan"})
	if _, err := f.s.PlanAlarms(ctx, "v1", t0, 0, 10, oneAlarm); err != nil {
		t.Fatal(err)
	}
	to := hotlinebot.Recipient{Audience: hotlinebot.AudiencePerson, PersonID: f.clerk.ID}
	if _, err := f.s.FireAlarms(ctx, tk.DueAt, 0, 10, func(at *storage.AlarmTx, due storage.DueTicket) ([]storage.AlarmOutcome, error) {
		_, err := at.Enqueue(hotlinebot.Notification{Kind: hotlinebot.NotifyReminder, To: to, TicketID: tk.ID, Note: "请于今日办结"}, "alarm")
		return []storage.AlarmOutcome{storage.AlarmQueued}, err
	}); err != nil {
		t.Fatal(err)
	}
	tx, err := f.s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := f.s.EnqueueTx(ctx, tx, hotlinebot.Notification{Kind: hotlinebot.NotifyReminder, To: to, TicketID: tk.ID, Note: "请于今日办结"}, "plain", t0); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var data []string
	if err := f.s.DB().SelectContext(ctx, &data, `SELECT data::text FROM outbox WHERE dedupe_key LIKE 'alarm:%' OR dedupe_key LIKE 'plain:%' ORDER BY dedupe_key`); err != nil {
		t.Fatal(err)
	}
	if len(data) != 2 || data[0] != data[1] || !strings.Contains(data[0], "龙山管理处") {
		t.Errorf("the scheduler's push and another push about the ticket show:\n%v", data)
	}
}

// A past day's digest counts as of that evening: a ticket completed since
// was still open then.
func TestDigestOfAPastDay(t *testing.T) {
	f := newFixture(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "G-1", Department: "longshan"}) // received 12-01 10:00
	if _, err := f.s.Act(ctx, tk.Ref(), f.handler(f.zhang), hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已办"}, at(time.December, 3, 9, 0)); err != nil {
		t.Fatal(err)
	}
	then, err := f.s.Digest(ctx, at(time.December, 2, 0, 0), at(time.December, 3, 0, 0), "")
	if err != nil {
		t.Fatal(err)
	}
	if then.Received != 1 || then.Open != 1 || then.Completed != 0 || len(then.Departments) != 2 || then.Departments[0].Open != 1 {
		t.Errorf("12-02's digest = %+v", then)
	}
	now, err := f.s.Digest(ctx, at(time.December, 4, 0, 0), at(time.December, 4, 8, 30), "longshan")
	if err != nil {
		t.Fatal(err)
	}
	if now.Open != 0 || now.Completed != 1 || now.DepartmentName != "龙山管理处" || len(now.Departments) != 0 {
		t.Errorf("12-04's digest of 龙山 = %+v", now)
	}
}

// An escalation step's pushes are keyed by what the step is (its offset and
// audiences) and the deadline, not by its place in the list: another step at
// the same index is another key, the same step anywhere the same key.
func TestEscalationKeyNamesTheStep(t *testing.T) {
	due := time.Date(2026, 11, 9, 10, 0, 0, 0, time.UTC)
	step := func(index int, span, notify string) storage.Alarm {
		return storage.Alarm{TicketID: 7, Stage: storage.StageEscalate, Step: index, Span: span, Notify: notify, Deadline: due}
	}
	first := step(1, "1wd", "office")
	if k := first.DedupeKey(); k != "escalate:7:1wd:office:"+itoa(due.Unix()) {
		t.Errorf("key %q", k)
	}
	if step(2, "1wd", "office").DedupeKey() != first.DedupeKey() {
		t.Errorf("the same step moved to another index has another key")
	}
	for _, other := range []storage.Alarm{step(1, "2h", "office"), step(1, "1wd", "office+district_leaders")} {
		if other.DedupeKey() == first.DedupeKey() {
			t.Errorf("step %+v has the key of step %+v", other, first)
		}
	}
	moved := first
	moved.Deadline = due.Add(24 * time.Hour)
	if moved.DedupeKey() == first.DedupeKey() {
		t.Errorf("a new deadline keeps the key")
	}
}

// A step fired before the steps were named by their audiences (migration 5
// marks it '#<index>') is not planned again when its ticket is planned anew.
func TestStepFiredBeforeMigration5IsNotPlannedAgain(t *testing.T) {
	f := newFixture(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "L-1", Department: "longshan"})
	if _, err := f.s.DB().ExecContext(ctx,
		`INSERT INTO ticket_alarms (ticket_id, stage, step, span, notify, deadline, fire_at, fired_at, outcome)
		 VALUES ($1, 'escalate', 0, '0s', '#0', $2, $2, $2, 'queued')`, tk.ID, tk.DueAt); err != nil {
		t.Fatal(err)
	}
	steps := func(t hotlinebot.Ticket) []storage.Alarm {
		return []storage.Alarm{
			{TicketID: t.ID, Stage: storage.StageEscalate, Step: 0, Span: "0s", Notify: "assignee", Deadline: t.DueAt, FireAt: t.DueAt},
			{TicketID: t.ID, Stage: storage.StageEscalate, Step: 1, Span: "1wd", Notify: "office", Deadline: t.DueAt, FireAt: t.DueAt.Add(24 * time.Hour)},
		}
	}
	if _, err := f.s.PlanAlarms(ctx, "v1", t0, 0, 10, steps); err != nil {
		t.Fatal(err)
	}
	alarms, err := f.s.Alarms(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range alarms {
		got = append(got, a.Span+"/"+a.Notify)
	}
	if strings.Join(got, " ") != "0s/#0 1wd/office" {
		t.Errorf("alarms %q, want the fired step 0 and the new step 1", got)
	}
}
