package storage_test

import (
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// todoIDs is the ids of l's tickets, in order.
func todoIDs(l storage.TodoList) []int64 {
	ids := []int64{}
	for _, tk := range l.Tickets {
		ids = append(ids, tk.ID)
	}
	return ids
}

func wantTodo(t *testing.T, l storage.TodoList, err error, total, overdue int, ids ...int64) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	got := todoIDs(l)
	same := len(got) == len(ids)
	for i := 0; same && i < len(ids); i++ {
		same = got[i] == ids[i]
	}
	if !same || l.Total != total || l.Overdue != overdue {
		t.Fatalf("todo = %v (total %d, overdue %d), want %v (total %d, overdue %d)", got, l.Total, l.Overdue, ids, total, overdue)
	}
}

func TestTodoOrdersLimitsAndCounts(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, storage.NewTicket{ExternalID: "T-A", Department: "longshan"})
	b := f.create(t, storage.NewTicket{ExternalID: "T-B", Department: "longshan"})
	c := f.create(t, storage.NewTicket{ExternalID: "T-C", Department: "longshan"})
	e := f.create(t, storage.NewTicket{ExternalID: "T-E", Department: "longshan", Content: "井盖缺失，夜间危险"})
	d := f.create(t, storage.NewTicket{ExternalID: "T-D", Department: "nanhu"})
	for _, tk := range []hotlinebot.Ticket{c, e} {
		if _, err := f.s.Act(ctx, itoa(tk.ID), f.handler(f.zhang), hotlinebot.Command{Action: hotlinebot.ActionAccept}, t0); err != nil {
			t.Fatal(err)
		}
	}
	// The deadlines each waits on: a its 签收 (before its 办理), b its 办理
	// (no 签收 deadline), c its 办理 (signed), e none, d the soonest but in
	// another department.
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	for _, u := range []struct {
		id        int64
		sign, due any
	}{
		{a.ID, h(5), h(120)}, {b.ID, nil, h(1)}, {c.ID, h(-1), h(3)}, {e.ID, nil, nil}, {d.ID, nil, t0.Add(30 * time.Minute)},
	} {
		if _, err := f.s.DB().ExecContext(ctx, `UPDATE tickets SET sign_due_at = $2, due_at = $3 WHERE id = $1`, u.id, u.sign, u.due); err != nil {
			t.Fatal(err)
		}
	}
	mine := func(dept string) []storage.TodoPart {
		return []storage.TodoPart{
			{Status: hotlinebot.StatusDispatched, Department: dept},
			{Status: hotlinebot.StatusAccepted, AssigneeID: f.zhang.ID},
		}
	}

	l, err := f.s.Todo(ctx, storage.TodoFilter{Parts: mine("longshan"), Now: h(2), Limit: 10})
	wantTodo(t, l, err, 4, 1, b.ID, c.ID, a.ID, e.ID)

	// Only the first are returned, the counts are of them all; the tickets
	// are whole.
	l, err = f.s.Todo(ctx, storage.TodoFilter{Parts: mine("龙山管理处"), Now: h(4), Limit: 2})
	wantTodo(t, l, err, 4, 2, b.ID, c.ID)
	if got := l.Tickets[1]; got.Department != "longshan" || got.AssigneeID != f.zhang.ID || got.Status != hotlinebot.StatusAccepted ||
		got.Content != c.Content || !got.DueAt.Equal(h(3)) || got.DueAt.Location() != t0.Location() {
		t.Fatalf("ticket = %+v", got)
	}

	// An unknown department has no tickets (nor in ListTickets).
	l, err = f.s.Todo(ctx, storage.TodoFilter{Parts: mine("nowhere")[:1], Now: h(2), Limit: 10})
	wantTodo(t, l, err, 0, 0)
	ts, err := f.s.ListTickets(ctx, storage.TicketFilter{Department: "nowhere"})
	if err != nil || len(ts) != 0 {
		t.Fatalf("ListTickets of an unknown department = %v, %v", ts, err)
	}

	// A return under review: the department's, held by the asker or by
	// nobody; an extension request: only tickets that have one.
	if _, err := f.s.DB().ExecContext(ctx, `UPDATE tickets SET status = 'return_requested', assignee_id = NULL WHERE id = $1`, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DB().ExecContext(ctx, `UPDATE tickets SET extension_days = 3 WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	returns := []storage.TodoPart{{Status: hotlinebot.StatusReturnRequested, Department: "nanhu", AssigneeID: f.wang.ID, Unassigned: true}}
	l, err = f.s.Todo(ctx, storage.TodoFilter{Parts: returns, Now: h(2), Limit: 10})
	wantTodo(t, l, err, 1, 1, d.ID)
	if _, err := f.s.DB().ExecContext(ctx, `UPDATE tickets SET assignee_id = $2 WHERE id = $1`, d.ID, f.li.ID); err != nil {
		t.Fatal(err)
	}
	l, err = f.s.Todo(ctx, storage.TodoFilter{Parts: returns, Now: h(2), Limit: 10})
	wantTodo(t, l, err, 0, 0)
	l, err = f.s.Todo(ctx, storage.TodoFilter{Parts: []storage.TodoPart{{Status: hotlinebot.StatusAccepted, Extension: true}}, Now: h(2), Limit: 10})
	wantTodo(t, l, err, 1, 0, e.ID)

	_, err = f.s.Todo(ctx, storage.TodoFilter{Parts: []storage.TodoPart{{Status: "lost"}}, Now: h(2)})
	wantCode(t, err, hotlinebot.EINVALID)
}
