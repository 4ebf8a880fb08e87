package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
)

var testTemplates = map[hotlinebot.NotificationKind]Template{
	hotlinebot.NotifyAssigned: {ID: "tpl-assigned", Fields: map[string]string{
		"character_string1": "{{.Ref}}", "thing2": "{{.Title}}", "time3": "{{.DueAt}}",
		"phrase4": "{{.Status}}", "character_string5": "{{.ExternalID}}",
	}},
	hotlinebot.NotifyDigest: {ID: "tpl-digest", Fields: map[string]string{"date1": "{{.Date}}", "number2": "{{.Count}}"}},
}

var testLinks = &Links{Secret: []byte("test link secret"), PublicURL: "https://hotline.example.gov.cn/"}

const longTitle = "龙山路与南湖路交叉口有人长期占道经营，影响通行，请尽快处理"

func assignedPush(outboxID int64) hotlinebot.Push {
	return hotlinebot.Push{OutboxID: outboxID, Kind: hotlinebot.NotifyAssigned, PersonID: 12, OpenID: "o-zhang", TicketID: 37,
		Data: hotlinebot.TemplateData{Ref: "#37", ExternalID: "YY20171020-0012号", Title: longTitle,
			Status: "待签收", DueAt: "2026年12月08日 18:00"}}
}

func newTestSender(t *testing.T, p *plumbing) *Sender {
	t.Helper()
	s, err := NewSender(p.wc, SenderOptions{Templates: testTemplates, Links: testLinks})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pushFailure(t *testing.T, err error) *hotlinebot.PushError {
	t.Helper()
	var pe *hotlinebot.PushError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *hotlinebot.PushError", err, err)
	}
	return pe
}

func TestSenderDeliversFittedFieldsAndSignedLink(t *testing.T) {
	p := newPlumbing(t)
	s := newTestSender(t, p)
	msgID, err := s.Send(context.Background(), assignedPush(501))
	if err != nil {
		t.Fatal(err)
	}
	got := p.sim.Delivered()
	if len(got) != 1 {
		t.Fatalf("delivered %d pushes, want 1: %+v", len(got), p.sim.TemplateSends())
	}
	d := got[0]
	if d.MsgID != msgID || d.ToUser != "o-zhang" || d.TemplateID != "tpl-assigned" || d.ClientMsgID != "501" {
		t.Errorf("push = %+v, msgid %d", d, msgID)
	}
	wantTitle := "龙山路与南湖路交叉口有人长期占道经营…" // cut at 20, the comma before the ellipsis dropped
	want := map[string]string{"character_string1": "#37", "thing2": wantTitle, "time3": "2026年12月08日 18:00",
		"phrase4": "待签收", "character_string5": "YY20171020-0012"}
	for k, v := range want {
		if d.Data[k] != v {
			t.Errorf("%s = %q, want %q", k, d.Data[k], v)
		}
	}
	if n := utf8.RuneCountInString(d.Data["thing2"]); n > 20 {
		t.Errorf("thing2 has %d characters, more than 20", n)
	}
	u := mustParseURL(t, d.URL)
	if u.Host != "hotline.example.gov.cn" || u.Path != "/t/37" {
		t.Errorf("link %s is not the ticket page", d.URL)
	}
	if person, err := testLinks.Verify(u.Path, u.Query(), time.Now()); err != nil || person != 12 {
		t.Errorf("link verifies as person %d, %v; want 12", person, err)
	}
}

func TestSenderDigestLinksTheDigestPage(t *testing.T) {
	p := newPlumbing(t)
	s := newTestSender(t, p)
	_, err := s.Send(context.Background(), hotlinebot.Push{OutboxID: 9, Kind: hotlinebot.NotifyDigest, PersonID: 3, OpenID: "o-leader",
		Date: "2026-12-01", Data: hotlinebot.TemplateData{Date: "2026年12月01日", Count: "12"}})
	if err != nil {
		t.Fatal(err)
	}
	d := p.sim.Delivered()[0]
	u := mustParseURL(t, d.URL)
	if u.Path != "/d/2026-12-01" {
		t.Fatalf("digest link %s", d.URL)
	}
	if person, err := testLinks.Verify(u.Path, u.Query(), time.Now()); err != nil || person != 3 {
		t.Errorf("digest link verifies as %d, %v", person, err)
	}
}

// An invalidated token: one 40001, the cached token dropped, one new token
// fetched, the push sent again with the same client_msg_id. The token lives
// in the PostgreSQL-backed cache, under the key the SDK's stable handle uses.
func TestSenderRefreshesTokenOnceOn40001(t *testing.T) {
	p := newPlumbing(t, withPostgresCache(t))
	s := newTestSender(t, p)
	ctx := context.Background()
	if _, err := s.Send(ctx, assignedPush(1)); err != nil {
		t.Fatal(err)
	}
	key := "gowechat_officialaccount__stable_access_token_" + simAppID
	if p.wc.TokenCacheKey() != key {
		t.Fatalf("TokenCacheKey = %q, want %q", p.wc.TokenCacheKey(), key)
	}
	first, _ := p.cache.Get(key).(string)
	if first == "" {
		t.Fatalf("the stable handle did not cache the token under %s", key)
	}

	p.sim.ExpireTokens() // rotated elsewhere: the cached token is now invalid
	if _, err := s.Send(ctx, assignedPush(2)); err != nil {
		t.Fatalf("send after 40001: %v", err)
	}
	if n := len(p.sim.RequestsTo(wechatsim.PathStableToken)); n != 2 {
		t.Errorf("%d stable_token requests, want 2 (the first token and one refresh)", n)
	}
	var attempts []wechatsim.TemplateSend
	for _, ts := range p.sim.TemplateSends() {
		if ts.ClientMsgID == "2" {
			attempts = append(attempts, ts)
		}
	}
	if len(attempts) != 1 || !attempts[0].Delivered {
		t.Errorf("client_msg_id 2 reached the platform with a valid token %d times (want 1, delivered): %+v", len(attempts), attempts)
	}
	var rejected int
	for _, r := range p.sim.RequestsTo(wechatsim.PathTemplateSend) {
		if r.ErrCode == 40001 {
			rejected++
		}
	}
	if rejected != 1 {
		t.Errorf("%d template requests got 40001, want 1", rejected)
	}
	if now, _ := p.cache.Get(key).(string); now == "" || now == first {
		t.Errorf("cache holds %q after the refresh, want a new token", now)
	}

	// An injected 40001 on a token that is fine: the same dance.
	p.sim.FailNext(wechatsim.PathTemplateSend, 40001, 1)
	if _, err := s.Send(ctx, assignedPush(3)); err != nil {
		t.Fatalf("send after injected 40001: %v", err)
	}
	// Two 40001 in a row: the retry is only once, then it is transient.
	p.sim.FailNext(wechatsim.PathTemplateSend, 42001, 2)
	_, err := s.Send(ctx, assignedPush(4))
	if pe := pushFailure(t, err); pe.Failure != hotlinebot.PushTransient || pe.ErrCode != 42001 {
		t.Errorf("two token errors: %+v, want transient 42001", pe)
	}
}

func TestSenderErrcodeMapping(t *testing.T) {
	p := newPlumbing(t)
	s := newTestSender(t, p)
	ctx := context.Background()
	cases := []struct {
		name    string
		inject  func()
		failure hotlinebot.PushFailure
		code    int64
	}{
		{"43004 not following", func() { p.sim.Unfollow("o-zhang") }, hotlinebot.PushPermanent, 43004},
		{"40003 bad openid", func() { p.sim.FailNext(wechatsim.PathTemplateSend, 40003, 1) }, hotlinebot.PushPermanent, 40003},
		{"43101 refused", func() { p.sim.FailNext(wechatsim.PathTemplateSend, 43101, 1) }, hotlinebot.PushPermanent, 43101},
		{"40037 bad template", func() { p.sim.FailNext(wechatsim.PathTemplateSend, 40037, 1) }, hotlinebot.PushPermanent, 40037},
		{"48001 no template permission", func() { p.sim.FailNext(wechatsim.PathTemplateSend, 48001, 1) }, hotlinebot.PushPermanent, 48001},
		{"45009 quota", func() { p.sim.FailNext(wechatsim.PathTemplateSend, 45009, 1) }, hotlinebot.PushQuota, 45009},
		{"-1 busy", func() { p.sim.FailNext(wechatsim.PathTemplateSend, -1, 1) }, hotlinebot.PushTransient, -1},
		{"HTTP 500", func() { p.sim.FailNext(wechatsim.PathTemplateSend, wechatsim.HTTP500, 1) }, hotlinebot.PushTransient, 0},
		{"cut off after reading", func() { p.sim.FailNext(wechatsim.PathTemplateSend, wechatsim.CutOff, 1) }, hotlinebot.PushCutOff, 0},
		{"token endpoint down", func() {
			p.sim.ExpireTokens()
			_ = p.cache.Delete(p.wc.TokenCacheKey())
			p.sim.FailNext(wechatsim.PathStableToken, -1, 1)
		}, hotlinebot.PushTransient, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.sim.Follow("o-zhang")
			c.inject()
			_, err := s.Send(ctx, assignedPush(int64(100+i)))
			pe := pushFailure(t, err)
			if pe.Failure != c.failure || pe.ErrCode != c.code {
				t.Errorf("got %s errcode %d (%s), want %s errcode %d", pe.Failure, pe.ErrCode, pe.Message, c.failure, c.code)
			}
		})
	}
	if n := len(p.sim.Delivered()); n != 0 {
		t.Errorf("%d pushes delivered by failing sends", n)
	}
}

func TestSenderNoTemplateOrNoOpenIDIsPermanent(t *testing.T) {
	p := newPlumbing(t)
	s := newTestSender(t, p)
	push := assignedPush(7)
	push.Kind = hotlinebot.NotifyEscalation
	_, err := s.Send(context.Background(), push)
	if pe := pushFailure(t, err); pe.Failure != hotlinebot.PushPermanent || !strings.Contains(pe.Message, "wechat.templates.escalation") {
		t.Errorf("no template: %+v", pe)
	}
	push = assignedPush(8)
	push.OpenID = ""
	_, err = s.Send(context.Background(), push)
	if pe := pushFailure(t, err); pe.Failure != hotlinebot.PushPermanent {
		t.Errorf("no openid: %+v", pe)
	}
	push = assignedPush(9)
	push.Data.DueAt = "下周"
	_, err = s.Send(context.Background(), push)
	if pe := pushFailure(t, err); pe.Failure != hotlinebot.PushPermanent || !strings.Contains(pe.Message, "time3") {
		t.Errorf("a value no time can be made of: %+v", pe)
	}
	if len(p.sim.Requests()) != 0 {
		t.Errorf("a push that cannot be valid reached WeChat: %+v", p.sim.Requests())
	}
}

// The crash between sending and marking sent: the request reached WeChat,
// which delivered it and then lost the connection. The resend carries the
// same client_msg_id, so the platform answers with the first msgid and the
// handler's phone shows one push.
func TestSenderCutOffThenResendIsDeduped(t *testing.T) {
	p := newPlumbing(t)
	s := newTestSender(t, p)
	ctx := context.Background()
	p.sim.FailNext(wechatsim.PathTemplateSend, wechatsim.CutOffAfterDelivery, 1)
	_, err := s.Send(ctx, assignedPush(77))
	if pe := pushFailure(t, err); pe.Failure != hotlinebot.PushCutOff {
		t.Fatalf("cut off: %+v, want cut_off", pe)
	}
	msgID, err := s.Send(ctx, assignedPush(77))
	if err != nil {
		t.Fatal(err)
	}
	sends := p.sim.TemplateSends()
	if len(sends) != 2 || !sends[0].Delivered || !sends[1].Deduped || sends[1].Delivered {
		t.Fatalf("sends = %+v, want one delivered and one deduped", sends)
	}
	if msgID != sends[0].MsgID {
		t.Errorf("resend got msgid %d, the first delivery had %d", msgID, sends[0].MsgID)
	}
	// After WeChat's window the same id is a new message: the dispatcher
	// must not resend that late (it marks the row uncertain instead).
	p.sim.Advance(wechatsim.DedupeWindow + time.Second)
	if _, err := s.Send(ctx, assignedPush(77)); err != nil {
		t.Fatal(err)
	}
	if n := len(p.sim.Delivered()); n != 2 {
		t.Errorf("after the window %d deliveries, want 2", n)
	}
}

func TestSenderTimeoutAfterWriteIsCutOff(t *testing.T) {
	p := newPlumbing(t)
	s := newTestSender(t, p)
	// Warm up the token so the timeout hits the template call.
	if _, err := s.Send(context.Background(), assignedPush(1)); err != nil {
		t.Fatal(err)
	}
	p.stallOn(t, wechatsim.PathTemplateSend)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.Send(ctx, assignedPush(2))
	if pe := pushFailure(t, err); pe.Failure != hotlinebot.PushCutOff {
		t.Errorf("timeout after the request was written: %+v, want cut_off", pe)
	}
}

func TestSenderUnreachableIsTransient(t *testing.T) {
	p := newPlumbing(t)
	s := newTestSender(t, p)
	if _, err := s.Send(context.Background(), assignedPush(1)); err != nil {
		t.Fatal(err)
	}
	p.srv.Close() // nothing listens: the request is never written
	_, err := s.Send(context.Background(), assignedPush(2))
	if pe := pushFailure(t, err); pe.Failure != hotlinebot.PushTransient {
		t.Errorf("connection refused: %+v, want transient", pe)
	}
}

// Every call of the SDK went to the simulator through the installed client:
// the token, the pushes, QR codes and media.
func TestEveryCallGoesThroughTheURIModifier(t *testing.T) {
	p := newPlumbing(t)
	s := newTestSender(t, p)
	ctx := context.Background()
	if _, err := s.Send(ctx, assignedPush(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.wc.BindQR(ctx, "bind:abc", time.Hour); err != nil {
		t.Fatal(err)
	}
	p.sim.AddMedia("m1", []byte("\x89PNG\r\n\x1a\nxxxx"), "image/png")
	if _, _, err := p.wc.FetchMedia(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if err := p.wc.SendText(ctx, "o-zhang", "收到"); err != nil {
		t.Fatal(err)
	}
	hosts := p.hosts.all()
	if len(hosts) < 5 {
		t.Fatalf("only %d requests went through the configured client: %v", len(hosts), hosts)
	}
	for _, h := range hosts {
		if h != p.srv.URL {
			t.Errorf("a request went to %s, not the simulator %s", h, p.srv.URL)
		}
	}
	if n := len(p.sim.Requests()); n != len(hosts) {
		t.Errorf("simulator saw %d requests, the client made %d", n, len(hosts))
	}
}

// Many pushes, QR codes and token refreshes at once, for `go test -race`:
// the SDK's lazy getters and process-wide hooks must not race.
func TestSenderConcurrentUse(t *testing.T) {
	p := newPlumbing(t, withPostgresCache(t))
	s := newTestSender(t, p)
	ctx := context.Background()
	p.sim.FailNext(wechatsim.PathTemplateSend, 40001, 3)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 24 {
		wg.Go(func() {
			if _, err := s.Send(ctx, assignedPush(int64(1000+i))); err != nil {
				errs <- fmt.Errorf("push %d: %w", i, err)
			}
		})
	}
	for i := range 4 {
		wg.Go(func() {
			if _, err := p.wc.BindQR(ctx, "bind:"+strconv.Itoa(i), time.Hour); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(p.sim.Delivered()); n != 24 {
		t.Errorf("%d delivered, want 24", n)
	}
}

func TestParseTemplatesNamesTheKey(t *testing.T) {
	cases := []struct {
		tpl  map[hotlinebot.NotificationKind]Template
		want string
	}{
		{map[hotlinebot.NotificationKind]Template{"assigned": {ID: "x", Fields: map[string]string{"thing2": "{{.Title"}}}, "wechat.templates.assigned.fields.thing2"},
		{map[hotlinebot.NotificationKind]Template{"assigned": {ID: "x", Fields: map[string]string{"thing2": "{{.Nope}}"}}}, "wechat.templates.assigned.fields.thing2"},
		{map[hotlinebot.NotificationKind]Template{"assigned": {ID: "x", Fields: map[string]string{"wrong3": "{{.Ref}}"}}}, "wechat.templates.assigned.fields.wrong3"},
		{map[hotlinebot.NotificationKind]Template{"assigned": {ID: "x", Fields: map[string]string{"const1": "x"}}}, "wechat.templates.assigned.fields.const1"},
		{map[hotlinebot.NotificationKind]Template{"assigned": {ID: "", Fields: map[string]string{"thing2": "{{.Ref}}"}}}, "wechat.templates.assigned.id"},
		{map[hotlinebot.NotificationKind]Template{"assignd": {ID: "x", Fields: map[string]string{"thing2": "{{.Ref}}"}}}, "wechat.templates.assignd"},
	}
	for _, c := range cases {
		err := ParseTemplates(c.tpl)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ParseTemplates(%v) = %v, want an error naming %s", c.tpl, err, c.want)
		}
	}
	if err := ParseTemplates(testTemplates); err != nil {
		t.Errorf("good templates: %v", err)
	}
}

func TestFitValue(t *testing.T) {
	cases := []struct{ key, in, want string }{
		{"thing2", "短标题", "短标题"},
		{"thing2", "一二三四五六七八九十一二三四五六七八九十", "一二三四五六七八九十一二三四五六七八九十"},
		{"thing2", "一二三四五六七八九十一二三四五六七八九十多", "一二三四五六七八九十一二三四五六七八九…"},
		{"thing2", "第一行\n第二行", "第一行 第二行"},
		{"thing2", "", "无"},
		{"character_string1", "#37", "#37"},
		{"character_string1", "YY2017号-0012", "YY2017-0012"},
		{"character_string1", strings.Repeat("a", 40), strings.Repeat("a", 32)},
		{"character_string1", "全中文", "-"},
		{"character_string1", "＃３７", "#37"},
		{"thing2", "占道\u3000\u3000经营\r\n", "占道 经营"},
		{"phrase4", "待签收", "待签收"},
		{"phrase4", "退回待审核中", "退回待审核"},
		{"phrase4", "已超期!", "已超期"},
		{"time3", "2026年12月08日 18:00", "2026年12月08日 18:00"},
		{"time3", "2026-12-08 18:00", "2026年12月08日 18:00"},
		{"time3", "2026年12月1日 9:00~2026年12月2日 9:00", "2026年12月1日 9:00~2026年12月2日 9:00"},
		{"date5", "2026年12月01日", "2026年12月01日"},
		{"date5", "2026-12-01", "2026年12月01日"},
		{"number6", "1,234", "1234"},
		{"amount7", "¥12.50", "¥12.50"},
		{"letter8", "abc12", "abc"},
		{"phone_number9", "0571-8888 8888", "0571-8888 8888"},
		{"car_number10", "粤A 12345", "粤A12345"},
		{"name11", "欧阳娜娜娜娜娜娜娜娜娜", "欧阳娜娜娜娜娜娜娜娜"},
		{"keyword1", longTitle, "龙山路与南湖路交叉口有人长期占道经营…"},
		{"thing2", "龙山路与南湖路交叉口有人长期占道经营，影响通行", "龙山路与南湖路交叉口有人长期占道经营…"},
	}
	for _, c := range cases {
		got, err := FitValue(c.key, c.in)
		if err != nil || got != c.want {
			t.Errorf("FitValue(%s, %q) = %q, %v; want %q", c.key, c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ key, in string }{{"time3", "明天"}, {"time3", ""}, {"date5", "18:00"}, {"number6", "十二"}, {"amount7", "很多"}} {
		if got, err := FitValue(c.key, c.in); err == nil {
			t.Errorf("FitValue(%s, %q) = %q, want an error", c.key, c.in, got)
		}
	}
}

func TestFieldLabels(t *testing.T) {
	got := FieldLabels(Template{Fields: map[string]string{"thing2": "{{ .Title }}", "thing3": "{{.Category}}·{{.Title}}", "character_string1": "{{.Ref}}"}})
	want := map[string]string{"thing2": "标题", "thing3": "thing3", "character_string1": "工单"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label of %s = %q, want %q", k, got[k], v)
		}
	}
	if KindTitle(hotlinebot.NotifyAssigned) != "工单派发通知" {
		t.Error(KindTitle(hotlinebot.NotifyAssigned))
	}
}
