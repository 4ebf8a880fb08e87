package main

// End-to-end: people leaving, moving and changing phones; the callback's
// edges; intake repeated; links in chat replies.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage"
)

// TestE2EPersonLeaves: after `user disable`, the person's WeChat sees no
// ticket data and his accepted ticket is back with his department, whose
// other handlers are told.
func TestE2EPersonLeaves(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	e.say("sandbox-user-1", "签收 1")
	id := e.addHandler("孙八", "longshan")
	e.cliOK("sim", "say", "--user", strconv.FormatInt(id, 10), "帮助") // binds 孙八 as sandbox-user-<id>
	mark := len(e.svc.sim.Delivered())
	e.cliOK("user", "disable", "1")
	tk := e.ticket("#1")
	if tk.Assignee != nil || tk.Status != "dispatched" {
		t.Errorf("#1 after its assignee left: %+v, want dispatched to longshan with no assignee", tk)
	}
	e.drain()
	if n := len(e.deliveredTo(mark, sandboxOpenIDPrefix+strconv.FormatInt(id, 10), "assigned", "#1")); n != 1 {
		t.Errorf("assigned pushes of #1 to 孙八 after 张三 left: %d, want 1", n)
	}
	for _, text := range []string{"待办", "查 1", "办结 1 已处理"} {
		reply := e.say("sandbox-user-1", text)
		if strings.Contains(reply, "郭镇村") || strings.Contains(reply, "签收时限") {
			t.Errorf("%q from a disabled person shows ticket data: %q", text, reply)
		}
	}
	if tk := e.ticket("#1"); tk.Status != "dispatched" {
		t.Errorf("a disabled person's 办结 changed #1 to %q", tk.Status)
	}
}

// TestE2EPersonUnbound: after `user unbind` (a new phone), the old WeChat
// gets only the binding help.
func TestE2EPersonUnbound(t *testing.T) {
	e := newE2E(t, false)
	e.cliOK("user", "unbind", "1")
	reply := e.say("sandbox-user-1", "待办")
	if !strings.Contains(reply, replyUnboundHint) || strings.Contains(reply, "#1") {
		t.Errorf("待办 from an unbound WeChat: %q, want only the binding help", reply)
	}
}

// TestE2EPersonMoves: after `user move`, the handler's ticket is back with
// the old department; he can no longer act on it, and its page no longer
// shows him the caller's phone.
func TestE2EPersonMoves(t *testing.T) {
	e := newE2E(t, false)
	e.say("sandbox-user-1", "签收 1")
	e.cliOK("user", "move", "1", "--dept", "nanhu")
	if tk := e.ticket("#1"); tk.Assignee != nil || tk.Status != "dispatched" || *tk.Department != "longshan" {
		t.Errorf("#1 after its assignee moved: %+v", tk)
	}
	reply := e.say("sandbox-user-1", "办结 1 已处理")
	if strings.Contains(reply, "已办结") {
		t.Errorf("a moved handler completed his old department's ticket: %q", reply)
	}
	if tk := e.ticket("#1"); tk.Status != "dispatched" {
		t.Errorf("#1 is %q", tk.Status)
	}
	page := get(t, e.svc.links.TicketURL(1, 1, e.clock.Now()))
	if strings.Contains(page.body, "13812340000") {
		t.Errorf("the page shows the caller's phone in full to a handler who moved away")
	}
}

var linkInText = regexp.MustCompile(`https?://[^\s」）)]+`)

// TestE2EQueryReplyLink: 查 answers with a link that opens the ticket page.
func TestE2EQueryReplyLink(t *testing.T) {
	e := newE2E(t, false)
	reply := e.say("sandbox-user-1", "查 1")
	if !strings.Contains(reply, "#1") || !strings.Contains(reply, "郭镇村") {
		t.Errorf("查 1: %q", reply)
	}
	link := linkInText.FindString(reply)
	if !strings.HasPrefix(link, e.srv.URL+"/t/1") {
		t.Fatalf("查 1 has no link to the ticket page on %s: %q", e.srv.URL, reply)
	}
	if page := get(t, link); page.status != http.StatusOK || !strings.Contains(page.body, "13812340000") {
		t.Errorf("GET the link in 查's reply: %d", page.status)
	}
}

// TestE2ECallbackEdges: URL verification, a malformed body, an oversized one.
func TestE2ECallbackEdges(t *testing.T) {
	e := newE2E(t, false)
	u := e.svc.sim.User("sandbox-user-1")
	if body, st, err := u.VerifyURL("echo-12345"); err != nil || st != http.StatusOK || body != "echo-12345" {
		t.Errorf("URL verification: %d %q %v", st, body, err)
	}
	if _, st, err := u.VerifyURL("echo-12345", wechatsim.WithForgedSignature()); err != nil || st != http.StatusForbidden {
		t.Errorf("forged URL verification: %d %v, want 403", st, err)
	}
	if r, err := u.PostRaw([]byte("<xml><ToUserName>")); err != nil || r.Status != http.StatusBadRequest {
		t.Errorf("malformed XML: %+v %v, want 400", r, err)
	}
	big := append([]byte("<xml><Content><![CDATA["), bytes.Repeat([]byte("a"), 70<<10)...)
	if r, err := u.PostRaw(append(big, "]]></Content></xml>"...)); err != nil || r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB callback: %+v %v, want 413", r, err)
	}
	future := e.clock.Now().Add(10 * time.Minute)
	if _, st, err := u.Say("待办", wechatsim.WithTimestamp(future)); err != nil || st != http.StatusForbidden {
		t.Errorf("timestamp 10 minutes ahead: %d %v, want 403", st, err)
	}
}

// TestE2EIntakeRepeated: the same external_id again is 200 with the same
// ticket, and nobody is pushed twice.
func TestE2EIntakeRepeated(t *testing.T) {
	e := newE2E(t, false)
	first := e.intake("E2E-TWICE", "龙山公园长椅损坏")
	var again apiTicket
	st := e.api("POST", "/api/v1/tickets", map[string]any{
		"external_id": "E2E-TWICE", "title": "龙山公园长椅损坏", "content": "长椅损坏", "area": "龙山管理处",
	}, &again)
	if st != http.StatusOK || again.ID != first.ID {
		t.Errorf("the same external_id again: %d %+v, want 200 with ticket %d", st, again, first.ID)
	}
	e.drain()
	if rows := e.pushesOf(first.ID); len(rows) != 1 {
		t.Errorf("pushes of %s after a repeated intake: %+v, want 1", first.Ref, rows)
	}
	if n := len(e.events(first.Ref)); n != 2 {
		t.Errorf("events of %s: %d, want create and dispatch", first.Ref, n)
	}
}

// TestE2EAPIAuthAndReveal: the API wants the token; the phone in full is
// given once asked for, and that is on the record.
func TestE2EAPIAuthAndReveal(t *testing.T) {
	e := newE2E(t, false)
	resp, err := http.Get(e.srv.URL + "/api/v1/tickets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}
	if tk := e.ticket("#1"); strings.Contains(tk.CallerPhone, "13812340000") {
		t.Errorf("the ticket shows the phone unasked: %q", tk.CallerPhone)
	}
	var tk apiTicket
	e.api("GET", "/api/v1/tickets/1?reveal=phone", nil, &tk)
	if tk.CallerPhone != "13812340000" {
		t.Errorf("reveal=phone: %q", tk.CallerPhone)
	}
	if n := countActions(e.events("#1"), "reveal"); n != 1 {
		t.Errorf("%d reveal events, want 1", n)
	}
	var list []apiTicket
	e.api("GET", "/api/v1/tickets?department=longshan", nil, &list)
	for _, tk := range list {
		if strings.Contains(tk.CallerPhone, "1234") && !strings.Contains(tk.CallerPhone, "*") {
			t.Errorf("the list shows a phone in full: %q", tk.CallerPhone)
		}
	}
}

// TestE2ECrashedDispatcher: a dispatcher that died holding its claim (the row
// left `sending`) does not lose the push: once the lease is over another
// round sends it, with the same client_msg_id; past the 8 minutes it is
// uncertain instead.
func TestE2ECrashedDispatcher(t *testing.T) {
	e := newE2E(t, false)
	e.drain()
	tk := e.intake("E2E-CRASH", "龙山小学门口积水")
	claimed, err := e.svc.store.ClaimPushes(e.ctx, e.clock.Now(), 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %+v %v", claimed, err)
	}
	e.advance(storage.PushLease + time.Second)
	e.drain()
	row := e.onlyPush(tk.ID, "assigned", 1)
	if row.Status != storage.PushSent || row.ID != claimed[0].OutboxID {
		t.Fatalf("after the lease: %+v, want sent", row)
	}
	if sends := e.sendsWith(row.ID); len(sends) != 1 || !sends[0].Delivered {
		t.Errorf("sends of %d: %+v", row.ID, sends)
	}

	tk2 := e.intake("E2E-CRASH-2", "龙山中学门口积水")
	if _, err := e.svc.store.ClaimPushes(e.ctx, e.clock.Now(), 10); err != nil {
		t.Fatal(err)
	}
	e.advance(9 * time.Minute)
	e.drain()
	if row := e.onlyPush(tk2.ID, "assigned", 1); row.Status != storage.PushUncertain {
		t.Errorf("claimed and abandoned 9 minutes ago: %s, want uncertain", row.Status)
	}
}

// addHandler adds a handler through the CLI and returns their id.
func (e *e2e) addHandler(name, dept string) int64 {
	e.t.Helper()
	var p struct {
		ID int64 `json:"id"`
	}
	out := e.cliOK("user", "add", "--name", name, "--role", "handler", "--dept", dept, "-o", "json")
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.ID == 0 {
		e.t.Fatalf("user add -o json: %v\n%s", err, out)
	}
	return p.ID
}

// TestE2EConcurrentDuplicateCallback: WeChat's retry can arrive while the
// first delivery is still being handled; the message is applied once and
// both get a proper answer.
func TestE2EConcurrentDuplicateCallback(t *testing.T) {
	e := newE2E(t, false)
	const msgID = 987654321012
	var wg sync.WaitGroup
	replies := make([]*wechatsim.Reply, 4)
	errs := make([]error, 4)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = e.svc.sim.User("sandbox-user-1").Send(wechatsim.Message{MsgType: "text", Content: "签收 1", MsgID: msgID})
		}()
	}
	wg.Wait()
	for i, r := range replies {
		if errs[i] != nil || r.Status != http.StatusOK || !strings.Contains(r.Content, "#1") {
			t.Errorf("delivery %d of one message: %+v %v", i, r, errs[i])
		}
	}
	if n := countActions(e.events("#1"), "accept"); n != 1 {
		t.Errorf("%d accept events from one message delivered 4 times, want 1", n)
	}
}

// TestE2EServeAndSimSay: the newcomer's path: `serve --sandbox` on a fresh
// database, then `sim say` as a seeded handler and as a newly added one
// shows the reply and the pushes it caused.
func TestE2EServeAndSimSay(t *testing.T) {
	dbURL := storagetestDatabase(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	config := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf("[server]\nlisten = %q\npublic_url = %q\n\n[database]\nurl = %q\n\n[admin]\ntoken = %q\n",
		addr, "http://"+addr, dbURL, e2eAdminToken)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(ctx context.Context, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"--config", config}, args...), func(string) string { return "" },
			strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}

	ctx, cancel := context.WithCancel(context.Background())
	serveOut, serveErr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		var code int
		defer func() { done <- code }()
		code = run(ctx, []string{"--config", config, "serve", "--sandbox"}, func(string) string { return "" },
			strings.NewReader(""), serveOut, serveErr)
	}()
	stopped := false
	stop := func() int {
		cancel()
		select {
		case code := <-done:
			stopped = true
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop within 20 s")
		}
		return -1
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
		if t.Failed() {
			t.Logf("serve stdout:\n%s\nserve stderr:\n%s", serveOut.String(), serveErr.String())
		}
	})
	waitFor(t, 10*time.Second, "serve answering /healthz", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	out, errs, code := cli(context.Background(), "sim", "say", "--user", "2", "退回 2 不属于本单位职责")
	if code != 0 || !strings.Contains(out, "#2") || !strings.Contains(out, "→ 推送（returned）给 李四 #2："+storage.PushSent.Chinese()) {
		t.Errorf("sim say --user 2 退回 2: exit %d\n%s%s", code, out, errs)
	}
	waitFor(t, 5*time.Second, "the returned push printed by serve", func() bool {
		return strings.Contains(serveOut.String(), "工单退回审核")
	})

	out, errs, code = cli(context.Background(), "user", "add", "--name", "孙八", "--role", "handler", "--dept", "longshan", "-o", "json")
	var p struct {
		ID int64 `json:"id"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
		t.Fatalf("user add: %d %s %s", code, out, errs)
	}
	out, errs, code = cli(context.Background(), "sim", "say", "--user", strconv.FormatInt(p.ID, 10), "签收 1")
	if code != 0 || !strings.Contains(out, "已签收 #1") {
		t.Errorf("sim say as the new handler: exit %d\n%s%s", code, out, errs)
	}
	if code := stop(); code != 0 {
		t.Errorf("serve stopped with exit %d, want 0", code)
	}
}
