package bot

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

//go:embed templates/layout.html templates/ticket.html
var pageFiles embed.FS

var pageTemplates = template.Must(template.ParseFS(pageFiles, "templates/layout.html", "templates/ticket.html"))

// WritePage writes a complete H5 page: the shared chrome (viewport, inline
// CSS, no external assets) around body, with headers that keep it out of
// caches and keep its signed URL out of Referer headers. The digest page
// renders its own body with html/template and hands it here.
func WritePage(w http.ResponseWriter, status int, title string, body template.HTML) {
	var b bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&b, "layout", struct {
		Title string
		Body  template.HTML
	}{title, body}); err != nil {
		http.Error(w, "页面生成失败", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// WriteErrorPage writes a page that only says what went wrong, in Chinese.
func WriteErrorPage(w http.ResponseWriter, status int, heading, msg string) {
	var b bytes.Buffer
	_ = pageTemplates.ExecuteTemplate(&b, "error", struct{ Heading, Message string }{heading, msg})
	WritePage(w, status, heading, template.HTML(b.String()))
}

// WriteLinkRefused answers a request whose signed link failed Verify: 403.
func WriteLinkRefused(w http.ResponseWriter, err error) {
	WriteErrorPage(w, http.StatusForbidden, "无法打开此页面", hotlinebot.ErrorMessage(err))
}

// PagesOptions configure the H5 ticket pages.
type PagesOptions struct {
	Store    *storage.Store
	Links    *Links
	Clock    func() time.Time
	Location *time.Location // calendar.timezone, for the times shown
	Logger   *slog.Logger
}

// Pages serves the H5 ticket page `GET /t/{ref}`: the page a push links to,
// signed for its recipient. It shows the whole ticket, its deadlines, its
// history and the commands the recipient can answer with; the caller's
// phone in full only to the handlers of the ticket's department.
type Pages struct {
	pg  *pages
	mux *http.ServeMux
}

// withDefaults checks the options every page needs and fills in the rest.
func (opts PagesOptions) withDefaults() (PagesOptions, error) {
	switch {
	case opts.Store == nil:
		return opts, errors.New("bot: PagesOptions.Store is required")
	case opts.Links == nil || len(opts.Links.Secret) == 0:
		return opts, errors.New("bot: PagesOptions.Links with a secret is required")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return opts, nil
}

// NewPages checks opts and returns the ticket pages.
func NewPages(opts PagesOptions) (*Pages, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pages{pg: &pages{opts}, mux: http.NewServeMux()}
	p.Register(p.mux)
	return p, nil
}

// Register adds `GET /t/{ref}` to mux.
func (p *Pages) Register(mux *http.ServeMux) { mux.HandleFunc("GET /t/{ref}", p.pg.ticket) }

// ServeHTTP serves `GET /t/{ref}` (404 for anything else).
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// PagesHandler is NewPages as an http.Handler; it panics on bad options.
func PagesHandler(opts PagesOptions) http.Handler {
	p, err := NewPages(opts)
	if err != nil {
		panic(err)
	}
	return p
}

type pages struct{ PagesOptions }

func (pg *pages) ticket(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := pg.Clock()
	ref := r.PathValue("ref")
	personID, err := pg.Links.Verify("/t/"+ref, r.URL.Query(), now)
	if err != nil {
		WriteLinkRefused(w, err)
		return
	}
	viewer, err := pg.Store.Person(ctx, personID)
	if err != nil || viewer.Disabled {
		if err != nil && hotlinebot.ErrorCodeOf(err) != hotlinebot.ENOTFOUND {
			pg.unavailable(w, err)
			return
		}
		WriteErrorPage(w, http.StatusForbidden, "无法打开此页面", "此链接的收件人已不在系统中。")
		return
	}
	t, err := pg.Store.Ticket(ctx, ref)
	if err != nil {
		if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
			WriteErrorPage(w, http.StatusNotFound, "工单不存在", "没有找到工单 "+ref+"。")
			return
		}
		pg.unavailable(w, err)
		return
	}
	// The link names its recipient, but what they may see is decided now:
	// a handler who moved, or whose department gave the ticket away, no
	// longer sees it (the same rule as 查).
	if !mayView(viewer, t) {
		WriteErrorPage(w, http.StatusForbidden, "无法打开此页面", "您现在无权查看此工单：它不属于您的单位。")
		return
	}
	events, err := pg.Store.TicketEvents(ctx, t.ID)
	if err != nil {
		pg.unavailable(w, err)
		return
	}
	v, err := pg.view(ctx, t, events, viewer, now)
	if err != nil {
		pg.unavailable(w, err)
		return
	}
	var b bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&b, "ticket", v); err != nil {
		pg.Logger.Error("ticket page", "ticket", t.ID, "err", err)
		WriteErrorPage(w, http.StatusInternalServerError, "页面生成失败", "请稍后再试。")
		return
	}
	WritePage(w, http.StatusOK, t.Ref()+" "+t.Title, template.HTML(b.String()))
}

func (pg *pages) unavailable(w http.ResponseWriter, err error) {
	pg.Logger.Error("ticket page: storage", "err", err)
	WriteErrorPage(w, http.StatusServiceUnavailable, "系统繁忙", "请稍后刷新本页。")
}

type ticketView struct {
	T                                  hotlinebot.Ticket
	Status                             string
	Overdue, SignOverdue, Closed       bool
	SignDue, Due, OriginalDue          string
	Received, Accepted, Completed, Now string
	Phone                              string
	FullPhone                          bool
	PhoneHref                          template.URL
	Department, Assignee, FollowUp     string
	Commands                           []pageCommand
	History                            []historyItem
}

type pageCommand struct{ Text, Help string }

type historyItem struct {
	Action, Change, At, Who, Note string
}

func (pg *pages) view(ctx context.Context, t hotlinebot.Ticket, events []hotlinebot.Event, viewer hotlinebot.Person, now time.Time) (ticketView, error) {
	fmtTime := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.In(pg.Location).Format(hotlinebot.LayoutMinute)
	}
	v := ticketView{
		T: t, Status: t.Status.Chinese(), Overdue: t.Overdue(now), Closed: t.Status == hotlinebot.StatusClosed,
		SignDue: fmtTime(t.SignDueAt), Due: fmtTime(t.DueAt), Received: fmtTime(t.ReceivedAt),
		Accepted: fmtTime(t.AcceptedAt), Completed: fmtTime(t.CompletedAt), Now: fmtTime(now),
	}
	if t.Status == hotlinebot.StatusDispatched && !t.SignDueAt.IsZero() && now.After(t.SignDueAt) {
		v.SignOverdue = true
	}
	if !t.OriginalDueAt.IsZero() && !t.OriginalDueAt.Equal(t.DueAt) && t.ExtendedDays > 0 {
		v.OriginalDue = fmtTime(t.OriginalDueAt)
	}
	// The handlers of the ticket's department call the citizen back; nobody
	// else sees the number.
	v.FullPhone = viewer.Role == hotlinebot.RoleHandler && t.Department != "" && viewer.Department == t.Department
	if v.FullPhone {
		v.Phone = t.CallerPhone
		v.PhoneHref = template.URL("tel:" + t.CallerPhone)
	} else {
		v.Phone = hotlinebot.MaskPhone(t.CallerPhone)
	}
	if t.FollowUpResult != "" {
		v.FollowUp = t.FollowUpResult.Chinese()
	}
	if t.Department != "" {
		if d, err := pg.Store.Department(ctx, t.Department); err == nil {
			v.Department = d.Name
		} else if hotlinebot.ErrorCodeOf(err) != hotlinebot.ENOTFOUND {
			return v, err
		} else {
			v.Department = t.Department
		}
	}
	names := map[int64]string{viewer.ID: viewer.Name}
	name := func(id int64) (string, error) {
		if n, ok := names[id]; ok {
			return n, nil
		}
		p, err := pg.Store.Person(ctx, id)
		if err != nil {
			if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
				names[id] = "（已删除）"
				return names[id], nil
			}
			return "", err
		}
		names[id] = p.Name
		return p.Name, nil
	}
	if t.AssigneeID != 0 {
		n, err := name(t.AssigneeID)
		if err != nil {
			return v, err
		}
		v.Assignee = n
	}
	for _, e := range events {
		h := historyItem{Action: e.Action.Chinese(), At: fmtTime(e.At), Note: e.Note}
		if e.FromStatus != "" && e.ToStatus != "" && e.FromStatus != e.ToStatus {
			h.Change = e.FromStatus.Chinese() + " → " + e.ToStatus.Chinese()
		}
		switch {
		case e.ActorID != 0:
			n, err := name(e.ActorID)
			if err != nil {
				return v, err
			}
			h.Who = n
		case e.Channel == hotlinebot.ChannelAPI || e.Channel == hotlinebot.ChannelCLI:
			h.Who = "热线办"
		case e.Channel == hotlinebot.ChannelImport:
			h.Who = "导入"
		default:
			h.Who = "系统"
		}
		v.History = append(v.History, h)
	}
	v.Commands = pageCommands(t, viewer, now)
	return v, nil
}

// pageCommands are the chat commands the viewer can send about t now.
func pageCommands(t hotlinebot.Ticket, p hotlinebot.Person, now time.Time) []pageCommand {
	n := strconv.FormatInt(t.ID, 10)
	var cs []pageCommand
	add := func(text, help string) { cs = append(cs, pageCommand{text, help}) }
	inDept := t.Department != "" && p.Department == t.Department
	switch {
	case p.Role == hotlinebot.RoleHandler && inDept:
		switch t.Status {
		case hotlinebot.StatusDispatched:
			add("签收 "+n, "签收后由您承办")
			add("办结 "+n+" 办理结果", "直接办结，写明办理结果")
			add("退回 "+n+" 理由", "不属本单位职责时申请退回，由热线办审核")
		case hotlinebot.StatusAccepted:
			add("进展 "+n+" 办理情况", "记录办理进展")
			add("办结 "+n+" 办理结果", "写明办理结果；之后可发送现场照片作为材料")
			if t.AssigneeID == p.ID && t.ExtensionDays == 0 && !t.DueAt.IsZero() && now.Before(t.DueAt) {
				add("延期 "+n+" 3天 理由", "申请延长办理期限（工作日），由单位领导或热线办审批")
			}
			add("退回 "+n+" 理由", "不属本单位职责时申请退回，由热线办审核")
		}
	case p.Role == hotlinebot.RoleLeader && inDept, p.Role == hotlinebot.RoleOffice:
		if t.ExtensionDays > 0 {
			add("同意延期 "+n, fmt.Sprintf("同意延期 %d 个工作日", t.ExtensionDays))
			add("驳回延期 "+n+" 理由", "驳回延期申请，期限不变")
		}
	}
	if p.Role == hotlinebot.RoleOffice {
		switch t.Status {
		case hotlinebot.StatusPending:
			add("派 "+n+" 单位", "派给一个单位（名称或代码）")
		case hotlinebot.StatusDispatched, hotlinebot.StatusAccepted:
			add("派 "+n+" 单位", "改派给另一个单位")
		case hotlinebot.StatusReturnRequested:
			add("同意退回 "+n+" 单位", "同意退回，可同时改派给另一个单位；不写单位则回到待分派")
			add("驳回退回 "+n+" 理由", "驳回退回，原单位继续办理")
		}
	}
	add("查 "+n, "在公众号里查看工单摘要")
	add("待办", "列出您的待办工单")
	return cs
}
