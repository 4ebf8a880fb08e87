package storage_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

func TestEnqueueResolvesAudiences(t *testing.T) {
	f := newFixture(t)
	// A disabled handler is never pushed, even while still bound.
	gone := f.person(t, "周六", hotlinebot.RoleHandler, "longshan", true)
	if _, err := f.s.DB().ExecContext(ctx, `UPDATE people SET disabled = true WHERE id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	tk := f.create(t, storage.NewTicket{ExternalID: "Q-1", Department: "longshan"})
	if _, err := f.s.Act(ctx, tk.Ref(), f.handler(f.zhang), hotlinebot.Command{Action: hotlinebot.ActionAccept}, t0); err != nil {
		t.Fatal(err)
	}
	ids := func(ps []push) []int64 {
		var out []int64
		for _, p := range ps {
			out = append(out, p.PersonID)
		}
		return out
	}
	for _, c := range []struct {
		to   hotlinebot.Recipient
		want []int64
	}{
		{hotlinebot.Recipient{Audience: hotlinebot.AudienceDepartmentHandlers, Department: "longshan"}, []int64{f.zhang.ID, f.li.ID}},
		{hotlinebot.Recipient{Audience: hotlinebot.AudienceDepartmentHandlers}, []int64{f.zhang.ID, f.li.ID}}, // the ticket's department
		{hotlinebot.Recipient{Audience: hotlinebot.AudienceDepartmentLeaders, Department: "longshan"}, []int64{f.lsLeader.ID}},
		{hotlinebot.Recipient{Audience: hotlinebot.AudienceOffice}, []int64{f.clerk.ID}},
		{hotlinebot.Recipient{Audience: hotlinebot.AudienceDistrictLeaders}, []int64{f.leader.ID}},
		{hotlinebot.Recipient{Audience: hotlinebot.AudienceAssignee}, []int64{f.zhang.ID}},
		{hotlinebot.Recipient{Audience: hotlinebot.AudiencePerson, PersonID: f.li.ID}, []int64{f.li.ID}},
	} {
		t.Run(string(c.to.Audience), func(t *testing.T) {
			before := len(pushes(t, f.s))
			n := hotlinebot.Notification{Kind: hotlinebot.NotifyReminder, To: c.to, TicketID: tk.ID, Note: "还有 2 小时"}
			key := "test:" + string(c.to.Audience) + c.to.Department
			queue := func() int {
				tx := f.s.DB().MustBeginTx(ctx, nil)
				defer tx.Rollback()
				k, err := f.s.EnqueueTx(ctx, tx, n, key, t0)
				if err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				return k
			}
			if k := queue(); k != len(c.want) {
				t.Fatalf("queued %d, want %d", k, len(c.want))
			}
			ps := pushes(t, f.s)[before:]
			got := ids(ps)
			if len(got) != len(c.want) {
				t.Fatalf("pushed %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] || ps[i].Kind != "reminder" || ps[i].data(t).Note != "还有 2 小时" ||
					ps[i].data(t).Status != "办理中" || ps[i].Key != key+":reminder:"+itoa(got[i]) {
					t.Fatalf("push %d = %+v, want person %d", i, ps[i], c.want[i])
				}
			}
			if k := queue(); k != 0 {
				t.Fatalf("queued again: %d rows", k)
			}
		})
	}
}

func TestEnqueueNobodyTellsOfficeOrLogs(t *testing.T) {
	var logs bytes.Buffer
	f := newFixture(t, storage.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	tk := f.create(t, storage.NewTicket{ExternalID: "N-1", Department: "nanhu"}) // wang is unbound
	ps := pushes(t, f.s)
	if len(ps) != 1 || ps[0].Kind != "notice" || ps[0].PersonID != f.clerk.ID {
		t.Fatalf("pushes = %+v", ps)
	}
	if d := ps[0].data(t); d.Note != "南湖街道办事处无承办人可收推送，"+tk.Ref()+"待签收" || d.Ref != tk.Ref() {
		t.Fatalf("notice data = %+v", d)
	}

	// Nobody in the office either: logged, nothing queued.
	if err := f.s.UnbindPerson(ctx, f.clerk.ID, office, t0); err != nil {
		t.Fatal(err)
	}
	tk2 := f.create(t, storage.NewTicket{ExternalID: "N-2", Department: "nanhu"})
	if n := len(pushes(t, f.s)); n != 1 {
		t.Fatalf("%d pushes, want still 1", n)
	}
	if !strings.Contains(logs.String(), "nobody") || !strings.Contains(logs.String(), "ticket="+itoa(tk2.ID)) {
		t.Fatalf("logs = %s", logs.String())
	}
}

func TestFollowUpResultsAreCounted(t *testing.T) {
	f := newFixture(t)
	tk := f.create(t, storage.NewTicket{ExternalID: "F-1", Department: "longshan"})
	steps := []struct {
		actor hotlinebot.Actor
		cmd   hotlinebot.Command
	}{
		{f.handler(f.zhang), hotlinebot.Command{Action: hotlinebot.ActionAccept}},
		{f.handler(f.zhang), hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已处理"}},
		{office, hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: hotlinebot.FollowUpUnsatisfied, Note: "仍有噪音"}},
	}
	for i, st := range steps {
		if _, err := f.s.Act(ctx, tk.Ref(), st.actor, st.cmd, t0.Add(time.Duration(i+1)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := f.s.Ticket(ctx, tk.Ref())
	if got.Status != hotlinebot.StatusDispatched || got.ReopenCount != 1 {
		t.Fatalf("after 不满意: %+v", got)
	}
	evs := events(t, f.s, tk.ID)
	if a := strings.Join(actions(evs), ","); a != "create,dispatch,accept,complete,follow_up,reopen" {
		t.Fatalf("events %s", a)
	}
	var result string
	if err := f.s.DB().GetContext(ctx, &result, `SELECT data->>'result' FROM ticket_events WHERE action = 'follow_up'`); err != nil || result != "unsatisfied" {
		t.Fatalf("follow_up data result = %q, %v", result, err)
	}
	// The reopened push goes to the handlers; zhang, the last assignee, once.
	re := pushesTo(pushes(t, f.s), hotlinebot.NotifyReopened)
	if len(re) != 2 || re[f.zhang.ID].Key == "" || re[f.li.ID].Key == "" {
		t.Fatalf("reopened pushes = %+v", re)
	}
	if n := count(t, f.s, `SELECT count(*) FROM outbox WHERE kind = 'reopened'`); n != 2 {
		t.Fatalf("%d reopened rows, want 2", n)
	}
}
