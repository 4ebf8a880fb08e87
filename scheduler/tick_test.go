package scheduler_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

const (
	reminder   = hotlinebot.NotifyReminder
	overdue    = hotlinebot.NotifyOverdue
	escalation = hotlinebot.NotifyEscalation
)

// Two tickets dispatched just before National Day 2026 (10-01..10-07 off,
// Saturday 10-10 worked): one signed late in 龙山管理处, one never signed in
// 南湖街道办事处, whose leader never bound. Every push the scheduler queues
// over three weeks, at the tick it is queued, and nothing else.
func TestWalkThroughTheHolidayWithEveryStep(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	sc := newScheduler(t, s, standardOptions(storagetest.Calendar(t)))
	w := &walker{t: t, d: d, sc: sc}

	a := d.create(t, "A-0929", "longshan", at(2026, 9, 29, 10, 0)) // Tuesday
	b := d.create(t, "B-0930", "nanhu", at(2026, 9, 30, 10, 0))    // Wednesday
	// The calendar this walk stands on: 签收 within 1wd, 办理 within 5wd.
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"A sign", a.SignDueAt, at(2026, 9, 30, 18, 0)},
		{"A due", a.DueAt, at(2026, 10, 12, 18, 0)}, // 09-30, 10-08, 10-09, 10-10 (调休), 10-12
		{"B sign", b.SignDueAt, at(2026, 10, 8, 18, 0)},
		{"B due", b.DueAt, at(2026, 10, 13, 18, 0)},
	} {
		if !c.got.Equal(c.want) {
			t.Fatalf("%s = %s, want %s", c.name, c.got.In(storagetest.Shanghai), c.want)
		}
	}

	want := []sent{
		// A: 2h before the 签收 deadline to 龙山's handlers, then the missed deadline to its leader.
		{at(2026, 9, 30, 16, 0), reminder, "张三"}, {at(2026, 9, 30, 16, 0), reminder, "李四"},
		{at(2026, 9, 30, 18, 0), escalation, "赵主任"},
		// B: its 签收 deadline is after the holiday; 南湖's leader never bound, so the office is told.
		{at(2026, 10, 8, 16, 0), reminder, "王五"},
		{at(2026, 10, 8, 18, 0), escalation, "钱办事员"},
		// A, signed by 张三 on 10-08: 1wd before 10-12 18:00 is the 调休 Saturday 10-10.
		{at(2026, 10, 10, 18, 0), reminder, "张三"},
		{at(2026, 10, 12, 16, 0), reminder, "张三"},
		// B, never signed: the reminders go to 南湖's handlers.
		{at(2026, 10, 12, 18, 0), reminder, "王五"},
		{at(2026, 10, 13, 16, 0), reminder, "王五"},
		// A's chain: 0s to the assignee and the department's leader, 1wd to the office, 3wd to the district leader.
		{at(2026, 10, 12, 18, 0), overdue, "张三"}, {at(2026, 10, 12, 18, 0), escalation, "赵主任"},
		{at(2026, 10, 13, 18, 0), escalation, "钱办事员"},
		{at(2026, 10, 15, 18, 0), escalation, "孙区长"},
		// B's chain: no assignee → the handlers; no bound leader → the office, then the office's own step.
		{at(2026, 10, 13, 18, 0), overdue, "王五"}, {at(2026, 10, 13, 18, 0), escalation, "钱办事员"},
		{at(2026, 10, 14, 18, 0), escalation, "钱办事员"},
		{at(2026, 10, 16, 18, 0), escalation, "孙区长"},
	}
	var moments []time.Time
	for _, x := range want {
		moments = append(moments, x.At)
	}
	w.until(at(2026, 9, 29, 10, 0), at(2026, 10, 8, 8, 0), time.Hour, moments...)
	a = d.act(t, a, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionAccept}, at(2026, 10, 8, 9, 0))
	w.until(at(2026, 10, 8, 9, 0), at(2026, 10, 22, 9, 0), time.Hour, moments...)
	assertSent(t, w.got, want)

	// The pushes say what happened, within a template's thing field (20
	// characters: a longer note is cut); the office, told instead of 南湖's
	// leader, reads what happened and why it is told.
	for _, r := range w.rows {
		note := r.data(t).Note
		if n := utf8.RuneCountInString(note); n > 20 {
			t.Errorf("%s push %s: note %q has %d characters, a thing field takes 20", r.Kind, r.Key, note, n)
		}
		switch {
		case r.Kind == "escalation" && *r.TicketID == b.ID && strings.HasPrefix(r.Key, "escalate:"+strconv.FormatInt(b.ID, 10)+":sign:"):
			if note != "超过签收时限未签收，单位无已绑定领导" {
				t.Errorf("B's missed 签收 to the office says %q", note)
			}
		case r.Kind == "escalation" && *r.TicketID == b.ID && strings.HasPrefix(r.Key, "escalate:"+strconv.FormatInt(b.ID, 10)+":0s:"):
			if note != "已超过办理时限未办结，单位无已绑定领导" {
				t.Errorf("B's first step to the office says %q", note)
			}
		case r.Kind == "escalation" && strings.HasPrefix(r.Key, "escalate:") && strings.Contains(r.Key, ":sign:"):
			if note != "超过签收时限未签收，请督促" {
				t.Errorf("a missed 签收 to %s says %q", d.names[r.PersonID], note)
			}
		case r.Kind == "escalation":
			if !strings.HasSuffix(note, "未办结，请督办") {
				t.Errorf("a step to %s says %q", d.names[r.PersonID], note)
			}
		case r.Kind == "reminder" && strings.Contains(r.Key, ":sign:"):
			if !strings.Contains(note, "前签收") {
				t.Errorf("签收 reminder says %q", note)
			}
		case r.Kind == "reminder":
			if !strings.Contains(note, "前办结") {
				t.Errorf("办理 reminder says %q", note)
			}
		}
	}
	// One remind event per reminder, one overdue event per deadline, one
	// escalate event per step (the missed 签收 included).
	wantEvents := map[int64]map[hotlinebot.Action]int{
		a.ID: {hotlinebot.ActionRemind: 3, hotlinebot.ActionOverdue: 1, hotlinebot.ActionEscalate: 4},
		b.ID: {hotlinebot.ActionRemind: 3, hotlinebot.ActionOverdue: 1, hotlinebot.ActionEscalate: 4},
	}
	for id, want := range wantEvents {
		evs, err := s.TicketEvents(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		got := map[hotlinebot.Action]int{}
		for _, e := range evs {
			if e.Channel == hotlinebot.ChannelScheduler {
				got[e.Action]++
			}
		}
		for act, n := range want {
			if got[act] != n {
				t.Errorf("#%d: %d %s events, want %d: %v", id, got[act], act, n,
					eventsOf(t, s, id, hotlinebot.ActionRemind, hotlinebot.ActionOverdue, hotlinebot.ActionEscalate))
			}
		}
	}
	overdueEv := eventsOf(t, s, a.ID, hotlinebot.ActionOverdue)
	if len(overdueEv) != 1 || !strings.HasPrefix(overdueEv[0], "10-12 18:00") {
		t.Errorf("A's overdue event = %v, want one at 10-12 18:00", overdueEv)
	}
	// The history reads in order: the crossing, then the first step.
	hist := eventsOf(t, s, a.ID, hotlinebot.ActionOverdue, hotlinebot.ActionEscalate)
	if len(hist) != 5 || !strings.Contains(hist[1], "overdue: ") || !strings.Contains(hist[2], "第1级督办") ||
		!strings.Contains(hist[2], "已告知承办人、龙山管理处领导") {
		t.Errorf("A's history: %q", hist)
	}
	if hist := eventsOf(t, s, b.ID, hotlinebot.ActionEscalate); len(hist) != 4 || !strings.Contains(hist[0], "南湖街道办事处没有已绑定的领导，改发热线办") {
		t.Errorf("B's history: %q", hist)
	}
	// A second run over the same time queues nothing more.
	w.got = nil
	w.until(at(2026, 9, 29, 10, 0), at(2026, 10, 22, 9, 0), 6*time.Hour)
	if len(w.got) != 0 {
		t.Errorf("ticking again over the same time queued %v", w.got)
	}
}

// An approved extension moves the deadline: the reminders and the chain of
// the old deadline are never sent, the new deadline's come at their times,
// and completing the ticket stops everything.
func TestExtensionMovesRemindersAndCompletionStopsTheChain(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	sc := newScheduler(t, s, standardOptions(storagetest.Calendar(t)))
	w := &walker{t: t, d: d, sc: sc}

	c := d.create(t, "C-1102", "longshan", at(2026, 11, 2, 10, 0)) // Monday
	if !c.DueAt.Equal(at(2026, 11, 9, 18, 0)) {
		t.Fatalf("due = %s", c.DueAt)
	}
	oldDue := c.DueAt
	w.until(at(2026, 11, 2, 10, 0), at(2026, 11, 2, 10, 30), 10*time.Minute)
	c = d.act(t, c, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionAccept}, at(2026, 11, 2, 11, 0))
	w.until(at(2026, 11, 2, 11, 0), at(2026, 11, 9, 8, 0), time.Hour, at(2026, 11, 3, 16, 0), at(2026, 11, 3, 18, 0), at(2026, 11, 6, 18, 0))

	c = d.act(t, c, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionRequestExtension, Days: 3, Note: "需协调城管执法"}, at(2026, 11, 9, 9, 0))
	w.tick(at(2026, 11, 9, 9, 30))
	c = d.act(t, c, d.lsLeader, hotlinebot.Command{Action: hotlinebot.ActionApproveExtension}, at(2026, 11, 9, 10, 0))
	if !c.DueAt.Equal(at(2026, 11, 12, 18, 0)) {
		t.Fatalf("extended due = %s, want 11-12 18:00", c.DueAt.In(storagetest.Shanghai))
	}
	stale := []time.Time{at(2026, 11, 9, 16, 0), oldDue, at(2026, 11, 10, 18, 0)}
	fresh := []time.Time{at(2026, 11, 11, 18, 0), at(2026, 11, 12, 16, 0)}
	w.until(at(2026, 11, 9, 10, 0), at(2026, 11, 12, 16, 30), time.Hour, append(stale, fresh...)...)
	c = d.act(t, c, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "摊贩已劝离，路口已清理"}, at(2026, 11, 12, 17, 0))
	w.until(at(2026, 11, 12, 17, 0), at(2026, 11, 25, 9, 0), time.Hour, at(2026, 11, 12, 18, 0), at(2026, 11, 13, 18, 0))

	assertSent(t, w.got, []sent{
		// Accepted within the hour: no 签收 reminder, no missed 签收.
		{at(2026, 11, 6, 18, 0), reminder, "张三"},  // 1wd before the first deadline (11-09 18:00)
		{at(2026, 11, 11, 18, 0), reminder, "张三"}, // 1wd before the extended deadline
		{at(2026, 11, 12, 16, 0), reminder, "张三"}, // 2h before it; completed an hour later: no chain
	})
	newUnix := strconv.FormatInt(c.DueAt.Unix(), 10)
	for _, r := range w.rows[1:] {
		if !strings.HasSuffix(strings.SplitN(r.Key, ":reminder:", 2)[0], ":"+newUnix) {
			t.Errorf("reminder after the extension has key %q, want the new deadline %s in it", r.Key, newUnix)
		}
	}
	if evs := eventsOf(t, s, c.ID, hotlinebot.ActionOverdue, hotlinebot.ActionEscalate); len(evs) != 0 {
		t.Errorf("events of a ticket completed in time: %v", evs)
	}
	// The old deadline's alarms are gone; none of the new one's is left to fire.
	alarms, err := s.Alarms(bg, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alarms {
		if !a.FiredAt.Valid {
			t.Errorf("alarm left unfired after completion: %+v", a)
		}
		if a.Deadline.Equal(oldDue) && a.Outcome == storage.AlarmQueued && a.FireAt.After(at(2026, 11, 9, 10, 0)) {
			t.Errorf("stale alarm fired: %+v", a)
		}
	}
}

// A ticket the scheduler first sees late, or that comes with little time:
// one reminder, not a flood of outdated ones, and none from before dispatch.
func TestLateRemindersDoNotFlood(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	sc := newScheduler(t, s, standardOptions(storagetest.Calendar(t)))
	w := &walker{t: t, d: d, sc: sc}

	// Dispatched Monday; the scheduler was down until an hour before the 办理 deadline.
	late := d.create(t, "D-1102", "longshan", at(2026, 11, 2, 10, 0))
	w.tick(at(2026, 11, 9, 17, 0))
	assertSent(t, w.got, []sent{
		{at(2026, 11, 9, 17, 0), escalation, "赵主任"},                                        // still nobody signed: the leader hears it once
		{at(2026, 11, 9, 17, 0), reminder, "张三"}, {at(2026, 11, 9, 17, 0), reminder, "李四"}, // only the 2h one
	})
	alarms, err := s.Alarms(bg, late.ID)
	if err != nil {
		t.Fatal(err)
	}
	outcome := map[string]storage.AlarmOutcome{}
	for _, a := range alarms {
		outcome[string(a.Stage)+":"+a.Span] = a.Outcome
	}
	if outcome["due:1wd"] != storage.AlarmSkipped || outcome["due:2h"] != storage.AlarmQueued || outcome["sign:2h"] != storage.AlarmVoid {
		t.Errorf("alarm outcomes = %v", outcome)
	}

	d.act(t, late, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已清理"}, at(2026, 11, 9, 17, 30))

	// An urgent ticket: 30 minutes to sign, 24 hours to finish. "2h before
	// signing" and "1wd before the deadline" would be before its dispatch.
	w.got = nil
	tk, _, err := s.CreateTicket(bg, storage.NewTicket{
		ExternalID: "E-1116", Title: "燃气泄漏", Content: "楼道有燃气味", Department: "longshan", Urgency: hotlinebot.UrgencyUrgent,
	}, intake, at(2026, 11, 16, 10, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !tk.SignDueAt.Equal(at(2026, 11, 16, 10, 30)) || !tk.DueAt.Equal(at(2026, 11, 17, 10, 0)) {
		t.Fatalf("urgent deadlines %s, %s", tk.SignDueAt, tk.DueAt)
	}
	w.until(at(2026, 11, 16, 10, 0), at(2026, 11, 16, 10, 35), 5*time.Minute)
	d.act(t, tk, d.li, hotlinebot.Command{Action: hotlinebot.ActionAccept}, at(2026, 11, 16, 10, 40))
	w.until(at(2026, 11, 16, 10, 40), at(2026, 11, 17, 9, 0), 5*time.Minute)
	assertSent(t, w.got, []sent{
		{at(2026, 11, 16, 10, 30), escalation, "赵主任"}, // missed 签收
		{at(2026, 11, 17, 8, 0), reminder, "李四"},      // 2h before, to the assignee
	})
}

// Reassigning to another department, returning and reopening each give the
// ticket new deadlines or take it out of the departments' hands: the old
// chain stops, the new deadlines' reminders come, a return pauses everything
// and an approved return ends it.
func TestChainFollowsReassignmentReopenAndReturn(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	sc := newScheduler(t, s, standardOptions(storagetest.Calendar(t)))
	w := &walker{t: t, d: d, sc: sc}
	office := hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelCLI}
	officeAct := func(g hotlinebot.Ticket, cmd hotlinebot.Command, now time.Time) hotlinebot.Ticket {
		t.Helper()
		tr, err := s.Act(bg, g.Ref(), office, cmd, now)
		if err != nil {
			t.Fatalf("%s: %v", cmd.Action, err)
		}
		return tr.Ticket
	}

	g := d.create(t, "G-1102", "longshan", at(2026, 11, 2, 10, 0))
	g = d.act(t, g, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionAccept}, at(2026, 11, 2, 11, 0))
	w.until(at(2026, 11, 2, 11, 0), at(2026, 11, 10, 8, 0), time.Hour, at(2026, 11, 9, 16, 0), at(2026, 11, 9, 18, 0))

	// Overdue in 龙山; the office moves it to 南湖: a new dispatch, new deadlines.
	g = officeAct(g, hotlinebot.Command{Action: hotlinebot.ActionReassign, Department: "nanhu"}, at(2026, 11, 10, 9, 0))
	if !g.SignDueAt.Equal(at(2026, 11, 11, 18, 0)) || !g.DueAt.Equal(at(2026, 11, 17, 18, 0)) {
		t.Fatalf("reassigned deadlines %s, %s", g.SignDueAt.In(storagetest.Shanghai), g.DueAt.In(storagetest.Shanghai))
	}
	w.until(at(2026, 11, 10, 9, 0), at(2026, 11, 11, 16, 30), time.Hour, at(2026, 11, 10, 18, 0), at(2026, 11, 11, 16, 0))
	g = d.act(t, g, d.wang, hotlinebot.Command{Action: hotlinebot.ActionAccept}, at(2026, 11, 11, 17, 0))
	w.until(at(2026, 11, 11, 17, 0), at(2026, 11, 17, 10, 0), time.Hour, at(2026, 11, 12, 18, 0), at(2026, 11, 16, 18, 0))
	g = d.act(t, g, d.wang, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已协调处理"}, at(2026, 11, 17, 11, 0))
	w.until(at(2026, 11, 17, 11, 0), at(2026, 11, 18, 9, 0), time.Hour, at(2026, 11, 17, 16, 0), at(2026, 11, 17, 18, 0))

	// 不满意: back to 南湖 with a new deadline, reminders start again.
	g = officeAct(g, hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: hotlinebot.FollowUpUnsatisfied, Note: "市民仍反映有摊贩"}, at(2026, 11, 18, 10, 0))
	if g.Status != hotlinebot.StatusDispatched || !g.SignDueAt.Equal(at(2026, 11, 19, 18, 0)) {
		t.Fatalf("reopened ticket %s, sign due %s", g.Status, g.SignDueAt.In(storagetest.Shanghai))
	}
	w.until(at(2026, 11, 18, 10, 0), at(2026, 11, 19, 16, 30), time.Hour, at(2026, 11, 19, 16, 0))
	// 南湖 asks to give it back: nothing while the office decides, nothing once it is pending.
	g = d.act(t, g, d.wang, hotlinebot.Command{Action: hotlinebot.ActionRequestReturn, Note: "不属于本单位职责"}, at(2026, 11, 19, 17, 0))
	w.until(at(2026, 11, 19, 17, 0), at(2026, 11, 20, 9, 0), time.Hour, at(2026, 11, 19, 18, 0))
	officeAct(g, hotlinebot.Command{Action: hotlinebot.ActionApproveReturn}, at(2026, 11, 20, 10, 0))
	w.until(at(2026, 11, 20, 10, 0), at(2026, 12, 4, 10, 0), time.Hour, at(2026, 11, 25, 16, 0), at(2026, 11, 25, 18, 0))

	assertSent(t, w.got, []sent{
		{at(2026, 11, 6, 18, 0), reminder, "张三"},
		{at(2026, 11, 9, 16, 0), reminder, "张三"},
		{at(2026, 11, 9, 18, 0), overdue, "张三"}, {at(2026, 11, 9, 18, 0), escalation, "赵主任"},
		// 龙山's 1wd and 3wd steps never come: the ticket left on 11-10.
		{at(2026, 11, 11, 16, 0), reminder, "王五"}, // 南湖's 签收 reminder
		{at(2026, 11, 16, 18, 0), reminder, "王五"}, // 1wd before 11-17 18:00; completed before the 2h one
		{at(2026, 11, 19, 16, 0), reminder, "王五"}, // after the reopen; the return request stops the rest
	})
	if n := len(eventsOf(t, s, g.ID, hotlinebot.ActionOverdue)); n != 1 {
		t.Errorf("%d overdue events, want 1 (the first deadline only)", n)
	}
	alarms, err := s.Alarms(bg, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alarms {
		if !a.FiredAt.Valid {
			t.Errorf("an alarm of a pending ticket is left: %+v", a)
		}
	}
}

// A step that names the office and a department's leaders, where the
// department has no leader bound: the office gets one push saying what
// happened and why it is told, and the history names the fallback once.
func TestStepToLeadersAndOfficeWithNoLeaderBound(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	o := standardOptions(storagetest.Calendar(t))
	o.Reminders = scheduler.Reminders{}
	o.Escalation = []scheduler.Step{{After: hotlinebot.Workdays(1), Notify: []hotlinebot.Audience{
		hotlinebot.AudienceDepartmentLeaders, hotlinebot.AudienceOffice, hotlinebot.AudienceDepartmentHandlers, hotlinebot.AudienceAssignee,
	}}}
	w := &walker{t: t, d: d, sc: newScheduler(t, s, o)}
	tk := d.create(t, "H-1102", "nanhu", at(2026, 11, 2, 10, 0)) // 南湖: 王五 bound, its leader not
	tk = d.act(t, tk, d.wang, hotlinebot.Command{Action: hotlinebot.ActionAccept}, at(2026, 11, 2, 11, 0))
	w.until(at(2026, 11, 9, 17, 0), at(2026, 11, 10, 19, 0), time.Hour, at(2026, 11, 10, 18, 0))
	assertSent(t, w.got, []sent{{at(2026, 11, 10, 18, 0), overdue, "王五"}, {at(2026, 11, 10, 18, 0), escalation, "钱办事员"}})
	for _, r := range w.rows {
		if r.Kind == "escalation" {
			if note := r.data(t).Note; note != "超期1个工作日未办结，单位无已绑定领导" {
				t.Errorf("the office's push says %q", note)
			}
		}
	}
	hist := eventsOf(t, s, tk.ID, hotlinebot.ActionEscalate)
	if len(hist) != 1 || strings.Count(hist[0], "南湖街道办事处没有已绑定的领导，改发热线办") != 1 || !strings.Contains(hist[0], "已告知热线办、南湖街道办事处承办人") {
		t.Errorf("history: %q", hist)
	}
}
