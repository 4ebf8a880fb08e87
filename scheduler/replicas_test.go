package scheduler_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// recordingSender stands in for WeChat: it records every push it is given.
type recordingSender struct {
	mu    sync.Mutex
	sends map[int64]int // outbox id → times sent
	next  atomic.Int64
}

func (r *recordingSender) Send(ctx context.Context, p hotlinebot.Push) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sends == nil {
		r.sends = map[int64]int{}
	}
	r.sends[p.OutboxID]++
	return r.next.Add(1), nil
}

// replica is one `serve` process as far as this test goes: its own Store
// (its own connection pool), scheduler and dispatcher.
type replica struct {
	s  *storage.Store
	sc *scheduler.Scheduler
	dp *scheduler.Dispatcher
}

// simClock is the simulated time every replica reads.
type simClock struct{ ns atomic.Int64 }

func (c *simClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *simClock) now() time.Time  { return time.Unix(0, c.ns.Load()) }

// scenario is a district of four departments and 300 tickets walked through
// 17 days hour by hour with n replicas ticking, dispatching and running the
// morning digest at the same moments. It returns the store of the first
// replica and what the sender got.
func scenario(t *testing.T, n int) (*storage.Store, *recordingSender) {
	t.Helper()
	url := storagetest.NewDatabase(t)
	cal := storagetest.Calendar(t)
	clock := &simClock{}
	sender := &recordingSender{}
	var reps []replica
	for i := 0; i < n; i++ {
		s, err := storage.Open(bg, url, storage.Options{Calendar: cal, Policy: hotlinebot.DefaultDeadlinePolicy(), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(bg); err != nil {
			t.Fatal(err)
		}
		opts := standardOptions(cal)
		opts.Clock = clock.now
		opts.Batch = 37 // several batches per tick
		sc := newScheduler(t, s, opts)
		dp, err := scheduler.NewDispatcher(s, sender, scheduler.DispatcherOptions{Clock: clock.now, Logger: quiet, Batch: 25})
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, replica{s: s, sc: sc, dp: dp})
	}
	s := reps[0].s
	start := at(2026, 11, 2, 8, 0) // Monday
	codes := []string{"d1", "d2", "d3", "d4"}
	handlers := map[string][]hotlinebot.Person{}
	for i, c := range codes {
		dept(t, s, c, fmt.Sprintf("第%d街道", i+1))
		for j := 0; j < 2; j++ {
			p, err := s.CreatePerson(bg, hotlinebot.Person{Name: fmt.Sprintf("承办人%d-%d", i+1, j+1), Role: hotlinebot.RoleHandler, Department: c}, start)
			if err != nil {
				t.Fatal(err)
			}
			bindPerson(t, s, p.ID)
			handlers[c] = append(handlers[c], p)
		}
		if i < 3 { // the fourth department's leader is missing: its escalations go to the office
			p, err := s.CreatePerson(bg, hotlinebot.Person{Name: fmt.Sprintf("领导%d", i+1), Role: hotlinebot.RoleLeader, Department: c}, start)
			if err != nil {
				t.Fatal(err)
			}
			bindPerson(t, s, p.ID)
		}
	}
	for _, p := range []hotlinebot.Person{{Name: "热线办", Role: hotlinebot.RoleOffice}, {Name: "区领导", Role: hotlinebot.RoleLeader}} {
		p, err := s.CreatePerson(bg, p, start)
		if err != nil {
			t.Fatal(err)
		}
		bindPerson(t, s, p.ID)
	}

	// The tickets arrive over the first two days; some are signed an hour
	// later, some of those finished on the third day, the rest left to the chain.
	type plan struct {
		at     time.Time
		do     func()
		ticket int
	}
	var plans []plan
	tickets := make([]hotlinebot.Ticket, 300)
	for i := range tickets {
		i := i
		dispatch := start.Add(time.Duration(i%40) * time.Hour)
		code := codes[i%4]
		plans = append(plans, plan{at: dispatch, ticket: i, do: func() {
			tk, _, err := s.CreateTicket(bg, storage.NewTicket{
				ExternalID: fmt.Sprintf("R-%03d", i), Title: fmt.Sprintf("诉求%d", i), Content: "内容", Department: code,
			}, intake, dispatch)
			if err != nil {
				t.Fatal(err)
			}
			tickets[i] = tk
		}})
		h := handlers[code][i%2]
		actor := hotlinebot.Actor{PersonID: h.ID, Role: h.Role, Department: h.Department, Channel: hotlinebot.ChannelWeChat}
		if i%3 == 0 {
			plans = append(plans, plan{at: dispatch.Add(time.Hour), do: func() {
				if _, err := s.Act(bg, tickets[i].Ref(), actor, hotlinebot.Command{Action: hotlinebot.ActionAccept}, dispatch.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}})
		}
		if i%6 == 0 {
			done := at(2026, 11, 4, 9, 0).Add(time.Duration(i%7) * time.Hour)
			plans = append(plans, plan{at: done, do: func() {
				if _, err := s.Act(bg, tickets[i].Ref(), actor, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已办结"}, done); err != nil {
					t.Fatal(err)
				}
			}})
		}
	}
	sort.SliceStable(plans, func(i, j int) bool { return plans[i].at.Before(plans[j].at) })

	// All replicas at once: a tick, the digest's cron moment, the dispatchers.
	together := func(fn func(r replica) error) {
		var wg sync.WaitGroup
		errs := make([]error, len(reps))
		for i, r := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fn(r)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	end := at(2026, 11, 19, 9, 0)
	next := 0
	for now := start; !now.After(end); now = now.Add(time.Hour) {
		clock.set(now)
		for next < len(plans) && !plans[next].at.After(now) {
			plans[next].do()
			next++
		}
		together(func(r replica) error { return r.sc.Tick(bg, now) })
		if h, m := now.Hour(), now.Minute(); h == 8 && m == 0 && now.After(start) {
			// The cron's 08:30 in every replica (at the hour here, as the walk is hourly).
			together(func(r replica) error { return r.sc.RunDigestJob(bg, now) })
		}
		for {
			var claimed atomic.Int64
			together(func(r replica) error {
				k, err := r.dp.RunOnce(bg)
				claimed.Add(int64(k))
				return err
			})
			if claimed.Load() == 0 {
				break
			}
		}
	}
	return s, sender
}

// Two replicas, each with its own connection pool, tick, send and run the
// digest at the same moments over hundreds of tickets: every reminder,
// escalation and digest is queued once and sent once, and exactly the
// pushes a single replica queues.
func TestTwoSchedulersQueueAndSendEachPushOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("long: 400 simulated hours over 300 tickets")
	}
	two, sent2 := scenario(t, 2)
	one, _ := scenario(t, 1)

	type keyed struct {
		Key    string `db:"dedupe_key"`
		ID     int64  `db:"id"`
		Status string `db:"status"`
	}
	read := func(s *storage.Store) []keyed {
		var rows []keyed
		if err := s.DB().SelectContext(bg, &rows,
			`SELECT dedupe_key, id, status FROM outbox WHERE kind IN ('reminder', 'overdue', 'escalation', 'digest') ORDER BY dedupe_key`); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rows2, rows1 := read(two), read(one)
	if len(rows1) < 1000 {
		t.Fatalf("the single replica queued only %d scheduler pushes: the scenario does not exercise much", len(rows1))
	}
	keys := func(rows []keyed) string {
		var b strings.Builder
		for _, r := range rows {
			b.WriteString(r.Key + "\n")
		}
		return b.String()
	}
	if keys(rows2) != keys(rows1) {
		t.Errorf("two replicas queued %d scheduler pushes, one replica %d; the sets differ", len(rows2), len(rows1))
	}
	// Sent once each: the sender saw every row exactly once.
	for _, r := range rows2 {
		if r.Status != "sent" || sent2.sends[r.ID] != 1 {
			t.Errorf("push %s (%d): status %s, sent %d times", r.Key, r.ID, r.Status, sent2.sends[r.ID])
		}
	}
	for id, k := range sent2.sends {
		if k != 1 {
			t.Errorf("outbox row %d sent %d times", id, k)
		}
	}

	// Per ticket and stage: the scheduler's events, once per alarm.
	type count struct {
		Ticket int64  `db:"ticket_id"`
		Action string `db:"action"`
		N      int    `db:"n"`
	}
	events := func(s *storage.Store) map[string]int {
		var cs []count
		if err := s.DB().SelectContext(bg, &cs,
			`SELECT ticket_id, action, count(*) AS n FROM ticket_events WHERE channel = 'scheduler' GROUP BY ticket_id, action`); err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, c := range cs {
			m[fmt.Sprintf("#%d %s", c.Ticket, c.Action)] = c.N
		}
		return m
	}
	ev2, ev1 := events(two), events(one)
	for k, n := range ev1 {
		if ev2[k] != n {
			t.Errorf("%s: %d events with two replicas, %d with one", k, ev2[k], n)
		}
	}
	if len(ev2) != len(ev1) {
		t.Errorf("two replicas recorded events for %d ticket/actions, one replica %d", len(ev2), len(ev1))
	}
	// No ticket heard of its deadline twice: one overdue event at most.
	for k, n := range ev2 {
		if strings.HasSuffix(k, " overdue") && n != 1 {
			t.Errorf("%s: %d overdue events", k, n)
		}
	}

	// The digest: one per leader and office member per day, one run per day.
	var digests []struct {
		Person int64  `db:"person_id"`
		Day    string `db:"day"`
		N      int    `db:"n"`
	}
	if err := two.DB().SelectContext(bg, &digests,
		`SELECT person_id, digest_date::text AS day, count(*) AS n FROM outbox WHERE kind = 'digest' GROUP BY person_id, digest_date`); err != nil {
		t.Fatal(err)
	}
	// 3 department leaders, the office and the district leader, over 17 mornings.
	if len(digests) != 5*17 {
		t.Errorf("%d person-days of digest, want %d", len(digests), 5*17)
	}
	for _, d := range digests {
		if d.N != 1 {
			t.Errorf("person %d got %d digests on %s", d.Person, d.N, d.Day)
		}
	}
	var runs int
	if err := two.DB().GetContext(bg, &runs, `SELECT count(*) FROM scheduler_runs WHERE job = 'digest'`); err != nil {
		t.Fatal(err)
	}
	if runs != 17 {
		t.Errorf("%d digest runs recorded, want 17", runs)
	}
}
