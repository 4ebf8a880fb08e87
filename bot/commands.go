package bot

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// command answers a bound person's chat command.
func (b *Bot) command(t *turn, p hotlinebot.Person, c Command) (string, error) {
	switch c.Verb {
	case VerbHelp, "":
		return helpFor(p, c.Topic), nil
	case VerbBind:
		return b.bind(t, c.Code)
	case VerbTodo:
		return b.todo(t, p)
	case VerbShow:
		return b.show(t, p, c)
	}
	return b.act(t, p, c)
}

func actorOf(p hotlinebot.Person) hotlinebot.Actor {
	return hotlinebot.Actor{PersonID: p.ID, Name: p.Name, Role: p.Role, Department: p.Department, Channel: hotlinebot.ChannelWeChat}
}

// verbAction maps the verbs that change a ticket to the domain's action
// (VerbDispatch becomes reassign for a ticket that has a department), with
// the words a reply uses.
var verbAction = map[Verb]struct {
	action hotlinebot.Action
	word   string // 签收
	none   string // 您目前没有待签收的工单
}{
	VerbAccept:           {hotlinebot.ActionAccept, "签收", "待签收"},
	VerbProgress:         {hotlinebot.ActionProgress, "填写进展", "在办"},
	VerbComplete:         {hotlinebot.ActionComplete, "办结", "可办结"},
	VerbReturn:           {hotlinebot.ActionRequestReturn, "申请退回", "可退回"},
	VerbExtend:           {hotlinebot.ActionRequestExtension, "申请延期", "在办"},
	VerbApproveExtension: {hotlinebot.ActionApproveExtension, "同意延期", "待审批延期"},
	VerbRejectExtension:  {hotlinebot.ActionRejectExtension, "驳回延期", "待审批延期"},
	VerbApproveReturn:    {hotlinebot.ActionApproveReturn, "同意退回", "待审退回"},
	VerbRejectReturn:     {hotlinebot.ActionRejectReturn, "驳回退回", "待审退回"},
	VerbDispatch:         {hotlinebot.ActionDispatch, "派单", "待分派"},
}

// mayTake reports whether a person's role can take the verb at all, and if
// not, who can: with no ticket named there is no ticket to refuse on.
func mayTake(p hotlinebot.Person, v Verb) (bool, string) {
	switch v {
	case VerbAccept, VerbProgress, VerbComplete, VerbReturn, VerbExtend:
		return p.Role == hotlinebot.RoleHandler, "承办人"
	case VerbApproveExtension, VerbRejectExtension:
		return p.Role == hotlinebot.RoleOffice || (p.Role == hotlinebot.RoleLeader && p.Department != ""), "单位领导或热线办"
	case VerbApproveReturn, VerbRejectReturn, VerbDispatch:
		return p.Role == hotlinebot.RoleOffice, "热线办"
	}
	return true, ""
}

// act runs a command that changes a ticket.
func (b *Bot) act(t *turn, p hotlinebot.Person, c Command) (string, error) {
	spec, ok := verbAction[c.Verb]
	if !ok {
		return helpFor(p, ""), nil
	}
	ref := c.Ref
	if ref == "" {
		if ok, who := mayTake(p, c.Verb); !ok {
			return fmt.Sprintf("「%s」由%s办理，您不能%s。发送「帮助」查看您可用的指令。", c.Verb.Word(), who, spec.word), nil
		}
		cands, err := b.applicable(t, p, c.Verb)
		if err != nil {
			return "", err
		}
		switch len(cands) {
		case 0:
			return fmt.Sprintf("您目前没有%s的工单。发送「待办」查看您的工单。", spec.none), nil
		case 1:
			ref = cands[0].Ref()
		default:
			return b.whichOne(t, c, cands), nil
		}
	}
	cur, err := b.store.Ticket(t.ctx, ref)
	if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
		return fmt.Sprintf("没有找到工单 %s，请核对工单号。发送「待办」查看您的工单。", ref), nil
	}
	if err != nil {
		return "", err
	}
	cmd := hotlinebot.Command{Action: spec.action, Note: c.Text, Days: c.Days}
	if c.Verb == VerbDispatch && cur.Status != hotlinebot.StatusPending {
		cmd.Action = hotlinebot.ActionReassign
	}
	if may, _ := mayTake(p, c.Verb); c.Dept != "" && may {
		// (For someone who may not take the action at all the department
		// is left out: the domain refuses them, and the refusal is recorded.)
		code, problem, err := b.findDepartment(t, c.Dept)
		if err != nil {
			return "", err
		}
		if problem != "" {
			return problem + fmt.Sprintf("请写单位的名称或代码，例如：%s %d 龙山管理处。", c.Verb.Word(), cur.ID), nil
		}
		cmd.Department = code
	}
	tr, err := b.store.ActTx(t.ctx, t.tx, cur.Ref(), actorOf(p), cmd, t.now)
	switch code := hotlinebot.ErrorCodeOf(err); code {
	case "":
	case hotlinebot.EFORBIDDEN:
		// Storage recorded a `refused` event in the transaction.
		return "无法办理：" + hotlinebot.ErrorMessage(err) + "。", nil
	case hotlinebot.ECONFLICT, hotlinebot.EINVALID, hotlinebot.ENOTFOUND:
		if cmd.Action == hotlinebot.ActionAccept {
			// The ticket as it is now: a colleague may have signed it
			// since it was read above.
			if now, err := b.store.Ticket(t.ctx, cur.Ref()); err == nil {
				cur = now
			}
		}
		if cmd.Action == hotlinebot.ActionAccept && cur.Status == hotlinebot.StatusAccepted && cur.AssigneeID != 0 {
			if cur.AssigneeID == p.ID {
				return fmt.Sprintf("您已签收过 %s，办理时限 %s。办完后请发送「办结 %d 办理结果」。", cur.Ref(), b.when(cur.DueAt), cur.ID), nil
			}
			// A colleague was quicker: say who, so they can coordinate.
			who, err := b.store.Person(t.ctx, cur.AssigneeID)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s 已由%s签收，正在办理，无需再签收。如需协助请与%s联系。", cur.Ref(), who.Name, who.Name), nil
		}
		return "未能" + spec.word + "：" + hotlinebot.ErrorMessage(err) + "。", nil
	default:
		return "", err
	}
	return b.done(t, c, cmd, cur, tr.Ticket)
}

// findDepartment reads a department as people type it: its code, its name,
// or a part of its name that only one department has ("南湖"). problem
// explains when none or several match.
func (b *Bot) findDepartment(t *turn, text string) (code, problem string, err error) {
	d, err := b.store.Department(t.ctx, text)
	if err == nil {
		return d.Code, "", nil
	}
	if hotlinebot.ErrorCodeOf(err) != hotlinebot.ENOTFOUND {
		return "", "", err
	}
	all, err := b.store.ListDepartments(t.ctx)
	if err != nil {
		return "", "", err
	}
	var names []string
	for _, d := range all {
		if strings.Contains(d.Name, text) {
			code = d.Code
			names = append(names, d.Name)
		}
	}
	switch len(names) {
	case 1:
		return code, "", nil
	case 0:
		return "", fmt.Sprintf("没有找到单位「%s」。", text), nil
	}
	return "", fmt.Sprintf("「%s」可以指%s。", text, strings.Join(names, "、")), nil
}

// done says what happened and what comes next.
func (b *Bot) done(t *turn, c Command, cmd hotlinebot.Command, before, after hotlinebot.Ticket) (string, error) {
	ref := after.Ref()
	named := fmt.Sprintf("%s「%s」", ref, short(after.Title, 20))
	due := b.when(after.DueAt)
	switch cmd.Action {
	case hotlinebot.ActionAccept:
		return fmt.Sprintf("已签收 %s，办理时限 %s。\n办完后请发送「办结 %d 办理结果」；也可发送「进展 %d 内容」「延期 %d 3天 原因」「退回 %d 原因」。",
			named, due, after.ID, after.ID, after.ID, after.ID), nil
	case hotlinebot.ActionProgress:
		return fmt.Sprintf("已记录 %s的进展，办理时限 %s。10 分钟内发送的现场照片会作为办理材料保存。", named, due), nil
	case hotlinebot.ActionComplete:
		return fmt.Sprintf("%s已办结，办理结果已记录，热线办将回访来电人。10 分钟内发送的现场照片会作为办理材料保存。", named), nil
	case hotlinebot.ActionRequestReturn:
		return fmt.Sprintf("已申请退回 %s，等待热线办审核，结果会推送给您。审核前工单仍由本单位负责。", named), nil
	case hotlinebot.ActionRequestExtension:
		return fmt.Sprintf("已申请将 %s延期 %d 个工作日，等待单位领导或热线办审批，结果会推送给您。批准前办理时限仍为 %s。",
			named, cmd.Days, due), nil
	case hotlinebot.ActionApproveExtension:
		return fmt.Sprintf("已同意 %s 延期 %d 个工作日，新的办理时限 %s，已通知申请人。", ref, before.ExtensionDays, due), nil
	case hotlinebot.ActionRejectExtension:
		return fmt.Sprintf("已驳回 %s 的延期申请，办理时限仍为 %s，已通知申请人。", ref, due), nil
	case hotlinebot.ActionRejectReturn:
		return fmt.Sprintf("已驳回 %s 的退回申请，工单继续由原单位办理（%s），办理时限 %s，已通知申请人。", ref, after.Status.Chinese(), due), nil
	case hotlinebot.ActionApproveReturn, hotlinebot.ActionDispatch, hotlinebot.ActionReassign:
		if after.Status == hotlinebot.StatusPending || after.Department == "" {
			return fmt.Sprintf("已同意退回 %s，工单回到待分派。请发送「派 %d 单位」重新派单。", ref, after.ID), nil
		}
		dept, err := b.deptName(t.ctx, after.Department)
		if err != nil {
			return "", err
		}
		what := map[hotlinebot.Action]string{
			hotlinebot.ActionApproveReturn: "已同意退回，并将 %s 改派给%s",
			hotlinebot.ActionDispatch:      "已将 %s 派给%s",
			hotlinebot.ActionReassign:      "已将 %s 改派给%s",
		}[cmd.Action]
		return fmt.Sprintf(what+"，签收时限 %s，办理时限 %s，等待该单位签收。",
			ref, dept, b.when(after.SignDueAt), due), nil
	}
	return fmt.Sprintf("已办理 %s（%s）。", ref, after.Status.Chinese()), nil
}

// when formats a deadline as people read it, in the calendar's time zone.
func (b *Bot) when(t time.Time) string {
	if t.IsZero() {
		return "未定"
	}
	return t.In(b.loc).Format(hotlinebot.LayoutMinute)
}

// applicable lists the tickets a verb without a ref can mean for p. For 办结
// and 退回 the tickets p signed come first: with any of them, only those count.
func (b *Bot) applicable(t *turn, p hotlinebot.Person, v Verb) ([]hotlinebot.Ticket, error) {
	list := func(f storage.TicketFilter) ([]hotlinebot.Ticket, error) {
		f.Limit = 1000
		return b.store.ListTickets(t.ctx, f)
	}
	mine := func() ([]hotlinebot.Ticket, error) {
		return list(storage.TicketFilter{Status: hotlinebot.StatusAccepted, AssigneeID: p.ID})
	}
	deptDispatched := func() ([]hotlinebot.Ticket, error) {
		return list(storage.TicketFilter{Status: hotlinebot.StatusDispatched, Department: p.Department})
	}
	switch v {
	case VerbAccept:
		return deptDispatched()
	case VerbProgress, VerbExtend:
		return mine()
	case VerbComplete, VerbReturn:
		ts, err := mine()
		if err != nil || len(ts) > 0 {
			return ts, err
		}
		return deptDispatched()
	case VerbApproveExtension, VerbRejectExtension:
		f := storage.TicketFilter{Status: hotlinebot.StatusAccepted}
		if p.Role != hotlinebot.RoleOffice {
			f.Department = p.Department
		}
		ts, err := list(f)
		if err != nil {
			return nil, err
		}
		var out []hotlinebot.Ticket
		for _, tk := range ts {
			if tk.ExtensionDays > 0 {
				out = append(out, tk)
			}
		}
		return out, nil
	case VerbApproveReturn, VerbRejectReturn:
		return list(storage.TicketFilter{Status: hotlinebot.StatusReturnRequested})
	case VerbDispatch:
		return list(storage.TicketFilter{Status: hotlinebot.StatusPending})
	}
	return nil, nil
}

// whichOne asks which of several tickets the sender means.
func (b *Bot) whichOne(t *turn, c Command, ts []hotlinebot.Ticket) string {
	sortByDeadline(ts)
	example := c
	example.Ref = ts[0].Ref()
	example.Text = short(example.Text, 12)
	if example.Verb == VerbDispatch && example.Dept == "" {
		example.Dept = "单位"
	}
	head := fmt.Sprintf("您有 %d 件工单可以%s，请写明工单号，例如「%s」：", len(ts), verbAction[c.Verb].word, example.String())
	return head + "\n" + b.ticketLines(t, ts, 10)
}

// todo lists the sender's open tickets, soonest deadline first: for a handler
// their department's tickets waiting to be signed and their own in hand (a
// return under review included); for
// a department leader the department's open tickets; for the office the
// pending ones, the return requests and the pending extensions; for a
// district leader every open ticket.
func (b *Bot) todo(t *turn, p hotlinebot.Person) (string, error) {
	l, err := b.openFor(t, p, 10)
	if err != nil {
		return "", err
	}
	if l.Total == 0 {
		return "您目前没有待办的工单。", nil
	}
	head := fmt.Sprintf("您有 %d 件待办工单", l.Total)
	if l.Overdue > 0 {
		head += fmt.Sprintf("，其中 %d 件已超期", l.Overdue)
	}
	head += "（按期限先后）："
	return head + "\n" + b.ticketLinesOf(t, l.Tickets, l.Total, 10) + "\n发送「查 工单号」查看详情。", nil
}

// openFor is the first max of the sender's open tickets as todo describes
// them, soonest deadline first, with how many there are: the database orders,
// limits and counts them.
func (b *Bot) openFor(t *turn, p hotlinebot.Person, max int) (storage.TodoList, error) {
	var parts []storage.TodoPart
	switch {
	case p.Role == hotlinebot.RoleHandler:
		parts = []storage.TodoPart{
			{Status: hotlinebot.StatusDispatched, Department: p.Department},
			{Status: hotlinebot.StatusAccepted, AssigneeID: p.ID},
			// A return being reviewed is still the department's to
			// handle, and its deadline still runs.
			{Status: hotlinebot.StatusReturnRequested, Department: p.Department, AssigneeID: p.ID, Unassigned: true},
		}
	case p.Role == hotlinebot.RoleLeader && p.Department != "":
		for _, s := range []hotlinebot.Status{hotlinebot.StatusDispatched, hotlinebot.StatusAccepted, hotlinebot.StatusReturnRequested} {
			parts = append(parts, storage.TodoPart{Status: s, Department: p.Department})
		}
	case p.Role == hotlinebot.RoleOffice:
		parts = []storage.TodoPart{
			{Status: hotlinebot.StatusPending},
			{Status: hotlinebot.StatusReturnRequested},
			{Status: hotlinebot.StatusAccepted, Extension: true},
		}
	default: // district leader
		for _, s := range []hotlinebot.Status{hotlinebot.StatusPending, hotlinebot.StatusDispatched, hotlinebot.StatusAccepted, hotlinebot.StatusReturnRequested} {
			parts = append(parts, storage.TodoPart{Status: s})
		}
	}
	return b.store.Todo(t.ctx, storage.TodoFilter{Parts: parts, Now: t.now, Limit: max})
}

// nextDeadline is the deadline a ticket waits on: 签收 while dispatched,
// otherwise 办理; zero for a pending ticket.
func nextDeadline(tk hotlinebot.Ticket) time.Time {
	if tk.Status == hotlinebot.StatusDispatched && !tk.SignDueAt.IsZero() && (tk.DueAt.IsZero() || tk.SignDueAt.Before(tk.DueAt)) {
		return tk.SignDueAt
	}
	return tk.DueAt
}

func sortByDeadline(ts []hotlinebot.Ticket) {
	sort.SliceStable(ts, func(i, j int) bool {
		a, b := nextDeadline(ts[i]), nextDeadline(ts[j])
		switch {
		case a.IsZero() != b.IsZero():
			return !a.IsZero()
		case !a.Equal(b):
			return a.Before(b)
		}
		return ts[i].ID < ts[j].ID
	})
}

// maxListBytes leaves room in a reply for its head and foot.
const maxListBytes = 1500

// ticketLines lists up to max tickets, one line each, and how many more.
func (b *Bot) ticketLines(t *turn, ts []hotlinebot.Ticket, max int) string {
	return b.ticketLinesOf(t, ts, len(ts), max)
}

// ticketLinesOf is ticketLines for ts, the first of total tickets.
func (b *Bot) ticketLinesOf(t *turn, ts []hotlinebot.Ticket, total, max int) string {
	var lines []string
	size := 0
	for i, tk := range ts {
		line := b.ticketLine(t, tk)
		if i >= max || size+len(line) > maxListBytes {
			lines = append(lines, fmt.Sprintf("……还有 %d 件", total-i))
			return strings.Join(lines, "\n")
		}
		lines = append(lines, line)
		size += len(line) + 1
	}
	if total > len(ts) {
		lines = append(lines, fmt.Sprintf("……还有 %d 件", total-len(ts)))
	}
	return strings.Join(lines, "\n")
}

// ticketLine is "#37 待签收 占道经营… 签收时限 2026年12月02日 18:00【已超期】".
func (b *Bot) ticketLine(t *turn, tk hotlinebot.Ticket) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s %s %s", tk.Ref(), tk.Status.Chinese(), short(tk.Title, 14))
	switch {
	case tk.Status == hotlinebot.StatusPending:
	case tk.Status == hotlinebot.StatusReturnRequested:
		s.WriteString(" 理由：" + short(tk.ReturnReason, 12))
	case tk.Status == hotlinebot.StatusDispatched && !tk.SignDueAt.IsZero():
		s.WriteString(" 签收时限 " + b.when(tk.SignDueAt))
		if t.now.After(tk.SignDueAt) && !tk.Overdue(t.now) {
			s.WriteString("【签收已超时】")
		}
	case !tk.DueAt.IsZero():
		s.WriteString(" 办理时限 " + b.when(tk.DueAt))
	}
	if tk.Overdue(t.now) {
		s.WriteString("【已超期】")
	}
	if tk.ExtensionDays > 0 {
		fmt.Fprintf(&s, "【申请延期%d个工作日】", tk.ExtensionDays)
	}
	return s.String()
}

// short cuts s to n characters, ending in "…".
func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	// "…交叉口有人长期占道经营…", not "…占道经营，…".
	head := strings.TrimRightFunc(string([]rune(s)[:n-1]), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r)
	})
	return head + "…"
}

// mayView reports whether p may see the ticket: its department's people, its
// assignee, the office and district leaders.
func mayView(p hotlinebot.Person, tk hotlinebot.Ticket) bool {
	switch {
	case p.Role == hotlinebot.RoleOffice, p.DistrictLeader():
		return true
	case p.Department != "" && p.Department == tk.Department:
		return true
	}
	return tk.AssigneeID != 0 && tk.AssigneeID == p.ID
}

// show answers 查: a ticket's summary and the signed link to its page.
func (b *Bot) show(t *turn, p hotlinebot.Person, c Command) (string, error) {
	ref := c.Ref
	if ref == "" {
		l, err := b.openFor(t, p, 10)
		if err != nil {
			return "", err
		}
		switch l.Total {
		case 0:
			return "您目前没有待办的工单。查看某件工单请发送「查 工单号」，例如：查 37。", nil
		case 1:
			ref = l.Tickets[0].Ref()
		default:
			return fmt.Sprintf("您有 %d 件待办工单，请写明要查看的工单号，例如「查 %d」：\n%s", l.Total, l.Tickets[0].ID, b.ticketLinesOf(t, l.Tickets, l.Total, 10)), nil
		}
	}
	tk, err := b.store.Ticket(t.ctx, ref)
	if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
		return fmt.Sprintf("没有找到工单 %s，请核对工单号。", ref), nil
	}
	if err != nil {
		return "", err
	}
	if !mayView(p, tk) {
		msg := fmt.Sprintf("只有承办单位、热线办和区领导可以查看 %s", tk.Ref())
		if _, err := b.store.RecordEventTx(t.ctx, t.tx, hotlinebot.Event{
			TicketID: tk.ID, At: t.now, Action: hotlinebot.ActionRefused, ActorID: p.ID,
			Channel: hotlinebot.ChannelWeChat, FromStatus: tk.Status, ToStatus: tk.Status, Note: msg,
		}); err != nil {
			return "", err
		}
		return "无法查看：" + msg + "。", nil
	}
	return b.summary(t, p, tk)
}

// summary is a ticket as 查 shows it. The caller's phone stays on the H5
// page, which only the department's handlers see unmasked.
func (b *Bot) summary(t *turn, p hotlinebot.Person, tk hotlinebot.Ticket) (string, error) {
	var s strings.Builder
	fmt.Fprintf(&s, "%s %s\n", tk.Ref(), short(tk.Title, 30))
	status := tk.Status.Chinese()
	if tk.AssigneeID != 0 && tk.Status.Open() {
		if a, err := b.store.Person(t.ctx, tk.AssigneeID); err == nil {
			status += "，签收人 " + a.Name
		} else if hotlinebot.ErrorCodeOf(err) != hotlinebot.ENOTFOUND {
			return "", err
		}
	}
	if tk.Overdue(t.now) {
		status += "【已超期】"
	}
	fmt.Fprintf(&s, "状态：%s\n", status)
	if tk.Department != "" {
		dept, err := b.deptName(t.ctx, tk.Department)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&s, "承办单位：%s\n", dept)
	}
	if tk.ExternalID != "" {
		fmt.Fprintf(&s, "工单编号：%s\n", tk.ExternalID)
	}
	if tk.Category != "" || tk.Area != "" {
		fmt.Fprintf(&s, "类别：%s　区域：%s\n", orDash(tk.Category), orDash(tk.Area))
	}
	if tk.Address != "" {
		fmt.Fprintf(&s, "地址：%s\n", short(tk.Address, 40))
	}
	if tk.Content != "" {
		fmt.Fprintf(&s, "诉求：%s\n", short(tk.Content, 120))
	}
	if tk.Status == hotlinebot.StatusDispatched && !tk.SignDueAt.IsZero() {
		fmt.Fprintf(&s, "签收时限：%s\n", b.when(tk.SignDueAt))
	}
	if !tk.DueAt.IsZero() {
		fmt.Fprintf(&s, "办理时限：%s\n", b.when(tk.DueAt))
	}
	if tk.ExtensionDays > 0 {
		fmt.Fprintf(&s, "延期申请：%d 个工作日，待审批\n", tk.ExtensionDays)
	}
	if tk.Status == hotlinebot.StatusReturnRequested && tk.ReturnReason != "" {
		fmt.Fprintf(&s, "退回理由：%s\n", short(tk.ReturnReason, 60))
	}
	if tk.Outcome != "" {
		fmt.Fprintf(&s, "办理结果：%s\n", short(tk.Outcome, 80))
	}
	if b.links != nil {
		fmt.Fprintf(&s, "详情：%s", b.links.TicketURL(tk.ID, p.ID, t.now))
	}
	return strings.TrimRight(s.String(), "\n"), nil
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
