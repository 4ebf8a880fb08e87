package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

var bg = context.Background()

var at = storagetest.At

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var intake = hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI}

// district is a small district for the scheduler's tests: 龙山管理处 with two
// bound handlers and a bound leader, 南湖街道办事处 with one bound handler and
// a leader who never bound, the office and a district leader.
type district struct {
	s                  *storage.Store
	longshan, nanhu    hotlinebot.Department
	zhang, li, wang    hotlinebot.Person
	lsLeader, nhLeader hotlinebot.Person
	clerk, boss        hotlinebot.Person
	names              map[int64]string
}

func newDistrict(t *testing.T, s *storage.Store) *district {
	t.Helper()
	d := &district{s: s, names: map[int64]string{}}
	d.longshan = dept(t, s, "longshan", "龙山管理处")
	d.nanhu = dept(t, s, "nanhu", "南湖街道办事处")
	d.zhang = d.person(t, "张三", hotlinebot.RoleHandler, "longshan", true)
	d.li = d.person(t, "李四", hotlinebot.RoleHandler, "longshan", true)
	d.wang = d.person(t, "王五", hotlinebot.RoleHandler, "nanhu", true)
	d.lsLeader = d.person(t, "赵主任", hotlinebot.RoleLeader, "longshan", true)
	d.nhLeader = d.person(t, "周主任", hotlinebot.RoleLeader, "nanhu", false)
	d.clerk = d.person(t, "钱办事员", hotlinebot.RoleOffice, "", true)
	d.boss = d.person(t, "孙区长", hotlinebot.RoleLeader, "", true)
	return d
}

func dept(t *testing.T, s *storage.Store, code, name string) hotlinebot.Department {
	t.Helper()
	d, err := s.CreateDepartment(bg, hotlinebot.Department{Code: code, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *district) person(t *testing.T, name string, role hotlinebot.Role, dept string, bound bool) hotlinebot.Person {
	t.Helper()
	p, err := d.s.CreatePerson(bg, hotlinebot.Person{Name: name, Role: role, Department: dept}, at(2026, 1, 5, 9, 0))
	if err != nil {
		t.Fatal(err)
	}
	if bound {
		bindPerson(t, d.s, p.ID)
		p.OpenID, p.Reachable = fmt.Sprintf("openid-%d", p.ID), true
	}
	d.names[p.ID] = name
	return p
}

// bindPerson stands in for the bot's binding: the person follows and is bound.
func bindPerson(t *testing.T, s *storage.Store, id int64) {
	t.Helper()
	if _, err := s.DB().ExecContext(bg,
		`UPDATE people SET openid = $2, reachable = true, bound_at = $3 WHERE id = $1`,
		id, fmt.Sprintf("openid-%d", id), at(2026, 1, 5, 9, 0)); err != nil {
		t.Fatal(err)
	}
}

func (d *district) create(t *testing.T, ext, dept string, now time.Time) hotlinebot.Ticket {
	t.Helper()
	tk, created, err := d.s.CreateTicket(bg, storage.NewTicket{
		ExternalID: ext, Title: "占道经营" + ext, Content: "路口有摊贩占道经营", Department: dept,
	}, intake, now)
	if err != nil || !created {
		t.Fatalf("CreateTicket %s: created %v, %v", ext, created, err)
	}
	return tk
}

func (d *district) act(t *testing.T, tk hotlinebot.Ticket, p hotlinebot.Person, cmd hotlinebot.Command, now time.Time) hotlinebot.Ticket {
	t.Helper()
	actor := hotlinebot.Actor{PersonID: p.ID, Name: p.Name, Role: p.Role, Department: p.Department, Channel: hotlinebot.ChannelWeChat}
	tr, err := d.s.Act(bg, tk.Ref(), actor, cmd, now)
	if err != nil {
		t.Fatalf("%s %s by %s at %s: %v", cmd.Action, tk.Ref(), p.Name, now, err)
	}
	return tr.Ticket
}

// standardOptions are CONTRACT.md's example settings.
func standardOptions(cal hotlinebot.Calendar) scheduler.Options {
	return scheduler.Options{
		Logger:     quiet,
		Calendar:   cal,
		Reminders:  scheduler.DefaultReminders(),
		Escalation: scheduler.DefaultEscalation(),
	}
}

func newScheduler(t *testing.T, s *storage.Store, opts scheduler.Options) *scheduler.Scheduler {
	t.Helper()
	sc, err := scheduler.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// outboxRow is one queued push as the tests read it.
type outboxRow struct {
	ID       int64  `db:"id"`
	Key      string `db:"dedupe_key"`
	Kind     string `db:"kind"`
	PersonID int64  `db:"person_id"`
	TicketID *int64 `db:"ticket_id"`
	Data     string `db:"data"`
	Status   string `db:"status"`
}

func (r outboxRow) data(t *testing.T) hotlinebot.TemplateData {
	t.Helper()
	var d hotlinebot.TemplateData
	if err := json.Unmarshal([]byte(r.Data), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func outboxAfter(t *testing.T, s *storage.Store, after int64) []outboxRow {
	t.Helper()
	var rows []outboxRow
	if err := s.DB().SelectContext(bg, &rows,
		`SELECT id, dedupe_key, kind, person_id, ticket_id, data::text AS data, status FROM outbox WHERE id > $1 ORDER BY id`, after); err != nil {
		t.Fatal(err)
	}
	return rows
}

func lastOutboxID(t *testing.T, s *storage.Store) int64 {
	t.Helper()
	var id int64
	if err := s.DB().GetContext(bg, &id, `SELECT coalesce(max(id), 0) FROM outbox`); err != nil {
		t.Fatal(err)
	}
	return id
}

// sent is a push as the walk-through tests expect it: when (the tick that
// queued it), what kind, to whom.
type sent struct {
	At   time.Time
	Kind hotlinebot.NotificationKind
	To   string
}

func (s sent) String() string {
	return fmt.Sprintf("%s %s→%s", s.At.In(storagetest.Shanghai).Format("01-02 15:04"), s.Kind, s.To)
}

// walker ticks a scheduler through time and keeps every push each tick queued.
type walker struct {
	t     *testing.T
	d     *district
	sc    *scheduler.Scheduler
	got   []sent
	rows  []outboxRow
	ticks int
}

// until ticks every step from..to (inclusive) and at each of the moments
// given that fall in between, and a second before each of them, so a push that
// comes early shows up at the wrong time.
func (w *walker) until(from, to time.Time, step time.Duration, moments ...time.Time) {
	w.t.Helper()
	var times []time.Time
	for tm := from; !tm.After(to); tm = tm.Add(step) {
		times = append(times, tm)
	}
	for _, m := range moments {
		if !m.Before(from) && !m.After(to) {
			times = append(times, m, m.Add(-time.Second))
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i, tm := range times {
		if i > 0 && tm.Equal(times[i-1]) {
			continue
		}
		w.tick(tm)
	}
}

func (w *walker) tick(now time.Time) {
	w.t.Helper()
	before := lastOutboxID(w.t, w.d.s)
	if err := w.sc.Tick(bg, now); err != nil {
		w.t.Fatalf("Tick(%s): %v", now, err)
	}
	w.ticks++
	for _, r := range outboxAfter(w.t, w.d.s, before) {
		w.got = append(w.got, sent{At: now, Kind: hotlinebot.NotificationKind(r.Kind), To: w.d.names[r.PersonID]})
		w.rows = append(w.rows, r)
	}
}

func sortSent(ss []sent) {
	sort.SliceStable(ss, func(i, j int) bool {
		if !ss[i].At.Equal(ss[j].At) {
			return ss[i].At.Before(ss[j].At)
		}
		if ss[i].Kind != ss[j].Kind {
			return ss[i].Kind < ss[j].Kind
		}
		return ss[i].To < ss[j].To
	})
}

func assertSent(t *testing.T, got, want []sent) {
	t.Helper()
	sortSent(got)
	sortSent(want)
	g, w := fmtSent(got), fmtSent(want)
	if g != w {
		t.Errorf("pushes queued:\n%s\nwant:\n%s", g, w)
	}
}

func fmtSent(ss []sent) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("  " + s.String() + "\n")
	}
	return b.String()
}

// eventsOf returns the ticket's scheduler events as "action: note".
func eventsOf(t *testing.T, s *storage.Store, id int64, actions ...hotlinebot.Action) []string {
	t.Helper()
	evs, err := s.TicketEvents(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		for _, a := range actions {
			if e.Action == a {
				out = append(out, e.At.In(storagetest.Shanghai).Format("01-02 15:04")+" "+string(e.Action)+": "+e.Note)
			}
		}
	}
	return out
}
