package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

var ctx = context.Background()

// t0 is the tests' "now": Tuesday 2026-12-01 10:00 in Shanghai, a workday.
var t0 = storagetest.At(2026, time.December, 1, 10, 0)

var (
	office = hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelCLI}
	api    = hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI}
)

// fixture is a district: two departments, their handlers and leaders, the
// office and a district leader; everybody bound unless said otherwise.
type fixture struct {
	s                       *storage.Store
	longshan, nanhu         hotlinebot.Department
	zhang, li, wang         hotlinebot.Person // handlers: zhang, li in longshan; wang in nanhu (unbound)
	lsLeader, clerk, leader hotlinebot.Person
}

func newFixture(t *testing.T, opts ...storage.Options) *fixture {
	t.Helper()
	f := &fixture{s: storagetest.NewStore(t, opts...)}
	f.longshan = mustDept(t, f.s, "longshan", "龙山管理处")
	f.nanhu = mustDept(t, f.s, "nanhu", "南湖街道办事处")
	f.zhang = f.person(t, "张三", hotlinebot.RoleHandler, "longshan", true)
	f.li = f.person(t, "李四", hotlinebot.RoleHandler, "longshan", true)
	f.wang = f.person(t, "王五", hotlinebot.RoleHandler, "nanhu", false)
	f.lsLeader = f.person(t, "赵主任", hotlinebot.RoleLeader, "longshan", true)
	f.clerk = f.person(t, "钱办事员", hotlinebot.RoleOffice, "", true)
	f.leader = f.person(t, "孙区长", hotlinebot.RoleLeader, "", true)
	return f
}

func mustDept(t *testing.T, s *storage.Store, code, name string) hotlinebot.Department {
	t.Helper()
	d, err := s.CreateDepartment(ctx, hotlinebot.Department{Code: code, Name: name})
	if err != nil {
		t.Fatalf("CreateDepartment %s: %v", code, err)
	}
	return d
}

func (f *fixture) person(t *testing.T, name string, role hotlinebot.Role, dept string, bound bool) hotlinebot.Person {
	t.Helper()
	p, err := f.s.CreatePerson(ctx, hotlinebot.Person{Name: name, Role: role, Department: dept}, t0)
	if err != nil {
		t.Fatalf("CreatePerson %s: %v", name, err)
	}
	if bound {
		bind(t, f.s, p.ID)
		p.OpenID, p.Reachable = openID(p.ID), true
	}
	return p
}

func openID(id int64) string { return "openid-" + string(rune('a'+id)) }

// bind stands in for the bot's binding: the person follows and is bound.
func bind(t *testing.T, s *storage.Store, id int64) {
	t.Helper()
	if _, err := s.DB().ExecContext(ctx,
		`UPDATE people SET openid = $2, reachable = true, bound_at = $3 WHERE id = $1`, id, openID(id), t0); err != nil {
		t.Fatal(err)
	}
}

// push is one outbox row as the tests look at it.
type push struct {
	Key      string `db:"dedupe_key"`
	Kind     string `db:"kind"`
	PersonID int64  `db:"person_id"`
	TicketID *int64 `db:"ticket_id"`
	Data     string `db:"data"`
}

func (p push) data(t *testing.T) hotlinebot.TemplateData {
	t.Helper()
	var d hotlinebot.TemplateData
	if err := json.Unmarshal([]byte(p.Data), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func pushes(t *testing.T, s *storage.Store) []push {
	t.Helper()
	var ps []push
	if err := s.DB().SelectContext(ctx, &ps,
		`SELECT dedupe_key, kind, person_id, ticket_id, data::text AS data FROM outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return ps
}

func pushesTo(ps []push, kind hotlinebot.NotificationKind) map[int64]push {
	m := map[int64]push{}
	for _, p := range ps {
		if p.Kind == string(kind) {
			m[p.PersonID] = p
		}
	}
	return m
}

func wantCode(t *testing.T, err error, code hotlinebot.ErrorCode, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", code)
	}
	if got := hotlinebot.ErrorCodeOf(err); got != code {
		t.Fatalf("err = %v (code %s), want code %s", err, got, code)
	}
	var e *hotlinebot.Error
	errors.As(err, &e)
	for _, m := range mentions {
		if !strings.Contains(e.Message, m) {
			t.Errorf("message %q does not mention %q", e.Message, m)
		}
	}
}

func actions(evs []hotlinebot.Event) []string {
	var as []string
	for _, e := range evs {
		as = append(as, string(e.Action))
	}
	return as
}

func events(t *testing.T, s *storage.Store, id int64) []hotlinebot.Event {
	t.Helper()
	evs, err := s.TicketEvents(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
