package storage_test

import (
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
	n, err := f.s.PlanAlarms(ctx, "v1", t0, 10, oneAlarm)
	if err != nil || n != 1 {
		t.Fatalf("PlanAlarms = %d, %v; want the new ticket planned", n, err)
	}
	if n, _ := f.s.PlanAlarms(ctx, "v1", t0, 10, oneAlarm); n != 0 {
		t.Errorf("planning again changed %d tickets", n)
	}
	// New settings plan again; an extension's new deadline replaces the unfired alarm.
	if n, _ := f.s.PlanAlarms(ctx, "v2", t0, 10, oneAlarm); n != 1 {
		t.Errorf("new settings planned %d tickets, want 1", n)
	}
	if _, err := f.s.DB().ExecContext(ctx, `UPDATE tickets SET due_at = due_at + interval '2 days' WHERE id = $1`, tk.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.s.PlanAlarms(ctx, "v2", t0, 10, oneAlarm); n != 1 {
		t.Errorf("a moved deadline planned %d tickets, want 1", n)
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
	if _, err := f.s.PlanAlarms(ctx, "v2", t0, 10, oneAlarm); err != nil {
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
	if _, err := f.s.PlanAlarms(ctx, "v1", t0, 10, oneAlarm); err != nil {
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
	res, err := f.s.FireAlarms(ctx, late, 10, handle)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tickets != 1 || len(seen) != 1 || seen[0] != b.ID {
		t.Fatalf("with #%d locked: %+v, saw %v", a.ID, res, seen)
	}
	tx.Rollback()
	seen = nil
	if res, err = f.s.FireAlarms(ctx, late, 10, handle); err != nil || res.Tickets != 1 || seen[0] != a.ID {
		t.Fatalf("after the lock is gone: %+v, %v, saw %v", res, err, seen)
	}
	if res, _ = f.s.FireAlarms(ctx, late, 10, handle); res.Tickets != 0 {
		t.Errorf("fired alarms fire again: %+v", res)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_events WHERE action = 'remind' AND channel = 'scheduler'`); n != 2 {
		t.Errorf("%d remind events, want one per ticket", n)
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
