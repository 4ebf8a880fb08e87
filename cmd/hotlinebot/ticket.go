package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/spf13/cobra"
)

func (a *app) ticketCommand() *cobra.Command {
	return group("ticket", "工单：导入、查询、办理",
		a.ticketImportCommand(), a.ticketListCommand(), a.ticketShowCommand(),
		a.ticketEventsCommand(), a.ticketActCommand())
}

// importResultJSON is `ticket import -o json`.
type importResultJSON struct {
	File     string `json:"file"`
	DryRun   bool   `json:"dry_run"`
	Created  int    `json:"created"`
	Existing int    `json:"existing"`
	History  int    `json:"history"`
}

func (a *app) ticketImportCommand() *cobra.Command {
	var opt storage.ImportOptions
	c := &cobra.Command{
		Use:   "import FILE.csv|FILE.xlsx [--dry-run] [--quiet]",
		Short: "从 CSV 或 Excel 文件批量导入工单",
		Long: `从 CSV（UTF-8）或 Excel（.xlsx，第一个工作表）批量导入工单，第一行是表头（列名见 README「导入工单」）。

全部或全不：只要有一行有错，就一件也不导入，并列出每一处错误的行号和列。
已导入过的工单编号不会重复导入，同一文件可以放心再导入一次。
有办结时间的行是历史工单：按原样保存，不推送。`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			res, err := a.importFile(cmd, st, cfg, args[0], opt)
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return a.printJSON(importResultJSON{File: args[0], DryRun: opt.DryRun, Created: res.Created, Existing: res.Existing, History: res.History})
			}
			verb := "已导入"
			if opt.DryRun {
				verb = "试导入（未保存）：将导入"
			}
			history := ""
			if res.History > 0 {
				history = fmt.Sprintf("（其中历史工单 %d 件）", res.History)
			}
			a.printf("%s %s：新建 %d 件%s，已存在 %d 件。\n", verb, args[0], res.Created, history, res.Existing)
			return nil
		},
	}
	c.Flags().BoolVar(&opt.DryRun, "dry-run", false, "只检查文件、报告会导入什么，不保存")
	c.Flags().BoolVar(&opt.Quiet, "quiet", false, "不向承办人推送派单通知")
	return c
}

// importFile reads, checks and imports one file. Problems the file has and
// problems storage finds are reported together: when the file has any,
// storage checks the rows in a dry run so that nothing is stored.
func (a *app) importFile(cmd *cobra.Command, st *storage.Store, cfg *Config, path string, opt storage.ImportOptions) (storage.ImportResult, error) {
	s, err := readSheet(path)
	if err != nil {
		return storage.ImportResult{}, err
	}
	p, err := parseSheet(s, cfg.Location())
	if err != nil {
		return storage.ImportResult{}, err
	}
	if len(p.bad) > 0 {
		opt.DryRun = true
	}
	actor := hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelImport}
	res, err := st.ImportTickets(cmd.Context(), p.rows, actor, a.now(), opt)
	var ie *storage.ImportError
	switch {
	case errors.As(err, &ie):
		return res, p.problems(ie.Rows)
	case err != nil:
		return res, err
	case len(p.bad) > 0:
		return res, p.problems(nil)
	}
	return res, nil
}

func (a *app) ticketListCommand() *cobra.Command {
	var f storage.TicketFilter
	var status string
	var limit int
	c := &cobra.Command{
		Use:   "list [--status S] [--dept C] [--overdue] [--limit N]",
		Short: "列出工单（按编号）",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if status != "" {
				s, err := parseStatus(status)
				if err != nil {
					return err
				}
				f.Status = s
			}
			if limit < 0 {
				return usagef("--limit 不能为负数")
			}
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			if f.Department != "" {
				d, err := st.Department(cmd.Context(), f.Department)
				if err != nil {
					return err
				}
				f.Department = d.Code
			}
			now := a.now()
			f.Now = now
			tickets, err := fetchAll(limit, func(after int64, n int) ([]hotlinebot.Ticket, error) {
				page := f
				page.After, page.Limit = after, n
				return st.ListTickets(cmd.Context(), page)
			}, func(t hotlinebot.Ticket) int64 { return t.ID })
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				out := make([]hotlinebot.TicketJSON, 0, len(tickets))
				for _, t := range tickets {
					out = append(out, hotlinebot.TicketView(t, now, cfg.Location(), false))
				}
				return a.printJSON(out)
			}
			if len(tickets) == 0 {
				a.printf("没有符合条件的工单。\n")
				return nil
			}
			n := a.names(cmd.Context(), st)
			var t table
			t.add("编号", "工单编号", "状态", "单位", "办理时限", "超期", "标题")
			for _, tk := range tickets {
				overdue := ""
				if tk.Overdue(now) {
					overdue = "超期"
				}
				t.add(tk.Ref(), tk.ExternalID, tk.Status.Chinese(), n.department(tk.Department), a.timeText(tk.DueAt), overdue, clip(tk.Title, 30))
			}
			return t.write(a.stdout)
		},
	}
	c.Flags().StringVar(&status, "status", "", "只列这个状态："+statusList())
	c.Flags().StringVar(&f.Department, "dept", "", "只列这个单位的工单（代码或名称）")
	c.Flags().BoolVar(&f.Overdue, "overdue", false, "只列超期的工单（超期未办结或超期办结）")
	c.Flags().IntVar(&limit, "limit", 0, "最多列出多少件（0：全部）")
	return c
}

func statusList() string {
	names := make([]string, len(hotlinebot.Statuses))
	for i, s := range hotlinebot.Statuses {
		names[i] = fmt.Sprintf("%s（%s）", s, s.Chinese())
	}
	return strings.Join(names, "、")
}

// parseStatus accepts a status's English name or its Chinese one.
func parseStatus(s string) (hotlinebot.Status, error) {
	s = strings.TrimSpace(s)
	for _, st := range hotlinebot.Statuses {
		if s == string(st) || s == st.Chinese() {
			return st, nil
		}
	}
	return "", usagef("状态 %q 无效：应为 %s", s, statusList())
}

func (a *app) ticketShowCommand() *cobra.Command {
	var reveal bool
	c := &cobra.Command{
		Use:   "show REF [--reveal-phone]",
		Short: "查看一件工单及其办理经过",
		Long: `查看一件工单及其办理经过。REF 是工单编号（37 或 #37），或市平台的工单编号（全是数字时写作 ext:12345）。
-o json 输出的工单与 GET /api/v1/tickets/{ref} 相同（办理经过用 hotlinebot ticket events REF）。`,
		Args: exactArgs("REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			t, err := st.Ticket(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			now := a.now()
			if reveal && t.CallerPhone != "" {
				// Recorded as the API records it: no status change.
				if _, err := st.RecordEvent(cmd.Context(), hotlinebot.Event{
					TicketID: t.ID, At: now, Action: hotlinebot.ActionReveal, Channel: hotlinebot.ChannelCLI,
					Note: "通过命令行查看来电人完整号码",
				}); err != nil {
					return err
				}
			}
			if a.jsonOutput() {
				return a.printJSON(hotlinebot.TicketView(t, now, cfg.Location(), reveal))
			}
			events, err := st.TicketEvents(cmd.Context(), t.ID)
			if err != nil {
				return err
			}
			n := a.names(cmd.Context(), st)
			a.printTicket(t, now, reveal, n)
			a.printf("\n办理经过：\n")
			return a.eventTable(events, n).write(a.stdout)
		},
	}
	c.Flags().BoolVar(&reveal, "reveal-phone", false, "显示完整的来电号码（记入工单的办理经过）")
	return c
}

func (a *app) printTicket(t hotlinebot.Ticket, now time.Time, reveal bool, n *names) {
	phone := hotlinebot.MaskPhone(t.CallerPhone)
	if reveal {
		phone = t.CallerPhone
	}
	status := t.Status.Chinese()
	if t.Overdue(now) {
		status += "（超期）"
	}
	var tb table
	row := func(k, v string) {
		if v != "" {
			tb.add(k, v)
		}
	}
	row("工单", t.Ref()+"  "+t.ExternalID)
	row("标题", t.Title)
	row("状态", status)
	row("紧急程度", t.Urgency.Chinese())
	row("类别", t.Category)
	row("区域", t.Area)
	row("地址", t.Address)
	row("来电人", t.CallerName)
	row("来电号码", phone)
	row("承办单位", n.department(t.Department))
	if t.AssigneeID != 0 {
		row("承办人", n.person(t.AssigneeID))
	}
	if t.Rule != "" {
		row("路由规则", t.Rule)
	}
	row("受理时间", a.timeText(t.ReceivedAt))
	if !t.DispatchedAt.IsZero() {
		row("派单时间", a.timeText(t.DispatchedAt))
		row("签收时限", a.timeText(t.SignDueAt))
	}
	if !t.DueAt.IsZero() {
		row("办理时限", a.timeText(t.DueAt))
	}
	if !t.AcceptedAt.IsZero() {
		row("签收时间", a.timeText(t.AcceptedAt))
	}
	if !t.CompletedAt.IsZero() {
		row("办结时间", a.timeText(t.CompletedAt))
	}
	row("办理结果", t.Outcome)
	if t.FollowUpResult != "" {
		row("回访", t.FollowUpResult.Chinese()+"（"+a.timeText(t.FollowUpAt)+"）")
	}
	if t.ReopenCount > 0 {
		row("重办次数", fmt.Sprint(t.ReopenCount))
	}
	tb.write(a.stdout)
	if t.Content != "" {
		a.printf("\n%s\n", t.Content)
	}
}

func (a *app) eventTable(events []hotlinebot.Event, n *names) *table {
	var t table
	t.add("时间", "动作", "经办", "渠道", "状态", "说明")
	for _, e := range events {
		who := "-"
		if e.ActorID != 0 {
			who = n.person(e.ActorID)
		}
		change := ""
		if e.FromStatus != e.ToStatus && e.ToStatus != "" {
			change = e.ToStatus.Chinese()
			if e.FromStatus != "" {
				change = e.FromStatus.Chinese() + "→" + change
			}
		}
		t.add(a.timeText(e.At), e.Action.Chinese(), who, string(e.Channel), change, clip(e.Note, 40))
	}
	return &t
}

func (a *app) ticketEventsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "events REF",
		Short: "工单的办理经过（与 GET /api/v1/tickets/{ref}/events 相同）",
		Args:  exactArgs("REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			t, err := st.Ticket(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			events, err := st.TicketEvents(cmd.Context(), t.ID)
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				out := make([]hotlinebot.EventJSON, 0, len(events))
				for _, e := range events {
					out = append(out, hotlinebot.EventView(e, cfg.Location()))
				}
				return a.printJSON(out)
			}
			return a.eventTable(events, a.names(cmd.Context(), st)).write(a.stdout)
		},
	}
}

// officeActions are what `ticket act` takes: the office's actions, as in
// POST /api/v1/tickets/{ref}/actions.
var officeActions = []hotlinebot.Action{
	hotlinebot.ActionDispatch, hotlinebot.ActionReassign, hotlinebot.ActionApproveReturn,
	hotlinebot.ActionRejectReturn, hotlinebot.ActionApproveExtension, hotlinebot.ActionRejectExtension,
	hotlinebot.ActionClose,
}

func officeActionList() string {
	names := make([]string, len(officeActions))
	for i, act := range officeActions {
		names[i] = fmt.Sprintf("%s（%s）", act, act.Chinese())
	}
	return strings.Join(names, "、")
}

func (a *app) ticketActCommand() *cobra.Command {
	var cmdArgs hotlinebot.Command
	c := &cobra.Command{
		Use:   "act REF ACTION [--dept C] [--note T]",
		Short: "以热线办的身份办理工单：派单、改派、审批退回和延期、结案",
		Long: "以热线办的身份办理工单。ACTION：" + officeActionList() + `。
dispatch、reassign 需要 --dept；approve_return 可带 --dept 同时改派；驳回（reject_*）要写明理由 --note。`,
		Example: `  hotlinebot ticket act 37 dispatch --dept longshan
  hotlinebot ticket act '#37' reject_extension --note "诉求简单，请按期办结"`,
		Args: exactArgs("REF", "ACTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			act := hotlinebot.Action(strings.TrimSpace(args[1]))
			if !slices.Contains(officeActions, act) {
				return usagef("动作 %q 无效：应为 %s", args[1], officeActionList())
			}
			cmdArgs.Action = act
			return a.act(cmd, args[0], cmdArgs)
		},
	}
	c.Flags().StringVar(&cmdArgs.Department, "dept", "", "派往的单位（代码或名称）")
	c.Flags().StringVar(&cmdArgs.Note, "note", "", "说明或理由")
	return c
}

// act takes an action on a ticket as the office and prints the ticket as it became.
func (a *app) act(cmd *cobra.Command, ref string, c hotlinebot.Command) error {
	st, cfg, err := a.db(cmd.Context())
	if err != nil {
		return err
	}
	if c.Department != "" {
		d, err := st.Department(cmd.Context(), c.Department)
		if err != nil {
			if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
				return hotlinebot.Errorf(hotlinebot.EINVALID, "没有单位「%s」：用 hotlinebot dept list 查看单位代码", c.Department)
			}
			return err
		}
		c.Department = d.Code
	}
	now := a.now()
	tr, err := st.Act(cmd.Context(), ref, actor(), c, now)
	if err != nil {
		return err
	}
	t := tr.Ticket
	if a.jsonOutput() {
		return a.printJSON(hotlinebot.TicketView(t, now, cfg.Location(), false))
	}
	msg := fmt.Sprintf("%s %s：%s", t.Ref(), c.Action.Chinese(), t.Status.Chinese())
	if t.Department != "" && t.Status.Open() {
		msg += "，承办单位 " + t.Department
	}
	if t.Status.Open() && !t.DueAt.IsZero() {
		msg += "，办理时限 " + a.timeText(t.DueAt)
	}
	a.printf("%s。\n", msg)
	return nil
}

// names tells people and departments by name in text output; a name that
// cannot be found shows as its code or number.
type names struct {
	ctx    context.Context
	st     *storage.Store
	depts  map[string]string
	people map[int64]string
}

func (a *app) names(ctx context.Context, st *storage.Store) *names {
	n := &names{ctx: ctx, st: st, depts: map[string]string{}, people: map[int64]string{}}
	if ds, err := st.ListDepartments(ctx); err == nil {
		for _, d := range ds {
			n.depts[d.Code] = d.Name
		}
	}
	return n
}

func (n *names) department(code string) string {
	if name, ok := n.depts[code]; ok {
		return name
	}
	return orDash(code)
}

func (n *names) person(id int64) string {
	if name, ok := n.people[id]; ok {
		return name
	}
	name := fmt.Sprintf("编号 %d", id)
	if p, err := n.st.Person(n.ctx, id); err == nil {
		name = fmt.Sprintf("%s（%d）", p.Name, id)
	}
	n.people[id] = name
	return name
}
