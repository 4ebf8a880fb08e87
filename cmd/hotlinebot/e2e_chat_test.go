package main

// End-to-end: the chat as handlers type it, binding codes, evidence timing,
// the 办理 deadline passing.

import (
	"bytes"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage"
)

// TestE2EChatAsTyped: full-width spaces and #, the ref left out when only
// one ticket applies, the external id as the ref.
func TestE2EChatAsTyped(t *testing.T) {
	e := newE2E(t, false)
	if reply := e.say("sandbox-user-1", "签收"); !strings.Contains(reply, "已签收 #1") {
		t.Errorf("签收 without a ref, one ticket waiting: %q", reply)
	}
	if reply := e.say("sandbox-user-1", "进展　＃1　已联系供电所"); !strings.Contains(reply, "#1") || !strings.Contains(reply, "进展") {
		t.Errorf("进展 with full-width space and #: %q", reply)
	}
	if reply := e.say("sandbox-user-1", "查 DEMO-0001"); !strings.Contains(reply, "#1") || !strings.Contains(reply, "郭镇村") {
		t.Errorf("查 by external id: %q", reply)
	}
	if reply := e.say("sandbox-user-1", "完成：电杆已修复"); !strings.Contains(reply, "#1") || !strings.Contains(reply, "已办结") {
		t.Errorf("完成 (synonym) without a ref, with a full-width colon: %q", reply)
	}
	if tk := e.ticket("#1"); tk.Status != "completed" {
		t.Errorf("#1 is %q", tk.Status)
	}
	evs := e.events("#1")
	if got := actions(evs); !strings.Contains(strings.Join(got, ","), "accept,progress,complete") {
		t.Errorf("history %v", got)
	}
	for _, ev := range evs {
		if ev.Action == "complete" && !strings.Contains(ev.Note, "电杆已修复") {
			t.Errorf("complete note %q", ev.Note)
		}
	}
}

// TestE2ETwoHandlers: both handlers of the department get the push; the
// first to sign has it, the second is told who did.
func TestE2ETwoHandlers(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	id := e.addHandler("孙八", "longshan")
	e.cliOK("sim", "say", "--user", strconv.FormatInt(id, 10), "帮助")
	openid := sandboxOpenIDPrefix + strconv.FormatInt(id, 10)
	mark := len(e.svc.sim.Delivered())
	tk := e.intake("E2E-TWO", "龙山菜场污水外溢")
	e.drain()
	for _, who := range []string{"sandbox-user-1", openid} {
		if n := len(e.deliveredTo(mark, who, "assigned", tk.Ref)); n != 1 {
			t.Errorf("assigned pushes of %s to %s: %d, want 1", tk.Ref, who, n)
		}
	}
	n := strconv.FormatInt(tk.ID, 10)
	if reply := e.say(openid, "签收 "+n); !strings.Contains(reply, "已签收") {
		t.Fatalf("孙八 签收: %q", reply)
	}
	reply := e.say("sandbox-user-1", "签收 "+n)
	if !strings.Contains(reply, "孙八") || strings.Contains(reply, "已签收 "+tk.Ref+"「") {
		// The colleague must learn who has it, to coordinate with them.
		t.Errorf("the second handler's 签收 of a ticket 孙八 signed: %q, want the reply to name 孙八", reply)
	}
	if got := e.ticket(tk.Ref); got.Assignee == nil || *got.Assignee != id {
		t.Errorf("assignee %v, want 孙八 (%d)", got.Assignee, id)
	}
}

// TestE2EBindCodes: a wrong code many times is throttled, so the right one
// is refused for a while; a code past its 7 days does not bind.
func TestE2EBindCodes(t *testing.T) {
	e := newE2E(t, false)
	id := e.addHandler("孙八", "longshan")
	out := e.cliOK("user", "bind-code", strconv.FormatInt(id, 10), "-o", "json")
	code := jsonField(t, out, "code")
	e.forbid = append(e.forbid, code)
	for i := range 10 {
		e.say("wx-guesser", "绑定 "+strconv.Itoa(10000000+i))
	}
	e.say("wx-guesser", "绑定 "+code)
	if _, err := e.svc.store.PersonByOpenID(e.ctx, "wx-guesser"); err == nil {
		t.Errorf("a sender who guessed 10 wrong codes was bound at the 11th try")
	}
	// Another sender with the right code is not held up by the guesser.
	if reply := e.say("wx-sunba", "绑定 "+code); !strings.Contains(reply, "孙八") {
		t.Errorf("绑定 with the right code from a fresh sender: %q", reply)
	}

	id2 := e.addHandler("周九", "longshan")
	out = e.cliOK("user", "bind-code", strconv.FormatInt(id2, 10), "-o", "json")
	code2 := jsonField(t, out, "code")
	e.forbid = append(e.forbid, code2)
	e.advance(7*24*time.Hour + time.Hour)
	reply := e.say("wx-zhoujiu", "绑定 "+code2)
	if _, err := e.svc.store.PersonByOpenID(e.ctx, "wx-zhoujiu"); err == nil {
		t.Errorf("a code 7 days and an hour old bound 周九: %q", reply)
	}
}

// TestE2EEvidenceWindow: a photo more than 10 minutes after the 办结 is not
// taken as its evidence.
func TestE2EEvidenceWindow(t *testing.T) {
	e := newE2E(t, false)
	e.say("sandbox-user-1", "签收 1")
	e.say("sandbox-user-1", "办结 1 已修复")
	e.advance(11 * time.Minute)
	e.svc.sim.AddMedia("media-late", []byte("\xff\xd8\xff\xe0late"), "image/jpeg")
	r, err := e.svc.sim.User("sandbox-user-1").SendImage("media-late")
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("late photo: %+v %v", r, err)
	}
	ev, err := e.svc.store.TicketEvidence(e.ctx, 1)
	if err != nil || len(ev) != 0 {
		t.Errorf("evidence after a photo 11 minutes late: %+v %v, want none", ev, err)
	}
	if r.Content == "" {
		t.Errorf("a late photo got no answer")
	}
}

// TestE2EDeadlinePasses: once the 办理 deadline passes the scheduler records
// `overdue` once, pushes the assignee and the department's leader, the
// ticket reads overdue and the report counts it.
func TestE2EDeadlinePasses(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	e.say("sandbox-user-1", "签收 1")
	var tk struct {
		DueAt   time.Time `json:"due_at"`
		Overdue bool      `json:"overdue"`
	}
	e.api("GET", "/api/v1/tickets/1", nil, &tk)
	e.advance(tk.DueAt.Sub(e.clock.Now()) + time.Minute)
	for range 3 {
		if err := e.svc.sched.Tick(e.ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.drain()
	}
	e.api("GET", "/api/v1/tickets/1", nil, &tk)
	if !tk.Overdue {
		t.Errorf("#1 past its deadline is not overdue")
	}
	if n := countActions(e.events("#1"), "overdue"); n != 1 {
		t.Errorf("%d overdue events, want 1", n)
	}
	sent := func(kind string, person int64) int {
		n := 0
		for _, r := range e.pushesOf(1) {
			if string(r.Kind) == kind && r.PersonID == person && r.Status == storage.PushSent {
				n++
			}
		}
		return n
	}
	if sent("overdue", 1) != 1 {
		t.Errorf("overdue pushes to 张三: %d, want 1 (%+v)", sent("overdue", 1), e.pushesOf(1))
	}
	if sent("escalation", 3) != 1 {
		t.Errorf("escalation pushes to 赵六: %d, want 1", sent("escalation", 3))
	}
	if reply := e.say("sandbox-user-1", "待办"); !strings.Contains(reply, "超期") {
		t.Errorf("待办 does not mark #1 overdue: %q", reply)
	}
	var list []apiTicket
	e.api("GET", "/api/v1/tickets?overdue=true", nil, &list)
	if len(list) != 2 {
		t.Errorf("GET tickets?overdue=true: %d tickets, want #1 and #2", len(list))
	}
}

// jsonField reads one string field of a JSON object printed by -o json.
func jsonField(t *testing.T, out, field string) string {
	t.Helper()
	var m map[string]any
	if err := jsonUnmarshal(out, &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s, _ := m[field].(string)
	if s == "" {
		t.Fatalf("no %q in %s", field, out)
	}
	return s
}

// TestE2ERestart: a service stopped with a push queued and restarted on the
// same database (and a WeChat that no longer knows the cached token) sends
// it once; a callback WeChat retries across the restart is not applied
// again; the demo district is not seeded twice.
func TestE2ERestart(t *testing.T) {
	dbURL := storagetestDatabase(t)
	first := newE2EOn(t, dbURL, false)
	first.drain()
	tk := first.intake("E2E-RESTART", "龙山水库护栏缺失")
	const msgID = 55501234567
	r, err := first.svc.sim.User("sandbox-user-1").Send(wechatsim.Message{MsgType: "text", Content: "签收 1", MsgID: msgID})
	if err != nil || !strings.Contains(r.Content, "已签收 #1") {
		t.Fatalf("签收 1: %+v %v", r, err)
	}
	first.stop()

	second := newE2EOn(t, dbURL, false)
	people, err := second.svc.store.ListPeople(second.ctx, storage.PeopleFilter{})
	if err != nil || len(people) != 5 {
		t.Errorf("people after a restart: %d %v, want the 5 seeded once", len(people), err)
	}
	r2, err := second.svc.sim.User("sandbox-user-1").Send(wechatsim.Message{MsgType: "text", Content: "签收 1", MsgID: msgID})
	if err != nil || r2.Content != r.Content {
		t.Errorf("the retried callback after the restart: %q %v, want the first answer %q", r2.Content, err, r.Content)
	}
	if n := countActions(second.events("#1"), "accept"); n != 1 {
		t.Errorf("%d accept events, want 1", n)
	}
	second.drain()
	row := second.onlyPush(tk.ID, "assigned", 1)
	if row.Status != storage.PushSent || deliveredCount(second.sendsWith(row.ID)) != 1 {
		t.Errorf("the push queued before the restart: %s, delivered %d; want sent once", row.Status, deliveredCount(second.sendsWith(row.ID)))
	}
}

// TestE2EEvidenceRefused: a photo over 2 MB is not kept and the sender is
// told; one WeChat no longer has is given up.
func TestE2EEvidenceRefused(t *testing.T) {
	e := newE2E(t, false)
	e.say("sandbox-user-1", "签收 1")
	e.say("sandbox-user-1", "进展 1 已到现场")
	e.svc.sim.AddMedia("media-big", bytes.Repeat([]byte{0xff}, 3<<20), "image/jpeg")
	bigReply, err := e.svc.sim.User("sandbox-user-1").SendImage("media-big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.sim.User("sandbox-user-1").SendImage("media-never-uploaded"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "both photos settled", func() bool {
		ev, err := e.svc.store.TicketEvidence(e.ctx, 1)
		if err != nil || len(ev) != 2 {
			return false
		}
		for _, x := range ev {
			if x.Status == storage.EvidencePending {
				return false
			}
		}
		return true
	})
	ev, _ := e.svc.store.TicketEvidence(e.ctx, 1)
	for _, x := range ev {
		switch x.MediaID {
		case "media-big":
			if x.Status != storage.EvidenceTooLarge {
				t.Errorf("a 3 MB photo: %s, want too_large", x.Status)
			}
		case "media-never-uploaded":
			if x.Status != storage.EvidenceFailed {
				t.Errorf("a photo WeChat does not have: %s, want failed", x.Status)
			}
		}
	}
	told := false
	for _, c := range e.svc.sim.CustomSends() {
		if c.ToUser == "sandbox-user-1" && strings.Contains(c.Text, "2 MB") {
			told = true
		}
	}
	if !told {
		// The reply went out before the fetch; without a word afterwards
		// the handler believes the photo kept.
		t.Errorf("张三 was answered %q for his 3 MB photo, and not told afterwards that it was not kept (custom messages: %+v)",
			bigReply.Content, e.svc.sim.CustomSends())
	}
}

// TestE2EDeciders: a district leader outside the department cannot decide
// its extension; the refusal is on record. A ticket sent to a department
// with nobody reachable tells the office.
func TestE2EDeciders(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	e.say("sandbox-user-1", "签收 1")
	e.say("sandbox-user-1", "延期 1 2天 等待材料")
	reply := e.say("sandbox-user-5", "同意延期 1")
	if strings.Contains(reply, "已同意") {
		t.Errorf("刘七 (district leader) decided longshan's extension: %q", reply)
	}
	if n := countActions(e.events("#1"), "approve_extension"); n != 0 {
		t.Errorf("the extension was approved by 刘七")
	}

	mark := len(e.svc.sim.Delivered())
	e.say("sandbox-user-4", "派 2 南湖街道办事处")
	e.drain()
	if n := len(e.deliveredTo(mark, "sandbox-user-4", "notice", "#2")); n != 1 {
		t.Errorf("notices to the office of #2 sent to 南湖 (nobody there): %d, want 1", n)
	}
}

// TestE2EDigestOnSchedule: a service (re)started just after digest_cron's
// moment (08:30 by default) sends the day's digest to the leaders and the
// office, once.
func TestE2EDigestOnSchedule(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	now := e.clock.Now().In(shanghai)
	next := time.Date(now.Year(), now.Month(), now.Day(), 8, 31, 0, 0, shanghai)
	if !next.After(now) {
		next = next.AddDate(0, 0, 1)
	}
	mark := len(e.svc.sim.Delivered())
	// The cron runs on the wall clock; a scheduler that starts after the
	// moment catches up on its first round, on the service's clock.
	e.advance(next.Sub(now))
	e.start()
	got := map[string]int{}
	waitFor(t, 5*time.Second, "the digests", func() bool {
		clear(got)
		for _, s := range e.svc.sim.Delivered()[mark:] {
			if s.TemplateID == "sandbox_digest" {
				got[s.ToUser]++
			}
		}
		return len(got) >= 3
	})
	if got["sandbox-user-3"] != 1 || got["sandbox-user-4"] != 1 || got["sandbox-user-5"] != 1 || len(got) != 3 {
		t.Errorf("digests at %s: %v, want one each to the two leaders and the office", next.Format(time.DateTime), got)
	}
}

// TestE2EOfficeByCLI: the office dispatches a pending ticket and records the
// follow-up from the command line; the handler's push and the history follow.
func TestE2EOfficeByCLI(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	var tk apiTicket
	if st := e.api("POST", "/api/v1/tickets", map[string]any{
		"external_id": "E2E-PENDING", "title": "某小区物业纠纷", "content": "物业费纠纷", "area": "不在规则里的地方",
	}, &tk); st != http.StatusCreated || tk.Status != "pending" {
		t.Fatalf("intake with no rule matching: %d %+v, want pending", st, tk)
	}
	mark := len(e.svc.sim.Delivered())
	e.cliOK("ticket", "act", tk.Ref, "dispatch", "--dept", "龙山管理处")
	e.drain()
	if n := len(e.deliveredTo(mark, "sandbox-user-1", "assigned", tk.Ref)); n != 1 {
		t.Errorf("assigned pushes of %s to 张三 after ticket act dispatch: %d", tk.Ref, n)
	}
	n := strconv.FormatInt(tk.ID, 10)
	e.say("sandbox-user-1", "签收 "+n)
	e.say("sandbox-user-1", "办结 "+n+" 已协调物业退费")
	e.cliOK("followup", tk.Ref, "--result", "basic")
	if got := e.ticket(tk.Ref); got.Status != "closed" {
		t.Errorf("after a 基本满意 follow-up: %q, want closed", got.Status)
	}
	evs := e.events(tk.Ref)
	if want := []string{"create", "dispatch", "accept", "complete", "follow_up"}; !slices.Equal(actions(evs), want) {
		t.Errorf("history %v, want %v", actions(evs), want)
	}
	for _, ev := range evs {
		if (ev.Action == "dispatch" || ev.Action == "follow_up") && ev.Channel != "cli" {
			t.Errorf("%s by the CLI has channel %q, want cli", ev.Action, ev.Channel)
		}
	}
}

// TestE2EWhoSeesWhat: 查 of another department's ticket shows nothing of
// it; the office's 待办 has the return waiting for it; help fits the role.
func TestE2EWhoSeesWhat(t *testing.T) {
	e := newE2E(t, false)
	reply := e.say("sandbox-user-2", "查 1")
	if strings.Contains(reply, "郭镇村") || strings.Contains(reply, "/t/1?") {
		t.Errorf("王五 (区城市管理局) 查 1 of 龙山管理处: %q, want no ticket data", reply)
	}
	if n := countActions(e.events("#1"), "refused"); n != 1 {
		t.Errorf("%d refused events on #1 after 王五's 查 1, want 1", n)
	}
	e.say("sandbox-user-2", "退回 2 不属于本单位职责")
	if reply := e.say("sandbox-user-4", "待办"); !strings.Contains(reply, "#2") {
		t.Errorf("the office's 待办 with #2's return waiting: %q", reply)
	}
	if reply := e.say("sandbox-user-4", "帮助"); !strings.Contains(reply, "派") || !strings.Contains(reply, "同意退回") {
		t.Errorf("the office's 帮助: %q, want 派 and 同意退回", reply)
	}
	if reply := e.say("sandbox-user-1", "帮助"); !strings.Contains(reply, "签收") || strings.Contains(reply, "同意退回") {
		t.Errorf("a handler's 帮助: %q, want 签收 and not the office's commands", reply)
	}
}

// TestE2EExtensionMovesTheAlarms: once an extension is approved, the old
// deadline passing is not overdue; the new one is. The report agrees.
func TestE2EExtensionMovesTheAlarms(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	e.say("sandbox-user-1", "签收 1")
	var before, after struct {
		DueAt   time.Time `json:"due_at"`
		Overdue bool      `json:"overdue"`
	}
	e.api("GET", "/api/v1/tickets/1", nil, &before)
	tick := func() {
		t.Helper()
		if err := e.svc.sched.Tick(e.ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.drain()
	}
	tick()
	e.say("sandbox-user-1", "延期 1 3天 等待供电所配合")
	e.say("sandbox-user-3", "同意延期 1")
	e.api("GET", "/api/v1/tickets/1", nil, &after)
	day := e.clock.Now().In(shanghai).Format(time.DateOnly)

	e.advance(before.DueAt.Sub(e.clock.Now()) + time.Minute)
	tick()
	if n := countActions(e.events("#1"), "overdue"); n != 0 {
		t.Errorf("#1 went overdue at its old deadline %s, though extended to %s", before.DueAt, after.DueAt)
	}
	for _, r := range e.pushesOf(1) {
		if r.Kind == "overdue" || (r.Kind == "escalation" && r.PersonID == 3) {
			t.Errorf("push %s to %d at the old deadline", r.Kind, r.PersonID)
		}
	}

	e.advance(after.DueAt.Sub(e.clock.Now()) + time.Minute)
	tick()
	if n := countActions(e.events("#1"), "overdue"); n != 1 {
		t.Errorf("%d overdue events past the new deadline, want 1", n)
	}
	var rep struct {
		Overdue int `json:"overdue"`
	}
	e.api("GET", "/api/v1/report?from="+day+"&to="+day, nil, &rep)
	if rep.Overdue != 2 {
		t.Errorf("report overdue %d, want 2 (#1 past its extended deadline, #2 never signed)", rep.Overdue)
	}
}

// TestE2EDigestLinksTheOldestOverdue: the digest page links the oldest
// overdue ticket, and that link opens for the leader.
func TestE2EDigestLinksTheOldestOverdue(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	var tk struct {
		DueAt time.Time `json:"due_at"`
	}
	e.api("GET", "/api/v1/tickets/1", nil, &tk)
	e.advance(tk.DueAt.Sub(e.clock.Now()) + time.Hour)
	if err := e.svc.sched.Tick(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.drain()
	mark := len(e.svc.sim.Delivered())
	if _, err := e.svc.sched.Digest(e.ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	var digest *wechatsim.TemplateSend
	for _, s := range e.svc.sim.Delivered()[mark:] {
		if s.ToUser == "sandbox-user-5" && s.TemplateID == "sandbox_digest" {
			digest = &s
		}
	}
	if digest == nil {
		t.Fatal("no digest to 刘七")
	}
	page := get(t, digest.URL)
	if page.status != http.StatusOK {
		t.Fatalf("digest page: %d", page.status)
	}
	m := regexp.MustCompile(`href="(/t/\d+\?sig=[^"]+|https?://[^"]*/t/\d+\?sig=[^"]+)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("the digest page links no ticket:\n%s", page.body)
	}
	link := strings.ReplaceAll(m[1], "&amp;", "&")
	if strings.HasPrefix(link, "/") {
		link = e.srv.URL + link
	}
	if p := get(t, link); p.status != http.StatusOK || !strings.Contains(p.body, "郭镇村") && !strings.Contains(p.body, "游商") {
		t.Errorf("the digest's ticket link %s: %d", link, p.status)
	}
}

// TestE2ESandboxWithConfiguredTemplate: `serve --sandbox` with a config that
// sets some of [wechat.templates.*] (a copy of config.example.toml being
// filled in) delivers the configured kinds' pushes too.
func TestE2ESandboxWithConfiguredTemplate(t *testing.T) {
	e := newE2E(t, false, `[wechat.templates.assigned]
id = "TEMPLATE_ID_ASSIGNED"
fields = { character_string1 = "{{.Ref}}", thing2 = "{{.Title}}", time3 = "{{.DueAt}}" }
`)
	e.drain()
	row := e.onlyPush(1, "assigned", 1)
	if row.Status != storage.PushSent {
		// sandboxPlatform.templates (cmd/hotlinebot/sandbox.go) keeps the
		// configured kinds' templates but defines only its own in the
		// simulator, which then refuses any other template id (40037).
		t.Errorf("#1's assigned push with a configured template: %s (%s), want sent", row.Status, row.LastError)
	}
	if sends := e.sendsWith(row.ID); deliveredCount(sends) != 1 || sends[0].TemplateID != "TEMPLATE_ID_ASSIGNED" || sends[0].Data["thing2"] != "郭镇村电杆被施工方弄断" {
		t.Errorf("sends of #1's assigned push: %+v, want one delivery with the configured template", sends)
	}
}

// TestE2EExampleTemplates: the templates of config.example.toml carry every
// kind of push through WeChat's value rules: nothing is refused.
func TestE2EExampleTemplates(t *testing.T) {
	raw, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	from := strings.Index(text, "[wechat.templates.assigned]")
	to := strings.Index(text[from:], "\n[admin]")
	if from < 0 || to < 0 {
		t.Fatal("config.example.toml: no [wechat.templates.*] before [admin]")
	}
	e := newE2E(t, false, text[from:from+to])
	e.drain()
	e.say("sandbox-user-1", "签收 1")
	e.say("sandbox-user-1", "延期 1 3天 等待供电所配合")
	e.say("sandbox-user-3", "同意延期 1")
	e.say("sandbox-user-2", "退回 2 不属于本单位职责")
	e.say("sandbox-user-4", "驳回退回 2 属于城管职责")
	e.drain()
	e.say("sandbox-user-1", "办结 1 电杆已更换")
	e.api("POST", "/api/v1/tickets/1/followup", map[string]any{"result": "unsatisfied"}, nil)
	e.cliOK("digest")
	e.drain()
	var tk struct {
		DueAt time.Time `json:"due_at"`
	}
	e.api("GET", "/api/v1/tickets/2", nil, &tk)
	for _, d := range []time.Duration{-24 * time.Hour, time.Minute, 25 * time.Hour} {
		e.advance(tk.DueAt.Add(d).Sub(e.clock.Now()))
		if err := e.svc.sched.Tick(e.ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.drain()
	}
	e.svc.sim.FailNext(wechatsim.PathTemplateSend, 43004, 1)
	e.intake("E2E-EXAMPLE", "龙山路灯不亮")
	e.drain()

	rows, err := e.svc.store.ListPushes(e.ctx, "all", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, r := range rows {
		kinds[string(r.Kind)] = true
		if r.Status == storage.PushDead && r.LastError != "" && !strings.Contains(r.LastError, "43004") && !strings.Contains(r.LastError, "require subscribe") {
			t.Errorf("push %d (%s to %s) refused: %s", r.ID, r.Kind, r.PersonName, r.LastError)
		}
		if r.Status == storage.PushPending || r.Status == storage.PushUncertain {
			t.Errorf("push %d (%s) left %s: %s", r.ID, r.Kind, r.Status, r.LastError)
		}
	}
	for _, k := range []string{"assigned", "extension", "returned", "reopened", "digest", "reminder", "overdue", "escalation", "notice"} {
		if !kinds[k] {
			t.Errorf("no %s push was made (kinds made: %v)", k, kinds)
		}
	}
}

// TestE2EReportDays: the report's days are calendar.timezone's: a ticket
// received at 23:30 in Shanghai counts on that day, not the next.
func TestE2EReportDays(t *testing.T) {
	e := newE2E(t, false)
	var tk apiTicket
	if st := e.api("POST", "/api/v1/tickets", map[string]any{
		"external_id": "E2E-LATE", "title": "深夜噪音扰民", "content": "工地夜间施工", "area": "龙山管理处",
		"received_at": "2026-11-20T23:30:00+08:00",
	}, &tk); st != http.StatusCreated {
		t.Fatalf("intake: %d", st)
	}
	count := func(from, to string) int {
		var rep struct {
			Received int `json:"received"`
		}
		if st := e.api("GET", "/api/v1/report?from="+from+"&to="+to, nil, &rep); st != http.StatusOK {
			t.Fatalf("report %s..%s: %d", from, to, st)
		}
		return rep.Received
	}
	if n := count("2026-11-20", "2026-11-20"); n != 1 {
		t.Errorf("report of 2026-11-20: received %d, want the ticket of 23:30", n)
	}
	if n := count("2026-11-21", "2026-11-21"); n != 0 {
		t.Errorf("report of 2026-11-21: received %d, want 0", n)
	}
	if st := e.api("GET", "/api/v1/report?from=2026-11-21&to=2026-11-20", nil, nil); st != http.StatusBadRequest {
		t.Errorf("report with from after to: %d, want 400", st)
	}
}
