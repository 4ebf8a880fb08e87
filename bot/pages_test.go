package bot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

type pagesFixture struct {
	s                              *storage.Store
	links                          *Links
	srv                            *httptest.Server
	ticket                         hotlinebot.Ticket
	handler, other, leader, office hotlinebot.Person
	now                            time.Time
}

func newPagesFixture(t *testing.T) *pagesFixture {
	t.Helper()
	ctx := context.Background()
	s := storagetest.NewStore(t)
	t0 := storagetest.At(2026, time.December, 1, 10, 0)
	for _, d := range []hotlinebot.Department{{Code: "longshan", Name: "龙山管理处"}, {Code: "nanhu", Name: "南湖街道办事处"}} {
		if _, err := s.CreateDepartment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	person := func(name string, role hotlinebot.Role, dept string) hotlinebot.Person {
		p, err := s.CreatePerson(ctx, hotlinebot.Person{Name: name, Role: role, Department: dept}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := &pagesFixture{s: s, now: t0.Add(2 * time.Hour),
		handler: person("张三", hotlinebot.RoleHandler, "longshan"),
		other:   person("王五", hotlinebot.RoleHandler, "nanhu"),
		leader:  person("赵主任", hotlinebot.RoleLeader, "longshan"),
		office:  person("钱办事员", hotlinebot.RoleOffice, ""),
		links:   &Links{Secret: []byte("pages secret"), PublicURL: "https://h.example.cn", TTL: 24 * time.Hour},
	}
	tk, _, err := s.CreateTicket(ctx, storage.NewTicket{
		ExternalID: "YY20261201-0007", Title: "龙山路占道经营", Content: "龙山路菜市场门口每天早上有流动摊贩占道。\n影响通行。",
		Category: "市容市貌", Area: "龙山管理处", Address: "龙山路 12 号", CallerName: "张先生", CallerPhone: "13812345678",
		Department: "longshan",
	}, hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ref := "#" + itoa(tk.ID)
	me := hotlinebot.Actor{PersonID: f.handler.ID, Name: f.handler.Name, Role: f.handler.Role, Department: "longshan", Channel: hotlinebot.ChannelWeChat}
	if _, err := s.Act(ctx, ref, me, hotlinebot.Command{Action: hotlinebot.ActionAccept}, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Act(ctx, ref, me, hotlinebot.Command{Action: hotlinebot.ActionProgress, Note: "已联系市场管理方，明早现场劝离"}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if f.ticket, err = s.Ticket(ctx, ref); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(PagesHandler(PagesOptions{Store: s, Links: f.links, Clock: func() time.Time { return f.now }, Location: storagetest.Shanghai}))
	t.Cleanup(f.srv.Close)
	return f
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// get fetches a page by a link made for the server.
func (f *pagesFixture) get(t *testing.T, link string) (int, string, http.Header) {
	t.Helper()
	u, _ := url.Parse(link)
	resp, err := http.Get(f.srv.URL + u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestTicketPageForTheHandler(t *testing.T) {
	f := newPagesFixture(t)
	status, body, h := f.get(t, f.links.TicketURL(f.ticket.ID, f.handler.ID, f.now))
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	for _, want := range []string{
		`<meta name="viewport"`, "龙山路占道经营", "YY20261201-0007", "市容市貌", "龙山路 12 号", "张先生",
		`href="tel:13812345678"`, "龙山管理处", "办理中", "签收时间", "办理期限",
		"进展 " + itoa(f.ticket.ID) + " 办理情况", "办结 " + itoa(f.ticket.ID) + " 办理结果", "延期 " + itoa(f.ticket.ID) + " 3天 理由",
		"已联系市场管理方，明早现场劝离",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the handler's page lacks %q", want)
		}
	}
	if strings.Contains(body, "<link") || strings.Contains(body, "<script") || strings.Contains(body, "src=\"http") {
		t.Error("the page loads external assets")
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers %v", h)
	}
	// History oldest first: 受理 … 签收 … 进展, with who did it.
	iCreate, iAccept, iProgress := strings.Index(body, "<strong>受理</strong>"), strings.Index(body, "<strong>签收</strong>"), strings.Index(body, "<strong>进展</strong>")
	if iCreate < 0 || iAccept < 0 || iProgress < 0 || !(iCreate < iAccept && iAccept < iProgress) {
		t.Errorf("history out of order or incomplete: 受理 %d, 签收 %d, 进展 %d", iCreate, iAccept, iProgress)
	}
	if !strings.Contains(body, "2026年12月01日 10:30 · 张三") {
		t.Errorf("the 签收 event does not say when and who:\n%s", body)
	}
}

func TestTicketPageMasksThePhoneForOthers(t *testing.T) {
	f := newPagesFixture(t)
	for _, p := range []hotlinebot.Person{f.leader, f.office} {
		status, body, _ := f.get(t, f.links.TicketURL(f.ticket.ID, p.ID, f.now))
		if status != 200 {
			t.Fatalf("%s: status %d", p.Name, status)
		}
		if strings.Contains(body, "13812345678") || !strings.Contains(body, "138****5678") {
			t.Errorf("%s sees the phone unmasked or not at all", p.Name)
		}
		if strings.Contains(body, "办结 "+itoa(f.ticket.ID)) {
			t.Errorf("%s is offered 办结", p.Name)
		}
	}
	_, body, _ := f.get(t, f.links.TicketURL(f.ticket.ID, f.office.ID, f.now))
	if !strings.Contains(body, "派 "+itoa(f.ticket.ID)+" 单位") {
		t.Error("the office is not offered 派 (with 单位, as the chat help writes it)")
	}
}

// A link reaches only its recipient, and only while they may see the ticket:
// a handler of another department (one who moved, or whose department gave
// the ticket away) is refused, without the ticket.
func TestTicketPageRefusesThoseWhoMayNotSeeIt(t *testing.T) {
	f := newPagesFixture(t)
	status, body, _ := f.get(t, f.links.TicketURL(f.ticket.ID, f.other.ID, f.now))
	if status != http.StatusForbidden {
		t.Fatalf("another department's handler: status %d, want 403", status)
	}
	if strings.Contains(body, f.ticket.Title) || strings.Contains(body, "138****5678") {
		t.Errorf("the refusal shows the ticket:\n%s", body)
	}
}

// The page's commands say what the chat says: 单位, and who decides.
func TestTicketPageCommandsSpeakLikeTheChat(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	handler := hotlinebot.Person{ID: 7, Role: hotlinebot.RoleHandler, Department: "longshan"}
	tk := hotlinebot.Ticket{ID: 37, Status: hotlinebot.StatusAccepted, Department: "longshan", AssigneeID: 7, DueAt: now.Add(48 * time.Hour)}
	var all []string
	for _, c := range pageCommands(tk, handler, now) {
		all = append(all, c.Text+" "+c.Help)
	}
	for _, c := range pageCommands(hotlinebot.Ticket{ID: 37, Status: hotlinebot.StatusReturnRequested, Department: "longshan"},
		hotlinebot.Person{ID: 8, Role: hotlinebot.RoleOffice}, now) {
		all = append(all, c.Text+" "+c.Help)
	}
	text := strings.Join(all, "\n")
	if strings.Contains(text, "部门") {
		t.Errorf("page commands say 部门 where the chat says 单位:\n%s", text)
	}
	if !strings.Contains(text, "由单位领导或热线办审批") {
		t.Errorf("the 延期 command does not say who decides as the chat does:\n%s", text)
	}
}

func TestTicketPageRefusesBadLinks(t *testing.T) {
	f := newPagesFixture(t)
	good := f.links.TicketURL(f.ticket.ID, f.handler.ID, f.now)
	u, _ := url.Parse(good)
	sig := u.Query().Get("sig")
	parts := strings.Split(sig, ".")
	cases := map[string]string{
		"tampered mac": "/t/" + itoa(f.ticket.ID) + "?sig=" + parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"other person": "/t/" + itoa(f.ticket.ID) + "?sig=" + parts[0] + "." + itoa(f.leader.ID) + "." + parts[2],
		"other ticket": "/t/999?sig=" + url.QueryEscape(sig),
		"no sig":       "/t/" + itoa(f.ticket.ID),
	}
	check := func(name, path string) {
		status, body, _ := f.get(t, "http://x"+path)
		if status != http.StatusForbidden || !strings.Contains(body, "无法打开此页面") {
			t.Errorf("%s: status %d", name, status)
		}
		if strings.Contains(body, "龙山路占道经营") {
			t.Errorf("%s: the refusal shows the ticket", name)
		}
	}
	for name, path := range cases {
		check(name, path)
	}
	if status, _, _ := f.get(t, good); status != 200 {
		t.Fatalf("the good link: status %d", status)
	}
	f.now = f.now.Add(25 * time.Hour)
	check("expired", u.RequestURI())
}

func TestNewPagesRegister(t *testing.T) {
	if _, err := NewPages(PagesOptions{}); err == nil {
		t.Error("NewPages without a store or links")
	}
	f := newPagesFixture(t)
	p, err := NewPages(PagesOptions{Store: f.s, Links: f.links, Clock: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux)
	u, _ := url.Parse(f.links.TicketURL(f.ticket.ID, f.handler.ID, f.now))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", u.RequestURI(), nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "龙山路占道经营") {
		t.Errorf("registered page: %d", rec.Code)
	}
}
