package storage_test

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

const testRules = `
[[rule]]
name = "龙山片区"
department = "longshan"
area = ["龙山管理处"]

[[rule]]
name = "南湖燃气"
department = "nanhu"
keywords = ["燃气"]
urgency = "urgent"

[default]
department = ""
`

func (f *fixture) rules(t *testing.T) {
	t.Helper()
	if _, err := f.s.ReplaceRules(ctx, testRules, "钱办事员", t0); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) create(t *testing.T, in storage.NewTicket) hotlinebot.Ticket {
	t.Helper()
	if in.Title == "" {
		in.Title = "占道经营"
	}
	if in.Content == "" {
		in.Content = "路口有摊贩占道经营"
	}
	tk, created, err := f.s.CreateTicket(ctx, in, api, t0)
	if err != nil || !created {
		t.Fatalf("CreateTicket %s: created %v, %v", in.ExternalID, created, err)
	}
	return tk
}

func TestCreateTicketRoutesAndDispatches(t *testing.T) {
	f := newFixture(t)
	f.rules(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "YY-1", Area: "龙山管理处", Category: "市容市貌", CallerPhone: "13800000000"})
	if tk.Status != hotlinebot.StatusDispatched || tk.Department != "longshan" || tk.Rule != "龙山片区" ||
		tk.Urgency != hotlinebot.UrgencyNormal || !tk.ReceivedAt.Equal(t0) || !tk.DispatchedAt.Equal(t0) {
		t.Fatalf("ticket = %+v", tk)
	}
	// 5 working days from Tuesday 2026-12-01: Tuesday 2026-12-08 18:00.
	if want := time.Date(2026, 12, 8, 18, 0, 0, 0, t0.Location()); !tk.DueAt.Equal(want) || !tk.OriginalDueAt.Equal(want) {
		t.Fatalf("due %v (original %v), want %v", tk.DueAt, tk.OriginalDueAt, want)
	}
	got, err := f.s.Ticket(ctx, tk.Ref())
	if err != nil || got != tk {
		t.Fatalf("stored ticket differs:\n got %+v\nwant %+v (%v)", got, tk, err)
	}
	evs := events(t, f.s, tk.ID)
	if strings.Join(actions(evs), ",") != "create,dispatch" || evs[0].Channel != hotlinebot.ChannelAPI ||
		evs[1].FromStatus != hotlinebot.StatusPending || evs[1].ToStatus != hotlinebot.StatusDispatched {
		t.Fatalf("events = %+v", evs)
	}

	// The assigned push goes to the department's bound handlers only.
	ps := pushesTo(pushes(t, f.s), hotlinebot.NotifyAssigned)
	if len(ps) != 2 || ps[f.zhang.ID].Key == "" || ps[f.li.ID].Key == "" {
		t.Fatalf("assigned pushes = %+v", ps)
	}
	d := ps[f.zhang.ID].data(t)
	want := hotlinebot.TemplateData{Ref: tk.Ref(), ExternalID: "YY-1", Title: "占道经营", Category: "市容市貌",
		Department: "龙山管理处", Status: "待签收", DueAt: "2026年12月08日 18:00"}
	if d != want {
		t.Fatalf("template data = %+v, want %+v", d, want)
	}
	if k := ps[f.zhang.ID].Key; !strings.HasPrefix(k, "evt:") || !strings.HasSuffix(k, ":assigned:"+itoa(f.zhang.ID)) {
		t.Fatalf("dedupe key %q", k)
	}

	// A keyword rule sets the urgency; a given department skips routing.
	gas := f.create(t, storage.NewTicket{ExternalID: "YY-2", Title: "燃气泄漏", Area: "龙山管理处x"})
	if gas.Department != "nanhu" || gas.Urgency != hotlinebot.UrgencyUrgent || gas.Rule != "南湖燃气" {
		t.Fatalf("gas ticket = %+v", gas)
	}
	direct := f.create(t, storage.NewTicket{ExternalID: "YY-3", Title: "燃气泄漏", Department: "龙山管理处",
		DueAt: t0.Add(48 * time.Hour)})
	if direct.Department != "longshan" || direct.Rule != "" || !direct.DueAt.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("direct ticket = %+v", direct)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestCreateTicketValidates(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		in    storage.NewTicket
		field string
	}{
		{storage.NewTicket{Title: "t", Content: "c"}, "external_id"},
		{storage.NewTicket{ExternalID: "x", Content: "c"}, "title"},
		{storage.NewTicket{ExternalID: "x", Title: "t"}, "content"},
		{storage.NewTicket{ExternalID: "x", Title: "t", Content: "c", Urgency: "soon"}, "紧急程度"},
		{storage.NewTicket{ExternalID: "x", Title: "t", Content: "c", Department: "nowhere"}, "nowhere"},
	} {
		_, _, err := f.s.CreateTicket(ctx, c.in, api, t0)
		wantCode(t, err, hotlinebot.EINVALID, c.field)
	}
	if ts, _ := f.s.ListTickets(ctx, storage.TicketFilter{}); len(ts) != 0 {
		t.Fatalf("invalid tickets stored: %+v", ts)
	}
}

func TestCreateTicketPendingTellsOffice(t *testing.T) {
	f := newFixture(t)
	f.rules(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "P-1", Area: "别处"})
	if tk.Status != hotlinebot.StatusPending || tk.Department != "" || !tk.DueAt.IsZero() {
		t.Fatalf("pending ticket = %+v", tk)
	}
	ps := pushes(t, f.s)
	if len(ps) != 1 || ps[0].Kind != "notice" || ps[0].PersonID != f.clerk.ID || !strings.Contains(ps[0].data(t).Note, "待热线办分派") {
		t.Fatalf("pushes = %+v", ps)
	}
}

func TestCreateTicketIdempotentUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	f.rules(t)
	in := storage.NewTicket{ExternalID: "DUP-1", Title: "噪音", Content: "夜间施工", Area: "龙山管理处"}
	const n = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[int64]bool{}
		created int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, c, err := f.s.CreateTicket(ctx, in, api, t0)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[tk.ID] = true
			if c {
				created++
			}
		}()
	}
	wg.Wait()
	if created != 1 || len(ids) != 1 {
		t.Fatalf("%d callers created, %d distinct tickets; want 1 and 1", created, len(ids))
	}
	var creates int
	if err := f.s.DB().GetContext(ctx, &creates, `SELECT count(*) FROM ticket_events WHERE action = 'create'`); err != nil || creates != 1 {
		t.Fatalf("%d create events (%v), want 1", creates, err)
	}
	if got := len(pushesTo(pushes(t, f.s), hotlinebot.NotifyAssigned)); got != 2 {
		t.Fatalf("%d assigned pushes, want 2 (one per handler)", got)
	}
	// A later identical call returns the stored ticket unchanged.
	tk, c, err := f.s.CreateTicket(ctx, storage.NewTicket{ExternalID: "DUP-1", Title: "别的", Content: "别的"}, api, t0.Add(time.Hour))
	if err != nil || c || tk.Title != "噪音" {
		t.Fatalf("repeat = %+v, %v, %v", tk, c, err)
	}
}

func TestTicketRefsAndLists(t *testing.T) {
	f := newFixture(t)
	f.rules(t)
	a := f.create(t, storage.NewTicket{ExternalID: "123", Area: "龙山管理处"})
	b := f.create(t, storage.NewTicket{ExternalID: "YY-B", Area: "别处"})
	c := f.create(t, storage.NewTicket{ExternalID: "YY-C", Department: "nanhu"})
	for ref, want := range map[string]int64{
		itoa(a.ID): a.ID, "#" + itoa(b.ID): b.ID, "＃" + itoa(c.ID): c.ID, "ext:123": a.ID, "YY-B": b.ID, " YY-C ": c.ID,
	} {
		got, err := f.s.Ticket(ctx, ref)
		if err != nil || got.ID != want {
			t.Errorf("Ticket(%q) = #%d, %v; want #%d", ref, got.ID, err, want)
		}
	}
	_, err := f.s.Ticket(ctx, "#999")
	wantCode(t, err, hotlinebot.ENOTFOUND, "#999")
	_, err = f.s.Ticket(ctx, "nope")
	wantCode(t, err, hotlinebot.ENOTFOUND, "nope")

	list := func(flt storage.TicketFilter) []int64 {
		t.Helper()
		ts, err := f.s.ListTickets(ctx, flt)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, tk := range ts {
			ids = append(ids, tk.ID)
		}
		return ids
	}
	eq := func(got []int64, want ...int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	}
	eq(list(storage.TicketFilter{}), a.ID, b.ID, c.ID)
	eq(list(storage.TicketFilter{Status: hotlinebot.StatusPending}), b.ID)
	eq(list(storage.TicketFilter{Department: "nanhu"}), c.ID)
	eq(list(storage.TicketFilter{Department: "南湖街道办事处"}), c.ID)
	eq(list(storage.TicketFilter{After: a.ID, Limit: 1}), b.ID)
	eq(list(storage.TicketFilter{Overdue: true, Now: t0.Add(24 * time.Hour)}))
	eq(list(storage.TicketFilter{Overdue: true, Now: t0.AddDate(0, 1, 0)}), a.ID, c.ID)

	if _, err := f.s.Act(ctx, itoa(a.ID), f.handler(f.zhang), hotlinebot.Command{Action: hotlinebot.ActionAccept}, t0); err != nil {
		t.Fatal(err)
	}
	eq(list(storage.TicketFilter{AssigneeID: f.zhang.ID}), a.ID)
	_, err = f.s.ListTickets(ctx, storage.TicketFilter{Status: "lost"})
	wantCode(t, err, hotlinebot.EINVALID)
}

func (f *fixture) handler(p hotlinebot.Person) hotlinebot.Actor {
	return hotlinebot.Actor{PersonID: p.ID, Name: p.Name, Role: p.Role, Department: p.Department, Channel: hotlinebot.ChannelWeChat}
}

func TestActWritesTicketEventsAndPushes(t *testing.T) {
	var added atomic.Int32
	f := newFixture(t, storage.Options{OutboxAdded: func() { added.Add(1) }})
	f.rules(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "A-1", Area: "龙山管理处"})
	if added.Load() != 1 {
		t.Fatalf("OutboxAdded called %d times after a create, want 1", added.Load())
	}
	before := len(pushes(t, f.s))

	tr, err := f.s.Act(ctx, tk.Ref(), f.handler(f.zhang), hotlinebot.Command{Action: hotlinebot.ActionAccept}, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Ticket.Status != hotlinebot.StatusAccepted || tr.Ticket.AssigneeID != f.zhang.ID || tr.Ticket.Version != tk.Version+1 {
		t.Fatalf("after accept: %+v", tr.Ticket)
	}
	if len(tr.Events) != 1 || tr.Events[0].ID == 0 || tr.Events[0].ActorID != f.zhang.ID {
		t.Fatalf("events = %+v", tr.Events)
	}
	stored, _ := f.s.Ticket(ctx, tk.Ref())
	if stored != tr.Ticket {
		t.Fatalf("stored %+v\nreturned %+v", stored, tr.Ticket)
	}

	// Reassigning to nanhu, where the only handler is unbound: nobody gets
	// the push, so the office is told.
	added.Store(0)
	if _, err := f.s.Act(ctx, tk.Ref(), office, hotlinebot.Command{Action: hotlinebot.ActionReassign, Department: "南湖街道办事处"}, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ps := pushes(t, f.s)[before:]
	if len(ps) != 1 || ps[0].Kind != "notice" || ps[0].PersonID != f.clerk.ID {
		t.Fatalf("pushes after reassign = %+v", ps)
	}
	if note := ps[0].data(t).Note; note != "南湖街道办事处无承办人可收推送，"+tk.Ref()+"待签收" {
		t.Fatalf("notice = %q", note)
	}
	if added.Load() != 1 {
		t.Fatalf("OutboxAdded called %d times, want 1", added.Load())
	}
	got, _ := f.s.Ticket(ctx, tk.Ref())
	if got.Department != "nanhu" || got.Status != hotlinebot.StatusDispatched || got.AssigneeID != 0 {
		t.Fatalf("after reassign: %+v", got)
	}
	_, err = f.s.Act(ctx, tk.Ref(), office, hotlinebot.Command{Action: hotlinebot.ActionReassign, Department: "nowhere"}, t0)
	wantCode(t, err, hotlinebot.EINVALID, "nowhere")
	_, err = f.s.Act(ctx, "#999", office, hotlinebot.Command{Action: hotlinebot.ActionClose}, t0)
	wantCode(t, err, hotlinebot.ENOTFOUND)
}

func TestActRefusedIsRecorded(t *testing.T) {
	f := newFixture(t)
	f.rules(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "R-1", Area: "龙山管理处"})
	// A handler of another department tries to sign.
	_, err := f.s.Act(ctx, tk.Ref(), f.handler(f.wang), hotlinebot.Command{Action: hotlinebot.ActionAccept}, t0.Add(time.Minute))
	wantCode(t, err, hotlinebot.EFORBIDDEN)
	evs := events(t, f.s, tk.ID)
	last := evs[len(evs)-1]
	if last.Action != hotlinebot.ActionRefused || last.ActorID != f.wang.ID || last.Channel != hotlinebot.ChannelWeChat ||
		last.Note != hotlinebot.ErrorMessage(err) || last.FromStatus != hotlinebot.StatusDispatched || last.ToStatus != hotlinebot.StatusDispatched {
		t.Fatalf("refused event = %+v", last)
	}
	if got, _ := f.s.Ticket(ctx, tk.Ref()); got.Version != tk.Version || got.Status != hotlinebot.StatusDispatched {
		t.Fatalf("a refused action changed the ticket: %+v", got)
	}
	// A conflict (wrong status) is returned but not recorded as refused.
	_, err = f.s.Act(ctx, tk.Ref(), office, hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: hotlinebot.FollowUpSatisfied}, t0)
	wantCode(t, err, hotlinebot.ECONFLICT)
	if n := len(events(t, f.s, tk.ID)); n != len(evs) {
		t.Fatalf("a conflict recorded an event")
	}
}

func TestPersonLeavingReturnsTickets(t *testing.T) {
	for _, c := range []struct {
		name   string
		leave  func(f *fixture) error
		reason string
	}{
		{"disable", func(f *fixture) error { return f.s.DisablePerson(ctx, f.zhang.ID, office, t0.Add(time.Hour)) }, "已停用"},
		{"move", func(f *fixture) error { return f.s.MovePerson(ctx, f.zhang.ID, "nanhu", office, t0.Add(time.Hour)) }, "已调离"},
		{"unbind", func(f *fixture) error { return f.s.UnbindPerson(ctx, f.zhang.ID, office, t0.Add(time.Hour)) }, "解绑"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.rules(t)
			mine := f.create(t, storage.NewTicket{ExternalID: "L-1", Area: "龙山管理处"})
			other := f.create(t, storage.NewTicket{ExternalID: "L-2", Area: "龙山管理处"})
			for _, tk := range []hotlinebot.Ticket{mine, other} {
				by := f.zhang
				if tk.ID == other.ID {
					by = f.li
				}
				if _, err := f.s.Act(ctx, tk.Ref(), f.handler(by), hotlinebot.Command{Action: hotlinebot.ActionAccept}, t0); err != nil {
					t.Fatal(err)
				}
			}
			before := len(pushes(t, f.s))
			if err := c.leave(f); err != nil {
				t.Fatal(err)
			}
			got, _ := f.s.Ticket(ctx, mine.Ref())
			if got.Status != hotlinebot.StatusDispatched || got.Department != "longshan" || got.AssigneeID != 0 || !got.DueAt.Equal(mine.DueAt) {
				t.Fatalf("left ticket = %+v", got)
			}
			evs := events(t, f.s, mine.ID)
			last := evs[len(evs)-1]
			if last.Action != hotlinebot.ActionReassign || last.Channel != hotlinebot.ChannelCLI || last.ActorID != 0 ||
				last.FromStatus != hotlinebot.StatusAccepted || !strings.Contains(last.Note, c.reason) {
				t.Fatalf("reassign event = %+v", last)
			}
			if o, _ := f.s.Ticket(ctx, other.Ref()); o.Status != hotlinebot.StatusAccepted || o.AssigneeID != f.li.ID {
				t.Fatalf("someone else's ticket changed: %+v", o)
			}
			// The department's remaining reachable handler is told.
			ps := pushesTo(pushes(t, f.s)[before:], hotlinebot.NotifyAssigned)
			if _, ok := ps[f.li.ID]; !ok {
				t.Fatalf("pushes after leaving = %+v", ps)
			}
			if _, ok := ps[f.zhang.ID]; ok && c.name != "move" {
				t.Fatalf("the leaver was pushed: %+v", ps)
			}
		})
	}
}

func TestRecordEvent(t *testing.T) {
	f := newFixture(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "E-1", Department: "longshan"})
	ev, err := f.s.RecordEvent(ctx, hotlinebot.Event{TicketID: tk.ID, At: t0.Add(time.Minute), Action: hotlinebot.ActionReveal,
		Channel: hotlinebot.ChannelAPI, FromStatus: tk.Status, ToStatus: tk.Status, Note: "查看来电号码"})
	if err != nil || ev.ID == 0 {
		t.Fatalf("RecordEvent = %+v, %v", ev, err)
	}
	evs := events(t, f.s, tk.ID)
	if strings.Join(actions(evs), ",") != "create,dispatch,reveal" || evs[2].Note != "查看来电号码" || evs[2].ActorID != 0 {
		t.Fatalf("events = %+v", evs)
	}
	_, err = f.s.RecordEvent(ctx, hotlinebot.Event{TicketID: 999, At: t0, Action: hotlinebot.ActionReveal, Channel: hotlinebot.ChannelAPI})
	wantCode(t, err, hotlinebot.ENOTFOUND)
	// Events are a record: the database refuses to rewrite them.
	if _, err := f.s.DB().ExecContext(ctx, `UPDATE ticket_events SET note = 'x' WHERE id = $1`, ev.ID); err == nil {
		t.Fatal("an event was rewritten")
	}
}
