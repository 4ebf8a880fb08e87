package scheduler_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// overdueTicket is a ticket of 龙山管理处 accepted by 张三, due 2026-11-09
// 18:00 (a Monday).
func overdueTicket(t *testing.T, d *district) hotlinebot.Ticket {
	t.Helper()
	tk := d.create(t, "S-1102", "longshan", at(2026, 11, 2, 10, 0))
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

	// The same steps in another order: nothing fires, nothing is recorded.
	w.got = nil
	w.sc = newScheduler(t, s, stepsOptions(t, toOffice, toBoss, toAssignee))
	w.tick(at(2026, 11, 10, 20, 0))
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
