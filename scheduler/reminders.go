package scheduler

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// planReminders gives the 签收 stage (a reminder at each before_sign offset,
// then the missed deadline) and the 办理 reminders (each before_due offset).
// Offsets in working days count back on the calendar (Span.Before).
//
// A reminder whose moment is not after the ticket's dispatch is not planned: a ticket that arrives with little time left is not reminded of
// offsets it never had (an urgent ticket with 30 minutes to sign gets no
// "2 hours left" message). When several reminders of one stage are due at
// once (the scheduler was stopped for a while), only the latest is sent.
func (s *Scheduler) planReminders(t hotlinebot.Ticket) []storage.Alarm {
	cal := s.opts.Calendar
	var out []storage.Alarm
	early := func(at time.Time) bool { return !t.DispatchedAt.IsZero() && !at.After(t.DispatchedAt) }
	if !t.SignDueAt.IsZero() {
		for _, sp := range s.opts.Reminders.BeforeSign {
			if at := sp.Before(cal, t.SignDueAt); !early(at) {
				out = append(out, storage.Alarm{TicketID: t.ID, Stage: storage.StageSign, Span: sp.String(), Deadline: t.SignDueAt, FireAt: at})
			}
		}
		out = append(out, storage.Alarm{TicketID: t.ID, Stage: storage.StageSignMissed, Deadline: t.SignDueAt, FireAt: t.SignDueAt})
	}
	if !t.DueAt.IsZero() {
		for _, sp := range s.opts.Reminders.BeforeDue {
			if at := sp.Before(cal, t.DueAt); !early(at) {
				out = append(out, storage.Alarm{TicketID: t.ID, Stage: storage.StageDue, Span: sp.String(), Deadline: t.DueAt, FireAt: at})
			}
		}
	}
	return out
}

// remind queues one reminder: before the 签收 deadline to the department's
// handlers; before the 办理 deadline to the assignee, or to the department's
// handlers when there is none or the assignee cannot be reached. It records
// a `remind` event either way.
func (s *Scheduler) remind(tx *storage.AlarmTx, due storage.DueTicket, a storage.Alarm) error {
	t := due.Ticket
	deadline := s.short(a.Deadline)
	handlers := hotlinebot.Recipient{Audience: hotlinebot.AudienceDepartmentHandlers, Department: t.Department}
	to, who := handlers, due.DepartmentName+"承办人"
	stage, note := "签收", "请于"+deadline+"前签收"
	if a.Stage == storage.StageDue {
		stage, note = "办理", "请于"+deadline+"前办结"
		if t.AssigneeID != 0 {
			assignee := hotlinebot.Recipient{Audience: hotlinebot.AudienceAssignee}
			n, err := tx.Reachable(hotlinebot.Notification{Kind: hotlinebot.NotifyReminder, To: assignee, TicketID: t.ID})
			if err != nil {
				return err
			}
			if n > 0 {
				to, who = assignee, "承办人"
			}
		}
	}
	n := hotlinebot.Notification{Kind: hotlinebot.NotifyReminder, To: to, TicketID: t.ID, Note: note}
	reach, err := tx.Reachable(n)
	if err != nil {
		return err
	}
	// With nobody to reach, EnqueueTx tells the office instead.
	if _, err := tx.Enqueue(n, a.DedupeKey()); err != nil {
		return err
	}
	sent := fmt.Sprintf("已提醒%s（%d人）", who, reach)
	if reach == 0 {
		sent = who + "无人可接收，已告知热线办"
	}
	return tx.Record(hotlinebot.Event{
		TicketID: t.ID, Action: hotlinebot.ActionRemind, FromStatus: t.Status, ToStatus: t.Status,
		Note: fmt.Sprintf("%s时限%s前%s提醒：%s", stage, deadline, spanChinese(a.Span), sent),
	})
}

// short is a moment as a push's note shows it: "10月13日18:00".
func (s *Scheduler) short(t time.Time) string {
	return t.In(s.opts.Location).Format("01月02日15:04")
}

// spanChinese reads a configured span aloud: "1wd" → "1个工作日", "2h" →
// "2小时", "1h30m" → "1小时30分钟", "0s" → "".
func spanChinese(span string) string {
	sp, err := hotlinebot.ParseSpan(span)
	if err != nil {
		return span
	}
	if sp.Workdays > 0 {
		return strconv.Itoa(sp.Workdays) + "个工作日"
	}
	d := sp.Duration
	var b strings.Builder
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%d小时", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%d分钟", m)
		d -= m * time.Minute
	}
	if sec := d / time.Second; sec > 0 {
		fmt.Fprintf(&b, "%d秒", sec)
	}
	return b.String()
}
