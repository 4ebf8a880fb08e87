package hotlinebot

import (
	"fmt"
	"strings"
	"time"
)

// Env is what a transition needs besides the ticket and the actor.
type Env struct {
	Now      time.Time
	Calendar Calendar
	Policy   DeadlinePolicy
	// DepartmentNames maps department codes to names, for messages. Optional;
	// when set, a department that dispatch, reassign or approve_return names
	// must be in it.
	DepartmentNames map[string]string
}

// Apply is the ticket lifecycle: it returns what cmd does to t when actor takes
// it at env.Now, or a coded *Error: EFORBIDDEN when the actor may not take the
// action, ECONFLICT when the ticket's status does not allow it, EINVALID for
// bad arguments. It never changes t.
//
// Who may do what (DESIGN.md, "Ticket lifecycle"): the office (RoleOffice,
// PersonID 0 through the API or CLI) and the system (Role "": routing, the
// importer, the scheduler, user disable/move) dispatch and reassign; the
// office also decides returns, records follow-ups and closes; a handler of the
// ticket's department accepts, completes and asks for a return; the assignee
// writes progress and asks for an extension; a leader of the department or
// the office decides an extension. Authority is checked before status, so a
// person outside the department learns nothing about the ticket's state.
//
// A history ticket (t.History) follows the same rules but produces no
// notifications: it is never pushed.
func Apply(t Ticket, actor Actor, cmd Command, env Env) (Transition, error) {
	if env.Now.IsZero() {
		return Transition{}, Errorf(EINTERNAL, "内部错误：处理 %s 时缺少当前时间", t.Ref())
	}
	if env.Calendar == nil {
		return Transition{}, Errorf(EINTERNAL, "内部错误：处理 %s 时缺少工作日历", t.Ref())
	}
	c := &change{old: t, t: t, actor: actor, cmd: cmd, env: env}
	var err error
	switch cmd.Action {
	case ActionDispatch:
		err = c.dispatch()
	case ActionReassign:
		err = c.reassign()
	case ActionAccept:
		err = c.accept()
	case ActionProgress:
		err = c.progress()
	case ActionComplete:
		err = c.complete()
	case ActionRequestReturn:
		err = c.requestReturn()
	case ActionApproveReturn:
		err = c.approveReturn()
	case ActionRejectReturn:
		err = c.rejectReturn()
	case ActionRequestExtension:
		err = c.requestExtension()
	case ActionApproveExtension, ActionRejectExtension:
		err = c.decideExtension()
	case ActionFollowUp:
		err = c.followUp()
	case ActionClose:
		err = c.close()
	default:
		err = Errorf(EINVALID, "%s：不支持的操作 %q", t.Ref(), cmd.Action)
	}
	if err != nil {
		return Transition{}, err
	}
	if t.History {
		c.tr.Notifications = nil
	}
	c.tr.Ticket = c.t
	return c.tr, nil
}

// change is one Apply in progress: old is the ticket as given, t the ticket
// as it becomes.
type change struct {
	old   Ticket
	t     Ticket
	actor Actor
	cmd   Command
	env   Env
	tr    Transition
}

// verbs name each action in messages: short after 不能 ("不能签收"), phrase
// after 只有…可以 with the ticket's ref in it ("签收 #37").
var verbs = map[Action]struct{ short, phrase string }{
	ActionDispatch:         {"派单", "派发 %s"},
	ActionReassign:         {"改派", "改派 %s"},
	ActionAccept:           {"签收", "签收 %s"},
	ActionProgress:         {"填写进展", "填写 %s 的进展"},
	ActionComplete:         {"办结", "办结 %s"},
	ActionRequestReturn:    {"申请退回", "申请退回 %s"},
	ActionApproveReturn:    {"同意退回", "同意 %s 的退回申请"},
	ActionRejectReturn:     {"驳回退回", "驳回 %s 的退回申请"},
	ActionRequestExtension: {"申请延期", "为 %s 申请延期"},
	ActionApproveExtension: {"同意延期", "同意 %s 的延期申请"},
	ActionRejectExtension:  {"驳回延期", "驳回 %s 的延期申请"},
	ActionFollowUp:         {"回访", "回访 %s"},
	ActionClose:            {"结案", "结案 %s"},
}

func (c *change) ref() string { return c.old.Ref() }

// forbidden says who may take the action: "只有龙山管理处的承办人可以签收 #37".
func (c *change) forbidden(who string) error {
	return Errorf(EFORBIDDEN, "只有%s可以%s", who, fmt.Sprintf(verbs[c.cmd.Action].phrase, c.ref()))
}

// conflict says the status does not allow the action: "#37 当前状态为已办结，不能签收".
func (c *change) conflict(hint string) error {
	msg := fmt.Sprintf("%s 当前状态为%s，不能%s", c.ref(), c.old.Status.Chinese(), verbs[c.cmd.Action].short)
	if hint != "" {
		msg += "，" + hint
	}
	return Errorf(ECONFLICT, "%s", msg)
}

func (c *change) invalid(format string, args ...any) error {
	return Errorf(EINVALID, "%s %s", c.ref(), fmt.Sprintf(format, args...))
}

func (c *change) statusIn(statuses ...Status) bool {
	for _, s := range statuses {
		if c.old.Status == s {
			return true
		}
	}
	return false
}

// departmentName is the department as people read it: its name when Env
// knows it, else its code.
func (c *change) departmentName(code string) string {
	if name := c.env.DepartmentNames[code]; name != "" {
		return name
	}
	return code
}

func (c *change) when(t time.Time) string {
	return t.In(c.env.Calendar.Location()).Format(LayoutMinute)
}

// officeOrSystem admits those who dispatch.
func (c *change) officeOrSystem() error {
	if c.actor.Role == RoleOffice || c.actor.Role == "" {
		return nil
	}
	return c.forbidden("热线办")
}

func (c *change) office() error {
	if c.actor.Role == RoleOffice {
		return nil
	}
	return c.forbidden("热线办")
}

// departmentHandler admits a handler of the ticket's department. A ticket
// with no department (pending) belongs to no handler yet: for a handler that
// is its status's doing, not theirs.
func (c *change) departmentHandler() error {
	a := c.actor
	if a.Role == RoleHandler && a.Department != "" && a.Department == c.old.Department {
		return nil
	}
	if a.Role == RoleHandler && c.old.Department == "" {
		return c.conflict("")
	}
	return c.forbidden(c.departmentWho() + "的承办人")
}

// assignee admits the handler who signed the ticket (checked after
// departmentHandler and the status).
func (c *change) assignee() error {
	if c.actor.PersonID != 0 && c.actor.PersonID == c.old.AssigneeID {
		return nil
	}
	return c.forbidden("签收人")
}

// extensionDecider admits a leader of the ticket's department or the office.
func (c *change) extensionDecider() error {
	a := c.actor
	if a.Role == RoleOffice {
		return nil
	}
	if a.Role == RoleLeader && a.Department != "" && a.Department == c.old.Department {
		return nil
	}
	if a.Role == RoleLeader && a.Department != "" && c.old.Department == "" {
		return c.conflict("")
	}
	return c.forbidden(c.departmentWho() + "的领导或热线办")
}

// departmentWho names the ticket's department for "只有…可以".
func (c *change) departmentWho() string {
	if c.old.Department == "" {
		return "承办单位"
	}
	return c.departmentName(c.old.Department)
}

// target checks the department a command names.
func (c *change) target() (string, error) {
	d := strings.TrimSpace(c.cmd.Department)
	if d == "" {
		return "", c.invalid("%s需要指定承办单位", verbs[c.cmd.Action].short)
	}
	if c.env.DepartmentNames != nil {
		if _, ok := c.env.DepartmentNames[d]; !ok {
			return "", c.invalid("%s：承办单位 %s 不存在", verbs[c.cmd.Action].short, d)
		}
	}
	return d, nil
}

func (c *change) event(a Action, from, to Status, note string) {
	c.tr.Events = append(c.tr.Events, Event{
		TicketID:   c.old.ID,
		At:         c.env.Now,
		Action:     a,
		ActorID:    c.actor.PersonID,
		Channel:    c.actor.Channel,
		FromStatus: from,
		ToStatus:   to,
		Note:       note,
	})
}

func (c *change) notify(kind NotificationKind, to Recipient, note string) {
	c.tr.Notifications = append(c.tr.Notifications, Notification{Kind: kind, To: to, TicketID: c.old.ID, Note: note})
}

func (c *change) notifyHandlers(kind NotificationKind, dept, note string) {
	c.notify(kind, Recipient{Audience: AudienceDepartmentHandlers, Department: dept}, note)
}

func (c *change) notifyPerson(kind NotificationKind, person int64, note string) {
	if person != 0 {
		c.notify(kind, Recipient{Audience: AudiencePerson, PersonID: person}, note)
	}
}

func (c *change) policy() Policy { return c.env.Policy.For(c.old.Urgency, c.old.Category) }

// dispatchTo sends the ticket to dept with deadlines counted from now: due
// when given, else the policy's. keepOriginal keeps an OriginalDueAt already set.
func (c *change) dispatchTo(dept string, due time.Time, keepOriginal bool) {
	p, now, cal := c.policy(), c.env.Now, c.env.Calendar
	c.t.Status = StatusDispatched
	c.t.Department = dept
	c.t.AssigneeID = 0
	c.t.AcceptedAt = time.Time{}
	c.t.DispatchedAt = now
	c.t.SignDueAt = p.Sign.After(cal, now)
	if due.IsZero() {
		due = p.Handle.After(cal, now)
	}
	c.t.DueAt = due
	if !keepOriginal || c.t.OriginalDueAt.IsZero() {
		c.t.OriginalDueAt = due
	}
	c.clearReturn()
	c.clearExtension()
}

func (c *change) clearReturn() {
	c.t.ReturnFrom, c.t.ReturnReason, c.t.ReturnRequestedBy = "", "", 0
}

func (c *change) clearExtension() {
	c.t.ExtensionDays, c.t.ExtensionReason, c.t.ExtensionRequestedBy = 0, "", 0
}

// withNote joins a fixed part of a note and the person's free text.
func withNote(fixed, note string) string {
	if note = strings.TrimSpace(note); note == "" {
		return fixed
	}
	if fixed == "" {
		return note
	}
	return fixed + "：" + note
}

func (c *change) dispatch() error {
	if err := c.officeOrSystem(); err != nil {
		return err
	}
	if !c.statusIn(StatusPending) {
		return c.conflict("")
	}
	dept, err := c.target()
	if err != nil {
		return err
	}
	c.dispatchTo(dept, c.cmd.DueAt, false)
	c.event(ActionDispatch, StatusPending, StatusDispatched, withNote(c.departmentName(dept), c.cmd.Note))
	c.notifyHandlers(NotifyAssigned, dept, "")
	return nil
}

// reassign moves the ticket to another department as a new dispatch, or,
// to the same department, frees it from its assignee (who left) with the
// deadlines kept.
func (c *change) reassign() error {
	if err := c.officeOrSystem(); err != nil {
		return err
	}
	if !c.statusIn(StatusDispatched, StatusAccepted, StatusReturnRequested) {
		return c.conflict("")
	}
	dept, err := c.target()
	if err != nil {
		return err
	}
	if dept != c.old.Department {
		c.dispatchTo(dept, c.cmd.DueAt, true)
	} else {
		c.t.Status = StatusDispatched
		c.t.AssigneeID = 0
		c.t.AcceptedAt = time.Time{}
		c.clearReturn()
		c.clearExtension()
	}
	c.event(ActionReassign, c.old.Status, StatusDispatched, withNote(c.departmentName(dept), c.cmd.Note))
	c.notifyHandlers(NotifyAssigned, dept, "")
	return nil
}

func (c *change) signedBy() error {
	if c.actor.PersonID == 0 {
		return c.invalid("签收人不明，不能%s", verbs[c.cmd.Action].short)
	}
	c.t.Status = StatusAccepted
	c.t.AssigneeID = c.actor.PersonID
	c.t.AcceptedAt = c.env.Now
	c.event(ActionAccept, StatusDispatched, StatusAccepted, "")
	return nil
}

func (c *change) accept() error {
	if err := c.departmentHandler(); err != nil {
		return err
	}
	if !c.statusIn(StatusDispatched) {
		return c.conflict("")
	}
	return c.signedBy()
}

func (c *change) progress() error {
	if err := c.departmentHandler(); err != nil {
		return err
	}
	if !c.statusIn(StatusAccepted) {
		return c.conflict(signFirst(c.old.Status))
	}
	if err := c.assignee(); err != nil {
		return err
	}
	note := strings.TrimSpace(c.cmd.Note)
	if note == "" {
		return c.invalid("填写进展需要写明进展内容")
	}
	c.event(ActionProgress, StatusAccepted, StatusAccepted, note)
	return nil
}

func signFirst(s Status) string {
	if s == StatusDispatched {
		return "请先签收"
	}
	return ""
}

// complete records the outcome; from dispatched the actor signs first, so the
// history shows who took it.
func (c *change) complete() error {
	if err := c.departmentHandler(); err != nil {
		return err
	}
	if !c.statusIn(StatusDispatched, StatusAccepted) {
		return c.conflict("")
	}
	outcome := strings.TrimSpace(c.cmd.Note)
	if outcome == "" {
		return c.invalid("办结需要填写办理结果")
	}
	if c.old.Status == StatusDispatched {
		if err := c.signedBy(); err != nil {
			return err
		}
	}
	c.t.Status = StatusCompleted
	c.t.CompletedAt = c.env.Now
	c.t.Outcome = outcome
	c.clearExtension() // the work is done: a pending extension is moot
	c.event(ActionComplete, StatusAccepted, StatusCompleted, outcome)
	return nil
}

func (c *change) requestReturn() error {
	if err := c.departmentHandler(); err != nil {
		return err
	}
	if !c.statusIn(StatusDispatched, StatusAccepted) {
		return c.conflict("")
	}
	reason := strings.TrimSpace(c.cmd.Note)
	if reason == "" {
		return c.invalid("申请退回需要填写理由")
	}
	until := c.policy().ReturnWindow.After(c.env.Calendar, c.old.DispatchedAt)
	if c.env.Now.After(until) {
		return Errorf(ECONFLICT, "%s 的退回时限已过（截至 %s），不能申请退回", c.ref(), c.when(until))
	}
	c.t.Status = StatusReturnRequested
	c.t.ReturnFrom = c.old.Status
	c.t.ReturnReason = reason
	c.t.ReturnRequestedBy = c.actor.PersonID
	c.event(ActionRequestReturn, c.old.Status, StatusReturnRequested, reason)
	c.notify(NotifyReturned, Recipient{Audience: AudienceOffice}, withNote("申请退回", reason))
	return nil
}

// approveReturn takes the ticket back to pending, or, with a department,
// on to that department as a new dispatch (recorded as approve_return then
// dispatch).
func (c *change) approveReturn() error {
	if err := c.office(); err != nil {
		return err
	}
	if !c.statusIn(StatusReturnRequested) {
		return c.conflict("")
	}
	var dept string
	if strings.TrimSpace(c.cmd.Department) != "" {
		var err error
		if dept, err = c.target(); err != nil {
			return err
		}
		if dept == c.old.Department {
			return c.invalid("同意退回后不能再派回%s；如需该单位继续办理，请驳回退回", c.departmentName(dept))
		}
	}
	requester := c.old.ReturnRequestedBy
	c.t.Status = StatusPending
	c.t.Department = ""
	c.t.AssigneeID = 0
	c.t.AcceptedAt = time.Time{}
	c.t.DispatchedAt = time.Time{}
	c.t.SignDueAt = time.Time{}
	c.t.DueAt = time.Time{}
	c.t.OriginalDueAt = time.Time{}
	c.clearReturn()
	c.clearExtension()
	c.event(ActionApproveReturn, StatusReturnRequested, StatusPending, strings.TrimSpace(c.cmd.Note))
	note := "已同意退回"
	if dept != "" {
		c.dispatchTo(dept, c.cmd.DueAt, false)
		c.event(ActionDispatch, StatusPending, StatusDispatched, c.departmentName(dept))
		c.notifyHandlers(NotifyAssigned, dept, "")
		note += "，已改派" + c.departmentName(dept)
	}
	c.notifyPerson(NotifyReturned, requester, note)
	return nil
}

func (c *change) rejectReturn() error {
	if err := c.office(); err != nil {
		return err
	}
	if !c.statusIn(StatusReturnRequested) {
		return c.conflict("")
	}
	reason := strings.TrimSpace(c.cmd.Note)
	if reason == "" {
		return c.invalid("驳回退回需要填写理由")
	}
	back := c.old.ReturnFrom
	if back != StatusDispatched && back != StatusAccepted {
		back = StatusDispatched
		if c.old.AssigneeID != 0 {
			back = StatusAccepted
		}
	}
	requester := c.old.ReturnRequestedBy
	c.t.Status = back
	c.clearReturn()
	c.event(ActionRejectReturn, StatusReturnRequested, back, reason)
	c.notifyPerson(NotifyReturned, requester, withNote("退回被驳回", reason))
	return nil
}

func (c *change) requestExtension() error {
	if err := c.departmentHandler(); err != nil {
		return err
	}
	if !c.statusIn(StatusAccepted) {
		return c.conflict(signFirst(c.old.Status))
	}
	if err := c.assignee(); err != nil {
		return err
	}
	days := c.cmd.Days
	if days < 1 {
		return c.invalid("申请延期需要写明延期的工作日数（至少 1 天）")
	}
	reason := strings.TrimSpace(c.cmd.Note)
	if reason == "" {
		return c.invalid("申请延期需要填写理由")
	}
	if c.old.ExtensionDays > 0 {
		return Errorf(ECONFLICT, "%s 已有一份延期 %d 个工作日的申请等待审批", c.ref(), c.old.ExtensionDays)
	}
	if c.old.DueAt.IsZero() {
		return Errorf(ECONFLICT, "%s 没有办理时限，无需延期", c.ref())
	}
	if !c.env.Now.Before(c.old.DueAt) {
		return Errorf(ECONFLICT, "%s 已过办理时限（%s），延期须在到期前申请", c.ref(), c.when(c.old.DueAt))
	}
	if err := c.withinExtensionLimit(days); err != nil {
		return err
	}
	c.t.ExtensionDays = days
	c.t.ExtensionReason = reason
	c.t.ExtensionRequestedBy = c.actor.PersonID
	note := fmt.Sprintf("%d 个工作日：%s", days, reason)
	c.event(ActionRequestExtension, StatusAccepted, StatusAccepted, note)
	c.notify(NotifyExtension, Recipient{Audience: AudienceDepartmentLeaders, Department: c.old.Department}, "申请延期 "+note)
	c.notify(NotifyExtension, Recipient{Audience: AudienceOffice}, "申请延期 "+note)
	return nil
}

// withinExtensionLimit checks MaxExtension: in working days the approved
// days plus these; in natural time the distance from the original deadline
// to the deadline this request would give.
func (c *change) withinExtensionLimit(days int) error {
	limit := c.policy().MaxExtension
	if limit.Duration > 0 && limit.Workdays == 0 {
		orig := c.old.OriginalDueAt
		if orig.IsZero() {
			orig = c.old.DueAt
		}
		newDue := c.env.Calendar.AddWorkdays(c.old.DueAt, days)
		if newDue.Sub(orig) > limit.Duration {
			return c.invalid("延期后办理时限将为 %s，超出原时限 %s 后 %s 的延期上限", c.when(newDue), c.when(orig), limit)
		}
		return nil
	}
	if limit.Workdays <= 0 {
		return Errorf(ECONFLICT, "%s 不允许延期：延期上限为 0", c.ref())
	}
	left := limit.Workdays - c.old.ExtendedDays
	if left <= 0 {
		return Errorf(ECONFLICT, "%s 已延期 %d 个工作日，达到延期上限 %d 个工作日，不能再延期", c.ref(), c.old.ExtendedDays, limit.Workdays)
	}
	if days > left {
		return c.invalid("延期总计不能超过 %d 个工作日：已延期 %d 个工作日，最多还能申请 %d 个工作日", limit.Workdays, c.old.ExtendedDays, left)
	}
	return nil
}

func (c *change) decideExtension() error {
	if err := c.extensionDecider(); err != nil {
		return err
	}
	if !c.statusIn(StatusAccepted, StatusReturnRequested) {
		return c.conflict("")
	}
	if c.old.ExtensionDays <= 0 {
		return Errorf(ECONFLICT, "%s 没有待审批的延期申请", c.ref())
	}
	days, requester := c.old.ExtensionDays, c.old.ExtensionRequestedBy
	// The push's note is short (a template field holds 20 characters; the
	// new deadline travels in its own time field); the history has it all.
	var note, push string
	if c.cmd.Action == ActionApproveExtension {
		c.t.DueAt = c.env.Calendar.AddWorkdays(c.old.DueAt, days)
		c.t.ExtendedDays = c.old.ExtendedDays + days
		push = fmt.Sprintf("同意延期 %d 个工作日", days)
		note = fmt.Sprintf("同意延期 %d 个工作日，办理时限延至 %s", days, c.when(c.t.DueAt))
		note = withNote(note, c.cmd.Note)
	} else {
		reason := strings.TrimSpace(c.cmd.Note)
		if reason == "" {
			return c.invalid("驳回延期需要填写理由")
		}
		note = withNote(fmt.Sprintf("驳回延期 %d 个工作日", days), reason)
		push = note
	}
	c.clearExtension()
	c.event(c.cmd.Action, c.old.Status, c.old.Status, note)
	c.notifyPerson(NotifyExtension, requester, push)
	return nil
}

// followUp records the 回访. Satisfied closes the ticket; 不满意 reopens it to
// the same department with new deadlines from now (a follow_up event, then a
// reopen event).
func (c *change) followUp() error {
	if err := c.office(); err != nil {
		return err
	}
	if !c.statusIn(StatusCompleted) {
		return c.conflict("")
	}
	if c.cmd.Result == "" {
		return c.invalid("回访需要填写回访结果：满意、基本满意或不满意")
	}
	res, err := ParseFollowUpResult(string(c.cmd.Result))
	if err != nil {
		return c.invalid("回访结果 %q 无效：应为 满意、基本满意或不满意", c.cmd.Result)
	}
	now := c.env.Now
	c.t.FollowUpResult = res
	c.t.FollowUpAt = now
	note := withNote(res.Chinese(), c.cmd.Note)
	if res.Satisfied() {
		c.t.Status = StatusClosed
		c.t.ClosedAt = now
		c.event(ActionFollowUp, StatusCompleted, StatusClosed, note)
		return nil
	}
	c.event(ActionFollowUp, StatusCompleted, StatusCompleted, note)

	last := c.old.AssigneeID
	p, cal := c.policy(), c.env.Calendar
	c.t.ReopenCount++
	c.t.CompletedAt = time.Time{}
	c.t.Outcome = ""
	c.t.AssigneeID = 0
	c.t.AcceptedAt = time.Time{}
	c.clearReturn()
	c.clearExtension()
	if c.old.Department == "" {
		// Nobody to send it back to (a history row without a department):
		// the office dispatches it.
		c.t.Status = StatusPending
		c.t.DispatchedAt, c.t.SignDueAt, c.t.DueAt = time.Time{}, time.Time{}, time.Time{}
		c.event(ActionReopen, StatusCompleted, StatusPending, strings.TrimSpace(c.cmd.Note))
		return nil
	}
	c.t.Status = StatusDispatched
	c.t.DispatchedAt = now
	c.t.SignDueAt = p.Sign.After(cal, now)
	c.t.DueAt = p.Handle.After(cal, now)
	if c.t.OriginalDueAt.IsZero() {
		c.t.OriginalDueAt = c.t.DueAt
	}
	c.event(ActionReopen, StatusCompleted, StatusDispatched, strings.TrimSpace(c.cmd.Note))
	pushNote := withNote("回访不满意，请重新办理", c.cmd.Note)
	c.notifyHandlers(NotifyReopened, c.old.Department, pushNote)
	c.notifyPerson(NotifyReopened, last, pushNote)
	return nil
}

func (c *change) close() error {
	if err := c.office(); err != nil {
		return err
	}
	if c.old.Status == StatusClosed {
		return c.conflict("")
	}
	c.t.Status = StatusClosed
	c.t.ClosedAt = c.env.Now
	c.clearReturn()
	c.clearExtension()
	c.event(ActionClose, c.old.Status, StatusClosed, strings.TrimSpace(c.cmd.Note))
	return nil
}
