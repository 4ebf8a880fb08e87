package main

// End-to-end tests across packages: the service wired exactly as `serve
// --sandbox` wires it (newService), against a real PostgreSQL and the
// simulated WeChat, driven from the outside: the HTTP API, the signed
// WeChat callback, the H5 links in the pushes, and the CLI through run.
//
// bot.NewWeChat sets process-wide SDK hooks, so none of these tests runs in
// parallel.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

const e2eAdminToken = "e2e-admin-token-0123456789"

// e2eClock is the service's injected clock: the wall clock plus an offset
// the test moves. The simulator is moved with it (its own clock is the wall
// clock plus Advance), so tokens, the client_msg_id window and callback
// timestamps agree on what time it is.
type e2eClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *e2eClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// syncBuffer collects what the service logs and prints from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// e2e is one running sandbox service on a fresh database, served on a
// loopback port, with the config file a clerk's CLI would use against it.
type e2e struct {
	t      *testing.T
	ctx    context.Context
	svc    *service
	srv    *httptest.Server
	clock  *e2eClock
	config string // the config file
	logs   *syncBuffer
	out    *syncBuffer // the sandbox's printed pushes
	stop   func()      // stops the service (at the end of the test, or earlier)
	wait   func()      // waits for what start started
	errc   chan error
	forbid []string // more strings the logs must never show (bind codes)
}

// callerPhones are the phones of the callers in the tests' tickets.
var callerPhones = []string{"13812340000", "13912340000", "13955556666"}

// checkSecrets fails the test when the service logged the AppSecret, an
// access token, a caller's phone or a bind code, or pushed a caller's phone.
func (e *e2e) checkSecrets() {
	logs := e.logs.String()
	for _, s := range append(append([]string{sandboxSecret, "SIM_"}, callerPhones...), e.forbid...) {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("the service's log shows %q", s)
		}
	}
	for _, p := range e.svc.sim.TemplateSends() {
		for _, phone := range callerPhones {
			if dataContains(p, phone) || strings.Contains(p.URL, phone) {
				e.t.Errorf("a push to %s shows the caller's phone %s", p.ToUser, phone)
			}
		}
	}
}

// start runs the dispatcher and the scheduler as serve does.
func (e *e2e) start() { e.wait = e.svc.Start(e.ctx, e.errc) }

// newE2E builds the service as serve --sandbox does. With start, the
// dispatcher and the scheduler run (svc.Start) as in serve; without, the
// test drives them. extraConfig is appended to the config file.
func newE2E(t *testing.T, start bool, extraConfig ...string) *e2e {
	t.Helper()
	return newE2EOn(t, storagetest.NewDatabase(t), start, extraConfig...)
}

// newE2EOn is newE2E on the database dbURL: a restarted service.
func newE2EOn(t *testing.T, dbURL string, start bool, extraConfig ...string) *e2e {
	t.Helper()
	e := &e2e{t: t, clock: &e2eClock{}, logs: &syncBuffer{}, out: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx

	var handler http.Handler = http.NotFoundHandler()
	var ready sync.WaitGroup
	ready.Add(1)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ready.Wait()
		handler.ServeHTTP(w, r)
	}))
	text := fmt.Sprintf("[server]\nlisten = %q\npublic_url = %q\n\n[database]\nurl = %q\n\n[admin]\ntoken = %q\n",
		e.srv.Listener.Addr().String(), e.srv.URL, dbURL, e2eAdminToken)
	text += strings.Join(extraConfig, "\n")
	e.config = filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(e.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(text, func(string) string { return "" })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc, err = newService(ctx, cfg, serviceOptions{
		Migrate: true, Sandbox: true, Now: e.clock.Now, Logger: log, Out: e.out,
	})
	if err != nil {
		cancel()
		ready.Done()
		e.srv.Close()
		t.Fatalf("newService: %v", err)
	}
	handler = e.svc.handler
	ready.Done()
	e.svc.sim.SetCallbackURL(e.srv.URL + "/wechat")

	e.wait = func() {}
	e.errc = make(chan error, 3)
	if start {
		e.start()
	}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			e.wait()
			select {
			case err := <-e.errc:
				t.Errorf("service: %v", err)
			default:
			}
			e.srv.Close()
			e.svc.Close()
			e.checkSecrets()
			if t.Failed() {
				t.Logf("service log:\n%s\nsandbox console:\n%s", e.logs.String(), e.out.String())
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

// advance moves the service's clock and the simulator's together.
func (e *e2e) advance(d time.Duration) {
	e.clock.mu.Lock()
	e.clock.offset += d
	e.clock.mu.Unlock()
	e.svc.sim.Advance(d)
}

// api calls the HTTP API with the admin token and decodes the answer into
// out (when not nil); it returns the status.
func (e *e2e) api(method, path string, in, out any) int {
	e.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	if resp.StatusCode >= 300 {
		e.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// apiTicket is the part of the API's ticket the tests read.
type apiTicket struct {
	ID          int64   `json:"id"`
	Ref         string  `json:"ref"`
	Title       string  `json:"title"`
	Status      string  `json:"status"`
	Department  *string `json:"department"`
	Assignee    *int64  `json:"assignee"`
	CallerPhone string  `json:"caller_phone"`
	Rule        *string `json:"rule"`
}

type apiEvent struct {
	ID      int64  `json:"id"`
	Action  string `json:"action"`
	Actor   *int64 `json:"actor"`
	Channel string `json:"channel"`
	From    string `json:"from_status"`
	To      string `json:"to_status"`
	Note    string `json:"note"`
}

// intake posts a new ticket in 龙山管理处, which the seeded rules route to
// longshan (张三, person 1, is its only handler).
func (e *e2e) intake(external, title string) apiTicket {
	e.t.Helper()
	var tk apiTicket
	status := e.api("POST", "/api/v1/tickets", map[string]any{
		"external_id": external, "title": title,
		"content":  "来电人反映" + title + "，请尽快处理。",
		"category": "市容市貌", "area": "龙山管理处", "address": "龙山管理处郭镇村 3 组",
		"caller_name": "黄女士", "caller_phone": "13955556666",
	}, &tk)
	if status != http.StatusCreated {
		e.t.Fatalf("POST /api/v1/tickets: %d, want 201", status)
	}
	return tk
}

func (e *e2e) events(ref string) []apiEvent {
	e.t.Helper()
	var evs []apiEvent
	if st := e.api("GET", "/api/v1/tickets/"+url.PathEscape(ref)+"/events", nil, &evs); st != http.StatusOK {
		e.t.Fatalf("GET events of %s: %d", ref, st)
	}
	return evs
}

func (e *e2e) ticket(ref string) apiTicket {
	e.t.Helper()
	var tk apiTicket
	if st := e.api("GET", "/api/v1/tickets/"+url.PathEscape(ref), nil, &tk); st != http.StatusOK {
		e.t.Fatalf("GET ticket %s: %d", ref, st)
	}
	return tk
}

// say sends text as openid through the signed callback and returns the reply.
func (e *e2e) say(openid, text string) string {
	e.t.Helper()
	reply, status, err := e.svc.sim.User(openid).Say(text)
	if err != nil || status != http.StatusOK {
		e.t.Fatalf("%s says %q: status %d, %v", openid, text, status, err)
	}
	e.t.Logf("%s: %s\n  → %s", openid, text, reply)
	return reply
}

// runOnce runs one dispatcher round.
func (e *e2e) runOnce() int {
	e.t.Helper()
	n, err := e.svc.disp.RunOnce(e.ctx)
	if err != nil {
		e.t.Fatalf("dispatcher: %v", err)
	}
	return n
}

// drain sends every push that is due now (the seeded tickets' among them).
func (e *e2e) drain() {
	e.t.Helper()
	for range 10 {
		if e.runOnce() == 0 {
			return
		}
	}
	e.t.Fatal("the dispatcher kept finding pushes")
}

// pushesOf returns the outbox rows of ticket id.
func (e *e2e) pushesOf(ticketID int64) []storage.PushRow {
	e.t.Helper()
	rows, err := e.svc.store.ListPushes(e.ctx, "all", 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []storage.PushRow
	for _, r := range rows {
		if r.TicketID == ticketID {
			out = append(out, r)
		}
	}
	return out
}

// onlyPush returns ticket id's one outbox row of kind to person.
func (e *e2e) onlyPush(ticketID int64, kind string, person int64) storage.PushRow {
	e.t.Helper()
	var found []storage.PushRow
	for _, r := range e.pushesOf(ticketID) {
		if string(r.Kind) == kind && r.PersonID == person {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("ticket %d: %d %s pushes to person %d, want 1: %+v", ticketID, len(found), kind, person, e.pushesOf(ticketID))
	}
	return found[0]
}

// sendsWith returns the template requests carrying client_msg_id id.
func (e *e2e) sendsWith(id int64) []wechatsim.TemplateSend {
	var out []wechatsim.TemplateSend
	for _, s := range e.svc.sim.TemplateSends() {
		if s.ClientMsgID == strconv.FormatInt(id, 10) {
			out = append(out, s)
		}
	}
	return out
}

func deliveredCount(sends []wechatsim.TemplateSend) int {
	n := 0
	for _, s := range sends {
		if s.Delivered {
			n++
		}
	}
	return n
}

// tokenRequests counts the access-token calls the simulator received.
func (e *e2e) tokenRequests() int {
	return len(e.svc.sim.RequestsTo(wechatsim.PathStableToken)) + len(e.svc.sim.RequestsTo(wechatsim.PathToken))
}

// cli runs hotlinebot with the service's config file, as a clerk would.
func (e *e2e) cli(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	code = run(e.ctx, append([]string{"--config", e.config}, args...),
		func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func (e *e2e) cliOK(args ...string) string {
	e.t.Helper()
	out, errs, code := e.cli(args...)
	if code != 0 {
		e.t.Fatalf("hotlinebot %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func dataContains(s wechatsim.TemplateSend, sub string) bool {
	for _, v := range s.Data {
		if strings.Contains(v, sub) {
			return true
		}
	}
	return false
}

func actions(evs []apiEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Action
	}
	return out
}

// TestE2EWholePath: intake → push to the handler → 签收 → 办结 → follow-up
// → history → report, with the dispatcher woken by the change as in serve.
func TestE2EWholePath(t *testing.T) {
	e := newE2E(t, true)

	// The seeded tickets' pushes go out first; then the dispatcher waits.
	waitFor(t, 5*time.Second, "the seeded tickets' pushes", func() bool {
		rows, err := e.svc.store.ListPushes(e.ctx, "pending", 0, 10)
		return err == nil && len(rows) == 0 && len(e.svc.sim.Delivered()) >= 2
	})

	const title = "郭镇村路灯不亮"
	tk := e.intake("E2E-0001", title)
	if tk.Department == nil || *tk.Department != "longshan" || tk.Status != "dispatched" || tk.Rule == nil || *tk.Rule != "龙山片区" {
		t.Fatalf("intake: %+v, want dispatched to longshan by rule 龙山片区", tk)
	}
	if strings.Contains(tk.CallerPhone, "13955556666") {
		t.Errorf("intake answer shows the caller's phone in full: %q", tk.CallerPhone)
	}
	ref := tk.Ref
	if ref != "#"+strconv.FormatInt(tk.ID, 10) {
		t.Fatalf("ref %q for ticket %d", ref, tk.ID)
	}

	// The push leaves within 2 seconds of the change (CONTRACT.md), so well
	// before the dispatcher's 3 s poll: the commit woke it.
	var push wechatsim.TemplateSend
	waitFor(t, 2*time.Second, "the assigned push to 张三", func() bool {
		for _, s := range e.svc.sim.Delivered() {
			if s.ToUser == "sandbox-user-1" && dataContains(s, ref) {
				push = s
				return true
			}
		}
		return false
	})
	if !dataContains(push, title) {
		t.Errorf("push fields %v lack the title %q", push.Data, title)
	}
	if push.TemplateID != "sandbox_assigned" {
		t.Errorf("push template %q, want the assigned one", push.TemplateID)
	}
	for _, s := range e.svc.sim.Delivered() {
		if s.ToUser != "sandbox-user-1" && dataContains(s, ref) {
			t.Errorf("%s's assigned push also went to %s", ref, s.ToUser)
		}
	}

	// The sandbox console shows the push as a person reads it.
	if console := e.out.String(); !strings.Contains(console, "发给 张三（sandbox-user-1）") ||
		!strings.Contains(console, "工单编号："+ref) || !strings.Contains(console, "链接："+push.URL) {
		t.Errorf("the sandbox console does not show %s's push to 张三 readably:\n%s", ref, console)
	}

	// The link opens the H5 page for 张三, with the caller's phone in full:
	// he is a handler of the ticket's department and must call back.
	link, err := url.Parse(push.URL)
	if err != nil || !strings.HasPrefix(push.URL, e.srv.URL+"/t/") {
		t.Fatalf("push link %q is not on %s/t/", push.URL, e.srv.URL)
	}
	if who, err := e.svc.links.Verify(link.Path, link.Query(), e.clock.Now()); err != nil || who != 1 {
		t.Fatalf("push link verifies as person %d, %v; want 张三 (1)", who, err)
	}
	page := get(t, push.URL)
	if page.status != http.StatusOK || !strings.Contains(page.body, title) || !strings.Contains(page.body, "13955556666") {
		t.Fatalf("GET the push link: %d, title shown %v, full phone shown %v", page.status,
			strings.Contains(page.body, title), strings.Contains(page.body, "13955556666"))
	}
	if !strings.Contains(page.body, "签收 "+strconv.FormatInt(tk.ID, 10)) {
		t.Errorf("the page does not show 张三 the command to sign (签收 %d)", tk.ID)
	}
	if tampered := get(t, strings.Replace(push.URL, "/t/"+strconv.FormatInt(tk.ID, 10), "/t/1", 1)); tampered.status != http.StatusForbidden {
		t.Errorf("the link moved to another ticket: %d, want 403", tampered.status)
	}

	n := strconv.FormatInt(tk.ID, 10)
	reply := e.say("sandbox-user-1", "签收 "+n)
	if !strings.Contains(reply, ref) || !strings.Contains(reply, "办理时限") {
		t.Errorf("签收 %s: reply %q names neither %s nor the 办理时限", n, reply, ref)
	}
	if got := e.ticket(ref); got.Status != "accepted" || got.Assignee == nil || *got.Assignee != 1 {
		t.Fatalf("after 签收: %+v, want accepted by 张三", got)
	}
	const outcome = "已更换灯泡，路灯恢复照明"
	reply = e.say("sandbox-user-1", "办结 "+n+" "+outcome)
	if !strings.Contains(reply, ref) {
		t.Errorf("办结 %s: reply %q does not name %s", n, reply, ref)
	}
	if got := e.ticket(ref); got.Status != "completed" {
		t.Fatalf("after 办结: %+v, want completed", got)
	}

	if st := e.api("POST", "/api/v1/tickets/"+url.PathEscape(ref)+"/followup",
		map[string]any{"result": "satisfied", "note": "群众满意"}, nil); st != http.StatusOK {
		t.Fatalf("POST followup: %d, want 200", st)
	}
	if got := e.ticket(ref); got.Status != "closed" {
		t.Errorf("after a satisfied follow-up: %q, want closed", got.Status)
	}

	evs := e.events(ref)
	if want := []string{"create", "dispatch", "accept", "complete", "follow_up"}; !slices.Equal(actions(evs), want) {
		t.Fatalf("events %v, want %v", actions(evs), want)
	}
	for _, ev := range evs {
		switch ev.Action {
		case "accept", "complete":
			if ev.Channel != "wechat" || ev.Actor == nil || *ev.Actor != 1 {
				t.Errorf("%s event: channel %q actor %v, want wechat by 张三 (1)", ev.Action, ev.Channel, ev.Actor)
			}
		}
		if ev.Action == "complete" && !strings.Contains(ev.Note, outcome) {
			t.Errorf("complete event note %q lacks the outcome", ev.Note)
		}
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		if page := get(t, e.srv.URL+path); page.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, page.status, page.body)
		}
	}
	if v := e.metric(`hotlinebot_pushes_sent_total{kind="assigned"}`); v < 3 {
		t.Errorf("hotlinebot_pushes_sent_total{kind=\"assigned\"} = %v, want at least 3", v)
	}

	day := e.clock.Now().In(shanghai).Format(time.DateOnly)
	var rep struct {
		Received    int `json:"received"`
		Completed   int `json:"completed"`
		Followups   int `json:"followups"`
		Satisfied   int `json:"satisfied"`
		Departments []struct {
			Code      string `json:"code"`
			Received  int    `json:"received"`
			Completed int    `json:"completed"`
			Followups int    `json:"followups"`
			Satisfied int    `json:"satisfied"`
		} `json:"departments"`
	}
	if st := e.api("GET", "/api/v1/report?from="+day+"&to="+day, nil, &rep); st != http.StatusOK {
		t.Fatalf("GET report: %d", st)
	}
	// Today's cohort: the two seeded tickets and this one, which alone is
	// completed and visited.
	if rep.Received != 3 || rep.Completed != 1 || rep.Followups != 1 || rep.Satisfied != 1 {
		t.Errorf("report: received %d completed %d followups %d satisfied %d, want 3 1 1 1",
			rep.Received, rep.Completed, rep.Followups, rep.Satisfied)
	}
	found := false
	for _, d := range rep.Departments {
		if d.Code == "longshan" {
			found = true
			if d.Received != 2 || d.Completed != 1 || d.Followups != 1 || d.Satisfied != 1 {
				t.Errorf("report, longshan: %+v, want received 2, completed 1, 1 follow-up satisfied", d)
			}
		}
	}
	if !found {
		t.Errorf("report: no longshan row in %+v", rep.Departments)
	}
}

// TestE2ECallbackRetriesAndForgeries: a retried callback is applied once and
// answered the same; a forged or stale one changes nothing.
func TestE2ECallbackRetriesAndForgeries(t *testing.T) {
	e := newE2E(t, false)
	u := e.svc.sim.User("sandbox-user-1")

	first, status, err := u.Say("签收 1")
	if err != nil || status != http.StatusOK || !strings.Contains(first, "#1") {
		t.Fatalf("签收 1: %d %q %v", status, first, err)
	}
	again, err := u.Retry()
	if err != nil || again.Status != http.StatusOK {
		t.Fatalf("retry: %+v %v", again, err)
	}
	if again.Content != first {
		t.Errorf("the retry was answered %q, the first %q: want the same answer", again.Content, first)
	}
	if n := countActions(e.events("#1"), "accept"); n != 1 {
		t.Errorf("%d accept events after a retried 签收, want 1", n)
	}

	before := e.events("#1")
	if _, st, err := u.Say("办结 1 已处理", wechatsim.WithForgedSignature()); err != nil || st != http.StatusForbidden {
		t.Errorf("forged signature: status %d %v, want 403", st, err)
	}
	stale := e.clock.Now().Add(-10 * time.Minute)
	if _, st, err := u.Say("办结 1 已处理", wechatsim.WithTimestamp(stale)); err != nil || st != http.StatusForbidden {
		t.Errorf("timestamp 10 minutes old: status %d %v, want 403", st, err)
	}
	if tk := e.ticket("#1"); tk.Status != "accepted" {
		t.Errorf("after refused callbacks ticket #1 is %q, want still accepted", tk.Status)
	}
	if after := e.events("#1"); len(after) != len(before) {
		t.Errorf("refused callbacks added events: %v → %v", actions(before), actions(after))
	}
	// The same message, signed properly, does complete it.
	if reply := e.say("sandbox-user-1", "办结 1 已处理"); !strings.Contains(reply, "#1") {
		t.Errorf("办结 1: %q", reply)
	}
	if tk := e.ticket("#1"); tk.Status != "completed" {
		t.Errorf("after 办结 ticket #1 is %q, want completed", tk.Status)
	}
}

func countActions(evs []apiEvent, action string) int {
	n := 0
	for _, ev := range evs {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// TestE2EUnboundSender: a stranger gets the binding help and no ticket data.
func TestE2EUnboundSender(t *testing.T) {
	e := newE2E(t, false)
	for _, text := range []string{"待办", "查 1", "签收 1", "#1"} {
		reply := e.say("stranger-openid-1", text)
		if !strings.Contains(reply, "绑定") {
			t.Errorf("%q from an unbound sender: %q, want the binding help", text, reply)
		}
		for _, leak := range []string{"#1", "郭镇村", "电杆", "13812340000", "龙山", "待签收"} {
			if strings.Contains(reply, leak) {
				t.Errorf("%q from an unbound sender: the reply shows %q: %q", text, leak, reply)
			}
		}
	}
	if tk := e.ticket("#1"); tk.Status != "dispatched" {
		t.Errorf("ticket #1 is %q after a stranger's messages, want dispatched", tk.Status)
	}
	if n := countActions(e.events("#1"), "accept"); n != 0 {
		t.Errorf("a stranger's 签收 was applied")
	}
}

// TestE2EOtherDepartmentRefused: a handler of 区城市管理局 cannot sign for
// 龙山管理处's ticket; he is told why and the attempt is on the record.
func TestE2EOtherDepartmentRefused(t *testing.T) {
	e := newE2E(t, false)
	reply := e.say("sandbox-user-2", "签收 1")
	if !strings.Contains(reply, "#1") || !strings.Contains(reply, "龙山管理处") {
		t.Errorf("王五's 签收 1: %q, want a refusal naming #1 and its department 龙山管理处", reply)
	}
	if strings.Contains(reply, "已签收") {
		t.Errorf("王五's 签收 1 looks accepted: %q", reply)
	}
	if tk := e.ticket("#1"); tk.Status != "dispatched" || tk.Assignee != nil {
		t.Errorf("ticket #1 after the refusal: %+v, want dispatched with no assignee", tk)
	}
	var refused []apiEvent
	for _, ev := range e.events("#1") {
		if ev.Action == "refused" {
			refused = append(refused, ev)
		}
	}
	if len(refused) != 1 || refused[0].Actor == nil || *refused[0].Actor != 2 || refused[0].Channel != "wechat" {
		t.Errorf("refused events on #1: %+v, want one by 王五 (2) through wechat", refused)
	}
}

// TestE2ETokenRefreshedOn40001: WeChat answers 40001 once; the push still
// arrives once, after one token refresh, with the outbox id as client_msg_id.
func TestE2ETokenRefreshedOn40001(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	tk := e.intake("E2E-40001", "南山路井盖缺失")
	row := e.onlyPush(tk.ID, "assigned", 1)

	tokens := e.tokenRequests()
	e.svc.sim.FailNext(wechatsim.PathTemplateSend, 40001, 1)
	e.drain()

	sends := e.sendsWith(row.ID)
	if deliveredCount(sends) != 1 {
		t.Fatalf("client_msg_id %d: %d deliveries (%+v), want 1", row.ID, deliveredCount(sends), sends)
	}
	if got := e.tokenRequests() - tokens; got != 1 {
		t.Errorf("%d token requests after a 40001, want 1 refresh", got)
	}
	refused := 0
	for _, r := range e.svc.sim.RequestsTo(wechatsim.PathTemplateSend) {
		if r.ErrCode == 40001 {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d template sends answered 40001, want 1 (the injected one)", refused)
	}
	got := e.onlyPush(tk.ID, "assigned", 1)
	if got.Status != storage.PushSent || got.WeChatMsgID != sends[0].MsgID {
		t.Errorf("outbox row after the retry: %s msgid %d, want sent as msgid %d", got.Status, got.WeChatMsgID, sends[0].MsgID)
	}
	if sends[0].ToUser != "sandbox-user-1" {
		t.Errorf("pushed to %s, want 张三", sends[0].ToUser)
	}

	// A token rotated elsewhere (the platform answers a real 40001): the
	// same, one refresh and one delivery.
	tk2 := e.intake("E2E-40001-2", "南山路井盖松动")
	row2 := e.onlyPush(tk2.ID, "assigned", 1)
	e.svc.sim.ExpireTokens()
	tokens = e.tokenRequests()
	e.drain()
	if n := deliveredCount(e.sendsWith(row2.ID)); n != 1 {
		t.Errorf("after the token was rotated: %d deliveries, want 1", n)
	}
	if got := e.tokenRequests() - tokens; got != 1 {
		t.Errorf("%d token requests after the token was rotated, want 1", got)
	}
}

// TestE2EUnfollowedRecipient: 43004 kills the push and tells the office,
// and `outbox list --status dead` shows it.
func TestE2EUnfollowedRecipient(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	tk := e.intake("E2E-43004", "北街垃圾未清运")
	row := e.onlyPush(tk.ID, "assigned", 1)

	e.svc.sim.FailNext(wechatsim.PathTemplateSend, 43004, 1)
	e.drain()

	if got := e.onlyPush(tk.ID, "assigned", 1); got.Status != storage.PushDead {
		t.Fatalf("push %d after 43004: %s, want dead", row.ID, got.Status)
	}
	if n := deliveredCount(e.sendsWith(row.ID)); n != 0 {
		t.Errorf("the dead push was delivered %d times", n)
	}
	// The office (李四, person 4) is told.
	notice := e.onlyPush(tk.ID, "notice", 4)
	if notice.Status != storage.PushSent {
		t.Fatalf("the office's notice: %s (%s), want sent", notice.Status, notice.LastError)
	}
	sends := e.sendsWith(notice.ID)
	if deliveredCount(sends) != 1 || sends[0].ToUser != "sandbox-user-4" {
		t.Fatalf("the notice: %+v, want one delivery to 李四", sends)
	}
	if !dataContains(sends[0], tk.Ref) || !dataContains(sends[0], "张三") || !dataContains(sends[0], "无法送达") {
		t.Errorf("the notice %v does not say that the push of %s to 张三 could not be delivered", sends[0].Data, tk.Ref)
	}

	out := e.cliOK("outbox", "list", "--status", "dead")
	if !strings.Contains(out, strconv.FormatInt(row.ID, 10)) || !strings.Contains(out, tk.Ref) || !strings.Contains(out, "张三") {
		t.Errorf("outbox list --status dead does not list push %d (%s to 张三):\n%s", row.ID, tk.Ref, out)
	}
	var rows []storage.PushRow
	jout := e.cliOK("outbox", "list", "--status", "dead", "-o", "json")
	if err := json.Unmarshal([]byte(jout), &rows); err != nil {
		t.Fatalf("outbox list -o json: %v\n%s", err, jout)
	}
	if len(rows) != 1 || rows[0].ID != row.ID || rows[0].Status != storage.PushDead {
		t.Errorf("outbox list --status dead -o json: %+v, want only push %d", rows, row.ID)
	}
}

// TestE2ECutOffAfterDelivery: the connection breaks after WeChat delivered
// the push. Within 8 minutes it is resent with the same client_msg_id and
// WeChat drops the repeat; past 8 minutes it becomes uncertain, not resent.
func TestE2ECutOffAfterDelivery(t *testing.T) {
	e := newE2E(t, false)
	e.drain()

	tk := e.intake("E2E-CUT-1", "东门桥栏杆松动")
	row := e.onlyPush(tk.ID, "assigned", 1)
	e.svc.sim.FailNext(wechatsim.PathTemplateSend, wechatsim.CutOffAfterDelivery, 1)
	e.runOnce()
	if got := e.onlyPush(tk.ID, "assigned", 1); got.Status != storage.PushPending {
		t.Fatalf("push %d after a cut-off: %s, want pending for a resend", row.ID, got.Status)
	}
	if n := deliveredCount(e.sendsWith(row.ID)); n != 1 {
		t.Fatalf("the cut-off push was delivered %d times, want 1", n)
	}

	e.advance(time.Minute)
	e.drain()
	sends := e.sendsWith(row.ID)
	if len(sends) != 2 || !sends[1].Deduped || sends[1].ClientMsgID != sends[0].ClientMsgID {
		t.Fatalf("after a minute: %+v, want a resend with the same client_msg_id, deduped", sends)
	}
	if sends[0].ClientMsgID != strconv.FormatInt(row.ID, 10) {
		t.Errorf("client_msg_id %q, want the outbox id %d", sends[0].ClientMsgID, row.ID)
	}
	if n := deliveredCount(sends); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}
	if got := e.onlyPush(tk.ID, "assigned", 1); got.Status != storage.PushSent || got.WeChatMsgID != sends[0].MsgID {
		t.Errorf("push %d after the resend: %s msgid %d, want sent as msgid %d", row.ID, got.Status, got.WeChatMsgID, sends[0].MsgID)
	}

	// Past the window: uncertain, never resent.
	tk2 := e.intake("E2E-CUT-2", "西街路面塌陷")
	row2 := e.onlyPush(tk2.ID, "assigned", 1)
	e.svc.sim.FailNext(wechatsim.PathTemplateSend, wechatsim.CutOffAfterDelivery, 1)
	e.runOnce()
	e.advance(9 * time.Minute)
	e.drain()
	if got := e.onlyPush(tk2.ID, "assigned", 1); got.Status != storage.PushUncertain {
		t.Fatalf("push %d cut off 9 minutes ago: %s, want uncertain", row2.ID, got.Status)
	}
	if sends := e.sendsWith(row2.ID); len(sends) != 1 {
		t.Errorf("push %d past the window was sent %d times, want only the first attempt", row2.ID, len(sends))
	}
	if v := e.metric(`hotlinebot_outbox_pushes{status="uncertain"}`); v != 1 {
		t.Errorf("hotlinebot_outbox_pushes{status=\"uncertain\"} = %v, want 1", v)
	}
	out := e.cliOK("outbox", "list", "--status", "uncertain")
	if !strings.Contains(out, strconv.FormatInt(row2.ID, 10)) || !strings.Contains(out, tk2.Ref) {
		t.Errorf("outbox list --status uncertain does not list push %d:\n%s", row2.ID, out)
	}
}

// TestE2ESimSay: `hotlinebot sim say` through run, against a service
// listening on server.listen, as a seeded and as a newly added handler.
func TestE2ESimSay(t *testing.T) {
	e := newE2E(t, false)

	out := e.cliOK("sim", "say", "--user", "1", "待办")
	if !strings.Contains(out, "#1") || !strings.Contains(out, "郭镇村") {
		t.Errorf("sim say --user 1 待办 does not list #1:\n%s", out)
	}

	var said struct {
		Person int64  `json:"person"`
		Reply  string `json:"reply"`
	}
	if err := json.Unmarshal([]byte(e.cliOK("sim", "say", "--user", "1", "查 1", "-o", "json")), &said); err != nil ||
		said.Person != 1 || !strings.Contains(said.Reply, "#1") {
		t.Errorf("sim say -o json: %+v %v", said, err)
	}

	var p struct {
		ID int64 `json:"id"`
	}
	jout := e.cliOK("user", "add", "--name", "孙八", "--role", "handler", "--dept", "longshan", "-o", "json")
	if err := json.Unmarshal([]byte(jout), &p); err != nil || p.ID == 0 {
		t.Fatalf("user add -o json: %v\n%s", err, jout)
	}
	out = e.cliOK("sim", "say", "--user", strconv.FormatInt(p.ID, 10), "待办")
	if !strings.Contains(out, "尚未绑定") || !strings.Contains(out, "#1") {
		t.Errorf("sim say as a new handler does not bind them and list #1:\n%s", out)
	}
	if strings.Contains(out, replyUnboundHint) {
		t.Errorf("sim say as a new handler got the unbound help:\n%s", out)
	}
	got, err := e.svc.store.Person(e.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.OpenID != sandboxOpenIDPrefix+strconv.FormatInt(p.ID, 10) {
		t.Errorf("孙八 bound to %q, want %s%d", got.OpenID, sandboxOpenIDPrefix, p.ID)
	}
	// Once bound, a second message needs no binding.
	out = e.cliOK("sim", "say", "--user", strconv.FormatInt(p.ID, 10), "查 1")
	if strings.Contains(out, "尚未绑定") || !strings.Contains(out, "#1") {
		t.Errorf("sim say 查 1 as the bound new handler:\n%s", out)
	}
}

// replyUnboundHint is part of the bot's answer to an unbound sender.
const replyUnboundHint = "您的微信号尚未绑定"

type pageResp struct {
	status int
	body   string
}

func get(t *testing.T, u string) pageResp {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pageResp{resp.StatusCode, string(b)}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storagetestDatabase is storagetest.NewDatabase, for tests that run serve
// themselves.
func storagetestDatabase(t *testing.T) string { return storagetest.NewDatabase(t) }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
