package storage_test

// Benchmarks of the Store against a real PostgreSQL (storagetest). They run
// only with -bench (make bench); the figures are in the README's Performance
// section. Fixtures are built with set-based SQL so that setting up 50 000
// tickets takes seconds.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// benchDistrict adds depts departments, each with handlers bound handlers
// and a bound leader, plus the office and a district leader.
func benchDistrict(b *testing.B, s *storage.Store, depts, handlers int, now time.Time) {
	b.Helper()
	c := context.Background()
	for i := range depts {
		code := fmt.Sprintf("dept%02d", i)
		if _, err := s.CreateDepartment(c, hotlinebot.Department{Code: code, Name: fmt.Sprintf("第%d街道办事处", i+1)}); err != nil {
			b.Fatal(err)
		}
		for j := range handlers {
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
	if _, err := s.DB().ExecContext(c,
		`UPDATE people SET openid = 'bench-' || id, reachable = true, bound_at = $1`, now); err != nil {
		b.Fatal(err)
	}
}

// benchTickets inserts n tickets received evenly over [from, to), spread
// over the departments: about one in five still open (dispatched or
// accepted), the rest completed (one in seven late) with a follow-up event
// each, most of them satisfied. External ids are prefix + number.
func benchTickets(b *testing.B, s *storage.Store, prefix string, n int, from, to time.Time) {
	b.Helper()
	c := context.Background()
	step := to.Sub(from) / time.Duration(n)
	if _, err := s.DB().ExecContext(c, `
		WITH d AS (SELECT array_agg(id ORDER BY id) AS ids FROM departments),
		g AS (
			SELECT g, d.ids[1 + abs(hashint4(g)) % cardinality(d.ids)] AS dept,
			       $2::timestamptz + (g * $3::bigint) * interval '1 microsecond' AS received
			FROM generate_series(0, $4::int - 1) g, d
		)
		INSERT INTO tickets (external_id, title, content, category, status, department_id, assignee_id,
		                     received_at, dispatched_at, sign_due_at, due_at, original_due_at, accepted_at,
		                     completed_at, closed_at, outcome, followup_result, followup_at, created_at)
		SELECT $1 || g, '占道经营' || g, '路口有摊贩占道经营，请尽快处理。',
		       (ARRAY['市容市貌', '道路交通', '噪声扰民', '供水供电', '物业管理'])[1 + g % 5],
		       CASE WHEN g % 10 = 0 THEN 'dispatched' WHEN g % 10 = 1 THEN 'accepted'
		            WHEN g % 3 = 0 THEN 'completed' ELSE 'closed' END,
		       dept,
		       CASE WHEN g % 10 = 0 THEN NULL
		            ELSE (SELECT p.id FROM people p WHERE p.department_id = dept AND p.role = 'handler' ORDER BY p.id LIMIT 1) END,
		       received, received + interval '5 minutes', received + interval '1 day', received + interval '5 days',
		       received + interval '5 days',
		       CASE WHEN g % 10 = 0 THEN NULL ELSE received + interval '2 hours' END,
		       CASE WHEN g % 10 < 2 THEN NULL ELSE received + (g % 7) * interval '1 day' END,
		       CASE WHEN g % 10 < 2 OR g % 3 = 0 THEN NULL ELSE received + (g % 7) * interval '1 day' + interval '1 day' END,
		       CASE WHEN g % 10 < 2 THEN '' ELSE '已处理' END,
		       CASE WHEN g % 10 < 2 OR g % 3 = 0 THEN '' WHEN g % 11 = 0 THEN 'unsatisfied' ELSE 'satisfied' END,
		       CASE WHEN g % 10 < 2 OR g % 3 = 0 THEN NULL ELSE received + (g % 7) * interval '1 day' + interval '1 day' END,
		       received
		FROM g`, prefix, from, step.Microseconds(), n); err != nil {
		b.Fatal(err)
	}
	// The history a ticket has by then: received, dispatched, accepted,
	// completed, followed up (four or five events per ticket, as in use).
	if _, err := s.DB().ExecContext(c, `
		INSERT INTO ticket_events (ticket_id, at, action, actor_id, channel, from_status, to_status, note, data)
		SELECT t.id, e.at, e.action, e.actor, e.channel, e.from_status, e.to_status, e.note, e.data
		FROM tickets t CROSS JOIN LATERAL (VALUES
			(t.received_at, 'create', NULL::bigint, 'api', '', 'pending', '', '{}'::jsonb),
			(t.dispatched_at, 'dispatch', NULL, 'api', 'pending', 'dispatched', '', '{}'),
			(t.accepted_at, 'accept', t.assignee_id, 'wechat', 'dispatched', 'accepted', '', '{}'),
			(t.completed_at, 'complete', t.assignee_id, 'wechat', 'accepted', 'completed', '已处理', '{}'),
			(t.followup_at, 'follow_up', NULL, 'api', 'completed', 'closed', '', jsonb_build_object('result', t.followup_result))
		) AS e(at, action, actor, channel, from_status, to_status, note, data)
		WHERE t.external_id LIKE $1 || '%' AND e.at IS NOT NULL`, prefix); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(c, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReport is the quarterly report (Store.Report) over a quarter of
// 512 tickets and over a quarter of 50 000, both in one database.
func BenchmarkReport(b *testing.B) {
	s := storagetest.NewStore(b)
	now := storagetest.At(2026, time.December, 1, 10, 0)
	benchDistrict(b, s, 8, 4, now)
	q2 := storagetest.At(2026, time.April, 1, 0, 0)
	q3 := storagetest.At(2026, time.July, 1, 0, 0)
	q4 := storagetest.At(2026, time.October, 1, 0, 0)
	benchTickets(b, s, "Q2-", 512, q2, q3)
	benchTickets(b, s, "Q3-", 50_000, q3, q4)
	for _, c := range []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"quarter=512", q2, q3.AddDate(0, 0, -1), 512},
		{"quarter=50000", q3, q4.AddDate(0, 0, -1), 50_000},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r, err := s.Report(context.Background(), c.from, c.to, now)
				if err != nil {
					b.Fatal(err)
				}
				if r.Received != c.want {
					b.Fatalf("report received %d, want %d", r.Received, c.want)
				}
			}
			b.ReportMetric(float64(c.want)*float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
		})
	}
}

// BenchmarkCreateTicket is intake: one CreateTicket (routing, deadlines, the
// ticket, its events, the assigned pushes to the department's handlers) per
// op, in a database that already holds 5 000 tickets.
func BenchmarkCreateTicket(b *testing.B) {
	s := storagetest.NewStore(b)
	now := storagetest.At(2026, time.December, 1, 10, 0)
	benchDistrict(b, s, 8, 4, now)
	benchTickets(b, s, "old-", 5_000, now.AddDate(0, -3, 0), now)
	actor := hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI}
	run := 0
	for _, c := range []struct{ name, dept string }{
		{"department", "dept03"}, // the city named the department
		{"routed", ""},           // the routing rules decide (no rules: the office's pending queue)
	} {
		b.Run(c.name, func(b *testing.B) {
			run++
			i := 0
			for b.Loop() {
				i++
				_, created, err := s.CreateTicket(context.Background(), storage.NewTicket{
					ExternalID: fmt.Sprintf("new-%d-%d", run, i), Title: "占道经营", Content: "路口有摊贩占道经营，请尽快处理。",
					Category: "市容市貌", Department: c.dept, CallerName: "张先生", CallerPhone: "13800000000",
				}, actor, now)
				if err != nil || !created {
					b.Fatalf("CreateTicket: created %v, %v", created, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
		})
	}
}

// BenchmarkImportTickets is the bulk intake (ImportTickets, quiet): 500 open
// tickets in one transaction per op.
func BenchmarkImportTickets(b *testing.B) {
	s := storagetest.NewStore(b)
	now := storagetest.At(2026, time.December, 1, 10, 0)
	benchDistrict(b, s, 8, 4, now)
	actor := hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelImport}
	const rows = 500
	batch := 0
	for b.Loop() {
		batch++
		in := make([]storage.NewTicket, rows)
		for i := range in {
			in[i] = storage.NewTicket{
				ExternalID: fmt.Sprintf("imp-%d-%d", batch, i), Title: "占道经营", Content: "路口有摊贩占道经营，请尽快处理。",
				Department: fmt.Sprintf("dept%02d", i%8),
			}
		}
		res, err := s.ImportTickets(context.Background(), in, actor, now, storage.ImportOptions{Quiet: true})
		if err != nil || res.Created != rows {
			b.Fatalf("ImportTickets: %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "tickets/s")
}

// BenchmarkListTickets is the query behind a handler's 待办 and a verb
// without a ticket number: a department's dispatched tickets, and one
// handler's accepted ones, among 20 000 tickets.
func BenchmarkListTickets(b *testing.B) {
	s := storagetest.NewStore(b)
	now := storagetest.At(2026, time.December, 1, 10, 0)
	benchDistrict(b, s, 8, 4, now)
	benchTickets(b, s, "L-", 20_000, now.AddDate(-1, 0, 0), now)
	var handler int64
	if err := s.DB().GetContext(context.Background(), &handler,
		`SELECT assignee_id FROM tickets WHERE status = 'accepted' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    storage.TicketFilter
	}{
		{"dispatched-of-department", storage.TicketFilter{Status: hotlinebot.StatusDispatched, Department: "dept03", Limit: 1000}},
		{"accepted-of-assignee", storage.TicketFilter{Status: hotlinebot.StatusAccepted, AssigneeID: handler, Limit: 1000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				ts, err := s.ListTickets(context.Background(), c.f)
				if err != nil {
					b.Fatal(err)
				}
				n = len(ts)
			}
			b.ReportMetric(float64(n), "rows")
		})
	}
}
