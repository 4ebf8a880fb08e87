package hotlinebot

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The people of the lifecycle tests. The ticket's department is longshan.
var (
	officeAPI      = Actor{Role: RoleOffice, Channel: ChannelAPI}
	officeClerk    = Actor{PersonID: 90, Name: "王科员", Role: RoleOffice, Channel: ChannelWeChat}
	systemActor    = Actor{Channel: ChannelScheduler}
	assigneeActor  = Actor{PersonID: 11, Name: "张三", Role: RoleHandler, Department: "longshan", Channel: ChannelWeChat}
	colleague      = Actor{PersonID: 12, Name: "李四", Role: RoleHandler, Department: "longshan", Channel: ChannelWeChat}
	outsider       = Actor{PersonID: 21, Name: "赵六", Role: RoleHandler, Department: "nanhu", Channel: ChannelWeChat}
	deptLeader     = Actor{PersonID: 31, Name: "龙主任", Role: RoleLeader, Department: "longshan", Channel: ChannelWeChat}
	otherLeader    = Actor{PersonID: 32, Name: "南主任", Role: RoleLeader, Department: "nanhu", Channel: ChannelWeChat}
	districtLeader = Actor{PersonID: 41, Name: "区长", Role: RoleLeader, Channel: ChannelWeChat}
)

var actorKinds = []struct {
	name  string
	actor Actor
}{
	{"office(api)", officeAPI}, {"office(clerk)", officeClerk}, {"system", systemActor},
	{"assignee", assigneeActor}, {"colleague", colleague}, {"outsider", outsider},
	{"dept leader", deptLeader}, {"other leader", otherLeader}, {"district leader", districtLeader},
}

var testDepartmentNames = map[string]string{"longshan": "龙山管理处", "nanhu": "南湖街道办事处", "cgj": "区城市管理局"}

func testEnv(t testing.TB, now string) Env {
	return Env{Now: at(t, now), Calendar: newTestCalendar(t, nil), Policy: DefaultDeadlinePolicy(), DepartmentNames: testDepartmentNames}
}

// ticketIn returns ticket #37 in status s, dispatched to longshan on Monday
// 2026-09-28 09:00 with the default normal deadlines, as the lifecycle would
// have left it.
func ticketIn(t testing.TB, s Status) Ticket {
	cal := newTestCalendar(t, nil)
	d0 := at(t, "2026-09-28 09:00")
	tk := Ticket{ID: 37, ExternalID: "GD2026092800037", Title: "路边占道经营", Content: "龙山路口有人占道", Category: "市容市貌",
		Area: "龙山管理处", Urgency: UrgencyNormal, Status: s, ReceivedAt: at(t, "2026-09-28 08:30")}
	if s == StatusPending {
		return tk
	}
	tk.Department = "longshan"
	tk.DispatchedAt = d0
	tk.SignDueAt = cal.AddWorkdays(d0, 1)
	tk.DueAt = cal.AddWorkdays(d0, 5)
	tk.OriginalDueAt = tk.DueAt
	if s == StatusDispatched {
		return tk
	}
	tk.AssigneeID = assigneeActor.PersonID
	tk.AcceptedAt = at(t, "2026-09-28 10:00")
	switch s {
	case StatusReturnRequested:
		tk.ReturnFrom, tk.ReturnReason, tk.ReturnRequestedBy = StatusAccepted, "不属本单位职责", assigneeActor.PersonID
	case StatusCompleted, StatusClosed:
		tk.CompletedAt, tk.Outcome = at(t, "2026-09-28 14:00"), "已清理完毕"
		if s == StatusClosed {
			tk.FollowUpResult, tk.FollowUpAt, tk.ClosedAt = FollowUpSatisfied, at(t, "2026-09-28 14:30"), at(t, "2026-09-28 14:30")
		}
	}
	return tk
}

// validCommand is a well-formed command for each action.
func validCommand(a Action) Command {
	cmd := Command{Action: a}
	switch a {
	case ActionDispatch:
		cmd.Department = "longshan"
	case ActionReassign:
		cmd.Department = "nanhu"
	case ActionProgress:
		cmd.Note = "已联系来电人，明日现场核实"
	case ActionComplete:
		cmd.Note = "已清理完毕，恢复通行"
	case ActionRequestReturn, ActionRejectReturn, ActionRejectExtension:
		cmd.Note = "理由：职责不符"
	case ActionRequestExtension:
		cmd.Days, cmd.Note = 2, "需协调多个部门"
	case ActionFollowUp:
		cmd.Result = FollowUpSatisfied
	}
	return cmd
}

// rule says who may take an action in which statuses, independently of the
// implementation: the spec of the brief, written once.
type rule struct {
	statuses []Status
	who      []string // actor kinds allowed at all
	// onlyAssignee: of those, only the assignee (others get forbidden in an
	// allowed status).
	onlyAssignee bool
	// scopedTo: the role whose members get conflict (not forbidden) on a
	// ticket without department, since the ticket belongs to no department yet.
	scopedTo Role
}

var (
	officeKinds   = []string{"office(api)", "office(clerk)"}
	dispatchKinds = []string{"office(api)", "office(clerk)", "system"}
	handlerKinds  = []string{"assignee", "colleague"}
	deciderKinds  = []string{"office(api)", "office(clerk)", "dept leader"}
	openWork      = []Status{StatusDispatched, StatusAccepted, StatusReturnRequested}
)

var lifecycleRules = map[Action]rule{
	ActionDispatch:         {statuses: []Status{StatusPending}, who: dispatchKinds},
	ActionReassign:         {statuses: openWork, who: dispatchKinds},
	ActionAccept:           {statuses: []Status{StatusDispatched}, who: handlerKinds, scopedTo: RoleHandler},
	ActionProgress:         {statuses: []Status{StatusAccepted}, who: handlerKinds, onlyAssignee: true, scopedTo: RoleHandler},
	ActionComplete:         {statuses: []Status{StatusDispatched, StatusAccepted}, who: handlerKinds, scopedTo: RoleHandler},
	ActionRequestReturn:    {statuses: []Status{StatusDispatched, StatusAccepted}, who: handlerKinds, scopedTo: RoleHandler},
	ActionApproveReturn:    {statuses: []Status{StatusReturnRequested}, who: officeKinds},
	ActionRejectReturn:     {statuses: []Status{StatusReturnRequested}, who: officeKinds},
	ActionRequestExtension: {statuses: []Status{StatusAccepted}, who: handlerKinds, onlyAssignee: true, scopedTo: RoleHandler},
	ActionApproveExtension: {statuses: []Status{StatusAccepted, StatusReturnRequested}, who: deciderKinds, scopedTo: RoleLeader},
	ActionRejectExtension:  {statuses: []Status{StatusAccepted, StatusReturnRequested}, who: deciderKinds, scopedTo: RoleLeader},
	ActionFollowUp:         {statuses: []Status{StatusCompleted}, who: officeKinds},
	ActionClose:            {statuses: []Status{StatusPending, StatusDispatched, StatusAccepted, StatusReturnRequested, StatusCompleted}, who: officeKinds},
}

func (r rule) expect(kind string, a Actor, s Status) ErrorCode {
	if !slices.Contains(r.who, kind) {
		if s == StatusPending && r.scopedTo != "" && a.Role == r.scopedTo && a.Department != "" {
			return ECONFLICT
		}
		return EFORBIDDEN
	}
	if !slices.Contains(r.statuses, s) {
		return ECONFLICT
	}
	if r.onlyAssignee && kind != "assignee" {
		return EFORBIDDEN
	}
	return ""
}

// TestApplyEveryStateActionActor walks each action against each status with
// each kind of actor.
func TestApplyEveryStateActionActor(t *testing.T) {
	if len(lifecycleRules) != len(Actions) {
		t.Fatalf("the table covers %d actions, Apply takes %d", len(lifecycleRules), len(Actions))
	}
	env := testEnv(t, "2026-09-28 15:00") // inside the return window, before every deadline
	allowed := 0
	for _, action := range Actions {
		r := lifecycleRules[action]
		for _, status := range Statuses {
			for _, history := range []bool{false, true} {
				for _, k := range actorKinds {
					tk := ticketIn(t, status)
					tk.History = history
					if action == ActionApproveExtension || action == ActionRejectExtension {
						tk.ExtensionDays, tk.ExtensionReason, tk.ExtensionRequestedBy = 2, "需协调", assigneeActor.PersonID
					}
					before := tk
					name := fmt.Sprintf("%s/%s/%s/history=%v", action, status, k.name, history)
					tr, err := Apply(tk, k.actor, validCommand(action), env)
					if !reflect.DeepEqual(tk, before) {
						t.Fatalf("%s: Apply changed its input", name)
					}
					want := r.expect(k.name, k.actor, status)
					got := ErrorCodeOf(err)
					if got != want {
						t.Errorf("%s: code %q (%v), want %q", name, got, err, want)
						continue
					}
					if err != nil {
						if !strings.Contains(err.Error(), "#37") {
							t.Errorf("%s: message %q does not name #37", name, err)
						}
						if len(tr.Events) != 0 || len(tr.Notifications) != 0 {
							t.Errorf("%s: refused but returned %d events", name, len(tr.Events))
						}
						continue
					}
					allowed++
					checkTransition(t, name, tk, k.actor, env, tr)
					if history && len(tr.Notifications) != 0 {
						t.Errorf("%s: a history ticket produced notifications %+v", name, tr.Notifications)
					}
				}
			}
		}
	}
	if allowed == 0 {
		t.Fatal("no action was allowed")
	}
	t.Logf("%d allowed combinations checked", allowed)
}

// checkTransition checks what every transition must hold.
func checkTransition(t *testing.T, name string, old Ticket, actor Actor, env Env, tr Transition) {
	t.Helper()
	if len(tr.Events) == 0 {
		t.Errorf("%s: no event", name)
		return
	}
	if tr.Ticket.ID != old.ID || tr.Ticket.ExternalID != old.ExternalID || tr.Ticket.History != old.History {
		t.Errorf("%s: identity changed", name)
	}
	prev := old.Status
	for i, ev := range tr.Events {
		if ev.TicketID != old.ID || !ev.At.Equal(env.Now) || ev.ActorID != actor.PersonID || ev.Channel != actor.Channel {
			t.Errorf("%s: event %d = %+v: wrong ticket, time, actor or channel", name, i, ev)
		}
		if ev.FromStatus != prev {
			t.Errorf("%s: event %d (%s) from %s, want %s", name, i, ev.Action, ev.FromStatus, prev)
		}
		prev = ev.ToStatus
	}
	if prev != tr.Ticket.Status {
		t.Errorf("%s: last event ends in %s, ticket is %s", name, prev, tr.Ticket.Status)
	}
	for _, n := range tr.Notifications {
		if n.TicketID != old.ID {
			t.Errorf("%s: notification %+v for another ticket", name, n)
		}
	}
	if !tr.Ticket.Status.Valid() {
		t.Errorf("%s: status %q", name, tr.Ticket.Status)
	}
}

func TestApplyRefusalMessages(t *testing.T) {
	env := testEnv(t, "2026-09-28 15:00")
	tests := []struct {
		status Status
		actor  Actor
		cmd    Command
		code   ErrorCode
		msg    string
	}{
		{StatusDispatched, outsider, Command{Action: ActionAccept}, EFORBIDDEN, "只有龙山管理处的承办人可以签收 #37"},
		{StatusCompleted, assigneeActor, Command{Action: ActionAccept}, ECONFLICT, "#37 当前状态为已办结，不能签收"},
		{StatusDispatched, assigneeActor, Command{Action: ActionComplete}, EINVALID, "#37 办结需要填写办理结果"},
		{StatusDispatched, assigneeActor, Command{Action: ActionComplete, Note: "  "}, EINVALID, "#37 办结需要填写办理结果"},
		{StatusDispatched, assigneeActor, Command{Action: ActionProgress, Note: "x"}, ECONFLICT, "#37 当前状态为待签收，不能填写进展，请先签收"},
		{StatusAccepted, colleague, Command{Action: ActionProgress, Note: "x"}, EFORBIDDEN, "只有签收人可以填写 #37 的进展"},
		{StatusAccepted, assigneeActor, Command{Action: ActionProgress}, EINVALID, "#37 填写进展需要写明进展内容"},
		{StatusDispatched, deptLeader, Command{Action: ActionAccept}, EFORBIDDEN, "只有龙山管理处的承办人可以签收 #37"},
		{StatusPending, colleague, Command{Action: ActionAccept}, ECONFLICT, "#37 当前状态为待分派，不能签收"},
		{StatusPending, assigneeActor, Command{Action: ActionDispatch, Department: "longshan"}, EFORBIDDEN, "只有热线办可以派发 #37"},
		{StatusPending, officeAPI, Command{Action: ActionDispatch}, EINVALID, "#37 派单需要指定承办单位"},
		{StatusPending, officeAPI, Command{Action: ActionDispatch, Department: "xyz"}, EINVALID, "#37 派单：承办单位 xyz 不存在"},
		{StatusAccepted, officeAPI, Command{Action: ActionReassign}, EINVALID, "#37 改派需要指定承办单位"},
		{StatusAccepted, otherLeader, Command{Action: ActionApproveExtension}, EFORBIDDEN, "只有龙山管理处的领导或热线办可以同意 #37 的延期申请"},
		{StatusAccepted, deptLeader, Command{Action: ActionApproveExtension}, ECONFLICT, "#37 没有待审批的延期申请"},
		{StatusReturnRequested, officeAPI, Command{Action: ActionRejectReturn}, EINVALID, "#37 驳回退回需要填写理由"},
		{StatusDispatched, assigneeActor, Command{Action: ActionRequestReturn}, EINVALID, "#37 申请退回需要填写理由"},
		{StatusAccepted, assigneeActor, Command{Action: ActionRequestExtension, Note: "x"}, EINVALID, "#37 申请延期需要写明延期的工作日数"},
		{StatusAccepted, assigneeActor, Command{Action: ActionRequestExtension, Days: 2}, EINVALID, "#37 申请延期需要填写理由"},
		{StatusCompleted, officeAPI, Command{Action: ActionFollowUp}, EINVALID, "#37 回访需要填写回访结果"},
		{StatusCompleted, officeAPI, Command{Action: ActionFollowUp, Result: "还行"}, EINVALID, "#37 回访结果 \"还行\" 无效"},
		{StatusClosed, officeAPI, Command{Action: ActionClose}, ECONFLICT, "#37 当前状态为已结案，不能结案"},
		{StatusReturnRequested, officeAPI, Command{Action: ActionApproveReturn, Department: "longshan"}, EINVALID, "#37 同意退回后不能再派回龙山管理处"},
		{StatusAccepted, officeAPI, Command{Action: "delete"}, EINVALID, "#37"},
		{StatusAccepted, officeAPI, Command{}, EINVALID, "#37"},
	}
	for _, tt := range tests {
		_, err := Apply(ticketIn(t, tt.status), tt.actor, tt.cmd, env)
		if ErrorCodeOf(err) != tt.code || err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s %s by %s: err = %v (%s), want %s containing %q", tt.status, tt.cmd.Action, tt.actor.Name, err, ErrorCodeOf(err), tt.code, tt.msg)
		}
	}
}

func TestApplyNeedsTimeAndCalendar(t *testing.T) {
	env := testEnv(t, "2026-09-28 15:00")
	noTime := env
	noTime.Now = time.Time{}
	if _, err := Apply(ticketIn(t, StatusDispatched), assigneeActor, Command{Action: ActionAccept}, noTime); ErrorCodeOf(err) != EINTERNAL {
		t.Errorf("zero Now: err = %v, want internal", err)
	}
	noCal := env
	noCal.Calendar = nil
	if _, err := Apply(ticketIn(t, StatusPending), officeAPI, validCommand(ActionDispatch), noCal); ErrorCodeOf(err) != EINTERNAL {
		t.Errorf("no calendar: err = %v, want internal", err)
	}
}

func TestDispatchSetsDeadlinesAndNotifies(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00") // the Wednesday before 国庆
	tr, err := Apply(ticketIn(t, StatusPending), officeAPI, Command{Action: ActionDispatch, Department: "nanhu"}, env)
	if err != nil {
		t.Fatal(err)
	}
	tk := tr.Ticket
	if tk.Status != StatusDispatched || tk.Department != "nanhu" || tk.AssigneeID != 0 || !tk.DispatchedAt.Equal(env.Now) {
		t.Errorf("ticket = %+v", tk)
	}
	if want := at(t, "2026-10-08 18:00"); !tk.SignDueAt.Equal(want) {
		t.Errorf("SignDueAt = %s, want %s (1wd over 国庆)", tk.SignDueAt, want)
	}
	if want := at(t, "2026-10-13 18:00"); !tk.DueAt.Equal(want) || !tk.OriginalDueAt.Equal(want) {
		t.Errorf("DueAt, OriginalDueAt = %s, %s, want %s", tk.DueAt, tk.OriginalDueAt, want)
	}
	wantEv := []Event{{TicketID: 37, At: env.Now, Action: ActionDispatch, Channel: ChannelAPI, FromStatus: StatusPending, ToStatus: StatusDispatched, Note: "南湖街道办事处"}}
	if !reflect.DeepEqual(tr.Events, wantEv) {
		t.Errorf("events = %+v, want %+v", tr.Events, wantEv)
	}
	wantN := []Notification{{Kind: NotifyAssigned, To: Recipient{Audience: AudienceDepartmentHandlers, Department: "nanhu"}, TicketID: 37}}
	if !reflect.DeepEqual(tr.Notifications, wantN) {
		t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
	}
}

func TestDispatchUrgentAndCategoryPolicy(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00")
	env.Policy.Categories["征收补偿"] = Policy{Handle: Workdays(15)}

	urgent := ticketIn(t, StatusPending)
	urgent.Urgency = UrgencyUrgent
	tr, err := Apply(urgent, systemActor, validCommand(ActionDispatch), env)
	if err != nil {
		t.Fatal(err)
	}
	if want := at(t, "2026-09-30 10:30"); !tr.Ticket.SignDueAt.Equal(want) {
		t.Errorf("urgent SignDueAt = %s, want %s", tr.Ticket.SignDueAt, want)
	}
	if want := at(t, "2026-10-01 10:00"); !tr.Ticket.DueAt.Equal(want) {
		t.Errorf("urgent DueAt = %s, want %s (24h natural time, holiday or not)", tr.Ticket.DueAt, want)
	}
	if tr.Events[0].Channel != ChannelScheduler || tr.Events[0].ActorID != 0 {
		t.Errorf("system event = %+v", tr.Events[0])
	}

	zb := ticketIn(t, StatusPending)
	zb.Category = "征收补偿"
	tr, err = Apply(zb, officeAPI, validCommand(ActionDispatch), env)
	if err != nil {
		t.Fatal(err)
	}
	if want := at(t, "2026-10-27 18:00"); !tr.Ticket.DueAt.Equal(want) {
		t.Errorf("征收补偿 DueAt = %s, want %s (15wd)", tr.Ticket.DueAt, want)
	}
	if want := at(t, "2026-10-08 18:00"); !tr.Ticket.SignDueAt.Equal(want) {
		t.Errorf("征收补偿 SignDueAt = %s, want %s (the urgency's 1wd)", tr.Ticket.SignDueAt, want)
	}
}

func TestDispatchWithExplicitDueAt(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00")
	due := at(t, "2026-10-20 12:00")
	tr, err := Apply(ticketIn(t, StatusPending), officeAPI, Command{Action: ActionDispatch, Department: "longshan", DueAt: due}, env)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Ticket.DueAt.Equal(due) || !tr.Ticket.OriginalDueAt.Equal(due) {
		t.Errorf("DueAt, OriginalDueAt = %s, %s, want %s", tr.Ticket.DueAt, tr.Ticket.OriginalDueAt, due)
	}
}

func TestAcceptThenCompletePath(t *testing.T) {
	env := testEnv(t, "2026-09-28 15:00")
	// Accept, then complete by the assignee.
	tr, err := Apply(ticketIn(t, StatusDispatched), assigneeActor, Command{Action: ActionAccept}, env)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Ticket.Status != StatusAccepted || tr.Ticket.AssigneeID != 11 || !tr.Ticket.AcceptedAt.Equal(env.Now) || len(tr.Notifications) != 0 {
		t.Errorf("accept: %+v, notifications %+v", tr.Ticket, tr.Notifications)
	}
	// Complete straight from dispatched: accept first, then complete.
	tr, err = Apply(ticketIn(t, StatusDispatched), colleague, Command{Action: ActionComplete, Note: " 已清理完毕 "}, env)
	if err != nil {
		t.Fatal(err)
	}
	var actions []Action
	for _, ev := range tr.Events {
		actions = append(actions, ev.Action)
	}
	if !reflect.DeepEqual(actions, []Action{ActionAccept, ActionComplete}) {
		t.Fatalf("events = %v, want accept, complete", actions)
	}
	if tr.Events[0].FromStatus != StatusDispatched || tr.Events[0].ToStatus != StatusAccepted ||
		tr.Events[1].FromStatus != StatusAccepted || tr.Events[1].ToStatus != StatusCompleted || tr.Events[1].Note != "已清理完毕" {
		t.Errorf("events = %+v", tr.Events)
	}
	tk := tr.Ticket
	if tk.Status != StatusCompleted || tk.AssigneeID != colleague.PersonID || tk.Outcome != "已清理完毕" ||
		!tk.CompletedAt.Equal(env.Now) || !tk.AcceptedAt.Equal(env.Now) {
		t.Errorf("ticket = %+v", tk)
	}
	// A colleague completes a ticket the assignee signed: the assignee stays.
	tr, err = Apply(ticketIn(t, StatusAccepted), colleague, validCommand(ActionComplete), env)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Events) != 1 || tr.Ticket.AssigneeID != assigneeActor.PersonID {
		t.Errorf("complete by colleague: events %+v, assignee %d", tr.Events, tr.Ticket.AssigneeID)
	}
	// A pending extension request dies with the completion.
	pend := ticketIn(t, StatusAccepted)
	pend.ExtensionDays, pend.ExtensionReason, pend.ExtensionRequestedBy = 2, "x", 11
	tr, err = Apply(pend, assigneeActor, validCommand(ActionComplete), env)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Ticket.ExtensionDays != 0 || tr.Ticket.ExtensionRequestedBy != 0 {
		t.Errorf("pending extension survived completion: %+v", tr.Ticket)
	}
	// Complete from dispatched by a handler without a person id is refused.
	if _, err := Apply(ticketIn(t, StatusDispatched), Actor{Role: RoleHandler, Department: "longshan"}, validCommand(ActionComplete), env); ErrorCodeOf(err) != EINVALID {
		t.Errorf("anonymous handler: err = %v, want invalid", err)
	}
}

func TestProgressNote(t *testing.T) {
	env := testEnv(t, "2026-09-28 15:00")
	tr, err := Apply(ticketIn(t, StatusAccepted), assigneeActor, Command{Action: ActionProgress, Note: "已到现场"}, env)
	if err != nil {
		t.Fatal(err)
	}
	old := ticketIn(t, StatusAccepted)
	if !reflect.DeepEqual(tr.Ticket, old) {
		t.Errorf("progress changed the ticket: %+v", tr.Ticket)
	}
	if len(tr.Events) != 1 || tr.Events[0].Note != "已到现场" || tr.Events[0].ToStatus != StatusAccepted || len(tr.Notifications) != 0 {
		t.Errorf("progress: %+v %+v", tr.Events, tr.Notifications)
	}
}

func TestReassign(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00")
	old := ticketIn(t, StatusAccepted)
	old.ExtendedDays = 1
	old.ExtensionDays, old.ExtensionReason, old.ExtensionRequestedBy = 2, "x", 11

	// To another department: a new dispatch with deadlines from now; the
	// original deadline stays.
	tr, err := Apply(old, officeAPI, Command{Action: ActionReassign, Department: "nanhu"}, env)
	if err != nil {
		t.Fatal(err)
	}
	tk := tr.Ticket
	if tk.Status != StatusDispatched || tk.Department != "nanhu" || tk.AssigneeID != 0 || !tk.AcceptedAt.IsZero() || !tk.DispatchedAt.Equal(env.Now) {
		t.Errorf("reassigned: %+v", tk)
	}
	if !tk.SignDueAt.Equal(at(t, "2026-10-08 18:00")) || !tk.DueAt.Equal(at(t, "2026-10-13 18:00")) {
		t.Errorf("deadlines = %s, %s", tk.SignDueAt, tk.DueAt)
	}
	if !tk.OriginalDueAt.Equal(old.OriginalDueAt) {
		t.Errorf("OriginalDueAt = %s, want unchanged %s", tk.OriginalDueAt, old.OriginalDueAt)
	}
	if tk.ExtensionDays != 0 || tk.ExtensionRequestedBy != 0 || tk.ExtendedDays != 1 {
		t.Errorf("extension fields = %d/%d/%d", tk.ExtensionDays, tk.ExtensionRequestedBy, tk.ExtendedDays)
	}
	wantN := []Notification{{Kind: NotifyAssigned, To: Recipient{Audience: AudienceDepartmentHandlers, Department: "nanhu"}, TicketID: 37}}
	if !reflect.DeepEqual(tr.Notifications, wantN) {
		t.Errorf("notifications = %+v", tr.Notifications)
	}
	if tr.Events[0].Action != ActionReassign || tr.Events[0].FromStatus != StatusAccepted || tr.Events[0].Note != "南湖街道办事处" {
		t.Errorf("event = %+v", tr.Events[0])
	}

	// To the same department (the handler left): deadlines kept, assignee cleared.
	tr, err = Apply(old, systemActor, Command{Action: ActionReassign, Department: "longshan"}, env)
	if err != nil {
		t.Fatal(err)
	}
	tk = tr.Ticket
	if tk.Status != StatusDispatched || tk.Department != "longshan" || tk.AssigneeID != 0 ||
		!tk.DispatchedAt.Equal(old.DispatchedAt) || !tk.DueAt.Equal(old.DueAt) || !tk.SignDueAt.Equal(old.SignDueAt) {
		t.Errorf("same department: %+v", tk)
	}
	if tk.ExtensionDays != 0 {
		t.Errorf("pending extension survived the reassignment")
	}
	if len(tr.Notifications) != 1 || tr.Notifications[0].To.Department != "longshan" {
		t.Errorf("notifications = %+v", tr.Notifications)
	}

	// From return_requested: the pending return is cleared.
	rr := ticketIn(t, StatusReturnRequested)
	tr, err = Apply(rr, officeAPI, Command{Action: ActionReassign, Department: "cgj"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Ticket.ReturnFrom != "" || tr.Ticket.ReturnReason != "" || tr.Ticket.ReturnRequestedBy != 0 || tr.Ticket.Department != "cgj" {
		t.Errorf("from return_requested: %+v", tr.Ticket)
	}

	// A ticket whose original deadline was never set gets one.
	noOrig := ticketIn(t, StatusDispatched)
	noOrig.OriginalDueAt = time.Time{}
	tr, err = Apply(noOrig, officeAPI, Command{Action: ActionReassign, Department: "nanhu"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Ticket.OriginalDueAt.Equal(tr.Ticket.DueAt) {
		t.Errorf("OriginalDueAt = %s, want the new DueAt %s", tr.Ticket.OriginalDueAt, tr.Ticket.DueAt)
	}
}

func TestRequestReturnWindow(t *testing.T) {
	// Dispatched Monday 2026-09-28 09:00; return_window 1wd ends Tuesday 18:00.
	for _, tt := range []struct {
		now  string
		want ErrorCode
	}{
		{"2026-09-28 09:00", ""},
		{"2026-09-29 17:59", ""},
		{"2026-09-29 18:00", ""},
		{"2026-09-29 18:01", ECONFLICT},
		{"2026-10-08 09:00", ECONFLICT},
	} {
		env := testEnv(t, tt.now)
		for _, status := range []Status{StatusDispatched, StatusAccepted} {
			tr, err := Apply(ticketIn(t, status), colleague, Command{Action: ActionRequestReturn, Note: "属地不符"}, env)
			if ErrorCodeOf(err) != tt.want {
				t.Errorf("return at %s from %s: err = %v, want %q", tt.now, status, err, tt.want)
				continue
			}
			if err != nil {
				if !strings.Contains(err.Error(), "2026年09月29日 18:00") {
					t.Errorf("message %q does not say when the window closed", err)
				}
				continue
			}
			tk := tr.Ticket
			if tk.Status != StatusReturnRequested || tk.ReturnFrom != status || tk.ReturnReason != "属地不符" || tk.ReturnRequestedBy != colleague.PersonID {
				t.Errorf("return from %s: %+v", status, tk)
			}
			wantN := []Notification{{Kind: NotifyReturned, To: Recipient{Audience: AudienceOffice}, TicketID: 37, Note: "申请退回：属地不符"}}
			if !reflect.DeepEqual(tr.Notifications, wantN) {
				t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
			}
		}
	}
	// An urgent ticket's 2h window is natural time.
	urgent := ticketIn(t, StatusDispatched)
	urgent.Urgency = UrgencyUrgent
	if _, err := Apply(urgent, colleague, Command{Action: ActionRequestReturn, Note: "x"}, testEnv(t, "2026-09-28 11:00")); err != nil {
		t.Errorf("urgent at +2h: %v", err)
	}
	if _, err := Apply(urgent, colleague, Command{Action: ActionRequestReturn, Note: "x"}, testEnv(t, "2026-09-28 11:01")); ErrorCodeOf(err) != ECONFLICT {
		t.Errorf("urgent at +2h1m: err = %v, want conflict", err)
	}
}

func TestApproveAndRejectReturn(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00")
	rr := ticketIn(t, StatusReturnRequested)

	// Approve without a department: back to pending, deadlines cleared.
	tr, err := Apply(rr, officeClerk, Command{Action: ActionApproveReturn}, env)
	if err != nil {
		t.Fatal(err)
	}
	tk := tr.Ticket
	if tk.Status != StatusPending || tk.Department != "" || tk.AssigneeID != 0 || !tk.DueAt.IsZero() || !tk.SignDueAt.IsZero() ||
		!tk.OriginalDueAt.IsZero() || tk.ReturnRequestedBy != 0 || tk.ReturnFrom != "" {
		t.Errorf("approved to pending: %+v", tk)
	}
	wantN := []Notification{{Kind: NotifyReturned, To: Recipient{Audience: AudiencePerson, PersonID: 11}, TicketID: 37, Note: "已同意退回"}}
	if !reflect.DeepEqual(tr.Notifications, wantN) {
		t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
	}
	if len(tr.Events) != 1 || tr.Events[0].ToStatus != StatusPending || tr.Events[0].ActorID != 90 {
		t.Errorf("events = %+v", tr.Events)
	}

	// Approve to another department: a new dispatch there.
	tr, err = Apply(rr, officeAPI, Command{Action: ActionApproveReturn, Department: "nanhu"}, env)
	if err != nil {
		t.Fatal(err)
	}
	tk = tr.Ticket
	if tk.Status != StatusDispatched || tk.Department != "nanhu" || !tk.DispatchedAt.Equal(env.Now) ||
		!tk.DueAt.Equal(at(t, "2026-10-13 18:00")) || !tk.OriginalDueAt.Equal(tk.DueAt) {
		t.Errorf("approved to nanhu: %+v", tk)
	}
	if len(tr.Events) != 2 || tr.Events[0].Action != ActionApproveReturn || tr.Events[1].Action != ActionDispatch || tr.Events[1].Note != "南湖街道办事处" {
		t.Errorf("events = %+v", tr.Events)
	}
	wantN = []Notification{
		{Kind: NotifyAssigned, To: Recipient{Audience: AudienceDepartmentHandlers, Department: "nanhu"}, TicketID: 37},
		{Kind: NotifyReturned, To: Recipient{Audience: AudiencePerson, PersonID: 11}, TicketID: 37, Note: "已同意退回，已改派南湖街道办事处"},
	}
	if !reflect.DeepEqual(tr.Notifications, wantN) {
		t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
	}

	// Reject: back where it was, with the deadlines it had.
	for _, from := range []Status{StatusDispatched, StatusAccepted} {
		r := rr
		r.ReturnFrom = from
		if from == StatusDispatched {
			r.AssigneeID, r.AcceptedAt = 0, time.Time{}
		}
		tr, err = Apply(r, officeAPI, Command{Action: ActionRejectReturn, Note: "属于本单位职责"}, env)
		if err != nil {
			t.Fatal(err)
		}
		tk = tr.Ticket
		if tk.Status != from || !tk.DueAt.Equal(rr.DueAt) || tk.Department != "longshan" || tk.ReturnFrom != "" || tk.ReturnRequestedBy != 0 {
			t.Errorf("rejected from %s: %+v", from, tk)
		}
		wantN = []Notification{{Kind: NotifyReturned, To: Recipient{Audience: AudiencePerson, PersonID: 11}, TicketID: 37, Note: "退回被驳回：属于本单位职责"}}
		if !reflect.DeepEqual(tr.Notifications, wantN) {
			t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
		}
		if tr.Events[0].ToStatus != from || tr.Events[0].Note != "属于本单位职责" {
			t.Errorf("event = %+v", tr.Events[0])
		}
	}

	// No requester recorded (an older row): no personal notification.
	anon := rr
	anon.ReturnRequestedBy = 0
	tr, err = Apply(anon, officeAPI, Command{Action: ActionApproveReturn}, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Notifications) != 0 {
		t.Errorf("notifications = %+v, want none", tr.Notifications)
	}
}

func TestRequestExtension(t *testing.T) {
	// Accepted; DueAt is 2026-10-10 18:00 (Mon 09-28 + 5wd, the 调休 Saturday).
	base := ticketIn(t, StatusAccepted)
	if want := at(t, "2026-10-10 18:00"); !base.DueAt.Equal(want) {
		t.Fatalf("fixture DueAt = %s, want %s", base.DueAt, want)
	}
	env := testEnv(t, "2026-09-30 10:00")
	tr, err := Apply(base, assigneeActor, Command{Action: ActionRequestExtension, Days: 3, Note: "需协调供电部门"}, env)
	if err != nil {
		t.Fatal(err)
	}
	tk := tr.Ticket
	if tk.ExtensionDays != 3 || tk.ExtensionReason != "需协调供电部门" || tk.ExtensionRequestedBy != 11 || !tk.DueAt.Equal(base.DueAt) || tk.Status != StatusAccepted {
		t.Errorf("requested: %+v", tk)
	}
	wantN := []Notification{
		{Kind: NotifyExtension, To: Recipient{Audience: AudienceDepartmentLeaders, Department: "longshan"}, TicketID: 37, Note: "申请延期 3 个工作日：需协调供电部门"},
		{Kind: NotifyExtension, To: Recipient{Audience: AudienceOffice}, TicketID: 37, Note: "申请延期 3 个工作日：需协调供电部门"},
	}
	if !reflect.DeepEqual(tr.Notifications, wantN) {
		t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
	}

	cases := []struct {
		name  string
		tk    func(Ticket) Ticket
		now   string
		days  int
		code  ErrorCode
		inMsg string
	}{
		{"just before the deadline", nil, "2026-10-10 17:59", 1, "", ""},
		{"at the deadline", nil, "2026-10-10 18:00", 1, ECONFLICT, "延期须在到期前申请"},
		{"after the deadline", nil, "2026-10-12 09:00", 1, ECONFLICT, "已过办理时限"},
		{"one already pending", func(t Ticket) Ticket { t.ExtensionDays, t.ExtensionRequestedBy = 2, 11; return t }, "2026-09-30 10:00", 1, ECONFLICT, "已有一份延期 2 个工作日的申请"},
		{"the whole limit at once", nil, "2026-09-30 10:00", 10, "", ""},
		{"over the limit", nil, "2026-09-30 10:00", 11, EINVALID, "最多还能申请 10 个工作日"},
		{"over what is left", func(t Ticket) Ticket { t.ExtendedDays = 8; return t }, "2026-09-30 10:00", 3, EINVALID, "已延期 8 个工作日，最多还能申请 2 个工作日"},
		{"exactly what is left", func(t Ticket) Ticket { t.ExtendedDays = 8; return t }, "2026-09-30 10:00", 2, "", ""},
		{"nothing left", func(t Ticket) Ticket { t.ExtendedDays = 10; return t }, "2026-09-30 10:00", 1, ECONFLICT, "达到延期上限 10 个工作日"},
		{"zero days", nil, "2026-09-30 10:00", 0, EINVALID, "至少 1 天"},
		{"negative days", nil, "2026-09-30 10:00", -2, EINVALID, "至少 1 天"},
		{"no deadline", func(t Ticket) Ticket { t.DueAt = time.Time{}; return t }, "2026-09-30 10:00", 1, ECONFLICT, "没有办理时限"},
		{"a policy without extensions", func(t Ticket) Ticket { t.Category = "应急"; return t }, "2026-09-30 10:00", 1, ECONFLICT, "不允许延期"},
	}
	for _, c := range cases {
		tk := base
		if c.tk != nil {
			tk = c.tk(tk)
		}
		env := testEnv(t, c.now)
		if tk.Category == "应急" {
			env.Policy.Urgency[UrgencyNormal] = Policy{Sign: Workdays(1), Handle: Workdays(5), ReturnWindow: Workdays(1)}
		}
		_, err := Apply(tk, assigneeActor, Command{Action: ActionRequestExtension, Days: c.days, Note: "理由"}, env)
		if ErrorCodeOf(err) != c.code || (err != nil && !strings.Contains(err.Error(), c.inMsg)) {
			t.Errorf("%s: err = %v (%s), want %q with %q", c.name, err, ErrorCodeOf(err), c.code, c.inMsg)
		}
	}
}

func TestRequestExtensionNaturalTimeLimit(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00")
	env.Policy.Urgency[UrgencyNormal] = Policy{Sign: Workdays(1), Handle: Workdays(5), ReturnWindow: Workdays(1), MaxExtension: Span{Duration: 72 * time.Hour}}
	tk := ticketIn(t, StatusAccepted)
	tk.DueAt, tk.OriginalDueAt = at(t, "2026-10-12 18:00"), at(t, "2026-10-12 18:00") // Monday
	// +3wd is Thursday 10-15 18:00: 72h after the original deadline, allowed.
	if _, err := Apply(tk, assigneeActor, Command{Action: ActionRequestExtension, Days: 3, Note: "x"}, env); err != nil {
		t.Errorf("3wd within 72h: %v", err)
	}
	// +4wd is Friday 10-16 18:00: 96h, refused.
	if _, err := Apply(tk, assigneeActor, Command{Action: ActionRequestExtension, Days: 4, Note: "x"}, env); ErrorCodeOf(err) != EINVALID {
		t.Errorf("4wd beyond 72h: err = %v, want invalid", err)
	}
	// After an approved extension the distance counts from the original deadline.
	tk.DueAt = at(t, "2026-10-14 18:00")
	if _, err := Apply(tk, assigneeActor, Command{Action: ActionRequestExtension, Days: 2, Note: "x"}, env); ErrorCodeOf(err) != EINVALID {
		t.Errorf("2 more wd after 2 approved: err = %v, want invalid", err)
	}
	if _, err := Apply(tk, assigneeActor, Command{Action: ActionRequestExtension, Days: 1, Note: "x"}, env); err != nil {
		t.Errorf("1 more wd after 2 approved: %v", err)
	}
}

func TestDecideExtensionAcrossNationalDay(t *testing.T) {
	pending := ticketIn(t, StatusAccepted)
	pending.DueAt = at(t, "2026-09-30 18:00")
	pending.ExtensionDays, pending.ExtensionReason, pending.ExtensionRequestedBy = 3, "需协调", 11
	pending.ExtendedDays = 1
	env := testEnv(t, "2026-09-29 16:00")

	for _, decider := range []Actor{deptLeader, officeAPI, officeClerk} {
		tr, err := Apply(pending, decider, Command{Action: ActionApproveExtension}, env)
		if err != nil {
			t.Fatalf("approve by %+v: %v", decider, err)
		}
		tk := tr.Ticket
		// 09-30 + 3wd: 10-08, 10-09, 10-10 (调休 Saturday).
		if want := at(t, "2026-10-10 18:00"); !tk.DueAt.Equal(want) {
			t.Errorf("approved DueAt = %s, want %s", tk.DueAt, want)
		}
		if tk.ExtendedDays != 4 || tk.ExtensionDays != 0 || tk.ExtensionReason != "" || tk.ExtensionRequestedBy != 0 || !tk.OriginalDueAt.Equal(pending.OriginalDueAt) {
			t.Errorf("approved: %+v", tk)
		}
		// The push's note fits a template field; the new deadline is the
		// push's .DueAt, and the history keeps the whole sentence.
		wantN := []Notification{{Kind: NotifyExtension, To: Recipient{Audience: AudiencePerson, PersonID: 11}, TicketID: 37, Note: "同意延期 3 个工作日"}}
		if !reflect.DeepEqual(tr.Notifications, wantN) {
			t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
		}
		if want := "同意延期 3 个工作日，办理时限延至 2026年10月10日 18:00"; tr.Events[0].Note != want {
			t.Errorf("event note = %q, want %q", tr.Events[0].Note, want)
		}
		if tr.Events[0].Action != ActionApproveExtension || tr.Events[0].ActorID != decider.PersonID {
			t.Errorf("event = %+v", tr.Events[0])
		}
	}

	tr, err := Apply(pending, deptLeader, Command{Action: ActionRejectExtension, Note: "可在时限内完成"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if tk := tr.Ticket; !tk.DueAt.Equal(pending.DueAt) || tk.ExtendedDays != 1 || tk.ExtensionDays != 0 || tk.ExtensionRequestedBy != 0 {
		t.Errorf("rejected: %+v", tk)
	}
	wantN := []Notification{{Kind: NotifyExtension, To: Recipient{Audience: AudiencePerson, PersonID: 11}, TicketID: 37, Note: "驳回延期 3 个工作日：可在时限内完成"}}
	if !reflect.DeepEqual(tr.Notifications, wantN) {
		t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
	}
	if _, err := Apply(pending, deptLeader, Command{Action: ActionRejectExtension}, env); ErrorCodeOf(err) != EINVALID {
		t.Errorf("reject without reason: err = %v, want invalid", err)
	}
}

func TestFollowUp(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00")
	done := ticketIn(t, StatusCompleted)
	for _, res := range []FollowUpResult{FollowUpSatisfied, FollowUpBasic, "满意", "基本满意"} {
		tr, err := Apply(done, officeAPI, Command{Action: ActionFollowUp, Result: res}, env)
		if err != nil {
			t.Fatalf("%s: %v", res, err)
		}
		tk := tr.Ticket
		if tk.Status != StatusClosed || !tk.ClosedAt.Equal(env.Now) || !tk.FollowUpAt.Equal(env.Now) || !tk.FollowUpResult.Satisfied() || tk.Outcome != done.Outcome {
			t.Errorf("%s: %+v", res, tk)
		}
		if len(tr.Events) != 1 || tr.Events[0].Action != ActionFollowUp || tr.Events[0].ToStatus != StatusClosed || len(tr.Notifications) != 0 {
			t.Errorf("%s: events %+v notifications %+v", res, tr.Events, tr.Notifications)
		}
	}
	if tr, _ := Apply(done, officeAPI, Command{Action: ActionFollowUp, Result: "基本满意"}, env); tr.Ticket.FollowUpResult != FollowUpBasic {
		t.Errorf("Chinese result stored as %q, want %q", tr.Ticket.FollowUpResult, FollowUpBasic)
	}
}

func TestFollowUpUnsatisfiedReopens(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00")
	done := ticketIn(t, StatusCompleted)
	tr, err := Apply(done, officeAPI, Command{Action: ActionFollowUp, Result: FollowUpUnsatisfied, Note: "问题仍未解决"}, env)
	if err != nil {
		t.Fatal(err)
	}
	tk := tr.Ticket
	if tk.Status != StatusDispatched || tk.Department != "longshan" || tk.AssigneeID != 0 || tk.ReopenCount != 1 ||
		!tk.CompletedAt.IsZero() || tk.Outcome != "" || tk.FollowUpResult != FollowUpUnsatisfied || !tk.FollowUpAt.Equal(env.Now) {
		t.Errorf("reopened: %+v", tk)
	}
	if !tk.DispatchedAt.Equal(env.Now) || !tk.SignDueAt.Equal(at(t, "2026-10-08 18:00")) || !tk.DueAt.Equal(at(t, "2026-10-13 18:00")) {
		t.Errorf("new deadlines: dispatched %s sign %s due %s", tk.DispatchedAt, tk.SignDueAt, tk.DueAt)
	}
	if !tk.OriginalDueAt.Equal(done.OriginalDueAt) {
		t.Errorf("OriginalDueAt = %s, want unchanged", tk.OriginalDueAt)
	}
	if len(tr.Events) != 2 ||
		tr.Events[0].Action != ActionFollowUp || tr.Events[0].FromStatus != StatusCompleted || tr.Events[0].ToStatus != StatusCompleted || tr.Events[0].Note != "不满意：问题仍未解决" ||
		tr.Events[1].Action != ActionReopen || tr.Events[1].FromStatus != StatusCompleted || tr.Events[1].ToStatus != StatusDispatched {
		t.Errorf("events = %+v", tr.Events)
	}
	wantN := []Notification{
		{Kind: NotifyReopened, To: Recipient{Audience: AudienceDepartmentHandlers, Department: "longshan"}, TicketID: 37, Note: "回访不满意，请重新办理：问题仍未解决"},
		{Kind: NotifyReopened, To: Recipient{Audience: AudiencePerson, PersonID: 11}, TicketID: 37, Note: "回访不满意，请重新办理：问题仍未解决"},
	}
	if !reflect.DeepEqual(tr.Notifications, wantN) {
		t.Errorf("notifications = %+v, want %+v", tr.Notifications, wantN)
	}

	// A second reopen counts on; a ticket nobody signed notifies the handlers only.
	again := done
	again.ReopenCount, again.AssigneeID = 1, 0
	tr, err = Apply(again, officeAPI, Command{Action: ActionFollowUp, Result: FollowUpUnsatisfied}, env)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Ticket.ReopenCount != 2 || len(tr.Notifications) != 1 || tr.Notifications[0].To.Audience != AudienceDepartmentHandlers {
		t.Errorf("second reopen: count %d notifications %+v", tr.Ticket.ReopenCount, tr.Notifications)
	}

	// An urgent ticket reopens on the urgent policy.
	urgent := done
	urgent.Urgency = UrgencyUrgent
	tr, _ = Apply(urgent, officeAPI, Command{Action: ActionFollowUp, Result: FollowUpUnsatisfied}, env)
	if want := at(t, "2026-10-01 10:00"); !tr.Ticket.DueAt.Equal(want) {
		t.Errorf("urgent reopen DueAt = %s, want %s", tr.Ticket.DueAt, want)
	}

	// A history ticket reopens by the same rules but pushes nothing.
	hist := done
	hist.History = true
	tr, err = Apply(hist, officeAPI, Command{Action: ActionFollowUp, Result: FollowUpUnsatisfied}, env)
	if err != nil || tr.Ticket.Status != StatusDispatched || len(tr.Notifications) != 0 {
		t.Errorf("history reopen: %v %+v %+v", err, tr.Ticket.Status, tr.Notifications)
	}
}

func TestClose(t *testing.T) {
	env := testEnv(t, "2026-09-30 10:00")
	for _, s := range []Status{StatusPending, StatusDispatched, StatusAccepted, StatusReturnRequested, StatusCompleted} {
		tk := ticketIn(t, s)
		tk.ExtensionDays, tk.ExtensionRequestedBy = 1, 11
		tr, err := Apply(tk, officeAPI, Command{Action: ActionClose, Note: "重复工单"}, env)
		if err != nil {
			t.Fatalf("close from %s: %v", s, err)
		}
		if tr.Ticket.Status != StatusClosed || !tr.Ticket.ClosedAt.Equal(env.Now) || tr.Ticket.ExtensionDays != 0 || tr.Ticket.ReturnFrom != "" {
			t.Errorf("closed from %s: %+v", s, tr.Ticket)
		}
		if len(tr.Events) != 1 || tr.Events[0].FromStatus != s || tr.Events[0].Note != "重复工单" || len(tr.Notifications) != 0 {
			t.Errorf("close from %s: %+v %+v", s, tr.Events, tr.Notifications)
		}
	}
}

// TestWholeLifecycle walks one ticket from dispatch to a reopen and a close,
// feeding each transition's ticket into the next.
func TestWholeLifecycle(t *testing.T) {
	tk := ticketIn(t, StatusPending)
	steps := []struct {
		now   string
		actor Actor
		cmd   Command
		want  Status
	}{
		{"2026-09-30 09:00", officeAPI, Command{Action: ActionDispatch, Department: "longshan"}, StatusDispatched},
		{"2026-09-30 09:30", assigneeActor, Command{Action: ActionAccept}, StatusAccepted},
		{"2026-09-30 11:00", assigneeActor, Command{Action: ActionProgress, Note: "已到现场"}, StatusAccepted},
		{"2026-10-09 10:00", assigneeActor, Command{Action: ActionRequestExtension, Days: 2, Note: "等待材料"}, StatusAccepted},
		{"2026-10-09 15:00", deptLeader, Command{Action: ActionApproveExtension}, StatusAccepted},
		{"2026-10-14 10:00", assigneeActor, Command{Action: ActionComplete, Note: "已处理"}, StatusCompleted},
		{"2026-10-15 10:00", officeAPI, Command{Action: ActionFollowUp, Result: FollowUpUnsatisfied}, StatusDispatched},
		{"2026-10-15 11:00", colleague, Command{Action: ActionComplete, Note: "再次处理完毕"}, StatusCompleted},
		{"2026-10-16 10:00", officeAPI, Command{Action: ActionFollowUp, Result: FollowUpBasic}, StatusClosed},
	}
	for i, s := range steps {
		tr, err := Apply(tk, s.actor, s.cmd, testEnv(t, s.now))
		if err != nil {
			t.Fatalf("step %d %s: %v", i, s.cmd.Action, err)
		}
		if tr.Ticket.Status != s.want {
			t.Fatalf("step %d %s: status %s, want %s", i, s.cmd.Action, tr.Ticket.Status, s.want)
		}
		tk = tr.Ticket
		if s.cmd.Action == ActionApproveExtension {
			// 10-13 18:00 + 2wd = 10-15 18:00.
			if want := at(t, "2026-10-15 18:00"); !tk.DueAt.Equal(want) || !tk.OriginalDueAt.Equal(at(t, "2026-10-13 18:00")) {
				t.Fatalf("after extension: due %s original %s", tk.DueAt, tk.OriginalDueAt)
			}
		}
	}
	if tk.ReopenCount != 1 || tk.ExtendedDays != 2 || tk.AssigneeID != colleague.PersonID || tk.Outcome != "再次处理完毕" {
		t.Errorf("final ticket: %+v", tk)
	}
}
