package scheduler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// planEscalation gives the first crossing of the 办理 deadline (an `overdue`
// event, no push) and each [[escalation]] step, After the deadline on the
// calendar (Span.After: "1wd" is the end of the next working day).
//
// The chain belongs to the deadline: completing the ticket, a return request,
// a reassignment or an extension stops it (fire finds the ticket no longer
// working on that deadline), and a new deadline plans it again from the
// first step. The overdue pushes are these steps and nothing else.
func (s *Scheduler) planEscalation(t hotlinebot.Ticket) []storage.Alarm {
	if t.DueAt.IsZero() {
		return nil
	}
	out := []storage.Alarm{{TicketID: t.ID, Stage: storage.StageOverdue, Deadline: t.DueAt, FireAt: t.DueAt}}
	for i, st := range s.opts.Escalation {
		out = append(out, storage.Alarm{
			TicketID: t.ID, Stage: storage.StageEscalate, Step: i, Span: st.After.String(), Notify: notifyKey(st),
			Deadline: t.DueAt, FireAt: st.After.After(s.opts.Calendar, t.DueAt),
		})
	}
	return out
}

// notifyKey names a step's audiences as its alarm carries them
// (storage.Alarm.Notify): "assignee+department_leaders", sorted, so the same
// audiences listed in another order are the same step.
func notifyKey(st Step) string {
	names := make([]string, len(st.Notify))
	for i, a := range st.Notify {
		names[i] = string(a)
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), "+")
}

// step finds the configured step an escalation alarm belongs to by what it
// is (its offset and its audiences), not by the index it was planned at:
// the steps may have been reordered, or one inserted, since. It returns the
// step's place in the current list.
func (s *Scheduler) step(a storage.Alarm) (int, Step, bool) {
	for i, st := range s.opts.Escalation {
		if st.After.String() == a.Span && notifyKey(st) == a.Notify {
			return i, st, true
		}
	}
	return 0, Step{}, false
}

// overdue records the first crossing of the 办理 deadline, once per deadline.
func (s *Scheduler) overdue(tx *storage.AlarmTx, due storage.DueTicket, a storage.Alarm) error {
	t := due.Ticket
	return tx.Record(hotlinebot.Event{
		TicketID: t.ID, Action: hotlinebot.ActionOverdue, FromStatus: t.Status, ToStatus: t.Status,
		Note: "超过办理时限（" + s.short(a.Deadline) + "）",
	})
}

// signMissed tells the department's leaders, once, that nobody signed the
// ticket by its 签收 deadline.
func (s *Scheduler) signMissed(tx *storage.AlarmTx, due storage.DueTicket, a storage.Alarm) error {
	t := due.Ticket
	say := notes{what: "超过签收时限未签收", ask: "请督促"}
	summary, err := s.deliver(tx, due, []hotlinebot.Audience{hotlinebot.AudienceDepartmentLeaders}, say, a.DedupeKey())
	if err != nil {
		return err
	}
	return tx.Record(hotlinebot.Event{
		TicketID: t.ID, Action: hotlinebot.ActionEscalate, FromStatus: t.Status, ToStatus: t.Status,
		Note: "超过签收时限" + s.short(a.Deadline) + "未签收：" + summary,
	})
}

// escalate runs the escalation step of alarm a: `overdue` pushes to the
// assignee and the department's handlers, `escalation` pushes to leaders and
// the office.
func (s *Scheduler) escalate(tx *storage.AlarmTx, due storage.DueTicket, a storage.Alarm) error {
	t := due.Ticket
	i, st, ok := s.step(a)
	if !ok { // applies voids such an alarm
		return fmt.Errorf("scheduler: %s: no escalation step %s after %s", t.Ref(), a.Notify, a.Span)
	}
	// The push carries the deadline in .DueAt; its note stays short enough
	// for a template's thing field (20 characters).
	say := notes{what: "已超过办理时限未办结", ask: "请督办", overdue: "已超过办理时限，请尽快办结"}
	when := "超过办理时限" + s.short(a.Deadline)
	if late := spanChinese(a.Span); late != "" {
		say.what, say.overdue = "超期"+late+"未办结", "已超期"+late+"，请尽快办结"
		when = "超期" + late
	}
	summary, err := s.deliver(tx, due, st.Notify, say, a.DedupeKey())
	if err != nil {
		return err
	}
	return tx.Record(hotlinebot.Event{
		TicketID: t.ID, Action: hotlinebot.ActionEscalate, FromStatus: t.Status, ToStatus: t.Status,
		Note: fmt.Sprintf("第%d级督办（%s）：%s", i+1, when, summary),
	})
}

// notes are what an escalation's pushes say, each short enough for a
// template's thing field (20 characters; the template shows the ticket, its
// department and its deadline beside it): what happened ("超期1个工作日未办结"),
// what the leaders are asked ("请督办"), and the assignee's and handlers'
// line.
type notes struct{ what, ask, overdue string }

// delivery is one push of an escalation: to whom, of which kind, saying what.
type delivery struct {
	to    hotlinebot.Recipient
	kind  hotlinebot.NotificationKind
	label string
	note  string
}

// deliver queues a step's pushes to audiences under key. An audience with
// nobody reachable is not silently dropped: the assignee falls back to the
// department's handlers, and anyone else (the handlers, the leaders) to the
// office. The history says so in full ("龙山管理处没有已绑定的领导，改发热线办"),
// and so does the office's push, with what happened, in its 20 characters
// ("超期1个工作日未办结，单位无已绑定领导"). The same final recipient named
// twice gets one push. It returns a summary for the ticket's history.
func (s *Scheduler) deliver(tx *storage.AlarmTx, due storage.DueTicket, audiences []hotlinebot.Audience, say notes, key string) (string, error) {
	t := due.Ticket
	dept := due.DepartmentName
	office := hotlinebot.Recipient{Audience: hotlinebot.AudienceOffice}
	escalationNote := say.what + "，" + say.ask
	var plan []*delivery
	add := func(to hotlinebot.Recipient, kind hotlinebot.NotificationKind, label, note string) {
		for _, d := range plan {
			if d.to == to {
				return
			}
		}
		plan = append(plan, &delivery{to: to, kind: kind, label: label, note: note})
	}
	reachable := func(to hotlinebot.Recipient) (bool, error) {
		n, err := tx.Reachable(hotlinebot.Notification{Kind: hotlinebot.NotifyEscalation, To: to, TicketID: t.ID})
		return n > 0, err
	}
	// fallbacks say in the history why the office was told instead; missing
	// says it in the office's push.
	var fallbacks, missing []string
	toOffice := func(why, short string) {
		if !slices.Contains(fallbacks, why) {
			fallbacks = append(fallbacks, why)
			missing = append(missing, short)
		}
		add(office, hotlinebot.NotifyEscalation, "热线办", "")
	}
	for _, aud := range audiences {
		switch aud {
		case hotlinebot.AudienceAssignee, hotlinebot.AudienceDepartmentHandlers:
			if aud == hotlinebot.AudienceAssignee && t.AssigneeID != 0 {
				to := hotlinebot.Recipient{Audience: hotlinebot.AudienceAssignee}
				ok, err := reachable(to)
				if err != nil {
					return "", err
				}
				if ok {
					add(to, hotlinebot.NotifyOverdue, "承办人", say.overdue)
					continue
				}
			}
			to := hotlinebot.Recipient{Audience: hotlinebot.AudienceDepartmentHandlers, Department: t.Department}
			ok, err := reachable(to)
			if err != nil {
				return "", err
			}
			if ok {
				add(to, hotlinebot.NotifyOverdue, dept+"承办人", say.overdue)
			} else {
				toOffice(dept+"没有已绑定的承办人，改发热线办", "单位无已绑定承办人")
			}
		case hotlinebot.AudienceDepartmentLeaders:
			to := hotlinebot.Recipient{Audience: hotlinebot.AudienceDepartmentLeaders, Department: t.Department}
			ok, err := reachable(to)
			if err != nil {
				return "", err
			}
			if ok {
				add(to, hotlinebot.NotifyEscalation, dept+"领导", escalationNote)
			} else {
				toOffice(dept+"没有已绑定的领导，改发热线办", "单位无已绑定领导")
			}
		case hotlinebot.AudienceDistrictLeaders:
			to := hotlinebot.Recipient{Audience: hotlinebot.AudienceDistrictLeaders}
			ok, err := reachable(to)
			if err != nil {
				return "", err
			}
			if ok {
				add(to, hotlinebot.NotifyEscalation, "区领导", escalationNote)
			} else {
				toOffice("没有已绑定的区领导，改发热线办", "无已绑定的区领导")
			}
		case hotlinebot.AudienceOffice:
			add(office, hotlinebot.NotifyEscalation, "热线办", escalationNote)
		}
	}
	var told []string
	for _, d := range plan {
		if d.to == office {
			d.note = escalationNote
			if len(missing) > 0 {
				d.note = say.what + "，" + strings.Join(missing, "，")
			}
			// The last resort: when even the office has nobody bound, the
			// history says so (EnqueueTx logs it).
			ok, err := reachable(office)
			if err != nil {
				return "", err
			}
			if !ok {
				d.label += "（热线办无人可接收）"
			}
		}
		n := hotlinebot.Notification{Kind: d.kind, To: d.to, TicketID: t.ID, Note: d.note}
		if _, err := tx.Enqueue(n, key); err != nil {
			return "", err
		}
		told = append(told, d.label)
	}
	summary := "已告知" + strings.Join(told, "、")
	if len(fallbacks) > 0 {
		summary += "（" + strings.Join(fallbacks, "；") + "）"
	}
	return summary, nil
}
