package storage_test

import (
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

func TestReport(t *testing.T) {
	f := newFixture(t)
	hist := func(ext, dept, cat string, recv, done time.Time, fu hotlinebot.FollowUpResult, due time.Time) storage.NewTicket {
		in := storage.NewTicket{ExternalID: ext, Title: "t " + ext, Content: "c", Department: dept, Category: cat,
			ReceivedAt: recv, CompletedAt: done, Outcome: "已处理", FollowUpResult: fu, DueAt: due}
		if fu != "" {
			in.FollowUpAt = done.Add(24 * time.Hour)
		}
		return in
	}
	rows := []storage.NewTicket{
		hist("H1", "longshan", "市容市貌", at(10, 9, 9, 0), at(10, 10, 9, 0), hotlinebot.FollowUpSatisfied, time.Time{}),
		hist("H2", "longshan", "市容市貌", at(10, 12, 9, 0), at(10, 14, 9, 0), hotlinebot.FollowUpUnsatisfied, at(10, 13, 12, 0)), // late
		hist("H3", "nanhu", "噪音", at(10, 20, 9, 0), at(10, 21, 9, 0), hotlinebot.FollowUpBasic, time.Time{}),
		hist("H4", "nanhu", "社会保障", at(10, 31, 23, 30), at(11, 2, 9, 0), "", time.Time{}), // last minute of the period
		hist("H5", "nanhu", "噪音", at(11, 1, 0, 10), at(11, 2, 9, 0), "", time.Time{}),     // after it
		hist("H6", "nanhu", "噪音", at(9, 30, 23, 59), at(10, 2, 9, 0), "", time.Time{}),    // before it
		// Live: still open past its deadline; waiting for the office; and one
		// completed and visited through Act below.
		{ExternalID: "L1", Title: "t", Content: "c", Department: "longshan", Category: "市容市貌", ReceivedAt: at(10, 15, 9, 0), DueAt: at(10, 20, 18, 0)},
		{ExternalID: "L2", Title: "t", Content: "c", ReceivedAt: at(10, 16, 9, 0)},
		{ExternalID: "L3", Title: "t", Content: "c", Department: "nanhu", Category: "噪音", ReceivedAt: at(10, 5, 9, 0)},
	}
	if _, err := f.s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		actor hotlinebot.Actor
		cmd   hotlinebot.Command
	}{
		{f.handler(f.wang), hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已处理"}},
		{office, hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: hotlinebot.FollowUpSatisfied}},
	} {
		if _, err := f.s.Act(ctx, "L3", step.actor, step.cmd, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	r, err := f.s.Report(ctx, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.From != "2026-10-01" || r.To != "2026-10-31" || r.Received != 7 || r.Completed != 5 || r.FollowUps != 4 ||
		r.Satisfied != 3 || r.Overdue != 2 {
		t.Fatalf("totals = %+v", r)
	}
	if r.CompletionRate != 5.0/7 || r.SatisfactionRate != 0.75 || r.OverdueRate != 2.0/7 {
		t.Fatalf("rates = %v %v %v", r.CompletionRate, r.SatisfactionRate, r.OverdueRate)
	}
	want := []hotlinebot.DepartmentReport{
		{Code: "longshan", Name: "龙山管理处", Received: 3, Completed: 2, Overdue: 2, FollowUps: 2, Satisfied: 1},
		{Code: "nanhu", Name: "南湖街道办事处", Received: 3, Completed: 3, Overdue: 0, FollowUps: 2, Satisfied: 2},
	}
	if len(r.Departments) != len(want) || r.Departments[0] != want[0] || r.Departments[1] != want[1] {
		t.Fatalf("departments = %+v\nwant %+v", r.Departments, want)
	}
	wantCats := []hotlinebot.CategoryCount{{Name: "市容市貌", Count: 3}, {Name: "噪音", Count: 2}, {Name: "未分类", Count: 1}, {Name: "社会保障", Count: 1}}
	if len(r.Categories) != len(wantCats) {
		t.Fatalf("categories = %+v", r.Categories)
	}
	for i := range wantCats {
		if r.Categories[i] != wantCats[i] {
			t.Fatalf("categories = %+v, want %+v", r.Categories, wantCats)
		}
	}

	// Before L1's deadline passed it was not overdue.
	early, err := f.s.Report(ctx, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), at(10, 20, 12, 0))
	if err != nil || early.Overdue != 1 {
		t.Fatalf("overdue as of 10-20 = %d, %v; want 1", early.Overdue, err)
	}
	_, err = f.s.Report(ctx, time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), t0)
	wantCode(t, err, hotlinebot.EINVALID)
}
