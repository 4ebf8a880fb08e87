package main

// More end-to-end paths across packages: safe mode, binding by QR code,
// unsubscribing, evidence photos, reminders and escalation from the
// scheduler, the digest, metrics, the office's retry, and signed links.

import (
	"bytes"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage"
)

// metric returns the value of the sample line that starts with name{labels}
// on /metrics, or -1 when there is none.
func (e *e2e) metric(series string) float64 {
	e.t.Helper()
	page := get(e.t, e.srv.URL+"/metrics")
	if page.status != http.StatusOK {
		e.t.Fatalf("GET /metrics: %d", page.status)
	}
	for _, line := range strings.Split(page.body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				e.t.Fatalf("metric %s: %q", series, v)
			}
			return f
		}
	}
	return -1
}

// TestE2ESafeMode: with an EncodingAESKey the simulated users post in safe
// mode (AES) and the bot answers encrypted; a bad msg_signature gets 403;
// sim say signs the same way.
func TestE2ESafeMode(t *testing.T) {
	e := newE2E(t, false, "[wechat]\nencoding_aes_key = \"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\"\n")
	u := e.svc.sim.User("sandbox-user-1")
	r, err := u.Send(wechatsim.Message{MsgType: "text", Content: "签收 1"})
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("safe-mode 签收 1: %+v %v", r, err)
	}
	if !bytes.Contains(r.Body, []byte("<Encrypt>")) || !strings.Contains(r.Content, "#1") {
		t.Errorf("safe-mode reply is not encrypted or does not name #1: body %q, text %q", r.Body, r.Content)
	}
	if tk := e.ticket("#1"); tk.Status != "accepted" {
		t.Errorf("after a safe-mode 签收: %q, want accepted", tk.Status)
	}
	if _, st, err := u.Say("办结 1 已处理", wechatsim.WithForgedMsgSignature()); err != nil || st != http.StatusForbidden {
		t.Errorf("forged msg_signature: %d %v, want 403", st, err)
	}
	if tk := e.ticket("#1"); tk.Status != "accepted" {
		t.Errorf("a forged safe-mode message changed #1 to %q", tk.Status)
	}
	out := e.cliOK("sim", "say", "--user", "1", "待办")
	if !strings.Contains(out, "#1") {
		t.Errorf("sim say in safe mode:\n%s", out)
	}
}

// TestE2EBindByQRCode: the office issues a bind code (with its QR code,
// made through WeChat); the new handler scans it, is bound, and the code
// does not work a second time.
func TestE2EBindByQRCode(t *testing.T) {
	e := newE2E(t, false)
	var p struct {
		ID int64 `json:"id"`
	}
	if st := e.api("POST", "/api/v1/users", map[string]any{
		"name": "孙八", "role": "handler", "department": "longshan", "phone": "13800000008",
	}, &p); st != http.StatusCreated || p.ID == 0 {
		t.Fatalf("POST /api/v1/users: %d %+v", st, p)
	}
	var code struct {
		Code    string `json:"code"`
		QRScene string `json:"qr_scene"`
		QRURL   string `json:"qr_url"`
	}
	if st := e.api("POST", "/api/v1/users/"+strconv.FormatInt(p.ID, 10)+"/bind-code", nil, &code); st != http.StatusCreated && st != http.StatusOK {
		t.Fatalf("POST bind-code: %d", st)
	}
	e.forbid = append(e.forbid, code.Code)
	qrs := e.svc.sim.QRCodes()
	if code.Code == "" || code.QRScene == "" || len(qrs) != 1 || qrs[0].SceneStr != code.QRScene || qrs[0].ActionName != "QR_STR_SCENE" {
		t.Fatalf("bind code %+v; QR codes made on WeChat: %+v", code, qrs)
	}
	if code.QRURL == "" {
		t.Errorf("bind code without its QR code URL: %+v", code)
	}

	newcomer := e.svc.sim.User("wx-openid-sunba")
	r, err := newcomer.Subscribe(code.QRScene)
	if err != nil || r.Status != http.StatusOK || !strings.Contains(r.Content, "孙八") {
		t.Fatalf("subscribe by the bind QR code: %+v %v, want a reply naming 孙八", r, err)
	}
	got, err := e.svc.store.Person(e.ctx, p.ID)
	if err != nil || got.OpenID != "wx-openid-sunba" {
		t.Fatalf("孙八 after scanning: %+v %v, want bound to wx-openid-sunba", got, err)
	}
	if reply := e.say("wx-openid-sunba", "待办"); !strings.Contains(reply, "#1") {
		t.Errorf("待办 of the newly bound handler: %q, want #1 of his department", reply)
	}

	// The code worked once: another WeChat user scanning it is not bound.
	other := e.svc.sim.User("wx-openid-other")
	if r, err := other.Scan(code.QRScene); err != nil || r.Status != http.StatusOK {
		t.Fatalf("a second scan: %+v %v", r, err)
	}
	if _, err := e.svc.store.PersonByOpenID(e.ctx, "wx-openid-other"); err == nil {
		t.Errorf("a used bind code bound a second WeChat user")
	}
	if reply := e.say("wx-openid-other", "绑定 "+code.Code); !strings.Contains(reply, "未成功") {
		t.Errorf("绑定 with a used code: %q", reply)
	}
	if _, err := e.svc.store.PersonByOpenID(e.ctx, "wx-openid-other"); err == nil {
		t.Errorf("a used bind code bound a second WeChat user by text")
	}
}

// TestE2EUnsubscribe: a handler who unfollows is unreachable and the office
// is told; a new ticket for his department, which then has nobody
// reachable, tells the office too.
func TestE2EUnsubscribe(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	before := len(e.svc.sim.Delivered())
	leaver := e.svc.sim.User("sandbox-user-1")
	if _, err := leaver.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := leaver.Retry(); err != nil { // WeChat repeats the event
		t.Fatal(err)
	}
	p, err := e.svc.store.Person(e.ctx, 1)
	if err != nil || p.Reachable {
		t.Fatalf("张三 after unsubscribing: reachable %v, %v", p.Reachable, err)
	}
	e.drain()
	var toOffice []wechatsim.TemplateSend
	for _, s := range e.svc.sim.Delivered()[before:] {
		if s.ToUser == "sandbox-user-4" {
			toOffice = append(toOffice, s)
		}
	}
	if len(toOffice) != 1 || !dataContains(toOffice[0], "张三") {
		t.Fatalf("pushes to the office after 张三 unsubscribed: %+v, want one notice naming 张三", toOffice)
	}

	tk := e.intake("E2E-NOBODY", "龙山路口积水")
	e.drain()
	if rows := e.pushesOf(tk.ID); len(rows) == 0 {
		t.Fatalf("no pushes for %s", tk.Ref)
	}
	notice := e.onlyPush(tk.ID, "notice", 4)
	if notice.Status != storage.PushSent {
		t.Errorf("the office's notice about %s: %s", tk.Ref, notice.Status)
	}
	for _, r := range e.pushesOf(tk.ID) {
		if r.PersonID == 1 && r.Status == storage.PushSent {
			t.Errorf("push %d to the unsubscribed 张三 was sent", r.ID)
		}
	}
	for _, s := range e.svc.sim.TemplateSends() {
		if s.ToUser == "sandbox-user-1" && dataContains(s, tk.Ref) {
			t.Errorf("a push of %s was attempted to the unsubscribed 张三", tk.Ref)
		}
	}
}

// TestE2EEvidencePhoto: a photo sent right after 办结 is fetched from
// WeChat at once and kept with the ticket as evidence.
func TestE2EEvidencePhoto(t *testing.T) {
	e := newE2E(t, false)
	e.say("sandbox-user-1", "签收 1")
	e.say("sandbox-user-1", "办结 1 电杆已由供电所更换")
	photo := append([]byte("\xff\xd8\xff\xe0JFIF"), bytes.Repeat([]byte{0x42}, 4096)...)
	e.svc.sim.AddMedia("media-e2e-1", photo, "image/jpeg")
	r, err := e.svc.sim.User("sandbox-user-1").SendImage("media-e2e-1")
	if err != nil || r.Status != http.StatusOK || !strings.Contains(r.Content, "#1") {
		t.Fatalf("photo after 办结: %+v %v, want a reply naming #1", r, err)
	}
	var stored []storage.Evidence
	waitFor(t, 5*time.Second, "the photo fetched and kept", func() bool {
		ev, err := e.svc.store.TicketEvidence(e.ctx, 1)
		stored = ev
		return err == nil && len(ev) == 1 && ev[0].Status == storage.EvidenceStored
	})
	data, ctype, err := e.svc.store.EvidenceData(e.ctx, stored[0].ID)
	if err != nil || !bytes.Equal(data, photo) || ctype != "image/jpeg" {
		t.Errorf("kept evidence: %d bytes %q %v, want the photo as sent", len(data), ctype, err)
	}
	if got := e.svc.sim.RequestsTo(wechatsim.PathMediaGet); len(got) != 1 {
		t.Errorf("%d media/get calls, want 1", len(got))
	}
	if n := countActions(e.events("#1"), "evidence"); n != 1 {
		t.Errorf("%d evidence events on #1, want 1", n)
	}
}

// TestE2ERemindersAndEscalation: the scheduler reminds the handlers before
// the 签收 deadline and tells the department's leader once it is missed;
// the pushes reach them through the dispatcher.
func TestE2ERemindersAndEscalation(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	var tk struct {
		SignDueAt time.Time `json:"sign_due_at"`
	}
	if st := e.api("GET", "/api/v1/tickets/1", nil, &tk); st != http.StatusOK || tk.SignDueAt.IsZero() {
		t.Fatalf("GET #1: %d %+v", st, tk)
	}
	tick := func() {
		t.Helper()
		if err := e.svc.sched.Tick(e.ctx, e.clock.Now()); err != nil {
			t.Fatalf("scheduler tick: %v", err)
		}
		e.drain()
	}
	kindTo := func(kind string, person int64) []storage.PushRow {
		var out []storage.PushRow
		for _, r := range e.pushesOf(1) {
			if string(r.Kind) == kind && r.PersonID == person {
				out = append(out, r)
			}
		}
		return out
	}

	tick()
	if n := len(kindTo("reminder", 1)); n != 0 {
		t.Fatalf("%d reminders before their time", n)
	}
	// before_sign = 2h by default.
	e.advance(tk.SignDueAt.Sub(e.clock.Now()) - 2*time.Hour + time.Minute)
	tick()
	rem := kindTo("reminder", 1)
	if len(rem) != 1 || rem[0].Status != storage.PushSent {
		t.Fatalf("reminders of #1 to 张三 2 h before the 签收 deadline: %+v, want one sent", rem)
	}
	if n := deliveredCount(e.sendsWith(rem[0].ID)); n != 1 {
		t.Errorf("the reminder was delivered %d times", n)
	}

	e.advance(2 * time.Hour)
	tick()
	tick()
	esc := kindTo("escalation", 3)
	if len(esc) != 1 || esc[0].Status != storage.PushSent {
		t.Fatalf("escalations of #1 to 赵六 (longshan's leader) after the missed 签收 deadline: %+v, want one sent", esc)
	}
	if n := len(kindTo("reminder", 1)); n != 1 {
		t.Errorf("%d reminders to 张三, want still 1", n)
	}
}

// TestE2EDigest: `hotlinebot digest` queues the daily digest for each leader
// and the office; its link opens the digest page.
func TestE2EDigest(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	before := len(e.svc.sim.Delivered())
	e.cliOK("digest")
	e.drain()
	got := map[string]wechatsim.TemplateSend{}
	for _, s := range e.svc.sim.Delivered()[before:] {
		if s.TemplateID == "sandbox_digest" {
			got[s.ToUser] = s
		}
	}
	for _, who := range []string{"sandbox-user-3", "sandbox-user-4", "sandbox-user-5"} {
		s, ok := got[who]
		if !ok {
			t.Errorf("no digest delivered to %s (got %v)", who, got)
			continue
		}
		if !strings.HasPrefix(s.URL, e.srv.URL+"/d/") {
			t.Errorf("digest link %q", s.URL)
			continue
		}
		if page := get(t, s.URL); page.status != http.StatusOK || !strings.Contains(page.body, "<svg") {
			t.Errorf("GET the digest link of %s: %d", who, page.status)
		}
	}
	if len(got) != 3 {
		t.Errorf("digests delivered to %d people, want 3 (the two leaders and the office)", len(got))
	}
	// Asked again the same day, nobody gets it twice.
	e.cliOK("digest")
	e.drain()
	n := 0
	for _, s := range e.svc.sim.Delivered()[before:] {
		if s.TemplateID == "sandbox_digest" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d digests after asking twice, want 3", n)
	}
}

// TestE2EDeadPushRetried: a dead push shows in /metrics; once the handler
// follows again, the office's `outbox retry` delivers it.
func TestE2EDeadPushRetried(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	if v := e.metric(`hotlinebot_outbox_pushes{status="dead"}`); v > 0 {
		t.Fatalf("dead pushes before any failure: %v", v)
	}
	tk := e.intake("E2E-RETRY", "东街护栏倒伏")
	row := e.onlyPush(tk.ID, "assigned", 1)
	e.svc.sim.FailNext(wechatsim.PathTemplateSend, 43004, 1)
	e.drain()
	if v := e.metric(`hotlinebot_outbox_pushes{status="dead"}`); v != 1 {
		t.Errorf("hotlinebot_outbox_pushes{status=\"dead\"} = %v, want 1", v)
	}
	// 张三 follows the account again, and the office retries.
	if _, err := e.svc.sim.User("sandbox-user-1").Subscribe(""); err != nil {
		t.Fatal(err)
	}
	e.cliOK("outbox", "retry", strconv.FormatInt(row.ID, 10))
	e.drain()
	if got := e.onlyPush(tk.ID, "assigned", 1); got.Status != storage.PushSent {
		t.Fatalf("push %d after the office's retry: %s (%s), want sent", row.ID, got.Status, got.LastError)
	}
	if n := deliveredCount(e.sendsWith(row.ID)); n != 1 {
		t.Errorf("delivered %d times, want 1", n)
	}
	if v := e.metric(`hotlinebot_outbox_pushes{status="dead"}`); v > 0 {
		t.Errorf("hotlinebot_outbox_pushes{status=\"dead\"} = %v after the retry, want 0", v)
	}
}

// TestE2ELinks: a push's link shows the caller's phone only to the
// department's handlers, and stops working when it expires.
func TestE2ELinks(t *testing.T) {
	e := newE2E(t, false)
	now := e.clock.Now()
	for _, c := range []struct {
		person int64
		full   bool
	}{{1, true}, {3, false}, {4, false}, {2, false}} {
		page := get(t, e.svc.links.TicketURL(1, c.person, now))
		if page.status != http.StatusOK {
			if c.full {
				t.Errorf("#1's page for person %d: %d", c.person, page.status)
			}
			continue
		}
		if full := strings.Contains(page.body, "13812340000"); full != c.full {
			t.Errorf("#1's page for person %d shows the full phone: %v, want %v", c.person, full, c.full)
		}
	}
	link := e.svc.links.TicketURL(1, 1, now)
	if page := get(t, strings.Replace(link, "sig=", "sig=1", 1)); page.status != http.StatusForbidden {
		t.Errorf("a tampered link: %d, want 403", page.status)
	}
	if page := get(t, strings.Replace(link, ".1.", ".2.", 1)); page.status != http.StatusForbidden {
		t.Errorf("a link handed to another person: %d, want 403", page.status)
	}
	e.advance(31 * 24 * time.Hour)
	if page := get(t, link); page.status != http.StatusForbidden {
		t.Errorf("a link 31 days old: %d, want 403", page.status)
	}
}

// deliveredTo returns the pushes of kind about ticket ref delivered to
// openid since the index from.
func (e *e2e) deliveredTo(from int, openid, kind, ref string) []wechatsim.TemplateSend {
	var out []wechatsim.TemplateSend
	for _, s := range e.svc.sim.Delivered()[from:] {
		if s.ToUser == openid && s.TemplateID == "sandbox_"+kind && dataContains(s, ref) {
			out = append(out, s)
		}
	}
	return out
}

// TestE2EExtensionAndReopen: 延期 goes to the deciders, their 同意延期 moves
// the deadline and tells the requester; an unsatisfied follow-up reopens the
// ticket and tells the handler.
func TestE2EExtensionAndReopen(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	e.say("sandbox-user-1", "签收 1")
	var before struct {
		DueAt time.Time `json:"due_at"`
	}
	e.api("GET", "/api/v1/tickets/1", nil, &before)

	mark := len(e.svc.sim.Delivered())
	if reply := e.say("sandbox-user-1", "延期 1 3天 等待供电所配合"); !strings.Contains(reply, "#1") {
		t.Errorf("延期: %q", reply)
	}
	e.drain()
	for _, who := range []string{"sandbox-user-3", "sandbox-user-4"} {
		if n := len(e.deliveredTo(mark, who, "extension", "#1")); n != 1 {
			t.Errorf("extension pushes of #1 to %s: %d, want 1", who, n)
		}
	}
	mark = len(e.svc.sim.Delivered())
	reply := e.say("sandbox-user-3", "同意延期 1")
	var after struct {
		DueAt time.Time `json:"due_at"`
	}
	e.api("GET", "/api/v1/tickets/1", nil, &after)
	if !after.DueAt.After(before.DueAt.Add(2 * 24 * time.Hour)) {
		t.Errorf("after 同意延期 3天 the deadline moved from %s to %s", before.DueAt, after.DueAt)
	}
	if !strings.Contains(reply, "#1") || !strings.Contains(reply, after.DueAt.In(shanghai).Format("2006年01月02日")) {
		t.Errorf("同意延期: %q, want #1 and the new deadline", reply)
	}
	e.drain()
	if n := len(e.deliveredTo(mark, "sandbox-user-1", "extension", "#1")); n != 1 {
		t.Errorf("the decision reached 张三 %d times, want 1", n)
	}

	e.say("sandbox-user-1", "办结 1 电杆已更换")
	mark = len(e.svc.sim.Delivered())
	if st := e.api("POST", "/api/v1/tickets/1/followup", map[string]any{"result": "unsatisfied", "note": "来电人称电杆仍未修好"}, nil); st != http.StatusOK {
		t.Fatalf("followup unsatisfied: %d", st)
	}
	e.drain()
	if tk := e.ticket("#1"); tk.Status == "completed" || tk.Status == "closed" {
		t.Errorf("after an unsatisfied follow-up #1 is %q, want reopened", tk.Status)
	}
	if n := len(e.deliveredTo(mark, "sandbox-user-1", "reopened", "#1")); n != 1 {
		t.Errorf("reopened pushes of #1 to 张三: %d, want 1", n)
	}
	acts := actions(e.events("#1"))
	if !slices.Contains(acts, "reopen") || !slices.Contains(acts, "approve_extension") {
		t.Errorf("history of #1: %v", acts)
	}
}

// TestE2EReturnAndRedispatch: 王五 returns #2; the office is told, agrees
// by chat and sends it to 龙山管理处, whose handler gets the push.
func TestE2EReturnAndRedispatch(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	mark := len(e.svc.sim.Delivered())
	if reply := e.say("sandbox-user-2", "退回 2 不属于本单位职责"); !strings.Contains(reply, "#2") {
		t.Errorf("退回: %q", reply)
	}
	e.drain()
	if n := len(e.deliveredTo(mark, "sandbox-user-4", "returned", "#2")); n != 1 {
		t.Errorf("returned pushes of #2 to the office: %d, want 1", n)
	}
	mark = len(e.svc.sim.Delivered())
	if reply := e.say("sandbox-user-4", "同意退回 2 龙山管理处"); !strings.Contains(reply, "#2") {
		t.Errorf("同意退回: %q", reply)
	}
	e.drain()
	tk := e.ticket("#2")
	if tk.Department == nil || *tk.Department != "longshan" || tk.Status != "dispatched" {
		t.Errorf("#2 after the return: %+v, want dispatched to longshan", tk)
	}
	if n := len(e.deliveredTo(mark, "sandbox-user-1", "assigned", "#2")); n != 1 {
		t.Errorf("assigned pushes of #2 to 张三: %d, want 1", n)
	}
	if n := len(e.deliveredTo(mark, "sandbox-user-2", "returned", "#2")); n != 1 {
		t.Errorf("the decision reached 王五 %d times, want 1", n)
	}
	// The office's 派 reassigns by name, too.
	mark = len(e.svc.sim.Delivered())
	if reply := e.say("sandbox-user-4", "派 2 区城市管理局"); !strings.Contains(reply, "#2") {
		t.Errorf("派: %q", reply)
	}
	e.drain()
	if n := len(e.deliveredTo(mark, "sandbox-user-2", "assigned", "#2")); n != 1 {
		t.Errorf("assigned pushes of #2 to 王五 after 派: %d, want 1", n)
	}
}

// TestE2ETemplateReceipt: WeChat's TEMPLATESENDJOBFINISH reports a push the
// user blocked; the row records it and the office is told.
func TestE2ETemplateReceipt(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	row := e.onlyPush(1, "assigned", 1)
	sends := e.sendsWith(row.ID)
	if len(sends) != 1 {
		t.Fatalf("sends of push %d: %+v", row.ID, sends)
	}
	u := e.svc.sim.User("sandbox-user-1")
	r, err := u.TemplateReceipt(sends[0].MsgID, "failed:user block")
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("receipt: %+v %v", r, err)
	}
	if got := e.onlyPush(1, "assigned", 1); got.ReceiptStatus != "failed:user block" {
		t.Errorf("receipt status of push %d: %q", row.ID, got.ReceiptStatus)
	}
	mark := len(e.svc.sim.Delivered())
	e.drain()
	if n := len(e.deliveredTo(mark, "sandbox-user-4", "notice", "#1")); n != 1 {
		t.Errorf("notices to the office about the blocked push: %d, want 1", n)
	}
	// WeChat repeats the receipt: nobody is told twice.
	if _, err := u.Retry(); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if n := len(e.deliveredTo(mark, "sandbox-user-4", "notice", "#1")); n != 1 {
		t.Errorf("notices after a repeated receipt: %d, want 1", n)
	}
}

// TestE2ETransientAndQuota: -1 is retried after the backoff; 45009 pauses
// all sending until the next hour, then the pushes go out.
func TestE2ETransientAndQuota(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	tk := e.intake("E2E-MINUS1", "北门公厕无人保洁")
	row := e.onlyPush(tk.ID, "assigned", 1)
	e.svc.sim.FailNext(wechatsim.PathTemplateSend, -1, 1)
	e.drain()
	if got := e.onlyPush(tk.ID, "assigned", 1); got.Status != storage.PushPending {
		t.Fatalf("after -1: %s, want pending", got.Status)
	}
	e.advance(11 * time.Second)
	e.drain()
	if got := e.onlyPush(tk.ID, "assigned", 1); got.Status != storage.PushSent || deliveredCount(e.sendsWith(row.ID)) != 1 {
		t.Fatalf("after the backoff: %s, delivered %d", got.Status, deliveredCount(e.sendsWith(row.ID)))
	}

	a := e.intake("E2E-QUOTA-1", "南门路灯闪烁")
	b := e.intake("E2E-QUOTA-2", "南门井盖破损")
	e.svc.sim.FailNext(wechatsim.PathTemplateSend, 45009, 1)
	e.drain()
	pa, pb := e.onlyPush(a.ID, "assigned", 1), e.onlyPush(b.ID, "assigned", 1)
	if pa.Status == storage.PushSent || pb.Status == storage.PushSent {
		t.Fatalf("after 45009: %s and %s, want both waiting", pa.Status, pb.Status)
	}
	calls := len(e.svc.sim.RequestsTo(wechatsim.PathTemplateSend))
	e.advance(time.Minute)
	e.drain()
	if n := len(e.svc.sim.RequestsTo(wechatsim.PathTemplateSend)); n != calls {
		t.Errorf("%d template sends during the quota pause", n-calls)
	}
	e.advance(time.Hour)
	e.drain()
	for _, tk := range []apiTicket{a, b} {
		if got := e.onlyPush(tk.ID, "assigned", 1); got.Status != storage.PushSent || deliveredCount(e.sendsWith(got.ID)) != 1 {
			t.Errorf("%s after the pause: %s, delivered %d", tk.Ref, got.Status, deliveredCount(e.sendsWith(got.ID)))
		}
	}
}

// TestE2EImportPushes: `ticket import` sends the handlers their pushes,
// `--quiet` does not.
func TestE2EImportPushes(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	dir := t.TempDir()
	write := func(name, body string) string {
		path := dir + "/" + name
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	loud := write("loud.csv", "工单编号,标题,诉求内容,区域\nIMP-1,龙山村道路破损,道路破损严重,龙山管理处\n")
	quiet := write("quiet.csv", "工单编号,标题,诉求内容,区域\nIMP-2,龙山村垃圾堆积,垃圾堆积多日,龙山管理处\n")
	e.cliOK("ticket", "import", loud)
	e.cliOK("ticket", "import", quiet, "--quiet")
	e.drain()
	one, two := e.ticket("IMP-1"), e.ticket("IMP-2")
	for _, tk := range []apiTicket{one, two} {
		if tk.Department == nil || *tk.Department != "longshan" || tk.Status != "dispatched" {
			t.Errorf("imported %s: %+v, want dispatched to longshan", tk.Ref, tk)
		}
	}
	if rows := e.pushesOf(one.ID); len(rows) != 1 || rows[0].Status != storage.PushSent || rows[0].PersonID != 1 {
		t.Errorf("pushes of the imported %s: %+v, want one sent to 张三", one.Ref, rows)
	}
	if rows := e.pushesOf(two.ID); len(rows) != 0 {
		t.Errorf("pushes of the quietly imported %s: %+v, want none", two.Ref, rows)
	}
}

// TestE2EDatabaseDown: with the database gone the sender is told to send
// again, not silently dropped; /readyz says not ready.
func TestE2EDatabaseDown(t *testing.T) {
	e := newE2E(t, false)
	e.svc.store.Close()
	reply, status, err := e.svc.sim.User("sandbox-user-1").Say("签收 1")
	if err != nil || status != http.StatusOK || !strings.Contains(reply, "再发送") {
		t.Errorf("签收 with the database down: %d %q %v, want the busy reply", status, reply, err)
	}
	if page := get(t, e.srv.URL+"/readyz"); page.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down: %d, want 503", page.status)
	}
}
