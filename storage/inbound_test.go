package storage_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/jmoiron/sqlx"
)

func TestInboundRunsOnceAndRepeatsTheReply(t *testing.T) {
	f := newFixture(t)
	var runs int
	handle := func(tx *sqlx.Tx) (string, error) {
		runs++
		return "已收到", nil
	}
	reply, dup, err := f.s.Inbound(ctx, "msg:1001", "ow-1", t0, handle)
	if err != nil || dup || reply != "已收到" {
		t.Fatalf("first = %q, %v, %v", reply, dup, err)
	}
	reply, dup, err = f.s.Inbound(ctx, "msg:1001", "ow-1", t0.Add(5*time.Second), handle)
	if err != nil || !dup || reply != "已收到" {
		t.Fatalf("retry = %q, %v, %v", reply, dup, err)
	}
	if runs != 1 {
		t.Fatalf("handled %d times", runs)
	}
}

func TestInboundRecordsNothingWhenTheHandlerFails(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("database went away")
	_, _, err := f.s.Inbound(ctx, "msg:1", "ow-1", t0, func(tx *sqlx.Tx) (string, error) {
		if _, err := tx.ExecContext(ctx, `UPDATE people SET phone = 'x' WHERE id = $1`, f.zhang.ID); err != nil {
			return "", err
		}
		return "", boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if p, _ := f.s.Person(ctx, f.zhang.ID); p.Phone == "x" {
		t.Fatal("the failed handler's write was kept")
	}
	// WeChat's retry is handled afresh.
	reply, dup, err := f.s.Inbound(ctx, "msg:1", "ow-1", t0, func(tx *sqlx.Tx) (string, error) { return "好", nil })
	if err != nil || dup || reply != "好" {
		t.Fatalf("retry = %q, %v, %v", reply, dup, err)
	}
}

func TestInboundConcurrentDeliveriesApplyOnce(t *testing.T) {
	f := newFixture(t)
	var runs atomic.Int32
	var wg sync.WaitGroup
	replies := make([]string, 3)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := f.s.Inbound(ctx, "msg:77", "ow-1", t0, func(tx *sqlx.Tx) (string, error) {
				runs.Add(1)
				time.Sleep(50 * time.Millisecond) // a slow first delivery; WeChat retries meanwhile
				return "办结成功", nil
			})
			if err != nil {
				t.Error(err)
			}
			replies[i] = r
		}()
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("handled %d times", runs.Load())
	}
	for _, r := range replies {
		if r != "办结成功" {
			t.Fatalf("replies = %q", replies)
		}
	}
}

// A wrong bind code is a reply, and the failed attempt is committed with the
// message, so the throttle counts WeChat's retries once and the sender's
// attempts each.
func TestInboundKeepsABindFailure(t *testing.T) {
	f := newFixture(t)
	handle := func(code string) func(tx *sqlx.Tx) (string, error) {
		return func(tx *sqlx.Tx) (string, error) {
			if _, err := f.s.BindTx(ctx, tx, "ow-x", code, t0); err != nil {
				if hotlinebot.ErrorCodeOf(err) == hotlinebot.EINTERNAL {
					return "", err
				}
				return hotlinebot.ErrorMessage(err), nil
			}
			return "绑定成功", nil
		}
	}
	for i := range storage.BindFailureLimit - 1 {
		key := "msg:" + string(rune('a'+i))
		for range 3 { // each delivered three times
			reply, _, err := f.s.Inbound(ctx, key, "ow-x", t0, handle("00000000"))
			if err != nil || reply == "" {
				t.Fatalf("reply %q, %v", reply, err)
			}
		}
	}
	reply, _, err := f.s.Inbound(ctx, "msg:last", "ow-x", t0, handle("00000000"))
	if err != nil || reply != "尝试次数过多，请 15 分钟后再试" {
		t.Fatalf("the fifth wrong code: %q, %v", reply, err)
	}
}

func TestActTxRecordsTheActionWithTheMessage(t *testing.T) {
	f := newFixture(t)
	tk, _, err := f.s.CreateTicket(ctx, storage.NewTicket{
		ExternalID: "YY-1", Title: "路灯不亮", Content: "龙山路路灯不亮", Department: "longshan",
	}, api, t0)
	if err != nil {
		t.Fatal(err)
	}
	zhang := hotlinebot.Actor{PersonID: f.zhang.ID, Name: f.zhang.Name, Role: f.zhang.Role, Department: f.zhang.Department, Channel: hotlinebot.ChannelWeChat}
	wang := hotlinebot.Actor{PersonID: f.wang.ID, Name: f.wang.Name, Role: f.wang.Role, Department: f.wang.Department, Channel: hotlinebot.ChannelWeChat}
	accept := func(actor hotlinebot.Actor) func(tx *sqlx.Tx) (string, error) {
		return func(tx *sqlx.Tx) (string, error) {
			tr, err := f.s.ActTx(ctx, tx, tk.Ref(), actor, hotlinebot.Command{Action: hotlinebot.ActionAccept}, t0.Add(time.Minute))
			if err != nil {
				if hotlinebot.ErrorCodeOf(err) == hotlinebot.EINTERNAL {
					return "", err
				}
				return hotlinebot.ErrorMessage(err), nil
			}
			return "已签收 " + tr.Ticket.Ref(), nil
		}
	}
	// 王五 of another department is refused; the refusal is recorded.
	if reply, _, err := f.s.Inbound(ctx, "msg:w", wang.Name, t0, accept(wang)); err != nil || reply == "" {
		t.Fatalf("refused: %q, %v", reply, err)
	}
	for range 2 {
		reply, _, err := f.s.Inbound(ctx, "msg:z", "ow-zhang", t0, accept(zhang))
		if err != nil || reply != "已签收 "+tk.Ref() {
			t.Fatalf("accept: %q, %v", reply, err)
		}
	}
	got, err := f.s.Ticket(ctx, tk.Ref())
	if err != nil || got.Status != hotlinebot.StatusAccepted || got.AssigneeID != f.zhang.ID {
		t.Fatalf("ticket = %+v, %v", got, err)
	}
	var accepts, refusals int
	for _, ev := range events(t, f.s, tk.ID) {
		switch ev.Action {
		case hotlinebot.ActionAccept:
			accepts++
		case hotlinebot.ActionRefused:
			refusals++
		}
	}
	if accepts != 1 || refusals != 1 {
		t.Fatalf("history %v: want one accept and one refusal", actions(events(t, f.s, tk.ID)))
	}
}
