package storage_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

var importer = hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelImport}

func at(m time.Month, d, h, min int) time.Time { return storagetest.At(2026, m, d, h, min) }

func count(t *testing.T, s *storage.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().GetContext(ctx, &n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportAllOrNothing(t *testing.T) {
	f := newFixture(t)
	rows := []storage.NewTicket{
		{ExternalID: "I-1", Title: "路灯不亮", Content: "路灯坏了", Department: "longshan"},
		{ExternalID: "I-2", Content: "没有标题"},
		{ExternalID: "I-3", Title: "t", Content: "c", Department: "xihu"},
		{ExternalID: "I-1", Title: "t", Content: "c"},
	}
	_, err := f.s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{})
	var ie *storage.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an ImportError", err)
	}
	wantCode(t, err, hotlinebot.EINVALID)
	got := map[int]string{}
	for _, r := range ie.Rows {
		got[r.Row] = r.Field
	}
	if len(ie.Rows) != 3 || got[1] != "title" || got[2] != "department" || got[3] != "external_id" {
		t.Fatalf("row errors = %+v", ie.Rows)
	}
	if !strings.Contains(err.Error(), "第 3 条") || !strings.Contains(err.Error(), "xihu") {
		t.Fatalf("message = %q", err.Error())
	}
	if n := count(t, f.s, `SELECT count(*) FROM tickets`); n != 0 {
		t.Fatalf("%d tickets stored by a refused import", n)
	}

	good := rows[:1]
	good = append(good, storage.NewTicket{ExternalID: "I-4", Title: "噪音", Content: "夜间施工", Department: "nanhu",
		ReceivedAt: at(10, 9, 9, 0), CompletedAt: at(10, 10, 9, 0), Outcome: "已处理"})
	res, err := f.s.ImportTickets(ctx, good, importer, t0, storage.ImportOptions{DryRun: true})
	if err != nil || res != (storage.ImportResult{Created: 2, History: 1}) {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	if n := count(t, f.s, `SELECT count(*) FROM tickets`) + count(t, f.s, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("a dry run stored %d rows", n)
	}
	res, err = f.s.ImportTickets(ctx, good, importer, t0, storage.ImportOptions{})
	if err != nil || res != (storage.ImportResult{Created: 2, History: 1}) {
		t.Fatalf("import = %+v, %v", res, err)
	}
	if n := len(pushesTo(pushes(t, f.s), hotlinebot.NotifyAssigned)); n != 2 {
		t.Fatalf("%d assigned pushes for the live row, want 2", n)
	}
	// Again: nothing changes.
	res, err = f.s.ImportTickets(ctx, good, importer, t0.Add(time.Hour), storage.ImportOptions{})
	if err != nil || res != (storage.ImportResult{Existing: 2}) {
		t.Fatalf("re-import = %+v, %v", res, err)
	}
	if n := count(t, f.s, `SELECT count(*) FROM ticket_events`); n != 2+3 {
		t.Fatalf("%d events after a re-import, want 5", n)
	}

	// Quiet: live rows queue nothing.
	before := len(pushes(t, f.s))
	res, err = f.s.ImportTickets(ctx, []storage.NewTicket{{ExternalID: "I-5", Title: "t", Content: "c", Department: "longshan"}},
		importer, t0, storage.ImportOptions{Quiet: true})
	if err != nil || res.Created != 1 || len(pushes(t, f.s)) != before {
		t.Fatalf("quiet import = %+v, %v; pushes %d → %d", res, err, before, len(pushes(t, f.s)))
	}
	if tk, _ := f.s.Ticket(ctx, "I-5"); tk.Status != hotlinebot.StatusDispatched {
		t.Fatalf("quiet live row = %+v", tk)
	}
}

func TestImportHistory(t *testing.T) {
	f := newFixture(t)
	rows := []storage.NewTicket{
		{ExternalID: "H-1", Title: "垃圾", Content: "垃圾未清运", Department: "龙山管理处", Category: "市容市貌",
			ReceivedAt: at(10, 20, 9, 30), CompletedAt: at(10, 22, 15, 0), Outcome: "已清运",
			FollowUpResult: "满意", FollowUpAt: at(10, 23, 10, 0)},
		{ExternalID: "H-2", Title: "噪音", Content: "夜间施工", Department: "nanhu",
			ReceivedAt: at(10, 20, 9, 30), CompletedAt: at(10, 29, 15, 0), Outcome: "已协调",
			FollowUpResult: hotlinebot.FollowUpUnsatisfied, FollowUpAt: at(10, 30, 10, 0),
			DueAt: at(10, 28, 18, 0)},
	}
	res, err := f.s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{})
	if err != nil || res != (storage.ImportResult{Created: 2, History: 2}) {
		t.Fatalf("import = %+v, %v", res, err)
	}
	h1, _ := f.s.Ticket(ctx, "H-1")
	// 5 working days from Tuesday 2026-10-20: Tuesday 10-27 18:00.
	if h1.Status != hotlinebot.StatusClosed || !h1.History || h1.Department != "longshan" ||
		!h1.DispatchedAt.Equal(at(10, 20, 9, 30)) || !h1.DueAt.Equal(at(10, 27, 18, 0)) || !h1.OriginalDueAt.Equal(h1.DueAt) ||
		!h1.CompletedAt.Equal(at(10, 22, 15, 0)) || !h1.ClosedAt.Equal(at(10, 23, 10, 0)) ||
		h1.FollowUpResult != hotlinebot.FollowUpSatisfied || h1.Outcome != "已清运" {
		t.Fatalf("H-1 = %+v", h1)
	}
	evs := events(t, f.s, h1.ID)
	if strings.Join(actions(evs), ",") != "create,dispatch,complete,follow_up" {
		t.Fatalf("H-1 events = %v", actions(evs))
	}
	for _, e := range evs {
		if e.Channel != hotlinebot.ChannelImport {
			t.Errorf("event %s through %s, want import", e.Action, e.Channel)
		}
	}
	if !evs[0].At.Equal(at(10, 20, 9, 30)) || !evs[2].At.Equal(at(10, 22, 15, 0)) || !evs[3].At.Equal(at(10, 23, 10, 0)) ||
		evs[3].ToStatus != hotlinebot.StatusClosed {
		t.Fatalf("H-1 event times = %+v", evs)
	}
	if evs[1].Note != "龙山管理处" {
		t.Errorf("H-1 dispatch note = %q, want the department's name, as a live dispatch writes it", evs[1].Note)
	}
	// 不满意 on a history row reopens nothing; an explicit due_at is kept.
	h2, _ := f.s.Ticket(ctx, "H-2")
	if h2.Status != hotlinebot.StatusCompleted || h2.ReopenCount != 0 || !h2.DueAt.Equal(at(10, 28, 18, 0)) ||
		!h2.Overdue(t0) || h2.FollowUpResult != hotlinebot.FollowUpUnsatisfied {
		t.Fatalf("H-2 = %+v", h2)
	}
	if n := count(t, f.s, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("history queued %d pushes", n)
	}
	_, err = f.s.ImportTickets(ctx, []storage.NewTicket{{ExternalID: "H-3", Title: "t", Content: "c",
		ReceivedAt: at(10, 20, 9, 0), CompletedAt: at(10, 19, 9, 0)}}, importer, t0, storage.ImportOptions{})
	wantCode(t, err, hotlinebot.EINVALID, "completed_at")
}

// A dry run plans no pushes: the clerk checking a file is not told of pushes
// that reach nobody, for tickets that will not be stored.
func TestImportDryRunPlansNoPushes(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, storage.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rows := []storage.NewTicket{{ExternalID: "D-1", Title: "噪音", Content: "夜间施工", Department: "nanhu"}} // wang is unbound
	res, err := f.s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{DryRun: true})
	if err != nil || res.Created != 1 {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	if strings.Contains(logs.String(), "nobody") {
		t.Fatalf("a dry run logged pushes:\n%s", logs.String())
	}
}

// Re-importing a file or retrying an intake uses up no ticket number: the
// next new ticket gets the number after the last one.
func TestRepeatedIntakeUsesNoTicketNumber(t *testing.T) {
	f := newFixture(t)
	rows := []storage.NewTicket{
		{ExternalID: "R-1", Title: "路灯不亮", Content: "路灯坏了", Department: "longshan"},
		{ExternalID: "R-2", Title: "噪音", Content: "夜间施工", Department: "nanhu",
			ReceivedAt: at(10, 9, 9, 0), CompletedAt: at(10, 10, 9, 0), Outcome: "已处理"},
	}
	for range 3 {
		if _, err := f.s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{Quiet: true}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.s.CreateTicket(ctx, rows[0], importer, t0); err != nil {
			t.Fatal(err)
		}
	}
	last, err := f.s.Ticket(ctx, "R-2")
	if err != nil {
		t.Fatal(err)
	}
	next := f.create(t, storage.NewTicket{ExternalID: "R-3", Department: "longshan"})
	if next.ID != last.ID+1 {
		t.Fatalf("new ticket after repeats is %s, want #%d", next.Ref(), last.ID+1)
	}
}

// A dry run (the README's first step before an import) uses up no ticket
// number either: the import that follows numbers its tickets from the next one.
func TestImportDryRunUsesNoTicketNumber(t *testing.T) {
	f := newFixture(t)
	first := f.create(t, storage.NewTicket{ExternalID: "DN-0", Department: "longshan"})
	rows := []storage.NewTicket{
		{ExternalID: "DN-1", Title: "路灯不亮", Content: "路灯坏了", Department: "longshan"},
		{ExternalID: "DN-2", Title: "噪音", Content: "夜间施工", Department: "nanhu",
			ReceivedAt: at(10, 9, 9, 0), CompletedAt: at(10, 10, 9, 0), Outcome: "已处理", FollowUpResult: "满意"},
		{ExternalID: "DN-3", Title: "咨询", Content: "社保"},
	}
	res, err := f.s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{DryRun: true})
	if err != nil || res != (storage.ImportResult{Created: 3, History: 1}) {
		t.Fatalf("dry run = %+v, %v", res, err)
	}
	if _, err := f.s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{Quiet: true}); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		tk, err := f.s.Ticket(ctx, r.ExternalID)
		if err != nil || tk.ID != first.ID+int64(i)+1 {
			t.Errorf("%s is %s (%v), want #%d", r.ExternalID, tk.Ref(), err, first.ID+int64(i)+1)
		}
	}
}

// A 办结时间 of 2071 for 2017 is a typo, not history: refused, naming the
// field, while a clock a few minutes ahead of ours is fine.
func TestImportRefusesTimesInTheFuture(t *testing.T) {
	f := newFixture(t)
	rows := []storage.NewTicket{
		{ExternalID: "F-1", Title: "t", Content: "c", Department: "longshan",
			ReceivedAt: at(10, 9, 9, 0), CompletedAt: t0.AddDate(54, 0, 0), Outcome: "已处理"},
		{ExternalID: "F-2", Title: "t", Content: "c", Department: "longshan", ReceivedAt: t0.AddDate(0, 0, 3)},
		{ExternalID: "F-3", Title: "t", Content: "c", Department: "longshan", ReceivedAt: t0.Add(5 * time.Minute)},
	}
	_, err := f.s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{})
	var ie *storage.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an ImportError", err)
	}
	got := map[int]string{}
	for _, r := range ie.Rows {
		got[r.Row] = r.Field
	}
	if len(ie.Rows) != 2 || got[0] != "completed_at" || got[1] != "received_at" {
		t.Fatalf("row errors = %+v", ie.Rows)
	}
	if !strings.Contains(err.Error(), "晚于当前时间") {
		t.Fatalf("message = %q", err.Error())
	}
}
