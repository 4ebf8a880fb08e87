package storage_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// TestReportSeedQuarter rebuilds the district's 2017 Q4 report (the seed)
// through the import path: 512 tickets, all completed, 22 follow-ups of which
// 21 satisfied, 23 overdue split over five departments.
func TestReportSeedQuarter(t *testing.T) {
	s := storagetest.NewStore(t)
	depts := []struct {
		code, name        string
		received, overdue int
	}{
		{"longshan", "龙山管理处", 130, 8},
		{"nanhu", "南湖街道办事处", 110, 5},
		{"qiusuo", "求索街道办事处", 100, 3},
		{"cgj", "区城市管理局", 120, 6},
		{"scenic", "景区保护管理中心", 52, 1},
	}
	cats := []string{"社会保障", "社会保障", "征收补偿", "市容市貌", "房屋管理"}
	social := 0
	var rows []storage.NewTicket
	n := 0
	for _, d := range depts {
		mustDept(t, s, d.code, d.name)
		for i := range d.received {
			recv := time.Date(2017, time.October, 1, 9, 0, 0, 0, storagetest.Shanghai).Add(time.Duration(n) * 4 * time.Hour)
			due := recv.Add(5 * 24 * time.Hour)
			done := recv.Add(2 * 24 * time.Hour)
			if i < d.overdue {
				done = due.Add(time.Hour)
			}
			in := storage.NewTicket{
				ExternalID: fmt.Sprintf("YY2017Q4-%04d", n), Title: "工单", Content: "诉求", Category: cats[n%len(cats)],
				Department: d.name, ReceivedAt: recv, DueAt: due, CompletedAt: done, Outcome: "已办理",
			}
			if n%23 == 0 && n/23 < 22 {
				in.FollowUpResult, in.FollowUpAt = hotlinebot.FollowUpSatisfied, done.Add(24*time.Hour)
				if n/23 == 7 {
					in.FollowUpResult = hotlinebot.FollowUpUnsatisfied
				}
			}
			if in.Category == "社会保障" {
				social++
			}
			rows = append(rows, in)
			n++
		}
	}
	if last := rows[len(rows)-1].ReceivedAt; !last.Before(time.Date(2018, 1, 1, 0, 0, 0, 0, storagetest.Shanghai)) {
		t.Fatalf("fixture spills out of the quarter: %v", last)
	}
	res, err := s.ImportTickets(ctx, rows, importer, t0, storage.ImportOptions{})
	if err != nil || res.Created != 512 || res.History != 512 {
		t.Fatalf("import = %+v, %v", res, err)
	}
	r, err := s.Report(ctx, time.Date(2017, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2017, 12, 31, 0, 0, 0, 0, time.UTC), t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Received != 512 || r.Completed != 512 || r.CompletionRate != 1 || r.FollowUps != 22 || r.Satisfied != 21 || r.Overdue != 23 {
		t.Fatalf("report = %+v", r)
	}
	if math.Abs(r.SatisfactionRate-0.9545454545) > 1e-9 || r.OverdueRate != 0.044921875 {
		t.Fatalf("rates: satisfaction %v, overdue %v", r.SatisfactionRate, r.OverdueRate)
	}
	if fmt.Sprintf("%.2f%%", r.SatisfactionRate*100) != "95.45%" || fmt.Sprintf("%.2f%%", r.OverdueRate*100) != "4.49%" {
		t.Fatalf("shown as %.2f%% and %.2f%%", r.SatisfactionRate*100, r.OverdueRate*100)
	}
	for i, d := range depts {
		got := r.Departments[i]
		if got.Code != d.code || got.Name != d.name || got.Received != d.received || got.Completed != d.received || got.Overdue != d.overdue {
			t.Errorf("department %d = %+v, want %s received %d overdue %d", i, got, d.code, d.received, d.overdue)
		}
	}
	if len(r.Categories) != 4 || r.Categories[0].Name != "社会保障" || r.Categories[0].Count != social {
		t.Fatalf("categories = %+v", r.Categories)
	}
}
