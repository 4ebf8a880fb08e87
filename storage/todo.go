package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
)

// A TodoPart is one share of a person's open tickets (待办): the tickets in
// Status, narrowed as the other fields say.
type TodoPart struct {
	Status     hotlinebot.Status
	Department string // code or name; "" for every department
	AssigneeID int64  // held by this person; 0 for whoever holds it
	Unassigned bool   // with AssigneeID: the tickets nobody holds as well
	Extension  bool   // only the tickets with an extension request to decide
}

// TodoFilter selects the tickets of any of its Parts.
type TodoFilter struct {
	Parts []TodoPart
	Now   time.Time // when a ticket counts as overdue
	Limit int       // how many tickets to return (pageLimit applies)
}

// TodoList is the first tickets of a TodoFilter, soonest deadline first,
// and what they are of.
type TodoList struct {
	Tickets []hotlinebot.Ticket
	Total   int // every ticket selected, Tickets included
	Overdue int // of Total, those past their 办理 deadline (Ticket.Overdue)
}

// deadlineSQL is the deadline a ticket t waits on: 签收 while dispatched (when
// it comes first), otherwise 办理; NULL when it has none.
const deadlineSQL = `CASE WHEN t.status = 'dispatched' AND t.sign_due_at IS NOT NULL
		AND (t.due_at IS NULL OR t.sign_due_at < t.due_at) THEN t.sign_due_at ELSE t.due_at END`

// Todo lists the tickets of f's parts, soonest deadline first (those without
// one last, then by id), up to f.Limit of them, with how many there are in
// all and how many of those are overdue. Only the tickets returned are read
// in full.
func (s *Store) Todo(ctx context.Context, f TodoFilter) (TodoList, error) {
	l := TodoList{Tickets: []hotlinebot.Ticket{}}
	if f.Now.IsZero() {
		return l, hotlinebot.Errorf(hotlinebot.EINTERNAL, "storage: TodoFilter needs Now")
	}
	if len(f.Parts) == 0 {
		return l, nil
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var parts []string
	for _, p := range f.Parts {
		if !p.Status.Valid() {
			return l, hotlinebot.Errorf(hotlinebot.EINVALID, "状态（status）%q 无效", p.Status)
		}
		c := `t.status = ` + arg(string(p.Status))
		if p.Department != "" {
			d := arg(strings.TrimSpace(p.Department))
			c += ` AND t.department_id = ANY (ARRAY(SELECT id FROM departments WHERE code = ` + d + ` OR name = ` + d + `))`
		}
		if p.AssigneeID != 0 {
			a := `t.assignee_id = ` + arg(p.AssigneeID)
			if p.Unassigned {
				a = `(` + a + ` OR t.assignee_id IS NULL)`
			}
			c += ` AND ` + a
		}
		if p.Extension {
			c += ` AND t.extension_days > 0`
		}
		parts = append(parts, `(`+c+`)`)
	}
	now := arg(f.Now)
	limit := arg(pageLimit(f.Limit))
	var rows []struct {
		ticketRow
		Total   int `db:"todo_total"`
		Overdue int `db:"todo_overdue"`
	}
	err := s.db.SelectContext(ctx, &rows, `
		WITH open AS (
			SELECT t.id, `+deadlineSQL+` AS deadline, `+overdueSQL(now)+` AS overdue
			FROM tickets t WHERE `+strings.Join(parts, ` OR `)+`
		), shown AS (
			SELECT id, deadline FROM open ORDER BY deadline NULLS LAST, id LIMIT `+limit+`
		)
		SELECT `+ticketColumns+`,
		       (SELECT count(*) FROM open) AS todo_total,
		       (SELECT count(*) FROM open WHERE overdue) AS todo_overdue
		FROM shown f JOIN tickets t ON t.id = f.id LEFT JOIN departments d ON d.id = t.department_id
		ORDER BY f.deadline NULLS LAST, t.id`, args...)
	if err != nil {
		return l, fmt.Errorf("storage: todo: %w", err)
	}
	for _, r := range rows {
		l.Tickets = append(l.Tickets, ticketIn(r.ticket(), s.location()))
		l.Total, l.Overdue = r.Total, r.Overdue
	}
	return l, nil
}
