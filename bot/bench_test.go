package bot

// Benchmarks of the passive-reply path: a signed (safe-mode, AES) callback
// from the simulated WeChat through the bot's /wechat handler, against a real
// PostgreSQL holding a realistic district, to the reply the simulator reads.
// They run only with -bench (make bench); the figures are in the README's
// Performance section.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// benchChat is a bot behind an HTTP server on a district of benchDepts
// departments with benchHandlers bound handlers and a bound leader each,
// the office and a district leader, and benchTickets tickets received over
// the 90 days before the clock: one in ten dispatched, one in ten accepted
// by its department's first handler, the rest completed or closed, each
// with its history of events.
type benchChat struct {
	store *storage.Store
	sim   *wechatsim.Platform
	clock *testClock
	// handler is a bound handler of dept00 (its first: the assignee of its
	// accepted tickets); leader its leader.
	handler, leader hotlinebot.Person
}

const (
	benchDepts    = 8
	benchHandlers = 4
	benchTickets  = 3000
)

func newBenchChat(b *testing.B) *benchChat {
	b.Helper()
	ctx := context.Background()
	store := storagetest.NewStore(b, storage.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	clock := &testClock{now: storagetest.At(2026, 12, 1, 9, 0)} // a Tuesday
	now := clock.Now()
	for i := range benchDepts {
		code := fmt.Sprintf("dept%02d", i)
		if _, err := store.CreateDepartment(ctx, hotlinebot.Department{Code: code, Name: fmt.Sprintf("第%d街道办事处", i+1)}); err != nil {
			b.Fatal(err)
		}
		for j := range benchHandlers {
			if _, err := store.CreatePerson(ctx, hotlinebot.Person{Name: fmt.Sprintf("承办人%d-%d", i, j), Role: hotlinebot.RoleHandler, Department: code}, now); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := store.CreatePerson(ctx, hotlinebot.Person{Name: fmt.Sprintf("主任%d", i), Role: hotlinebot.RoleLeader, Department: code}, now); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []hotlinebot.Person{{Name: "热线办", Role: hotlinebot.RoleOffice}, {Name: "区长", Role: hotlinebot.RoleLeader}} {
		if _, err := store.CreatePerson(ctx, p, now); err != nil {
			b.Fatal(err)
		}
	}
	db := store.DB()
	if _, err := db.ExecContext(ctx, `UPDATE people SET openid = 'bench-' || id, reachable = true, bound_at = $1`, now); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `
		WITH d AS (SELECT array_agg(id ORDER BY id) AS ids FROM departments),
		g AS (
			SELECT g, d.ids[1 + abs(hashint4(g)) % cardinality(d.ids)] AS dept,
			       $1::timestamptz - interval '90 days' + g * (interval '90 days' / $2::int) AS received
			FROM generate_series(0, $2::int - 1) g, d
		)
		INSERT INTO tickets (external_id, title, content, category, status, department_id, assignee_id,
		                     received_at, dispatched_at, sign_due_at, due_at, original_due_at, accepted_at,
		                     completed_at, closed_at, outcome, followup_result, followup_at, created_at)
		SELECT 'B' || g, '占道经营' || g, '路口有摊贩占道经营，请尽快处理。', '市容市貌',
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
		       CASE WHEN g % 10 < 2 OR g % 3 = 0 THEN '' ELSE 'satisfied' END,
		       CASE WHEN g % 10 < 2 OR g % 3 = 0 THEN NULL ELSE received + (g % 7) * interval '1 day' + interval '1 day' END,
		       received
		FROM g`, now, benchTickets); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `
		INSERT INTO ticket_events (ticket_id, at, action, actor_id, channel, from_status, to_status, note, data)
		SELECT t.id, e.at, e.action, e.actor, e.channel, e.from_status, e.to_status, e.note, e.data
		FROM tickets t CROSS JOIN LATERAL (VALUES
			(t.received_at, 'create', NULL::bigint, 'api', '', 'pending', '', '{}'::jsonb),
			(t.dispatched_at, 'dispatch', NULL, 'api', 'pending', 'dispatched', '', '{}'),
			(t.accepted_at, 'accept', t.assignee_id, 'wechat', 'dispatched', 'accepted', '', '{}'),
			(t.completed_at, 'complete', t.assignee_id, 'wechat', 'accepted', 'completed', '已处理', '{}'),
			(t.followup_at, 'follow_up', NULL, 'api', 'completed', 'closed', '', jsonb_build_object('result', t.followup_result))
		) AS e(at, action, actor, channel, from_status, to_status, note, data)
		WHERE e.at IS NOT NULL`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}

	sim := wechatsim.New(wechatsim.Options{
		AppID: simAppID, AppSecret: simAppSecret, Token: simToken, EncodingAESKey: simAESKey, Now: clock.Now,
	})
	api := httptest.NewServer(sim)
	b.Cleanup(api.Close)
	wc, err := NewWeChat(WeChatConfig{
		AppID: simAppID, AppSecret: simAppSecret, Token: simToken, EncodingAESKey: simAESKey,
		APIBaseURL: api.URL, Cache: newTestCache(), HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		b.Fatal(err)
	}
	bt, err := New(Options{
		Store: store, WeChat: wc, Now: clock.Now, Location: storagetest.Shanghai,
		Links:  &Links{Secret: []byte("bench-link-secret"), PublicURL: "https://hotline.example.gov.cn"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/wechat", bt)
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bt.Shutdown(ctx)
	})
	sim.SetCallbackURL(srv.URL + "/wechat")

	c := &benchChat{store: store, sim: sim, clock: clock}
	people, err := store.ListPeople(ctx, storage.PeopleFilter{Department: "dept00"})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range people {
		switch {
		case p.Role == hotlinebot.RoleHandler && c.handler.ID == 0:
			c.handler = p
		case p.Role == hotlinebot.RoleLeader:
			c.leader = p
		}
	}
	if c.handler.ID == 0 || c.leader.ID == 0 || c.handler.OpenID == "" {
		b.Fatalf("fixture: no bound handler and leader in dept00: %+v", people)
	}
	return c
}

// latencies collects one duration per op and reports their percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	s := slices.Clone(l)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q * float64(len(s)-1))
		return float64(s[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(s[len(s)-1])/float64(time.Millisecond), "max-ms")
}

// say sends text as u and checks the reply starts with want.
func benchSay(b *testing.B, u *wechatsim.User, text, want string) time.Duration {
	start := time.Now()
	reply, status, err := u.Say(text)
	d := time.Since(start)
	if err != nil || status != http.StatusOK {
		b.Fatalf("say %q: status %d, %v", text, status, err)
	}
	if !strings.HasPrefix(reply, want) {
		b.Fatalf("say %q: reply %q, want it to start with %q", text, reply, want)
	}
	return d
}

// BenchmarkCallback is one signed callback to its passive reply: 帮助 (the
// fixed cost: signature, AES, the dedupe row, the sender's lookup), 待办 for
// a handler and for a department leader (the list queries), 签收 of a named
// ticket (lock, Apply, events, the pushes, commit), 办结 without a ticket
// number (the applicable-tickets query, then the change), and 待办 from eight
// handlers at once. p50/p99/max are the reply latencies the simulated user
// saw; the 签收 and 办结 ops each create their ticket first, untimed.
func BenchmarkCallback(b *testing.B) {
	c := newBenchChat(b)
	ctx := context.Background()
	intake := hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI}
	handler := c.sim.User(c.handler.OpenID)
	leader := c.sim.User(c.leader.OpenID)
	n := 0
	newTicket := func() hotlinebot.Ticket {
		n++
		tk, _, err := c.store.CreateTicket(ctx, storage.NewTicket{
			ExternalID: fmt.Sprintf("N%d", n), Title: "占道经营", Content: "路口有摊贩占道经营，请尽快处理。",
			Category: "市容市貌", Department: "dept00", CallerName: "张先生", CallerPhone: "13800000000",
		}, intake, c.clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		return tk
	}

	b.Run("help", func(b *testing.B) {
		var l latencies
		for b.Loop() {
			l = append(l, benchSay(b, handler, "帮助", ""))
		}
		l.report(b)
	})
	b.Run("todo-handler", func(b *testing.B) {
		var l latencies
		for b.Loop() {
			l = append(l, benchSay(b, handler, "待办", "您有"))
		}
		l.report(b)
	})
	b.Run("todo-leader", func(b *testing.B) {
		var l latencies
		for b.Loop() {
			l = append(l, benchSay(b, leader, "待办", "您有"))
		}
		l.report(b)
	})
	b.Run("todo-district-leader", func(b *testing.B) {
		// Every open ticket of the district (about 600), by status.
		ps, err := c.store.ListPeople(ctx, storage.PeopleFilter{Role: hotlinebot.RoleLeader, Limit: 1000})
		if err != nil {
			b.Fatal(err)
		}
		var boss *wechatsim.User
		for _, p := range ps {
			if p.Department == "" {
				boss = c.sim.User(p.OpenID)
			}
		}
		if boss == nil {
			b.Fatal("fixture: no district leader")
		}
		var l latencies
		for b.Loop() {
			l = append(l, benchSay(b, boss, "待办", "您有"))
		}
		l.report(b)
	})
	b.Run("accept", func(b *testing.B) {
		var l latencies
		for b.Loop() {
			b.StopTimer()
			tk := newTicket()
			b.StartTimer()
			l = append(l, benchSay(b, handler, fmt.Sprintf("签收 %d", tk.ID), "已签收"))
		}
		l.report(b)
	})
	b.Run("complete-without-ref", func(b *testing.B) {
		// A second handler of dept00, with exactly one ticket in hand each
		// time, so that 办结 without a number means that one.
		other, err := c.store.CreatePerson(ctx, hotlinebot.Person{Name: "新承办人", Role: hotlinebot.RoleHandler, Department: "dept00"}, c.clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		openid := fmt.Sprintf("bench-new-%d", other.ID)
		if _, err := c.store.DB().ExecContext(ctx, `UPDATE people SET openid = $2, reachable = true, bound_at = $3 WHERE id = $1`,
			other.ID, openid, c.clock.Now()); err != nil {
			b.Fatal(err)
		}
		u := c.sim.User(openid)
		actor := hotlinebot.Actor{PersonID: other.ID, Name: other.Name, Role: hotlinebot.RoleHandler, Department: "dept00", Channel: hotlinebot.ChannelWeChat}
		var l latencies
		for b.Loop() {
			b.StopTimer()
			tk := newTicket()
			if _, err := c.store.Act(ctx, tk.Ref(), actor, hotlinebot.Command{Action: hotlinebot.ActionAccept}, c.clock.Now()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			l = append(l, benchSay(b, u, "办结 已清理占道摊贩", "#"))
		}
		l.report(b)
	})
	b.Run("todo-parallel", func(b *testing.B) {
		// Eight handlers of different departments asking at once.
		var users []*wechatsim.User
		for i := range benchDepts {
			ps, err := c.store.ListPeople(ctx, storage.PeopleFilter{Department: fmt.Sprintf("dept%02d", i)})
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range ps {
				if p.Role == hotlinebot.RoleHandler && p.OpenID != "" {
					users = append(users, c.sim.User(p.OpenID))
					break
				}
			}
		}
		next := make(chan *wechatsim.User, len(users))
		for _, u := range users {
			next <- u
		}
		b.SetParallelism(len(users) / 2) // × GOMAXPROCS (2) goroutines
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			u := <-next
			for pb.Next() {
				reply, status, err := u.Say("待办")
				if err != nil || status != http.StatusOK || !strings.HasPrefix(reply, "您有") {
					b.Errorf("待办: %d %q %v", status, reply, err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "replies/s")
	})
	handlers, err := c.store.ListPeople(ctx, storage.PeopleFilter{Role: hotlinebot.RoleHandler, Limit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	for _, burst := range []int{32, 100} {
		b.Run(fmt.Sprintf("todo-burst-%d", burst), func(b *testing.B) { todoBurst(b, c, handlers, burst) })
	}
}

// todoBurst has n callbacks arrive at the same moment, once per op: 待办 from
// the district's handlers in turn (32 of them, so some send two or more at
// once, as WeChat delivers them). From 20 on, more callbacks are in flight
// than the store's pool has connections. busy/op counts the replies that were
// the busy answer instead of the list.
func todoBurst(b *testing.B, c *benchChat, handlers []hotlinebot.Person, n int) {
	var users []*wechatsim.User
	for i := 0; len(users) < n; i++ {
		if p := handlers[i%len(handlers)]; p.OpenID != "" {
			users = append(users, c.sim.User(p.OpenID))
		}
	}
	var l latencies
	busy, ops := 0, 0
	for b.Loop() {
		ops++
		type answer struct {
			d     time.Duration
			reply string
			err   error
		}
		answers := make(chan answer, len(users))
		start := make(chan struct{})
		for _, u := range users {
			go func() {
				<-start
				t0 := time.Now()
				reply, status, err := u.Say("待办")
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d", status)
				}
				answers <- answer{time.Since(t0), reply, err}
			}()
		}
		close(start)
		for range users {
			a := <-answers
			if a.err != nil {
				b.Fatal(a.err)
			}
			if a.reply == replyBusy {
				busy++
			}
			l = append(l, a.d)
		}
	}
	l.report(b)
	b.ReportMetric(float64(busy)/float64(ops), "busy/op")
}

// BenchmarkParse is the chat parser on the messages handlers type.
func BenchmarkParse(b *testing.B) {
	msgs := []string{
		"签收",
		"签收 #37",
		"办结　37　已清理占道摊贩，恢复通行。",
		"延期 37 3天 需协调城管联合执法",
		"进展 2026112000123 已联系来电人，约定明日上门",
		"待办",
		"同意退回 37 龙山管理处",
		"绑定 1234 5678",
	}
	for _, m := range msgs {
		if Parse(m).Verb == "" {
			b.Fatalf("Parse(%q) has no verb", m)
		}
	}
	for b.Loop() {
		for _, m := range msgs {
			Parse(m)
		}
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
