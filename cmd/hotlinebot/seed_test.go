package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/xuri/excelize/v2"
)

// The district's fourth quarter of 2017, as its bulletin of 2018-01-04 tells
// it (/work/shared/seeds/000_4f8bfba12c0f8656.txt): 512 tickets received, all
// completed; 22 follow-up visits, 21 satisfied and 1 not (回访不满意返回重办:
// recorded on a history row, which reopens nothing); 23 overdue: 龙山管理处 8,
// 南湖街道办事处 5, 求索街道办事处 3, 区城市管理局 6, 景区保护管理中心 1.
// The bulletin gives no per-department totals or category counts; those
// below are made up, in the bulletin's order of categories.

type seedDept struct {
	code, name        string
	received, overdue int
}

var seedDepts = []seedDept{
	{"longshan", "龙山管理处", 130, 8},
	{"nanhu", "南湖街道办事处", 100, 5},
	{"qiusuo", "求索街道办事处", 80, 3},
	{"chengguan", "区城市管理局", 90, 6},
	{"jingqu", "景区保护管理中心", 40, 1},
	{"yueshan", "月山管理处", 42, 0},
	{"jiaoyu", "区教育局", 30, 0},
}

var seedCategories = []struct {
	name  string
	count int
}{
	{"社会保障", 140}, {"征收补偿", 110}, {"市容市貌", 95}, {"房屋管理", 70},
	{"交通出行", 40}, {"教育", 30}, {"环境保护", 27},
}

var shanghai = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var seedHeader = []string{"受理时间", "工单编号", "标题", "诉求内容", "诉求类别", "区域", "地址", "来电人",
	"来电号码", "紧急程度", "承办单位", "办理时限", "办结时间", "办理结果", "回访结果", "回访时间"}

// seedTime writes t the four ways a clerk's file may: RFC 3339, or the wall
// clock with dashes or slashes, with or without seconds and leading zeros.
func seedTime(t time.Time, i int) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(shanghai)
	switch i % 4 {
	case 0:
		return t.Format(time.RFC3339)
	case 1:
		return t.Format("2006-01-02 15:04:05")
	case 2:
		return fmt.Sprintf("%d/%d/%d %d:%02d", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute())
	}
	return t.Format("2006-01-02 15:04")
}

// seedRows builds the quarter's 512 rows, plus one received just before it
// and one just after, which the report must leave out.
func seedRows() [][]string {
	const total = 512
	var cats []string
	for _, c := range seedCategories {
		for range c.count {
			cats = append(cats, c.name)
		}
	}
	var rows [][]string
	i := 0
	quarter := time.Date(2017, 10, 1, 0, 0, 0, 0, shanghai)
	followups := 0
	for _, d := range seedDepts {
		for n := range d.received {
			received := quarter.AddDate(0, 0, i%92).Add(time.Duration(8+i%9)*time.Hour + time.Duration(i*7%60)*time.Minute)
			urgency := "一般"
			if i%10 == 0 {
				urgency = "紧急"
			}
			// Most rows give their 办理时限; the others (normal urgency, done
			// within a day) have it from the policy.
			var due time.Time
			if n < d.overdue || i%3 != 0 || urgency == "紧急" {
				due = received.Add(5 * 24 * time.Hour)
			}
			completed := received.Add(20 * time.Hour)
			if n < d.overdue {
				completed = due.Add(26 * time.Hour)
			}
			var result, visited string
			if i%23 == 5 && followups < 22 {
				result = "满意"
				switch {
				case followups == 10:
					result = "不满意"
				case followups%7 == 3:
					result = "基本满意"
				}
				visited = seedTime(completed.Add(48*time.Hour), i)
				followups++
			}
			dept := d.code
			if i%2 == 1 {
				dept = d.name
			}
			cat := cats[i*77%total] // 77 is prime to 512: each category keeps its count
			rows = append(rows, []string{
				seedTime(received, i), fmt.Sprintf("YY2017Q4-%04d", i+1), cat + "问题", fmt.Sprintf("市民反映%s方面的问题（第 %d 件）", cat, i+1),
				cat, d.name, "南湖新区", "市民", fmt.Sprintf("138%08d", i), urgency, dept,
				seedTime(due, i+1), seedTime(completed, i+2), "已办理并答复来电人", result, visited,
			})
			i++
		}
	}
	if i != total || followups != 22 {
		panic(fmt.Sprintf("seed: %d rows, %d follow-ups", i, followups))
	}
	outside := func(id string, received time.Time) []string {
		return []string{received.Format(time.RFC3339), id, "季度外的工单", "不计入四季度", "其他", "龙山管理处", "", "", "",
			"", "longshan", "", received.Add(time.Hour).Format(time.RFC3339), "已办理", "", ""}
	}
	rows = append(rows,
		outside("YY20170930-0001", time.Date(2017, 9, 30, 23, 59, 0, 0, shanghai)),
		outside("YY20180101-0001", time.Date(2018, 1, 1, 0, 0, 0, 0, shanghai)))
	return rows
}

func writeCSV(t *testing.T, c *cli, name string, header []string, rows [][]string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\ufeff") // as Excel's "CSV UTF-8" writes it
	w := csv.NewWriter(&b)
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return c.write(name, b.String())
}

func seedDistrict(c *cli) {
	for _, d := range seedDepts {
		c.ok("dept", "add", "--code", d.code, "--name", d.name)
	}
}

func TestSeedQuarterReport(t *testing.T) {
	c := newCLI(t)
	seedDistrict(c)
	file := writeCSV(t, c, "2017Q4.csv", seedHeader, seedRows())

	if out := c.ok("ticket", "import", "--dry-run", file); !strings.Contains(out, "新建 514 件") || !strings.Contains(out, "未保存") {
		t.Errorf("dry run: %s", out)
	}
	var none []hotlinebot.TicketJSON
	if c.json(&none, "ticket", "list"); len(none) != 0 {
		t.Fatalf("--dry-run stored %d tickets", len(none))
	}
	var res importResultJSON
	c.json(&res, "ticket", "import", file)
	if res.Created != 514 || res.History != 514 || res.Existing != 0 {
		t.Fatalf("import: %+v", res)
	}

	var r hotlinebot.Report
	c.json(&r, "report", "--quarter", "2017Q4")
	if r.From != "2017-10-01" || r.To != "2017-12-31" {
		t.Errorf("period %s..%s", r.From, r.To)
	}
	if r.Received != 512 || r.Completed != 512 || r.CompletionRate != 1 {
		t.Errorf("received %d, completed %d, rate %v; want 512, 512, 1", r.Received, r.Completed, r.CompletionRate)
	}
	if r.FollowUps != 22 || r.Satisfied != 21 || fmt.Sprintf("%.4f", r.SatisfactionRate) != "0.9545" {
		t.Errorf("followups %d, satisfied %d, rate %v; want 22, 21, 0.9545…", r.FollowUps, r.Satisfied, r.SatisfactionRate)
	}
	if r.Overdue != 23 || r.OverdueRate != 0.044921875 {
		t.Errorf("overdue %d (rate %v); want 23 (0.044921875)", r.Overdue, r.OverdueRate)
	}
	if len(r.Departments) != len(seedDepts) {
		t.Fatalf("departments: %+v", r.Departments)
	}
	for i, d := range seedDepts {
		got := r.Departments[i]
		if got.Code != d.code || got.Name != d.name || got.Received != d.received || got.Completed != d.received || got.Overdue != d.overdue {
			t.Errorf("department %s: %+v, want received %d, overdue %d", d.name, got, d.received, d.overdue)
		}
	}
	for i, want := range seedCategories {
		if i >= len(r.Categories) || r.Categories[i].Name != want.name || r.Categories[i].Count != want.count {
			t.Errorf("categories: %+v, want %s (%d) at %d", r.Categories, want.name, want.count, i)
			break
		}
	}

	// --format json, -o json and --from/--to give the same document.
	byDates := c.ok("report", "--from", "2017-10-01", "--to", "2017-12-31", "--format", "json")
	if q := c.ok("report", "-o", "json", "--quarter", "2017Q4"); q != byDates {
		t.Errorf("--quarter and --from/--to differ:\n%s\n%s", q, byDates)
	}

	text := c.ok("report", "--quarter", "2017Q4")
	for _, want := range []string{
		"2017年四季度",
		"共收到工单 512 件，办结 512 件，办结率 100.00%",
		"回访 22 件，满意 21 件，不满意 1 件，满意率 95.45%",
		"超期办理工单 23 件，占比 4.49%，其中：龙山管理处（8件）、南湖街道办事处（5件）、求索街道办事处（3件）、区城市管理局（6件）、景区保护管理中心（1件）。",
		"社会保障（140件）、征收补偿（110件）、市容市貌（95件）、房屋管理（70件）",
		"合计",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "月山管理处（") || strings.Contains(text, "区教育局（") {
		t.Errorf("departments without overdue tickets are listed as overdue:\n%s", text)
	}

	txt := filepath.Join(c.dir, "report.txt")
	if out := c.ok("report", "--quarter", "2017Q4", "--out", txt); out != "" {
		t.Errorf("--out also printed to stdout: %q", out)
	}
	if b, err := os.ReadFile(txt); err != nil || string(b) != text {
		t.Errorf("--out %s: %v\n%s", txt, err, b)
	}

	xlsx := filepath.Join(c.dir, "四季度工单统计表.xlsx")
	c.ok("report", "--quarter", "2017Q4", "--format", "xlsx", "--out", xlsx)
	f, err := excelize.OpenFile(xlsx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("工单统计表")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"单位", "受理", "办结", "办结率", "超期", "回访", "满意", "满意率"},
		{"龙山管理处", "130", "130", "100.00%", "8"},
	}
	for i, w := range want {
		if len(rows) <= i || strings.Join(rows[i][:len(w)], "|") != strings.Join(w, "|") {
			t.Errorf("xlsx row %d: %v, want %v", i+1, rows[min(i, len(rows)-1)], w)
		}
	}
	last := rows[len(rows)-1]
	if strings.Join(last, "|") != "合计|512|512|100.00%|23|22|21|95.45%" || len(rows) != len(seedDepts)+2 {
		t.Errorf("xlsx total row: %v (%d rows)", last, len(rows))
	}

	// Importing the same file again changes nothing.
	c.json(&res, "ticket", "import", file)
	if res.Created != 0 || res.Existing != 514 {
		t.Errorf("re-import: %+v", res)
	}
	if again := c.ok("report", "--from", "2017-10-01", "--to", "2017-12-31", "-o", "json"); again != byDates {
		t.Errorf("the report changed after a re-import:\n%s", again)
	}
}

func TestImportXLSX(t *testing.T) {
	c := newCLI(t)
	seedDistrict(c)
	f := excelize.NewFile()
	sheet := f.GetSheetName(0)
	header := []any{"external_id", "title", "content", "category", "department", "received_at", "due_at", "completed_at", "followup_result", "followup_at"}
	if err := f.SetSheetRow(sheet, "A1", &header); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2017, 11, 6, 9, 30, 0, 0, shanghai)
	for i := range 12 {
		received := start.Add(time.Duration(i) * 24 * time.Hour)
		due := received.Add(72 * time.Hour)
		completed := received.Add(24 * time.Hour)
		if i < 3 {
			completed = due.Add(time.Hour) // overdue
		}
		var rcv any = received // a real date cell
		if i == 5 {
			rcv = "2017/11/11 9:30" // a text cell
		}
		result, visited := "", any("")
		if i%4 == 0 {
			result, visited = "满意", completed.Add(24*time.Hour)
		}
		if i == 8 {
			result = "不满意"
		}
		row := []any{fmt.Sprintf("X-%02d", i), "标题", "内容", "市容市貌", seedDepts[i%2].name, rcv, due, completed, result, visited}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(c.dir, "tickets.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var res importResultJSON
	c.json(&res, "ticket", "import", path)
	if res.Created != 12 || res.History != 12 {
		t.Fatalf("import: %+v", res)
	}
	var tk hotlinebot.TicketJSON
	c.json(&tk, "ticket", "show", "X-05")
	if tk.ReceivedAt == nil || *tk.ReceivedAt != "2017-11-11T09:30:00+08:00" {
		t.Errorf("text time cell: %v", deref(tk.ReceivedAt))
	}
	c.json(&tk, "ticket", "show", "X-01")
	if tk.ReceivedAt == nil || *tk.ReceivedAt != "2017-11-07T09:30:00+08:00" || deref(tk.CompletedAt) != "2017-11-10T10:30:00+08:00" {
		t.Errorf("date cells: received %v, completed %v", deref(tk.ReceivedAt), deref(tk.CompletedAt))
	}
	var late []hotlinebot.TicketJSON
	c.json(&late, "ticket", "list", "--overdue")
	if len(late) != 3 || late[0].ExternalID != "X-00" || !late[0].Overdue {
		t.Errorf("list --overdue: %+v", late)
	}
	var r hotlinebot.Report
	c.json(&r, "report", "--from", "2017-11-01", "--to", "2017-11-30")
	if r.Received != 12 || r.Completed != 12 || r.Overdue != 3 || r.FollowUps != 3 || r.Satisfied != 2 {
		t.Errorf("report: %+v", r)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestImportRefusesABadFileWhole(t *testing.T) {
	c := newCLI(t)
	seedDistrict(c)
	file := c.write("bad.csv", "工单编号,标题,内容,受理时间,承办单位\n"+
		"A-1,路灯不亮,\"第一行\n第二行\",2017-10-20 09:30,longshan\n"+ // lines 2 and 3
		"A-2,占道经营,有游商,2017-13-01 09:30,longshan\n"+ // line 4: no 13th month
		"A-3,,没有标题,2017-10-20 9:30,nanhu\n"+ // line 5
		"A-4,征收补偿,拆迁款,2017/10/21 10:00,不存在的单位\n"+ // line 6
		"A-1,重复,编号与第 2 行相同,2017-10-22 10:00,longshan\n"+ // line 7
		"A-5,正常,这一行没有问题,2017-10-22 10:00,区教育局\n")
	errs := c.fails(exitError, "ticket", "import", file)
	for _, want := range []string{
		"第 4 行，列「受理时间」：无法识别的时间“2017-13-01 09:30”",
		"第 5 行，列「标题」",
		"第 6 行，列「承办单位」",
		"第 7 行，列「工单编号」：工单编号“A-1”与第 2 行重复",
		"未导入任何工单",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "第 2 行，") || strings.Contains(errs, "第 8 行") {
		t.Errorf("good rows reported as bad:\n%s", errs)
	}
	var list []hotlinebot.TicketJSON
	if c.json(&list, "ticket", "list"); len(list) != 0 {
		t.Errorf("a refused import stored %d tickets", len(list))
	}

	unknown := c.write("unknown.csv", "工单编号,标题,内容,诉求人,备注\nB-1,t,c,张三,x\n")
	if errs := c.fails(exitError, "ticket", "import", unknown); !strings.Contains(errs, "「诉求人」") || !strings.Contains(errs, "「备注」") || !strings.Contains(errs, "第 1 行") {
		t.Errorf("unknown headers: %s", errs)
	}
	noTitle := c.write("notitle.csv", "工单编号,内容\nB-1,c\n")
	if errs := c.fails(exitError, "ticket", "import", noTitle); !strings.Contains(errs, "title（标题）") {
		t.Errorf("missing column: %s", errs)
	}
	gbk := c.write("gbk.csv", "\xb9\xa4\xb5\xa5\xb1\xe0\xba\xc5,title,content\n") // 工单编号 in GBK
	if errs := c.fails(exitError, "ticket", "import", gbk); !strings.Contains(errs, "UTF-8") {
		t.Errorf("GBK file: %s", errs)
	}
	c.fails(exitError, "ticket", "import", c.write("tickets.txt", "x"))
}
