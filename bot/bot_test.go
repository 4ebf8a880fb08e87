package bot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
	"github.com/jmoiron/sqlx"
	"github.com/silenceper/wechat/v2/officialaccount/message"
)

// testClock is the clock shared by the bot, the store's callers and the
// simulated WeChat (whose users sign callbacks with its time).
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// chat is a bot on a fresh database behind an HTTP server, with the
// simulated WeChat serving its API calls and posting its users' callbacks.
type chat struct {
	t     *testing.T
	ctx   context.Context
	clock *testClock
	store *storage.Store
	sim   *wechatsim.Platform
	bot   *Bot
	srv   *httptest.Server
	logs  *syncBuffer
}

type chatOption func(*Options)

// newChat starts a bot. The SDK's HTTP settings are process-wide: these
// tests do not run in parallel.
func newChat(t *testing.T, store *storage.Store, opts ...chatOption) *chat {
	t.Helper()
	if store == nil {
		store = storagetest.NewStore(t)
	}
	clock := &testClock{now: storagetest.At(2026, 12, 1, 9, 0)} // a Tuesday
	sim := wechatsim.New(wechatsim.Options{
		AppID: simAppID, AppSecret: simAppSecret, Token: simToken, EncodingAESKey: simAESKey, Now: clock.Now,
	})
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	wc, err := NewWeChat(WeChatConfig{
		AppID: simAppID, AppSecret: simAppSecret, Token: simToken, EncodingAESKey: simAESKey,
		APIBaseURL: api.URL, Cache: newTestCache(), HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	o := Options{
		Store: store, WeChat: wc, Now: clock.Now, Location: storagetest.Shanghai,
		Links:  &Links{Secret: []byte("test-link-secret"), PublicURL: "https://hotline.example.gov.cn"},
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	for _, f := range opts {
		f(&o)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/wechat", b)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	sim.SetCallbackURL(srv.URL + "/wechat")
	return &chat{t: t, ctx: context.Background(), clock: clock, store: store, sim: sim, bot: b, srv: srv, logs: logs}
}

func (c *chat) department(code, name string) {
	c.t.Helper()
	if _, err := c.store.CreateDepartment(c.ctx, hotlinebot.Department{Code: code, Name: name}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *chat) person(name string, role hotlinebot.Role, dept string) hotlinebot.Person {
	c.t.Helper()
	p, err := c.store.CreatePerson(c.ctx, hotlinebot.Person{Name: name, Role: role, Department: dept}, c.clock.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (c *chat) code(p hotlinebot.Person) string {
	c.t.Helper()
	bc, err := c.store.IssueBindCode(c.ctx, p.ID, c.clock.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return bc.Code
}

// bound returns a WeChat user bound to p (through 绑定, in safe mode).
func (c *chat) bound(p hotlinebot.Person, openid string) *wechatsim.User {
	c.t.Helper()
	u := c.sim.User(openid)
	if reply := c.say(u, "绑定 "+c.code(p)); !strings.HasPrefix(reply, "绑定成功") {
		c.t.Fatalf("binding %s: %q", p.Name, reply)
	}
	return u
}

func (c *chat) say(u *wechatsim.User, text string) string {
	c.t.Helper()
	reply, status, err := u.Say(text)
	if err != nil || status != http.StatusOK {
		c.t.Fatalf("say %q: status %d, %v", text, status, err)
	}
	return reply
}

func (c *chat) ticket(ext, title, dept string) hotlinebot.Ticket {
	c.t.Helper()
	tk, _, err := c.store.CreateTicket(c.ctx, storage.NewTicket{
		ExternalID: ext, Title: title, Content: title + "，请尽快处理。", Category: "市容市貌", Department: dept,
		CallerName: "张先生", CallerPhone: "13800000000",
	}, hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI}, c.clock.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return tk
}

func (c *chat) load(ref string) hotlinebot.Ticket {
	c.t.Helper()
	tk, err := c.store.Ticket(c.ctx, ref)
	if err != nil {
		c.t.Fatal(err)
	}
	return tk
}

func (c *chat) events(id int64, action hotlinebot.Action) []hotlinebot.Event {
	c.t.Helper()
	evs, err := c.store.TicketEvents(c.ctx, id)
	if err != nil {
		c.t.Fatal(err)
	}
	var out []hotlinebot.Event
	for _, e := range evs {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}

func TestCallbackChecks(t *testing.T) {
	c := newChat(t, nil)
	u := c.sim.User("o-anyone")

	body, status, err := u.VerifyURL("echo-123")
	if err != nil || status != http.StatusOK || body != "echo-123" {
		t.Errorf("URL verification = %d %q %v, want 200 echo-123", status, body, err)
	}
	if _, status, _ := u.VerifyURL("echo-123", wechatsim.WithForgedSignature()); status != http.StatusForbidden {
		t.Errorf("URL verification with a forged signature = %d, want 403", status)
	}
	for _, mode := range []*wechatsim.User{u.Plain(), u.Safe()} {
		if _, status, _ := mode.Say("帮助", wechatsim.WithForgedSignature()); status != http.StatusForbidden {
			t.Errorf("forged signature = %d, want 403", status)
		}
		if _, status, _ := mode.Say("帮助", wechatsim.WithTimestamp(c.clock.Now().Add(-301*time.Second))); status != http.StatusForbidden {
			t.Errorf("stale timestamp = %d, want 403", status)
		}
		if _, status, _ := mode.Say("帮助", wechatsim.WithTimestamp(c.clock.Now().Add(301*time.Second))); status != http.StatusForbidden {
			t.Errorf("future timestamp = %d, want 403", status)
		}
		if reply, status, _ := mode.Say("帮助", wechatsim.WithTimestamp(c.clock.Now().Add(-200*time.Second))); status != http.StatusOK || reply == "" {
			t.Errorf("timestamp 200 s old = %d %q, want 200 with a reply", status, reply)
		}
	}
	if _, status, _ := u.Safe().Say("帮助", wechatsim.WithForgedMsgSignature()); status != http.StatusForbidden {
		t.Errorf("forged msg_signature = %d, want 403", status)
	}
	r, err := u.PostRaw(bytes.Repeat([]byte("x"), 65<<10))
	if err != nil || r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("65 KiB body = %v %v, want 413", r, err)
	}
	r, err = u.PostRaw([]byte("<xml><ToUserName>gh</ToUserName><FromUserName>o"))
	if err != nil || r.Status != http.StatusBadRequest {
		t.Errorf("malformed XML = %v %v, want 400", r, err)
	}
	req, _ := http.NewRequest(http.MethodPut, c.srv.URL+"/wechat", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT = %v %v, want 405", resp, err)
	}
}

func TestUnboundSenderGetsOnlyBindingHelp(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	tk := c.ticket("YY20171020-0012", "占道经营", "longshan")
	u := c.sim.User("o-stranger")
	for _, text := range []string{"待办", "查 " + tk.Ref(), "签收 " + tk.Ref(), "办结 1 已处理", "你好", "帮助"} {
		reply := c.say(u, text)
		if reply != replyUnbound {
			t.Errorf("%q from an unbound sender = %q, want the binding help", text, reply)
		}
	}
	r, err := u.SendImage("media-x")
	if err != nil || r.Content != replyUnbound {
		t.Errorf("image from an unbound sender = %v %v", r, err)
	}
	if got := c.load(tk.Ref()); got.Status != hotlinebot.StatusDispatched {
		t.Errorf("ticket status = %s, want dispatched", got.Status)
	}
}

func TestBinding(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	zhang := c.person("张三", hotlinebot.RoleHandler, "longshan")
	li := c.person("李四", hotlinebot.RoleOffice, "")
	wang := c.person("王五", hotlinebot.RoleLeader, "longshan")

	// By code, in plain mode.
	code := c.code(zhang)
	u := c.sim.User("o-zhang").Plain()
	if got, want := c.say(u, "绑定 "+code), "绑定成功：张三，龙山管理处承办人。"; !strings.HasPrefix(got, want) {
		t.Errorf("bind = %q, want %q…", got, want)
	}
	if p, err := c.store.PersonByOpenID(c.ctx, "o-zhang"); err != nil || p.ID != zhang.ID {
		t.Errorf("PersonByOpenID = %v %v, want 张三", p, err)
	}
	// The same code from someone else: used.
	wantContains(t, "a used code", c.say(c.sim.User("o-other"), "绑定 "+code), "绑定未成功", "用过")

	// By the QR code: subscribe with qrscene_bind:<code> (safe mode), and SCAN.
	r, err := c.sim.User("o-li").Subscribe("bind:" + c.code(li))
	if err != nil || !strings.HasPrefix(r.Content, "绑定成功：李四，热线办。") {
		t.Errorf("subscribe with the bind QR = %v %v", r, err)
	}
	r, err = c.sim.User("o-wang").Scan("bind:" + c.code(wang))
	if err != nil || !strings.HasPrefix(r.Content, "绑定成功：王五，龙山管理处领导。") {
		t.Errorf("scan of the bind QR = %v %v", r, err)
	}

	// Wrong codes are throttled: after five, even the right one is refused.
	guesser := c.sim.User("o-guesser")
	other := c.person("赵六", hotlinebot.RoleHandler, "longshan")
	right := c.code(other)
	for i := 0; i < 5; i++ {
		c.say(guesser, "绑定 00000000")
	}
	wantContains(t, "the right code after five wrong ones", c.say(guesser, "绑定 "+right), "尝试次数过多")
	c.clock.Advance(16 * time.Minute)
	if got := c.say(guesser, "绑定 "+right); !strings.HasPrefix(got, "绑定成功：赵六") {
		t.Errorf("after the lockout = %q, want 绑定成功", got)
	}

	// Unfollowing marks the person unreachable; following again undoes it.
	if _, err := c.sim.User("o-zhang").Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.store.Person(c.ctx, zhang.ID); p.Reachable {
		t.Error("张三 is still reachable after unsubscribe")
	}
	r, err = c.sim.User("o-zhang").Subscribe("")
	if err != nil || !strings.Contains(r.Content, "欢迎回来，张三") {
		t.Errorf("subscribe again = %v %v", r, err)
	}
	if p, _ := c.store.Person(c.ctx, zhang.ID); !p.Reachable {
		t.Error("张三 is not reachable after subscribing again")
	}
}

func TestAcceptAndComplete(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	zhang := c.person("张三", hotlinebot.RoleHandler, "longshan")
	u := c.bound(zhang, "o-zhang")
	tk := c.ticket("YY20171020-0012", "龙山路占道经营", "longshan")

	// The ref omitted: the department's only dispatched ticket.
	reply := c.say(u, "签收")
	wantContains(t, "签收", reply, "已签收 "+tk.Ref(), "办理时限 2026年12月08日 18:00")
	got := c.load(tk.Ref())
	if got.Status != hotlinebot.StatusAccepted || got.AssigneeID != zhang.ID {
		t.Fatalf("after 签收: %s, assignee %d", got.Status, got.AssigneeID)
	}
	reply = c.say(u.Plain(), "办结：YY20171020-0012：已清理完毕，现场已恢复。")
	wantContains(t, "办结", reply, tk.Ref()+"「龙山路占道经营」已办结")
	got = c.load(tk.Ref())
	if got.Status != hotlinebot.StatusCompleted || got.Outcome != "已清理完毕，现场已恢复。" {
		t.Errorf("after 办结: %s %q", got.Status, got.Outcome)
	}
	for _, a := range []hotlinebot.Action{hotlinebot.ActionAccept, hotlinebot.ActionComplete} {
		evs := c.events(tk.ID, a)
		if len(evs) != 1 || evs[0].Channel != hotlinebot.ChannelWeChat || evs[0].ActorID != zhang.ID {
			t.Errorf("%s events = %+v, want one by 张三 through wechat", a, evs)
		}
	}
}

func TestRefOmittedWithTwoTickets(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	a := c.ticket("EXT-1", "占道经营", "longshan")
	b := c.ticket("EXT-2", "噪音扰民", "longshan")
	reply := c.say(u, "签收")
	wantContains(t, "签收 with two tickets", reply, "2 件", a.Ref(), b.Ref(), "签收 #")
	for _, tk := range []hotlinebot.Ticket{a, b} {
		if got := c.load(tk.Ref()); got.Status != hotlinebot.StatusDispatched {
			t.Errorf("%s = %s, want still dispatched", tk.Ref(), got.Status)
		}
	}
	wantContains(t, "签收 #id", c.say(u, "签收 ＃"+strings.TrimPrefix(b.Ref(), "#")), "已签收 "+b.Ref())

	// A colleague signing the same ticket is told who has it.
	li := c.bound(c.person("李四", hotlinebot.RoleHandler, "longshan"), "o-li")
	wantContains(t, "a colleague's 签收", c.say(li, "签收 "+b.Ref()), b.Ref()+" 已由张三签收")
	if got := c.load(b.Ref()); got.AssigneeID == 0 || len(c.events(b.ID, hotlinebot.ActionAccept)) != 1 {
		t.Errorf("after a colleague's 签收: assignee %d, %d accept events", got.AssigneeID, len(c.events(b.ID, hotlinebot.ActionAccept)))
	}
}

func TestRetryIsAppliedOnce(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	tk := c.ticket("EXT-1", "占道经营", "longshan")
	first := c.say(u, "签收 "+tk.Ref())
	for i := 0; i < 2; i++ {
		r, err := u.Retry()
		if err != nil || r.Status != http.StatusOK || r.Content != first {
			t.Errorf("retry %d = %v %v, want the same reply %q", i+1, r, err, first)
		}
	}
	if n := len(c.events(tk.ID, hotlinebot.ActionAccept)); n != 1 {
		t.Errorf("%d accept events, want 1", n)
	}
	// A later, new 签收 of the same ticket is a new message: it changes
	// nothing and says so.
	wantContains(t, "签收 again", c.say(u, "签收 "+tk.Ref()), "您已签收过 "+tk.Ref())
}

func TestOtherDepartmentIsRefused(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	c.department("nanhu", "南湖街道办事处")
	outsider := c.person("钱七", hotlinebot.RoleHandler, "nanhu")
	u := c.bound(outsider, "o-qian")
	tk := c.ticket("EXT-1", "占道经营", "longshan")
	wantContains(t, "签收 by another department", c.say(u, "签收 "+tk.Ref()), "无法办理", tk.Ref())
	evs := c.events(tk.ID, hotlinebot.ActionRefused)
	if len(evs) != 1 || evs[0].ActorID != outsider.ID || evs[0].Channel != hotlinebot.ChannelWeChat {
		t.Errorf("refused events = %+v, want one by 钱七 through wechat", evs)
	}
	wantContains(t, "查 by another department", c.say(u, "查 "+tk.Ref()), "无法查看")
	if strings.Contains(c.say(u, "查 "+tk.Ref()), "占道经营") {
		t.Error("查 by another department shows the ticket's title")
	}
	if got := c.load(tk.Ref()); got.Status != hotlinebot.StatusDispatched {
		t.Errorf("status = %s, want dispatched", got.Status)
	}
}

func TestTodoAndShow(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	zhang := c.person("张三", hotlinebot.RoleHandler, "longshan")
	u := c.bound(zhang, "o-zhang")
	a := c.ticket("EXT-1", "占道经营", "longshan")
	c.clock.Advance(time.Hour)
	b := c.ticket("EXT-2", "噪音扰民", "longshan")
	c.say(u, "签收 "+b.Ref())
	c.clock.Advance(8 * 24 * time.Hour) // both past their deadlines

	reply := c.say(u, "我的工单")
	wantContains(t, "待办", reply, "2 件", "2 件已超期", a.Ref(), b.Ref(), "【已超期】")
	if strings.Index(reply, a.Ref()) > strings.Index(reply, b.Ref()) {
		t.Errorf("待办 = %q: %s (签收 due first) should come before %s", reply, a.Ref(), b.Ref())
	}
	reply = c.say(u, "查 "+b.Ref())
	wantContains(t, "查", reply, b.Ref(), "噪音扰民", "办理中", "张三", "https://hotline.example.gov.cn/t/")
	if strings.Contains(reply, "13800000000") {
		t.Errorf("查 shows the caller's phone: %q", reply)
	}
	if n := len(reply); n > 2000 {
		t.Errorf("查 reply is %d bytes", n)
	}
}

func TestDatabaseDownAsksToSendAgain(t *testing.T) {
	dbURL := storagetest.NewDatabase(t)
	u0, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u0.Host)
	u0.Host = proxy.addr()
	store, err := storage.Open(context.Background(), u0.String(), storage.Options{
		Calendar: storagetest.Calendar(t), Policy: hotlinebot.DefaultDeadlinePolicy(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := newChat(t, store, func(o *Options) { o.DBTimeout = time.Second })
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	tk := c.ticket("EXT-1", "占道经营", "longshan")

	// A database that does not answer at all: the reply comes when the
	// callback's database timeout ends, well inside WeChat's 5 seconds.
	proxy.setHang(true)
	if got := c.say(u, "待办"); got != replyBusy {
		t.Errorf("with the database hanging = %q, want %q", got, replyBusy)
	}
	proxy.setHang(false)

	proxy.setDown(true) // the database refuses connections
	if got := c.say(u, "签收 "+tk.Ref()); got != replyBusy {
		t.Errorf("with the database down = %q, want %q", got, replyBusy)
	}
	proxy.setDown(false)
	// The message was not recorded: WeChat's next tries of the very same
	// message go through, once, even when they arrive together.
	replies := make([]string, 3)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := u.Retry(); err == nil {
				replies[i] = r.Content
			}
		}()
	}
	wg.Wait()
	for i, r := range replies {
		if !strings.Contains(r, "已签收 "+tk.Ref()) || r != replies[0] {
			t.Errorf("try %d once the database is back = %q, want the same 已签收 reply", i, r)
		}
	}
	if n := len(c.events(tk.ID, hotlinebot.ActionAccept)); n != 1 {
		t.Errorf("%d accept events, want 1", n)
	}
}

// tcpProxy forwards connections to a PostgreSQL server; while down it
// drops every connection, as an unreachable database does.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	hang   bool // new connections are accepted and never answered
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(in)
		}
	}()
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// setHang makes the database stop answering (or answer again): open
// connections are dropped, and while hanging new ones are accepted but never
// answered.
func (p *tcpProxy) setHang(hang bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
	p.down, p.hang = false, hang
}

func (p *tcpProxy) serve(in net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		in.Close()
		return
	}
	if p.hang {
		p.conns[in] = true
		p.mu.Unlock()
		return // held open, silent, until setDown or setHang(false) closes it
	}
	p.mu.Unlock()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	p.mu.Lock()
	p.conns[in], p.conns[out] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(out, in); out.Close() }()
	_, _ = io.Copy(in, out)
	in.Close()
}

func TestEvidenceAfterComplete(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	zhang := c.person("张三", hotlinebot.RoleHandler, "longshan")
	u := c.bound(zhang, "o-zhang")
	tk := c.ticket("EXT-1", "占道经营", "longshan")

	r, err := u.SendImage("media-before")
	if err != nil || !strings.Contains(r.Content, "没有作为办理材料保存") {
		t.Errorf("an image before any 办结 = %v %v", r, err)
	}
	c.say(u, "办结 "+tk.Ref()+" 已清理")
	c.clock.Advance(5 * time.Minute)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 1000)...)
	c.sim.AddMedia("media-1", png, "image/png")
	r, err = u.SendImage("media-1")
	if err != nil || !strings.Contains(r.Content, "将作为 "+tk.Ref()+" 办结的办理材料保存") {
		t.Fatalf("an image after 办结 = %v %v", r, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.bot.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	es, err := c.store.TicketEvidence(c.ctx, tk.ID)
	if err != nil || len(es) != 1 || es[0].Status != storage.EvidenceStored || es[0].Size != len(png) {
		t.Fatalf("evidence = %+v %v, want one stored image of %d bytes", es, err, len(png))
	}
	data, ctype, err := c.store.EvidenceData(c.ctx, es[0].ID)
	if err != nil || !bytes.Equal(data, png) || ctype != "image/png" {
		t.Errorf("evidence data = %d bytes %q %v", len(data), ctype, err)
	}
	evs := c.events(tk.ID, hotlinebot.ActionEvidence)
	if len(evs) != 1 || evs[0].ActorID != zhang.ID || evs[0].Channel != hotlinebot.ChannelWeChat {
		t.Errorf("evidence events = %+v", evs)
	}
}

func TestTemplateReceiptAndOtherMessages(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	r, err := u.Plain().TemplateReceipt(123456, "success")
	if err != nil || r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != "success" {
		t.Errorf("TEMPLATESENDJOBFINISH in plain mode = %v %v, want success", r, err)
	}
	r, err = u.TemplateReceipt(123457, "failed:user block")
	if err != nil || r.Status != http.StatusOK || len(bytes.TrimSpace(r.Body)) != 0 {
		t.Errorf("TEMPLATESENDJOBFINISH in safe mode = %v %v, want an empty body", r, err)
	}
	r, err = u.Send(wechatsim.Message{MsgType: "voice", MediaID: "v1"})
	if err != nil || r.Content != replyVoice {
		t.Errorf("voice = %v %v", r, err)
	}
	r, err = u.Send(wechatsim.Message{MsgType: "event", Event: "CLICK", EventKey: "待办"})
	if err != nil || !strings.Contains(r.Content, "待办") {
		t.Errorf("menu click 待办 = %v %v", r, err)
	}
	wantContains(t, "帮助 for a handler", c.say(u, "帮助"), "签收 37", "办结 37")
}

func TestOfficeAndLeaderDecisions(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	c.department("nanhu", "南湖街道办事处")
	zhang := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	office := c.bound(c.person("李四", hotlinebot.RoleOffice, ""), "o-li")
	leader := c.bound(c.person("王五", hotlinebot.RoleLeader, "longshan"), "o-wang")
	otherLeader := c.bound(c.person("孙八", hotlinebot.RoleLeader, "nanhu"), "o-sun")

	// The office dispatches a pending ticket, naming the department by part
	// of its name, the ref omitted (the only pending ticket).
	tk := c.ticket("EXT-9", "路灯不亮", "")
	wantContains(t, "office 待办", c.say(office, "待办"), tk.Ref(), "待分派")
	wantContains(t, "派 龙山", c.say(office, "派单 龙山"), "已将 "+tk.Ref()+" 派给龙山管理处", "签收时限")
	if got := c.load(tk.Ref()); got.Status != hotlinebot.StatusDispatched || got.Department != "longshan" {
		t.Fatalf("after 派: %s %s", got.Status, got.Department)
	}

	// The handler signs and asks for 3 more working days; a leader of
	// another department may not decide, the department's leader may.
	c.say(zhang, "接单 "+tk.Ref())
	wantContains(t, "延期", c.say(zhang, "延期 "+tk.Ref()+" 3 天 需更换线路"), "3 个工作日", "等待单位领导或热线办审批")
	wantContains(t, "另一单位领导 同意延期", c.say(otherLeader, "同意延期 "+tk.Ref()), "无法办理")
	if evs := c.events(tk.ID, hotlinebot.ActionRefused); len(evs) != 1 {
		t.Errorf("refused events = %d, want 1", len(evs))
	}
	wantContains(t, "leader 待办", c.say(leader, "待办"), tk.Ref(), "申请延期3个工作日")
	before := c.load(tk.Ref()).DueAt
	wantContains(t, "同意延期", c.say(leader, "同意延期"), "已同意 "+tk.Ref()+" 延期 3 个工作日", "新的办理时限 2026年12月11日 18:00")
	if after := c.load(tk.Ref()).DueAt; !after.After(before) {
		t.Errorf("DueAt %v → %v, want later", before, after)
	}

	// A return request, rejected by the office.
	wantContains(t, "退单", c.say(zhang, "退单 "+tk.Ref()+" 不属于本单位职责"), "已申请退回", "等待热线办审核")
	wantContains(t, "驳回退回", c.say(office, "驳回退回 "+tk.Ref()+" 属于你单位辖区"), "已驳回 "+tk.Ref()+" 的退回申请")
	if got := c.load(tk.Ref()); got.Status != hotlinebot.StatusAccepted {
		t.Errorf("after 驳回退回: %s, want accepted", got.Status)
	}
	// A handler may not dispatch.
	wantContains(t, "handler 派", c.say(zhang, "派 "+tk.Ref()+" nanhu"), "无法办理")
}

func TestEvidenceFetchRetriedAndExpired(t *testing.T) {
	c := newChat(t, nil)
	c.bot.fetchBackoff = time.Millisecond
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	tk := c.ticket("EXT-1", "占道经营", "longshan")
	c.say(u, "签收 "+tk.Ref())
	c.say(u, "进展 "+tk.Ref()+" 已到现场")

	// WeChat's media API fails every attempt of the first fetch: the image
	// stays pending, and a later FetchPendingEvidence gets it.
	c.sim.AddMedia("media-1", []byte("\xff\xd8\xff\xe0 jpeg"), "image/jpeg")
	c.sim.FailNext(wechatsim.PathMediaGet, wechatsim.HTTP500, evidenceAttempts)
	r, err := u.SendImage("media-1")
	if err != nil || !strings.Contains(r.Content, "进展的办理材料") {
		t.Fatalf("image after 进展 = %v %v", r, err)
	}
	c.bot.fetches.Wait()
	es, _ := c.store.TicketEvidence(c.ctx, tk.ID)
	if len(es) != 1 || es[0].Status != storage.EvidencePending || es[0].Attempts != 1 {
		t.Fatalf("after a failed fetch: %+v, want one pending", es)
	}
	if n, err := c.bot.FetchPendingEvidence(c.ctx); n != 0 || err != nil {
		t.Fatalf("FetchPendingEvidence right away = %d %v, want 0 (its first fetch may be under way)", n, err)
	}
	c.clock.Advance(3 * time.Minute)
	if n, err := c.bot.FetchPendingEvidence(c.ctx); n != 1 || err != nil {
		t.Fatalf("FetchPendingEvidence = %d %v", n, err)
	}
	c.bot.fetches.Wait()
	es, _ = c.store.TicketEvidence(c.ctx, tk.ID)
	if len(es) != 1 || es[0].Status != storage.EvidenceStored {
		t.Errorf("after FetchPendingEvidence: %+v, want stored", es)
	}

	// A media id WeChat does not know (expired) is given up at once, and a
	// photo over 2 MB is not kept; the sender is told of both.
	r, err = u.SendImage("media-unknown")
	if err != nil || r.Content == "" {
		t.Fatalf("second image = %v %v", r, err)
	}
	c.sim.AddMedia("media-big", bytes.Repeat([]byte{0xff}, 3<<20), "image/jpeg")
	if _, err := u.SendImage("media-big"); err != nil {
		t.Fatal(err)
	}
	c.bot.fetches.Wait()
	es, _ = c.store.TicketEvidence(c.ctx, tk.ID)
	if len(es) != 3 || es[1].Status != storage.EvidenceFailed || es[2].Status != storage.EvidenceTooLarge {
		t.Errorf("unknown and big media: %+v, want failed and too_large", es)
	}
	var told []string
	for _, m := range c.sim.CustomSends() {
		if m.ToUser == "o-zhang" {
			told = append(told, m.Text)
		}
	}
	if len(told) != 2 || !strings.Contains(strings.Join(told, "\n"), "超过 2 MB") || !strings.Contains(strings.Join(told, "\n"), "重新发送") {
		t.Errorf("messages to the sender afterwards: %q", told)
	}
	if n, _ := c.bot.FetchPendingEvidence(c.ctx); n != 0 {
		t.Errorf("FetchPendingEvidence found %d, want 0", n)
	}
}

func TestDedupeKeys(t *testing.T) {
	event := func(ev, key string, ct int64) *message.MixMessage {
		m := &message.MixMessage{}
		m.FromUserName, m.CreateTime, m.MsgType, m.Event, m.EventKey = "o-1", ct, message.MsgTypeEvent, message.EventType(ev), key
		return m
	}
	text := &message.MixMessage{}
	text.FromUserName, text.MsgType, text.MsgID = "o-1", message.MsgTypeText, 42
	receipt := event("TEMPLATESENDJOBFINISH", "", 1)
	receipt.TemplateMsgID = 7
	if got := dedupeKey(text); got != "msg:42" {
		t.Errorf("text: %q", got)
	}
	if got := dedupeKey(receipt); got != "tpl:7" {
		t.Errorf("receipt: %q", got)
	}
	if a, b := dedupeKey(event("subscribe", "", 1)), dedupeKey(event("unsubscribe", "", 1)); a == b {
		t.Errorf("two events at one CreateTime share the key %q", a)
	}
	if a, b := dedupeKey(event("CLICK", "todo", 1)), dedupeKey(event("CLICK", "help", 1)); a == b {
		t.Errorf("two clicks at one CreateTime share the key %q", a)
	}
	if got := dedupeKey(event("SCAN", "bind:12345678", 1)); strings.Contains(got, "12345678") {
		t.Errorf("a bind scan's key %q holds the bind code", got)
	}
}

func TestHandlerMayNotDispatchEvenToAnUnknownDepartment(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	tk := c.ticket("EXT-1", "占道经营", "longshan")
	wantContains(t, "派 by a handler", c.say(u, "改派 "+tk.Ref()+" 不存在的单位"), "无法办理", "热线办")
	if n := len(c.events(tk.ID, hotlinebot.ActionRefused)); n != 1 {
		t.Errorf("%d refused events, want 1", n)
	}
}

func TestTodoIsCapped(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("王五", hotlinebot.RoleLeader, "longshan"), "o-wang")
	for i := 0; i < 25; i++ {
		c.ticket(fmt.Sprintf("EXT-%d", i), strings.Repeat("龙山路两侧占道经营严重影响通行", 3), "longshan")
	}
	reply := c.say(u, "待办")
	wantContains(t, "待办 of 25", reply, "25 件", "还有 15 件")
	if n := len(reply); n > 2000 {
		t.Errorf("待办 is %d bytes, over WeChat's passive reply limit", n)
	}
}

// A person who unfollowed and follows again by scanning their bind QR code
// (the same code, used already) follows the account: pushes reach them again.
func TestFollowAgainThroughTheBindQR(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	zhang := c.person("张三", hotlinebot.RoleHandler, "longshan")
	scene := "bind:" + c.code(zhang)
	u := c.sim.User("o-zhang")
	if r, err := u.Subscribe(scene); err != nil || !strings.HasPrefix(r.Content, "绑定成功") {
		t.Fatalf("subscribe with the bind QR = %v %v", r, err)
	}
	c.clock.Advance(time.Minute)
	if _, err := u.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(time.Minute)
	r, err := u.Subscribe(scene)
	if err != nil || !strings.Contains(r.Content, "张三") {
		t.Errorf("subscribe again with the same bind QR = %v %v", r, err)
	}
	if p, _ := c.store.Person(c.ctx, zhang.ID); !p.Reachable {
		t.Error("张三 follows again through the bind QR but is still unreachable")
	}
}

// A burst of callbacks larger than the database pool is answered, not
// deadlocked: each callback holds a transaction while it reads through the
// pool, so they are let in a few at a time.
func TestBurstOfCallbacksIsAnswered(t *testing.T) {
	c := newChat(t, nil)
	const n = 60
	var wg sync.WaitGroup
	replies := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		u := c.sim.User(fmt.Sprintf("o-burst-%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var status int
			replies[i], status, errs[i] = u.Say("帮助")
			if errs[i] == nil && status != http.StatusOK {
				errs[i] = fmt.Errorf("status %d", status)
			}
		}()
	}
	wg.Wait()
	busy := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("callback %d: %v", i, errs[i])
		}
		if replies[i] == replyBusy {
			busy++
		}
	}
	if busy > 0 {
		t.Errorf("%d of %d concurrent callbacks were answered busy", busy, n)
	}
}

// A refused 查 is recorded in the message's transaction: when that rolls
// back (and WeChat's retry will come), the refusal is not left behind.
func TestRefusedShowIsRecordedWithTheMessage(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	c.department("nanhu", "南湖街道办事处")
	outsider := c.person("钱七", hotlinebot.RoleHandler, "nanhu")
	c.bound(outsider, "o-qian")
	outsider, _ = c.store.Person(c.ctx, outsider.ID)
	tk := c.ticket("EXT-1", "占道经营", "longshan")
	rollback := fmt.Errorf("rolled back")
	msg := &message.MixMessage{}
	msg.FromUserName, msg.MsgType, msg.Content = "o-qian", message.MsgTypeText, "查 "+tk.Ref()
	_, _, err := c.store.Inbound(c.ctx, "msg:test-rollback", "o-qian", c.clock.Now(), func(tx *sqlx.Tx) (string, error) {
		reply, err := c.bot.command(&turn{ctx: c.ctx, tx: tx, msg: msg, openid: "o-qian", now: c.clock.Now()}, outsider, Parse("查 "+tk.Ref()))
		if err != nil || !strings.Contains(reply, "无法查看") {
			t.Errorf("查 by another department = %q, %v", reply, err)
		}
		return "", rollback
	})
	if err != rollback {
		t.Fatalf("Inbound = %v, want the handler's error", err)
	}
	if evs := c.events(tk.ID, hotlinebot.ActionRefused); len(evs) != 0 {
		t.Errorf("refused events after the rollback = %+v, want none", evs)
	}
}

// Replies read as written Chinese: a cut title ends in "…" without the comma
// before it, and no space stands between 」 and the words after it.
func TestRepliesReadAsChinese(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	tk := c.ticket("YY1", "龙山路与解放路交叉口有人长期占道经营，影响通行", "longshan")
	n := fmt.Sprint(tk.ID)
	for _, text := range []string{"签收 " + n, "进展 " + n + " 已联系来电人", "延期 " + n + " 3天 需协调"} {
		reply := c.say(u, text)
		if strings.Contains(reply, "，…") || strings.Contains(reply, "」 ") {
			t.Errorf("%s = %q", text, reply)
		}
		wantContains(t, text, reply, tk.Ref()+"「龙山路与解放路交叉口有人长期占道经营…」")
	}
}

// A command without a ref, with no ticket it could mean, says so once.
func TestNothingToActOnReadsWell(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	for _, text := range []string{"进展 已到现场", "延期 3天 需协调"} {
		if got, want := c.say(u, text), "您目前没有在办的工单。"; !strings.HasPrefix(got, want) {
			t.Errorf("%s = %q, want %q…", text, got, want)
		}
	}
}

// Only followers can write to the account: a bound person marked unreachable
// (a follow lost while the database was down, a 43004 misread) who writes is
// reachable again.
func TestWritingMakesAPersonReachableAgain(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	zhang := c.person("张三", hotlinebot.RoleHandler, "longshan")
	u := c.bound(zhang, "o-zhang")
	if _, err := c.store.MarkUnreachable(c.ctx, "o-zhang", c.clock.Now()); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(time.Minute)
	wantContains(t, "待办", c.say(u, "待办"), "待办")
	if p, _ := c.store.Person(c.ctx, zhang.ID); !p.Reachable {
		t.Error("张三 wrote to the account but is still unreachable")
	}
}

// A ticket whose return the office is reviewing stays in its handler's 待办:
// the department is still responsible, as the reply to 退回 says.
func TestTodoKeepsAReturnUnderReview(t *testing.T) {
	c := newChat(t, nil)
	c.department("longshan", "龙山管理处")
	u := c.bound(c.person("张三", hotlinebot.RoleHandler, "longshan"), "o-zhang")
	tk := c.ticket("YY1", "占道经营", "longshan")
	n := fmt.Sprint(tk.ID)
	c.say(u, "签收 "+n)
	wantContains(t, "退回", c.say(u, "退回 "+n+" 不属于本单位职责"), "仍由本单位负责")
	wantContains(t, "待办 during the review", c.say(u, "待办"), tk.Ref()+" 退回待审", "1 件")
}
