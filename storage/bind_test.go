package storage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

func issueCode(t *testing.T, s *storage.Store, id int64, now time.Time) string {
	t.Helper()
	bc, err := s.IssueBindCode(ctx, id, now)
	if err != nil {
		t.Fatal(err)
	}
	return bc.Code
}

func TestBindConsumesACodeOnce(t *testing.T) {
	f := newFixture(t)
	code := issueCode(t, f.s, f.wang.ID, t0)

	p, err := f.s.Bind(ctx, "ow-wang", " "+code+" ", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != f.wang.ID || p.OpenID != "ow-wang" || !p.Reachable || !p.BoundAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("bound %+v", p)
	}
	if got, err := f.s.PersonByOpenID(ctx, "ow-wang"); err != nil || got.ID != f.wang.ID {
		t.Fatalf("PersonByOpenID = %+v, %v", got, err)
	}
	// The same sender sending it again (WeChat retry, impatience) is fine.
	if p, err := f.s.Bind(ctx, "ow-wang", code, t0.Add(2*time.Minute)); err != nil || p.ID != f.wang.ID {
		t.Fatalf("rebind by the same sender = %+v, %v", p, err)
	}
	// Anyone else cannot use it.
	_, err = f.s.Bind(ctx, "ow-thief", code, t0.Add(3*time.Minute))
	wantCode(t, err, hotlinebot.EINVALID, "用过")
	if got, err := f.s.Person(ctx, f.wang.ID); err != nil || got.OpenID != "ow-wang" {
		t.Fatalf("王五 = %+v, %v", got, err)
	}
}

func TestBindRefusesWrongAndExpiredCodes(t *testing.T) {
	f := newFixture(t)
	code := issueCode(t, f.s, f.wang.ID, t0)

	_, err := f.s.Bind(ctx, "ow-wang", "00000000", t0)
	wantCode(t, err, hotlinebot.EINVALID, "绑定码不正确")
	_, err = f.s.Bind(ctx, "ow-wang", "", t0)
	wantCode(t, err, hotlinebot.EINVALID, "绑定 绑定码")
	_, err = f.s.Bind(ctx, "ow-wang", code, t0.Add(storage.BindCodeValidity))
	wantCode(t, err, hotlinebot.EINVALID, "过期")
	if got, _ := f.s.Person(ctx, f.wang.ID); got.OpenID != "" {
		t.Fatalf("bound with an expired code: %+v", got)
	}

	// Full-width digits, as a phone keyboard may type them.
	code = issueCode(t, f.s, f.wang.ID, t0)
	wide := strings.Map(func(r rune) rune { return r - '0' + '０' }, code)
	if p, err := f.s.Bind(ctx, "ow-wang", wide, t0); err != nil || p.ID != f.wang.ID {
		t.Fatalf("Bind(full-width) = %+v, %v", p, err)
	}
}

func TestBindThrottlesWrongCodesPerSender(t *testing.T) {
	f := newFixture(t)
	code := issueCode(t, f.s, f.wang.ID, t0)
	at := t0
	for i := 1; i < storage.BindFailureLimit; i++ {
		at = at.Add(time.Minute)
		_, err := f.s.Bind(ctx, "ow-guess", "1234567"+string(rune('0'+i)), at)
		wantCode(t, err, hotlinebot.EINVALID, "绑定码不正确")
	}
	_, err := f.s.Bind(ctx, "ow-guess", "99999999", at)
	wantCode(t, err, hotlinebot.EINVALID, "尝试次数过多，请 15 分钟后再试")
	// Locked out: even the right code is refused, and nothing is bound.
	_, err = f.s.Bind(ctx, "ow-guess", code, at.Add(10*time.Minute))
	wantCode(t, err, hotlinebot.EINVALID, "尝试次数过多，请 5 分钟后再试")
	if got, _ := f.s.Person(ctx, f.wang.ID); got.OpenID != "" {
		t.Fatalf("bound while locked out: %+v", got)
	}
	// Another sender is not affected.
	_, err = f.s.Bind(ctx, "ow-other", "99999999", at)
	wantCode(t, err, hotlinebot.EINVALID, "绑定码不正确")
	// After the lockout the right code works.
	if p, err := f.s.Bind(ctx, "ow-guess", code, at.Add(storage.BindLockout)); err != nil || p.ID != f.wang.ID {
		t.Fatalf("after the lockout: %+v, %v", p, err)
	}
}

func TestBindThrottleForgetsOldFailures(t *testing.T) {
	f := newFixture(t)
	code := issueCode(t, f.s, f.wang.ID, t0)
	for i := 1; i < storage.BindFailureLimit; i++ {
		_, err := f.s.Bind(ctx, "ow-slow", "11111111", t0)
		wantCode(t, err, hotlinebot.EINVALID, "绑定码不正确")
	}
	// The window has passed: the count starts again.
	later := t0.Add(storage.BindFailureWindow)
	_, err := f.s.Bind(ctx, "ow-slow", "11111111", later)
	wantCode(t, err, hotlinebot.EINVALID, "绑定码不正确")
	if _, err := f.s.Bind(ctx, "ow-slow", code, later); err != nil {
		t.Fatal(err)
	}
}

func TestBindMovesTheOpenIDOffItsFormerHolder(t *testing.T) {
	f := newFixture(t)
	code := issueCode(t, f.s, f.wang.ID, t0)
	// 张三's phone now belongs to 王五.
	p, err := f.s.Bind(ctx, f.zhang.OpenID, code, t0)
	if err != nil || p.ID != f.wang.ID || p.OpenID != f.zhang.OpenID {
		t.Fatalf("Bind = %+v, %v", p, err)
	}
	zhang, err := f.s.Person(ctx, f.zhang.ID)
	if err != nil || zhang.OpenID != "" || zhang.Reachable {
		t.Fatalf("张三 = %+v, %v; want unbound", zhang, err)
	}
}

func TestBindRefusesADisabledPerson(t *testing.T) {
	f := newFixture(t)
	code := issueCode(t, f.s, f.wang.ID, t0)
	if err := f.s.DisablePerson(ctx, f.wang.ID, office, t0); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.Bind(ctx, "ow-wang", code, t0)
	wantCode(t, err, hotlinebot.EINVALID, "停用")
}

func TestUnsubscribeTellsTheOffice(t *testing.T) {
	woken := 0
	f := newFixture(t, storage.Options{OutboxAdded: func() { woken++ }})
	p, err := f.s.MarkUnreachable(ctx, f.zhang.OpenID, t0)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != f.zhang.ID || p.Reachable || !p.Unreachable.Equal(t0) {
		t.Fatalf("MarkUnreachable = %+v", p)
	}
	// WeChat may deliver the event again, or the user may unfollow twice.
	if _, err := f.s.MarkUnreachable(ctx, f.zhang.OpenID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	want := "张三已取消关注公众号，收不到工单推送（龙山管理处承办人）"
	if got := notices(t, f.s, f.clerk.ID); len(got) != 1 || got[0] != want {
		t.Fatalf("office notices = %q, want [%q]", got, want)
	}
	if woken != 1 {
		t.Errorf("dispatcher woken %d times, want 1", woken)
	}
	if got, err := f.s.Person(ctx, f.zhang.ID); err != nil || got.Reachable || got.OpenID != f.zhang.OpenID {
		t.Fatalf("张三 = %+v, %v; want bound but unreachable", got, err)
	}
	// He follows again.
	if p, err := f.s.MarkReachable(ctx, f.zhang.OpenID, t0.Add(time.Hour)); err != nil || !p.Reachable {
		t.Fatalf("MarkReachable = %+v, %v", p, err)
	}
	_, err = f.s.MarkUnreachable(ctx, "ow-stranger", t0)
	wantCode(t, err, hotlinebot.ENOTFOUND)

	// A district leader has no department to name.
	if _, err := f.s.MarkUnreachable(ctx, f.leader.OpenID, t0); err != nil {
		t.Fatal(err)
	}
	if got := notices(t, f.s, f.clerk.ID); len(got) != 2 || got[1] != "孙区长已取消关注公众号，收不到工单推送（区领导）" {
		t.Fatalf("office notices = %q", got)
	}
	// Cut to a template's 20-character thing value, the notice still says who and what.
	for _, n := range notices(t, f.s, f.clerk.ID) {
		if head := []rune(n)[:19]; !strings.Contains(string(head), "已取消关注公众号") {
			t.Errorf("notice %q: its first 20 characters do not say who unfollowed", n)
		}
	}
}
