package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/spf13/cobra"
	"github.com/xuri/excelize/v2"
)

func (a *app) reportCommand() *cobra.Command {
	var from, to, quarter, format, out string
	c := &cobra.Command{
		Use:   "report (--from DATE --to DATE | --quarter 2017Q4) [--format text|json|xlsx] [--out FILE]",
		Short: "统计报表：受理、办结、回访满意、超期，按单位和类别",
		Long: `统计某段时间内受理的工单（起止日期都含，按 calendar.timezone）：受理、办结、办结率、回访、满意率、超期及占比，
按单位分列，并列出市民反映最集中的问题类别。

--format text（默认）是通报的格式；json 与 GET /api/v1/report 相同（-o json 亦同）；
xlsx 是「工单统计表」Excel 文件，必须用 --out 指定文件名。--out 把任何格式写入文件而不是标准输出。`,
		Example: `  hotlinebot report --quarter 2017Q4
  hotlinebot report --from 2017-10-01 --to 2017-12-31 -o json
  hotlinebot report --quarter 2017Q4 --format xlsx --out 四季度工单统计表.xlsx`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			start, end, err := reportPeriod(from, to, quarter)
			if err != nil {
				return err
			}
			switch {
			case !cmd.Flags().Changed("format") && a.jsonOutput():
				format = "json"
			case cmd.Flags().Changed("format") && a.jsonOutput() && format != "json":
				return usagef("-o json 与 --format %s 互相矛盾", format)
			}
			switch format {
			case "":
				format = "text"
			case "text", "json":
			case "xlsx":
				if out == "" {
					return usagef("--format xlsx 需要用 --out 指定要写入的文件")
				}
			default:
				return usagef("--format %q 无效：应为 text、json 或 xlsx", format)
			}
			st, _, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			r, err := st.Report(cmd.Context(), start, end, a.now())
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			switch format {
			case "json":
				err = writeJSON(&buf, r)
			case "text":
				err = writeReportText(&buf, r)
			case "xlsx":
				err = writeReportXLSX(&buf, r)
			}
			if err != nil {
				return err
			}
			if out == "" {
				_, err = io.Copy(a.stdout, &buf)
				return err
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return hotlinebot.Errorf(hotlinebot.EINVALID, "无法写入 %s：%v", out, unwrapPath(err))
			}
			if a.jsonOutput() && format != "json" {
				return a.printJSON(map[string]string{"out": out})
			}
			if !a.jsonOutput() {
				fmt.Fprintf(a.stderr, "已写入 %s。\n", out)
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "开始日期，如 2017-10-01（含）")
	c.Flags().StringVar(&to, "to", "", "结束日期，如 2017-12-31（含）")
	c.Flags().StringVar(&quarter, "quarter", "", "一个季度，如 2017Q4（即 2017-10-01 至 2017-12-31）")
	c.Flags().StringVar(&format, "format", "", "格式：text（默认）、json 或 xlsx")
	c.Flags().StringVar(&out, "out", "", "写入这个文件，而不是标准输出")
	return c
}

var quarterRE = regexp.MustCompile(`^(\d{4})-?[Qq]([1-4])$`)

// reportPeriod reads --from/--to or --quarter into the first and last day.
func reportPeriod(from, to, quarter string) (time.Time, time.Time, error) {
	if quarter != "" {
		if from != "" || to != "" {
			return time.Time{}, time.Time{}, usagef("--quarter 与 --from/--to 只能用一种")
		}
		m := quarterRE.FindStringSubmatch(strings.TrimSpace(quarter))
		if m == nil {
			return time.Time{}, time.Time{}, usagef("--quarter %q 无效：应写作 2017Q4", quarter)
		}
		y, _ := strconv.Atoi(m[1])
		q, _ := strconv.Atoi(m[2])
		start := time.Date(y, time.Month(3*q-2), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 3, -1), nil
	}
	if from == "" || to == "" {
		return time.Time{}, time.Time{}, usagef("需要 --from 和 --to（或 --quarter）")
	}
	start, err := time.Parse(time.DateOnly, strings.TrimSpace(from))
	if err != nil {
		return time.Time{}, time.Time{}, usagef("--from %q 不是日期：应写作 2017-10-01", from)
	}
	end, err := time.Parse(time.DateOnly, strings.TrimSpace(to))
	if err != nil {
		return time.Time{}, time.Time{}, usagef("--to %q 不是日期：应写作 2017-12-31", to)
	}
	if end.Before(start) {
		return time.Time{}, time.Time{}, usagef("--to %s 早于 --from %s", to, from)
	}
	return start, end, nil
}

// percent is a rate as the report prints it: 95.45%.
func percent(r float64) string { return fmt.Sprintf("%.2f%%", r*100) }

var quarterNames = []string{"一", "二", "三", "四"}

// periodTitle names the period as the district's bulletins do: 2017年四季度,
// or the days when they are not one quarter.
func periodTitle(fromDate, toDate string) string {
	from, err1 := time.Parse(time.DateOnly, fromDate)
	to, err2 := time.Parse(time.DateOnly, toDate)
	if err1 != nil || err2 != nil {
		return fromDate + " 至 " + toDate
	}
	days := fmt.Sprintf("%d年%d月%d日至%d年%d月%d日", from.Year(), from.Month(), from.Day(), to.Year(), to.Month(), to.Day())
	if from.Day() == 1 && (from.Month()-1)%3 == 0 && to.Equal(from.AddDate(0, 3, -1)) {
		return fmt.Sprintf("%d年%s季度（%s）", from.Year(), quarterNames[(from.Month()-1)/3], days)
	}
	if from.Month() == time.January && from.Day() == 1 && to.Equal(from.AddDate(1, 0, -1)) {
		return fmt.Sprintf("%d年（%s）", from.Year(), days)
	}
	return days
}

// topCategories is how many of the most frequent categories the text names.
const topCategories = 5

// writeReportText lays the report out like the district's quarterly bulletin.
func writeReportText(w io.Writer, r hotlinebot.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "12345 热线工单办理情况 %s\n\n", periodTitle(r.From, r.To))

	b.WriteString("一、总体情况\n")
	fmt.Fprintf(&b, "共收到工单 %d 件，办结 %d 件，办结率 %s。\n", r.Received, r.Completed, percent(r.CompletionRate))
	if r.FollowUps > 0 {
		fmt.Fprintf(&b, "回访 %d 件，满意 %d 件，不满意 %d 件，满意率 %s。\n",
			r.FollowUps, r.Satisfied, r.FollowUps-r.Satisfied, percent(r.SatisfactionRate))
	} else {
		b.WriteString("回访 0 件。\n")
	}
	if r.Overdue > 0 {
		var parts []string
		for _, d := range r.Departments {
			if d.Overdue > 0 {
				parts = append(parts, fmt.Sprintf("%s（%d件）", d.Name, d.Overdue))
			}
		}
		if pending := r.Overdue - sumOverdue(r.Departments); pending > 0 {
			parts = append(parts, fmt.Sprintf("待分派（%d件）", pending))
		}
		fmt.Fprintf(&b, "超期办理工单 %d 件，占比 %s，其中：%s。\n", r.Overdue, percent(r.OverdueRate), strings.Join(parts, "、"))
	} else {
		b.WriteString("没有超期办理的工单。\n")
	}

	b.WriteString("\n二、市民反映较为集中的问题\n")
	if len(r.Categories) == 0 {
		b.WriteString("本期没有工单。\n")
	} else {
		var parts []string
		for i, c := range r.Categories {
			if i == topCategories {
				break
			}
			parts = append(parts, fmt.Sprintf("%s（%d件）", c.Name, c.Count))
		}
		more := ""
		if len(r.Categories) > topCategories {
			more = "等方面"
		}
		fmt.Fprintf(&b, "主要包括：%s%s。\n", strings.Join(parts, "、"), more)
	}

	b.WriteString("\n三、各单位办理情况\n")
	var t table
	t.add(statsHeader...)
	for _, row := range statsRows(r) {
		t.add(row.name, strconv.Itoa(row.received), strconv.Itoa(row.completed), rateText(row.completed, row.received),
			strconv.Itoa(row.overdue), strconv.Itoa(row.followups), strconv.Itoa(row.satisfied), rateText(row.satisfied, row.followups))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return t.write(w)
}

func sumOverdue(ds []hotlinebot.DepartmentReport) int {
	n := 0
	for _, d := range ds {
		n += d.Overdue
	}
	return n
}

func rateText(part, whole int) string {
	if whole == 0 {
		return "-"
	}
	return percent(hotlinebot.Rate(part, whole))
}

var statsHeader = []string{"单位", "受理", "办结", "办结率", "超期", "回访", "满意", "满意率"}

type statsRow struct {
	name                                               string
	received, completed, overdue, followups, satisfied int
}

// statsRows are the 工单统计表's lines: each department, the tickets still
// waiting for the office when there are any, and the total.
func statsRows(r hotlinebot.Report) []statsRow {
	var rows []statsRow
	var sum statsRow
	for _, d := range r.Departments {
		row := statsRow{d.Name, d.Received, d.Completed, d.Overdue, d.FollowUps, d.Satisfied}
		rows = append(rows, row)
		sum.received += row.received
		sum.completed += row.completed
		sum.overdue += row.overdue
		sum.followups += row.followups
		sum.satisfied += row.satisfied
	}
	if rest := (statsRow{"待分派", r.Received - sum.received, r.Completed - sum.completed, r.Overdue - sum.overdue,
		r.FollowUps - sum.followups, r.Satisfied - sum.satisfied}); rest.received > 0 {
		rows = append(rows, rest)
	}
	return append(rows, statsRow{"合计", r.Received, r.Completed, r.Overdue, r.FollowUps, r.Satisfied})
}

// reportSheet is the sheet's name, as in the district's attachment.
const reportSheet = "工单统计表"

// writeReportXLSX writes the 工单统计表: a header row, one row per department
// and a total row; rates are numbers shown as percentages with two decimals.
func writeReportXLSX(w io.Writer, r hotlinebot.Report) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName(f.GetSheetName(0), reportSheet); err != nil {
		return err
	}
	pct, err := f.NewStyle(&excelize.Style{NumFmt: 10}) // 0.00%
	if err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	boldPct, err := f.NewStyle(&excelize.Style{NumFmt: 10, Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	for i, h := range statsHeader {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		if err := f.SetCellValue(reportSheet, cell, h); err != nil {
			return err
		}
	}
	rows := statsRows(r)
	for i, row := range rows {
		n := i + 2
		values := []any{row.name, row.received, row.completed, rate(row.completed, row.received),
			row.overdue, row.followups, row.satisfied, rate(row.satisfied, row.followups)}
		for j, v := range values {
			cell, _ := excelize.CoordinatesToCellName(j+1, n)
			if err := f.SetCellValue(reportSheet, cell, v); err != nil {
				return err
			}
		}
		last := i == len(rows)-1
		style, rateStyle := 0, pct
		if last {
			style, rateStyle = bold, boldPct
		}
		if style != 0 {
			first, _ := excelize.CoordinatesToCellName(1, n)
			end, _ := excelize.CoordinatesToCellName(len(values), n)
			if err := f.SetCellStyle(reportSheet, first, end, style); err != nil {
				return err
			}
		}
		for _, col := range []string{"D", "H"} {
			if err := f.SetCellStyle(reportSheet, col+strconv.Itoa(n), col+strconv.Itoa(n), rateStyle); err != nil {
				return err
			}
		}
	}
	if err := f.SetCellStyle(reportSheet, "A1", "H1", bold); err != nil {
		return err
	}
	if err := f.SetColWidth(reportSheet, "A", "A", 22); err != nil {
		return err
	}
	if err := f.SetColWidth(reportSheet, "B", "H", 10); err != nil {
		return err
	}
	return f.Write(w)
}

// rate is a cell's rate: a fraction, or empty when there is nothing to divide by.
func rate(part, whole int) any {
	if whole == 0 {
		return ""
	}
	return hotlinebot.Rate(part, whole)
}
