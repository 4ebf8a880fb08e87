package wechatsim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/officialaccount"
	"github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/officialaccount/message"
)

const (
	appID  = "wxsimtest"
	secret = "simsecret"
	token  = "simtoken"
	aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// echoBot is a callback built on the SDK's server: it answers "echo: <text>"
// and records what it was sent, so the simulated users are checked against
// the same code WeChat's real callbacks meet.
type echoBot struct {
	oa *officialaccount.OfficialAccount
	mu sync.Mutex
	in []message.MixMessage
}

func (b *echoBot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	srv := b.oa.GetServer(r, w)
	srv.SetMessageHandler(func(m *message.MixMessage) *message.Reply {
		b.mu.Lock()
		b.in = append(b.in, *m)
		b.mu.Unlock()
		if m.MsgType == message.MsgTypeText {
			return &message.Reply{MsgType: message.MsgTypeText, MsgData: message.NewText("echo: " + m.Content)}
		}
		return nil
	})
	if err := srv.Serve(); err != nil {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if srv.ResponseMsg != nil {
		_ = srv.Send()
	}
}

func (b *echoBot) received() []message.MixMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]message.MixMessage(nil), b.in...)
}

func newEcho(t *testing.T) (*wechatsim.Platform, *echoBot) {
	t.Helper()
	bot := &echoBot{oa: officialaccount.NewOfficialAccount(&config.Config{AppID: appID, AppSecret: secret, Token: token, EncodingAESKey: aesKey, Cache: cache.NewMemory()})}
	srv := httptest.NewServer(bot)
	t.Cleanup(srv.Close)
	p := wechatsim.New(wechatsim.Options{AppID: appID, AppSecret: secret, Token: token, EncodingAESKey: aesKey, CallbackURL: srv.URL + "/wechat"})
	return p, bot
}

func TestUserSaysInPlainAndSafeMode(t *testing.T) {
	p, bot := newEcho(t)
	for _, u := range []*wechatsim.User{p.User("o-1").Plain(), p.User("o-1"), p.User("o-1").Safe()} {
		reply, status, err := u.Say("签收 37")
		if err != nil || status != 200 || reply != "echo: 签收 37" {
			t.Errorf("Say = %q, %d, %v", reply, status, err)
		}
	}
	in := bot.received()
	if len(in) != 3 || in[0].GetOpenID() != "o-1" || in[0].MsgID == 0 || in[0].MsgID == in[1].MsgID {
		t.Errorf("received %+v", in)
	}
}

func TestUserForgeriesAreRefusedBySDK(t *testing.T) {
	p, bot := newEcho(t)
	u := p.User("o-1")
	if _, status, _ := u.Say("x", wechatsim.WithForgedSignature()); status != http.StatusForbidden {
		t.Errorf("forged signature: status %d", status)
	}
	if _, status, _ := u.Say("x", wechatsim.WithForgedMsgSignature()); status != http.StatusForbidden {
		t.Errorf("forged msg_signature: status %d", status)
	}
	if _, status, _ := u.Plain().Say("x", wechatsim.WithForgedSignature()); status != http.StatusForbidden {
		t.Errorf("forged plain signature: status %d", status)
	}
	if n := len(bot.received()); n != 0 {
		t.Errorf("%d forged messages reached the handler", n)
	}
	// A stale timestamp is signed correctly: refusing it is the bot's job
	// (the SDK checks no freshness), so here it gets through.
	if _, status, _ := u.Say("x", wechatsim.WithTimestamp(time.Now().Add(-time.Hour))); status != 200 {
		t.Errorf("stale but signed: status %d", status)
	}
	body, status, err := u.VerifyURL("echo123")
	if err != nil || status != 200 || body != "echo123" {
		t.Errorf("URL verification = %q, %d, %v", body, status, err)
	}
}

func TestUserRetryAndEvents(t *testing.T) {
	p, bot := newEcho(t)
	u := p.User("o-2")
	if _, _, err := u.Say("待办"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Retry(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Subscribe("bind:K7"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Scan("bind:K8"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.TemplateReceipt(1000000007, "failed:user block"); err != nil {
		t.Fatal(err)
	}
	if r, err := u.SendImage("media-9"); err != nil || r.Content != "" {
		t.Fatalf("image: %+v, %v", r, err)
	}
	in := bot.received()
	if len(in) != 7 {
		t.Fatalf("received %d messages", len(in))
	}
	if in[0].MsgID != in[1].MsgID || in[0].CreateTime != in[1].CreateTime {
		t.Errorf("retry is not the same message: %d/%d", in[0].MsgID, in[1].MsgID)
	}
	checks := []struct {
		i          int
		event, key string
	}{{2, "subscribe", "qrscene_bind:K7"}, {3, "SCAN", "bind:K8"}, {4, "unsubscribe", ""}}
	for _, c := range checks {
		if string(in[c.i].Event) != c.event || in[c.i].EventKey != c.key {
			t.Errorf("event %d = %s %q, want %s %q", c.i, in[c.i].Event, in[c.i].EventKey, c.event, c.key)
		}
	}
	if in[5].TemplateMsgID != 1000000007 || in[5].Status != "failed:user block" {
		t.Errorf("receipt = %d %q", in[5].TemplateMsgID, in[5].Status)
	}
	if in[6].MediaID != "media-9" || in[6].MsgID == 0 {
		t.Errorf("image = %+v", in[6])
	}
}

func post(t *testing.T, srv *httptest.Server, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func TestPlatformTemplateDedupeTokensAndPrinting(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p := wechatsim.New(wechatsim.Options{AppID: appID, AppSecret: secret, Out: &out, Now: func() time.Time { return now }})
	srv := httptest.NewServer(p)
	defer srv.Close()
	p.SetUserName("o-zhang", "张三")
	p.DefineTemplate("tpl-1", "工单分派通知", map[string]string{"character_string1": "工单编号", "thing2": "标题"})

	if r := post(t, srv, wechatsim.PathStableToken, map[string]any{"grant_type": "client_credential", "appid": appID, "secret": "wrong"}); r["errcode"] != float64(40125) {
		t.Errorf("wrong secret: %v", r)
	}
	tok := post(t, srv, wechatsim.PathStableToken, map[string]any{"grant_type": "client_credential", "appid": appID, "secret": secret})
	at, _ := tok["access_token"].(string)
	if at == "" || tok["expires_in"] != float64(7200) {
		t.Fatalf("stable token: %v", tok)
	}
	again := post(t, srv, wechatsim.PathStableToken, map[string]any{"grant_type": "client_credential", "appid": appID, "secret": secret})
	if again["access_token"] != at {
		t.Error("stable_token gave a new token while the old one is valid")
	}

	send := func(tok, clientMsgID string, data map[string]string) map[string]any {
		d := map[string]any{}
		for k, v := range data {
			d[k] = map[string]string{"value": v}
		}
		return post(t, srv, wechatsim.PathTemplateSend+"?access_token="+tok,
			map[string]any{"touser": "o-zhang", "template_id": "tpl-1", "url": "https://h/t/37", "client_msg_id": clientMsgID, "data": d})
	}
	ok := map[string]string{"character_string1": "#37", "thing2": "占道经营"}
	first := send(at, "501", ok)
	if first["errcode"] != float64(0) || first["msgid"] == nil {
		t.Fatalf("send: %v", first)
	}
	if dup := send(at, "501", ok); dup["msgid"] != first["msgid"] {
		t.Errorf("repeat within the window: %v, want msgid %v", dup, first["msgid"])
	}
	if r := send("bogus", "502", ok); r["errcode"] != float64(40001) {
		t.Errorf("bad token: %v", r)
	}
	if r := send(at, "503", map[string]string{"character_string1": "#37号", "thing2": "x"}); r["errcode"] != float64(47003) {
		t.Errorf("Chinese in character_string: %v", r)
	}
	if r := send(at, "504", map[string]string{"thing2": strings.Repeat("长", 21)}); r["errcode"] != float64(47003) {
		t.Errorf("21-character thing: %v", r)
	}
	now = now.Add(wechatsim.DedupeWindow)
	if r := send(at, "501", ok); r["msgid"] == first["msgid"] {
		t.Errorf("after the window the repeat was deduped: %v", r)
	}
	now = now.Add(2 * time.Hour)
	if r := send(at, "505", ok); r["errcode"] != float64(42001) {
		t.Errorf("expired token: %v", r)
	}
	p.FailNext(wechatsim.PathTemplateSend, 45009, 1)
	if r := send(at, "506", ok); r["errcode"] != float64(45009) {
		t.Errorf("injected 45009: %v", r)
	}

	d := p.Delivered()
	if len(d) != 2 {
		t.Fatalf("delivered %d, want 2: %+v", len(d), p.TemplateSends())
	}
	printed := out.String()
	for _, want := range []string{"发给 张三（o-zhang）", "工单分派通知（tpl-1）", "工单编号：#37", "标题：占道经营", "链接：https://h/t/37"} {
		if !strings.Contains(printed, want) {
			t.Errorf("printed push lacks %q:\n%s", want, printed)
		}
	}
	if strings.Count(printed, "【微信推送】") != 2 {
		t.Errorf("printed %d pushes, want the 2 delivered:\n%s", strings.Count(printed, "【微信推送】"), printed)
	}
}

func TestPlatformUsersFollowAndUnfollow(t *testing.T) {
	p, _ := newEcho(t)
	srv := httptest.NewServer(p)
	defer srv.Close()
	u := p.User("o-3")
	send := func() float64 {
		r := post(t, srv, wechatsim.PathTemplateSend+"?access_token="+p.AccessToken(),
			map[string]any{"touser": "o-3", "template_id": "t", "data": map[string]any{"thing1": map[string]string{"value": "x"}}})
		code, _ := r["errcode"].(float64)
		return code
	}
	if _, err := u.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if c := send(); c != 43004 {
		t.Errorf("push to a user who unfollowed: errcode %v, want 43004", c)
	}
	if _, err := u.Subscribe(""); err != nil {
		t.Fatal(err)
	}
	if c := send(); c != 0 {
		t.Errorf("push after following again: errcode %v", c)
	}
}
