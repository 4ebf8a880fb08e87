package scheduler_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
)

// overdueTicket is a ticket of 龙山管理处 accepted by 张三, due 2026-11-09
// 18:00 (a Monday).
func overdueTicket(t *testing.T, d *district, ext ...string) hotlinebot.Ticket {
	t.Helper()
	id := "S-1102"
	if len(ext) > 0 {
		id = ext[0]
	}
	tk := d.create(t, id, "longshan", at(2026, 11, 2, 10, 0))
	tk = d.act(t, tk, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionAccept}, at(2026, 11, 2, 11, 0))
	if !tk.DueAt.Equal(at(2026, 11, 9, 18, 0)) {
		t.Fatalf("due %s", tk.DueAt.In(storagetest.Shanghai))
	}
	return tk
}

func stepsOptions(t *testing.T, steps ...scheduler.Step) scheduler.Options {
	o := standardOptions(storagetest.Calendar(t))
	o.Reminders = scheduler.Reminders{}
	o.Escalation = steps
	return o
}

func notify(a ...hotlinebot.Audience) []hotlinebot.Audience { return a }

// A step inserted into the chain while a ticket is overdue is a new step:
// its people are told, though it sits at the index of a step that already
// fired; the steps that fired do not fire again, wherever they moved.
func TestInsertedOrReorderedStepsAreNewSteps(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	tk := overdueTicket(t, d)
	toAssignee := scheduler.Step{After: hotlinebot.Span{}, Notify: notify(hotlinebot.AudienceAssignee)}
	toOffice := scheduler.Step{After: hotlinebot.Workdays(1), Notify: notify(hotlinebot.AudienceOffice)}
	toBoss := scheduler.Step{After: hotlinebot.Span{Duration: 2 * time.Hour}, Notify: notify(hotlinebot.AudienceDistrictLeaders)}

	w := &walker{t: t, d: d, sc: newScheduler(t, s, stepsOptions(t, toAssignee, toOffice))}
	w.tick(at(2026, 11, 10, 19, 0))
	assertSent(t, w.got, []sent{{at(2026, 11, 10, 19, 0), overdue, "张三"}, {at(2026, 11, 10, 19, 0), escalation, "钱办事员"}})

	// The district leaders' step is inserted second: it fires, and only it.
	w.got = nil
	w.sc = newScheduler(t, s, stepsOptions(t, toAssignee, toBoss, toOffice))
	w.tick(at(2026, 11, 10, 19, 30))
	assertSent(t, w.got, []sent{{at(2026, 11, 10, 19, 30), escalation, "孙区长"}})
	hist := eventsOf(t, s, tk.ID, hotlinebot.ActionEscalate)
	if len(hist) != 3 || hist[2] != "11-10 19:30 escalate: 第2级督办（超期2小时）：已告知区领导" {
		t.Errorf("history: %q", hist)
	}

	// The same steps in another order, and a step's audiences in another
	// order: nothing fires, nothing is recorded.
	w.got = nil
	toBossAndOffice := scheduler.Step{After: hotlinebot.Workdays(2), Notify: notify(hotlinebot.AudienceDistrictLeaders, hotlinebot.AudienceOffice)}
	w.sc = newScheduler(t, s, stepsOptions(t, toAssignee, toBoss, toOffice, toBossAndOffice))
	w.tick(at(2026, 11, 11, 19, 0))
	assertSent(t, w.got, []sent{{at(2026, 11, 11, 19, 0), escalation, "孙区长"}, {at(2026, 11, 11, 19, 0), escalation, "钱办事员"}})
	hist = eventsOf(t, s, tk.ID, hotlinebot.ActionEscalate)
	w.got = nil
	toOfficeAndBoss := scheduler.Step{After: hotlinebot.Workdays(2), Notify: notify(hotlinebot.AudienceOffice, hotlinebot.AudienceDistrictLeaders)}
	w.sc = newScheduler(t, s, stepsOptions(t, toOfficeAndBoss, toOffice, toBoss, toAssignee))
	w.tick(at(2026, 11, 11, 20, 0))
	assertSent(t, w.got, nil)
	if again := eventsOf(t, s, tk.ID, hotlinebot.ActionEscalate); !slices.Equal(again, hist) {
		t.Errorf("history after reordering: %q", again)
	}
}

// An alarm planned for a step that is no longer in the settings (another
// replica planned it with its own) sends nothing and is recorded as void,
// not as queued.
func TestAlarmOfARemovedStepIsVoid(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	tk := overdueTicket(t, d)
	toAssignee := scheduler.Step{After: hotlinebot.Span{}, Notify: notify(hotlinebot.AudienceAssignee)}
	toOffice := scheduler.Step{After: hotlinebot.Workdays(1), Notify: notify(hotlinebot.AudienceOffice)}
	w := &walker{t: t, d: d, sc: newScheduler(t, s, stepsOptions(t, toAssignee, toOffice))}
	w.tick(at(2026, 11, 9, 19, 0))
	assertSent(t, w.got, []sent{{at(2026, 11, 9, 19, 0), overdue, "张三"}})

	before := lastOutboxID(t, s)
	if err := newScheduler(t, s, stepsOptions(t, toAssignee)).FireDue(bg, at(2026, 11, 10, 19, 0)); err != nil {
		t.Fatal(err)
	}
	if rows := outboxAfter(t, s, before); len(rows) != 0 {
		t.Errorf("queued %+v", rows)
	}
	alarms, err := s.Alarms(bg, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	var office bool
	for _, a := range alarms {
		if a.Notify == "office" {
			office = true
			if !a.FiredAt.Valid || a.Outcome != storage.AlarmVoid {
				t.Errorf("the removed step's alarm: fired %v, outcome %q; want void", a.FiredAt, a.Outcome)
			}
		}
	}
	if !office {
		t.Fatalf("no alarm of the office's step: %+v", alarms)
	}
	if hist := eventsOf(t, s, tk.ID, hotlinebot.ActionEscalate); len(hist) != 1 {
		t.Errorf("history: %q", hist)
	}
}

// A ticket whose pushes cannot be queued (here a trigger refuses them) is
// skipped and logged; the other tickets, before and after it and in later
// batches, are escalated in the same tick, and it is when it can be.
func TestOneFailingTicketDelaysOnlyItself(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	bad := overdueTicket(t, d, "S-1")
	good := []hotlinebot.Ticket{overdueTicket(t, d, "S-2"), overdueTicket(t, d, "S-3")}
	for _, q := range []string{
		`CREATE FUNCTION refuse_push() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN IF NEW.ticket_id = ` + strconv.FormatInt(bad.ID, 10) + ` THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER refuse_push BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_push()`,
	} {
		if _, err := s.DB().ExecContext(bg, q); err != nil {
			t.Fatal(err)
		}
	}
	o := stepsOptions(t, scheduler.Step{After: hotlinebot.Span{}, Notify: notify(hotlinebot.AudienceAssignee)})
	o.Batch = 1
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	w := &walker{t: t, d: d, sc: newScheduler(t, s, o)}
	w.tick(at(2026, 11, 9, 19, 0))
	if n := gathered(t, reg)["hotlinebot_scheduler_ticket_failures_total"]; n != 1 {
		t.Errorf("ticket failures counted: %v, want 1", n)
	}
	var got []int64
	for _, r := range w.rows {
		got = append(got, *r.TicketID)
	}
	if want := []int64{good[0].ID, good[1].ID}; !slices.Equal(got, want) {
		t.Errorf("pushes for tickets %v, want %v", got, want)
	}
	if hist := eventsOf(t, s, bad.ID, hotlinebot.ActionOverdue, hotlinebot.ActionEscalate); len(hist) != 0 {
		t.Errorf("the failed ticket's history: %q", hist)
	}
	if _, err := s.DB().ExecContext(bg, `DROP TRIGGER refuse_push ON outbox`); err != nil {
		t.Fatal(err)
	}
	w.rows = nil
	w.tick(at(2026, 11, 9, 19, 1))
	if len(w.rows) != 1 || *w.rows[0].TicketID != bad.ID {
		t.Errorf("after the repair: %+v", w.rows)
	}
}
