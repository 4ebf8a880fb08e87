package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// ten is 10:00 on a Tuesday in Shanghai.
var ten = storagetest.At(2026, time.December, 1, 10, 0)

var dispLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// dispClock is a clock the test moves.
type dispClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *dispClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *dispClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *dispClock) At(h, m int)     { c.Set(storagetest.At(2026, time.December, 1, h, m)) }

// fakeWeChat stands in for the bot's WeChat sender: it records every push
// and answers what result says (nil: success with msgid 1000+outbox id).
type fakeWeChat struct {
	mu     sync.Mutex
	got    []hotlinebot.Push
	result func(p hotlinebot.Push) error
	sent   chan hotlinebot.Push // when set, each successful push is sent here
}

func (f *fakeWeChat) Send(ctx context.Context, p hotlinebot.Push) (int64, error) {
	f.mu.Lock()
	f.got = append(f.got, p)
	result := f.result
	f.mu.Unlock()
	if result != nil {
		if err := result(p); err != nil {
			return 0, err
		}
	}
	if f.sent != nil {
		f.sent <- p
	}
	return 1000 + p.OutboxID, nil
}

func (f *fakeWeChat) pushes() []hotlinebot.Push {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hotlinebot.Push(nil), f.got...)
}

func (f *fakeWeChat) outboxIDs() []int64 {
	var ids []int64
	for _, p := range f.pushes() {
		ids = append(ids, p.OutboxID)
	}
	return ids
}

type dispFixture struct {
	s                *storage.Store
	zhang, li, clerk hotlinebot.Person
	clock            *dispClock
	wechat           *fakeWeChat
	reg              *prometheus.Registry
	d                *scheduler.Dispatcher
}

func newDispFixture(t *testing.T) *dispFixture {
	t.Helper()
	f := &dispFixture{s: storagetest.NewStore(t), clock: &dispClock{t: ten}, wechat: &fakeWeChat{}, reg: prometheus.NewRegistry()}
	ctx := context.Background()
	if _, err := f.s.CreateDepartment(ctx, hotlinebot.Department{Code: "longshan", Name: "龙山管理处"}); err != nil {
		t.Fatal(err)
	}
	person := func(name string, role hotlinebot.Role, dept string) hotlinebot.Person {
		p, err := f.s.CreatePerson(ctx, hotlinebot.Person{Name: name, Role: role, Department: dept}, ten)
		if err != nil {
			t.Fatal(err)
		}
		p.OpenID = fmt.Sprintf("ow-%d", p.ID)
		if _, err := f.s.DB().ExecContext(ctx,
			`UPDATE people SET openid = $2, reachable = true, bound_at = $3 WHERE id = $1`, p.ID, p.OpenID, ten); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.zhang = person("张三", hotlinebot.RoleHandler, "longshan")
	f.li = person("李四", hotlinebot.RoleHandler, "longshan")
	f.clerk = person("钱办事员", hotlinebot.RoleOffice, "")
	f.d = f.dispatcher(t, f.s, f.reg)
	return f
}

func (f *dispFixture) dispatcher(t *testing.T, s *storage.Store, reg prometheus.Registerer) *scheduler.Dispatcher {
	t.Helper()
	d, err := scheduler.NewDispatcher(s, f.wechat, scheduler.DispatcherOptions{
		Clock: f.clock.Now, Logger: dispLog, Batch: 5, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// queue adds one push of kind to person p, as a ticket change would.
func (f *dispFixture) queue(t *testing.T, p hotlinebot.Person, kind hotlinebot.NotificationKind, ref string, now time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	tx, err := f.s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	n := hotlinebot.Notification{Kind: kind, To: hotlinebot.Recipient{Audience: hotlinebot.AudiencePerson, PersonID: p.ID}}
	data := hotlinebot.TemplateData{Ref: ref, Title: "路灯不亮"}
	if k, err := f.s.EnqueueDataTx(ctx, tx, n, data, time.Time{}, "test:"+ref+":"+now.Format(time.RFC3339Nano), now); err != nil || k != 1 {
		t.Fatalf("EnqueueDataTx = %d, %v", k, err)
	}
	var id int64
	if err := tx.GetContext(ctx, &id, `SELECT max(id) FROM outbox`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *dispFixture) runOnce(t *testing.T) int {
	t.Helper()
	n, err := f.d.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce at %s: %v", f.clock.Now().Format(time.TimeOnly), err)
	}
	return n
}

func (f *dispFixture) row(t *testing.T, id int64) storage.PushRow {
	t.Helper()
	rows, err := f.s.ListPushes(context.Background(), "all", id-1, 1)
	if err != nil || len(rows) != 1 || rows[0].ID != id {
		t.Fatalf("row %d: %+v, %v", id, rows, err)
	}
	return rows[0]
}

// dispMetric returns the value of the metric name with the given labels.
func dispMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return dispValue(m)
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func dispValue(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestDispatcherSendsAndRecords(t *testing.T) {
	f := newDispFixture(t)
	id := f.queue(t, f.zhang, hotlinebot.NotifyAssigned, "#37", ten)
	if n := f.runOnce(t); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	got := f.wechat.pushes()
	if len(got) != 1 || got[0].OutboxID != id || got[0].OpenID != f.zhang.OpenID || got[0].Data.Ref != "#37" {
		t.Fatalf("sent %+v", got)
	}
	if r := f.row(t, id); r.Status != storage.PushSent || r.WeChatMsgID != 1000+id || r.SentAt == nil || !r.SentAt.Equal(ten) {
		t.Fatalf("row = %+v", r)
	}
	if n := f.runOnce(t); n != 0 || len(f.wechat.pushes()) != 1 {
		t.Fatal("a sent push was sent again")
	}
	if v := dispMetric(t, f.reg, "hotlinebot_pushes_sent_total", map[string]string{"kind": "assigned"}); v != 1 {
		t.Errorf("sent_total{assigned} = %v", v)
	}
	if v := dispMetric(t, f.reg, "hotlinebot_outbox_pushes", map[string]string{"status": "pending"}); v != 0 {
		t.Errorf("outbox_pushes{pending} = %v", v)
	}
}

func TestTwoReplicasNeverSendOneRowTwice(t *testing.T) {
	f := newDispFixture(t)
	// A second replica: its own Store (connection pool) and dispatcher.
	ctx := context.Background()
	var name string
	if err := f.s.DB().GetContext(ctx, &name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv(storagetest.EnvURL))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	other, err := storage.Open(ctx, u.String(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	d2 := f.dispatcher(t, other, nil)

	const rows = 60
	for i := range rows {
		p := []hotlinebot.Person{f.zhang, f.li, f.clerk}[i%3]
		f.queue(t, p, hotlinebot.NotifyReminder, fmt.Sprintf("#%d", i+1), ten)
	}
	var wg sync.WaitGroup
	for _, d := range []*scheduler.Dispatcher{f.d, d2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := d.RunOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := map[int64]int{}
	for _, id := range f.wechat.outboxIDs() {
		seen[id]++
	}
	if len(seen) != rows {
		t.Fatalf("sent %d distinct rows, want %d", len(seen), rows)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d sent %d times", id, n)
		}
	}
	sent, err := f.s.ListPushes(ctx, "sent", 0, 1000)
	if err != nil || len(sent) != rows {
		t.Fatalf("%d rows sent, %v; want %d", len(sent), err, rows)
	}
}

func TestTransientErrorsBackOffThenGiveUp(t *testing.T) {
	f := newDispFixture(t)
	f.wechat.result = func(p hotlinebot.Push) error {
		if p.Kind == hotlinebot.NotifyNotice {
			return nil
		}
		return &hotlinebot.PushError{Failure: hotlinebot.PushTransient, ErrCode: -1, Message: "system error"}
	}
	id := f.queue(t, f.zhang, hotlinebot.NotifyAssigned, "#37", ten)
	steps := []struct {
		after time.Duration // since 10:00
		sends int           // total attempts so far
		next  time.Duration // next attempt, since 10:00
	}{
		{0, 1, 10 * time.Second},
		{5 * time.Second, 1, 10 * time.Second}, // not due yet
		{10 * time.Second, 2, 40 * time.Second},
		{40 * time.Second, 3, 100 * time.Second},
		{100 * time.Second, 4, 400 * time.Second},
	}
	for _, st := range steps {
		f.clock.Set(ten.Add(st.after))
		f.runOnce(t)
		r := f.row(t, id)
		if got := len(f.wechat.pushes()); got != st.sends {
			t.Fatalf("at +%s: %d attempts, want %d", st.after, got, st.sends)
		}
		if r.Status != storage.PushPending || !r.NextAttemptAt.Equal(ten.Add(st.next)) {
			t.Fatalf("at +%s: row %s next %s, want pending next +%s", st.after, r.Status, r.NextAttemptAt.Sub(ten), st.next)
		}
		// WeChat answered each time: no client_msg_id window is open.
		if r.FirstAttemptAt != nil {
			t.Fatalf("at +%s: first_attempt_at set after definite failures", st.after)
		}
	}
	// Retried at each next attempt until a day has gone by: then it is
	// given up, and the office is told.
	for r := f.row(t, id); r.Status == storage.PushPending; r = f.row(t, id) {
		if r.NextAttemptAt.Sub(ten) > 26*time.Hour {
			t.Fatalf("still retrying at %s", r.NextAttemptAt)
		}
		f.clock.Set(r.NextAttemptAt)
		f.runOnce(t)
	}
	r := f.row(t, id)
	if r.Status != storage.PushDead || !strings.Contains(r.LastError, "system error") {
		t.Fatalf("given up: %+v", r)
	}
	if gaveUp := f.clock.Now().Sub(ten); gaveUp < 24*time.Hour {
		t.Fatalf("given up after %s, want a day", gaveUp)
	}
	f.runOnce(t)
	last := f.wechat.pushes()[len(f.wechat.pushes())-1]
	if last.Kind != hotlinebot.NotifyNotice || last.PersonID != f.clerk.ID ||
		last.Data.Note != "推送给 张三 的消息多次重试仍未发出（微信接口持续出错）：#37 路灯不亮" {
		t.Fatalf("last push %+v, want the office's notice", last)
	}
	if v := dispMetric(t, f.reg, "hotlinebot_pushes_failed_total", map[string]string{"kind": "assigned", "failure": "gave_up"}); v != 1 {
		t.Errorf("failed_total{gave_up} = %v, want 1", v)
	}
	// The office retries it: it gets another day, not an immediate give-up.
	if _, err := f.s.RetryPush(context.Background(), id, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.runOnce(t)
	if r := f.row(t, id); r.Status != storage.PushPending || r.Attempts != 1 {
		t.Fatalf("after outbox retry and one more failure: %+v", r)
	}
}

// A push cut off at 10:00 is resent at 10:05 with the same client_msg_id and
// at 10:09, beyond 8 minutes, marked uncertain and not resent.
func TestCutOffPushIsResentOnlyWithinEightMinutes(t *testing.T) {
	f := newDispFixture(t)
	f.wechat.result = func(p hotlinebot.Push) error {
		return &hotlinebot.PushError{Failure: hotlinebot.PushCutOff, Message: "read tcp: i/o timeout"}
	}
	id := f.queue(t, f.zhang, hotlinebot.NotifyAssigned, "#37", ten)
	f.clock.At(10, 0)
	f.runOnce(t)
	f.clock.At(10, 5)
	f.runOnce(t)
	if ids := f.wechat.outboxIDs(); len(ids) != 2 || ids[0] != id || ids[1] != id {
		t.Fatalf("sent %v, want row %d twice", ids, id)
	}
	if r := f.row(t, id); r.Status != storage.PushPending {
		t.Fatalf("after the resend: %+v", r)
	}
	f.clock.At(10, 9)
	f.runOnce(t)
	if n := len(f.wechat.pushes()); n != 2 {
		t.Fatalf("resent at 10:09 (%d sends)", n)
	}
	if r := f.row(t, id); r.Status != storage.PushUncertain {
		t.Fatalf("at 10:09: %+v, want uncertain", r)
	}
	if v := dispMetric(t, f.reg, "hotlinebot_outbox_pushes", map[string]string{"status": "uncertain"}); v != 1 {
		t.Errorf("outbox_pushes{uncertain} = %v", v)
	}
}

// A dispatcher that died between sending and recording: once its lease is
// over the push goes again with the same outbox id (WeChat drops the repeat).
func TestCrashBetweenSendAndMarkResendsTheSameID(t *testing.T) {
	f := newDispFixture(t)
	id := f.queue(t, f.zhang, hotlinebot.NotifyAssigned, "#37", ten)
	ctx := context.Background()
	claimed, err := f.s.ClaimPushes(ctx, ten, 5) // the dispatcher that dies
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	if _, err := f.wechat.Send(ctx, claimed[0]); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(ten.Add(time.Minute))
	f.runOnce(t)
	if n := len(f.wechat.pushes()); n != 1 {
		t.Fatalf("sent during the lease (%d sends)", n)
	}
	f.clock.Set(ten.Add(storage.PushLease))
	f.runOnce(t)
	if ids := f.wechat.outboxIDs(); len(ids) != 2 || ids[1] != id {
		t.Fatalf("sent %v, want row %d again", ids, id)
	}
	if r := f.row(t, id); r.Status != storage.PushSent || r.Attempts != 2 {
		t.Fatalf("row = %+v", r)
	}
}

func TestPermanentFailureIsDeadAndTellsTheOffice(t *testing.T) {
	f := newDispFixture(t)
	f.wechat.result = func(p hotlinebot.Push) error {
		if p.PersonID == f.zhang.ID {
			return &hotlinebot.PushError{Failure: hotlinebot.PushPermanent, ErrCode: 43004, Message: "require subscribe"}
		}
		return nil
	}
	id := f.queue(t, f.zhang, hotlinebot.NotifyAssigned, "#37", ten)
	second := f.queue(t, f.zhang, hotlinebot.NotifyReminder, "#38", ten.Add(time.Second))
	f.clock.Set(ten.Add(time.Second))
	f.d = f.dispatcherBatch(t, 1)
	f.runOnce(t)
	if r := f.row(t, id); r.Status != storage.PushDead || !strings.Contains(r.LastError, "43004") {
		t.Fatalf("row = %+v", r)
	}
	for f.runOnce(t) > 0 {
	}
	var toZhang, notices []hotlinebot.Push
	for _, p := range f.wechat.pushes() {
		switch p.PersonID {
		case f.zhang.ID:
			toZhang = append(toZhang, p)
		case f.clerk.ID:
			notices = append(notices, p)
		}
	}
	if len(toZhang) != 1 {
		t.Fatalf("%d attempts to reach 张三, want 1: he is gone", len(toZhang))
	}
	if r := f.row(t, second); r.Status != storage.PushDead {
		t.Fatalf("second push to 张三 = %+v, want dead", r)
	}
	want := "推送给 张三 的消息无法送达（对方已取消关注或账号无效）：#37 路灯不亮"
	if len(notices) != 1 || notices[0].Kind != hotlinebot.NotifyNotice || notices[0].Data.Note != want {
		t.Fatalf("office got %+v, want one notice %q", notices, want)
	}
	if v := dispMetric(t, f.reg, "hotlinebot_outbox_pushes", map[string]string{"status": "dead"}); v != 2 {
		t.Errorf("outbox_pushes{dead} = %v, want 2", v)
	}
}

func (f *dispFixture) dispatcherBatch(t *testing.T, batch int) *scheduler.Dispatcher {
	t.Helper()
	d, err := scheduler.NewDispatcher(f.s, f.wechat, scheduler.DispatcherOptions{Clock: f.clock.Now, Logger: dispLog, Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestQuotaPausesEveryReplicaUntilTheNextHour(t *testing.T) {
	f := newDispFixture(t)
	quota := true
	f.wechat.result = func(p hotlinebot.Push) error {
		if quota {
			return &hotlinebot.PushError{Failure: hotlinebot.PushQuota, ErrCode: 45009, Message: "reach max api daily quota limit"}
		}
		return nil
	}
	var queued []int64
	for i := range 3 {
		queued = append(queued, f.queue(t, f.zhang, hotlinebot.NotifyAssigned, fmt.Sprintf("#%d", i+1), ten))
	}
	f.clock.At(10, 20)
	f.runOnce(t)
	if n := len(f.wechat.pushes()); n != 1 {
		t.Fatalf("%d attempts after 45009, want 1", n)
	}
	for _, id := range queued {
		if r := f.row(t, id); r.Status != storage.PushPending {
			t.Fatalf("row %d = %+v, want pending", id, r)
		}
	}
	quota = false
	replica := f.dispatcherBatch(t, 5) // it never hit the quota itself
	f.clock.At(10, 59)
	f.runOnce(t)
	if _, err := replica.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.wechat.pushes()); n != 1 {
		t.Fatalf("sent while paused (%d attempts)", n)
	}
	f.clock.At(11, 0)
	f.runOnce(t)
	if n := len(f.wechat.pushes()); n != 4 {
		t.Fatalf("%d attempts after the pause, want 4", n)
	}
	for _, id := range queued {
		if r := f.row(t, id); r.Status != storage.PushSent {
			t.Fatalf("row %d = %+v, want sent", id, r)
		}
	}
}

func TestSenderPanicIsRecoveredAndRetried(t *testing.T) {
	f := newDispFixture(t)
	first := true
	f.wechat.result = func(p hotlinebot.Push) error {
		if first {
			first = false
			panic("template field map is nil")
		}
		return nil
	}
	id := f.queue(t, f.zhang, hotlinebot.NotifyAssigned, "#37", ten)
	f.runOnce(t)
	if r := f.row(t, id); r.Status != storage.PushPending || !strings.Contains(r.LastError, "panicked") {
		t.Fatalf("after the panic: %+v", r)
	}
	f.clock.Set(ten.Add(10 * time.Second))
	f.runOnce(t)
	if r := f.row(t, id); r.Status != storage.PushSent {
		t.Fatalf("after the retry: %+v", r)
	}
}

func TestRunSendsAsSoonAsWoken(t *testing.T) {
	f := newDispFixture(t)
	f.wechat.sent = make(chan hotlinebot.Push, 1)
	// Poll is an hour: only Wake can make it send within the test.
	d, err := scheduler.NewDispatcher(f.s, f.wechat, scheduler.DispatcherOptions{Clock: f.clock.Now, Logger: dispLog, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	first := f.queue(t, f.zhang, hotlinebot.NotifyAssigned, "#1", ten)
	go func() { done <- d.Run(ctx) }()
	// The first round sends what is there and then waits.
	if p := <-f.wechat.sent; p.OutboxID != first {
		t.Fatalf("sent %+v", p)
	}
	id := f.queue(t, f.zhang, hotlinebot.NotifyAssigned, "#2", ten)
	d.Wake()
	d.Wake() // coalesces, never blocks
	select {
	case p := <-f.wechat.sent:
		if p.OutboxID != id {
			t.Fatalf("sent %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wake did not make the dispatcher send")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}
