package storage_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// queueTo queues one push of kind to person (through EnqueueDataTx, as a
// ticket change would) and returns its outbox id.
func queueTo(t *testing.T, s *storage.Store, personID int64, kind hotlinebot.NotificationKind, data hotlinebot.TemplateData, key string, now time.Time) int64 {
	t.Helper()
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	n := hotlinebot.Notification{Kind: kind, To: hotlinebot.Recipient{Audience: hotlinebot.AudiencePerson, PersonID: personID}}
	if k, err := s.EnqueueDataTx(ctx, tx, n, data, time.Time{}, key, now); err != nil || k != 1 {
		t.Fatalf("EnqueueDataTx = %d, %v; want 1 row", k, err)
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

func claim(t *testing.T, s *storage.Store, now time.Time, limit int) []hotlinebot.Push {
	t.Helper()
	ps, err := s.ClaimPushes(ctx, now, limit)
	if err != nil {
		t.Fatalf("ClaimPushes(%s): %v", now.Format(time.TimeOnly), err)
	}
	return ps
}

func pushRow(t *testing.T, s *storage.Store, id int64) storage.PushRow {
	t.Helper()
	rows, err := s.ListPushes(ctx, "all", id-1, 1)
	if err != nil || len(rows) != 1 || rows[0].ID != id {
		t.Fatalf("ListPushes(all, after %d) = %+v, %v", id-1, rows, err)
	}
	return rows[0]
}

func ids(ps []hotlinebot.Push) []int64 {
	var out []int64
	for _, p := range ps {
		out = append(out, p.OutboxID)
	}
	return out
}

// notices returns the notes of the `notice` rows queued to person.
func notices(t *testing.T, s *storage.Store, personID int64) []string {
	t.Helper()
	var notes []string
	if err := s.DB().SelectContext(ctx, &notes,
		`SELECT data->>'Note' FROM outbox WHERE kind = 'notice' AND person_id = $1 ORDER BY id`, personID); err != nil {
		t.Fatal(err)
	}
	return notes
}

func TestClaimPushesLeasesRowsAndResendsWithinTheWindow(t *testing.T) {
	f := newFixture(t)
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned,
		hotlinebot.TemplateData{Ref: "#37", Title: "路灯不亮"}, "test:1", t0)

	ps := claim(t, f.s, t0, 10)
	if len(ps) != 1 {
		t.Fatalf("claimed %v, want the one row", ids(ps))
	}
	p := ps[0]
	if p.OutboxID != id || p.OpenID != f.zhang.OpenID || p.PersonID != f.zhang.ID || p.Kind != hotlinebot.NotifyAssigned ||
		p.Data.Ref != "#37" || p.Data.Title != "路灯不亮" || p.Attempt != 1 {
		t.Fatalf("claimed %+v", p)
	}
	if got := claim(t, f.s, t0.Add(time.Minute), 10); len(got) != 0 {
		t.Fatalf("a leased row was claimed again: %v", ids(got))
	}
	// The dispatcher died mid-send: once the lease is over the row is
	// claimed again, with the same id (so the same client_msg_id).
	again := claim(t, f.s, t0.Add(storage.PushLease), 10)
	if len(again) != 1 || again[0].OutboxID != id || again[0].Attempt != 2 {
		t.Fatalf("after the lease: %+v", again)
	}
	// Died again; beyond 8 minutes of the first attempt it is not resent.
	if got := claim(t, f.s, t0.Add(9*time.Minute), 10); len(got) != 0 {
		t.Fatalf("resent outside the client_msg_id window: %v", ids(got))
	}
	if r := pushRow(t, f.s, id); r.Status != storage.PushUncertain || r.Attempts != 2 {
		t.Fatalf("row = %+v, want uncertain after 2 attempts", r)
	}
}

func TestClaimPushesSkipsRowsLockedByAnotherDispatcher(t *testing.T) {
	f := newFixture(t)
	a := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#1"}, "test:a", t0)
	b := queueTo(t, f.s, f.li.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#2"}, "test:b", t0)

	// Another dispatcher's claim transaction holds row a.
	tx, err := f.s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT id FROM outbox WHERE id = $1 FOR UPDATE`, a); err != nil {
		t.Fatal(err)
	}
	got := claim(t, f.s, t0, 10)
	if len(got) != 1 || got[0].OutboxID != b {
		t.Fatalf("claimed %v while %d was locked, want only %d", ids(got), a, b)
	}
}

func TestClaimPushesConcurrentlyClaimsEachRowOnce(t *testing.T) {
	f := newFixture(t)
	const rows = 40
	for i := range rows {
		queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyReminder, hotlinebot.TemplateData{}, "test:"+string(rune('A'+i)), t0)
	}
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ps, err := f.s.ClaimPushes(ctx, t0, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ps) == 0 {
					return
				}
				mu.Lock()
				for _, p := range ps {
					seen[p.OutboxID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != rows {
		t.Fatalf("claimed %d distinct rows, want %d", len(seen), rows)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d claimed %d times", id, n)
		}
	}
}

func TestDefiniteFailureOpensNoClientMsgIDWindow(t *testing.T) {
	f := newFixture(t)
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#3"}, "test:3", t0)
	claim(t, f.s, t0, 10)
	// WeChat answered -1: nothing was delivered, so a retry much later is safe.
	if err := f.s.MarkRetry(ctx, id, 1, t0.Add(20*time.Minute), "errcode -1"); err != nil {
		t.Fatal(err)
	}
	if r := pushRow(t, f.s, id); r.Status != storage.PushPending || r.FirstAttemptAt != nil || r.LastError != "errcode -1" {
		t.Fatalf("after a definite failure: %+v", r)
	}
	if got := claim(t, f.s, t0.Add(19*time.Minute), 10); len(got) != 0 {
		t.Fatalf("claimed before its next attempt: %v", ids(got))
	}
	got := claim(t, f.s, t0.Add(20*time.Minute), 10)
	if len(got) != 1 || got[0].Attempt != 2 {
		t.Fatalf("retry 20 minutes later: %+v", got)
	}

	// Now the send is cut off: it may have arrived, so the window starts
	// here, and a definite failure afterwards keeps it.
	st, err := f.s.MarkCutOff(ctx, id, 2, t0.Add(21*time.Minute), "read timeout")
	if err != nil || st != storage.PushPending {
		t.Fatalf("MarkCutOff = %s, %v", st, err)
	}
	claim(t, f.s, t0.Add(21*time.Minute), 10)
	if err := f.s.MarkRetry(ctx, id, 3, t0.Add(30*time.Minute), "errcode -1"); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, f.s, t0.Add(30*time.Minute), 10); len(got) != 0 {
		t.Fatalf("resent 10 minutes after a cut-off send: %v", ids(got))
	}
	if r := pushRow(t, f.s, id); r.Status != storage.PushUncertain {
		t.Fatalf("row = %+v, want uncertain", r)
	}
}

func TestAStaleClaimChangesNothing(t *testing.T) {
	f := newFixture(t)
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#10"}, "test:10", t0)
	claim(t, f.s, t0, 10) // attempt 1; its dispatcher stalls past the lease
	if got := claim(t, f.s, t0.Add(storage.PushLease), 10); len(got) != 1 || got[0].Attempt != 2 {
		t.Fatalf("reclaim = %+v", got)
	}
	// The stalled dispatcher wakes up and reports a failure of attempt 1.
	if err := f.s.MarkRetry(ctx, id, 1, t0.Add(storage.PushLease), "errcode -1"); err != nil {
		t.Fatal(err)
	}
	if st, err := f.s.MarkCutOff(ctx, id, 1, t0.Add(storage.PushLease), "timeout"); err != nil || st != "" {
		t.Fatalf("stale MarkCutOff = %q, %v", st, err)
	}
	if err := f.s.ReleasePush(ctx, id, 1, t0); err != nil {
		t.Fatal(err)
	}
	if r := pushRow(t, f.s, id); r.Status != storage.PushSending || r.Attempts != 2 || r.LastError != "" {
		t.Fatalf("row = %+v, want still claimed by attempt 2", r)
	}
	if got := claim(t, f.s, t0.Add(storage.PushLease+time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed under attempt 2's lease: %v", ids(got))
	}
}

func TestMarkCutOffPastTheWindowIsUncertainAtOnce(t *testing.T) {
	f := newFixture(t)
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#4"}, "test:4", t0)
	claim(t, f.s, t0, 10)
	st, err := f.s.MarkCutOff(ctx, id, 1, t0.Add(10*time.Minute), "connection reset")
	if err != nil || st != storage.PushUncertain {
		t.Fatalf("MarkCutOff = %s, %v; want uncertain", st, err)
	}
}

func TestMarkDeadTellsTheOfficeOnce(t *testing.T) {
	woken := 0
	f := newFixture(t, storage.Options{OutboxAdded: func() { woken++ }})
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned,
		hotlinebot.TemplateData{Ref: "#37", Title: "路灯不亮"}, "test:37", t0)
	later := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyReminder,
		hotlinebot.TemplateData{Ref: "#38"}, "test:38", t0.Add(time.Minute))
	woken = 0

	claim(t, f.s, t0, 1)
	if err := f.s.MarkDead(ctx, id, storage.DeadUserGone, "push permanent: errcode 43004: require subscribe", t0); err != nil {
		t.Fatal(err)
	}
	if err := f.s.MarkDead(ctx, id, storage.DeadUserGone, "again", t0); err != nil {
		t.Fatal(err)
	}
	if r := pushRow(t, f.s, id); r.Status != storage.PushDead || !strings.Contains(r.LastError, "43004") {
		t.Fatalf("row = %+v", r)
	}
	want := "推送给 张三 的消息无法送达（对方已取消关注或账号无效）：#37 路灯不亮"
	if got := notices(t, f.s, f.clerk.ID); len(got) != 1 || got[0] != want {
		t.Fatalf("office notices = %q, want [%q]", got, want)
	}
	if woken == 0 {
		t.Error("the dispatcher was not woken for the notice")
	}
	// 张三 is gone: the next push to him is not attempted.
	p, err := f.s.Person(ctx, f.zhang.ID)
	if err != nil || p.Reachable {
		t.Fatalf("张三 = %+v, %v; want unreachable", p, err)
	}
	ps := claim(t, f.s, t0.Add(2*time.Minute), 10)
	for _, q := range ps {
		if q.OutboxID == later {
			t.Fatalf("a push to an unreachable person was claimed")
		}
	}
	if r := pushRow(t, f.s, later); r.Status != storage.PushDead {
		t.Fatalf("push to the unreachable = %+v, want dead", r)
	}
	// The notice to the office fails for good too: nobody is told about that.
	if len(ps) != 1 || ps[0].Kind != hotlinebot.NotifyNotice || ps[0].PersonID != f.clerk.ID {
		t.Fatalf("claimed %+v, want the office's notice", ps)
	}
	if err := f.s.MarkDead(ctx, ps[0].OutboxID, storage.DeadRejected, "errcode 40037", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.s.DB().GetContext(ctx, &n, `SELECT count(*) FROM outbox WHERE kind = 'notice'`); err != nil || n != 1 {
		t.Fatalf("%d notices, %v; want the one", n, err)
	}
}

func TestReceiptsAreRecordedAndABlockTellsTheOffice(t *testing.T) {
	f := newFixture(t)
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#5", Title: "井盖缺失"}, "test:5", t0)
	claim(t, f.s, t0, 10)
	if err := f.s.MarkSent(ctx, id, 7001, t0); err != nil {
		t.Fatal(err)
	}
	found, err := f.s.ApplyReceipt(ctx, 7001, "success", t0)
	if err != nil || !found {
		t.Fatalf("ApplyReceipt(success) = %v, %v", found, err)
	}
	if r := pushRow(t, f.s, id); r.Status != storage.PushSent || r.WeChatMsgID != 7001 || r.ReceiptStatus != "success" || r.SentAt == nil {
		t.Fatalf("row = %+v", r)
	}
	if found, err := f.s.ApplyReceipt(ctx, 9999, "success", t0); err != nil || found {
		t.Fatalf("ApplyReceipt(unknown) = %v, %v", found, err)
	}
	if got := notices(t, f.s, f.clerk.ID); len(got) != 0 {
		t.Fatalf("notices after a success: %q", got)
	}
	for range 2 { // WeChat may repeat the event
		if _, err := f.s.ApplyReceipt(ctx, 7001, "failed:user block", t0); err != nil {
			t.Fatal(err)
		}
	}
	if r := pushRow(t, f.s, id); r.Status != storage.PushSent || r.ReceiptStatus != "failed:user block" {
		t.Fatalf("row = %+v", r)
	}
	want := "推送给 张三 的消息未送达（对方已拒收公众号消息）：#5 井盖缺失"
	if got := notices(t, f.s, f.clerk.ID); len(got) != 1 || got[0] != want {
		t.Fatalf("notices = %q, want [%q]", got, want)
	}
}

// WeChat's receipt may come before the dispatcher has recorded the msgid it
// answered with: the receipt is applied when the push is marked sent.
func TestReceiptBeforeMarkSent(t *testing.T) {
	f := newFixture(t)
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#5", Title: "井盖缺失"}, "test:5", t0)
	claim(t, f.s, t0, 10)
	if found, err := f.s.ApplyReceipt(ctx, 7001, "failed:user block", t0); err != nil || found {
		t.Fatalf("ApplyReceipt before MarkSent = %v, %v", found, err)
	}
	if err := f.s.MarkSent(ctx, id, 7001, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if r := pushRow(t, f.s, id); r.Status != storage.PushSent || r.ReceiptStatus != "failed:user block" {
		t.Fatalf("row = %+v, want sent with the early receipt", r)
	}
	want := "推送给 张三 的消息未送达（对方已拒收公众号消息）：#5 井盖缺失"
	if got := notices(t, f.s, f.clerk.ID); len(got) != 1 || got[0] != want {
		t.Fatalf("notices = %q, want [%q]", got, want)
	}
}

func TestRetryPushStartsAFreshWindow(t *testing.T) {
	f := newFixture(t)
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#6"}, "test:6", t0)
	claim(t, f.s, t0, 10)
	if err := f.s.MarkUncertain(ctx, id, "cut off", t0); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.RetryPush(ctx, 424242, t0)
	wantCode(t, err, hotlinebot.ENOTFOUND, "424242")

	later := t0.Add(time.Hour)
	r, err := f.s.RetryPush(ctx, id, later)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != storage.PushPending || r.Attempts != 0 || r.FirstAttemptAt != nil || !r.NextAttemptAt.Equal(later) || r.LastError != "" {
		t.Fatalf("retried row = %+v", r)
	}
	_, err = f.s.RetryPush(ctx, id, later)
	wantCode(t, err, hotlinebot.ECONFLICT, "待发送")
	got := claim(t, f.s, later, 10)
	if len(got) != 1 || got[0].OutboxID != id || got[0].Attempt != 1 {
		t.Fatalf("claimed after retry: %+v", got)
	}

	// A dead push to someone who is gone cannot be retried before they bind again.
	if err := f.s.MarkDead(ctx, id, storage.DeadUserGone, "43004", later); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.RetryPush(ctx, id, later)
	wantCode(t, err, hotlinebot.ECONFLICT, "张三", "重新绑定")
}

func TestListPushesAndCounts(t *testing.T) {
	f := newFixture(t)
	a := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#7"}, "test:7", t0)
	b := queueTo(t, f.s, f.li.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#8"}, "test:8", t0)
	claim(t, f.s, t0, 10)
	if err := f.s.MarkSent(ctx, a, 1, t0); err != nil {
		t.Fatal(err)
	}
	if err := f.s.MarkDead(ctx, b, storage.DeadRejected, "errcode 40037", t0); err != nil {
		t.Fatal(err)
	}
	open, err := f.s.ListPushes(ctx, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Not sent: 李四's dead push and the office's notice about it.
	if len(open) != 2 || open[0].ID != b || open[0].Status != storage.PushDead || open[0].PersonName != "李四" ||
		open[1].Kind != hotlinebot.NotifyNotice || open[1].Status != storage.PushPending {
		t.Fatalf("ListPushes(\"\") = %+v", open)
	}
	dead, err := f.s.ListPushes(ctx, "dead", 0, 0)
	if err != nil || len(dead) != 1 || dead[0].ID != b {
		t.Fatalf("ListPushes(dead) = %+v, %v", dead, err)
	}
	if page, err := f.s.ListPushes(ctx, "all", a, 1); err != nil || len(page) != 1 || page[0].ID != b {
		t.Fatalf("ListPushes(all, after %d, 1) = %+v, %v", a, page, err)
	}
	_, err = f.s.ListPushes(ctx, "lost", 0, 0)
	wantCode(t, err, hotlinebot.EINVALID, "lost")

	counts, err := f.s.OutboxCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"pending": 1, "sending": 0, "dead": 1, "uncertain": 0}
	if len(counts) != len(want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
	for k, v := range want {
		if n, ok := counts[k]; !ok || n != v {
			t.Errorf("counts[%s] = %d, want %d (all: %v)", k, n, v, counts)
		}
	}
}

func TestPauseOutboxHoldsEveryClaim(t *testing.T) {
	f := newFixture(t)
	id := queueTo(t, f.s, f.zhang.ID, hotlinebot.NotifyAssigned, hotlinebot.TemplateData{Ref: "#9"}, "test:9", t0)
	if err := f.s.PauseOutbox(ctx, t0.Add(time.Hour), "errcode 45009"); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, f.s, t0.Add(59*time.Minute), 10); len(got) != 0 {
		t.Fatalf("claimed while paused: %v", ids(got))
	}
	if got := claim(t, f.s, t0.Add(time.Hour), 10); len(got) != 1 || got[0].OutboxID != id {
		t.Fatalf("after the pause: %v", ids(got))
	}
}
