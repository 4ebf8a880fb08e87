package scheduler_test

// Benchmarks of the scheduler's tick against a real PostgreSQL (storagetest):
// planning the alarms of 10 000 open tickets, the steady state with nothing
// due, and firing the alarms of 1 000 overdue tickets. They run only with
// -bench (make bench); the figures are in the README's Performance section.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

const (
	benchOpen    = 10_000 // open tickets: half dispatched, half accepted
	benchClosed  = 10_000 // closed history beside them
	benchOverdue = 1_000  // of the accepted, made overdue for the firing benchmark
)

// benchStore is a district of 8 departments (4 bound handlers and a bound
// leader each, the office, a district leader) with benchOpen open tickets
// whose deadlines are all ahead of now (nothing due) and benchClosed closed
// ones, built with set-based SQL.
func benchStore(b *testing.B, now time.Time) *storage.Store {
	b.Helper()
	c := context.Background()
	s := storagetest.NewStore(b, storage.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for i := range 8 {
		code := fmt.Sprintf("dept%02d", i)
		if _, err := s.CreateDepartment(c, hotlinebot.Department{Code: code, Name: fmt.Sprintf("第%d街道办事处", i+1)}); err != nil {
			b.Fatal(err)
		}
		for j := range 4 {
			if _, err := s.CreatePerson(c, hotlinebot.Person{Name: fmt.Sprintf("承办人%d-%d", i, j), Role: hotlinebot.RoleHandler, Department: code}, now); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.CreatePerson(c, hotlinebot.Person{Name: fmt.Sprintf("主任%d", i), Role: hotlinebot.RoleLeader, Department: code}, now); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []hotlinebot.Person{{Name: "热线办", Role: hotlinebot.RoleOffice}, {Name: "区长", Role: hotlinebot.RoleLeader}} {
		if _, err := s.CreatePerson(c, p, now); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.DB().ExecContext(c, `UPDATE people SET openid = 'bench-' || id, reachable = true, bound_at = $1`, now); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(c, `
		WITH d AS (SELECT array_agg(id ORDER BY id) AS ids FROM departments),
		g AS (
			SELECT g, d.ids[1 + abs(hashint4(g)) % cardinality(d.ids)] AS dept, g < $2::int AS open,
			       CASE WHEN g < $2::int THEN $1::timestamptz - (g % 120) * interval '1 minute'
			            ELSE $1::timestamptz - interval '100 days' + (g - $2::int) * interval '10 minutes' END AS received
			FROM generate_series(0, $2::int + $3::int - 1) g, d
		)
		INSERT INTO tickets (external_id, title, content, category, status, department_id, assignee_id,
		                     received_at, dispatched_at, sign_due_at, due_at, original_due_at, accepted_at,
		                     completed_at, closed_at, outcome, created_at)
		SELECT 'S' || g, '占道经营' || g, '路口有摊贩占道经营，请尽快处理。', '市容市貌',
		       CASE WHEN open AND g % 2 = 0 THEN 'dispatched' WHEN open THEN 'accepted' ELSE 'closed' END,
		       dept,
		       CASE WHEN open AND g % 2 = 0 THEN NULL
		            ELSE (SELECT p.id FROM people p WHERE p.department_id = dept AND p.role = 'handler' ORDER BY p.id LIMIT 1) END,
		       received, received + interval '5 minutes', received + interval '1 day', received + interval '10 days',
		       received + interval '10 days',
		       CASE WHEN open AND g % 2 = 0 THEN NULL ELSE received + interval '2 hours' END,
		       CASE WHEN open THEN NULL ELSE received + interval '3 days' END,
		       CASE WHEN open THEN NULL ELSE received + interval '4 days' END,
		       CASE WHEN open THEN '' ELSE '已处理' END,
		       received
		FROM g`, now, benchOpen, benchClosed); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(c, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchScheduler(b *testing.B, s *storage.Store, now time.Time, reminders ...scheduler.Reminders) *scheduler.Scheduler {
	b.Helper()
	cal := storagetest.Calendar(b)
	rem := scheduler.DefaultReminders()
	if len(reminders) > 0 {
		rem = reminders[0]
	}
	sc, err := scheduler.New(s, scheduler.Options{
		Clock: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Calendar: cal, Reminders: rem, Escalation: scheduler.DefaultEscalation(),
	})
	if err != nil {
		b.Fatal(err)
	}
	return sc
}

func benchExec(b *testing.B, s *storage.Store, q string, args ...any) {
	b.Helper()
	if _, err := s.DB().ExecContext(context.Background(), q, args...); err != nil {
		b.Fatalf("%s: %v", q, err)
	}
}

func benchCount(b *testing.B, s *storage.Store, q string, args ...any) int {
	b.Helper()
	var n int
	if err := s.DB().GetContext(context.Background(), &n, q, args...); err != nil {
		b.Fatalf("%s: %v", q, err)
	}
	return n
}

// BenchmarkTick is scheduler.Tick with the default reminders and escalation
// (CONTRACT.md's example) and the default batch (50 tickets to fire, 200 to
// plan per transaction).
//
//   - plan: the first tick over benchOpen tickets never planned: every
//     ticket's alarms computed on the calendar and written.
//   - steady: a tick when every ticket is planned and nothing is due: what
//     each 30 s tick costs on an ordinary day.
//   - fire: benchOverdue accepted tickets are past their 办理 deadline: the
//     overdue event and the first escalation step (the assignee and the
//     department's leader) fire for each, queueing two pushes per ticket.
func BenchmarkTick(b *testing.B) {
	now := storagetest.At(2026, time.December, 1, 10, 0) // a Tuesday
	s := benchStore(b, now)
	sc := benchScheduler(b, s, now)
	ctx := context.Background()

	b.Run(fmt.Sprintf("plan-%d", benchOpen), func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			benchExec(b, s, `DELETE FROM ticket_alarms`)
			benchExec(b, s, `DELETE FROM ticket_alarm_plans`)
			benchExec(b, s, `VACUUM ANALYZE ticket_alarms, ticket_alarm_plans`)
			b.StartTimer()
			if err := sc.Tick(ctx, now); err != nil {
				b.Fatal(err)
			}
		}
		if n := benchCount(b, s, `SELECT count(*) FROM ticket_alarm_plans`); n != benchOpen {
			b.Fatalf("%d tickets planned, want %d", n, benchOpen)
		}
		if n := benchCount(b, s, `SELECT count(*) FROM outbox`); n != 0 {
			b.Fatalf("%d pushes queued, want none: nothing is due", n)
		}
		b.ReportMetric(float64(benchOpen*b.N)/b.Elapsed().Seconds(), "tickets/s")
	})
	b.Run(fmt.Sprintf("replan-%d", benchOpen), func(b *testing.B) {
		// The reminder settings changed (a restart with a new config):
		// every open ticket's unfired alarms are replaced. Two schedulers
		// with different settings take turns.
		other := scheduler.DefaultReminders()
		other.BeforeSign = []hotlinebot.Span{{Duration: 3 * time.Hour}}
		sc2 := benchScheduler(b, s, now, other)
		scs := []*scheduler.Scheduler{sc2, sc}
		i := 0
		for b.Loop() {
			if err := scs[i%2].Tick(ctx, now); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(benchOpen*b.N)/b.Elapsed().Seconds(), "tickets/s")
	})
	b.Run(fmt.Sprintf("steady-%d", benchOpen), func(b *testing.B) {
		if err := sc.Tick(ctx, now); err != nil { // planned, whatever ran before
			b.Fatal(err)
		}
		for b.Loop() {
			if err := sc.Tick(ctx, now); err != nil {
				b.Fatal(err)
			}
		}
		if n := benchCount(b, s, `SELECT count(*) FROM outbox`); n != 0 {
			b.Fatalf("%d pushes queued, want none: nothing is due", n)
		}
		b.ReportMetric(float64(benchOpen*b.N)/b.Elapsed().Seconds(), "tickets/s")
	})
	b.Run(fmt.Sprintf("fire-%d", benchOverdue), func(b *testing.B) {
		// The first benchOverdue accepted tickets fell due an hour ago; a
		// tick plans them afresh (their deadline moved), then the timed
		// loop fires them again and again.
		benchExec(b, s, `
			UPDATE tickets SET due_at = $1::timestamptz - interval '1 hour', original_due_at = $1::timestamptz - interval '1 hour'
			WHERE id IN (SELECT id FROM tickets WHERE status = 'accepted' ORDER BY id LIMIT $2)`, now, benchOverdue)
		if err := sc.Tick(ctx, now); err != nil {
			b.Fatal(err)
		}
		queued := 0
		for b.Loop() {
			b.StopTimer()
			benchExec(b, s, `UPDATE ticket_alarms SET fired_at = NULL, outcome = '' WHERE fired_at IS NOT NULL`)
			benchExec(b, s, `DELETE FROM outbox`)
			b.StartTimer()
			if err := sc.Tick(ctx, now); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			queued = benchCount(b, s, `SELECT count(*) FROM outbox`)
			b.StartTimer()
		}
		if queued != 2*benchOverdue {
			b.Fatalf("%d pushes queued by a tick, want %d (the assignee and the leader of each overdue ticket)", queued, 2*benchOverdue)
		}
		b.ReportMetric(float64(benchOverdue*b.N)/b.Elapsed().Seconds(), "tickets/s")
		b.ReportMetric(float64(queued*b.N)/b.Elapsed().Seconds(), "pushes/s")
	})
}
