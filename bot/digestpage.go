package bot

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// DigestPage serves `GET /d/{date}?sig=…`: the daily digest a morning push
// links to, signed for its recipient (a leader or an office member). A
// department's leader sees their department; district leaders and the
// office see the district with a line and a bar per department. The
// figures are storage's (Store.Digest), the same as the push's: as of now
// for today, as of the day's end for a past day. A tampered or expired link
// gets 403, and so does a link for anyone but a leader or the office.
type DigestPage struct{ dp *digestPage }

// NewDigestPage checks opts (the ticket pages' options: the same store,
// links, clock and location) and returns the digest page.
func NewDigestPage(opts PagesOptions) (*DigestPage, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &DigestPage{&digestPage{opts}}, nil
}

// Register adds `GET /d/{date}` to mux.
func (p *DigestPage) Register(mux *http.ServeMux) { mux.HandleFunc("GET /d/{date}", p.dp.serve) }

// ServeHTTP serves `GET /d/{date}` (404 for anything else).
func (p *DigestPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mux := http.NewServeMux()
	p.Register(mux)
	mux.ServeHTTP(w, r)
}

type digestPage struct{ PagesOptions }

func (dp *digestPage) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := dp.Clock()
	date := r.PathValue("date")
	personID, err := dp.Links.Verify(DigestPath(date), r.URL.Query(), now)
	if err != nil {
		WriteLinkRefused(w, err)
		return
	}
	day, err := time.ParseInLocation(time.DateOnly, date, dp.Location)
	if err != nil {
		WriteErrorPage(w, http.StatusNotFound, "日报不存在", "日期 "+date+" 无效。")
		return
	}
	viewer, err := dp.Store.Person(ctx, personID)
	if err != nil || viewer.Disabled {
		if err != nil && hotlinebot.ErrorCodeOf(err) != hotlinebot.ENOTFOUND {
			dp.unavailable(w, err)
			return
		}
		WriteErrorPage(w, http.StatusForbidden, "无法打开此页面", "此链接的收件人已不在系统中。")
		return
	}
	if viewer.Role != hotlinebot.RoleLeader && viewer.Role != hotlinebot.RoleOffice {
		WriteErrorPage(w, http.StatusForbidden, "无法打开此页面", "工单日报仅供领导和热线办查看。")
		return
	}
	scope := ""
	if viewer.Role == hotlinebot.RoleLeader && viewer.Department != "" {
		scope = viewer.Department
	}
	asOf := now
	if end := day.AddDate(0, 0, 1); end.Before(now) {
		asOf = end
	}
	dg, err := dp.Store.Digest(ctx, day, asOf, scope)
	if err != nil {
		dp.unavailable(w, err)
		return
	}
	v := dp.view(dg, viewer, now)
	var b bytes.Buffer
	if err := digestTemplate.Execute(&b, v); err != nil {
		dp.Logger.Error("digest page", "date", date, "err", err)
		WriteErrorPage(w, http.StatusInternalServerError, "页面生成失败", "请稍后再试。")
		return
	}
	WritePage(w, http.StatusOK, v.Heading, template.HTML(b.String()))
}

func (dp *digestPage) unavailable(w http.ResponseWriter, err error) {
	dp.Logger.Error("digest page: storage", "err", err)
	WriteErrorPage(w, http.StatusServiceUnavailable, "系统繁忙", "请稍后刷新本页。")
}

type digestView struct {
	Heading, Scope, AsOf string
	storage.DigestFigures
	Satisfaction string
	District     bool
	Lines        []digestLine
	Oldest       []digestOverdue
	Chart        digestChart
}

type digestLine struct {
	storage.DepartmentDigest
	Satisfaction string
}

type digestOverdue struct {
	Ref, Title, Department, Late string
	Link                         template.URL
}

// digestChart is the inline SVG bar chart: per department, its name on a
// line of its own (names such as 区人力资源和社会保障局 are long for a phone)
// and under it a bar of open tickets with, over it, the overdue part.
type digestChart struct {
	Width, Height int
	Bars          []digestBar
}

type digestBar struct {
	Name                 string
	NameY, BarY, FigureY int
	OpenW, OverdueW      int
	Open, Overdue        int
	FigureX              int
}

const (
	chartWidth = 400
	chartBarW  = 280 // the longest bar; its figures ("128（超期 37）") fit beside it
	chartRow   = 44
)

func (dp *digestPage) view(dg storage.Digest, viewer hotlinebot.Person, now time.Time) digestView {
	scope := "全区"
	if dg.Department != "" {
		scope = dg.DepartmentName
	}
	v := digestView{
		Heading:       dg.Day.Format(hotlinebot.LayoutDate) + " 工单日报",
		Scope:         scope,
		AsOf:          dg.AsOf.In(dp.Location).Format(hotlinebot.LayoutMinute),
		DigestFigures: dg.DigestFigures,
		Satisfaction:  satisfaction(dg.DigestFigures),
		District:      dg.Department == "",
	}
	lines := dg.Departments
	if dg.Department != "" {
		lines = []storage.DepartmentDigest{{Code: dg.Department, Name: dg.DepartmentName, DigestFigures: dg.DigestFigures}}
	}
	for _, l := range lines {
		v.Lines = append(v.Lines, digestLine{DepartmentDigest: l, Satisfaction: rateCell(l.DigestFigures)})
	}
	for _, o := range dg.Oldest {
		item := digestOverdue{Ref: o.Ref(), Title: o.Title, Department: o.DepartmentName, Late: lateBy(dg.AsOf.Sub(o.DueAt))}
		if dp.Links != nil {
			item.Link = template.URL(dp.Links.TicketURL(o.ID, viewer.ID, now))
		}
		v.Oldest = append(v.Oldest, item)
	}
	v.Chart = chart(lines)
	return v
}

func chart(lines []storage.DepartmentDigest) digestChart {
	most := 1
	for _, l := range lines {
		most = max(most, l.Open, l.Overdue)
	}
	c := digestChart{Width: chartWidth, Height: chartRow*len(lines) + 4}
	for i, l := range lines {
		y := 4 + i*chartRow
		b := digestBar{
			Name: l.Name, NameY: y + 13, BarY: y + 19, FigureY: y + 32,
			OpenW: l.Open * chartBarW / most, OverdueW: l.Overdue * chartBarW / most,
			Open: l.Open, Overdue: l.Overdue,
		}
		if l.Open > 0 && b.OpenW < 2 {
			b.OpenW = 2
		}
		if l.Overdue > 0 && b.OverdueW < 2 {
			b.OverdueW = 2
		}
		b.FigureX = b.OpenW + 6
		c.Bars = append(c.Bars, b)
	}
	return c
}

func satisfaction(f storage.DigestFigures) string {
	if f.FollowUps == 0 {
		return "暂无回访"
	}
	return fmt.Sprintf("%.2f%%（%d/%d）", 100*f.SatisfactionRate(), f.Satisfied, f.FollowUps)
}

// rateCell is a department's satisfaction in the district's table: "95.45%",
// "—" without follow-ups.
func rateCell(f storage.DigestFigures) string {
	if f.FollowUps == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f%%", 100*f.SatisfactionRate())
}

// lateBy says how long a ticket is overdue: "3天", "5小时", "不到1小时".
func lateBy(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + "天"
	case d >= time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "小时"
	}
	return "不到1小时"
}

var digestTemplate = template.Must(template.New("digest").Parse(`
<div class="card">
<h1>{{.Heading}}</h1>
<p class="muted">{{.Scope}} · 统计截至 {{.AsOf}}</p>
<dl class="figures">
<dt>昨日受理</dt><dd id="received">{{.Received}}</dd>
<dt>昨日办结</dt><dd id="completed">{{.Completed}}</dd>
<dt>在办</dt><dd id="open">{{.Open}}</dd>
<dt>今日到期</dt><dd id="due-today">{{.DueToday}}</dd>
<dt>超期</dt><dd id="overdue"{{if .Overdue}} class="bad"{{end}}>{{.Overdue}}</dd>
<dt>本月满意率</dt><dd id="satisfaction">{{.Satisfaction}}</dd>
</dl>
</div>
{{if .Chart.Bars}}<div class="card">
<h2>各单位在办与超期</h2>
<svg viewBox="0 0 {{.Chart.Width}} {{.Chart.Height}}" width="100%" role="img" aria-label="各单位在办与超期工单数">
{{range .Chart.Bars}}<g>
<text x="0" y="{{.NameY}}" font-size="13" fill="#1f2329">{{.Name}}</text>
<rect x="0" y="{{.BarY}}" width="{{.OpenW}}" height="17" rx="3" fill="#1456f0" fill-opacity="0.25"><title>在办 {{.Open}}</title></rect>
<rect x="0" y="{{.BarY}}" width="{{.OverdueW}}" height="17" rx="3" fill="#d83931"><title>超期 {{.Overdue}}</title></rect>
<text x="{{.FigureX}}" y="{{.FigureY}}" font-size="12" fill="#646a73">{{.Open}}{{if .Overdue}}（超期 {{.Overdue}}）{{end}}</text>
</g>
{{end}}</svg>
<p class="muted"><span style="color:#1456f0">■</span> 在办 <span style="color:#d83931">■</span> 其中超期</p>
</div>{{end}}
{{if .District}}<div class="card">
<h2>各单位</h2>
<table class="lines" style="width:100%;border-collapse:collapse;font-size:14px">
<tr style="color:#646a73;text-align:right"><th style="text-align:left">单位</th><th>昨收</th><th>昨结</th><th>在办</th><th>今到期</th><th>超期</th><th>满意率</th></tr>
{{range .Lines}}<tr style="text-align:right;border-top:1px solid #e5e6eb" data-department="{{.Code}}">
<td style="text-align:left">{{.Name}}</td><td>{{.Received}}</td><td>{{.Completed}}</td><td>{{.Open}}</td><td>{{.DueToday}}</td><td{{if .Overdue}} class="bad"{{end}}>{{.Overdue}}</td><td>{{.Satisfaction}}</td>
</tr>
{{end}}</table>
</div>{{end}}
<div class="card">
<h2>超期最久的工单</h2>
{{if .Oldest}}<ul class="cmds">
{{range .Oldest}}<li class="oldest">{{if .Link}}<a href="{{.Link}}">{{.Ref}}</a>{{else}}{{.Ref}}{{end}} {{.Title}}<br><span class="muted">{{.Department}} · 已超期{{.Late}}</span></li>
{{end}}</ul>{{else}}<p class="muted">没有超期工单。</p>{{end}}
</div>
`))
